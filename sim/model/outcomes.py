"""The output contract shared by both engines: one row per (replicate, accused), MODEL.md §5."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COLUMNS = ("replicate", "accused", "in_custody", "custody_month", "route", "trips", "trips_to_members",
           "trips_cancelled", "findings", "withdrawals", "members_final", "legitimacy_final")
ROUTES = ("none", "arrested_by_host", "domestic_surrender")
NO_CUSTODY = -1  # custody_month code for "not in custody" inside the engines
SERIES_COLUMNS = ("month", "legitimacy", "members", "mean_compliance", "in_custody")


@dataclass
class Outcomes:
    """Per-replicate outcome arrays of one block: (R, F) per accused, (R,) per run."""

    custody_month: np.ndarray  # int (R, F), NO_CUSTODY when free at the horizon
    route: np.ndarray  # int (R, F), index into ROUTES
    trips: np.ndarray
    trips_to_members: np.ndarray
    trips_cancelled: np.ndarray
    findings: np.ndarray  # (R,)
    withdrawals: np.ndarray
    members_final: np.ndarray
    legitimacy_final: np.ndarray
    series: pd.DataFrame | None = field(default=None)

    @property
    def n_replicates(self) -> int:
        return self.custody_month.shape[0]

    @staticmethod
    def concat(parts: list["Outcomes"]) -> "Outcomes":
        names = [f for f in Outcomes.__dataclass_fields__ if f != "series"]
        merged = {n: np.concatenate([getattr(p, n) for p in parts]) for n in names}
        series = [p.series for p in parts if p.series is not None]
        return Outcomes(**merged, series=pd.concat(series, ignore_index=True) if series else None)

    def frame(self, first_replicate: int = 0) -> pd.DataFrame:
        """The public frame of sim.simulate, replicates numbered from ``first_replicate``."""
        r, f = self.custody_month.shape
        month = self.custody_month.reshape(-1).astype(np.int64)
        free = month == NO_CUSTODY
        per_run = lambda a: np.repeat(a, f)  # noqa: E731
        return pd.DataFrame({
            "replicate": np.repeat(np.arange(first_replicate, first_replicate + r, dtype=np.int64), f),
            "accused": np.tile(np.arange(f, dtype=np.int64), r),
            "in_custody": ~free,
            "custody_month": pd.arrays.IntegerArray(np.where(free, 0, month), free),
            "route": pd.Categorical.from_codes(self.route.reshape(-1).astype(np.int8), categories=list(ROUTES)),
            "trips": self.trips.reshape(-1).astype(np.int64),
            "trips_to_members": self.trips_to_members.reshape(-1).astype(np.int64),
            "trips_cancelled": self.trips_cancelled.reshape(-1).astype(np.int64),
            "findings": per_run(self.findings.astype(np.int64)),
            "withdrawals": per_run(self.withdrawals.astype(np.int64)),
            "members_final": per_run(self.members_final.astype(np.int64)),
            "legitimacy_final": per_run(self.legitimacy_final.astype(np.float64)),
        }, columns=list(COLUMNS))


def combine_series(parts: list[pd.DataFrame], block_size: int, mode: str) -> pd.DataFrame:
    """Merge blocks' monthly series: replicate numbering for per-replicate, weighted mean for 'mean'."""
    if mode == "replicate":
        shifted = [s.assign(replicate=s["replicate"] + b * block_size) for b, s in enumerate(parts)]
        return pd.concat(shifted, ignore_index=True)
    values = [c for c in SERIES_COLUMNS if c != "month"]
    total = pd.concat(parts).groupby("month", sort=True)[values + ["n"]].sum()
    mean = total[values].div(total["n"], axis=0)
    return mean.reset_index()


def series_sums(month_values: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    """The 'mean'-mode block series: sums over the block's replicates per month, with the count n."""
    first = next(iter(month_values.values()))
    frame = pd.DataFrame({"month": np.arange(len(first))})
    for name, v in month_values.items():
        frame[name] = v
    frame["n"] = n
    return frame
