"""Simulation-based calibration (Talts et al. 2018): is the calibration's uncertainty honest?

Pseudo-records are drawn from the prior through the same observation design (the record's runs,
follow-up and censoring) and each is calibrated by the same ABC-SMC procedure — with the config's
cheaper [checks] settings (population and generations), identical in kind. For calibrated
posteriors, the rank of the true value among posterior draws is uniform and the 50% and 90%
central intervals cover the truth 50% and 90% of the time (reported with binomial bounds).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.inference import coverage_table, interval_contains, rank_uniformity, sbc_rank
from sim.analysis.plots_calibration import sbc_figure
from sim.analysis.style import save
from sim.experiments import store
from sim.experiments.provenance import config_record, now
from sim.experiments.provenance import manifest as make_manifest
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import build_design
from sim.studies.calibration.simulate import parallel_summaries
from sim.studies.calibration.smc import ID_STRIDE
from sim.studies.calibration.study import fit, workers_pool

SBC_ID = 903 * ID_STRIDE  # stream points of the SBC's pseudo-records
PRIOR_TAG = 0x534243  # "SBC": the prior draws of the truths
RANKS = 99  # posterior draws per rank (ranks 0..99)
LEVELS = (0.5, 0.9)


def truths(cal: Calibration, n: int) -> np.ndarray:
    """(n, K) true values drawn from the priors, one stream per parameter."""
    seed = np.random.SeedSequence([PRIOR_TAG, cal.seed])
    cols = [p.sample(np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(i,))), n)
            for i, p in enumerate(cal.priors)]
    return np.column_stack(cols)


def run_sbc_folder(cal: Calibration, plan: store.Plan, *, records: int | None = None, workers: int = 1,
                   quiet: bool = True) -> pd.DataFrame:
    """Calibrate ``records`` pseudo-records drawn from the prior; write ranks, coverage, figure, manifest."""
    started, clock = now(), time.perf_counter()
    folder = plan.folder
    n = records or cal.checks.sbc_records
    design = build_design(cal.selection, cal.base)
    values = truths(cal, n)
    names = [p.name for p in cal.priors]
    rng = np.random.default_rng(np.random.SeedSequence([PRIOR_TAG, cal.seed, 1]))
    store.claim(plan)
    cheap = replace(cal, particles=cal.checks.sbc_particles, generations=cal.checks.sbc_generations,
                    batch=max(cal.checks.sbc_particles, min(cal.batch, 2 * cal.checks.sbc_particles)))
    rank_rows, hit_rows, fits = [], [], []
    with workers_pool(workers) as pool:
        observed = parallel_summaries(design, cal.priors, values, SBC_ID + np.arange(n), cal.seed, cal.engine,
                                      cal.months, workers, pool=pool).reset_index(drop=True)
        for i in range(n):
            result = fit(cheap, design, observed.iloc[i], workers=workers, pool=pool, quiet=quiet,
                         seed=cal.seed + 1 + i, history=folder / f".{store.ABC_HISTORY}.sbc.tmp")
            x = result.population
            w = x["weight"].to_numpy(float)
            for k, name in enumerate(names):
                rank_rows.append({"record": i, "parameter": name, "truth": values[i, k],
                                  "rank": sbc_rank(x[name].to_numpy(), w, values[i, k], RANKS, rng)})
                for level in LEVELS:
                    hit_rows.append({"record": i, "parameter": name, "level": level,
                                     "covered": interval_contains(x[name].to_numpy(), w, values[i, k], level)})
            fits.append({"record": i, "seconds": round(result.seconds, 2),
                         "evaluations": int(result.generations["evaluations"].sum()),
                         "final_epsilon": float(result.generations["epsilon"].iloc[-1])})
    (folder / f".{store.ABC_HISTORY}.sbc.tmp").unlink(missing_ok=True)
    ranks, hits = pd.DataFrame(rank_rows), pd.DataFrame(hit_rows)
    coverage = coverage_table(hits, LEVELS)
    uniformity = {p: rank_uniformity(ranks.loc[ranks["parameter"] == p, "rank"].to_numpy(), RANKS) for p in names}
    coverage["rank_uniformity_p"] = coverage["parameter"].map(uniformity)
    outputs = []
    for name, frame in ((store.RANKS, ranks), (store.COVERAGE, coverage), (store.FITS, pd.DataFrame(fits))):
        store.write_csv(folder / name, frame)
        outputs.append(folder / name)
    outputs += save(sbc_figure(ranks, coverage, RANKS), folder, "sbc")
    sections = {
        "calibration": {"name": cal.name, "records": n, "particles": cheap.particles,
                        "generations": cheap.generations, "batch": cheap.batch, "ranks": RANKS},
        "seeds": {"truths": f"SeedSequence([{PRIOR_TAG}, seed], spawn_key=(parameter,))",
                  "pseudo_records": f"stream points {SBC_ID} + record", "fits": "seed + 1 + record"},
        "timings": {"started": started, "finished": now(), "wall_seconds": round(time.perf_counter() - clock, 1),
                    "workers": workers},
    }
    manifest = make_manifest(store.SBC_FORMAT, sections, config=config_record(cal.text, cal.source), folder=folder,
                             outputs=outputs)
    store.write_json(folder / store.MANIFEST, manifest)
    return coverage
