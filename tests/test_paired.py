"""Paired counterfactual differences: Newcombe's paired interval by hand, against statsmodels' unpaired one,
narrower than it for positively correlated pairs, and its coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import confint_proportions_2indep

from sim.analysis.metrics import ALL
from sim.analysis.paired import paired_difference, paired_interval, variance_ratio
from sim.errors import UserError
from tests.test_metrics import runs_frame, wilson_by_hand


def newcombe_by_hand(both: int, base_only: int, alt_only: int, neither: int) -> tuple[float, float]:
    """Newcombe (1998), method 10, for p_alt - p_base, written out from the paper's formulas."""
    n = both + base_only + alt_only + neither
    p1, p2 = (both + alt_only) / n, (both + base_only) / n
    l1, u1 = wilson_by_hand(both + alt_only, n)
    l2, u2 = wilson_by_hand(both + base_only, n)
    cross = both * neither - base_only * alt_only
    margins = (both + alt_only) * (base_only + neither) * (both + base_only) * (alt_only + neither)
    corrected = cross - n / 2 if cross > n / 2 else min(cross, 0)  # no correlation credited up to n/2
    phi = 0.0 if margins == 0 else corrected / math.sqrt(margins)
    delta = math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    eps = math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    return p1 - p2 - delta, p1 - p2 + eps


@pytest.mark.parametrize("table", [(36, 12, 2, 0), (5, 5, 0, 40), (8, 0, 3, 9), (40, 3, 9, 148), (0, 0, 0, 30)])
def test_paired_interval_by_hand_and_its_mirror(table):
    low, high = paired_interval(*table)
    assert (float(low), float(high)) == pytest.approx(newcombe_by_hand(*table), abs=1e-12)
    both, base_only, alt_only, neither = table
    mirror = paired_interval(both, alt_only, base_only, neither)  # swapping base and alternative negates it
    assert (float(mirror[0]), float(mirror[1])) == pytest.approx((-float(high), -float(low)), abs=1e-12)


def test_without_correlation_it_is_statsmodels_unpaired_newcombe_interval():
    # AD - BC = 100 - 100 = 0: the pairs carry no correlation and Newcombe's paired interval is his unpaired one
    low, high = paired_interval(10, 10, 10, 10)
    ref = confint_proportions_2indep(20, 40, 20, 40, method="newcomb", compare="diff")
    assert (float(low), float(high)) == pytest.approx((ref[0], ref[1]), abs=1e-12)
    low, high = paired_interval(12, 8, 16, 11)  # AD - BC = 132 - 128 = 4 <= n/2: corrected to 0 too
    ref = confint_proportions_2indep(28, 47, 20, 47, method="newcomb", compare="diff")
    assert (float(low), float(high)) == pytest.approx((ref[0], ref[1]), abs=1e-12)


def test_variance_ratio_by_hand():
    # alt and base both 3/4 with opposite discordant pairs: unpaired 2 * 3/16, paired Var(alt - base) = 2/4
    assert variance_ratio(2, 1, 1, 0) == pytest.approx((3 / 8) / (1 / 2))
    # 10 alt-only pairs out of 40, none base-only: p_alt - p_base = 1/4 is the paired variance's source
    ratio = variance_ratio(10, 0, 10, 20)
    assert ratio == pytest.approx((0.5 * 0.5 + 0.25 * 0.75) / (10 / 40 - (10 / 40) ** 2))
    assert variance_ratio(5, 0, 0, 5) == np.inf and np.isnan(variance_ratio(10, 0, 0, 0))


