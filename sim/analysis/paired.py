"""Paired counterfactual comparisons: the same replicate streams run under a base and an alternative.

Two runs frames pair row by row on (point, replicate, accused): common random numbers make the two
outcomes of a replicate positively correlated, so the difference in the probability of custody is known
far better from the pairs than from two independent samples. ``paired_difference`` gives, per accused
(and all accused) and horizon, the difference alternative − base with Newcombe's interval for paired
proportions, the unpaired (independent samples) interval for comparison, and the variance ratio that
measures what pairing saved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import confint_proportions_2indep

from sim.analysis.metrics import ALL, _check, _order, enforced, wilson_interval
from sim.errors import UserError

PAIRED_COLUMNS = ("horizon", "n", "p_base", "p_alt", "diff", "diff_low", "diff_high", "unpaired_low",
                  "unpaired_high", "variance_ratio", "base_only", "alt_only")


def paired_interval(both, base_only, alt_only, neither, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's (1998) method 10 interval for p_alt − p_base from the counts of a paired 2×2 table.

    It combines the two margins' Wilson intervals with the estimated correlation φ of the pairs
    (continuity-corrected as Newcombe has it: (AD − BC − n/2)/√(margins) when AD − BC > n/2, 0 up to n/2,
    AD − BC over √(margins) when negative, 0 when a margin is empty). Vectorised over the counts.
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (both, base_only, alt_only, neither))
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        p_alt, p_base = (a + c) / n, (a + b) / n
        l1, u1 = wilson_interval(a + c, n, confidence)
        l2, u2 = wilson_interval(a + b, n, confidence)
        margins = (a + c) * (b + d) * (a + b) * (c + d)
        cross = a * d - b * c
        corrected = np.where(cross > n / 2, cross - n / 2, np.where(cross < 0, cross, 0.0))
        phi = np.where(margins > 0, corrected / np.sqrt(np.where(margins > 0, margins, 1.0)), 0.0)
        diff = p_alt - p_base
        low = diff - np.sqrt((p_alt - l1) ** 2 - 2 * phi * (p_alt - l1) * (u2 - p_base) + (u2 - p_base) ** 2)
        high = diff + np.sqrt((u1 - p_alt) ** 2 - 2 * phi * (u1 - p_alt) * (p_base - l2) + (p_base - l2) ** 2)
    return np.clip(low, -1, 1), np.clip(high, -1, 1)


def variance_ratio(both, base_only, alt_only, neither) -> np.ndarray:
    """Var of the unpaired difference over var of the paired one, p₁q₁ + p₂q₂ over Var(alt − base) per pair:
    how many times more replicates two independent samples would need for the same precision.

    Infinite when every pair agrees (the paired difference has no variance), NaN when neither varies."""
    a, b, c, d = (np.asarray(v, dtype=float) for v in (both, base_only, alt_only, neither))
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        p_alt, p_base = (a + c) / n, (a + b) / n
        unpaired = p_alt * (1 - p_alt) + p_base * (1 - p_base)
        paired = (b + c) / n - ((c - b) / n) ** 2
        ratio = unpaired / paired
    return np.where(paired > 0, ratio, np.where(unpaired > 0, np.inf, np.nan))


def _pairs(base: pd.DataFrame, alt: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The two frames side by side on their keys, or one clear error when they do not pair."""
    keys = [k for k in ("point", "replicate", "accused") if k in base.columns or k in by]
    for name, frame in (("base", base), ("alternative", alt)):
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise UserError(f"the {name} runs frame lacks column(s) {', '.join(missing)} to pair on")
        if frame.duplicated(keys).any():
            raise UserError(f"the {name} runs frame has repeated ({', '.join(keys)}) keys; pass one row per "
                            f"replicate and accused")
    merged = base.merge(alt, on=keys, how="outer", suffixes=("_base", "_alt"), indicator=True)
    only = merged["_merge"].value_counts()
    if only.get("left_only", 0) or only.get("right_only", 0):
        raise UserError(f"the runs frames do not pair: {only.get('left_only', 0)} key(s) only in the base, "
                        f"{only.get('right_only', 0)} only in the alternative; run both with the same seed, "
                        f"points and replicates")
    return merged.drop(columns="_merge").sort_values(keys, kind="stable").reset_index(drop=True), keys


