"""A batch: the replicates one engine call runs, each row with its own parameter point and stream key.

Rows may come from different points of a design (batched points): every numeric parameter can
differ by row, while the layout (the scenario: roster, horizon, and the number of accused) is shared.
Row k is replicate ``replicate[k]`` of point ``point[k]``; its random numbers depend on the seed and
(stream point, replicate) alone (sim.model.seeding), so a row's outcomes do not depend on the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sim.errors import UserError
from sim.model.params import BY_NAME, SCHEMA, Params
from sim.model.seeding import root_seed, stream_keys, stream_point


@dataclass(frozen=True, eq=False)
class Batch:
    """Rows (point, replicate) of one layout, with their parameters and stream keys."""

    points: Mapping[int, Params]  # point id -> parameters (all of one layout)
    point: np.ndarray  # (R,) point id of each row
    replicate: np.ndarray  # (R,) replicate number of each row within its point
    seed: np.random.SeedSequence
    crn: bool = False  # common random numbers: streams keyed by (0, replicate) at every point
    stream: np.ndarray | None = None  # (R,) the stream point of each row when it is not the row's point

    @classmethod
    def of(cls, points: Mapping[int, Params], point: Sequence[int] | np.ndarray,
           replicate: Sequence[int] | np.ndarray, seed: int | np.random.SeedSequence, crn: bool = False,
           stream: Sequence[int] | np.ndarray | None = None) -> Batch:
        """``point`` keys each row's parameters in ``points``; its random numbers come from the stream of
        ``stream`` (default: the point itself, or point 0 with ``crn``) and the replicate number."""
        point = np.asarray(point, dtype=np.int64)
        replicate = np.asarray(replicate, dtype=np.int64)
        if point.shape != replicate.shape or point.ndim != 1 or point.size == 0:
            raise UserError("a batch needs equally long, non-empty lists of points and replicates")
        missing = sorted(set(np.unique(point).tolist()) - set(points))
        if missing:
            raise UserError(f"a batch names point {missing[0]} without its parameters")
        layouts = {points[int(p)].layout() for p in np.unique(point)}
        if len(layouts) > 1:
            raise UserError("one engine call runs points of one layout (scenario and number of accused); "
                            "split the batch with sim.simulate.run_rows")
        streams = None if stream is None else np.asarray(stream, dtype=np.int64)
        if streams is not None and streams.shape != point.shape:
            raise UserError("a batch needs one stream point per row")
        return cls(points=dict(points), point=point, replicate=replicate, seed=root_seed(seed), crn=crn,
                   stream=streams)

    @property
    def n(self) -> int:
        return int(self.point.size)

    @cached_property
    def params(self) -> Params:
        """The parameters of the first row's point: the layout every row shares."""
        return self.points[int(self.point[0])]

    @cached_property
    def unique_points(self) -> np.ndarray:
        return np.unique(self.point)

    @cached_property
    def keys(self) -> np.ndarray:
        """(R,) uint64 stream keys of the rows (sim.model.seeding.stream_keys)."""
        return stream_keys(self.seed, self.stream_points, self.replicate)

    @cached_property
    def stream_points(self) -> np.ndarray:
        """The point whose stream each row draws from (a row's own point, point 0 with crn, or ``stream``)."""
        base = self.point if self.stream is None else self.stream
        return np.asarray(stream_point(base, self.crn))

    def row_params(self, k: int) -> Params:
        return self.points[int(self.point[k])]

    def value(self, name: str) -> float | np.ndarray:
        """A numeric parameter for every row: a Python number when all rows share it, else an (R,) array.
        Per-accused lists give an (F,) array when shared, else (R, F)."""
        return self._values[name]

    def column(self, name: str) -> float | np.ndarray:
        """``value`` shaped to broadcast against (R, S) or (R, F) arrays: (R, 1) when it differs by row."""
        v = self._values[name]
        return v[:, None] if isinstance(v, np.ndarray) and v.ndim == 1 and not BY_NAME[name].is_list else v

    def varies(self, name: str) -> bool:
        v = self._values[name]
        return isinstance(v, np.ndarray) and (not BY_NAME[name].is_list or v.ndim == 2)

    @cached_property
    def _values(self) -> dict[str, float | np.ndarray]:
        out: dict[str, float | np.ndarray] = {}
        ids = self.unique_points
        where = np.searchsorted(ids, self.point)
        for p in SCHEMA:
            if not p.numeric:
                continue
            per_point = [self.points[int(i)][p.name] for i in ids]
            if p.is_list:
                table = np.asarray(per_point, dtype=float)  # (points, F)
                out[p.name] = table[0] if (table == table[0]).all() else table[where]
            else:
                first = per_point[0]
                out[p.name] = first if all(v == first for v in per_point) else np.asarray(per_point, float)[where]
        return out


class Parameters:
    """A chunk's view of the batch's parameters: ``col(name)`` broadcasts against (R, S), ``row(name)``
    against (R,), ``accused(name, j)`` is accused j's value against (R, S) (lists are per accused).

    Values are typed alike whether the rows share them or not (real numbers as float32, integers as
    int64, scalars as NumPy scalars), so NumPy promotes an expression the same way in both cases and a
    row's numbers do not depend on which other points share its chunk.
    """

    REAL = np.float32

    def __init__(self, batch: Batch, rows: slice):
        self.batch, self.rows = batch, rows
        self._typed: dict[str, Any] = {}

    def _value(self, name: str) -> Any:
        if name not in self._typed:
            v = self.batch.value(name)
            p = BY_NAME[name]
            kind = np.int64 if p.scalar_kind in ("int", "bool") and not p.is_list else self.REAL
            self._typed[name] = np.asarray(v, dtype=kind) if isinstance(v, np.ndarray) else kind(v)
        return self._typed[name]

    def row(self, name: str) -> Any:
        v = self._value(name)
        return v[self.rows] if isinstance(v, np.ndarray) and v.ndim >= 1 and not BY_NAME[name].is_list else v

    def col(self, name: str) -> Any:
        v = self.row(name)
        return v[:, None] if isinstance(v, np.ndarray) else v

    def per_accused(self, name: str) -> np.ndarray:
        """(F,) when shared by every row, else (R, F)."""
        v = np.asarray(self._value(name), dtype=self.REAL)
        return v[self.rows] if v.ndim == 2 else v

    def accused(self, name: str, j: int) -> Any:
        """Accused j's value: a number, or an (R, 1) column."""
        v = self.per_accused(name)
        return v[j] if v.ndim == 1 else v[:, j:j + 1]

    def at(self, name: str, rows: np.ndarray) -> Any:
        """A scalar parameter at the given rows of the chunk (for computations on single cells)."""
        v = self.row(name)
        return v[rows] if isinstance(v, np.ndarray) else v

    def accused_at(self, name: str, j: int, rows: np.ndarray) -> Any:
        v = self.per_accused(name)
        return v[j] if v.ndim == 1 else v[rows, j]

    def any_positive(self, name: str) -> bool:
        return bool(np.any(np.asarray(self.row(name)) > 0))
