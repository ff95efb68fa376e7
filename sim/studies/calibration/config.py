"""Calibration configs (TOML): what is calibrated against which part of the record, how, and the checks."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.analysis.inference import TRAVEL_STATS, Prior, make_prior
from sim.errors import UserError
from sim.experiments.config import check_table, model_overrides, parse_toml, read_config_text
from sim.model.params import BY_NAME, Params, split_name, suggest
from sim.simulate import DEFAULT_ENGINE, check_engine
from sim.studies.calibration.design import FINDING_TYPES, Selection, TurnoverClass

TABLES = ("calibration", "design", "parameters", "priors", "summaries", "checks", "truth")
CALIBRATION_KEYS = ("name", "description", "seed", "engine", "particles", "generations", "batch", "min_acceptance",
                    "kernel_scaling")
DESIGN_KEYS = ("kinds", "roles", "censor_date", "exclude", "partners", "trip_rate", "finding_types", "turnover",
               "travel_roles")
SUMMARY_KEYS = ("months", "travel")
CHECK_KEYS = ("predictive_draws", "out_of_sample", "oos_replicates", "sbc_records", "sbc_particles",
              "sbc_generations")
ROLES = ("government", "non_state", "other")
# Twice Silverman's bandwidth: with Silverman's own, the importance weights of nine-parameter populations
# degenerate (effective sample size 3-9 of 100 in SBC fits) and their intervals undercover.
KERNEL_SCALING = 2.0


@dataclass(frozen=True)
class Checks:
    """The honesty checks run with a calibration (and the simulation-based calibration's cheaper settings)."""

    predictive_draws: int = 200
    out_of_sample: str | None = "2019-01-01"
    oos_replicates: int = 100  # replicates per draw and run, from which those consistent with the state at the cut
    sbc_records: int = 200
    sbc_particles: int = 150
    sbc_generations: int = 4


@dataclass(frozen=True)
class Calibration:
    """A validated calibration config."""

    name: str
    description: str
    seed: int
    engine: str
    particles: int
    generations: int
    batch: int
    min_acceptance: float
    kernel_scaling: float  # the SMC's proposal kernel: this many times Silverman's bandwidth
    base: Params
    priors: tuple[Prior, ...]
    selection: Selection
    months: tuple[int, ...]
    checks: Checks
    travel: tuple[str, ...] = ()  # the travel record's statistics (sim.analysis.inference.TRAVEL_STATS)
    truth: dict[str, float] = field(default_factory=dict)  # a synthetic record from these values (recovery)
    text: str = ""
    sha256: str = ""
    source: str = ""


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration config; every problem is a one-line UserError."""
    return calibration_from_text(read_config_text(path), str(path))


def calibration_from_text(text: str, source: str = "config") -> Calibration:
    doc = parse_toml(text, source)
    if "calibration" not in doc:
        other = ("`python -m sim sensitivity`" if "sensitivity" in doc else
                 "`python -m sim sweep`" if {"experiment", "sweep", "outputs"} & set(doc) else None)
        hint = f"; it looks like a config for {other}" if other else ""
        raise UserError(f"{source} has no [calibration] table: it is not a calibration config{hint} (`python -m sim "
                        "calibrate` takes one like experiments/calibration.toml)")
    for key, value in doc.items():
        if key not in TABLES:
            raise UserError(f"unknown table [{key}] in {source}{suggest(key, TABLES)}; a calibration config has "
                            f"{', '.join(TABLES)}")
        if not isinstance(value, dict):
            raise UserError(f"[{key}] in {source} must be a table, got {key} = {value!r}")
    cal = check_table(doc["calibration"], "[calibration]", CALIBRATION_KEYS)
    name = cal.get("name", Path(source).stem)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise UserError(f"[calibration] name must be a folder name, got {name!r}")
    base = _base(doc.get("parameters", {}))
    priors = _priors(doc.get("priors"), source)
    fixed = model_overrides({"parameters": doc.get("parameters", {})})
    both = [p.name for p in priors if any(split_name(n)[0] == p.name for n in fixed)]
    if both:
        raise UserError(f"[parameters] and [priors] both set {both[0]}; keep one of them (a calibrated parameter "
                        "takes its values from its prior)")
    selection = _selection(doc.get("design", {}))
    if selection.turnover and any(p.name == "home.turnover_rate" for p in priors):
        raise UserError("[priors] \"home.turnover_rate\": [design.turnover] sets each home's hazard from its class; "
                        "calibrate home.turnover_sd (the spread between home governments) instead")
    particles = _int(cal.get("particles", 400), "[calibration] particles", 20)
    return Calibration(
        name=name, description=_text(cal.get("description", ""), "[calibration] description"),
        seed=_int(cal.get("seed", 0), "[calibration] seed", 0),
        engine=check_engine(cal.get("engine", DEFAULT_ENGINE), "[calibration] engine"),
        particles=particles, generations=_int(cal.get("generations", 8), "[calibration] generations", 1),
        batch=_int(cal.get("batch", particles), "[calibration] batch", 1),
        min_acceptance=_number(cal.get("min_acceptance", 0.02), "[calibration] min_acceptance", 0.0, 1.0),
        kernel_scaling=_number(cal.get("kernel_scaling", KERNEL_SCALING), "[calibration] kernel_scaling", 0.1, 10.0),
        base=base, priors=priors, selection=selection,
        months=_months(doc.get("summaries", {})), travel=_travel(doc.get("summaries", {})),
        checks=_checks(doc.get("checks", {}), particles),
        truth=_truth(doc.get("truth"), priors), text=text, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source=source)


def _base(node: Any) -> Params:
    """[parameters]: model values for every run (the design sets scenario and accused lists itself)."""
    values = model_overrides({"parameters": node})
    bad = [n for n in values if n.startswith("scenario.") or BY_NAME[n.split("[", 1)[0]].per_accused]
    if bad:
        raise UserError(f"[parameters] {bad[0]}: the observation design sets the scenario and the accused of each "
                        "run from the record; set [design] (e.g. partners, trip_rate) instead")
    return Params(values)


def _priors(node: Any, source: str) -> tuple[Prior, ...]:
    if not isinstance(node, dict) or not node:
        raise UserError(f"{source} needs a [priors] table naming at least one parameter, e.g. \"arrest.intercept\" = "
                        "{dist = \"uniform\", low = -8, high = 0, why = \"...\"}")
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and not ({"dist", "low", "high", "a", "b", "why"} & set(value)):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            if prefix in flat:
                raise UserError(f"[priors] sets {prefix} twice; keep one")
            flat[prefix] = value

    walk("", node)
    priors = tuple(make_prior(n, s) for n, s in flat.items())
    for p in priors:
        if p.name.startswith("scenario."):
            raise UserError(f"[priors] {p.name}: scenario parameters come from the record's design")
    return priors


def _selection(node: Any) -> Selection:
    d = check_table(node, "[design]", DESIGN_KEYS)
    partners = d.get("partners", {})
    if not isinstance(partners, dict):
        raise UserError("[design.partners] must be a table of home ISO3 = [partners]")
    for home, value in partners.items():
        if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
            raise UserError(f"[design.partners] {home} must be a list of ISO3 codes or group names, got {value!r}")
    censor = d.get("censor_date")
    if censor is not None:
        censor = _date(censor, "[design] censor_date")
    trip = d.get("trip_rate", [0.8, 0.3])
    if (not isinstance(trip, list) or len(trip) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in trip)):
        raise UserError(f"[design] trip_rate must be [a head of state's, anyone else's] monthly rates, got {trip!r}")
    return Selection(kinds=_strings(d.get("kinds", ["warrant"]), "[design] kinds", ("warrant", "summons")),
                     roles=_strings(d.get("roles", list(ROLES)), "[design] roles", ROLES), censor_date=censor,
                     exclude=_strings(d.get("exclude", []), "[design] exclude"),
                     partners={k: tuple(v) for k, v in partners.items()}, trip_rate=(float(trip[0]), float(trip[1])),
                     finding_types=_strings(d.get("finding_types", list(FINDING_TYPES)), "[design] finding_types"),
                     turnover=_turnover(d.get("turnover", {})),
                     travel_roles=_strings(d.get("travel_roles", ["government"]), "[design] travel_roles", ROLES))


def _turnover(node: Any) -> tuple[TurnoverClass, ...]:
    """[design.turnover]: classes of home governments, each {rate, homes, why}: one monthly hazard of a change of
    government per class (a published rate, cited in why), so that each run's home has its own."""
    if not isinstance(node, dict):
        raise UserError("[design.turnover] must be a table of classes, e.g. autocracy = {rate = 0.0085, homes = "
                        "[\"SDN\"], why = \"...\"}")
    param = BY_NAME["home.turnover_rate"]
    classes: list[TurnoverClass] = []
    seen: dict[str, str] = {}
    for name, spec in node.items():
        where = f"[design.turnover] {name}"
        if not isinstance(spec, dict):
            raise UserError(f"{where} must be a table {{rate = ..., homes = [...], why = \"...\"}}")
        unknown = sorted(set(spec) - {"rate", "homes", "why"})
        if unknown:
            raise UserError(f"{where}: unknown key '{unknown[0]}' (allowed: rate, homes, why)")
        rate = spec.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not param.low <= rate <= param.high:
            raise UserError(f"{where}: rate must be a monthly hazard in {param.range_text()}, got {rate!r}")
        homes = _strings(spec.get("homes", []), f"{where} homes")
        if not homes:
            raise UserError(f"{where}: homes must list the ISO3 codes of the home states in the class")
        for h in homes:
            if h in seen:
                raise UserError(f"{where}: {h} is already in class {seen[h]}; a home has one class")
            seen[h] = name
        why = spec.get("why", "")
        if not isinstance(why, str) or not why.strip():
            raise UserError(f"{where}: say why in one line (why = \"...\"): cite the published rate")
        classes.append(TurnoverClass(name=name, rate=float(rate), homes=homes, why=why.strip()))
    return tuple(classes)


def _travel(node: Any) -> tuple[str, ...]:
    """[summaries] travel: the travel record's statistics to fit (default all of TRAVEL_STATS; [] for none)."""
    s = check_table(node, "[summaries]", SUMMARY_KEYS)
    return _strings(s.get("travel", list(TRAVEL_STATS)), "[summaries] travel", tuple(TRAVEL_STATS))


def _months(node: Any) -> tuple[int, ...]:
    s = check_table(node, "[summaries]", SUMMARY_KEYS)
    months = s.get("months", [1, 12, 60, 120])
    if (not isinstance(months, list) or not months or len(set(months)) < len(months)
            or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in months)):
        raise UserError(f"[summaries] months must be distinct whole months of at least 1, got {months!r}")
    return tuple(sorted(months))


