"""The forecast study (ODD §4.11): draws × replicates run, conditioned on the record to date, pooled; its folder.

All rows of every draw run in few engine calls (``sim.simulate.run_rows``: row (d, r) is replicate r of
stream point d, so nothing depends on how rows are batched). A replicate's first m months do not depend on
its horizon (every number comes from a counter-based stream keyed by month), so the counts between the
forecast's month m and a horizon H are the counts of a run to H less those of the same replicate run to m:
those runs are made for the consistent replicates among the first ``count_replicates`` of each draw.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.conditioning import consistent
from sim.analysis.forecast import (
    BAND_COLUMNS,
    MAX_MC_SHARE,
    MAX_SET_ASIDE,
    MEASURES,
    MIN_CONSISTENT,
    count_table,
    custody_counts,
    pool,
    replicates_for_mc_share,
    set_aside,
)
from sim.analysis.plots_forecast import fan_figure
from sim.analysis.style import save
from sim.data.situation import RecordToDate, date_of, record_to_date
from sim.data.tables import DATA_DIR, TABLES
from sim.errors import UserError
from sim.experiments import folders, store
from sim.experiments.provenance import config_record, manifest, now
from sim.model.outcomes import NEVER, ROUTES, Outcomes
from sim.model.params import Params
from sim.simulate import run_rows
from sim.studies.forecast.config import Forecast, calibration_month

FORMAT = folders.FORECAST_FORMAT
FORECAST, COUNTS, FAN, DRAWS, RECORD, ROUTES_FILE = ("forecast.csv", "counts.csv", "fan.csv", "draws.csv",
                                                    "record_to_date.csv", "routes.csv")
DATA = (FORECAST, ROUTES_FILE, COUNTS, FAN, DRAWS, RECORD)  # compared by `reproduce`
CUSTODY_ROUTES = ("arrested_by_host", "domestic_surrender")  # the routes of routes.csv (sim.model.outcomes.ROUTES)
FORECAST_COLUMNS = ("accused", "horizon_month", "horizon_date", "p", "mc_se", "p_q05", "p_q50", "p_q95",
                    "p_sd_between", "consistent", "consistent_share", "draws_used", "draws_set_aside", "mc_share")
ARRESTED = ROUTES.index("arrested_by_host")


def fan_file(j: int, suffix: str = ".png") -> str:
    """The fan chart of accused ``j`` (written as PNG and SVG)."""
    return f"figures/fan_{j}{suffix}"


def files(fc: Forecast) -> tuple[str, ...]:
    return (*DATA, *(fan_file(j, s) for j in fc.forecast_accused for s in (".png", ".svg")))


def plan_outputs(folder: Path, fc: Forecast, force: bool) -> folders.Plan:
    """Every check before anything runs: the folder may be new, empty or this forecast's own earlier results."""
    claim = folders.Claim(FORMAT, fc.name, fc.sha256, (*files(fc), folders.MANIFEST),
                          patterns=(re.compile(r"figures/fan_\d+\.(png|svg)"),))
    plan = folders.plan(folder, claim, force=force)
    folders.check_space(plan, 16 << 20, "the forecast's tables and figures")
    return plan


class Result:
    """What a forecast computes before anything is written: tables, warnings and timings."""

    def __init__(self, tables: dict[str, pd.DataFrame], warnings: list[str], facts: dict[str, Any],
                 timings: dict[str, Any]):
        self.tables, self.warnings, self.facts, self.timings = tables, warnings, facts, timings


def _rows(draws: int, replicates: int) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.arange(draws), replicates), np.tile(np.arange(replicates), draws)


