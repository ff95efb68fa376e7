"""The travel record in the observation design: visits to states parties, arrests on them and invitations
declined, per person and window, counted the same way in the record and in simulated runs.

Whose travel: the accused of the selection's ``travel_roles`` (government officials by default) under
warrants public at issue, the persons whose official trips the court's decisions and the press follow.
Window: from the warrant to the travel record's end (2023-12-31), the person's death or the warrant's
withdrawal, in whole months; free months end at the first way out of freedom. A run's first m months do
not depend on its horizon (counter-based streams, sim.model.streams), so a simulated window's counts
come from the same replicate run with the window's length as its horizon.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.analysis.inference import TRAVEL_COLUMNS
from sim.data.record import DAYS_PER_MONTH, parse_day, person_id, person_ids
from sim.data.tables import load_table
from sim.errors import UserError
from sim.model.outcomes import NEVER, ROUTE_CODE

_SPAN = re.compile(r"^(\d{4})-(\d{4})$")


def period_day(text: str) -> dt.date:
    """A recorded date or span of years, at its midpoint (YYYY-YYYY -> the middle day of the span)."""
    span = _SPAN.match(text)
    if span:
        first, last = dt.date(int(span[1]), 1, 1), dt.date(int(span[2]), 12, 31)
        return first + (last - first) / 2
    return parse_day(text)


def _month(start: dt.date, text: str) -> int | None:
    """Month (from 0) of a trip since the warrant; None for an undated trip; negative before the warrant."""
    if not text:
        return None
    return int(np.floor((period_day(text) - start).days / DAYS_PER_MONTH))


def observed_travel(runs: Sequence, records: pd.DataFrame) -> pd.DataFrame:
    """One row per accused in the travel record: window and free months, visits to parties, arrests on them and
    invitations declined within the window (an undated trip of a person whose window is open counts: Hussein's
    three trips, which the court's decision of June 2015 places between his warrant and that decision)."""
    ids = person_ids()
    trips = load_table("travel")
    trips["person_id"] = [person_id(p, "travel", ids) for p in trips["person"]]
    off = load_table("travel_called_off")
    off["person_id"] = [person_id(p, "travel_called_off", ids) for p in off["person"]]
    exits = records.set_index(["run", "person"])["month"]
    rows = []
    for run in runs:
        start = dt.date.fromisoformat(run.date)
        for j, (person, pid) in enumerate(zip(run.persons, run.person_ids)):
            window = int(run.travel_months[j])
            if window <= 0:
                continue
            exit_month = exits.loc[(run.key, person)]
            free = window if pd.isna(exit_month) else min(int(exit_month), window)
            mine = trips[trips["person_id"] == pid]
            inside = [m is None or 0 <= m < window for m in (_month(start, d) for d in mine["date"])]
            mine = mine[np.asarray(inside, dtype=bool)]
            to_parties = mine["host_is_party"] == "yes"
            declined = [0 <= (_month(start, d) or 0) < window for d in off.loc[off["person_id"] == pid, "date"]]
            arrested = to_parties & (mine["arrested"] == "yes")
            rows.append({"run": run.key, "person": person, "window_months": window, "free_months": free,
                         "visits": int(to_parties.sum()), "arrests": int(arrested.sum()),
                         "declined": int(sum(declined)), "head_of_state": bool(run.head_of_state[j])})
    return pd.DataFrame(rows, columns=["run", "person", *TRAVEL_COLUMNS])


def windows(run) -> list[int]:
    """The distinct travel windows (months) of a run's accused: one engine call of that horizon each."""
    return sorted({int(m) for m in run.travel_months if m > 0})


def simulated_travel(run, values: Mapping[int, Mapping[str, np.ndarray]], group: np.ndarray,
                     declined: bool = True) -> pd.DataFrame:
    """The travel rows of a run's replicates: ``values[h]`` holds the engine's arrays of the same replicates run
    with horizon h (one h per window of ``windows(run)``); counts are those of months 0..h-1. Without
    ``declined`` the invitations declined are not read (missing: NA)."""
    rows = []
    for h in windows(run):
        v = values[h]
        custody = v["custody_month"].astype(np.int64)
        detained = v["detained_month"].astype(np.int64)
        big = np.iinfo(np.int64).max
        exit_month = np.minimum(np.where(custody == NEVER, big, custody), np.where(detained == NEVER, big, detained))
        if declined and "invitations_declined" not in v:
            raise UserError("the engine reports no invitations_declined (model v1.5); leave "
                            "declined_per_head_of_state_year out of [summaries] travel")
        for j in np.flatnonzero(run.travel_months == h):
            rows.append(pd.DataFrame({
                "group": group, "run": run.key, "person": run.persons[j], "window_months": h,
                "free_months": np.minimum(exit_month[:, j], h), "visits": v["trips_to_members"][:, j].astype(np.int64),
                "arrests": ((custody[:, j] != NEVER) & (v["route"][:, j] == ROUTE_CODE["arrested_by_host"])
                            ).astype(np.int64),
                "declined": (pd.array(v["invitations_declined"][:, j].astype(np.int64), dtype="Int64") if declined
                             else pd.array([pd.NA] * len(group), dtype="Int64")),
                "head_of_state": bool(run.head_of_state[j])}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["group", "run", "person",
                                                                                  *TRAVEL_COLUMNS])
