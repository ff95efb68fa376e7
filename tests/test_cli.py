"""The CLI: a readable single run, its files, and one clear line with exit 2 for every kind of bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

BAD_CONFIGS = {
    "not_toml.toml": ("[parameters\nx = 1", "is not valid TOML"),
    "unknown_param.toml": ('[parameters]\n"court.legitimacy" = 0.5\n', "did you mean court.legitimacy0?"),
    "out_of_range.toml": ('[parameters]\n"arrest.duty" = 500.0\n', "arrest.duty = 500.0 is out of range"),
    "wrong_type.toml": ('[parameters]\n"court.finding_prob" = "often"\n', "court.finding_prob must be a number"),
    "bad_roster.toml": ('[scenario]\nroster = "moon"\n', "scenario.roster must be one of"),
    "nested_unknown.toml": ("[parameters.court]\nlegitimacy00 = 0.5\n", "unknown parameter 'court.legitimacy00'"),
    "not_a_table.toml": ("parameters = 3\n", "must be a table, got parameters = 3"),
    "short_list.toml": ('[parameters]\n"accused.trip_rate" = [0.5]\n', "one common length"),
}
BAD_OVERRIDES = [
    (["--set", "court.legitimacy0"], "--set expects name=value"),
    (["--set", "court.legitimacy=0.5"], "did you mean court.legitimacy0?"),
    (["--set", "court.legitimacy0=2"], "court.legitimacy0 = 2 is out of range [0, 1]"),
    (["--set", "scenario.n_states=many"], "scenario.n_states must be an integer"),
    (["--set", "accused.trip_rate[3]=1"], "index 3 is out of range"),
    (["--seed", "x"], "invalid int value"),
    (["--config", "/no/such/file.toml"], "does not exist"),
    (["--bogus"], "unrecognized arguments"),
]


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_gives_one_line_and_exit_2(tmp_path, capsys, name):
    text, message = BAD_CONFIGS[name]
    path = tmp_path / name
    path.write_text(text)
    code, _out, err = _run(["run", "--config", str(path)], capsys)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("argv, message", BAD_OVERRIDES)
def test_bad_overrides_give_one_line_and_exit_2(capsys, argv, message):
    try:
        code, _out, err = _run(["run", *argv], capsys)
    except SystemExit as exc:  # argparse errors exit from inside parse_args
        code, err = exc.code, capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_errors_in_a_real_process_print_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", "run", "--set", "arrest.dutyy=1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "error: unknown parameter 'arrest.dutyy' (did you mean arrest.duty?); " \
                          "`python -m sim params` lists them\n"


def test_run_tells_the_story_and_writes_its_files(tmp_path, capsys):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[experiment]\nname = "x"\n[scenario]\nn_states = 40\nhorizon_months = 36\n'
                   '[parameters]\n"home.turnover_rate" = 0.05\n')
    code, out, err = _run(["run", "--config", str(cfg), "--seed", "3", "--out", str(tmp_path / "o"),
                           "--set", "court.legitimacy0=0.8"], capsys)
    assert code == 0, err
    assert out.startswith("Seed 3 (the same seed and parameters replay this run).\n")
    assert "36 months, 40 states" in out and "The head of state:" in out and "Court legitimacy: 0.80" in out
    events = pd.read_csv(tmp_path / "o" / "events.csv")
    series = pd.read_csv(tmp_path / "o" / "series.csv")
    outcome = json.loads((tmp_path / "o" / "outcome.json").read_text())
    assert list(events.columns) == ["t", "event", "actor", "target", "detail"]
    assert len(series) == 36
    assert outcome["parameters"]["court.legitimacy0"] == 0.8 and outcome["seed"] == 3
    assert len(outcome["accused"]) == 2
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["parameters"]["scenario.n_states"] == 40
    assert set(manifest["outputs"]) == {"events.csv", "series.csv", "outcome.json"}
    # the same seed and parameters give the same story
    _code2, out2, _ = _run(["run", "--config", str(cfg), "--seed", "3", "--set", "court.legitimacy0=0.8"], capsys)
    assert out2 == out.split("Wrote")[0]


def test_a_missing_dependency_is_one_line_saying_to_activate_the_virtualenv(tmp_path):
    """`python3 -m sim` outside the virtualenv: numpy cannot be imported (a stand-in numpy that fails)."""
    fake = tmp_path / "site" / "numpy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'numpy'\", name='numpy')\n")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), str(root)])}
    proc = subprocess.run([sys.executable, "-m", "sim", "params"], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"error: the Python package 'numpy' is not installed for {sys.executable}; activate the "
                           "project's virtualenv (. .venv/bin/activate) or install the project there "
                           "(pip install -e .)\n")
    library = subprocess.run([sys.executable, "-c", "import sim"], capture_output=True, text=True, env=env,
                             cwd=tmp_path)  # a library import keeps its traceback, with the hint as a note
    assert library.returncode == 1 and "Traceback" in library.stderr
    assert library.stderr.rstrip().endswith("(pip install -e .)")


def test_params_lists_every_parameter(capsys):
    from sim.model.params import SCHEMA

    code, out, _ = _run(["params"], capsys)
    assert code == 0 and all(p.name in out for p in SCHEMA)


# ------------------------------------------------------------------ a newcomer's first mistakes, each one line


def test_simulate_suggests_the_keyword_meant():
    import sim

    with pytest.raises(TypeError, match=r"unexpected keyword argument 'replicate' \(did you mean replicates\?\)"):
        sim.simulate(replicate=10)
    with pytest.raises(TypeError, match=r"'sead' \(did you mean seed\?\)"):
        sim.simulate(sead=1)
    assert len(sim.simulate({"scenario.horizon_months": 6}, replicates=2, seed=1)) == 4  # known keywords pass


@pytest.mark.parametrize("command, config, makes", [
    ("reproduce", "experiments/baseline.toml", "`python -m sim sweep experiments/baseline.toml` makes the folder "
                                               "(results/baseline/)"),
    ("plot", "experiments/baseline.toml", "`python -m sim sweep experiments/baseline.toml` makes the folder"),
    ("explore", "experiments/sensitivity.toml", "`python -m sim sensitivity experiments/sensitivity.toml` makes"),
    ("plot", "experiments/compare_2023_ukraine.toml", "`python -m sim compare experiments/compare_2023_ukraine.toml`"),
])
def test_a_config_given_for_a_results_folder_names_the_command_that_makes_one(capsys, monkeypatch, command, config,
                                                                              makes):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    code, _out, err = _run([command, config], capsys)
    assert code == 2 and err.count("\n") == 1 and "is an experiment config, not a results folder" in err, err
    assert makes in err, err


@pytest.mark.parametrize("command", [["sweep"], ["run", "--config"], ["sensitivity"], ["compare"]])
def test_a_csv_given_as_a_config_asks_for_the_toml(tmp_path, capsys, command):
    table = tmp_path / "summary.csv"
    table.write_text("point,accused,n\n0,0,10\n")
    code, _out, err = _run([*command, str(table)], capsys)
    assert code == 2 and err.count("\n") == 1 and "is a CSV data file, not an experiment config: give the .toml" in err


@pytest.mark.parametrize("body, where", [
    ('[parameters]\n"court.legitimacy0" = "high"\n', "[parameters] court.legitimacy0 must be a number"),
    ('[sweep]\nsampler = "grid"\n[sweep.grid]\n"court.legitimacy0" = [0.5, 7.0]\n', "[sweep.grid] court.legitimacy0"),
    ('[scenario]\nhorizon_months = -3\n', "[scenario] scenario.horizon_months"),
    ('[experiment]\nreplicates = "ten"\n', "[experiment] replicates must be an integer"),
])
def test_a_config_error_names_its_file_and_key_path(tmp_path, capsys, body, where):
    config = tmp_path / "mine.toml"
    config.write_text(body)
    code, _out, err = _run(["sweep", str(config), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {config}: {where}"), err
    assert not (tmp_path / "out").exists()


def test_a_rerun_without_resume_says_it_starts_over_and_how_to_resume(tmp_path, capsys):
    from tests.test_sweep_config import TINY

    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    argv = ["sweep", str(config), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]
    assert main(argv) == 0
    assert "starting over" not in capsys.readouterr().err  # a new folder: nothing to replace
    assert main(argv) == 0
    err = capsys.readouterr().err
    blocks = len(list((tmp_path / "out" / "blocks").glob("*.parquet")))
    assert f"note: starting over: {blocks} finished block(s) in {tmp_path / 'out' / 'blocks'} are replaced; " \
           "a run with --resume continues from them instead" in err, err
    assert main([*argv, "--resume"]) == 0
    assert "starting over" not in capsys.readouterr().err


def test_plot_advice_is_only_given_for_a_figure_that_can_be_drawn(tmp_path, capsys):
    from sim.studies.figures import draw
    from tests.test_plots import make_results

    folder = make_results(tmp_path / "one", grid={"court.legitimacy0": [0.3, 0.7]}, replicates=10)
    paths = draw(folder, ["heatmap", "curves"])
    err = capsys.readouterr().err
    assert "warning: figure 'heatmap' not drawn: it needs exactly two swept parameters" in err, err
    assert "--kind heatmap" not in err and "redraw" not in err
    assert [p.name for p in paths] == ["curves.png", "curves.svg"]


def test_the_readme_main_job_installs_the_package_alone_and_the_sweep_needs_no_test_tool():
    """The README's first command installs `-e .` only; the sweep's code path imports none of the packages
    the extras bring (test tools, pyabc, numba), so that install is enough for the main job."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    main_job = next(line for line in readme.splitlines() if "sim sweep experiments/baseline.toml" in line)
    assert ".venv/bin/pip install -e . &&" in main_job and "[" not in main_job.split("pip install")[1].split("&&")[0]
    test_line = readme.split("# tests:", 1)[1].split("\n")[:3]
    assert "minutes" in test_line[0] and "slowest" in " ".join(test_line)  # how long, and what dominates
    code = ("import sys\nimport sim.cli.main, sim.cli.sweep, sim.studies.sweep, sim.studies.figures\n"
            "extras = ('pytest', 'hypothesis', 'playwright', 'pyabc', 'numba', 'nbclient', 'solara')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(extras)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
