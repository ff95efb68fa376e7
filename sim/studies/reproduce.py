"""Reproduce a results folder: rerun what its manifest records in a temporary folder and compare hashes.

Every kind of folder the tool writes is covered: a sweep, a sensitivity study, a comparison, a
calibration, a simulation-based calibration, a scenario discovery, a forecast and a single run. The verdict covers
the kind's data files; figures are redrawn and compared too, but a difference there is only a note:
their bytes depend on matplotlib and its fonts, and they are drawn from the compared data.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.experiments import folders, store
from sim.experiments.config import refuse_config_as_folder
from sim.experiments.layout import DATA_FILES, PAIRED, SENSITIVITY
from sim.experiments.provenance import check_config_hash, check_manifest, software


@dataclass
class Report:
    compared: list[str]
    differing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kind: str = "sweep"


@dataclass(frozen=True)
class Kind:
    """How one kind of folder is rerun: ``rerun(manifest, folder, into, workers, quiet, figures)`` writes
    the rerun into ``into`` and returns its manifest; ``files`` ("module:NAME", the study that declares them,
    imported only when needed) are the files the verdict compares."""

    name: str
    files: str
    rerun: Callable[..., dict[str, Any]]
    note: str = ""

    @property
    def data(self) -> tuple[str, ...]:
        module, _, name = self.files.partition(":")
        return tuple(getattr(importlib.import_module(module), name))


def read_manifest(folder: Path) -> dict:
    """A results folder's manifest; missing, corrupt or unknown is a one-line UserError."""
    path = folder / folders.MANIFEST
    refuse_config_as_folder(folder)
    if not folder.is_dir():
        raise UserError(f"results folder {folder} does not exist; check the path")
    if not store.regular_file(path):  # a link, FIFO, device or oversized file is refused unread
        raise UserError(f"{path} is missing: {folder} is not a complete results folder (rerun the command "
                        f"that made it)")
    doc = store.read_json(path)
    if doc is None:
        raise UserError(f"{path} is corrupt (not a JSON object); rerun the command that made it")
    if not isinstance(doc.get("outputs"), dict):
        raise UserError(f"{path} is corrupt (no output hashes)")
    return doc


# --- rerunning each kind ------------------------------------------------------------------------------------

def _sweep(manifest, folder, into, workers, quiet, figures):
    from sim.studies.sweep import run_sweep

    exp = check_manifest(manifest, folder / folders.MANIFEST, full=True)
    assert exp is not None
    return run_sweep(exp, into, workers=workers, quiet=quiet, figures=figures)


def _sensitivity(manifest, folder, into, workers, quiet, figures):
    from sim.studies.sensitivity import run_sensitivity

    exp = check_manifest(manifest, folder / folders.MANIFEST, full=True)
    assert exp is not None
    run_sensitivity(exp, into, workers=workers, quiet=quiet)
    return store.read_json(into / folders.MANIFEST) or {}


def _comparison(manifest, folder, into, workers, quiet, figures):
    from sim.experiments.comparison import comparison_from_manifest
    from sim.studies.compare import run_comparison

    check_manifest(manifest, folder / folders.MANIFEST, full=True)
    run_comparison(comparison_from_manifest(manifest), into, workers=workers, quiet=quiet)
    return store.read_json(into / folders.MANIFEST) or {}


def _calibration(manifest, folder, into, workers, quiet, figures):
    from sim.studies.calibration.config import calibration_from_text
    from sim.studies.calibration.folder import PREDICTIVE, plan_outputs, run_calibration_folder

    config = check_config_hash(manifest, folder / folders.MANIFEST)
    cal = calibration_from_text(config["text"], config.get("source") or "config")
    checks = PREDICTIVE in (manifest.get("data_files") or [])
    return run_calibration_folder(cal, plan_outputs(into, cal, False), workers=workers or 1, quiet=quiet,
                                  checks=checks)


