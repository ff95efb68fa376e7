"""The sensitivity study: a Sobol' or Morris design run as a sweep, then indices of every measure the
[sensitivity] table asks for (SALib, with the replicate noise), sensitivity.csv and its figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.analysis.sensitivity import Spec, design_indices, indices_frame, replicate_values, sensitivity_spec
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.config import Experiment
from sim.experiments.folders import MANIFEST
from sim.experiments.layout import SENSITIVITY, figure_files
from sim.experiments.provenance import output_hashes
from sim.experiments.results import load_results
from sim.studies.figures import draw
from sim.studies.sweep import run_sweep

NOISE = {
    "morris": "noise_mu_star: sqrt(2/pi) x mean over the parameter's steps of the standard error of the step's "
              "elementary effect, from the replicates' paired differences (sim.analysis.sensitivity.morris_noise)",
    "sobol": "removed: S1 = V_i / (V - N), ST = (E_i - N) / (V - N), N the mean squared standard error of the "
             "points' means (sim.analysis.sensitivity.sobol_with_noise); noise_share = N / V",
}


def check_sensitivity(exp: Experiment, source: str = "config") -> Spec:
    """Everything about a sensitivity config that can be wrong, before anything runs."""
    if exp.sampler not in ("sobol", "morris"):
        raise UserError(f"{source}: sensitivity needs [sweep] sampler = \"sobol\" or \"morris\" with "
                        f"[sweep.bounds], this config's sampler is {exp.sampler or 'missing'}")
    if exp.sampler == "sobol" and exp.crn:
        raise UserError(f"{source}: Sobol' indices remove noise that is independent between points; with "
                        "common random numbers it is shared and cannot be removed: set [sweep] "
                        "common_random_numbers = false (Morris profits from common random numbers, Sobol' does not)")
    if exp.replicates < 2:
        raise UserError(f"{source}: the noise of the indices is estimated from the replicates; set [experiment] "
                        f"replicates to at least 2 (got {exp.replicates})")
    return sensitivity_spec(exp.sensitivity, min(p.horizon for p in exp.params), exp.base.n_accused)


def sensitivity_table(exp: Experiment, folder: Path, spec: Spec) -> pd.DataFrame:
    """The indices of every measure from a finished sweep's runs, one block of rows per measure."""
    results = load_results(folder)
    tables = []
    for measure in spec.measures:
        per_replicate = replicate_values(results.runs, measure)
        indices = design_indices(exp.sampler or "", exp.problem, results.points, per_replicate, exp.seed,
                                 second_order=exp.second_order, levels=exp.levels, resamples=spec.resamples)
        tables.append(indices_frame(indices, exp.sampler or "", measure))
    return pd.concat(tables, ignore_index=True)


def run_sensitivity(exp: Experiment, folder: Path, *, source: str = "config", workers: int | None = None,
                    scheduler: str | None = None, resume: bool = False, force: bool = False,
                    quiet: bool = False) -> pd.DataFrame:
    """Run the design, write sensitivity.csv and the figures, record both in the manifest; return the table."""
    spec = check_sensitivity(exp, source)
    own = (exp.sampler or "", "ranking")
    kinds = list(dict.fromkeys([*own, *(k for k in exp.figures if k not in ("sobol", "morris", "ranking"))]))
    run_sweep(exp, folder, workers=workers, scheduler=scheduler, resume=resume, force=force, quiet=quiet,
              figures=False, pending=[SENSITIVITY, *figure_files(kinds)])
    table = sensitivity_table(exp, folder, spec)
    store.write_csv(folder / SENSITIVITY, table)
    manifest = store.read_json(folder / MANIFEST) or {}
    manifest["sensitivity"] = {"method": exp.sampler, **spec.record(), "noise": NOISE[exp.sampler or ""],
                               "bootstrap": "seed derived from the experiment seed "
                                            "(sim.analysis.sensitivity.bootstrap_seed)"}
    manifest.setdefault("outputs", {}).update(output_hashes(folder, [folder / SENSITIVITY]))
    store.write_json(folder / MANIFEST, manifest)  # the figures read a verified sensitivity.csv
    figures = [path for kind in kinds for path in draw(folder, [kind])]  # one failed kind spares the rest
    manifest["outputs"].update(output_hashes(folder, figures))
    manifest.pop("pending", None)
    store.write_json(folder / MANIFEST, manifest)
    return table
