"""The calibration study: ABC-SMC on the record's own design, then its predictive and out-of-sample checks.

``fit`` calibrates the free parameters against the observed summaries of a design; ``predictive``
replicates the whole record at posterior draws (posterior predictive check on replicated records);
``out_of_sample`` calibrates on what was known on a date (warrants issued and followed up until then)
and predicts what the record shows after it.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.analysis.inference import EVENTS, posterior_summary, predictive_table, statistic_names, summaries
from sim.experiments.executors import process_pool
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import DAYS_PER_MONTH, Design, Selection, build_design
from sim.studies.calibration.simulate import parallel_summaries, pseudo_records
from sim.studies.calibration.smc import ID_STRIDE, run_smc

TRUTH_ID = 900 * ID_STRIDE  # stream point of a synthetic record drawn at [truth]
PREDICTIVE_ID = 901 * ID_STRIDE  # stream points of replicated records (posterior predictive)
OUT_OF_SAMPLE_ID = 902 * ID_STRIDE
DRAW_TAG = 0x44524157  # "DRAW": resampling of posterior draws, apart from every simulation stream


@dataclass
class Fit:
    """A calibration's posterior: the final weighted population, its generations and summary."""

    population: pd.DataFrame
    generations: pd.DataFrame
    summary: pd.DataFrame
    observed: pd.Series
    seconds: float
    history: Path


