"""Statistics of the calibration against the court's record: priors, the record's summaries, posterior
summaries, simulation-based calibration and posterior predictive checks. Frames in, frames out.

A *record* (observed or simulated, the same kind of object) is one row per warrant — ``time`` (months
since the warrant), ``event`` (one of EVENTS, or empty when censored), ``censored``, ``follow_up`` —,
one row per run — ``years`` of follow-up, ``findings``, ``withdrawals``, ``accessions``,
``members_start``, ``nonmembers_start`` — and one row per accused in the travel record —
``window_months``, ``free_months``, ``visits`` (to states parties), ``arrests`` (on those visits),
``declined`` (invitations), ``head_of_state``. All three are summarised by ``summaries`` below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from sim.analysis.metrics import wilson_interval
from sim.analysis.survival import record_incidence
from sim.errors import UserError
from sim.model.params import lookup, split_name

EVENTS = ("arrested_by_host", "domestic_surrender", "detained")
EVENT_TEXT = {"arrested_by_host": "surrendered to the court by a host abroad",
              "domestic_surrender": "surrendered to the court by the home state",
              "detained": "detained at home and not surrendered"}
RECORD_COLUMNS = ("time", "event", "censored", "follow_up")
RUN_COLUMNS = ("years", "findings", "withdrawals", "accessions", "members_start", "nonmembers_start")
RATES = {  # statistic -> (numerator column, exposure: years x this column (or 1)), and the fact it encodes
    "findings_rate": ("findings", None, "non-compliance findings (a host's failure to arrest) per run-year"),
    "withdrawal_rate": ("withdrawals", "members_start", "withdrawals notified per member-year"),
    "accession_rate": ("accessions", "nonmembers_start", "accessions deposited per non-member-year"),
}
DISTRIBUTIONS = ("uniform", "loguniform", "beta")
TRAVEL_COLUMNS = ("window_months", "free_months", "visits", "arrests", "declined", "head_of_state")
TRAVEL_STATS = {  # statistic -> the fact of the travel record it encodes
    "visits_to_parties": "visits to states parties per free person-year (travel record, to 2023)",
    "arrests_per_visit": "arrests abroad per visit to a state party (travel record, to 2023; 0 without a visit)",
    "declined_per_head_of_state_year": "invitations declined per free head-of-state-year (travel record, to 2023)",
}


def statistic_names(months: Sequence[int], travel: Sequence[str] = ()) -> list[str]:
    """The summary statistics, in a fixed order: cumulative incidence per event and month, the rates, then the
    travel record's statistics (those of TRAVEL_STATS asked for, in its order)."""
    return [f"cif_{e}_{m}" for e in EVENTS for m in months] + list(RATES) + [t for t in TRAVEL_STATS if t in travel]


def describe_statistic(name: str) -> str:
    """What fact of the record a summary statistic encodes (one line, for docs and tables)."""
    if name in RATES:
        return RATES[name][2]
    if name in TRAVEL_STATS:
        return TRAVEL_STATS[name]
    _, rest = name.split("_", 1)
    event, month = rest.rsplit("_", 1)
    unit = "month" if month == "1" else "months"
    return f"share of warrants {EVENT_TEXT[event]} within {month} {unit} (Aalen-Johansen, censored)"


def travel_summaries(travel: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """The travel record's statistics, one row per group of ``by`` (or one row): pooled over its accused, visits to
    parties per free person-year, arrests per visit (arrests over visits, 0 when nobody visited a party) and
    invitations declined per free head-of-state-year (0 with no head-of-state time)."""
    t = travel.assign(_years=travel["free_months"].astype(float) / 12.0,
                      _hos_years=travel["free_months"].astype(float) / 12.0 * travel["head_of_state"].astype(float),
                      _declined=travel["declined"].astype("Float64").astype(float))
    cols = ["visits", "arrests", "_declined", "_years", "_hos_years"]
    sums = t.groupby(by, sort=True)[cols].sum(min_count=1) if by else t[cols].sum(min_count=1).to_frame().T
    sums[["visits", "arrests", "_years", "_hos_years"]] = sums[["visits", "arrests", "_years", "_hos_years"]].fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "visits_to_parties": np.where(sums["_years"] > 0, sums["visits"] / sums["_years"], 0.0),
            "arrests_per_visit": sums["arrests"] / np.maximum(sums["visits"], 1),
            "declined_per_head_of_state_year": np.where(sums["_hos_years"] > 0, sums["_declined"] / sums["_hos_years"],
                                                        0.0)}, index=sums.index)
    return out


