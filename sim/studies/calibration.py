"""``python -m sim calibrate CONFIG``: rejection ABC of chosen parameters against the court's record.

Each prior draw k is simulated like point k of a sweep (blocks seeded from
SeedSequence(seed, spawn_key=(k, block))), so results do not depend on --workers. The draws
nearest to the targets (share ``accept``) form the posterior. See docs/validation.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from sim.analysis import inference as abc
from sim.analysis.metrics import wilson_interval
from sim.analysis.style import ROUTE_COLORS, rc
from sim.analysis.survival import survival_curve
from sim.data.tables import CUSTODY_ROUTES, load_table
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.config import (
    DEFAULT_BLOCK_SIZE,
    check_table,
    check_tables,
    model_overrides,
    parse_toml,
    read_config_text,
    whole_number,
)
from sim.experiments.provenance import config_record, manifest
from sim.model.params import Params, suggest
from sim.model.seeding import child_seed
from sim.simulate import block_sizes, check_engine

TABLES = ("calibration", "scenario", "parameters", "priors", "targets")
CALIBRATION_KEYS = ("name", "description", "seed", "draws", "replicates", "accept", "engine", "block_size")
TARGET_KEYS = ("source", "kinds", "nationality_party", "months", "censor_date", "exclude", "routes", "metric",
               "route_weight", "replicates", "follow_up", "truth")
PRIOR_TAG = 0x414243  # "ABC": keeps the prior draws' stream apart from the simulations' (draw, block) streams
TARGET_TAG = 0x544754  # "TGT": the synthetic record of source = "model"


@dataclass(frozen=True)
class Targets:
    """What the model is compared with: the selection of warrants (or a synthetic record) and the distance."""

    source: str
    months: tuple[int, ...]
    metric: str
    route_weight: float
    kinds: tuple[str, ...] = ("warrant",)
    nationality_party: tuple[str, ...] = ("no",)
    routes: dict[str, str] = field(default_factory=dict)
    censor_date: str | None = None
    exclude: tuple[str, ...] = ()
    replicates: int = 0  # source = "model": replicates of the synthetic record
    follow_up: tuple[int, int] = (0, 0)  # source = "model": follow-up months drawn uniformly in [low, high]
    truth: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Calibration:
    """A validated calibration config."""

    name: str
    description: str
    seed: int
    draws: int
    replicates: int
    accept: float
    engine: str
    block_size: int
    base: Params
    priors: tuple[abc.Prior, ...]
    targets: Targets
    text: str
    sha256: str
    source: str

    @property
    def n_accepted(self) -> int:
        return max(2, int(round(self.accept * self.draws)))


# --- config ------------------------------------------------------------------------------------------

def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration config; every problem is a one-line UserError."""
    return calibration_from_text(read_config_text(path), str(path))


def calibration_from_text(text: str, source: str = "config") -> Calibration:
    return calibration_from_doc(parse_toml(text, source), text, source)


_int = whole_number


