"""One Mesa run written to a folder (``python -m sim run --out``): event log, series, outcomes, manifest."""

from __future__ import annotations

import json
from pathlib import Path

from sim.engines.mesa.model import TribunalModel
from sim.experiments import store
from sim.experiments.provenance import software


def outcome_record(model: TribunalModel, seed: int) -> dict:
    """The run's outputs (docs/ODD.md §3.4) and everything needed to rerun it."""
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


def write_run(model: TribunalModel, seed: int, out: Path) -> None:
    """The run's event log, series and outputs, and a manifest that is enough to rerun it."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"events.csv": lambda tmp: model.events_frame().to_csv(tmp, index=False),
             "series.csv": lambda tmp: model.series().to_csv(tmp, index=False)}
    for name, write in files.items():
        store.atomic_write(out / name, write)
    store.write_json(out / "outcome.json", outcome_record(model, seed))
    changed = model.params.to_dict(changed_only=True)
    sets = " ".join(f"--set {k}={json.dumps(v, separators=(',', ':'))}" for k, v in changed.items())
    store.write_json(out / "manifest.json", {
        "command": f"python -m sim run --seed {seed} {sets}".strip(),
        "engine": "mesa", "seed": seed, "parameters": model.params.to_dict(), "software": software(),
        "outputs": {name: store.sha256(out / name) for name in (*files, "outcome.json")},
    })
