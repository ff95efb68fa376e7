"""The seeding contract: every random stream of the project derives from the experiment seed by SeedSequence.

``root_seed(seed)`` is the experiment's root; ``child_seed(parent, key)`` the spawned child with that
index, made directly (no spawn counter). A sweep's block (point p, block b) draws from
``block_seed(seed, p, b)`` = SeedSequence(seed, spawn_key=(p, b)).
"""

from __future__ import annotations

import numpy as np

from sim.errors import UserError


def root_seed(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """The experiment's root SeedSequence from an int seed (or a SeedSequence as is)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def child_seed(parent: np.random.SeedSequence, key: int) -> np.random.SeedSequence:
    """The spawned child of ``parent`` with index ``key``, made directly (no spawn counter state)."""
    return np.random.SeedSequence(parent.entropy, spawn_key=tuple(parent.spawn_key) + (int(key),))


def block_seed(seed: int | np.random.SeedSequence, point: int, block: int) -> np.random.SeedSequence:
    """The seeding contract of sweeps: SeedSequence(seed, spawn_key=(point, block))."""
    return child_seed(child_seed(root_seed(seed), point), block)


def run_seed(seed: int) -> np.random.SeedSequence:
    """The stream of `python -m sim run --seed N`: replicate 0 of sim.simulate(seed=N, engine='mesa')."""
    return child_seed(child_seed(root_seed(seed), 0), 0)
