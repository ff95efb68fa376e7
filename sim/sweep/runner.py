"""Run an experiment into a results folder: blocks, then points/runs/summary, figures and the manifest."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

import sim
from sim.analysis.metrics import summarize
from sim.sweep import store
from sim.sweep.config import Experiment
from sim.sweep.design import DESIGN_TAG
from sim.sweep.executors import Task, check_executor, execute

SUMMARY_CHUNK_ROWS = 2_000_000  # summarise this many run rows at a time (whole points), to bound memory
PACKAGES = ("numpy", "pandas", "mesa", "pyarrow", "SALib", "scipy", "statsmodels", "matplotlib", "dask",
            "distributed")


def default_folder(exp: Experiment) -> Path:
    return Path("results") / exp.name


def run_sweep(exp: Experiment, out: str | Path | None = None, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, force: bool = False, quiet: bool = False,
              figures: bool = True) -> dict[str, Any]:
    """Run every block not yet on disk, assemble the outputs and write the manifest; return the manifest."""
    folder = Path(out) if out else default_folder(exp)
    started, clock = _now(), time.perf_counter()
    check_executor(workers, scheduler)
    made_by = {k: v for k, v in software().items() if k in ("sim", "git_commit")}
    store.prepare(folder, exp.name, exp.sha256, resume=resume, force=force, software=made_by)
    blocks = exp.blocks()
    rows = {b: b.n * exp.params[b.point].n_accused for b in blocks}
    todo = [b for b in blocks if not store.block_done(store.block_path(folder, b.point, b.block), rows[b])]
    tasks = [Task(exp.params[b.point], exp.seed, b.point, b.block, b.n, b.first, exp.engine) for b in todo]
    bar = tqdm(total=len(blocks), initial=len(blocks) - len(todo), unit="block", desc=exp.name,
               disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True)
    compute = 0.0
    try:
        for task, frame, seconds in execute(tasks, workers, scheduler):
            store.write_parquet(store.block_path(folder, task.point, task.block), frame)
            compute += seconds
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        sys.stderr.write(f"stopped: finished blocks are kept in {folder / store.BLOCKS}; "
                         f"continue with --resume\n")
        raise
    bar.close()
    swept_seconds = time.perf_counter() - clock
    outputs = write_outputs(exp, folder, blocks)
    timings = _timings(exp, todo, blocks, started, swept_seconds, compute, workers, scheduler)
    store.write_json(folder / store.MANIFEST, build_manifest(exp, folder, outputs, timings))
    if figures and exp.figures:  # figures read the finished folder, manifest included
        outputs += draw(folder, list(exp.figures))
    wall = time.perf_counter() - clock
    timings.update(finished=_now(), wall_seconds=round(wall, 3))
    manifest = build_manifest(exp, folder, outputs, timings)
    store.write_json(folder / store.MANIFEST, manifest)
    return manifest


def _timings(exp: Experiment, todo, blocks, started: str, seconds: float, compute: float, workers, scheduler):
    """Timings go to the manifest only: no hashed output holds a clock reading."""
    months = sum(b.n * exp.params[b.point].horizon for b in todo)
    return {"started": started, "finished": _now(), "wall_seconds": None, "sweep_seconds": round(seconds, 3),
            "compute_seconds": round(compute, 3), "blocks_computed": len(todo),
            "blocks_resumed": len(blocks) - len(todo), "workers": workers, "scheduler": scheduler,
            "replicate_months_per_second": round(months / seconds, 1) if todo and seconds else None}


def write_outputs(exp: Experiment, folder: Path, blocks) -> list[Path]:
    """points.parquet, runs.parquet (blocks in (point, block) order) and summary.csv, deterministically."""
    points = exp.points.copy()
    points["seed"] = exp.seed
    points["spawn_key"] = points["point"]
    points["blocks"] = exp.blocks_per_point
    store.write_parquet(folder / store.POINTS, points)
    by_point: dict[int, list[Path]] = {}
    for b in sorted(blocks, key=lambda b: (b.point, b.block)):
        by_point.setdefault(b.point, []).append(store.block_path(folder, b.point, b.block))
    store.write_runs(folder / store.RUNS, [f for files in by_point.values() for f in files])
    parts, chunk, size = [], [], 0
    for point, files in by_point.items():
        chunk += files
        size += sum(pq.read_metadata(f).num_rows for f in files)
        if size >= SUMMARY_CHUNK_ROWS or point == exp.n_points - 1:
            runs = pd.concat([pd.read_parquet(f) for f in chunk], ignore_index=True)
            parts.append(summarize(runs, list(exp.horizons), by=("point", "accused")))
            chunk, size = [], 0
    store.write_csv(folder / store.SUMMARY, pd.concat(parts, ignore_index=True))
    return [folder / name for name in store.DATA_FILES]


def draw(folder: Path, kinds: list[str]) -> list[Path]:
    """Draw each figure kind the config asks for; a kind that fails is a warning, not a lost sweep."""
    from sim.analysis.plots import draw_figures

    paths: list[Path] = []
    for kind in kinds:
        try:
            paths.extend(Path(p) for p in draw_figures(folder, [kind]))
        except Exception as exc:  # noqa: BLE001 - the results are written; a figure must not lose them
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            sys.stderr.write(f"warning: figure '{kind}' skipped ({first}); "
                             f"redraw with `python -m sim plot {folder} --kind {kind}`\n")
    return paths


def build_manifest(exp: Experiment, folder: Path, outputs: list[Path], timings: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to reproduce the folder, and the sha256 of every output file."""
    return {
        "format": "tribunal-sim results", "format_version": 1,
        "experiment": {"name": exp.name, "description": exp.description, "seed": exp.seed,
                       "replicates": exp.replicates, "block_size": exp.block_size, "engine": exp.engine,
                       "sampler": exp.sampler, "n": exp.n, "levels": exp.levels, "second_order": exp.second_order,
                       "points": exp.n_points, "blocks_per_point": exp.blocks_per_point,
                       "horizons": list(exp.horizons), "figures": list(exp.figures)},
        "swept": list(exp.swept),
        "bounds": {k: list(v) for k, v in exp.bounds.items()},
        "parameters": exp.base.to_dict(),
        "points": [{"point": i, "values": {n: exp.points[n].iloc[i].item() for n in exp.swept}}
                   for i in range(exp.n_points)],
        "seeds": {"experiment_seed": exp.seed,
                  "block": "numpy.random.SeedSequence(seed, spawn_key=(point, block))",
                  "replicate": "engine-specific, drawn only from its block's SeedSequence",
                  "design": f"numpy.random.default_rng(SeedSequence([{DESIGN_TAG}, seed])) passed to SALib"},
        "config": {"source": exp.source, "sha256": exp.sha256, "text": exp.text},
        "software": software(),
        "timings": timings,
        "outputs": {p.relative_to(folder).as_posix(): store.sha256(p) for p in outputs},
    }


def software() -> dict[str, Any]:
    out: dict[str, Any] = {"sim": sim.__version__, "git_commit": None, "git_dirty": None,
                           "python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    root = Path(sim.__file__).resolve().parent.parent
    if (root / ".git").exists():
        out["git_commit"] = _git(root, "rev-parse", "HEAD")
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
        out["git_dirty"] = None if status is None else bool(status)
    return out


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
