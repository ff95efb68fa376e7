"""The vectorized core's internals against docs/TRACE.md's invariants: bounded state, absorbing custody, chunk
invariance, outreach targeting, the destination draw, norm dynamics and the state each accused sees. What every
engine's outputs must show (schema, seeding contract, invariants on outputs) is in tests/test_engine_contract.py."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import sim.engines.vectorized.engine as vec
import sim.engines.vectorized.step as step
from sim import simulate
from sim.engines.vectorized.world import World
from sim.model import rules
from sim.model.batch import Batch
from sim.model.layout import Layout
from sim.model.outcomes import NO_CUSTODY
from sim.model.params import Params
from tests.strategies import check_probabilities, valid_params

BOUNDED = ("compliance", "capacity", "sovereignty", "alignment", "pressure", "legitimacy", "home_compliance")
SMALL = {"scenario.n_states": 30, "scenario.horizon_months": 24, "scenario.n_partners": 3}


def _world(values, seed, n):
    """A chunk of n replicates of one point, its layout, and a generator for the tests' own draws."""
    params = Params(values)
    batch = Batch.of({0: params}, np.zeros(n, int), np.arange(n), seed)
    layout = Layout.of(batch.params)
    return layout, World(layout, batch, slice(0, n)), np.random.default_rng(seed)


def _members0(values) -> int:
    layout, _, _ = _world(values, 0, 1)
    return int(layout.roster.member[layout.order].sum())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_state_stays_bounded_and_custody_is_absorbing(monkeypatch, values, seed):
    with monkeypatch.context() as m:
        check_probabilities(m)
        layout, w, _rng = _world(values, seed, 16)
        member0 = w.member.copy()
        for t in range(layout.horizon):
            before = (w.custody_month.copy(), w.route.copy(), w.free.copy(), w.member.copy(), w.ever_member.copy())
            step.step(w, t)
            for name in BOUNDED:
                v = getattr(w, name)
                assert np.all((v >= 0) & (v <= 1)), name
            month, route, free, member, ever = before
            kept = ~free
            assert np.array_equal(w.custody_month[kept], month[kept]), "custody must be absorbing"
            assert np.array_equal(w.route[kept], route[kept]) and not w.free[kept].any()
            new = free & ~w.free
            assert np.all(w.custody_month[new] == t) and np.all(np.isin(w.route[new], (1, 2)))
            assert np.all((w.custody_month == NO_CUSTODY) == w.free) and np.all((w.route == 0) == w.free)
            joined = (w.member > 0) & (member == 0)
            assert not (joined & ever).any(), "a state that has been a member never (re)joins"
            assert not (w.detained & ~w.free).any(), "custody ends detention"
    out = w.outcomes()
    assert np.all(out.trips_to_members <= out.trips)
    summits = out.invitations - out.invitations_declined  # a summit and a planned trip may share a month (ODD §7.3.0)
    assert np.all(out.trips - summits + out.trips_cancelled <= layout.horizon + out.trips_at_issue)
    assert np.all(out.invitations <= layout.horizon) and np.all(out.invitations_declined <= out.invitations)
    assert np.all(out.withdrawals >= member0.sum(axis=1) + out.accessions - out.members_final - out.accessions)
    assert np.all(out.members_final <= member0.sum(axis=1) + out.accessions)


def test_same_seed_same_frame_different_seed_different_frame():
    n = vec.CHUNK + 37  # more than one chunk
    a = simulate(SMALL, replicates=n, seed=11, engine="vectorized")
    b = simulate(SMALL, replicates=n, seed=11, engine="vectorized")
    c = simulate(SMALL, replicates=n, seed=12, engine="vectorized")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a.equals(c)


@pytest.mark.parametrize("chunk", [2, 7, 10**9])
def test_chunks_do_not_change_results(monkeypatch, chunk):
    """Chunks only regroup rows, and each row draws from its own streams: chunks of 2, 7 or all 60 rows give
    the same frame (29 states besides home)."""
    values = {**SMALL, "prosecutor.sealed_share": 0.5, "states.withdrawal_rate": 0.05,
              "states.accession_rate": 0.05, "home.detain_prob": 0.5, "prosecutor.timed_share": 0.3}
    reference = simulate(values, replicates=60, seed=3, engine="vectorized")
    monkeypatch.setattr(vec, "CHUNK", chunk)
    pd.testing.assert_frame_equal(simulate(values, replicates=60, seed=3, engine="vectorized"), reference,
                                  check_exact=True)


