"""A situation's record to date: each accused's status at a date and whether the home government changed.

Months are counted from the warrants' issue as the model counts them (month k spans days
[k·30.44, (k+1)·30.44) after the issue). At a date, the record to date covers the whole months before
it, ``month_of(issue, date)`` = m: an accused is ``free`` (no custody and no detention before m),
``detained`` (detained at home before m, not in custody) or ``custody`` (in the court's custody before m),
read from sim.data.record; a person who died or whose warrant was withdrawn is observed only to that
month (``until``). The home government changed when sim/data/regime_changes.csv has a change on or after
the issue and before m (a government fallen before the issue is not a change of the run, ODD §7.0.1).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sim.data.record import DAYS_PER_MONTH, SURRENDERED, parse_day, record_date
from sim.data.tables import DATA_DIR, TABLES, load_table
from sim.errors import UserError

STATUSES = ("free", "detained", "custody")
RECORD_TABLES = ("record", "warrants", "recoding", "states_parties", "un_members", "non_un_states")


def record(folder: str | Path | None = None) -> pd.DataFrame:
    """sim.data.record.record(), cached by its tables' files (modification time and size): a forecast reads it
    several times, and it takes most of a second to build."""
    where = Path(folder) if folder is not None else DATA_DIR
    stamp = []
    for name in RECORD_TABLES:
        try:
            st = (where / TABLES[name].file).stat()
            stamp.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append((0, 0))  # missing: record() says so
    return _record(str(where), tuple(stamp)).copy()


@lru_cache(maxsize=4)
def _record(folder: str, stamp: tuple[tuple[int, int], ...]) -> pd.DataFrame:
    from sim.data.record import record as build

    return build(folder)


def month_of(issue: dt.date, day: dt.date) -> int:
    """The month (from 0) in which ``day`` falls, counted from ``issue``; a day before the issue is month 0."""
    return max(0, math.floor((day - issue).days / DAYS_PER_MONTH))


def months_to(issue: dt.date, day: dt.date) -> int:
    """Whole months from ``issue`` to ``day``, rounded: the horizon H of "by ``day``" (custody month < H)."""
    return round((day - issue).days / DAYS_PER_MONTH)


def date_of(issue: dt.date, months: int) -> dt.date:
    """The day ``months`` months after ``issue`` (the end of month ``months`` - 1)."""
    return issue + dt.timedelta(days=round(months * DAYS_PER_MONTH))


@dataclass(frozen=True)
class Accused:
    """One accused's record to date."""

    person: str
    status: str  # free, detained or custody, at ``until`` (or at the forecast's month)
    since: int | None  # the month the detention or custody began
    until: int | None  # observed only to this month (died, warrant withdrawn); None: to the forecast's month
    why_not: str  # why there is nothing to forecast for this person ("" when there is)


@dataclass(frozen=True)
class RecordToDate:
    """The record of one situation at one date."""

    issue: dt.date
    date: dt.date
    month: int  # whole months observed: the record is about months 0..month-1
    home: str
    accused: tuple[Accused, ...]
    regime_changed: bool  # a change of home government in a month before ``month``
    regime_change: str  # its date ("" when none)

    def frame(self) -> pd.DataFrame:
        """One row per accused (index = its position in the scenario): person, status, since, month, why_not."""
        return pd.DataFrame({"accused": range(len(self.accused)), "person": [a.person for a in self.accused],
                             "status": [a.status for a in self.accused],
                             "since": pd.array([a.since for a in self.accused], dtype="Int64"),
                             "month": [self.month if a.until is None else a.until for a in self.accused],
                             "why_not": [a.why_not for a in self.accused]})


def _status(r: pd.Series, issue: dt.date, day: dt.date) -> tuple[str, int | None]:
    """A record row's status on ``day`` and the month it began (the model's custody and detention)."""
    custody_day = r["event_day"].date() if r["route"] in SURRENDERED and pd.notna(r["event_day"]) else None
    if custody_day is not None and custody_day < day:
        return "custody", month_of(issue, custody_day)
    if r["detained_date"] and parse_day(r["detained_date"]) < day:
        return "detained", month_of(issue, parse_day(r["detained_date"]))
    return "free", None


