"""Checks of a posterior estimator over pseudo-records drawn from the prior, and of two posteriors of one record.

Simulation-based calibration (Talts et al. 2018): ranks of each truth among L posterior draws, uniform on
0..L when the posterior is calibrated; their histogram with its binomial band and the ECDF difference
with its simultaneous band (Säilynoja et al. 2022). TARP (Lemos et al. 2023): expected coverage against
credibility, with a bootstrap band over the records. The forecast's coverage: how often its interval holds
the truth's probability. Arrays and frames in, frames out: the estimator itself lives in the studies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from sim.analysis.inference import Prior, coverage_table
from sim.analysis.metrics import wilson_interval
from sim.analysis.prior_space import to_probability

LEVELS = (0.5, 0.9)
ECDF_TAG, TARP_TAG = 0x45434446, 0x54415250  # "ECDF", "TARP": the bands' own random streams
RANK_COLUMNS = ("record", "parameter", "rank", "L", "truth")


def ranks_frame(ranks: np.ndarray, truths: np.ndarray, names: Sequence[str], n_draws: int) -> pd.DataFrame:
    """SBC ranks (N records, K parameters) as a long table: record, parameter, rank (0..L), L, truth."""
    ranks = np.asarray(ranks)
    n, k = ranks.shape
    if np.any(ranks < 0) or np.any(ranks > n_draws) or not np.allclose(ranks, np.round(ranks)):
        raise ValueError(f"SBC ranks must be whole numbers in 0..{n_draws}")
    return pd.DataFrame({"record": np.repeat(np.arange(n), k), "parameter": np.tile(list(names), n),
                         "rank": np.round(ranks).astype(np.int64).reshape(-1), "L": int(n_draws),
                         "truth": np.asarray(truths, float).reshape(-1)})


def rank_bounds(n_draws: int, level: float) -> tuple[int, int]:
    """The ranks (low, high) for which the truth lies inside the central ``level`` interval of L draws."""
    return math.ceil(n_draws * (1 - level) / 2 - 1e-9), math.floor(n_draws * (1 + level) / 2 + 1e-9)


def rank_nominal(n_draws: int, level: float) -> float:
    """The exact chance of ``rank_bounds`` under uniform ranks on 0..L (``level`` up to 1/(L+1))."""
    lo, hi = rank_bounds(n_draws, level)
    return (hi - lo + 1) / (n_draws + 1)


def rank_hits(ranks: pd.DataFrame, levels: Sequence[float] = LEVELS) -> pd.DataFrame:
    """Whether each truth lies inside each central interval: record, parameter, level, covered."""
    parts = []
    for level in levels:
        lo, hi = rank_bounds(int(ranks["L"].iloc[0]), level)
        covered = (ranks["rank"] >= lo) & (ranks["rank"] <= hi)
        parts.append(ranks[["record", "parameter"]].assign(level=level, covered=covered.to_numpy()))
    return pd.concat(parts, ignore_index=True)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (family-wise error over the parameters)."""
    from statsmodels.stats.multitest import multipletests

    return np.asarray(multipletests(np.asarray(pvalues, float), method="holm")[1])


