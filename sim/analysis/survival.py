"""Kaplan-Meier curves of time to custody (statsmodels SurvfuncRight) and cumulative incidence of each
custody route as competing risks (Aalen-Johansen, statsmodels CumIncidenceRight), censored at the run's horizon.

Time convention: an accused taken into custody in month m (``custody_month == m``, months counted
from 0) has event time m + 1, i.e. custody happened within the first m + 1 months; an accused still
free after a run of T months is censored at T. ``surv`` at month t is then the probability of being
still free after t months, S(t) = P(custody_month >= t), and 1 - S(H) is the probability of custody by month H
at H (``custody_month < H``) of sim.analysis.metrics, exactly so when nothing is censored before H.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.duration.survfunc import CumIncidenceRight, SurvfuncRight

from sim.analysis.metrics import ALL, _check, _order, _replicate_keys
from sim.errors import UserError
from sim.model.outcomes import ROUTES

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
    ``runs``, or a Series indexed by point id (``Results.run_length()``) when it differs by point. With
    ``accused`` in ``by`` the groups also include accused ``ALL`` (all accused): time until every accused of the
    replicate is in custody. ``by=None`` groups by point and accused, or by accused alone for a
    ``sim.simulate`` frame. Columns: the ``by`` columns, month, surv, surv_low, surv_high, n.
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
            part = part.assign(accused=part["accused"].astype("int64"))
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


# ----------------------------------------------------------------------------- competing risks
DETAINED = "detained_at_home"  # the event type of an accused detained at home before any custody (v1.3)
EVENT_TYPES = (*ROUTES[1:], DETAINED)
RECORD_COLUMNS = ("time", "event", "censored")
CIF_COLUMNS = ("event", "cif", "cif_low", "cif_high", "n")


def incidence_curve(time: np.ndarray, event: np.ndarray, censored: np.ndarray, events: Sequence[str],
                    at: np.ndarray, confidence: float = 0.95) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence F_k(t) = P(T <= t, type k) of each event type at the times ``at``,
    with pointwise log(-log) intervals from statsmodels' delta-method standard errors (CumIncidenceRight).

    An interval is [0, 0] before the first event of its type and NaN where the variance is undefined
    (everyone still at risk has an event at one time). Columns: time, event, cif, cif_low, cif_high, n.
    """
    time = np.asarray(time, dtype=float)
    censored = np.asarray(censored, dtype=bool)
    event = np.asarray(event, dtype=object)
    at = np.asarray(at, dtype=float)
    status = np.zeros(len(time), dtype=int)
    for k, name in enumerate(events, start=1):
        status[~censored & (event == name)] = k
    z = norm.ppf(0.5 + confidence / 2)
    parts = []
    with np.errstate(divide="ignore", invalid="ignore"):  # undefined variances come back as NaN
        fit = CumIncidenceRight(time, status) if status.any() else None
    for k, name in enumerate(events):
        cif, low, high = np.zeros(len(at)), np.zeros(len(at)), np.zeros(len(at))
        if fit is not None and k < len(fit.cinc) and (status == k + 1).any():
            f, se = np.asarray(fit.cinc[k]), np.asarray(fit.cinc_se[k])
            with np.errstate(divide="ignore", invalid="ignore"):
                s = se / np.abs(f * np.log(f))
                lo, hi = f ** np.exp(z * s), f ** np.exp(-z * s)
            lo = np.where(f <= 0, 0.0, np.where(f >= 1, 1.0, lo))
            hi = np.where(f <= 0, 0.0, np.where(f >= 1, 1.0, hi))
            undefined = ~np.isfinite(se)
            lo, hi = np.where(undefined, np.nan, lo), np.where(undefined, np.nan, hi)
            idx = np.searchsorted(fit.times, at, side="right") - 1  # the last time <= t, -1 before the first
            seen = idx >= 0
            cif[seen], low[seen], high[seen] = f[idx[seen]], lo[idx[seen]], hi[idx[seen]]
        parts.append(pd.DataFrame({"time": at, "event": name, "cif": cif, "cif_low": np.minimum(low, cif),
                                   "cif_high": np.maximum(high, cif), "n": len(time)}))
    out = pd.concat(parts, ignore_index=True)
    return out


