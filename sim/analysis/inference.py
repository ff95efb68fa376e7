"""Rejection ABC against the court's record: priors, target summaries, distance, posterior.

Summaries of a set of warrants (recorded or simulated): the Kaplan-Meier survival S(m) (still
not in custody m months after the warrant) at chosen months, and the share of custody events
that were arrests by a host state abroad (the rest: handed over at home after a change of
government). Time convention as in sim.analysis.survival: custody in model month t is event
time t + 1, so S(m) = P(custody_month >= m); a recorded custody d days after the warrant is
event time d / 30.4375 months (at least one day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.analysis.survival import survival_curve
from sim.errors import UserError
from sim.model.params import Params, lookup

DAYS_PER_MONTH = 365.25 / 12
MODEL_ROUTES = ("arrested_by_host", "domestic_surrender")
ROUTE_TARGETS = (*MODEL_ROUTES, "censor")  # what a recorded custody_route may map to
DISTRIBUTIONS = ("uniform", "beta")
METRICS = ("sup", "rmse")


@dataclass(frozen=True)
class Prior:
    """A prior on one model parameter: uniform on [low, high], or Beta(a, b) stretched over [low, high]."""

    name: str
    dist: str
    low: float
    high: float
    a: float = 1.0
    b: float = 1.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        u = rng.uniform(size=n) if self.dist == "uniform" else rng.beta(self.a, self.b, size=n)
        return self.low + (self.high - self.low) * u

    def text(self) -> str:
        if self.dist == "uniform":
            return f"uniform({self.low:g}, {self.high:g})"
        return f"beta({self.a:g}, {self.b:g}) on [{self.low:g}, {self.high:g}]"


def make_prior(name: str, spec: Any) -> Prior:
    """A validated prior from a config entry ``{dist = "uniform", low = .., high = ..}`` (or beta with a, b)."""
    base = name.split("[", 1)[0]
    param = lookup(base)
    where = f"[priors] \"{name}\""
    if param.scalar_kind != "float":
        raise UserError(f"{where}: only real-valued parameters can be calibrated, {base} is {param.kind}")
    if "[" in name and not param.is_list:
        raise UserError(f"{where}: {base} is not a list, so it takes no [index]")
    if param.is_list and "[" not in name:
        raise UserError(f"{where}: {base} is a per-accused list; calibrate one element, e.g. \"{base}[0]\"")
    if not isinstance(spec, Mapping):
        raise UserError(f"{where} must be a table such as {{dist = \"uniform\", low = 0, high = 1}}")
    unknown = set(spec) - {"dist", "low", "high", "a", "b"}
    if unknown:
        raise UserError(f"{where}: unknown key '{sorted(unknown)[0]}' (allowed: dist, low, high, a, b)")
    dist = spec.get("dist", "uniform")
    if dist not in DISTRIBUTIONS:
        raise UserError(f"{where}: dist must be one of {', '.join(DISTRIBUTIONS)}, got {dist!r}")
    numbers = {}
    for key, default in (("low", None), ("high", None), ("a", 1.0), ("b", 1.0)):
        value = spec.get(key, default)
        if value is None and dist == "beta" and key in ("low", "high"):
            value = param.low if key == "low" else param.high
        if value is None:
            raise UserError(f"{where}: {key} is missing (a uniform prior needs low and high)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise UserError(f"{where}: {key} must be a finite number, got {value!r}")
        numbers[key] = float(value)
    if not numbers["low"] < numbers["high"]:
        raise UserError(f"{where}: low ({numbers['low']:g}) must be below high ({numbers['high']:g})")
    if numbers["low"] < param.low or numbers["high"] > param.high:
        raise UserError(f"{where}: [{numbers['low']:g}, {numbers['high']:g}] leaves {base}'s allowed range "
                        f"{param.range_text()}")
    if numbers["a"] <= 0 or numbers["b"] <= 0:
        raise UserError(f"{where}: beta shapes a and b must be positive")
    return Prior(name=name, dist=dist, **numbers)


# --- the record -----------------------------------------------------------------------------------------

def parse_day(text: str) -> dt.date:
    """A recorded date; a partial one is taken at its midpoint (YYYY -> 1 July, YYYY-MM -> the 15th)."""
    parts = [int(x) for x in text.split("-")]
    if len(parts) == 1:
        return dt.date(parts[0], 7, 1)
    if len(parts) == 2:
        return dt.date(parts[0], parts[1], 15)
    return dt.date(*parts)


def data_date(warrants: pd.DataFrame) -> dt.date:
    """The date of the record: the latest full date in the warrants table (later facts are unknown)."""
    cols = ("warrant_date", "custody_date", "icc_transfer_date", "outcome_date")
    days = [dt.date.fromisoformat(v) for c in cols if c in warrants for v in warrants[c] if len(v) == 10]
    return max(days)


def record_sample(warrants: pd.DataFrame, kinds: Sequence[str], nationality_party: Sequence[str],
                  routes: Mapping[str, str], censor: dt.date, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """One row per counted warrant: time in months from warrant to custody or censoring, event, route, reason.

    A custody route mapped to "censor" (outside the model: self-surrender, capture by a militia)
    ends follow-up without an event; so do death and a withdrawn warrant (at ``outcome_date``);
    everyone else is followed up to ``censor``.
    """
    unknown = [p for p in exclude if p not in set(warrants["person"])]
    if unknown:
        raise UserError(f"[targets] exclude names '{unknown[0]}', who is not in the warrants table "
                        "(use the exact person column)")
    rows = warrants[warrants["kind"].isin(kinds) & warrants["nationality_state_is_party"].isin(nationality_party)
                    & ~warrants["person"].isin(exclude)]
    out = []
    for _, r in rows.iterrows():
        start = parse_day(r["warrant_date"])
        if start > censor:
            continue
        end, event, route, reason = censor, False, "none", "at large on the record's date"
        if r["custody_route"]:
            if r["custody_route"] not in routes:
                raise UserError(f"[targets.routes] has no entry for custody_route '{r['custody_route']}' "
                                f"(row of {r['person']}); map it to one of {', '.join(ROUTE_TARGETS)}")
            end, mapped = parse_day(r["custody_date"]), routes[r["custody_route"]]
            event, route = mapped != "censor", mapped if mapped != "censor" else "none"
            reason = f"custody ({r['custody_route']})" if event else f"left follow-up ({r['custody_route']})"
        elif r["status"] in ("deceased", "withdrawn") and r["outcome_date"]:
            end, reason = parse_day(r["outcome_date"]), f"left follow-up ({r['status']})"
        if end > censor:
            end, event, route, reason = censor, False, "none", "at large on the record's date"
        months = (end - start).days / DAYS_PER_MONTH
        out.append({"person": r["person"], "situation": r["situation"], "warrant_date": r["warrant_date"],
                    "custody_route": r["custody_route"], "status": r["status"],
                    "time_months": max(months, 1 / DAYS_PER_MONTH) if event else max(months, 0.0),
                    "event": event, "route": route, "reason": reason})
    sample = pd.DataFrame(out, columns=["person", "situation", "warrant_date", "custody_route", "status",
                                        "time_months", "event", "route", "reason"])
    if sample.empty or not sample["event"].any():
        raise UserError("[targets] select no warrant with a custody event; widen kinds or nationality_party")
    return sample


def model_sample(frame: pd.DataFrame, horizon: int, follow_up: np.ndarray | None = None) -> pd.DataFrame:
    """A simulated record: one row per (replicate, accused), censored at ``follow_up`` months (or the horizon)."""
    in_custody = frame["in_custody"].to_numpy(dtype=bool)
    month = frame["custody_month"].to_numpy(dtype=float, na_value=np.nan)
    time = np.where(in_custody, month + 1, horizon).astype(float)
    limit = np.full(len(frame), float(horizon)) if follow_up is None else np.minimum(follow_up, horizon)
    event = in_custody & (time <= limit)
    route = np.where(event, frame["route"].astype(str).to_numpy(), "none")
    return pd.DataFrame({"time_months": np.where(event, time, limit), "event": event, "route": route})


@dataclass(frozen=True)
class Summary:
    """The statistics compared: S(m) at the chosen months and the share of custody by a host abroad."""

    surv: np.ndarray
    host_share: float  # NaN when there is no custody event
    n: int
    events: int


def summarise_sample(sample: pd.DataFrame, months: Sequence[int]) -> Summary:
    """Kaplan-Meier S(m) (statsmodels SurvfuncRight) and the host share of a (possibly censored) sample."""
    curve = survival_curve(sample["time_months"].to_numpy(), sample["event"].to_numpy(), max(months))
    event = sample["event"].to_numpy(dtype=bool)
    host = (sample["route"].to_numpy() == "arrested_by_host") & event
    share = host.sum() / event.sum() if event.any() else np.nan
    return Summary(curve["surv"].to_numpy()[list(months)], float(share), len(sample), int(event.sum()))


def model_curve(frame: pd.DataFrame, horizon: int) -> tuple[np.ndarray, float]:
    """Survival S(t), t = 0..horizon, of uncensored model output (a sim.simulate frame), and its host share.

    The host share is NaN without any custody; the empirical survival equals the Kaplan-Meier
    estimate when the only censoring is at the horizon.
    """
    held = frame["in_custody"].to_numpy(dtype=bool)
    month = frame["custody_month"].to_numpy(dtype=np.int64, na_value=-1)[held]
    counts = np.bincount(month + 1, minlength=horizon + 1)[: horizon + 1]
    surv = 1.0 - np.cumsum(counts) / len(frame)
    host = frame["route"].to_numpy()[held] == "arrested_by_host"
    share = host.sum() / held.sum() if held.any() else np.nan
    return surv, float(share)


def distance(surv: np.ndarray, share: float, target: Summary, route_weight: float, metric: str) -> float:
    """Sup (or root mean square) gap between survival curves at the target months, plus the weighted
    gap in host share (a simulation without any custody counts the largest gap, 1)."""
    gap = np.abs(np.asarray(surv) - target.surv)
    d = float(gap.max() if metric == "sup" else np.sqrt(np.mean(gap ** 2)))
    if route_weight and np.isfinite(target.host_share):
        d += route_weight * (abs(share - target.host_share) if np.isfinite(share) else 1.0)
    return d


def posterior_summary(draws: pd.DataFrame, priors: Sequence[Prior], level: float = 0.90) -> pd.DataFrame:
    """Mean, median and central credible interval of each parameter over the accepted draws."""
    acc = draws[draws["accepted"]]
    q = (1 - level) / 2
    rows = []
    for p in priors:
        x = acc[p.name].to_numpy()
        rows.append({"parameter": p.name, "prior": p.text(), "mean": x.mean(), "median": np.median(x),
                     f"q{q * 100:g}": np.quantile(x, q), f"q{(1 - q) * 100:g}": np.quantile(x, 1 - q),
                     "sd": x.std(ddof=1) if len(x) > 1 else np.nan, "n_accepted": len(x),
                     "epsilon": acc["distance"].max()})
    return pd.DataFrame(rows)


def apply_draw(base: Params, priors: Sequence[Prior], values: Sequence[float]) -> Params:
    """The base parameters with one prior draw's values set."""
    return base.replace({p.name: float(v) for p, v in zip(priors, values)})
