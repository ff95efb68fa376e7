"""The start's Beta and normal draws (sim.model.streams) with their arithmetic compiled: the same numbers, faster.

``streams.betas`` spends most of its time on NumPy temporaries: the hashes, the Box-Muller normals and the first
Marsaglia-Tsang attempt of both gammas, each a pass over (rows × states) float64 arrays larger than the cache.
Here that work runs as compiled loops over blocks of rows that stay in cache, while every transcendental function
(log1p, cos, sin, log) is still NumPy's own ufunc applied to the same float64 values, and every other operation
is the same IEEE operation in the same order (no fast-math, no contraction). So every number is the one
``streams.betas`` gives, bit for bit, on any machine (tests/test_fused.py); the rare cells that need more
(rejected first attempts, shapes below 1, both gammas underflowing) are finished by streams' own code.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.engines.fused.compiled import OPTIONS, mix64
from sim.model import initial, streams

BLOCK = 32  # rows per block: a dozen (rows × states) float64 arrays of a block stay in the L2 cache
_TWO_PI = 2.0 * np.pi  # as streams.betas computes the angle: (2.0 * np.pi) * u
_THIRD = 1.0 / 3.0
_HALF_BITS = 2.0 ** -32
_UNIT = 2.0 ** -53
_U53 = np.uint64(11)
_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)

jit = numba.njit(**OPTIONS)


@jit
def _uniforms(keys, hashes, n, minus_u0, u1, angle, u3):
    """The four uniforms of each cell of ``streams.halves`` (slot i and slot n + i, each in two halves), as the first
    attempt uses them: −u0 (for log1p), u1 (X's acceptance), 2π·u2 (the angle), u3 (Y's acceptance)."""
    for r in range(keys.size):
        key = keys[r]
        for i in range(n):
            first = mix64(key ^ hashes[i])
            second = mix64(key ^ hashes[n + i])
            minus_u0[r, i] = -(np.float64(first >> _SHIFT) * _HALF_BITS)
            u1[r, i] = np.float64(second >> _SHIFT) * _HALF_BITS
            angle[r, i] = _TWO_PI * (np.float64(first & _LOW) * _HALF_BITS)
            u3[r, i] = np.float64(second & _LOW) * _HALF_BITS


@jit
def _box_muller_uniforms(keys, hashes, n, minus_u, angle):
    """The uniforms of ``streams.normals``' cells (slots 2i and 2i + 1, 53 bits each) as Box-Muller uses them: −u1
    (for log1p) and 2π·u2 (the angle)."""
    for r in range(keys.size):
        key = keys[r]
        for i in range(n):
            minus_u[r, i] = -(np.float64(mix64(key ^ hashes[2 * i]) >> _U53) * _UNIT)
            angle[r, i] = _TWO_PI * (np.float64(mix64(key ^ hashes[2 * i + 1]) >> _U53) * _UNIT)


@jit
def _radius_times(log1p_minus_u, cos_angle, out):
    """sqrt(−2·log1p(−u1))·cos(angle): streams.box_muller."""
    for k in range(out.size):
        out[k] = np.sqrt(-2.0 * log1p_minus_u[k]) * cos_angle[k]


def normals(keys: np.ndarray, stream: int, n: int) -> np.ndarray:
    """``streams.normals(keys, stream, n)``, the same numbers."""
    keys = np.ascontiguousarray(keys, np.uint64)
    hashes = streams.counter_hash(stream, 0, np.arange(2 * n, dtype=np.uint64))
    minus_u, angle = np.empty((keys.size, n)), np.empty((keys.size, n))
    _box_muller_uniforms(keys, hashes, n, minus_u, angle)
    out = np.empty((keys.size, n))
    _radius_times(np.log1p(minus_u).reshape(-1), np.cos(angle).reshape(-1), out.reshape(-1))
    return out


@jit
def _normals(log1p_minus_u0, cos_angle, sin_angle, zx, zy):
    """Box-Muller's pair: sqrt(−2·log1p(−u0))·cos(angle) for X, ·sin(angle) for Y."""
    for k in range(zx.size):
        radius = np.sqrt(-2.0 * log1p_minus_u0[k])
        zx[k] = radius * cos_angle[k]
        zy[k] = radius * sin_angle[k]


@jit
def _constants(shape, d, c):
    """streams.gamma_constants: d = a − 1/3 (a + 1 − 1/3 for a shape a below 1) and c = 1/sqrt(9d)."""
    for k in range(shape.size):
        a = shape[k]
        d[k] = (a + 1.0 if a < 1.0 else a) - _THIRD
    for k in range(shape.size):
        c[k] = 1.0 / np.sqrt(9.0 * d[k])


