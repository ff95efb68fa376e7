"""Handlers of ``python -m sim plot DIR``, ``sensitivity CONFIG``, ``discover DIR`` and ``compare CONFIG``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.sweep import out_folder
from sim.experiments.config import load_experiment
from sim.experiments.layout import BOX, DISCOVERY, SENSITIVITY
from sim.experiments.runner import default_folder
from sim.studies.figures import draw_figures
from sim.studies.sensitivity import run_sensitivity


def plot_command(args: argparse.Namespace) -> int:
    """Redraw a results folder's figures from its files; nothing is rerun."""
    from sim.experiments.results import load_results, pending_note

    folder = Path(args.folder)
    results = load_results(folder)
    note = pending_note(results)
    if note:
        sys.stderr.write(f"note: {note}\n")
    paths = draw_figures(folder, args.kind, results)
    if not paths:
        print(f"{folder}: no figure applies (see `python -m sim plot --help` for the kinds)")
    for p in paths:
        print(p)
    return 0


def sensitivity_command(args: argparse.Namespace) -> int:
    """Run the config's Sobol' or Morris design as a sweep, then write sensitivity.csv and its figure."""
    exp = load_experiment(args.config)
    folder = out_folder(args.out) or default_folder(exp)
    table = run_sensitivity(exp, folder, source=args.config, workers=args.workers, scheduler=args.scheduler,
                            resume=args.resume, force=args.force, quiet=args.quiet)
    print(_report(table, exp.sampler, folder))
    return 0


def _report(table, method: str | None, folder: Path) -> str:
    """A few lines for the terminal: the first measure's parameters by importance, then each other
    measure's three most influential ones."""
    key, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    groups = list(table.groupby("measure", sort=False)) if "measure" in table.columns else [("", table)]
    rows = groups[0][1].sort_values(key, ascending=False, kind="stable")
    width = max(len(n) for n in rows["parameter"])
    lines = [f"{method} indices of {rows['outcome_label'].iloc[0]} -> {folder / SENSITIVITY}"]
    if method == "sobol":
        lines.append(f"  {'parameter':<{width}}  {'S1':>14}  {'ST':>14}   (replicate noise removed)")
        for _, r in rows.iterrows():
            lines.append(f"  {r['parameter']:<{width}}  {r['S1']:>6.3f} ± {r['S1_conf']:<5.3f}  "
                         f"{r['ST']:>6.3f} ± {r['ST_conf']:<5.3f}")
    else:
        lines.append(f"  {'parameter':<{width}}  {'mu*':>16}  {'sigma':>8}  {'noise mu*':>9}")
        for _, r in rows.iterrows():
            lines.append(f"  {r['parameter']:<{width}}  {r[key]:>8.4g} ± {r[conf]:<6.3g}  {r['sigma']:>8.4g}  "
                         f"{r['noise_mu_star']:>9.3g}")
    for _, frame in groups[1:]:
        top = frame.sort_values(key, ascending=False, kind="stable").head(3)
        lines.append(f"{frame['outcome_label'].iloc[0]}: " + ", ".join(
            f"{r['parameter']} ({r[key]:.3g})" for _, r in top.iterrows()))
    return "\n".join(lines)


def discover_command(args: argparse.Namespace) -> int:
    """PRIM over a finished sweep: where is the outcome by the horizon at least (or below) the threshold?"""
    from sim.studies.discovery import Question, discover

    folder = Path(args.folder)
    accused = args.accused if args.accused == "all" else _index(args.accused)
    prim = {k: v for k, v in (("peel_alpha", args.peel_alpha), ("paste_alpha", args.paste_alpha),
                               ("mass_min", args.mass_min)) if v is not None}  # else PRIM's defaults
    question = Question(horizon=args.horizon, threshold=args.threshold, accused=str(accused), outcome=args.outcome,
                        below=args.below, density=args.density, **prim)
    out = out_folder(args.out)
    manifest = discover(folder, question, out, force=args.force)
    where = out or folder / DISCOVERY
    box = manifest["box"]
    print(f"box {box}: coverage {manifest['coverage']:.3f}, density {manifest['density']:.3f}, "
          f"mass {manifest['mass']:.3f} -> {where}")
    import pandas as pd

    limits = pd.read_csv(where / BOX)
    for _, r in limits.iterrows():
        print(f"  {r['parameter']}: {r['low']:.4g} .. {r['high']:.4g}")
    return 0


def _index(text: str) -> int:
    from sim.errors import UserError

    try:
        value = int(text)
    except ValueError:
        raise UserError(f"--accused {text!r}: give an accused index (0, 1, ...) or \"all\"") from None
    if value < 0:
        raise UserError(f"--accused {text!r}: give an accused index (0, 1, ...) or \"all\"")
    return value


def compare_command(args: argparse.Namespace) -> int:
    """The base and its alternatives on common random numbers; paired differences and their figure."""
    from sim.experiments.comparison import load_comparison
    from sim.studies.compare import report, run_comparison

    comparison = load_comparison(args.configs)
    folder = out_folder(args.out) or default_folder(comparison.experiment)
    table = run_comparison(comparison, folder, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                           force=args.force, quiet=args.quiet)
    print(report(table, folder))
    return 0