def _sbc(manifest, folder, into, workers, quiet, figures):
    from sim.studies.calibration.config import calibration_from_text
    from sim.studies.calibration.folder import plan_outputs
    from sim.studies.calibration.sbc import claim_for, run_sbc_folder

    config = check_config_hash(manifest, folder / folders.MANIFEST)
    cal = calibration_from_text(config["text"], config.get("source") or "config")
    records = int((manifest.get("calibration") or {}).get("records") or cal.checks.sbc_records)
    plan = plan_outputs(into, cal, False, folders.SBC_FORMAT, claim=claim_for(cal, records))
    run_sbc_folder(cal, plan, records=records, workers=workers or 1, quiet=quiet)
    return store.read_json(into / folders.MANIFEST) or {}


def _discovery(manifest, folder, into, workers, quiet, figures):
    from sim.studies.discovery import Question, discover

    check_config_hash(manifest, folder / folders.MANIFEST)
    source = _discovery_source(manifest, folder)
    return discover(source, Question(**manifest["question"]), into)


def _discovery_source(manifest: dict[str, Any], folder: Path) -> Path:
    """The sweep a discovery was made from, with the data files it read (the sha256 the manifest recorded)."""
    recorded = manifest.get("source") or {}
    candidates = [Path(str(recorded.get("folder", ""))), folder.parent]
    wanted = recorded.get("outputs") or {}
    for where in candidates:
        if where.is_dir() and wanted and all((where / n).is_file() and store.sha256(where / n) == h
                                             for n, h in wanted.items()):
            return where
    raise UserError(f"the sweep {folder} was discovered from is not at {candidates[0]} (nor at {folder.parent}) "
                    f"with the files it read; reproduce that sweep first, then rerun `discover`")


def _run(manifest, folder, into, workers, quiet, figures):
    from sim.engines.mesa.model import TribunalModel
    from sim.model.params import Params
    from sim.studies.single_run import plan_run, write_run

    if manifest.get("config"):
        check_config_hash(manifest, folder / folders.MANIFEST)
    seed, params = manifest.get("seed"), manifest.get("parameters")
    if not isinstance(seed, int) or not isinstance(params, dict):
        raise UserError(f"{folder / folders.MANIFEST} is corrupt (no seed and parameters to rerun)")
    model = TribunalModel(Params(params), seed=seed).run()
    write_run(model, seed, plan_run(into), manifest.get("config"))
    return store.read_json(into / folders.MANIFEST) or {}


def _forecast(manifest, folder, into, workers, quiet, figures):
    from sim.studies.forecast.study import check_forecast_manifest, plan_outputs, run_forecast

    fc = check_forecast_manifest(manifest, folder / folders.MANIFEST)
    doc, _ = run_forecast(fc, plan_outputs(into, fc, False), quiet=quiet)
    return doc


KINDS = {
    "sweep": Kind("sweep", "sim.experiments.layout:DATA_FILES", _sweep),
    "sensitivity": Kind("sensitivity", "sim.studies.reproduce:SENSITIVITY_DATA", _sensitivity),
    "comparison": Kind("comparison", "sim.studies.reproduce:COMPARISON_DATA", _comparison),
    "calibration": Kind("calibration", "sim.studies.calibration.folder:DATA", _calibration,
                        "a calibration takes minutes to hours (its manifest gives the time it took)"),
    "sbc": Kind("sbc", "sim.studies.calibration.sbc:DATA", _sbc, "a simulation-based calibration takes hours"),
    "discovery": Kind("discovery", "sim.studies.discovery:DATA", _discovery),
    "run": Kind("run", "sim.studies.single_run:FILES", _run),
    "forecast": Kind("forecast", "sim.studies.forecast.study:DATA", _forecast),
}
SENSITIVITY_DATA = (*DATA_FILES, SENSITIVITY)
COMPARISON_DATA = (*DATA_FILES, PAIRED)


