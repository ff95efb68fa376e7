"""The record's own observation design: each warrant simulated as it was issued, observed as it was.

The record (sim.data.record) is split into *runs*: the warrants against nationals of one home state
issued on one day share a run (the model issues all warrants of a run at month 0). A run is the
real roster on its date, its home state, partners and home-government hazard, its accused with
their head-of-state flags, sealed or public at issue.

What is observed never depends on the outcome being modelled (docs/validation.md, the design's rules):
each warrant is followed up to the data's end, the person's death or the warrant's withdrawal
(``follow_up``, months), whichever comes first, and its record is the first way out of freedom that
the model knows (surrender by a host abroad, surrender by the home state, detention at home) if
that happened in a month that began within the follow-up, else censored at its end. Months are
counted from 0 in both records: an event within the first month (30.44 days) is month 0, and its
time in the cumulative incidence is month + 1, as in sim.analysis.survival. Findings are matched to
a run by person identifier (sim/data/persons.csv), and only those the model can make (a state
party, not the home state, that hosted the person and did not arrest) are counted; findings against
the home state are reported apart.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.inference import EVENTS, RECORD_COLUMNS, RUN_COLUMNS
from sim.data.partners import home_partners
from sim.data.record import DAYS_PER_MONTH, outcomes, person_id, person_ids, record, record_date
from sim.data.tables import load_table
from sim.errors import UserError
from sim.model.outcomes import NEVER, ROUTES
from sim.model.params import Params
from sim.model.roster import build_roster

FINDING_TYPES = ("non_compliance", "non_compliance_not_referred", "notification_of_presence",
                 "non_compliance_referral_deferred")  # decisions on a host's failure to arrest (not appeals)
TRAVEL_END = "2023-12-31"  # the travel record's end: later travel is left out on purpose (forecasts are checked on it)
# The record's outcomes (sim.data.record.OUTCOME_KINDS) and what the observation design does with each.
RULES: dict[str, tuple[str, str]] = {
    "surrendered_by_host": ("outcome: arrested_by_host, in the month of the host's arrest",
                            "the model's host arrests a visitor and surrenders them in one decision (ODD §7.3.6)"),
    "surrendered_by_home": ("outcome: domestic_surrender, in its month (or detained, if a detention at home "
                            "began in an earlier month)",
                            "a government's handover (ODD §7.1; at issue, ODD §7.0.1)"),
    "detained_at_home": ("outcome: detained, in the month it began (a detention ending in surrender within the "
                         "same month is the surrender)", "detention by the home state (ODD §7.1)"),
    "extradited_home": ("outcome: detained, in the month the home state took the person",
                        "a host that hands the person to the home state, not to the court, leaves them held at home"),
    "arrested_abroad": ("no event: the host's arrest counts only through what followed it",
                        "the model's arrest is an arrest and surrender; an arrest that ends in release or "
                        "extradition home is the host's refusal to surrender"),
    "released_by_host": ("no event: a visit to a state that did not surrender the person (its finding counts)",
                         "as the model's non-arrest (ODD §7.3.7)"),
    "released_at_home": ("no event", "a home state's arrest and release is outside the model (not a party's case)"),
    "left_detention": ("no event: the first way out of freedom stays the detention",
                       "the model has no release from detention; the record's later course is not followed"),
    "appeared": ("exclusion: summonses are not arrest warrants", "the model's accused are under arrest warrants"),
    "died": ("censoring at the death", "after it nothing can be observed; it does not depend on the warrant's course"),
    "withdrawn": ("censoring at the withdrawal, vacating or inadmissibility",
                  "after it there is no warrant to execute"),
    "none": ("censoring at the record's date (or the censor date of an out-of-sample fit)",
             "the data's end: nothing later is known"),
    "before the warrant": ("exclusion: no follow-up", "a person dead before the warrant (Deif) has no record"),
}
EVENT_OF = {"surrendered_by_host": "arrested_by_host", "surrendered_by_home": "domestic_surrender",
            "detained_at_home": "detained", "extradited_home": "detained"}  # outcomes that are the model's events
RECORD_EXTRA = ("month", "person_id", "end_reason", "outcomes")  # observed records carry these beside RECORD_COLUMNS
SHARED_EXTRA = ("month", "person_id")  # ... and simulated records these


@dataclass(frozen=True)
class TurnoverClass:
    """A class of home governments with one monthly hazard of a change (a published rate, cited in ``why``)."""

    name: str
    rate: float
    homes: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Selection:
    """Which warrants of the record a calibration uses, and how runs are built from them."""

    kinds: tuple[str, ...] = ("warrant",)
    roles: tuple[str, ...] = ("government", "non_state", "other")
    censor_date: str | None = None  # follow-up ends here at the latest (default: the record's date)
    issued_before: str | None = None  # only warrants issued before this date (out-of-sample fits)
    exclude: tuple[str, ...] = ()
    partners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # home ISO3 -> partners (else the table's)
    trip_rate: tuple[float, float] = (0.8, 0.3)  # a head of state's, anyone else's
    finding_types: tuple[str, ...] = FINDING_TYPES
    turnover: tuple[TurnoverClass, ...] = ()  # per home: the hazard of a change of government (none: the base's)
    travel_roles: tuple[str, ...] = ("government",)  # whose travel the travel record follows (public warrants)
    travel_end: str = TRAVEL_END

    def turnover_of(self, home: str) -> TurnoverClass | None:
        return next((c for c in self.turnover if home in c.homes), None)


@dataclass(frozen=True)
class Run:
    """One simulated run of the design: the warrants against one home state issued on one day."""

    key: str
    home: str
    date: str
    persons: tuple[str, ...]
    person_ids: tuple[str, ...]
    follow_up: np.ndarray  # months of follow-up of each accused (data's end, death or withdrawal)
    params: Params  # the run's scenario and accused; calibrated values are set on top
    members_start: int  # states parties on the date
    n_states: int  # states of the roster, home included
    travel_months: np.ndarray  # whole months of each accused's travel window (0: outside the travel record)

    @property
    def horizon(self) -> int:
        return self.params.horizon

    @property
    def head_of_state(self) -> np.ndarray:
        return np.asarray(self.params["accused.head_of_state"], dtype=bool)


@dataclass(frozen=True)
class Design:
    """The runs, and the observed record in the shape a simulated record takes."""

    runs: tuple[Run, ...]
    records: pd.DataFrame  # run, person + RECORD_COLUMNS + RECORD_EXTRA
    run_rows: pd.DataFrame  # run + RUN_COLUMNS
    travel: pd.DataFrame  # run, person + TRAVEL_COLUMNS (sim.analysis.inference)
    censor: dt.date
    excluded: pd.DataFrame  # person, warrant_date, reason: selected warrants the design cannot follow
    findings: pd.DataFrame  # every finding on a selected person: counted or not, and why

    @property
    def n_warrants(self) -> int:
        return len(self.records)


def months_between(start: dt.date, end: dt.date) -> float:
    return (end - start).days / DAYS_PER_MONTH


def month_index(start: dt.date, day: dt.date) -> int:
    """The month (from 0) in which ``day`` falls, counted from ``start``; a day before it is month 0."""
    return max(0, math.floor((day - start).days / DAYS_PER_MONTH))


def selected(sel: Selection, censor: dt.date) -> pd.DataFrame:
    """The record's warrants against nationals of non-parties that the selection keeps."""
    rec = record()
    unknown = sorted(set(sel.exclude) - set(rec["person"]))
    if unknown:
        raise UserError(f"[design] exclude names '{unknown[0]}', who is not in the record (use the person column "
                        "of sim/data/record.csv)")
    keep = (rec["non_party_national"].astype(bool) & rec["kind"].isin(sel.kinds) & rec["role"].isin(sel.roles)
            & ~rec["person"].isin(sel.exclude) & (rec["warrant_day"] <= pd.Timestamp(censor)))
    if sel.issued_before:
        keep &= rec["warrant_day"] < pd.Timestamp(sel.issued_before)
    rows = rec[keep].copy()
    if rows.empty:
        raise UserError("[design] selects no warrant; widen kinds or roles")
    return rows


