"""The sourced tables load, carry their sources, and a damaged copy fails with one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim.data.real import parties_at
from sim.data.tables import DATA_DIR, TABLES, load_table
from sim.errors import UserError


@pytest.fixture
def data_copy(tmp_path):
    """A writable copy of sim/data/'s CSVs to damage."""
    for spec in TABLES.values():
        shutil.copy(DATA_DIR / spec.file, tmp_path / spec.file)
    return tmp_path


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


@pytest.mark.parametrize("name, rows", [("un_members", 193), ("states_parties", 127), ("warrants", 71),
                                        ("noncompliance_findings", 23), ("signatories_unsigned", 4),
                                        ("non_un_states", 2), ("memberships", 45), ("record", 72), ("recoding", 27)])
def test_tables_load_with_sources(name, rows):
    table = load_table(name)
    assert len(table) == rows
    if name != "recoding":  # a table of reasons about record.csv's rows, whose sources hold
        assert {"source", "confidence"} <= set(table.columns)
        assert (table["source"] != "").all()


def test_un_admission_dates_after_the_statute_are_the_four_known_ones():
    un = load_table("un_members").set_index("iso3")
    late = un[un["un_admission_date"] > "2002-07-01"]["un_admission_date"].to_dict()
    assert late == {"CHE": "2002-09-10", "TLS": "2002-09-27", "MNE": "2006-06-28", "SSD": "2011-07-14"}
    assert (un["un_admission_source"] != "").all() and un.at["USA", "un_admission_date"] == "1945-10-24"


def test_non_un_parties_are_parties_and_not_un_members():
    other = load_table("non_un_states")
    assert set(other["iso3"]) == {"COK", "PSE"} and not set(other["iso3"]) & set(load_table("un_members")["iso3"])
    assert set(other["iso3"]) <= set(load_table("states_parties")["iso3"])


@pytest.mark.parametrize("date, parties", [
    ("2002-07-01", 66),  # entry into force: 66 instruments deposited by 11 April 2002 (art. 126(1))
    ("2009-03-04", 108),  # al-Bashir warrant; published figure 108
    ("2017-10-26", 124), ("2017-10-27", 123),  # Burundi's withdrawal effective 2017-10-27
    ("2019-03-16", 123), ("2019-03-17", 122),  # the Philippines', effective 2019-03-17
    ("2023-03-17", 123),  # Putin warrant; published figure 123
    ("2026-06-01", 125), ("2026-06-02", 124),  # Hungary's, effective 2026-06-02
])
def test_parties_at_known_dates(date, parties):
    assert len(parties_at(date)) == parties


def test_parties_at_rejects_a_bad_date():
    with pytest.raises(UserError, match="date YYYY-MM-DD"):
        parties_at("2023-02-30")


def test_unknown_table_is_named_with_a_suggestion():
    with pytest.raises(UserError, match="did you mean warrants"):
        load_table("warrant")


def fails(name: str, folder: Path) -> str:
    with pytest.raises(UserError) as info:
        load_table(name, folder)
    message = str(info.value)
    assert "\n" not in message and message.endswith("; fix the file or restore it from git")
    return message


def test_missing_column(data_copy):
    edit(data_copy / "states_parties.csv", "entry_into_force_date,", "eif_date,")
    assert "states_parties.csv row 1: missing column 'entry_into_force_date'" in fails("states_parties", data_copy)


def test_bad_date_names_file_row_and_column(data_copy):
    # Albania is on row 3 (header row 1, Afghanistan row 2)
    edit(data_copy / "states_parties.csv", "ALB,2003-01-31,2003-05-01", "ALB,2003-01-31,2003-13-01")
    msg = fails("states_parties", data_copy)
    assert "states_parties.csv row 3: bad date '2003-13-01' in entry_into_force_date" in msg


def test_impossible_day_is_a_bad_date(data_copy):
    edit(data_copy / "warrants.csv", "2023-03-17,warrant", "2023-02-30,warrant")
    assert "bad date '2023-02-30' in warrant_date" in fails("warrants", data_copy)


def test_duplicate_code(data_copy):
    edit(data_copy / "un_members.csv", "Albania,ALB,", "Albania,AFG,")
    msg = fails("un_members", data_copy)
    assert "un_members.csv row 3: duplicate iso3 'AFG' (also on row 2)" in msg


def test_duplicate_person(data_copy):
    edit(data_copy / "warrants.csv", "Maria Lvova-Belova,", "Vladimir Putin,")
    assert "duplicate person 'Vladimir Putin'" in fails("warrants", data_copy)


def test_bad_iso3_code(data_copy):
    edit(data_copy / "states_parties.csv", "Andorra,AND,", "Andorra,And,")
    assert "row 4: bad ISO3 code 'And' in iso3" in fails("states_parties", data_copy)


def test_unknown_region_gets_a_suggestion(data_copy):
    edit(data_copy / "states_parties.csv", ",Eastern Europe,", ",Eastern European,")
    msg = fails("states_parties", data_copy)
    assert "unknown region 'Eastern European'" in msg and "did you mean 'Eastern Europe'" in msg


def test_bad_membership_flag(data_copy):
    edit(data_copy / "un_members.csv", "Afghanistan,AFG,Asia-Pacific,0,", "Afghanistan,AFG,Asia-Pacific,yes,")
    assert "row 2: au must be 0 or 1, got 'yes'" in fails("un_members", data_copy)


