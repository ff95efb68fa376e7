"""The observation model of the calibration: follow-up never cut by the outcome, every observed row possible under
its simulated design, findings matched by person identifier, the travel record in the summaries, the home
government's hazard per home state, and the record to date (conditioning) of the out-of-sample check."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim.analysis import inference
from sim.data.record import DAYS_PER_MONTH, OUTCOME_KINDS, parse_day, record, record_date
from sim.data.tables import load_table
from sim.errors import UserError
from sim.studies.calibration.config import calibration_from_text, load_calibration
from sim.studies.calibration.design import RULES, build_design, simulated_records
from sim.studies.calibration.possible import impossible_rows, record_problems
from sim.studies.calibration.travel import observed_travel, simulated_travel

CONFIG = "experiments/calibration.toml"


@pytest.fixture(scope="module")
def cal():
    return load_calibration(CONFIG)


@pytest.fixture(scope="module")
def design(cal):
    return build_design(cal.selection, cal.base)


# --- the possibility test -----------------------------------------------------------------------------------

def test_every_observed_row_is_possible_under_its_simulated_design(cal, design):
    """Each warrant's record, each run's findings and membership changes and each travel row has positive
    probability at some point of the prior: the design's own simulation can produce it."""
    assert impossible_rows(design, cal.priors) == []


def _old_simulated_records(run, values, group):
    """The simulated record as the design made it before this observation model (c6fd2e1): an event was seen only
    when its month ended within the follow-up (custody + 1 <= follow-up), at time month + 1."""
    custody, detained, route = values["custody_month"], values["detained_month"], values["route"]
    follow = run.follow_up[None, :]
    in_custody = (custody != -1) & (custody + 1 <= follow)
    in_detention = ~in_custody & (detained != -1) & (detained + 1 <= follow)
    time = np.where(in_custody, custody + 1, np.where(in_detention, detained + 1, follow)).astype(float)
    names = np.asarray(("none", "arrested_by_host", "domestic_surrender", "detained"), dtype=object)
    event = np.where(in_custody, names[route], np.where(in_detention, "detained", None))
    return pd.DataFrame({"time": time[0], "event": event[0], "censored": ~(in_custody | in_detention)[0],
                         "follow_up": follow[0]}), None


def _old_records(design) -> pd.DataFrame:
    """The observed record as that design read it: follow-up of a surrendered warrant cut at the surrender (the
    host's arrest for a host), the event at its continuous time (at least a day), routes by precedence."""
    rec = record().set_index(["person", "warrant_date"])
    rows = []
    for _, r in design.records.iterrows():
        w = rec.loc[next(k for k in rec.index if k[0] == r["person"])]
        start = w["warrant_day"].date()
        event = {"surrendered_by_host": "arrested_by_host", "surrendered_by_home": "domestic_surrender",
                 "detained_at_home": "detained"}.get(w["route"])
        end = min(w["end_day"].date(), record_date())
        follow = max((end - start).days / DAYS_PER_MONTH, 0.0)
        if event:
            time = max((w["event_day"].date() - start).days / DAYS_PER_MONTH, 1 / DAYS_PER_MONTH)
            rows.append({**r, "time": time, "event": event, "censored": False, "follow_up": follow,
                         "month": int(np.floor(time))})
        else:
            rows.append({**r, "time": follow, "event": None, "censored": True, "follow_up": follow})
    return pd.DataFrame(rows)


def test_the_possibility_test_fails_on_the_design_it_replaced(cal, design):
    """The old design cut follow-up at the event being modelled: four surrenders within days of their warrants
    (and two later ones) were impossible in every simulated record."""

    records = _old_records(design)
    follow = dict(zip(records["person"], records["follow_up"]))

    class Old:
        pass

    Old.runs = [replace(r, follow_up=np.array([follow[p] for p in r.persons])) for r in design.runs]
    Old.records = records
    problems = record_problems(Old, cal.priors, simulate=_old_simulated_records)
    outside = {p.split(": ")[0].rsplit(" (", 1)[0] for p in problems if "outside the simulated follow-up" in p}
    assert {"Laurent Gbagbo", "Callixte Mbarushimana", "Khaled Mohamed Ali El Hishri",
            "Rodrigo Roa Duterte"} <= outside
    assert outside <= {"Laurent Gbagbo", "Callixte Mbarushimana", "Khaled Mohamed Ali El Hishri",
                       "Rodrigo Roa Duterte", "Charles Ble Goude", "Ali Muhammad Ali Abd-Al-Rahman (Ali Kushayb)"}


