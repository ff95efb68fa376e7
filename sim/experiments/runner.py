"""Run an experiment's blocks into a results folder and assemble points.parquet and runs.parquet.

Knows nothing of analysis: the sweep study (sim.studies.sweep) adds the summary, figures and manifest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sim.experiments import store
from sim.experiments.config import Block, Experiment
from sim.experiments.executors import Task, check_executor, execute
from sim.experiments.provenance import now, software


def default_folder(exp: Experiment) -> Path:
    return Path("results") / exp.name


def run_blocks(exp: Experiment, folder: Path, *, workers: int | None = None, scheduler: str | None = None,
               resume: bool = False, force: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Claim ``folder``, compute every block not yet on disk, write points and runs; return the timings."""
    started, clock = now(), time.perf_counter()
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
    write_points_and_runs(exp, folder, blocks)
    months = sum(b.n * exp.params[b.point].horizon for b in todo)
    return {"started": started, "finished": now(), "wall_seconds": None, "sweep_seconds": round(swept_seconds, 3),
            "compute_seconds": round(compute, 3), "blocks_computed": len(todo),
            "blocks_resumed": len(blocks) - len(todo), "workers": workers, "scheduler": scheduler,
            "replicate_months_per_second": round(months / swept_seconds, 1) if todo and swept_seconds else None}


def block_files(folder: Path, blocks: list[Block]) -> dict[int, list[Path]]:
    """Each point's block files in block order."""
    by_point: dict[int, list[Path]] = {}
    for b in sorted(blocks, key=lambda b: (b.point, b.block)):
        by_point.setdefault(b.point, []).append(store.block_path(folder, b.point, b.block))
    return by_point


def write_points_and_runs(exp: Experiment, folder: Path, blocks: list[Block]) -> None:
    """points.parquet and runs.parquet (blocks in (point, block) order), deterministically."""
    points = exp.points.copy()
    points["seed"] = exp.seed
    points["spawn_key"] = points["point"]
    points["blocks"] = exp.blocks_per_point
    store.write_parquet(folder / store.POINTS, points)
    store.write_runs(folder / store.RUNS, [f for files in block_files(folder, blocks).values() for f in files])