def summaries(records: pd.DataFrame, runs: pd.DataFrame, months: Sequence[int], by: str | None = None,
              travel: pd.DataFrame | None = None, travel_stats: Sequence[str] = ()) -> pd.DataFrame:
    """The summary statistics of records, one row per group of ``by`` (or one row for a single record).

    Cumulative incidence of each way out of freedom (competing risks with censoring, statsmodels'
    Aalen-Johansen via sim.analysis.survival.record_incidence) at ``months``, pooled rates of findings
    and membership changes over the runs' follow-up, and the travel record's ``travel_stats``
    (``travel_summaries``) from ``travel``.
    """
    keys = [by] if by else []
    cif = record_incidence(records, list(months), by=keys, events=EVENTS)
    cif["stat"] = "cif_" + cif["event"].astype(str) + "_" + cif["time"].astype(int).astype(str)
    wide = cif.pivot_table(index=keys or None, columns="stat", values="cif", aggfunc="first") if keys else \
        cif.set_index("stat")["cif"].to_frame().T
    grouped = runs.groupby(by, sort=True) if by else None
    for name, (count, exposure, _) in RATES.items():
        years = runs["years"] * (runs[exposure] if exposure else 1.0)
        if grouped is not None:
            num = runs.groupby(by, sort=True)[count].sum()
            den = years.groupby(runs[by], sort=True).sum()
            wide[name] = (num / den).reindex(wide.index).to_numpy()
        else:
            wide[name] = runs[count].sum() / years.sum()
    if travel_stats:
        if travel is None:
            raise UserError("travel statistics need the travel record (one row per accused in it)")
        trav = travel_summaries(travel, by)
        for name in travel_stats:
            wide[name] = trav[name].reindex(wide.index).to_numpy() if keys else float(trav[name].iloc[0])
    names = statistic_names(months, travel_stats)
    out = wide.reindex(columns=names).reset_index(drop=not keys)
    return out


# --- priors -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prior:
    """A prior on one model parameter (a list parameter's prior sets every element: a common value)."""

    name: str
    dist: str
    low: float
    high: float
    a: float = 1.0
    b: float = 1.0
    why: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.ppf(rng.uniform(size=n))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        if self.dist == "uniform":
            return self.low + (self.high - self.low) * u
        if self.dist == "loguniform":
            return np.exp(np.log(self.low) + (np.log(self.high) - np.log(self.low)) * u)
        return self.low + (self.high - self.low) * sps.beta(self.a, self.b).ppf(u)

    def scipy(self):
        """The prior as a frozen scipy distribution (pyabc's RV takes the same arguments)."""
        if self.dist == "uniform":
            return sps.uniform(self.low, self.high - self.low)
        if self.dist == "loguniform":
            return sps.loguniform(self.low, self.high)
        return sps.beta(self.a, self.b, loc=self.low, scale=self.high - self.low)

    def text(self) -> str:
        if self.dist == "uniform":
            return f"uniform({self.low:g}, {self.high:g})"
        if self.dist == "loguniform":
            return f"log-uniform({self.low:g}, {self.high:g})"
        return f"beta({self.a:g}, {self.b:g}) on [{self.low:g}, {self.high:g}]"


