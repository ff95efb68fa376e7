"""Where the fused engine's time goes, on one thread: its parts, each submodel of the month, each pass over the states.

- parts: CPU time per replicate of drawing a chunk's start (with streams' NumPy variates and with the fused
  engine's compiled ones, sim.engines.fused.draws), the parameter tables, the kernel's months, the whole engine,
  the NumPy core and the Mesa engine, best of several rounds;
- submodels: the kernel's months split by submodel (protocol.SUBMODELS), from the CPU's cycle counter read around
  each submodel in a compiled copy of the month (``protocol.month`` with a counter between the calls), as shares
  of the kernel's measured time;
- passes: nanoseconds per call of each loop pass (sim.engines.fused.passes) on the defaults' state after six
  months, each in a compiled loop of many calls, beside the floor of a pass at cache speed: a sum over the
  states' float32 values, an exp32 over them, and a running float32 sum (a chain of dependent additions).

Used by benchmarks/engines.py (``--profile``); imports numba, so the fused engine's extra must be installed.
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from sim.engines.fused import draws, engine, kernel
from sim.engines.fused import passes as loops
from sim.engines.fused.compiled import OPTIONS, exp32
from sim.engines.mesa.engine import run as mesa_core
from sim.engines.vectorized.engine import run as numpy_core
from sim.model import initial, protocol, rules, values
from sim.model.batch import Batch, Parameters
from sim.model.layout import Layout
from sim.model.params import Params

jit = numba.njit(**OPTIONS)


@intrinsic
def _cycles(typingctx):
    """The CPU's cycle counter (llvm.readcyclecounter: rdtsc on x86)."""
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), []))
        return builder.call(fn, [])
    return types.uint64(), codegen


def _timed_month_source() -> str:
    """A compiled kernel over rows whose month calls each submodel between two readings of the cycle counter."""
    lines = ["def timed_rows(scalars, accused, start, shared, horizon, cycles, accused_out, run_out):",
             "    for r in range(scalars.shape[0]):",
             "        p = values_of(scalars[r], accused[r])",
             "        w = replicate()",
             "        P.begin(w, p, start, shared, r)",
             "        for t in range(horizon):",
             "            c0 = counter()"]
    for k, name in enumerate(protocol.SUBMODELS):
        lines += [f"            P.{name}(w, p, t)", "            c1 = counter()", f"            cycles[{k}] += c1 - c0",
                  "            c0 = c1"]
    lines.append("        P.record(w, accused_out[r], run_out[r])")
    return "\n".join(lines) + "\n"


_namespace: dict[str, Any] = {"values_of": kernel.values_of, "replicate": kernel._replicate, "P": kernel.PROTOCOL,
                              "counter": _cycles}
exec(compile(_timed_month_source(), "<timed_rows>", "exec"), _namespace)
timed_rows = jit(_namespace["timed_rows"])


@jit
def _state(scalars, accused, start, shared, months):
    p = kernel.values_of(scalars[0], accused[0])
    w = kernel._replicate()
    kernel.PROTOCOL.begin(w, p, start, shared, 0)
    for t in range(months):
        kernel.PROTOCOL.month(w, p, t)
    return p, w


PASSES = ("decay of pressure (decay_pressure)", "odds against arrest (arrest_odds: 1 exp32 a state)",
          "one accused's destination weights (destination_weights: 1 exp32 a state)",
          "attraction: the free accused' weights summed (attraction)",
          "top-10 outreach targets (top: a floor, the columns above it, insertion)",
          "the boost at 10 targets (boost: 3 exp32 a target)",
          "a destination drawn (choose: a running float32 sum, then a count)",
          "norm dynamics (norms: 5 regional sums in float64, an update)",
          "withdrawal candidates (withdrawal_candidates)",
          "floor: sum of the states' float32 values (one streaming pass)",
          "floor: exp32 of each state's value (one vectorised pass)",
          "floor: running float32 sum (a chain of dependent additions)")


@jit
def _floor_sum(x):
    total = np.float32(0.0)
    for i in range(x.size):
        total += x[i]
    return total


_floor_sum_fast = numba.njit(fastmath={"reassoc"}, **OPTIONS)(_floor_sum.py_func)


@jit
def _floor_exp(x, out):
    for i in range(x.size):
        out[i] = exp32(x[i])


@jit
def _passes(scalars, accused, start, shared, part, calls):
    """``calls`` calls of pass ``part`` (an index into PASSES) on the state after six months."""
    p, w = _state(scalars, accused, start, shared, 6)
    active = np.ones(w.sealed.size, np.bool_)
    loops.arrest_odds(w, p)
    for j in range(w.sealed.size):
        loops.destination_weights(w, p, j)
    v = loops.attraction(w, p, active).copy()
    loops.top(v, 10, w.targets, w.picks)
    out = np.empty(v.size, np.float32)
    total = 0.0
    for c in range(calls):
        if part == 0:
            loops.decay_pressure(w, p)
        elif part == 1:
            loops.arrest_odds(w, p)
        elif part == 2:
            loops.destination_weights(w, p, 0)
        elif part == 3:
            total += loops.attraction(w, p, active)[0]
        elif part == 4:
            total += loops.top(v, 10, w.targets, w.picks)
        elif part == 5:
            w.fresh = True
            loops.boost(w, p, 10, active)
        elif part == 6:
            total += loops.choose(w.weights[0], (c % 1000) / 1000, w.cum)
        elif part == 7:
            loops.norms(w, p)
        elif part == 8:
            total += loops.withdrawal_candidates(w, w.picks)
        elif part == 9:
            total += _floor_sum_fast(w.compliance)
        elif part == 10:
            _floor_exp(w.compliance, out)
        else:
            total += _floor_sum(w.weights[0])
    return total


