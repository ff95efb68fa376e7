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
import pyarrow as pa

from sim.analysis.inference import coverage_table, interval_contains, rank_uniformity, sbc_rank
from sim.analysis.plots_calibration import sbc_figure
from sim.analysis.style import save
from sim.experiments import folders, store
from sim.experiments.blocks import BLOCK_PATH, BLOCKS, BlockSpec, block_name, block_path, block_verified, write_block
from sim.experiments.layout import figure_files
from sim.experiments.provenance import config_record, now
from sim.experiments.provenance import manifest as make_manifest
from sim.studies.calibration.config import Calibration
from sim.studies.calibration.design import build_design
from sim.studies.calibration.folder import HISTORY_TMP
from sim.studies.calibration.simulate import parallel_summaries
from sim.studies.calibration.smc import ID_STRIDE
from sim.studies.calibration.study import fit, workers_pool

SBC_ID = 903 * ID_STRIDE  # stream points of the SBC's pseudo-records
PRIOR_TAG = 0x534243  # "SBC": the prior draws of the truths
RANKS_TABLE, COVERAGE, FITS = "ranks.csv", "coverage.csv", "fits.csv"  # the files of an SBC's folder
DATA = (RANKS_TABLE, COVERAGE)  # compared by `reproduce`
FILES = (*DATA, FITS, *figure_files(("sbc",), None))
RANKS = 99  # posterior draws per rank (ranks 0..99)
LEVELS = (0.5, 0.9)


def truths(cal: Calibration, n: int) -> np.ndarray:
    """(n, K) true values drawn from the priors, one stream per parameter."""
    seed = np.random.SeedSequence([PRIOR_TAG, cal.seed])
    cols = [p.sample(np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(i,))), n)
            for i, p in enumerate(cal.priors)]
    return np.column_stack(cols)


def record_schema(names: list[str]) -> pa.Schema:
    """A record's block: one row per parameter (``point`` = record, ``replicate`` = parameter index)."""
    return pa.schema([("point", pa.int64()), ("replicate", pa.int64()), ("parameter", pa.string()),
                      ("truth", pa.float64()), ("rank", pa.int64()),
                      *((f"covered_{round(100 * level)}", pa.bool_()) for level in LEVELS),
                      ("seconds", pa.float64()), ("evaluations", pa.int64()), ("final_epsilon", pa.float64()),
                      ("final_ess", pa.float64())])


def block_spec(folder: Path, cal: Calibration, record: int, k: int) -> BlockSpec:
    return BlockSpec(block_path(folder, record), (record, record), (0, k - 1), k, cal.sha256)


def claim_for(cal: Calibration, records: int) -> folders.Claim:
    """What an SBC writes: a block per pseudo-record (so an interrupted one resumes), then its tables."""
    blocks = tuple(f"{BLOCKS}/{block_name(i)}" for i in range(records))
    return folders.Claim(folders.SBC_FORMAT, cal.name, cal.sha256, (*FILES, folders.MANIFEST, *blocks),
                         marker=folders.MARKER_PATH, patterns=(BLOCK_PATH,), temporaries=(HISTORY_TMP["sbc"],))


def fit_record(cal: Calibration, cheap: Calibration, design, observed: pd.Series, truth: np.ndarray, record: int,
               *, folder: Path, workers: int, pool, quiet: bool) -> pd.DataFrame:
    """Calibrate one pseudo-record; its ranks, interval hits and fit statistics, one row per parameter."""
    names = [p.name for p in cal.priors]
    rng = np.random.default_rng(np.random.SeedSequence([PRIOR_TAG, cal.seed, 1, record]))
    result = fit(cheap, design, observed, workers=workers, pool=pool, quiet=quiet, seed=cal.seed + 1 + record,
                 history=folder / HISTORY_TMP["sbc"])
    x, w = result.population, result.population["weight"].to_numpy(float)
    rows = {"point": record, "replicate": np.arange(len(names)), "parameter": names, "truth": truth,
            "rank": [sbc_rank(x[n].to_numpy(), w, truth[k], RANKS, rng) for k, n in enumerate(names)]}
    for level in LEVELS:
        rows[f"covered_{round(100 * level)}"] = [interval_contains(x[n].to_numpy(), w, truth[k], level)
                                                 for k, n in enumerate(names)]
    rows.update(seconds=round(result.seconds, 2), evaluations=int(result.generations["evaluations"].sum()),
                final_epsilon=float(result.generations["epsilon"].iloc[-1]),
                final_ess=round(float(result.generations["ess"].iloc[-1]), 2))
    return pd.DataFrame(rows)


