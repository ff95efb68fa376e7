"""Milliseconds per replicate and peak memory of the Mesa engine, the NumPy core and the fused kernel, in one run.

Synthetic roster, S = 193, F = 2, T = 120, default parameters; every measurement runs ``sim.simulate.run_rows``
in a fresh subprocess (so its peak resident memory, ru_maxrss, is its own; ``base`` is the process after
imports and a warm-up call that loads numba's cached kernel), with OpenBLAS on one thread and the fused
kernel on NUMBA_NUM_THREADS = 1 or 2. Times are wall clock and CPU (all threads of the process): on a
shared machine CPU seconds per replicate on one thread are the fair per-core figure.

The design rows run a Latin hypercube over eight parameters (every row its own values) with 1 and 25
replicates per point, against one point with the same number of replicates, all in one call.

It also measures where the fused engine's time goes (one thread) and the share of replicates that the fused
kernel and the NumPy core give identically (same seed). ``--save`` writes the whole report as JSON;
``--doc`` rewrites the generated blocks of docs/performance.md from a saved report (tests/test_fused.py checks
that the page and results/reference/benchmark_engines.json agree).

    python benchmarks/engines.py                # Mesa 1,000; NumPy core and fused at 1,000 / 10,000 / 100,000;
                                                # fused 10^6 on 2 threads; designs of 10,000 points (about 15 min)
    python benchmarks/engines.py --quick        # Mesa 100; 1,000 / 10,000; designs of 1,000 points (3 min)
    python benchmarks/engines.py --profile      # only where the fused engine's time goes
    python benchmarks/engines.py --save results/reference/benchmark_engines.json
    python benchmarks/engines.py --doc docs/performance.md --from results/reference/benchmark_engines.json
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DESIGN = {"arrest.intercept": (-6.0, -2.0), "arrest.duty": (1.0, 5.0), "court.legitimacy0": (0.2, 0.8),
          "prosecutor.pressure_decay": (0.01, 0.2), "prosecutor.outreach_budget": (0, 30),
          "states.withdrawal_rate": (0.0, 0.05), "court.defiance_loss": (0.0, 0.05),
          "home.turnover_rate": (0.0, 0.01)}  # eight parameters of the LHS design, each row its own values
STRAIGHTFORWARD_MESA_MS = (75.0, 90.0)  # the measurement of a straightforward Mesa implementation


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rows(points: int, replicates: int):
    """The rows of a run: one point with ``replicates`` replicates (points = 0), or an LHS design of ``points``
    points with ``replicates`` each."""
    import numpy as np

    from sim.model.params import Params

    if points == 0:
        return {0: Params()}, np.zeros(replicates, np.int64), np.arange(replicates)
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(DESIGN), seed=7).random(points)
    design = {}
    for k, u in enumerate(unit):
        values = {}
        for (name, (lo, hi)), x in zip(DESIGN.items(), u):
            values[name] = round(lo + x * (hi - lo)) if isinstance(lo, int) else float(lo + x * (hi - lo))
        design[k] = Params(values)
    return design, np.repeat(np.arange(points), replicates), np.tile(np.arange(replicates), points)


def measure(engine: str, points: int, replicates: int) -> dict:
    """Run once in this process: seconds, CPU seconds, peak RSS before and after."""
    from sim.simulate import run_rows

    design, point, replicate = rows(points, replicates)
    run_rows({0: design[0]}, [0, 0], [0, 1], 0, engine=engine)  # imports, numba's cache, warm-up
    base = _rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    run_rows(design, point, replicate, 1, engine=engine)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "rss_base_mib": base, "rss_peak_mib": _rss_mib()}


def _in_subprocess(engine: str, threads: int, points: int, replicates: int) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", engine, str(points), str(replicates)],
                         capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    label = engine if engine != "fused" else f"fused, {threads} thread{'s' if threads > 1 else ''}"
    n = replicates * max(points, 1)
    return {"engine": label, "threads": threads, "points": points, "per_point": replicates, "rows": n,
            "load": load, **result}


def plan(quick: bool) -> list[tuple[str, int, int, int]]:
    """(engine, threads, design points (0: one point), replicates per point) of every measurement, in order;
    each design right after the one point it is compared with, so that both meet the same load."""
    sizes = [1000, 10_000] if quick else [1000, 10_000, 100_000]
    points = 1000 if quick else 10_000
    steps = [("mesa", 1, 0, 100 if quick else 1000)]
    for n in sizes:
        steps += [("vectorized", 1, 0, n), ("fused", 1, 0, n), ("fused", 2, 0, n)]
    if not quick:
        steps.append(("fused", 2, 0, 10**6))
    steps += [("vectorized", 1, 0, points), ("vectorized", 1, points, 1), ("fused", 1, 0, points),
              ("fused", 1, points, 1), ("fused", 2, 0, points), ("fused", 2, points, 1),
              ("fused", 2, 0, 25 * points), ("fused", 2, points, 25)]
    return steps


def profile(replicates: int = 4096, rounds: int = 5) -> dict:
    """CPU time per replicate of the fused engine's parts on one thread (best of ``rounds``), and what each
    of the kernel's passes over the states costs per call on the defaults' arrays."""
    import numba
    import numpy as np

    from sim.engines.fused import engine, kernel
    from sim.engines.vectorized.engine import run as numpy_core
    from sim.engines.vectorized.world import Layout, World
    from sim.model.batch import Batch
    from sim.model.params import Params

    numba.set_num_threads(1)
    batch = Batch.of({0: Params()}, np.zeros(replicates, np.int64), np.arange(replicates), 1)
    layout = Layout.of(batch)
    engine.run(Batch.of({0: Params()}, [0], [0], 1))
    best: dict[str, float] = {}

    def timed(name, f, *args):
        start = time.process_time()
        out = f(*args)
        best[name] = min(best.get(name, np.inf), (time.process_time() - start) / replicates)
        return out

    for _ in range(rounds):
        w = timed("initial state (World: Beta draws of ODD §5.3, NumPy)", World, layout, batch, slice(0, replicates))
        timed("months (the kernel, 120 months)", engine.run_world, w, None)
        timed("fused engine, total", engine.run, batch)
        timed("NumPy core, total", numpy_core, batch)
    return {"parts_ms": {name: 1e3 * sec for name, sec in best.items()}, "passes_ns": kernel_parts(w, kernel),
            "replicates": replicates}


def kernel_parts(w, kernel, calls: int = 100_000) -> dict[str, float]:
    """ns per call of the kernel's passes, each in a compiled loop over one row of ``w``."""
    import numba
    import numpy as np

    from sim.engines.fused.engine import row_parameters

    f32, k, s = np.float32, kernel, w.layout.n_states
    arrays = (row_parameters(w.p, w.n)[0], w.standing[0], w.compliance[0], np.full(s, 0.2, f32), w.capacity[0],
              w.appeal[0], np.empty(s, f32), np.empty(s, f32), np.empty(s, f32), np.empty(s, np.int64))

    @numba.njit
    def passes(n, part, row_params, standing, compliance, pressure, capacity, appeal, odds, weights, cum, targets):
        coef = k._coefficients(row_params)
        k._odds(coef, standing, compliance, pressure, f32(0.5), odds)
        k._weights(appeal, capacity, odds, f32(2.718), False, f32(0.2), f32(100.0), weights)
        total = 0.0
        for c in range(n):
            legitimacy = f32(0.5) + f32(c * 1e-9)
            if part == 0:
                k._odds(coef, standing, compliance, pressure, legitimacy, odds)
            elif part == 1:
                k._weights(appeal, capacity, odds, f32(2.718) + legitimacy, False, f32(0.2), f32(100.0), weights)
            elif part == 2:
                weights[c % weights.size] += f32(1e-7)
                total += k.R.outreach_targets_one(weights, 10, targets)
            elif part == 3:
                total += k._draw(weights, (c % 1000) / 1000, cum)
            else:
                total += k._sum(compliance, 0, compliance.size)
        return total

    names = ("odds against arrest (_odds: 1 exp per state)", "one accused's destination weights (_weights)",
             "top-10 outreach targets (outreach_targets_one)", "destination draw (_draw: running sum, search)",
             "regional sum of compliance (_sum, vectorised)")
    out = {}
    for part, name in enumerate(names):
        passes(10, part, *arrays)
        start = time.process_time()
        passes(calls, part, *arrays)
        out[name] = 1e9 * (time.process_time() - start) / calls
    return out


