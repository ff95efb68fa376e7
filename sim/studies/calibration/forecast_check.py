"""The forecast's own coverage, checked on pseudo-records drawn from the prior (docs/validation.md).

For one warrant of the design (the target: a person in one run), a pseudo-record's *record to date* is
each accused of that run at the record's date — free, detained at home or in the court's custody, each at
its own month of follow-up — and whether the home government had changed by then. The probability of
custody by a horizon given that record, at a parameter vector, is the share of simulated replicates
consistent with the record that have the target in custody by the horizon (rejection, with
sim.analysis.conditioning as `sim forecast` conditions). The forecast reports the 90% interval of that
probability over posterior draws, pooled as `sim forecast` pools them (sim.analysis.forecast); the truth is
the same probability at the true parameters. Coverage counts the pseudo-records the forecast answers (where
it would refuse for want of consistent replicates, the record is counted apart, as refused). Replicates of
every draw and of the truth share their streams (common random numbers), so the Monte Carlo noise between
draws is small next to the posterior's spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.conditioning import consistent
from sim.analysis.conditioning import status_at as conditioning_status
from sim.analysis.forecast import MAX_SET_ASIDE, MIN_CONSISTENT, custody_counts, pool, set_aside
from sim.analysis.inference import Prior
from sim.errors import UserError
from sim.model.outcomes import NEVER
from sim.model.params import Params
from sim.simulate import run_rows
from sim.studies.calibration.design import Design, Run
from sim.studies.calibration.simulate import apply_values, fixed_values
from sim.studies.calibration.smc import ID_STRIDE

FORECAST_ID = 905 * ID_STRIDE  # the streams of pseudo-record i's forecast replicates: point FORECAST_ID + i
STATUS = np.array(["free", "detained", "custody"])


@dataclass(frozen=True)
class Target:
    """The warrant whose forecast is checked: its run, its place among the run's accused, its record month."""

    run: int
    accused: int
    person: str
    months: tuple[int, ...]  # each accused's month of the record to date (whole months of follow-up)
    horizon: int  # months after the target's record month

    @property
    def month(self) -> int:
        return self.months[self.accused]

    @property
    def until(self) -> int:
        """Custody by this month (months since the warrant) is forecast."""
        return self.month + self.horizon


def find_target(design: Design, person: str, horizon: int) -> Target:
    """The design's run and accused of ``person`` (a name of the record's person column)."""
    for g, run in enumerate(design.runs):
        if person in run.persons:
            months = tuple(math.floor(f + 1e-9) for f in run.follow_up)
            return Target(run=g, accused=run.persons.index(person), person=person, months=months, horizon=horizon)
    persons = sorted(p for run in design.runs for p in run.persons)
    raise UserError(f"[npe] forecast_person {person!r} is not among the design's warrants; choose one of "
                    f"{', '.join(persons[:6])}, ... (the person column of sim/data/record.csv)")


def run_params(run: Run, priors: Sequence[Prior], values: Sequence[float], horizon: int | None = None) -> Params:
    """The run's parameters at one calibrated vector (its design's fixed values kept), optionally longer."""
    params = run.params if horizon is None else run.params.replace({"scenario.horizon_months": int(horizon)})
    return apply_values(params, priors, values, fixed_values(run.params))


def status_at(custody: np.ndarray, detained: np.ndarray, months: Sequence[int]) -> np.ndarray:
    """Each (row, accused)'s status at its month as a code into STATUS (sim.analysis.conditioning's rule)."""
    def months_of(x: np.ndarray) -> np.ndarray:
        return np.where(x == NEVER, np.nan, x.astype(float))

    at = np.broadcast_to(np.asarray(months, float)[None, :], custody.shape)
    named = conditioning_status(months_of(custody), months_of(detained), at)
    return np.select([named == s for s in STATUS], list(range(len(STATUS))))


def changed_before(regime: np.ndarray, month: int) -> np.ndarray:
    return (regime != NEVER) & (regime < month)


def records_to_date(design: Design, target: Target, priors: Sequence[Prior], truths: np.ndarray, points: np.ndarray,
                    seed: int, engine: str) -> tuple[np.ndarray, np.ndarray]:
    """Each pseudo-record's record to date in the target's run: statuses (N, F) as codes into STATUS and whether
    the government changed before the target's month (N,). Pseudo-record i is stream point ``points[i]``,
    replicate = the run's index (sim.studies.calibration.simulate), so this is the very replicate it holds."""
    run = design.runs[target.run]
    params = {int(p): run_params(run, priors, v) for p, v in zip(points, truths)}
    out = run_rows(params, points, np.full(len(points), target.run), seed, engine=engine).values
    status = status_at(out["custody_month"], out["detained_month"], target.months)
    return status, changed_before(out["regime_change_month"], target.month)


