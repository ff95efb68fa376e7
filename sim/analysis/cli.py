"""Handlers of ``python -m sim plot DIR`` and ``python -m sim sensitivity CONFIG``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.errors import UserError

SENSITIVITY_CSV = "sensitivity.csv"


def plot_command(args: argparse.Namespace) -> int:
    """Redraw a results folder's figures from its files; nothing is rerun."""
    from sim.analysis.plots import draw_figures

    folder = Path(args.folder)
    paths = draw_figures(folder, args.kind)
    if not paths:
        print(f"{folder}: no figure applies (see `python -m sim plot --help` for the kinds)")
    for p in paths:
        print(p)
    return 0


def sensitivity_command(args: argparse.Namespace) -> int:
    """Run the config's Sobol' or Morris design as a sweep, then write sensitivity.csv and its figure."""
    from sim.analysis.sensitivity import design_indices, indices_frame, noise_levels, outcome_spec, outcome_values
    from sim.sweep import store
    from sim.sweep.config import load_experiment
    from sim.sweep.runner import default_folder, draw, run_sweep

    exp = load_experiment(args.config)
    if exp.sampler not in ("sobol", "morris"):
        raise UserError(f"{args.config}: sensitivity needs [sweep] sampler = \"sobol\" or \"morris\" with "
                        f"[sweep.bounds], this config's sampler is {exp.sampler or 'missing'}")
    spec = outcome_spec(exp.sensitivity, min(p.horizon for p in exp.params), exp.base.n_accused)
    folder = Path(args.out) if args.out else default_folder(exp)
    run_sweep(exp, folder, workers=args.workers, scheduler=args.scheduler, resume=args.resume, force=args.force,
              quiet=args.quiet, figures=False)
    from sim.analysis.results import load_results

    results = load_results(folder)
    values = outcome_values(results.runs, spec)
    indices = design_indices(exp.sampler, exp.problem, results.points, values["value"], exp.seed,
                             second_order=exp.second_order, levels=exp.levels, resamples=spec["resamples"])
    table = indices_frame(indices, exp.sampler, spec, noise_levels(exp.sampler, values, exp.levels))
    store.write_csv(folder / SENSITIVITY_CSV, table)
    kinds = list(dict.fromkeys([exp.sampler, *(k for k in exp.figures if k not in ("sobol", "morris"))]))
    figures = [path for kind in kinds for path in draw(folder, [kind])]  # one failed kind spares the rest
    manifest = store.read_json(folder / store.MANIFEST) or {}
    manifest["sensitivity"] = {"method": exp.sampler, **spec, "bootstrap": "SALib, seed derived from the "
                               "experiment seed (sim.analysis.sensitivity.bootstrap_seed)"}
    outputs = manifest.setdefault("outputs", {})
    for p in [folder / SENSITIVITY_CSV, *figures]:
        outputs[p.relative_to(folder).as_posix()] = store.sha256(p)
    store.write_json(folder / store.MANIFEST, manifest)
    print(_report(table, exp.sampler, folder))
    return 0


def _report(table, method: str, folder: Path) -> str:
    """A few lines for the terminal: the parameters by importance."""
    key, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    rows = table.sort_values(key, ascending=False, kind="stable")
    width = max(len(n) for n in rows["parameter"])
    lines = [f"{method} indices of {rows['outcome_label'].iloc[0]} -> {folder / SENSITIVITY_CSV}"]
    if method == "sobol":
        lines.append(f"  {'parameter':<{width}}  {'S1':>14}  {'ST':>14}")
        for _, r in rows.iterrows():
            lines.append(f"  {r['parameter']:<{width}}  {r['S1']:>6.3f} ± {r['S1_conf']:<5.3f}  "
                         f"{r['ST']:>6.3f} ± {r['ST_conf']:<5.3f}")
    else:
        lines.append(f"  {'parameter':<{width}}  {'mu*':>16}  {'sigma':>8}")
        for _, r in rows.iterrows():
            lines.append(f"  {r['parameter']:<{width}}  {r[key]:>8.4g} ± {r[conf]:<6.3g}  {r['sigma']:>8.4g}")
    return "\n".join(lines)