def _number(value: Any, label: str, low: float, high: float, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{label} must be a number, got {value!r}")
    if value < low or value > high or (open_low and value == low):
        raise UserError(f"{label} = {value} is out of range {'(' if open_low else '['}{low:g}, {high:g}]")
    return float(value)


def _strings(value: Any, label: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise UserError(f"{label} must be a list of text values, got {value!r}")
    for v in value:
        if allowed is not None and v not in allowed:
            raise UserError(f"{label}: unknown value '{v}'{suggest(v, allowed)}; allowed: {', '.join(allowed)}")
    return tuple(value)


def calibration_from_doc(doc: dict[str, Any], text: str, source: str) -> Calibration:
    sweep_hint = "it is an experiment config; run it with `python -m sim sweep`"
    check_tables(doc, source, TABLES, {"calibration": CALIBRATION_KEYS, "targets": TARGET_KEYS},
                 {"experiment": sweep_hint, "sweep": sweep_hint, "outputs": sweep_hint})
    cal = check_table(doc.get("calibration", {}), "[calibration]", CALIBRATION_KEYS)
    name = cal.get("name", Path(source).stem)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise UserError(f"[calibration] name must be a folder name, got {name!r}")
    engine = cal.get("engine", "vectorized")
    check_engine(engine, "[calibration] engine")
    base = Params(model_overrides({k: doc[k] for k in ("scenario", "parameters") if k in doc}))
    priors_doc = doc.get("priors")
    if not isinstance(priors_doc, dict) or not priors_doc:
        raise UserError(f"{source} needs a [priors] table naming at least one parameter, e.g. "
                        "\"arrest.intercept\" = {dist = \"uniform\", low = -8, high = 0}")
    priors = tuple(abc.make_prior(n, s) for n, s in _flatten_priors(priors_doc).items())
    for p in priors:  # every prior bound must give valid parameters (e.g. consistency of lists)
        for v in (p.low, p.high):
            try:
                abc.apply_draw(base, [p], [v])
            except UserError as exc:
                raise UserError(f"[priors] \"{p.name}\" = {v:g}: {exc}") from None
    draws = _int(cal.get("draws", 1000), "[calibration] draws", 10)
    accept = _number(cal.get("accept", 0.05), "[calibration] accept", 0.0, 1.0, open_low=True)
    if round(accept * draws) < 2:
        raise UserError(f"[calibration] accept = {accept} keeps fewer than 2 of {draws} draws; raise either")
    return Calibration(
        name=name, description=str(cal.get("description", "")), seed=_int(cal.get("seed", 0), "[calibration] seed", 0),
        draws=draws, replicates=_int(cal.get("replicates", 100), "[calibration] replicates", 1), accept=accept,
        engine=engine, block_size=_int(cal.get("block_size", DEFAULT_BLOCK_SIZE), "[calibration] block_size", 1),
        base=base, priors=priors, targets=_targets(doc.get("targets", {}), base, priors), text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), source=source)


def _flatten_priors(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Priors as quoted dotted names, or nested tables: [priors.arrest] intercept = {...}."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not ({"dist", "low", "high", "a", "b"} & set(value)):
            out.update(_flatten_priors(value, name))
        else:
            out[name] = value
    return out


def _targets(node: Any, base: Params, priors: tuple[abc.Prior, ...]) -> Targets:
    t = check_table(node, "[targets]", TARGET_KEYS)
    source = t.get("source", "record")
    if source not in ("record", "model"):
        raise UserError(f"[targets] source must be 'record' (the warrants table) or 'model' (a synthetic record "
                        f"from [targets.truth]), got {source!r}")
    given = t.get("months", [1, 6, 12, 24, 60, 120])
    if not isinstance(given, list) or not given:
        raise UserError(f"[targets] months must be a non-empty list of whole months, got {given!r}")
    try:
        months = [whole_number(m, "[targets] months") for m in given]
    except UserError:
        raise UserError(f"[targets] months must be a non-empty list of whole months, got {given!r}") from None
    if any(not 1 <= m <= base.horizon for m in months) or len(set(months)) < len(months):
        raise UserError(f"[targets] months {months} must be distinct and within 1..{base.horizon} "
                        "(scenario.horizon_months); raise the horizon or drop the later months")
    metric = t.get("metric", "sup")
    if metric not in abc.METRICS:
        raise UserError(f"[targets] metric must be one of {', '.join(abc.METRICS)}, got {metric!r}")
    common = dict(source=source, months=tuple(sorted(months)), metric=metric,
                  route_weight=_number(t.get("route_weight", 1.0), "[targets] route_weight", 0.0, 1e6))
    record_keys = ("kinds", "nationality_party", "censor_date", "exclude", "routes")
    model_keys = ("replicates", "follow_up", "truth")
    for key in model_keys if source == "record" else record_keys:
        if key in t:
            raise UserError(f"[targets] {key} has no meaning with source = '{source}'; remove it")
    if source == "model":
        truth_doc = t.get("truth")
        if not isinstance(truth_doc, dict):
            raise UserError("[targets] source = 'model' needs a [targets.truth] table of the true values")
        truth = {k: float(v) for k, v in _flatten_priors(truth_doc).items()}
        if set(truth) != {p.name for p in priors}:
            raise UserError(f"[targets.truth] must give exactly the calibrated parameters "
                            f"{', '.join(p.name for p in priors)}")
        for p in priors:
            if not p.low <= truth[p.name] <= p.high:
                raise UserError(f"[targets.truth] {p.name} = {truth[p.name]:g} lies outside its prior {p.text()}")
        follow = t.get("follow_up", [base.horizon, base.horizon])
        if isinstance(follow, list):
            follow = [int(v) if isinstance(v, float) and v.is_integer() else v for v in follow]
        if (not isinstance(follow, list) or len(follow) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in follow)
                or not 0 <= follow[0] <= follow[1] <= base.horizon):
            raise UserError(f"[targets] follow_up must be [low, high] whole months within 0..{base.horizon}, "
                            f"got {follow!r}")
        return Targets(**common, replicates=_int(t.get("replicates", 100), "[targets] replicates", 1),
                       follow_up=(follow[0], follow[1]), truth=truth)
    routes = t.get("routes", {"arrested_by_third_state": "arrested_by_host",
                              "transferred_after_regime_change": "domestic_surrender",
                              "arrested_by_territorial_state": "domestic_surrender",
                              "self_surrender": "censor", "other": "censor"})
    check_table(routes, "[targets.routes]", CUSTODY_ROUTES)
    for key, value in routes.items():
        if value not in abc.ROUTE_TARGETS:
            raise UserError(f"[targets.routes] {key} = {value!r}: map it to one of {', '.join(abc.ROUTE_TARGETS)}")
    censor = t.get("censor_date")
    if censor is not None:
        if isinstance(censor, dt.date):
            censor = censor.isoformat()
        try:
            dt.date.fromisoformat(str(censor))
        except ValueError:
            raise UserError(f"[targets] censor_date must be a date YYYY-MM-DD, got {censor!r}") from None
    return Targets(**common, kinds=_strings(t.get("kinds", ["warrant"]), "[targets] kinds", ("warrant", "summons")),
                   nationality_party=_strings(t.get("nationality_party", ["no"]), "[targets] nationality_party",
                                              ("yes", "no")),
                   routes=dict(routes), censor_date=None if censor is None else str(censor),
                   exclude=_strings(t.get("exclude", []), "[targets] exclude"))


# --- running ------------------------------------------------------------------------------------------

def target_sample(cal: Calibration) -> pd.DataFrame:
    """The record (or synthetic record) the model is compared with, one row per warrant."""
    t = cal.targets
    if t.source == "record":
        warrants = load_table("warrants")
        censor = dt.date.fromisoformat(t.censor_date) if t.censor_date else abc.data_date(warrants)
        return abc.record_sample(warrants, t.kinds, t.nationality_party, t.routes, censor, t.exclude)
    from sim.simulate import simulate

    truth = abc.apply_draw(cal.base, cal.priors, [t.truth[p.name] for p in cal.priors])
    seed = np.random.SeedSequence([TARGET_TAG, cal.seed])
    frame = simulate(truth, replicates=t.replicates, seed=child_seed(seed, 0), engine=cal.engine)
    rng = np.random.default_rng(child_seed(seed, 1))
    follow = rng.integers(t.follow_up[0], t.follow_up[1] + 1, size=len(frame)).astype(float)
    sample = abc.model_sample(frame, truth.horizon, follow)
    sample.insert(0, "accused", frame["accused"].to_numpy())
    sample.insert(0, "replicate", frame["replicate"].to_numpy())
    return sample


def prior_draws(cal: Calibration) -> np.ndarray:
    """(draws, parameters) values from the priors, one stream per parameter from SeedSequence([tag, seed])."""
    seed = np.random.SeedSequence([PRIOR_TAG, cal.seed])
    return np.column_stack([p.sample(np.random.default_rng(child_seed(seed, i)), cal.draws)
                            for i, p in enumerate(cal.priors)])


def _tasks(cal: Calibration, values: np.ndarray):
    from sim.experiments.executors import Task

    sizes = block_sizes(cal.replicates, cal.block_size)
    return [Task(abc.apply_draw(cal.base, cal.priors, values[k]), cal.seed, k, b, n, b * cal.block_size,
                 cal.engine) for k in range(cal.draws) for b, n in enumerate(sizes)]


def simulate_draws(cal: Calibration, values: np.ndarray, workers: int | None, quiet: bool
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Survival curves (draws, horizon + 1) and host shares (draws,) of every prior draw."""
    from sim.experiments.executors import execute

    tasks = _tasks(cal, values)
    n_blocks = len(block_sizes(cal.replicates, cal.block_size))
    parts: dict[int, list[pd.DataFrame]] = {}
    curves = np.empty((cal.draws, cal.base.horizon + 1))
    shares = np.empty(cal.draws)
    bar = tqdm(total=cal.draws, desc=f"calibrate {cal.name}", unit="draw", disable=quiet or not sys.stderr.isatty(),
               file=sys.stderr)
    try:
        for task, frame, _ in execute(tasks, workers):
            parts.setdefault(task.point, []).append(frame.assign(_block=task.block))
            if len(parts[task.point]) == n_blocks:
                whole = pd.concat(parts.pop(task.point)).sort_values(["_block", "replicate", "accused"])
                curves[task.point], shares[task.point] = abc.model_curve(whole, cal.base.horizon)
                bar.update(1)
    finally:
        bar.close()
    return curves, shares


@dataclass
class Result:
    draws: pd.DataFrame  # one row per prior draw: values, distance, accepted, summaries
    curves: np.ndarray
    target: abc.Summary
    sample: pd.DataFrame
    summary: pd.DataFrame
    seconds: float


def run_calibration(cal: Calibration, workers: int | None = None, quiet: bool = True) -> Result:
    """Draw from the priors, simulate each draw, keep the nearest ``accept`` share."""
    start = time.perf_counter()
    sample = target_sample(cal)
    target = abc.summarise_sample(sample, cal.targets.months)
    values = prior_draws(cal)
    curves, shares = simulate_draws(cal, values, workers, quiet)
    months = list(cal.targets.months)
    dist = np.array([abc.distance(curves[k, months], shares[k], target, cal.targets.route_weight,
                                  cal.targets.metric) for k in range(cal.draws)])
    order = np.lexsort((np.arange(cal.draws), dist))  # ties broken by draw index: deterministic
    accepted = np.zeros(cal.draws, dtype=bool)
    accepted[order[: cal.n_accepted]] = True
    draws = pd.DataFrame({"draw": np.arange(cal.draws, dtype=np.int64)})
    for i, p in enumerate(cal.priors):
        draws[p.name] = values[:, i]
    draws["distance"] = dist
    draws["accepted"] = accepted
    draws["host_share"] = shares
    for m in months:
        draws[f"surv_{m}"] = curves[:, m]
    return Result(draws, curves, target, sample, abc.posterior_summary(draws, cal.priors), 
                  time.perf_counter() - start)


# --- figures ------------------------------------------------------------------------------------------

ACCEPTED_COLOR = ROUTE_COLORS["arrested_by_host"]
PRIOR_COLOR = "#BBBBBB"
TRUTH_COLOR = "#D55E00"


def pairs_figure(draws: pd.DataFrame, priors: tuple[abc.Prior, ...], truth: dict[str, float] | None) -> Figure:
    """Histograms (diagonal) and scatter plots (below) of the accepted draws over the prior draws."""
    k = len(priors)
    size = max(3.2, 2.1 * k)
    fig = Figure(figsize=(size, size), dpi=200, layout="constrained")
    axes = fig.subplots(k, k, squeeze=False)
    acc = draws[draws["accepted"]]
    for i, pi in enumerate(priors):
        for j, pj in enumerate(priors):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                bins = np.linspace(pi.low, pi.high, 21)
                ax.hist(draws[pi.name], bins=bins, density=True, color=PRIOR_COLOR, label="prior draws")
                ax.hist(acc[pi.name], bins=bins, density=True, color=ACCEPTED_COLOR, alpha=0.75, label="accepted")
                ax.set_yticks([])
                if truth:
                    ax.axvline(truth[pi.name], color=TRUTH_COLOR, lw=1.2, label="true value")
            else:
                ax.scatter(draws[pj.name], draws[pi.name], s=2, color=PRIOR_COLOR, linewidths=0, rasterized=True)
                ax.scatter(acc[pj.name], acc[pi.name], s=5, color=ACCEPTED_COLOR, linewidths=0)
                if truth:
                    ax.plot(truth[pj.name], truth[pi.name], marker="x", color=TRUTH_COLOR, ms=6, mew=1.5)
                ax.set_ylim(pi.low, pi.high)
                if j == 0:
                    ax.set_ylabel(pi.name)
            ax.set_xlim(pj.low, pj.high)
            if i == k - 1:
                ax.set_xlabel(pj.name)
    axes[0, 0].legend(loc="upper right", fontsize=6)
    fig.suptitle(f"Posterior: {len(acc):,} accepted of {len(draws):,} prior draws")
    return fig


def predictive_figure(sample: pd.DataFrame, curves: np.ndarray, shares: np.ndarray, cal: Calibration,
                      target: abc.Summary) -> Figure:
    """The model's survival band (accepted draws) over the record's Kaplan-Meier curve; route shares beside."""
    fig = Figure(figsize=(7.0, 3.4), dpi=200, layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3.2, 1]})
    record = "synthetic record" if cal.targets.source == "model" else "court's record"
    until = int(min(cal.base.horizon, np.ceil(sample["time_months"].max())))
    km = survival_curve(sample["time_months"].to_numpy(), sample["event"].to_numpy(), until)
    months = np.arange(cal.base.horizon + 1)
    low, mid, high = np.quantile(curves, [0.05, 0.5, 0.95], axis=0)
    left.fill_between(months, low, high, step="post", color=ACCEPTED_COLOR, alpha=0.25, linewidth=0,
                      label="model, 90% of accepted draws")
    left.step(months, mid, where="post", color=ACCEPTED_COLOR, label="model, median")
    left.fill_between(km["month"], km["surv_low"], km["surv_high"], step="post", color="#000000", alpha=0.10,
                      linewidth=0, label="record, 95% interval")
    left.step(km["month"], km["surv"], where="post", color="#000000", label=f"{record} (Kaplan-Meier)")
    left.plot(list(cal.targets.months), target.surv, "o", color="#000000", ms=3.5, label="targets")
    left.set_xlim(0, cal.base.horizon)
    left.set_ylim(0, 1.02)
    left.set_xlabel("months since the warrant")
    left.set_ylabel("share not yet in custody")
    left.legend(loc="lower left", fontsize=6.5)
    ok = np.isfinite(shares)
    right.boxplot(shares[ok], positions=[1], widths=0.5, showfliers=False, patch_artist=True,
                  boxprops={"facecolor": ACCEPTED_COLOR, "alpha": 0.35}, medianprops={"color": ACCEPTED_COLOR})
    host = int(round(target.host_share * target.events)) if np.isfinite(target.host_share) else 0
    lo, hi = wilson_interval(host, target.events)
    right.errorbar([0], [target.host_share], yerr=[[target.host_share - lo[()]], [hi[()] - target.host_share]],
                   fmt="o", color="#000000", capsize=3)
    right.set_xticks([0, 1], ["record", "model"])
    right.set_xlim(-0.6, 1.6)
    right.set_ylim(0, 1)
    right.set_ylabel("share of custody by a host abroad")
    fig.suptitle(f"Posterior predictive: {len(curves):,} accepted draws × {cal.replicates:,} replicates "
                 f"× {cal.base.n_accused} accused\n"
                 f"{record}: {target.n} warrants, {target.events} taken into custody")
    return fig


# --- outputs ------------------------------------------------------------------------------------------

def plan_outputs(folder: Path, cal: Calibration, force: bool) -> store.Plan:
    """Check the folder before anything runs: it may be new, empty or this calibration's own earlier
    results; anything else needs ``force`` (and then only the tool's own files there are replaced)."""
    claim = store.Claim(store.CALIBRATION_FORMAT, cal.name, cal.sha256, (*store.CALIBRATION_FILES, store.MANIFEST))
    plan = store.plan(folder, claim, force=force)
    needed = cal.draws * (64 + 8 * len(cal.priors)) + cal.n_accepted * (cal.base.horizon + 1) * 24 + (4 << 20)
    store.check_space(plan, needed, "the posterior, curves and figures")
    return plan


check_folder = plan_outputs


def write_outputs(cal: Calibration, result: Result, plan: store.Plan, workers: int | None) -> dict[str, Any]:
    """posterior.parquet, curves.parquet, summary.csv, targets.csv, the two figures and manifest.json."""
    store.claim(plan)
    folder = plan.folder
    store.write_parquet(folder / store.POSTERIOR, result.draws)
    acc = np.flatnonzero(result.draws["accepted"].to_numpy())
    months = np.arange(cal.base.horizon + 1)
    curves = pd.DataFrame({"draw": np.repeat(acc, len(months)).astype(np.int64),
                           "month": np.tile(months, len(acc)).astype(np.int64),
                           "surv": result.curves[acc].reshape(-1)})
    store.write_parquet(folder / store.CURVES, curves)
    store.write_csv(folder / store.SUMMARY, result.summary)
    store.write_csv(folder / store.TARGETS, result.sample)
    truth = cal.targets.truth or None
    with rc():
        for name, fig in ((store.PAIRS, pairs_figure(result.draws, cal.priors, truth)),
                          (store.PREDICTIVE, predictive_figure(result.sample, result.curves[acc],
                                                               result.draws.loc[acc, "host_share"].to_numpy(),
                                                               cal, result.target))):
            store.atomic_write(folder / name,
                               lambda tmp, fig=fig: fig.savefig(tmp, format="png", metadata={"Software": None}))
    sections = {
        "calibration": {"name": cal.name, "description": cal.description, "seed": cal.seed, "draws": cal.draws,
                        "replicates": cal.replicates, "accept": cal.accept, "accepted": cal.n_accepted,
                        "engine": cal.engine, "block_size": cal.block_size, "method": "rejection ABC"},
        "priors": [{"name": p.name, "dist": p.dist, "low": p.low, "high": p.high, "a": p.a, "b": p.b}
                   for p in cal.priors],
        "targets": {"source": cal.targets.source, "months": list(cal.targets.months),
                    "metric": cal.targets.metric, "route_weight": cal.targets.route_weight,
                    "survival": [float(x) for x in result.target.surv],
                    "host_share": result.target.host_share, "warrants": result.target.n,
                    "events": result.target.events},
        "parameters": cal.base.to_dict(),
        "seeds": {"seed": cal.seed,
                  "priors": f"parameter i: default_rng(SeedSequence([{PRIOR_TAG}, seed], spawn_key=(i,)))",
                  "draw": "draw k is simulated as point k of a sweep: replicate r from its stream (seed, k, r)",
                  "synthetic_record": f"SeedSequence([{TARGET_TAG}, seed], spawn_key=(0,)) runs, (1,) follow-up"},
        "timings": {"seconds": round(result.seconds, 3), "workers": workers},
    }
    doc = manifest(store.CALIBRATION_FORMAT, sections, config=config_record(cal.text, cal.source), folder=folder,
                   outputs=[folder / name for name in store.CALIBRATION_FILES])
    store.write_json(folder / store.MANIFEST, doc)
    return doc


__all__ = ["load_calibration", "plan_outputs", "run_calibration", "write_outputs"]
