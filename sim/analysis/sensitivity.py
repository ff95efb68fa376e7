"""Sobol' and Morris indices (SALib) of the outcomes a sensitivity study asks for, with their noise.

A ``Measure`` is one number per replicate (custody by a horizon, arrest abroad, a
count, the custody month) for one accused or all; ``replicate_values`` reads it from a results
folder's runs and ``outcome_values`` averages it per design point with its Monte Carlo standard
error. ``design_indices`` turns the per-point values of a Sobol' or Morris design into indices
together with what replicate noise alone would give (``morris_noise``, ``sobol_with_noise``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.metrics import ALL, accused_key, enforced
from sim.errors import UserError
from sim.model.outcomes import BY_NAME, OUTCOMES

PROBABILITIES = {  # shares of replicates in which the event happened by the horizon
    "p_enforced": "probability of custody by month {horizon}",
    "p_arrested": "probability of arrest by a host state abroad by month {horizon}",
}
MEANS = {  # means over replicates, to the run's end
    "custody_month": "mean custody month (among those in custody)",
    **{o.name: f"mean {o.doc.split(' (')[0]}" for o in OUTCOMES if o.kind in ("count", "real")},
}
MEASURES = {**PROBABILITIES, **MEANS}
ALL_MEANS = {  # what a measure of "all accused" is: the joint event for probabilities (as replicate_values computes)
    "p_enforced": "every one in custody",
    "p_arrested": "every one arrested by a host abroad",
    "custody_month": "of the last one, when every one is in custody",
}
KEYS = ("outcomes", "horizons", "accused", "resamples")
RENAMED = {"outcome": "outcomes", "horizon": "horizons"}  # the keys of version 0.1
RESAMPLES = 1000
SEED_TAG = 0x53454E53  # "SENS": the bootstrap's stream, apart from the design's and the blocks'


@dataclass(frozen=True)
class Measure:
    """One outcome of a sensitivity study: ``outcome`` (a key of MEASURES) by ``horizon`` for ``accused``
    (an index, or ``ALL``: every accused, summed for counts; per-run outcomes are always ``ALL``; "all" and
    the text of an index are read as ``accused_key`` reads them)."""

    outcome: str
    horizon: int
    accused: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "accused", accused_key(self.accused))

    @property
    def per_run(self) -> bool:
        return self.outcome in BY_NAME and BY_NAME[self.outcome].per_run

    @property
    def label(self) -> str:
        text = MEASURES[self.outcome].format(horizon=self.horizon)
        if self.per_run:
            return text
        if self.accused != ALL:
            return f"{text}, accused {self.accused}"
        return f"{text}, all accused ({ALL_MEANS.get(self.outcome, 'summed over the accused')})"

    @property
    def key(self) -> str:
        """A short unique name, e.g. p_enforced@60#0 (outcome, horizon for probabilities, accused)."""
        when = f"@{self.horizon}" if self.outcome in PROBABILITIES else ""
        who = "all" if self.accused == ALL else str(self.accused)
        return f"{self.outcome}{when}" + ("" if self.per_run else f"#{who}")