def _consistent(out: Outcomes, record: RecordToDate) -> np.ndarray:
    """Which rows are consistent with ``record`` (sim.analysis.conditioning on the outcomes' months)."""
    custody, detained = out.values["custody_month"], out.values["detained_month"]
    n, f = custody.shape
    change = out.values["regime_change_month"]
    frame = pd.DataFrame({"row": np.repeat(np.arange(n), f), "accused": np.tile(np.arange(f), n),
                          "custody_month": custody.reshape(-1), "detained_month": detained.reshape(-1),
                          "regime_change_month": np.repeat(change, f)})
    rec = record.frame()[["accused", "status", "month"]]
    return consistent(frame, rec, record.month, record.regime_changed, keys=("row",)).to_numpy()


def compute(fc: Forecast, quiet: bool = True) -> Result:
    """Run, condition and pool; raise the set-aside error before anything is written."""
    clock = time.perf_counter()
    params = fc.draw_params()
    points = dict(enumerate(params))
    draw, replicate = _rows(fc.draws, fc.replicates)
    main = run_rows(points, draw, replicate, fc.seed, engine=fc.engine)
    ran = time.perf_counter() - clock
    ok = _consistent(main, fc.record)
    n = np.bincount(draw[ok], minlength=fc.draws)
    weights = np.ones(fc.draws)
    seen = calibration_month(fc)
    if fc.posterior is not None and seen < fc.record.month:  # Bayes' rule for the record the fit has not seen
        seen_date = fc.calibration_date if seen > 0 and fc.calibration_date is not None else fc.record.issue
        earlier = record_to_date(fc.persons, fc.record.issue, fc.record.home, seen_date)
        before = np.bincount(draw[_consistent(main, earlier)], minlength=fc.draws)
        weights = n / np.maximum(before, 1)
    share, needed = set_aside(n, fc.replicates, weights)
    if share > MAX_SET_ASIDE:
        hint = ("" if needed <= 20 * fc.replicates or fc.weights == "record" else
                "; the record to date is nearly impossible under those draws: if the posterior has not seen this "
                "part of it (its summaries omit changes of government), weights = \"record\" updates the draws' "
                "weights by it instead (docs/forecasts.md)")
        raise UserError(f"only {int((n >= MIN_CONSISTENT).sum())} of {fc.draws} draws have at least {MIN_CONSISTENT} "
                        f"replicates consistent with the record to {fc.record.date} (the rest carry {share:.0%} of "
                        f"the weight, more than {MAX_SET_ASIDE:.0%}): ask for replicates = {needed} per draw in "
                        f"[forecast]{hint}")
    m = fc.record.month
    months = np.arange(m + 1, fc.horizons[-1] + 1)
    k = custody_counts(main.values["custody_month"], ok, draw, fc.draws, months)
    pooled = pool(n, k, weights)
    chosen = fc.forecast_accused
    persons = fc.persons
    warnings = _mc_warnings(pooled, months, fc, chosen)
    counted = time.perf_counter()
    counts = _counts(fc, params, main, ok, draw, replicate, n, weights)
    tables = {FORECAST: _forecast_table(fc, pooled, months, n, chosen),
              ROUTES_FILE: _routes_table(fc, main, ok, draw, n, weights, chosen),
              FAN: _fan_table(fc, pooled, months, chosen),
              COUNTS: counts, DRAWS: _draws_table(fc, n, weights, k, months, chosen),
              RECORD: _record_table(fc)}
    facts = {"consistent": int(n.sum()), "consistent_share": float(n.sum() / (fc.draws * fc.replicates)),
             "draws_used": int((n >= MIN_CONSISTENT).sum()), "draws_set_aside": int((n < MIN_CONSISTENT).sum()),
             "set_aside_weight": round(share, 6), "calibration_month": seen,
             "accused": [persons[j] for j in chosen]}
    timings = {"run_seconds": round(ran, 2), "counts_seconds": round(time.perf_counter() - counted, 2),
               "rows": len(draw), "count_rows": int(counts.attrs.get("rows", 0)),
               "compute_seconds": round(time.perf_counter() - clock, 2)}
    return Result(tables, warnings, facts, timings)