@pytest.mark.parametrize("budget", [1, 4, 10])
def test_outreach_targets_the_top_attraction_states(budget):
    """The boosted states are the B largest V_i = Σ_free j exp(log w_i + β_t·a_i − ρ_j·r_ij) (float64 here)."""
    values = {**SMALL, "prosecutor.outreach_budget": budget, "prosecutor.sealed_share": 0.5}
    _layout, w, _rng = _world(values, 3, 200)
    for t in range(6):
        step.step(w, t)
    p = Params(values)
    decayed = rules.decay_pressure(w.pressure.astype(float), p["prosecutor.pressure_decay"])
    coef = rules.ArrestCoefficients.from_params(p)
    logits = []
    for j in range(p.n_accused):
        prob = rules.arrest_probability(coef, *(getattr(w, n).astype(float) for n in ("capacity", "member",
                                        "compliance")), w.legitimacy[:, None].astype(float),
                                        decayed, w.sovereignty.astype(float),
                                        w.alignment.astype(float), p["accused.head_of_state"][j])
        risk = rules.perceived_risk(prob, w.sealed[:, j, None], p["accused.sealed_awareness"])
        logit = rules.destination_logit_from_appeal(w.appeal.astype(float), risk, p["accused.risk_aversion"][j])
        logits.append(np.where(w.active[:, j, None], logit, -np.inf))
    attraction = np.logaddexp.reduce(logits, axis=0)
    step.outreach(w, 6)
    boosted = w.pressure > decayed + 1e-6
    active = w.active.any(axis=1)
    assert np.all(boosted.sum(axis=1) == np.where(active, budget, 0))
    for r in np.flatnonzero(active):
        lowest_in = attraction[r][boosted[r]].min()
        highest_out = attraction[r][~boosted[r]].max()
        assert lowest_in >= highest_out - 1e-4, r


def test_destination_draw_follows_the_weights():
    """Inverse-CDF draws over 40 columns (three blocks) against their probabilities: chi-square with a fixed seed."""
    rng = np.random.default_rng(8)
    weight = rng.random(40).astype(np.float32) ** 3
    weight[[5, 16, 39]] = 0.0
    n = 200_000
    picks = step._draw(np.broadcast_to(weight, (n, 40)).copy(), rng.random(n))
    counts = np.bincount(picks, minlength=40)
    assert counts[[5, 16, 39]].sum() == 0
    nonzero = weight > 0
    expected = n * weight[nonzero].astype(float) / weight.astype(float).sum()
    assert stats.chisquare(counts[nonzero], expected).pvalue > 0.001


def test_destination_draw_flags_rows_whose_weights_underflow():
    weight = np.array([[1e-38, 0.0, 1e-39], [0.2, 0.3, 0.5]], np.float32)
    picks = step._draw(weight, np.array([0.5, 0.3]))
    assert picks[0] == -1 and picks[1] == 1


def test_extreme_risk_aversion_ranks_and_draws_in_logs(monkeypatch):
    """ρ = 10⁶ makes every weight underflow float32: ranking and draws fall back to logs and stay valid."""
    calls = {"rank": 0, "draw": 0}
    rank, draw = step._log_attraction, World.destination_logits

    def counted_rank(*a):
        calls["rank"] += 1
        return rank(*a)

    def counted_draw(*a):
        calls["draw"] += 1
        return draw(*a)

    monkeypatch.setattr(step, "_log_attraction", counted_rank)
    monkeypatch.setattr(World, "destination_logits", counted_draw)
    values = {**SMALL, "accused.risk_aversion": [1e6, 1e6], "accused.max_risk": [1.0, 1.0],
              "states.capacity": 1.0, "home.turnover_rate": 0.0}
    frame = simulate(values, replicates=50, seed=4, engine="vectorized")
    assert calls["rank"] > 0 and calls["draw"] > 0
    assert (frame["trips"] > 0).all()
    assert frame["custody_month"].dropna().between(0, 23).all()


@pytest.mark.parametrize("roster_values", [{"scenario.n_regions": 1}, {"scenario.n_regions": 3},
                                           {"scenario.n_regions": 7}, {"scenario.roster": "real"}])