@jit
def _candidates(z, c, v, log_arg):
    """The first attempt's candidate v = (1 + c·z)^3 and the argument of its log (v where positive, else 1);
    ``z`` is (rows, n), ``c`` (rows, n) or (1, n) shared by every row."""
    rows, n = z.shape
    for r in range(rows):
        cr = c[r if c.shape[0] > 1 else 0]
        for i in range(n):
            vv = 1.0 + cr[i] * z[r, i]
            vv = vv * vv * vv
            v[r, i] = vv
            log_arg[r, i] = vv if vv > 0 else 1.0


@jit
def _accept(z, log_u, d, v, log_v, out, first, todo, found):
    """The first attempt's verdict (streams._marsaglia_tsang): candidate d·v into ``out``, accepted where v > 0 and
    log u < z²/2 + d − d·v + d·log v; ``d`` is (rows, n) or (1, n). The flat indices of rejected cells (row ``first``
    is the block's first) go to ``todo`` after the ``found`` already there; returns how many there are now."""
    rows, n = z.shape
    for r in range(rows):
        dr = d[r if d.shape[0] > 1 else 0]
        for i in range(n):
            zz, dd, vv = z[r, i], dr[i], v[r, i]
            out[r, i] = dd * vv
            ok = (vv > 0) & (log_u[r, i] < 0.5 * zz * zz + dd - dd * vv + dd * log_v[r, i])
            todo[found] = (first + r) * n + i
            found += not ok
    return found


@jit
def _ratio(x, y, out):
    """X / (X + Y) into ``out``; False if some X + Y is 0 (then streams.beta_finish settles those cells)."""
    fine = True
    for k in range(x.size):
        total = x[k] + y[k]
        fine &= total != 0
        out[k] = x[k] / total
    return fine


def _shapes(shape: np.ndarray) -> np.ndarray:
    """A (rows, n) array of shapes as its distinct rows: (1, n) when every row shares them (a broadcast view)."""
    shape = np.asarray(shape, np.float64)
    return np.ascontiguousarray(shape[:1] if shape.strides[0] == 0 else shape)


def _constants_of(shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, c = np.empty(shape.shape), np.empty(shape.shape)
    _constants(shape.reshape(-1), d.reshape(-1), c.reshape(-1))
    return d, c


def betas(keys: np.ndarray, stream: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``streams.betas(keys, stream, a, b)``, the same numbers; ``a`` and ``b`` are (rows, n), possibly broadcast."""
    keys = np.ascontiguousarray(keys, np.uint64)
    rows, n = np.shape(a)
    (dx, cx), (dy, cy) = _constants_of(_shapes(a)), _constants_of(_shapes(b))
    hashes = streams.counter_hash(stream, 0, np.arange(2 * n, dtype=np.uint64))
    x, y = np.empty((rows, n)), np.empty((rows, n))
    todo_x, todo_y = np.empty(rows * n + 1, np.int64), np.empty(rows * n + 1, np.int64)
    found_x = found_y = 0
    block = min(BLOCK, rows)
    work = [np.empty((block, n)) for _ in range(10)]
    with np.errstate(divide="ignore", invalid="ignore"):
        for first in range(0, rows, block):
            k = slice(first, min(first + block, rows))
            minus_u0, u1, angle, u3, zx, zy, vx, vy, arg_x, arg_y = (w[:k.stop - first] for w in work)
            _uniforms(keys[k], hashes, n, minus_u0, u1, angle, u3)
            _normals(np.log1p(minus_u0).reshape(-1), np.cos(angle).reshape(-1), np.sin(angle).reshape(-1),
                     zx.reshape(-1), zy.reshape(-1))
            kx, ky = (slice(None) if d.shape[0] == 1 else k for d in (dx, dy))
            _candidates(zx, cx[kx], vx, arg_x)
            _candidates(zy, cy[ky], vy, arg_y)
            found_x = _accept(zx, np.log(u1), dx[kx], vx, np.log(arg_x), x[k], first, todo_x, found_x)
            found_y = _accept(zy, np.log(u3), dy[ky], vy, np.log(arg_y), y[k], first, todo_y, found_y)
    full = (rows, n)
    x = streams.gamma_finish(keys, stream, 1, np.broadcast_to(a, full), np.broadcast_to(dx, full),
                             np.broadcast_to(cx, full), x, todo_x[:found_x])
    y = streams.gamma_finish(keys, stream, 2, np.broadcast_to(b, full), np.broadcast_to(dy, full),
                             np.broadcast_to(cy, full), y, todo_y[:found_y])
    out = np.empty(full)
    if _ratio(x.reshape(-1), y.reshape(-1), out.reshape(-1)):
        return out
    return streams.beta_finish(keys, stream, np.broadcast_to(a, full), np.broadcast_to(b, full), x, y)


SAMPLER = initial.Sampler(betas=betas, normals=normals)  # the start's variates, as sim.model.streams draws them
