"""One entry point for the engines: parameters in, a frame of outcomes out.

Seeding contract (sim.model.seeding): replicate r of point p draws only from its own stream, keyed
by (seed, p, r), or (seed, 0, r) with common random numbers. A frame therefore does not depend on
how replicates are grouped into calls, blocks, workers or threads, and ``run_rows`` can batch rows
of many points into one engine call.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model.batch import Batch
from sim.model.outcomes import Outcomes, combine_series
from sim.model.params import Params, as_params, suggest
from sim.model.seeding import root_seed, stream_point

F = TypeVar("F", bound=Callable[..., Any])

ENGINES = {"mesa": "sim.engines.mesa.engine", "vectorized": "sim.engines.vectorized.engine",
           "fused": "sim.engines.fused.engine"}  # fused: the protocol compiled by numba (extra [fast])
DEFAULT_ENGINE = "vectorized"
SeriesMode = Literal["mean", "replicate"] | None


class Engine(Protocol):
    """What an engine module offers: every row of a batch (sim.model.batch) run to the horizon, the outcomes in
    row order and, with ``series`` "mean" or "replicate", the monthly series. Each of ``ENGINES`` is one;
    tests/test_engine_contract.py is the conformance suite every engine passes."""

    def run(self, batch: Batch, series: str | None = None) -> Outcomes: ...


if TYPE_CHECKING:  # the type checker verifies that every engine module satisfies Engine
    from sim.engines.fused import engine as _fused
    from sim.engines.mesa import engine as _mesa
    from sim.engines.vectorized import engine as _vectorized

    _CHECKED: tuple[Engine, ...] = (_mesa, _vectorized, _fused)
MAX_BATCH_ROWS = 4096  # rows per engine call: bounds memory; results do not depend on it


def check_engine(engine: object, where: str = "engine") -> str:
    """The engine's name, or a one-line UserError with a suggestion."""
    if not isinstance(engine, str) or engine not in ENGINES:
        from sim.model.params import suggest

        raise UserError(f"{where} must be one of {', '.join(ENGINES)}, got {engine!r}{suggest(str(engine), ENGINES)}")
    return engine


def engine_module(engine: str) -> Engine:
    """The module of an engine (an ``Engine``)."""
    return cast(Engine, importlib.import_module(ENGINES[check_engine(engine)]))


def run_rows(points: Mapping[int, Params], point: Sequence[int] | np.ndarray, replicate: Sequence[int] | np.ndarray,
             seed: int | np.random.SeedSequence, *, engine: str = DEFAULT_ENGINE, crn: bool = False,
             series: SeriesMode = None, stream: Sequence[int] | np.ndarray | None = None) -> Outcomes:
    """Outcomes of rows (point[k], replicate[k]) in the given order, whatever their points' layouts.

    ``point`` keys each row's parameters in ``points``; by default a row also draws from its point's
    streams, but ``stream`` can name another point's (e.g. every posterior draw of a design point on
    that point's streams).

    Rows are grouped by layout (scenario and number of accused) and run in calls of at most
    ``MAX_BATCH_ROWS``; every row's numbers come from its own stream, so grouping changes nothing.
    Series are per call: combine them with ``sim.model.outcomes.combine_series``.
    """
    module = engine_module(engine)
    point = np.asarray(point, dtype=np.int64)
    replicate = np.asarray(replicate, dtype=np.int64)
    streams = None if stream is None else np.asarray(stream, dtype=np.int64)
    if series not in (None, "mean", "replicate"):
        raise UserError(f"series must be None, 'mean' or 'replicate', got {series!r}")
    layout_of = {p: points[int(p)].layout() for p in np.unique(point)}
    groups: dict[Any, list[int]] = {}
    for k, p in enumerate(point.tolist()):
        groups.setdefault(layout_of[p], []).append(k)
    parts: list[tuple[np.ndarray, Outcomes]] = []
    for rows in groups.values():
        idx = np.asarray(rows)
        for start in range(0, len(idx), MAX_BATCH_ROWS):
            chunk = idx[start:start + MAX_BATCH_ROWS]
            batch = Batch.of(points, point[chunk], replicate[chunk], seed, crn,
                             None if streams is None else streams[chunk])
            parts.append((chunk, module.run(batch, series)))
    if len(parts) == 1 and np.array_equal(parts[0][0], np.arange(len(point))):
        return parts[0][1]
    order = np.argsort(np.concatenate([c for c, _ in parts]), kind="stable")
    merged = Outcomes.concat([o for _, o in parts]).take(order)
    found = [o.series for _, o in parts if o.series is not None]
    if found:
        merged.series = combine_series(found, series or "mean") if series == "mean" else pd.concat(found)
    return merged


def known_keywords(func: F) -> F:
    """``func`` with its keyword arguments checked first: an unknown one is a TypeError with a "did you mean"
    (``simulate(replicate=10)`` suggests ``replicates``), as Python's own message gives none."""
    names = list(inspect.signature(func).parameters)

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for key in kwargs:
            if key not in names:
                raise TypeError(f"{func.__name__}() got an unexpected keyword argument '{key}'"
                                f"{suggest(key, names)}; its arguments: {', '.join(names)}")
        return func(*args, **kwargs)

    return cast(F, checked)


@known_keywords
def simulate(params: Params | Mapping[str, Any] | None = None, *, replicates: int = 1,
             seed: int | np.random.SeedSequence = 0, engine: str = DEFAULT_ENGINE, series: SeriesMode = None,
             point: int = 0, crn: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``replicates`` replicates of one parameter set; one row per (replicate, accused) with the
    columns of sim.model.outcomes.COLUMNS.

    The replicates are point ``point`` of a design (its streams; 0 by default). ``series="mean"``
    (or ``"replicate"``) also returns the monthly series (sim.model.outcomes.SERIES) averaged over
    replicates (or per replicate) as a second frame.
    """
    p = as_params(params)
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or replicates < 1:
        raise UserError(f"replicates must be a positive integer, got {replicates!r}")
    if isinstance(point, (bool, np.bool_)) or not isinstance(point, (int, np.integer)) or point < 0:
        raise UserError(f"point must be a whole number of at least 0, got {point!r} (the design point whose "
                        "streams the replicates draw from; 0 by default)")
    if not isinstance(crn, (bool, np.bool_)):
        raise UserError(f"crn must be True or False, got {crn!r} (True: every point on the streams of point 0)")
    point, crn = int(point), bool(crn)
    root = root_seed(seed)
    stream_point(point, crn)
    out = run_rows({point: p}, np.full(replicates, point), np.arange(replicates), root, engine=engine, crn=crn,
                   series=series)
    frame = out.frame(np.arange(replicates))
    if series is None:
        return frame
    if out.series is None:
        raise RuntimeError(f"engine {engine!r} returned no monthly series for series={series!r}")
    if series == "mean":
        return frame, combine_series([out.series], "mean")
    return frame, out.series.drop(columns="point").reset_index(drop=True)


def block_sizes(replicates: int, block_size: int) -> list[int]:
    """Sizes of the blocks that make up ``replicates`` (all full but possibly the last)."""
    if replicates < 1:
        raise UserError(f"replicates must be at least 1, got {replicates}")
    if block_size < 1:
        raise UserError(f"block_size must be at least 1, got {block_size}")
    full, rest = divmod(replicates, block_size)
    return [block_size] * full + ([rest] if rest else [])
