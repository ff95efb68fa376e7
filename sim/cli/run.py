"""``python -m sim run``: one replicate with the Mesa engine, told as a story (optionally written to a folder)."""

from __future__ import annotations

from pathlib import Path

from sim.engines.mesa.model import TribunalModel
from sim.engines.mesa.story import account
from sim.errors import UserError
from sim.experiments.config import params_from_file
from sim.model.params import parse_overrides
from sim.model.seeding import run_seed
from sim.studies.single_run import write_run


def run_command(args) -> int:
    overrides = parse_overrides(args.overrides)
    params = params_from_file(args.config, overrides) if args.config else params_from_file(None, overrides)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder path")
    model = TribunalModel(params, rng=run_seed(args.seed)).run()
    print(f"Seed {args.seed} (the same seed and parameters replay this run).")
    print(account(model))
    if out is not None:
        write_run(model, args.seed, out)
        print(f"Wrote events.csv, series.csv, outcome.json and manifest.json to {out}/")
    return 0
