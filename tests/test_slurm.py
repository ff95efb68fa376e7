"""The README's SLURM recipe, run for real: a one-node SLURM from Debian's slurm-wlm and munge (tests/slurm.sh),
`experiments/slurm_sweep.py` through dask-jobqueue on it, and every file compared with a laptop run's.

The cluster needs root (this machine's CI runs as root); without it the slow test is skipped with that reason.
If SLURM cannot start as root, the test fails with the daemons' logs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.experiments import store
from sim.experiments.folders import MANIFEST

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "slurm.sh"
RECIPE = ROOT / "experiments" / "slurm_sweep.py"
# What differs between a site and this one-node cluster: the partition and the size of the jobs (one core each,
# two jobs where the node has two cores, as here).
THIS_NODE = {"--queue": "debug", "--jobs": str(min(2, len(os.sched_getaffinity(0)))), "--cores": "1", "--memory": "1GB"}


def readme_commands(prefix: str) -> list[list[str]]:
    """The README's shell lines that start with ``prefix`` (continuation lines joined), split into words."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    return [shlex.split(line.split("#")[0]) for line in text.splitlines() if line.startswith(prefix)]


def laptop_command() -> list[str]:
    """The README's main job, on this machine: `python -m sim sweep experiments/baseline.toml`."""
    found = readme_commands("python -m sim sweep experiments/baseline.toml")
    assert ["python", "-m", "sim", "sweep", "experiments/baseline.toml"] in found
    return ["python", "-m", "sim", "sweep", "experiments/baseline.toml"]


def slurm_command() -> list[str]:
    """The README's SLURM command line."""
    found = readme_commands("python experiments/slurm_sweep.py ")
    assert len(found) == 1, "the README shows one `python experiments/slurm_sweep.py` command"
    return found[0]


def on_this_node(words: list[str]) -> list[str]:
    """A README command with this node's values, this interpreter, and the project's files by absolute path."""
    words = [THIS_NODE.get(words[i - 1], w) if i else w for i, w in enumerate(words)]
    words = [str(ROOT / w) if w.startswith("experiments/") else w for w in words]
    return [sys.executable, *words[1:]] if words[0] == "python" else words


def env() -> dict[str, str]:
    """This process's environment, with this checkout first on the path (as pytest imports it)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_the_readme_slurm_command_is_what_the_script_accepts():
    """The README's command names the shipped script and options it has, and sets what this test replaces."""
    words = slurm_command()
    assert words[:3] == ["python", "experiments/slurm_sweep.py", "experiments/baseline.toml"]
    options = set(re.findall(r'add_argument\("(--[a-z]+)"', RECIPE.read_text(encoding="utf-8")))
    given = {w for w in words if w.startswith("--")}
    assert given <= options, f"the README gives options the script does not have: {given - options}"
    assert set(THIS_NODE) <= given
    assert on_this_node(words)[1:3] == [str(RECIPE), str(ROOT / "experiments" / "baseline.toml")]


