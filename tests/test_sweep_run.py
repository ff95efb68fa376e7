"""Sweeps end to end: byte-identical outputs whatever the executor, durable resume, manifests, reproduce."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.experiments.config import experiment_from_text
from sim.model.outcomes import COLUMNS
from sim.simulate import simulate
from tests.test_sweep_config import TINY, folder_hashes

ROOT = Path(__file__).resolve().parent.parent
DATA = ("points.parquet", "runs.parquet", "summary.csv")


def sweep(config: Path, out: Path, *extra: str) -> int:
    return main(["sweep", str(config), "--out", str(out), "--quiet", *extra])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny config and a finished in-process sweep of it (the reference outputs)."""
    root = tmp_path_factory.mktemp("tiny")
    config = root / "tiny.toml"
    config.write_text(TINY, encoding="utf-8")
    assert sweep(config, root / "ref", "--workers", "1") == 0
    return config, root / "ref"


def test_process_pool_gives_byte_identical_outputs(tiny, tmp_path):
    config, ref = tiny
    assert sweep(config, tmp_path / "two", "--workers", "2") == 0
    assert {f: sha(tmp_path / "two" / f) for f in DATA} == {f: sha(ref / f) for f in DATA}


@pytest.mark.slow
def test_dask_local_cluster_gives_byte_identical_outputs(tiny, tmp_path):
    config, ref = tiny
    assert sweep(config, tmp_path / "dask", "--scheduler", "local", "--workers", "2") == 0
    assert {f: sha(tmp_path / "dask" / f) for f in DATA} == {f: sha(ref / f) for f in DATA}


def test_runs_follow_the_seeding_contract(tiny):
    """Point p's runs are simulate(point params, seed, point=p): its replicates' own streams, whatever the blocks."""
    _config, ref = tiny
    exp = experiment_from_text(TINY)
    runs = pd.read_parquet(ref / "runs.parquet")
    assert list(runs.columns) == ["point", *COLUMNS]
    assert runs["point"].tolist() == sorted(runs["point"])
    for p in (0, 3):
        expected = simulate(exp.params[p], replicates=exp.replicates, seed=exp.seed, point=p, engine=exp.engine)
        got = runs[runs["point"] == p].drop(columns="point").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected)
    points = pd.read_parquet(ref / "points.parquet")
    assert points[["point", "seed", "stream_point"]].to_dict("list") == {
        "point": [0, 1, 2, 3], "seed": [11] * 4, "stream_point": [0, 1, 2, 3]}


def test_summary_counts_what_the_runs_show(tiny):
    _, ref = tiny
    runs = pd.read_parquet(ref / "runs.parquet")
    summary = pd.read_csv(ref / "summary.csv", dtype={"accused": str})
    assert len(summary) == 4 * 3  # points x (accused 0, 1, all)
    for (point, accused), rows in runs.groupby(["point", "accused"]):
        row = summary[(summary["point"] == point) & (summary["accused"] == str(accused))].iloc[0]
        month = rows["custody_month"].to_numpy(dtype=float, na_value=np.inf)
        assert row["n"] == 6
        for h in (6, 12):
            assert row[f"p_enforced_{h}"] == pytest.approx(np.mean(month < h))
            low, high = row[f"p_enforced_{h}_low"], row[f"p_enforced_{h}_high"]
            assert low - 1e-12 <= row[f"p_enforced_{h}"] <= high + 1e-12  # statsmodels' Wilson has float noise
        assert row["mean_trips"] == pytest.approx(rows["trips"].mean())
        assert row["mean_findings"] == pytest.approx(rows["findings"].mean())


