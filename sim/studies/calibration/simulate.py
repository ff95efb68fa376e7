"""Pseudo-records: the design's runs simulated for many parameter vectors at once, summarised as the record is.

For a batch of N parameter vectors, each run of the design is one engine call of N rows (batched
points: every row carries its own parameters). Row k of run g is replicate g of stream point
``ids[k]``, so a pseudo-record depends on the seed and its id alone — never on the batch, the chunking
or the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pandas as pd

from sim.analysis.inference import Prior, summaries
from sim.model.params import Params, lookup
from sim.simulate import run_rows
from sim.studies.calibration.design import Design, simulated_records
from sim.studies.calibration.travel import simulated_travel, windows


def apply_values(params: Params, priors: Sequence[Prior], values: Sequence[float],
                 fixed: dict[str, object] | None = None) -> Params:
    """A run's parameters with one vector of calibrated values set (a list parameter: every element),
    then the run's own fixed values (e.g. no timed warrant where the record's warrants were public)."""
    updates: dict[str, object] = {}
    for prior, v in zip(priors, values):
        updates[prior.name] = [float(v)] * params.n_accused if lookup(prior.name).is_list else float(v)
    updates.update(fixed or {})
    return params.replace(updates)


def fixed_values(params: Params) -> dict[str, object]:
    """What the design fixes in a run whatever the calibrated values: a public run has no timed warrant."""
    return {"prosecutor.timed_share": 0.0} if params["prosecutor.sealed_share"] == 0.0 else {}


def pseudo_records(design: Design, priors: Sequence[Prior], values: np.ndarray, ids: np.ndarray, seed: int,
                   engine: str, travel: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Records, run rows and (with ``travel`` statistics asked for) travel rows of the pseudo-records of
    ``values`` (N, K), grouped by ``ids`` (N,). A travel window shorter than its run is the same replicates run
    with the window as horizon: their first months are the run's own (counter-based streams)."""
    values = np.atleast_2d(np.asarray(values, float))
    ids = np.asarray(ids, dtype=np.int64)
    records, runs, trips = [], [], []
    for g, run in enumerate(design.runs):
        fixed = fixed_values(run.params)
        points = {int(i): apply_values(run.params, priors, v, fixed) for i, v in zip(ids, values)}
        replicate = np.full(len(ids), g)
        out = run_rows(points, ids, replicate, seed, engine=engine)
        rec, rr = simulated_records(run, out.values, ids)
        records.append(rec)
        runs.append(rr)
        if travel and windows(run):
            by_horizon = {h: out.values if h == run.horizon else run_rows(
                {i: p.replace({"scenario.horizon_months": h}) for i, p in points.items()}, ids, replicate, seed,
                engine=engine).values for h in windows(run)}
            trips.append(simulated_travel(run, by_horizon, ids, declined="declined_per_head_of_state_year" in travel))
    trav = pd.concat(trips, ignore_index=True) if trips else pd.DataFrame()
    return pd.concat(records, ignore_index=True), pd.concat(runs, ignore_index=True), trav


def pseudo_summaries(design: Design, priors: Sequence[Prior], values: np.ndarray, ids: np.ndarray, seed: int,
                     engine: str, months: Sequence[int], travel: Sequence[str] = ()) -> pd.DataFrame:
    """Summary statistics of each pseudo-record, in the order of ``ids`` (index: the ids)."""
    records, runs, trips = pseudo_records(design, priors, values, ids, seed, engine, travel)
    stats = summaries(records, runs, months, by="group", travel=trips, travel_stats=travel).set_index("group")
    return stats.reindex(np.asarray(ids, dtype=np.int64))


def _chunk(args) -> pd.DataFrame:
    return pseudo_summaries(*args)


def parallel_summaries(design: Design, priors: Sequence[Prior], values: np.ndarray, ids: np.ndarray, seed: int,
                       engine: str, months: Sequence[int], workers: int = 1, chunk: int | None = None,
                       pool: ProcessPoolExecutor | None = None, travel: Sequence[str] = ()) -> pd.DataFrame:
    """``pseudo_summaries`` over chunks of vectors, on ``workers`` processes (identical results for any
    chunking: each pseudo-record draws from its own streams)."""
    values = np.atleast_2d(np.asarray(values, float))
    ids = np.asarray(ids, dtype=np.int64)
    if chunk is None:
        chunk = max(16, -(-len(ids) // max(1, workers)))
    parts = [(design, priors, values[i:i + chunk], ids[i:i + chunk], seed, engine, months, tuple(travel))
             for i in range(0, len(ids), chunk)]
    if workers <= 1 or len(parts) == 1:
        return pd.concat([_chunk(p) for p in parts])
    if pool is not None:
        return pd.concat(list(pool.map(_chunk, parts)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as own:
        return pd.concat(list(own.map(_chunk, parts)))
