"""Out of sample from the state at the cut: fit on what was known on a date, then forecast every warrant from its
status on that date, conditioned as a forecast conditions (ODD §4.11, sim.analysis.conditioning), never from its
issue.

A run issued before the cut has a record to date at month m (its whole months up to the cut): each
accused's status (free, detained or in custody; a person who died or whose warrant ended before the
cut is observed until then) and whether its home government changed before m (sim/data/regime_changes.csv).
At each draw of the early posterior the run is replicated R times; the replicates consistent with
its record to date stand for its conditional future, and one of them (the first) is the draw's
forecast of that run. A run issued after the cut is forecast from its issue. A draw whose replicates
of some run are all inconsistent is set aside and counted. What is compared after the cut: the first
ways out of freedom that began in month m or later and within each warrant's follow-up, by kind, and
the rates of findings, withdrawals and accessions in the runs issued after the cut.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.conditioning import consistent
from sim.analysis.inference import EVENTS, Prior
from sim.data.tables import load_table
from sim.errors import UserError
from sim.model.outcomes import NEVER, ROUTES
from sim.simulate import run_rows
from sim.studies.calibration.design import Design, Run, first_exit, month_index
from sim.studies.calibration.simulate import apply_values, fixed_values

RATES_NEW = {"findings_rate_new": ("findings", None), "withdrawal_rate_new": ("withdrawals", "members_start"),
             "accession_rate_new": ("accessions", "nonmembers_start")}
REPLICATE_STRIDE = 100_000  # replicate ids of run g: g * stride + r, so runs never share a stream
KIND_NAMES = (*ROUTES, "detained")


def regime_changed(home: str, start: dt.date, month: int) -> bool:
    """Whether the home government changed in a month < ``month`` since ``start`` (regime_changes.csv); a change
    before the warrant is no change of the run (a government fallen at issue, ODD §7.0.1)."""
    changes = load_table("regime_changes")
    days = [dt.date.fromisoformat(d) for d in changes.loc[changes["home_iso3"] == home, "date"]]
    return any(d >= start and month_index(start, d) < month for d in days)


def record_to_date(design: Design, run: Run, cut: dt.date) -> tuple[int, pd.DataFrame, bool]:
    """The run's record at the cut: its month m, one row per accused (status at its own month: m, or the end of
    its follow-up if that came first), and whether its home government changed before m."""
    start = dt.date.fromisoformat(run.date)
    m = month_index(start, cut)
    recs = design.records[design.records["run"] == run.key].set_index("person")
    rows = []
    for j, person in enumerate(run.persons):
        own = min(m, int(np.floor(run.follow_up[j])))
        r = recs.loc[person]
        happened = not r["censored"] and int(r["month"]) < own
        status = ("free" if not happened else "detained" if r["event"] == "detained" else "custody")
        rows.append({"run": run.key, "person": person, "accused": j, "month": own, "status": status,
                     "since": int(r["month"]) if happened else pd.NA})
    return m, pd.DataFrame(rows), regime_changed(run.home, start, m)


def state_at_cut(design: Design, cut: dt.date) -> pd.DataFrame:
    """Every warrant's record at the cut (runs issued before it), for the output folder and the docs."""
    frames = []
    for run in design.runs:
        if dt.date.fromisoformat(run.date) < cut:
            m, rec, changed = record_to_date(design, run, cut)
            frames.append(rec.assign(run_month=m, regime_changed=changed))
    return pd.concat(frames, ignore_index=True)


def _after(month: np.ndarray, kind: np.ndarray, since: int, follow: np.ndarray) -> dict[str, np.ndarray]:
    """Counts per replicate of first ways out of freedom that began in month ``since`` or later, within follow-up."""
    seen = (month != NEVER) & (month >= since) & (month < follow[None, :])
    return {f"events_{e}": ((kind == KIND_NAMES.index(e)) & seen).sum(axis=1) for e in EVENTS}


def observed_after(design: Design, cut: dt.date) -> dict[str, float]:
    """What the record shows after the cut, counted as ``predicted_after`` counts a replicate."""
    out: dict[str, float] = {f"events_{e}": 0.0 for e in EVENTS}
    for run in design.runs:
        start = dt.date.fromisoformat(run.date)
        since = month_index(start, cut) if start < cut else 0
        recs = design.records[(design.records["run"] == run.key) & ~design.records["censored"]]
        for _, r in recs.iterrows():
            if int(r["month"]) >= since:
                out[f"events_{r['event']}"] += 1
    new = design.run_rows[[dt.date.fromisoformat(r.date) >= cut for r in design.runs]]
    for name, (count, exposure) in RATES_NEW.items():
        years = new["years"] * (new[exposure] if exposure else 1.0)
        out[name] = float(new[count].sum() / years.sum()) if years.sum() > 0 else np.nan
    return out