def sbc_table(ranks: pd.DataFrame, ks_pvalues: Mapping[str, float], c2st_ranks: Mapping[str, float],
              levels: Sequence[float] = LEVELS, bins: int = 20) -> pd.DataFrame:
    """Per parameter: uniformity of its ranks (sbi's KS p-value and classifier accuracy against uniform ranks,
    a chi-square p-value over ``bins`` bins), the mean and spread of the fractional ranks (1/2 and 0.289 when
    uniform: a shifted mean is bias, a larger spread overconfidence), the coverage of each central interval
    with Wilson bounds, and Holm-adjusted p-values of the KS test and of 90% coverage."""
    n_draws = int(ranks["L"].iloc[0])
    cover = coverage_table(rank_hits(ranks, levels), levels)
    names = list(dict.fromkeys(ranks["parameter"]))
    rows = []
    for name in names:
        r = ranks.loc[ranks["parameter"] == name, "rank"].to_numpy()
        frac = (r + 0.5) / (n_draws + 1)
        counts = np.histogram(r, bins=bins, range=(-0.5, n_draws + 0.5))[0]
        row = {"parameter": name, "records": len(r), "L": n_draws, "ks_p": float(ks_pvalues[name]),
               "chi2_p": float(sps.chisquare(counts).pvalue), "c2st_ranks": float(c2st_ranks[name]),
               "rank_mean": float(frac.mean()), "rank_sd": float(frac.std())}
        for level in levels:
            c = cover[(cover["parameter"] == name) & (cover["level"] == level)].iloc[0]
            tag = round(100 * level)
            nominal = rank_nominal(n_draws, level)
            row.update({f"coverage_{tag}": c["coverage"], f"coverage_{tag}_low": c["coverage_low"],
                        f"coverage_{tag}_high": c["coverage_high"], f"nominal_{tag}": nominal,
                        f"coverage_{tag}_p": float(sps.binomtest(int(c["covered"]), int(c["records"]),
                                                                 nominal).pvalue)})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["ks_p_holm"] = holm(table["ks_p"])
    for level in levels:
        tag = round(100 * level)
        table[f"coverage_{tag}_p_holm"] = holm(table[f"coverage_{tag}_p"])
    return table


def sbc_passes(table: pd.DataFrame, alpha: float = 0.05) -> bool:
    """Ranks uniform (Holm-adjusted KS) and 90% coverage within binomial error (Holm) for every parameter."""
    return bool((table["ks_p_holm"] >= alpha).all() and (table["coverage_90_p_holm"] >= alpha).all())