def test_the_slurm_script_refuses_a_bad_config_in_one_line_before_queueing_a_job(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nname = "x"\nreplicates = "many"\n')
    run = subprocess.run([sys.executable, str(RECIPE), str(bad), "--queue", "debug"], cwd=tmp_path, env=env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: ") and len(run.stderr.splitlines()) == 1, run.stderr
    assert "replicates" in run.stderr and list(tmp_path.iterdir()) == [bad]  # no job, so no slurm-*.out


@pytest.fixture(scope="session")
def slurm() -> Iterator[Path]:
    """A one-node SLURM for the session (tests/slurm.sh start), stopped at the end; yields its folder."""
    if os.geteuid() != 0:
        pytest.skip(f"a one-node SLURM needs root to start munged, slurmctld and slurmd (this is uid {os.geteuid()})")
    if importlib.util.find_spec("dask_jobqueue") is None:  # not imported here: it takes over Ctrl-C (see the script)
        pytest.fail("dask-jobqueue is missing: install the hpc extra (pip install -e '.[hpc]'; the test extra has it)")
    folder = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))  # munged wants its socket's path searchable
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True,
                                 timeout=600)
        if started.returncode != 0:
            pytest.fail(f"SLURM did not start (tests/slurm.sh start, exit {started.returncode}):\n"
                        f"{started.stdout}{started.stderr}")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SLURM_CONF", str(folder / "slurm.conf"))
            yield folder
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` but the manifest (it records the times and the scheduler), with its sha256."""
    return {p.relative_to(folder).as_posix(): store.sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def allocations(slurm: Path) -> list[str]:
    """The ids of the jobs slurmctld has allocated a node to, in order."""
    return re.findall(r"sched: Allocate JobId=(\d+)", (slurm / "slurmctld.log").read_text())


def jobs_left() -> str:
    return subprocess.run(["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True, check=True).stdout


def small_baseline(folder: Path, replicates: int, block_size: int, figures: bool) -> Path:
    """experiments/baseline.toml with fewer replicates per point (the same grid, seed and engine), in ``folder``."""
    text = (ROOT / "experiments" / "baseline.toml").read_text(encoding="utf-8")
    small = re.sub(r"(?m)^replicates = .*$", f"replicates = {replicates}", text)
    small = re.sub(r"(?m)^block_size = .*$", f"block_size = {block_size}", small)
    if not figures:
        small = re.sub(r"(?m)^figures = .*$", "figures = []", small)
    path = folder / "small.toml"
    path.write_text(small, encoding="utf-8")
    return path


@pytest.fixture
def queue(slurm: Path) -> Iterator[Path]:
    """The cluster, with its queue emptied after the test: a failed test must not leave jobs holding the node."""
    yield slurm
    subprocess.run(["scancel", "--user", str(os.geteuid())], capture_output=True, timeout=60)
    deadline = time.monotonic() + 60
    while jobs_left() and time.monotonic() < deadline:
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.slurm
def test_the_readme_slurm_recipe_writes_the_files_of_a_laptop_run(queue, tmp_path):
    """The README's SLURM command line, with this node's values, on the baseline grid at 50 replicates a point
    (36 blocks; the full baseline is 36,000 runs, too long for CI twice), against the README's laptop command."""
    slurm = queue
    cluster, laptop = tmp_path / "cluster", tmp_path / "laptop"
    cluster.mkdir()
    laptop.mkdir()
    small_baseline(cluster, 50, 50, figures=True)
    small_baseline(laptop, 50, 50, figures=True)
    earlier = len(allocations(slurm))
    words = on_this_node(slurm_command())
    run = subprocess.run([*words[:2], "small.toml", *words[3:]], cwd=cluster, env=env(), capture_output=True,
                         text=True, timeout=900)
    log = f"{run.stdout}{run.stderr}"
    assert run.returncode == 0, f"the README's SLURM command failed:\n{log[-4000:]}"
    laptop_words = on_this_node(laptop_command())
    assert subprocess.run([*laptop_words[:4], "small.toml"], cwd=laptop, env=env(), timeout=900).returncode == 0

    made, expected = cluster / "results" / "baseline", laptop / "results" / "baseline"
    on_slurm, on_laptop = files(made), files(expected)
    assert {"points.parquet", "runs.parquet", "summary.csv", "blocks/b000035.parquet"} <= set(on_laptop)
    assert sorted(on_slurm) == sorted(on_laptop)
    differ = [name for name in on_laptop if on_slurm[name] != on_laptop[name]]
    assert not differ, f"files that differ from the laptop run's: {differ}"
    manifest = json.loads((made / MANIFEST).read_text())
    assert manifest["outputs"] == json.loads((expected / MANIFEST).read_text())["outputs"]

    # The blocks were computed by workers in SLURM jobs: the two jobs asked for ran, their workers joined the
    # scheduler the sweep used (the cluster has no other workers), and the script cancelled them at the end.
    timings = manifest["timings"]
    assert timings["blocks_computed"] == 36 and timings["scheduler"].startswith("tcp://")
    allocated = allocations(slurm)[earlier:]
    assert len(allocated) == int(THIS_NODE["--jobs"]), allocated
    worker_logs = [(cluster / f"slurm-{job}.out").read_text() for job in allocated]
    registered = re.compile(rf"Registered to:\s+{re.escape(timings['scheduler'])}")
    assert all(registered.search(w) for w in worker_logs), worker_logs
    deadline = time.monotonic() + 60
    while jobs_left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not jobs_left(), "the recipe left jobs in the queue"


@pytest.mark.slow
@pytest.mark.slurm
def test_ctrl_c_stops_the_slurm_recipe_in_one_line_keeps_its_blocks_and_cancels_its_jobs(queue, tmp_path):
    """dask-jobqueue 0.9.0 turns Ctrl-C into a silent exit with status 0; the script gives it back to the sweep."""
    small_baseline(tmp_path, 300, 100, figures=False)
    command = [*on_this_node(slurm_command())[:2], "small.toml", *on_this_node(slurm_command())[3:]]
    blocks = tmp_path / "results" / "baseline" / "blocks"
    run = subprocess.Popen(command, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(blocks.glob("b*.parquet"))) < 2 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, (run.returncode, out, err)
    assert err.splitlines()[-1].startswith("stopped: finished blocks are kept in"), err
    kept = len(list(blocks.glob("b*.parquet")))
    assert 2 <= kept < 108
    deadline = time.monotonic() + 60
    while jobs_left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not jobs_left(), "Ctrl-C left the recipe's jobs in the queue"

    resumed = subprocess.run([*command, "--resume", "--quiet"], cwd=tmp_path, env=env(), capture_output=True,
                             text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    timings = json.loads((blocks.parent / MANIFEST).read_text())["timings"]
    assert (timings["blocks_resumed"], timings["blocks_computed"]) == (kept, 108 - kept)
