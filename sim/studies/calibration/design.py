"""The record's own observation design: each warrant simulated as it was issued, followed up as it was.

The record (sim.data.record) is split into *runs*: the warrants against nationals of one home state
issued on one day share a run (the model issues all warrants of a run at month 0). A run is the
real roster on its date, its home state and partners, its accused with their head-of-state flags,
sealed or public at issue, each followed up for exactly as long as the record follows that warrant
(to its surrender, death, withdrawal, or the record's date). Simulated and observed records are then
the same kind of object: one row per warrant (time, event type or censored) and one row per run
(findings, membership changes, members and years of follow-up).
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
from sim.data.record import DAYS_PER_MONTH, record, record_date
from sim.data.tables import load_table
from sim.errors import UserError
from sim.model.outcomes import NEVER, ROUTES, Outcomes
from sim.model.params import Params
from sim.model.roster import build_roster

RECORD_ROUTE_EVENT = {"surrendered_by_host": "arrested_by_host", "surrendered_by_home": "domestic_surrender",
                      "detained_at_home": "detained"}  # the record's routes that are events of the model
FINDING_TYPES = ("non_compliance", "non_compliance_not_referred", "notification_of_presence",
                 "non_compliance_referral_deferred")  # decisions on a host's failure to arrest (not appeals)


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


@dataclass(frozen=True)
class Run:
    """One simulated run of the design: the warrants against one home state issued on one day."""

    key: str
    home: str
    date: str
    persons: tuple[str, ...]
    follow_up: np.ndarray  # months of follow-up of each accused
    params: Params  # the run's scenario and accused; calibrated values are set on top
    members_start: int  # states parties on the date
    n_states: int  # states of the roster, home included

    @property
    def horizon(self) -> int:
        return self.params.horizon


@dataclass(frozen=True)
class Design:
    """The runs, and the observed record in the shape a simulated record takes."""

    runs: tuple[Run, ...]
    records: pd.DataFrame  # RECORD_COLUMNS + run, person
    run_rows: pd.DataFrame  # RUN_COLUMNS + run
    censor: dt.date

    @property
    def n_warrants(self) -> int:
        return len(self.records)


def months_between(start: dt.date, end: dt.date) -> float:
    return (end - start).days / DAYS_PER_MONTH


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


def build_design(sel: Selection, base: Params) -> Design:
    """Runs and the observed record of the selected warrants, followed up to the censor date at the latest."""
    censor = dt.date.fromisoformat(sel.censor_date) if sel.censor_date else record_date()
    rows = selected(sel, censor)
    rows["warrant_day"] = pd.to_datetime(rows["warrant_day"])
    runs, records, run_rows = [], [], []
    findings = load_table("noncompliance_findings")
    for (home, day), group in rows.groupby(["home_iso3", "warrant_day"], sort=True):
        start = day.date()
        ends = [min(pd.Timestamp(e).date(), censor) for e in group["end_day"]]
        follow = np.array([max(months_between(start, e), 0.0) for e in ends])
        horizon = max(1, math.ceil(follow.max()))
        sealed = group["sealed"].astype(bool)
        if sealed.any() and not sealed.all():
            raise UserError(f"the record's warrants against {home} of {start} are partly sealed; the model seals a "
                            "run's warrants together (split them in the record)")
        key = f"{home} {start.isoformat()}"
        params = _run_params(base, sel, home, start, group["head_of_state"].astype(bool).to_numpy(),
                             bool(sealed.all()), horizon)
        roster = build_roster(params)
        run = Run(key=key, home=home, date=start.isoformat(), persons=tuple(group["person"]), follow_up=follow,
                  params=params, members_start=int(roster.member.sum()), n_states=roster.n_states)
        runs.append(run)
        records.append(_observed_records(key, group, start, ends, censor))
        run_rows.append(_observed_run(run, group["person"].tolist(), findings, sel))
    return Design(runs=tuple(runs), records=pd.concat(records, ignore_index=True),
                  run_rows=pd.DataFrame(run_rows)[["run", *RUN_COLUMNS]], censor=censor)


def _run_params(base: Params, sel: Selection, home: str, start: dt.date, hos: np.ndarray, sealed: bool,
                horizon: int) -> Params:
    """The run's scenario on the real roster; its accused (flags from the record, trip rates by role);
    sealed or public at issue; warrants timed to an arrest only among sealed ones (a timed warrant is sealed)."""
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
    keep = {k: v for k, v in base.to_dict().items() if not k.startswith(("scenario.", "accused."))}
    keep.pop("prosecutor.sealed_share", None)
    if not sealed:
        keep.pop("prosecutor.timed_share", None)
    return Params({**keep, **values})


def _observed_records(key: str, group: pd.DataFrame, start: dt.date, ends: list[dt.date],
                      censor: dt.date) -> pd.DataFrame:
    """One row per warrant: the first event of the model's kinds within follow-up, or censored at its end."""
    out = []
    for (_, r), end in zip(group.iterrows(), ends):
        event = RECORD_ROUTE_EVENT.get(r["route"])
        at = pd.Timestamp(r["event_day"]).date() if event and pd.notna(r["event_day"]) else None
        follow = max(months_between(start, end), 0.0)
        if at is not None and at <= censor:
            time = max(months_between(start, at), 1 / DAYS_PER_MONTH)  # at least a day after the warrant
            out.append({"run": key, "person": r["person"], "time": time, "event": event, "censored": False,
                        "follow_up": follow})
        else:
            out.append({"run": key, "person": r["person"], "time": follow, "event": None, "censored": True,
                        "follow_up": follow})
    return pd.DataFrame(out, columns=["run", "person", *RECORD_COLUMNS])