def predicted_after(design: Design, priors: Sequence[Prior], draws: np.ndarray, cut: dt.date, seed: int,
                    engine: str, replicates: int, first_id: int) -> tuple[pd.DataFrame, int]:
    """Per draw of the early posterior, the forecast after the cut (columns as ``observed_after``), and the number
    of draws set aside (some run had no replicate consistent with its record to date)."""
    n = len(draws)
    ids = first_id + np.arange(n)
    counts = {f"events_{e}": np.zeros(n) for e in EVENTS}
    new_runs: dict[str, np.ndarray] = {"years": np.zeros(n), "findings": np.zeros(n), "withdrawals": np.zeros(n),
                                       "accessions": np.zeros(n), "members_start": np.zeros(n),
                                       "nonmembers_start": np.zeros(n)}
    usable = np.ones(n, dtype=bool)
    for g, run in enumerate(design.runs):
        start = dt.date.fromisoformat(run.date)
        before = start < cut
        r = replicates if before else 1
        fixed = fixed_values(run.params)
        points = {int(i): apply_values(run.params, priors, v, fixed) for i, v in zip(ids, draws)}
        point = np.repeat(ids, r)
        rep = g * REPLICATE_STRIDE + np.tile(np.arange(r), n)
        values = run_rows(points, point, rep, seed, engine=engine).values
        month, kind = first_exit(values["custody_month"].astype(np.int64), values["route"].astype(np.int64),
                                 values["detained_month"].astype(np.int64))
        chosen = np.arange(n) * r  # the first replicate of each draw
        since = 0
        if before:
            if "regime_change_month" not in values:
                raise UserError("the out-of-sample check conditions on the home government's changes; the engine "
                                "reports no regime_change_month (model v1.4)")
            since, record, changed = record_to_date(design, run, cut)
            f = len(run.persons)
            frame = pd.DataFrame({"draw": np.repeat(np.repeat(np.arange(n), r), f),
                                  "replicate": np.repeat(np.tile(np.arange(r), n), f),
                                  "accused": np.tile(np.arange(f), n * r),
                                  "custody_month": values["custody_month"].reshape(-1),
                                  "detained_month": values["detained_month"].reshape(-1),
                                  "regime_change_month": np.repeat(values["regime_change_month"], f)})
            ok = consistent(frame, record[["accused", "status", "month"]], since, changed,
                            keys=("draw", "replicate")).to_numpy().reshape(n, r)
            usable &= ok.any(axis=1)
            chosen = np.arange(n) * r + np.argmax(ok, axis=1)
        part = _after(month[chosen], kind[chosen], since, run.follow_up)
        for key in counts:
            counts[key] += part[key]
        if not before:
            new_runs["years"] += run.horizon / 12.0
            for key in ("findings", "withdrawals", "accessions"):
                new_runs[key] += values[key][chosen]
            new_runs["members_start"] += run.horizon / 12.0 * run.members_start
            new_runs["nonmembers_start"] += run.horizon / 12.0 * (run.n_states - 1 - run.members_start)
    out: dict[str, Any] = {"draw": np.arange(n), **counts}
    with np.errstate(divide="ignore", invalid="ignore"):
        out["findings_rate_new"] = new_runs["findings"] / new_runs["years"]
        out["withdrawal_rate_new"] = new_runs["withdrawals"] / new_runs["members_start"]
        out["accession_rate_new"] = new_runs["accessions"] / new_runs["nonmembers_start"]
    frame = pd.DataFrame(out)
    return frame[usable].reset_index(drop=True), int((~usable).sum())


def _chunk(args) -> tuple[pd.DataFrame, int]:
    return predicted_after(*args)


def parallel_predicted_after(design: Design, priors: Sequence[Prior], draws: np.ndarray, cut: dt.date, seed: int,
                             engine: str, replicates: int, first_id: int, workers: int = 1, pool=None
                             ) -> tuple[pd.DataFrame, int]:
    """``predicted_after`` over chunks of draws on the pool (each draw has its own streams: any chunking gives
    the same forecasts)."""
    chunk = max(1, -(-len(draws) // max(1, workers)))
    parts = [(design, priors, draws[i:i + chunk], cut, seed, engine, replicates, first_id + i)
             for i in range(0, len(draws), chunk)]
    done = list(pool.map(_chunk, parts)) if pool is not None and len(parts) > 1 else [_chunk(p) for p in parts]
    frames = []
    for (frame, _), start in zip(done, range(0, len(draws), chunk)):
        frames.append(frame.assign(draw=frame["draw"] + start))
    return pd.concat(frames, ignore_index=True), sum(a for _, a in done)


def comparison(observed: dict[str, float], predicted: pd.DataFrame, set_aside: int) -> pd.DataFrame:
    """The record after the cut against the forecasts: median, 50% and 90% intervals, and the draws used."""
    rows = []
    for name, value in observed.items():
        x = predicted[name].to_numpy(float)
        x = x[np.isfinite(x)]
        row: dict[str, Any] = {"outcome": name, "record": float(value),
                               "predicted_median": float(np.median(x)) if x.size else np.nan}
        for level in (0.5, 0.9):
            lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2]) if x.size else (np.nan, np.nan)
            row[f"low_{int(level * 100)}"], row[f"high_{int(level * 100)}"] = float(lo), float(hi)
            row[f"inside_{int(level * 100)}"] = bool(lo <= value <= hi)
        row["draws_used"], row["draws_set_aside"] = len(predicted), set_aside
        rows.append(row)
    return pd.DataFrame(rows)
