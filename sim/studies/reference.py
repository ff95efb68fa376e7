"""Reference results shipped in results/reference/, and the numbers of docs/ generated from them.

``python -m sim.studies.reference ship NAME FOLDER`` copies a finished folder's small files, each
verified against the folder's manifest, into its own folder under results/reference/ with
``reference.json`` (the command, the config's sha256, the software, the timings and every copied
file's sha256).
``python -m sim.studies.reference docs`` rewrites every ``<!-- ref:KIND:NAME:begin -->`` ...
``<!-- ref:KIND:NAME:end -->`` block of docs/ and README.md from those files (``--check`` only
reports); tests/test_docs.py fails when a block and its reference disagree.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.inference import coverage_pvalues
from sim.analysis.metrics import ALL, accused_codes
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.folders import MANIFEST
from sim.paths import ROOT
from sim.studies.forecast import docs as forecast_docs

REFERENCE = ROOT / "results" / "reference"
RECORD = "reference.json"


@dataclass(frozen=True)
class Reference:
    """What one shipped reference holds and the command that makes its source folder."""

    command: str
    files: tuple[str, ...]
    source: str  # the folder the command writes, relative to the repository


REFERENCES = {
    "baseline": Reference("python -m sim sweep experiments/baseline.toml",
                          ("summary.csv", "figures/heatmap.png", "figures/curves.png"), "results/baseline"),
    "sensitivity": Reference("python -m sim sensitivity experiments/sensitivity.toml",
                             ("sensitivity.csv", "figures/morris.png", "figures/ranking.png"), "results/sensitivity"),
    "sensitivity_ukraine": Reference("python -m sim sensitivity experiments/sensitivity_ukraine.toml",
                                     ("sensitivity.csv", "figures/morris.png", "figures/ranking.png"),
                                     "results/sensitivity_ukraine"),
    "sensitivity_sobol": Reference("python -m sim sensitivity experiments/sensitivity_sobol.toml",
                                   ("sensitivity.csv", "figures/sobol.png", "figures/ranking.png"),
                                   "results/sensitivity_sobol"),
    "compare_2023_ukraine": Reference("python -m sim compare experiments/compare_2023_ukraine.toml",
                                      ("paired.csv", "summary.csv", "figures/paired.png"),
                                      "results/compare_2023_ukraine"),
    "compare_2009_darfur": Reference("python -m sim compare experiments/compare_2009_darfur.toml",
                                     ("paired.csv", "summary.csv", "figures/paired.png"),
                                     "results/compare_2009_darfur"),
    "discovery": Reference("python -m sim sweep experiments/discovery.toml && python -m sim discover "
                           "results/discovery --horizon 120 --threshold 0.5 --accused 0",
                           ("box.csv", "trajectory.csv", "limits.csv", "tradeoff.png", "box_limits.png"),
                           "results/discovery/discovery"),
    "calibration": Reference("python -m sim calibrate experiments/calibration.toml",
                             ("summary.csv", "generations.csv", "observed.csv", "records.csv", "runs.csv", "travel.csv",
                              "findings.csv", "predictive.csv", "timed_stays.csv", "out_of_sample.csv",
                              "out_of_sample_summary.csv", "out_of_sample_state.csv", "predictive.png",
                              "out_of_sample.png"),
                             "results/calibration"),
    "calibration_officials": Reference("python -m sim calibrate experiments/calibration_officials.toml",
                                       ("summary.csv", "generations.csv", "predictive.csv", "predictive.png"),
                                       "results/calibration_officials"),
    "sbc": Reference("python -m sim calibrate experiments/calibration.toml --sbc 200",
                     ("coverage.csv", "ranks.csv", "fits.csv", "sbc.png"), "results/calibration-sbc"),
}


# The shipped forecasts (docs/forecasts.md): one per situation with a warrant at large against a national of a
# non-party, each made by one command; the number is its accused (one fan chart each).
FORECASTS = {"forecast_2023_ukraine": 2, "forecast_2024_ukraine_kobylash_sokolov": 2,
             "forecast_2024_ukraine_shoigu_gerasimov": 2, "forecast_2024_palestine": 2, "forecast_2022_georgia": 3,
             "forecast_2023_libya": 6, "forecast_2014_darfur_banda": 1}
FORECAST_FILES = ("forecast.csv", "routes.csv", "counts.csv", "fan.csv", "record_to_date.csv")
REFERENCES.update({name: Reference(f"python -m sim forecast experiments/{name}.toml",
                                   (*FORECAST_FILES, *(f"figures/fan_{j}.png" for j in range(n))), f"results/{name}")
                   for name, n in FORECASTS.items()})
REFERENCES["benchmark_forecast"] = Reference("python benchmarks/forecast.py --out results/benchmark_forecast",
                                             ("benchmark.json",), "results/benchmark_forecast")


def _reference(name: str) -> Reference:
    if name not in REFERENCES:
        raise UserError(f"unknown reference {name!r}; choose from {', '.join(REFERENCES)}")
    return REFERENCES[name]


def ship(name: str, folder: Path, *, commit: str | None = None, into: Path = REFERENCE) -> Path:
    """Copy the reference's files from a finished ``folder`` (each checked against its manifest) into
    ``into/name`` with its record; return that folder."""
    ref = _reference(name)
    manifest = store.read_json(folder / MANIFEST)
    if manifest is None:
        raise UserError(f"{folder} has no readable {MANIFEST}; run `{ref.command}` first")
    outputs = manifest.get("outputs") or {}
    for rel in ref.files:
        if rel not in outputs:
            raise UserError(f"{folder} has no {rel} in its manifest; is it the folder `{ref.command}` writes?")
        if not (folder / rel).is_file() or store.sha256(folder / rel) != outputs[rel]:
            raise UserError(f"{folder / rel} differs from its manifest's sha256; rerun `{ref.command}`")
    target = into / name
    if target.exists():
        shutil.rmtree(target)
    for rel in ref.files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / rel, target / rel)
    config = manifest.get("config") or {}
    record = {"name": name, "command": ref.command, "config_sha256": config.get("sha256"),
              "software": manifest.get("software"), "commit": commit, "timings": manifest.get("timings"),
              "files": {rel: outputs[rel] for rel in ref.files}}
    for key in ("experiment", "calibration", "question", "sensitivity", "comparison", "box", "coverage", "density",
                "mass", "forecast", "results", "warnings", "posterior"):
        if key in manifest and key != "comparison":
            record[key] = manifest[key]
    if "comparison" in manifest:
        record["comparison"] = {"alternatives": [{k: a[k] for k in ("name", "changes")}
                                                 for a in manifest["comparison"]["alternatives"]]}
    if name == "discovery":  # the sweep it was discovered from: its time belongs to the example
        sweep = store.read_json(folder.parent / MANIFEST) or {}
        record["sweep_timings"] = sweep.get("timings")
        record["sweep_experiment"] = sweep.get("experiment")
    store.write_json(target / RECORD, record)
    return target


def read(name: str, rel: str, into: Path = REFERENCE, codes: bool = True) -> pd.DataFrame:
    """A shipped reference table, checked against its record's sha256 (``codes``: accused as integer codes; a
    forecast's tables name the person)."""
    path = into / name / rel
    record = store.read_json(into / name / RECORD) or {}
    if not path.is_file() or store.sha256(path) != (record.get("files") or {}).get(rel):
        raise UserError(f"{path} is missing or differs from {into / name / RECORD}; ship it again")
    if rel.endswith(".json"):
        return pd.DataFrame([store.read_json(path) or {}])
    table = pd.read_csv(path)
    return table.assign(accused=accused_codes(table["accused"])) if codes and "accused" in table.columns else table


