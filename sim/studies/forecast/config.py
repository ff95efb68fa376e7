"""Forecast configs (TOML): the ``[forecast]`` table, validated in full before anything runs.

A forecast names a historical scenario (an experiment config on the real roster, of which it uses the
``[scenario]`` and ``[parameters]`` tables), the forecast's date (the record to date of that situation is
read from the project's record, sim.data.situation), the horizons, the parameters' source (the calibrated
posterior, a calibration folder, or the scenario's own values), and how many draws and replicates per draw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.data.situation import RecordToDate, date_of, month_of, months_to, record_to_date
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.config import (
    check_table,
    experiment_from_text,
    model_overrides,
    parse_toml,
    read_config_text,
    whole_number,
)
from sim.experiments.folders import MANIFEST
from sim.experiments.posterior import PRESETS, Posterior, folder_of, load_posterior
from sim.model.params import Params, lookup, suggest
from sim.simulate import DEFAULT_ENGINE, check_engine

KEYS = ("name", "description", "scenario", "date", "horizons", "source", "draws", "replicates", "count_replicates",
        "seed", "engine", "accused", "weights")
# How the draws' weights learn from the record to date: "calibration" (ODD §4.11: the posterior has seen the record
# to its own date, the months after it update the weights), "record" (the posterior has not seen this situation's
# record to date, or not all of it: the whole of it updates the weights).
WEIGHTS = ("calibration", "record")
DEFAULTS = "defaults"  # source: the scenario's own parameter values, one draw
MIN_REPLICATES = 20  # sim.analysis.forecast.MIN_CONSISTENT: a draw needs at least this many consistent replicates
COUNT_REPLICATES = 50  # replicates per draw whose counts (trips, ...) are read, at most
MAX_HORIZON = int(lookup("scenario.horizon_months").high)


@dataclass(frozen=True, eq=False)
class Forecast:
    """A validated forecast config: the scenario, the record to date, the horizons, the draws."""

    name: str
    description: str
    scenario: str  # as the config gives it
    scenario_text: str
    scenario_source: str  # the path it was read from
    base: Params  # the scenario's parameters, run to the last horizon
    record: RecordToDate
    horizons: tuple[int, ...]  # months since issue, ascending
    horizon_dates: tuple[str, ...]
    source: str
    posterior: Posterior | None  # None: the scenario's own values (source "defaults")
    calibration_date: dt.date | None  # the record's date the posterior was fitted to (None: no posterior)
    weights: str  # one of WEIGHTS
    draws: int
    replicates: int
    count_replicates: int
    seed: int
    engine: str
    text: str
    sha256: str
    config_source: str

    @property
    def persons(self) -> tuple[str, ...]:
        return tuple(a.person for a in self.record.accused)

    @property
    def forecast_accused(self) -> tuple[int, ...]:
        """The accused with something to forecast (free at the forecast's date, alive, warrant standing)."""
        return tuple(j for j, a in enumerate(self.record.accused) if not a.why_not)

    @property
    def scenario_sha256(self) -> str:
        return hashlib.sha256(self.scenario_text.encode("utf-8")).hexdigest()

    def draw_params(self) -> list[Params]:
        """Each draw's parameters (the facts of issue kept, sim.experiments.posterior)."""
        if self.posterior is None:
            return [self.base] * self.draws
        return [self.posterior.apply(self.base, d) for d in range(self.draws)]


def load_forecast(path: str | Path) -> Forecast:
    """Read and validate a forecast config file and its scenario; every problem is one line."""
    return forecast_from_text(read_config_text(path), str(path))


def forecast_from_text(text: str, source: str = "config", scenario_text: str | None = None) -> Forecast:
    """The forecast of a config's text; ``scenario_text`` replaces reading the scenario's file (a rerun from a
    manifest uses the text it recorded)."""
    try:
        return _forecast(parse_toml(text, source), text, source, scenario_text)
    except UserError as exc:
        message = str(exc)
        raise UserError(message if source in message else f"{source}: {message}") from None


def _forecast(doc: dict[str, Any], text: str, source: str, scenario_text: str | None) -> Forecast:
    if "forecast" not in doc:
        hint = (" (it looks like a scenario: name it in a forecast config's [forecast] scenario = ...)"
                if "scenario" in doc else "")
        raise UserError(f"{source} has no [forecast] table: it is not a forecast config{hint}; start from "
                        "experiments/forecast_2023_ukraine.toml")
    extra = [k for k in doc if k != "forecast"]
    if extra:
        raise UserError(f"unknown table [{extra[0]}] in {source}{suggest(extra[0], ('forecast',))}; a forecast config "
                        "has only [forecast] (the model's parameters come from its scenario and its source)")
    table = check_table(doc["forecast"], "[forecast]", KEYS)
    here = Path(source).parent if source not in ("config", "") else Path(".")
    name = table.get("name", Path(source).stem)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise UserError(f"[forecast] name must be a folder name, got {name!r}")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise UserError(f"[forecast] description must be text, got {description!r}")
    scenario = table.get("scenario")
    if not isinstance(scenario, str) or not scenario.strip():
        raise UserError('[forecast] needs scenario = "scenario_2023_ukraine.toml": a scenario config on the real '
                        "roster (a path relative to this config's folder)")
    scenario_path = here / scenario
    if scenario_text is None:
        scenario_text = read_config_text(scenario_path)
    base, persons = _scenario(scenario_text, str(scenario_path), table.get("accused"))
    issue = dt.date.fromisoformat(base["scenario.date"])
    day = _date(table.get("date"), "[forecast] date")
    record = record_to_date(persons, issue, base["scenario.home"], day)
    _check_flags(base, record, persons)
    horizons, dates = _horizons(table.get("horizons"), issue, record)
    base = base.replace({"scenario.horizon_months": horizons[-1]})
    where = table.get("source", "calibrated")
    if not isinstance(where, str) or not where.strip():
        raise UserError(f'[forecast] source must be "calibrated", "{DEFAULTS}" or a calibration folder, got {where!r}')
    draws = whole_number(table.get("draws", 1 if where == DEFAULTS else 400), "[forecast] draws", 1)
    replicates = whole_number(table.get("replicates", 400), "[forecast] replicates", MIN_REPLICATES)
    count = whole_number(table.get("count_replicates", min(replicates, COUNT_REPLICATES)),
                         "[forecast] count_replicates", 1)
    if count > replicates:
        raise UserError(f"[forecast] count_replicates = {count} exceeds replicates = {replicates}: the counts are read "
                        "from the first count_replicates replicates of each draw")
    seed = whole_number(table.get("seed", 0), "[forecast] seed", 0)
    engine = check_engine(table.get("engine", DEFAULT_ENGINE), "[forecast] engine")
    posterior, fitted = _posterior(where, draws, seed, here, base, scenario_text, str(scenario_path))
    weights = table.get("weights", WEIGHTS[0])
    if weights not in WEIGHTS:
        raise UserError(f"[forecast] weights must be one of {', '.join(WEIGHTS)}, got {weights!r}"
                        f"{suggest(str(weights), WEIGHTS)}")
    if not record.accused or not any(not a.why_not for a in record.accused):
        raise UserError("nobody to forecast: " + "; ".join(f"{a.person} {a.why_not}" for a in record.accused))
    return Forecast(name=name, description=description, scenario=scenario, scenario_text=scenario_text,
                    scenario_source=str(scenario_path), base=base, record=record, horizons=horizons,
                    horizon_dates=dates, source=where, posterior=posterior, calibration_date=fitted,
                    weights=weights, draws=draws,
                    replicates=replicates, count_replicates=count, seed=seed, engine=engine, text=text,
                    sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), config_source=source)


