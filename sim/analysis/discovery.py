"""Scenario discovery: where in parameter space is enforcement likely? PRIM boxes and their significance.

``prim`` is Friedman & Fisher's patient rule induction as EMA Workbench 2.5 implements it for scenario
discovery (same peels, pastes, objective, quantiles and quasi-p-values; tests/test_discovery.py checks it
against EMA's output). EMA is no dependency: it needs platypus-opt, which is GPL.

Peeling starts from the box holding every point. Each step tries, per parameter, cutting a share
``peel_alpha`` of the box's points off the top and off the bottom, and keeps the cut that gains the most
density per point removed (EMA's "lenient1" objective; ties go to the cut restricting fewer parameters,
then to the first tried: float columns before int ones, top before bottom). It stops when no cut gains
density or the box would hold less than ``mass_min`` of the points. Pasting then widens one limit at a
time by a share ``paste_alpha`` of the points beyond it while that raises the density. Every box on the
way is kept: the trajectory is the trade-off between coverage (share of the cases of interest inside)
and density (share of the points inside that are cases of interest).

Departure from EMA 2.5.3, only where an integer parameter is restricted: its limits are pasted too, the
new limit rounded outwards to a level (EMA skips pasting when only integer parameters are restricted and,
under pandas 3, fails writing a float limit into an int64 column otherwise). Constant columns are left
out, which changes nothing.

A limit's quasi-p-value (Bryant & Lempert 2010) is the one-sided binomial probability of the box's hits
if its points had the density of the box without that limit: a large value says the limit adds little.

``enforcement_by_point`` makes the outcome PRIM classifies: the probability per point of custody by
month H, by Kaplan-Meier where some runs stopped before H (never the plain share of a censored sample).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest, norm

from sim.analysis.metrics import ALL, accused_key, enforced, enforcement_probability, p_column, wilson_interval
from sim.analysis.survival import _times, cumulative_incidence, kaplan_meier
from sim.errors import UserError

PEEL_ALPHA = 0.05
PASTE_ALPHA = 0.05
MASS_MIN = 0.05
TRAJECTORY = ("box", "phase", "coverage", "density", "mass", "res_dim", "n", "k")
LIMITS = ("box", "parameter", "lower", "upper", "minimum", "maximum", "restricted", "p_lower", "p_upper")
ENFORCEMENT = ("value", "low", "high", "n", "censored", "method")


@dataclass(frozen=True)
class Peeling:
    """PRIM's trajectory: one row per box (``trajectory``: columns TRAJECTORY, ``n`` points inside, ``k``
    cases of interest inside, the sum of y) and one row per box and parameter (``limits``: columns LIMITS,
    p-values NaN on an unrestricted side)."""

    trajectory: pd.DataFrame
    limits: pd.DataFrame


@dataclass
class _Box:
    lower: np.ndarray
    upper: np.ndarray
    members: np.ndarray  # row numbers of the points inside, ascending
    phase: str


class _Space:
    """The points as a float matrix, which columns hold integers, the outcome, and the full box."""

    def __init__(self, x: pd.DataFrame, y: np.ndarray) -> None:
        self.names = list(x.columns)
        self.x = x.to_numpy(dtype=float)
        self.is_int = np.array([pd.api.types.is_integer_dtype(x[c]) for c in self.names])
        self.order = [*np.flatnonzero(~self.is_int), *np.flatnonzero(self.is_int)]  # EMA: floats, then ints
        self.y = y
        self.binary = bool(np.isin(y, (0.0, 1.0)).all())
        self.lo0 = self.x.min(axis=0)
        self.hi0 = self.x.max(axis=0)

    def restricted(self, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        return (lower != self.lo0) | (upper != self.hi0)

    def inside(self, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        return ((self.x >= lower) & (self.x <= upper)).all(axis=1)


def _quantile(data: np.ndarray, q: float) -> float:
    """sdtoolkit's (and EMA's) quantile: a midpoint between two distinct neighbouring values, so that a
    cut never splits tied points; upper quantiles step down past ties, lower ones up."""
    data = np.sort(data)
    i = (len(data) - 1) * q
    lo, hi = math.floor(i), math.ceil(i)
    if data[lo] == data[hi]:
        if q > 0.5:
            lo = max(int(np.searchsorted(data, data[hi], "left")) - 1, 0)
        else:
            hi = min(int(np.searchsorted(data, data[lo], "right")), len(data) - 1)
    return float((data[lo] + data[hi]) / 2)


def _gain(y_old: np.ndarray, y_new: np.ndarray) -> float:
    """EMA's lenient1 objective: change of the box's mean per point removed (or added)."""
    mean_old = np.mean(y_old)
    mean_new = np.mean(y_new) if len(y_new) else 0.0
    if mean_old == mean_new:
        return 0.0
    return float((mean_new - mean_old) / abs(len(y_old) - len(y_new)))


def _peels(space: _Space, box: _Box, alpha: float) -> list[_Box]:
    """Every candidate cut of the box: per parameter, off the top then off the bottom."""
    x = space.x[box.members]
    out = []
    for j in space.order:
        xj = x[:, j]
        for top in (True, False):
            lower, upper = box.lower.copy(), box.upper.copy()
            if not space.is_int[j]:
                cut = _quantile(xj, 1 - alpha if top else alpha)
                keep = xj <= cut if top else xj >= cut
                limit = cut
            else:  # a cut at an integer; at the limit itself, drop that whole level
                cut = int(_quantile(xj, 1 - alpha if top else alpha))
                if top:
                    keep = ((xj < upper[j]) if cut == upper[j] else (xj <= cut)) & (xj >= lower[j])
                    limit = xj[keep].max() if keep.any() else xj.max()
                else:
                    keep = ((xj > lower[j]) if cut == lower[j] else (xj >= cut)) & (xj <= upper[j])
                    limit = xj[keep].min() if keep.any() else xj.min()
            (upper if top else lower)[j] = limit
            out.append(_Box(lower, upper, box.members[keep], "peel"))
    return out


def _pastes(space: _Space, box: _Box, alpha: float) -> list[_Box]:
    """Every candidate widening of a restricted parameter: the bottom limit, then the top one.

    An integer parameter's new limit is rounded outwards (EMA 2.5 cannot paste int64 columns)."""
    out = []
    restricted = space.restricted(box.lower, box.upper)
    for j in [j for j in space.order if restricted[j]]:
        for top in (False, True):
            lower, upper = box.lower.copy(), box.upper.copy()
            lower[j], upper[j] = (box.upper[j], space.hi0[j]) if top else (space.lo0[j], box.lower[j])
            beyond = space.x[space.inside(lower, upper), j]
            if top:
                limit = _quantile(beyond, alpha) if beyond.size else space.hi0[j]
                limit = math.ceil(limit) if space.is_int[j] else limit
            else:
                limit = _quantile(beyond, 1 - alpha) if beyond.size else space.lo0[j]
                limit = math.floor(limit) if space.is_int[j] else limit
            lower, upper = box.lower.copy(), box.upper.copy()
            (upper if top else lower)[j] = limit
            out.append(_Box(lower, upper, np.flatnonzero(space.inside(lower, upper)), "paste"))
    return out