def make_prior(name: str, spec: Any) -> Prior:
    """A validated prior from a config entry ``{dist = "uniform", low = .., high = .., why = ".."}``."""
    base, index = split_name(name)
    param = lookup(base)
    where = f"[priors] \"{name}\""
    if param.scalar_kind != "float":
        raise UserError(f"{where}: only real-valued parameters can be calibrated, {base} is {param.kind}")
    if index is not None:
        raise UserError(f"{where}: calibrate the whole list {base} (one common value for every accused)")
    if not isinstance(spec, Mapping):
        raise UserError(f"{where} must be a table such as {{dist = \"uniform\", low = 0, high = 1, why = \"...\"}}")
    unknown = sorted(set(spec) - {"dist", "low", "high", "a", "b", "why"})
    if unknown:
        raise UserError(f"{where}: unknown key '{unknown[0]}' (allowed: dist, low, high, a, b, why)")
    dist = spec.get("dist", "uniform")
    if dist not in DISTRIBUTIONS:
        raise UserError(f"{where}: dist must be one of {', '.join(DISTRIBUTIONS)}, got {dist!r}")
    numbers = {}
    for key, default in (("low", None), ("high", None), ("a", 1.0), ("b", 1.0)):
        value = spec.get(key, default)
        if value is None:
            raise UserError(f"{where}: {key} is missing")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise UserError(f"{where}: {key} must be a finite number, got {value!r}")
        numbers[key] = float(value)
    if not numbers["low"] < numbers["high"]:
        raise UserError(f"{where}: low ({numbers['low']:g}) must be below high ({numbers['high']:g})")
    if numbers["low"] < param.low or numbers["high"] > param.high:
        raise UserError(f"{where}: [{numbers['low']:g}, {numbers['high']:g}] leaves {base}'s allowed range "
                        f"{param.range_text()}")
    if dist == "loguniform" and numbers["low"] <= 0:
        raise UserError(f"{where}: a log-uniform prior needs low > 0")
    if numbers["a"] <= 0 or numbers["b"] <= 0:
        raise UserError(f"{where}: beta shapes a and b must be positive")
    why = spec.get("why", "")
    if not isinstance(why, str) or not why.strip():
        raise UserError(f"{where}: say why in one line (why = \"...\"): a prior is a claim a referee will read")
    return Prior(name=name, dist=dist, why=why.strip(), **numbers)


# --- posteriors ---------------------------------------------------------------------------------------------

