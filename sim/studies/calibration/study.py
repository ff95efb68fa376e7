"""The calibration study: ABC-SMC on the record's own design, then its predictive and out-of-sample checks.

``fit`` calibrates the free parameters against the observed summaries of a design; ``predictive``
replicates the whole record at posterior draws (posterior predictive check on replicated records);
``out_of_sample`` calibrates on what was known on a date (warrants issued and followed up until then)
and forecasts what the record shows after it from every warrant's state on that date.
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

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.analysis.inference import posterior_summary, predictive_table, statistic_names, summaries
from sim.data.record import parse_day
from sim.experiments.executors import process_pool
from sim.model.outcomes import ROUTE_CODE
from sim.simulate import run_rows
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import Design, Selection, build_design, month_index, runs_table
from sim.studies.calibration.oos import comparison, observed_after, parallel_predicted_after, state_at_cut
from sim.studies.calibration.simulate import apply_values, parallel_summaries
from sim.studies.calibration.smc import ID_STRIDE, run_smc

TRUTH_ID = 900 * ID_STRIDE  # stream point of a synthetic record drawn at [truth]
PREDICTIVE_ID = 901 * ID_STRIDE  # stream points of replicated records (posterior predictive)
OUT_OF_SAMPLE_ID = 902 * ID_STRIDE
TIMED_ID = 903 * ID_STRIDE  # stream points of the timed-stay check
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
        return summaries(design.records, design.run_rows, cal.months, travel=design.travel,
                         travel_stats=cal.travel).iloc[0]
    values = np.array([[cal.truth[p.name] for p in cal.priors]])
    stats = parallel_summaries(design, cal.priors, values, np.array([TRUTH_ID]), cal.seed, cal.engine, cal.months,
                               workers, pool=pool, travel=cal.travel)
    return stats.iloc[0]


def fit(cal: Calibration, design: Design, observed: pd.Series, *, workers: int = 1, pool=None, quiet: bool = True,
        particles: int | None = None, generations: int | None = None, seed: int | None = None,
        history: Path | None = None) -> Fit:
    """ABC-SMC of the calibrated parameters against ``observed``; the simulations of a batch run together."""
    start = time.perf_counter()
    names = statistic_names(cal.months, cal.travel)
    seed = cal.seed if seed is None else seed
    bar = tqdm(desc=f"calibrate {cal.name}", unit="sim", disable=quiet or not sys.stderr.isatty(), file=sys.stderr)

    def simulate(values: np.ndarray, ids: np.ndarray) -> list[dict[str, float]]:
        stats = parallel_summaries(design, cal.priors, values, ids, seed, cal.engine, cal.months, workers, pool=pool,
                                   travel=cal.travel)
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
    stats = parallel_summaries(design, cal.priors, draws, ids, cal.seed, cal.engine, cal.months, workers, pool=pool,
                               travel=cal.travel)
    stats = stats.reset_index(drop=True)
    for i, n in enumerate(names):
        stats.insert(i, n, draws[:, i])
    stat_names = statistic_names(cal.months, cal.travel)
    table = predictive_table(fit_.observed[stat_names], stats[stat_names])
    return stats, table


def timed_stays(cal: Calibration, design: Design, fit_: Fit, *, replicates: int = 20) -> pd.DataFrame:
    """What the calibrated model says of timed stays (ODD §7.0.2): in the design's sealed runs at posterior draws,
    the share of timed stays that ended in the host's arrest (and surrender), beside the record's: the sealed
    warrants whose person a host abroad arrested in the warrant's first month, and how many it surrendered."""
    names = [p.name for p in cal.priors]
    draws = posterior_draws(fit_.population, names, cal.checks.predictive_draws, cal.seed + 2)
    ids = TIMED_ID + np.arange(len(draws))
    stays = np.zeros(len(draws))
    arrested = np.zeros(len(draws))
    for g, run in enumerate(design.runs):
        if run.params["prosecutor.sealed_share"] != 1.0:
            continue
        points = {int(i): apply_values(run.params, cal.priors, v) for i, v in zip(ids, draws)}
        values = run_rows(points, np.repeat(ids, replicates), g * 100_000 + np.tile(np.arange(replicates), len(ids)),
                          cal.seed, engine=cal.engine).values
        stay = (values["trips_at_issue"] == 1).reshape(len(ids), replicates, -1)
        held = stay & ((values["custody_month"] == 0) & (values["route"] == ROUTE_CODE["arrested_by_host"])
                       ).reshape(len(ids), replicates, -1)
        stays += stay.sum(axis=(1, 2))
        arrested += held.sum(axis=(1, 2))
    sealed = design.records.merge(runs_table(design)[["run", "sealed"]], on="run")
    sealed = sealed[sealed["sealed"]]
    abroad = sealed["outcomes"].str.extract(r"arrested_abroad (\S+)")[0]
    starts = sealed["run"].str.split(" ").str[1]
    at_issue = np.array([isinstance(a, str) and month_index(dt.date.fromisoformat(s), parse_day(a)) == 0
                         for a, s in zip(abroad, starts)], dtype=bool)
    surrendered = at_issue & (sealed["event"] == "arrested_by_host").to_numpy() & (sealed["month"] == 0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = arrested / stays
    share = share[np.isfinite(share)]
    return pd.DataFrame([{"draws": len(draws), "replicates": replicates, "stays": int(stays.sum()),
                          "arrested": int(arrested.sum()), "share": float(arrested.sum() / max(stays.sum(), 1)),
                          "share_q05": float(np.quantile(share, 0.05)) if share.size else np.nan,
                          "share_q50": float(np.quantile(share, 0.5)) if share.size else np.nan,
                          "share_q95": float(np.quantile(share, 0.95)) if share.size else np.nan,
                          "record_stays": int(at_issue.sum()), "record_arrested": int(at_issue.sum()),
                          "record_surrendered": int(surrendered.sum())}])


# --- out of sample ----------------------------------------------------------------------------------------

def out_of_sample(cal: Calibration, design: Design, *, workers: int = 1, pool=None, quiet: bool = True,
                  history: Path | None = None) -> tuple[Fit, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Calibrate on what was known on the check's date, then forecast every warrant of the full design from its
    state on that date (sim.studies.calibration.oos) at draws of that earlier fit; return the early fit, the
    forecasts per draw, the comparison with the record after the cut, and every warrant's state at the cut."""
    since = dt.date.fromisoformat(str(cal.checks.out_of_sample))
    early = build_design(replace(cal.selection, censor_date=since.isoformat(), issued_before=since.isoformat()),
                         cal.base)
    early_fit = fit(cal, early, observed_summaries(cal, early, pool, workers), workers=workers, pool=pool,
                    quiet=quiet, history=history)
    names = [p.name for p in cal.priors]
    draws = posterior_draws(early_fit.population, names, cal.checks.predictive_draws, cal.seed + 1)
    predicted, aside = parallel_predicted_after(design, cal.priors, draws, since, cal.seed, cal.engine,
                                                cal.checks.oos_replicates, OUT_OF_SAMPLE_ID, workers, pool)
    table = comparison(observed_after(design, since), predicted, aside)
    return early_fit, predicted, table, state_at_cut(design, since)


def selection_text(sel: Selection) -> str:
    return (f"kinds {', '.join(sel.kinds)}; roles {', '.join(sel.roles)}; "
            f"censored at {sel.censor_date or 'the record date'}")
