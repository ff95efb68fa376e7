"""The court's record coded as what happened (sim.data.record): counts, consistency with warrants.csv, checks."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sim.data.docblocks import BLOCKS, ROOT, block_text
from sim.data.record import (
    OUTCOME_KINDS,
    SURRENDERED,
    as_recorded_route,
    outcomes,
    person_id,
    person_ids,
    recoding,
    record,
    record_date,
)
from sim.data.tables import DATA_DIR, TABLES, load_table
from sim.errors import UserError

# The warrants against nationals of non-parties (and of a former party, the Philippines), by route, as read
# by hand from the rows of sim/data/record.csv and their sources.
BY_ROUTE = {
    "surrendered_by_host": {"Callixte Mbarushimana", "Ali Muhammad Ali Abd-Al-Rahman (Ali Kushayb)",
                            "Khaled Mohamed Ali El Hishri"},
    "surrendered_by_home": {"Laurent Gbagbo", "Charles Ble Goude", "Rodrigo Roa Duterte"},
    "detained_at_home": {"Omar Hassan Ahmad al-Bashir", "Ahmad Muhammad Harun", "Abdel Raheem Muhammad Hussein",
                         "Simone Gbagbo", "Abdullah Al-Senussi", "Saif al-Islam Gaddafi",
                         "Osama Elmasry Njeem (Almasri)"},
    "died": {"Sylvestre Mudacumura", "Muammar Gaddafi", "Al-Tuhamy Mohamed Khaled",
             "Mahmoud Mustafa Busayf Al-Werfalli"},
}
HELD_WITHIN_A_MONTH = {"Laurent Gbagbo", "Simone Gbagbo", "Rodrigo Roa Duterte", "Osama Elmasry Njeem (Almasri)",
                       "Khaled Mohamed Ali El Hishri", "Callixte Mbarushimana"}


@pytest.fixture(scope="module")
def rec() -> pd.DataFrame:
    return record()


@pytest.fixture(scope="module")
def npn(rec) -> pd.DataFrame:
    return rec[(rec["kind"] == "warrant") & rec["non_party_national"]]


def test_counts(rec, npn):
    assert (rec["kind"] == "warrant").sum() == 63 and (rec["kind"] == "summons").sum() == 9
    assert len(npn) == 35  # the 34 of the calibration and Banda's 2014 warrant
    for route, persons in BY_ROUTE.items():
        assert set(npn.loc[npn["route"] == route, "person"]) == persons, route
    assert (npn["route"] == "at_large").sum() == 35 - sum(map(len, BY_ROUTE.values())) == 18
    assert set(npn.loc[npn["held_within_month"], "person"]) == HELD_WITHIN_A_MONTH
    assert set(npn.loc[npn["surrendered_within_month"], "person"]) == {"Laurent Gbagbo", "Rodrigo Roa Duterte"}
    assert set(npn.loc[npn["home_status_at_issue"] == "former_party", "person"]) == {"Rodrigo Roa Duterte"}
    assert set(npn.loc[npn["head_of_state"], "person"]) == {"Omar Hassan Ahmad al-Bashir", "Muammar Gaddafi",
                                                           "Vladimir Putin", "Benjamin Netanyahu"}


def test_the_referee_s_cases_never_reached_the_court(rec):
    rows = rec.set_index("person")
    for person in ("Omar Hassan Ahmad al-Bashir", "Ahmad Muhammad Harun", "Abdel Raheem Muhammad Hussein",
                   "Simone Gbagbo", "Abdullah Al-Senussi", "Osama Elmasry Njeem (Almasri)"):
        assert rows.at[person, "route"] == "detained_at_home" and rows.at[person, "surrender_date"] == "", person
    assert rows.at["Abdullah Al-Senussi", "host_iso3"] == "MRT"
    assert (rows.at["Osama Elmasry Njeem (Almasri)", "host_arrest_date"],
            rows.at["Osama Elmasry Njeem (Almasri)", "host_release_date"]) == ("2025-01-19", "2025-01-21")
    # Follow-up ends when a detention at home ends without surrender (outside the model)
    assert rows.at["Ahmad Muhammad Harun", "end_reason"] == "left_detention"
    assert rows.at["Simone Gbagbo", "end_day"] == pd.Timestamp("2018-08-08")


def test_surrender_routes_are_exactly_the_court_s_custody(rec):
    war = load_table("warrants").set_index(["person", "warrant_date"])
    rows = rec[~rec["added"] & (rec["kind"] == "warrant")]
    custody = [war.at[(p, d), "icc_custody"] == "yes" for p, d in zip(rows["person"], rows["warrant_date"])]
    assert rows["route"].isin(SURRENDERED).tolist() == custody


def test_every_warrant_of_warrants_csv_is_one_row_and_banda_s_warrant_is_added(rec):
    war = load_table("warrants")
    assert set(zip(war["person"], war["warrant_date"])) == set(zip(rec.loc[~rec["added"], "person"],
                                                                    rec.loc[~rec["added"], "warrant_date"]))
    added = rec[rec["added"]]
    assert added[["person", "warrant_date", "kind", "route"]].values.tolist() == [
        ["Abdallah Banda Abakaer Nourain", "2014-09-11", "warrant", "at_large"]]
    assert added["confidence"].iloc[0] == "high" and "icc-cpi.int" in added["source"].iloc[0]


def test_home_status_at_issue_agrees_with_the_shared_table(rec):
    war = load_table("warrants").set_index("person")
    shared = war.loc[rec["person"], "nationality_state_is_party"].to_numpy()
    assert ((rec["home_status_at_issue"] == "party").to_numpy() == (shared == "yes")).all()


def test_follow_up_is_within_the_warrant_and_the_record_s_date(rec):
    until = pd.Timestamp(record_date())
    # stated in record_date.csv with its source (the latest report consulted), not the latest event
    assert record_date() == dt.date(2026, 2, 16)
    assert load_table("record_date")["source"].str.contains("thetamesis").all()
    assert (rec["end_day"] >= rec["warrant_day"]).all() and (rec["end_day"] <= until).all()
    assert (rec["follow_up_days"] >= 0).all()
    deif = rec.set_index("person").loc["Mohammed Deif (Mohammed Diab Ibrahim Al-Masri)"]
    assert deif["follow_up_days"] == 0 and deif["end_reason"] == "died"  # killed before the warrant
    events = rec[rec["route"].isin(SURRENDERED)]
    assert (events["end_day"] == events["event_day"]).all() and (events["end_reason"] == "surrendered").all()
    assert (rec.loc[rec["route"] == "at_large", "end_reason"] == "record_date").all()


def test_partial_warrant_dates_are_taken_at_their_midpoint(rec):
    tarhunah = rec[rec["warrant_date"] == "2023"]
    assert len(tarhunah) == 6 and (tarhunah["warrant_day"] == pd.Timestamp("2023-07-01")).all()


def test_as_recorded_route_is_the_calibration_s_reading():
    assert as_recorded_route("warrant", "arrested_by_third_state", "at_large") == "surrendered_by_host"
    assert as_recorded_route("warrant", "transferred_after_regime_change", "at_large") == "surrendered_by_home"
    assert as_recorded_route("warrant", "self_surrender", "convicted") is None
    assert as_recorded_route("warrant", "", "deceased") == "died"
    assert as_recorded_route("summons", "self_surrender", "released") == "appeared"


def test_every_departure_from_warrants_csv_has_its_reason(rec):
    war = load_table("warrants").set_index(["person", "warrant_date"])
    decided = set(zip(*(recoding()[c] for c in ("person", "warrant_date", "field"))))
    for _, r in rec[~rec["added"]].iterrows():
        w = war.loc[(r["person"], r["warrant_date"])]
        if r["route"] != as_recorded_route(w["kind"], w["custody_route"], w["status"]):
            assert (r["person"], r["warrant_date"], "route") in decided, r["person"]
    assert len(recoding()) == 27 and (recoding()["reason"].str.len() > 40).all()


# --- a damaged record fails with one line ------------------------------------------------------------------

@pytest.fixture
def data_copy(tmp_path):
    for spec in TABLES.values():
        shutil.copy(DATA_DIR / spec.file, tmp_path / spec.file)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def fails(folder: Path) -> str:
    with pytest.raises(UserError) as info:
        record(folder)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_route_changed_without_a_reason_is_refused(data_copy):
    kony = "Joseph Kony,2005-07-08,warrant,0,UGA,UGA,non_state,LRA leader,0,,1,2005-10-13,"
    edit(data_copy / "record.csv", kony + "at_large", kony + "released")
    assert "(Joseph Kony): route released departs from warrants.csv (at_large) without a row in recoding.csv" in (
        fails(data_copy))


def test_a_reason_removed_from_recoding_csv_is_missed(data_copy):
    path = data_copy / "recoding.csv"
    path.write_text("".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                            if not line.startswith("Omar Hassan Ahmad al-Bashir,")), encoding="utf-8")
    assert "(Omar Hassan Ahmad al-Bashir): route detained_at_home departs from warrants.csv (surrendered_by_home)" in (
        fails(data_copy))


def test_a_transfer_date_that_disagrees_with_warrants_csv(data_copy):
    edit(data_copy / "record.csv", "2011-04-11,,2011-11-30,", "2011-04-11,,2011-12-01,")
    assert "surrender_date '2011-12-01' differs from warrants.csv icc_transfer_date '2011-11-30'" in fails(data_copy)


def test_a_warrant_left_out_of_the_record(data_copy):
    path = data_copy / "record.csv"
    path.write_text("".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                            if not line.startswith("Yoav Gallant,")), encoding="utf-8")
    assert "record.csv has no row for warrants.csv's Yoav Gallant (2024-11-21)" in fails(data_copy)


def test_an_added_warrant_without_its_flag(data_copy):
    edit(data_copy / "record.csv", "Abdallah Banda Abakaer Nourain,2014-09-11,warrant,1,",
         "Abdallah Banda Abakaer Nourain,2014-09-11,warrant,0,")
    assert "added must be 1 exactly when warrants.csv has no row with this person and warrant_date 2014-09-11" in (
        fails(data_copy))


def test_a_route_without_its_date(data_copy):
    edit(data_copy / "record.csv", "2024-07-13,2025-02-26,", ",2025-02-26,")
    assert "route died needs death_date" in fails(data_copy)


def test_an_unknown_route_gets_a_suggestion(data_copy):
    edit(data_copy / "record.csv", ",at_large,0,,,,,,,,,", ",at-large,0,,,,,,,,,")
    with pytest.raises(UserError, match="unknown route 'at-large' \\(did you mean 'at_large'\\?\\)"):
        load_table("record", data_copy)


def test_an_unknown_host_code(data_copy):
    edit(data_copy / "record.csv", ",FRA,2010-10-11,", ",FRX,2010-10-11,")
    assert "host_iso3 'FRX' is not a state of un_members.csv or non_un_states.csv" in fails(data_copy)


# --- the docs follow from the data -------------------------------------------------------------------------

@pytest.mark.parametrize("page, name", BLOCKS)
def test_generated_doc_blocks_match_the_data(page, name):
    text = (ROOT / page).read_text(encoding="utf-8")
    body = block_text(text, name)
    assert body is not None, f"{page} lost its <!-- {name}:begin/end --> markers"
    assert body == BLOCKS[(page, name)](), (
        f"{page} [{name}] differs from sim/data; regenerate it with `python -m sim.data.docblocks`")


def test_validation_page_counts_come_from_the_record(npn):
    body = block_text((ROOT / "docs" / "validation.md").read_text(encoding="utf-8"), "record-counts")
    assert body is not None
    assert f"| warrants | 63 | {len(npn)} |" in body and "| route: detained at home, not surrendered | 8 | 7 |" in body


# --- the record's date, person identifiers, every outcome coded as itself ---------------------------------

def test_saif_al_islam_gaddafi_s_death_is_sourced_to_reports_of_its_day(rec):
    saif = rec.set_index("person").loc["Saif al-Islam Gaddafi"]
    assert saif["death_date"] == "2026-02-03" and saif["confidence"] == "high"
    assert "allafrica.com/stories/202602040080" in saif["source"] and "livemint.com" in saif["source"]
    assert record_date() > dt.date(2026, 2, 3)  # the record's date is no longer defined by his death


def test_an_event_after_the_record_s_date_is_refused(data_copy):
    edit(data_copy / "record_date.csv", "2026-02-16,", "2026-01-31,")
    with pytest.raises(UserError, match=r"warrants.csv has outcome_date 2026-02-03, after the record.s date "
                                        r"2026-01-31"):
        record_date(data_copy)


def test_every_spelling_in_the_findings_and_travel_tables_names_one_record_person():
    ids = person_ids()
    rec = load_table("record")
    assert set(rec["person"]) <= set(ids) and len({ids[p] for p in rec["person"]}) == rec["person"].nunique()
    findings = load_table("noncompliance_findings")
    named = {p.strip() for text in findings["person"] for p in text.split(";")}
    for table in ("travel", "travel_called_off"):
        named |= set(load_table(table)["person"])
    assert named <= set(ids)
    assert ids["Osama Elmasry Njeem"] == ids["Osama Elmasry Njeem (Almasri)"]  # Italy's 2025 finding: not 'almasri'
    assert ids["Omar al-Bashir"] == ids["Omar Hassan Ahmad al-Bashir"] != ids["Abdel Raheem Muhammad Hussein"]


def test_an_unknown_spelling_and_a_person_without_identifier_are_refused(data_copy):
    with pytest.raises(UserError, match=r"names 'Omar Bashir', which sim/data/persons\.csv does not list"):
        person_id("Omar Bashir", "travel", person_ids(data_copy))
    path = data_copy / "persons.csv"
    path.write_text("".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                            if not line.startswith("Vladimir Putin,")), encoding="utf-8")
    with pytest.raises(UserError, match=r"persons\.csv has no row for the record's Vladimir Putin"):
        person_ids(data_copy)


def test_a_bad_person_identifier_and_a_bad_span_of_years_are_refused(data_copy):
    edit(data_copy / "persons.csv", ",vladimir-putin,", ",Vladimir Putin,")
    with pytest.raises(UserError, match="bad person_id 'Vladimir Putin'"):
        load_table("persons", data_copy)
    edit(data_copy / "travel_called_off.csv", ",2009-2010,", ",2010-2009,")
    with pytest.raises(UserError, match="bad date '2010-2009' in date"):
        load_table("travel_called_off", data_copy)


def _outcomes_of(person: str) -> list[str]:
    o = outcomes()
    return [f"{k} {d}" for k, d in zip(o.loc[o["person"] == person, "outcome"], o.loc[o["person"] == person, "date"])]


def test_outcomes_hidden_by_the_route_s_precedence_are_kept():
    """The referee's cases: an inadmissibility after an extradition home, a host's arrest and release before a
    detention at home, a vacated warrant after a release from detention, a death after a release."""
    assert _outcomes_of("Abdullah Al-Senussi") == ["arrested_abroad 2012-03-17", "extradited_home 2012-09-05",
                                                   "withdrawn 2013-10-11"]
    assert _outcomes_of("Osama Elmasry Njeem (Almasri)") == [
        "arrested_abroad 2025-01-19", "released_by_host 2025-01-21", "detained_at_home 2025-11-05"]
    assert _outcomes_of("Simone Gbagbo") == ["detained_at_home 2011-04-11", "left_detention 2018-08-08",
                                             "withdrawn 2021-07-19"]
    assert _outcomes_of("Saif al-Islam Gaddafi") == ["detained_at_home 2011-11-19", "left_detention 2017-06-09",
                                                     "died 2026-02-03"]
    assert _outcomes_of("Charles Ble Goude") == ["arrested_abroad 2013-01-17", "extradited_home 2013-01",
                                                 "surrendered_by_home 2014-03-22"]
    assert _outcomes_of("Maxime Jeoffroy Eli Mokom Gawaka") == [
        "arrested_abroad 2022-03-14", "surrendered_by_host 2022-03-14", "withdrawn 2023-10-17"]
    assert set(outcomes()["outcome"]) == set(OUTCOME_KINDS)


def test_regime_changes_are_dated_and_sourced():
    changes = load_table("regime_changes")
    assert {"SDN", "LBY", "CIV", "PHL"} <= set(changes["home_iso3"])
    sudan = changes[changes["home_iso3"] == "SDN"]["date"].min()
    assert sudan == "2019-04-11" == record().set_index("person").at["Omar Hassan Ahmad al-Bashir", "detained_date"]
    assert (changes["source"].str.len() > 10).all()