def read_warrant(row: pd.Series, happened: pd.DataFrame, censor: dt.date) -> dict[str, Any]:
    """The design's reading of one warrant: its follow-up (never cut by its outcome) and its first way out of
    freedom that the model knows, with the month it began."""
    start = pd.Timestamp(row["warrant_day"]).date()
    ends = [(censor, "record_date")]
    for kind in ("died", "withdrawn"):
        ends += [(d.date(), kind) for d in happened.loc[happened["outcome"] == kind, "day"]]
    end, reason = min(ends)
    follow = max(months_between(start, end), 0.0)
    first: tuple[int, str, int] | None = None  # (month, event, precedence: a surrender beats a detention in a month)
    for _, o in happened.iterrows():
        event = EVENT_OF.get(o["outcome"])
        if event is None or o["day"].date() > censor:
            continue
        day = o["day"].date()
        if o["outcome"] == "surrendered_by_host":  # at the host's arrest, where the record has it
            arrests = happened[(happened["outcome"] == "arrested_abroad") & (happened["detail"] == o["detail"])]
            day = arrests["day"].iloc[0].date() if len(arrests) else day
        candidate = (month_index(start, day), event, 0 if event != "detained" else 1)
        if first is None or candidate[::2] < first[::2]:
            first = candidate
    text = "; ".join(f"{k} {d}" + (f" ({h})" if h else "") for k, d, h in
                     zip(happened["outcome"], happened["date"], happened["detail"])) or "none"
    if first is not None and first[0] < follow:
        month, event, _ = first
        return {"person": row["person"], "person_id": row["person_id"], "outcomes": text, "month": month,
                "time": month + 1.0, "event": event, "censored": False, "follow_up": follow, "end_reason": reason}
    return {"person": row["person"], "person_id": row["person_id"], "outcomes": text, "month": pd.NA,
            "time": follow, "event": None, "censored": True, "follow_up": follow, "end_reason": reason}


