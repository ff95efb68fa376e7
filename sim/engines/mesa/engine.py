"""The Mesa engine's batch: each row is one TribunalModel run on its own stream (sim.model.seeding)."""

from __future__ import annotations

import pandas as pd

from sim.engines.mesa.model import TribunalModel
from sim.model.batch import Batch
from sim.model.outcomes import SERIES_COLUMNS, Outcomes, series_sums
from sim.model.seeding import replicate_seed


def run(batch: Batch, series: str | None = None) -> Outcomes:
    """Run every row of ``batch``: replicate (p, r) draws from SeedSequence(seed, spawn_key=(p, r))."""
    parts, frames = [], []
    for k in range(batch.n):
        rng = replicate_seed(batch.seed, int(batch.stream_points[k]), int(batch.replicate[k]))
        model = TribunalModel(batch.row_params(k), rng=rng, record_events=False).run()
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
