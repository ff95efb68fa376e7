"""Is every observed row possible under its simulated design? A structural check, run by the default tests.

A calibration compares the record with records simulated through the same design. If a row of the record
has probability zero in every simulated record (an event in a month the simulated follow-up never
observes, a finding the model cannot make, a declined invitation by someone never invited), the fit
conditions on something the model cannot produce. For each observed row this module builds the engine
output that would produce it and asks the design's own ``simulated_records`` whether it yields that row,
and it checks that the mechanism behind the row has positive probability at some point of the prior
(ODD §7: the parameter that switches it on can be above zero).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.inference import EVENTS, Prior
from sim.data.tables import load_table
from sim.model.outcomes import NEVER, ROUTE_CODE
from sim.studies.calibration.design import DAYS_PER_MONTH, Design, Run, simulated_records


def upper(name: str, run: Run, priors: Sequence[Prior]) -> float:
    """The largest value a parameter takes in a run at some point of the prior (its prior's high if calibrated,
    except where the run fixes it, e.g. no timed warrant in a public run)."""
    fixed = {"prosecutor.timed_share": 0.0} if run.params["prosecutor.sealed_share"] == 0.0 else {}
    if name in fixed:
        return fixed[name]
    for p in priors:
        if p.name == name:
            return p.high
    value = run.params[name]
    return float(max(value)) if isinstance(value, list) else float(value)


def _output_for(run: Run, j: int, month: int, event: str) -> dict[str, np.ndarray]:
    """One replicate's engine arrays in which accused j leaves freedom by ``event`` in ``month``, nobody else."""
    f = len(run.persons)
    custody = np.full((1, f), NEVER)
    detained = np.full((1, f), NEVER)
    route = np.zeros((1, f), dtype=np.int64)
    if event == "detained":
        detained[0, j] = month
    else:
        custody[0, j] = month
        route[0, j] = ROUTE_CODE[event]
    return {"custody_month": custody, "route": route, "detained_month": detained, "findings": np.zeros(1),
            "withdrawals": np.zeros(1), "accessions": np.zeros(1)}


def _mechanism(run: Run, j: int, month: int, event: str, priors: Sequence[Prior]) -> str:
    """Why the model cannot produce ``event`` for accused j in ``month`` of this run, or '' if it can."""
    up = lambda name: upper(name, run, priors)  # noqa: E731
    trips = float(np.asarray(run.params["accused.trip_rate"])[j]) > 0
    turnover = up("home.turnover_rate") > 0
    fallen = month == 0 and up("home.fallen_at_issue") > 0
    if event == "arrested_by_host":
        timed = month == 0 and up("prosecutor.timed_share") > 0
        return "" if trips or timed else "no trip and no timed stay can take the accused to a host"
    if event == "domestic_surrender":
        return "" if up("home.surrender_prob") > 0 and (turnover or fallen) else \
            "no change of government can hand the accused over"
    if event == "detained":
        return "" if up("home.detain_prob") > 0 and (turnover or fallen) else \
            "no change of government can detain the accused"
    return f"{event} is not an event of the model ({', '.join(EVENTS)})"


def record_problems(design: Design, priors: Sequence[Prior],
                    simulate: Callable[..., tuple[pd.DataFrame, pd.DataFrame]] = simulated_records) -> list[str]:
    """The observed warrant rows that the design's simulation cannot produce, one line each."""
    problems = []
    runs = {r.key: r for r in design.runs}
    for _, row in design.records.iterrows():
        run = runs[row["run"]]
        j = run.persons.index(row["person"])
        who = f"{row['person']} ({row['run']})"
        if row["censored"]:
            if not row["follow_up"] > 0 or row["time"] != row["follow_up"]:
                problems.append(f"{who}: censored at {row['time']:.3g} months, not at its follow-up's end")
            continue
        time = float(row["time"])
        month = int(row["month"])  # the month (from 0) in which the observed event began
        if month >= run.horizon:
            problems.append(f"{who}: {row['event']} in month {month}, after the run's {run.horizon} months")
            continue
        why = _mechanism(run, j, month, str(row["event"]), priors)
        if why:
            problems.append(f"{who}: {row['event']} in month {month}: {why}")
            continue
        sim, _ = simulate(run, _output_for(run, j, month, str(row["event"])), np.array([0]))
        got = sim.iloc[j]
        if got["censored"]:
            problems.append(f"{who}: {row['event']} in month {month} lies outside the simulated follow-up "
                            f"({float(got['follow_up']):.3g} months): no simulated record can show it")
        elif got["event"] != row["event"] or abs(float(got["time"]) - time) > 1e-9:
            problems.append(f"{who}: observed {row['event']} at time {time:.3g}, but the simulation records that month "
                            f"as {got['event']} at time {float(got['time']):.3g}")
    return problems


