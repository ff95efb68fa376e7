"""Two-sample checks that two engines' output frames come from the same distribution (MODEL.md §6).

One family of tests per parameter set, Holm-corrected to a family-wise error rate ``alpha``, with one
test per outcome of sim.model.outcomes.OUTCOMES chosen by its kind (per accused for per-accused
outcomes, once per replicate for per-run outcomes):
- flag: two-proportion z test;
- route: two-proportion z test of each route to the court (``none`` is the complement of the flag);
- month: two-sample Kolmogorov–Smirnov with "never" coded as the horizon (so the share that never
  happens is compared too);
- count: Kolmogorov–Smirnov, and for per-run counts also a Welch t test on the means;
- real: Kolmogorov–Smirnov.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from sim.model.outcomes import OUTCOMES, ROUTES, Outcome


@dataclass
class Comparison:
    """p-values of every test in the family and the Holm decision at ``alpha``."""

    names: list[str]
    pvalues: np.ndarray
    rejected: np.ndarray
    alpha: float

    @property
    def same(self) -> bool:
        return not self.rejected.any()

    def report(self) -> str:
        rows = sorted(zip(self.pvalues, self.names, self.rejected))
        return "\n".join(f"{'REJECT' if r else 'ok':6} p={p:.3g}  {n}" for p, n, r in rows[:8])


def _two_proportions(a: np.ndarray, b: np.ndarray) -> float:
    """Two-proportion z test; identical degenerate proportions (all 0 or all 1 in both) agree."""
    ka, kb = int(a.sum()), int(b.sum())
    if ka + kb in (0, len(a) + len(b)):
        return 1.0
    return float(proportions_ztest([ka, kb], [len(a), len(b)])[1])


def _welch(a: np.ndarray, b: np.ndarray) -> float:
    """Welch t test on the means; two constant samples agree exactly when their values are equal."""
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.ks_2samp(a, b, method="asymp").pvalue)


def _tests(o: Outcome, x: pd.DataFrame, y: pd.DataFrame, horizon: int) -> dict[str, float]:
    """The tests of one outcome between two samples (rows of one accused, or one row per replicate)."""
    if o.kind == "flag":
        return {o.name: _two_proportions(x[o.name].to_numpy(bool), y[o.name].to_numpy(bool))}
    if o.kind == "route":
        return {f"{o.name} {r}": _two_proportions((x[o.name] == r).to_numpy(), (y[o.name] == r).to_numpy())
                for r in ROUTES[1:]}
    if o.kind == "month":
        month = lambda f: f[o.name].astype("Float64").fillna(horizon).to_numpy(float)  # noqa: E731
        return {o.name: _ks(month(x), month(y))}
    a, b = x[o.name].to_numpy(float), y[o.name].to_numpy(float)
    out = {o.name: _ks(a, b)}
    if o.kind == "count" and o.per_run:
        out[f"{o.name} (mean)"] = _welch(a, b)
    return out


def family(a: pd.DataFrame, b: pd.DataFrame, horizon: int) -> dict[str, float]:
    """Every test's p-value, keyed by a readable name."""
    out: dict[str, float] = {}
    for j in sorted(set(a["accused"])):
        x, y = a[a["accused"] == j], b[b["accused"] == j]
        for o in OUTCOMES:
            if not o.per_run:
                out.update({f"{name}, accused {j}": p for name, p in _tests(o, x, y, horizon).items()})
    runs_a, runs_b = a[a["accused"] == 0], b[b["accused"] == 0]
    for o in OUTCOMES:
        if o.per_run:
            out.update(_tests(o, runs_a, runs_b, horizon))
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame, horizon: int, alpha: float = 0.01) -> Comparison:
    """Holm-corrected family of two-sample tests between two output frames of sim.simulate."""
    tests = family(a, b, horizon)
    names, p = list(tests), np.array(list(tests.values()))
    rejected = multipletests(p, alpha=alpha, method="holm")[0]
    return Comparison(names=names, pvalues=p, rejected=rejected, alpha=alpha)
