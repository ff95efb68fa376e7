"""The checks of a posterior estimator (sim.analysis.validation, sim.analysis.prior_space): they pass for an
exact posterior and fail for a miscalibrated one, on a conjugate toy where both are known; their bands hold
their stated levels; the unconstrained scale keeps every value inside its prior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.analysis import validation
from sim.analysis.inference import make_prior
from sim.analysis.prior_space import from_unconstrained, to_probability, to_unconstrained

PRIORS = (make_prior("arrest.intercept", {"low": -9, "high": 0, "why": "t"}),
          make_prior("accused.max_risk", {"dist": "loguniform", "low": 0.002, "high": 0.2, "why": "t"}),
          make_prior("home.detain_prob", {"dist": "beta", "low": 0, "high": 1, "a": 2, "b": 5, "why": "t"}))


@settings(max_examples=40)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_the_unconstrained_scale_round_trips_inside_the_priors(u):
    """Values -> logit(F(value)) -> back: the same values, to rounding (and within the clip at the edges)."""
    values = np.array([[p.ppf(np.array([q]))[0] for p, q in zip(PRIORS, u)]])
    back = from_unconstrained(PRIORS, to_unconstrained(PRIORS, values))
    assert np.isfinite(to_unconstrained(PRIORS, values)).all()
    # exact on the probability scale up to the clip at its edges (EDGE = 1e-12)
    assert np.all(np.abs(to_probability(PRIORS, back) - to_probability(PRIORS, values)) <= 1e-9)
    inside = (np.array(u) > 1e-6) & (np.array(u) < 1 - 1e-6)
    width = np.array([p.high - p.low for p in PRIORS])
    assert np.all(np.abs(back - values)[0, inside] <= 1e-7 * width[inside])


@settings(max_examples=50)
@given(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3))
def test_any_point_of_the_unconstrained_scale_is_a_value_inside_the_priors(z):
    values = from_unconstrained(PRIORS, np.array([z]))
    for p, v in zip(PRIORS, values[0]):
        assert p.low <= v <= p.high


def test_the_prior_is_uniform_on_the_probability_scale():
    rng = np.random.default_rng(3)
    draws = np.column_stack([p.sample(rng, 4000) for p in PRIORS])
    u = to_probability(PRIORS, draws)
    for k in range(len(PRIORS)):
        assert stats.kstest(u[:, k], "uniform").pvalue > 0.001


# --- a conjugate toy: theta ~ N(0, 1), x ~ N(theta, 1), exact posterior N(x/2, 1/2) ---------------------

def toy_ranks(records: int, draws: int, scale: float, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """SBC ranks (records, 1) of the toy with a posterior of ``scale`` times the exact sd, shifted by ``shift``."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=records)
    x = theta + rng.normal(size=records)
    post = x[:, None] / 2 + shift + scale * np.sqrt(0.5) * rng.normal(size=(records, draws))
    return (post < theta[:, None]).sum(axis=1)[:, None]


def table_of(ranks: np.ndarray, draws: int) -> pd.DataFrame:
    frame = validation.ranks_frame(ranks, np.zeros(ranks.shape), ["theta"], draws)
    ks = {"theta": stats.kstest((ranks[:, 0] + 0.5) / (draws + 1), "uniform").pvalue}
    return validation.sbc_table(frame, ks, {"theta": 0.5})


def test_sbc_passes_an_exact_posterior_and_fails_overconfident_and_biased_ones():
    exact = table_of(toy_ranks(1000, 200, 1.0), 200)
    assert validation.sbc_passes(exact)
    assert abs(exact["rank_sd"].iloc[0] - 1 / np.sqrt(12)) < 0.02
    narrow = table_of(toy_ranks(1000, 200, 0.6, seed=1), 200)
    assert not validation.sbc_passes(narrow) and narrow["rank_sd"].iloc[0] > 0.3
    assert narrow["coverage_90"].iloc[0] < narrow["nominal_90"].iloc[0]
    biased = table_of(toy_ranks(1000, 200, 1.0, shift=0.2, seed=2), 200)
    assert not validation.sbc_passes(biased) and biased["rank_mean"].iloc[0] < 0.45


def test_rank_coverage_is_the_exact_nominal_level_under_uniform_ranks():
    """Over 20,000 exact-posterior ranks, the 90% hits are binomial at the exact nominal level."""
    draws = 99
    ranks = toy_ranks(20_000, draws, 1.0, seed=10)
    frame = validation.ranks_frame(ranks, np.zeros(ranks.shape), ["theta"], draws)
    got = validation.rank_hits(frame, (0.9,))
    hits = int(got["covered"].sum())
    nominal = validation.rank_nominal(draws, 0.9)
    assert validation.rank_bounds(draws, 0.9) == (5, 94) and nominal == pytest.approx(0.9)
    assert stats.binomtest(hits, 20_000, nominal).pvalue > 0.001


