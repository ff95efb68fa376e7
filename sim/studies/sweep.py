"""The sweep study: an experiment's blocks, then summary.csv, figures and the manifest of the folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.metrics import parameter_spread, summarize
from sim.experiments import store
from sim.experiments.config import Experiment
from sim.experiments.provenance import build_manifest, now
from sim.experiments.runner import block_files, default_folder, run_blocks
from sim.studies.figures import draw

SUMMARY_CHUNK_ROWS = 2_000_000  # summarise this many run rows at a time (whole points), to bound memory


def run_sweep(exp: Experiment, out: str | Path | None = None, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, force: bool = False, quiet: bool = False,
              figures: bool = True) -> dict[str, Any]:
    """Run every block not yet on disk, assemble the outputs and write the manifest; return the manifest."""
    folder = Path(out) if out is not None else default_folder(exp)
    clock = time.perf_counter()
    timings = run_blocks(exp, folder, workers=workers, scheduler=scheduler, resume=resume, force=force,
                         quiet=quiet)
    try:
        write_summary(exp, folder)
        outputs = [folder / name for name in store.DATA_FILES]
        store.write_json(folder / store.MANIFEST, build_manifest(exp, folder, outputs, timings))
        if figures and exp.figures:  # figures read the finished folder, manifest included
            outputs += draw(folder, list(exp.figures))
        timings.update(finished=now(), wall_seconds=round(time.perf_counter() - clock, 3))
        manifest = build_manifest(exp, folder, outputs, timings)
        store.write_json(folder / store.MANIFEST, manifest)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"stopped while writing the outputs: every block is kept in {folder / store.BLOCKS}; "
                                f"finish with --resume") from None
    return manifest


def write_summary(exp: Experiment, folder: Path) -> None:
    """summary.csv from the block files, a few whole points at a time (bounded memory)."""
    parts, pending = [], []
    size = 0
    files = block_files(folder, exp.blocks())
    for k, f in enumerate(files):
        frame = pd.read_parquet(f)
        pending.append(frame)
        size += len(frame)
        if size >= SUMMARY_CHUNK_ROWS or k == len(files) - 1:
            runs = pd.concat(pending, ignore_index=True)
            last = int(runs["point"].iloc[-1])
            done = runs if k == len(files) - 1 else runs[runs["point"] < last]  # the last point may go on
            table = summarize(done, list(exp.horizons), by=("point", "accused"))
            if "draw" in done.columns:  # over a posterior: the spread due to the parameters, noise removed
                spread = parameter_spread(done, list(exp.horizons), by=("point", "accused"))
                table = table.merge(spread, on=["point", "accused"], how="left", validate="one_to_one")
            parts.append(table)
            pending = [] if k == len(files) - 1 else [runs[runs["point"] == last]]
            size = sum(len(x) for x in pending)
    store.write_csv(folder / store.SUMMARY, pd.concat(parts, ignore_index=True))
