"""The historical scenarios: valid experiment configs that run end to end with every engine, the same replicates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.data.real import parties_at
from sim.data.record import record
from sim.experiments.config import load_experiment, params_from_file
from sim.model.roster import build_roster

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
# scenario file -> (home, roster date, heads of state among the accused, states in the roster, parties,
# number of partners, the record's persons it represents (record.csv rows), home.fallen_at_issue)
SCENARIOS = {
    "scenario_2009_darfur.toml": ("SDN", "2009-03-04", [1], 193, 108, 63, ["Omar Hassan Ahmad al-Bashir"], 0.0),
    "scenario_2011_libya.toml": ("LBY", "2011-06-27", [1, 0, 0], 193, 114, 51,
                                 ["Muammar Gaddafi", "Saif al-Islam Gaddafi", "Abdullah Al-Senussi"], 0.0),
    "scenario_2011_cote_divoire.toml": ("CIV", "2011-11-23", [0, 0, 0], 194, 117, 0,
                                        ["Laurent Gbagbo", "Charles Ble Goude", "Simone Gbagbo"], 1.0),
    "scenario_2023_ukraine.toml": ("RUS", "2023-03-17", [1, 0], 195, 123, 8, ["Vladimir Putin", "Maria Lvova-Belova"],
                                   0.0),
    "scenario_2024_palestine.toml": ("ISR", "2024-11-21", [1, 0], 195, 124, 2, ["Benjamin Netanyahu", "Yoav Gallant"],
                                     0.0),
    "scenario_2025_philippines.toml": ("PHL", "2025-03-07", [0], 195, 125, 0, ["Rodrigo Roa Duterte"], 1.0),
    "scenario_2014_darfur_banda.toml": ("SDN", "2014-09-11", [0], 194, 122, 64, ["Abdallah Banda Abakaer Nourain"],
                                        0.0),
    "scenario_2022_georgia.toml": ("RUS", "2022-06-24", [0, 0, 0], 195, 123, 8,
                                   ["Mikhail Mayramovich Mindzaev", "Gamlet Guchmazov", "David Georgiyevich Sanakoev"],
                                   0.0),
    "scenario_2023_libya.toml": ("LBY", "2023-07-01", [0, 0, 0, 0, 0, 0], 195, 123, 21,
                                 ["Abdurahem Khalefa Abdurahem Elshgagi (Al Kani)", "Makhlouf Makhlouf Arhoumah Doumah",
                                  "Abdelbari Ayyad Ramadan Al Shaqaqi", "Fathi Faraj Mohamed Salim Al Zinkal",
                                  "Nasser Muhammad Muftah Daou", "Mohamed Mohamed Al Salheen Salmi"], 0.0),
    "scenario_2024_ukraine_kobylash_sokolov.toml": ("RUS", "2024-03-05", [0, 0], 195, 124, 8,
                                                    ["Sergei Kobylash", "Viktor Sokolov"], 0.0),
    "scenario_2024_ukraine_shoigu_gerasimov.toml": ("RUS", "2024-06-24", [0, 0], 195, 124, 9,
                                                    ["Sergei Shoigu", "Valery Gerasimov"], 0.0),
}


def test_every_scenario_config_is_listed():
    assert {p.name for p in EXPERIMENTS.glob("scenario_*.toml")} == set(SCENARIOS)


@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_sets_up_the_historical_case(file):
    home, date, head_of_state, states, parties, partners, _, fallen = SCENARIOS[file]
    params = params_from_file(EXPERIMENTS / file)
    assert params["scenario.roster"] == "real" and params["scenario.date"] == date
    assert params["scenario.home"] == home and params["accused.head_of_state"] == head_of_state
    assert params["home.fallen_at_issue"] == fallen
    roster = build_roster(params)
    assert roster.codes[roster.home] == home and not roster.member[roster.home]
    assert roster.n_states == states and roster.n_members == parties == len(parties_at(date))
    assert roster.partner.sum() == partners


@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_matches_its_rows_of_the_record(file):
    """The accused are the record's warrants of the situation: home, head-of-state flags, fallen government,
    and each is a national of a non-party (or former party) at issue."""
    home, date, head_of_state, _, _, _, persons, fallen = SCENARIOS[file]
    rec = record().query("kind == 'warrant'").set_index("person").loc[persons]  # Banda: a summons, then a warrant
    assert (rec["home_iso3"] == home).all() and rec["non_party_national"].all()
    assert rec["head_of_state"].astype(int).tolist() == head_of_state
    assert (rec["fallen_at_issue"].fillna(False).astype(bool) == bool(fallen)).all()  # NA: not an official
    assert str(rec["warrant_day"].min().date()) == date
    text = (EXPERIMENTS / file).read_text(encoding="utf-8")
    assert all(p in text for p in persons) and "sim/data/record.csv" in text


@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_is_a_valid_sweep(file):
    experiment = load_experiment(EXPERIMENTS / file)
    assert experiment.sampler == "grid" and experiment.n_points >= 2 and experiment.swept
    assert experiment.name == Path(file).stem
    for params in experiment.params:
        assert params["scenario.home"] == SCENARIOS[file][0]


@pytest.mark.parametrize("engine, replicates", [("mesa", 2), ("vectorized", 20), ("fused", 20)])
@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_runs_end_to_end(file, engine, replicates):
    _, _, head_of_state, _, parties, _, _, _ = SCENARIOS[file]
    params = params_from_file(EXPERIMENTS / file)
    frame = sim.simulate(params, replicates=replicates, seed=7, engine=engine)
    assert len(frame) == replicates * len(head_of_state)
    assert frame["members_final"].le(parties).all()  # withdrawn states never rejoin, nobody joins (accession off)
    assert frame["trips"].ge(frame["trips_to_members"]).all()
    again = sim.simulate(params, replicates=replicates, seed=7, engine=engine)
    assert frame.equals(again)
    if engine != "vectorized":  # the same replicates as the NumPy core (discrete outcomes; tests/test_protocol.py)
        core = sim.simulate(params, replicates=replicates, seed=7, engine="vectorized")
        discrete = [c for c in frame.columns if c != "legitimacy_final"]
        pd.testing.assert_frame_equal(frame[discrete], core[discrete])


@pytest.mark.parametrize("file", SCENARIOS)
def test_single_mesa_run_from_the_cli(file, tmp_path, capsys):
    status = main(["run", "--config", str(EXPERIMENTS / file), "--seed", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    home = {"RUS": "Russia", "SDN": "Sudan", "LBY": "Libya", "CIV": "Côte d'Ivoire", "ISR": "Israel",
            "PHL": "Philippines"}[SCENARIOS[file][0]]
    assert f"home: {home}" in out
    assert (tmp_path / "events.csv").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_runs_as_a_sweep(file, tmp_path):
    """The scenario's own [sweep] grid through `python -m sim sweep` (fewer replicates)."""
    import pandas as pd

    text = (EXPERIMENTS / file).read_text(encoding="utf-8")
    small = tmp_path / file
    small.write_text(text.replace("replicates = 1000", "replicates = 20"), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sweep", str(small), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    n_points = load_experiment(small).n_points
    assert summary["point"].nunique() == n_points and (summary["n"] == 20).all()
