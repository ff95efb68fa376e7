"""The fused kernel: the protocol (sim.model.protocol) compiled by numba, rows in parallel (numba prange).

A row's state is a numba structure with the fields of ``protocol.STATE``; the protocol's functions are compiled
from their own bytecode (sim.engines.fused.compiled), with its passes over every state as loops
(sim.engines.fused.passes) and its event log as nothing. So a row takes the decisions the Mesa engine takes for
that replicate, on the same random numbers, and gives the NumPy core's outcomes up to float rounding (exp32 for
NumPy's exp, other summation orders). A row depends on nothing but its own key and parameters, so neither
threads nor chunks nor batches change a number.
"""

from __future__ import annotations

from collections import namedtuple
from enum import IntEnum
from typing import Any

import numba
from numba import types
from numba.experimental import structref

from sim.engines.fused import passes as loops
from sim.engines.fused.compiled import OPTIONS, RULES, STREAMS, compile_module, sources_digest
from sim.model import protocol, values
from sim.model.streams import Stream

_SCALAR = {"u8": types.uint64, "i8": types.int64, "i4": types.int32, "f4": types.float32, "f8": types.float64,
           "b1": types.boolean}


@structref.register
class ReplicateType(types.StructRef):
    """numba's type of one replicate's state (the fields of protocol.STATE)."""

    def preprocess_fields(self, fields: Any) -> tuple:
        return tuple((name, types.unliteral(t)) for name, t in fields)


def _field(dtype: str, shape: str) -> Any:
    scalar = _SCALAR[dtype]
    return scalar if shape == "" else types.Array(scalar, 2 if shape == "FS" else 1, "C")


REPLICATE = ReplicateType([(name, _field(dtype, shape)) for name, dtype, shape in protocol.STATE])


@numba.njit(**OPTIONS)
def _nothing(w, event, t, actor, target, value):
    """The compiled event log: none."""


def _constants(enum: type[IntEnum]) -> Any:
    """An IntEnum's members as a named tuple of ints (numba folds its attributes to constants)."""
    members = namedtuple(enum.__name__, [m.name for m in enum])  # type: ignore[misc]
    return members(*(int(m) for m in enum))


PROTOCOL = compile_module(protocol, "PROTOCOL", {"rules": RULES, "passes": loops, "draw": STREAMS.draw,
                                                "note": _nothing, "Stream": _constants(Stream),
                                                "Event": _constants(protocol.Event)})
values_of = numba.njit(values.values_of, **OPTIONS)


@numba.njit(**OPTIONS)
def _replicate():
    return structref.new(REPLICATE)


def _kernel(digest: str) -> Any:
    """The parallel kernel; ``digest`` (of the sources it is compiled from) keys numba's cache of it."""

    @numba.njit(parallel=True, cache=True, **OPTIONS)
    def run_rows(scalars, accused, start, shared, horizon, accused_out, run_out, legitimacy_out, series_out):
        """Every row to the horizon, rows in parallel: row r's parameters from its tables (sim.model.values), its
        start from row r of ``start`` (sim.model.initial); outcomes, and the series if ``series_out`` is (R, T, 4)
        rather than (R, 0, 4), in place."""
        digest  # noqa: B018 - part of the cache key
        for r in numba.prange(scalars.shape[0]):
            p = values_of(scalars[r], accused[r])
            w = _replicate()
            PROTOCOL.begin(w, p, start, shared, r)
            PROTOCOL.run(w, p, horizon, series_out[r])
            PROTOCOL.record(w, accused_out[r], run_out[r])
            legitimacy_out[r] = w.legitimacy
    return run_rows


run_rows = _kernel(sources_digest())
