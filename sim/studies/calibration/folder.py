"""A calibration's results folder: run the study, write its tables, figures and manifest (atomic writes)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.inference import describe_statistic, statistic_names
from sim.analysis.plots_calibration import out_of_sample_figure, pairs_figure, predictive_figure
from sim.analysis.style import save
from sim.experiments import store
from sim.experiments.provenance import config_record, manifest, now
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import build_design, runs_table
from sim.studies.calibration.study import (
    fit,
    observed_summaries,
    out_of_sample,
    predictive,
    timed_stays,
    workers_pool,
)

FORMAT = store.CALIBRATION_FORMAT
HISTORY = store.ABC_HISTORY
DATA = store.CALIBRATION_DATA  # compared by `reproduce`


def plan_outputs(folder: Path, cal: Calibration, force: bool, fmt: str = FORMAT, *, claim: store.Claim | None = None,
                 resume: bool = False) -> store.Plan:
    """Every check before anything runs: the folder may be new, empty or this calibration's own earlier
    results; anything else needs ``force`` (and then only the tool's own files there are replaced)."""
    claim = claim or store.Claim(fmt, cal.name, cal.sha256, (*store.STUDY_FILES[fmt], store.MANIFEST))
    plan = store.plan(folder, claim, force=force, resume=resume)
    store.check_space(plan, 64 << 20, "the posterior, its checks and figures")
    return plan


check_folder = plan_outputs


def run_calibration_folder(cal: Calibration, plan: store.Plan, *, workers: int = 1, quiet: bool = True,
                           checks: bool = True) -> dict[str, Any]:
    """Fit, check, and write everything into the planned folder; return the manifest."""
    started, clock = now(), time.perf_counter()
    design = build_design(cal.selection, cal.base)
    store.claim(plan)
    folder = plan.folder
    tmp_history = folder / f".{HISTORY}.main.tmp"  # (.<name>.<x>.tmp: an interrupted run's are cleaned next time)
    with workers_pool(workers) as pool:
        observed = observed_summaries(cal, design, pool, workers)
        main = fit(cal, design, observed, workers=workers, pool=pool, quiet=quiet, history=tmp_history)
        timings: dict[str, Any] = {"fit_seconds": round(main.seconds, 1)}
        replicated, table = (predictive(cal, design, main, workers=workers, pool=pool) if checks
                             else (pd.DataFrame(), pd.DataFrame()))
        stays = timed_stays(cal, design, main) if checks else None
        oos = None
        if checks and cal.checks.out_of_sample:
            start = time.perf_counter()
            oos = out_of_sample(cal, design, workers=workers, pool=pool, quiet=quiet,
                                history=folder / f".{HISTORY}.oos.tmp")
            timings["out_of_sample_seconds"] = round(time.perf_counter() - start, 1)
    names = statistic_names(cal.months, cal.travel)
    outputs: list[Path] = []

    def csv(name: str, frame: pd.DataFrame) -> None:
        store.write_csv(folder / name, frame)
        outputs.append(folder / name)

    store.write_parquet(folder / store.POSTERIOR, main.population)
    outputs.append(folder / store.POSTERIOR)
    csv(store.GENERATIONS, main.generations)
    csv(store.SUMMARY, main.summary)
    csv(store.OBSERVED, pd.DataFrame({"statistic": names, "value": [float(observed[n]) for n in names],
                                      "what": [describe_statistic(n) for n in names]}))
    csv(store.RECORDS, design.records)
    csv(store.RUNS_TABLE, runs_table(design).merge(design.run_rows, on="run"))
    csv(store.TRAVEL_TABLE, design.travel)
    csv(store.FINDINGS_TABLE, design.findings)
    figures = [pairs_figure(main.population, cal.priors, cal.truth or None,
                            title=f"Posterior of {cal.name}: {len(main.population):,} particles, "
                                  f"{int(main.generations['evaluations'].sum()):,} simulated records")]
    stems = ["pairs"]
    if checks:
        csv(store.PREDICTIVE, table)
        if stays is not None:
            csv(store.TIMED_STAYS, stays)
        store.write_parquet(folder / store.PREDICTIVE_DRAWS, replicated)
        outputs.append(folder / store.PREDICTIVE_DRAWS)
        figures.append(predictive_figure(table, len(replicated), design.n_warrants))
        stems.append("predictive")
        if oos is not None:
            early, _, oos_table, state = oos
            csv(store.OUT_OF_SAMPLE, oos_table)
            csv(store.OUT_OF_SAMPLE_SUMMARY, early.summary)
            csv(store.OUT_OF_SAMPLE_STATE, state)
            figures.append(out_of_sample_figure(oos_table, str(cal.checks.out_of_sample), design.censor.isoformat()))
            stems.append("out_of_sample")
    for fig, stem in zip(figures, stems):
        outputs += save(fig, folder, stem)
    shutil.move(str(tmp_history), folder / HISTORY)
    (folder / f".{HISTORY}.oos.tmp").unlink(missing_ok=True)
    timings.update(started=started, finished=now(), wall_seconds=round(time.perf_counter() - clock, 1),
                   workers=workers)
    outputs.append(folder / HISTORY)
    manifest = manifest_of(cal, folder, outputs, timings, design.n_warrants, len(design.runs),
                           design.censor.isoformat())
    store.write_json(folder / store.MANIFEST, manifest)
    return manifest


def manifest_of(cal: Calibration, folder: Path, outputs: list[Path], timings: dict[str, Any], warrants: int,
                runs: int, record_date: str) -> dict[str, Any]:
    sections = {
        "calibration": {"name": cal.name, "description": cal.description, "seed": cal.seed, "engine": cal.engine,
                        "particles": cal.particles, "generations": cal.generations, "batch": cal.batch,
                        "min_acceptance": cal.min_acceptance, "kernel_scaling": cal.kernel_scaling,
                        "method": "ABC-SMC (pyabc, adaptive p-norm distance)",
                        "warrants": warrants, "runs": runs, "record_date": record_date},
        "priors": [{"name": p.name, "dist": p.dist, "low": p.low, "high": p.high, "a": p.a, "b": p.b, "why": p.why}
                   for p in cal.priors],
        "design": {"turnover": [{"class": c.name, "rate": c.rate, "homes": list(c.homes), "why": c.why}
                                for c in cal.selection.turnover],
                   "travel_roles": list(cal.selection.travel_roles), "travel_end": cal.selection.travel_end},
        "summaries": {"months": list(cal.months), "travel": list(cal.travel)},
        "truth": cal.truth or None,
        "parameters": cal.base.to_dict(changed_only=True),
        "seeds": {"seed": cal.seed, "pyabc": "numpy global state seeded from SeedSequence([0x534D43, seed])",
                  "pseudo_record": "replicate g (the run) of stream point id (sampler call x 10^7 + proposal)"},
        "timings": timings,
        "data_files": [n for n in DATA if (folder / n).is_file()],
    }
    return manifest(FORMAT, sections, config=config_record(cal.text, cal.source), folder=folder, outputs=outputs)
