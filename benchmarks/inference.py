"""Seconds of neural posterior estimation's parts on the record's design, in one run: the training set (pseudo-records
simulated at prior draws), the training, SBC (sbi's run_sbc and check_sbc) and TARP (run_tarp and the bootstrap
band) over the checks' pseudo-records (simulated too), with the machine's load before and after.

The issue's target: the training set, SBC and TARP together under 15 minutes on 2 cores. The config's [npe]
settings are used unless overridden; the simulations run on ``--workers`` processes, torch on ``[npe] threads``.

    python benchmarks/inference.py                                   # experiments/calibration_npe.toml as shipped
    python benchmarks/inference.py --simulations 2000 --records 200  # a quick look (about 3 minutes)
    python benchmarks/inference.py --out results/benchmark_inference   # then ship it as the reference:
    python -m sim.studies.reference ship benchmark_inference results/benchmark_inference

docs/validation.md reads the shipped report (results/reference/benchmark_inference/benchmark.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace

FORMAT = "tribunal-sim benchmark"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def measure(config: str, simulations: int | None, records: int | None, workers: int, threads: int | None) -> dict:
    import numpy as np

    from sim.analysis.validation import tarp_table
    from sim.studies.calibration import npe
    from sim.studies.calibration.config import load_calibration
    from sim.studies.calibration.design import build_design
    from sim.studies.calibration.npe_folder import SBC_ID
    from sim.studies.calibration.study import workers_pool

    cal = load_calibration(config)
    assert cal.npe is not None, f"{config} is not an NPE calibration"
    settings = replace(cal.npe, **{k: v for k, v in (("simulations", simulations), ("threads", threads))
                                   if v is not None})
    cal = replace(cal, npe=settings)
    n = records or cal.checks.sbc_records
    design = build_design(cal.selection, cal.base)
    seconds: dict[str, float] = {}
    with workers_pool(workers) as pool:
        npe.simulate(cal, design, npe.prior_draws(cal.priors, 1, 8, npe.TRAIN_TAG), np.arange(8), workers=1)  # warm
        start = time.perf_counter()
        values, x = npe.training_set(cal, design, settings.simulations, workers=workers, pool=pool)
        seconds["training_set"] = time.perf_counter() - start
        start = time.perf_counter()
        trained = npe.train(cal.priors, values, x, settings, cal.seed)
        seconds["training"] = time.perf_counter() - start
        start = time.perf_counter()
        truths = npe.prior_draws(cal.priors, cal.seed, n, npe.SBC_TAG)
        xs = npe.simulate(cal, design, truths, SBC_ID + np.arange(n), workers=workers, pool=pool)
        seconds["checks_records"] = time.perf_counter() - start
    finite = np.isfinite(xs).all(axis=1)  # as the calibration folder does: records with finite summaries
    truths, xs = truths[finite], xs[finite]
    start = time.perf_counter()
    npe.sbc(trained, truths, xs, settings.sbc_draws)
    seconds["sbc"] = time.perf_counter() - start
    start = time.perf_counter()
    ecp, alpha, _, _ = npe.tarp(trained, truths, xs, settings.sbc_draws)
    tarp_table(ecp, alpha, len(xs), settings.tarp_bootstrap, seed=cal.seed)
    seconds["tarp"] = time.perf_counter() - start
    seconds["together"] = sum(seconds.values())
    shown = os.path.relpath(config, ROOT) if os.path.abspath(config).startswith(ROOT + os.sep) else config
    return {"config": shown, "simulations": settings.simulations, "records": n, "finite_records": len(xs),
            "draws": settings.sbc_draws,
            "epochs": len(trained.history), "workers": workers, "threads": settings.threads,
            "engine": cal.engine, "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "records_per_second": round(settings.simulations / seconds["training_set"], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(ROOT, "experiments", "calibration_npe.toml"))
    parser.add_argument("--simulations", type=int, help="training set size (default: the config's)")
    parser.add_argument("--records", type=int, help="pseudo-records of SBC and TARP (default: the config's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's)")
    parser.add_argument("--out", metavar="DIR", help="write DIR/benchmark.json and DIR/manifest.json (to ship as a "
                        "reference)")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    report = measure(args.config, args.simulations, args.records, args.workers, args.threads)
    report.update(load_before=[round(v, 2) for v in load], load_after=[round(v, 2) for v in os.getloadavg()],
                  cpus=os.cpu_count(), machine=platform.platform(), python=platform.python_version())
    print(json.dumps(report, indent=2))
    if args.out:
        from pathlib import Path

        from sim.experiments import store
        from sim.experiments.folders import MANIFEST
        from sim.experiments.provenance import manifest, now

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        store.write_json(out / "benchmark.json", {**report, "measured": now()})
        store.write_json(out / MANIFEST, manifest(FORMAT, {"timings": {"wall_seconds": report["seconds"]["together"],
                                                                       "workers": report["workers"]}},
                                                  config=None, folder=out, outputs=[out / "benchmark.json"]))
        print(f"written to {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
