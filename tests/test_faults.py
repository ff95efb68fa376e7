"""Fault injection (slow): kills, corrupt and swapped blocks, full disks, unreachable schedulers, Ctrl-C.

Each fault ends in one of two ways, as docs/reliability.md promises: results byte-identical to an
uninterrupted run's (after ``--resume`` where the run was cut short), or one clear line with exit 2
and nothing lost. A property-based test then throws broken configs and broken folders at every
command and checks the contract: exit 2, one line, no traceback, no byte of a results folder changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.experiments import runner, store
from sim.experiments.folders import MANIFEST
from sim.experiments.layout import DATA_FILES, POINTS, RUNS, SUMMARY
from tests.test_sweep_config import BREAKERS, TINY, folder_hashes, ingredients, noise, toml_text, valid_doc

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
# 4 points x 10 replicates in blocks of 1: 40 blocks, a few seconds in a subprocess, with a figure
CONFIG = (TINY.replace("replicates = 6", "replicates = 10").replace("block_size = 2", "block_size = 1")
          .replace("horizons = [6, 12]", 'horizons = [6, 12]\nfigures = ["routes"]'))
# run in a subprocess: the command line, with a pause after the temporary file of one chosen write
DRIVER = """
import os, sys, time
from sim.experiments import runner, store
from sim.experiments.folders import MANIFEST
from sim.experiments.layout import DATA_FILES, POINTS, RUNS, SUMMARY
from sim.studies import figures
name, count = os.environ.get("PAUSE_AT"), [int(os.environ.get("PAUSE_COUNT", "1"))]
def pause(path):
    if path.name == name:
        count[0] -= 1
        if count[0] == 0:
            open(os.environ["PAUSED"], "w").close()
            time.sleep(600)
real_write, real_save = store.atomic_write, figures.style.save
def atomic_write(path, write):
    def then_pause(tmp):
        write(tmp)
        pause(path)
    real_write(path, then_pause)
def save(fig, folder, stem):
    paths = real_save(fig, folder, stem)
    pause(paths[0])
    return paths