def record(name: str, into: Path = REFERENCE) -> dict[str, Any]:
    doc = store.read_json(into / name / RECORD)
    if doc is None:
        raise UserError(f"{into / name / RECORD} is missing; ship the reference first")
    return doc


# --- the doc blocks -------------------------------------------------------------------------------------------

def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of text cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def _num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def study_seconds(timings: dict[str, Any]) -> Any:
    """A study's wall time; for an SBC finished from verified records (``--resume``), the time its fits took."""
    wall = timings.get("wall_seconds")
    if timings.get("records_reused") and isinstance(timings.get("fit_seconds_total"), (int, float)):
        return max(wall or 0, timings["fit_seconds_total"])
    return wall


def _timing(name: str) -> str:
    wall = study_seconds(record(name).get("timings") or {})
    return f"{wall:,.1f} s" if isinstance(wall, (int, float)) and wall < 10 else \
        f"{wall:,.0f} s" if isinstance(wall, (int, float)) else "?"


def sensitivity_top(name: str, k: int = 3) -> str:
    """Per measure: the k most influential parameters (μ* or S_T) and how many are above the noise."""
    table = read(name, "sensitivity.csv")
    method = str(table["method"].iloc[0])
    key = "ST" if method == "sobol" else "mu_star"
    head = "S_T" if method == "sobol" else "μ*"
    rows = [f"| measure | {' | '.join(f'{i + 1}. ({head})' for i in range(k))} | distinguishable from noise |",
            "|---|" + "---|" * (k + 1)]
    for _measure, g in table.groupby("measure", sort=False):
        top = g.sort_values(key, ascending=False, kind="stable").head(k)
        cells = [f"`{r['parameter']}` {_num(r[key], 2)}" for _, r in top.iterrows()]
        if method == "sobol":
            above = int((g["ST_low"] > 0).sum())
        else:
            above = int(g["above_noise"].astype(str).str.lower().eq("true").sum())
        rows.append(f"| {g['outcome_label'].iloc[0]} | {' | '.join(cells)} | {above} of {len(g)} |")
    return "\n".join(rows)