def passes_ns(chunk: engine.Chunk, layout: Layout, calls: int = 100_000, rounds: int = 3) -> dict[str, float]:
    """Nanoseconds per call of each of PASSES (best of ``rounds``)."""
    args = (chunk.scalars, chunk.accused, chunk.start, engine.shared(layout))
    out = {}
    for part, name in enumerate(PASSES):
        _passes(*args, part, 10)
        best = np.inf
        for _ in range(rounds):
            start = time.process_time()
            _passes(*args, part, calls)
            best = min(best, time.process_time() - start)
        out[name] = 1e9 * best / calls
    return out


def submodel_shares(chunk: engine.Chunk, layout: Layout) -> dict[str, float]:
    """Each submodel's share of the kernel's cycles over the chunk's rows."""
    n = chunk.n
    cycles = np.zeros(len(protocol.SUBMODELS), np.uint64)
    accused_out = np.zeros((n, layout.n_accused, len(protocol.ACCUSED_OUTCOMES)), np.int32)
    run_out = np.zeros((n, len(protocol.RUN_OUTCOMES)), np.int32)
    args = (chunk.start, engine.shared(layout), int(layout.horizon))
    timed_rows(chunk.scalars[:2], chunk.accused[:2], *args, cycles, accused_out, run_out)
    cycles[:] = 0
    timed_rows(chunk.scalars, chunk.accused, *args, cycles, accused_out, run_out)
    total = float(cycles.sum())
    return {name: float(c) / total for name, c in zip(protocol.SUBMODELS, cycles)}


def profile(replicates: int = 4096, rounds: int = 5, mesa_replicates: int = 100) -> dict:
    """The fused engine's parts, submodels and passes on one thread (call with NUMBA_NUM_THREADS=1)."""
    numba.set_num_threads(1)
    point = {0: Params()}
    batch = Batch.of(point, np.zeros(replicates, np.int64), np.arange(replicates), 1)
    layout = Layout.of(batch.params)
    rows = slice(0, min(engine.CHUNK, replicates))
    n = rows.stop
    engine.run(Batch.of(point, [0], [0], 1))
    mesa_core(Batch.of(point, [0], [0], 1))
    chunk = engine.Chunk(layout, batch, rows)
    accused_out = np.zeros((n, layout.n_accused, len(protocol.ACCUSED_OUTCOMES)), np.int32)
    run_out = np.zeros((n, len(protocol.RUN_OUTCOMES)), np.int32)
    legitimacy, series = np.empty(n), np.zeros((n, 0, 4))
    best: dict[str, float] = {}

    def timed(name: str, per: int, f, *args) -> Any:
        start = time.process_time()
        out = f(*args)
        best[name] = min(best.get(name, np.inf), 1e3 * (time.process_time() - start) / per)
        return out

    mesa_batch = Batch.of(point, np.zeros(mesa_replicates, np.int64), np.arange(mesa_replicates), 1)
    p = Parameters(batch, rows)
    for _ in range(rounds):
        timed("start, streams' NumPy variates (sim.model.initial.draw)", n, initial.draw, layout, batch, rows, p)
        timed("start, compiled variates (sim.engines.fused.draws)", n, initial.draw, layout, batch, rows, p,
              draws.SAMPLER)
        timed("parameter tables (sim.model.values.tables)", n, values.tables, p.row, p.per_accused, n,
              layout.n_accused)
        timed("months (kernel.run_rows, 120 months)", n, kernel.run_rows, chunk.scalars, chunk.accused, chunk.start,
              engine.shared(layout), int(layout.horizon), accused_out, run_out, legitimacy, series)
        timed("fused engine, total (engine.run)", replicates, engine.run, batch)
        timed("NumPy core, total", replicates, numpy_core, batch)
    timed("Mesa engine, total", mesa_replicates, mesa_core, mesa_batch)
    shares = submodel_shares(chunk, layout)
    months_ms = best["months (kernel.run_rows, 120 months)"]
    plans = float(np.sum(rules.trip_probability(np.asarray(point[0]["accused.trip_rate"]))))
    return {"parts_ms": best, "submodels_ms": {k: s * months_ms for k, s in shares.items()},
            "passes_ns": passes_ns(chunk, layout), "replicates": replicates, "horizon": int(layout.horizon),
            "states": int(layout.n_states), "plans_per_month": plans}