def test_norm_dynamics_pull_towards_regional_means_with_home_included(monkeypatch, roster_values):
    """§4.5 against a direct float64 computation over the whole roster (home included), column by column."""
    from sim.model.roster import build_roster

    scenario = {"scenario.horizon_months": 24} if "scenario.roster" in roster_values else SMALL
    values = {**scenario, **roster_values, "states.conformity": 0.3, "states.legitimacy_pull": 0.2}
    layout, w, rng = _world(values, 9, 50)
    w.legitimacy = rng.random(50).astype(w.legitimacy.dtype)
    roster = build_roster(Params(values))
    full = np.empty((50, roster.n_states))
    full[:, layout.order] = w.compliance
    full[:, roster.home] = w.home_compliance
    regions = roster.region.max() + 1
    means = np.stack([full[:, roster.region == r].mean(axis=1) if (roster.region == r).any() else np.zeros(50)
                      for r in range(regions)], axis=1)
    p = Params(values)
    expected = rules.norm_update(full, means[:, roster.region], w.legitimacy[:, None].astype(float),
                                 p["court.legitimacy0"], p["states.conformity"], p["states.legitimacy_pull"])
    step.norms(w, 0)
    np.testing.assert_allclose(w.compliance, expected[:, layout.order], atol=1e-6)
    np.testing.assert_allclose(w.home_compliance, expected[:, roster.home], atol=1e-6)


def test_each_accused_sees_the_state_as_its_turn_starts(monkeypatch):
    """Weights reused from outreach (patched at the boosted states) equal those recomputed from the state
    at each accused's turn (after the boost and after earlier accused' trips this month), in float64
    through sim.rules.arrest_probability and destination_logit; so do the arrest probabilities at hosts."""
    values = {**SMALL, "accused.trip_rate": [2.0, 2.0, 1.0], "accused.head_of_state": [1, 0, 0],
              "accused.risk_aversion": [100.0, 50.0, 100.0], "accused.max_risk": [0.2, 0.2, 0.2],
              "prosecutor.sealed_share": 0.5}
    layout, w, rng = _world(values, 6, 100)
    p = Params(values)
    coef = rules.ArrestCoefficients.from_params(p)
    turn, checked = step._turn, []

    def reference(rows, j):
        f = lambda name: getattr(w, name)[rows].astype(float)  # noqa: E731
        prob = rules.arrest_probability(coef, f("capacity"), f("member"), f("compliance"),
                                        w.legitimacy[rows, None].astype(float), f("pressure"), f("sovereignty"),
                                        f("alignment"), p["accused.head_of_state"][j])
        risk = rules.perceived_risk(prob, w.sealed[rows, j][:, None], p["accused.sealed_awareness"])
        return prob, np.exp(rules.destination_logit_from_appeal(f("appeal"), risk, p["accused.risk_aversion"][j]))

    def check(w, t, j, rows, plans, invited, touched):
        planned = rows[plans]
        weight = step._turn_weights(w, j, planned, touched[plans])
        prob, fresh = reference(planned, j)
        hosts = rng.integers(0, layout.n_states, planned.size)
        np.testing.assert_allclose(weight, fresh, rtol=2e-4, atol=1e-30)
        np.testing.assert_allclose(w.cell_arrest_probability(planned * layout.n_states + hosts, j),
                                   prob[np.arange(planned.size), hosts], rtol=1e-5, atol=0)
        checked.append(int(touched[plans].sum()))
        return turn(w, t, j, rows, plans, invited, touched)

    monkeypatch.setattr(step, "_turn", check)
    for t in range(layout.horizon):
        step.step(w, t)
    assert len(checked) > 30 and sum(checked) > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=7, max_size=7), st.booleans(), st.booleans(), st.integers(0, 5),
       st.lists(st.floats(-50, 50), min_size=8, max_size=8))
def test_rules_split_into_parts_still_follow_model_md(x, member, hos, findings, coefficients):
    """The parts that the vectorized core keeps apart (standing, odds, pulls) compose to MODEL.md's formulas,
    written out here from its text (§4.3.1, §4.3.4, §4.5, §4.6)."""
    k, c, L, p, s, a, mean = x
    coef = rules.ArrestCoefficients(*coefficients)
    z = (coef.intercept + coef.duty * member + coef.compliance * c + coef.legitimacy * L + coef.pressure * p
         - coef.sovereignty * s - coef.alignment * a - coef.immunity * hos)
    expected = k / (1 + np.exp(-z)) if z > -700 else 0.0
    assert np.isclose(rules.arrest_probability(coef, k, member, c, L, p, s, a, hos), expected, rtol=1e-9, atol=1e-300)
    assert np.isclose(rules.destination_logit(0.3, a, 0.1, 2.0, 100.0), 0.3 + 2.0 * a - 100.0 * 0.1)
    assert np.isclose(rules.norm_update(c, mean, L, 0.5, 0.02, 0.01),
                      np.clip(c + 0.02 * (mean - c) + 0.01 * (L - 0.5), 0, 1), rtol=1e-12, atol=1e-15)
    assert np.isclose(rules.withdrawal_probability(s, a, c, findings, 0.01, 0.5),
                      min(1.0, 0.01 * max(0.0, s + a - c - 0.5) * (1 + findings)), rtol=1e-9, atol=1e-15)
