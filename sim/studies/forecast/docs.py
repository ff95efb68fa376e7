"""The docs' tables of the shipped forecasts (docs/forecasts.md, README.md): frames in, Markdown out.

sim.studies.reference reads each shipped forecast (its files checked against their record) and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

ROUTE_WORDS = {"arrested_by_host": "arrest abroad", "domestic_surrender": "handover at home"}


def _p(row: pd.Series) -> str:
    return f"{row['p']:.2f} [{row['p_q05']:.2f}, {row['p_q95']:.2f}]"


def _record_words(record: pd.DataFrame) -> str:
    first = record.iloc[0]
    change = (f"the home government changed on {first['regime_change_date']}" if bool(first["regime_changed"])
              else "no change of home government")
    return f"at large {int(first['forecast_month'])} months since {first['issue']}, {change}"


def overview(forecasts: Mapping[str, Mapping[str, pd.DataFrame]], records: Mapping[str, dict[str, Any]]) -> str:
    """Every shipped forecast, one row per accused: the situation, the record to date, the probability of custody by
    each horizon with its posterior 90% band, the two routes by the last horizon and the Monte Carlo error."""
    rows = ["| situation (warrants of) | person | record to date | by the end of 2030 | by the end of 2035 | "
            "2035 by route: arrest abroad / handover at home | Monte Carlo se (2035) |",
            "|---|---|---|---|---|---|---|"]
    for name, tables in forecasts.items():
        f = records[name].get("forecast") or {}
        table, routes, rec = tables["forecast.csv"], tables["routes.csv"], tables["record_to_date.csv"]
        situation = f"{f.get('home')} ({f.get('issue')})"
        for person in dict.fromkeys(table["accused"]):
            mine = table[table["accused"] == person].sort_values("horizon_month")
            last = routes[(routes["accused"] == person) & (routes["horizon_month"] == mine["horizon_month"].max())]
            by = {r["route"]: f"{r['p']:.2f}" for _, r in last.iterrows()}
            cells = [_p(r) for _, r in mine.iterrows()]
            rows.append(f"| {situation} | {person} | {_record_words(rec)} | {' | '.join(cells)} | "
                        f"{by.get('arrested_by_host', '–')} / {by.get('domestic_surrender', '–')} | "
                        f"{mine['mc_se'].iloc[-1]:.3f} |")
    return "\n".join(rows)


def one(name: str, tables: Mapping[str, pd.DataFrame], record: dict[str, Any]) -> str:
    """One forecast: by each horizon, p with its band, the between-draw spread, the Monte Carlo error apart, the
    routes, and the command that makes it."""
    f = record.get("forecast") or {}
    table, routes = tables["forecast.csv"], tables["routes.csv"]
    rows = [f"Given the record to {f.get('date')} ({_record_words(tables['record_to_date.csv'])}); "
            f"{f.get('draws')} draws of the {f.get('source')} posterior × {f.get('replicates')} replicates each "
            f"(`{record.get('command')}`, {(record.get('timings') or {}).get('wall_seconds', 0):,.0f} s).", "",
            "| person | by | p [posterior 90%] | between-draw sd | Monte Carlo se | arrest abroad | handover at home |",
            "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        mine = routes[(routes["accused"] == r["accused"]) & (routes["horizon_month"] == r["horizon_month"])]
        by = {x["route"]: _p(x) for _, x in mine.iterrows()}
        rows.append(f"| {r['accused']} | {r['horizon_date']} | {_p(r)} | {r['p_sd_between']:.3f} | {r['mc_se']:.3f} | "
                    f"{by.get('arrested_by_host', '–')} | {by.get('domestic_surrender', '–')} |")
    return "\n".join(rows)


def counts(tables: Mapping[str, pd.DataFrame]) -> str:
    """One forecast's counts between its date and each horizon: median [90% interval]."""
    table = tables["counts.csv"]
    horizons = list(dict.fromkeys(table["horizon_date"]))
    rows = ["| person | between the forecast's date and | " + " | ".join(horizons) + " |",
            "|---|---|" + "---|" * len(horizons)]
    for (person, measure), g in table.groupby(["accused", "measure"], sort=False):
        cells = [f"{r['median']:g} [{r['q05']:g}, {r['q95']:g}]" for _, r in g.iterrows()]
        rows.append(f"| {person} | {measure.replace('_', ' ')} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def benchmark(report: dict[str, Any]) -> str:
    """The measured time of one situation's forecast."""
    p = report.get("phases") or {}
    before, after = (report.get(k, ["?"])[0] for k in ("load_average_before", "load_average_after"))
    return (f"`{report.get('config')}` with {report.get('draws')} draws × {report.get('replicates')} replicates "
            f"({report.get('rows', 0):,} replicates of {report.get('months')} months, {report.get('accused')} accused, "
            f"engine {report.get('engine')}) on {report.get('cores')} cores: {report.get('wall_seconds')} s of wall "
            f"time ({p.get('run_seconds')} s the runs, {p.get('counts_seconds')} s the counts) with the machine's load "
            f"average {before} before and {after} after (other work on the shared machine); "
            f"{report.get('cpu_seconds')} CPU seconds, that is "
            f"{report.get('idle_wall_estimate_seconds')} s of wall time on {report.get('cores')} idle cores.")
