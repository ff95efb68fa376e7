"""The Mesa engine against MODEL.md §6 (v1.5), month by month from its agents' state: bounded state, absorbing
custody, detention, accessions, monotone arrest odds; an event log and an account that agree with the outputs.
What every engine's outputs must show is in tests/test_engine_contract.py; that every engine gives the same
replicates (and v1.3's at the new parameters' defaults), in tests/test_protocol.py."""


import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engines.mesa import story
from sim.engines.mesa.model import TribunalModel
from sim.model import rules
from sim.model.outcomes import ROUTES
from sim.model.params import Params
from tests.helpers import TINY, check_outputs
from tests.strategies import check_probabilities, valid_params

BOUNDED = ("compliance", "capacity", "sovereignty", "alignment", "pressure")
EVENTS = {"warrant_issued", "warrant_sealed", "warrant_unsealed", "outreach", "trip", "trip_cancelled", "arrest",
          "non_arrest", "finding", "withdrawal_notified", "withdrawal_effective", "regime_change", "surrender",
          "timed_warrant", "detention", "accession_deposited", "accession_effective", "invitation",
          "invitation_declined"}  # MODEL.md §5
V13_ON = {"prosecutor.sealed_share": 0.5, "states.withdrawal_rate": 0.05, "prosecutor.timed_share": 0.6,
          "home.fallen_at_issue": 0.3, "home.detain_prob": 0.6, "home.detained_surrender_rate": 0.1,
          "home.turnover_rate": 0.03, "states.accession_rate": 0.03, "states.accession_delay": 3,
          "accused.invitation_rate": 0.4, "home.turnover_sd": 1.0, "prosecutor.timed_arrest": 0.5,
          "accused.max_risk": [0.01, 0.01]}


# --------------------------------------------------------------------------- invariants, month by month


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_state_stays_bounded_custody_is_absorbing_and_detention_stops_travel(monkeypatch, values, seed):
    with monkeypatch.context() as m:
        check_probabilities(m)
        model = TribunalModel(values, seed=seed)
        v, home = model.state_vars, model.roster.home
        custody, detention = {}, {}
        while model.running:
            t = model.month
            trips = {a.index: (a.trips, a.trips_cancelled) for a in model.accused}
            ever, pending, was_member = v["ever_member"].copy(), v["_join_at"].copy(), v["member"].copy()
            model.step()
            for name in BOUNDED:
                assert np.all((v[name] >= 0) & (v[name] <= 1)), name
            assert 0 <= model.court.legitimacy <= 1
            for a in model.accused:
                if a.index in custody:
                    assert (a.custody_month, a.route) == custody[a.index], "custody must be absorbing"
                elif a.in_custody:
                    assert a.route in ROUTES[1:] and a.custody_month == t
                    custody[a.index] = (a.custody_month, a.route)
                else:
                    assert a.route == "none"
                if a.index in detention:
                    assert a.detained_month == detention[a.index]
                elif a.detained_month is not None:
                    assert a.detained_month == t and (a.route == "domestic_surrender" or not a.in_custody)
                    detention[a.index] = t
                if a.detained_month is not None:  # detained this month or before: no trip planned this month
                    made = a.trips - trips[a.index][0] - (a.trips_at_issue if t == 0 else 0)
                    assert made == 0 and a.trips_cancelled == trips[a.index][1], "a detained accused travelled"
                if a.in_custody and a.custody_month == a.detained_month == t:
                    assert model.fallen_at_issue and t == 0, "custody and detention begun in one month"
            deposited = np.flatnonzero(v["_join_at"] != pending)
            assert not (ever[deposited] | was_member[deposited]).any() and home not in deposited, \
                "only states never party accede"
            assert not (v["member"] & v["withdrawn"]).any() and np.all(v["ever_member"] >= v["member"])
            assert not v["member"][home]
    if values["home.detain_prob"] == 0:
        assert not detention, "δ_h = 0 but someone was detained"
    taken = [e for e in model.events if e.event in ("arrest", "surrender")]
    assert len(taken) == len(custody) and len({e.target for e in taken}) == len(taken)
    check_outputs(model.outcomes().frame(), values, model.series().assign(replicate=0))


@settings(max_examples=60, deadline=None)
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_timed_warrants_with_certain_arrest_take_everyone_at_month_0(values, seed):
    """MODEL.md §6: τ = 1, every capacity 1, σ(z_ij) ≈ 1 at every member: all in custody at month 0 by arrest at
    the stay of the warrant's issue, whenever a member exists (and no stay at issue otherwise)."""
    values.update({"prosecutor.timed_share": 1.0, "states.capacity": 1.0, "arrest.intercept": 50.0,
                   "home.fallen_at_issue": 0.0})
    model = TribunalModel(values, seed=seed)
    members = np.flatnonzero(model.roster.member)
    model.step()
    hosts = {e.actor for e in model.events if e.event == "arrest"}
    if members.size:
        assert all(a.custody_month == 0 and a.route == "arrested_by_host" and a.trips_at_issue == 1
                   for a in model.accused)
        assert hosts <= {model.state(i).name for i in members}, "a stay at issue is in a state party"
    else:
        assert all(a.trips_at_issue == 0 for a in model.accused)


@settings(max_examples=200, deadline=None)
@given(values=valid_params(), member=st.booleans(), hos=st.booleans(),
       state=st.tuples(*[st.floats(0, 1)] * 6), raise_by=st.floats(0.001, 5))
def test_arrest_probability_is_monotone(values, member, hos, state, raise_by):
    """Raising duty, compliance or legitimacy, or lowering sovereignty, never lowers P_ij."""
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