def _best(space: _Space, box: _Box, candidates: list[_Box]) -> tuple[_Box, float] | None:
    """The candidate with the largest gain, then the fewest restricted parameters, then the first."""
    best, best_key = None, None
    y_old = space.y[box.members]
    for c in candidates:
        key = (_gain(y_old, space.y[c.members]), -int(space.restricted(c.lower, c.upper).sum()))
        if best_key is None or key > best_key:
            best, best_key = c, key
    return None if best is None or best_key is None else (best, best_key[0])


def _trajectory(space: _Space, peel_alpha: float, paste_alpha: float, mass_min: float, paste: bool) -> list[_Box]:
    n = len(space.y)
    boxes = [_Box(space.lo0.copy(), space.hi0.copy(), np.arange(n), "start")]
    while (found := _best(space, boxes[-1], _peels(space, boxes[-1], peel_alpha))) is not None:
        new, gain = found
        mass_old, mass_new = len(boxes[-1].members) / n, len(new.members) / n
        if not (mass_new >= mass_min and mass_new < mass_old and gain > 0):
            break
        boxes.append(new)
    while paste and (found := _best(space, boxes[-1], _pastes(space, boxes[-1], paste_alpha))) is not None:
        new, gain = found
        mass_old, mass_new = len(boxes[-1].members) / n, len(new.members) / n
        rises = np.mean(space.y[new.members]) > np.mean(space.y[boxes[-1].members])
        if not (mass_new >= mass_min and mass_new > mass_old and gain > 0 and rises):
            break
        boxes.append(new)
    return boxes