def quiet_parameters(name: str) -> str:
    """The parameters that no probability measure tells apart from noise (Morris), or whose every total
    effect's interval reaches zero (Sobol')."""
    table = read(name, "sensitivity.csv")
    probs = table[table["outcome"].isin(["p_enforced", "p_arrested"])]
    if str(table["method"].iloc[0]) == "sobol":
        loud = probs.assign(_a=probs["ST_low"] > 0)
    else:
        loud = probs.assign(_a=probs["above_noise"].astype(str).str.lower().eq("true"))
    count = loud.groupby("parameter", sort=False)["_a"].sum()
    quiet = [f"`{p}`" for p in count.index if count[p] == 0]
    return (f"{len(quiet)} of {len(count)} parameters stand out from the noise on none of the "
            f"{probs['measure'].nunique()} probability measures: " + ", ".join(quiet) + ".")


def sensitivity_runs(_: str = "") -> str:
    """The shipped sensitivity studies: design, runs and measured time."""
    rows = ["| study | design | points × replicates | wall time (2 workers) |", "|---|---|---|---|"]
    for name in ("sensitivity", "sensitivity_ukraine", "sensitivity_sobol"):
        doc = record(name)
        e = doc.get("experiment") or {}
        design = (f"Morris, {e.get('n')} trajectories" if e.get("sampler") == "morris" else
                  f"Sobol', N = {e.get('n')}")
        crn = ", common random numbers" if e.get("common_random_numbers") else ""
        rows.append(f"| `experiments/{name}.toml` | {design}{crn} | {e.get('points'):,} × {e.get('replicates'):,} | "
                    f"{_timing(name)} |")
    return "\n".join(rows)


