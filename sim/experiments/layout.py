"""The files of a sweep's results folder, named once: the sweep writes them (sim.experiments.runner,
sim.studies.sweep), the sensitivity and comparison studies add theirs, and ``load_results`` reads them.

points.parquet, runs.parquet, summary.csv, figures/<kind>.png|svg, manifest.json (sim.experiments.folders),
sensitivity.csv (`sensitivity`), paired.csv (`compare`), discovery/ (`discover`) and blocks/ (one Parquet
file per finished block and the marker, sim.experiments.blocks and sim.experiments.folders).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sim.names import FIGURE_KINDS

POINTS = "points.parquet"
RUNS = "runs.parquet"
SUMMARY = "summary.csv"
SENSITIVITY = "sensitivity.csv"  # `sensitivity`: the indices
PAIRED = "paired.csv"  # `compare`: paired differences of each alternative from the base
DATA_FILES = (POINTS, RUNS, SUMMARY)  # a sweep's data: hashed in the manifest, compared by `reproduce`
FIGURES = "figures"
FIGURE_FORMATS = ("png", "svg")
DISCOVERY = "discovery"  # the subfolder of a sweep that `discover` writes by default
BOX = "box.csv"  # the discovery's chosen box, which load_results and the explorer read
# a figure's path in a sweep's folder: figures/<kind>.<format>, of the kinds the tool draws
FIGURE_PATH = re.compile(rf"{FIGURES}/({'|'.join(FIGURE_KINDS)})\.({'|'.join(FIGURE_FORMATS)})")


def figure_files(kinds: Iterable[str], folder: str | None = FIGURES) -> list[str]:
    """The relative paths of the figures of some kinds (``figures/<kind>.png`` and ``.svg``; at the top of
    the folder with ``folder=None``)."""
    prefix = f"{folder}/" if folder else ""
    return [f"{prefix}{kind}.{ext}" for kind in kinds for ext in FIGURE_FORMATS]
