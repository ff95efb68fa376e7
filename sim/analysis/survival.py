"""Kaplan-Meier curves of time to custody, censored at the run's horizon (statsmodels SurvfuncRight).

Time convention: an accused taken into custody in month m (``custody_month == m``, months counted
from 0) has event time m + 1, i.e. custody happened within the first m + 1 months; an accused still
free after a run of T months is censored at T. ``surv`` at month t is then the probability of being
still free after t months, S(t) = P(custody_month >= t), and 1 - S(H) is the enforcement probability
at H (``custody_month < H``) of sim.analysis.metrics, exactly so when nothing is censored before H.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.duration.survfunc import SurvfuncRight

from sim.analysis.metrics import ALL, _check, _order, _replicate_keys
from sim.errors import UserError

BANDS = ("pointwise", "simultaneous")
KM_COLUMNS = ("month", "surv", "surv_low", "surv_high", "n")


def survival_curve(time: np.ndarray, event: np.ndarray, until: int, band: str = "pointwise",
                   confidence: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier S(t) and its confidence band at t = 0..until from event/censoring times.

    ``band="pointwise"``: log(-log) intervals from statsmodels' Greenwood standard errors;
    ``band="simultaneous"``: statsmodels' Hall-Wellner 95% band (confidence must be 0.95).
    """
    if band not in BANDS:
        raise UserError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    if band == "simultaneous" and confidence != 0.95:
        raise UserError("the simultaneous (Hall-Wellner) band exists only at confidence 0.95; use band='pointwise'")
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    months = np.arange(int(until) + 1)
    surv = np.ones(len(months))
    low = np.ones(len(months))
    high = np.ones(len(months))
    if event.any():
        km = SurvfuncRight(time, event.astype(int))
        s, se = km.surv_prob, km.surv_prob_se
        with np.errstate(divide="ignore", invalid="ignore"):
            if band == "pointwise":
                z = norm.ppf(0.5 + confidence / 2)
                se_loglog = se / (s * np.abs(np.log(s)))
                lo, hi = s ** np.exp(z * se_loglog), s ** np.exp(-z * se_loglog)
            else:
                lo, hi = km.simultaneous_cb(alpha=0.05, transform="log")
        degenerate = ~np.isfinite(lo) | ~np.isfinite(hi) | (s <= 0)
        lo = np.where(degenerate, s, lo)
        hi = np.where(degenerate, s, hi)
        # index of the last event time <= t (or -1 before the first event)
        idx = np.searchsorted(km.surv_times, months, side="right") - 1
        seen = idx >= 0
        surv[seen], low[seen], high[seen] = s[idx[seen]], lo[idx[seen]], hi[idx[seen]]
    return pd.DataFrame({"month": months, "surv": surv, "surv_low": np.minimum(low, surv),
                         "surv_high": np.maximum(high, surv), "n": len(time)})


def _times(runs: pd.DataFrame, horizon) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event flag, event-or-censoring time and run length per row of ``runs``."""
    if isinstance(horizon, pd.Series):  # run length per point id, e.g. Results.run_length()
        horizon = horizon.reindex(runs["point"].to_numpy()).to_numpy(dtype=float)
    length = np.broadcast_to(np.asarray(horizon, dtype=float), (len(runs),)).copy()
    month = runs["custody_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    event = runs["in_custody"].to_numpy(dtype=bool) & np.isfinite(month)
    time = np.where(event, month + 1, length)
    if (event & (time > length)).any():
        raise UserError("a custody_month is at or beyond the run's horizon; pass the horizon the runs used")
    return event, time, length


def kaplan_meier(runs: pd.DataFrame, horizon, by: Sequence[str] | None = None, *,
                 until: int | None = None, band: str = "pointwise", confidence: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier curve of time to custody per group, at months 0..until (default: the horizon).

    ``horizon`` is the run length T in months: one number, an array with one value per row of
    ``runs``, or a Series indexed by point id (``Results.run_length()``) when it differs by point. With ``accused`` in ``by`` the groups also include
    accused "all": time until every accused of the replicate is in custody. ``by=None`` groups by
    point and accused, or by accused alone for a ``sim.simulate`` frame. Columns: the ``by``
    columns, month, surv, surv_low, surv_high, n.
    """
    by = _check(runs, by, ["in_custody", "custody_month"])
    event, time, length = _times(runs, horizon)
    frame = runs[by].copy()
    frame["_event"], frame["_time"], frame["_length"] = event, time, length
    parts = [frame]
    if "accused" in by:
        keys = _replicate_keys(by, runs)
        whole = runs[keys].copy()
        whole["_event"], whole["_time"], whole["_length"] = event, time, length
        whole = whole.groupby(keys, sort=True, observed=True).agg(
            _event=("_event", "all"), _time=("_time", "max"), _length=("_length", "max")).reset_index()
        whole.loc[~whole["_event"], "_time"] = whole.loc[~whole["_event"], "_length"]
        parts.append(whole.drop(columns=[k for k in keys if k not in by]).assign(accused=ALL))
    curves = []
    for part in parts:
        if "accused" in by:
            part = part.assign(accused=part["accused"].astype(str))
        groups = part.groupby(by, sort=True, observed=True) if by else [((), part)]
        for key, g in groups:
            end = int(g["_length"].max()) if until is None else min(int(until), int(g["_length"].max()))
            curve = survival_curve(g["_time"].to_numpy(), g["_event"].to_numpy(), end, band, confidence)
            key = key if isinstance(key, tuple) else (key,)
            for i, (col, value) in enumerate(zip(by, key)):
                curve.insert(i, col, value)
            curves.append(curve)
    out = pd.concat(curves, ignore_index=True)
    return _order(out, [*by, "month"])[[*by, *KM_COLUMNS]]