def test_missing_row_changes_the_count(data_copy):
    path = data_copy / "un_members.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")
    assert "192 data rows, expected 193" in fails("un_members", data_copy)


def test_withdrawal_effective_before_notice(data_copy):
    edit(data_copy / "states_parties.csv", "2016-10-27,2017-10-27", "2016-10-27,2015-10-27")
    assert "withdrawal_effective_date 2015-10-27 is before withdrawal_notified_date" in fails(
        "states_parties", data_copy)


def test_missing_file(data_copy):
    (data_copy / "warrants.csv").unlink()
    with pytest.raises(UserError, match=r"warrants.csv does not exist; restore it from git"):
        load_table("warrants", data_copy)


def test_row_with_an_extra_field(data_copy):
    edit(data_copy / "signatories_unsigned.csv", "Israel,ISR,", "Israel,ISR,ISR,")
    assert "signatories_unsigned.csv row 3: malformed CSV" in fails("signatories_unsigned", data_copy)


def test_a_repaired_file_loads_again(data_copy):
    """The cache is keyed by the file's content stamp: a fixed file is read afresh."""
    path = data_copy / "states_parties.csv"
    good = path.read_text(encoding="utf-8")
    edit(path, "ALB,2003-01-31,2003-05-01", "ALB,2003-01-31,2003-13-01")
    fails("states_parties", data_copy)
    path.write_text(good, encoding="utf-8")
    assert len(load_table("states_parties", data_copy)) == 127


def test_cli_reports_a_damaged_table_in_one_line(data_copy, monkeypatch, capsys):
    """The real roster read through the CLI: a damaged file is one line on stderr and exit status 2."""
    import sim.data.tables
    from sim.cli import main

    edit(data_copy / "states_parties.csv", "ALB,2003-01-31,2003-05-01", "ALB,2003-01-31,2003-13-01")
    monkeypatch.setattr(sim.data.tables, "DATA_DIR", data_copy)
    assert main(["run", "--set", 'scenario.roster="real"']) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "row 3: bad date '2003-13-01' in entry_into_force_date" in lines[0]
    assert captured.out == ""


def test_bad_un_admission_date(data_copy):
    edit(data_copy / "un_members.csv", ",2011-07-14,", ",2011-07-32,")
    assert "bad date '2011-07-32' in un_admission_date" in fails("un_members", data_copy)


def test_unknown_organisation_in_memberships_gets_a_suggestion(data_copy):
    edit(data_copy / "memberships.csv", "MAR,au,", "MAR,AU,")
    msg = fails("memberships", data_copy)
    assert "memberships.csv row 3: unknown group 'AU'" in msg


def test_duplicate_membership(data_copy):
    edit(data_copy / "memberships.csv", "MAR,au,", "SSD,au,")
    assert "duplicate iso3 + group 'SSD / au' (also on row 2)" in fails("memberships", data_copy)


def test_non_un_state_with_an_unknown_region(data_copy):
    edit(data_copy / "non_un_states.csv", "Palestine,PSE,Asia-Pacific,", "Palestine,PSE,Asia Pacific,")
    msg = fails("non_un_states", data_copy)
    assert "unknown region 'Asia Pacific'" in msg and "did you mean 'Asia-Pacific'" in msg


def test_recoding_names_a_record_column(data_copy):
    edit(data_copy / "recoding.csv", "2009-03-04,route,", "2009-03-04,rout,")
    assert "unknown field 'rout' (did you mean 'route'?)" in fails("recoding", data_copy)


# sha256 of the shared data set's files (../shared/data/, early 2026): the project's copies keep them unchanged,
# un_members.csv once its added un_admission_* columns are dropped.
SHARED_SHA256 = {
    "warrants.csv": "73d10d956289d76606de4b07cddf11b2ac4b2d0058ba9ca4ac5d6e02deb563b4",
    "states_parties.csv": "3581a9264f6617ebbf55fd85d5479a40ca292fe8ac0b5b56e6b0e8d87483387a",
    "noncompliance_findings.csv": "1bd602945a0b5508b4c0fb271b19b6b7c4ab93da820126746e72d96b1863cd2b",
    "signatories_unsigned.csv": "491fa56147876beb4601e97d110f1627d2d70cd836a4b26dc87229bcc1aef9ec",
    "un_members.csv": "a8bc33e2f78ec92c2b28298d0b8f38717cdd0ba769367a138c22b4d994c2c8d5",
    "travel.csv": "cce010980117a3f3e72f4e2bd0d201ca3eb1435c6515ae48d8fac2576765b5c8",
    "travel_called_off.csv": "f4a10c7cf728bd6d51e07ed9b8a3a3f5e9cd4585cc09cf06c1563d119371dc95",
}


@pytest.mark.parametrize("file", SHARED_SHA256)
def test_shared_tables_are_unchanged(file):
    import csv
    import hashlib
    import io

    data = (DATA_DIR / file).read_bytes()
    if file == "un_members.csv":
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        shared = [c for c in rows[0] if not c.startswith("un_admission_")]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=shared, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        data = out.getvalue().encode("utf-8")
    assert hashlib.sha256(data).hexdigest() == SHARED_SHA256[file], (
        f"sim/data/{file} no longer holds the shared data set's facts; add columns or rows with their sources "
        "instead of changing a shared one")
