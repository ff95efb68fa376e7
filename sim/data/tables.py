"""The project's sourced tables (copied from the shared data set): their specs, loader and checks.

``load_table(name)`` reads one CSV as text columns, checks it (columns, codes, dates, allowed
values, row counts) and fails on a damaged file with one line naming the file, row and problem.
Row numbers in messages are the file's line numbers (the header is row 1), as in a spreadsheet.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sim.errors import UserError

DATA_DIR = Path(__file__).resolve().parent

# The five regional groups of the Assembly of States Parties, in the spelling of states_parties.csv.
REGIONS = ("Africa", "Asia-Pacific", "Eastern Europe", "Latin America and Caribbean", "Western Europe and others")
# un_members.csv spells the same five UN regional groups differently.
UN_GROUP_TO_REGION = {
    "African": "Africa",
    "Asia-Pacific": "Asia-Pacific",
    "Eastern European": "Eastern Europe",
    "Latin American and Caribbean": "Latin America and Caribbean",
    "Western European and Others": "Western Europe and others",
}
GROUPS = ("au", "arab_league", "brics", "sco", "csto", "cis", "eu", "nato", "oic")
CONFIDENCE = ("high", "medium", "low")
CUSTODY_ROUTES = ("self_surrender", "arrested_by_third_state", "arrested_by_territorial_state",
                  "transferred_after_regime_change", "other")
# What happened on a warrant, in the model's terms (record.csv; sim.data.record explains each).
RECORD_ROUTES = ("surrendered_by_host", "surrendered_by_home", "detained_at_home", "released", "died", "withdrawn",
                 "at_large", "appeared")
ROLES = ("government", "non_state", "other")
RECORD_DATES = ("unsealed_date", "host_arrest_date", "host_release_date", "detained_date", "detention_end_date",
                "surrender_date", "death_date", "withdrawn_date")
RECORD_COLUMNS = ("person", "warrant_date", "kind", "added", "situation_iso3", "home_iso3", "role", "office_at_issue",
                  "head_of_state", "fallen_at_issue", "sealed", "unsealed_date", "route", "self_surrender", "host_iso3",
                  *RECORD_DATES[1:], "source", "confidence", "notes")

_ISO3 = re.compile(r"^[A-Z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_PERIOD = re.compile(r"^(\d{4})-(\d{4})$")  # a span of years, e.g. 2009-2010
_PERSON_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
YES_NO = ("yes", "no")


@dataclass(frozen=True)
class TableSpec:
    """What a table must hold: its columns, which of them are codes, dates, flags or choices, and its size."""

    file: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # columns whose values together must be unique
    nonempty: tuple[str, ...] = ()
    iso3: tuple[str, ...] = ()
    optional_iso3: tuple[str, ...] = ()  # ISO3 codes where given, empty allowed
    dates: tuple[str, ...] = ()  # YYYY-MM-DD (empty allowed unless in nonempty)
    partial_dates: tuple[str, ...] = ()  # YYYY, YYYY-MM or YYYY-MM-DD
    periods: tuple[str, ...] = ()  # a partial date or a span of years YYYY-YYYY
    flags: tuple[str, ...] = ()  # 0 or 1
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "" allowed unless in nonempty
    rows: int | None = None  # exact number of data rows
    min_rows: int = 1


TABLES: dict[str, TableSpec] = {
    "un_members": TableSpec(
        file="un_members.csv",
        columns=("state", "iso3", "un_regional_group", *GROUPS, "source", "confidence", "un_admission_date",
                 "un_admission_source", "un_admission_confidence"),
        key=("iso3",), nonempty=("state", "iso3", "un_regional_group", "source", "confidence", "un_admission_date",
                                 "un_admission_source", "un_admission_confidence"),
        iso3=("iso3",), flags=GROUPS, dates=("un_admission_date",),
        choices={"un_regional_group": tuple(UN_GROUP_TO_REGION), "confidence": CONFIDENCE,
                 "un_admission_confidence": CONFIDENCE}, rows=193),
    "non_un_states": TableSpec(
        file="non_un_states.csv",
        columns=("state", "iso3", "region", *GROUPS, "source", "confidence"),
        key=("iso3",), nonempty=("state", "iso3", "region", "source", "confidence"),
        iso3=("iso3",), flags=GROUPS, choices={"region": REGIONS, "confidence": CONFIDENCE}, rows=2),
    "memberships": TableSpec(
        file="memberships.csv",
        columns=("iso3", "group", "joined", "left", "source", "confidence"),
        key=("iso3", "group"), nonempty=("iso3", "group", "joined", "source", "confidence"),
        iso3=("iso3",), dates=("joined", "left"), choices={"group": GROUPS, "confidence": CONFIDENCE}, min_rows=20),
    "states_parties": TableSpec(
        file="states_parties.csv",
        columns=("state", "iso3", "ratification_or_accession_date", "entry_into_force_date",
                 "withdrawal_notified_date", "withdrawal_effective_date", "region", "source", "confidence"),
        key=("iso3",), nonempty=("state", "iso3", "entry_into_force_date", "region", "source", "confidence"),
        iso3=("iso3",),
        dates=("ratification_or_accession_date", "entry_into_force_date", "withdrawal_notified_date",
               "withdrawal_effective_date", "withdrawal_announced_date"),
        choices={"region": REGIONS, "confidence": CONFIDENCE}, min_rows=100),
    "warrants": TableSpec(
        file="warrants.csv",
        columns=("person", "situation", "warrant_date", "kind", "status", "custody_date", "custody_route",
                 "nationality_state_is_party", "source", "confidence"),
        key=("person",), nonempty=("person", "warrant_date", "kind", "nationality_state_is_party", "source",
                                   "confidence"),
        dates=("icc_transfer_date",), partial_dates=("warrant_date", "custody_date", "outcome_date"),
        choices={"kind": ("warrant", "summons"), "nationality_state_is_party": ("yes", "no"),
                 "custody_route": CUSTODY_ROUTES, "confidence": CONFIDENCE,
                 "status": ("at_large", "in_custody", "convicted", "acquitted", "released", "deceased",
                            "withdrawn")},
        min_rows=60),
    "record": TableSpec(
        file="record.csv",
        columns=RECORD_COLUMNS, key=("person", "warrant_date"),
        nonempty=("person", "warrant_date", "kind", "situation_iso3", "home_iso3", "role", "route", "source",
                  "confidence"),
        iso3=("situation_iso3", "home_iso3"), optional_iso3=("host_iso3",),
        partial_dates=("warrant_date", *RECORD_DATES),
        flags=("added", "head_of_state", "sealed", "self_surrender"),
        choices={"kind": ("warrant", "summons"), "role": ROLES, "fallen_at_issue": ("0", "1"),
                 "route": RECORD_ROUTES, "confidence": CONFIDENCE}, min_rows=60),
    "recoding": TableSpec(
        file="recoding.csv",
        columns=("person", "warrant_date", "field", "was", "reason"),
        key=("person", "warrant_date", "field"), nonempty=("person", "warrant_date", "field", "was", "reason"),
        partial_dates=("warrant_date",), choices={"field": RECORD_COLUMNS}, min_rows=1),
    "noncompliance_findings": TableSpec(
        file="noncompliance_findings.csv",
        columns=("state", "date", "person", "referred_to", "source", "confidence", "finding_type"),
        key=("state", "date", "person"), nonempty=("state", "date", "person", "source", "confidence",
                                                   "finding_type"),
        dates=("date",), choices={"confidence": CONFIDENCE}, min_rows=20),
    "persons": TableSpec(
        file="persons.csv",
        columns=("name", "person_id", "tables", "notes"),
        key=("name",), nonempty=("name", "person_id", "tables"), min_rows=60),
    "travel": TableSpec(
        file="travel.csv",
        columns=("person", "host_state", "date", "host_is_party", "arrested", "icc_noncompliance_finding", "notes",
                 "source", "confidence", "occasion", "finding_date", "warrant_public_at_time"),
        key=("person", "host_state", "date"),
        nonempty=("person", "host_state", "host_is_party", "arrested", "icc_noncompliance_finding", "source",
                  "confidence", "warrant_public_at_time"),
        partial_dates=("date",), dates=("finding_date",),
        choices={"host_is_party": YES_NO, "arrested": YES_NO, "icc_noncompliance_finding": YES_NO,
                 "warrant_public_at_time": YES_NO, "confidence": CONFIDENCE}, min_rows=30),
    "travel_called_off": TableSpec(
        file="travel_called_off.csv",
        columns=("person", "intended_host_state", "date", "host_is_party", "what_happened", "source", "confidence"),
        key=("person", "intended_host_state", "date"),
        nonempty=("person", "intended_host_state", "date", "host_is_party", "what_happened", "source", "confidence"),
        periods=("date",), choices={"host_is_party": YES_NO, "confidence": CONFIDENCE}, min_rows=5),
    "regime_changes": TableSpec(
        file="regime_changes.csv",
        columns=("home_iso3", "date", "change", "source", "confidence", "notes"),
        key=("home_iso3", "date"), nonempty=("home_iso3", "date", "change", "source", "confidence"),
        iso3=("home_iso3",), dates=("date",), choices={"confidence": CONFIDENCE}, min_rows=5),
    "record_date": TableSpec(
        file="record_date.csv",
        columns=("date", "source", "confidence", "notes"),
        key=("date",), nonempty=("date", "source", "confidence"), dates=("date",),
        choices={"confidence": CONFIDENCE}, rows=1),
    "signatories_unsigned": TableSpec(
        file="signatories_unsigned.csv",
        columns=("state", "iso3", "signature_date", "unsign_notification_date", "source", "confidence"),
        key=("iso3",), nonempty=("state", "iso3", "signature_date", "unsign_notification_date", "source"),
        iso3=("iso3",), dates=("signature_date", "unsign_notification_date"),
        choices={"confidence": CONFIDENCE}, rows=4),
    "regime_changes": TableSpec(
        file="regime_changes.csv",
        columns=("home_iso3", "date", "change", "source", "confidence", "notes"),
        key=("home_iso3", "date"), nonempty=("home_iso3", "date", "change", "source", "confidence"),
        iso3=("home_iso3",), dates=("date",), choices={"confidence": CONFIDENCE}, min_rows=5),
    "home_partners": TableSpec(
        file="home_partners.csv",
        columns=("home_iso3", "partner", "from_date", "to_date", "source", "confidence", "notes"),
        key=("home_iso3", "partner", "from_date"), nonempty=("home_iso3", "partner", "source", "confidence"),
        iso3=("home_iso3",), dates=("from_date", "to_date"), choices={"confidence": CONFIDENCE}, min_rows=5),
}


def _shown(path: Path) -> str:
    """A path as the user will recognise it: relative to the working folder when inside it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:
        return str(path)


