"""The data's tables in the docs, generated: the recoding decisions, the record's counts, the roster's sizes,
the home states' partners.

Each block sits between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in its page; a test compares
them with these functions. Rewrite them with ``python -m sim.data.docblocks`` (``--check`` only reports).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from sim.data.real import states_at
from sim.data.record import OUTCOME_KINDS, outcomes, recoding, record, record_date
from sim.data.tables import CONFIDENCE, RECORD_ROUTES, load_table
from sim.paths import ROOT

# Dates at which docs/data.md shows the roster, with what happens then.
ROSTER_DATES = (
    ("2002-07-01", "entry into force of the Statute (Switzerland a party before joining the UN)"),
    ("2009-03-04", "al-Bashir warrant; the Cook Islands a party, South Sudan not yet a state"),
    ("2011-07-14", "South Sudan admitted to the UN"),
    ("2015-04-01", "Palestine a party"),
    ("2017-10-27", "Burundi's withdrawal in effect"),
    ("2019-03-17", "the Philippines' withdrawal in effect"),
    ("2023-03-17", "Putin and Lvova-Belova warrants"),
    ("2024-11-21", "Netanyahu and Gallant warrants"),
    ("2026-06-02", "Hungary's withdrawal in effect"),
)
# What each table holds, for docs/data.md's list of tables (rows and confidence are counted from the files).
TABLE_WORDS = {
    "un_members": (
        ("UN member states: ISO3, UN regional group, memberships (`au`, `arab_league`, `brics`, `sco`, `csto`, `cis`, "
         "`eu`, `nato`, `oic`, 0/1, as of 2025), and (added) `un_admission_date` with its source, confidence and "
         "notes"), ("confidence", "un_admission_confidence")),
    "non_un_states": (
        ("(added) the parties that are not UN members, the Cook Islands and Palestine: ASP region and the same nine "
         "flags"), ("confidence",)),
    "memberships": (
        ("(added) dated memberships, `joined` and `left` (the first day as a non-member), for the members whose dates "
         "fall in 2002-2026"), ("confidence",)),
    "states_parties": (
        ("states that are or were parties to the Rome Statute: ratification/accession, entry into force (art. 126), "
         "withdrawal notified and effective (art. 127), ASP regional group, status in 2026"), ("confidence",)),
    "warrants": (
        ("every publicly known person under an ICC arrest warrant or summons: dates, status, custody date and route, "
         "arresting state, whether the person's state was a party"), ("confidence",)),
    "record": (
        ("(added) the rows of `warrants` and Banda's 2014 arrest warrant, coded as what happened: home and situation "
         "ISO3, role and office, sitting head of state, fallen government, seal, the route in the model's terms and "
         "its dates"), ("confidence",)),
    "recoding": ("(added) every field of `record` that departs from what `warrants` says, with the reason", ()),
    "noncompliance_findings": (
        "judicial decisions on failures to arrest (art. 87(7) findings, notifications, referrals)", ("confidence",)),
    "travel": (
        ("trips abroad by persons under warrant, to 2023-12-31: host, date, whether the host was a party, arrested or "
         "not, the court's finding, occasion, whether the warrant was public (incomplete for total trips)"),
        ("confidence",)),
    "travel_called_off": (
        ("trips called off because of a warrant, to 2023-12-31 (every one an invitation: a summit or inauguration), "
         "with the intended host and what happened"), ("confidence",)),
    "persons": (
        ("(added) every spelling of a person in the tables (the record's, and the findings' and travel tables' "
         "where they differ) with the person's identifier, on which the tables are joined"), ()),
    "regime_changes": (
        ("(added) changes of the home government (ODD §7.1) of the record's non-party home states, from before "
         "their first warrant to the record's date"), ("confidence",)),
    "record_date": ("(added) the record's date, to which every warrant is followed up, with its source",
                    ("confidence",)),
    "signatories_unsigned": ("signatories that withdrew their signature: United States, Israel, Sudan, Russia", ()),
    "regime_changes": (
        ("(added) changes of the home government (ODD §7.1) of the record's non-party home states, from before "
         "their first warrant to the record's date"), ("confidence",)),
    "home_partners": (
        ("(added) the partners of each home state (organisations or states), dated, with their sources: the one "
         "definition of scenarios (`partners = [\"home_partners\"]`) and the calibration"), ("confidence",)),
}
CONFIDENCE_OF = {"confidence": "groups and flags", "un_admission_confidence": "admission dates"}
ROUTE_WORDS = {
    "surrendered_by_host": "surrendered to the court by a host abroad",
    "surrendered_by_home": "surrendered to the court by the home state",
    "detained_at_home": "detained at home, not surrendered",
    "released": "arrested, then released without surrender",
    "died": "died",
    "withdrawn": "warrant withdrawn or case inadmissible",
    "at_large": "at large on the record's date",
    "appeared": "appeared voluntarily (summons)",
}


def tables_markdown(folder: str | Path | None = None) -> str:
    """The list of tables: name, rows, what, and how many rows have each confidence."""
    rows = ["| table (`sim.data.tables.load_table(name)`) | rows | what | confidence |", "|---|---|---|---|"]
    for name, (what, conf_cols) in TABLE_WORDS.items():
        frame = load_table(name, folder)
        counts = {col: frame[col].value_counts() for col in conf_cols}
        conf = "; ".join((f"{CONFIDENCE_OF.get(col, col)}: " if len(conf_cols) > 1 else "")
                         + ", ".join(f"{counts[col][lvl]} {lvl}" for lvl in CONFIDENCE if lvl in counts[col])
                         for col in conf_cols)
        rows.append(f"| `{name}` | {len(frame)} | {what} | {conf} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def recoding_markdown(folder: str | Path | None = None) -> str:
    """Every recoding decision of recoding.csv with the record's value: one row each."""
    rows = ["| person | warrant | field | warrants.csv had | record.csv has | reason |", "|---|---|---|---|---|---|"]
    for _, r in recoding(folder).iterrows():
        cells = (_cell(r[c]) for c in ("person", "warrant_date", "field", "was", "value", "reason"))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _names(frame: pd.DataFrame) -> str:
    return ", ".join(p.split(" (")[0] for p in frame["person"]) or "none"


