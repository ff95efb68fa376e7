"""Sweep throughput: replicate-months per second for 1 and 2 workers (or those given), printed.

    python benchmarks/sweep.py [--points 4] [--replicates 2000] [--block-size 500]
                               [--engine vectorized] [--workers 1 2] [--scheduler local]

Each run is a fresh sweep of a grid over court.legitimacy0 on the synthetic default roster
(120 months) into a temporary folder. "blocks" is the rate while blocks run; "total" adds
process start-up and the assembly of runs.parquet and summary.csv. The outputs of every run are
checked to be byte-identical. CPU seconds (this process and its pool workers; not Dask's) show
the cost independently of other load on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import tempfile
import time
from pathlib import Path

CONFIG = """
[experiment]
name = "bench"
seed = 1
replicates = {replicates}
block_size = {block_size}
engine = "{engine}"
[sweep.grid]
"court.legitimacy0" = {values}
[outputs]
horizons = [24, 120]
"""


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (pool workers), load-independent."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=4)
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--block-size", type=int, default=500)
    ap.add_argument("--engine", default="vectorized")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--scheduler", default=None, help="also time a Dask run ('local' or an address)")
    args = ap.parse_args()
    # imported here, not at the top: spawned pool workers re-import this script and need none of it
    from sim.experiments.config import experiment_from_text
    from sim.experiments.layout import DATA_FILES
    from sim.studies.sweep import run_sweep

    values = [round(0.2 + 0.6 * i / max(1, args.points - 1), 4) for i in range(args.points)]
    exp = experiment_from_text(CONFIG.format(replicates=args.replicates, block_size=args.block_size,
                                             engine=args.engine, values=values), "bench")
    months = exp.n_points * exp.replicates * exp.base.horizon
    print(f"sweep: {exp.n_points} points x {exp.replicates} replicates x {exp.base.horizon} months "
          f"= {months:,} replicate-months in {len(exp.blocks())} blocks of {exp.block_size}, engine {exp.engine}")
    runs = [(w, None) for w in args.workers] + ([(max(args.workers), args.scheduler)] if args.scheduler else [])
    digests = set()
    for workers, scheduler in runs:
        with tempfile.TemporaryDirectory() as tmp:
            start, cpu0 = time.perf_counter(), cpu_seconds()
            manifest = run_sweep(exp, Path(tmp) / "out", workers=workers, scheduler=scheduler, quiet=True)
            total, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
            digests.add(tuple(hashlib.sha256((Path(tmp) / "out" / f).read_bytes()).hexdigest() for f in DATA_FILES))
        blocks = manifest["timings"]["sweep_seconds"]
        label = f"{workers} worker{'s' if workers > 1 else ''}" + (f", dask {scheduler}" if scheduler else "")
        print(f"{label:>22}: blocks {months / blocks:>10,.0f} replicate-months/s ({blocks:6.1f} s), "
              f"total {months / total:>10,.0f} replicate-months/s ({total:6.1f} s); "
              f"{cpu:6.1f} CPU-s, {months / cpu:>8,.0f} replicate-months per CPU-s")
    print("outputs byte-identical across runs:", "yes" if len(digests) == 1 else "NO")


if __name__ == "__main__":
    main()
