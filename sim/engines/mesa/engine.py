"""The Mesa engine's batch: each row is one TribunalModel run, started from the row's drawn start."""

from __future__ import annotations

import pandas as pd

from sim.engines.mesa.model import TribunalModel
from sim.model import initial
from sim.model.batch import Batch
from sim.model.layout import Layout
from sim.model.outcomes import SERIES_COLUMNS, Outcomes, series_sums

CHUNK = 256  # rows whose start is drawn at once (vectorized); results do not depend on it


def run(batch: Batch, series: str | None = None) -> Outcomes:
    """Run every row of ``batch``: row k is replicate ``batch.replicate[k]`` on the streams of its point."""
    layout = Layout.of(batch.params)
    parts, frames = [], []
    for first in range(0, batch.n, CHUNK):
        rows = slice(first, min(first + CHUNK, batch.n))
        start = initial.draw(layout, batch, rows)
        for r in range(start.n):
            k = first + r
            model = TribunalModel(batch.row_params(k), record_events=False, collect=bool(series),
                                  start=(layout, start, r)).run()
            parts.append(model.outcomes())
            if series:
                frames.append(model.series().assign(point=int(batch.point[k]), replicate=int(batch.replicate[k])))
    out = Outcomes.concat(parts)
    if series == "replicate":
        out.series = pd.concat(frames, ignore_index=True)[["point", "replicate", *SERIES_COLUMNS]]
    elif series == "mean":
        sums = pd.concat(frames).groupby("month", sort=True)[list(SERIES_COLUMNS[1:])].sum()
        out.series = series_sums({c: sums[c].to_numpy() for c in sums.columns}, batch.n)
    return out