def _mc_warnings(pooled: dict[str, np.ndarray], months: np.ndarray, fc: Forecast, chosen: tuple[int, ...]) -> list[str]:
    """One warning when the Monte Carlo noise is over a quarter of the spread of p_d at a horizon."""
    cols = [int(np.searchsorted(months, h)) for h in fc.horizons]
    share = pooled["mc_share"][list(chosen)][:, cols]
    bad = np.argwhere(np.nan_to_num(share, nan=0.0) > MAX_MC_SHARE)
    if not len(bad):
        return []
    j, t = bad[np.argmax(share[tuple(bad.T)])]
    worst = float(share[j, t])
    need = replicates_for_mc_share(worst, fc.replicates)
    fix = (f"replicates = {need} per draw would bring it under {MAX_MC_SHARE:g}" if need is not None else
           "the draws' probabilities differ by no more than the noise: more replicates per draw show whether any "
           "spread remains")
    return [f"for {len(bad)} of {share.size} forecasts (most: {fc.persons[chosen[j]]} by {fc.horizon_dates[t]}, "
            f"mc_share {worst:.2f}) more than a quarter of the spread of the draws' probabilities is Monte Carlo "
            f"noise, so p_q05..p_q95 overstate the posterior's spread; {fix}"]


def _forecast_table(fc: Forecast, pooled: dict[str, np.ndarray], months: np.ndarray, n: np.ndarray,
                    chosen: tuple[int, ...]) -> pd.DataFrame:
    rows = []
    total = fc.draws * fc.replicates
    for j in chosen:
        for h, day in zip(fc.horizons, fc.horizon_dates):
            t = int(np.searchsorted(months, h))
            rows.append({"accused": fc.persons[j], "horizon_month": h, "horizon_date": day,
                         **{c: float(pooled[c][j, t]) for c in ("p", "mc_se", "p_q05", "p_q50", "p_q95",
                                                                "p_sd_between")},
                         "consistent": int(n.sum()), "consistent_share": float(n.sum() / total),
                         "draws_used": int(pooled["draws_used"][j, t]),
                         "draws_set_aside": int(pooled["draws_set_aside"][j, t]),
                         "mc_share": float(pooled["mc_share"][j, t])})
    return pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))


def _routes_table(fc: Forecast, main: Outcomes, ok: np.ndarray, draw: np.ndarray, n: np.ndarray,
                  weights: np.ndarray, chosen: tuple[int, ...]) -> pd.DataFrame:
    """By each horizon and route (arrested by a host abroad; handed over after a change of government at home):
    the probability of custody by that route, pooled over the draws as the forecast is."""
    custody, route = main.values["custody_month"], main.values["route"]
    rows = []
    for name in CUSTODY_ROUTES:
        k = custody_counts(np.where(route == ROUTES.index(name), custody, NEVER), ok, draw, fc.draws, fc.horizons)
        pooled = pool(n, k, weights)
        for j in chosen:
            for t, (h, day) in enumerate(zip(fc.horizons, fc.horizon_dates)):
                rows.append({"accused": fc.persons[j], "horizon_month": h, "horizon_date": day, "route": name,
                             **{c: float(pooled[c][j, t]) for c in ("p", "mc_se", "p_q05", "p_q50", "p_q95")}})
    return pd.DataFrame(rows).sort_values(["accused", "horizon_month"], kind="stable",
                                          key=lambda col: col.map({p: i for i, p in enumerate(fc.persons)})
                                          if col.name == "accused" else col).reset_index(drop=True)


def _fan_table(fc: Forecast, pooled: dict[str, np.ndarray], months: np.ndarray,
               chosen: tuple[int, ...]) -> pd.DataFrame:
    """Per accused and month from the forecast's month: the pooled probability and its bands (0 at the record)."""
    rows = []
    issue = fc.record.issue
    for j in chosen:
        rows.append({"accused": fc.persons[j], "month": fc.record.month, "date": fc.record.date.isoformat(),
                     "p": 0.0, "mc_se": 0.0, **{c: 0.0 for c in BAND_COLUMNS}, "p_sd_between": 0.0, "mc_share": 0.0})
        for t, h in enumerate(months):
            rows.append({"accused": fc.persons[j], "month": int(h), "date": date_of(issue, int(h)).isoformat(),
                         **{c: float(pooled[c][j, t]) for c in ("p", "mc_se", *BAND_COLUMNS, "p_sd_between",
                                                                "mc_share")}})
    return pd.DataFrame(rows)