def test_the_possibility_test_finds_a_finding_and_a_declined_invitation_the_model_cannot_make(cal, design):
    bad_runs = design.run_rows.copy()
    bad_findings = design.findings.copy()
    home = bad_findings.index[bad_findings["iso3"] == "SDN"][0]
    bad_findings.loc[home, "counted"] = True
    travel = design.travel.copy()
    travel.loc[travel["person"] == "Abdel Raheem Muhammad Hussein", "declined"] = 1

    class Broken:
        runs = design.runs
        records = design.records
        run_rows = bad_runs
        findings = bad_findings

    Broken.travel = travel
    problems = impossible_rows(Broken, cal.priors)
    assert any("the finding against Sudan" in p for p in problems)
    assert any(p.startswith("Abdel Raheem Muhammad Hussein") and "never invites" in p for p in problems)


# --- follow-up and months -----------------------------------------------------------------------------------

def test_follow_up_ends_only_at_the_data_s_end_a_death_or_a_withdrawal(design):
    """Recomputed from record.csv: months from the warrant to the earliest of the record's date, the death and the
    withdrawal; never the surrender, the detention or the host's arrest."""
    rows = load_table("record").set_index("person")
    until = record_date()
    for _, r in design.records.iterrows():
        w = rows.loc[r["person"]]
        w = w[w["kind"] == "warrant"].iloc[0] if isinstance(w, pd.DataFrame) else w
        start = parse_day(w["warrant_date"])
        ends = [until] + [parse_day(w[c]) for c in ("death_date", "withdrawn_date") if w[c]]
        assert r["follow_up"] == pytest.approx((min(ends) - start).days / DAYS_PER_MONTH), r["person"]
    assert set(design.records["end_reason"]) == {"record_date", "died", "withdrawn"}
    surrendered = design.records[design.records["event"].isin(["arrested_by_host", "domestic_surrender"])]
    assert (surrendered["follow_up"] > surrendered["time"]).all()


def test_an_event_within_the_first_month_is_month_0_in_both_records(design):
    run = next(r for r in design.runs if "Rodrigo Roa Duterte" in r.persons)
    observed = design.records.set_index("person").loc["Rodrigo Roa Duterte"]
    assert (observed["month"], observed["time"], observed["event"]) == (0, 1.0, "domestic_surrender")
    values = {"custody_month": np.array([[0]]), "route": np.array([[2]]), "detained_month": np.array([[-1]]),
              "findings": np.zeros(1), "withdrawals": np.zeros(1), "accessions": np.zeros(1)}
    sim, _ = simulated_records(run, values, np.array([0]))
    assert (sim["month"].iloc[0], sim["time"].iloc[0], sim["event"].iloc[0]) == (0, 1.0, "domestic_surrender")


def test_a_detention_ending_in_surrender_within_a_month_is_the_surrender_in_both_records(design):
    run = next(r for r in design.runs if "Laurent Gbagbo" in r.persons)
    assert design.records.set_index("person").at["Laurent Gbagbo", "event"] == "domestic_surrender"
    values = {"custody_month": np.array([[0, 5]]), "route": np.array([[2, 2]]), "detained_month": np.array([[0, 3]]),
              "findings": np.zeros(1), "withdrawals": np.zeros(1), "accessions": np.zeros(1)}
    run2 = type(run)(**{**run.__dict__, "persons": ("a", "b"), "person_ids": ("a", "b"),
                        "follow_up": np.array([50.0, 50.0])})
    sim, _ = simulated_records(run2, values, np.array([0]))
    assert sim["event"].tolist() == ["domestic_surrender", "detained"] and sim["month"].tolist() == [0, 3]


def test_every_outcome_of_the_record_has_a_rule():
    assert set(OUTCOME_KINDS) <= set(RULES)
    assert all(len(treatment) > 5 and len(why) > 20 for treatment, why in RULES.values())


# --- findings by person identifier ----------------------------------------------------------------------------