def _quasi_p(space: _Space, box: _Box, j: int, top: bool) -> float:
    """One-sided p-value of the box's hits at the density of the box without one limit (binomial for 0/1
    outcomes as EMA; for weights its normal approximation, conservative since a weight's variance is at
    most p(1 - p))."""
    lower, upper = box.lower.copy(), box.upper.copy()
    if top:
        upper[j] = space.hi0[j]
    else:
        lower[j] = space.lo0[j]
    wider = space.y[space.inside(lower, upper)]
    p = float(np.sum(wider) / len(wider))
    n, k = len(box.members), float(np.sum(space.y[box.members]))
    if space.binary:
        return float(binomtest(round(k), n, p, alternative="greater").pvalue)
    if p <= 0 or p >= 1:
        return 1.0
    return float(norm.sf((k - n * p) / math.sqrt(n * p * (1 - p))))


def _frames(space: _Space, boxes: list[_Box]) -> Peeling:
    n, total = len(space.y), float(np.sum(space.y))
    rows, limits = [], []
    for i, b in enumerate(boxes):
        k = float(np.sum(space.y[b.members]))
        restricted = space.restricted(b.lower, b.upper)
        rows.append({"box": i, "phase": b.phase, "coverage": k / total, "density": k / len(b.members),
                     "mass": len(b.members) / n, "res_dim": int(restricted.sum()), "n": len(b.members), "k": k})
        for j, name in enumerate(space.names):
            p_lower = _quasi_p(space, b, j, False) if b.lower[j] != space.lo0[j] else np.nan
            p_upper = _quasi_p(space, b, j, True) if b.upper[j] != space.hi0[j] else np.nan
            limits.append({"box": i, "parameter": name, "lower": b.lower[j], "upper": b.upper[j],
                           "minimum": space.lo0[j], "maximum": space.hi0[j], "restricted": bool(restricted[j]),
                           "p_lower": p_lower, "p_upper": p_upper})
    return Peeling(pd.DataFrame(rows, columns=list(TRAJECTORY)), pd.DataFrame(limits, columns=list(LIMITS)))


def _inputs(x: pd.DataFrame, y) -> tuple[pd.DataFrame, np.ndarray]:
    """Parameter columns (without ``point``; constant ones dropped, booleans as 0/1) and y as floats."""
    if not isinstance(x, pd.DataFrame):
        raise UserError("PRIM needs the points as a DataFrame with one column per parameter")
    if isinstance(y, pd.Series) and "point" in x.columns and y.index.name == "point":
        missing = ~x["point"].isin(y.index)
        if missing.any():
            raise UserError(f"y has no value for {int(missing.sum())} point(s) of X, e.g. point "
                            f"{x['point'][missing].iloc[0]}; pass one value per point")
        y = y.reindex(x["point"].to_numpy())
    values = np.asarray(y, dtype=float).reshape(-1)
    x = x.drop(columns=["point"], errors="ignore").reset_index(drop=True)
    if len(values) != len(x):
        raise UserError(f"y has {len(values)} values for {len(x)} points; pass one value per point")
    if not np.isfinite(values).all() or (values < 0).any() or (values > 1).any():
        raise UserError("y must be 0/1 (enforcement likely or not) or a weight in [0, 1] at every point")
    if values.sum() <= 0:
        raise UserError("no point is a case of interest (y is 0 everywhere); choose another outcome or cutoff")
    for c in x.columns:
        if pd.api.types.is_bool_dtype(x[c]):
            x[c] = x[c].astype(np.int64)
        elif not pd.api.types.is_numeric_dtype(x[c]):
            raise UserError(f"PRIM takes numeric parameters; column '{c}' is {x[c].dtype}: encode it or leave it out")
        if x[c].isna().any():
            raise UserError(f"column '{c}' of X has missing values; PRIM needs a value at every point")
    x = x[[c for c in x.columns if x[c].nunique() > 1]]
    if x.shape[1] == 0:
        raise UserError("X has no parameter that varies across the points; PRIM needs a swept parameter")
    return x, values