def test_ranks_outside_zero_to_l_are_refused():
    with pytest.raises(ValueError, match=r"0\.\.10"):
        validation.ranks_frame(np.array([[11]]), np.zeros((1, 1)), ["theta"], 10)


def test_the_ecdf_band_holds_its_simultaneous_level():
    """Uniform rank sets drawn apart from the band's own simulation stay inside it about 95% of the time."""
    grid = np.linspace(0.01, 0.99, 99)
    records, draws = 300, 99
    low, high = validation.ecdf_band(records, draws, grid, seed=4)
    rng = np.random.default_rng(77)
    inside = 0
    for _ in range(400):
        diff = validation.ecdf_difference(rng.integers(0, draws + 1, size=records), draws, grid)
        inside += bool(((diff >= low - 1e-12) & (diff <= high + 1e-12)).all())
    assert stats.binomtest(inside, 400, 0.95).pvalue > 0.001
    narrow = validation.ecdf_difference(toy_ranks(records, draws, 0.5)[:, 0], draws, grid)
    assert not ((narrow >= low) & (narrow <= high)).all()


def toy_tarp(records: int, scale: float, seed: int, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """TARP's expected coverage (as sbi computes it) for a 2-parameter toy posterior of ``scale`` times the exact sd."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(records, 2))
    x = theta + rng.normal(size=(records, 2))
    post = x / 2 + scale * np.sqrt(0.5) * rng.normal(size=(500, records, 2))
    ref = rng.uniform(-3, 3, size=(records, 2))
    f = (np.linalg.norm(post - ref, axis=-1) < np.linalg.norm(theta - ref, axis=-1)).mean(axis=0)
    hist, edges = np.histogram(f, bins=bins)
    return np.concatenate([[0.0], np.cumsum(hist) / hist.sum()]), edges


def test_tarp_band_holds_an_exact_posterior_and_rejects_an_overconfident_one():
    ecp, alpha = toy_tarp(600, 1.0, seed=5)
    table = validation.tarp_table(ecp, alpha, 600, bootstrap=500, seed=1)
    assert validation.tarp_inside(table)
    assert (table["band_low"] <= table["ecp"]).all() and (table["ecp"] <= table["band_high"]).all()
    assert (table["band_high"] - table["band_low"] >= table["high"] - table["low"] - 1e-12).all()
    ecp, alpha = toy_tarp(600, 0.5, seed=6)
    assert not validation.tarp_inside(validation.tarp_table(ecp, alpha, 600, bootstrap=500, seed=1))


def test_forecast_coverage_counts_intervals_that_hold_the_truth():
    frame = pd.DataFrame({"truth": [0.1, 0.5, 0.9, 0.3], "low": [0.0, 0.6, 0.8, 0.3], "high": [0.2, 0.7, 1.0, 0.3]})
    row = validation.forecast_coverage(frame).iloc[0]
    assert (row["records"], row["covered"], row["coverage"]) == (4, 3, 0.75)
    assert row["coverage_low"] < 0.75 < row["coverage_high"] and row["refused"] == 0
    # a record the forecast refuses (too few consistent replicates) is counted apart, neither hit nor miss
    refused = validation.forecast_coverage(frame.assign(answered=[True, False, True, True])).iloc[0]
    assert (refused["records"], refused["covered"], refused["refused"]) == (3, 3, 1) and refused["coverage"] == 1.0


def test_overlap_and_compare_posteriors():
    rng = np.random.default_rng(8)
    a = np.column_stack([p.sample(rng, 3000) for p in PRIORS])
    b = np.column_stack([p.sample(rng, 3000) for p in PRIORS])
    table = validation.compare_posteriors(a, b, PRIORS)
    assert (table["overlap"] > 0.9).all() and (table["ks_distance"] < 0.06).all()
    assert validation.overlap(np.full(50, 0.1), np.full(50, 0.9)) == 0.0
    shifted = b.copy()
    shifted[:, 0] = np.clip(shifted[:, 0] * 0.3, -9, 0)  # pushed towards the top of [-9, 0]
    moved = validation.compare_posteriors(a, shifted, PRIORS)
    assert moved["overlap"].iloc[0] < 0.5 and moved["overlap"].iloc[1] > 0.9
