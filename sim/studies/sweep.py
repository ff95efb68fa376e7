"""The sweep study: an experiment's blocks, then summary.csv, figures and the manifest of the folder."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.metrics import parameter_spread, posterior_band, summarize
from sim.experiments import store
from sim.experiments.blocks import BLOCKS
from sim.experiments.config import Experiment
from sim.experiments.folders import MANIFEST
from sim.experiments.layout import DATA_FILES, SUMMARY, figure_files
from sim.experiments.provenance import build_manifest, now
from sim.experiments.runner import block_files, default_folder, run_blocks
from sim.studies.figures import draw

SUMMARY_CHUNK_ROWS = 2_000_000  # summarise this many run rows at a time (whole points), to bound memory


def run_sweep(exp: Experiment, out: str | Path | None = None, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, force: bool = False, quiet: bool = False,
              figures: bool = True, pending: Sequence[str] = ()) -> dict[str, Any]:
    """Run every block not yet on disk, assemble the outputs and write the manifest; return the manifest.

    The data are complete once the first manifest is written; the figures still to be drawn (and
    ``pending``: what the calling study adds afterwards) are listed in it as ``pending`` until they
    are, so a folder stopped meanwhile says so (``Results.pending``) and ``--resume`` finishes it.
    """
    folder = Path(out) if out is not None else default_folder(exp)
    clock = time.perf_counter()
    timings = run_blocks(exp, folder, workers=workers, scheduler=scheduler, resume=resume, force=force,
                         quiet=quiet)
    kinds = list(exp.figures) if figures else []
    try:
        write_summary(exp, folder)
        outputs = [folder / name for name in DATA_FILES]
        later = [*figure_files(kinds), *pending]
        store.write_json(folder / MANIFEST, {**build_manifest(exp, folder, outputs, timings),
                                             **({"pending": later} if later else {})})
        if kinds:  # figures read the finished folder, manifest included
            outputs += draw(folder, kinds)
        timings.update(finished=now(), wall_seconds=round(time.perf_counter() - clock, 3))
        manifest = build_manifest(exp, folder, outputs, timings)
        if pending:
            manifest["pending"] = list(pending)
        store.write_json(folder / MANIFEST, manifest)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"stopped while writing the outputs: every block is kept in {folder / BLOCKS}; "
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
                table = posterior_band(table, list(exp.horizons))
            parts.append(table)
            pending = [] if k == len(files) - 1 else [runs[runs["point"] == last]]
            size = sum(len(x) for x in pending)
    store.write_csv(folder / SUMMARY, pd.concat(parts, ignore_index=True))
