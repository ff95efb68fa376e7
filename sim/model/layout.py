"""What every row of one engine call shares: the roster's states as columns, their regions, the horizon.

States other than home are columns, ordered by region (stable within a region) so that a region's
states are contiguous runs of columns; the home state is held apart (only its compliance is ever used,
ODD §5.3). A column's position is also its slot in the counter-based streams of per-state decisions
(withdrawal, accession), so every engine numbers states the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.params import Params
from sim.model.roster import Roster, build_roster


@dataclass(frozen=True)
class Layout:
    """The roster's columns and regions, the horizon and the number of accused of one engine call."""

    roster: Roster
    order: np.ndarray  # roster index of each column (all states but home, by region)
    region_size: np.ndarray  # (regions,) float32: states per region, home included
    home_region: int
    segment_start: np.ndarray  # (segments + 1,) int64: first column of each run of one region, then S
    segment_region: np.ndarray  # (segments,) int64: the region of each run
    horizon: int
    n_accused: int

    @classmethod
    def of(cls, params: Params) -> Layout:
        roster = build_roster(params)
        others = np.flatnonzero(np.arange(roster.n_states) != roster.home)
        order = others[np.argsort(roster.region[others], kind="stable")]
        present, region = np.unique(roster.region, return_inverse=True)
        col_region = region[order]
        start = np.flatnonzero(np.r_[True, col_region[1:] != col_region[:-1]]) if len(order) else np.zeros(0, int)
        return cls(roster=roster, order=order,
                   region_size=np.bincount(region, minlength=len(present)).astype(np.float32),
                   home_region=int(region[roster.home]),
                   segment_start=np.r_[start, len(order)].astype(np.int64),
                   segment_region=col_region[start].astype(np.int64), horizon=params.horizon,
                   n_accused=params.n_accused)

    @property
    def n_states(self) -> int:
        """S: the columns, every state but home."""
        return len(self.order)

    @property
    def n_regions(self) -> int:
        return len(self.region_size)

    @property
    def column_region(self) -> np.ndarray:
        """(S,) the region of each column."""
        return np.repeat(self.segment_region, np.diff(self.segment_start))

    @property
    def column_of(self) -> np.ndarray:
        """(states,) the column of each roster state (−1 for home)."""
        out = np.full(self.roster.n_states, -1, np.int64)
        out[self.order] = np.arange(self.n_states)
        return out
