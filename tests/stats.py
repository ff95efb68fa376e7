"""Two-sample checks that two engines' output frames come from the same distribution (MODEL.md §6).

One family of tests per parameter set, Holm-corrected to a family-wise error rate ``alpha``:
per accused, the custody rate and the share arrested by a host (two-proportion z tests), the
custody month with "never" coded as the horizon, trips, trips to members and cancelled trips
(two-sample Kolmogorov–Smirnov); per run, findings and withdrawals (Welch t tests on the
means) and the final member count and legitimacy (Kolmogorov–Smirnov).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

PER_ACCUSED_KS = ("trips", "trips_to_members", "trips_cancelled")
PER_RUN_MEANS = ("findings", "withdrawals")
PER_RUN_KS = ("members_final", "legitimacy_final")


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


def family(a: pd.DataFrame, b: pd.DataFrame, horizon: int) -> dict[str, float]:
    """Every test's p-value, keyed by a readable name."""
    out: dict[str, float] = {}
    for j in sorted(set(a["accused"])):
        x, y = a[a["accused"] == j], b[b["accused"] == j]
        out[f"custody rate, accused {j}"] = _two_proportions(x["in_custody"].to_numpy(), y["in_custody"].to_numpy())
        out[f"arrested by host, accused {j}"] = _two_proportions((x["route"] == "arrested_by_host").to_numpy(),
                                                                 (y["route"] == "arrested_by_host").to_numpy())
        month = lambda f: f["custody_month"].fillna(horizon).to_numpy(float)  # noqa: E731
        out[f"custody month, accused {j}"] = _ks(month(x), month(y))
        for col in PER_ACCUSED_KS:
            out[f"{col}, accused {j}"] = _ks(x[col].to_numpy(), y[col].to_numpy())
    runs_a, runs_b = a[a["accused"] == 0], b[b["accused"] == 0]
    for col in PER_RUN_MEANS:
        out[f"{col} (mean)"] = _welch(runs_a[col].to_numpy(float), runs_b[col].to_numpy(float))
    for col in PER_RUN_KS:
        out[col] = _ks(runs_a[col].to_numpy(float), runs_b[col].to_numpy(float))
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame, horizon: int, alpha: float = 0.01) -> Comparison:
    """Holm-corrected family of two-sample tests between two output frames of sim.simulate."""
    tests = family(a, b, horizon)
    names, p = list(tests), np.array(list(tests.values()))
    rejected = multipletests(p, alpha=alpha, method="holm")[0]
    return Comparison(names=names, pvalues=p, rejected=rejected, alpha=alpha)