def build_design(sel: Selection, base: Params) -> Design:
    """Runs and the observed record of the selected warrants, followed up to the censor date at the latest."""
    censor = dt.date.fromisoformat(sel.censor_date) if sel.censor_date else record_date()
    rows = selected(sel, censor)
    rows["warrant_day"] = pd.to_datetime(rows["warrant_day"])
    happened = outcomes()
    keys = list(zip(happened["person"], happened["warrant_date"]))
    readings, excluded = [], []
    for _, r in rows.iterrows():
        own = happened[[k == (r["person"], r["warrant_date"]) for k in keys]]
        reading = read_warrant(r, own, censor)
        if reading["follow_up"] <= 0:
            excluded.append({"person": r["person"], "warrant_date": r["warrant_date"],
                             "reason": f"no follow-up ({reading['end_reason']} on or before the warrant)"})
        else:
            readings.append({**reading, "home": r["home_iso3"], "day": r["warrant_day"], "sealed": r["sealed"],
                             "head_of_state": r["head_of_state"], "role": r["role"]})
    if not readings:
        raise UserError("[design] selects no warrant with follow-up; widen kinds or roles")
    frame = pd.DataFrame(readings)
    runs, records = [], []
    for (home, day), group in frame.groupby(["home", "day"], sort=True):
        start = day.date()
        follow = group["follow_up"].to_numpy(float)
        sealed = group["sealed"].astype(bool)
        if sealed.any() and not sealed.all():
            raise UserError(f"the record's warrants against {home} of {start} are partly sealed; the model seals a "
                            "run's warrants together (split them in the record)")
        key = f"{home} {start.isoformat()}"
        hos = group["head_of_state"].astype(bool).to_numpy()
        params = _run_params(base, sel, home, start, hos, bool(sealed.all()), max(1, math.ceil(follow.max())))
        roster = build_roster(params)
        travelled = group["role"].isin(sel.travel_roles).to_numpy() & ~bool(sealed.all())
        window = min(dt.date.fromisoformat(sel.travel_end), censor)
        travel = np.array([math.floor(min(f, max(months_between(start, window), 0.0))) if t else 0
                           for f, t in zip(follow, travelled)], dtype=np.int64)
        runs.append(Run(key=key, home=home, date=start.isoformat(), persons=tuple(group["person"]),
                        person_ids=tuple(group["person_id"]), follow_up=follow, params=params,
                        members_start=int(roster.member.sum()), n_states=roster.n_states, travel_months=travel))
        records.append(group.assign(run=key))
    recs = pd.concat(records, ignore_index=True)
    recs["month"] = recs["month"].astype("Int64")
    findings = matched_findings(runs, sel)
    run_rows = pd.DataFrame([_observed_run(run, findings, sel) for run in runs])[["run", *RUN_COLUMNS]]
    from sim.studies.calibration.travel import observed_travel

    return Design(runs=tuple(runs), records=recs[["run", "person", *RECORD_COLUMNS, *RECORD_EXTRA]],
                  run_rows=run_rows, travel=observed_travel(runs, recs), censor=censor,
                  excluded=pd.DataFrame(excluded, columns=["person", "warrant_date", "reason"]), findings=findings)


