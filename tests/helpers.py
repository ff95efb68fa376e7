"""Shared test helpers: the MODEL.md §6 invariants that an engine's outputs (frame and series) must satisfy.

``check_outputs`` states only what every engine's outputs show, so the engine-contract suite runs it
over every engine and the Mesa tests run it on a model's own outcomes too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.model.outcomes import PER_RUN
from sim.model.params import Params, as_params
from sim.model.roster import build_roster

TINY = {"scenario.n_states": 20, "scenario.horizon_months": 24, "scenario.n_partners": 3}


def members_at_start(params: Params | Mapping[str, Any]) -> int:
    """The number of states parties of the roster at t = 0."""
    return build_roster(as_params(params)).n_members


def check_outputs(frame: pd.DataFrame, params: Params | Mapping[str, Any], series: pd.DataFrame | None = None) -> None:
    """Assert MODEL.md §5-§6 as far as a frame of outcomes (and per-replicate series) can show them."""
    p = as_params(params)
    horizon, n_accused = p.horizon, p.n_accused
    roster = build_roster(p)
    m0, others = roster.n_members, roster.n_states - 1  # states that can ever be parties: all but home
    assert len(frame) % n_accused == 0 and (frame.groupby("replicate").size() == n_accused).all()

    custody, detained = frame["custody_month"], frame["detained_month"]
    assert (frame["in_custody"] == custody.notna()).all(), "in_custody is custody_month < horizon"
    assert custody.dropna().between(0, horizon - 1).all() and detained.dropna().between(0, horizon - 1).all()
    assert ((frame["route"] == "none") == ~frame["in_custody"]).all(), "one route exactly when in custody"
    both = custody.notna() & detained.notna()
    assert (detained[both] <= custody[both]).all(), "detention precedes the handover"
    assert (frame["route"][both] == "domestic_surrender").all(), "a detained accused reaches the court only by handover"
    same_month = both & (detained == custody)
    if p["home.fallen_at_issue"] == 0:
        assert not same_month.any(), "custody and detention begun in one month without a fallen government"
    assert (custody[same_month] == 0).all(), "only the fallen government of month 0 detains and hands over at once"
    if p["home.detain_prob"] == 0:
        assert detained.isna().all(), "δ_h = 0 but someone was detained"
    if p["home.turnover_rate"] == 0 and p["home.fallen_at_issue"] == 0:
        assert detained.isna().all() and not (frame["route"] == "domestic_surrender").any()

    trips, at_issue = frame["trips"], frame["trips_at_issue"]
    assert (frame["trips_to_members"] <= trips).all() and (frame["trips_cancelled"] >= 0).all()
    assert at_issue.isin([0, 1]).all() and (at_issue <= frame["trips_to_members"]).all()
    if p["prosecutor.timed_share"] == 0 or m0 == 0:
        assert (at_issue == 0).all(), "a timed stay without timed warrants (or without a state party)"
    # at most one planned trip a month while free: none once detained or handed over, the arrest trip included
    months_free = np.full(len(frame), float(horizon))
    route = frame["route"].to_numpy()
    months_free = np.where(route == "arrested_by_host", custody.fillna(horizon).to_numpy(float) + 1, months_free)
    months_free = np.where(route == "domestic_surrender", custody.fillna(horizon).to_numpy(float), months_free)
    months_free = np.minimum(months_free, detained.fillna(horizon).to_numpy(float))
    invited, declined = frame["invitations"], frame["invitations_declined"]
    summits = invited - declined
    planned = (trips - at_issue - summits + frame["trips_cancelled"]).to_numpy()
    assert (planned <= months_free).all(), "a trip planned while detained or in custody (or two in one month)"
    assert (invited.to_numpy() <= months_free).all(), "an invitation while detained or in custody (or two in one month)"
    assert (trips[frame["route"] == "arrested_by_host"] >= 1).all(), "an arrest by a host needs a trip"
    assert (declined <= invited).all() and (summits <= trips - at_issue).all()
    heads = np.asarray(p["accused.head_of_state"])[frame["accused"].to_numpy()] > 0
    assert (invited[~heads] == 0).all(), "an official (not a head of state) was invited"
    if p["accused.invitation_rate"] == 0:
        assert (invited == 0).all(), "ν = 0 but someone was invited"

    for name in PER_RUN:
        assert (frame.groupby("replicate")[name].nunique(dropna=False) == 1).all(), f"{name} differs between accused"
    runs = frame[frame["accused"] == 0].set_index("replicate")
    assert runs["legitimacy_final"].between(0, 1).all()
    assert (runs["findings"] <= frame.groupby("replicate")["trips_to_members"].sum()).all(), \
        "every finding follows a state party's refusal"
    if p["states.accession_rate"] == 0:
        assert (runs["accessions"] == 0).all()
    assert runs["accessions"].between(0, others - m0).all(), "only states never party may accede, once"
    assert (runs["withdrawals"] <= m0 + runs["accessions"]).all(), "a state notifies withdrawal at most once"
    assert (runs["members_final"] >= m0 - runs["withdrawals"]).all()
    assert (runs["members_final"] <= m0 + runs["accessions"]).all()
    assert runs["members_final"].between(0, others).all()
    changes, first = runs["regime_changes"], runs["regime_change_month"]
    assert ((changes == 0) == first.isna()).all(), "a first change of government exactly when there was one"
    assert first.dropna().between(0, horizon - 1).all() and (changes <= horizon).all()
    if p["home.turnover_rate"] == 0:
        assert (changes == 0).all(), "η = 0 but the home government changed"
    if series is not None:
        check_series(series, frame, horizon, others)


def check_series(series: pd.DataFrame, frame: pd.DataFrame, horizon: int, others: int) -> None:
    """Per-replicate monthly series: bounded, custody never undone, last month equal to the outcomes."""
    assert len(series) == frame["replicate"].nunique() * horizon
    assert series.groupby("replicate")["month"].agg(lambda m: m.tolist() == list(range(horizon))).all()
    assert series["legitimacy"].between(0, 1).all() and series["mean_compliance"].between(0, 1).all()
    assert series["members"].between(0, others).all() and series["share_in_custody"].between(0, 1).all()
    assert (series.groupby("replicate")["share_in_custody"].diff().fillna(0) >= 0).all(), "custody is absorbing"
    last = series[series["month"] == horizon - 1].set_index("replicate")
    per_run = frame.groupby("replicate").agg(legitimacy=("legitimacy_final", "first"),
                                             members=("members_final", "first"), custody=("in_custody", "mean"))
    np.testing.assert_allclose(last["legitimacy"], per_run["legitimacy"], rtol=1e-6)
    np.testing.assert_array_equal(last["members"], per_run["members"])
    np.testing.assert_allclose(last["share_in_custody"], per_run["custody"])
