"""The court's record coded as what happened: one row per warrant, its route in the model's terms.

``record()`` joins record.csv (the recoded facts, each with its source) to warrants.csv (the shared
table, unchanged) and derives the event, the end of follow-up and the party status of the home
state at issue. It is the input a calibration should read; nothing here imports the model.

Columns of ``record()`` (one row per warrant or summons; a person with a later warrant while
already wanted keeps one row, e.g. al-Bashir's 2010 warrant; Banda's 2014 warrant, which replaced
his summons, is its own row):

- ``person``, ``kind`` (warrant / summons), ``situation`` (warrants.csv), ``situation_iso3``,
  ``home_iso3`` (the person's state), ``nationality`` (warrants.csv text), ``role`` (government /
  non_state / other), ``office_at_issue``, ``added`` (a warrant missing from warrants.csv).
- ``warrant_date`` (text, may be YYYY or YYYY-MM) and ``warrant_day`` (a date; a partial date is
  taken at its midpoint, YYYY -> 1 July, YYYY-MM -> the 15th, as in the calibration).
- ``head_of_state`` (a sitting head of state or government at issue), ``fallen_at_issue`` (the
  government the person served had fallen when the warrant came; NA for non-officials, ODD §7.0),
  ``sealed`` (existence not public at issue), ``unsealed_date``.
- ``home_status_at_issue``: party / former_party / non_party (states_parties.csv on ``warrant_day``);
  ``non_party_national``: the home was not a party then (the model's home state).
- ``route`` (RECORD_ROUTES): surrendered_by_host (a state abroad arrested or received the person and
  surrendered them to the court), surrendered_by_home (the home state surrendered them),
  detained_at_home (held at home, not surrendered), released (arrested, then freed without surrender
  and not held since), died, withdrawn (warrant withdrawn, vacated or case inadmissible), at_large,
  appeared (a summons answered voluntarily). Precedence: surrender > detention > release > death /
  withdrawal > at large, as of the record's date. ``self_surrender``: the person gave themselves up.
- ``event_date`` / ``event_day``: when the route happened: the host's arrest (or, if unknown, the
  surrender) for surrendered_by_host, the surrender for surrendered_by_home and appeared, the start
  of detention, the arrest that ended in release, the death, the withdrawal; empty when at large.
- ``first_held_day`` (first arrest, detention or surrender on the warrant, possibly before it),
  ``days_to_held``, ``held_within_month`` (held no later than one month, 30.44 days, after the
  warrant, or already before it), ``surrendered_within_month``.
- ``end_day`` and ``end_reason`` (END_REASONS): the end of follow-up for the model's outcomes: the
  event of a surrender route (the host's arrest, or the home's surrender), the appearance, death or
  withdrawal, the end of a detention at home without surrender (outside the model), or the record's
  date, whichever comes first; ``follow_up_days`` = ``end_day`` - ``warrant_day``
  (0 for Deif, dead before his warrant).
- The dates of record.csv as given (``host_iso3``, ``host_arrest_date``, ``host_release_date``,
  ``detained_date``, ``detention_end_date``, ``surrender_date``, ``death_date``, ``withdrawn_date``),
  ``source`` and ``confidence`` of record.csv, ``warrant_source`` and ``warrant_confidence`` of
  warrants.csv.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from sim.data.tables import RECORD_DATES, load_table
from sim.errors import UserError

DAYS_PER_MONTH = 365.25 / 12
END_REASONS = ("surrendered", "appeared", "died", "withdrawn", "left_detention", "record_date")
SURRENDERED = ("surrendered_by_host", "surrendered_by_home")
# How warrants.csv's custody_route reads under experiments/calibration.toml's [targets.routes] (the coding
# before this record); None: no route of the model ("censor").
AS_RECORDED = {"arrested_by_third_state": "surrendered_by_host",
               "transferred_after_regime_change": "surrendered_by_home",
               "arrested_by_territorial_state": "surrendered_by_home", "self_surrender": None, "other": None}
# What each route needs in record.csv: groups of columns, one of each group given.
NEEDS = {"surrendered_by_host": (("host_iso3",), ("surrender_date",)), "surrendered_by_home": (("surrender_date",),),
         "detained_at_home": (("detained_date",),), "released": (("host_arrest_date", "detained_date"),),
         "died": (("death_date",),), "withdrawn": (("withdrawn_date",),), "appeared": (("surrender_date",),)}


def parse_day(text: str) -> dt.date:
    """A recorded date; a partial one is taken at its midpoint (YYYY -> 1 July, YYYY-MM -> the 15th)."""
    parts = [int(x) for x in text.split("-")]
    if len(parts) == 1:
        return dt.date(parts[0], 7, 1)
    if len(parts) == 2:
        return dt.date(parts[0], parts[1], 15)
    return dt.date(*parts)


def _day(text: str) -> dt.date | None:
    return parse_day(text) if text else None


def as_recorded_route(kind: str, custody_route: str, status: str) -> str | None:
    """The route warrants.csv implies as the calibration read it; None where it gives no route of the model."""
    if kind == "summons":
        return "appeared" if custody_route == "self_surrender" else None
    if custody_route:
        return AS_RECORDED[custody_route]
    return {"deceased": "died", "withdrawn": "withdrawn"}.get(status, "at_large")


def record_date(folder: str | Path | None = None) -> dt.date:
    """The record's date (record_date.csv, with its source): the day to which every warrant is followed up.

    It is stated, not inferred from the latest event: an event after it is an error in the tables."""
    day = dt.date.fromisoformat(load_table("record_date", folder)["date"].iloc[0])
    for name, cols in (("warrants", ("warrant_date", "custody_date", "icc_transfer_date", "outcome_date")),
                       ("record", ("warrant_date", *RECORD_DATES))):
        frame = load_table(name, folder)
        late = [(v, c) for c in cols for v in frame[c]
                if v and v > day.isoformat() and not day.isoformat().startswith(v)]
        if late:
            raise UserError(f"sim/data/{name}.csv has {late[0][1]} {late[0][0]}, after the record's date {day} "
                            "(sim/data/record_date.csv); move the record's date on, with its source")
    return day


def person_ids(folder: str | Path | None = None) -> dict[str, str]:
    """Every spelling of a person in the tables (persons.csv) -> the person's identifier.

    Findings, travel and the record are joined on these identifiers, never on names: each table's spelling
    is listed once, and every identifier belongs to exactly one spelling of the record."""
    persons = load_table("persons", folder)
    rec = set(load_table("record", folder)["person"])
    ids = dict(zip(persons["name"], persons["person_id"]))
    missing = sorted(rec - set(ids))
    if missing:
        raise UserError(f"sim/data/persons.csv has no row for the record's {missing[0]}; add its person_id")
    own: dict[str, str] = {}
    for name, pid in ids.items():
        if name in rec:
            if pid in own:
                raise UserError(f"sim/data/persons.csv gives {own[pid]} and {name} the same person_id '{pid}'")
            own[pid] = name
    strays = sorted(pid for pid in set(ids.values()) if pid not in own)
    if strays:
        raise UserError(f"sim/data/persons.csv: person_id '{strays[0]}' names nobody in the record (record.csv)")
    return ids


def person_id(name: str, table: str, ids: dict[str, str]) -> str:
    """The identifier of a person as spelled in ``table``; an unknown spelling is one clear error."""
    if name not in ids:
        raise UserError(f"sim/data/{table}.csv names '{name}', which sim/data/persons.csv does not list; add the "
                        "spelling with the person_id of the record's row")
    return ids[name]


def _fail(row: int, person: str, problem: str) -> UserError:
    return UserError(f"sim/data/record.csv row {row} ({person}): {problem}; fix the file or restore it from git")


def _home_status(code: str, day: dt.date, parties: pd.DataFrame) -> str:
    rows = parties[parties["iso3"] == code]
    if rows.empty or rows["entry_into_force_date"].iloc[0] > day.isoformat():
        return "non_party"
    left = rows["withdrawal_effective_date"].iloc[0]
    return "former_party" if left and left <= day.isoformat() else "party"


def _check(rec: pd.DataFrame, war: pd.DataFrame, known: set[str], recoding: pd.DataFrame) -> None:
    """Cross-table checks: every warrants.csv row is coded once, dates agree, each departure has its reason."""
    by_key = {(p, d): i for i, (p, d) in enumerate(zip(war["person"], war["warrant_date"]))}
    coded = set()
    decided = set(zip(recoding["person"], recoding["warrant_date"], recoding["field"]))
    for i, r in rec.iterrows():
        row, key = int(i) + 2, (r["person"], r["warrant_date"])
        if r["person"] not in set(war["person"]):
            raise _fail(row, r["person"], "person not in warrants.csv (spell the name as there)")
        w = war.iloc[by_key[key]] if key in by_key else None
        if (w is None) != (r["added"] == "1"):
            raise _fail(row, r["person"], "added must be 1 exactly when warrants.csv has no row with this "
                                          f"person and warrant_date {r['warrant_date']}")
        if w is not None:
            coded.add(key)
            if r["kind"] != w["kind"]:
                raise _fail(row, r["person"], f"kind {r['kind']} differs from warrants.csv ({w['kind']})")
            if r["surrender_date"] != w["icc_transfer_date"]:
                raise _fail(row, r["person"], f"surrender_date '{r['surrender_date']}' differs from warrants.csv "
                                              f"icc_transfer_date '{w['icc_transfer_date']}'")
            implied = as_recorded_route(w["kind"], w["custody_route"], w["status"])
            if r["route"] != implied and (*key, "route") not in decided:
                raise _fail(row, r["person"], f"route {r['route']} departs from warrants.csv ({implied or 'no route'}) "
                                              "without a row in recoding.csv (field route) giving the reason")
        elif (*key, "added") not in decided:
            raise _fail(row, r["person"], "an added warrant needs a row in recoding.csv (field added)")
        for col in ("situation_iso3", "home_iso3", "host_iso3"):
            if r[col] and r[col] not in known:
                raise _fail(row, r["person"], f"{col} '{r[col]}' is not a state of un_members.csv or non_un_states.csv")
        for cols in NEEDS.get(r["route"], ()):
            if not any(r[c] for c in cols):
                raise _fail(row, r["person"], f"route {r['route']} needs {' or '.join(cols)}")
        if (r["kind"] == "summons") != (r["route"] == "appeared"):
            raise _fail(row, r["person"], "route appeared is for summonses, and a summons's route is appeared")
    missing = [k for k in by_key if k not in coded]
    if missing:
        raise UserError(f"sim/data/record.csv has no row for warrants.csv's {missing[0][0]} ({missing[0][1]}); "
                        "add it")
    rec_keys = set(zip(rec["person"], rec["warrant_date"]))
    stray = [(p, d) for p, d in zip(recoding["person"], recoding["warrant_date"]) if (p, d) not in rec_keys]
    if stray:
        raise UserError(f"sim/data/recoding.csv names {stray[0][0]} ({stray[0][1]}), who has no row in record.csv")


def _event(r: pd.Series) -> str:
    route = r["route"]
    if route == "surrendered_by_host":
        return r["host_arrest_date"] or r["surrender_date"]
    if route == "released":
        return r["host_arrest_date"] or r["detained_date"]
    column = {"surrendered_by_home": "surrender_date", "appeared": "surrender_date",
              "detained_at_home": "detained_date", "died": "death_date", "withdrawn": "withdrawn_date"}.get(route)
    return r[column] if column else ""


def _end(r: pd.Series, start: dt.date, event: dt.date | None, until: dt.date) -> tuple[dt.date, str]:
    route = r["route"]
    if route in (*SURRENDERED, "appeared", "died", "withdrawn"):
        assert event is not None  # checked: each of these routes has its date
        return max(event, start), "surrendered" if route in SURRENDERED else route
    later = [(_day(r["death_date"]), "died"), (_day(r["withdrawn_date"]), "withdrawn")]
    if route == "detained_at_home":
        later.append((_day(r["detention_end_date"]), "left_detention"))
    ends = sorted((d, why) for d, why in later if d is not None and d >= start)
    return ends[0] if ends else (until, "record_date")


def record(folder: str | Path | None = None) -> pd.DataFrame:
    """The record as a tidy frame, one row per warrant (columns in the module docstring)."""
    rec = load_table("record", folder)
    war = load_table("warrants", folder)
    recoding = load_table("recoding", folder)
    parties = load_table("states_parties", folder)
    known = set(load_table("un_members", folder)["iso3"]) | set(load_table("non_un_states", folder)["iso3"])
    _check(rec, war, known, recoding)
    until = record_date(folder)
    ids = person_ids(folder)
    person = war.set_index("person")
    rows = []
    for _, r in rec.iterrows():
        start = parse_day(r["warrant_date"])
        event_text = _event(r)
        event = _day(event_text)
        held = [d for d in (_day(r[c]) for c in ("host_arrest_date", "detained_date", "surrender_date")) if d]
        first = min(held) if held and r["kind"] == "warrant" else None
        end, why = _end(r, start, event, until)
        status = _home_status(r["home_iso3"], start, parties)
        surrendered = _day(r["surrender_date"]) if r["route"] in SURRENDERED else None
        w = person.loc[r["person"]]
        rows.append({
            "person": r["person"], "person_id": ids[r["person"]], "kind": r["kind"], "situation": w["situation"],
            "situation_iso3": r["situation_iso3"],
            "home_iso3": r["home_iso3"], "nationality": w["nationality"], "role": r["role"],
            "office_at_issue": r["office_at_issue"], "added": r["added"] == "1", "warrant_date": r["warrant_date"],
            "warrant_day": start, "head_of_state": r["head_of_state"] == "1",
            "fallen_at_issue": pd.NA if r["fallen_at_issue"] == "" else r["fallen_at_issue"] == "1",
            "sealed": r["sealed"] == "1", "unsealed_date": r["unsealed_date"], "home_status_at_issue": status,
            "non_party_national": status != "party", "route": r["route"], "self_surrender": r["self_surrender"] == "1",
            "event_date": event_text, "event_day": event, "first_held_day": first,
            "days_to_held": (first - start).days if first else pd.NA,
            "held_within_month": bool(first and (first - start).days <= DAYS_PER_MONTH),
            "surrendered_within_month": bool(surrendered and (surrendered - start).days <= DAYS_PER_MONTH),
            "end_day": end, "end_reason": why, "follow_up_days": (end - start).days,
            **{c: r[c] for c in ("host_iso3", *RECORD_DATES[1:])},
            "source": r["source"], "confidence": r["confidence"], "warrant_source": w["source"],
            "warrant_confidence": w["confidence"]})
    frame = pd.DataFrame(rows)
    for col in ("warrant_day", "event_day", "first_held_day", "end_day"):
        frame[col] = pd.to_datetime(frame[col])
    frame["fallen_at_issue"] = frame["fallen_at_issue"].astype("boolean")
    frame["days_to_held"] = frame["days_to_held"].astype("Int64")
    return frame


def recoding(folder: str | Path | None = None) -> pd.DataFrame:
    """Every recoding decision (recoding.csv) with the value the record now holds for its field."""
    dec = load_table("recoding", folder)
    rec = load_table("record", folder).set_index(["person", "warrant_date"])
    dec["value"] = [rec.at[(p, d), f] for p, d, f in zip(dec["person"], dec["warrant_date"], dec["field"])]
    return dec[["person", "warrant_date", "field", "was", "value", "reason"]]


# --- every outcome coded as itself ---------------------------------------------------------------------------

OUTCOME_KINDS = {  # what happened on a warrant, each as itself (a warrant may have several, in time order)
    "arrested_abroad": "arrested by a state abroad (the host)",
    "surrendered_by_host": "surrendered to the court by a state abroad",
    "released_by_host": "released by the host that arrested them, without surrender",
    "extradited_home": "handed by the host to the home state, not to the court",
    "detained_at_home": "detained by the home state's own authorities",
    "released_at_home": "arrested at home on the warrant, then released without surrender",
    "left_detention": "released from detention at home, not surrendered",
    "surrendered_by_home": "surrendered to the court by the home state",
    "appeared": "appeared voluntarily (summons)",
    "died": "died",
    "withdrawn": "warrant withdrawn or vacated, or case inadmissible",
}


def _outcomes_of(r: pd.Series) -> list[tuple[str, str, str]]:
    """(kind, date text, detail) of one record.csv row, in the order they happened."""
    out: list[tuple[str, str, str]] = []
    host = r["host_iso3"]
    if r["host_arrest_date"]:
        out.append(("arrested_abroad", r["host_arrest_date"], host))
    if r["route"] == "surrendered_by_host":
        out.append(("surrendered_by_host", r["surrender_date"], host))
    elif r["host_release_date"]:
        out.append(("released_by_host", r["host_release_date"], host))
    if r["detained_date"]:
        kind = ("extradited_home" if r["host_arrest_date"] and not r["host_release_date"]
                else "released_at_home" if r["route"] == "released" else "detained_at_home")
        out.append((kind, r["detained_date"], host if kind == "extradited_home" else ""))
    if r["detention_end_date"]:
        out.append(("left_detention", r["detention_end_date"], ""))
    if r["route"] in ("surrendered_by_home", "appeared"):
        out.append((r["route"], r["surrender_date"], ""))
    for kind, col in (("died", "death_date"), ("withdrawn", "withdrawn_date")):
        if r[col]:
            out.append((kind, r[col], ""))
    # In time order; an outcome dated only to the month or year keeps its place after what it follows.
    order = sorted(range(len(out)), key=lambda i: (max(parse_day(out[j][1]) for j in range(i + 1)), i))
    return [out[i] for i in order]


def outcomes(folder: str | Path | None = None) -> pd.DataFrame:
    """Every outcome of every warrant, coded as itself (OUTCOME_KINDS), in time order: one row per warrant and
    outcome with ``person``, ``person_id``, ``warrant_date``, ``order``, ``outcome``, ``date``, ``day``, ``detail``
    (the host's ISO3 where a host acted). The route of ``record()`` is one of them, chosen by precedence; this
    frame keeps the others (an arrest abroad that ended in a release, an inadmissibility after a detention)."""
    rec = load_table("record", folder)
    ids = person_ids(folder)
    rows = []
    for _, r in rec.iterrows():
        for k, (kind, date, detail) in enumerate(_outcomes_of(r)):
            rows.append({"person": r["person"], "person_id": ids[r["person"]], "warrant_date": r["warrant_date"],
                         "order": k, "outcome": kind, "date": date, "day": parse_day(date), "detail": detail})
    frame = pd.DataFrame(rows)
    frame["day"] = pd.to_datetime(frame["day"])
    return frame
