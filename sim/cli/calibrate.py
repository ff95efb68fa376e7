"""``python -m sim calibrate CONFIG``: approximate Bayesian computation against the court's record."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.errors import UserError
from sim.experiments.executors import default_workers
from sim.studies.calibration import check_folder, load_calibration, run_calibration, write_outputs


def calibrate_command(args: argparse.Namespace) -> int:
    """The CLI handler: validate, check the folder, run, write, print the posterior summary."""
    cal = load_calibration(args.config)
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    workers = default_workers() if args.workers is None else args.workers
    folder = Path(args.out) if args.out else Path("results") / cal.name
    check_folder(folder, cal, args.force)
    result = run_calibration(cal, workers, args.quiet)
    write_outputs(cal, result, folder, workers)
    if not args.quiet:
        shown = result.summary.drop(columns=["prior"]).to_string(index=False, float_format=lambda x: f"{x:.4g}")
        print(f"{cal.draws} draws x {cal.replicates} replicates in {result.seconds:.1f} s; kept {cal.n_accepted} "
              f"(distance <= {result.summary['epsilon'].iloc[0]:.3g}) against {result.target.n} warrants "
              f"({result.target.events} custody events)\n{shown}\nwritten to {folder}/")
    return 0