def warrants_of(persons: list[str] | tuple[str, ...], folder: str | Path | None = None) -> pd.DataFrame:
    """The record's rows of ``persons`` (their warrants), in that order; an unknown name gets a suggestion."""
    import difflib

    rec = record(folder)
    rec = rec[rec["kind"] == "warrant"]
    rows = []
    for name in persons:
        found = rec[rec["person"] == name]
        if found.empty:
            close = difflib.get_close_matches(name, list(rec["person"]), n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserError(f"'{name}' has no arrest warrant in the record (sim/data/record.csv){hint}; spell the "
                            "person as its person column does")
        rows.append(found.iloc[-1])  # a person with two rows (Banda: a summons, then a warrant): the warrant's
    return pd.DataFrame(rows).reset_index(drop=True)


def record_to_date(persons: list[str] | tuple[str, ...], issue: dt.date, home: str, day: dt.date,
                   folder: str | Path | None = None) -> RecordToDate:
    """The record to date of the warrants of ``persons`` (issued on ``issue`` against nationals of ``home``)."""
    last = record_date(folder)
    if day > last:
        raise UserError(f"the forecast's date {day} is after the record's date {last}: nothing is known of what "
                        "happened since; choose a date up to the record's")
    if day < issue:
        raise UserError(f"the forecast's date {day} is before the warrants' issue on {issue}; choose a date on or "
                        "after it")
    m = month_of(issue, day) if day > issue else 0
    rows = warrants_of(persons, folder)
    accused = []
    for _, r in rows.iterrows():
        start = pd.Timestamp(r["warrant_day"]).date()
        if start != issue:
            raise UserError(f"{r['person']}'s warrant was issued on {start}, not on the scenario's date {issue}; the "
                            "model issues a run's warrants together: use a scenario of that date")
        if r["home_iso3"] != home:
            raise UserError(f"{r['person']} is a national of {r['home_iso3']}, not of the scenario's home {home}")
        ended = [(parse_day(r[c]), why) for c, why in (("death_date", "died"), ("withdrawn_date", "withdrawn"))
                 if r[c] and parse_day(r[c]) < day]
        until, why_not = None, ""
        at = day
        if ended:
            end, why = min(ended)
            until, at = min(month_of(issue, end), m), end
            why_not = f"{why} on {end.isoformat()}"
        status, since = _status(r, issue, at)
        if not why_not and status != "free":
            why_not = f"{'in custody' if status == 'custody' else 'detained at home'} since month {since}"
        accused.append(Accused(r["person"], status, since, until, why_not))
    changes = load_table("regime_changes", folder)
    dates = sorted(parse_day(d) for h, d in zip(changes["home_iso3"], changes["date"]) if h == home)
    after = [d for d in dates if d >= issue and month_of(issue, d) < m]
    return RecordToDate(issue=issue, date=day, month=m, home=home, accused=tuple(accused),
                        regime_changed=bool(after), regime_change=after[0].isoformat() if after else "")


def at_large(day: dt.date | None = None, folder: str | Path | None = None) -> pd.DataFrame:
    """The arrest warrants at large on ``day`` (default: the record's date) against nationals of states that were
    not parties at issue: person, home_iso3, situation, warrant_day, head_of_state, sealed."""
    day = day or record_date(folder)
    rec = record(folder)
    war = rec[(rec["kind"] == "warrant") & rec["non_party_national"] & (rec["warrant_day"] <= pd.Timestamp(day))]
    free = []
    for _, r in war.iterrows():
        issue = pd.Timestamp(r["warrant_day"]).date()
        ended = any(r[c] and parse_day(r[c]) <= day for c in ("death_date", "withdrawn_date"))
        free.append(not ended and _status(r, issue, day + dt.timedelta(days=1))[0] == "free")
    out = war[free]
    return out[["person", "home_iso3", "situation", "warrant_day", "head_of_state", "sealed"]].reset_index(drop=True)