def _checks(node: Any, particles: int) -> Checks:
    c = check_table(node, "[checks]", CHECK_KEYS)
    oos = c.get("out_of_sample", "2019-01-01")
    return Checks(predictive_draws=_int(c.get("predictive_draws", 200), "[checks] predictive_draws", 10),
                  out_of_sample=None if oos in ("", None) else _date(oos, "[checks] out_of_sample"),
                  oos_replicates=_int(c.get("oos_replicates", 100), "[checks] oos_replicates", 1),
                  sbc_records=_int(c.get("sbc_records", 200), "[checks] sbc_records", 1),
                  sbc_particles=_int(c.get("sbc_particles", max(20, particles // 2)), "[checks] sbc_particles", 20),
                  sbc_generations=_int(c.get("sbc_generations", 4), "[checks] sbc_generations", 1))


def _truth(node: Any, priors: tuple[Prior, ...]) -> dict[str, float]:
    if node is None:
        return {}
    truth: dict[str, float] = {}
    for k, v in node.items():
        if isinstance(v, dict):
            truth.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            truth[k] = v
    names = {p.name for p in priors}
    if set(truth) != names:
        raise UserError(f"[truth] must give exactly the calibrated parameters {', '.join(sorted(names))}")
    for p in priors:
        v = truth[p.name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not p.low <= v <= p.high:
            raise UserError(f"[truth] {p.name} = {v!r} lies outside its prior {p.text()}")
    return {k: float(v) for k, v in truth.items()}


def _date(value: Any, label: str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise UserError(f"{label} must be a date YYYY-MM-DD, got {value!r}") from None


def _int(value: Any, label: str, low: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{label} must be an integer, got {value!r}")
    if value < low:
        raise UserError(f"{label} must be at least {low}, got {value}")
    return value


def _number(value: Any, label: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise UserError(f"{label} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _text(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"{label} must be text, got {value!r}")
    return value


def _strings(value: Any, label: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise UserError(f"{label} must be a list of text values, got {value!r}")
    for v in value:
        if allowed is not None and v not in allowed:
            raise UserError(f"{label}: unknown value '{v}'{suggest(v, allowed)}; allowed: {', '.join(allowed)}")
    return tuple(value)
