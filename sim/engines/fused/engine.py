"""The fused engine: the protocol compiled by numba, replicates in parallel on numba's threads (extra ``[fast]``).

Each chunk's start is drawn as for every engine (sim.model.initial, vectorized, from the rows' counter-based
streams); then ``kernel.run_rows`` runs every row to the horizon. Results do not depend on threads, chunks or
batches; they are the Mesa engine's and the NumPy core's replicates up to float rounding (tests/test_protocol.py).
"""

from __future__ import annotations

import dataclasses
from collections import deque, namedtuple
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model import initial, protocol, values
from sim.model.batch import Batch, Parameters
from sim.model.layout import Layout
from sim.model.outcomes import SERIES_COLUMNS, Outcomes, series_sums

try:
    import numba

    from sim.engines.fused import draws, kernel
except ImportError as error:  # pragma: no cover - numba is the optional extra [fast]
    if error.name not in ("numba", "llvmlite"):
        raise
    raise UserError("engine 'fused' needs numba, the optional extra [fast]: pip install -e '.[fast]'") from None

CHUNK = 1024  # rows drawn and run at once (about 10 MiB of state at S = 192); results do not depend on it
START = tuple(f.name for f in dataclasses.fields(initial.Initial) if f.name != "attributes")
Start = namedtuple("Start", START)  # type: ignore[misc]  # a chunk's start as numba reads it
Shared = namedtuple("Shared", ("segment_start", "segment_region", "region_size", "home_region"))


def shared(layout: Layout) -> Any:
    """The layout's regions as the kernel reads them."""
    return Shared(np.ascontiguousarray(layout.segment_start, np.int64),
                  np.ascontiguousarray(layout.segment_region, np.int64),
                  np.ascontiguousarray(layout.region_size, np.float32), int(layout.home_region))


class Chunk:
    """One chunk of rows ready for the kernel: its drawn start and its parameter tables."""

    def __init__(self, layout: Layout, batch: Batch, rows: slice):
        p = Parameters(batch, rows)
        start = initial.draw(layout, batch, rows, p, draws.SAMPLER)
        self.n = start.n
        self.start = Start(*(np.ascontiguousarray(getattr(start, name)) for name in START))
        self.scalars, self.accused = values.tables(p.row, p.per_accused, start.n, layout.n_accused)


def run_chunk(layout: Layout, chunk: Chunk, series: str | None) -> tuple[Outcomes, np.ndarray | None]:
    """Run the rows of one chunk to the horizon: outcomes, and the (rows, T, 4) series (or None)."""
    n = chunk.n
    accused_out = np.zeros((n, layout.n_accused, len(protocol.ACCUSED_OUTCOMES)), np.int32)
    run_out = np.zeros((n, len(protocol.RUN_OUTCOMES)), np.int32)
    legitimacy = np.empty(n)
    series_out = np.zeros((n, layout.horizon if series else 0, len(SERIES_COLUMNS) - 1))
    kernel.run_rows(chunk.scalars, chunk.accused, chunk.start, shared(layout), int(layout.horizon), accused_out,
                    run_out, legitimacy, series_out)
    out = {name: accused_out[:, :, k] for k, name in enumerate(protocol.ACCUSED_OUTCOMES)}
    out["route"] = out["route"].astype(np.int8)
    out.update({name: run_out[:, k] for k, name in enumerate(protocol.RUN_OUTCOMES)})
    return Outcomes.of(legitimacy_final=legitimacy, **out), series_out if series else None


def chunks(layout: Layout, batch: Batch, threads: int) -> Iterator[Chunk]:
    """The chunks in row order. With several threads the next chunks are drawn (NumPy, which releases the GIL)
    while the kernel runs the current one; with one thread, one after the other on one core."""
    slices = [slice(start, min(start + CHUNK, batch.n)) for start in range(0, batch.n, CHUNK)]
    if threads <= 1 or len(slices) == 1:
        for rows in slices:
            yield Chunk(layout, batch, rows)
        return
    batch.keys, batch.value("court.legitimacy0")  # the batch's cached arrays, made before the threads share them
    with ThreadPoolExecutor(threads) as pool:
        ahead = deque(pool.submit(Chunk, layout, batch, rows) for rows in slices[:threads])
        for rows in slices[threads:]:
            chunk = ahead.popleft().result()
            ahead.append(pool.submit(Chunk, layout, batch, rows))
            yield chunk
        while ahead:
            yield ahead.popleft().result()


def run(batch: Batch, series: str | None = None) -> Outcomes:
    """Run every row of ``batch`` to the horizon; the outcomes (and series) in row order."""
    layout = Layout.of(batch.params)
    parts, months = [], []
    for chunk in chunks(layout, batch, numba.get_num_threads()):
        out, monthly = run_chunk(layout, chunk, series)
        parts.append(out)
        if monthly is not None:
            months.append(monthly if series == "replicate" else monthly.sum(axis=0))
    out = Outcomes.concat(parts)
    names = SERIES_COLUMNS[1:]
    if series == "mean":
        total = np.sum(months, axis=0)
        out.series = series_sums({k: total[:, i] for i, k in enumerate(names)}, batch.n)
    elif series == "replicate":
        out.series = replicate_series(batch, np.concatenate(months), layout.horizon)
    return out


def replicate_series(batch: Batch, values: np.ndarray, horizon: int) -> pd.DataFrame:
    """One row per (row of the batch, month), in row order, as the NumPy core gives them."""
    cols = {k: values[:, :, i].reshape(-1) for i, k in enumerate(SERIES_COLUMNS[1:])}
    cols["members"] = cols["members"].astype(np.int64)
    return pd.DataFrame({"point": np.repeat(batch.point, horizon), "replicate": np.repeat(batch.replicate, horizon),
                         "month": np.tile(np.arange(horizon), batch.n), **cols})
