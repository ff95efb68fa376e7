"""The engine contract: what every engine of sim.simulate.ENGINES must do, asserted on its outputs alone.

- the output schema of sim.model.outcomes (columns, dtypes and value ranges by each outcome's kind);
- determinism: the same seed gives the same frame, another seed another frame;
- the seeding contract of sim.model.seeding: a replicate's row depends only on (seed, point, replicate),
  not on how many replicates are run, on batching rows of several points into one run_rows call, nor
  on their order; with common random numbers point p replicate r is point 0 replicate r;
- MODEL.md §6, as far as frames and series show it (tests/helpers.check_outputs), for random valid
  parameters, and the v1.3 mechanisms in settings whose outcome is certain.
Sizes stay tiny (at most 25 states, 24 months) so each engine's suite runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import simulate
from sim.model.outcomes import COLUMNS, KINDS, NEVER, OUTCOMES, ROUTES, SERIES_COLUMNS, column
from sim.model.params import Params
from sim.simulate import ENGINES, run_rows
from tests.helpers import TINY, check_outputs, members_at_start
from tests.strategies import check_probabilities, valid_params

engines = pytest.mark.parametrize("engine", list(ENGINES))
BUSY = {**TINY, "prosecutor.sealed_share": 0.5, "states.withdrawal_rate": 0.05, "home.turnover_rate": 0.03,
        "accused.trip_rate": [1.5, 1.0], "accused.max_risk": [0.1, 0.1]}
V13 = {"prosecutor.timed_share": 0.5, "home.fallen_at_issue": 0.2, "home.detain_prob": 0.5,
       "home.detained_surrender_rate": 0.1, "states.accession_rate": 0.05, "states.accession_delay": 1}


def _rows(points, point, replicate, seed, engine, crn=False) -> pd.DataFrame:
    """run_rows as a frame, one row per (row, accused), numbered by row."""
    return run_rows(points, point, replicate, seed, engine=engine, crn=crn).frame(np.arange(len(point)))


def _row(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    return frame[frame["replicate"] == k].drop(columns="replicate").reset_index(drop=True)


# --------------------------------------------------------------------------- the output schema


@engines
def test_outputs_follow_the_schema(engine):
    params = Params({**BUSY, **V13})
    out = run_rows({0: params}, np.zeros(5, int), np.arange(5), 1, engine=engine)
    r, f, horizon = 5, params.n_accused, params.horizon
    assert set(out) == {o.name for o in OUTCOMES} and {o.kind for o in OUTCOMES} <= set(KINDS)
    for o in OUTCOMES:
        v = out.values[o.name]
        assert v.shape == ((r,) if o.per_run else (r, f)), o.name
        if o.kind == "flag":
            assert v.dtype == bool, o.name
        elif o.kind == "real":
            assert np.issubdtype(v.dtype, np.floating), o.name
        else:
            assert np.issubdtype(v.dtype, np.integer), o.name
        if o.kind == "month":
            assert np.all((v == NEVER) | ((v >= 0) & (v < horizon))), o.name
        if o.kind == "route":
            assert np.all((v >= 0) & (v < len(ROUTES))), o.name
        if o.kind == "count":
            assert np.all(v >= 0), o.name
    frame, series = simulate(params, replicates=r, seed=1, engine=engine, series="replicate")
    assert tuple(frame.columns) == COLUMNS and len(frame) == r * f
    for o in OUTCOMES:
        expected = pd.Series(column(o, out.values[o.name].reshape(-1)[:1])).dtype
        assert frame[o.name].dtype == expected, o.name
    assert list(frame["replicate"]) == list(np.repeat(np.arange(r), f))
    assert list(frame["accused"]) == list(np.tile(np.arange(f), r))
    assert tuple(series.columns) == ("replicate", *SERIES_COLUMNS)
    _, mean = simulate(params, replicates=r, seed=1, engine=engine, series="mean")
    assert tuple(mean.columns) == SERIES_COLUMNS
    expected_mean = series.groupby("month")[list(SERIES_COLUMNS[1:])].mean()
    np.testing.assert_allclose(mean.set_index("month")[expected_mean.columns], expected_mean, rtol=1e-9)
    check_outputs(frame, params, series)


# --------------------------------------------------------------------------- determinism and seeding


@engines
def test_same_seed_same_frame_different_seed_different_frame(engine):
    a = simulate(BUSY, replicates=6, seed=11, engine=engine)
    b = simulate(BUSY, replicates=6, seed=11, engine=engine)
    c = simulate(BUSY, replicates=6, seed=12, engine=engine)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a.equals(c)


@engines
def test_a_replicate_does_not_depend_on_how_many_are_run(engine):
    whole = simulate(BUSY, replicates=7, seed=3, engine=engine)
    fewer = simulate(BUSY, replicates=4, seed=3, engine=engine)
    pd.testing.assert_frame_equal(whole[whole["replicate"] < 4], fewer, check_exact=True)
    some = _rows({0: Params(BUSY)}, [0, 0], [5, 2], 3, engine)
    for k, r in enumerate([5, 2]):
        pd.testing.assert_frame_equal(_row(some, k), _row(whole, r), check_exact=True)


def _each_row_is_its_point_alone(points, point, replicate, seed, engine):
    """Row k of one batched call equals replicate[k] of its point simulated alone."""
    batched = _rows(points, point, replicate, seed, engine)
    for k, (p, r) in enumerate(zip(point, replicate, strict=True)):
        alone = simulate(points[p], replicates=r + 1, seed=seed, engine=engine, point=p)
        pd.testing.assert_frame_equal(_row(batched, k), _row(alone, r), check_exact=True)


@engines
def test_rows_of_several_points_in_one_call_are_those_of_each_point(engine):
    points = {0: Params(BUSY), 1: Params({**BUSY, "court.legitimacy0": 0.8}),
              4: Params({**BUSY, "scenario.n_states": 15})}  # point 4 has another layout: another engine call
    _each_row_is_its_point_alone(points, [4, 1, 0, 1, 4, 0], [1, 0, 2, 2, 0, 0], 5, engine)


@engines
def test_rows_of_points_that_differ_in_every_swept_parameter_are_those_of_each_point(engine):
    """Every parameter the shipped sensitivity study sweeps takes another value at each point (v1.3
    mechanisms and sealed warrants on), so each per-row path of the batched engine is exercised."""
    from sim.experiments.config import load_experiment

    bounds = load_experiment("experiments/sensitivity.toml").bounds
    rng = np.random.default_rng(8)
    points = {}
    for p in range(3):
        values = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in bounds.items()}
        values["prosecutor.outreach_budget"] = round(values["prosecutor.outreach_budget"])
        points[p] = Params({**BUSY, **V13, "prosecutor.sealed_share": 0.6}).replace(values)
    _each_row_is_its_point_alone(points, [2, 0, 1, 2, 0, 1], [0, 1, 1, 2, 0, 0], 4, engine)


@engines
def test_common_random_numbers_give_every_point_the_streams_of_point_0(engine):
    base, other = Params(BUSY), Params({**BUSY, "arrest.intercept": -2.0})
    point, replicate = [3, 0, 3, 0, 3], [1, 1, 0, 0, 2]
    same = _rows({0: base, 3: base}, point, replicate, 9, engine, crn=True)
    for k, j in ((0, 1), (2, 3)):
        pd.testing.assert_frame_equal(_row(same, k), _row(same, j), check_exact=True)
    reordered = _rows({0: base, 3: base}, point[::-1], replicate[::-1], 9, engine, crn=True)
    for k in range(len(point)):
        pd.testing.assert_frame_equal(_row(reordered, len(point) - 1 - k), _row(same, k), check_exact=True)
    crn = _rows({0: base, 3: other}, [3, 3], [0, 2], 9, engine, crn=True)
    alone = simulate(other, replicates=3, seed=9, engine=engine, point=0)
    for k, r in enumerate([0, 2]):
        pd.testing.assert_frame_equal(_row(crn, k), _row(alone, r), check_exact=True)
    independent = _rows({0: base, 3: base}, [3, 0], [1, 1], 9, engine, crn=False)
    assert not _row(independent, 0).equals(_row(independent, 1))


# --------------------------------------------------------------------------- MODEL.md §6 on outputs


@engines
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_outputs_satisfy_the_model_invariants(monkeypatch, engine, values, seed):
    with monkeypatch.context() as m:
        check_probabilities(m)
        frame, series = simulate(values, replicates=4, seed=seed, engine=engine, series="replicate")
    check_outputs(frame, values, series)


@engines
@settings(max_examples=30, deadline=None)
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_no_capacity_and_no_turnover_means_no_custody(engine, values, seed):
    """MODEL.md §6, read with v1.4 (docs/ODD.md §8): an arrest arranged before a timed warrant (θ) does not depend
    on the host's capacity, so the statement holds for θ = 0."""
    values.update({"states.capacity": 0.0, "home.turnover_rate": 0.0, "home.fallen_at_issue": 0.0,
                   "prosecutor.timed_arrest": 0.0})
    frame = simulate(values, replicates=40, seed=seed, engine=engine)
    assert not frame["in_custody"].any() and (frame["route"] == "none").all()
    assert frame["detained_month"].isna().all()


