"""Seconds per replicate and peak memory of the Mesa engine and the vectorized core (issue 3).

Synthetic roster, S = 193, F = 2, T = 120, default parameters. Every measurement runs in a fresh
subprocess so its peak resident memory (ru_maxrss) is its own; times are wall-clock and CPU
(process) seconds: on a shared machine CPU seconds are the fairer per-core figure. Then the
same replicates in blocks on two worker processes (concurrent.futures), for throughput.

    python benchmarks/engines.py                 # Mesa 30 replicates; vectorized 1,000 / 10,000 / 100,000
    python benchmarks/engines.py --quick         # Mesa 5; vectorized 1,000 / 10,000
    python benchmarks/engines.py --profile       # CPU time per submodel of the vectorized core, per replicate
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(engine: str, replicates: int, block_size: int, seed: int = 1) -> dict:
    """Run once in this process; seconds, CPU seconds and peak RSS (before and after the run)."""
    from sim import simulate

    simulate({"scenario.horizon_months": 2}, replicates=2, seed=0, engine=engine)  # imports, warm-up
    base = _rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    simulate(None, replicates=replicates, seed=seed, engine=engine, block_size=block_size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"engine": engine, "replicates": replicates, "wall_s": wall, "cpu_s": cpu,
            "rss_base_mib": base, "rss_peak_mib": _rss_mib()}


def _block(args):
    from sim.model.params import Params
    from sim.model.seeding import child_seed, root_seed
    from sim.simulate import run_block

    b, n, seed = args
    return run_block(Params(), child_seed(root_seed(seed), b), n, "vectorized").n_replicates


def measure_parallel(replicates: int, block_size: int, workers: int, seed: int = 1) -> dict:
    """Whole blocks of one run spread over ``workers`` processes (the sweep executors' pattern)."""
    from sim.simulate import block_sizes

    jobs = [(b, n, seed) for b, n in enumerate(block_sizes(replicates, block_size))]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_block, [(0, 2, seed)] * workers))  # start the workers and import in each
        wall = time.perf_counter()
        done = sum(pool.map(_block, jobs))
        wall = time.perf_counter() - wall
    return {"engine": f"vectorized x{workers} processes", "replicates": done, "wall_s": wall, "cpu_s": float("nan"),
            "rss_base_mib": float("nan"), "rss_peak_mib": float("nan")}


PROFILED = ("regime_change", "plans", "outreach", "_weigh", "_top", "_boost", "trips", "_turn_weights", "_draw",
            "unseal", "norm_dynamics", "withdrawal_hazards", "withdrawal", "drift")


def profile(replicates: int = 1000, rounds: int = 3) -> str:
    """CPU seconds per replicate in each submodel of sim.engines.vectorized.step (one chunk, best of ``rounds``).

    Functions starting with "_" are parts of the submodel listed above them (outreach: _weigh,
    _top, _boost; trips: _turn_weights, _draw), so the column does not add up to the total.
    """
    import numpy as np

    import sim.engines.vectorized.step as step
    from sim.engines.vectorized.world import Setup, World
    from sim.model.params import Params

    original = {name: getattr(step, name) for name in PROFILED}
    best: dict[str, float] = {}
    try:
        for r in range(rounds):
            spent = dict.fromkeys(("initialisation", "total", *PROFILED), 0.0)

            def timed(name, f, spent=spent):
                def run(*args, **kwargs):
                    start = time.process_time()
                    out = f(*args, **kwargs)
                    spent[name] += time.process_time() - start
                    return out
                return run

            for name in PROFILED:
                setattr(step, name, timed(name, original[name]))
            setup = Setup.build(Params())
            rng = np.random.default_rng(r)
            start = time.process_time()
            world = World(setup, rng, replicates)
            spent["initialisation"] = time.process_time() - start
            for t in range(setup.params.horizon):
                step.step(world, setup, rng, t)
            spent["total"] = time.process_time() - start
            best = {k: min(v, best.get(k, v)) for k, v in spent.items()}
    finally:
        for name, f in original.items():
            setattr(step, name, f)
    total = best["total"]
    lines = [f"{'submodel':<22}{'ms/replicate':>14}{'share':>8}", "-" * 44]
    for name, sec in best.items():
        indent = "  " if name.startswith("_") else ""
        lines.append(f"{indent + name:<22}{1e3 * sec / replicates:>14.4f}{100 * sec / total:>7.0f}%")
    return "\n".join(lines)


def _in_subprocess(*args: str) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", *args], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def table(rows: list[dict], mesa_per_rep: float) -> str:
    head = (f"{'engine':<26}{'replicates':>11}{'wall s':>9}{'cpu s':>9}{'ms/rep wall':>13}{'ms/rep cpu':>12}"
            f"{'Mesa/this (cpu)':>17}{'peak RSS MiB':>14}{'(base)':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        per_wall, per_cpu = 1e3 * r["wall_s"] / r["replicates"], 1e3 * r["cpu_s"] / r["replicates"]
        per = per_cpu if per_cpu == per_cpu else per_wall
        lines.append(f"{r['engine']:<26}{r['replicates']:>11,}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}{per_wall:>13.4f}"
                     f"{per_cpu:>12.4f}{mesa_per_rep / per:>17.0f}{r['rss_peak_mib']:>14.0f}"
                     f"{r['rss_base_mib']:>8.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute, not ten)")
    ap.add_argument("--mesa", type=int, default=None, help="Mesa replicates (default 30, quick 5)")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="vectorized replicate counts")
    ap.add_argument("--block-size", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="CPU time per submodel of the vectorized core")
    ap.add_argument("--one", nargs=3, metavar=("ENGINE", "REPLICATES", "BLOCK"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.profile:
        print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M')}; load average {os.getloadavg()[0]:.2f}")
        print(f"vectorized core, one chunk of 1,000 replicates, S=193, F=2, T=120, best of 3\n\n{profile()}")
        return 0
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), int(args.one[2]))))
        return 0
    mesa_n = args.mesa or (5 if args.quick else 30)
    sizes = args.sizes or ([1000, 10_000] if args.quick else [1000, 10_000, 100_000])
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M')}; load average {os.getloadavg()[0]:.2f}")
    print("model: synthetic roster S=193, F=2, T=120, default parameters\n")
    rows = [_in_subprocess("mesa", str(mesa_n), str(args.block_size))]
    rows += [_in_subprocess("vectorized", str(n), str(args.block_size)) for n in sizes]
    parallel_n = sizes[min(1, len(sizes) - 1)]
    rows.append(measure_parallel(parallel_n, args.block_size, args.workers))
    mesa_per_rep = 1e3 * rows[0]["cpu_s"] / rows[0]["replicates"]
    print(table(rows, mesa_per_rep))
    single = next(r for r in rows if r["engine"] == "vectorized" and r["replicates"] == parallel_n)
    print(f"\nthroughput at R={parallel_n:,}: {single['replicates'] / single['wall_s']:,.0f} replicates/s in one "
          f"process, {rows[-1]['replicates'] / rows[-1]['wall_s']:,.0f} replicates/s in {args.workers} processes "
          f"(wall clock; load average now {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