def run_problems(design: Design, priors: Sequence[Prior]) -> list[str]:
    """Run rows (findings, membership changes) the model cannot produce."""
    problems = []
    parties = load_table("states_parties").set_index("iso3")
    for run, (_, row) in zip(design.runs, design.run_rows.iterrows()):
        counted = design.findings[(design.findings["run"] == run.key) & design.findings["counted"]]
        if len(counted) != row["findings"]:
            problems.append(f"{run.key}: {row['findings']} findings counted, but {len(counted)} matched findings")
        if row["findings"] > 0 and (upper("court.finding_prob", run, priors) <= 0 or not (
                np.asarray(run.params["accused.trip_rate"]) > 0).any()):
            problems.append(f"{run.key}: {row['findings']} findings, but no visit can lead to one")
        end = dt.date.fromisoformat(run.date) + dt.timedelta(days=run.horizon * DAYS_PER_MONTH)
        for _, f in counted.iterrows():
            p = parties.loc[f["iso3"]] if f["iso3"] in parties.index else None
            member = p is not None and p["entry_into_force_date"] <= f["date"] and not (
                p["withdrawal_effective_date"] and p["withdrawal_effective_date"] <= f["date"])
            if f["iso3"] == run.home or not member or not run.date <= f["date"] <= end.isoformat():
                problems.append(f"{run.key}: the finding against {f['state']} of {f['date']} is not one the model "
                                "makes (a state party other than the home, within the run)")
        for count, rate in (("withdrawals", "states.withdrawal_rate"), ("accessions", "states.accession_rate")):
            if row[count] > 0 and upper(rate, run, priors) <= 0:
                problems.append(f"{run.key}: {row[count]} {count}, but {rate} is 0")
    return problems


def travel_problems(design: Design, priors: Sequence[Prior]) -> list[str]:
    """Travel rows the model cannot produce: at most one planned trip and (a head of state) one invitation a
    month, arrests only on visits, invitations declined only by heads of state who can be invited."""
    problems = []
    runs = {r.key: r for r in design.runs}
    for _, t in design.travel.iterrows():
        run = runs[t["run"]]
        j = run.persons.index(t["person"])
        who = f"{t['person']} ({t['run']})"
        hos = bool(t["head_of_state"])
        invited = hos and upper("accused.invitation_rate", run, priors) > 0 if _known("accused.invitation_rate") \
            else False
        per_month = (float(np.asarray(run.params["accused.trip_rate"])[j]) > 0) + invited
        most = (int(t["free_months"]) + 1) * per_month
        checks: list[tuple[bool, str]] = [
            (t["free_months"] <= t["window_months"], "more free months than the window has"),
            (t["visits"] <= most, f"{t['visits']} visits to parties, at most {most} possible in "
                                  f"{t['free_months']} free months"),
            (t["arrests"] <= t["visits"], "more arrests than visits"),
            (pd.isna(t["declined"]) or t["declined"] == 0 or invited,
             "invitations declined by someone the model never invites (only heads of state, with "
             "accused.invitation_rate > 0)"),
            (pd.isna(t["declined"]) or t["declined"] <= t["free_months"] + 1, "more invitations declined than months"),
        ]
        problems += [f"{who}: {text}" for ok, text in checks if not ok]
    return problems


def _known(name: str) -> bool:
    from sim.model.params import BY_NAME

    return name in BY_NAME


def impossible_rows(design: Design, priors: Sequence[Prior], **kwargs: Any) -> list[str]:
    """Every observed row of the design that has probability zero in its simulated records, one line each
    (empty: every row is possible at some point of the prior)."""
    return record_problems(design, priors, **kwargs) + run_problems(design, priors) + travel_problems(design, priors)
