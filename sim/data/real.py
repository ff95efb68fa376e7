"""The real roster at a date (ODD §5.2), from the sourced tables: states, membership, regions, partners.

The states of the roster on a date are every UN member admitted by then (un_members.csv,
``un_admission_date``) and every party to the Statute then (states_parties.csv), which adds the
Cook Islands and Palestine (non_un_states.csv) and a state that joined the Statute before the UN
(Switzerland in 2002, Montenegro in June 2006). Returns plain arrays (``StatesAtDate``);
sim.model.roster wraps them as the model's Roster.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.data import tables
from sim.data.partners import HOME_PARTNERS, home_partners
from sim.data.tables import GROUPS, REGIONS, UN_GROUP_TO_REGION, load_table
from sim.errors import UserError


@dataclass(frozen=True)
class StatesAtDate:
    """The states of the real roster on a date: UN members in the order of un_members.csv, then the other parties."""

    names: tuple[str, ...]
    codes: tuple[str, ...]
    member: np.ndarray  # bool (S,)
    region: np.ndarray  # int (S,), index into region_names
    region_names: tuple[str, ...]
    home: int
    partner: np.ndarray  # bool (S,)
    un_member: np.ndarray  # bool (S,): a UN member on the date


STATUTE_IN_FORCE = "2002-07-01"  # art. 126: the first day of the month after the 60th ratification + 60 days
_SEVERAL = re.compile(r"[,;\s]")


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


def check_scenario(date: str, home: str, partners: tuple[str, ...], states: tuple[str, ...] = ()) -> None:
    """Validate a real-roster scenario (date in the data's range, home a state and a non-party then, partners
    known, the states named by scenario.states in the roster) as building its roster would, with one-line
    errors; cached, so validating many points is cheap."""
    _checked(str(date), home, tuple(partners), tuple(states), str(tables.DATA_DIR))


@lru_cache(maxsize=256)
def _checked(date: str, home: str, partners: tuple[str, ...], states: tuple[str, ...], data_dir: str) -> None:
    day = _parse_date(date, "scenario.date")
    end = data_end()
    if not STATUTE_IN_FORCE <= day <= end:
        raise UserError(f"scenario.date {day} lies outside the sourced data, which cover {STATUTE_IN_FORCE} (the "
                        f"statute's entry into force) to {end}; choose a date in that range")
    roster = real_roster(day, home, list(partners))
    for code in states:
        if code not in roster.codes:
            hint = difflib.get_close_matches(code, roster.codes, n=1)
            raise UserError(f"scenario.states names {code}, which is not a state of the roster on {day}"
                            + (f" (did you mean {hint[0]}?)" if hint else "") + "; use ISO3 codes of its states")


def parties_at(date: str, folder: str | Path | None = None) -> pd.DataFrame:
    """The rows of states_parties.csv that are parties on ``date`` (UN members or not).

    A state is a party from its entry into force (art. 126) until its withdrawal takes effect
    (art. 127); a notified withdrawal not yet in effect leaves it a party.
    """
    day = _parse_date(date, "date")
    sp = load_table("states_parties", folder)
    withdrawn = (sp["withdrawal_effective_date"] != "") & (sp["withdrawal_effective_date"] <= day)
    return sp[(sp["entry_into_force_date"] <= day) & ~withdrawn].reset_index(drop=True)


def _all_states(folder: str | Path | None) -> pd.DataFrame:
    """Every state the tables know (UN members, then the non-UN parties) with its UN admission date ('' if none)."""
    un = load_table("un_members", folder)
    other = load_table("non_un_states", folder).assign(un_admission_date="")
    cols = ["state", "iso3", "un_admission_date", *GROUPS]
    both = pd.concat([un[cols].assign(un_group=un["un_regional_group"]), other[cols].assign(un_group="")],
                     ignore_index=True)
    overlap = set(un["iso3"]) & set(other["iso3"])
    if overlap:
        raise UserError(f"sim/data/non_un_states.csv lists {min(overlap)}, a UN member in un_members.csv; "
                        "remove it from one of the two")
    return both


def group_members(group: str, date: str, folder: str | Path | None = None) -> set[str]:
    """ISO3 codes of the members of an organisation on ``date``: the 2025 flags of un_members.csv and
    non_un_states.csv, except where memberships.csv dates a membership (member from ``joined`` until the
    day before ``left``)."""
    day = _parse_date(date, "date")
    states = _all_states(folder)
    members = set(states.loc[states[group] == "1", "iso3"])
    dated = load_table("memberships", folder)
    for _, r in dated[dated["group"] == group].iterrows():
        members.discard(r["iso3"])
        if r["joined"] <= day and (not r["left"] or day < r["left"]):
            members.add(r["iso3"])
    return members


def states_at(date: str, folder: str | Path | None = None) -> pd.DataFrame:
    """The states of the roster on ``date``: iso3, state, un_member, member (a party) and ASP region."""
    day = _parse_date(date, "date")
    states = _all_states(folder)
    parties = parties_at(day, folder)
    sp = load_table("states_parties", folder)
    asp = dict(zip(sp["iso3"], sp["region"]))
    un_member = (states["un_admission_date"] != "") & (states["un_admission_date"] <= day)
    member = states["iso3"].isin(set(parties["iso3"]))
    out = states[un_member | member].assign(un_member=un_member, member=member)
    out["region"] = [asp.get(c) or UN_GROUP_TO_REGION[g] for c, g in zip(out["iso3"], out["un_group"])]
    return out[["iso3", "state", "un_member", "member", "region"]].reset_index(drop=True)


def _absent_because(code: str, day: str, folder: str | Path | None) -> str:
    """Why a known state is not in the roster on ``day``: admitted to the UN later, or a party only later."""
    states = _all_states(folder).set_index("iso3")
    sp = load_table("states_parties", folder).set_index("iso3")
    admitted = states.at[code, "un_admission_date"]
    joined = sp.at[code, "entry_into_force_date"] if code in sp.index else ""
    reasons = [f"admitted to the UN on {admitted}" if admitted else "not a UN member"]
    if joined:
        reasons.append(f"a party only from {joined}")
    return " and ".join(reasons)


def _suggestion(text: str, states: pd.DataFrame, groups: bool) -> str:
    """A ' (did you mean X?)' hint for a misspelt ISO3 code, state name or group name, or ''."""
    by_name = dict(zip(states["state"].str.lower(), states["iso3"]))
    if text.lower() in by_name:
        return f" (did you mean {by_name[text.lower()]}, the code of {text}?)"
    if groups:
        group = difflib.get_close_matches(text.lower(), (*GROUPS, HOME_PARTNERS), n=1, cutoff=0.6)
        if group:
            return f" (did you mean {group[0]}?)"
    code = difflib.get_close_matches(text.upper(), list(states["iso3"]), n=1, cutoff=0.6)
    if code:
        return f" (did you mean {code[0]}?)"
    name = difflib.get_close_matches(text.lower(), list(by_name), n=1, cutoff=0.6)
    return f" (did you mean {by_name[name[0]]}?)" if name else ""


def _partner_items(partners: list[str] | tuple[str, ...] | str) -> list[str]:
    items = [partners] if isinstance(partners, str) else list(partners)
    for item in items:
        if isinstance(item, str) and _SEVERAL.search(item.strip()):
            names = [p for p in _SEVERAL.split(item) if p]
            listed = ", ".join(f'"{p}"' for p in names)
            raise UserError(f"scenario.partners entry '{item}' holds several names; give a TOML list: "
                            f"--set 'scenario.partners=[{listed}]' on the command line, or partners = [{listed}] "
                            "in a config's [scenario] table ([] for none)")
    return items


ROSTER_TABLES = ("un_members", "non_un_states", "states_parties", "memberships", "home_partners")


def real_roster(date: str, home: str, partners: list[str] | tuple[str, ...] | str,
                folder: str | Path | None = None) -> StatesAtDate:
    """``_real_roster``, cached: every engine call of a scenario builds it, and a forecast makes dozens of calls.
    The cache is keyed by the tables' files (modification time and size), so an edited table is read afresh;
    the arrays returned are read-only."""
    where = Path(folder) if folder is not None else tables.DATA_DIR
    stamp = []
    for name in ROSTER_TABLES:
        try:
            st = (where / tables.TABLES[name].file).stat()
            stamp.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append((0, 0))  # missing: _real_roster's loader says so
    items = partners if isinstance(partners, str) else tuple(partners)
    return _roster_at(str(date), home, items, str(where), tuple(stamp))


@lru_cache(maxsize=64)
def _roster_at(date: str, home: str, partners: tuple[str, ...] | str, folder: str,
               stamp: tuple[tuple[int, int], ...]) -> StatesAtDate:
    found = _real_roster(date, home, partners if isinstance(partners, str) else list(partners), folder)
    for array in (found.member, found.region, found.partner, found.un_member):
        array.setflags(write=False)
    return found


def _real_roster(date: str, home: str, partners: list[str] | tuple[str, ...] | str,
                 folder: str | Path | None = None) -> StatesAtDate:
    """ODD §5.2's real roster on ``date``: its states (``states_at``) with membership, ASP region, home, partners.

    ``partners`` are ISO3 codes of states of the roster or organisation names (au, arab_league, brics, sco,
    csto, cis, eu, nato, oic), each taken with its members on ``date``, or ``home_partners``: the home
    state's partners on ``date`` as sim/data/home_partners.csv defines them; the home state is never a partner.
    The home state must be a state of the roster and a non-party on ``date`` (a former party is one):
    the model's accused come from a non-party.
    """
    day = _parse_date(date, "scenario.date")
    roster = states_at(day, folder)
    known = _all_states(folder)
    codes = list(roster["iso3"])
    if not isinstance(home, str) or home not in set(known["iso3"]):
        raise UserError(f"unknown scenario.home '{home}'{_suggestion(str(home), known, False)}; use the ISO3 code of "
                        "a state, e.g. RUS")
    name = dict(zip(known["iso3"], known["state"]))
    if home not in codes:
        raise UserError(f"scenario.home {home} ({name[home]}) is not a state of the roster on {day}: "
                        f"{_absent_because(home, day, folder)}; choose a later date or another home")
    h = codes.index(home)
    member = roster["member"].to_numpy(dtype=bool)
    if member[h]:
        raise UserError(f"scenario.home {home} ({name[home]}) is a state party on {day}; the model needs a "
                        "non-party home state, so choose another home or a date when it was not a party")
    partner = np.zeros(len(codes), dtype=bool)
    items = _partner_items(partners)
    if HOME_PARTNERS in items:  # the home state's partners on the date, as sim/data/home_partners.csv defines them
        at = items.index(HOME_PARTNERS)
        items[at:at + 1] = [p for p in home_partners(home, day, folder) if p not in items]
    for item in items:
        if item in GROUPS:
            found = group_members(item, day, folder) - {home}
            if not found & set(codes):
                raise UserError(f"partner group {item} in scenario.partners has no member on {day} other than the "
                                "home state; remove it or choose another date")
            partner |= roster["iso3"].isin(found).to_numpy()
        elif item in codes:
            partner[codes.index(item)] = True
        elif item in name:
            raise UserError(f"partner {item} ({name[item]}) in scenario.partners is not a state of the roster on "
                            f"{day}: {_absent_because(item, day, folder)}; remove it or choose a later date")
        else:
            raise UserError(f"unknown partner '{item}' in scenario.partners{_suggestion(str(item), known, True)}; use "
                            f"ISO3 codes of states, the groups {', '.join(GROUPS)}, or {HOME_PARTNERS} "
                            "(sim/data/home_partners.csv)")
    partner[h] = False
    region = np.array([REGIONS.index(r) for r in roster["region"]], dtype=np.int64)
    return StatesAtDate(names=tuple(roster["state"]), codes=tuple(codes), member=member, region=region,
                        region_names=REGIONS, home=h, partner=partner, un_member=roster["un_member"].to_numpy(bool))