def record_incidence(records: pd.DataFrame, at, by: Sequence[str] = (), *, events: Sequence[str] | None = None,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Cumulative incidence per event type from records (``time``, ``event``, ``censored``), per group of ``by``.

    Observed records and simulated ones (``competing_records``) go through this same function. ``events``
    fixes the event types and their order (default: those that occur, sorted); an event outside them is an
    error. Columns: the ``by`` columns, time, event, cif, cif_low, cif_high, n.
    """
    by = list(by)
    missing = [c for c in [*RECORD_COLUMNS, *by] if c not in records.columns]
    if missing:
        raise UserError(f"records lack column(s) {', '.join(missing)}; pass time, event and censored per record")
    time = records["time"].to_numpy(dtype=float)
    censored = records["censored"].to_numpy(dtype=bool)
    if not np.isfinite(time).all() or (time < 0).any():
        raise UserError("record times must be finite and non-negative (time since the warrant)")
    seen = records.loc[~censored, "event"]
    if seen.isna().any():
        raise UserError(f"{int(seen.isna().sum())} uncensored record(s) have no event type; set event or censored")
    kinds = sorted(set(seen.astype(str))) if events is None else list(events)
    unknown = sorted(set(seen.astype(str)) - set(kinds))
    if unknown:
        raise UserError(f"event type(s) {', '.join(unknown)} are not among {', '.join(kinds)}")
    at = np.asarray(at, dtype=float).reshape(-1)
    frame = records.assign(event=records["event"].astype(object).where(~censored, None))
    groups = frame.groupby(by, sort=True, observed=True) if by else [((), frame)]
    curves = []
    for key, g in groups:
        curve = incidence_curve(g["time"].to_numpy(), g["event"].astype(object).to_numpy(),
                                g["censored"].to_numpy(), kinds, at, confidence)
        key = key if isinstance(key, tuple) else (key,)
        for i, (col, value) in enumerate(zip(by, key)):
            curve.insert(i, col, value)
        curves.append(curve)
    return pd.concat(curves, ignore_index=True)


def competing_records(runs: pd.DataFrame, horizon, *, detention: bool = True) -> pd.DataFrame:
    """One record per row of ``runs``: event time (month + 1), event type, censored (at the run length), length.

    Types: the custody route (arrested_by_host, domestic_surrender) and, with ``detention`` and a
    ``detained_month`` column (v1.3), detained_at_home for an accused detained at home before any custody
    (in the same month counts as before: detention comes first then). Without ``detention`` a detained
    accused stays at risk until handed over.
    """
    event, time, length = _times(runs, horizon)
    route = runs["route"].astype(str).to_numpy()
    if (event & ~np.isin(route, ROUTES[1:])).any():
        raise UserError("an accused in custody has route 'none'; pass the runs of sim.simulate unchanged")
    kind = np.full(len(route), None, dtype=object)
    kind[event] = route[event]
    if detention and "detained_month" in runs.columns:
        detained = runs["detained_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        first = np.isfinite(detained) & (~event | (detained + 1 <= time))
        if (first & (detained + 1 > length)).any():
            raise UserError("a detained_month is at or beyond the run's horizon; pass the horizon the runs used")
        kind = np.where(first, DETAINED, kind)
        time = np.where(first, detained + 1, time)
        event = event | first
    kind = pd.Categorical(kind, categories=list(EVENT_TYPES))  # missing where censored
    return pd.DataFrame({"time": time, "event": kind, "censored": ~event, "length": length}, index=runs.index)


def cumulative_incidence(runs: pd.DataFrame, horizon, by: Sequence[str] = ("point", "accused"), *,
                         until: int | None = None, detention: bool = True,
                         confidence: float = 0.95) -> pd.DataFrame:
    """Cumulative incidence of each way out of freedom (EVENT_TYPES) per group at months 0..until, censored at
    the run length (``horizon`` as ``kaplan_meier`` takes it), with pointwise 95% intervals.

    At month t, cif is P(custody_month < t by that route), so the routes' cifs add up to 1 - S(t) of
    ``kaplan_meier`` (without detention). Columns: the ``by`` columns, month, event, cif, cif_low, cif_high, n.
    """
    by = _check(runs, by, ["in_custody", "custody_month", "route"])
    records = pd.concat([runs[by].reset_index(drop=True),
                         competing_records(runs, horizon, detention=detention).reset_index(drop=True)], axis=1)
    if "accused" in by:
        records["accused"] = records["accused"].astype("int64")
    events = list(EVENT_TYPES if detention and "detained_month" in runs.columns else ROUTES[1:])
    curves = []
    groups = records.groupby(by, sort=True, observed=True) if by else [((), records)]
    for _, g in groups:
        end = int(g["length"].max()) if until is None else min(int(until), int(g["length"].max()))
        curve = record_incidence(g, np.arange(end + 1), by, events=events, confidence=confidence)
        curves.append(curve.rename(columns={"time": "month"}).astype({"month": int}))
    out = pd.concat(curves, ignore_index=True)
    return _order(out, [*by, "month"])[[*by, "month", *CIF_COLUMNS]]
