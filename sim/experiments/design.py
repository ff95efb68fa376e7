"""Design points of a sweep: a full grid, or a Latin hypercube, Sobol' or Morris design drawn by SALib.

Grid order: parameters in config order, the last one varying fastest (itertools.product).
Sampled designs draw from numpy.random.default_rng(SeedSequence([DESIGN_TAG, seed])), so the
design depends on the experiment seed alone; integer parameters are rounded to the nearest integer.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model.params import Param, Params, coerce, lookup, split_name

DESIGN_TAG = 0x5357454550  # "SWEEP": keeps the design's stream apart from the points' block streams


def _base(name: str) -> tuple[Param, int | None]:
    base, idx = split_name(name)
    return lookup(base), idx


def _is_integer(name: str) -> bool:
    return _base(name)[0].scalar_kind in ("int", "bool")


def checked_value(base: Params, name: str, value: Any) -> Any:
    """One swept value checked for type and range (consistency is checked per point, in context)."""
    p, idx = _base(name)
    if idx is None:
        return coerce(p, value)
    current = list(base[p.name])
    if idx >= len(current):
        raise UserError(f"{name}: index {idx} is out of range, {p.name} has {len(current)} elements")
    current[idx] = value
    return coerce(p, current)[idx]


def grid_points(base: Params, grid: dict[str, Any]) -> pd.DataFrame:
    """Every combination of the grid's values, checked against the schema, one row per point."""
    axes = []
    for name, values in grid.items():
        if not isinstance(values, list):
            raise UserError(f"[sweep.grid] {name} must be a list of values, got {values!r}")
        if not values:
            raise UserError(f"empty grid: [sweep.grid] {name} has no values; give at least one")
        checked = [checked_value(base, name, v) for v in values]
        if len(set(checked)) < len(checked):
            raise UserError(f"[sweep.grid] {name} = {values!r} lists a value twice")
        axes.append(checked)
    rows = list(itertools.product(*axes))
    return _frame(list(grid), np.array(rows, dtype=float).reshape(len(rows), len(grid)))


def sampled_points(sampler: str, bounds: dict[str, tuple[float, float]], n: int, seed: int, *,
                   levels: int | None = None, second_order: bool | None = None,
                   candidates: int | None = None) -> pd.DataFrame:
    """A SALib design over ``bounds`` (lhs: n points; sobol: Saltelli's N·(2D+2); morris: n·(D+1)).

    Morris with ``candidates``: that many random trajectories are drawn and the n most spread kept
    (Campolongo et al. 2007, with Ruano et al.'s 2012 local optimisation, as SALib does).
    """
    names = list(bounds)
    key = tuple((k, float(lo), float(hi)) for k, (lo, hi) in bounds.items())
    x = _sample(sampler, key, int(n), int(seed), levels, second_order, candidates)
    return _frame(names, x.copy())


@functools.lru_cache(maxsize=16)
def _sample(sampler: str, key: tuple[tuple[str, float, float], ...], n: int, seed: int, levels: int | None,
            second_order: bool | None, candidates: int | None) -> np.ndarray:
    """The design's draws within the bounds (cached: choosing optimal Morris trajectories takes seconds)."""
    from SALib.sample import latin, morris, sobol

    bounds = {k: (lo, hi) for k, lo, hi in key}
    names = list(bounds)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(bounds[k]) for k in names]}
    rng = np.random.default_rng(np.random.SeedSequence([DESIGN_TAG, seed]))
    if sampler == "lhs":
        x = latin.sample(problem, n, seed=rng)
    elif sampler == "sobol":
        x = sobol.sample(problem, n, calc_second_order=bool(second_order), scramble=True, seed=rng)
    elif sampler == "morris":
        if levels is None:
            raise UserError("a Morris design needs its number of grid levels ([sweep] levels)")
        x = morris.sample(problem, int(candidates or n), num_levels=int(levels),
                          optimal_trajectories=int(n) if candidates else None, seed=rng)
    else:
        raise UserError(f"unknown sampler {sampler!r}; choose lhs, sobol or morris")
    out = np.asarray(x, dtype=float)
    out.flags.writeable = False
    return out


def _frame(names: list[str], x: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"point": np.arange(len(x), dtype=np.int64)})
    for j, name in enumerate(names):
        col = x[:, j]
        frame[name] = np.floor(col + 0.5).astype(np.int64) if _is_integer(name) else col.astype(np.float64)
    return frame
