"""Reproduce a results folder: rerun its manifest's config in a temporary folder and compare hashes.

The verdict covers points.parquet, runs.parquet and summary.csv. Figures are redrawn and compared too,
but a difference there is only a note: their bytes depend on matplotlib and its fonts, and they are
drawn from the compared data, so identical data means identical content.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import UserError
from sim.experiments import store
from sim.experiments.provenance import check_config_hash, check_manifest, software
from sim.studies.sweep import run_sweep


@dataclass
class Report:
    compared: list[str]
    differing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_manifest(folder: Path) -> dict:
    """The manifest of a sweep's results folder; missing, corrupt or of another kind is a one-line UserError."""
    path = folder / store.MANIFEST
    if not folder.is_dir():
        raise UserError(f"results folder {folder} does not exist; check the path")
    if not path.is_file():
        raise UserError(f"{path} is missing: {folder} is not a complete results folder (rerun the sweep)")
    doc = store.read_json(path)
    if doc is None:
        raise UserError(f"{path} is corrupt (not a JSON object); rerun the sweep")
    kind = doc.get("format")
    if kind == store.RUN_FORMAT or (kind is None and "command" in doc):
        command = doc.get("command") if isinstance(doc.get("command"), str) else "python -m sim run --seed N"
        raise UserError(f"{folder} holds a single run (`run --out`), which `reproduce` does not rerun; "
                        f"rerun it with: {command} --out OTHER_FOLDER, and compare its files")
    if kind == store.CALIBRATION_FORMAT:
        raise UserError(f"{folder} holds a calibration; rerun its config (the text in {path}) with "
                        f"`python -m sim calibrate CONFIG --out OTHER_FOLDER` and compare the files")
    if not isinstance(doc.get("outputs"), dict):
        raise UserError(f"{path} is corrupt (not a sweep manifest with config text and output hashes)")
    check_config_hash(doc, path)
    return doc


def reproduce(folder: Path, workers: int | None = None, quiet: bool = False, figures: bool = True) -> Report:
    """Rerun ``folder``'s experiment; list the data files whose bytes differ (figures give notes only)."""
    manifest = read_manifest(folder)
    exp = check_manifest(manifest, folder / store.MANIFEST, full=True)
    assert exp is not None
    report = Report(compared=list(store.DATA_FILES))
    recorded = manifest["outputs"]
    for name in store.DATA_FILES:
        here = folder / name
        if here.is_file() and isinstance(recorded.get(name), str) and store.sha256(here) != recorded[name]:
            report.notes.append(f"{name} has changed since the sweep wrote it (its sha256 differs from the manifest)")
    old = manifest.get("software") if isinstance(manifest.get("software"), dict) else {}
    now = software()
    changed = [f"{k} {old.get(k)} -> {now[k]}" for k in ("sim", "git_commit", "python", "numpy", "pandas", "pyarrow", "mesa")
               if k in old and old.get(k) != now[k]]
    if changed:
        report.notes.append("versions differ from the manifest's (" + ", ".join(changed) + "); bytes may differ")
    with tempfile.TemporaryDirectory(prefix="reproduce-") as tmp:
        rerun = Path(tmp) / exp.name
        again = run_sweep(exp, rerun, workers=workers, quiet=quiet, figures=figures)
        for name in store.DATA_FILES:
            here = folder / name
            if not here.is_file():
                report.differing.append(f"{name} (missing from {folder})")
            elif store.sha256(here) != store.sha256(rerun / name):
                report.differing.append(name)
        others = [n for n in recorded if n not in store.DATA_FILES and n not in again["outputs"]]
        if others:
            report.notes.append(f"not rechecked (made by another command, e.g. `sensitivity`): {', '.join(others)}")
        if figures:
            pictures = [n for n in recorded if n.startswith(f"{store.FIGURES}/") and n in again["outputs"]]
            differ = [n for n in pictures if again["outputs"].get(n) != recorded[n]]
            if differ:
                report.notes.append(f"{len(differ)} of {len(pictures)} figure files differ in bytes "
                                    f"(e.g. {differ[0]}); figures are not part of the verdict")
    return report
