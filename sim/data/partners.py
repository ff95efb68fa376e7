"""The partners of each home state (home_partners.csv): one definition, dated, for scenarios and calibration alike.

A partner is an organisation of sim.data.tables.GROUPS (its members taken on the date) or a state's ISO3
code; a row holds from ``from_date`` (empty: from the data's start) until the day before ``to_date``
(empty: still). A home state with no partner has one row ``none`` with the reason. A scenario asks for
them with ``partners = ["home_partners"]`` (sim.data.real expands the name on the scenario's date); the
calibration's design uses them for every run (sim.studies.calibration.design).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sim.data.tables import load_table
from sim.errors import UserError

HOME_PARTNERS = "home_partners"  # the name a scenario's partners list gives for "the home state's partners"
NONE = "none"  # a home state's row that says it has no partner


def home_partners(home: str, date: str | dt.date, folder: str | Path | None = None) -> tuple[str, ...]:
    """The partners of ``home`` on ``date`` in the table's order (groups by name, states by ISO3); () for none."""
    day = date.isoformat() if isinstance(date, dt.date) else str(date)
    table = load_table("home_partners", folder)
    rows = table[table["home_iso3"] == home]
    if rows.empty:
        raise UserError(f"sim/data/home_partners.csv has no row for the home state {home}; add its partners with "
                        f"their source (or a row '{home},{NONE},...' saying why it has none), or name the partners "
                        "in the scenario")
    held = rows[((rows["from_date"] == "") | (rows["from_date"] <= day)) & ((rows["to_date"] == "")
                                                                             | (day < rows["to_date"]))]
    return tuple(p for p in held["partner"] if p != NONE)


def partner_table(folder: str | Path | None = None) -> dict[str, list[dict[str, str]]]:
    """Every home state's rows (partner, from, to, source), for the docs."""
    table = load_table("home_partners", folder)
    return {home: g[["partner", "from_date", "to_date", "source", "confidence"]].to_dict("records")
            for home, g in table.groupby("home_iso3", sort=False)}