def sobol_table(name: str) -> str:
    """First-order and total indices of the first measure with their 95% intervals, and the noise share."""
    table = read(name, "sensitivity.csv")
    first = table[table["measure"] == table["measure"].iloc[0]].sort_values("ST", ascending=False, kind="stable")
    rows = [f"{first['outcome_label'].iloc[0]} (noise share {first['noise_share'].iloc[0]:.3f}, removed):", "",
            "| parameter | S1 [95%] | S_T [95%] | S_T uncorrected |", "|---|---|---|---|"]
    for _, r in first.iterrows():
        rows.append(f"| `{r['parameter']}` | {r['S1']:.3f} [{r['S1_low']:.3f}, {r['S1_high']:.3f}] | "
                    f"{r['ST']:.3f} [{r['ST_low']:.3f}, {r['ST_high']:.3f}] | {r['ST_raw']:.3f} |")
    return "\n".join(rows)


def compare_table(name: str) -> str:
    """Each alternative's paired difference by each horizon, every accused."""
    table = read(name, "paired.csv")
    if table["accused"].nunique() == 2:  # one accused: all accused repeats it
        table = table[table["accused"] != ALL]
    rows = ["| alternative | accused | by month | base | alternative | difference [95% paired] | unpaired 95% | "
            "variance ratio |", "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        rows.append(f"| {r['alternative']} | {_who(r['accused'])} | {r['horizon']} | {r['p_base']:.3f} | "
                    f"{r['p_alt']:.3f} | {r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}] | "
                    f"[{r['unpaired_low']:+.3f}, {r['unpaired_high']:+.3f}] | {r['variance_ratio']:.3g} |")
    return "\n".join(rows)


def _who(accused: float) -> str:
    """An accused in a docs table: its index, or "all" for all accused (a row of iterrows may hold floats)."""
    return "all" if int(accused) == ALL else str(int(accused))


def compare_means(name: str) -> str:
    """What else changes under each alternative: mean trips to states parties, trips called off, findings."""
    summary = read(name, "summary.csv")
    names = ["base", *(a["name"] for a in (record(name).get("comparison") or {}).get("alternatives", []))]
    rows = ["| scenario | accused | trips to states parties | trips called off | findings |", "|---|---|---|---|---|"]
    for _, r in summary[summary["accused"] != ALL].iterrows():
        rows.append(f"| {names[int(r['point'])]} | {_who(r['accused'])} | {r['mean_trips_to_members']:.2f} | "
                    f"{r['mean_trips_cancelled']:.2f} | {r['mean_findings']:.2f} |")
    return "\n".join(rows)


def discovery_box(name: str) -> str:
    """The chosen box: its coverage, density and mass, and each restricted parameter's limits."""
    doc = record(name)
    box = read(name, "box.csv")
    rows = [f"Box {doc.get('box')}: coverage {doc.get('coverage'):.3f}, density {doc.get('density'):.3f}, "
            f"mass {doc.get('mass'):.3f}.", "", "| parameter | low | high | quasi-p (low) | quasi-p (high) |",
            "|---|---|---|---|---|"]
    for _, r in box.iterrows():
        rows.append(f"| `{r['parameter']}` | {r['low']:.4g} | {r['high']:.4g} | {_p(r.get('p_lower'))} | "
                    f"{_p(r.get('p_upper'))} |")
    return "\n".join(rows)