def histogram_band(records: int, bins: int, level: float = 0.99) -> tuple[float, float]:
    """The central ``level`` range of one bin's count of a rank histogram when ranks are uniform."""
    lo, hi = sps.binom(records, 1 / bins).ppf([(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _null_share(grid: np.ndarray, n_draws: int) -> np.ndarray:
    """P((rank + 1/2)/(L + 1) <= z) for a uniform rank on 0..L, at each z of ``grid``."""
    below = np.floor(grid * (n_draws + 1) - 0.5) + 1
    return np.clip(below, 0, n_draws + 1) / (n_draws + 1)


def ecdf_difference(ranks: np.ndarray, n_draws: int, grid: np.ndarray) -> np.ndarray:
    """ECDF of the fractional ranks (rank + 1/2)/(L + 1) at ``grid``, minus the uniform CDF."""
    frac = (np.asarray(ranks, float) + 0.5) / (n_draws + 1)
    return (frac[:, None] <= grid[None, :]).mean(axis=0) - grid


def ecdf_band(records: int, n_draws: int, grid: np.ndarray, level: float = 0.95, simulations: int = 2000,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The simultaneous ``level`` band of ``ecdf_difference`` for ``records`` uniform ranks (Säilynoja et al.
    2022, by simulation): pointwise binomial bands at the level γ for which ``level`` of the simulated uniform
    rank sets stay inside at every point of ``grid``."""
    rng = np.random.default_rng(np.random.SeedSequence([ECDF_TAG, seed, records, n_draws]))
    p = _null_share(grid, n_draws)
    sims = rng.integers(0, n_draws + 1, size=(simulations, records))
    frac = (sims + 0.5) / (n_draws + 1)
    counts = np.stack([(frac <= z).sum(axis=1) for z in grid], axis=1)
    tail = np.minimum(sps.binom.cdf(counts, records, p), sps.binom.sf(counts - 1, records, p))
    gamma = float(np.quantile(2 * tail.min(axis=1), 1 - level))
    low = sps.binom.ppf(gamma / 2, records, p) / records - grid
    high = sps.binom.isf(gamma / 2, records, p) / records - grid
    return low, high


def tarp_table(ecp: np.ndarray, alpha: np.ndarray, records: int, bootstrap: int = 1000, level: float = 0.95,
               seed: int = 0) -> pd.DataFrame:
    """TARP's expected coverage ``ecp`` at credibility ``alpha`` (sbi's run_tarp: a cumulative histogram of the
    records' coverage values) with its bootstrap band over records: resampling records redraws the histogram's
    counts from a multinomial. ``low``/``high``: pointwise; ``band_low``/``band_high``: simultaneous (the
    ``level`` quantile of the largest deviation of a bootstrap curve)."""
    ecp, alpha = np.asarray(ecp, float), np.asarray(alpha, float)
    counts = np.round(np.diff(ecp) * records).astype(np.int64)
    counts[-1] += records - counts.sum()  # rounding: the counts add up to the records
    rng = np.random.default_rng(np.random.SeedSequence([TARP_TAG, seed, records]))
    boot = rng.multinomial(records, counts / records, size=bootstrap).cumsum(axis=1) / records
    boot = np.concatenate([np.zeros((bootstrap, 1)), boot], axis=1)
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
    reach = float(np.quantile(np.abs(boot - ecp).max(axis=1), level))
    return pd.DataFrame({"alpha": alpha, "ecp": ecp, "low": low, "high": high,
                         "band_low": np.clip(ecp - reach, 0, 1), "band_high": np.clip(ecp + reach, 0, 1)})


def tarp_inside(table: pd.DataFrame) -> bool:
    """Whether the ideal coverage (ecp = alpha) lies inside the simultaneous bootstrap band everywhere."""
    return bool(((table["band_low"] <= table["alpha"]) & (table["alpha"] <= table["band_high"])).all())


def forecast_coverage(frame: pd.DataFrame, level: float = 0.9) -> pd.DataFrame:
    """How often the forecast's central ``level`` interval [low, high] holds the truth's probability ``truth``:
    one row with the records, the share covered, its 95% Wilson bounds and the two-sided binomial p-value.
    With an ``answered`` column, only the records where it is True count (the forecast refuses the others:
    too little weight on draws with enough consistent replicates), and ``refused`` says how many did not."""
    answered = frame["answered"].astype(bool) if "answered" in frame.columns else pd.Series(True, frame.index)
    counted = frame[answered]
    covered = (counted["low"] <= counted["truth"]) & (counted["truth"] <= counted["high"])
    k, n = int(covered.sum()), len(counted)
    lo, hi = wilson_interval(k, n)
    return pd.DataFrame([{"level": level, "records": n, "covered": k, "coverage": k / n if n else np.nan,
                          "coverage_low": float(lo), "coverage_high": float(hi),
                          "p_value": float(sps.binomtest(k, n, level).pvalue) if n else np.nan,
                          "refused": int((~answered).sum())}])


def overlap(a: np.ndarray, b: np.ndarray, bins: int = 20) -> float:
    """Overlap coefficient of two samples on [0, 1] (a parameter's prior probability scale): the shared area
    of their histograms over ``bins`` equal bins, 1 for identical and 0 for disjoint distributions."""
    ha = np.histogram(np.clip(a, 0, 1), bins=bins, range=(0, 1))[0] / len(a)
    hb = np.histogram(np.clip(b, 0, 1), bins=bins, range=(0, 1))[0] / len(b)
    return float(np.minimum(ha, hb).sum())


def compare_posteriors(first: np.ndarray, second: np.ndarray, priors: Sequence[Prior],
                       labels: tuple[str, str] = ("npe", "abc")) -> pd.DataFrame:
    """Per parameter, two posteriors' samples (N, K and M, K, equally weighted): each one's median and 90%
    interval, the overlap of their marginals on the prior's probability scale (``overlap``) and the
    Kolmogorov-Smirnov distance between them (the same on every monotone scale)."""
    u1, u2 = to_probability(priors, first), to_probability(priors, second)
    rows = []
    for k, prior in enumerate(priors):
        row: dict[str, object] = {"parameter": prior.name}
        for label, x in zip(labels, (first[:, k], second[:, k])):
            q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
            row.update({f"{label}_q5": q05, f"{label}_median": q50, f"{label}_q95": q95})
        row["overlap"] = overlap(u1[:, k], u2[:, k])
        row["ks_distance"] = float(sps.ks_2samp(first[:, k], second[:, k]).statistic)
        rows.append(row)
    return pd.DataFrame(rows)
