"""The comparison study: the base and its alternatives as points of one sweep on common random numbers,
then the paired differences in the probability of custody (paired.csv) and their figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.metrics import ALL
from sim.analysis.paired import paired_difference
from sim.experiments import store
from sim.experiments.comparison import BASE, Comparison
from sim.experiments.folders import MANIFEST
from sim.experiments.layout import PAIRED, figure_files
from sim.experiments.provenance import output_hashes
from sim.experiments.results import load_results
from sim.studies.figures import draw
from sim.studies.sweep import run_sweep

PAIRING = ("each replicate runs on the same streams under the base and every alternative (common random "
           "numbers); differences are alternative - base, with Newcombe's paired interval and, for comparison, "
           "the unpaired Newcombe interval (statsmodels); variance_ratio = unpaired / paired variance")


def paired_table(comparison: Comparison, runs: pd.DataFrame) -> pd.DataFrame:
    """Every alternative against the base: per accused (and all) and horizon, the paired difference."""
    exp = comparison.experiment
    base = runs[runs["point"] == 0].assign(point=0)
    parts = []
    for k, alt in enumerate(comparison.alternatives, start=1):
        mine = runs[runs["point"] == k].assign(point=0)
        table = paired_difference(base, mine, list(exp.horizons), by=("accused",))
        parts.append(table.assign(alternative=alt.name))
    table = pd.concat(parts, ignore_index=True)
    return table[["alternative", *(c for c in table.columns if c != "alternative")]]


def run_comparison(comparison: Comparison, folder: Path, *, workers: int | None = None, scheduler: str | None = None,
                   resume: bool = False, force: bool = False, quiet: bool = False) -> pd.DataFrame:
    """Run the points, write paired.csv and the figure, record them in the manifest; return the table."""
    exp = comparison.experiment
    run_sweep(exp, folder, workers=workers, scheduler=scheduler, resume=resume, force=force, quiet=quiet,
              figures=False, pending=[PAIRED, *figure_files(["paired"])])
    table = paired_table(comparison, load_results(folder).runs)
    store.write_csv(folder / PAIRED, table)
    manifest: dict[str, Any] = store.read_json(folder / MANIFEST) or {}
    manifest["comparison"] = {**comparison.record(), "pairing": PAIRING}
    manifest.setdefault("outputs", {}).update(output_hashes(folder, [folder / PAIRED]))
    store.write_json(folder / MANIFEST, manifest)  # the figure reads a verified paired.csv
    figures = draw(folder, ["paired"])
    manifest["outputs"].update(output_hashes(folder, figures))
    manifest.pop("pending", None)
    store.write_json(folder / MANIFEST, manifest)
    return table


def report(table: pd.DataFrame, folder: Path) -> str:
    """A few lines for the terminal: each alternative's difference by the longest horizon, every accused."""
    h = int(table["horizon"].max())
    lines = [f"paired differences (alternative - {BASE}) in the probability of custody by month {h} -> "
             f"{folder / PAIRED}"]
    for _, r in table[table["horizon"] == h].iterrows():
        who = "all" if r["accused"] == ALL else str(r["accused"])
        lines.append(f"  {r['alternative']:<20} accused {who:<4} {r['p_base']:.3f} -> {r['p_alt']:.3f}: "
                     f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}] "
                     f"(unpaired [{r['unpaired_low']:+.3f}, {r['unpaired_high']:+.3f}], "
                     f"variance ratio {r['variance_ratio']:.3g})")
    return "\n".join(lines)