def _observed_run(run: Run, persons: list[str], findings: pd.DataFrame, sel: Selection) -> dict[str, Any]:
    """The run's findings (a host's failure to arrest one of its accused), and the statute's membership
    changes during its follow-up window, counted as a simulated run counts them."""
    start = dt.date.fromisoformat(run.date)
    end = start + dt.timedelta(days=run.horizon * DAYS_PER_MONTH)
    names = [_surname(p) for p in persons]
    count = 0
    for _, f in findings.iterrows():
        day = dt.date.fromisoformat(f["date"])
        if f["finding_type"] in sel.finding_types and start <= day <= end and \
                any(n and n in _surname_set(f["person"]) for n in names):
            count += 1
    sp = load_table("states_parties")
    notified = [dt.date.fromisoformat(d) for d in sp["withdrawal_notified_date"] if d]
    deposited = [dt.date.fromisoformat(d) for d, e in zip(sp["ratification_or_accession_date"],
                                                          sp["entry_into_force_date"]) if d and e > run.date]
    return {"run": run.key, "years": run.horizon / 12.0, "findings": count,
            "withdrawals": sum(start <= d <= end for d in notified),
            "accessions": sum(start <= d <= end for d in deposited),
            "members_start": run.members_start, "nonmembers_start": run.n_states - 1 - run.members_start}


def _surname(person: str) -> str:
    words = [w for w in person.replace("(", " ").replace(")", " ").split() if w[:1].isupper() or "-" in w]
    return words[-1].lower() if words else ""


def _surname_set(text: str) -> set[str]:
    return {_surname(p.strip()) for p in text.split(";")}


def simulated_records(run: Run, outcomes: Outcomes, group: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's simulated outcomes as records (one per row and accused) and run rows, like the observed ones.

    An accused's event is its entry into the court's custody (its route) if within its follow-up, else its
    detention at home if within its follow-up, else it is censored at its follow-up; ``group`` labels
    each row (e.g. the particle it belongs to).
    """
    custody = outcomes.values["custody_month"].astype(np.int64)
    detained = outcomes.values["detained_month"].astype(np.int64)
    route = outcomes.values["route"]
    follow = run.follow_up[None, :]
    in_custody = (custody != NEVER) & (custody + 1 <= follow)
    in_detention = ~in_custody & (detained != NEVER) & (detained + 1 <= follow)
    time = np.where(in_custody, custody + 1, np.where(in_detention, detained + 1, follow)).astype(float)
    names = np.asarray((*ROUTES, "detained"), dtype=object)
    event = np.where(in_custody, names[route], np.where(in_detention, "detained", np.asarray(None, dtype=object)))
    n, f = custody.shape
    records = pd.DataFrame({"group": np.repeat(group, f), "run": run.key, "person": np.tile(run.persons, n),
                            "time": time.reshape(-1), "event": event.reshape(-1),
                            "censored": ~(in_custody | in_detention).reshape(-1),
                            "follow_up": np.broadcast_to(follow, (n, f)).reshape(-1)})
    runs = pd.DataFrame({"group": group, "run": run.key, "years": run.horizon / 12.0,
                         "findings": outcomes.values["findings"], "withdrawals": outcomes.values["withdrawals"],
                         "accessions": outcomes.values["accessions"], "members_start": run.members_start,
                         "nonmembers_start": run.n_states - 1 - run.members_start})
    return records, runs


def check_events(records: pd.DataFrame) -> None:
    bad = set(records.loc[~records["censored"], "event"]) - set(EVENTS)
    if bad:
        raise UserError(f"records hold events outside the model's: {sorted(bad)}")


def runs_table(design: Design) -> pd.DataFrame:
    """One line per run for the output folder: key, home, date, accused, horizon, partners."""
    return pd.DataFrame([{"run": r.key, "home": r.home, "date": r.date, "accused": "; ".join(r.persons),
                          "head_of_state": "; ".join(str(h) for h in r.params["accused.head_of_state"]),
                          "sealed": r.params["prosecutor.sealed_share"] == 1.0, "horizon_months": r.horizon,
                          "partners": " ".join(r.params["scenario.partners"])} for r in design.runs])


__all__: Sequence[str] = ("Design", "Run", "Selection", "build_design", "runs_table", "simulated_records")