store.atomic_write, figures.style.save = atomic_write, save
from sim.cli.main import main
raise SystemExit(main(sys.argv[1:]))
"""


def data_hashes(folder: Path) -> dict[str, str]:
    return {f: store.sha256(folder / f) for f in DATA_FILES}


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    config = root / "faults.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["sweep", str(config), "--out", str(root / "ref"), "--workers", "1", "--quiet"]) == 0
    return config, root / "ref"


def start(config: Path, out: Path, *extra: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, "sweep", str(config), "--out", str(out), "--quiet",
                             *extra], env={**ENV, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=out.parent, **kw)


def wait_for(condition, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        assert time.monotonic() < deadline, "the fault never came"
        time.sleep(0.002)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


def resume_gives_the_reference(config: Path, out: Path, ref: Path) -> dict:
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1", "--quiet", "--resume"]) == 0
    assert data_hashes(out) == data_hashes(ref)
    assert not temporaries(out), temporaries(out)
    assert (out / "figures" / "routes.png").is_file()
    return json.loads((out / "manifest.json").read_text())


# --- kills ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_a_kill_at_a_random_moment_during_the_blocks_loses_nothing_finished(reference, tmp_path, seed):
    config, ref = reference
    rng = np.random.default_rng(seed)
    done_before_kill, workers = int(rng.integers(1, 39)), str(rng.choice(["1", "2"]))
    out = tmp_path / "killed"
    proc = start(config, out, "--workers", workers)
    wait_for(lambda: len(list((out / "blocks").glob("b*.parquet"))) >= done_before_kill, proc)
    time.sleep(float(rng.uniform(0, 0.05)))  # inside the next block, or its write
    kill(proc)
    assert not (out / "manifest.json").exists()
    manifest = resume_gives_the_reference(config, out, ref)
    assert manifest["timings"]["blocks_resumed"] >= done_before_kill


@pytest.mark.parametrize("name, count", [("b000011.parquet", 1), (POINTS, 1), (RUNS, 1),
                                         (SUMMARY, 1), (MANIFEST, 1), ("routes.png", 1),
                                         (MANIFEST, 2)])
def test_a_kill_during_a_write_leaves_no_half_file_and_resume_finishes(reference, tmp_path, name, count):
    config, ref = reference
    out = tmp_path / "killed"
    paused = tmp_path / "paused"
    proc = start(config, out, "--workers", "1", env={"PAUSE_AT": name, "PAUSE_COUNT": str(count),
                                                     "PAUSED": str(paused)})
    wait_for(paused.exists, proc)
    kill(proc)
    assert temporaries(out), "the kill should have left the write's temporary file"
    if name != MANIFEST or count == 1:  # until the data are complete, no manifest says they are
        assert not (out / "manifest.json").exists() or name == "routes.png"
    resume_gives_the_reference(config, out, ref)


def test_a_kill_of_the_main_process_ends_its_pool_workers(reference, tmp_path):
    config, _ = reference
    out = tmp_path / "orphans"
    proc = start(config, out, "--workers", "2")
    wait_for(lambda: len(list((out / "blocks").glob("b*.parquet"))) >= 2, proc)
    children = [int(p) for p in subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True,
                                               text=True, check=True).stdout.split()]
    kill(proc)
    deadline = time.monotonic() + 5
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and Path(f"/proc/{p}/stat").read_text().split()[2]
                 != "Z"]
        time.sleep(0.05)
    assert children and not alive, f"workers {alive} outlived their parent"


@pytest.mark.parametrize("executor", [["--workers", "1"], ["--workers", "2"], ["--scheduler", "local",
                                                                                 "--workers", "2"]])
def test_ctrl_c_prints_one_line_and_exits_130_on_every_executor(reference, tmp_path, executor):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, workers included."""
    config, _ = reference
    out = tmp_path / "stopped"
    slow = tmp_path / "slow.toml"
    # 800 blocks of one replicate of 120 months: work left when the third block lands, on any machine (40 blocks
    # could all be done before the signal came, and the run then rightly exits 0); each block short, so the stop
    # comes at once
    text = config.read_text()
    assert "replicates = 10\n" in text
    slow.write_text(text.replace("horizon_months = 12", "horizon_months = 120").replace(
        "horizons = [6, 12]", "horizons = [6, 12, 120]").replace("replicates = 10\n", "replicates = 200\n"),
        encoding="utf-8")
    proc = start(slow, out, *executor, start_new_session=True)
    wait_for(lambda: len(list((out / "blocks").glob("b*.parquet"))) >= 3, proc, seconds=180)
    os.killpg(proc.pid, signal.SIGINT)
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 130, err
    assert [line for line in err.splitlines() if not line.startswith("note: ")] == [
        f"stopped: finished blocks are kept in {out / 'blocks'}; continue with --resume"]


def test_a_kill_while_figures_are_drawn_leaves_a_folder_that_says_so_and_resume_draws_them(reference, tmp_path,
                                                                                            capsys):
    config, ref = reference
    out = tmp_path / "killed"
    paused = tmp_path / "paused"
    proc = start(config, out, "--workers", "1", env={"PAUSE_AT": "routes.png", "PAUSED": str(paused)})
    wait_for(paused.exists, proc)
    kill(proc)
    assert (out / "manifest.json").is_file() and not (out / "figures" / "routes.png").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pending"] == ["figures/routes.png", "figures/routes.svg"]
    capsys.readouterr()
    assert main(["plot", str(out), "--kind", "survival"]) == 0
    assert f"note: {out} was stopped before its figures were drawn" in capsys.readouterr().err
    assert "pending" not in resume_gives_the_reference(config, out, ref)


@pytest.mark.parametrize("executor", [["--workers", "1"], ["--workers", "2"]])
@pytest.mark.parametrize("to", ["the process", "its group"])
def test_sigterm_stops_a_sweep_as_ctrl_c_does(reference, tmp_path, executor, to):
    """SIGTERM (a scheduler's end of job, `kill PID`): one line, the finished blocks kept, a non-zero status."""
    config, _ = reference
    out = tmp_path / "stopped"
    slow = tmp_path / "slow.toml"
    slow.write_text(config.read_text().replace("horizon_months = 12", "horizon_months = 120").replace(
        "horizons = [6, 12]", "horizons = [6, 12, 120]"), encoding="utf-8")
    proc = start(slow, out, *executor, start_new_session=True)
    wait_for(lambda: len(list((out / "blocks").glob("b*.parquet"))) >= 3, proc, seconds=180)
    if to == "the process":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert [line for line in err.splitlines() if not line.startswith("note: ")] == [
        f"stopped: finished blocks are kept in {out / 'blocks'}; continue with --resume"]
    kept = sorted((out / "blocks").glob("b*.parquet"))
    assert len(kept) >= 3 and not (out / "manifest.json").exists()
    assert main(["sweep", str(slow), "--out", str(out), "--workers", "1", "--quiet", "--resume"]) == 0
    assert json.loads((out / "manifest.json").read_text())["timings"]["blocks_resumed"] >= len(kept)


