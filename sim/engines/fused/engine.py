"""The fused engine: the vectorized core's model with its months in one compiled numba kernel (optional extra
``[fast]``).

Each chunk's initial state is drawn exactly as the NumPy core draws it (sim.engines.vectorized.world.World,
vectorized, from the rows' counter-based streams); then ``kernel.run_rows`` runs every row to the horizon,
rows in parallel on numba's threads (``numba.set_num_threads``). Results do not depend on threads, chunks
or batches; they equal the NumPy core's row by row up to float rounding (tests/test_fused.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from sim.engines.vectorized.world import Layout, Parameters, World
from sim.errors import UserError
from sim.model import rules
from sim.model.batch import Batch
from sim.model.outcomes import SERIES_COLUMNS, Outcomes, series_sums

try:
    import numba

    from sim.engines.fused import kernel
except ImportError as error:  # pragma: no cover - numba is the optional extra [fast]
    if error.name not in ("numba", "llvmlite"):
        raise
    raise UserError("engine 'fused' needs numba, the optional extra [fast]: pip install -e '.[fast]'") from None

CHUNK = 1024  # rows drawn and run at once (about 10 MiB of state at S = 192); results do not depend on it
assert SERIES_COLUMNS[1:] == kernel.SERIES


def row_parameters(p: Parameters, n: int) -> np.ndarray:
    """(n, len(kernel.ROW_PARAMS)) float64: each row's value of every scalar parameter the kernel reads."""
    table = np.empty((n, len(kernel.ROW_PARAMS)))
    for k, name in enumerate(kernel.ROW_PARAMS[:-1]):
        table[:, k] = p.row(name)
    table[:, -1] = rules.regime_change_probability(p.row("home.turnover_rate"), p.row("home.engagement_effect"),
                                                   p.row("prosecutor.home_engagement"))
    return table


def accused_parameters(w: World, n: int) -> np.ndarray:
    """(n, F, len(kernel.ACCUSED_PARAMS)) float64: each row's per-accused values."""
    p, f = w.p, w.layout.n_accused
    table = np.empty((n, f, len(kernel.ACCUSED_PARAMS)))
    table[:, :, kernel.A_PLAN] = rules.trip_probability(p.per_accused("accused.trip_rate"))
    table[:, :, kernel.A_RHO] = p.per_accused("accused.risk_aversion")
    table[:, :, kernel.A_MAX_RISK] = p.per_accused("accused.max_risk")
    hos = p.per_accused("accused.head_of_state")
    table[:, :, kernel.A_FACTOR] = np.exp(-rules.arrest_logit_accused(w.coef, hos))
    return table


def run_world(w: World, series: str | None) -> tuple[Outcomes, np.ndarray | None]:
    """Run the rows of one drawn chunk to the horizon: outcomes, and the (rows, T, 4) series (or None)."""
    layout, n = w.layout, w.n

    def f32(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, np.float32)

    accused_out = np.zeros((n, layout.n_accused, len(kernel.ACCUSED_OUTCOMES)), np.int32)
    run_out = np.zeros((n, len(kernel.RUN_OUTCOMES)), np.int32)
    legitimacy = np.empty(n)
    series_out = np.zeros((n, layout.horizon if series else 0, len(kernel.SERIES)))
    segment_start = np.concatenate([[0], np.cumsum(layout.segment_length)]).astype(np.int64)
    kernel.run_rows(np.ascontiguousarray(w.keys, np.uint64), row_parameters(w.p, n), accused_parameters(w, n),
                    f32(w.member), f32(w.standing), f32(w.compliance), f32(w.capacity), f32(w.sovereignty),
                    f32(w.alignment), f32(w.appeal), f32(w.withdrawal_pull), f32(w.home_compliance), segment_start,
                    np.ascontiguousarray(layout.segment_region, np.int64), f32(layout.region_size),
                    int(layout.home_region), int(layout.horizon), accused_out, run_out, legitimacy, series_out)
    values = {name: accused_out[:, :, k] for k, name in enumerate(kernel.ACCUSED_OUTCOMES)}
    values["route"] = values["route"].astype(np.int8)
    values.update({name: run_out[:, k] for k, name in enumerate(kernel.RUN_OUTCOMES)})
    return Outcomes.of(legitimacy_final=legitimacy, **values), series_out if series else None


def worlds(layout: Layout, batch: Batch, threads: int) -> Iterator[World]:
    """The chunks' Worlds in row order. With several threads the next chunks are drawn (NumPy, which releases
    the GIL) while the kernel runs the current one; with one thread, one after the other on one core."""
    chunks = [slice(start, min(start + CHUNK, batch.n)) for start in range(0, batch.n, CHUNK)]
    if threads <= 1 or len(chunks) == 1:
        for rows in chunks:
            yield World(layout, batch, rows)
        return
    batch.keys, batch.value("court.legitimacy0")  # the batch's cached arrays, made before the threads share them
    with ThreadPoolExecutor(threads) as pool:
        ahead = deque(pool.submit(World, layout, batch, rows) for rows in chunks[:threads])
        for rows in chunks[threads:]:
            w = ahead.popleft().result()
            ahead.append(pool.submit(World, layout, batch, rows))
            yield w
        while ahead:
            yield ahead.popleft().result()


def run(batch: Batch, series: str | None = None) -> Outcomes:
    """Run every row of ``batch`` to the horizon; the outcomes (and series) in row order."""
    layout = Layout.of(batch)
    parts, months = [], []
    for w in worlds(layout, batch, numba.get_num_threads()):
        out, monthly = run_world(w, series)
        parts.append(out)
        if monthly is not None:
            months.append(monthly if series == "replicate" else monthly.sum(axis=0))
    out = Outcomes.concat(parts)
    if series == "mean":
        total = np.sum(months, axis=0)
        out.series = series_sums({k: total[:, i] for i, k in enumerate(kernel.SERIES)}, batch.n)
    elif series == "replicate":
        out.series = replicate_series(batch, np.concatenate(months), layout.horizon)
    return out


def replicate_series(batch: Batch, values: np.ndarray, horizon: int) -> pd.DataFrame:
    """One row per (row of the batch, month), in row order, as the NumPy core gives them."""
    cols = {k: values[:, :, i].reshape(-1) for i, k in enumerate(kernel.SERIES)}
    cols["members"] = cols["members"].astype(np.int64)
    return pd.DataFrame({"point": np.repeat(batch.point, horizon), "replicate": np.repeat(batch.replicate, horizon),
                         "month": np.tile(np.arange(horizon), batch.n), **cols})