def identical_shares(replicates: int) -> dict[str, float]:
    """Share of replicates whose every outcome the fused kernel and the NumPy core give identically (same seed)."""
    from sim import simulate

    sets = {"defaults": {},
            "sealed, high legitimacy": {"prosecutor.sealed_share": 1.0, "court.legitimacy0": 0.9,
                                        "prosecutor.unseal_rate": 0.02},
            "v1.3 mechanisms on": {"states.withdrawal_rate": 0.05, "states.accession_rate": 0.05,
                                   "home.detain_prob": 0.5, "prosecutor.timed_share": 0.3,
                                   "home.fallen_at_issue": 0.2, "home.detained_surrender_rate": 0.1,
                                   "prosecutor.sealed_share": 0.5}}
    out = {}
    for name, values in sets.items():
        a, b = (simulate(values, replicates=replicates, seed=9, engine=e) for e in ("fused", "vectorized"))
        same = None
        for c in a.columns:
            x, y = (f[c].astype(object).fillna(-1).to_numpy() for f in (a, b))
            same = (x == y) if same is None else same & (x == y)
        out[name] = float(same.reshape(replicates, -1).all(axis=1).mean())
    return out


def machine() -> dict:
    info = {"cpu": platform.processor() or "", "logical_cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info.update(cpu=fields.get("Model name", info["cpu"]), family=fields.get("CPU family", ""),
                    model=fields.get("Model", ""), cores=fields.get("Core(s) per socket", ""),
                    threads_per_core=fields.get("Thread(s) per core", ""), l2=fields.get("L2 cache", ""),
                    avx512="avx512f" in fields.get("Flags", ""))
    except (OSError, subprocess.CalledProcessError):
        pass
    import numba
    import numpy

    info.update(numpy=numpy.__version__, numba=numba.__version__)
    return info