def prim(x: pd.DataFrame, y, *, peel_alpha: float = PEEL_ALPHA, paste_alpha: float = PASTE_ALPHA,
         mass_min: float = MASS_MIN, paste: bool = True) -> Peeling:
    """PRIM's peeling (and pasting) trajectory of boxes in the parameters of ``x`` around the points where
    ``y`` is 1 (or heavy, for weights in [0, 1]).

    ``x``: a points frame (a ``point`` column is an id, not a parameter; constant columns are left out);
    ``y``: one value per row of ``x``, or a Series indexed by point id.
    """
    for label, value, high in (("peel_alpha", peel_alpha, 0.5), ("paste_alpha", paste_alpha, 0.5),
                               ("mass_min", mass_min, 1.0)):
        if not 0 < value < high:
            raise UserError(f"{label} must lie strictly between 0 and {high}, got {value!r}")
    frame, values = _inputs(x, y)
    space = _Space(frame, values)
    return _frames(space, _trajectory(space, peel_alpha, paste_alpha, mass_min, paste))


def choose_box(peeling: Peeling, *, index: int | None = None, density: float | None = None) -> int:
    """A box of the trajectory: by its index (negative counts from the end), or the one with the largest
    coverage among those of at least ``density`` (then the denser, then the earlier)."""
    t = peeling.trajectory
    if (index is None) == (density is None):
        raise UserError("choose a box either by index or by a density threshold, not both or neither")
    if index is not None:
        if not -len(t) <= index < len(t):
            raise UserError(f"box index {index} is outside the trajectory of {len(t)} boxes (0..{len(t) - 1})")
        return int(t["box"].iloc[index])
    dense = t[t["density"] >= density]
    if dense.empty:
        raise UserError(f"no box reaches density {density} (the densest has {t['density'].max():.3g}); "
                        f"lower the threshold")
    return int(dense.sort_values(["coverage", "density"], ascending=False, kind="stable")["box"].iloc[0])


def box_limits(peeling: Peeling, box: int) -> pd.DataFrame:
    """The restricted parameters of one box: limits within the full range, with their quasi-p-values."""
    limits = peeling.limits
    if box not in set(limits["box"]):
        raise UserError(f"box {box} is not on the trajectory (0..{limits['box'].max()})")
    return limits[(limits["box"] == box) & limits["restricted"]].reset_index(drop=True)


