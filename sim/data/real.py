"""The real roster at a date (docs/ODD.md §3.2), from the sourced tables: membership, regions, home, partners.

Returns plain arrays (``StatesAtDate``); sim.model.roster wraps them as the model's Roster.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.data import tables
from sim.data.tables import GROUPS, REGIONS, UN_GROUP_TO_REGION, load_table
from sim.errors import UserError


@dataclass(frozen=True)
class StatesAtDate:
    """The states of the real roster on a date, in the order of un_members.csv."""

    names: tuple[str, ...]
    codes: tuple[str, ...]
    member: np.ndarray  # bool (S,)
    region: np.ndarray  # int (S,), index into region_names
    region_names: tuple[str, ...]
    home: int
    partner: np.ndarray  # bool (S,)


STATUTE_IN_FORCE = "2002-07-01"  # art. 126: the first day of the month after the 60th ratification + 60 days


def _parse_date(date: str, what: str) -> str:
    try:
        return dt.date.fromisoformat(str(date)).isoformat()
    except ValueError:
        raise UserError(f"{what} must be a date YYYY-MM-DD, got {date!r}") from None


def data_end(folder: str | Path | None = None) -> str:
    """The last date the sourced tables speak for: the latest full date in states_parties and warrants."""
    days = []
    for name in ("states_parties", "warrants"):
        frame = load_table(name, folder)
        for col in frame.columns:
            if col.endswith("_date"):
                days += [v for v in frame[col] if len(v) == 10]
    return max(days)


def check_scenario(date: str, home: str, partners: tuple[str, ...]) -> None:
    """Validate a real-roster scenario (date in the data's range, home a non-party then, partners known)
    as building its roster would, with one-line errors; cached, so validating many points is cheap."""
    _checked(str(date), home, tuple(partners), str(tables.DATA_DIR))


@lru_cache(maxsize=256)
def _checked(date: str, home: str, partners: tuple[str, ...], data_dir: str) -> None:
    day = _parse_date(date, "scenario.date")
    end = data_end()
    if not STATUTE_IN_FORCE <= day <= end:
        raise UserError(f"scenario.date {day} lies outside the sourced data, which cover {STATUTE_IN_FORCE} (the "
                        f"statute's entry into force) to {end}; choose a date in that range")
    real_roster(day, home, list(partners))


def parties_at(date: str, folder: str | Path | None = None) -> pd.DataFrame:
    """The rows of states_parties.csv that are parties on ``date`` (UN members or not).

    A state is a party from its entry into force (art. 126) until its withdrawal takes effect
    (art. 127); a notified withdrawal not yet in effect leaves it a party.
    """
    day = _parse_date(date, "date")
    sp = load_table("states_parties", folder)
    withdrawn = (sp["withdrawal_effective_date"] != "") & (sp["withdrawal_effective_date"] <= day)
    return sp[(sp["entry_into_force_date"] <= day) & ~withdrawn].reset_index(drop=True)


def _suggestion(text: str, un: pd.DataFrame, groups: bool) -> str:
    """A ' (did you mean X?)' hint for a misspelt ISO3 code, state name or group name, or ''."""
    by_name = dict(zip(un["state"].str.lower(), un["iso3"]))
    if text.lower() in by_name:
        return f" (did you mean {by_name[text.lower()]}, the code of {text}?)"
    if groups:
        group = difflib.get_close_matches(text.lower(), GROUPS, n=1, cutoff=0.6)
        if group:
            return f" (did you mean {group[0]}?)"
    code = difflib.get_close_matches(text.upper(), list(un["iso3"]), n=1, cutoff=0.6)
    if code:
        return f" (did you mean {code[0]}?)"
    name = difflib.get_close_matches(text.lower(), list(by_name), n=1, cutoff=0.6)
    return f" (did you mean {by_name[name[0]]}?)" if name else ""


def real_roster(date: str, home: str, partners: list[str] | tuple[str, ...] | str,
                folder: str | Path | None = None) -> StatesAtDate:
    """The real roster (docs/ODD.md §3.2): the 193 UN members with membership and region on ``date``.

    Members are the parties on ``date`` (see ``parties_at``); regions are the five ASP groups
    (for states never party, their UN group under the ASP name); ``partners`` are ISO3 codes or
    group names (au, arab_league, brics, sco, csto, cis, eu, nato, oic), the home state excluded.
    The home state must be a non-party on ``date``: the model's accused come from a non-party.
    """
    day = _parse_date(date, "scenario.date")
    un = load_table("un_members", folder)
    sp = load_table("states_parties", folder)
    codes = list(un["iso3"])
    if not isinstance(home, str) or home not in codes:
        raise UserError(f"unknown scenario.home '{home}'{_suggestion(str(home), un, False)}; use the ISO3 code of "
                        "a UN member state, e.g. RUS")
    party_codes = set(parties_at(day, folder)["iso3"])
    member = np.array([c in party_codes for c in codes], dtype=bool)
    h = codes.index(home)
    if member[h]:
        raise UserError(f"scenario.home {home} ({un.at[h, 'state']}) is a state party on {day}; the model needs a "
                        "non-party home state, so choose another home or a date when it was not a party")
    asp_region = dict(zip(sp["iso3"], sp["region"]))
    region_name = [asp_region.get(c, UN_GROUP_TO_REGION[g]) for c, g in zip(codes, un["un_regional_group"])]
    region = np.array([REGIONS.index(r) for r in region_name], dtype=np.int64)
    partner = np.zeros(len(codes), dtype=bool)
    for item in [partners] if isinstance(partners, str) else list(partners):
        if item in GROUPS:
            partner |= un[item].to_numpy() == "1"
        elif item in codes:
            partner[codes.index(item)] = True
        else:
            raise UserError(f"unknown partner '{item}' in scenario.partners{_suggestion(str(item), un, True)}; use "
                            f"ISO3 codes of UN member states or the groups {', '.join(GROUPS)}")
    partner[h] = False
    return StatesAtDate(names=tuple(un["state"]), codes=tuple(codes), member=member, region=region,
                        region_names=REGIONS, home=h, partner=partner)

