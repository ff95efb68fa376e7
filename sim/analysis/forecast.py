"""A forecast conditioned on the record to date (ODD §4.11): arrays in, frames out.

R_d replicates run at each posterior draw d (weight w_d). Per draw, n_d of them are consistent with the
record to date and k_d of those have the accused in custody by month H; p_d = k_d / n_d is the conditional
probability under that draw. The forecast pools the draws with n_d ≥ ``MIN_CONSISTENT``:

- ``p`` = Σ w_d p_d / Σ w_d;
- its parameter spread: the weighted 5%, 25%, 50%, 75% and 95% quantiles of p_d, and ``p_sd_between``, the
  between-draw standard deviation with the Monte Carlo part removed: the (reliability-weighted, unbiased)
  variance of p_d minus the weighted mean of p_d(1 − p_d)/(n_d − 1), the unbiased form of p_d(1 − p_d)/n_d,
  floored at 0;
- ``mc_share``: the share of that variance of p_d which is Monte Carlo noise (above ``MAX_MC_SHARE`` the
  quantiles overstate the posterior's spread);
- ``mc_se``: the Monte Carlo standard error of p (replicates and the finite set of draws together):
  sqrt(Σ w_d² (p_d − p)² / (Σ w_d)² · D/(D − 1)) over D ≥ 2 draws, sqrt(p(1 − p)/(n − 1)) for one.

Draws with n_d < ``MIN_CONSISTENT`` are set aside and counted; ``set_aside`` says how many replicates per draw
would bring them under ``MAX_SET_ASIDE`` of the weight. Counts between the forecast's month m and H are pooled
over the consistent replicates of every draw used, each weighted w_d / n_d.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

MIN_CONSISTENT = 20  # a draw with fewer consistent replicates is set aside
MAX_SET_ASIDE = 0.05  # set-aside draws may carry at most this share of the weight
MAX_MC_SHARE = 0.25  # above this share of Monte Carlo noise in the spread of p_d, the quantiles overstate it
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
BAND_COLUMNS = tuple(f"p_q{round(q * 100):02d}" for q in QUANTILES)  # p_q05, p_q25, p_q50, p_q75, p_q95
COUNT_QUANTILES = {"median": 0.5, "q05": 0.05, "q25": 0.25, "q75": 0.75, "q95": 0.95}
MEASURES = ("trips", "trips_to_members", "arrests_abroad", "trips_cancelled", "invitations_declined")


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: Sequence[float] | float) -> np.ndarray:
    """Quantiles of ``values`` under ``weights``: the weighted empirical distribution with each value at the
    midpoint of its weight, linearly interpolated (one value: that value for every q)."""
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = (np.cumsum(w) - w / 2) / w.sum()
    return np.interp(np.asarray(q, float), cum, v)


def lower_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose cumulative weight reaches ``q`` (a count stays a whole number)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(np.asarray(weights, float)[order])
    at = np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left")
    return float(np.asarray(values)[order][min(at, len(cum) - 1)])


def custody_counts(custody: np.ndarray, consistent: np.ndarray, draw: np.ndarray, draws: int,
                   months: Sequence[int] | np.ndarray) -> np.ndarray:
    """k[d, j, t]: the consistent replicates of draw d with accused j in custody in a month < months[t].

    ``custody`` (rows, accused) holds custody months (negative: never), ``consistent`` (rows,) and ``draw`` (rows,)
    say which rows count and to which draw they belong."""
    until = np.asarray(months, dtype=np.int64)
    top = int(until.max())
    n_acc = custody.shape[1]
    out = np.zeros((draws, n_acc, len(until)), dtype=np.int64)
    for j in range(n_acc):
        c = custody[:, j]
        take = consistent & (c >= 0) & (c < top)
        per = np.bincount(draw[take] * top + c[take], minlength=draws * top).reshape(draws, top)
        out[:, j, :] = np.cumsum(per, axis=1)[:, until - 1]
    return out


def pool(n: np.ndarray, k: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """The pooled forecast of every (accused, horizon) from per-draw counts ``n`` (D,) and ``k`` (D, F, T) and the
    draws' ``weights`` (D,); each entry an (F, T) array (the module docstring defines them)."""
    n = np.asarray(n, float)
    w_all = np.asarray(weights, float)
    used = n >= MIN_CONSISTENT
    w = w_all[used]
    nd = n[used][:, None, None]
    shape = k.shape[1:]
    out: dict[str, np.ndarray] = {"draws_used": np.full(shape, int(used.sum())),
                                  "draws_set_aside": np.full(shape, int((~used).sum()))}
    if not used.any() or w.sum() <= 0:
        for name in ("p", "mc_se", "p_sd_between", "mc_share", *BAND_COLUMNS):
            out[name] = np.full(shape, np.nan)
        return out
    p_d = k[used] / nd  # (D', F, T)
    wn = (w / w.sum())[:, None, None]
    p = (wn * p_d).sum(axis=0)
    draws = len(w)
    noise = (wn * p_d * (1 - p_d) / (nd - 1)).sum(axis=0)
    if draws >= 2:
        sum_w2 = float((wn ** 2).sum())
        var = (wn * (p_d - p) ** 2).sum(axis=0) / (1 - sum_w2)
        mc_se = np.sqrt((wn ** 2 * (p_d - p) ** 2).sum(axis=0) * draws / (draws - 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            mc_share = np.where(var > 0, np.minimum(noise / var, 1.0), np.where(noise > 0, 1.0, 0.0))
    else:
        var = np.zeros(shape)
        mc_se = np.sqrt(p * (1 - p) / (nd[0] - 1))
        mc_share = np.full(shape, np.nan)
    out.update(p=p, mc_se=mc_se, p_sd_between=np.sqrt(np.maximum(var - noise, 0.0)), mc_share=mc_share)
    bands = np.empty((len(QUANTILES), *shape))
    for j in range(shape[0]):
        for t in range(shape[1]):
            bands[:, j, t] = weighted_quantile(p_d[:, j, t], w, QUANTILES)
    for name, band in zip(BAND_COLUMNS, bands):
        out[name] = band
    return out


def set_aside(n: np.ndarray, replicates: int, weights: np.ndarray) -> tuple[float, int]:
    """The share of the weight on draws with n_d < MIN_CONSISTENT, and the replicates per draw that would give
    draws carrying 1 − MAX_SET_ASIDE of the weight an expected MIN_CONSISTENT with a margin (1.5x), in hundreds."""
    n = np.asarray(n, float)
    w = np.asarray(weights, float)
    share = float(w[n < MIN_CONSISTENT].sum() / w.sum()) if w.sum() > 0 else 1.0
    rate = n / replicates
    order = np.argsort(-rate, kind="stable")
    covered = np.cumsum(w[order]) / w.sum()
    at = float(rate[order][min(int(np.searchsorted(covered, 1 - MAX_SET_ASIDE, side="left")), len(order) - 1)])
    needed = 1.5 * MIN_CONSISTENT / at if at > 0 else 20.0 * MIN_CONSISTENT * replicates
    return share, int(math.ceil(needed / 100.0) * 100)


def replicates_for_mc_share(mc_share: float, replicates: int) -> int | None:
    """Replicates per draw that would bring the Monte Carlo share of the spread of p_d under MAX_MC_SHARE (noise
    scales as 1/replicates), in hundreds; None when the draws differ by no more than noise (no finite number)."""
    if not mc_share < 1:
        return None
    between = 1 - mc_share  # in units of the variance of p_d now
    want = replicates * mc_share * (1 - MAX_MC_SHARE) / (MAX_MC_SHARE * between)
    return int(math.ceil(want / 100.0) * 100)


def count_table(values: dict[str, np.ndarray], weights: np.ndarray, accused: Sequence[str],
                horizons: Sequence[int]) -> pd.DataFrame:
    """Quantiles of each measure's counts between the forecast's month and each horizon.

    ``values[measure]`` is (rows, F, T): counts of the consistent replicates used; ``weights`` (rows,) each row's
    w_d / n_d. One row per accused, horizon and measure with ``median``, ``q05``, ``q25``, ``q75``, ``q95``.
    """
    rows = []
    for j, person in enumerate(accused):
        for t, h in enumerate(horizons):
            for measure in MEASURES:
                v = values[measure][:, j, t]
                row = {"accused": person, "horizon_month": int(h), "measure": measure}
                for name, q in COUNT_QUANTILES.items():
                    row[name] = lower_quantile(v, weights, q) if len(v) else np.nan
                rows.append(row)
    return pd.DataFrame(rows, columns=["accused", "horizon_month", "measure", *COUNT_QUANTILES])