def _run_params(base: Params, sel: Selection, home: str, start: dt.date, hos: np.ndarray, sealed: bool,
                horizon: int) -> Params:
    """The run's scenario on the real roster; its accused (flags from the record, trip rates by role);
    sealed or public at issue; warrants timed to an arrest only among sealed ones (a timed warrant is sealed);
    its home government's hazard from its turnover class."""
    partners = sel.partners[home] if home in sel.partners else home_partners(home, start)  # sim/data/partners.py
    f = len(hos)
    values: dict[str, Any] = {
        "scenario.roster": "real", "scenario.date": start.isoformat(), "scenario.home": home,
        "scenario.partners": list(partners), "scenario.horizon_months": horizon,
        "accused.head_of_state": [int(h) for h in hos],
        "accused.trip_rate": [sel.trip_rate[0] if h else sel.trip_rate[1] for h in hos],
        "accused.risk_aversion": [base["accused.risk_aversion"][0]] * f,
        "accused.max_risk": [base["accused.max_risk"][0]] * f,
        "prosecutor.sealed_share": 1.0 if sealed else 0.0,
    }
    if not sealed:
        values["prosecutor.timed_share"] = 0.0
    turnover = sel.turnover_of(home)
    if sel.turnover and turnover is None:
        raise UserError(f"[design.turnover] puts {home}, the home state of a run, in no class; add it to the homes "
                        "of one")
    if turnover is not None:
        values["home.turnover_rate"] = turnover.rate
    keep = {k: v for k, v in base.to_dict().items() if not k.startswith(("scenario.", "accused."))}
    keep.update({k: v for k, v in base.to_dict().items()  # scalar accused.* values (not per accused) are kept
                 if k.startswith("accused.") and not isinstance(v, list)})
    keep.pop("prosecutor.sealed_share", None)
    if not sealed:
        keep.pop("prosecutor.timed_share", None)
    return Params({**keep, **values})


# --- findings, matched by person identifier -------------------------------------------------------------------

def _party_on(parties: pd.DataFrame, code: str, day: str) -> bool:
    rows = parties[parties["iso3"] == code]
    if rows.empty or rows["entry_into_force_date"].iloc[0] > day:
        return False
    left = rows["withdrawal_effective_date"].iloc[0]
    return not (left and left <= day)


def state_codes() -> dict[str, str]:
    """State names as the findings and travel tables spell them -> ISO3 (UN members, parties, non-UN states)."""
    names: dict[str, str] = {}
    for table in ("un_members", "states_parties", "non_un_states"):
        frame = load_table(table)
        names.update(zip(frame["state"], frame["iso3"]))
    return names


def matched_findings(runs: Sequence[Run], sel: Selection) -> pd.DataFrame:
    """Every finding naming a person of a run (by identifier), with whether the design counts it and why not."""
    ids = person_ids()
    table = load_table("noncompliance_findings")
    parties = load_table("states_parties")
    codes = state_codes()
    of_run = {pid: run for run in runs for pid in run.person_ids}
    rows = []
    for _, f in table.iterrows():
        named = [person_id(p.strip(), "noncompliance_findings", ids) for p in f["person"].split(";")]
        hit = [of_run[p] for p in named if p in of_run]
        if not hit:
            continue
        run = hit[0]
        if f["state"] not in codes:
            raise UserError(f"sim/data/noncompliance_findings.csv names the state '{f['state']}', which no state table "
                            "lists; spell it as un_members.csv or states_parties.csv does")
        code, start = codes[f["state"]], dt.date.fromisoformat(run.date)
        end = start + dt.timedelta(days=run.horizon * DAYS_PER_MONTH)
        why = ("against the home state, which the model cannot find non-compliant" if code == run.home else
               f"finding type {f['finding_type']} is not a failure to arrest that the design counts"
               if f["finding_type"] not in sel.finding_types else
               "the state was not a party on the finding's date" if not _party_on(parties, code, f["date"]) else
               "outside the run's follow-up" if not start <= dt.date.fromisoformat(f["date"]) <= end else "")
        rows.append({"run": run.key, "state": f["state"], "iso3": code, "date": f["date"], "person": f["person"],
                     "finding_type": f["finding_type"], "counted": not why, "why_not": why})
    return pd.DataFrame(rows, columns=["run", "state", "iso3", "date", "person", "finding_type", "counted", "why_not"])