def counts_markdown(folder: str | Path | None = None) -> str:
    """The record's counts: warrants, the non-party nationals among them, their routes, custody within a month."""
    rec = record(folder)
    war = rec[rec["kind"] == "warrant"]
    npn = war[war["non_party_national"]]
    lines = [
        (f"Record's date {record_date(folder).isoformat()}; arrest warrants only (summonses: "
         f"{int((rec['kind'] == 'summons').sum())}), one per person and warrant (a later warrant against a "
         "person already wanted is not counted again; Banda's 2014 warrant, which replaced his summons, is)."),
        "",
        "| | all warrants | against nationals of non-parties |",
        "|---|---|---|",
        f"| warrants | {len(war)} | {len(npn)} |",
    ]

    def both(label: str, mask_all: pd.Series, mask_npn: pd.Series) -> None:
        lines.append(f"| {label} | {int(mask_all.sum())} | {int(mask_npn.sum())} |")

    both("home a former party at issue", war["home_status_at_issue"] == "former_party",
         npn["home_status_at_issue"] == "former_party")
    both("sitting head of state or government at issue", war["head_of_state"], npn["head_of_state"])
    both("the person's government had fallen at issue", war["fallen_at_issue"].fillna(False),
         npn["fallen_at_issue"].fillna(False))
    both("issued under seal", war["sealed"], npn["sealed"])
    for route in RECORD_ROUTES[:-1]:
        both(f"route: {ROUTE_WORDS[route]}", war["route"] == route, npn["route"] == route)
    both("held (arrested, detained or surrendered) within a month of the warrant, or before it",
         war["held_within_month"], npn["held_within_month"])
    both("... of them issued under seal", war["held_within_month"] & war["sealed"],
         npn["held_within_month"] & npn["sealed"])
    both("... of them with the person's government fallen at issue",
         war["held_within_month"] & war["fallen_at_issue"].fillna(False),
         npn["held_within_month"] & npn["fallen_at_issue"].fillna(False))
    both("surrendered to the court within a month of the warrant", war["surrendered_within_month"],
         npn["surrendered_within_month"])
    both("arrested by a host abroad that did not surrender them",
         (war["host_arrest_date"] != "") & ~war["route"].isin(["surrendered_by_host"]),
         (npn["host_arrest_date"] != "") & ~npn["route"].isin(["surrendered_by_host"]))
    both("surrendered after giving themselves up (self_surrender)", war["self_surrender"], npn["self_surrender"])
    lines += ["", "Warrants against nationals of non-parties, by route:", "", "| route | n | persons |",
              "|---|---|---|"]
    for route in RECORD_ROUTES[:-1]:
        sub = npn[npn["route"] == route]
        if len(sub):
            lines.append(f"| {ROUTE_WORDS[route]} | {len(sub)} | {_names(sub)} |")
    lines += ["", f"Held within a month of the warrant (or before it): {_names(npn[npn['held_within_month']])}."]
    happened = outcomes(folder)
    keys = set(zip(npn["person"], npn["warrant_date"]))
    mine = happened[[k in keys for k in zip(happened["person"], happened["warrant_date"])]]
    lines += ["", "Every outcome of the warrants against nationals of non-parties, coded as itself (a warrant can have "
                  "several; `sim.data.record.outcomes`):", "", "| outcome | n | persons |", "|---|---|---|"]
    for kind, words in OUTCOME_KINDS.items():
        sub = mine[mine["outcome"] == kind]
        if len(sub):
            lines.append(f"| {words} (`{kind}`) | {len(sub)} | {_names(sub)} |")
    return "\n".join(lines)