def test_findings_are_matched_by_identifier_and_home_findings_are_reported_apart(design):
    f = design.findings
    counted = f[f["counted"]]
    italy = counted[(counted["iso3"] == "ITA")]
    assert len(italy) == 1 and italy["run"].iloc[0] == "LBY 2025-01-18"  # Njeem, never matched as 'almasri'
    home = f[f["why_not"].str.startswith("against the home state")]
    assert sorted(home["iso3"]) == ["LBY", "SDN", "SDN", "SDN", "SDN"]
    assert (home["counted"] == False).all()  # noqa: E712
    assert int(design.run_rows["findings"].sum()) == len(counted) == 14
    by_run = design.run_rows.set_index("run")["findings"]
    assert by_run["SDN 2009-03-04"] == 11 and by_run["RUS 2023-03-17"] == 1 and by_run["ISR 2024-11-21"] == 1


# --- the travel record ----------------------------------------------------------------------------------------

def test_the_travel_record_of_the_persons_it_follows(design):
    t = design.travel.set_index("person")
    bashir = t.loc["Omar Hassan Ahmad al-Bashir"]
    # 15 visits to parties from his warrant to his fall (travel.csv), none ending in arrest; 4 invitations called off
    assert (bashir["visits"], bashir["arrests"], bashir["declined"], bashir["free_months"]) == (15, 0, 4, 121)
    assert t.at["Abdel Raheem Muhammad Hussein", "visits"] == 2  # undated, between his warrant and June 2015
    assert t.at["Vladimir Putin", "declined"] == 1 and t.at["Vladimir Putin", "window_months"] == 9
    assert "Callixte Mbarushimana" not in t.index  # a sealed warrant: his trips were not followed
    assert set(t.index) == set(design.records.merge(
        pd.DataFrame({"run": [r.key for r in design.runs for _ in r.persons],
                      "person": [p for r in design.runs for p in r.persons],
                      "window": [m for r in design.runs for m in r.travel_months]}), on=["run", "person"]
    ).query("window > 0")["person"])
    assert (design.travel["window_months"] <= (dt.date(2023, 12, 31) - dt.date(2007, 4, 27)).days / 30).all()


def test_travel_summaries_agree_with_a_hand_computed_record():
    travel = pd.DataFrame({"window_months": [24, 12, 6], "free_months": [24, 6, 6], "visits": [4, 1, 0],
                           "arrests": [0, 1, 0], "declined": [2, 0, 0], "head_of_state": [True, False, False]})
    s = inference.travel_summaries(travel).iloc[0]
    assert s["visits_to_parties"] == pytest.approx(5 / 3.0)  # 5 visits over 36 free months
    assert s["arrests_per_visit"] == pytest.approx(1 / 5)
    assert s["declined_per_head_of_state_year"] == pytest.approx(2 / 2.0)
    none = inference.travel_summaries(travel.assign(visits=0, arrests=0, head_of_state=False)).iloc[0]
    assert (none["visits_to_parties"], none["arrests_per_visit"], none["declined_per_head_of_state_year"]) == (0, 0, 0)