def _p(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if v != v else ("< .001" if v < 0.001 else f"{v:.3f}")


def _posterior_rows(table: pd.DataFrame) -> str:
    return markdown_table(["parameter", "prior", "median", "90% interval", "width / prior width"],
                          [[f"`{r['parameter']}`", str(r["prior"]), _num(r["median"]),
                            f"[{_num(r['q5'])}, {_num(r['q95'])}]", f"{r['width_ratio_90']:.2f}"]
                           for _, r in table.iterrows()])


def oos_posterior(name: str) -> str:
    """The posterior of the fit on what was known at the out-of-sample cut."""
    return _posterior_rows(read(name, "out_of_sample_summary.csv"))


def predictive_rows(name: str) -> str:
    """Each summary of the record against the replicated records: median, 90% interval, p-value."""
    return markdown_table(["summary", "record", "replicated median", "90% interval", "p"],
                          [[str(r["what"]), _num(r["record"]), _num(r["replicated_median"]),
                            f"[{_num(r['low_90'])}, {_num(r['high_90'])}]", f"{r['p_value']:.2f}"]
                           for _, r in read(name, "predictive.csv").iterrows()])


def oos_rows(name: str) -> str:
    """What happened after the cut against what the early fit forecast from the state at the cut."""
    table = read(name, "out_of_sample.csv")
    rows = markdown_table(["after the cut", "observed", "predicted median", "50% interval", "90% interval"],
                          [[f"`{r['outcome']}`", _num(r["record"]), _num(r["predicted_median"]),
                            _interval(r, "50"), _interval(r, "90")] for _, r in table.iterrows()])
    if "draws_used" not in table:
        return rows
    return (f"{rows}\n\nForecasts at {int(table['draws_used'].iloc[0])} draws of the early posterior "
            f"({int(table['draws_set_aside'].iloc[0])} set aside: some run had no replicate consistent with its "
            "record at the cut).")


def _interval(row: pd.Series, level: str) -> str:
    return f"[{_num(row[f'low_{level}'])}, {_num(row[f'high_{level}'])}]"


def calibration_posterior(name: str) -> str:
    """The posterior of each free parameter: prior, median, 90% interval and how much the record narrowed it."""
    gens = read(name, "generations.csv")
    t = record(name).get("timings") or {}
    rows = [_posterior_rows(read(name, "summary.csv")), "",
            f"{len(gens)} generations, {int(gens['evaluations'].sum()):,} simulated records, final "
                 f"epsilon {gens['epsilon'].iloc[-1]:.3g}, effective sample size {gens['ess'].iloc[-1]:.0f} of "
                 f"{int(gens['particles'].iloc[-1])}; fit {t.get('fit_seconds', 0):,.0f} s, everything "
                 f"{t.get('wall_seconds', 0):,.0f} s on {t.get('workers', '?')} workers."]
    return "\n".join(rows)


def _month_text(value: Any) -> str:
    return f"{float(value):.1f}"


def calibration_record(name: str) -> str:
    """The design's warrants: every outcome as the record codes it, and what the observation design reads."""
    recs = read(name, "records.csv")
    rows = []
    for _, r in recs.iterrows():
        reading = (f"**{r['event']}** in month {int(r['month'])}" if not bool(r["censored"]) else "censored")
        rows.append([str(r["run"]), str(r["person"]).split(" (")[0], str(r["outcomes"]).replace("_", " "), reading,
                     f"{_month_text(r['follow_up'])} ({str(r['end_reason']).replace('_', ' ')})"])
    events = recs.loc[~recs["censored"].astype(bool), "event"].value_counts()
    counts = ", ".join(f"{events.get(e, 0)} {e}" for e in ("arrested_by_host", "domestic_surrender", "detained"))
    return "\n".join([markdown_table(["run", "person", "every outcome in the record", "the design reads",
                                      "follow-up, months (its end)"], rows), "",
                      f"{len(recs)} warrants in {recs['run'].nunique()} runs; first ways out of freedom: {counts}; "
                      f"{int(recs['censored'].astype(bool).sum())} censored."])


def design_rules(_: str = "") -> str:
    """What the observation design does with each outcome of the record, and why (its RULES)."""
    from sim.data.record import OUTCOME_KINDS
    from sim.studies.calibration.design import RULES

    words = {**OUTCOME_KINDS, "none": "at large on the record's date",
             "before the warrant": "dead before the warrant"}
    return markdown_table(["outcome", "the design makes it", "why"],
                          [[f"{words.get(k, k)} (`{k}`)", treatment, why] for k, (treatment, why) in RULES.items()])


def calibration_findings(name: str) -> str:
    """Every finding on a person of the design: counted or not, and why not."""
    f = read(name, "findings.csv")
    rows = [[str(r["date"]), str(r["state"]), str(r["person"]), str(r["finding_type"]).replace("_", " "),
             "yes" if str(r["counted"]).lower() == "true" else f"no: {r['why_not']}"] for _, r in f.iterrows()]
    counted = f["counted"].astype(str).str.lower().eq("true")
    return "\n".join([markdown_table(["date", "state", "person", "decision", "counted"], rows), "",
                      f"{int(counted.sum())} findings counted; {int((~counted).sum())} not, of which "
                      f"{int(f['why_not'].astype(str).str.startswith('against the home state').sum())} against the "
                      "home state."])


def calibration_travel(name: str) -> str:
    """The travel record of the persons it follows: window, free months, visits, arrests, invitations declined."""
    t = read(name, "travel.csv")
    rows = [[str(r["person"]).split(" (")[0], str(r["run"]).split(" ")[1], str(int(r["window_months"])),
             str(int(r["free_months"])), str(int(r["visits"])), str(int(r["arrests"])), str(int(r["declined"])),
             "yes" if str(r["head_of_state"]).lower() == "true" else "no"] for _, r in t.iterrows()]
    return markdown_table(["person", "warrant", "window (months)", "free months", "visits to parties", "arrests",
                           "invitations declined", "head of state"], rows)


def timed_stays_text(name: str) -> str:
    """What the calibrated model says of timed stays, beside the record's."""
    t = read(name, "timed_stays.csv").iloc[0]
    return (f"The record's sealed warrants against nationals of non-parties whose person a host abroad arrested "
            f"within the warrant's first month: {int(t['record_stays'])}, of whom the host surrendered "
            f"{int(t['record_surrendered'])}. At {int(t['draws'])} posterior draws ({int(t['replicates'])} replicates "
            f"each) of the design's sealed runs, the model made {int(t['stays']):,} timed stays, of which "
            f"{t['share']:.0%} ended in the host's arrest and surrender (per draw: median {t['share_q50']:.0%}, "
            f"90% interval [{t['share_q05']:.0%}, {t['share_q95']:.0%}]).")


def oos_state(name: str) -> str:
    """Every warrant issued before the cut, as the record stood on that day (the record to date it is forecast
    from)."""
    s = read(name, "out_of_sample_state.csv")
    rows = []
    for _, r in s.iterrows():
        since = "" if pd.isna(r["since"]) else f" since month {int(r['since'])}"
        rows.append([str(r["run"]), str(r["person"]).split(" (")[0], f"{r['status']}{since}", str(int(r["month"])),
                     "yes" if str(r["regime_changed"]).lower() == "true" else "no"])
    return markdown_table(["run", "person", "status at the cut", "observed to month", "home government changed"], rows)


def calibration_checks(name: str) -> str:
    """How many of the record's statistics fall inside the replicated records' 50% and 90% intervals."""
    rows = ["| check | statistics | inside 50% | inside 90% | two-sided p < 0.1 |", "|---|---|---|---|---|"]
    pred = read(name, "predictive.csv")
    low_p = int((pred["p_value"] < 0.1).sum())
    rows.append(f"| posterior predictive (the whole record) | {len(pred)} | {int(pred['inside_50'].sum())} | "
                f"{int(pred['inside_90'].sum())} | {low_p} |")
    oos = read(name, "out_of_sample.csv")
    rows.append(f"| out of sample (fit before the cut, predict after) | {len(oos)} | {int(oos['inside_50'].sum())} | "
                f"{int(oos['inside_90'].sum())} | – |")
    return "\n".join(rows)


def sbc_coverage(name: str) -> str:
    """Coverage of the 50% and 90% intervals over the pseudo-records (Wilson bounds, a Holm-adjusted binomial
    test at 90%), rank uniformity, and how much the real record narrows each parameter (its calibration)."""
    table = read(name, "coverage.csv")
    fits = read(name, "fits.csv")
    holm = coverage_pvalues(table, 0.9)
    t = record(name).get("timings") or {}
    narrowing = read("calibration", "summary.csv").set_index("parameter")["width_ratio_90"]
    order = list(narrowing.index) + [p for p in table["parameter"].unique() if p not in narrowing.index]
    rows = ["| parameter | 50% coverage [95% Wilson] | 90% coverage [95% Wilson] | 90%: Holm p | rank uniformity p "
            "| the record's 90% width / prior width |", "|---|---|---|---|---|---|"]
    for param in order:
        g = table[table["parameter"] == param]
        if g.empty:
            continue
        cells = []
        for level in (0.5, 0.9):
            r = g[g["level"] == level].iloc[0]
            cells.append(f"{r['coverage']:.2f} [{r['coverage_low']:.2f}, {r['coverage_high']:.2f}]")
        width = f"{narrowing[param]:.2f}" if param in narrowing.index else "–"
        rows.append(f"| `{param}` | {' | '.join(cells)} | {holm[param]:.2f} | {g['rank_uniformity_p'].iloc[0]:.3f} "
                    f"| {width} |")
    at90 = table[table["level"] == 0.9].set_index("parameter")["coverage"]
    off = [f"`{p}` ({'overconfident' if at90[p] < 0.9 else 'conservative'})" for p in order
           if p in holm.index and holm[p] < 0.05]
    verdict = ("every parameter's 90% coverage is within binomial error of 90% (Holm, family-wise 5%)" if not off
               else "90% coverage differs from 90% beyond binomial error (Holm, family-wise 5%) for " + ", ".join(off))
    ess = f"; final effective sample size {fits['final_ess'].median():.0f} (median)" if "final_ess" in fits else ""
    rows += ["", f"{len(fits)} pseudo-records, each fitted in {fits['seconds'].median():.0f} s (median){ess}; "
                 f"{_timing(name)} in all on {t.get('workers', '?')} workers; {verdict}."]
    return "\n".join(rows)


def study_times(_: str = "") -> str:
    """The measured wall time of the discovery example and the comparisons."""
    rows = ["| study | command | wall time |", "|---|---|---|"]
    doc = record("discovery")
    sweep = doc.get("sweep_timings") or {}
    e = doc.get("sweep_experiment") or {}
    rows.append(f"| discovery sweep ({e.get('points', '?'):,} points × {e.get('replicates', '?'):,} replicates) | "
                f"`python -m sim sweep experiments/discovery.toml` | {sweep.get('wall_seconds', 0):,.0f} s |")
    rows.append(f"| PRIM | `python -m sim discover results/discovery ...` | {_timing('discovery')} |")
    for name in ("compare_2023_ukraine", "compare_2009_darfur"):
        e = record(name).get("experiment") or {}
        rows.append(f"| {name} ({e.get('points', '?')} points × {e.get('replicates', '?'):,} replicates) | "
                    f"`{REFERENCES[name].command}` | {_timing(name)} |")
    return "\n".join(rows)


def all_times(_: str = "") -> str:
    """Every shipped reference: the command that makes it and how long it took, on what."""
    rows = []
    for name, ref in REFERENCES.items():
        doc = store.read_json(REFERENCE / name / RECORD)
        if doc is None:
            continue
        t = doc.get("timings") or {}
        software = doc.get("software") or {}
        wall = study_seconds(t)
        if name == "discovery" and doc.get("sweep_timings"):
            t = {**doc["sweep_timings"], "wall_seconds": (doc["sweep_timings"].get("wall_seconds") or 0) + (wall or 0)}
            wall = t["wall_seconds"]
        rows.append([f"`{ref.command}`", _seconds(wall), str(t.get("workers", "?")),
                     f"sim {software.get('sim', '?')}, Python {software.get('python', '?')}"])
    return markdown_table(["command", "wall time", "workers", "software"], rows)


def _seconds(wall: Any) -> str:
    if not isinstance(wall, (int, float)):
        return "?"
    return f"{wall:,.0f} s" if wall < 600 else f"{wall / 60:,.0f} min"


def _forecast_tables(name: str) -> dict[str, pd.DataFrame]:
    return {rel: read(name, rel, codes=False) for rel in FORECAST_FILES}


def forecasts_table(_: str = "") -> str:
    """Every shipped forecast, one row per accused (docs/forecasts.md)."""
    return forecast_docs.overview({n: _forecast_tables(n) for n in FORECASTS}, {n: record(n) for n in FORECASTS})


def forecast_block(name: str) -> str:
    return forecast_docs.one(name, _forecast_tables(name), record(name))


def forecast_counts(name: str) -> str:
    return forecast_docs.counts(_forecast_tables(name))


def forecast_benchmark(name: str) -> str:
    report = read(name or "benchmark_forecast", "benchmark.json").iloc[0].to_dict()
    return forecast_docs.benchmark(report)


BLOCKS: dict[str, Callable[[str], str]] = {
    "sensitivity-top": sensitivity_top, "sensitivity-runs": sensitivity_runs, "quiet": quiet_parameters,
    "sobol": sobol_table, "compare": compare_table, "compare-means": compare_means, "discovery-box": discovery_box,
    "calibration-posterior": calibration_posterior, "oos-posterior": oos_posterior, "predictive": predictive_rows,
    "out-of-sample": oos_rows, "calibration-record": calibration_record, "design-rules": design_rules,
    "calibration-findings": calibration_findings, "calibration-travel": calibration_travel,
    "timed-stays": timed_stays_text, "oos-state": oos_state,
    "calibration-checks": calibration_checks, "sbc-coverage": sbc_coverage, "study-times": study_times,
    "all-times": all_times, "forecasts": forecasts_table, "forecast": forecast_block,
    "forecast-counts": forecast_counts, "forecast-benchmark": forecast_benchmark,
}
_BLOCK = re.compile(r"(<!-- ref:([a-z-]+):([A-Za-z0-9_]*):begin -->\n)(.*?)(<!-- ref:\2:\3:end -->)", re.S)
PAGES = ("README.md", "docs")


def pages(root: Path = ROOT) -> list[Path]:
    out = []
    for entry in PAGES:
        path = root / entry
        out += sorted(path.glob("*.md")) if path.is_dir() else [path]
    return out


def render(text: str) -> str:
    """The page with every reference block regenerated."""
    def block(m: re.Match) -> str:
        kind, name = m.group(2), m.group(3)
        if kind not in BLOCKS:
            raise UserError(f"unknown reference block kind {kind!r}; known: {', '.join(BLOCKS)}")
        return f"{m.group(1)}{BLOCKS[kind](name)}\n{m.group(5)}"
    return _BLOCK.sub(block, text)


def stale(root: Path = ROOT) -> list[str]:
    """The pages whose reference blocks differ from what the shipped references give."""
    return [str(p.relative_to(root)) for p in pages(root) if render(p.read_text(encoding="utf-8"))
            != p.read_text(encoding="utf-8")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.studies.reference", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ship", help="copy a finished folder's files into results/reference/*/")
    p.add_argument("name", choices=list(REFERENCES))
    p.add_argument("folder")
    p.add_argument("--commit", help="the commit of the code that made the folder")
    p = sub.add_parser("docs", help="rewrite the reference blocks of README.md and docs/")
    p.add_argument("--check", action="store_true", help="only report the pages that are out of date")
    args = parser.parse_args(argv)
    try:
        if args.what == "ship":
            print(ship(args.name, Path(args.folder), commit=args.commit))
            return 0
        if args.check:
            out = stale()
            for name in out:
                print(f"out of date: {name}")
            return 1 if out else 0
        for page in pages():
            text = page.read_text(encoding="utf-8")
            new = render(text)
            if new != text:
                page.write_text(new, encoding="utf-8")
                print(f"rewrote {page.relative_to(ROOT)}")
        return 0
    except UserError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
