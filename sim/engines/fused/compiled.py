"""The fused kernel's building blocks in numba: sim.model.rules compiled in float32, a vectorisable exp, and
the counter-based uniforms of sim.model.streams.

``RULES`` holds every function of sim.model.rules compiled by numba (lazily, on first use) from the same
bytecode with one change: its float constants are float32, so that ``1.0 + odds`` on float32 values stays
float32 as in the NumPy core (numba would otherwise widen it to float64 and halve the SIMD width). Calls
between rules resolve to their compiled forms.
"""

from __future__ import annotations

import hashlib
import math
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


def compile_rules() -> types.ModuleType:
    """sim.model.rules with every function a numba dispatcher with float32 constants (compiled on first call);
    a module, so that numba resolves its attributes (functions, ArrestCoefficients, fate codes) when it compiles,
    registered in sys.modules so that numba's cache finds the module of its functions in a new process."""
    module = types.ModuleType(f"{__name__}.RULES", rules.__doc__)
    sys.modules[module.__name__] = module
    namespace = vars(module)
    namespace.update({k: v for k, v in vars(rules).items() if k not in ("__name__", "__doc__")})
    for name, f in vars(rules).items():
        if isinstance(f, types.FunctionType) and f.__module__ == rules.__name__:
            namespace[name] = numba.njit(_float32_constants(f, namespace), **OPTIONS)
    return module


RULES = compile_rules()


def sources_digest() -> str:
    """SHA-256 of the sources the kernel is compiled from (numba's cache only watches the kernel's own file)."""
    files = [Path(m.__file__) for m in (rules, seeding, streams) if m.__file__]
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
_STREAM_SHIFT = np.uint64(52)
_T_SHIFT = np.uint64(32)
_GOLDEN = seeding.GOLDEN
_U53 = np.uint64(11)
_TO_UNIT = float(2.0 ** -53)
assert _TO_UNIT == streams._TO_UNIT and math.log2(streams.MAX_SLOTS) == 32


@numba.njit(**OPTIONS)
def uniform(key, stream, t, slot):
    """Slot ``slot`` of month ``t`` of stream ``stream`` of the replicate keyed ``key``: sim.model.streams'
    u = mix64(key ^ mix64(stream·2^52 + t·2^32 + slot + golden)), mapped to [0, 1) by its top 53 bits."""
    counter = (np.uint64(stream) << _STREAM_SHIFT) | (np.uint64(t) << _T_SHIFT)
    bits = mix64(key ^ mix64(counter + np.uint64(slot) + _GOLDEN))
    return np.float64(bits >> _U53) * _TO_UNIT
