"""The probability of custody by month H with 95% Wilson intervals, custody routes and per-point summaries.

The Wilson interval is the Monte Carlo error of a share of replicates: over a posterior it says how well the
pooled probability is estimated, not how much it varies with the parameters (``parameter_spread``,
``posterior_band``), which is usually several times wider.

An accused is *enforced by month H* when in custody with ``custody_month < H`` (months counted
from 0, ODD §4.11). "All accused" (``accused == ALL``, that is -1) means every accused of the replicate
is. ``accused`` is an integer in every frame (as in the runs), so a summary merges with its runs on
(point, accused); the "all accused" rows match no run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from sim.errors import UserError
from sim.model.outcomes import ROUTES
from sim.names import ALL_ACCUSED

ALL = ALL_ACCUSED  # the accused of rows about every accused of a replicate ("all accused"): -1
MEANS = ("trips", "trips_to_members", "trips_cancelled", "findings", "withdrawals", "members_final",
         "legitimacy_final")
PER_RUN = ("findings", "withdrawals", "members_final", "legitimacy_final")


def wilson_interval(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (low, high) for ``successes`` out of ``n``; NaN where n is 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    k, n = np.broadcast_arrays(k, n)
    low = np.full(k.shape, np.nan)
    high = np.full(k.shape, np.nan)
    ok = n > 0
    if ok.any():
        lo, hi = proportion_confint(k[ok], n[ok], alpha=1 - confidence, method="wilson")
        share = k[ok] / n[ok]  # rounding can put a bound a hair past the share (0/n, n/n)
        low[ok], high[ok] = np.clip(np.minimum(lo, share), 0, 1), np.clip(np.maximum(hi, share), 0, 1)
    return low, high


def accused_key(value: Any) -> int:
    """An accused as every frame holds it: its index, or ``ALL`` for every accused. Takes an integer, the
    text of one (a command line, an app's choice) or "all" (also as written by versions before 0.3)."""
    if isinstance(value, str):
        text = value.strip()
        if text == "all":
            return ALL
        value = int(text) if text.lstrip("-").isdigit() else None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < ALL:
        raise UserError(f"accused must be an index (0, 1, ...) or \"all\", got {value!r}")
    return int(value)


def accused_codes(values: pd.Series) -> pd.Series:
    """A column of accused as integers (``accused_key``): "all" of an older file becomes ``ALL``."""
    if pd.api.types.is_integer_dtype(values):
        return values.astype("int64")
    return values.map(accused_key).astype("int64")


def p_column(horizon: int) -> str:
    """Name of the enforcement-probability column for horizon H (``p_enforced_H``)."""
    return f"p_enforced_{int(horizon)}"


def enforced(runs: pd.DataFrame, horizon: int) -> np.ndarray:
    """Boolean per row: in custody with custody_month < horizon."""
    month = runs["custody_month"].astype("Float64").to_numpy(dtype=float, na_value=np.inf)
    return runs["in_custody"].to_numpy(dtype=bool) & (month < horizon)


def default_by(runs: pd.DataFrame) -> tuple[str, ...]:
    """Groups when none are given: per point and accused for a results folder's runs, per accused
    for the frame of one ``sim.simulate`` call (which has no point column)."""
    return ("point", "accused") if "point" in runs.columns else ("accused",)


def _check(runs: pd.DataFrame, by: Sequence[str] | None, needed: Iterable[str] = ()) -> list[str]:
    by = list(default_by(runs) if by is None else by)
    missing = [c for c in [*by, "replicate", "accused", *needed] if c not in runs.columns]
    if missing:
        fix = ("group by columns it has, e.g. by=(\"accused\",) for one sim.simulate frame"
               if "point" in missing and len(missing) == 1 else
               "pass the runs of sim.simulate or a results folder's runs.parquet")
        raise UserError(f"runs frame lacks column(s) {', '.join(dict.fromkeys(missing))}; {fix}")
    return by


def _replicate_keys(by: list[str], runs: pd.DataFrame) -> list[str]:
    """Columns that identify one replicate within a group: a replicate number is unique per point."""
    extra = ["point"] if "point" in runs.columns and "point" not in by else []
    return [c for c in by if c != "accused"] + extra + ["replicate"]


def _per_replicate(runs: pd.DataFrame, by: list[str], horizons: Sequence[int]) -> pd.DataFrame:
    """One row per replicate (of each group) about all its accused together."""
    keys = _replicate_keys(by, runs)
    frame = runs[keys].copy()
    for h in horizons:
        frame[p_column(h)] = enforced(runs, h)
    frame["_all_custody"] = runs["in_custody"].to_numpy(dtype=bool)
    frame["_month"] = runs["custody_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    for c in MEANS:
        if c in runs.columns:
            frame[c] = runs[c].to_numpy(dtype=float)
    agg = {p_column(h): "all" for h in horizons}
    agg.update({"_all_custody": "all", "_month": "max"})
    agg.update({c: ("first" if c in PER_RUN else "sum") for c in MEANS if c in frame.columns})
    out = frame.groupby(keys, sort=True, observed=True).agg(agg).reset_index()
    out.loc[~out["_all_custody"], "_month"] = np.nan
    return out


def _order(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sort rows by the ``by`` columns, accused 0, 1, ... then all accused (``ALL``); accused an integer."""
    if "accused" in by:
        acc = accused_codes(frame["accused"])
        rank = acc.where(acc != ALL, np.iinfo(np.int64).max)
        frame = frame.assign(accused=acc, _rank=rank)
        keys = [("_rank" if c == "accused" else c) for c in by]
        frame = frame.sort_values(keys, kind="stable").drop(columns="_rank")
    elif by:
        frame = frame.sort_values(by, kind="stable")
    return frame.reset_index(drop=True)


def _proportions(groups: pd.DataFrame, horizons: Sequence[int], n: pd.Series) -> pd.DataFrame:
    out = {}
    for h in horizons:
        col = p_column(h)
        k = groups[col].to_numpy(dtype=float)
        low, high = wilson_interval(k, n.to_numpy())
        out[col] = k / n.to_numpy()
        out[f"{col}_low"] = low
        out[f"{col}_high"] = high
    return pd.DataFrame(out, index=groups.index)


def enforcement_probability(runs: pd.DataFrame, horizons: Sequence[int],
                            by: Sequence[str] | None = None) -> pd.DataFrame:
    """Share of replicates in custody by each horizon, with 95% Wilson intervals, per group.

    With ``accused`` in ``by`` there is a row per accused and one with accused ``ALL`` (every
    accused of the replicate in custody); without it, each group's rows are about all accused.
    Columns: the ``by`` columns, ``n`` (replicates), then ``p_enforced_H``, ``_low``, ``_high`` per H.
    ``by=None`` groups by point and accused, or by accused alone when there is no point column.
    """
    return summarize(runs, horizons, by, means=False)


def route_shares(runs: pd.DataFrame, by: Sequence[str] | None = None,
                 horizon: int | None = None) -> pd.DataFrame:
    """Share of replicates in each custody route (``share_<route>``) per group, with ``n``.

    With ``horizon``, custody from that month on counts as route "none". ``by=None``: as in ``summarize``.
    """
    by = _check(runs, by, ["route", "custody_month", "in_custody"])
    route = runs["route"].astype(str).to_numpy()
    if horizon is not None:
        route = np.where(enforced(runs, horizon), route, "none")
    dummies = pd.DataFrame({f"share_{r}": (route == r).astype(float) for r in ROUTES}, index=runs.index)
    frame = pd.concat([runs[by], dummies], axis=1)
    grouped = frame.groupby(by, sort=True, observed=True)
    out = grouped.mean()
    out.insert(0, "n", grouped.size())
    return _order(out.reset_index(), by)


def summarize(runs: pd.DataFrame, horizons: Sequence[int], by: Sequence[str] | None = None,
              *, means: bool = True) -> pd.DataFrame:
    """Per group (default: point and accused, or accused alone for a ``sim.simulate`` frame without a
    point column): n replicates, the probability of custody by each horizon
    with 95% Wilson low/high, mean custody month among those in custody, and means of trips,
    trips_to_members, trips_cancelled, findings, withdrawals, members_final, legitimacy_final.

    Rows with accused ``ALL`` (-1) are about every accused of a replicate: custody month is the month the
    last one was taken, trips are summed over accused. Rows are sorted and columns in a fixed order,
    so the frame (and its CSV) is deterministic.
    """
    horizons = sorted({int(h) for h in horizons})
    if not horizons or horizons[0] < 0:
        raise UserError(f"horizons must be a non-empty list of non-negative months, got {list(horizons)}")
    by = _check(runs, by, ["in_custody", "custody_month"])
    parts = []
    if "accused" in by:
        frame = runs[by].copy()
        for h in horizons:
            frame[p_column(h)] = enforced(runs, h)
        frame["_month"] = runs["custody_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        for c in MEANS:
            if c in runs.columns:
                frame[c] = runs[c].to_numpy(dtype=float)
        parts.append(_aggregate(frame, by, horizons))
    whole = _per_replicate(runs, by, horizons)
    rest = [c for c in by if c != "accused"]
    drop = [c for c in _replicate_keys(by, runs) if c not in rest] + ["_all_custody"]
    agg = _aggregate(whole.drop(columns=drop), rest, horizons)
    if "accused" in by:
        agg["accused"] = ALL
    parts.append(agg)
    out = _order(pd.concat(parts, ignore_index=True), by)
    cols = [*by, "n"]
    for h in horizons:
        cols += [p_column(h), f"{p_column(h)}_low", f"{p_column(h)}_high"]
    if means:
        cols += ["mean_custody_month"] + [f"mean_{c}" for c in MEANS if c in runs.columns]
    return out[cols]


def _aggregate(frame: pd.DataFrame, keys: list[str], horizons: Sequence[int]) -> pd.DataFrame:
    """Counts, proportions and means per group of one row per (replicate[, accused])."""
    if keys:
        grouped = frame.groupby(keys, sort=True, observed=True)
        n = grouped.size()
        sums = grouped[[p_column(h) for h in horizons]].sum()
        means = grouped[[c for c in frame.columns if c not in keys and not c.startswith("p_enforced")]].mean()
    else:
        n = pd.Series([len(frame)])
        sums = frame[[p_column(h) for h in horizons]].sum().to_frame().T
        means = frame[[c for c in frame.columns if not c.startswith("p_enforced")]].mean().to_frame().T
    out = _proportions(sums, horizons, n)
    out.insert(0, "n", n.to_numpy())
    means = means.rename(columns={"_month": "mean_custody_month", **{c: f"mean_{c}" for c in MEANS}})
    out = pd.concat([out, means], axis=1)
    return out.reset_index() if keys else out


def parameter_spread(runs: pd.DataFrame, horizons: Sequence[int], by: Sequence[str] = ("point", "accused")
                     ) -> pd.DataFrame:
    """Over a posterior (runs with a ``draw`` column): how much the probability of custody varies with the
    parameters, Monte Carlo noise removed.

    Per group and draw, the share enforced p̂_d from its m_d replicates; their variance across draws is
    Var_θ p(θ) + E[p(1 − p)/m], so ``p_enforced_H_param_sd`` = sqrt(max(0, var(p̂_d) − mean(p̂_d(1 − p̂_d)/(m_d − 1)))),
    the posterior standard deviation of the probability itself (NaN with fewer than two draws or replicates).
    """
    if "draw" not in runs.columns:
        raise UserError("runs have no draw column: parameter spread needs a sweep run over a posterior")
    by = list(by)
    per_draw = summarize(runs, horizons, by=[*by, "draw"], means=False)
    keys = [c for c in by]
    rows = []
    for key, g in per_draw.groupby(keys, sort=False, observed=True):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        m = g["n"].to_numpy(float)
        for h in sorted({int(x) for x in horizons}):
            p = g[p_column(h)].to_numpy(float)
            if len(p) < 2 or (m < 2).any():
                row[f"{p_column(h)}_param_sd"] = np.nan
                continue
            noise = np.mean(p * (1 - p) / (m - 1))
            spread = max(0.0, float(np.var(p, ddof=1) - noise))
            row[f"{p_column(h)}_param_sd"] = float(np.sqrt(spread)) if spread > 1e-15 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


Z90 = 1.6448536269514722  # the 95% standard normal quantile: a central 90% band


def posterior_band(table: pd.DataFrame, horizons: Sequence[int]) -> pd.DataFrame:
    """``table`` (a summary with ``p_enforced_H`` and ``p_enforced_H_param_sd``) with the posterior's 90% band of
    each probability, ``p_enforced_H_param_low`` and ``_param_high`` = p ∓ 1.645 · param_sd clipped to [0, 1]
    (a normal approximation): how much the probability varies with the parameters, beside the Monte Carlo Wilson
    interval ``_low``/``_high`` of the pooled estimate, which carries the replicates' noise only."""
    out = table.copy()
    for h in sorted({int(x) for x in horizons}):
        col = p_column(h)
        sd = out[f"{col}_param_sd"].to_numpy(float)
        out[f"{col}_param_low"] = np.clip(out[col].to_numpy(float) - Z90 * sd, 0, 1)
        out[f"{col}_param_high"] = np.clip(out[col].to_numpy(float) + Z90 * sd, 0, 1)
    return out
