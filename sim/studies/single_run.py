"""One Mesa run written to a folder (``python -m sim run --out``): event log, series, outcomes, manifest.

The folder is checked before the run (``plan_run``), so a folder that cannot take the files is refused
before any story is told; it may be empty, new, or an earlier run's folder (whose files are replaced).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.engines.mesa.model import TribunalModel
from sim.experiments import folders, store
from sim.experiments.provenance import run_manifest

# a run's files: the event log, the monthly series, the outputs (and the manifest, sim.experiments.folders)
EVENTS, SERIES, OUTCOME = "events.csv", "series.csv", "outcome.json"
FILES = (EVENTS, SERIES, OUTCOME)  # compared by `reproduce`
# a run's files take a few hundred KB; refuse a folder with less than this free
RUN_BYTES = 1 << 20


def outcome_record(model: TribunalModel, seed: int) -> dict:
    """The run's outputs (ODD §4.11) and everything needed to rerun it."""
    frame = model.outcomes().frame()
    return {
        "seed": seed,
        "parameters": model.params.to_dict(),
        "accused": [{"name": a.name, **{k: (None if v is None or v != v else v) for k, v in row.items()}}
                    for a, row in zip(model.accused, _plain_rows(frame))],
    }


def _plain_rows(frame):
    for rec in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        yield {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}


def plan_run(out: Path, force: bool = False) -> folders.Plan:
    """Check that ``out`` may take a run's files (writable, not another study's results unless ``force``,
    room for them)."""
    claim = folders.Claim(folders.RUN_FORMAT, "run", None, (*FILES, folders.MANIFEST))
    plan = folders.plan(out, claim, force=force)
    folders.check_space(plan, RUN_BYTES, "a run's files")
    return plan


def write_run(model: TribunalModel, seed: int, plan: folders.Plan, config: dict[str, Any] | None = None) -> None:
    """The run's event log, series and outputs, and a manifest that is enough to rerun it."""
    folders.claim(plan)
    out = plan.folder
    files = {EVENTS: lambda tmp: model.events_frame().to_csv(tmp, index=False),
             SERIES: lambda tmp: model.series().to_csv(tmp, index=False)}
    for name, write in files.items():
        store.atomic_write(out / name, write)
    store.write_json(out / OUTCOME, outcome_record(model, seed))
    outputs = [out / name for name in FILES]
    store.write_json(out / folders.MANIFEST, run_manifest(model.params, seed, out, outputs, config))