def _fail(path: Path, row: int | None, problem: str) -> UserError:
    where = f"{_shown(path)} row {row}" if row is not None else _shown(path)
    return UserError(f"{where}: {problem}; fix the file or restore it from git")


def _is_date(text: str, partial: bool) -> bool:
    if not (_PARTIAL_DATE if partial else _DATE).match(text):
        return False
    parts = [int(x) for x in text.split("-")]
    try:
        dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        return False
    return True


def check_table(frame: pd.DataFrame, spec: TableSpec, path: Path) -> None:
    """Raise a one-line UserError for the first problem in a table read as text."""
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise _fail(path, 1, f"missing column '{missing[0]}' in the header (expected {', '.join(spec.columns)})")
    n = len(frame)
    if spec.rows is not None and n != spec.rows:
        raise _fail(path, None, f"{n} data rows, expected {spec.rows}")
    if n < spec.min_rows:
        raise _fail(path, None, f"only {n} data rows, expected at least {spec.min_rows} (truncated?)")
    def rownum(i: int) -> int:
        return int(i) + 2  # header is row 1
    for col in spec.nonempty:
        empty = frame.index[frame[col].str.strip() == ""]
        if len(empty):
            raise _fail(path, rownum(empty[0]), f"empty {col}")
    for col in (*spec.iso3, *spec.optional_iso3):
        given = frame[col] != "" if col in spec.optional_iso3 else True
        bad = frame.index[~frame[col].str.match(_ISO3) & given]
        if len(bad):
            raise _fail(path, rownum(bad[0]), f"bad ISO3 code '{frame.at[bad[0], col]}' in {col} "
                                              "(three capital letters, e.g. RUS)")
    for cols, partial in ((spec.dates, False), (spec.partial_dates, True)):
        for col in cols:
            if col not in frame.columns:
                continue
            for i, text in frame[col].items():
                if text and not _is_date(text, partial):
                    form = "YYYY, YYYY-MM or YYYY-MM-DD" if partial else "YYYY-MM-DD"
                    raise _fail(path, rownum(i), f"bad date '{text}' in {col} (expected {form})")
    for col in spec.periods:
        for i, text in frame[col].items():
            span = _PERIOD.match(text)
            if text and not (_is_date(text, True) or (span and int(span[1]) < int(span[2]))):
                raise _fail(path, rownum(i), f"bad date '{text}' in {col} (expected YYYY, YYYY-MM, YYYY-MM-DD or a "
                                             "span of years YYYY-YYYY)")
    for col in spec.flags:
        bad = frame.index[~frame[col].isin(("0", "1"))]
        if len(bad):
            raise _fail(path, rownum(bad[0]), f"{col} must be 0 or 1, got '{frame.at[bad[0], col]}'")
    for col, allowed in spec.choices.items():
        ok = frame[col].isin(allowed) | ((frame[col] == "") & (col not in spec.nonempty))
        bad = frame.index[~ok]
        if len(bad):
            value = frame.at[bad[0], col]
            close = difflib.get_close_matches(value, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (one of: {', '.join(allowed)})"
            raise _fail(path, rownum(bad[0]), f"unknown {col} '{value}'{hint}")
    dup = frame.index[frame.duplicated(list(spec.key), keep="first")]
    if len(dup):
        first = frame.index[(frame[list(spec.key)] == frame.loc[dup[0], list(spec.key)]).all(axis=1)][0]
        value = " / ".join(frame.loc[dup[0], list(spec.key)])
        raise _fail(path, rownum(dup[0]), f"duplicate {' + '.join(spec.key)} '{value}' (also on row {rownum(first)})")


def _check_consistency(name: str, frame: pd.DataFrame, path: Path) -> None:
    """Cross-column checks: a withdrawal takes effect after its notice; a person identifier is a slug.

    (Entry into force may precede ratification: Montenegro succeeded from its independence.)
    """
    if name == "persons":
        bad = frame.index[~frame["person_id"].str.match(_PERSON_ID)]
        if len(bad):
            raise _fail(path, int(bad[0]) + 2, f"bad person_id '{frame.at[bad[0], 'person_id']}' (lower-case words "
                                               "joined by hyphens, e.g. omar-hassan-ahmad-al-bashir)")
        return
    if name == "home_partners":
        _check_partners(frame, path)
        return
    if name != "states_parties":
        return
    for i, r in frame.iterrows():
        if r["withdrawal_effective_date"] and not r["withdrawal_notified_date"]:
            raise _fail(path, int(i) + 2, "withdrawal_effective_date without withdrawal_notified_date")
        if r["withdrawal_effective_date"] and r["withdrawal_effective_date"] < r["withdrawal_notified_date"]:
            raise _fail(path, int(i) + 2, f"withdrawal_effective_date {r['withdrawal_effective_date']} is before "
                                          f"withdrawal_notified_date {r['withdrawal_notified_date']}")


def _check_partners(frame: pd.DataFrame, path: Path) -> None:
    """A partner is an organisation, an ISO3 code or ``none`` (alone for its home); a row ends after it starts."""
    for i, r in frame.iterrows():
        partner = r["partner"]
        if partner not in GROUPS and partner != "none" and not _ISO3.match(partner):
            close = difflib.get_close_matches(partner, GROUPS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise _fail(path, int(i) + 2, f"partner '{partner}' is not an organisation ({', '.join(GROUPS)}), an "
                                          f"ISO3 code or none{hint}")
        if r["from_date"] and r["to_date"] and r["to_date"] <= r["from_date"]:
            raise _fail(path, int(i) + 2, f"to_date {r['to_date']} is not after from_date {r['from_date']}")
        if partner == "none" and (frame["home_iso3"] == r["home_iso3"]).sum() > 1:
            raise _fail(path, int(i) + 2, f"{r['home_iso3']} has a row 'none' and partners too; keep one")


@lru_cache(maxsize=32)
def _read(name: str, path: Path, stamp: tuple[int, int]) -> pd.DataFrame:
    spec = TABLES[name]
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"data file {_shown(path)} does not exist; restore it from git") from None
    except UnicodeDecodeError:
        raise _fail(path, None, "not UTF-8 text") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise _fail(path, int(line[1]) if line else None, "malformed CSV (wrong number of fields or empty file)") \
            from None
    frame = frame.apply(lambda c: c.str.strip())
    check_table(frame, spec, path)
    _check_consistency(name, frame, path)
    return frame


def load_table(name: str, folder: str | Path | None = None) -> pd.DataFrame:
    """One validated table as text columns (every source and confidence column kept).

    ``folder`` replaces sim/data/ (tests load damaged copies from a temporary folder).
    """
    if name not in TABLES:
        close = difflib.get_close_matches(name, TABLES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UserError(f"unknown data table '{name}'{hint}; tables: {', '.join(TABLES)}")
    path = (Path(folder) if folder is not None else DATA_DIR) / TABLES[name].file
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        raise UserError(f"data file {_shown(path)} does not exist; restore it from git") from None
    return _read(name, path.resolve(), stamp).copy()
