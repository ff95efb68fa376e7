"""Results are never lost or mislabelled: each probe of docs/reliability.md, from the command line.

Every bad input ends in one line and exit 2 with no byte of an existing results folder changed; a
rerun deletes only files the tool wrote; nothing is trusted that was not verified.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.cli import main
from sim.errors import UserError
from sim.experiments import runner, store
from sim.experiments.blocks import BLOCK_KEY
from sim.experiments.config import experiment_from_text
from sim.experiments.executors import available_cores, worker_count
from sim.experiments.layout import DATA_FILES
from sim.experiments.results import load_results
from tests.test_sweep_config import TINY, folder_hashes

ROOT = Path(__file__).resolve().parent.parent
DATA = DATA_FILES
FIGS = TINY.replace("horizons = [6, 12]", 'horizons = [6, 12]\nfigures = ["routes"]')


def one_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def sweep(config: Path, out: Path | str, *extra: str) -> int:
    return main(["sweep", str(config), "--out", str(out), "--quiet", "--workers", "1", *extra])


def data_hashes(folder: Path) -> dict[str, str]:
    return {f: store.sha256(folder / f) for f in DATA}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A config (with a figure) and the complete results folder of its sweep."""
    root = tmp_path_factory.mktemp("made")
    config = root / "tiny.toml"
    config.write_text(FIGS, encoding="utf-8")
    assert sweep(config, root / "ref") == 0
    return config, root / "ref"


@pytest.fixture
def done(made, tmp_path):
    """A fresh copy of the complete folder, and its config."""
    config, ref = made
    out = tmp_path / "out"
    shutil.copytree(ref, out)
    return config, out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- 1. data loss before validation -------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    (["--scheduler", "tcp://127.0.0.1:1"], "cannot reach the Dask scheduler"),
    (["--scheduler", "tcp://127.0.0.1:70000"], "port 70000 is not a TCP port"),
    (["--workers", "0"], "--workers must be at least 1"),
])
def test_a_rerun_that_fails_on_bad_options_leaves_a_complete_folder_as_it_was(done, capsys, extra, message):
    config, out = done
    before = folder_hashes(out)
    capsys.readouterr()
    assert message in one_line(sweep(config, out, *extra), capsys.readouterr().err)
    assert folder_hashes(out) == before


@pytest.mark.parametrize("scenario, message", [
    ('roster = "real"\nhome = "XYZ"', "unknown scenario.home 'XYZ'"),
    ('roster = "real"\nhome = "DEU"', "is a state party on 2023-03-17"),
    ('roster = "real"\ndate = 1999-01-01', "lies outside the sourced data"),
    ('roster = "real"\ndate = 2999-01-01', "lies outside the sourced data"),
    ('roster = "real"\nn_states = 50', "scenario.n_states applies only to the synthetic roster"),
])
def test_a_real_scenario_out_of_the_model_domain_is_refused_before_the_folder_is_touched(
        done, tmp_path, capsys, scenario, message):
    _, out = done
    before = folder_hashes(out)
    text = FIGS.replace("[scenario]\nn_states = 8\nn_partners = 1\n", f"[scenario]\n{scenario}\n")
    capsys.readouterr()
    assert message in one_line(sweep(write(tmp_path / "real.toml", text), out), capsys.readouterr().err)
    assert folder_hashes(out) == before


