"""Agent-based model of state cooperation with an international criminal court's arrest warrants.

Public API: ``simulate``, ``Params``, ``SCHEMA``, ``UserError``; ``load_results`` for sweep folders.
"""

import sys

from sim.errors import UserError, dependency_hint, missing_dependency
from sim.version import __version__

try:
    from sim.model.params import SCHEMA, Params
    from sim.simulate import simulate
except ImportError as _exc:  # usually a virtualenv that is not active
    _missing = missing_dependency(_exc)
    if _missing is None:
        raise
    _exc.add_note(dependency_hint(_missing))
    if sys.argv[:1] != ["-m"]:  # only `python -m sim` (Python is still locating sim.__main__) reports it itself
        raise
    import_error: ImportError | None = _exc
except KeyboardInterrupt:  # Ctrl-C while the command line loads: one line and 130, as everywhere else
    if sys.argv[:1] == ["-m"] or sys.argv[0].endswith("tribunal-sim"):
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    raise
else:
    import_error = None

__all__ = ["SCHEMA", "Params", "UserError", "__version__", "load_results", "simulate"]


def load_results(path, verify: bool = True):
    """Load a sweep's results folder (points, runs, summary, manifest) for analysis in a notebook;
    each data file is checked against the manifest's sha256 unless ``verify=False``."""
    from sim.experiments.results import load_results as _load

    return _load(path, verify=verify)