def consistent_rows(out: dict[str, np.ndarray], target: Target, status: np.ndarray, changed: bool) -> np.ndarray:
    """Which simulated rows are consistent with the record to date (``status`` per accused at its own month,
    ``changed``): sim.analysis.conditioning.consistent, as the forecast study conditions."""
    custody, detained = out["custody_month"], out["detained_month"]
    n, f = custody.shape
    frame = pd.DataFrame({"row": np.repeat(np.arange(n), f), "accused": np.tile(np.arange(f), n),
                          "custody_month": custody.reshape(-1), "detained_month": detained.reshape(-1),
                          "regime_change_month": np.repeat(out["regime_change_month"], f)})
    record = pd.DataFrame({"accused": np.arange(f), "status": STATUS[status], "month": list(target.months)})
    return consistent(frame, record, target.month, bool(changed), keys=("row",)).to_numpy()


def conditional_counts(design: Design, target: Target, priors: Sequence[Prior], values: np.ndarray,
                       status: np.ndarray, changed: bool, replicates: int, stream: int, seed: int,
                       engine: str) -> tuple[np.ndarray, np.ndarray]:
    """At each parameter vector of ``values`` (D, K): how many of ``replicates`` replicates are consistent with
    the record to date (n, D) and how many of those have the target in custody in a month before
    ``target.until`` (k, D; sim.analysis.forecast.custody_counts). Every vector's replicates are stream point
    ``stream``'s (common random numbers)."""
    run = design.runs[target.run]
    values = np.atleast_2d(values)
    d = len(values)
    params = {k: run_params(run, priors, v, target.until) for k, v in enumerate(values)}
    draw = np.repeat(np.arange(d), replicates)
    out = run_rows(params, draw, np.tile(np.arange(replicates), d), seed,
                   engine=engine, stream=np.full(d * replicates, stream)).values
    ok = consistent_rows(out, target, status, changed)
    k = custody_counts(out["custody_month"], ok, draw, d, [target.until])[:, target.accused, 0]
    return np.bincount(draw[ok], minlength=d), k


def forecast_rows(design: Design, target: Target, priors: Sequence[Prior], truth: np.ndarray, draws: np.ndarray,
                  status: np.ndarray, changed: bool, record: int, *, replicates: int, truth_replicates: int,
                  seed: int, engine: str) -> dict[str, object]:
    """One pseudo-record's check: the truth's conditional probability, and the forecast's 90% interval over the
    posterior's draws pooled as the forecast study pools them (sim.analysis.forecast.pool: draws with fewer than
    MIN_CONSISTENT consistent replicates set aside, the 5% and 95% quantiles of p_d). ``answered``: whether
    `sim forecast` would answer at these replicates (set-aside draws carry at most MAX_SET_ASIDE of the weight;
    it refuses otherwise and asks for more replicates)."""
    stream = FORECAST_ID + record
    n_true, k_true = conditional_counts(design, target, priors, truth[None, :], status, changed, truth_replicates,
                                        stream, seed, engine)
    n, k = conditional_counts(design, target, priors, draws, status, changed, replicates, stream, seed, engine)
    pooled = {name: float(v[0, 0]) for name, v in pool(n, k[:, None, None], np.ones(len(n))).items()}
    share, _ = set_aside(n, replicates, np.ones(len(n)))
    used = n >= MIN_CONSISTENT
    p_d = k[used] / n[used]
    mc = np.sqrt(p_d * (1 - p_d) / n[used])
    return {"record": record, "truth": float(k_true[0] / n_true[0]) if n_true[0] else np.nan,
            "truth_consistent": int(n_true[0]), "low": pooled["p_q05"], "median": pooled["p_q50"],
            "high": pooled["p_q95"], "p": pooled["p"], "mc_share": pooled["mc_share"],
            "draws_used": int(pooled["draws_used"]), "draws_set_aside": int(pooled["draws_set_aside"]),
            "answered": bool(share <= MAX_SET_ASIDE),
            "consistent_median": float(np.median(n[used])) if used.any() else 0.0,
            "mc_se_median": float(np.median(mc)) if used.any() else np.nan,
            "status": " ".join(STATUS[status]), "changed": bool(changed)}


def forecast_table(design: Design, target: Target, priors: Sequence[Prior], truths: np.ndarray, draws: np.ndarray,
                   statuses: np.ndarray, changed: np.ndarray, records: np.ndarray, *, replicates: int,
                   truth_replicates: int, seed: int, engine: str) -> pd.DataFrame:
    """``forecast_rows`` for every checked pseudo-record (``draws``: D, M, K posterior draws of the M records)."""
    rows = [forecast_rows(design, target, priors, truths[j], draws[:, j, :], statuses[j], bool(changed[j]),
                          int(records[j]), replicates=replicates, truth_replicates=truth_replicates, seed=seed,
                          engine=engine) for j in range(len(records))]
    return pd.DataFrame(rows)