def _scenario(text: str, source: str, accused: Any) -> tuple[Params, tuple[str, ...]]:
    """The scenario's parameters and the record's persons of its accused, in order."""
    doc = parse_toml(text, source)
    if "forecast" in doc:
        raise UserError(f"[forecast] scenario {source} is a forecast config; name a scenario (an experiment config "
                        "with [scenario], e.g. experiments/scenario_2023_ukraine.toml)")
    if "posterior" in doc:
        raise UserError(f"[forecast] scenario {source} has a [posterior] table; the forecast's source decides the "
                        "parameters' draws: remove it from the scenario or use another scenario")
    base = experiment_from_text(text, source).base
    if base["scenario.roster"] != "real":
        raise UserError(f"[forecast] scenario {source} is on the synthetic roster; a forecast is of a historical "
                        "situation on the real roster (scenario.roster = \"real\", with its date and home)")
    if accused is None:
        persons = _record_persons(base)
    elif isinstance(accused, list) and accused and all(isinstance(a, str) and a.strip() for a in accused):
        persons = tuple(accused)
    else:
        raise UserError(f"[forecast] accused must be a list of names as sim/data/record.csv spells them, one per "
                        f"accused of the scenario, got {accused!r}")
    if len(persons) != base.n_accused:
        raise UserError(f"[forecast] accused names {len(persons)} person(s) ({', '.join(persons)}) and the scenario "
                        f"{source} has {base.n_accused} accused; give one name per accused, in the scenario's order")
    if len(set(persons)) < len(persons):
        raise UserError(f"[forecast] accused lists a person twice: {list(persons)}")
    return base, persons


