"""The Mesa engine against MODEL.md §6: bounded state, absorbing custody, monotone arrest odds, determinism,
and an event log that agrees with the outputs."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import simulate
from sim.model import rules
from sim.engines.mesa.model import TribunalModel
from sim.model.outcomes import ROUTES
from tests.strategies import check_probabilities, valid_params

BOUNDED = ("compliance", "capacity", "sovereignty", "alignment", "pressure")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_state_stays_bounded_and_custody_is_absorbing(monkeypatch, values, seed):
    with monkeypatch.context() as m:
        check_probabilities(m)
        model = TribunalModel(values, seed=seed)
        custody = {}
        while model.running:
            model.step()
            for name in BOUNDED:
                v = model.state_vars[name]
                assert np.all((v >= 0) & (v <= 1)), name
            assert 0 <= model.court.legitimacy <= 1
            for a in model.accused:
                if a.index in custody:
                    assert (a.custody_month, a.route) == custody[a.index], "custody must be absorbing"
                elif a.in_custody:
                    assert a.route in ROUTES[1:] and a.custody_month == model.month - 1
                    custody[a.index] = (a.custody_month, a.route)
                else:
                    assert a.route == "none"
    taken = [e for e in model.events if e.event in ("arrest", "surrender")]
    assert len(taken) == len(custody) and len({e.target for e in taken}) == len(taken)


@settings(max_examples=200, deadline=None)
@given(values=valid_params(), member=st.booleans(), hos=st.booleans(),
       state=st.tuples(*[st.floats(0, 1)] * 6), raise_by=st.floats(0.001, 5))
def test_arrest_probability_is_monotone(values, member, hos, state, raise_by):
    """Raising duty, compliance or legitimacy, or lowering sovereignty, never lowers P_ij."""
    from sim.model.params import Params

    p = Params(values)
    k, c, L, pr, s, a = state

    def prob(**change):
        coef = rules.ArrestCoefficients.from_params(p)._replace(
            **{n: getattr(rules.ArrestCoefficients.from_params(p), n) + d for n, d in change.items()
               if n in rules.ArrestCoefficients._fields})
        return rules.arrest_probability(coef, k, member, change.get("c", c), change.get("L", L), pr,
                                        change.get("s", s), a, hos)

    base = prob()
    assert prob(duty=raise_by) >= base or not member
    assert prob(compliance=raise_by) >= base
    assert prob(sovereignty=-raise_by) >= base
    assert prob(c=min(1.0, c + raise_by)) >= base or p["arrest.compliance"] < 0
    assert prob(L=min(1.0, L + raise_by)) >= base or p["arrest.legitimacy"] < 0


@settings(max_examples=30, deadline=None)
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_no_capacity_and_no_turnover_means_no_custody(values, seed):
    values.update({"states.capacity": 0.0, "home.turnover_rate": 0.0, "home.fallen_at_issue": 0.0})
    frame = simulate(values, replicates=3, seed=seed)
    assert not frame["in_custody"].any()
    assert (frame["route"] == "none").all()


def test_legitimacy0_raises_initial_arrest_probability():
    lo = TribunalModel({"court.legitimacy0": 0.2}, seed=4)
    hi = TribunalModel({"court.legitimacy0": 0.9}, seed=4)
    assert np.all(hi.arrest_probabilities(hi.accused[0]) >= lo.arrest_probabilities(lo.accused[0]))
    assert np.any(hi.arrest_probabilities(hi.accused[0]) > lo.arrest_probabilities(lo.accused[0]))


def test_same_seed_same_frame_different_seed_different_frame():
    small = {"scenario.n_states": 40, "scenario.horizon_months": 60}
    a = simulate(small, replicates=6, seed=11)
    b = simulate(small, replicates=6, seed=11)
    c = simulate(small, replicates=6, seed=12)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a.equals(c)


def test_a_replicate_does_not_depend_on_how_many_are_run():
    small = {"scenario.n_states": 30, "scenario.horizon_months": 24}
    whole = simulate(small, replicates=7, seed=3, engine="mesa")
    again = simulate(small, replicates=5, seed=3, engine="mesa")
    pd.testing.assert_frame_equal(whole.iloc[:10], again)


@pytest.mark.parametrize("seed", range(8))
def test_event_log_agrees_with_outputs(seed):
    model = TribunalModel({"prosecutor.sealed_share": 0.5, "states.withdrawal_rate": 0.05}, seed=seed).run()
    events = model.events_frame()
    out = model.outcomes().frame()
    count = lambda kind, who=None: int(((events.event == kind) & ((events.actor == who) if who else True)).sum())  # noqa
    for a, row in zip(model.accused, out.itertuples()):
        assert count("trip", a.name) == row.trips
        assert count("trip_cancelled", a.name) == row.trips_cancelled
        arrests = events[(events.event == "arrest") & (events.target == a.name)]
        surrenders = events[(events.event == "surrender") & (events.target == a.name)]
        assert len(arrests) + len(surrenders) == int(row.in_custody)
        if row.in_custody:
            assert (arrests.t.tolist() + surrenders.t.tolist()) == [row.custody_month]
    assert count("finding") == out.findings.iloc[0]
    assert count("withdrawal_notified") == out.withdrawals.iloc[0]
    assert count("withdrawal_effective") == model.roster.n_members - out.members_final.iloc[0]
    assert count("warrant_issued") == len(model.accused)
    assert set(events.event) <= {"warrant_issued", "warrant_sealed", "warrant_unsealed", "outreach", "trip",
                                 "trip_cancelled", "arrest", "non_arrest", "finding", "withdrawal_notified",
                                 "withdrawal_effective", "regime_change", "surrender"}


@pytest.mark.parametrize("engine", ["mesa", "vectorized"])
def test_series_has_one_row_per_month_and_matches_outputs(engine):
    values = {"scenario.n_states": 30, "scenario.horizon_months": 24, "states.withdrawal_rate": 0.05}
    frame, series = simulate(values, replicates=20, seed=2, engine=engine, series="replicate")
    assert list(series.columns) == ["replicate", "month", "legitimacy", "members", "mean_compliance",
                                    "share_in_custody"]
    assert len(series) == 20 * 24 and series.month.max() == 23
    last = series[series.month == 23].set_index("replicate")
    per_run = frame.groupby("replicate").agg(legitimacy=("legitimacy_final", "first"),
                                             members=("members_final", "first"), custody=("in_custody", "mean"))
    np.testing.assert_allclose(last.legitimacy, per_run.legitimacy)
    np.testing.assert_array_equal(last.members, per_run.members)
    np.testing.assert_allclose(last.share_in_custody, per_run.custody)
    _, mean = simulate(values, replicates=20, seed=2, engine=engine, series="mean")
    expected = series.groupby("month")[["legitimacy", "members", "mean_compliance", "share_in_custody"]].mean()
    np.testing.assert_allclose(mean.set_index("month")[expected.columns], expected, rtol=1e-9)


def test_withdrawal_with_zero_delay_takes_effect_the_same_month():
    model = TribunalModel({"states.withdrawal_rate": 1.0, "states.withdrawal_threshold": -1.0,
                           "states.compliance_member": 0.0,
                           "states.withdrawal_delay": 0, "scenario.horizon_months": 1}, seed=0).run()
    assert model.withdrawals == model.roster.n_members
    assert int(model.state_vars["member"].sum()) == 0


def test_home_is_never_a_destination_nor_targeted():
    model = TribunalModel({"accused.trip_rate": [5.0, 5.0], "accused.max_risk": [1.0, 1.0],
                           "scenario.n_states": 12, "scenario.n_partners": 2,
                           "prosecutor.outreach_budget": 3}, seed=5)
    for _ in range(60):
        model.step()
        assert model.home.index not in model.prosecutor.targets
        assert all(a.last_trip is None or a.last_trip[1] != model.home.index for a in model.accused)
    events = model.events_frame()
    assert not (events.target == model.home.name).any()
