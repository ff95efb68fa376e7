"""One home-partners definition (sim/data/home_partners.csv): dated, sourced, and the same in every scenario
config and in the calibration's design."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim.data.partners import HOME_PARTNERS, home_partners
from sim.data.tables import DATA_DIR, TABLES, load_table
from sim.errors import UserError
from sim.experiments.config import load_experiment
from sim.model.roster import build_roster

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_copy(tmp_path):
    for spec in TABLES.values():
        shutil.copy(DATA_DIR / spec.file, tmp_path / spec.file)
    return tmp_path


def test_russia_s_partners_are_dated_one_definition():
    assert home_partners("RUS", "2023-03-17") == ("csto", "CHN", "IRN", "SYR")
    assert home_partners("RUS", "2024-06-24") == ("csto", "CHN", "IRN", "SYR", "PRK")  # the treaty of 2024-06-19
    assert home_partners("RUS", "2024-12-08") == ("csto", "CHN", "IRN", "PRK")  # Syria's government fell that day
    assert home_partners("LBY", "2011-06-27") == ("au",) and home_partners("LBY", "2023-07-01") == ("arab_league",)
    assert home_partners("CIV", "2011-11-23") == ()


def test_every_row_has_a_source_and_every_record_home_a_definition():
    from sim.data.record import record

    table = load_table("home_partners")
    assert (table["source"] != "").all()
    homes = set(record().query("non_party_national and kind == 'warrant'")["home_iso3"])
    assert homes <= set(table["home_iso3"]), homes - set(table["home_iso3"])


def test_a_home_without_a_row_is_one_clear_line():
    with pytest.raises(UserError, match=r"home_partners\.csv has no row for the home state USA"):
        home_partners("USA", "2024-01-01")


def _partner_codes(params) -> set[str]:
    roster = build_roster(params)
    return {c for c, p in zip(roster.codes, roster.partner) if p}


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "experiments").glob("scenario_*.toml")))
def test_every_scenario_uses_the_table(config):
    base = load_experiment(ROOT / "experiments" / config).base
    assert base["scenario.partners"] == [HOME_PARTNERS]
    explicit = base.replace({"scenario.partners": list(home_partners(base["scenario.home"], base["scenario.date"]))})
    assert _partner_codes(base) == _partner_codes(explicit)


def test_the_calibration_and_the_scenarios_give_a_run_the_same_partners():
    """Every run of the calibration's design has the partners a scenario on its date and home state gets."""
    from sim.studies.calibration.config import load_calibration
    from sim.studies.calibration.design import build_design

    cal = load_calibration(ROOT / "experiments" / "calibration.toml")
    assert not cal.selection.partners  # the config names none: the table decides
    design = build_design(cal.selection, cal.base)
    ukraine = load_experiment(ROOT / "experiments" / "scenario_2023_ukraine.toml").base
    for run in design.runs:
        scenario = ukraine.replace({"scenario.date": run.date, "scenario.home": run.home})
        assert _partner_codes(run.params) == _partner_codes(scenario), run.key
    putin = next(r for r in design.runs if r.key == "RUS 2023-03-17")
    assert putin.params["scenario.partners"] == ["csto", "CHN", "IRN", "SYR"]


def test_home_partners_combines_with_other_partners_and_misspellings_get_a_hint():
    from sim.data.real import real_roster

    both = real_roster("2023-03-17", "RUS", ["home_partners", "PRK"])
    alone = real_roster("2023-03-17", "RUS", ["home_partners"])
    assert both.partner.sum() == alone.partner.sum() + 1
    with pytest.raises(UserError, match="did you mean home_partners"):
        real_roster("2023-03-17", "RUS", ["home_partner"])


@pytest.mark.parametrize("old, new, message", [
    ("RUS,SYR,2015-09-30,2024-12-08", "RUS,SYR,2015-09-30,2015-09-01", "to_date 2015-09-01 is not after"),
    ("RUS,csto,", "RUS,cst,", "partner 'cst' is not an organisation"),
    ("CIV,none,", "CIV,none,,,x,high,\nCIV,GHA,", "CIV has a row 'none' and partners too"),
])
def test_a_damaged_table_fails_with_one_line(data_copy, old, new, message):
    path = data_copy / "home_partners.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(UserError, match=message):
        load_table("home_partners", data_copy)