@dataclass(frozen=True)
class Spec:
    """A validated [sensitivity] table: the measures in config order and the bootstrap's resamples."""

    measures: tuple[Measure, ...]
    resamples: int = RESAMPLES

    def record(self) -> dict[str, Any]:
        """What the manifest says about it."""
        return {"measures": [m.key for m in self.measures], "resamples": self.resamples}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sensitivity_spec(table: Mapping[str, Any], horizon: int, n_accused: int) -> Spec:
    """Validate a config's [sensitivity] table: outcomes (names), horizons (months, for the probabilities),
    accused (indices or "all") and resamples; every combination that applies becomes a measure."""
    for key in table:
        if key in RENAMED:
            raise UserError(f"[sensitivity] {key} is now {RENAMED[key]} = [...], a list; rename the key")
        if key not in KEYS:
            raise UserError(f"unknown key '{key}' in [sensitivity]; allowed: {', '.join(KEYS)}")
    outcomes = _listed(table.get("outcomes", ["p_enforced"]))
    for o in outcomes:
        if o not in MEASURES:
            raise UserError(f"[sensitivity] outcomes: {o!r} is not one of {', '.join(MEASURES)}")
    horizons = _listed(table.get("horizons", [horizon]))
    for h in horizons:
        if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= horizon:
            raise UserError(f"[sensitivity] horizons must be whole numbers of months in 1..{horizon}, got {h!r}")
    accused = _listed(table.get("accused", [0]))
    for a in accused:
        if not (a == "all" or (isinstance(a, int) and not isinstance(a, bool) and 0 <= a < n_accused)):
            raise UserError(f"[sensitivity] accused must be indices 0..{n_accused - 1} or \"all\", got {a!r}")
    for name, values in (("outcomes", outcomes), ("horizons", horizons), ("accused", accused)):
        if not values or len(set(map(str, values))) < len(values):
            raise UserError(f"[sensitivity] {name} = {values!r} must list at least one value, each once")
    resamples = table.get("resamples", RESAMPLES)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 10:
        raise UserError(f"[sensitivity] resamples (bootstrap) must be an integer of at least 10, got {resamples!r}")
    measures: dict[str, Measure] = {}
    for o in outcomes:
        for h in (horizons if o in PROBABILITIES else [horizon]):
            for a in ([ALL] if o in BY_NAME and BY_NAME[o].per_run else accused):
                m = Measure(o, int(h), a)
                measures.setdefault(m.key, m)
    return Spec(tuple(measures.values()), resamples)


