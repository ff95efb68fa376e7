"""Parameters bound once: the schema's numeric parameters packed into float32 tables, read back as named values.

An engine call packs each row's parameters into two tables generated from the schema (``SCALARS``: one
column per scalar parameter; ``PER_ACCUSED``: one column per per-accused list, one row per accused), and
the per-replicate protocol (sim.model.protocol) reads them as ``Values``: one named tuple per group whose
fields are the parameters' short names, so ``p.arrest.intercept`` is ``arrest.intercept`` and
``p.accused.trip_rate[j]`` is accused j's ``accused.trip_rate``. The same code reads them as Python
(NumPy float32 scalars) and compiled by numba. No index table is kept by hand: every position follows
from the schema's order.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from sim.model.params import SCHEMA, Params

DTYPE = np.float32  # every parameter the protocol reads (integers among them are small and exact in float32)
SCALARS: tuple[str, ...] = tuple(p.name for p in SCHEMA if p.numeric and not p.layout and not p.is_list)
PER_ACCUSED: tuple[str, ...] = tuple(p.name for p in SCHEMA if p.per_accused)
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(n.split(".")[0] for n in SCALARS + PER_ACCUSED))


def _fields(group: str) -> tuple[str, ...]:
    return tuple(n.split(".", 1)[1] for n in SCALARS + PER_ACCUSED if n.split(".")[0] == group)


GROUP_TYPES: dict[str, Any] = {g: namedtuple(g.title(), _fields(g)) for g in GROUPS}
Values = namedtuple("Values", GROUPS)  # type: ignore[misc]


def _reader_source() -> str:
    """The source of ``values_of``: each group's fields taken from the tables by their schema positions."""
    parts = []
    for g in GROUPS:
        args = []
        for n in (m for m in SCALARS + PER_ACCUSED if m.split(".")[0] == g):
            args.append(f"row[{SCALARS.index(n)}]" if n in SCALARS else f"accused[:, {PER_ACCUSED.index(n)}]")
        parts.append(f"{g.title()}({', '.join(args)})")
    return "def values_of(row, accused):\n    return Values(" + ", ".join(parts) + ")\n"


_namespace: dict[str, Any] = {"Values": Values, **{t.__name__: t for t in GROUP_TYPES.values()}}
exec(compile(_reader_source(), f"<{__name__}.values_of>", "exec"), _namespace)
values_of = _namespace["values_of"]
values_of.__doc__ = ("The named values of one row: ``row`` its scalar table row (len(SCALARS),), ``accused`` its "
                     "per-accused table (F, len(PER_ACCUSED)). Plain Python, and numba compiles it unchanged.")
values_of.__module__ = __name__


def pack(params: Params) -> tuple[np.ndarray, np.ndarray]:
    """One parameter set's tables: (len(SCALARS),) and (F, len(PER_ACCUSED)), float32."""
    row = np.array([params[n] for n in SCALARS], dtype=DTYPE)
    accused = np.array([params[n] for n in PER_ACCUSED], dtype=DTYPE).T.copy()
    return row, accused


def of(params: Params) -> Any:
    """One parameter set as ``Values`` (for a single replicate run as Python)."""
    return values_of(*pack(params))


def tables(scalar: Any, per_accused: Any, n: int, n_accused: int) -> tuple[np.ndarray, np.ndarray]:
    """The (n, len(SCALARS)) and (n, F, len(PER_ACCUSED)) float32 tables of ``n`` rows: ``scalar(name)`` is a
    number shared by every row or an (n,) array, ``per_accused(name)`` an (F,) list shared or (n, F)."""
    scalars = np.empty((n, len(SCALARS)), DTYPE)
    for k, name in enumerate(SCALARS):
        scalars[:, k] = scalar(name)
    accused = np.empty((n, n_accused, len(PER_ACCUSED)), DTYPE)
    for k, name in enumerate(PER_ACCUSED):
        accused[:, :, k] = per_accused(name)
    return scalars, accused
