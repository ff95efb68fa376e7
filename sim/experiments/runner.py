"""Run an experiment's blocks into a results folder and assemble points.parquet and runs.parquet.

Order of work: check everything (executor options, the folder, the blocks already there, disk space),
open the executor (an unreachable scheduler is refused here), and only then claim the folder and
write. Knows nothing of analysis: the sweep study (sim.studies.sweep) adds the summary, figures and
manifest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from sim.experiments import folders, layout, store
from sim.experiments.blocks import (
    BLOCK_PATH,
    BLOCKS,
    BlockSpec,
    block_name,
    block_path,
    block_verified,
    write_block,
    write_runs,
)
from sim.experiments.config import FIGURE_KINDS, Block, Experiment
from sim.experiments.executors import Executor, Task, block_schema, check_executor
from sim.experiments.provenance import now, software

# disk space, estimated before a sweep starts: a row of a block file or of runs.parquet takes about 8 bytes
# (zstd) and a block file about 6 KB of footer and metadata; both are tripled for safety
BYTES_PER_ROW = 24
BYTES_PER_BLOCK = 1 << 14
BYTES_PER_POINT = 1 << 12  # summary.csv and the manifest


def default_folder(exp: Experiment) -> Path:
    return Path("results") / exp.name


def sweep_files(exp: Experiment) -> tuple[str, ...]:
    """Every relative path a sweep of ``exp`` may write (its marker lists them: nothing else is ever deleted)."""
    blocks = [f"{BLOCKS}/{block_name(b.block)}" for b in exp.blocks()]
    return (*layout.DATA_FILES, folders.MANIFEST, layout.SENSITIVITY, layout.PAIRED, *layout.figure_files(FIGURE_KINDS),
            *blocks)


def sweep_claim(exp: Experiment, made_by: dict[str, Any] | None = None, reads: tuple[Path, ...] = ()) -> folders.Claim:
    """A sweep's claim of its folder: every file it may write, listed in its marker when it claims the folder;
    block files and figures of earlier sweeps of the folder go by their names."""
    return folders.Claim(folders.SWEEP_FORMAT, exp.name, exp.sha256, sweep_files(exp), folders.MARKER_PATH,
                         made_by or {}, patterns=(BLOCK_PATH, layout.FIGURE_PATH), reads=reads)


def block_spec(exp: Experiment, folder: Path, b: Block) -> BlockSpec:
    """What block ``b``'s file must hold, from the experiment alone."""
    return BlockSpec(block_path(folder, b.block), b.points, b.replicates, exp.block_rows(b), exp.sha256)


def run_blocks(exp: Experiment, folder: Path, *, workers: int | None = None, scheduler: str | None = None,
               resume: bool = False, force: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Check, claim ``folder``, compute every block not verified on disk, write points and runs; return timings."""
    started, clock = now(), time.perf_counter()
    check_executor(workers, scheduler)
    made_by = {k: v for k, v in software().items() if k in ("sim", "git_commit")}
    reads = (exp.posterior.folder,) if exp.posterior is not None and exp.posterior.folder is not None else ()
    claim = sweep_claim(exp, made_by, reads)
    plan = folders.plan(folder, claim, resume=resume, force=force)
    blocks = exp.blocks()
    note = start_over_note(plan, folder, {block_path(folder, b.block) for b in blocks})
    schema = block_schema(exp.posterior is not None)
    todo = [b for b in blocks if not (plan.keep and block_verified(block_spec(exp, folder, b), schema))]
    rows = sum(exp.block_rows(b) for b in blocks)
    needed = (BYTES_PER_ROW * (rows + sum(exp.block_rows(b) for b in todo)) + BYTES_PER_BLOCK * len(todo)
              + BYTES_PER_POINT * exp.n_points)
    folders.check_space(plan, needed, f"{rows:,} rows of runs and {len(todo):,} block files")
    tasks = [task_of(exp, b) for b in todo]
    by_key = {b.block: b for b in todo}
    compute = 0.0
    with Executor(workers, scheduler) as executor:
        if note:
            sys.stderr.write(note + "\n")
        folders.claim(plan)
        if plan.warning:
            sys.stderr.write(plan.warning + "\n")
        bar = tqdm(total=len(blocks), initial=len(blocks) - len(todo), unit="block", desc=exp.name,
                   disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True)
        try:
            for task, frame, seconds in executor.run(tasks):
                write_block(block_spec(exp, folder, by_key[task.block]), frame)
                compute += seconds
                bar.update(1)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"stopped: finished blocks are kept in {folder / BLOCKS}; "
                                    f"continue with --resume") from None
        finally:
            bar.close()
    swept_seconds = time.perf_counter() - clock
    try:
        write_points_and_runs(exp, folder, blocks)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"stopped while writing the outputs: every block is kept in "
                                f"{folder / BLOCKS}; finish with --resume") from None
    months = sum(exp.params[int(p)].horizon for b in todo for p in b.point_of_rows())
    return {"started": started, "finished": now(), "wall_seconds": None, "sweep_seconds": round(swept_seconds, 3),
            "compute_seconds": round(compute, 3), "blocks_computed": len(todo),
            "blocks_resumed": len(blocks) - len(todo), "workers": workers, "scheduler": scheduler,
            "replicate_months_per_second": round(months / swept_seconds, 1) if todo and swept_seconds else None}


def start_over_note(plan: folders.Plan, folder: Path, block_files: set[Path]) -> str | None:
    """A rerun without --resume on a folder holding finished blocks of this sweep starts over: say so, and
    how to continue from them instead (None when nothing finished is replaced)."""
    if plan.keep:
        return None
    kept = [p for p in plan.delete if p in block_files]
    if not kept:
        return None
    same = plan.owner is not None and plan.owner.sha256 == plan.claim.sha256
    how = ("; a run with --resume continues from them instead" if same else
           " (they were made with another config, so they cannot be resumed)")
    return f"note: starting over: {len(kept)} finished block(s) in {folder / BLOCKS} are replaced{how}"


def task_of(exp: Experiment, b: Block) -> Task:
    """The task of block ``b``: its rows and the parameters of the points they belong to."""
    point = b.point_of_rows()
    return Task(b.block, {int(p): exp.params[int(p)] for p in np.unique(point)}, point, b.replicate_of_rows(),
                exp.seed, exp.engine, exp.crn, exp.posterior)


def block_files(folder: Path, blocks: list[Block]) -> list[Path]:
    """The block files in order (their rows follow the (point, replicate) sequence)."""
    return [block_path(folder, b.block) for b in sorted(blocks, key=lambda b: b.block)]


def write_points_and_runs(exp: Experiment, folder: Path, blocks: list[Block]) -> None:
    """points.parquet and runs.parquet (blocks in order), deterministically."""
    points = exp.points.copy()
    points["seed"] = exp.seed
    points["stream_point"] = 0 if exp.crn else points["point"]
    store.write_parquet(folder / layout.POINTS, points)
    write_runs(folder / layout.RUNS, block_files(folder, blocks))