def test_simulated_travel_counts_each_window_from_its_own_horizon(design):
    """Synthetic engine arrays for the Libyan run of 2011: one call per window (3, 27 and 150 months)."""
    run = next(r for r in design.runs if r.key == "LBY 2011-06-27")
    assert sorted(int(m) for m in run.travel_months) == [3, 27, 150]
    values = {}
    for h in (3, 27, 150):
        values[h] = {"custody_month": np.array([[-1, -1, 2], [1, -1, -1]]), "route": np.array([[0, 0, 1], [1, 0, 0]]),
                     "detained_month": np.array([[-1, 4, -1], [-1, -1, -1]]),
                     "trips_to_members": np.full((2, 3), h // 3), "invitations_declined": np.full((2, 3), 1)}
    rows = simulated_travel(run, values, np.array([10, 11])).set_index(["group", "person"])
    gaddafi = rows.loc[(11, "Muammar Gaddafi")]
    assert (gaddafi["window_months"], gaddafi["free_months"], gaddafi["visits"], gaddafi["arrests"]) == (3, 1, 1, 1)
    saif = rows.loc[(10, "Saif al-Islam Gaddafi")]
    assert (saif["window_months"], saif["free_months"], saif["visits"]) == (150, 4, 50)
    senussi = rows.loc[(10, "Abdullah Al-Senussi")]
    assert (senussi["free_months"], senussi["arrests"]) == (2, 1)
    with pytest.raises(UserError, match="no invitations_declined"):
        simulated_travel(run, {h: {k: v for k, v in values[h].items() if k != "invitations_declined"}
                               for h in values}, np.array([10, 11]))


def test_a_run_s_first_months_do_not_depend_on_its_horizon(design):
    """What the travel windows rely on: the same replicate run for h months is the first h months of the longer
    run (counter-based streams), here for custody and detention months on the longest run of the design."""
    from sim.simulate import run_rows

    run = max(design.runs, key=lambda r: r.horizon)
    params = run.params.replace({"home.detain_prob": 0.4, "home.turnover_rate": 0.01, "arrest.intercept": -1.0})
    ids = np.arange(60)
    long = run_rows({int(i): params for i in ids}, ids, np.zeros(60, int), 9).values
    h = 90
    short = run_rows({int(i): params.replace({"scenario.horizon_months": h}) for i in ids}, ids, np.zeros(60, int),
                     9).values
    for col in ("custody_month", "detained_month"):
        cut = np.where((long[col] >= 0) & (long[col] < h), long[col], -1)
        assert (cut == short[col]).all() and (short[col] >= 0).any(), col
    assert (short["trips_to_members"] <= long["trips_to_members"]).all()


# --- the home government's hazard -------------------------------------------------------------------------------

TURNOVER = '''
[design.turnover]
autocracy = {rate = 0.005, homes = ["SDN", "LBY", "RUS", "CIV", "RWA"], why = "test"}
democracy = {rate = 0.013, homes = ["ISR", "PHL"], why = "test"}
'''


def _tiny():
    from tests.test_calibration import TINY

    return TINY


def test_each_home_takes_its_class_s_hazard():
    cal = calibration_from_text(_tiny().replace("[priors]", TURNOVER + "\n[priors]"))
    d = build_design(cal.selection, cal.base)
    rates = {r.home: r.params["home.turnover_rate"] for r in d.runs}
    assert rates["SDN"] == rates["RUS"] == 0.005 and rates["ISR"] == rates["PHL"] == 0.013


@pytest.mark.parametrize("change, message", [
    ('democracy = {rate = 0.013, homes = ["ISR"], why = "test"}', "puts PHL, the home state of a run, in no class"),
    ('democracy = {rate = 0.013, homes = ["ISR", "PHL", "SDN"], why = "test"}', "SDN is already in class autocracy"),
    ('democracy = {rate = -1, homes = ["ISR", "PHL"], why = "test"}', "rate must be a monthly hazard"),
    ('democracy = {rate = 0.013, homes = ["ISR", "PHL"]}', "say why in one line"),
])
def test_turnover_classes_are_validated_in_one_line(change, message):
    text = _tiny().replace("[priors]", TURNOVER.replace(
        'democracy = {rate = 0.013, homes = ["ISR", "PHL"], why = "test"}', change) + "\n[priors]")
    with pytest.raises(UserError, match=message) as err:
        build_design(*(lambda c: (c.selection, c.base))(calibration_from_text(text)))
    assert "\n" not in str(err.value)


def test_a_pooled_hazard_prior_beside_the_classes_is_refused():
    text = _tiny().replace("[priors]", TURNOVER + "\n[priors]\n\"home.turnover_rate\" = {low = 0, high = 0.02, "
                                                    "why = \"x\"}")
    with pytest.raises(UserError, match=r"calibrate home\.turnover_sd"):
        calibration_from_text(text)


def test_the_travel_statistics_are_named_in_the_config():
    assert calibration_from_text(_tiny()).travel == tuple(inference.TRAVEL_STATS)
    cal = calibration_from_text(_tiny().replace("[priors]", "[summaries]\ntravel = []\n\n[priors]"))
    assert cal.travel == () and "visits_to_parties" not in inference.statistic_names(cal.months, cal.travel)
    with pytest.raises(UserError, match=r"unknown value 'visits'"):
        calibration_from_text(_tiny().replace("[priors]", "[summaries]\ntravel = [\"visits\"]\n\n[priors]"))


def test_observed_travel_reads_the_shared_file_by_person_identifier(design):
    again = observed_travel(design.runs, design.records)
    pd.testing.assert_frame_equal(again, design.travel)
    assert len(load_table("travel")) == 40 and len(load_table("travel_called_off")) == 5


# --- out of sample from the state at the cut ---------------------------------------------------------------------

def test_each_warrant_s_record_at_the_cut(design):
    """2019-01-01: the Sudanese accused free, Sudan's government unchanged; Libya's 2011 run after its change, the
    father observed free until his death, the son and Al-Senussi detained; the Gbagbos held since month 0."""
    from sim.studies.calibration.oos import record_to_date, state_at_cut

    cut = dt.date(2019, 1, 1)
    state = state_at_cut(design, cut).set_index("person")
    assert (state.loc["Omar Hassan Ahmad al-Bashir", ["status", "regime_changed"]] == ["free", False]).all()
    assert state.at["Omar Hassan Ahmad al-Bashir", "run_month"] == 117
    libya = next(r for r in design.runs if r.key == "LBY 2011-06-27")
    m, rec, changed = record_to_date(design, libya, cut)
    assert changed and rec["status"].tolist() == ["free", "detained", "detained"]
    assert rec["month"].tolist() == [3, m, 27]  # Muammar Gaddafi observed until his death, Al-Senussi until 2013
    assert (state.at["Laurent Gbagbo", "status"], state.at["Laurent Gbagbo", "since"]) == ("custody", 0)
    assert state.at["Charles Ble Goude", "status"] == "detained" and state.at["Simone Gbagbo", "status"] == "detained"
    assert "Khaled Mohamed Ali El Hishri" not in state.index  # issued after the cut: forecast from its issue


def test_a_change_of_government_before_the_warrant_is_no_change_of_the_run():
    from sim.studies.calibration.oos import regime_changed

    assert not regime_changed("CIV", dt.date(2011, 11, 23), 200)  # Gbagbo fell before his warrant
    assert regime_changed("LBY", dt.date(2013, 4, 18), 12 * 2)  # Zeidan ousted 2014-03-11, month 10
    assert not regime_changed("LBY", dt.date(2013, 4, 18), 10)  # ... not before month 10
    assert not regime_changed("RUS", dt.date(2023, 3, 17), 100)


def test_a_forecast_from_the_state_at_the_cut_that_replays_the_record_finds_the_record(design, cal, monkeypatch):
    """Bookkeeping of the out-of-sample forecast with a stand-in engine: replicate 0 of every run is the record
    itself (its first ways out of freedom and its first change of government), the other replicates change
    nothing. Replicate 0 is then the only one consistent with each run's record at the cut, every draw keeps it,
    and the forecast after the cut is what the record shows after it."""
    from sim.studies.calibration import oos

    cut = dt.date(2019, 1, 1)
    changes = load_table("regime_changes")

    def first_change(run):
        start = dt.date.fromisoformat(run.date)
        days = sorted(dt.date.fromisoformat(d) for d in changes.loc[changes["home_iso3"] == run.home, "date"]
                      if dt.date.fromisoformat(d) >= start)
        return oos.month_index(start, days[0]) if days else -1

    def fake_run_rows(points, point, replicate, seed, engine):
        g = int(replicate[0]) // oos.REPLICATE_STRIDE
        run = design.runs[g]
        recs = design.records[design.records["run"] == run.key].set_index("person").loc[list(run.persons)]
        n, f = len(point), len(run.persons)
        custody, detained = np.full((n, f), -1), np.full((n, f), -1)
        route = np.zeros((n, f), dtype=int)
        real = (np.asarray(replicate) % oos.REPLICATE_STRIDE) == 0
        for j, (_, r) in enumerate(recs.iterrows()):
            if r["censored"]:
                continue
            if r["event"] == "detained":
                detained[real, j] = int(r["month"])
            else:
                custody[real, j] = int(r["month"])
                route[real, j] = 1 if r["event"] == "arrested_by_host" else 2
        values = {"custody_month": custody, "detained_month": detained, "route": route,
                  "regime_change_month": np.where(real, first_change(run), -1), "findings": np.zeros(n),
                  "withdrawals": np.zeros(n), "accessions": np.zeros(n)}
        return type("Out", (), {"values": values})()

    monkeypatch.setattr(oos, "run_rows", fake_run_rows)
    draws = np.array([[(p.low + p.high) / 2 for p in cal.priors]] * 3)
    predicted, aside = oos.predicted_after(design, cal.priors, draws, cut, 1, "vectorized", 4, 0)
    observed = oos.observed_after(design, cut)
    assert aside == 0 and len(predicted) == 3
    for e in ("arrested_by_host", "domestic_surrender", "detained"):
        assert (predicted[f"events_{e}"] == observed[f"events_{e}"]).all(), e
    # a record at the cut that no replicate matches sets every draw aside
    monkeypatch.setattr(oos, "regime_changed", lambda home, start, month: home == "SDN")
    _, aside = oos.predicted_after(design, cal.priors, draws, cut, 1, "vectorized", 4, 0)
    assert aside == 3
