"""The one exception type for bad input: its message is a single line naming the problem and the fix."""

from __future__ import annotations

import sys


class UserError(ValueError):
    """Bad input from a user (config, parameter, file); the CLI prints it as one line and exits 2."""


def missing_dependency(exc: ImportError) -> str | None:
    """The third-party package an ImportError says is missing, or None (a missing part of sim is a bug)."""
    name = (exc.name or "").split(".")[0]
    return name if name and name != "sim" else None


def dependency_hint(package: str) -> str:
    """One line for a missing dependency: usually the virtualenv is not active."""
    return (f"the Python package '{package}' is not installed for {sys.executable}; activate the project's "
            f"virtualenv (. .venv/bin/activate) or install the project there (pip install -e .)")