def _ms(r: dict, key: str) -> float:
    return 1e3 * r[key] / r["rows"]


def _design(r: dict) -> str:
    return "one point" if r["points"] == 0 else f"{r['points']:,} points x {r['per_point']}"


def table(results: list[dict]) -> str:
    lines = ["| engine | design | rows | wall s | CPU s | ms/rep wall | ms/rep CPU | peak RSS MiB (base) | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['engine']} | {_design(r)} | {r['rows']:,} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                     f"{_ms(r, 'wall_s'):.4f} | {_ms(r, 'cpu_s'):.4f} | {r['rss_peak_mib']:.0f} "
                     f"({r['rss_base_mib']:.0f}) | {r['load']:.1f} |")
    return "\n".join(lines)


def _find(results: list[dict], engine: str, rows_: int | None = None, points: int = 0,
          per_point: int | None = None) -> dict | None:
    hits = [r for r in results if r["engine"] == engine and r["points"] == points
            and (rows_ is None or r["rows"] == rows_) and (per_point is None or r["per_point"] == per_point)]
    return hits[-1] if hits else None


ONE, TWO = "fused, 1 thread", "fused, 2 threads"


def ratios(results: list[dict]) -> str:
    """The ratios of one run: per core (CPU per replicate, one thread) and wall clock on two threads."""
    lines = [("| R | NumPy core / fused, per core (CPU) | fused 2 threads / 1 thread (wall) | "
              "NumPy core / fused 2 threads (wall) | Mesa / fused, per core | Mesa / fused 2 threads (wall) |"),
             "|---:|---:|---:|---:|---:|---:|"]
    mesa = _find(results, "mesa")
    for n in sorted({r["rows"] for r in results if r["engine"] == "vectorized" and r["points"] == 0}):
        core, f1, f2 = _find(results, "vectorized", n), _find(results, ONE, n), _find(results, TWO, n)
        if not (core and f1 and f2 and mesa):
            continue
        m = _ms(mesa, "cpu_s")
        lines.append(f"| {n:,} | {_ms(core, 'cpu_s') / _ms(f1, 'cpu_s'):.2f} | "
                     f"{_ms(f1, 'wall_s') / _ms(f2, 'wall_s'):.2f} | {_ms(core, 'wall_s') / _ms(f2, 'wall_s'):.2f} | "
                     f"{m / _ms(f1, 'cpu_s'):.0f} | {m / _ms(f2, 'wall_s'):.0f} |")
    lines += ["", "| design | engine | ms/rep wall | one point, same rows | design / one point |",
              "|---|---|---:|---:|---:|"]
    for r in results:
        same = _find(results, r["engine"], r["rows"], 0) if r["points"] else None
        if same:
            lines.append(f"| {_design(r)} | {r['engine']} | {_ms(r, 'wall_s'):.4f} | {_ms(same, 'wall_s'):.4f} | "
                         f"{_ms(r, 'wall_s') / _ms(same, 'wall_s'):.2f} |")
    return "\n".join(lines)