def _side(merged: pd.DataFrame, suffix: str) -> pd.DataFrame:
    return pd.DataFrame({"in_custody": merged[f"in_custody{suffix}"].to_numpy(),
                         "custody_month": merged[f"custody_month{suffix}"].astype("Int64").array})


def paired_difference(base: pd.DataFrame, alt: pd.DataFrame, horizons: Sequence[int],
                      by: Sequence[str] = ("point", "accused"), confidence: float = 0.95) -> pd.DataFrame:
    """Difference in the probability of custody (alternative − base) per group and horizon, paired by replicate.

    Rows per ``by`` group (accused 0, 1, ... and all accused, ``ALL``, when ``accused`` is in ``by``; only all
    accused otherwise)
    and horizon: n pairs, p_base, p_alt, diff with the paired (Newcombe) interval, the unpaired Newcombe
    interval of statsmodels for comparison, the variance ratio, and the discordant counts (base_only:
    enforced under the base only; alt_only: under the alternative only).
    """
    horizons = sorted({int(h) for h in horizons})
    if not horizons or horizons[0] < 0:
        raise UserError(f"horizons must be a non-empty list of non-negative months, got {list(horizons)}")
    by = list(by)
    wanted = dict.fromkeys((*by, "point", "replicate", "accused", "in_custody", "custody_month"))
    for frame in (base, alt):
        _check(frame, by, ["in_custody", "custody_month"])
    merged, keys = _pairs(base[[c for c in wanted if c in base.columns]], alt[[c for c in wanted if c in alt.columns]],
                          by)
    flags = merged[keys].copy()
    for h in horizons:
        flags[f"base_{h}"] = enforced(_side(merged, "_base"), h)
        flags[f"alt_{h}"] = enforced(_side(merged, "_alt"), h)
    columns = [c for c in flags.columns if c not in keys]
    rest = [c for c in by if c != "accused"]
    whole = flags.groupby([k for k in keys if k != "accused"], sort=True)[columns].all().reset_index()
    parts = [whole.assign(accused=ALL)] if "accused" in by else [whole]
    if "accused" in by:
        parts.insert(0, flags.assign(accused=flags["accused"].astype("int64")))
    group = [*rest, "accused"] if "accused" in by else rest
    rows = []
    for part in parts:
        for h in horizons:
            a, b = part[f"base_{h}"].to_numpy(), part[f"alt_{h}"].to_numpy()
            counts = pd.DataFrame({"both": a & b, "base_only": a & ~b, "alt_only": ~a & b, "neither": ~a & ~b})
            if group:
                counts = pd.concat([part[group].reset_index(drop=True), counts], axis=1)
                agg = counts.groupby(group, sort=True).sum().reset_index()
            else:
                agg = counts.sum().to_frame().T
            rows.append(agg.assign(horizon=h))
    table = pd.concat(rows, ignore_index=True)
    both, b_only, a_only, neither = (table[c].to_numpy(dtype=float) for c in ("both", "base_only", "alt_only",
                                                                               "neither"))
    n = both + b_only + a_only + neither
    table["n"] = n.astype(int)
    table["p_base"], table["p_alt"] = (both + b_only) / n, (both + a_only) / n
    table["diff"] = table["p_alt"] - table["p_base"]
    table["diff_low"], table["diff_high"] = paired_interval(both, b_only, a_only, neither, confidence)
    low, high = confint_proportions_2indep(both + a_only, n, both + b_only, n, method="newcomb", compare="diff",
                                           alpha=1 - confidence)
    table["unpaired_low"], table["unpaired_high"] = low, high
    table["variance_ratio"] = variance_ratio(both, b_only, a_only, neither)
    table[["base_only", "alt_only"]] = table[["base_only", "alt_only"]].astype(int)
    out = _order(table, [*group, "horizon"]) if group else table.sort_values("horizon").reset_index(drop=True)
    return out[[*group, *PAIRED_COLUMNS]]