@contextmanager
def workers_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """One process pool for every simulation of a study (spawned once: imports are paid once)."""
    if workers <= 1:
        yield None
        return
    pool = process_pool(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def observed_summaries(cal: Calibration, design: Design, pool=None, workers: int = 1) -> pd.Series:
    """The record's summaries — or, with [truth], those of one pseudo-record drawn at the true values."""
    if not cal.truth:
        return summaries(design.records, design.run_rows, cal.months).iloc[0]
    values = np.array([[cal.truth[p.name] for p in cal.priors]])
    stats = parallel_summaries(design, cal.priors, values, np.array([TRUTH_ID]), cal.seed, cal.engine, cal.months,
                               workers, pool=pool)
    return stats.iloc[0]


def fit(cal: Calibration, design: Design, observed: pd.Series, *, workers: int = 1, pool=None, quiet: bool = True,
        particles: int | None = None, generations: int | None = None, seed: int | None = None,
        history: Path | None = None) -> Fit:
    """ABC-SMC of the calibrated parameters against ``observed``; the simulations of a batch run together.
    A calibration with method "npe" trains a posterior estimator on ``design`` instead (fit_npe)."""
    if cal.method == "npe":
        return fit_npe(cal, design, observed, workers=workers, pool=pool)
    start = time.perf_counter()
    names = statistic_names(cal.months)
    seed = cal.seed if seed is None else seed
    bar = tqdm(desc=f"calibrate {cal.name}", unit="sim", disable=quiet or not sys.stderr.isatty(), file=sys.stderr)

    def simulate(values: np.ndarray, ids: np.ndarray) -> list[dict[str, float]]:
        stats = parallel_summaries(design, cal.priors, values, ids, seed, cal.engine, cal.months, workers, pool=pool)
        bar.update(len(ids))
        return [dict(zip(names, row)) for row in stats[names].to_numpy(float)]

    def progress(call: int, accepted: int, evaluations: int) -> None:
        bar.set_postfix_str(f"generation {call - 1}: {accepted} accepted of {evaluations}")

    try:
        smc = run_smc(cal.priors, {n: float(observed[n]) for n in names}, simulate, seed=seed,
                      particles=particles or cal.particles, generations=generations or cal.generations,
                      batch=cal.batch, min_acceptance=cal.min_acceptance, kernel_scaling=cal.kernel_scaling,
                      history=history, progress=progress)
    finally:
        bar.close()
    summary = posterior_summary(smc.population, smc.population["weight"].to_numpy(), cal.priors)
    return Fit(population=smc.population, generations=smc.generations, summary=summary, observed=observed,
               seconds=time.perf_counter() - start, history=smc.history_path)


def fit_npe(cal: Calibration, design: Design, observed: pd.Series, *, workers: int = 1, pool=None) -> Fit:
    """Neural posterior estimation on ``design``: simulate its training set, train, sample the record's posterior."""
    from sim.studies.calibration import npe

    start = time.perf_counter()
    trained, _ = npe.train_on_design(cal, design, workers=workers, pool=pool)
    return npe_fit(cal, trained, observed, start)


def npe_fit(cal: Calibration, trained, observed: pd.Series, start: float) -> Fit:
    """A trained estimator's posterior of ``observed`` as a Fit: equally weighted samples; ``generations`` holds
    the training's epochs (there is no pyabc history)."""
    from sim.studies.calibration import npe

    x = observed[npe.summary_names(cal)].to_numpy(float)
    pop = npe.population(trained, x, [p.name for p in cal.priors])
    summary = posterior_summary(pop, pop["weight"].to_numpy(), cal.priors)
    return Fit(population=pop, generations=trained.history, summary=summary, observed=observed,
               seconds=time.perf_counter() - start, history=Path())


def posterior_draws(population: pd.DataFrame, names: list[str], n: int, seed: int) -> np.ndarray:
    """``n`` parameter vectors resampled from a weighted population (systematic resampling, seeded)."""
    w = population["weight"].to_numpy(float)
    w = w / w.sum()
    u0 = np.random.default_rng(np.random.SeedSequence([DRAW_TAG, seed])).uniform()
    index = np.searchsorted(np.cumsum(w), (u0 + np.arange(n)) / n, side="left")
    return population[names].to_numpy(float)[np.minimum(index, len(w) - 1)]


def predictive(cal: Calibration, design: Design, fit_: Fit, *, workers: int = 1, pool=None) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """Replicated records at posterior draws: their summaries, and the table of the record against them."""
    names = [p.name for p in cal.priors]
    draws = posterior_draws(fit_.population, names, cal.checks.predictive_draws, cal.seed)
    ids = PREDICTIVE_ID + np.arange(len(draws))
    stats = parallel_summaries(design, cal.priors, draws, ids, cal.seed, cal.engine, cal.months, workers, pool=pool)
    stats = stats.reset_index(drop=True)
    for i, n in enumerate(names):
        stats.insert(i, n, draws[:, i])
    table = predictive_table(fit_.observed[statistic_names(cal.months)], stats[statistic_names(cal.months)])
    return stats, table


# --- out of sample ----------------------------------------------------------------------------------------

def window_outcomes(design: Design, records: pd.DataFrame, runs: pd.DataFrame, since: dt.date,
                    by: str | None = None) -> pd.DataFrame:
    """What the record shows after ``since``: events by kind with their date after it (every warrant), and
    the rates of findings and membership changes in runs of warrants issued after it."""
    date = {r.key: dt.date.fromisoformat(r.date) for r in design.runs}
    rec = records.copy()
    start = rec["run"].map(date)
    days = (rec["time"] * DAYS_PER_MONTH).round().astype(int)
    when = [s + dt.timedelta(days=int(d)) for s, d in zip(start, days)]
    after = np.array([w > since for w in when]) & ~rec["censored"].to_numpy(bool)
    rec["_after"] = after
    keys = [by] if by else []
    groups = rec.groupby(keys, sort=True) if keys else [((), rec)]
    rows = []
    for key, g in groups:
        row: dict[str, Any] = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for e in EVENTS:
            row[f"events_{e}"] = int(((g["event"] == e) & g["_after"]).sum())
        rows.append(row)
    out_frame = pd.DataFrame(rows)
    new = runs[runs["run"].map(lambda k: date[k] > since)]
    for name, (count, exposure) in {"findings_rate_new": ("findings", None),
                                    "withdrawal_rate_new": ("withdrawals", "members_start"),
                                    "accession_rate_new": ("accessions", "nonmembers_start")}.items():
        years = new["years"] * (new[exposure] if exposure else 1.0)
        if keys:
            num = new.groupby(by)[count].sum()
            den = years.groupby(new[by]).sum()
            out_frame[name] = out_frame[by].map(num / den).to_numpy()
        else:
            out_frame[name] = new[count].sum() / years.sum() if years.sum() > 0 else np.nan
    return out_frame


def out_of_sample(cal: Calibration, design: Design, *, workers: int = 1, pool=None, quiet: bool = True,
                  history: Path | None = None) -> tuple[Fit, pd.DataFrame, pd.DataFrame]:
    """Calibrate on what was known on the check's date, predict what happened after it (every warrant of the
    full design, followed up to the record's date) at posterior draws of that earlier fit."""
    since = dt.date.fromisoformat(str(cal.checks.out_of_sample))
    early = build_design(replace(cal.selection, censor_date=since.isoformat(), issued_before=since.isoformat()),
                         cal.base)
    early_fit = fit(cal, early, observed_summaries(cal, early, pool, workers), workers=workers, pool=pool,
                    quiet=quiet, history=history)
    names = [p.name for p in cal.priors]
    draws = posterior_draws(early_fit.population, names, cal.checks.predictive_draws, cal.seed + 1)
    ids = OUT_OF_SAMPLE_ID + np.arange(len(draws))
    records, runs = pseudo_records(design, cal.priors, draws, ids, cal.seed, cal.engine)
    predicted = window_outcomes(design, records, runs, since, by="group")
    observed = window_outcomes(design, design.records, design.run_rows.assign(), since).iloc[0]
    cols = [c for c in predicted.columns if c != "group"]
    rows = []
    for c in cols:
        x = predicted[c].to_numpy(float)
        x = x[np.isfinite(x)]
        row = {"outcome": c, "record": float(observed[c]), "predicted_median": float(np.median(x))}
        for level in (0.5, 0.9):
            lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
            row[f"low_{int(level * 100)}"], row[f"high_{int(level * 100)}"] = float(lo), float(hi)
            row[f"inside_{int(level * 100)}"] = bool(lo <= observed[c] <= hi)
        rows.append(row)
    return early_fit, predicted, pd.DataFrame(rows)


def selection_text(sel: Selection) -> str:
    return (f"kinds {', '.join(sel.kinds)}; roles {', '.join(sel.roles)}; "
            f"censored at {sel.censor_date or 'the record date'}")