def _draws_table(fc: Forecast, n: np.ndarray, weights: np.ndarray, k: np.ndarray, months: np.ndarray,
                 chosen: tuple[int, ...]) -> pd.DataFrame:
    """Per draw, accused and horizon: the draw's parameters, weight, consistent replicates and p_d."""
    values = (fc.posterior.values if fc.posterior is not None else np.empty((fc.draws, 0)))
    names = fc.posterior.names if fc.posterior is not None else ()
    w = weights / weights.sum() if weights.sum() > 0 else weights
    rows = []
    for d in range(fc.draws):
        for j in chosen:
            for h in fc.horizons:
                t = int(np.searchsorted(months, h))
                rows.append({"draw": d, "accused": fc.persons[j], "horizon_month": h,
                             "p_d": float(k[d, j, t] / n[d]) if n[d] else np.nan, "consistent": int(n[d]),
                             "weight": float(w[d]), "set_aside": bool(n[d] < MIN_CONSISTENT),
                             **{name: float(values[d, i]) for i, name in enumerate(names)}})
    return pd.DataFrame(rows)


def _record_table(fc: Forecast) -> pd.DataFrame:
    rec = fc.record.frame().rename(columns={"month": "observed_to_month"})
    return rec.assign(issue=fc.record.issue.isoformat(), forecast_date=fc.record.date.isoformat(),
                      forecast_month=fc.record.month, regime_changed=fc.record.regime_changed,
                      regime_change_date=fc.record.regime_change)


