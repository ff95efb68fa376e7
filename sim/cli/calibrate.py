"""``python -m sim calibrate CONFIG``: ABC-SMC against the court's record, with its predictive checks."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.errors import UserError
from sim.experiments.executors import default_workers
from sim.studies.calibration.config import load_calibration
from sim.studies.calibration.folder import check_folder, run_calibration_folder


def calibrate_command(args: argparse.Namespace) -> int:
    """Validate, check the folder, run the calibration and its checks, print the posterior summary."""
    cal = load_calibration(args.config)
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    workers = default_workers() if args.workers is None else args.workers
    folder = Path(args.out) if args.out else Path("results") / cal.name
    if getattr(args, "sbc", None):
        from sim.studies.calibration.sbc import run_sbc_folder

        sbc_folder = Path(args.out) if args.out else Path("results") / f"{cal.name}-sbc"
        check_folder(sbc_folder, cal, args.force)
        summary = run_sbc_folder(cal, sbc_folder, records=args.sbc, workers=workers, quiet=args.quiet)
        print(summary.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
        print(f"written to {sbc_folder}/")
        return 0
    check_folder(folder, cal, args.force)
    manifest = run_calibration_folder(cal, folder, workers=workers, quiet=args.quiet, checks=not args.no_checks)
    if not args.quiet:
        import pandas as pd

        summary = pd.read_csv(folder / "summary.csv")
        shown = summary[["parameter", "median", "q5", "q95", "width_ratio_90"]]
        t = manifest["timings"]
        print(f"{cal.name}: {manifest['calibration']['warrants']} warrants in {manifest['calibration']['runs']} runs; "
              f"fit in {t['fit_seconds']:.0f} s, everything in {t['wall_seconds']:.0f} s on {workers} worker(s)")
        print(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        print(f"written to {folder}/")
    return 0
