"""An NPE calibration's folder: train on the record's design, fit the record, check the estimator as it ships
— simulation-based calibration and TARP over pseudo-records drawn from the prior, the forecast's own
coverage, the posterior predictive (and out-of-sample) checks, the cross-check against another posterior —
and write everything with its manifest (atomic writes; `reproduce` reruns it)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.inference import describe_statistic
from sim.analysis.plots_calibration import out_of_sample_figure, pairs_figure, predictive_figure
from sim.analysis.plots_validation import cross_check_figure, forecast_coverage_figure, sbc_ranks_figure, tarp_figure
from sim.analysis.style import save
from sim.analysis.validation import (
    compare_posteriors,
    forecast_coverage,
    ranks_frame,
    sbc_passes,
    sbc_table,
    tarp_inside,
    tarp_table,
)
from sim.errors import UserError
from sim.experiments import folders, store
from sim.experiments.layout import figure_files
from sim.experiments.posterior import POSTERIOR, Posterior, load_posterior
from sim.experiments.provenance import config_record, manifest, now
from sim.studies.calibration import npe
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import Design, build_design, runs_table
from sim.studies.calibration.folder import (
    FINDINGS_TABLE,
    OBSERVED,
    OUT_OF_SAMPLE,
    OUT_OF_SAMPLE_STATE,
    OUT_OF_SAMPLE_SUMMARY,
    POSTERIOR_SUMMARY,
    PREDICTIVE,
    PREDICTIVE_DRAWS,
    RECORDS,
    RUNS_TABLE,
    TIMED_STAYS,
    TRAVEL_TABLE,
)
from sim.studies.calibration.forecast_check import Target, find_target, forecast_table, records_to_date
from sim.studies.calibration.smc import ID_STRIDE
from sim.studies.calibration.study import (
    npe_fit,
    observed_summaries,
    out_of_sample,
    predictive,
    timed_stays,
    workers_pool,
)

FORMAT = folders.CALIBRATION_FORMAT
SBC_ID = 906 * ID_STRIDE  # stream points of the NPE checks' pseudo-records (SBC, TARP, the forecast's coverage)
TRAINING, RANKS, SBC_TABLE, TARP_TABLE = "training.csv", "ranks.csv", "sbc.csv", "tarp.csv"
FORECAST, FORECAST_SUMMARY, CROSS_CHECK = "forecast_coverage.csv", "forecast_summary.csv", "cross_check.csv"
FIGURES = ("pairs", "predictive", "out_of_sample", "sbc_ranks", "tarp", "forecast_coverage", "cross_check")
DATA = (POSTERIOR, TRAINING, POSTERIOR_SUMMARY, OBSERVED, RECORDS, RUNS_TABLE, TRAVEL_TABLE, FINDINGS_TABLE,
        PREDICTIVE, TIMED_STAYS, OUT_OF_SAMPLE, OUT_OF_SAMPLE_SUMMARY, OUT_OF_SAMPLE_STATE, RANKS, SBC_TABLE,
        TARP_TABLE, FORECAST, FORECAST_SUMMARY, CROSS_CHECK)  # compared by `reproduce`
FILES = (*DATA, PREDICTIVE_DRAWS, *figure_files(FIGURES, None))


def plan_outputs(folder: Path, cal: Calibration, force: bool) -> folders.Plan:
    """Every check before anything runs (the folder may be new, empty or this calibration's own)."""
    claim = folders.Claim(FORMAT, cal.name, cal.sha256, (*FILES, folders.MANIFEST))
    plan = folders.plan(folder, claim, force=force)
    folders.check_space(plan, 64 << 20, "the posterior, its checks and figures")
    return plan


def cross_posterior(cal: Calibration, base: Path | None = None) -> Posterior | None:
    """The posterior the record's NPE posterior is compared with ([npe] cross_check), verified, or None."""
    assert cal.npe is not None
    if not cal.npe.cross_check:
        return None
    other = load_posterior(cal.npe.cross_check, cal.npe.samples, cal.seed, base)
    names = [p.name for p in cal.priors]
    if sorted(other.names) != sorted(names):
        raise UserError(f"[npe] cross_check {cal.npe.cross_check!r} calibrates {', '.join(other.names)}, not this "
                        f"config's {', '.join(names)}; name a posterior of the same parameters or set cross_check = "
                        "\"\"")
    return other


def _checks_records(cal: Calibration, design: Design, trained: npe.Trained, *, workers: int, pool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The checks' pseudo-records: truths from the prior, their summaries; those with finite summaries."""
    start = time.perf_counter()
    n = cal.checks.sbc_records
    truths = npe.prior_draws(cal.priors, cal.seed, n, npe.SBC_TAG)
    xs = npe.simulate(cal, design, truths, SBC_ID + np.arange(n), workers=workers, pool=pool)
    finite = np.flatnonzero(np.isfinite(xs).all(axis=1))
    return truths, xs, finite, time.perf_counter() - start


def forecast_check(cal: Calibration, design: Design, trained: npe.Trained, target: Target, truths: np.ndarray,
                   xs: np.ndarray, records: np.ndarray) -> pd.DataFrame:
    """The forecast's coverage on the first pseudo-records in which the target is at large on the record's date."""
    assert cal.npe is not None
    status, changed = records_to_date(design, target, cal.priors, truths[records], SBC_ID + records, cal.seed,
                                      cal.engine)
    at_large = np.flatnonzero(status[:, target.accused] == 0)[:cal.npe.forecast_records]
    if len(at_large) == 0:
        raise UserError(f"{target.person} is in custody or detained in every pseudo-record; choose another "
                        "[npe] forecast_person")
    chosen = records[at_large]
    draws = trained.sample_batched(xs[chosen], cal.npe.forecast_draws, "forecast")
    return forecast_table(design, target, cal.priors, truths[chosen], draws, status[at_large], changed[at_large],
                          chosen, replicates=cal.npe.forecast_replicates, truth_replicates=cal.npe.truth_replicates,
                          seed=cal.seed, engine=cal.engine)


def run_npe_folder(cal: Calibration, plan: folders.Plan, *, workers: int = 1, quiet: bool = True,
                   checks: bool = True) -> dict[str, Any]:
    """Train, fit, check, and write everything into the planned folder; return the manifest."""
    settings = cal.npe
    if settings is None:
        raise UserError("run_npe_folder needs a calibration with method = \"npe\"")
    npe.torch_modules()
    started, clock = now(), time.perf_counter()
    design = build_design(cal.selection, cal.base)
    target = (find_target(design, settings.forecast_person, settings.forecast_horizon)
              if checks and settings.forecast_person else None)
    base = Path(cal.source).parent if cal.source and Path(cal.source).is_file() else None
    other = cross_posterior(cal, base) if checks else None
    folders.claim(plan)
    folder = plan.folder
    timings: dict[str, Any] = {}
    outputs: list[Path] = []
    figures: list[tuple[Any, str]] = []
    names = [p.name for p in cal.priors]

    def csv(name: str, frame: pd.DataFrame) -> None:
        store.write_csv(folder / name, frame)
        outputs.append(folder / name)

    def timed(key: str, start: float) -> None:
        timings[key] = round(time.perf_counter() - start, 1)

    with workers_pool(workers) as pool:
        observed = observed_summaries(cal, design, pool, workers)
        start = time.perf_counter()
        values, x = npe.training_set(cal, design, settings.simulations, workers=workers, pool=pool)
        timed("simulate_seconds", start)
        start = time.perf_counter()
        trained = npe.train(cal.priors, values, x, settings, cal.seed)
        timed("train_seconds", start)
        main = npe_fit(cal, trained, observed, time.perf_counter())
        sections: dict[str, Any] = {}
        if checks:
            start = time.perf_counter()
            replicated, table = predictive(cal, design, main, workers=workers, pool=pool)
            stays = timed_stays(cal, design, main)
            timed("predictive_seconds", start)
            truths, xs, finite, seconds = _checks_records(cal, design, trained, workers=workers, pool=pool)
            timings["checks_simulate_seconds"] = round(seconds, 1)
            start = time.perf_counter()
            ranks, sbi_checks = npe.sbc(trained, truths[finite], xs[finite], settings.sbc_draws)
            rank_table = ranks_frame(ranks, truths[finite], names, settings.sbc_draws)
            rank_table["record"] = finite[rank_table["record"].to_numpy()]
            sbc = sbc_table(rank_table, dict(zip(names, sbi_checks["ks_pvals"])),
                            dict(zip(names, sbi_checks["c2st_ranks"])))
            sbc["c2st_dap"] = sbi_checks["c2st_dap"][:len(names)]
            timed("sbc_seconds", start)
            start = time.perf_counter()
            ecp, alpha, atc, ks = npe.tarp(trained, truths[finite], xs[finite], settings.sbc_draws)
            tarp = tarp_table(ecp, alpha, len(finite), settings.tarp_bootstrap, seed=cal.seed)
            timed("tarp_seconds", start)
            sections["sbc"] = {"records": int(cal.checks.sbc_records), "finite": len(finite),
                               "draws": settings.sbc_draws, "passes": sbc_passes(sbc)}
            sections["tarp"] = {"atc": atc, "ks_p": ks, "inside_band": tarp_inside(tarp),
                                "bootstrap": settings.tarp_bootstrap}
            csv(RANKS, rank_table)
            csv(SBC_TABLE, sbc)
            csv(TARP_TABLE, tarp)
            figures += [(sbc_ranks_figure(rank_table, sbc, cal.seed), "sbc_ranks"),
                        (tarp_figure(tarp, atc, ks, len(finite)), "tarp")]
            if target is not None:
                start = time.perf_counter()
                coverage = forecast_check(cal, design, trained, target, truths, xs, finite)
                summary = forecast_coverage(coverage)
                timed("forecast_seconds", start)
                until = f"month {target.until} ({settings.forecast_horizon} months after the record's date)"
                csv(FORECAST, coverage)
                csv(FORECAST_SUMMARY, summary.assign(person=target.person, month=target.month, until=target.until))
                figures.append((forecast_coverage_figure(coverage, summary.iloc[0], target.person, until),
                                "forecast_coverage"))
                sections["forecast"] = {"person": target.person, "month": target.month, "until": target.until,
                                        "records": int(summary["records"].iloc[0]),
                                        "refused": int(summary["refused"].iloc[0]),
                                        "coverage": float(summary["coverage"].iloc[0])}
            if other is not None:
                theirs = pd.DataFrame(other.values, columns=list(other.names))[names]
                cross = compare_posteriors(main.population[names].to_numpy(), theirs.to_numpy(), cal.priors)
                csv(CROSS_CHECK, cross)
                figures.append((cross_check_figure(main.population, theirs, cal.priors, cross), "cross_check"))
                sections["cross_check"] = {"source": other.source, "sha256": other.sha256}
            if cal.checks.out_of_sample:
                start = time.perf_counter()
                early, _, oos_table, oos_state = out_of_sample(cal, design, workers=workers, pool=pool, quiet=quiet)
                timed("out_of_sample_seconds", start)
    store.write_parquet(folder / POSTERIOR, main.population)
    outputs.append(folder / POSTERIOR)
    csv(TRAINING, trained.history)
    csv(POSTERIOR_SUMMARY, main.summary)
    stats = npe.summary_names(cal)
    csv(OBSERVED, pd.DataFrame({"statistic": stats, "value": [float(observed[n]) for n in stats],
                                "what": [describe_statistic(n) for n in stats]}))
    csv(RECORDS, design.records)
    csv(RUNS_TABLE, runs_table(design).merge(design.run_rows, on="run"))
    csv(TRAVEL_TABLE, design.travel)
    csv(FINDINGS_TABLE, design.findings)
    figures.insert(0, (pairs_figure(main.population, cal.priors, cal.truth or None,
                                    title=f"Posterior of {cal.name} (NPE): {len(main.population):,} samples, "
                                          f"{settings.simulations:,} simulated records"), "pairs"))
    if checks:
        csv(PREDICTIVE, table)
        csv(TIMED_STAYS, stays)
        store.write_parquet(folder / PREDICTIVE_DRAWS, replicated)
        outputs.append(folder / PREDICTIVE_DRAWS)
        figures.append((predictive_figure(table, len(replicated), design.n_warrants), "predictive"))
        if cal.checks.out_of_sample:
            csv(OUT_OF_SAMPLE, oos_table)
            csv(OUT_OF_SAMPLE_SUMMARY, early.summary)
            csv(OUT_OF_SAMPLE_STATE, oos_state)
            figures.append((out_of_sample_figure(oos_table, str(cal.checks.out_of_sample), design.censor.isoformat()),
                            "out_of_sample"))
    for fig, stem in figures:
        outputs += save(fig, folder, stem)
    timings.update(started=started, finished=now(), wall_seconds=round(time.perf_counter() - clock, 1),
                   workers=workers, threads=settings.threads)
    doc = manifest_of(cal, folder, outputs, timings, design, trained, sections)
    store.write_json(folder / folders.MANIFEST, doc)
    return doc


def manifest_of(cal: Calibration, folder: Path, outputs: list[Path], timings: dict[str, Any], design: Design,
                trained: npe.Trained, sections: dict[str, Any]) -> dict[str, Any]:
    from dataclasses import asdict

    torch, sbi = npe.torch_modules()
    settings = trained.settings
    best = trained.history["validation_loss"].min() if len(trained.history) else float("nan")
    doc = {
        "calibration": {"name": cal.name, "description": cal.description, "seed": cal.seed, "engine": cal.engine,
                        "method": f"NPE (sbi {sbi.__version__}, {settings.estimator} on the priors' logit-probability "
                                  "scale)",
                        "warrants": design.n_warrants, "runs": len(design.runs),
                        "record_date": design.censor.isoformat()},
        "npe": {**asdict(settings), "torch": torch.__version__, "sbi": sbi.__version__,
                "epochs": len(trained.history), "best_validation_loss": float(best),
                "simulations_not_finite": trained.dropped},
        "priors": [{"name": p.name, "dist": p.dist, "low": p.low, "high": p.high, "a": p.a, "b": p.b, "why": p.why}
                   for p in cal.priors],
        "design": {"turnover": [{"class": c.name, "rate": c.rate, "homes": list(c.homes), "why": c.why}
                                for c in cal.selection.turnover],
                   "travel_roles": list(cal.selection.travel_roles), "travel_end": cal.selection.travel_end},
        "summaries": {"months": list(cal.months), "travel": list(cal.travel)},
        "truth": cal.truth or None,
        "parameters": cal.base.to_dict(changed_only=True),
        "seeds": {"seed": cal.seed,
                  "training_set": f"prior: SeedSequence([{npe.TRAIN_TAG}, seed], spawn_key=(parameter,)); "
                                  f"pseudo-record i: stream point {npe.TRAIN_ID} + i",
                  "checks": f"prior: SeedSequence([{npe.SBC_TAG}, seed], ...); pseudo-record i: stream point "
                            f"{SBC_ID} + i",
                  "torch": f"manual_seed(SeedSequence([{npe.NPE_TAG}, seed, stage])) per stage {npe.STAGES}, "
                           "deterministic algorithms, [npe] threads"},
        **sections,
        "timings": timings,
        "data_files": [n for n in DATA if (folder / n).is_file()],
    }
    return manifest(FORMAT, doc, config=config_record(cal.text, cal.source), folder=folder, outputs=outputs)