def _observed_run(run: Run, findings: pd.DataFrame, sel: Selection) -> dict[str, Any]:
    """The run's counted findings, and the statute's membership changes during its follow-up window, counted as a
    simulated run counts them."""
    start = dt.date.fromisoformat(run.date)
    end = start + dt.timedelta(days=run.horizon * DAYS_PER_MONTH)
    count = int(((findings["run"] == run.key) & findings["counted"]).sum())
    sp = load_table("states_parties")
    notified = [dt.date.fromisoformat(d) for d in sp["withdrawal_notified_date"] if d]
    deposited = [dt.date.fromisoformat(d) for d, e in zip(sp["ratification_or_accession_date"],
                                                          sp["entry_into_force_date"]) if d and e > run.date]
    return {"run": run.key, "years": run.horizon / 12.0, "findings": count,
            "withdrawals": sum(start <= d <= end for d in notified),
            "accessions": sum(start <= d <= end for d in deposited),
            "members_start": run.members_start, "nonmembers_start": run.n_states - 1 - run.members_start}


# --- simulated records ----------------------------------------------------------------------------------------

def first_exit(custody: np.ndarray, route: np.ndarray, detained: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Month and kind (index into ROUTES + ("detained",)) of each accused's first way out of freedom; a custody
    that began in the same month as a detention wins (as a detention ending in surrender within a month)."""
    big = np.iinfo(np.int64).max
    c = np.where(custody == NEVER, big, custody).astype(np.int64)
    d = np.where(detained == NEVER, big, detained).astype(np.int64)
    month = np.minimum(c, d)
    kind = np.where(c <= d, route, len(ROUTES))
    return np.where(month == big, NEVER, month), kind


def simulated_records(run: Run, values: Mapping[str, np.ndarray], group: np.ndarray) -> tuple[pd.DataFrame,
                                                                                                  pd.DataFrame]:
    """A run's simulated outcomes as records (one per row and accused) and run rows, like the observed ones.

    ``values``: the engine's per-replicate arrays (Outcomes.values). An accused's record is its first way out
    of freedom if that month began within its follow-up, else it is censored at the follow-up's end; ``group``
    labels each row (e.g. the particle it belongs to).
    """
    month, kind = first_exit(values["custody_month"].astype(np.int64), values["route"].astype(np.int64),
                             values["detained_month"].astype(np.int64))
    follow = run.follow_up[None, :]
    seen = (month != NEVER) & (month < follow)
    time = np.where(seen, month + 1, follow).astype(float)
    names = np.asarray((*ROUTES, "detained"), dtype=object)
    event = np.where(seen, names[kind], np.asarray(None, dtype=object))
    n, f = month.shape
    records = pd.DataFrame({"group": np.repeat(group, f), "run": run.key, "person": np.tile(run.persons, n),
                            "time": time.reshape(-1), "event": event.reshape(-1), "censored": ~seen.reshape(-1),
                            "follow_up": np.broadcast_to(follow, (n, f)).reshape(-1),
                            "month": pd.array(np.where(seen, month, 0).reshape(-1), dtype="Int64"),
                            "person_id": np.tile(run.person_ids, n)})
    records.loc[records["censored"], "month"] = pd.NA
    runs = pd.DataFrame({"group": group, "run": run.key, "years": run.horizon / 12.0,
                         "findings": values["findings"], "withdrawals": values["withdrawals"],
                         "accessions": values["accessions"], "members_start": run.members_start,
                         "nonmembers_start": run.n_states - 1 - run.members_start})
    return records, runs


def check_events(records: pd.DataFrame) -> None:
    bad = set(records.loc[~records["censored"], "event"]) - set(EVENTS)
    if bad:
        raise UserError(f"records hold events outside the model's: {sorted(bad)}")


def runs_table(design: Design) -> pd.DataFrame:
    """One line per run for the output folder: key, home, date, accused, horizon, partners, home hazard."""
    return pd.DataFrame([{"run": r.key, "home": r.home, "date": r.date, "accused": "; ".join(r.persons),
                          "head_of_state": "; ".join(str(h) for h in r.params["accused.head_of_state"]),
                          "sealed": r.params["prosecutor.sealed_share"] == 1.0, "horizon_months": r.horizon,
                          "partners": " ".join(r.params["scenario.partners"]),
                          "turnover_rate": r.params["home.turnover_rate"],
                          "travel_months": "; ".join(str(int(m)) for m in r.travel_months)} for r in design.runs])


__all__: Sequence[str] = ("Design", "Run", "Selection", "build_design", "runs_table", "simulated_records")
