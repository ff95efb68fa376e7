"""Sobol' and Morris indices (SALib) from per-point outcomes in the design's sample order.

``outcome_values`` turns a results folder's runs into one number per design point (enforcement
probability or probability of arrest abroad at a horizon, mean custody month, mean findings,
withdrawals or trips) with its Monte Carlo standard error;
``design_indices`` feeds them, with the points frame, to ``sobol_indices`` or ``morris_indices``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from sim.analysis.metrics import ALL, enforced
from sim.errors import UserError

OUTCOMES = {  # outcome name -> label
    "p_enforced": "enforcement probability by month {horizon}",
    "p_arrested": "probability of arrest by a host state abroad by month {horizon}",
    "custody_month": "mean custody month (among those in custody)",
    "findings": "mean number of non-compliance findings",
    "withdrawals": "mean number of withdrawal notifications",
    "trips": "mean number of trips",
}
PER_RUN = ("findings", "withdrawals")  # the same for every accused of a replicate
KEYS = ("outcome", "horizon", "accused", "resamples")
RESAMPLES = 1000
SEED_TAG = 0x53454E53  # "SENS": the bootstrap's stream, apart from the design's and the blocks'


def bootstrap_seed(seed: int) -> int:
    """A positive int seed for SALib's bootstrap derived from the experiment seed (0 would mean unseeded)."""
    value = int(np.random.SeedSequence([SEED_TAG, int(seed)]).generate_state(1)[0])
    return value or 1


def sobol_indices(problem: Mapping[str, Any], Y, seed: int, *, second_order: bool = False,
                  resamples: int = RESAMPLES, confidence: float = 0.95) -> pd.DataFrame:
    """First-order and total Sobol' indices with bootstrap half-widths, one row per parameter.

    ``Y`` holds the outputs of a Saltelli design (SALib.sample.sobol) in sample order; ``second_order``
    must match the design. Columns: parameter, S1, S1_conf, ST, ST_conf.
    """
    from SALib.analyze import sobol

    y = _outputs(Y)
    try:
        si = sobol.analyze(dict(problem), y, calc_second_order=bool(second_order), num_resamples=int(resamples),
                           conf_level=confidence, seed=bootstrap_seed(seed))
    except RuntimeError as exc:
        raise UserError(f"Sobol' analysis: {str(exc).strip().splitlines()[0]} ({len(y)} outputs, "
                        f"{problem['num_vars']} parameters, second_order={bool(second_order)})") from None
    return pd.DataFrame({"parameter": list(problem["names"]), "S1": si["S1"], "S1_conf": si["S1_conf"],
                         "ST": si["ST"], "ST_conf": si["ST_conf"]})


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


def _outputs(Y) -> np.ndarray:
    y = np.asarray(Y, dtype=float).reshape(-1)
    if not np.isfinite(y).all():
        raise UserError(f"the outcome is undefined at {int((~np.isfinite(y)).sum())} design point(s) "
                        f"(e.g. no custody, so no custody month); choose another outcome or wider bounds")
    return y


def design_indices(method: str, problem: Mapping[str, Any], points: pd.DataFrame, y: pd.Series, seed: int, *,
                   second_order: bool | None = None, levels: int | None = None,
                   resamples: int = RESAMPLES) -> pd.DataFrame:
    """Indices of a sampled design: ``points`` (point + one column per parameter) and ``y`` by point."""
    order = points.sort_values("point")
    values = y.reindex(order["point"].to_numpy()).to_numpy(dtype=float)
    if method == "sobol":
        return sobol_indices(problem, values, seed, second_order=bool(second_order), resamples=resamples)
    if method == "morris":
        x = order[list(problem["names"])].to_numpy(dtype=float)
        return morris_indices(problem, x, values, seed, levels=int(levels or 4), resamples=resamples)
    raise UserError(f"sensitivity needs [sweep] sampler = \"sobol\" or \"morris\", got {method!r}")