def weighted_quantile(x: np.ndarray, w: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles of a weighted sample (the inverse of its weighted empirical distribution function)."""
    order = np.argsort(x, kind="stable")
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cdf = np.cumsum(w) / w.sum()
    return np.array([x[min(int(np.searchsorted(cdf, qq, side="left")), len(x) - 1)] for qq in q])


def posterior_summary(draws: pd.DataFrame, weights: np.ndarray, priors: Sequence[Prior],
                      levels: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
    """Per parameter: weighted mean, median and central credible intervals, the prior, and how much the
    record narrowed it (posterior 90% width over prior 90% width)."""
    w = np.asarray(weights, float)
    rows = []
    for p in priors:
        x = draws[p.name].to_numpy(float)
        row: dict[str, Any] = {"parameter": p.name, "prior": p.text(), "mean": float(np.average(x, weights=w)),
                               "median": float(weighted_quantile(x, w, [0.5])[0])}
        for level in levels:
            lo, hi = weighted_quantile(x, w, [(1 - level) / 2, (1 + level) / 2])
            row[f"q{(1 - level) / 2 * 100:g}"], row[f"q{(1 + level) / 2 * 100:g}"] = float(lo), float(hi)
        prior_lo, prior_hi = p.ppf(np.array([0.05, 0.95]))
        post_lo, post_hi = weighted_quantile(x, w, [0.05, 0.95])
        row["width_ratio_90"] = float((post_hi - post_lo) / (prior_hi - prior_lo))
        row["why"] = p.why
        rows.append(row)
    return pd.DataFrame(rows)


def interval_contains(x: np.ndarray, w: np.ndarray, truth: float, level: float) -> bool:
    lo, hi = weighted_quantile(x, w, [(1 - level) / 2, (1 + level) / 2])
    return bool(lo <= truth <= hi)


def sbc_rank(x: np.ndarray, w: np.ndarray, truth: float, n_ranks: int, rng: np.random.Generator) -> int:
    """Talts et al.'s rank of the truth among ``n_ranks`` draws resampled from a weighted posterior."""
    sample = rng.choice(np.asarray(x, float), size=n_ranks, p=np.asarray(w, float) / np.sum(w))
    return int(np.count_nonzero(sample < truth))


def coverage_table(hits: pd.DataFrame, levels: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
    """Coverage per parameter and level with 95% Wilson bounds: ``hits`` has parameter, level, covered."""
    rows = []
    for (param, level), g in hits.groupby(["parameter", "level"], sort=True):
        k, n = int(g["covered"].sum()), len(g)
        lo, hi = wilson_interval(k, n)
        rows.append({"parameter": param, "level": level, "records": n, "covered": k, "coverage": k / n,
                     "coverage_low": float(lo), "coverage_high": float(hi),
                     "nominal_inside": bool(lo <= level <= hi)})
    return pd.DataFrame(rows)


def coverage_pvalues(coverage: pd.DataFrame, level: float) -> pd.Series:
    """Holm-adjusted two-sided binomial p-values that each parameter's coverage at ``level`` is nominal,
    from a ``coverage_table``: with many intervals, some Wilson bounds miss the nominal level by chance."""
    from statsmodels.stats.multitest import multipletests

    rows = coverage[coverage["level"] == level]
    raw = [sps.binomtest(int(k), int(n), level).pvalue for k, n in zip(rows["covered"], rows["records"], strict=True)]
    return pd.Series(multipletests(raw, method="holm")[1], index=rows["parameter"].to_numpy())


def rank_uniformity(ranks: np.ndarray, n_ranks: int, bins: int = 10) -> float:
    """p-value of a chi-square test that SBC ranks (0..n_ranks) are uniform, in ``bins`` equal bins."""
    counts = np.histogram(ranks, bins=bins, range=(-0.5, n_ranks + 0.5))[0]
    return float(sps.chisquare(counts).pvalue)


def predictive_pvalue(observed: float, replicated: np.ndarray) -> float:
    """Two-sided posterior predictive p-value: 2·min(P(T_rep ≥ T_obs), P(T_rep ≤ T_obs)), capped at 1."""
    rep = np.asarray(replicated, float)
    rep = rep[np.isfinite(rep)]
    if rep.size == 0 or not np.isfinite(observed):
        return float("nan")
    return float(min(1.0, 2 * min(np.mean(rep >= observed), np.mean(rep <= observed))))


def predictive_table(observed: pd.Series, replicated: pd.DataFrame, levels: Sequence[float] = (0.5, 0.9)
                     ) -> pd.DataFrame:
    """Per statistic: the record's value, the replicated records' median and central intervals, whether the
    record lies inside each, and the predictive p-value."""
    rows = []
    for name in observed.index:
        rep = replicated[name].to_numpy(float)
        rep = rep[np.isfinite(rep)]
        row: dict[str, Any] = {"statistic": name, "what": describe_statistic(name), "record": float(observed[name]),
                               "replicated_median": float(np.median(rep)) if rep.size else np.nan}
        for level in levels:
            lo, hi = (np.quantile(rep, [(1 - level) / 2, (1 + level) / 2]) if rep.size else (np.nan, np.nan))
            row[f"low_{int(level * 100)}"], row[f"high_{int(level * 100)}"] = float(lo), float(hi)
            row[f"inside_{int(level * 100)}"] = bool(lo <= observed[name] <= hi)
        row["p_value"] = predictive_pvalue(float(observed[name]), rep)
        rows.append(row)
    return pd.DataFrame(rows)