def targets(results: list[dict]) -> str:
    """The fused kernel's targets on this machine, each with the figure of this run."""
    rows_ = ["| target | this run | |", "|---|---|---|"]
    largest = max((r["rows"] for r in results if r["engine"] == "vectorized" and r["points"] == 0), default=0)
    core, f1, f2 = (_find(results, e, largest) for e in ("vectorized", ONE, TWO))
    mesa = _find(results, "mesa")

    def row(name: str, text: str, met: bool, on_two: bool = False) -> None:
        verdict = "**met**" if met else "**met on 2 threads (wall), not per core**" if on_two else "**not met**"
        rows_.append(f"| {name} | {text} | {verdict} |")

    if core and f1:
        x = _ms(core, "cpu_s") / _ms(f1, "cpu_s")
        row("fused ≥ 2x the NumPy core per core", f"{x:.2f}x at R = {largest:,} (CPU per replicate, one thread)",
            x >= 2)
    if f1 and f2:
        lo, hi = STRAIGHTFORWARD_MESA_MS
        per_core = (lo / _ms(f1, "cpu_s"), hi / _ms(f1, "cpu_s"))
        wall = (lo / _ms(f2, "wall_s"), hi / _ms(f2, "wall_s"))
        row(f"fused ≥ 400x a straightforward Mesa implementation ({lo:.0f}-{hi:.0f} ms, the issue's figure)",
            f"{per_core[0]:.0f}-{per_core[1]:.0f}x per core; {wall[0]:.0f}-{wall[1]:.0f}x on 2 threads (wall)",
            min(per_core) >= 400, min(wall) >= 400)
        if mesa:
            m = _ms(mesa, "cpu_s")
            row("(the same against this project's Mesa engine)",
                f"{m:.1f} ms per replicate: {m / _ms(f1, 'cpu_s'):.0f}x per core, "
                f"{m / _ms(f2, 'wall_s'):.0f}x on 2 threads (wall)", m / _ms(f1, "cpu_s") >= 400,
                m / _ms(f2, "wall_s") >= 400)
    million = _find(results, TWO, 10**6)
    if million:
        row("10^6 replicates in under 4 minutes on 2 cores", f"{million['wall_s']:.0f} s "
            f"({million['wall_s'] / 60:.1f} min), peak RSS {million['rss_peak_mib']:.0f} MiB",
            million["wall_s"] < 240)
    for r in results:
        same = _find(results, r["engine"], r["rows"], 0) if r["points"] and r["per_point"] == 1 else None
        if same:
            x = _ms(r, "wall_s") / _ms(same, "wall_s")
            row(f"a {r['points']:,}-point x 1 design within 1.3x of one {r['rows']:,}-replicate point ({r['engine']})",
                f"{x:.2f}x (wall per replicate; load {r['load']:.1f} against {same['load']:.1f})", x <= 1.3)
    big = [r for r in results if r["engine"].startswith("fused") and r["rows"] == 100_000 and r["points"] == 0]
    if big:
        peak = max(r["rss_peak_mib"] for r in big)
        row("memory for 10^5 replicates within 1 GiB", f"peak RSS {peak:.0f} MiB (1 and 2 threads)", peak <= 1024)
    return "\n".join(rows_)


