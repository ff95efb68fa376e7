"""Paired comparisons: a base scenario and its alternatives run as points of one sweep on common random
numbers, so each replicate meets the same draws under every alternative.

Two ways to write one: a config with ``[alternatives.NAME]`` tables of parameter = value (dotted names,
as in [parameters]; nested tables such as ``[alternatives.NAME.scenario.states.MNG]`` work too), or a
base config and one config per alternative (``compare BASE.toml ALT.toml ...``), each a single point
whose model tables are the alternative's; the base's [experiment] and [outputs] settings apply.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.experiments.config import (
    Experiment,
    check_table,
    experiment_from_doc,
    experiment_from_text,
    parse_toml,
    read_config_text,
)
from sim.model.params import Params, flatten_tables

TABLE = "alternatives"
BASE = "base"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Alternative:
    """One alternative: its name, what it changes and where it was written (a file's text, or a table)."""

    name: str
    changes: dict[str, Any]
    source: str
    text: str | None = None  # the alternative's own config file, in the two-file form


@dataclass(frozen=True)
class Comparison:
    """The sweep of the base (point 0) and its alternatives (points 1..k), common random numbers on."""

    experiment: Experiment
    alternatives: tuple[Alternative, ...]

    @property
    def names(self) -> list[str]:
        return [BASE, *(a.name for a in self.alternatives)]

    def record(self) -> dict[str, Any]:
        """The manifest's account: each alternative's changes, and its file's text when it had one."""
        return {"base": BASE, "alternatives": [
            {"name": a.name, "point": k + 1, "changes": _plain(a.changes), "source": a.source,
             **({"text": a.text} if a.text is not None else {})} for k, a in enumerate(self.alternatives)]}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def load_comparison(paths: list[str]) -> Comparison:
    """A comparison from one config with [alternatives] or from a base config and alternative configs."""
    if not paths:
        raise UserError("compare needs a config with [alternatives.NAME] tables, or BASE.toml ALT.toml ...")
    texts = [read_config_text(p) for p in paths]
    return comparison_from_texts(texts[0], paths[0], list(zip(texts[1:], paths[1:])))


def comparison_from_texts(text: str, source: str, others: list[tuple[str, str]] | None = None) -> Comparison:
    """The comparison of a base config's text and the (text, source) of each alternative config."""
    doc = parse_toml(text, source)
    inline = doc.pop(TABLE, None)
    others = others or []
    if inline is None and not others:
        raise UserError(f"{source} has no [{TABLE}.NAME] tables; add one per alternative (parameter = value), "
                        f"or give the alternatives as configs: compare BASE.toml ALT.toml")
    if inline is not None and others:
        raise UserError(f"{source} has [{TABLE}] tables and alternative configs were given too; use one of the two")
    if "sweep" in doc:
        raise UserError(f"{source} has a [sweep] table; a comparison pairs single scenarios: remove [sweep] "
                        f"(the alternatives are the points)")
    base = experiment_from_doc(doc, text, source)
    alternatives = (_inline(check_table(inline, f"[{TABLE}]", tuple(inline)), base.base, source) if inline is not None
                    else [_from_file(t, s, base.base) for t, s in others])
    names = [a.name for a in alternatives]
    for name in names:
        if names.count(name) > 1 or name == BASE:
            raise UserError(f"alternative name {name!r} is used twice (or is '{BASE}', the base's name); rename it")
    params = [base.base, *(base.base.replace(a.changes) for a in alternatives)]
    for a, p in zip(alternatives, params[1:]):
        if p == base.base:
            raise UserError(f"alternative '{a.name}' changes nothing: every value it sets is the base's")
    if others:  # one config says it all: the base's text with the alternatives written as tables
        text = text.rstrip("\n") + "\n" + "".join(_as_table(a) for a in alternatives)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    points = pd.DataFrame({"point": np.arange(len(params), dtype=np.int64),
                           "alternative": [BASE, *names]})
    exp = replace(base, points=points, params=tuple(params), crn=True, sampler=None, swept=(), figures=(),
                  text=text, sha256=sha)
    shortest = min(p.horizon for p in params)
    if max(exp.horizons) > shortest:
        raise UserError(f"[outputs] horizons reach month {max(exp.horizons)}, beyond the shortest run "
                        f"({shortest} months) of the alternatives; lower the horizons")
    return Comparison(exp, tuple(alternatives))


def _inline(tables: dict[str, Any], base: Params, source: str) -> list[Alternative]:
    out = []
    for name, table in tables.items():
        where = f"[{TABLE}.{name}]"
        if not _NAME.match(name):
            raise UserError(f"{where}: an alternative's name is letters, digits, '_' or '-', starting with a letter")
        if not isinstance(table, dict) or not table:
            raise UserError(f"{where} must be a table of parameter = value pairs that differ from the base")
        try:
            changes = flatten_tables(table, where)
            base.replace(changes)
        except UserError as exc:
            text = str(exc)
            raise UserError(text if text.startswith(where) else f"{where}: {text}") from None
        out.append(Alternative(name, changes, f"{source} {where}"))
    return out


def _from_file(text: str, source: str, base: Params) -> Alternative:
    alt = experiment_from_text(text, source)
    if alt.sampler is not None:
        raise UserError(f"{source} has a [sweep] table; an alternative is a single scenario: remove [sweep]")
    changes = {k: v for k, v in alt.base.to_dict().items() if base[k] != v}
    if not _NAME.match(alt.name):
        raise UserError(f"{source}: [experiment] name {alt.name!r} names the alternative; use letters, digits, "
                        f"'_' or '-', starting with a letter")
    return Alternative(alt.name, changes, source, text)


def toml_value(value: Any) -> str:
    """A parameter value as TOML: JSON's numbers, strings, booleans and arrays are TOML's; tables are inline."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def _as_table(a: Alternative) -> str:
    lines = [f"\n# alternative '{a.name}', from {a.source}\n[{TABLE}.{a.name}]"]
    lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in a.changes.items()]
    return "\n".join(lines) + "\n"


def comparison_from_manifest(manifest: dict[str, Any]) -> Comparison:
    """Rebuild a comparison from its folder's manifest (for `reproduce`)."""
    config = manifest.get("config") or {}
    return comparison_from_texts(config["text"], config.get("source") or "config")
