"""Handlers of ``python -m sim sweep CONFIG`` and ``python -m sim reproduce DIR``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sim.errors import UserError
from sim.experiments.config import TABLE_COMMANDS, load_experiment
from sim.experiments.runner import default_folder
from sim.studies.reproduce import reproduce
from sim.studies.sweep import run_sweep


def out_folder(text: str | None) -> Path | None:
    """The --out folder; an empty one is refused rather than read as "no --out", and so is one whose bytes
    are not UTF-8 (manifests record their folder as UTF-8 text), before anything is created."""
    if text is None:
        return None
    if not text.strip():
        raise UserError("--out is empty; give a folder path (or leave --out out for the default)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(text).decode("utf-8", "backslashreplace")
        raise UserError(f"--out {shown} is not valid UTF-8; choose a folder name in UTF-8") from None
    return Path(text)


def sweep_command(args: argparse.Namespace) -> int:
    """Validate the config in full (touching nothing on error), then run it into its results folder."""
    exp = load_experiment(args.config)
    if exp.sensitivity:
        sys.stderr.write(f"note: {args.config} has a [sensitivity] table, which `sweep` does not read: it runs the "
                         f"design only; `python -m sim {TABLE_COMMANDS['sensitivity']} {args.config}` also computes "
                         "the indices\n")
    folder = out_folder(args.out) or default_folder(exp)
    manifest = run_sweep(exp, folder, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                         force=args.force, quiet=args.quiet)
    t = manifest["timings"]
    rate = t["replicate_months_per_second"]
    speed = f", {rate:,.0f} replicate-months/s" if rate else ""
    resumed = f", {t['blocks_resumed']} blocks resumed" if t["blocks_resumed"] else ""
    print(f"{exp.name}: {exp.n_points} points x {exp.replicates} replicates -> {folder} "
          f"in {t['wall_seconds']:.1f} s{speed}{resumed}")
    return 0


def reproduce_command(args: argparse.Namespace) -> int:
    """Rerun DIR's experiment from its manifest; 0 when every data file is identical, 1 otherwise."""
    from sim.studies.reproduce import kind_of, read_manifest

    folder = Path(args.folder)
    kind = kind_of(read_manifest(folder), folder)
    if kind.note and not args.quiet:
        sys.stderr.write(f"note: rerunning a {kind.name}: {kind.note}\n")
    report = reproduce(folder, workers=args.workers, quiet=args.quiet)
    for note in report.notes:
        sys.stderr.write(f"note: {note}\n")
    if report.differing:
        for line in report.differing:
            print(f"differs: {line}")
        print(f"not reproduced ({report.kind}): {len(report.differing)} of {len(report.compared)} files differ")
        return 1
    print(f"reproduced ({report.kind}): {', '.join(report.compared)} identical (sha256)")
    return 0