def enforcement_by_point(runs: pd.DataFrame, horizon: int, follow_up, accused: str | int = ALL,
                         confidence: float = 0.95) -> pd.DataFrame:
    """Probability of custody by month ``horizon`` per point (index: point id), the outcome to discover.

    Where every run of a point lasted at least ``horizon`` months it is the share of replicates with a
    Wilson interval ("share"); where some stopped earlier it is Kaplan-Meier's 1 − S(H) with its log-log
    interval ("kaplan_meier"), so a censored sample never passes for a complete one. ``follow_up`` is the
    run length as ``kaplan_meier`` takes it (a number, one per row, or a Series by point id).
    Columns: value, low, high, n (replicates), censored (runs stopped before H), method.
    """
    h = int(horizon)
    if h < 1:
        raise UserError(f"the horizon must be at least 1 month, got {horizon!r}")
    who = accused_key(accused)
    _, _, length = _times(runs, follow_up)
    frame = runs.assign(_length=length)
    reach = frame.groupby("point", sort=True)["_length"].agg(["min", "max"])
    if (reach["max"] < h).any():
        bad = reach.index[reach["max"] < h]
        raise UserError(f"no run of point {bad[0]} lasted {h} months (longest {reach.loc[bad[0], 'max']:g}); "
                        f"custody by month {h} cannot be estimated there: choose a horizon within the follow-up")
    short = reach.index[reach["min"] < h]
    share = enforcement_probability(runs, [h])
    share = share[share["accused"] == who].set_index("point")
    if share.empty:
        raise UserError(f"accused {accused!r} is not in the runs; pass an accused index or \"all\"")
    value, n = share[p_column(h)].to_numpy(), share["n"].to_numpy()
    low, high = wilson_interval(np.round(value * n), n, confidence)
    out = pd.DataFrame({"value": value, "low": low, "high": high, "n": n, "censored": 0, "method": "share"},
                       index=share.index)
    if len(short):
        mine = frame["point"].isin(short).to_numpy()
        km = kaplan_meier(runs[mine], length[mine], until=h, confidence=confidence)
        km = km[(km["accused"] == who) & (km["month"] == h)].set_index("point")
        out.loc[km.index, ["value", "low", "high"]] = np.column_stack(
            [1 - km["surv"], 1 - km["surv_high"], 1 - km["surv_low"]])
        out.loc[km.index, "method"] = "kaplan_meier"
    censored = frame.drop_duplicates(["point", "replicate"]).assign(_short=lambda f: f["_length"] < h)
    out["censored"] = censored.groupby("point")["_short"].sum().reindex(out.index).astype(int)
    return out[list(ENFORCEMENT)].rename_axis("point")


OUTCOMES = {"p_enforced": "custody", "p_arrested": "arrest by a host state abroad"}


def outcome_by_point(runs: pd.DataFrame, outcome: str, horizon: int, follow_up, accused: str | int = ALL,
                     confidence: float = 0.95) -> pd.DataFrame:
    """The probability to discover per point: ``p_enforced`` (``enforcement_by_point``) or ``p_arrested``,
    arrest by a host state abroad by month ``horizon`` of one accused: the share of replicates where no
    run stopped earlier, else the Aalen-Johansen cumulative incidence of that route (detention at home
    and surrender at home compete with it). Columns as ``enforcement_by_point``'s."""
    if outcome == "p_enforced":
        return enforcement_by_point(runs, horizon, follow_up, accused, confidence)
    if outcome != "p_arrested":
        raise UserError(f"unknown outcome {outcome!r}; choose {' or '.join(OUTCOMES)}")
    if accused_key(accused) == ALL:
        raise UserError("p_arrested is about one accused; pass an accused index (e.g. --accused 0)")
    out = enforcement_by_point(runs, horizon, follow_up, accused, confidence)  # checks horizon, accused, follow-up
    h, who = int(horizon), accused_key(accused)
    mine = runs[runs["accused"] == who]
    hit = enforced(mine, h) & (mine["route"].astype(str) == "arrested_by_host").to_numpy()
    count = pd.Series(hit, index=mine["point"].to_numpy()).groupby(level=0, sort=True).agg(["sum", "count"])
    low, high = wilson_interval(count["sum"].to_numpy(), count["count"].to_numpy(), confidence)
    out.loc[count.index, ["value", "low", "high"]] = np.column_stack([count["sum"] / count["count"], low, high])
    short = out.index[out["method"] == "kaplan_meier"]
    if len(short):
        _, _, length = _times(runs, follow_up)
        rows = (runs["point"].isin(short) & (runs["accused"] == who)).to_numpy()
        cif = cumulative_incidence(runs[rows], length[rows], until=h, confidence=confidence)
        cif = cif[(cif["month"] == h) & (cif["event"].astype(str) == "arrested_by_host")].set_index("point")
        out.loc[cif.index, ["value", "low", "high"]] = cif[["cif", "cif_low", "cif_high"]].to_numpy()
        out.loc[cif.index, "method"] = "aalen_johansen"
    return out