def test_legitimacy0_raises_initial_arrest_probability():
    lo = TribunalModel({"court.legitimacy0": 0.2}, seed=4)
    hi = TribunalModel({"court.legitimacy0": 0.9}, seed=4)
    assert np.all(hi.arrest_probabilities(hi.accused[0]) >= lo.arrest_probabilities(lo.accused[0]))
    assert np.any(hi.arrest_probabilities(hi.accused[0]) > lo.arrest_probabilities(lo.accused[0]))


def test_home_is_never_a_destination_nor_targeted():
    model = TribunalModel({"accused.trip_rate": [5.0, 5.0], "accused.max_risk": [1.0, 1.0],
                           "scenario.n_states": 12, "scenario.n_partners": 2, "prosecutor.timed_share": 1.0,
                           "prosecutor.outreach_budget": 3}, seed=5)
    for _ in range(60):
        model.step()
        assert model.home.index not in model.prosecutor.targets
        assert all(a.last_trip is None or a.last_trip[1] != model.home.index for a in model.accused)
    events = model.events_frame()
    assert not (events.target == model.home.name).any()


def test_outreach_targets_only_free_accused_attraction():
    """A detained accused attracts no outreach: with everyone detained at issue, no state is targeted."""
    model = TribunalModel({**TINY, "home.fallen_at_issue": 1.0, "home.surrender_prob": 0.0,
                           "home.detain_prob": 1.0}, seed=3)
    model.step()
    assert all(a.detained for a in model.accused) and model.prosecutor.targets == []
    assert not any(e.event == "outreach" for e in model.events)


# --------------------------------------------------------------------------- the event log and the account


def _check_log_against_outputs(model: TribunalModel) -> None:
    events = model.events_frame()
    out = model.outcomes().frame()
    of = lambda kind, **who: events[(events.event == kind)  # noqa: E731
                                    & np.logical_and.reduce([events[k] == w for k, w in who.items()] or [True])]
    for a, row in zip(model.accused, out.itertuples()):
        assert len(of("trip", actor=a.name)) == row.trips
        assert len(of("trip_cancelled", actor=a.name)) == row.trips_cancelled
        assert len(of("timed_warrant", target=a.name)) == row.trips_at_issue
        taken = pd.concat([of("arrest", target=a.name), of("surrender", target=a.name)])
        assert taken.t.tolist() == ([row.custody_month] if row.in_custody else [])
        assert len(of("invitation", target=a.name)) == row.invitations
        assert len(of("invitation_declined", actor=a.name)) == row.invitations_declined
        detained = of("detention", target=a.name)
        assert detained.t.tolist() == ([] if pd.isna(row.detained_month) else [row.detained_month])
    run = out.iloc[0]
    assert len(of("finding")) == run.findings
    assert len(of("withdrawal_notified")) == run.withdrawals
    assert len(of("accession_deposited")) == run.accessions
    effective_w, effective_a = of("withdrawal_effective"), of("accession_effective")
    assert run.members_final == model.roster.n_members - len(effective_w) + len(effective_a), \
        "acceded states count as members"
    deposited = of("accession_deposited")
    start_members = {model.state(i).name for i in np.flatnonzero(model.roster.member)}
    assert deposited.actor.is_unique and not set(deposited.actor) & (start_members | {model.home.name})
    delay = model.params["states.accession_delay"]
    assert dict(zip(effective_a.actor, effective_a.t)) == {s: t + delay for s, t in zip(deposited.actor, deposited.t)
                                                           if t + delay < model.month}
    notified = of("withdrawal_notified")
    assert notified.actor.is_unique
    joined = dict(zip(effective_a.actor, effective_a.t))
    for state, t in zip(notified.actor, notified.t):
        assert state in start_members or joined.get(state, t + 1) < t, "only a state party notifies withdrawal"
    fallen = of("regime_change")[lambda e: e.t == 0]
    assert model.fallen_at_issue == any("before the warrants" in d for d in fallen.detail)
    assert len(of("warrant_issued")) == len(model.accused)
    assert len(of("regime_change")[lambda e: ~e.detail.str.contains("before the warrants")]) == run.regime_changes
    assert set(events.event) <= EVENTS


@pytest.mark.parametrize("seed", range(4))
def test_event_log_agrees_with_outputs_in_v12(seed):
    _check_log_against_outputs(TribunalModel({"prosecutor.sealed_share": 0.5, "states.withdrawal_rate": 0.05},
                                             seed=seed).run())


def test_event_log_agrees_with_outputs_with_every_v13_mechanism_on():
    seen: set[str] = set()
    for seed in range(16):
        model = TribunalModel({**TINY, "scenario.horizon_months": 60, **V13_ON}, seed=seed).run()
        _check_log_against_outputs(model)
        seen |= set(model.events_frame().event)
    assert seen == EVENTS, f"never logged: {EVENTS - seen}"


def test_every_event_has_a_sentence_and_the_account_tells_detention_and_accessions():
    assert set(story._SENTENCES) == EVENTS
    model = TribunalModel({**TINY, "home.fallen_at_issue": 1.0, "home.surrender_prob": 0.0, "home.detain_prob": 1.0,
                           "home.detained_surrender_rate": 0.2, "states.accession_rate": 0.05}, seed=1).run()
    text = story.account(model)
    for a in model.accused:
        assert f"detained at home from month {a.detained_month}" in text
        if a.in_custody:
            assert f"in custody from month {a.custody_month} (domestic surrender)" in text
    assert f"accessions deposited: {model.accessions};" in text and model.accessions > 0
    handovers = [story.describe(e) for e in model.events if e.event == "surrender"]
    assert handovers and all("after detention at home since month 0" in s for s in handovers)
