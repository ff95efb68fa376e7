"""Milliseconds per replicate and peak memory of the Mesa engine, the NumPy core and the fused kernel, in one run.

Synthetic roster, S = 193, F = 2, T = 120, default parameters; every measurement runs ``sim.simulate.run_rows``
in a fresh subprocess (so its peak resident memory, ru_maxrss, is its own; ``base`` is the process after
imports and a warm-up call that loads numba's cached kernel), with OpenBLAS on one thread and the fused
kernel on NUMBA_NUM_THREADS = 1 or 2. Times are wall clock and CPU (all threads of the process): on a
shared machine CPU seconds per replicate on one thread are the fair per-core figure.

The design rows run a Latin hypercube over eight parameters (every row its own values) with 1 and 25
replicates per point, against one point with the same number of replicates, all in one call.

It also measures where the fused engine's time goes on one thread (benchmarks/fused_profile.py: its parts,
each submodel of the month, each pass over the states beside the floor of a pass at cache speed), the share of
replicates whose outcomes differ between the engines on every parameter set of tests/test_protocol.py, and how
long the app's model (the Mesa engine with its event log and series) takes to step a month on the real roster.
``--save`` writes the whole report as JSON; ``--doc`` rewrites the generated blocks of docs/performance.md from
a saved report (tests/test_performance_doc.py checks that the page and results/reference/benchmark_engines.json
agree).

    python benchmarks/engines.py                # Mesa 1,000; NumPy core and fused at 1,000 / 10,000 / 100,000;
                                                # fused 10^6 on 2 threads; designs of 10,000 points (about 30 min)
    python benchmarks/engines.py --quick        # Mesa 100; 1,000 / 10,000; designs of 1,000 points (8 min)
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
CODE = os.environ.get("BENCHMARK_CODE", ROOT)  # the checkout whose package ``sim`` a measurement runs (--before)
for path in dict.fromkeys((ROOT, CODE)):
    if path not in sys.path:
        sys.path.insert(0, path)

DESIGN = {"arrest.intercept": (-6.0, -2.0), "arrest.duty": (1.0, 5.0), "court.legitimacy0": (0.2, 0.8),
          "prosecutor.pressure_decay": (0.01, 0.2), "prosecutor.outreach_budget": (0, 30),
          "states.withdrawal_rate": (0.0, 0.05), "court.defiance_loss": (0.0, 0.05),
          "home.turnover_rate": (0.0, 0.01)}  # eight parameters of the LHS design, each row its own values
STRAIGHTFORWARD_MESA_MS = (75.0, 177.0)  # the issues' measurements of a straightforward Mesa implementation
TARGET_TIMES = 600  # the fused kernel per core against that implementation (0.125 to 0.295 ms per replicate)
BEFORE = {"fused_ms": 0.29, "core_ratio": 2.3, "mesa_ms": 21.5}  # before the protocol (docs, run of 2026-12-01)
BEFORE_COMMIT = "f8d0306"  # main before this work: the protocol, its fused engine as first compiled (--before)
MESA_MS = 25.0  # the Mesa engine at the defaults, per replicate, at most
IDENTICAL_REPLICATES = 2000  # per parameter set of tests/test_protocol.py


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


def _in_subprocess(engine: str, threads: int, points: int, replicates: int, code: str | None = None) -> dict:
    """One measurement in a fresh process; ``code``: another checkout's package (the code before, --before)."""
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "BENCHMARK_CODE": code or ROOT}
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", engine, str(points), str(replicates)],
                         capture_output=True, text=True, check=True, cwd=code or ROOT, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    label = engine if engine != "fused" else f"fused, {threads} thread{'s' if threads > 1 else ''}"
    n = replicates * max(points, 1)
    return {"engine": label, "threads": threads, "points": points, "per_point": replicates, "rows": n,
            "load": load, "code": "before" if code else "this", **result}


def before_plan(quick: bool) -> list[tuple[str, int, int, int]]:
    """The measurements repeated on the code before (--before), each right after the same one on this code."""
    n = 1000 if quick else 10_000
    return [("mesa", 1, 0, 100 if quick else 300), ("vectorized", 1, 0, n), ("fused", 1, 0, n)]


