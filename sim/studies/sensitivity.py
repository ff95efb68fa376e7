"""The sensitivity study: a Sobol' or Morris design run as a sweep, then its indices (SALib) and figure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.analysis.sensitivity import design_indices, indices_frame, noise_levels, outcome_spec, outcome_values
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.config import Experiment
from sim.experiments.provenance import output_hashes
from sim.experiments.results import load_results
from sim.studies.figures import draw
from sim.studies.sweep import run_sweep


def run_sensitivity(exp: Experiment, folder: Path, *, source: str = "config", workers: int | None = None,
                    scheduler: str | None = None, resume: bool = False, force: bool = False,
                    quiet: bool = False) -> pd.DataFrame:
    """Run the design, write sensitivity.csv and the figures, record both in the manifest; return the table."""
    if exp.sampler not in ("sobol", "morris"):
        raise UserError(f"{source}: sensitivity needs [sweep] sampler = \"sobol\" or \"morris\" with "
                        f"[sweep.bounds], this config's sampler is {exp.sampler or 'missing'}")
    spec = outcome_spec(exp.sensitivity, min(p.horizon for p in exp.params), exp.base.n_accused)
    run_sweep(exp, folder, workers=workers, scheduler=scheduler, resume=resume, force=force, quiet=quiet,
              figures=False)
    results = load_results(folder)
    values = outcome_values(results.runs, spec)
    indices = design_indices(exp.sampler, exp.problem, results.points, values["value"], exp.seed,
                             second_order=exp.second_order, levels=exp.levels, resamples=spec["resamples"])
    table = indices_frame(indices, exp.sampler, spec, noise_levels(exp.sampler, values, exp.levels))
    store.write_csv(folder / store.SENSITIVITY, table)
    manifest = store.read_json(folder / store.MANIFEST) or {}
    manifest["sensitivity"] = {"method": exp.sampler, **spec, "bootstrap": "SALib, seed derived from the "
                               "experiment seed (sim.analysis.sensitivity.bootstrap_seed)"}
    manifest.setdefault("outputs", {}).update(output_hashes(folder, [folder / store.SENSITIVITY]))
    store.write_json(folder / store.MANIFEST, manifest)  # the figures read a verified sensitivity.csv
    kinds = list(dict.fromkeys([exp.sampler, *(k for k in exp.figures if k not in ("sobol", "morris"))]))
    figures = [path for kind in kinds for path in draw(folder, [kind])]  # one failed kind spares the rest
    manifest["outputs"].update(output_hashes(folder, figures))
    store.write_json(folder / store.MANIFEST, manifest)
    return table
