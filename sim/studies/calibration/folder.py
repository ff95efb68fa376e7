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
from sim.experiments import folders, store
from sim.experiments.layout import figure_files
from sim.experiments.posterior import POSTERIOR
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

FORMAT = folders.CALIBRATION_FORMAT
# the files of a calibration's folder: the posterior, its generations and summary, the record's summaries, the
# design (records and runs), the posterior predictive and out-of-sample checks, pyabc's history and the figures
GENERATIONS, POSTERIOR_SUMMARY, OBSERVED, RECORDS, RUNS_TABLE = ("generations.csv", "summary.csv", "observed.csv",
                                                                 "records.csv", "runs.csv")
PREDICTIVE, PREDICTIVE_DRAWS, OUT_OF_SAMPLE, OUT_OF_SAMPLE_SUMMARY = ("predictive.csv", "predictive.parquet",
                                                                      "out_of_sample.csv", "out_of_sample_summary.csv")
OUT_OF_SAMPLE_STATE, TRAVEL_TABLE, FINDINGS_TABLE, TIMED_STAYS = ("out_of_sample_state.csv", "travel.csv",
                                                                "findings.csv", "timed_stays.csv")
HISTORY = "abc_history.db"
FIGURES = ("pairs", "predictive", "out_of_sample")
DATA = (POSTERIOR, GENERATIONS, POSTERIOR_SUMMARY, OBSERVED, RECORDS, RUNS_TABLE, TRAVEL_TABLE, FINDINGS_TABLE,
        PREDICTIVE, TIMED_STAYS, OUT_OF_SAMPLE, OUT_OF_SAMPLE_SUMMARY, OUT_OF_SAMPLE_STATE)  # compared by `reproduce`
FILES = (*DATA, PREDICTIVE_DRAWS, HISTORY, *figure_files(FIGURES, None))
# pyabc's history while it is written (the fit's, the out-of-sample fit's, an SBC record's): removed on the next claim
HISTORY_TMP = {run: f".{HISTORY}.{run}.tmp" for run in ("main", "oos", "sbc")}


def plan_outputs(folder: Path, cal: Calibration, force: bool, fmt: str = FORMAT, *,
                 claim: folders.Claim | None = None, resume: bool = False) -> folders.Plan:
    """Every check before anything runs: the folder may be new, empty or this calibration's own earlier
    results; anything else needs ``force`` (and then only the tool's own files there are replaced)."""
    claim = claim or folders.Claim(fmt, cal.name, cal.sha256, (*FILES, folders.MANIFEST),
                                   temporaries=tuple(HISTORY_TMP.values()))
    plan = folders.plan(folder, claim, force=force, resume=resume)
    folders.check_space(plan, 64 << 20, "the posterior, its checks and figures")
    return plan


check_folder = plan_outputs


def run_calibration_folder(cal: Calibration, plan: folders.Plan, *, workers: int = 1, quiet: bool = True,
                           checks: bool = True) -> dict[str, Any]:
    """Fit, check, and write everything into the planned folder; return the manifest."""
    started, clock = now(), time.perf_counter()
    design = build_design(cal.selection, cal.base)
    folders.claim(plan)
    folder = plan.folder
    tmp_history = folder / HISTORY_TMP["main"]  # an interrupted run's are removed by the next claim
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
                                history=folder / HISTORY_TMP["oos"])
            timings["out_of_sample_seconds"] = round(time.perf_counter() - start, 1)
    names = statistic_names(cal.months, cal.travel)
    outputs: list[Path] = []

    def csv(name: str, frame: pd.DataFrame) -> None:
        store.write_csv(folder / name, frame)
        outputs.append(folder / name)

    store.write_parquet(folder / POSTERIOR, main.population)
    outputs.append(folder / POSTERIOR)
    csv(GENERATIONS, main.generations)
    csv(POSTERIOR_SUMMARY, main.summary)
    csv(OBSERVED, pd.DataFrame({"statistic": names, "value": [float(observed[n]) for n in names],
                                      "what": [describe_statistic(n) for n in names]}))
    csv(RECORDS, design.records)
    csv(RUNS_TABLE, runs_table(design).merge(design.run_rows, on="run"))
    csv(TRAVEL_TABLE, design.travel)
    csv(FINDINGS_TABLE, design.findings)
    figures = [pairs_figure(main.population, cal.priors, cal.truth or None,
                            title=f"Posterior of {cal.name}: {len(main.population):,} particles, "
                                  f"{int(main.generations['evaluations'].sum()):,} simulated records")]
    stems = ["pairs"]
    if checks:
        csv(PREDICTIVE, table)
        if stays is not None:
            csv(TIMED_STAYS, stays)
        store.write_parquet(folder / PREDICTIVE_DRAWS, replicated)
        outputs.append(folder / PREDICTIVE_DRAWS)
        figures.append(predictive_figure(table, len(replicated), design.n_warrants))
        stems.append("predictive")
        if oos is not None:
            early, _, oos_table, state = oos
            csv(OUT_OF_SAMPLE, oos_table)
            csv(OUT_OF_SAMPLE_SUMMARY, early.summary)
            csv(OUT_OF_SAMPLE_STATE, state)
            figures.append(out_of_sample_figure(oos_table, str(cal.checks.out_of_sample), design.censor.isoformat()))
            stems.append("out_of_sample")
    for fig, stem in zip(figures, stems):
        outputs += save(fig, folder, stem)
    shutil.move(str(tmp_history), folder / HISTORY)
    (folder / HISTORY_TMP["oos"]).unlink(missing_ok=True)
    timings.update(started=started, finished=now(), wall_seconds=round(time.perf_counter() - clock, 1),
                   workers=workers)
    outputs.append(folder / HISTORY)
    manifest = manifest_of(cal, folder, outputs, timings, design.n_warrants, len(design.runs),
                           design.censor.isoformat())
    store.write_json(folder / folders.MANIFEST, manifest)
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
