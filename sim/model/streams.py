"""Counter-based random streams for the vectorized engines: any number, anywhere, from (key, stream, t, slot).

Each uniform is a pure function of the replicate's key (sim.model.seeding.stream_keys), a stream id
(which decision: ``Stream``), the month t and a slot (an accused, a state, an attempt):
``u = mix64(key ^ mix64(counter))`` with ``counter = stream·2^52 + t·2^32 + slot``, SplitMix64's
finaliser as the round function. So a replicate's numbers never depend on its neighbours in a batch,
on chunking or on threads, a decision that is switched off draws nothing and shifts nothing, and a
fused kernel can compute the same numbers in its own loop. Beta and normal variates are built from
these uniforms (Marsaglia-Tsang gamma with Box-Muller normals), so they are reproducible too.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np

from sim.model import seeding
from sim.model.seeding import GOLDEN, mix64

_T_SHIFT = np.uint64(32)
_STREAM_SHIFT = np.uint64(52)
_TO_UNIT = 2.0 ** -53
_U53 = np.uint64(11)
MAX_SLOTS = 1 << 32
MAX_MONTHS = 1 << 20
GAMMA_ATTEMPTS = 64  # rejection rounds of the gamma sampler; each round rejects fewer than 5% of cells


class Stream(IntEnum):
    """The decisions that draw random numbers; each has its own stream (counter space)."""

    SOVEREIGNTY = 1
    COMPLIANCE = 2
    CAPACITY = 3
    ALIGNMENT = 4
    APPEAL = 5
    SEALED = 6
    FALLEN = 7
    FALLEN_FATE = 8
    TIMED = 9
    TIMED_HOST = 10
    TIMED_ARREST = 11
    TIMED_FINDING = 12
    DETAINED_SURRENDER = 13
    REGIME = 14
    REGIME_FATE = 15
    PLAN = 16
    DESTINATION = 17
    ARREST = 18
    FINDING = 19
    UNSEAL = 20
    WITHDRAW = 21
    ACCEDE = 22
    TURNOVER = 23  # v1.4: the replicate's home hazard η_r (ODD §5.3)
    INVITE = 24  # v1.5: summit invitations (ODD §7.3.0)
    INVITE_HOST = 25
    INVITE_ARREST = 26
    INVITE_FINDING = 27


def counter_hash(stream: int, t: int, slots: np.ndarray) -> np.ndarray:
    """mix64 of the counters of ``slots`` of month ``t`` of ``stream``: a uniform's bits are mix64(key ^ this)."""
    if not 0 <= t < MAX_MONTHS:
        raise ValueError(f"month {t} outside the streams' range 0..{MAX_MONTHS - 1}")
    base = (np.uint64(int(stream)) << _STREAM_SHIFT) | (np.uint64(t) << _T_SHIFT)
    with np.errstate(over="ignore"):
        return mix64(base + np.asarray(slots, dtype=np.uint64) + GOLDEN)