def test_a_synthetic_parameter_swept_under_the_real_roster_is_named(tmp_path, capsys):
    text = TINY.replace("[scenario]\nn_states = 8\nn_partners = 1\n", '[scenario]\nroster = "real"\n').replace(
        '"prosecutor.outreach_budget" = [0, 3]', '"scenario.n_partners" = [1, 3]')
    assert "[sweep.grid] scenario.n_partners applies only to the synthetic roster" in one_line(
        sweep(write(tmp_path / "r.toml", text), tmp_path / "o"), capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_a_rerun_and_force_keep_files_the_tool_did_not_write(done, tmp_path):
    config, out = done
    (out / "figures" / "annotated.png").write_bytes(b"mine")
    (out / "blocks" / "raw_data.csv").write_text("mine", encoding="utf-8")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert sweep(config, out) == 0  # a rerun of the same config starts over
    other = write(tmp_path / "other.toml", FIGS.replace("seed = 11", "seed = 12"))
    (out / "figures" / "my_chart.png").write_bytes(b"mine too")
    assert sweep(other, out, "--force") == 0
    for name in ("figures/annotated.png", "figures/my_chart.png", "blocks/raw_data.csv", "notes.txt"):
        assert (out / name).read_bytes().startswith(b"mine"), name
    assert json.loads((out / "manifest.json").read_text())["config"]["sha256"] == store.sha256(other)


def test_a_run_never_writes_into_a_sweep_folder_even_forced(done, capsys):
    _, out = done
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    before = folder_hashes(out)
    argv = ["run", "--set", "scenario.n_states=20", "--set", "scenario.horizon_months=6", "--out", str(out)]
    capsys.readouterr()
    assert "holds results of experiment 'tiny'" in one_line(main(argv), capsys.readouterr().err)
    assert folder_hashes(out) == before
    assert "holds results of experiment 'tiny'" in one_line(main([*argv, "--force"]), capsys.readouterr().err)
    assert folder_hashes(out) == before  # issue 27: --force once deleted the sweep (17 files down to 4)


def test_an_edited_manifest_cannot_make_force_delete_other_files(done, tmp_path):
    _, out = done
    (out / "thesis.tex").write_text("years of work", encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["outputs"].update({"thesis.tex": "0", "../outside.txt": "0", "/etc/hostname": "0"})
    (out / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "outside.txt").write_text("keep", encoding="utf-8")
    assert sweep(write(tmp_path / "other.toml", FIGS.replace("seed = 11", "seed = 13")), out, "--force") == 0
    assert (out / "thesis.tex").read_text() == "years of work"
    assert (tmp_path / "outside.txt").read_text() == "keep"


@pytest.mark.parametrize("link", ["blocks", "figures", "runs.parquet", "blocks/b000000.parquet"])
def test_a_symbolic_link_in_a_results_folder_is_refused_before_anything_is_deleted(done, tmp_path, capsys, link):
    config, out = done
    elsewhere = tmp_path / "elsewhere"
    shutil.move(out / link, elsewhere)
    os.symlink(elsewhere, out / link)
    before, target = folder_hashes(out), folder_hashes(tmp_path / "elsewhere") if elsewhere.is_dir() else \
        store.sha256(elsewhere)
    capsys.readouterr()
    assert "is a symbolic link" in one_line(sweep(config, out, "--force"), capsys.readouterr().err)
    assert folder_hashes(out) == before and (out / link).is_symlink()
    assert (folder_hashes(elsewhere) if elsewhere.is_dir() else store.sha256(elsewhere)) == target


# --- 2. silently wrong or mislabelled results ----------------------------------------------------------

SPELLINGS = {
    "dotted key and nested table": ('"court.legitimacy0" = 0.6\n[parameters.court]\nlegitimacy0 = 0.7\n',
                                    "both set court.legitimacy0"),
    "two spellings of an index": ('"accused.trip_rate[0]" = 0.5\n"accused.trip_rate[00]" = 0.9\n',
                                  "both set accused.trip_rate[0]"),
    "a whole list and an element": ('"accused.trip_rate" = [0.5, 0.2]\n"accused.trip_rate[1]" = 0.9\n',
                                    "both set accused.trip_rate"),
    "[scenario] and [parameters]": ('"scenario.horizon_months" = 24\n',
                                    "[scenario] and [parameters] both set scenario.horizon_months"),
}


@pytest.mark.parametrize("case", sorted(SPELLINGS))
@pytest.mark.parametrize("command", ["sweep", "run"])
def test_one_parameter_in_two_spellings_is_refused_by_every_command(tmp_path, capsys, case, command):
    body, message = SPELLINGS[case]
    text = ('[experiment]\nname = "s"\nreplicates = 2\n[scenario]\nn_states = 8\nn_partners = 1\n'
            f'horizon_months = 12\n[parameters]\n{body}')
    config = write(tmp_path / "s.toml", text)
    argv = ["sweep", str(config), "--out", str(tmp_path / "o"), "--quiet"] if command == "sweep" else \
        ["run", "--config", str(config)]
    assert message in one_line(main(argv), capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_two_spellings_of_a_swept_element_are_refused(tmp_path, capsys):
    text = TINY.replace('"prosecutor.outreach_budget" = [0, 3]',
                        '"accused.trip_rate[1]" = [0.1, 0.2]\n"accused.trip_rate[01]" = [0.3, 0.4]')
    assert "both set accused.trip_rate[1]" in one_line(sweep(write(tmp_path / "g.toml", text), tmp_path / "o"),
                                                       capsys.readouterr().err)


def test_set_overrides_a_config_value_whatever_its_spelling(tmp_path, capsys):
    config = write(tmp_path / "c.toml", '[scenario]\nn_states = 20\nhorizon_months = 12\n[parameters]\n'
                                        '"accused.trip_rate" = [0.5, 0.2]\n')
    assert main(["run", "--config", str(config), "--set", "accused.trip_rate[00]=0.9", "--out",
                 str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["parameters"]["accused.trip_rate"] == [0.9, 0.2]


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_suffix(".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


@pytest.mark.parametrize("damage", ["swap points", "swap blocks of a point", "copy a block", "from another config",
                                    "garbage", "truncated", "empty", "a folder"])
def test_resume_reuses_only_blocks_it_verified(made, done, tmp_path, damage):
    config, out = done
    blocks = out / "blocks"
    if damage == "swap points":
        _swap(blocks / "b000001.parquet", blocks / "b000007.parquet")
    elif damage == "swap blocks of a point":
        _swap(blocks / "b000003.parquet", blocks / "b000005.parquet")
    elif damage == "copy a block":
        shutil.copy(blocks / "b000009.parquet", blocks / "b000006.parquet")
    elif damage == "from another config":
        other = write(tmp_path / "other.toml", FIGS.replace("seed = 11", "seed = 99"))
        assert sweep(other, tmp_path / "o2") == 0
        shutil.copy(tmp_path / "o2" / "blocks" / "b000004.parquet", blocks / "b000004.parquet")
    elif damage == "garbage":
        (blocks / "b000006.parquet").write_bytes(b"PAR1 not really PAR1")
    elif damage == "truncated":
        path = blocks / "b000006.parquet"
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "empty":
        (blocks / "b000006.parquet").write_bytes(b"")
    else:
        (blocks / "b000006.parquet").unlink()
        (blocks / "b000006.parquet").mkdir()
    if damage == "a folder":
        with pytest.raises(UserError, match="is a folder where the tool writes a file"):
            main_raising(config, out)
        return
    assert sweep(config, out, "--resume") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["timings"]["blocks_computed"] == (2 if damage.startswith("swap") else 1)
    assert data_hashes(out) == data_hashes(made[1])


def main_raising(config: Path, out: Path) -> None:
    from sim.experiments.config import load_experiment
    from sim.studies.sweep import run_sweep

    run_sweep(load_experiment(config), out, workers=1, resume=True, quiet=True)


def test_reproduce_refuses_a_manifest_edited_against_its_config(done, capsys):
    _, out = done
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["parameters"]["scenario.horizon_months"] = 24
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    line = one_line(main(["reproduce", str(out), "--quiet", "--workers", "1"]), capsys.readouterr().err)
    assert "disagrees with its own config: parameters.scenario.horizon_months is 24 there and 12" in line
    assert "disagrees with its own config" in one_line(main(["plot", str(out)]), capsys.readouterr().err)


@pytest.mark.parametrize("edit", ["points", "bounds of a point", "seed"])
def test_reproduce_checks_every_section_the_config_determines(done, capsys, edit):
    _, out = done
    manifest = json.loads((out / "manifest.json").read_text())
    if edit == "points":
        manifest["swept"] = ["prosecutor.outreach_budget", "states.sovereignty_member"]
    elif edit == "bounds of a point":
        manifest["points"][1]["values"]["prosecutor.outreach_budget"] = 4
    else:
        manifest["seeds"]["experiment_seed"] = 12
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert "disagrees with its own config" in one_line(main(["reproduce", str(out), "--quiet"]),
                                                       capsys.readouterr().err)


@pytest.mark.parametrize("name", DATA)
def test_plot_and_load_results_refuse_a_data_file_that_is_not_the_one_written(done, capsys, name):
    _, out = done
    path = out / name
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path)
        frame.iloc[0, -1] = frame.iloc[1, -1]  # a plausible edit: the file still reads
        frame.to_parquet(path, index=False)
    else:
        path.write_text(path.read_text().replace(",6,", ",7,", 1), encoding="utf-8")
    before = folder_hashes(out)
    capsys.readouterr()
    line = one_line(main(["plot", str(out)]), capsys.readouterr().err)
    assert f"{path} is not the file the sweep wrote" in line
    with pytest.raises(UserError, match=f"{name} is not the file the sweep wrote"):
        load_results(out)
    assert len(load_results(out, verify=False).points) == 4  # a folder made by hand can still be read
    assert folder_hashes(out) == before


def test_load_results_refuses_a_folder_of_another_kind(tmp_path):
    assert main(["run", "--set", "scenario.horizon_months=6", "--set", "scenario.n_states=20", "--out",
                 str(tmp_path / "run")]) == 0
    with pytest.raises(UserError, match="holds a single run"):
        load_results(tmp_path / "run")


# --- 3. tracebacks --------------------------------------------------------------------------------------

@pytest.fixture
def read_only(tmp_path):
    """A read-only file system when this machine lets us mount one (root), else a folder made read-only."""
    where = tmp_path / "ro"
    where.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs",
                                                    str(where)], capture_output=True, check=False).returncode == 0
    if not mounted:
        where.chmod(0o555)
        if os.access(where, os.W_OK):  # root without mount rights ignores permissions
            pytest.skip("cannot make a read-only folder here (root without mount rights)")
    yield where
    if mounted:
        subprocess.run(["umount", str(where)], check=True)
    else:
        where.chmod(0o755)


def unwritable(kind: str, tmp_path: Path, read_only: Path) -> Path:
    if kind == "proc":
        return Path("/proc/sim-results")
    if kind == "through a file":
        return write(tmp_path / "a-file", "x") / "results"
    return read_only / "results"


@pytest.mark.parametrize("kind", ["proc", "through a file", "read-only"])
def test_an_unwritable_out_is_one_line_before_anything_runs(made, tmp_path, capsys, read_only, kind):
    config, _ = made
    out = unwritable(kind, tmp_path, read_only)
    capsys.readouterr()
    line = one_line(sweep(config, out), capsys.readouterr().err)
    assert "cannot write to" in line or "cannot create" in line
    code = main(["run", "--set", "scenario.n_states=20", "--out", str(out)])
    captured = capsys.readouterr()
    one_line(code, captured.err)
    assert captured.out == ""  # refused before the story is told


def test_a_full_disk_is_refused_up_front_when_the_estimate_shows_it(made, tmp_path, capsys, monkeypatch):
    config, _ = made
    monkeypatch.setattr(store.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**6, 10**6 - 1000, 1000))
    capsys.readouterr()
    line = one_line(sweep(config, tmp_path / "o"), capsys.readouterr().err)
    assert "needs about" in line and "free some space" in line
    assert not (tmp_path / "o").exists()


def test_a_write_that_fails_mid_sweep_is_one_line_and_keeps_the_finished_blocks(made, tmp_path, capsys,
                                                                                  monkeypatch):
    config, ref = made
    real = runner.write_block
    written = []

    def fills_up(spec, frame):
        if len(written) == 5:
            raise store.write_failed(spec.path, OSError(28, "No space left on device"))
        written.append(spec.path)
        real(spec, frame)

    monkeypatch.setattr(runner, "write_block", fills_up)
    capsys.readouterr()
    line = one_line(sweep(config, tmp_path / "o"), capsys.readouterr().err)
    assert "No space left on device" in line and "--resume" in line
    assert all(p.is_file() for p in written) and not list((tmp_path / "o" / "blocks").glob(".*.tmp"))
    monkeypatch.setattr(runner, "write_block", real)
    assert sweep(config, tmp_path / "o", "--resume") == 0
    assert data_hashes(tmp_path / "o") == data_hashes(ref)


@pytest.mark.parametrize("what", ["/dev/zero", "fifo", "huge", "empty", "comments only"])
def test_a_config_that_is_not_a_small_regular_file_is_refused_at_once(tmp_path, capsys, what):
    if what == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)
    elif what == "huge":
        path = write(tmp_path / "huge.toml", "# x\n" * 300_000)
    elif what == "empty":
        path = write(tmp_path / "empty.toml", "")
    elif what == "comments only":
        path = write(tmp_path / "c.toml", "# nothing yet\n\n")
    else:
        path = Path(what)
    start = time.perf_counter()
    for argv in (["sweep", str(path), "--out", str(tmp_path / "o")], ["run", "--config", str(path)]):
        line = one_line(main(argv), capsys.readouterr().err)
        assert ("is empty" if what in ("empty", "comments only") else
                "more than a config's" if what == "huge" else "not a regular file") in line
    assert time.perf_counter() - start < 5 and not (tmp_path / "o").exists()


# --- 4. leaks -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", [[], ["--resume"], ["--force"]])
def test_temporary_files_of_an_interrupted_write_are_removed_by_the_next_run(made, done, flag):
    config, out = done
    left = [out / ".runs.parquet.abc123_x.tmp", out / ".summary.csv.k2j3h4gf.tmp",
            out / "blocks" / ".b000003.parquet.qwertyui.tmp", out / ".sim-write-test.zzzzzzzz.tmp"]
    for p in left:
        p.write_bytes(b"partial")
    (out / ".figures.abcdefgh.tmp").mkdir()
    (out / ".figures.abcdefgh.tmp" / "routes.png").write_bytes(b"partial")
    (out / ".figures.abcdefgh.tmp" / store.MARK).write_bytes(b"")  # the tool marks its temporary folders
    (out / ".notes.txt.mine.tmp").write_text("not the tool's", encoding="utf-8")
    assert sweep(config, out, *flag) == 0
    assert not any(p.exists() for p in left) and not (out / ".figures.abcdefgh.tmp").exists()
    assert (out / ".notes.txt.mine.tmp").exists()
    assert data_hashes(out) == data_hashes(made[1])


def test_more_workers_than_cores_are_capped_with_a_note(capsys):
    assert worker_count(1000) == available_cores()
    assert capsys.readouterr().err == (f"note: --workers 1000 is more than the {available_cores()} cores this "
                                       f"process may use; using {available_cores()}\n")
    assert worker_count(1) == 1 and worker_count(None) == available_cores()
    assert capsys.readouterr().err == ""


# --- 5. nonsense accepted -------------------------------------------------------------------------------

def test_run_config_is_validated_like_sweep(tmp_path, capsys):
    config = write(tmp_path / "typo.toml", '[paramters]\n"court.legitimacy0" = 0.7\n')
    assert "did you mean parameters?" in one_line(main(["run", "--config", str(config)]), capsys.readouterr().err)
    calibration = write(tmp_path / "cal.toml", '[calibration]\ndraws = 10\n')
    assert "is a config for `python -m sim calibrate`" in one_line(main(["run", "--config", str(calibration)]),
                                                             capsys.readouterr().err)


@pytest.mark.parametrize("argv, message", [
    (["--set", "scenario.roster=\"real\"", "--set", "scenario.date=1990-01-01"], "lies outside the sourced data"),
    (["--set", "scenario.roster=\"real\"", "--set", "scenario.home=\"FRA\""], "is a state party on"),
    (["--set", "scenario.roster=\"real\"", "--set", "scenario.n_states=40"], "applies only to the synthetic"),
])
def test_run_refuses_real_scenarios_out_of_the_data(capsys, argv, message):
    assert message in one_line(main(["run", *argv]), capsys.readouterr().err)


def test_an_empty_out_is_refused(made, capsys):
    config, _ = made
    for argv in (["sweep", str(config), "--out", ""], ["run", "--out", " "],
                 ["calibrate", str(ROOT / "experiments" / "calibration.toml"), "--out", ""]):
        assert "--out is empty" in one_line(main(argv), capsys.readouterr().err)


def test_a_huge_grid_is_refused_in_well_under_a_second(tmp_path, capsys):
    values = ", ".join(f"{i / 1000:.3f}" for i in range(1000))
    text = TINY.replace('"states.sovereignty_member" = [0.2, 0.6]\n"prosecutor.outreach_budget" = [0, 3]',
                        f'"states.sovereignty_member" = [{values}]\n"prosecutor.timed_share" = [{values}]')
    start = time.perf_counter()
    assert "more than 100,000" in one_line(sweep(write(tmp_path / "h.toml", text), tmp_path / "o"),
                                           capsys.readouterr().err)
    assert time.perf_counter() - start < 1.0


# --- 6. misleading or too strict ------------------------------------------------------------------------

def test_reproduce_reruns_a_run_folder_and_names_an_altered_file(tmp_path, capsys):
    out = tmp_path / "run7"
    assert main(["run", "--seed", "7", "--set", "scenario.n_states=20", "--set", "scenario.horizon_months=6",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["reproduce", str(out), "--quiet"]) == 0
    assert "reproduced (run): events.csv, series.csv, outcome.json identical" in capsys.readouterr().out
    (out / "series.csv").write_text((out / "series.csv").read_text() + "\n")
    assert main(["reproduce", str(out), "--quiet"]) == 1
    assert "differs: series.csv" in capsys.readouterr().out


def test_a_byte_order_mark_is_accepted_and_hashed_as_written(tmp_path):
    config = tmp_path / "bom.toml"
    config.write_bytes(b"\xef\xbb\xbf" + TINY.encode("utf-8"))
    assert sweep(config, tmp_path / "o") == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["config"]["sha256"] == store.sha256(config)
    assert main(["reproduce", str(tmp_path / "o"), "--quiet", "--workers", "1"]) == 0


def test_whole_number_floats_are_accepted_wherever_whole_months_are():
    exp = experiment_from_text(TINY.replace("horizons = [6, 12]", "horizons = [6.0, 12.0]")
                               .replace("horizon_months = 12", "horizon_months = 12.0")
                               .replace("replicates = 6", "replicates = 6.0"))
    assert exp.horizons == (6, 12) and exp.base.horizon == 12 and exp.replicates == 6
    with pytest.raises(UserError, match="whole months"):
        experiment_from_text(TINY.replace("horizons = [6, 12]", "horizons = [6.5, 12]"))


# --- blocks and runs.parquet ---------------------------------------------------------------------------

def test_runs_parquet_bytes_do_not_depend_on_block_size(made, tmp_path):
    _, ref = made
    for size in (1, 5, 6):
        config = write(tmp_path / f"b{size}.toml", FIGS.replace("block_size = 2", f"block_size = {size}"))
        assert sweep(config, tmp_path / f"o{size}") == 0
        assert store.sha256(tmp_path / f"o{size}" / "runs.parquet") == store.sha256(ref / "runs.parquet")
        assert store.sha256(tmp_path / f"o{size}" / "summary.csv") == store.sha256(ref / "summary.csv")


def test_runs_parquet_has_fixed_row_groups_and_no_block_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "ROW_GROUP", 10)
    config = write(tmp_path / "t.toml", TINY.replace("block_size = 2", "block_size = 4"))
    assert sweep(config, tmp_path / "o") == 0
    meta = pq.read_metadata(tmp_path / "o" / "runs.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [10, 10, 10, 10, 8]
    assert BLOCK_KEY not in (meta.schema.to_arrow_schema().metadata or {})
    labels = [json.loads(pq.read_metadata(tmp_path / "o" / "blocks" / f"b00000{k}.parquet").schema
                         .to_arrow_schema().metadata[BLOCK_KEY]) for k in (1, 2)]
    sha = store.sha256(config)
    assert labels[0] == {"config_sha256": sha, "points": [0, 1], "replicates": [0, 5], "rows": 8}  # spans two points
    assert labels[1] == {"config_sha256": sha, "points": [1, 1], "replicates": [2, 5], "rows": 8}


def test_the_marker_lists_every_file_the_sweep_may_write(made):
    _, ref = made
    marker = json.loads((ref / "blocks" / "experiment.json").read_text())
    written = {p.relative_to(ref).as_posix() for p in ref.rglob("*") if p.is_file()} - {"blocks/experiment.json"}
    assert written <= set(marker["files"])
    assert marker["format"] == "tribunal-sim results" and marker["config"]["sha256"]


# --- 7. nothing lost under --force, nothing read that hangs (issue 27) -----------------------------------

def test_run_force_never_replaces_a_sweep_and_sweep_force_never_replaces_a_run(done, tmp_path, capsys):
    """--force replaces what this kind of study wrote, and nothing else: another kind is one line naming both."""
    config, out = done
    before = folder_hashes(out)
    argv = ["run", "--set", "scenario.n_states=20", "--set", "scenario.horizon_months=6", "--out", str(out), "--force"]
    capsys.readouterr()
    line = one_line(main(argv), capsys.readouterr().err)
    assert "holds results of experiment 'tiny'" in line and "a single run" in line and "--force" in line
    assert folder_hashes(out) == before
    run = tmp_path / "run"
    assert main([*argv[:-2], str(run)]) == 0
    made = folder_hashes(run)
    capsys.readouterr()
    line = one_line(sweep(config, run, "--force"), capsys.readouterr().err)
    assert "holds results of run" in line and "a single run" in line and "writes a sweep" in line
    assert folder_hashes(run) == made


def test_discover_refuses_its_own_source_as_out_even_forced(tmp_path, capsys):
    from tests.test_discovery import LHS

    config = write(tmp_path / "lhs.toml", LHS)
    src = tmp_path / "sweep"
    assert sweep(config, src) == 0
    before = folder_hashes(src)
    capsys.readouterr()
    for out in (src, Path(os.path.relpath(src))):
        line = one_line(main(["discover", str(src), "--horizon", "36", "--threshold", "0.5", "--out", str(out),
                              "--force"]), capsys.readouterr().err)
        assert f"{out} is the folder `discover` reads" in line and str(src) in line
    assert folder_hashes(src) == before


def test_sweep_force_never_overwrites_a_users_file_of_a_name_it_writes(made, tmp_path, capsys):
    config, _ = made
    out = tmp_path / "mine"
    out.mkdir()
    write(out / "summary.csv", "my own summary\n")
    write(out / "notes.txt", "mine")
    before = folder_hashes(out)
    capsys.readouterr()
    line = one_line(sweep(config, out, "--force"), capsys.readouterr().err)
    assert f"{out / 'summary.csv'} is not a file this tool wrote" in line
    assert folder_hashes(out) == before


@pytest.mark.parametrize("flag", [[], ["--force"], ["--resume"]])
def test_a_users_folder_named_like_a_temporary_of_the_tool_survives_a_rerun(done, flag):
    """Only the tool's own temporary folders (marked when made) are removed, and only the files it put there."""
    config, out = done
    for name in (".figures.MYNOTES.tmp", ".figures.abcdefgh.tmp"):
        (out / name).mkdir()
        write(out / name / "notes.txt", "years of work")
        write(out / name / "routes.png", "my own drawing")
    assert sweep(config, out, *flag) == 0
    for name in (".figures.MYNOTES.tmp", ".figures.abcdefgh.tmp"):
        assert (out / name / "notes.txt").read_text() == "years of work"
        assert (out / name / "routes.png").read_text() == "my own drawing"


# every command in one subprocess (one start-up), each as `python -m sim` runs it: its exit status and stderr
LIMITED = """
import contextlib, io, json, sys
from sim.cli.main import main
done = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    done.append([code, err.getvalue()])
print(json.dumps(done))
"""


def _limited(commands: list[list[str]], cwd: Path) -> list[tuple[int, str]]:
    """Commands in a subprocess with 2 GB of address space and 60 s: a read without end fails, not the machine."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    done = subprocess.run([sys.executable, "-c", LIMITED, json.dumps(commands)], cwd=cwd, capture_output=True,
                          text=True, timeout=60, preexec_fn=limit, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return [(code, err) for code, err in json.loads(done.stdout)]


@pytest.mark.parametrize("what", ["manifest.json -> /dev/zero", "blocks/experiment.json -> /dev/zero",
                                  "manifest.json fifo", "blocks/experiment.json fifo",
                                  "manifest.json -> a huge file"])
def test_a_manifest_or_marker_that_is_not_a_small_regular_file_is_refused_by_every_command(done, tmp_path, what):
    config, out = done
    rel = what.split()[0]
    (out / rel).unlink()
    if "fifo" in what:
        os.mkfifo(out / rel)
    elif "/dev/zero" in what:
        os.symlink("/dev/zero", out / rel)
    else:
        huge = tmp_path / "huge.json"
        with open(huge, "wb") as f:
            f.truncate(3 << 30)  # sparse: 3 GB that read as zeros
        os.symlink(huge, out / rel)
    commands = [["sweep", str(config), "--out", str(out), "--quiet", "--workers", "1"],
                ["sweep", str(config), "--out", str(out), "--quiet", "--workers", "1", "--resume"],
                ["sweep", str(config), "--out", str(out), "--quiet", "--workers", "1", "--force"],
                ["run", "--set", "scenario.n_states=20", "--out", str(out), "--force"]]
    if rel == "manifest.json":
        commands += [["plot", str(out)], ["reproduce", str(out), "--quiet"]]
    for argv, (code, err) in zip(commands, _limited(commands, tmp_path), strict=True):
        line = one_line(code, err)
        assert str(out / rel) in line and ("symbolic link" in line or "not a regular file" in line), (argv, line)
    assert os.path.lexists(out / rel) and (out / "runs.parquet").is_file()


@pytest.mark.parametrize("command", ["sweep", "run", "calibrate"])
def test_an_out_path_that_is_not_utf8_is_one_line_and_creates_nothing(made, tmp_path, capsys, command):
    config, _ = made
    out = os.fsdecode(bytes(tmp_path) + b"/caf\xe9")
    argv = {"sweep": ["sweep", str(config), "--out", out, "--quiet"],
            "run": ["run", "--set", "scenario.n_states=20", "--out", out],
            "calibrate": ["calibrate", str(ROOT / "experiments" / "calibration.toml"), "--out", out]}[command]
    capsys.readouterr()
    line = one_line(main(argv), capsys.readouterr().err)
    assert "is not valid UTF-8" in line and "caf" in line
    assert os.listdir(bytes(tmp_path)) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"point": "0"}, "point must be a whole number of at least 0, got '0'"),
    ({"point": 2.5}, "point must be a whole number of at least 0, got 2.5"),
    ({"point": -1}, "point must be a whole number of at least 0, got -1"),
    ({"point": True}, "point must be a whole number of at least 0, got True"),
    ({"crn": "yes"}, "crn must be True or False, got 'yes'"),
    ({"crn": 1}, "crn must be True or False, got 1"),
])
def test_simulate_refuses_a_point_or_crn_it_cannot_use(kwargs, message):
    import sim

    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        sim.simulate(replicates=1, engine="vectorized", **kwargs)
    assert len(sim.simulate(replicates=1, point=np.int64(3), crn=np.bool_(True))) > 0  # NumPy scalars are fine


@pytest.mark.parametrize("table", ["grid", "bounds"])
def test_a_parameter_set_and_swept_in_one_config_is_refused_naming_both(tmp_path, capsys, table):
    body = ('"court.legitimacy0" = [0.2, 0.6]' if table == "grid" else
            'sampler = "lhs"\nn = 4\n[sweep.bounds]\n"court.legitimacy0" = [0.2, 0.6]')
    text = TINY.replace('[sweep]\nsampler = "grid"\n\n[sweep.grid]\n"states.sovereignty_member" = [0.2, 0.6]\n'
                        '"prosecutor.outreach_budget" = [0, 3]',
                        f'[sweep]\n{body}' if table == "bounds" else f'[sweep]\n[sweep.grid]\n{body}')
    assert f"[parameters] and [sweep.{table}] both set court.legitimacy0" in one_line(
        sweep(write(tmp_path / "twice.toml", text), tmp_path / "o"), capsys.readouterr().err)
    assert not (tmp_path / "o").exists()
    scenario = TINY.replace('"prosecutor.outreach_budget" = [0, 3]', '"scenario.n_partners" = [1, 2]')
    assert "[scenario] and [sweep.grid] both set scenario.n_partners" in one_line(
        sweep(write(tmp_path / "s.toml", scenario), tmp_path / "o"), capsys.readouterr().err)
    whole_and_element = TINY.replace('"court.legitimacy0" = 0.6', '"accused.trip_rate" = [0.5, 0.2]').replace(
        '"prosecutor.outreach_budget" = [0, 3]', '"accused.trip_rate[0]" = [0.1, 0.2]')
    assert experiment_from_text(whole_and_element).swept[-1] == "accused.trip_rate[0]"  # one element of a base list


def test_a_calibration_parameter_fixed_and_given_a_prior_is_refused_naming_both(capsys):
    from sim.studies.calibration.config import calibration_from_text

    text = (ROOT / "experiments" / "calibration.toml").read_text(encoding="utf-8")
    text = text.replace("[priors]", '[parameters]\n"arrest.intercept" = -4.0\n\n[priors]')
    with pytest.raises(UserError, match=r"\[parameters\] and \[priors\] both set arrest.intercept"):
        calibration_from_text(text, "calibration.toml")


def test_a_stop_while_figures_are_drawn_is_said_and_resume_draws_them(made, tmp_path, capsys, monkeypatch):
    config, ref = made
    out = tmp_path / "o"

    def stopped(folder, kinds):
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.studies.sweep.draw", stopped)
    capsys.readouterr()
    assert sweep(config, out) == 130
    assert "finish with --resume" in capsys.readouterr().err
    assert not (out / "figures" / "routes.png").exists()
    assert load_results(out).pending == ["figures/routes.png", "figures/routes.svg"]
    monkeypatch.undo()
    assert main(["plot", str(out), "--kind", "survival"]) == 0
    err = capsys.readouterr().err
    assert f"note: {out} was stopped before its figures were drawn (figures/routes.png" in err and "--resume" in err
    assert sweep(config, out, "--resume") == 0
    assert (out / "figures" / "routes.png").is_file() and load_results(out).pending == []
    assert data_hashes(out) == data_hashes(ref)
