"""How fast the sweep explorer opens a large folder: seconds per step, printed.

    python benchmarks/explorer.py [--rows 100000 1000000] [--replicates 1000]

For each size, a synthetic results folder (an LHS-like design over three parameters, two accused,
random outcomes: the numbers mean nothing, the file sizes and layout are a sweep's) is written to a
temporary folder with the sweep's own writers; then it is opened as the explorer does: load_results
(checks runs.parquet without reading it), the first page rendered in-process (summary outcome,
heatmap, one point's Kaplan-Meier curves), an outcome computed from runs (share arrested abroad: four
columns read), and one point's runs read alone (a row-group filter).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NAMES = ["states.sovereignty_member", "court.legitimacy0", "arrest.intercept"]


def write_folder(folder: Path, rows: int, replicates: int, seed: int = 1) -> None:
    from sim.analysis.metrics import summarize
    from sim.experiments.blocks import write_runs
    from sim.experiments.store import write_csv, write_parquet
    from sim.model.outcomes import Outcomes

    rng = np.random.default_rng(seed)
    n_points = rows // (2 * replicates)
    points = pd.DataFrame({"point": np.arange(n_points), NAMES[0]: rng.uniform(0.1, 0.9, n_points),
                           NAMES[1]: rng.uniform(0.2, 0.8, n_points), NAMES[2]: rng.uniform(-6, -2, n_points)})
    shape = (replicates, 2)
    blocks = []
    (folder / "blocks").mkdir(parents=True)
    for p in range(n_points):  # one block file per point, as a sweep writes them
        month = rng.geometric(0.01, shape) - 1
        month = np.where(month < 120, month, -1)
        o = Outcomes.of(custody_month=month, route=np.where(month >= 0, rng.choice([1, 2], shape), 0),
                        trips=rng.poisson(50, shape), trips_to_members=rng.poisson(9, shape),
                        trips_cancelled=rng.poisson(3, shape), detained_month=np.full(shape, -1),
                        trips_at_issue=np.zeros(shape, int), accessions=np.zeros(replicates, int),
                        findings=rng.poisson(5, replicates), withdrawals=rng.poisson(1.6, replicates),
                        members_final=rng.integers(100, 116, replicates), legitimacy_final=rng.random(replicates))
        frame = o.frame().assign(point=p)
        path = folder / "blocks" / f"p{p:05d}.parquet"
        write_parquet(path, frame[["point", *[c for c in frame.columns if c != "point"]]])
        blocks.append(path)
    write_runs(folder / "runs.parquet", blocks)
    write_parquet(folder / "points.parquet", points)
    runs = pd.read_parquet(folder / "runs.parquet")
    write_csv(folder / "summary.csv", summarize(runs, [24, 60, 120]))
    (folder / "manifest.json").write_text(json.dumps({"swept": NAMES, "experiment": {"sampler": "lhs"},
                                                      "parameters": {"scenario.horizon_months": 120}}))


def timed(label: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"  {label:<58} {time.perf_counter() - start:7.3f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--replicates", type=int, default=1000, help="per point; one block (row group) per point")
    args = parser.parse_args()
    import solara

    from sim.app import exploration as ex
    from sim.app import explorer
    from sim.experiments.results import load_results

    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "big"
            write_folder(folder, rows, args.replicates)
            size = (folder / "runs.parquet").stat().st_size / 2**20
            print(f"{rows:,} rows of runs.parquet ({size:.1f} MiB), {rows // (2 * args.replicates):,} points")
            results = timed("load_results (runs.parquet checked, not read)", lambda f=folder: load_results(f))
            os.environ[explorer.FOLDER_ENV] = str(folder)
            explorer.loaded.cache_clear()
            explorer.values_of.cache_clear()
            timed("first page: load, heatmap, one point's Kaplan-Meier",
                  lambda: solara.render(solara.AppLayout(children=[explorer.Page()]), handle_error=False))
            measure = next(m for m in ex.measures(results.summary.columns, results.runs_columns)
                           if m.key == "p_arrested_by_host_120")
            timed("share arrested abroad by month 120 from runs (4 columns)",
                  lambda r=results, m=measure: ex.point_values(r, m, "0"))
            timed("one point's runs (row-group filter)", lambda r=results: r.read_runs(ex.KM_COLUMNS, points=[7]))


if __name__ == "__main__":
    main()
