"""The fused engine's building blocks in numba: the model's modules compiled in float32, a vectorisable exp.

``compile_module`` makes a module whose functions are those of a model module (sim.model.rules, streams,
protocol) compiled by numba (lazily, on first use) from the same bytecode with one change: float constants
are float32, so that ``1.0 + odds`` on float32 values stays float32 as in the NumPy core (numba would
otherwise widen it to float64 and halve the SIMD width). Its globals are the module's own, with some names
bound to compiled counterparts: the rules' ``where`` to a choice between two numbers, the protocol's
``passes`` to their loop forms (sim.engines.fused.passes) and ``note`` to nothing. So the protocol the Mesa
engine runs as Python is the protocol the fused engine runs compiled.
"""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.extending import intrinsic

from sim.model import rules, seeding, streams

OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy"}  # no ZeroDivisionError checks: IEEE results
FLOAT32 = np.float32


def _float32_constants(f: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    """``f`` with its float constants (and float defaults) as float32, its globals ``namespace``."""
    code = f.__code__
    consts = tuple(np.float32(c) if type(c) is float else c for c in code.co_consts)
    defaults = tuple(np.float32(d) if type(d) is float else d for d in f.__defaults__) if f.__defaults__ else None
    g = types.FunctionType(code.replace(co_consts=consts), namespace, f.__name__, defaults, f.__closure__)
    g.__qualname__, g.__doc__ = f.__qualname__, f.__doc__
    return g


def compile_module(source: types.ModuleType, name: str, bind: dict[str, Any] | None = None) -> types.ModuleType:
    """``source``'s functions compiled with float32 constants, in a module named ``<this module>.<name>`` whose
    globals are ``source``'s with ``bind`` over them; registered in sys.modules so that numba's cache finds the
    module of its functions in a new process."""
    module = types.ModuleType(f"{__name__}.{name}", source.__doc__)
    sys.modules[module.__name__] = module
    namespace = vars(module)
    namespace.update({k: v for k, v in vars(source).items() if k not in ("__name__", "__doc__")})
    for key, f in vars(source).items():
        if isinstance(f, types.FunctionType) and f.__module__ == source.__name__:
            namespace[key] = numba.njit(_float32_constants(f, namespace), **OPTIONS)
    namespace.update(bind or {})
    return module


@numba.njit(**OPTIONS)
def _choose(condition, a, b):
    """rules.where for one decision: ``a`` if ``condition`` else ``b``."""
    return a if condition else b


RULES = compile_module(rules, "RULES", {"where": _choose})


def sources_digest() -> str:
    """SHA-256 of the sources the kernel is compiled from (numba's cache only watches the kernel's own file)."""
    from sim.model import outcomes, passes, protocol, values

    files = [Path(m.__file__) for m in (rules, seeding, streams, protocol, passes, values, outcomes) if m.__file__]
    files += sorted(Path(__file__).parent.glob("*.py"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


# --- exp in float32: Cephes' range reduction and polynomial (expf), pure arithmetic, so loops vectorise ---

_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_P0, _P1, _P2 = np.float32(1.9875691500e-4), np.float32(1.3981999507e-3), np.float32(8.3334519073e-3)
_P3, _P4, _P5 = np.float32(4.1665795894e-2), np.float32(1.6666665459e-1), np.float32(5.0000001201e-1)
EXP_MAX = np.float32(88.0)  # 2^127 · e^0.5 < float32 max: above this exp32 gives inf
EXP_MIN = np.float32(-87.33)  # e^EXP_MIN is just above the smallest normal float32: below this exp32 gives 0
_ONE, _HALF, _ZERO, _INF = np.float32(1.0), np.float32(0.5), np.float32(0.0), np.float32(np.inf)


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the int32 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return numba.types.float32(numba.types.int32), codegen


@numba.njit(**OPTIONS)
def exp32(x):
    """e^x in float32 within 2 ulp on [EXP_MIN, EXP_MAX] (tests/test_fused.py bounds it); 0 below, inf above."""
    c = min(max(x, EXP_MIN), EXP_MAX)
    n = np.floor(c * _LOG2E + _HALF)
    r = c - n * _LN2_HI
    r = r - n * _LN2_LO
    y = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    y = y * (r * r) + r + _ONE
    y = y * _float32_from_bits((np.int32(n) + np.int32(127)) << np.int32(23))
    y = _INF if x > EXP_MAX else y
    return _ZERO if x < EXP_MIN else y


# --- the counter-based streams of sim.model.streams, one uniform at a time -----------------------------------

mix64 = numba.njit(seeding.mix64, **OPTIONS)  # SplitMix64's finaliser, the same function on one uint64
STREAMS = compile_module(streams, "STREAMS", {"mix64": mix64})
uniform = STREAMS.draw  # sim.model.streams.draw, compiled