def _record_persons(base: Params) -> tuple[str, ...]:
    """The record's warrants issued on the scenario's date against nationals of its home, in the record's order."""
    from sim.data.situation import record

    rec = record()
    day = pd.Timestamp(base["scenario.date"])
    rows = rec[(rec["kind"] == "warrant") & (rec["home_iso3"] == base["scenario.home"]) & (rec["warrant_day"] == day)]
    if rows.empty:
        raise UserError(f"the record has no warrant issued on {base['scenario.date']} against a national of "
                        f"{base['scenario.home']}; name the accused with [forecast] accused = [...]")
    return tuple(rows["person"])


def _check_flags(base: Params, record: RecordToDate, persons: tuple[str, ...]) -> None:
    """The scenario's accused must be the record's: the head-of-state flags agree, a sealed record a sealed run."""
    from sim.data.situation import warrants_of

    rows = warrants_of(persons)
    flags = [int(h) for h in base["accused.head_of_state"]]
    record_flags = [int(bool(h)) for h in rows["head_of_state"]]
    if flags != record_flags:
        raise UserError(f"the scenario's accused.head_of_state {flags} differs from the record's {record_flags} for "
                        f"{', '.join(persons)}; fix the scenario or name the accused in its order")
    sealed = bool(rows["sealed"].all())
    if bool(rows["sealed"].any()) and not sealed:
        raise UserError("the record's warrants of this situation are partly sealed; the model seals a run's warrants "
                        "together (split them into two scenarios)")
    if (base["prosecutor.sealed_share"] == 1.0) != sealed:
        said = "sealed" if sealed else "public"
        raise UserError(f"the record's warrants were {said} at issue and the scenario's prosecutor.sealed_share is "
                        f"{base['prosecutor.sealed_share']}; set it to {1.0 if sealed else 0.0} (a fact of issue)")


def _date(value: Any, label: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise UserError(f'{label} must be a date, "YYYY-MM-DD", got {value!r}')


def _horizons(value: Any, issue: dt.date, record: RecordToDate) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Horizons as months since issue (H: custody in a month < H) and their dates, ascending; each after the
    forecast's month."""
    if not isinstance(value, list) or not value:
        raise UserError('[forecast] horizons must be a non-empty list of months since the warrants\' issue or dates, '
                        'e.g. ["2030-12-31", "2035-12-31"]')
    pairs = []
    for item in value:
        if isinstance(item, (str, dt.date)) and not isinstance(item, bool):
            when = _date(item, "[forecast] horizons")
            pairs.append((months_to(issue, when), when.isoformat()))
        else:
            h = whole_number(item, "[forecast] horizons", 1)
            pairs.append((h, date_of(issue, h).isoformat()))
    for h, day in pairs:
        if h <= record.month:
            raise UserError(f"[forecast] horizons: {day} is month {h} since the warrants of {issue}, not after the "
                            f"forecast's month {record.month} ({record.date}); a forecast looks beyond its date")
        if h > MAX_HORIZON:
            raise UserError(f"[forecast] horizons: {day} is month {h}, beyond the model's {MAX_HORIZON} months")
    months = [h for h, _ in pairs]
    if len(set(months)) < len(months):
        raise UserError(f"[forecast] horizons {value} name the same month twice")
    pairs.sort()
    return tuple(h for h, _ in pairs), tuple(d for _, d in pairs)


def _posterior(where: str, draws: int, seed: int, here: Path, base: Params, scenario_text: str,
               scenario_source: str) -> tuple[Posterior | None, dt.date | None]:
    """The posterior (None for the scenario's own values) with the scenario's facts kept, and its record's date."""
    if where == DEFAULTS:
        return None, None
    posterior = load_posterior(where, draws, seed, here)
    stated = set(model_overrides(parse_toml(scenario_text, scenario_source)))
    posterior = posterior.keeping(stated)
    try:
        posterior.apply(base, 0)
    except UserError as exc:
        raise UserError(f"[forecast] source {where}: {exc}") from None
    doc = store.read_json(folder_of(where, here) / MANIFEST) or {}
    cal = doc.get("calibration") or {}
    fitted = cal.get("censor_date") or cal.get("record_date")
    if not isinstance(fitted, str):
        known = ", ".join(f'"{k}"' for k in PRESETS)
        raise UserError(f"[forecast] source {where}: its manifest does not say the record's date it was fitted to "
                        f"(calibration.record_date); use {known} or a folder of `python -m sim calibrate`")
    return posterior, dt.date.fromisoformat(fitted)


def calibration_month(fc: Forecast) -> int:
    """The month of the record the posterior has seen (0: none of this situation's; always 0 with weights =
    "record")."""
    if fc.weights == "record" or fc.calibration_date is None or fc.calibration_date <= fc.record.issue:
        return 0
    return min(month_of(fc.record.issue, fc.calibration_date), fc.record.month)
