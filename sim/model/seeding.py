"""The seeding contract: every random number derives from the experiment seed and a replicate's own key.

A replicate is identified by its *stream key* (point, replicate): its numbers depend on the experiment
seed and that key alone, never on how replicates are grouped into calls, blocks, workers or threads.
With common random numbers (``crn``), every point of a design uses the stream of point 0, so
replicate r sees the same random numbers at every point.

Every engine draws from counter-based streams (sim.model.streams) keyed by ``stream_keys(seed, p, r)``, a
64-bit key mixed from ``SeedSequence(seed).generate_state``, so the engines give the same replicate (p, r);
``python -m sim run --seed N`` is replicate 0 of point 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.errors import UserError

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, SplitMix64's increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def root_seed(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """The experiment's root SeedSequence from an int seed (or a SeedSequence as is)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def stream_point(point: int | np.ndarray, crn: bool) -> int | np.ndarray:
    """The point whose streams a point's replicates use: itself, or point 0 under common random numbers."""
    return np.zeros_like(point) if crn else point


def mix64(z: Any) -> Any:
    """SplitMix64's finaliser (a bijection of uint64 with full avalanche), elementwise on a uint64 array."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def stream_keys(seed: int | np.random.SeedSequence, point: np.ndarray | int, replicate: np.ndarray | int) -> np.ndarray:
    """64-bit keys of the counter-based streams of replicates (point, replicate), one per element."""
    a, b = root_seed(seed).generate_state(2, np.uint64)
    p = np.asarray(point, dtype=np.uint64)
    r = np.asarray(replicate, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return mix64(mix64(a + (p + np.uint64(1)) * GOLDEN) ^ (b + (r + np.uint64(1)) * GOLDEN))