def _reusable(spec: BlockSpec, schema: pa.Schema, truth: np.ndarray) -> pd.DataFrame | None:
    """A record's earlier block when it verifies and holds this record's truths exactly."""
    if not block_verified(spec, schema):
        return None
    frame = pd.read_parquet(spec.path)
    return frame if np.array_equal(frame["truth"].to_numpy(float), truth) else None


def run_sbc_folder(cal: Calibration, plan: folders.Plan, *, records: int | None = None, workers: int = 1,
                   quiet: bool = True) -> pd.DataFrame:
    """Calibrate ``records`` pseudo-records drawn from the prior, each into its own verified block (a
    resumed run reuses the finished ones); then write ranks, coverage, fits, figure and manifest."""
    from tqdm.auto import tqdm

    started, clock = now(), time.perf_counter()
    folder = plan.folder
    n = records or cal.checks.sbc_records
    design = build_design(cal.selection, cal.base)
    values = truths(cal, n)
    names = [p.name for p in cal.priors]
    schema = record_schema(names)
    folders.claim(plan)
    cheap = replace(cal, particles=cal.checks.sbc_particles, generations=cal.checks.sbc_generations,
                    batch=max(cal.checks.sbc_particles, min(cal.batch, 2 * cal.checks.sbc_particles)))
    specs = [block_spec(folder, cal, i, len(names)) for i in range(n)]
    done = {i: f for i in range(n) if plan.keep and (f := _reusable(specs[i], schema, values[i])) is not None}
    parts = dict(done)
    with workers_pool(workers) as pool:
        observed = parallel_summaries(design, cal.priors, values, SBC_ID + np.arange(n), cal.seed, cal.engine,
                                      cal.months, workers, pool=pool, travel=cal.travel).reset_index(drop=True)
        todo = [i for i in range(n) if i not in done]
        for i in tqdm(todo, desc="SBC records", unit="record", disable=quiet or None, initial=len(done), total=n):
            frame = fit_record(cal, cheap, design, observed.iloc[i], values[i], i, folder=folder, workers=workers,
                               pool=pool, quiet=True)
            data = pa.Table.from_pandas(frame, schema=schema, preserve_index=False).replace_schema_metadata(None)
            write_block(specs[i], data)
            parts[i] = frame
    (folder / HISTORY_TMP["sbc"]).unlink(missing_ok=True)
    every = pd.concat([parts[i] for i in range(n)], ignore_index=True)
    ranks = every.rename(columns={"point": "record"})[["record", "parameter", "truth", "rank"]]
    hits = pd.concat([every.assign(level=level, covered=every[f"covered_{round(100 * level)}"])
                      .rename(columns={"point": "record"})[["record", "parameter", "level", "covered"]]
                      for level in LEVELS], ignore_index=True)
    fits = every.drop_duplicates("point").rename(columns={"point": "record"})[
        ["record", "seconds", "evaluations", "final_epsilon", "final_ess"]].reset_index(drop=True)
    coverage = coverage_table(hits, LEVELS)
    uniformity = {p: rank_uniformity(ranks.loc[ranks["parameter"] == p, "rank"].to_numpy(), RANKS) for p in names}
    coverage["rank_uniformity_p"] = coverage["parameter"].map(uniformity)
    outputs = []
    for name, frame in ((RANKS_TABLE, ranks), (COVERAGE, coverage), (FITS, fits)):
        store.write_csv(folder / name, frame)
        outputs.append(folder / name)
    outputs += save(sbc_figure(ranks, coverage, RANKS), folder, "sbc")
    sections = {
        "calibration": {"name": cal.name, "records": n, "particles": cheap.particles,
                        "kernel_scaling": cheap.kernel_scaling,
                        "generations": cheap.generations, "batch": cheap.batch, "ranks": RANKS},
        "seeds": {"truths": f"SeedSequence([{PRIOR_TAG}, seed], spawn_key=(parameter,))",
                  "pseudo_records": f"stream points {SBC_ID} + record", "fits": "seed + 1 + record",
                  "ranks": f"SeedSequence([{PRIOR_TAG}, seed, 1, record])"},
        "timings": {"started": started, "finished": now(), "wall_seconds": round(time.perf_counter() - clock, 1),
                    "workers": workers, "records_reused": len(done),
                    "fit_seconds_total": round(float(fits["seconds"].sum()), 1)},
    }
    manifest = make_manifest(folders.SBC_FORMAT, sections, config=config_record(cal.text, cal.source), folder=folder,
                             outputs=outputs)
    store.write_json(folder / folders.MANIFEST, manifest)
    return coverage