def outcome_spec(table: Mapping[str, Any], horizon: int, n_accused: int) -> dict[str, Any]:
    """Validate a config's [sensitivity] table: outcome, horizon (months), accused (index or "all")."""
    for key in table:
        if key not in KEYS:
            raise UserError(f"unknown key '{key}' in [sensitivity]; allowed: {', '.join(KEYS)}")
    outcome = table.get("outcome", "p_enforced")
    if outcome not in OUTCOMES:
        raise UserError(f"[sensitivity] outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    h = table.get("horizon", horizon)
    if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= horizon:
        raise UserError(f"[sensitivity] horizon must be a whole number of months in 1..{horizon}, got {h!r}")
    accused = table.get("accused", ALL if outcome in PER_RUN else 0)
    if not (accused == ALL or (isinstance(accused, int) and not isinstance(accused, bool)
                                and 0 <= accused < n_accused)):
        raise UserError(f"[sensitivity] accused must be an index 0..{n_accused - 1} or \"all\", got {accused!r}")
    if outcome == "p_arrested" and accused == ALL:
        raise UserError("[sensitivity] outcome p_arrested is about one accused; set accused to an index")
    resamples = table.get("resamples", RESAMPLES)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 10:
        raise UserError(f"[sensitivity] resamples (bootstrap) must be an integer of at least 10, got {resamples!r}")
    return {"outcome": outcome, "horizon": h, "accused": str(accused), "resamples": resamples}


def outcome_label(spec: Mapping[str, Any]) -> str:
    text = OUTCOMES[spec["outcome"]].format(horizon=spec["horizon"])
    if spec["outcome"] in PER_RUN:
        return text
    who = "all accused" if spec["accused"] == ALL else f"accused {spec['accused']}"
    return f"{text}, {who}"


def outcome_values(runs: pd.DataFrame, spec: Mapping[str, Any]) -> pd.DataFrame:
    """One outcome value per point (index: point id) with its Monte Carlo standard error (``se``).

    Proportions (p_enforced, p_arrested) are shares of replicates; the rest are means over
    replicates (custody_month over those in custody). Agrees with ``summarize``'s columns.
    """
    outcome, h, accused = spec["outcome"], spec["horizon"], str(spec["accused"])
    if accused == ALL or outcome in PER_RUN:
        keys = ["point", "replicate"]
        per = runs.assign(_hit=enforced(runs, h))
        if outcome == "p_enforced":
            rows = per.groupby(keys, sort=True, observed=True)["_hit"].all().astype(float)
        elif outcome in PER_RUN:
            rows = per.groupby(keys, sort=True, observed=True)[outcome].first().astype(float)
        elif outcome == "trips":
            rows = per.groupby(keys, sort=True, observed=True)["trips"].sum().astype(float)
        else:  # custody_month of the last accused taken, when all are in custody
            month = per["custody_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            grouped = per.assign(_m=month).groupby(keys, sort=True, observed=True)
            rows = grouped["_m"].max().where(grouped["in_custody"].all())
    else:
        mine = runs[runs["accused"].astype(str) == accused]
        if outcome == "p_enforced":
            values = enforced(mine, h).astype(float)
        elif outcome == "p_arrested":
            values = (enforced(mine, h) & (mine["route"].astype(str) == "arrested_by_host").to_numpy()).astype(float)
        elif outcome == "custody_month":
            values = mine["custody_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        else:
            values = mine[outcome].to_numpy(dtype=float)
        rows = pd.Series(values, index=pd.MultiIndex.from_arrays([mine["point"], mine["replicate"]]))
    stats = rows.groupby(level=0, sort=True).agg(["mean", "std", "count"])
    se = stats["std"] / np.sqrt(stats["count"])
    return pd.DataFrame({"value": stats["mean"], "se": se}).rename_axis("point")


def noise_levels(method: str, values: pd.DataFrame, levels: int | None) -> dict[str, float]:
    """What Monte Carlo noise alone would show: Morris μ* of a parameter without effect
    (E|difference of two noisy points| / Δ), or the share of the outcome's variance that is noise."""
    mean_var = float(np.nanmean(values["se"].to_numpy() ** 2))
    if method == "morris":
        delta = levels / (2 * (levels - 1))
        return {"noise_mu_star": float(np.sqrt(2 / np.pi) * np.sqrt(2 * mean_var) / delta)}
    total = float(np.var(values["value"].to_numpy(), ddof=1))
    return {"noise_share": mean_var / total if total > 0 else float("nan")}


def indices_frame(indices: pd.DataFrame, method: str, spec: Mapping[str, Any],
                  noise: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The CSV layout of sensitivity.csv: the indices, then what they are about."""
    from sim.model.params import lookup, split_name

    out = indices.copy()
    out["description"] = [lookup(split_name(n)[0]).doc for n in out["parameter"]]
    out["method"] = method
    out["outcome"] = spec["outcome"]
    out["horizon"] = spec["horizon"]
    out["accused"] = spec["accused"]
    out["outcome_label"] = outcome_label(spec)
    for key, value in (noise or {}).items():
        out[key] = value
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
    noise = np.broadcast_to(np.asarray(noise_variance, float), y.shape)
    A, B, AB, _ = separate_output_values(y, d, n, second_order)
    nA, nB, nAB, _ = separate_output_values(noise.copy(), d, n, second_order)

    def indices(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        a, b, ab = A[rows], B[rows], AB[rows]
        var = np.var(np.r_[a, b])
        noise_mean = float(np.mean(np.r_[nA[rows], nB[rows]]))
        first = np.mean(b[:, None] * (ab - a[:, None]), axis=0)
        total = 0.5 * np.mean((a[:, None] - ab) ** 2, axis=0)
        total_noise = 0.5 * np.mean(nA[rows][:, None] + nAB[rows], axis=0)
        signal = max(var - noise_mean, np.finfo(float).tiny)
        return first / signal, (total - total_noise) / signal, first / var, total / var, noise_mean / var

    every = np.arange(n)
    s1, st, s1_raw, st_raw, share = indices(every)
    rng = np.random.default_rng(bootstrap_seed(seed))
    boot = [indices(rng.integers(0, n, n)) for _ in range(int(resamples))]
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    s1_lo, s1_hi = np.quantile(np.array([b[0] for b in boot]), q, axis=0)
    st_lo, st_hi = np.quantile(np.array([b[1] for b in boot]), q, axis=0)
    return pd.DataFrame({"parameter": list(problem["names"]), "S1": s1, "S1_low": s1_lo, "S1_high": s1_hi,
                         "S1_conf": (s1_hi - s1_lo) / 2, "ST": st, "ST_low": st_lo, "ST_high": st_hi,
                         "ST_conf": (st_hi - st_lo) / 2, "S1_raw": s1_raw, "ST_raw": st_raw,
                         "noise_share": share})
