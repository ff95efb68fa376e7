"""Agent-based model of state cooperation with an international criminal court's arrest warrants.

Public API: ``simulate``, ``Params``, ``SCHEMA``, ``UserError``; ``load_results`` for sweep folders.
"""

from sim.errors import UserError
from sim.model.params import SCHEMA, Params
from sim.simulate import simulate
from sim.version import __version__

__all__ = ["SCHEMA", "Params", "UserError", "simulate", "load_results", "__version__"]


def load_results(path):
    """Load a sweep's results folder (points, runs, summary, manifest) for analysis in a notebook."""
    from sim.experiments.results import load_results as _load

    return _load(path)