def test_manifest_records_everything_and_hashes_the_outputs(tiny):
    config, ref = tiny
    manifest = json.loads((ref / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["text"] == config.read_text(encoding="utf-8")
    assert manifest["config"]["sha256"] == sha(config)
    assert manifest["outputs"] == {f: sha(ref / f) for f in DATA}
    exp = manifest["experiment"]
    assert (exp["seed"], exp["replicates"], exp["block_size"], exp["engine"]) == (11, 6, 2, "mesa")
    assert manifest["swept"] == ["states.sovereignty_member", "prosecutor.outreach_budget"]
    assert manifest["parameters"]["court.legitimacy0"] == 0.6 and len(manifest["parameters"]) == len(sim.SCHEMA)
    assert manifest["points"][3] == {"point": 3, "values": {"states.sovereignty_member": 0.6,
                                                            "prosecutor.outreach_budget": 3}}
    software = manifest["software"]
    assert software["sim"] == sim.__version__ and software["numpy"] == np.__version__
    assert {"python", "pandas", "mesa", "git_commit"} <= set(software)
    assert manifest["timings"]["blocks_computed"] == 12 and manifest["timings"]["wall_seconds"] > 0


@pytest.mark.slow  # fault injection: a killed process
def test_resume_after_sigkill_gives_byte_identical_outputs(tiny, tmp_path):
    """Kill a sweep (a subprocess) after its first blocks land, resume it, compare with the uninterrupted run."""
    _, _ref = tiny
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.replace("replicates = 6", "replicates = 12").replace("block_size = 2", "block_size = 1"),
                      encoding="utf-8")
    assert sweep(config, tmp_path / "whole", "--workers", "1") == 0
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(config), "--out", str(out), "--workers", "1",
                             "--quiet"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list((out / "blocks").glob("b*.parquet"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    written = list((out / "blocks").glob("b*.parquet"))
    assert proc.returncode == -signal.SIGKILL and 3 <= len(written) < 48, "the kill did not land mid-sweep"
    assert not (out / "manifest.json").exists()
    assert sweep(config, out, "--workers", "1", "--resume") == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["timings"]["blocks_resumed"] >= 3
    assert {f: sha(out / f) for f in DATA} == {f: sha(tmp_path / "whole" / f) for f in DATA}


def test_resume_recomputes_missing_or_broken_blocks_only(tiny, tmp_path, capsys):
    config, ref = tiny
    out = tmp_path / "copy"
    assert sweep(config, out, "--workers", "1") == 0
    (out / "blocks" / "b000005.parquet").unlink()
    (out / "blocks" / "b000006.parquet").write_bytes(b"not parquet")
    (out / "runs.parquet").unlink()
    assert sweep(config, out, "--workers", "1", "--resume") == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["timings"]["blocks_computed"], manifest["timings"]["blocks_resumed"]) == (2, 10)
    assert {f: sha(out / f) for f in DATA} == {f: sha(ref / f) for f in DATA}


def test_resume_with_a_changed_config_is_refused_and_touches_nothing(tiny, tmp_path, capsys):
    config, _ref = tiny
    out = tmp_path / "copy"
    assert sweep(config, out, "--workers", "1") == 0
    before = folder_hashes(out)
    changed = tmp_path / "changed.toml"
    changed.write_text(TINY.replace("seed = 11", "seed = 12"), encoding="utf-8")
    capsys.readouterr()
    assert sweep(changed, out, "--workers", "1", "--resume") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot resume: the config changed") and err.count("\n") == 1
    assert sweep(changed, out, "--workers", "1") == 2  # another experiment's results need --force
    assert "pass --force to overwrite" in capsys.readouterr().err
    assert folder_hashes(out) == before


def test_force_replaces_another_experiment_and_keeps_unrelated_files(tiny, tmp_path, capsys):
    config, _ref = tiny
    out = tmp_path / "copy"
    assert sweep(config, out, "--workers", "1") == 0
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    changed = tmp_path / "changed.toml"
    changed.write_text(TINY.replace("seed = 11", "seed = 12").replace("replicates = 6", "replicates = 2"),
                       encoding="utf-8")
    assert sweep(changed, out, "--workers", "1", "--force") == 0
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    # 4 points x 2 replicates in blocks of 2: the new experiment's four blocks, and none of the old twelve
    assert sorted(p.name for p in (out / "blocks").glob("b*.parquet")) == [f"b00000{b}.parquet" for b in range(4)]
    assert json.loads((out / "manifest.json").read_text())["config"]["sha256"] == sha(changed)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("x", encoding="utf-8")
    capsys.readouterr()
    assert sweep(config, stranger, "--workers", "1") == 2
    assert "holds files that are not this experiment's results" in capsys.readouterr().err
    assert [p.name for p in stranger.iterdir()] == ["thesis.tex"]


def test_reproduce_passes_on_a_fresh_folder_and_names_an_altered_file(tiny, tmp_path, capsys):
    config, _ = tiny
    out = tmp_path / "fresh"
    assert sweep(config, out, "--workers", "1") == 0
    capsys.readouterr()
    assert main(["reproduce", str(out), "--workers", "1", "--quiet"]) == 0
    assert "reproduced (sweep): points.parquet, runs.parquet, summary.csv identical" in capsys.readouterr().out
    summary = out / "summary.csv"
    summary.write_text(summary.read_text(encoding="utf-8").replace(",6,", ",7,", 1), encoding="utf-8")
    assert main(["reproduce", str(out), "--workers", "1", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "differs: summary.csv" in captured.out and "runs.parquet" not in captured.out.split("not reproduced")[0]
    assert "summary.csv has changed since it was written" in captured.err


@pytest.mark.parametrize("damage,expected", [
    (lambda d: (d / "manifest.json").unlink(), "manifest.json is missing"),
    (lambda d: (d / "manifest.json").write_text("{not json", encoding="utf-8"), "is corrupt"),
    (lambda d: (d / "manifest.json").write_text('{"config": {"text": "x", "sha256": "0"}, "outputs": {}}',
                                               encoding="utf-8"), "does not match its recorded sha256"),
])
def test_reproduce_with_a_missing_or_corrupt_manifest_is_one_line_exit_2(tiny, tmp_path, capsys, damage, expected):
    config, _ = tiny
    out = tmp_path / "fresh"
    assert sweep(config, out, "--workers", "1") == 0
    damage(out)
    capsys.readouterr()
    assert main(["reproduce", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1


def test_a_figure_that_fails_is_a_warning_and_the_others_are_drawn(tiny, tmp_path, capsys, monkeypatch):
    import sim.studies.figures as plots

    config = tmp_path / "figs.toml"
    config.write_text(TINY.replace("horizons = [6, 12]", 'horizons = [6, 12]\nfigures = ["heatmap", "routes"]'),
                      encoding="utf-8")
    real = plots.draw_figures

    def heatmap_breaks(folder, kinds):
        if kinds == ["heatmap"]:
            raise RuntimeError("no heatmap today")
        return real(folder, kinds)

    monkeypatch.setattr(plots, "draw_figures", heatmap_breaks)
    capsys.readouterr()
    assert sweep(config, tmp_path / "out", "--workers", "1") == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: figure 'heatmap' skipped (no heatmap today)") and err.count("\n") == 1
    assert (tmp_path / "out" / "figures" / "routes.png").is_file()
    assert not (tmp_path / "out" / "figures" / "heatmap.png").exists()
    assert (tmp_path / "out" / "manifest.json").is_file()
    _, ref = tiny
    assert {f: sha(tmp_path / "out" / f) for f in DATA} == {f: sha(ref / f) for f in DATA}


def test_bad_executor_options_are_refused_before_anything_is_written(tiny, tmp_path, capsys):
    config, _ = tiny
    assert sweep(config, tmp_path / "w0", "--workers", "0") == 2
    assert sweep(config, tmp_path / "s", "--scheduler", "not an address") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: --workers must be at least 1, got 0"
    assert err[1].startswith("error: --scheduler must be 'local' or a Dask scheduler address")
    assert not (tmp_path / "w0").exists() and not (tmp_path / "s").exists()


VECTOR = TINY.replace('engine = "mesa"', 'engine = "vectorized"')


def test_batched_points_give_the_same_runs_whatever_the_block_size(tmp_path):
    """A design of many points with few replicates: blocks of 1 row, of 5 rows (straddling points) and of
    every row at once give byte-identical outputs (each row on its own stream)."""
    base = VECTOR.replace("replicates = 6", "replicates = 3")
    outs = []
    for size in (1, 5, 1000):
        config = tmp_path / f"b{size}.toml"
        config.write_text(base.replace("block_size = 2", f"block_size = {size}"), encoding="utf-8")
        assert sweep(config, tmp_path / f"o{size}", "--workers", "1") == 0
        outs.append({f: sha(tmp_path / f"o{size}" / f) for f in ("runs.parquet", "summary.csv")})
    assert outs[0] == outs[1] == outs[2]


def test_common_random_numbers_share_streams_and_are_byte_identical_across_executors(tmp_path):
    """With common random numbers every point uses point 0's streams: two points with the same parameters
    have identical runs (without, they differ); files are the same in process, on two workers and on Dask."""
    config = tmp_path / "crn.toml"
    crn = VECTOR.replace('"prosecutor.outreach_budget" = [0, 3]', '"arrest.immunity" = [1.0, 1.0000001]') \
        .replace('sampler = "grid"', 'sampler = "grid"\ncommon_random_numbers = true')
    config.write_text(crn, encoding="utf-8")
    hashes = []
    for name, extra in (("one", ("--workers", "1")), ("two", ("--workers", "2")), ("dask", ("--scheduler", "local",
                                                                                              "--workers", "2"))):
        assert sweep(config, tmp_path / name, *extra) == 0
        hashes.append({f: sha(tmp_path / name / f) for f in DATA})
    assert hashes[0] == hashes[1] == hashes[2]
    runs = pd.read_parquet(tmp_path / "one" / "runs.parquet")
    a = runs[runs["point"] == 0].drop(columns="point").reset_index(drop=True)
    b = runs[runs["point"] == 1].drop(columns="point").reset_index(drop=True)
    assert (a["trips"] == b["trips"]).all() and (a["custody_month"].fillna(-1) == b["custody_month"].fillna(-1)).all()
    plain = tmp_path / "plain.toml"
    plain.write_text(crn.replace("common_random_numbers = true", ""), encoding="utf-8")
    assert sweep(plain, tmp_path / "plain", "--workers", "1") == 0
    runs = pd.read_parquet(tmp_path / "plain" / "runs.parquet")
    assert not (runs[runs["point"] == 0]["trips"].to_numpy() == runs[runs["point"] == 1]["trips"].to_numpy()).all()
    assert pd.read_parquet(tmp_path / "one" / "points.parquet")["stream_point"].tolist() == [0, 0, 0, 0]
