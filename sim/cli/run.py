"""``python -m sim run``: one replicate with the Mesa engine, told as a story (optionally written to a folder)."""

from __future__ import annotations

from sim.cli.sweep import out_folder
from sim.engines.mesa.model import TribunalModel
from sim.engines.mesa.story import account
from sim.experiments.config import load_experiment, model_overrides, parse_toml
from sim.experiments.folders import MANIFEST
from sim.experiments.posterior import FACTS, load_posterior
from sim.experiments.provenance import config_record
from sim.model.params import Params, parse_overrides
from sim.studies.single_run import FILES, plan_run, write_run


def run_command(args) -> int:
    """Validate the config (as `sweep` does), the overrides and the output folder, then run and tell."""
    overrides = parse_overrides(args.overrides)
    exp = load_experiment(args.config) if args.config else None
    params = (exp.base if exp else Params()).replace(overrides)
    if getattr(args, "posterior", None):
        posterior = load_posterior(args.posterior, 1, args.seed)
        stated = set(model_overrides(parse_toml(exp.text, exp.source))) if exp else set()
        posterior = posterior.keeping({*stated, *overrides})  # the facts of issue the config or --set state
        drawn = params
        params = posterior.apply(drawn, 0)
        shown = ", ".join(_shown_value(n, float(v), params) for n, v in zip(posterior.names, posterior.values[0]))
        print(f"Posterior draw of {args.posterior} (resampled with seed {args.seed}): {shown}")
    out = out_folder(args.out)
    plan = plan_run(out, force=args.force) if out is not None else None
    model = TribunalModel(params, seed=args.seed).run()
    print(f"Seed {args.seed} (the same seed and parameters replay this run).")
    print(account(model))
    if plan is not None:
        write_run(model, args.seed, plan, config_record(exp.text, exp.source) if exp else None)
        print(f"Wrote {', '.join(FILES)} and {MANIFEST} to {plan.folder}/")
    return 0


def _shown_value(name: str, drawn: float, params: Params) -> str:
    """A drawn value as the run uses it: a fact of issue the scenario keeps says so (ODD §7.0)."""
    used = params[name][0] if isinstance(params[name], list) else params[name]
    if abs(float(used) - drawn) < 1e-12:
        return f"{name} = {drawn:.4g}"
    why = "the scenario's fact of issue" if name in FACTS else "the drawn share among sealed warrants"
    return f"{name} = {float(used):.4g} ({why}; drawn {drawn:.4g})"
