"""The historical scenarios: valid experiment configs that run end to end with both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.model.roster import build_roster
from sim.experiments.config import load_experiment, params_from_file

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
# scenario file -> (home, roster date, accused who are heads of state, parties among UN members at the date)
SCENARIOS = {
    "scenario_2023_ukraine.toml": ("RUS", "2023-03-17", [1, 0], 121),
    "scenario_2009_darfur.toml": ("SDN", "2009-03-04", [1], 107),
}


@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_sets_up_the_historical_case(file):
    home, date, head_of_state, members = SCENARIOS[file]
    params = params_from_file(EXPERIMENTS / file)
    assert params["scenario.roster"] == "real" and params["scenario.date"] == date
    assert params["scenario.home"] == home and params["accused.head_of_state"] == head_of_state
    roster = build_roster(params)
    assert roster.codes[roster.home] == home and roster.n_members == members
    assert 0 < roster.partner.sum() < 193 - members


@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_is_a_valid_sweep(file):
    experiment = load_experiment(EXPERIMENTS / file)
    assert experiment.sampler == "grid" and experiment.n_points >= 2 and experiment.swept
    assert experiment.name == Path(file).stem
    for params in experiment.params:
        assert params["scenario.home"] == SCENARIOS[file][0]


@pytest.mark.parametrize("engine, replicates", [("mesa", 3), ("vectorized", 50)])
@pytest.mark.parametrize("file", SCENARIOS)
def test_scenario_runs_end_to_end(file, engine, replicates):
    _, _, head_of_state, members = SCENARIOS[file]
    params = params_from_file(EXPERIMENTS / file)
    frame = sim.simulate(params, replicates=replicates, seed=7, engine=engine)
    assert len(frame) == replicates * len(head_of_state)
    assert frame["members_final"].le(members).all()  # withdrawn states never rejoin, nobody joins
    assert frame["trips"].ge(frame["trips_to_members"]).all()
    again = sim.simulate(params, replicates=replicates, seed=7, engine=engine)
    assert frame.equals(again)


@pytest.mark.parametrize("file", SCENARIOS)
def test_single_mesa_run_from_the_cli(file, tmp_path, capsys):
    status = main(["run", "--config", str(EXPERIMENTS / file), "--seed", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    home = "Russia" if "ukraine" in file else "Sudan"
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