@engines
def test_home_is_never_a_destination(engine):
    """With two states, every trip goes to the one state that is not home: a member, so all trips are to members."""
    values = {"scenario.n_states": 2, "scenario.n_partners": 0, "scenario.member_share": 1.0,
              "states.withdrawal_rate": 0.0, "accused.max_risk": [1.0, 1.0], "accused.trip_rate": [3.0, 3.0]}
    frame = simulate(values, replicates=50, seed=1, engine=engine)
    assert frame["trips"].sum() > 0
    assert (frame["trips_to_members"] == frame["trips"]).all()


CERTAIN_WITHDRAWAL = {"states.withdrawal_rate": 1.0, "states.withdrawal_threshold": -1.0,
                      "states.compliance_member": 0.0, "states.conformity": 0.0, "states.legitimacy_pull": 0.0}


@engines
def test_withdrawal_takes_effect_after_its_delay_and_counts_when_notified(engine):
    values = {**CERTAIN_WITHDRAWAL, "states.withdrawal_delay": 0, "scenario.horizon_months": 1}
    m0 = members_at_start(values)
    frame = simulate(values, replicates=5, seed=0, engine=engine)
    assert (frame["withdrawals"] == m0).all() and (frame["members_final"] == 0).all()
    pending = {**values, "states.withdrawal_delay": 5, "scenario.horizon_months": 5}
    frame = simulate(pending, replicates=5, seed=0, engine=engine)
    assert (frame["withdrawals"] == m0).all() and (frame["members_final"] == m0).all()
    longer = simulate({**pending, "scenario.horizon_months": 6}, replicates=5, seed=0, engine=engine)
    assert (longer["members_final"] == 0).all()


