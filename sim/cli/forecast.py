"""``python -m sim forecast CONFIG``: the probability of custody by each horizon, given the record to date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.sweep import out_folder
from sim.studies.forecast.config import load_forecast
from sim.studies.forecast.study import FORECAST, plan_outputs, run_forecast


def forecast_command(args: argparse.Namespace) -> int:
    """Validate the config, its scenario, the record and the folder before anything runs; then forecast."""
    fc = load_forecast(args.config)
    folder = out_folder(args.out) or Path("results") / fc.name
    plan = plan_outputs(folder, fc, args.force)
    if plan.warning:
        sys.stderr.write(plan.warning + "\n")
    doc, warnings = run_forecast(fc, plan, quiet=args.quiet)
    for line in warnings:
        sys.stderr.write(f"warning: {line}\n")
    if not args.quiet:
        import pandas as pd

        table = pd.read_csv(folder / FORECAST)
        rec = fc.record
        print(f"{fc.name}: {fc.draws} draws x {fc.replicates} replicates ({fc.source}), given the record to "
              f"{rec.date} ({rec.month} months since {rec.issue}: "
              + ", ".join(f"{a.person} {a.status}" for a in rec.accused)
              + f"; {'a' if rec.regime_changed else 'no'} change of government)")
        for _, r in table.iterrows():
            print(f"  {r['accused']}: custody by {r['horizon_date']} p = {r['p']:.3f} (posterior 90% "
                  f"[{r['p_q05']:.3f}, {r['p_q95']:.3f}], Monte Carlo se {r['mc_se']:.3f})")
        t = doc["timings"]
        print(f"written to {folder}/ in {t['wall_seconds']:.1f} s ({t['rows']:,} replicates, {fc.engine} engine)")
    return 0
