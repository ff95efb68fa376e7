"""``python -m sim calibrate CONFIG``: approximate Bayesian computation against the court's record."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.sweep import out_folder
from sim.experiments.executors import check_executor, worker_count
from sim.studies.calibration import load_calibration, plan_outputs, run_calibration, write_outputs


def calibrate_command(args: argparse.Namespace) -> int:
    """The CLI handler: validate, check the folder, run, write, print the posterior summary."""
    cal = load_calibration(args.config)
    check_executor(args.workers, None)
    folder = out_folder(args.out) or Path("results") / cal.name
    plan = plan_outputs(folder, cal, args.force)
    workers = worker_count(args.workers)
    result = run_calibration(cal, workers, args.quiet)
    write_outputs(cal, result, plan, workers)
    if not args.quiet:
        shown = result.summary.drop(columns=["prior"]).to_string(index=False, float_format=lambda x: f"{x:.4g}")
        print(f"{cal.draws} draws x {cal.replicates} replicates in {result.seconds:.1f} s; kept {cal.n_accepted} "
              f"(distance <= {result.summary['epsilon'].iloc[0]:.3g}) against {result.target.n} warrants "
              f"({result.target.events} custody events)\n{shown}\nwritten to {folder}/")
    return 0
