"""Experiment config files (TOML): reading them and turning their model tables into parameters."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.params import Params, flatten_tables


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file is a one-line UserError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise UserError(f"config {path} is a folder, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read config {path}: {exc.__class__.__name__}; is it a UTF-8 text file?") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config {path} is not valid TOML: {exc}") from None


def model_overrides(doc: dict[str, Any]) -> dict[str, Any]:
    """The dotted-name values set by a config's ``[scenario]`` and ``[parameters]`` tables."""
    out: dict[str, Any] = {}
    for table in ("scenario", "parameters"):
        node = doc.get(table, {})
        if not isinstance(node, dict):
            raise UserError(f"[{table}] must be a table of name = value pairs")
        out.update(flatten_tables({"scenario": node} if table == "scenario" else node, f"[{table}]"))
    return out


def params_from_file(path: str | Path, overrides: dict[str, Any] | None = None) -> Params:
    """Model parameters from a config file's model tables, then ``--set`` overrides."""
    values = model_overrides(read_toml(path)) if path else {}
    values.update(overrides or {})
    return Params(values)