def roster_markdown(folder: str | Path | None = None) -> str:
    """The real roster's size at the dates of ROSTER_DATES: states, UN members among them, parties."""
    rows = ["| date | states | UN members | parties | of them not UN members | note |", "|---|---|---|---|---|---|"]
    for day, note in ROSTER_DATES:
        s = states_at(day, folder)
        rows.append(f"| {day} | {len(s)} | {int(s['un_member'].sum())} | {int(s['member'].sum())} | "
                    f"{int((s['member'] & ~s['un_member']).sum())} | {note} |")
    return "\n".join(rows)


def partners_markdown(folder: str | Path | None = None) -> str:
    """Every home state's partners (home_partners.csv): partner, from, until, confidence."""
    table = load_table("home_partners", folder)
    rows = ["| home | partner | from | until (first day not a partner) | confidence |", "|---|---|---|---|---|"]
    for _, r in table.iterrows():
        rows.append(f"| {r['home_iso3']} | {r['partner']} | {r['from_date'] or '–'} | {r['to_date'] or '–'} | "
                    f"{r['confidence']} |")
    return "\n".join(rows)


BLOCKS = {
    ("docs/data.md", "tables"): tables_markdown,
    ("docs/data.md", "recoding"): recoding_markdown,
    ("docs/data.md", "roster-counts"): roster_markdown,
    ("docs/data.md", "home-partners"): partners_markdown,
    ("docs/validation.md", "record-counts"): counts_markdown,
}


def block_text(text: str, name: str) -> str | None:
    """The body of block ``name`` in a page's text, or None if its markers are missing."""
    found = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)
    return found.group(1).removesuffix("\n") if found else None


def replace_block(text: str, name: str, body: str) -> str:
    if block_text(text, name) is None:
        raise ValueError(f"no <!-- {name}:begin --> ... <!-- {name}:end --> markers")
    return re.sub(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)",
                  lambda m: m.group(1) + body + "\n" + m.group(2), text, flags=re.DOTALL)


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with --check, only compare) every generated block; exit status 1 if one was out of date."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for (page, name), make in BLOCKS.items():
        path = ROOT / page
        text = path.read_text(encoding="utf-8")
        new = replace_block(text, name, make())
        if new != text:
            stale.append(f"{page} [{name}]")
            if not check:
                path.write_text(new, encoding="utf-8")
    for item in stale:
        print(("out of date: " if check else "rewrote: ") + item)
    return 1 if stale and check else 0


if __name__ == "__main__":
    raise SystemExit(main())
