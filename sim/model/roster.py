"""Rosters: who the states are, which are parties, their regions, the home state and its partners."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.model.params import Params


@dataclass(frozen=True)
class Roster:
    """The fixed layout of states for a run (ODD §5.1, ODD §5.2); attributes are drawn per replicate (ODD §5.3)."""

    names: tuple[str, ...]
    member: np.ndarray  # bool (S,), statute membership at the start
    region: np.ndarray  # int (S,), index into region_names
    region_names: tuple[str, ...]
    home: int
    partner: np.ndarray  # bool (S,), partner states of the home state
    codes: tuple[str, ...] = ()

    @property
    def n_states(self) -> int:
        return len(self.names)

    @property
    def n_members(self) -> int:
        return int(self.member.sum())


def synthetic_roster(n_states: int, member_share: float, n_regions: int, n_partners: int) -> Roster:
    """ODD §5.1: home 0 (non-member), partners 1..P, region i mod n, members spread evenly."""
    i = np.arange(n_states)
    member = np.floor(i * member_share) > np.floor((i - 1) * member_share)
    member[0] = False
    partner = (i >= 1) & (i <= n_partners)
    names = tuple(f"State {k}" for k in i)
    return Roster(names=names, member=member, region=(i % n_regions).astype(np.int64),
                  region_names=tuple(f"Region {r}" for r in range(n_regions)), home=0, partner=partner,
                  codes=tuple(f"S{k:03d}" for k in i))


def build_roster(params: Params) -> Roster:
    """The roster a parameter set asks for: synthetic, or the real one (UN members and parties) at ``scenario.date``."""
    if params["scenario.roster"] == "real":
        return real_roster(params["scenario.date"], params["scenario.home"], params["scenario.partners"])
    return synthetic_roster(params["scenario.n_states"], params["scenario.member_share"],
                            params["scenario.n_regions"], params["scenario.n_partners"])


def real_roster(date: str, home: str, partners: list[str] | tuple[str, ...] | str,
                folder: str | Path | None = None) -> Roster:
    """ODD §5.2's real roster on ``date`` (sim.data.real), as the model's Roster."""
    from sim.data import real

    found = real.real_roster(date, home, partners, folder)
    return Roster(names=found.names, member=found.member, region=found.region, region_names=found.region_names,
                  home=found.home, partner=found.partner, codes=found.codes)