def correlated_runs(n: int, p_base: float, p_alt: float, noise: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two runs frames (2 accused) from one shared uniform per replicate and accused (common random numbers),
    custody in month 0 when it is below p; a share ``noise`` of the alternative's draws is redrawn."""
    rng = np.random.default_rng(seed)
    u = rng.random((n, 2))
    v = np.where(rng.random((n, 2)) < noise, rng.random((n, 2)), u)

    def frame(w: np.ndarray, p: float) -> pd.DataFrame:
        return runs_frame([[0 if x < p else None for x in row] for row in w])

    return frame(u, p_base), frame(v, p_alt)


def test_paired_intervals_are_narrower_for_positively_correlated_replicates():
    base, alt = correlated_runs(400, 0.3, 0.4, noise=0.2, seed=4)
    out = paired_difference(base, alt, [1, 12])
    assert out["accused"].tolist() == [0, 0, 1, 1, ALL, ALL] and (out["n"] == 400).all()
    assert ((out["diff_high"] - out["diff_low"]) < 0.8 * (out["unpaired_high"] - out["unpaired_low"])).all()
    assert (out["variance_ratio"] > 1.5).all()
    # the columns follow from the pairs
    first = out.iloc[0]
    a = base.query("accused == 0")["in_custody"].to_numpy()
    b = alt.query("accused == 0")["in_custody"].to_numpy()
    assert (first["p_base"], first["p_alt"]) == (a.mean(), b.mean())
    assert (first["base_only"], first["alt_only"]) == ((a & ~b).sum(), (~a & b).sum())
    low, high = paired_interval((a & b).sum(), (a & ~b).sum(), (~a & b).sum(), (~a & ~b).sum())
    assert (first["diff_low"], first["diff_high"]) == (low, high)
    every = out.iloc[-1]
    assert every["p_base"] == (base.groupby("replicate")["in_custody"].all()).mean()


def test_independent_frames_gain_nothing_from_pairing():
    rng = np.random.default_rng(8)
    base = runs_frame([[0 if x < 0.3 else None] for x in rng.random(2000)])
    alt = runs_frame([[0 if x < 0.4 else None] for x in rng.random(2000)])
    row = paired_difference(base, alt, [1]).iloc[0]
    # independent pairs: ratio = (p1q1 + p2q2) / (p1q1 + p2q2 - 2 cov) with cov 0 up to sampling error
    # (sd of cov sqrt(p1q1p2q2/n) = 0.005, of the ratio about 0.022)
    assert abs(row["variance_ratio"] - 1) < 0.1
    assert (row["diff_high"] - row["diff_low"]) == pytest.approx(row["unpaired_high"] - row["unpaired_low"], rel=0.15)


@pytest.mark.parametrize("probs, n", [((0.25, 0.05, 0.15, 0.55), 200), ((0.45, 0.02, 0.06, 0.47), 100)])
def test_paired_interval_covers_the_true_difference(probs, n):
    # tables drawn from known pair probabilities (both, base only, alt only, neither); truth p_alt - p_base
    samples = 2000
    tables = np.random.default_rng(20240608).multinomial(n, probs, size=samples)
    truth = probs[2] - probs[1]
    low, high = paired_interval(*tables.T)
    covered = int(((low <= truth) & (truth <= high)).sum())
    # two configurations, each two-sided at 0.005: a correct 95% interval fails with probability <= 1%
    assert binomtest(covered, samples, 0.95).pvalue > 0.005, f"{covered}/{samples} paired intervals cover {truth}"
    # the unpaired interval ignores the positive correlation: it is needlessly wide and over-covers
    counts = tables[:, 0] + tables[:, 2], tables[:, 0] + tables[:, 1]
    u_low, u_high = confint_proportions_2indep(counts[0], n, counts[1], n, method="newcomb", compare="diff")
    assert ((u_low <= truth) & (truth <= u_high)).mean() > 0.98
    assert np.median(high - low) < 0.75 * np.median(u_high - u_low)


def test_groups_and_refusals():
    base, alt = correlated_runs(30, 0.3, 0.4, noise=0.0, seed=1)
    whole = paired_difference(base, alt, [1], by=())
    assert list(whole.columns[:2]) == ["horizon", "n"] and len(whole) == 1
    assert whole.iloc[0]["p_alt"] == paired_difference(base, alt, [1]).query("accused == @ALL").iloc[0]["p_alt"]
    same = paired_difference(base, base, [1]).iloc[0]
    assert same["diff"] == 0 and same["diff_low"] < 0 < same["diff_high"] and same["variance_ratio"] == np.inf
    with pytest.raises(UserError, match=r"do not pair: 2 key.s. only in the base, 0 only in the alternative"):
        paired_difference(base, alt[alt["replicate"] != 3], [1])
    with pytest.raises(UserError, match="repeated"):
        paired_difference(pd.concat([base, base.iloc[:1]]), alt, [1])
    with pytest.raises(UserError, match="horizons must be"):
        paired_difference(base, alt, [])
    with pytest.raises(UserError, match="lacks column"):
        paired_difference(base.drop(columns="custody_month"), alt, [1])
