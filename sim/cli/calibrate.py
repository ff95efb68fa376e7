"""``python -m sim calibrate CONFIG``: ABC-SMC against the court's record, with its predictive checks."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.sweep import out_folder
from sim.errors import UserError
from sim.experiments.executors import check_executor, worker_count
from sim.experiments.folders import SBC_FORMAT
from sim.studies.calibration.config import load_calibration
from sim.studies.calibration.folder import POSTERIOR_SUMMARY, plan_outputs, run_calibration_folder


def calibrate_command(args: argparse.Namespace) -> int:
    """Validate the config and the folder before anything runs, then calibrate (or run the SBC) and report."""
    cal = load_calibration(args.config)
    check_executor(args.workers, None)
    if args.resume and args.sbc is None:
        raise UserError("--resume continues a simulation-based calibration (--sbc N); a calibration itself starts "
                        "over: drop --resume")
    if cal.method == "npe":
        return _npe(cal, args)
    if args.sbc is not None:
        from sim.studies.calibration.sbc import claim_for, run_sbc_folder

        if args.sbc < 2:
            raise UserError(f"--sbc {args.sbc}: coverage needs at least 2 pseudo-records (100 or more to be useful)")
        folder = out_folder(args.out) or Path("results") / f"{cal.name}-sbc"
        plan = plan_outputs(folder, cal, args.force, SBC_FORMAT, claim=claim_for(cal, args.sbc),
                            resume=args.resume)
        workers = worker_count(args.workers)
        coverage = run_sbc_folder(cal, plan, records=args.sbc, workers=workers, quiet=args.quiet)
        print(coverage.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
        print(f"written to {folder}/")
        return 0
    folder = out_folder(args.out) or Path("results") / cal.name
    plan = plan_outputs(folder, cal, args.force)
    workers = worker_count(args.workers)
    manifest = run_calibration_folder(cal, plan, workers=workers, quiet=args.quiet, checks=not args.no_checks)
    if not args.quiet:
        t = manifest["timings"]
        _report(cal.name, folder, manifest, f"fit in {t['fit_seconds']:.0f} s, everything in "
                f"{t['wall_seconds']:.0f} s on {workers} worker(s)")
    return 0


def _report(name: str, folder: Path, manifest: dict, timings: str) -> None:
    """A calibration folder's headline (warrants, runs, its timings) and its posterior's summary table."""
    import pandas as pd

    summary = pd.read_csv(folder / POSTERIOR_SUMMARY)
    print(f"{name}: {manifest['calibration']['warrants']} warrants in {manifest['calibration']['runs']} runs; "
          f"{timings}")
    print(summary[["parameter", "median", "q5", "q95", "width_ratio_90"]].to_string(
        index=False, float_format=lambda x: f"{x:.4g}"))


def _npe(cal, args: argparse.Namespace) -> int:
    """An NPE calibration: train, fit the record and run every check into one folder."""
    from sim.studies.calibration.npe_folder import plan_outputs as plan_npe
    from sim.studies.calibration.npe_folder import run_npe_folder

    if args.sbc is not None or args.resume:
        raise UserError("--sbc and --resume run ABC-SMC's simulation-based calibration; an NPE calibration runs its "
                        "SBC with the fit ([checks] sbc_records pseudo-records): drop them")
    folder = out_folder(args.out) or Path("results") / cal.name
    plan = plan_npe(folder, cal, args.force)
    workers = worker_count(args.workers)
    manifest = run_npe_folder(cal, plan, workers=workers, quiet=args.quiet, checks=not args.no_checks)
    if not args.quiet:
        t = manifest["timings"]
        _report(cal.name, folder, manifest, f"NPE on {cal.npe.simulations if cal.npe else 0:,} simulated records "
                f"({t['simulate_seconds']:.0f} s), trained in {t['train_seconds']:.0f} s; everything in "
                f"{t['wall_seconds']:.0f} s on {workers} worker(s)")
        for key, text in (("sbc", "SBC"), ("tarp", "TARP"), ("forecast", "forecast coverage")):
            if key in manifest:
                print(f"{text}: {manifest[key]}")
        print(f"written to {folder}/")
    return 0