def profile_tables(prof: dict) -> str:
    lines = ["| part (one thread) | ms/replicate |", "|---|---:|"]
    lines += [f"| {name} | {ms:.4f} |" for name, ms in prof["parts_ms"].items()]
    lines += ["", "| pass over the S = 192 states of one row | ns per call |", "|---|---:|"]
    lines += [f"| {name} | {ns:.0f} |" for name, ns in prof["passes_ns"].items()]
    return "\n".join(lines)


def identical_table(shares: dict, replicates: int) -> str:
    lines = [f"| parameter set | replicates identical to the NumPy core (of {replicates:,}) |", "|---|---:|"]
    lines += [f"| {name} | {share:.4%} |" for name, share in shares.items()]
    return "\n".join(lines)


def machine_text(report: dict) -> str:
    m = report["machine"]
    return (f"{m['cpu']} (lscpu: family {m.get('family', '?')}, model {m.get('model', '?')}; "
            f"{'AVX-512' if m.get('avx512') else 'no AVX-512'}), {m.get('cores', '?')} cores "
            f"({m.get('threads_per_core', '?')} thread each), L2 {m.get('l2', '?')}; Python {m['python']}, "
            f"NumPy {m['numpy']}, numba {m['numba']}. Run {report['date']}, load average "
            f"{report['load_start']:.1f} at the start and {report['load_end']:.1f} at the end.")


def blocks(report: dict) -> dict[str, str]:
    """The generated blocks of docs/performance.md, from a report."""
    return {"machine": machine_text(report), "results": table(report["results"]),
            "ratios": ratios(report["results"]), "targets": targets(report["results"]),
            "profile": profile_tables(report["profile"]),
            "identical": identical_table(report["identical"], report["identical_replicates"])}


def update_doc(path: str, report: dict) -> None:
    import re
    from pathlib import Path

    text = Path(path).read_text(encoding="utf-8")
    for name, block in blocks(report).items():
        pattern = re.compile(rf"(<!-- benchmark:{name}:begin -->\n).*?(\n<!-- benchmark:{name}:end -->)", re.DOTALL)
        if not pattern.search(text):
            raise SystemExit(f"{path} has no block benchmark:{name}")
        text = pattern.sub(lambda m, b=block: m.group(1) + b + m.group(2), text)
    Path(path).write_text(text, encoding="utf-8")


def _json_subprocess(*args: str, threads: int = 1) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about three minutes)")
    ap.add_argument("--profile", action="store_true", help="only where the fused engine's time goes")
    ap.add_argument("--save", metavar="JSON", help="write the report here")
    ap.add_argument("--doc", metavar="MD", help="rewrite this page's generated blocks (with --from)")
    ap.add_argument("--from", dest="source", metavar="JSON", help="a saved report")
    ap.add_argument("--one", nargs=3, metavar=("ENGINE", "POINTS", "REPLICATES"), help=argparse.SUPPRESS)
    ap.add_argument("--profile-json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--identical-json", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), int(args.one[2]))))
        return 0
    if args.profile_json:
        print(json.dumps(profile()))
        return 0
    if args.identical_json:
        print(json.dumps(identical_shares(args.identical_json)))
        return 0
    if args.doc:
        if not args.source:
            ap.error("--doc needs --from JSON")
        with open(args.source, encoding="utf-8") as f:
            update_doc(args.doc, json.load(f))
        return 0
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "load_start": os.getloadavg()[0],
              "quick": args.quick}
    print(machine_text({**report, "load_end": report["load_start"]}), flush=True)
    report["profile"] = _json_subprocess("--profile-json")
    print("\n" + profile_tables(report["profile"]), flush=True)
    if args.profile:
        return 0
    report["identical_replicates"] = 2000 if args.quick else 10_000
    report["identical"] = _json_subprocess("--identical-json", str(report["identical_replicates"]), threads=2)
    print("\n" + identical_table(report["identical"], report["identical_replicates"]) + "\n", flush=True)
    results: list[dict] = []
    for engine, threads, points, replicates in plan(args.quick):
        results.append(_in_subprocess(engine, threads, points, replicates))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    report["results"], report["load_end"] = results, os.getloadavg()[0]
    for name in ("results", "ratios", "targets"):
        print("\n" + blocks(report)[name])
    if args.save:
        with open(args.save, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
