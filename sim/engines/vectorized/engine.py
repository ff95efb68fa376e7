"""The vectorized core: the model of docs/ODD.md for many replicates at once, as (replicates × states) arrays.

State lives in arrays of shape (R, S) for the S states other than home and (R, F) for the
accused; the only Python loops are over months, accused and fixed-size chunks of replicates
(chunks keep the arrays in cache; results depend only on the seed and n). Every formula is
a call to ``sim.model.rules``. The home state is never a destination nor a target, so it is held
apart: only its compliance is kept (it enters the regional means of the norm dynamics).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.engines.vectorized.step import step
from sim.engines.vectorized.world import Setup, World
from sim.model.outcomes import SERIES_COLUMNS, Outcomes
from sim.model.params import Params, as_params
from sim.model.outcomes import series_sums

CHUNK = 1024  # replicates per chunk: a constant, so a block's results do not depend on the machine


def _monthly(w: World, s: Setup) -> dict[str, np.ndarray]:
    """The series values per replicate after a step: L, members, mean compliance (home included), custody."""
    return {"legitimacy": w.legitimacy.astype(np.float64),
            "members": np.count_nonzero(w.member, axis=1),
            "mean_compliance": (w.compliance.sum(axis=1, dtype=np.float64) + w.home_compliance)
            / (s.n_states + 1),
            "share_in_custody": np.count_nonzero(~w.free, axis=1) / w.free.shape[1]}


def _run_chunk(s: Setup, rng: np.random.Generator, n: int, series) -> tuple[Outcomes, list[dict]]:
    w = World(s, rng, n)
    months = []
    for t in range(s.params.horizon):
        step(w, s, rng, t)
        if series == "mean":
            months.append({k: v.sum() for k, v in _monthly(w, s).items()})
        elif series == "replicate":
            months.append(_monthly(w, s))
    return w.outcomes(), months


def run_replicates(params: Params, seed: np.random.SeedSequence, n: int, series=None) -> Outcomes:
    """Run ``n`` replicates from one SeedSequence; the result depends only on (params, seed, n)."""
    setup = Setup.build(as_params(params))
    rng = np.random.default_rng(seed)
    parts, months = [], []
    for start in range(0, n, CHUNK):
        out, m = _run_chunk(setup, rng, min(CHUNK, n - start), series)
        parts.append(out)
        months.append(m)
    result = Outcomes.concat(parts)
    horizon = setup.params.horizon
    if series == "mean":
        result.series = series_sums({k: np.array([sum(m[t][k] for m in months) for t in range(horizon)])
                                     for k in SERIES_COLUMNS[1:]}, n)
    elif series == "replicate":
        result.series = _replicate_series(months, horizon)
    return result


def _replicate_series(chunks: list[list[dict]], horizon: int) -> pd.DataFrame:
    """One row per (replicate, month), replicate-major, replicates numbered within the block."""
    cols = {k: np.concatenate([np.stack([m[k] for m in chunk], axis=1) for chunk in chunks]).reshape(-1)
            for k in SERIES_COLUMNS[1:]}
    n = len(cols["legitimacy"]) // horizon
    return pd.DataFrame({"replicate": np.repeat(np.arange(n), horizon), "month": np.tile(np.arange(horizon), n),
                         **cols})


def run(batch, series=None) -> Outcomes:
    """Transitional: rows of each point in one block seeded by (stream point, first replicate)."""
    from sim.model.seeding import child_seed

    parts, order = [], []
    for p in batch.unique_points:
        rows = np.flatnonzero(batch.point == p)
        seed = child_seed(child_seed(batch.seed, int(batch.stream_points[rows[0]])), int(batch.replicate[rows[0]]))
        out = run_replicates(batch.points[int(p)], seed, len(rows), series=series)
        if series == "replicate":
            out.series = out.series.assign(point=int(p), replicate=batch.replicate[rows][out.series["replicate"]])
        parts.append(out)
        order.append(rows)
    merged = Outcomes.concat(parts).take(np.argsort(np.concatenate(order), kind="stable"))
    if series == "mean":
        from sim.model.outcomes import combine_series
        total = pd.concat([o.series for o in parts]).groupby("month", sort=True).sum().reset_index()
        merged.series = total
    elif series == "replicate":
        merged.series = pd.concat([o.series for o in parts], ignore_index=True)
    return merged
