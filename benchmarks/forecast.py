"""One situation's forecast, timed: draws x replicates through the fused engine, as `python -m sim forecast` runs it.

    python benchmarks/forecast.py [CONFIG] [--draws 400] [--replicates 400] [--engine fused] [--out DIR]

CONFIG defaults to experiments/forecast_2023_ukraine.toml (the Ukraine warrants to the end of 2035: 153 months).
A small forecast runs first, so numba's compiled kernel is loaded from its cache before the clock starts;
then the whole forecast (config, record to date, runs, conditioning, counts, tables, fan charts, manifest) is
timed into a temporary folder. Reported: wall seconds of each phase and in all, CPU seconds (this process, every
thread: independent of other load on the machine, and divided by the cores an estimate of the wall time on an
idle machine), the cores and numba threads, and the load average before and after (other work on a shared
machine slows the wall time, not the CPU time). With --out DIR the report is written as DIR/benchmark.json with
a manifest, to ship as the reference ``benchmark_forecast`` (docs/forecasts.md reads it):

    python benchmarks/forecast.py --out results/benchmark_forecast
    python -m sim.studies.reference ship benchmark_forecast results/benchmark_forecast
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMAT = "tribunal-sim benchmark"


def cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def measure(config: Path, draws: int, replicates: int, engine: str) -> dict:
    from sim.studies.forecast.config import forecast_from_text
    from sim.studies.forecast.study import plan_outputs, run_forecast

    text = config.read_text(encoding="utf-8")
    settings = {"draws": draws, "replicates": replicates, "engine": f'"{engine}"'}
    lines = [f"{line.split('=')[0].strip()} = {settings[line.split('=')[0].strip()]}"
             if line.split("=")[0].strip() in settings else line for line in text.splitlines()]
    text = "\n".join(lines) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        warm = forecast_from_text(text.replace(f"draws = {draws}", "draws = 2")
                                  .replace(f"replicates = {replicates}", "replicates = 40"), str(config))
        run_forecast(warm, plan_outputs(Path(tmp) / "warm", warm, False))  # numba's cache loaded, imports done
        load0 = os.getloadavg()
        start, cpu0 = time.perf_counter(), cpu_seconds()
        fc = forecast_from_text(text, str(config))
        loaded = time.perf_counter() - start
        doc, warnings = run_forecast(fc, plan_outputs(Path(tmp) / "out", fc, False))
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
        load1 = os.getloadavg()
    t = doc["timings"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import numba

        threads = numba.get_num_threads()
    except ImportError:
        threads = None
    return {"config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
            "draws": draws, "replicates": replicates, "rows": t["rows"], "count_rows": t["count_rows"],
            "engine": engine, "months": fc.horizons[-1], "accused": len(fc.persons),
            "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "idle_wall_estimate_seconds": round(cpu / max(1, cores or 1), 1),
            "phases": {"config_and_record_seconds": round(loaded, 2), "run_seconds": t["run_seconds"],
                       "counts_seconds": t["counts_seconds"], "compute_seconds": t["compute_seconds"],
                       "tables_figures_manifest_seconds": round(t["wall_seconds"] - t["compute_seconds"], 2)},
            "cores": cores, "numba_threads": threads, "load_average_before": [round(x, 2) for x in load0],
            "load_average_after": [round(x, 2) for x in load1], "warnings": warnings,
            "consistent_share": doc["results"]["consistent_share"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default=str(ROOT / "experiments" / "forecast_2023_ukraine.toml"))
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--replicates", type=int, default=400)
    ap.add_argument("--engine", default="fused")
    ap.add_argument("--out", help="write DIR/benchmark.json and DIR/manifest.json (to ship as a reference)")
    args = ap.parse_args()
    report = measure(Path(args.config).resolve(), args.draws, args.replicates, args.engine)
    p = report["phases"]
    print(f"{report['config']}: {report['draws']} draws x {report['replicates']} replicates = {report['rows']:,} "
          f"replicates of {report['months']} months ({report['accused']} accused), engine {report['engine']}, "
          f"{report['cores']} cores, {report['numba_threads']} numba threads")
    print(f"  wall {report['wall_seconds']:.1f} s (config and record {p['config_and_record_seconds']:.1f} s, runs "
          f"{p['run_seconds']:.1f} s, counts {p['counts_seconds']:.1f} s, tables, figures and manifest "
          f"{p['tables_figures_manifest_seconds']:.1f} s); CPU {report['cpu_seconds']:.1f} s, "
          f"{report['idle_wall_estimate_seconds']:.1f} s of wall on {report['cores']} idle cores")
    print(f"  load average {report['load_average_before']} before, {report['load_average_after']} after")
    if args.out:
        from sim.experiments import store
        from sim.experiments.folders import MANIFEST
        from sim.experiments.provenance import manifest, now

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        store.write_json(out / "benchmark.json", {**report, "measured": now()})
        store.write_json(out / MANIFEST, manifest(FORMAT, {"timings": {"wall_seconds": report["wall_seconds"],
                                                                       "workers": report["cores"]}},
                                                  config=None, folder=out, outputs=[out / "benchmark.json"]))
        print(f"written to {out}/")


if __name__ == "__main__":
    main()