def _unit(bits: np.ndarray) -> np.ndarray:
    return (bits >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def draw(key: Any, stream: int, t: int, slot: int) -> Any:
    """One uniform in [0, 1): slot ``slot`` of month ``t`` of stream ``stream`` of the replicate keyed ``key``,
    equal bit for bit to the arrays of ``uniforms``. Scalar arithmetic only, so the per-replicate protocol
    (sim.model.protocol) runs it as Python and numba compiles it unchanged."""
    counter = (np.uint64(stream) << _STREAM_SHIFT) | (np.uint64(t) << _T_SHIFT)
    bits = mix64(key ^ mix64(counter + np.uint64(slot) + GOLDEN))
    return np.float64(bits >> _U53) * _TO_UNIT


_MASK = (1 << 64) - 1
_M1, _M2, _GOLDEN = int(seeding._M1), int(seeding._M2), int(GOLDEN)


def draw_python(key: Any, stream: int, t: int, slot: int) -> float:
    """``draw`` for callers in plain Python (the Mesa engine runs the protocol as Python): the same number, computed in
    Python integers (mix64 taken modulo 2^64), faster than NumPy's scalars (tests/test_protocol.py checks them
    against each other). The compiled protocol binds ``draw`` itself."""
    z = (((int(stream) << 52) | (int(t) << 32)) + int(slot) + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    z = int(key) ^ z ^ (z >> 31)
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return ((z ^ (z >> 31)) >> 11) * _TO_UNIT


def uniforms(keys: np.ndarray, stream: int, t: int, n: int, first_slot: int = 0) -> np.ndarray:
    """(R, n) uniforms in [0, 1): row r, column i is slot ``first_slot + i`` of replicate r's stream."""
    h = counter_hash(stream, t, np.arange(first_slot, first_slot + n, dtype=np.uint64))
    with np.errstate(over="ignore"):
        return _unit(mix64(np.asarray(keys, np.uint64)[:, None] ^ h[None, :]))


def uniform(keys: np.ndarray, stream: int, t: int, slot: int = 0) -> np.ndarray:
    """(R,) uniforms: one slot of each replicate's stream."""
    return uniforms(keys, stream, t, 1, slot)[:, 0]


def uniforms_at(keys: np.ndarray, stream: int, t: int, slots: np.ndarray) -> np.ndarray:
    """Uniforms at single cells: element k is slot ``slots[k]`` of the stream keyed ``keys[k]``."""
    h = counter_hash(stream, t, slots)
    with np.errstate(over="ignore"):
        return _unit(mix64(np.asarray(keys, np.uint64) ^ h))


def box_muller(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """A standard normal from two uniforms in [0, 1): sqrt(−2 ln(1 − u1))·cos(2π u2)."""
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def normals(keys: np.ndarray, stream: int, n: int) -> np.ndarray:
    """(R, n) standard normals (month 0 of the stream): column i from slots 2i and 2i + 1."""
    u = uniforms(keys, stream, 0, 2 * n)
    return box_muller(u[:, 0::2], u[:, 1::2])


def halves(keys: np.ndarray, stream: int, t: int, n: int) -> np.ndarray:
    """(R, 2n) uniforms of 32-bit resolution: the two halves of slots 0..n-1 of each row's stream (for the
    variates' inner draws, where 2^-32 resolution is ample and one hash gives two numbers)."""
    h = counter_hash(stream, t, np.arange(n, dtype=np.uint64))
    with np.errstate(over="ignore"):
        bits = mix64(np.asarray(keys, np.uint64)[:, None] ^ h[None, :])
    out = np.empty((len(keys), 2 * n))
    out[:, :n] = (bits >> np.uint64(32)).astype(np.float64)
    out[:, n:] = (bits & np.uint64(0xFFFFFFFF)).astype(np.float64)
    out *= 2.0 ** -32
    return out


def gammas(keys: np.ndarray, stream: int, sub: int, shape: np.ndarray) -> np.ndarray:
    """Gamma(shape, 1) variates of an (R, n) array of positive shapes (Marsaglia-Tsang with Box-Muller
    normals), all from month ``sub`` of the stream: the first attempt from ``halves`` of slots 0..2n-1."""
    shape = np.asarray(shape, dtype=np.float64)
    n = shape.shape[1]
    u = halves(keys, stream, sub, 2 * n)
    z = box_muller(u[:, :n], u[:, 2 * n:3 * n])
    return _gamma(keys, stream, sub + 1, shape, z, u[:, n:2 * n])


def _gamma(keys: np.ndarray, stream: int, sub: int, shape: np.ndarray, z: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Finish Gamma(shape) variates whose first Marsaglia-Tsang attempt uses normals ``z`` and uniforms ``u``."""
    d, c = gamma_constants(shape)
    out, ok = _marsaglia_tsang(d, c, z, u)
    return gamma_finish(keys, stream, sub, shape, d, c, out, np.flatnonzero(~ok.reshape(-1)))


def gamma_constants(shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marsaglia and Tsang's d = a − 1/3 and c = 1/sqrt(9d), with a = shape + 1 for shapes below 1 (boosted)."""
    d = np.where(shape < 1.0, shape + 1.0, shape) - 1.0 / 3.0
    return d, 1.0 / np.sqrt(9.0 * d)


def gamma_finish(keys: np.ndarray, stream: int, sub: int, shape: np.ndarray, d: np.ndarray, c: np.ndarray,
                 out: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """Gamma(shape) variates from a first attempt's candidates ``out``, in place: ``todo`` lists the flat indices of the
    cells it rejected, in increasing order; ``shape``, ``d`` and ``c`` may be broadcast views.

    Cells rejected in the first attempt retry on month ``sub`` of the stream: in attempt a, slots
    (3a + k)·n + i (normal from k = 0, 1; acceptance k = 2). Shapes below 1 are boosted,
    Gamma(a) = Gamma(a + 1)·U^(1/a), with U at slot 3·GAMMA_ATTEMPTS·n + i.
    """
    _r, n = shape.shape
    keys = np.asarray(keys, np.uint64)
    boost = shape < 1.0
    flat_out = out.reshape(-1)
    for attempt in range(1, GAMMA_ATTEMPTS):
        if todo.size == 0:
            break
        row, col = np.divmod(todo, n)
        k, dd, cc, col = keys[row], d[row, col], c[row, col], col.astype(np.uint64)
        slot = [np.uint64((3 * attempt + j) * n) + col for j in range(3)]
        zz = box_muller(uniforms_at(k, stream, sub, slot[0]), uniforms_at(k, stream, sub, slot[1]))
        value, ok = _marsaglia_tsang(dd, cc, zz, uniforms_at(k, stream, sub, slot[2]))
        flat_out[todo[ok]] = value[ok]
        todo = todo[~ok]
    if todo.size:  # pragma: no cover - probability below 0.05^64
        raise RuntimeError("gamma sampler did not converge")
    if boost.any():
        cells = np.flatnonzero(boost.reshape(-1))
        row, col = np.divmod(cells, n)
        u = uniforms_at(keys[row], stream, sub, np.uint64(3 * GAMMA_ATTEMPTS * n) + col.astype(np.uint64))
        with np.errstate(over="ignore", under="ignore"):  # a tiny shape: a variate of (nearly) zero
            flat_out[cells] *= np.power(1.0 - u, 1.0 / shape.reshape(-1)[cells])
    return out


def _marsaglia_tsang(d: np.ndarray, c: np.ndarray, z: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One round of Marsaglia and Tsang's method: candidate d·v, v = (1 + c·z)^3, and whether it is accepted."""
    v = 1.0 + c * z
    v = v * v * v
    positive = v > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = positive & (np.log(u) < 0.5 * z * z + d - d * v + d * np.log(np.where(positive, v, 1.0)))
    return d * v, ok


def betas(keys: np.ndarray, stream: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Beta(a, b) variates of (R, n) arrays of positive shapes: X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b).

    One Box-Muller pair gives both first normals (cosine for X, sine for Y): month 0 of the stream,
    ``halves`` of slots 0..2n-1; X's retries use month 1, Y's month 2; both variates underflowing
    (tiny shapes) is settled as 0 or 1 with odds a : b by a uniform of month 3.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = a.shape[1]
    u = halves(keys, stream, 0, 2 * n)
    radius = np.sqrt(-2.0 * np.log1p(-u[:, :n]))
    angle = 2.0 * np.pi * u[:, 2 * n:3 * n]
    x = _gamma(keys, stream, 1, a, radius * np.cos(angle), u[:, n:2 * n])
    y = _gamma(keys, stream, 2, b, radius * np.sin(angle), u[:, 3 * n:])
    return beta_finish(keys, stream, a, b, x, y)


def beta_finish(keys: np.ndarray, stream: int, a: np.ndarray, b: np.ndarray, x: np.ndarray,
                y: np.ndarray) -> np.ndarray:
    """X / (X + Y) from the gamma variates X ~ Gamma(a), Y ~ Gamma(b), the cells where both underflow settled as 0 or
    1 with odds a : b by a uniform of month 3 of the stream."""
    n = a.shape[1]
    total = x + y
    both_zero = total == 0
    if both_zero.any():
        cells = np.flatnonzero(both_zero.reshape(-1))
        uu = uniforms_at(np.asarray(keys, np.uint64)[cells // n], stream, 3, (cells % n).astype(np.uint64))
        share = a.reshape(-1)[cells] / (a + b).reshape(-1)[cells]
        x.reshape(-1)[cells] = (uu < share).astype(float)
        total.reshape(-1)[cells] = 1.0
    return x / total
