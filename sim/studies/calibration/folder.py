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
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.provenance import now, software
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import build_design, runs_table
from sim.studies.calibration.study import (fit, observed_summaries, out_of_sample, predictive, workers_pool)

FORMAT = "tribunal-sim calibration"
DATA = ("posterior.parquet", "generations.csv", "summary.csv", "observed.csv", "records.csv", "runs.csv",
        "predictive.csv", "out_of_sample.csv", "out_of_sample_summary.csv")  # compared by `reproduce`
FIGURES = ("pairs", "predictive", "out_of_sample")
HISTORY = "abc_history.db"


def check_folder(folder: Path, cal: Calibration, force: bool) -> None:
    """Refuse a folder holding anything but this calibration's own earlier results, unless --force."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output {folder} is a file, not a folder; choose another --out")
    if not folder.is_dir() or not any(folder.iterdir()) or force:
        return
    doc = store.read_json(folder / store.MANIFEST) or {}
    same = doc.get("format") == FORMAT and (doc.get("config") or {}).get("sha256") == cal.sha256
    if not same:
        what = (f"results of calibration '{(doc.get('calibration') or {}).get('name', '?')}' with another config"
                if doc.get("format") == FORMAT else "files that are not this calibration's results")
        raise UserError(f"{folder} holds {what}; choose another --out or pass --force to overwrite")


def run_calibration_folder(cal: Calibration, folder: Path, *, workers: int = 1, quiet: bool = True,
                           checks: bool = True) -> dict[str, Any]:
    """Fit, check, and write everything into ``folder``; return the manifest."""
    started, clock = now(), time.perf_counter()
    design = build_design(cal.selection, cal.base)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / store.MANIFEST).unlink(missing_ok=True)  # the manifest marks a complete folder; written last
    tmp_history = folder / f".{HISTORY}.tmp"
    with workers_pool(workers) as pool:
        observed = observed_summaries(cal, design, pool, workers)
        main = fit(cal, design, observed, workers=workers, pool=pool, quiet=quiet, history=tmp_history)
        timings: dict[str, Any] = {"fit_seconds": round(main.seconds, 1)}
        replicated, table = (predictive(cal, design, main, workers=workers, pool=pool) if checks
                             else (pd.DataFrame(), pd.DataFrame()))
        oos = None
        if checks and cal.checks.out_of_sample:
            start = time.perf_counter()
            oos = out_of_sample(cal, design, workers=workers, pool=pool, quiet=quiet,
                                history=folder / f".oos_{HISTORY}.tmp")
            timings["out_of_sample_seconds"] = round(time.perf_counter() - start, 1)
    names = statistic_names(cal.months)
    outputs: list[Path] = []

    def csv(name: str, frame: pd.DataFrame) -> None:
        store.write_csv(folder / name, frame)
        outputs.append(folder / name)

    store.write_parquet(folder / "posterior.parquet", main.population)
    outputs.append(folder / "posterior.parquet")
    csv("generations.csv", main.generations)
    csv("summary.csv", main.summary)
    csv("observed.csv", pd.DataFrame({"statistic": names, "value": [float(observed[n]) for n in names],
                                      "what": [describe_statistic(n) for n in names]}))
    csv("records.csv", design.records)
    csv("runs.csv", runs_table(design).merge(design.run_rows, on="run"))
    figures = [pairs_figure(main.population, cal.priors, cal.truth or None,
                            title=f"Posterior of {cal.name}: {len(main.population):,} particles, "
                                  f"{int(main.generations['evaluations'].sum()):,} simulated records")]
    stems = ["pairs"]
    if checks:
        csv("predictive.csv", table)
        store.write_parquet(folder / "predictive.parquet", replicated)
        outputs.append(folder / "predictive.parquet")
        figures.append(predictive_figure(table, len(replicated), design.n_warrants))
        stems.append("predictive")
        if oos is not None:
            early, _, oos_table = oos
            csv("out_of_sample.csv", oos_table)
            csv("out_of_sample_summary.csv", early.summary)
            figures.append(out_of_sample_figure(oos_table, str(cal.checks.out_of_sample), design.censor.isoformat()))
            stems.append("out_of_sample")
    for fig, stem in zip(figures, stems):
        outputs += save(fig, folder, stem)
    shutil.move(str(tmp_history), folder / HISTORY)
    (folder / f".oos_{HISTORY}.tmp").unlink(missing_ok=True)
    timings.update(started=started, finished=now(), wall_seconds=round(time.perf_counter() - clock, 1),
                   workers=workers)
    manifest = manifest_of(cal, folder, outputs, timings, design.n_warrants, len(design.runs),
                           design.censor.isoformat())
    store.write_json(folder / store.MANIFEST, manifest)
    return manifest


def manifest_of(cal: Calibration, folder: Path, outputs: list[Path], timings: dict[str, Any], warrants: int,
                runs: int, record_date: str) -> dict[str, Any]:
    return {
        "format": FORMAT, "format_version": 2,
        "calibration": {"name": cal.name, "description": cal.description, "seed": cal.seed, "engine": cal.engine,
                        "particles": cal.particles, "generations": cal.generations, "batch": cal.batch,
                        "min_acceptance": cal.min_acceptance, "method": "ABC-SMC (pyabc, adaptive p-norm distance)",
                        "warrants": warrants, "runs": runs, "record_date": record_date},
        "priors": [{"name": p.name, "dist": p.dist, "low": p.low, "high": p.high, "a": p.a, "b": p.b, "why": p.why}
                   for p in cal.priors],
        "truth": cal.truth or None,
        "parameters": cal.base.to_dict(changed_only=True),
        "seeds": {"seed": cal.seed, "pyabc": "numpy global state seeded from SeedSequence([0x534D43, seed])",
                  "pseudo_record": "replicate g (the run) of stream point id (sampler call x 10^7 + proposal)"},
        "config": {"source": cal.source, "sha256": cal.sha256, "text": cal.text},
        "software": software(),
        "timings": timings,
        "outputs": {p.relative_to(folder).as_posix(): store.sha256(p) for p in outputs},
        "data_files": [n for n in DATA if (folder / n).is_file()],
    }