def replicate_values(runs: pd.DataFrame, measure: Measure) -> pd.Series:
    """The measure of every replicate, indexed by (point, replicate) in order; NaN where undefined
    (the custody month of a replicate without custody)."""
    outcome, h, accused = measure.outcome, measure.horizon, measure.accused
    keys = ["point", "replicate"]
    mine = runs if accused == ALL or measure.per_run else runs[runs["accused"] == accused]
    if outcome in PROBABILITIES:
        hit = enforced(mine, h)
        if outcome == "p_arrested":
            hit = hit & (mine["route"].astype(str) == "arrested_by_host").to_numpy()
        per = mine.assign(_v=hit).groupby(keys, sort=True, observed=True)["_v"].all()
    elif outcome == "custody_month":  # of the last accused taken, when all are in custody
        month = mine["custody_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        grouped = mine.assign(_v=month).groupby(keys, sort=True, observed=True)
        per = grouped["_v"].max().where(grouped["in_custody"].all())
    elif measure.per_run:
        per = mine.groupby(keys, sort=True, observed=True)[outcome].first()
    else:
        per = mine.groupby(keys, sort=True, observed=True)[outcome].sum()
    return per.astype(float)


def outcome_values(runs: pd.DataFrame, measure: Measure) -> pd.DataFrame:
    """One value per point (index: point id) with its Monte Carlo standard error (``se``): shares of
    replicates for the probabilities, means over replicates otherwise (the custody month over those in
    custody). Agrees with ``summarize``'s columns."""
    stats = replicate_values(runs, measure).groupby(level=0, sort=True).agg(["mean", "std", "count"])
    se = stats["std"] / np.sqrt(stats["count"])
    return pd.DataFrame({"value": stats["mean"], "se": se}).rename_axis("point")


def bootstrap_seed(seed: int) -> int:
    """A positive int seed for SALib's bootstrap derived from the experiment seed (0 would mean unseeded)."""
    value = int(np.random.SeedSequence([SEED_TAG, int(seed)]).generate_state(1)[0])
    return value or 1


def morris_delta(levels: int) -> float:
    """The step of an elementary effect as a share of a parameter's range (SALib's Δ)."""
    return levels / (2 * (levels - 1))


def morris_indices(problem: Mapping[str, Any], X, Y, seed: int, *, levels: int = 4,
                   resamples: int = RESAMPLES, confidence: float = 0.95) -> pd.DataFrame:
    """Morris elementary-effect statistics, one row per parameter: mu, mu_star, mu_star_conf, sigma.

    ``X``/``Y`` are the design (SALib.sample.morris) and its outputs in sample order. An elementary
    effect is the change of the output for a step of levels/(2·(levels−1)) of a parameter's range.
    """
    from SALib.analyze import morris

    x = np.asarray(X, dtype=float)
    y = _outputs(Y)
    if x.shape != (len(y), problem["num_vars"]) or len(y) % (problem["num_vars"] + 1):
        raise UserError(f"Morris analysis needs trajectories of {problem['num_vars'] + 1} points "
                        f"with one output each; got X {x.shape} and {len(y)} outputs")
    si = morris.analyze(dict(problem), x, y, num_resamples=int(resamples), conf_level=confidence,
                        num_levels=int(levels), seed=bootstrap_seed(seed))
    return pd.DataFrame({"parameter": list(problem["names"]), "mu": np.asarray(si["mu"], dtype=float),
                         "mu_star": np.asarray(si["mu_star"], dtype=float),
                         "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float),
                         "sigma": np.asarray(si["sigma"], dtype=float)})


def morris_noise(problem: Mapping[str, Any], X, per_replicate: pd.Series, levels: int) -> np.ndarray:
    """Per parameter, the μ* that replicate noise alone gives: √(2/π) times the mean, over the
    parameter's steps, of the standard error of the step's elementary effect.

    A step's effect is the mean over replicates r of (y_r(x') − y_r(x)) / Δ; its standard error is the
    spread of these paired differences over √R. With common random numbers the replicates are paired
    (the same streams at both ends) and the error is small; without, the same formula gives
    √(se² + se'²) / Δ. Where a replicate's value is undefined, the points' own errors are combined
    as if independent. ``per_replicate`` is indexed by (point, replicate), points in design order.
    """
    x = np.asarray(X, dtype=float)
    d = int(problem["num_vars"])
    span = np.array([b[1] - b[0] for b in problem["bounds"]], dtype=float)
    table = per_replicate.unstack(level=1).sort_index()
    values = table.to_numpy(dtype=float)
    if values.shape[0] != len(x):
        raise UserError(f"Morris noise needs every design point's replicates; got {values.shape[0]} of {len(x)}")
    delta = morris_delta(levels)
    floor = np.zeros(d)
    steps = np.zeros(d)
    for start in range(0, len(x), d + 1):
        for j in range(start, start + d):
            moved = int(np.argmax(np.abs(x[j + 1] - x[j]) / span))
            a, b = values[j], values[j + 1]
            diff = b - a
            if np.isfinite(diff).all():
                se = np.std(diff, ddof=1) / np.sqrt(len(diff))
            else:
                se = np.sqrt(_se(a) ** 2 + _se(b) ** 2)
            floor[moved] += se / delta
            steps[moved] += 1
    return np.sqrt(2 / np.pi) * floor / np.maximum(steps, 1)


def _se(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def _outputs(Y) -> np.ndarray:
    y = np.asarray(Y, dtype=float).reshape(-1)
    if not np.isfinite(y).all():
        raise UserError(f"the outcome is undefined at {int((~np.isfinite(y)).sum())} design point(s) "
                        f"(e.g. no custody, so no custody month); choose another outcome or wider bounds")
    return y


def design_indices(method: str, problem: Mapping[str, Any], points: pd.DataFrame, per_replicate: pd.Series,
                   seed: int, *, second_order: bool | None = None, levels: int | None = None,
                   resamples: int = RESAMPLES) -> pd.DataFrame:
    """Indices of a sampled design and their noise: ``points`` (point + one column per parameter) and
    ``per_replicate`` (the measure, indexed by point and replicate, from ``replicate_values``).

    Sobol': first-order and total indices with the replicate noise removed (``sobol_with_noise``);
    Morris: SALib's statistics plus ``noise_mu_star`` (``morris_noise``) and ``above_noise``, true when
    the lower end of μ*'s 95% interval exceeds its noise level.
    """
    order = points.sort_values("point")
    ids = order["point"].to_numpy()
    stats = per_replicate.groupby(level=0, sort=True).agg(["mean", "std", "count"]).reindex(ids)
    if method == "sobol":
        noise = (stats["std"] ** 2 / stats["count"]).to_numpy(dtype=float)
        return sobol_with_noise(problem, stats["mean"].to_numpy(dtype=float), np.nan_to_num(noise), seed,
                                second_order=bool(second_order), resamples=resamples)
    if method == "morris":
        x = order[list(problem["names"])].to_numpy(dtype=float)
        out = morris_indices(problem, x, stats["mean"].to_numpy(dtype=float), seed, levels=int(levels or 4),
                             resamples=resamples)
        mine = per_replicate[per_replicate.index.get_level_values(0).isin(ids)]
        out["noise_mu_star"] = morris_noise(problem, x, mine, int(levels or 4))
        out["above_noise"] = (out["mu_star"] - out["mu_star_conf"]) > out["noise_mu_star"]
        return out
    raise UserError(f"sensitivity needs [sweep] sampler = \"sobol\" or \"morris\", got {method!r}")


def indices_frame(indices: pd.DataFrame, method: str, measure: Measure) -> pd.DataFrame:
    """The CSV layout of sensitivity.csv: the indices, then the measure they are about."""
    from sim.model.params import lookup, split_name

    out = indices.copy()
    out["description"] = [lookup(split_name(n)[0]).doc for n in out["parameter"]]
    out["method"] = method
    out["outcome"] = measure.outcome
    out["horizon"] = measure.horizon
    out["accused"] = measure.accused
    out["measure"] = measure.key
    out["outcome_label"] = measure.label
    return out


def sobol_with_noise(problem: Mapping[str, Any], Y, noise_variance, seed: int, *, second_order: bool = False,
                     resamples: int = RESAMPLES, confidence: float = 0.95) -> pd.DataFrame:
    """Sobol' first-order and total indices (Saltelli 2010 and Jansen estimators, as SALib) with the
    replicate noise removed.

    Each point's outcome is a mean over replicates, Y = f(x) + ε with Var ε = σ²(x)/R (``noise_variance``,
    per point or one number, e.g. the squared standard errors of ``outcome_values``). With independent
    streams at every point (no common random numbers), ε inflates the output variance and the total
    effects' numerator by E[σ²/R] but leaves the first-order numerator unbiased, so
    S1 = V_i / (V − N) and ST = (E_i − N) / (V − N) with N the mean noise variance. Intervals: a
    bootstrap over the base samples (``resamples`` times, seeded), percentile bounds at ``confidence``.
    Also returns the uncorrected indices (``S1_raw``, ``ST_raw``) and the noise share N / V.
    """
    from SALib.analyze.sobol import separate_output_values

    y = _outputs(Y)
    d = int(problem["num_vars"])
    step = 2 * d + 2 if second_order else d + 2
    if len(y) % step:
        raise UserError(f"Sobol' analysis needs N·{step} outputs for {d} parameters, got {len(y)}")
    n = len(y) // step
    scale = float(np.std(y)) or 1.0
    y = (y - y.mean()) / scale  # centred and scaled as SALib does: the first-order estimator is not shift-invariant
    noise = np.broadcast_to(np.asarray(noise_variance, float), y.shape) / scale**2
    A, B, AB, _ = separate_output_values(y, d, n, second_order)
    nA, nB, nAB, _ = separate_output_values(noise.copy(), d, n, second_order)

    def indices(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.floating]:
        a, b, ab = A[rows], B[rows], AB[rows]
        var = np.var(np.r_[a, b])
        noise_mean = float(np.mean(np.r_[nA[rows], nB[rows]]))
        first = np.mean(b[:, None] * (ab - a[:, None]), axis=0)
        total = 0.5 * np.mean((a[:, None] - ab) ** 2, axis=0)
        total_noise = 0.5 * np.mean(nA[rows][:, None] + nAB[rows], axis=0)
        signal = var - noise_mean if var > noise_mean else np.nan  # all noise: the indices are undefined
        return first / signal, (total - total_noise) / signal, first / var, total / var, noise_mean / var

    every = np.arange(n)
    rng = np.random.default_rng(bootstrap_seed(seed))
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant output or pure noise: NaN indices
        s1, st, s1_raw, st_raw, share = indices(every)
        boot = [indices(rng.integers(0, n, n)) for _ in range(int(resamples))]
        s1_lo, s1_hi = np.nanquantile(np.array([b[0] for b in boot]), q, axis=0)
        st_lo, st_hi = np.nanquantile(np.array([b[1] for b in boot]), q, axis=0)
    return pd.DataFrame({"parameter": list(problem["names"]), "S1": s1, "S1_low": s1_lo, "S1_high": s1_hi,
                         "S1_conf": (s1_hi - s1_lo) / 2, "ST": st, "ST_low": st_lo, "ST_high": st_hi,
                         "ST_conf": (st_hi - st_lo) / 2, "S1_raw": s1_raw, "ST_raw": st_raw,
                         "noise_share": share})