# --------------------------------------------------------------------------- v1.3 mechanisms, certain outcomes

CERTAIN_ARREST = {"states.capacity": 1.0, "arrest.intercept": 50.0}


@engines
def test_timed_warrants_with_certain_arrest_take_everyone_at_month_0(engine):
    """MODEL.md §6: τ = 1, every capacity 1 and σ(z) ≈ 1: everyone is arrested by the host of the stay at issue."""
    values = {**TINY, **CERTAIN_ARREST, "prosecutor.timed_share": 1.0, "accused.head_of_state": [1, 0, 0],
              "accused.trip_rate": [0.8, 0.3, 2.0], "accused.risk_aversion": [100.0, 100.0, 0.0],
              "accused.max_risk": [0.02, 0.02, 1.0]}
    frame = simulate(values, replicates=20, seed=2, engine=engine)
    assert (frame["custody_month"] == 0).all() and (frame["route"] == "arrested_by_host").all()
    assert (frame["trips_at_issue"] == 1).all() and (frame["trips"] == 1).all()
    assert (frame["trips_to_members"] == 1).all() and (frame["trips_cancelled"] == 0).all()


@engines
def test_without_a_state_party_there_is_no_timed_stay(engine):
    values = {**TINY, **CERTAIN_ARREST, "prosecutor.timed_share": 1.0, "scenario.member_share": 0.0,
              "states.accession_rate": 0.0}
    assert members_at_start(values) == 0
    frame = simulate(values, replicates=20, seed=2, engine=engine)
    assert (frame["trips_at_issue"] == 0).all() and (frame["trips_to_members"] == 0).all()


@engines
def test_a_fallen_government_that_hands_over_takes_everyone_to_court_at_month_0(engine):
    values = {**TINY, **CERTAIN_ARREST, "home.fallen_at_issue": 1.0, "home.surrender_prob": 1.0,
              "prosecutor.timed_share": 1.0}
    frame = simulate(values, replicates=20, seed=3, engine=engine)
    assert (frame["custody_month"] == 0).all() and (frame["route"] == "domestic_surrender").all()
    assert (frame["trips"] == 0).all() and (frame["trips_at_issue"] == 0).all(), "the handover comes before 4.0.2"
    assert frame["detained_month"].isna().all()