# --- corrupt and swapped blocks ------------------------------------------------------------------------

def test_random_damage_to_block_files_is_recomputed(reference, tmp_path):
    """Flipped bytes anywhere (data pages, footer, label), truncations and swaps over random blocks."""
    config, ref = reference
    rng = np.random.default_rng(7)
    for round_ in range(6):
        out = tmp_path / f"damaged{round_}"
        shutil.copytree(ref, out)
        blocks = sorted((out / "blocks").glob("b*.parquet"))
        for path in rng.choice(blocks, size=5, replace=False):
            data = bytearray(path.read_bytes())
            kind = rng.integers(3)
            if kind == 0:
                for at in rng.integers(0, len(data), size=3):
                    data[at] ^= 1 << int(rng.integers(8))
                path.write_bytes(bytes(data))
            elif kind == 1:
                path.write_bytes(bytes(data[: int(rng.integers(0, len(data)))]))
            else:
                other = blocks[int(rng.integers(len(blocks)))]
                shutil.copy(other, path) if other != path else path.write_bytes(b"")
        resume_gives_the_reference(config, out, ref)


# --- full disks -----------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs where this machine allows mounting one; else None (a patched write stands in)."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                                           capture_output=True, check=False).returncode:
        yield None
        return
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


@pytest.mark.parametrize("moment", ["after five blocks", "before runs.parquet", "before the manifest"])
def test_a_disk_that_fills_up_is_one_line_and_resume_finishes_once_there_is_room(reference, small_disk, tmp_path,
                                                                                 capsys, monkeypatch, moment):
    config, ref = reference
    disk = small_disk or tmp_path
    out = disk / "out"
    state = {"blocks": 0, "filler": None}

    def full() -> None:
        if small_disk is not None:
            state["filler"] = fill(small_disk)
        else:  # no tmpfs: every later write fails as on a full disk
            monkeypatch.setattr(store.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left")))

    real_block, real_runs, real_json = runner.write_block, runner.write_runs, store.write_json

    def block(spec, frame):
        state["blocks"] += 1
        if moment == "after five blocks" and state["blocks"] == 6:
            full()
        real_block(spec, frame)

    def runs(path, files):
        if moment == "before runs.parquet":
            full()
        real_runs(path, files)

    def manifest(path, doc):
        if moment == "before the manifest" and path.name == MANIFEST:
            full()
        real_json(path, doc)

    monkeypatch.setattr(runner, "write_block", block)
    monkeypatch.setattr(runner, "write_runs", runs)
    monkeypatch.setattr(store, "write_json", manifest)
    capsys.readouterr()
    code = main(["sweep", str(config), "--out", str(out), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "No space left" in err and "--resume" in err, err
    assert not temporaries(out) and not (out / "manifest.json").exists()
    monkeypatch.undo()
    if state["filler"] is not None:
        state["filler"].unlink()
    resume_gives_the_reference(config, out, ref)


def test_a_disk_too_small_for_the_sweep_is_refused_before_anything_is_written(reference, small_disk, capsys):
    if small_disk is None:
        pytest.skip("covered with a patched disk_usage in tests/test_reliability.py; no tmpfs here")
    config, _ = reference
    big = small_disk / "big.toml"
    big.write_text(config.read_text().replace("replicates = 10", "replicates = 2000").replace(
        "block_size = 1", "block_size = 100"), encoding="utf-8")
    capsys.readouterr()
    code = main(["sweep", str(big), "--out", str(small_disk / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "needs about" in err, err
    assert not (small_disk / "out").exists()


# --- schedulers -----------------------------------------------------------------------------------------

def test_a_scheduler_that_is_not_dask_is_one_line_and_the_folder_is_untouched(reference, tmp_path, capsys):
    config, ref = reference
    out = tmp_path / "out"
    shutil.copytree(ref, out)
    before = folder_hashes(out)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept_and_stay_silent():
        server.settimeout(0.2)
        held = []
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])
        for c in held:
            c.close()

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    try:
        for address in (f"tcp://127.0.0.1:{port}", "tcp://no-such-host.invalid:8786"):
            capsys.readouterr()
            code = main(["sweep", str(config), "--out", str(out), "--scheduler", address, "--quiet"])
            err = capsys.readouterr().err
            assert code == 2 and err.startswith("error: cannot reach the Dask scheduler") and err.count("\n") == 1
            assert folder_hashes(out) == before
    finally:
        stop.set()
        thread.join()
        server.close()


# --- the contract, for broken configs and broken folders ------------------------------------------------

def _link(out: Path, name: str) -> None:
    target = out.parent / f"moved-{name.replace('/', '-')}"
    shutil.move(out / name, target)
    os.symlink(target, out / name)


FOLDER_DAMAGE = {
    "none": lambda out: None,
    "symlinked blocks": lambda out: _link(out, "blocks"),
    "symlinked runs": lambda out: _link(out, "runs.parquet"),
    "edited summary": lambda out: (out / "summary.csv").write_text(
        (out / "summary.csv").read_text().replace(",10,", ",11,", 1)),
    "edited parameters": lambda out: (out / "manifest.json").write_text(json.dumps(
        {**json.loads((out / "manifest.json").read_text()), "parameters": {"scenario.horizon_months": 24}})),
    "corrupt manifest": lambda out: (out / "manifest.json").write_text("{not json"),
    "blocks is a file": lambda out: (shutil.rmtree(out / "blocks"), (out / "blocks").write_text("x")),
}
# the commands, and whether a folder damage alone makes them fail with the folder's own config (else the
# config is broken)
COMMANDS = ("sweep", "sweep --force", "sweep --resume", "run", "plot", "reproduce")
UNSAFE = ("symlinked blocks", "symlinked runs", "blocks is a file")
FAILS = {("plot", d) for d in ("edited summary", "edited parameters", "corrupt manifest")} | \
    {("reproduce", d) for d in ("edited parameters", "corrupt manifest")} | \
    {(c, d) for c in COMMANDS[:3] for d in UNSAFE} | \
    {("run", d) for d in FOLDER_DAMAGE}  # a run never writes into a sweep's folder


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under a folder, links and folders included, with the bytes of the plain files."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        out[rel] = ("link:" + os.readlink(p)) if p.is_symlink() else "dir" if p.is_dir() else store.sha256(p)
    return out


@settings(max_examples=int(os.environ.get("FAULTS_HYP_N", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), command=st.sampled_from(COMMANDS), damage=st.sampled_from(sorted(FOLDER_DAMAGE)),
       own_config=st.booleans(), breakers=st.lists(st.sampled_from(sorted(BREAKERS)), min_size=1, max_size=2),
       x=ingredients)
def test_broken_configs_and_folders_end_in_one_line_and_change_no_byte(reference, tmp_path_factory, capsys, data,
                                                                       command, damage, own_config, breakers, x):
    config_text, ref = reference[0].read_text(encoding="utf-8"), reference[1]
    if command in ("plot", "reproduce") and (command, damage) not in FAILS:
        return  # these read no config: only a damaged folder must make them fail
    if own_config and (command, damage) not in FAILS:
        own_config = False  # the folder's own config would rightly rerun: break the config instead
    root = tmp_path_factory.mktemp("contract")
    out = root / "out"
    shutil.copytree(ref, out, symlinks=True)
    FOLDER_DAMAGE[damage](out)
    if own_config:
        text = config_text
    else:
        doc = data.draw(noise(valid_doc()))
        for name in breakers:
            BREAKERS[name](doc, x)
        text = toml_text(doc)
    config = root / "c.toml"
    config.write_text(text, encoding="utf-8")
    sweep = ["sweep", str(config), "--out", str(out), "--quiet", "--workers", "1", *command.split()[1:]]
    argv = {"run": ["run", "--config", str(config), "--out", str(out)], "plot": ["plot", str(out)],
            "reproduce": ["reproduce", str(out), "--quiet", "--workers", "1"]}.get(command, sweep)
    before = snapshot(root)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (command, damage, own_config, breakers, captured.err)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
    assert captured.out == ""
    assert snapshot(root) == before