def export_before(commit: str, folder: str) -> str:
    """The tree of ``commit`` exported into ``folder`` (git archive: no worktree, the repository untouched)."""
    target = os.path.join(folder, f"sim-{commit}")
    if not os.path.isdir(target):
        os.makedirs(target)
        archive = subprocess.run(["git", "-C", ROOT, "archive", commit], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return target


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


def profile() -> dict:
    """Where the fused engine's time goes on one thread (benchmarks/fused_profile.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fused_profile

    return fused_profile.profile()


def identical_shares(replicates: int = IDENTICAL_REPLICATES) -> dict[str, dict[str, float]]:
    """For every parameter set of tests/test_protocol.py: the share of replicates whose discrete outcomes (custody,
    month, route, every count) differ from the NumPy core's, in the fused and the Mesa engine (same seed), and the
    largest difference of the court's final legitimacy."""
    import numpy as np

    from sim import simulate
    from tests.test_protocol import SETS, SMALL, identical

    out = {}
    for name, values in SETS.items():
        size = {} if values.get("scenario.roster") == "real" else SMALL
        frames = {e: simulate({**size, **values}, replicates=replicates, seed=31, engine=e)
                  for e in ("vectorized", "fused", "mesa")}
        base = frames["vectorized"]
        out[name] = {}
        for engine in ("fused", "mesa"):
            out[name][engine] = float(1 - identical(frames[engine], base).mean())
            out[name][f"{engine} legitimacy"] = float(np.abs(frames[engine]["legitimacy_final"] -
                                                             base["legitimacy_final"]).max())
    return out


def app_steps(months: int = 60) -> dict:
    """Seconds per month of the app's model (the Mesa engine with its event log and series) on the real roster:
    the Ukraine 2023 scenario as the app builds it."""
    from sim.app.choices import AppModel, Choices
    from sim.app.scenarios import scenarios

    ukraine = next(o for o in scenarios() if o.source == "scenario_2023_ukraine.toml")
    start = time.perf_counter()
    model = AppModel(Choices(scenario=ukraine))
    build = time.perf_counter() - start
    steps = []
    for _ in range(min(months, model.params.horizon)):
        start = time.perf_counter()
        model.step()
        steps.append(time.perf_counter() - start)
    return {"scenario": ukraine.label, "states": int(model.roster.n_states), "build_s": build, "months": len(steps),
            "mean_s": sum(steps) / len(steps), "max_s": max(steps), "load": os.getloadavg()[0]}


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


def targets(report: dict) -> str:
    """The targets on this machine, each with the figure of this run."""
    results = report["results"]
    rows_ = ["| target | this run | |", "|---|---|---|"]
    largest = max((r["rows"] for r in results if r["engine"] == "vectorized" and r["points"] == 0), default=0)
    core, f1 = (_find(results, e, largest) for e in ("vectorized", ONE))
    mesa = _find(results, "mesa")

    def row(name: str, text: str, met: bool, partly: str = "") -> None:
        verdict = "**met**" if met else f"**{partly}**" if partly else "**not met**"
        rows_.append(f"| {name} | {text} | {verdict} |")

    if core and f1:
        x = _ms(core, "cpu_s") / _ms(f1, "cpu_s")
        row(f"fused ≥ {BEFORE['core_ratio']}x the NumPy core per core (as fast as before the protocol)",
            f"{x:.2f}x at R = {largest:,} (CPU per replicate, one thread)", x >= BEFORE["core_ratio"])
    if f1:
        lo, hi = STRAIGHTFORWARD_MESA_MS
        ms = _ms(f1, "cpu_s")
        row(f"fused ≥ {TARGET_TIMES}x a straightforward Mesa implementation per core ({lo:.0f}-{hi:.0f} ms, the "
            f"issues' figures: {lo / TARGET_TIMES:.3f}-{hi / TARGET_TIMES:.3f} ms per replicate)",
            f"{ms:.3f} ms per replicate: {lo / ms:.0f}-{hi / ms:.0f}x", lo / ms >= TARGET_TIMES,
            f"met against {hi:.0f} ms, not against {lo:.0f} ms" if hi / ms >= TARGET_TIMES else "")
    if mesa:
        m = _ms(mesa, "cpu_s")
        row(f"the Mesa engine at most {MESA_MS:.0f} ms per replicate at the defaults", f"{m:.1f} ms (CPU, load "
            f"{mesa['load']:.1f}; before the protocol {BEFORE['mesa_ms']} ms)", m <= MESA_MS)
    app = report.get("app")
    if app:
        row("the app steps a month in well under a second (real roster)",
            f"{1e3 * app['mean_s']:.0f} ms on average, {1e3 * app['max_s']:.0f} ms at most", app["max_s"] < 0.25)
    identical = report.get("identical")
    if identical:
        worst = max(max(s["fused"], s["mesa"]) for s in identical.values())
        row("on every set of tests/test_protocol.py, at most 1% of replicates differ between engines",
            f"at most {worst:.2%} ({report['identical_replicates']:,} replicates a set)", worst <= 0.01)
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


def before_after(report: dict) -> str:
    """Each figure on the code before (main at BEFORE_COMMIT, exported) and on this code, measured in pairs."""
    lines = [f"| figure (defaults) | before ({report.get('before_commit', '?')}) | after | load (before, after) |",
             "|---|---:|---:|---|"]
    pairs = {(p["this"]["engine"], p["this"]["rows"]): p for p in report.get("before", [])}
    names = {"fused, 1 thread": "fused engine, ms per replicate per core", "vectorized": "NumPy core, ms per replicate",
             "mesa": "Mesa engine, ms per replicate"}
    for (engine, n), pair in pairs.items():
        b, a = pair["before"], pair["this"]
        lines.append(f"| {names.get(engine, engine)} (R = {n:,}, CPU) | {_ms(b, 'cpu_s'):.4f} | {_ms(a, 'cpu_s'):.4f} "
                     f"| {b['load']:.1f}, {a['load']:.1f} |")
    fused, core = pairs.get(("fused, 1 thread", max((k[1] for k in pairs), default=0))), None
    core = next((p for (e, _), p in pairs.items() if e == "vectorized"), None)
    if fused and core:
        ratio = [_ms(core[k], "cpu_s") / _ms(fused[k], "cpu_s") for k in ("before", "this")]
        lines.append(f"| NumPy core / fused engine, per core | {ratio[0]:.2f}x | {ratio[1]:.2f}x | |")
    parts = report["profile"]["parts_ms"]
    lines.append(f"| a replicate's start (one thread; streams' NumPy variates, then the compiled ones) | "
                 f"{parts[START_NUMPY]:.4f} | {parts[START_COMPILED]:.4f} | {report['profile']['load']:.1f} |")
    return "\n".join(lines)


START_NUMPY = "start, streams' NumPy variates (sim.model.initial.draw)"
START_COMPILED = "start, compiled variates (sim.engines.fused.draws)"
MONTHS = "months (kernel.run_rows, 120 months)"


def bounds(report: dict) -> str:
    """What bounds the fused kernel: each submodel's time a month beside the floor of the passes it must make."""
    prof = report["profile"]
    horizon, ns = prof["horizon"], prof["passes_ns"]
    per_month = {k: 1e6 * v / horizon for k, v in prof["submodels_ms"].items()}  # ns per replicate-month
    exp_pass, stream, chain = (ns[k] for k in list(ns)[-3:])
    plans = prof["plans_per_month"]
    floor = {"outreach": 3 * exp_pass + 2 * stream, "trips": plans * chain, "norms": 2 * stream,
             "withdrawal": stream}  # the passes each submodel cannot avoid, at the speed of the floor's passes
    lines = ["| submodel | ns per replicate-month | its unavoidable passes at cache speed | ns |",
             "|---|---:|---|---:|"]
    what = {"outreach": "odds and two accused' weights (3 exp32 passes), their sum and the count above the floor",
            "trips": f"a running float32 sum per planned trip ({plans:.2f} a month at the defaults)",
            "norms": "the regional sums and the update (2 passes)", "withdrawal": "the candidates (1 pass)"}
    for name, t in per_month.items():
        lines.append(f"| {name} | {t:.0f} | {what.get(name, '')} | {floor[name]:.0f} |" if name in floor else
                     f"| {name} | {t:.0f} | | |")
    total, least = sum(per_month.values()), sum(floor.values())
    lines.append(f"| **the month** | **{total:.0f}** | **the floor** | **{least:.0f}** |")
    start = prof["parts_ms"][START_COMPILED]
    lines += ["", f"A replicate at the defaults: {1e3 * start:.0f} µs for its start and {total * horizon / 1e3:.0f} µs "
              f"for its {horizon} months on one thread; the floor of its months, {least * horizon / 1e3:.0f} µs."]
    return "\n".join(lines)


def profile_tables(prof: dict) -> str:
    lines = ["| part (one thread) | ms per replicate |", "|---|---:|"]
    lines += [f"| {name} | {ms:.4f} |" for name, ms in prof["parts_ms"].items()]
    months = prof["parts_ms"]["months (kernel.run_rows, 120 months)"]
    lines += ["", f"| submodel (one thread, {prof['horizon']} months) | ms per replicate | share of the months |",
              "|---|---:|---:|"]
    lines += [f"| {name} | {ms:.4f} | {ms / months:.0%} |" for name, ms in prof["submodels_ms"].items()]
    lines += ["", f"| pass over the S = {prof['states']} states of one replicate | ns per call |", "|---|---:|"]
    lines += [f"| {name} | {ns:.0f} |" for name, ns in prof["passes_ns"].items()]
    return "\n".join(lines)


def identical_table(shares: dict, replicates: int) -> str:
    lines = [f"| parameter set (tests/test_protocol.py) | fused: replicates that differ (of {replicates:,}) | "
             "Mesa: replicates that differ | largest legitimacy difference (fused, Mesa) |", "|---|---:|---:|---:|"]
    for name, s in shares.items():
        lines.append(f"| {name} | {s['fused']:.2%} | {s['mesa']:.2%} | {s['fused legitimacy']:.1e}, "
                     f"{s['mesa legitimacy']:.1e} |")
    return "\n".join(lines)


def app_text(app: dict) -> str:
    return (f"The app's model on the real roster ({app['scenario']}, {app['states']} states, event log and series "
            f"kept): built in {app['build_s']:.2f} s, then {1e3 * app['mean_s']:.1f} ms per month on average and "
            f"{1e3 * app['max_s']:.1f} ms at most over {app['months']} months (load {app['load']:.1f}).")


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
            "ratios": ratios(report["results"]), "targets": targets(report),
            "profile": profile_tables(report["profile"]),
            "identical": identical_table(report["identical"], report["identical_replicates"]),
            "app": app_text(report["app"]), "beforeafter": before_after(report), "bounds": bounds(report)}


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
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about eight minutes)")
    ap.add_argument("--profile", action="store_true", help="only where the fused engine's time goes")
    ap.add_argument("--save", metavar="JSON", help="write the report here")
    ap.add_argument("--doc", metavar="MD", help="rewrite this page's generated blocks (with --from)")
    ap.add_argument("--from", dest="source", metavar="JSON", help="a saved report")
    ap.add_argument("--one", nargs=3, metavar=("ENGINE", "POINTS", "REPLICATES"), help=argparse.SUPPRESS)
    ap.add_argument("--before", metavar="COMMIT", help=f"also measure the code of COMMIT (e.g. {BEFORE_COMMIT}), "
                    "exported with git archive, in pairs with this code")
    ap.add_argument("--before-folder", default="/tmp", help="where --before exports its tree (default /tmp)")
    ap.add_argument("--part", choices=("profile", "identical", "app"), help=argparse.SUPPRESS)
    ap.add_argument("--replicates", type=int, default=IDENTICAL_REPLICATES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), int(args.one[2]))))
        return 0
    if args.part:
        part = {"profile": profile, "identical": lambda: identical_shares(args.replicates), "app": app_steps}
        print(json.dumps(part[args.part]()))
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
    report["profile"] = {**_json_subprocess("--part", "profile"), "load": os.getloadavg()[0]}
    print("\n" + profile_tables(report["profile"]), flush=True)
    if args.profile:
        return 0
    report["app"] = _json_subprocess("--part", "app")
    print("\n" + app_text(report["app"]), flush=True)
    report["identical_replicates"] = 300 if args.quick else IDENTICAL_REPLICATES
    report["identical"] = _json_subprocess("--part", "identical", "--replicates", str(report["identical_replicates"]),
                                           threads=2)
    print("\n" + identical_table(report["identical"], report["identical_replicates"]) + "\n", flush=True)
    if args.before:
        code = export_before(args.before, args.before_folder)
        report["before_commit"], report["before"] = args.before, []
        for engine, threads, points, replicates in before_plan(args.quick):
            this = _in_subprocess(engine, threads, points, replicates)
            report["before"].append({"this": this, "before": _in_subprocess(engine, threads, points, replicates,
                                                                            code)})
        print("\n" + before_after(report) + "\n", flush=True)
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