@engines
def test_a_detained_accused_makes_no_trip(engine):
    """A fallen government detains everyone at month 0 (before the timed warrants and any trip)."""
    values = {**TINY, "home.fallen_at_issue": 1.0, "home.surrender_prob": 0.0, "home.detain_prob": 1.0,
              "prosecutor.timed_share": 1.0, "accused.trip_rate": [5.0, 5.0], "accused.max_risk": [1.0, 1.0]}
    frame = simulate(values, replicates=20, seed=4, engine=engine)
    assert (frame["detained_month"] == 0).all() and not frame["in_custody"].any()
    assert (frame["trips"] + frame["trips_cancelled"] == 0).all()
    handed = simulate({**values, "home.detained_surrender_rate": 1.0}, replicates=20, seed=4, engine=engine)
    assert (handed["detained_month"] == 0).all(), "4.1 still runs in month 0 after a fallen government"
    assert (handed["custody_month"] == 0).all() and (handed["route"] == "domestic_surrender").all()


@engines
def test_detention_after_a_regime_change_ends_in_a_later_month(engine):
    """A regime change every month: detained at month 0 in 4.1, handed over (ψ = 1) at the start of month 1."""
    values = {**TINY, "home.turnover_rate": 1.0, "home.surrender_prob": 0.0, "home.detain_prob": 1.0,
              "home.detained_surrender_rate": 1.0}
    frame = simulate(values, replicates=20, seed=5, engine=engine)
    assert (frame["detained_month"] == 0).all() and (frame["custody_month"] == 1).all()
    assert (frame["route"] == "domestic_surrender").all() and (frame["trips"] == 0).all()
    kept = simulate({**values, "home.detained_surrender_rate": 0.0}, replicates=20, seed=5, engine=engine)
    assert (kept["detained_month"] == 0).all() and not kept["in_custody"].any()


CERTAIN_ACCESSION = {"states.accession_rate": 1.0, "states.compliance_nonmember": 1.0, "states.alignment": 0.0,
                     "states.alignment_partner": 0.0, "states.conformity": 0.0, "states.legitimacy_pull": 0.0}


@engines
def test_accessions_count_when_deposited_and_take_effect_after_their_delay(engine):
    values = {**TINY, **CERTAIN_ACCESSION, "states.withdrawal_rate": 0.0, "states.accession_delay": 3,
              "scenario.horizon_months": 3}
    m0, others = members_at_start(values), TINY["scenario.n_states"] - 1
    frame = simulate(values, replicates=5, seed=6, engine=engine)
    assert (frame["accessions"] == others - m0).all() and (frame["members_final"] == m0).all()
    later = simulate({**values, "scenario.horizon_months": 4}, replicates=5, seed=6, engine=engine)
    assert (later["accessions"] == others - m0).all() and (later["members_final"] == others).all()


@engines
def test_states_that_withdrew_never_accede_and_acceded_states_may_withdraw(engine):
    """Month 0: every party withdraws, every other state but home accedes (delays 0); month 1: the acceded
    states withdraw in turn, and nobody accedes again, though every state would accede if it could
    (compliance 1 and alignment 0 everywhere; sovereignty 1 makes the withdrawals certain all the same)."""
    values = {**TINY, **CERTAIN_WITHDRAWAL, **CERTAIN_ACCESSION, "states.compliance_member": 1.0,
              "states.sovereignty_member": 1.0, "states.sovereignty_nonmember": 1.0,
              "states.withdrawal_delay": 0, "states.accession_delay": 0, "scenario.horizon_months": 1}
    m0, others = members_at_start(values), TINY["scenario.n_states"] - 1
    first = simulate(values, replicates=5, seed=7, engine=engine)
    assert (first["withdrawals"] == m0).all() and (first["accessions"] == others - m0).all()
    assert (first["members_final"] == others - m0).all(), "acceded states count as members"
    second = simulate({**values, "scenario.horizon_months": 2}, replicates=5, seed=7, engine=engine)
    assert (second["withdrawals"] == others).all() and (second["accessions"] == others - m0).all()
    assert (second["members_final"] == 0).all()
