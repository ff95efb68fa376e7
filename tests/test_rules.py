"""The protocol of sim.model.rules against MODEL.md's text, written out here (§3, §4.1, §4.2, §4.3.7, §4.5, §4.6)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.model import rules

unit = st.floats(0, 1, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(u=st.floats(0, 1, exclude_max=True), surrender=unit, detain=unit)
def test_one_uniform_decides_surrender_detention_or_neither(u, surrender, detain):
    fate = rules.fate_at_regime_change(u, surrender, detain)
    if u < surrender:
        assert fate == rules.SURRENDERED
    elif u < surrender + (1 - surrender) * detain:
        assert fate == rules.DETAINED
    else:
        assert fate == rules.FREE
    assert rules.fate_at_regime_change(u, surrender, 0.0) != rules.DETAINED


def test_fate_shares_follow_surrender_and_detention_probabilities():
    u = (np.arange(100_000) + 0.5) / 100_000
    fate = rules.fate_at_regime_change(u, 0.3, 0.5)
    shares = np.bincount(fate, minlength=3) / u.size
    np.testing.assert_allclose(shares[[rules.SURRENDERED, rules.DETAINED, rules.FREE]], [0.3, 0.35, 0.35], atol=1e-4)


@given(u=st.floats(0, 1, exclude_max=True), arrested=st.booleans(), member=st.booleans(), phi=unit)
def test_a_finding_follows_only_a_state_partys_refusal(u, arrested, member, phi):
    assert rules.makes_finding(u, arrested, member, phi) == ((not arrested) and member and u < phi)


@settings(max_examples=100, deadline=None)
@given(logits=hnp.arrays(float, (3, 7), elements=st.floats(-30, 30)), free=hnp.arrays(bool, 3))
def test_outreach_attraction_sums_the_weights_of_the_free_accused(logits, free):
    got = rules.log_outreach_attraction(logits, free)
    expected = np.log(np.exp(logits[free]).sum(axis=0)) if free.any() else np.full(7, -np.inf)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(attraction=hnp.arrays(float, (4, 9), elements=st.floats(-5, 5)), budget=st.integers(0, 12),
       active=hnp.arrays(bool, 4))
def test_outreach_targets_the_budget_states_of_highest_attraction(attraction, budget, active):
    chosen = rules.outreach_targets(attraction, budget, active)
    for row, on, picked in zip(attraction, active, chosen):
        assert picked.sum() == (min(budget, 9) if on else 0)
        if on and 0 < picked.sum() < 9:
            assert row[picked].min() >= row[~picked].max()
            tied = row == row[picked].min()  # ties go to the lower column
            assert not np.any(tied & ~picked & (np.arange(9) < np.flatnonzero(tied & picked).max()))
    per_row = rules.outreach_targets(attraction, np.array([0, 2, 9, 20]), True)
    assert per_row.sum(axis=1).tolist() == [0, 2, 9, 9]


@settings(max_examples=100, deadline=None)
@given(compliance=hnp.arrays(float, (3, 11), elements=unit), regions=st.integers(1, 6),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_regional_means_are_the_mean_of_each_region(compliance, regions, dtype):
    compliance = compliance.astype(dtype)
    region = np.arange(11) % regions
    got = rules.regional_means(compliance, region, regions + 1)  # one region more: empty, mean 0
    assert got.shape == (3, regions + 1) and got.dtype == dtype
    for r in range(regions):
        np.testing.assert_allclose(got[:, r], compliance[:, region == r].astype(float).mean(axis=1), rtol=1e-6,
                                   atol=1e-30)
    assert np.all(got[:, regions] == 0)
    one = rules.regional_means(compliance[0].astype(float), region, regions)[0]
    assert np.array_equal(one, np.bincount(region, weights=compliance[0].astype(float)) / np.bincount(region)), \
        "a single row adds in state order, exactly"


def test_only_never_members_other_than_home_may_accede_and_only_members_withdraw():
    member = np.array([0, 1, 0, 0, 1, 0], bool)
    ever = np.array([0, 1, 1, 0, 1, 0], bool)  # state 2 was a party and withdrew
    pending = np.array([0, 0, 0, 1, 1, 0], bool)  # state 3 has deposited, state 4 notified withdrawal
    home = np.arange(6) == 0
    assert rules.may_accede(member, ever, pending, home).tolist() == [False, False, False, False, False, True]
    assert rules.may_withdraw(member, pending).tolist() == [False, True, False, False, False, False]
    np.testing.assert_allclose(rules.accession_probability(0.5, np.array([1.0, 0.4]), np.array([0.0, 0.5])),
                               [0.5, 0.1])
    assert rules.accession_probability(3.0, 1.0, 0.0) == 1.0


def test_beta_draws_with_means_at_the_bounds_are_exact():
    draws = rules.beta_draw(np.random.default_rng(0), np.array([0.0, 0.3, 1.0, -0.2, 1.5]), 10.0, 5)
    assert draws[[0, 3]].tolist() == [0.0, 0.0] and draws[[2, 4]].tolist() == [1.0, 1.0] and 0 < draws[1] < 1
    a, b, fixed = rules.beta_shapes(np.array([0.3, 1.0]), 10.0)
    np.testing.assert_allclose([a[0], b[0]], [3.0, 7.0])
    assert np.isnan(fixed[0]) and fixed[1] == 1.0