def kind_of(manifest: dict[str, Any], folder: Path) -> Kind:
    """Which kind of folder a manifest describes."""
    fmt = manifest.get("format")
    if fmt == folders.SWEEP_FORMAT:
        return KINDS["comparison" if "comparison" in manifest else
                     "sensitivity" if "sensitivity" in manifest else "sweep"]
    by_format = {folders.CALIBRATION_FORMAT: "calibration", folders.SBC_FORMAT: "sbc",
                 folders.DISCOVERY_FORMAT: "discovery", folders.RUN_FORMAT: "run",
                 folders.FORECAST_FORMAT: "forecast"}
    if fmt in by_format:
        return KINDS[by_format[fmt]]
    if fmt is None and "command" in manifest and "seed" in manifest:
        return KINDS["run"]
    if fmt is None and "config" in manifest:  # sweeps of versions before formats were named
        return KINDS["sweep"]
    raise UserError(f"{folder / folders.MANIFEST} has format {fmt!r}, which this version does not know; "
                    f"reproduce it with the version that wrote it ({(manifest.get('software') or {}).get('sim')})")


def reproduce(folder: Path, workers: int | None = None, quiet: bool = False, figures: bool = True) -> Report:
    """Rerun ``folder``'s study; list the data files whose bytes differ (figures give notes only)."""
    manifest = read_manifest(folder)
    kind = kind_of(manifest, folder)
    present = [n for n in kind.data if n in manifest["outputs"] or (folder / n).is_file()]
    report = Report(compared=present, kind=kind.name)
    recorded = manifest["outputs"]
    pending = [f for f in manifest.get("pending") or [] if isinstance(f, str) and not (folder / f).is_file()]
    if pending:
        report.notes.append(f"{folder} was stopped before all its outputs were written ({', '.join(pending)}); "
                            f"rerun the command that made it with --resume to finish them")
    for name in present:
        here = folder / name
        if here.is_file() and isinstance(recorded.get(name), str) and store.sha256(here) != recorded[name]:
            report.notes.append(f"{name} has changed since it was written (its sha256 differs from the manifest)")
    tables = manifest.get("data")
    if isinstance(tables, dict):  # the sourced tables a forecast read (its record to date among them)
        from sim.data.tables import DATA_DIR

        changed_tables = [n for n, h in tables.items()
                          if not (DATA_DIR / n).is_file() or store.sha256(DATA_DIR / n) != h]
        if changed_tables:
            report.notes.append(f"the data tables {', '.join(changed_tables)} have changed since {folder} was made; "
                                "its record to date may differ")
    old = manifest.get("software")
    if not isinstance(old, dict):
        old = {}
    now = software()
    changed = [f"{k} {old.get(k)} -> {now[k]}" for k in ("sim", "git_commit", "python", "numpy", "pandas", "pyarrow",
                                                           "mesa", "pyabc") if k in old and old.get(k) != now.get(k)]
    if changed:
        report.notes.append("versions differ from the manifest's (" + ", ".join(changed) + "); bytes may differ")
    with tempfile.TemporaryDirectory(prefix="reproduce-") as tmp:
        rerun = Path(tmp) / "rerun"
        again = kind.rerun(manifest, folder, rerun, workers, quiet, figures)
        for name in present:
            here = folder / name
            if not here.is_file():
                report.differing.append(f"{name} (missing from {folder})")
            elif not (rerun / name).is_file() or store.sha256(here) != store.sha256(rerun / name):
                report.differing.append(name)
        outputs = again.get("outputs") or {}
        others = [n for n in recorded if n not in present and n not in outputs]
        if others:
            report.notes.append(f"not rechecked: {', '.join(others)}")
        if figures:
            pictures = [n for n in recorded if n not in present and n in outputs]
            differ = [n for n in pictures if outputs.get(n) != recorded[n]]
            if differ:
                report.notes.append(f"{len(differ)} of {len(pictures)} other files (figures) differ in bytes "
                                    f"(e.g. {differ[0]}); they are not part of the verdict")
    return report