def _counts(fc: Forecast, params: list[Params], main: Outcomes, ok: np.ndarray, draw: np.ndarray,
            replicate: np.ndarray, n: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Counts between the forecast's month and each horizon over the consistent replicates among the first
    ``count_replicates`` of each draw used (each weighted w_d / n'_d)."""
    m = fc.record.month
    take = ok & (replicate < fc.count_replicates) & (n[draw] >= MIN_CONSISTENT)
    rows = np.flatnonzero(take)
    used = np.bincount(draw[rows], minlength=fc.draws)
    w = (weights / weights.sum())[draw[rows]] / np.maximum(used[draw[rows]], 1)
    count_names = ("trips", "trips_to_members", "trips_cancelled", "invitations_declined")
    at: dict[int, dict[str, np.ndarray]] = {fc.horizons[-1]: {c: main.values[c][rows] for c in count_names}}
    for h in (*fc.horizons[:-1], *([m] if m > 0 else [])):
        pts = {d: p.replace({"scenario.horizon_months": int(h)}) for d, p in enumerate(params)}
        again = run_rows(pts, draw[rows], replicate[rows], fc.seed, engine=fc.engine)
        at[int(h)] = {c: again.values[c] for c in count_names}
    f = main.values["custody_month"].shape[1]
    start = at.get(m, {c: np.zeros((len(rows), f)) for c in count_names})
    custody = main.values["custody_month"][rows]
    route = main.values["route"][rows]
    values = {}
    for c in count_names:
        values[c] = np.stack([at[h][c] - start[c] for h in fc.horizons], axis=2).astype(float)
    arrested = [(route == ARRESTED) & (custody >= m) & (custody < h) & (custody != NEVER) for h in fc.horizons]
    values["arrests_abroad"] = np.stack(arrested, axis=2).astype(float)
    chosen = list(fc.forecast_accused)
    values = {k: v[:, chosen, :] for k, v in values.items()}
    table = count_table({k: values[k] for k in MEASURES}, w, [fc.persons[j] for j in chosen], fc.horizons)
    table.insert(2, "horizon_date", table["horizon_month"].map(dict(zip(fc.horizons, fc.horizon_dates))))
    table.attrs["rows"] = len(rows) * (len(fc.horizons) - 1 + (m > 0))
    return table


def run_forecast(fc: Forecast, plan: folders.Plan, quiet: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Compute, then claim the planned folder and write the tables, the fan charts and the manifest."""
    started, clock = now(), time.perf_counter()
    result = compute(fc, quiet)
    folders.claim(plan)
    folder = plan.folder
    outputs = []
    for name in DATA:
        store.write_csv(folder / name, result.tables[name])
        outputs.append(folder / name)
    pending = [fan_file(j, s) for j in fc.forecast_accused for s in (".png", ".svg")]
    early = {**result.timings, "started": started}
    store.write_json(folder / folders.MANIFEST, {**manifest_of(fc, folder, outputs, result, early),
                                                 "pending": pending})  # the data are complete; figures to come
    fan = result.tables[FAN]
    for j in fc.forecast_accused:
        person = fc.persons[j]
        fig = fan_figure(fan[fan["accused"] == person], person, fc.record, fc.source, fc.draws, fc.replicates,
                         fc.horizon_dates)
        outputs += save(fig, folder / "figures", Path(fan_file(j)).stem)
    timings = {**result.timings, "started": started, "finished": now(),
               "wall_seconds": round(time.perf_counter() - clock, 2), "workers": _threads(fc.engine)}
    doc = manifest_of(fc, folder, outputs, result, timings)
    store.write_json(folder / folders.MANIFEST, doc)
    return doc, result.warnings


def _threads(engine: str) -> int:
    """The threads the engine ran on: numba's for the fused engine, else this one process."""
    if engine != "fused":
        return 1
    try:
        import numba

        return int(numba.get_num_threads())
    except ImportError:  # pragma: no cover - the fused engine needs numba
        return 1


def forecast_section(fc: Forecast) -> dict[str, Any]:
    """What the config (and its scenario's text) determine: checked by `reproduce` against the config."""
    return {"name": fc.name, "description": fc.description, "scenario": fc.scenario,
            "issue": fc.record.issue.isoformat(), "home": fc.record.home, "date": fc.record.date.isoformat(),
            "month": fc.record.month, "accused": list(fc.persons), "forecast_accused": list(fc.forecast_accused),
            "horizons": list(fc.horizons), "horizon_dates": list(fc.horizon_dates), "source": fc.source,
            "draws": fc.draws, "replicates": fc.replicates, "count_replicates": fc.count_replicates,
            "seed": fc.seed, "engine": fc.engine, "weights": fc.weights, "min_consistent": MIN_CONSISTENT,
            "max_set_aside": MAX_SET_ASIDE, "max_mc_share": MAX_MC_SHARE,
            "calibration_date": fc.calibration_date.isoformat() if fc.calibration_date else None}


def manifest_of(fc: Forecast, folder: Path, outputs: list[Path], result: Result,
                timings: dict[str, Any]) -> dict[str, Any]:
    rec = fc.record
    sections = {
        "forecast": forecast_section(fc),
        "record_to_date": {"regime_changed": rec.regime_changed, "regime_change": rec.regime_change or None,
                           "accused": [{"person": a.person, "status": a.status, "since": a.since,
                                        "observed_to_month": rec.month if a.until is None else a.until,
                                        "not_forecast": a.why_not or None} for a in rec.accused]},
        "scenario": config_record(fc.scenario_text, fc.scenario_source),
        "posterior": None if fc.posterior is None else {
            "source": fc.posterior.source, "sha256": fc.posterior.sha256, "parameters": list(fc.posterior.names),
            "facts_kept": sorted(fc.posterior.stated) if fc.base["scenario.roster"] != "real" else
            ["prosecutor.sealed_share", "prosecutor.timed_share", "home.fallen_at_issue"],
            "draw": "draws resampled with SeedSequence([0x504F5354, seed]); row (d, r) is replicate r of stream "
                    "point d"},
        "parameters": fc.base.to_dict(),
        "results": result.facts,
        "data": {spec.file: store.sha256(DATA_DIR / spec.file) for spec in TABLES.values()},
        "seeds": {"seed": fc.seed, "replicate": "row (draw d, replicate r) draws from the stream keyed by (seed, d, r)"
                  " (sim.model.seeding), whatever the horizon: its first months are the same in every run"},
        "warnings": result.warnings,
        "timings": timings,
        "data_files": list(DATA),
    }
    return manifest(FORMAT, sections, config=config_record(fc.text, fc.config_source), folder=folder,
                    outputs=outputs)


def check_forecast_manifest(doc: dict[str, Any], path: Path) -> Forecast:
    """The forecast a manifest records, rebuilt from its config and scenario texts (each checked against its
    sha256); an edited manifest, whose forecast section the texts do not give, is refused."""
    import json

    from sim.experiments.provenance import check_config_hash
    from sim.studies.forecast.config import forecast_from_text

    config = check_config_hash(doc, path)
    scenario = check_config_hash({"config": doc.get("scenario")}, path)
    fc = forecast_from_text(config["text"], str(config.get("source") or "config"), scenario_text=scenario["text"])
    recorded, derived = doc.get("forecast") or {}, json.loads(json.dumps(forecast_section(fc)))
    for key in sorted(set(recorded) | set(derived)):
        if recorded.get(key) != derived.get(key):
            raise UserError(f"{path} disagrees with its own config: forecast.{key} is {recorded.get(key)!r} there and "
                            f"{derived.get(key)!r} from its config text; restore the manifest or rerun the forecast")
    return fc


class ForecastFolder:
    """A forecast's folder read back for the explorer: its manifest and tables, each checked against its sha256."""

    def __init__(self, folder: Path, manifest: dict[str, Any], tables: dict[str, pd.DataFrame]):
        self.folder, self.manifest, self.tables = folder, manifest, tables

    @property
    def persons(self) -> list[str]:
        return list(dict.fromkeys(self.tables[FORECAST]["accused"]))

    def record(self) -> RecordToDate:
        """The record to date the forecast was conditioned on (record_to_date.csv)."""
        import datetime as dt

        from sim.data.situation import Accused

        rec = self.tables[RECORD]
        first = rec.iloc[0]
        accused = tuple(Accused(str(r["person"]), str(r["status"]),
                                None if pd.isna(r["since"]) else int(r["since"]),
                                None if int(r["observed_to_month"]) == int(r["forecast_month"])
                                else int(r["observed_to_month"]),
                                "" if pd.isna(r["why_not"]) else str(r["why_not"])) for _, r in rec.iterrows())
        change = first["regime_change_date"]
        return RecordToDate(issue=dt.date.fromisoformat(str(first["issue"])),
                            date=dt.date.fromisoformat(str(first["forecast_date"])),
                            month=int(first["forecast_month"]), home=str((self.manifest.get("forecast") or {})
                                                                         .get("home", "")),
                            accused=accused, regime_changed=bool(first["regime_changed"]),
                            regime_change="" if pd.isna(change) else str(change))


def read_forecast_folder(folder: Path) -> ForecastFolder | None:
    """A forecast's folder (None when the folder is of another kind); a damaged one is a one-line UserError."""
    manifest = store.read_json(folder / folders.MANIFEST)
    if manifest is None or manifest.get("format") != FORMAT:
        return None
    listed = manifest.get("outputs")
    outputs: dict[str, Any] = listed if isinstance(listed, dict) else {}
    tables = {}
    for name in DATA:
        path = folder / name
        if not store.regular_file(path) or store.sha256(path) != outputs.get(name):
            raise UserError(f"{path} is missing or not the file the forecast wrote (its sha256 differs from the "
                            "manifest's); rerun `python -m sim forecast` or `python -m sim reproduce` the folder")
        tables[name] = pd.read_csv(path)
    return ForecastFolder(folder, manifest, tables)
