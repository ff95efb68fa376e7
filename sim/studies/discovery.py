"""Scenario discovery on a finished sweep: PRIM boxes of parameter space where enforcement is likely (or not).

The outcome is estimated per point from its runs — custody by month H, a share where every run
lasted H months, Kaplan-Meier's 1 − S(H) where some stopped earlier (sim.analysis.discovery) — then
thresholded; PRIM (Friedman and Fisher 1999, as EMA Workbench computes it) peels and pastes boxes
over the swept parameters. Writes ``<sweep>/discovery/``: the peeling trajectory, every box's limits,
the chosen box (``box.csv``), the two figures and a manifest that ``reproduce`` can rerun.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.discovery import (
    MASS_MIN,
    OUTCOMES,
    PASTE_ALPHA,
    PEEL_ALPHA,
    box_limits,
    choose_box,
    outcome_by_point,
    prim,
)
from sim.analysis.metrics import ALL, accused_key
from sim.analysis.plots_discovery import box_limits_figure, tradeoff_figure
from sim.analysis.style import save
from sim.errors import UserError
from sim.experiments import folders, store
from sim.experiments.layout import BOX, DATA_FILES, DISCOVERY, figure_files
from sim.experiments.provenance import now, software
from sim.experiments.results import load_results

SUBFOLDER = DISCOVERY
FORMAT = folders.DISCOVERY_FORMAT
OUTCOME_TABLE, TRAJECTORY, LIMITS = "outcome.csv", "trajectory.csv", "limits.csv"
DATA = (OUTCOME_TABLE, TRAJECTORY, LIMITS, BOX)  # compared by `reproduce`
FIGURES = ("tradeoff", "box_limits")
FILES = (*DATA, *figure_files(FIGURES, None))


@dataclass(frozen=True)
class Question:
    """What to discover: points where ``outcome`` (enforcement, or arrest abroad) by ``horizon`` of
    ``accused`` is at least (or below) ``threshold``, and PRIM's settings."""

    horizon: int
    threshold: float
    accused: str = "all"  # an index as text, or "all" (as the command line gives it; recorded as given)
    outcome: str = "p_enforced"
    below: bool = False
    peel_alpha: float = PEEL_ALPHA
    paste_alpha: float = PASTE_ALPHA
    mass_min: float = MASS_MIN
    density: float | None = None  # choose the box of largest coverage at this density (default: the last box)

    def check(self) -> Question:
        if self.outcome not in OUTCOMES:
            raise UserError(f"--outcome {self.outcome!r}: choose {' or '.join(OUTCOMES)}")
        if not 0 < self.threshold < 1:
            raise UserError(f"--threshold must lie strictly between 0 and 1 (a probability), got {self.threshold}")
        if self.density is not None and not 0 < self.density <= 1:
            raise UserError(f"--density must lie in (0, 1], got {self.density}")
        for name, value, low, high in (("--peel-alpha", self.peel_alpha, 0, 0.5), ("--paste-alpha", self.paste_alpha,
                                                                                 0, 0.5),
                                       ("--mass-min", self.mass_min, 0, 1)):
            if not low < value < high:
                raise UserError(f"{name} must lie strictly between {low} and {high}, got {value}")
        return self


def discover(folder: Path, question: Question, out: Path | None = None, *, force: bool = False) -> dict[str, Any]:
    """Run PRIM on ``folder``'s sweep; write the discovery folder; return its manifest.

    Everything is checked (the question, the sweep's files, the outcome at every point, the output
    folder) before anything is written; only the tool's own files are ever replaced.
    """
    started, clock = now(), time.perf_counter()
    question.check()
    results = load_results(folder)
    swept = results.swept
    if len(swept) < 1 or len(results.points) < 10:
        raise UserError(f"{folder} sweeps {len(swept)} parameter(s) over {len(results.points)} points; scenario "
                        "discovery needs a sampled design (lhs or sobol) of at least 10 points")
    out = Path(out) if out else folder / SUBFOLDER
    prob = outcome_by_point(results.runs, question.outcome, question.horizon, results.run_length(),
                            question.accused)
    hit = (prob["value"] < question.threshold) if question.below else (prob["value"] >= question.threshold)
    if hit.all() or not hit.any():
        side = "below" if question.below else "at or above"
        raise UserError(f"{int(hit.sum())} of {len(hit)} points have {OUTCOMES[question.outcome]} by month "
                        f"{question.horizon} {side} {question.threshold}: nothing to discover; choose another "
                        "threshold")
    x = results.points.set_index("point").loc[prob.index, swept].reset_index()
    peeling = prim(x, hit.astype(float).to_numpy(), peel_alpha=question.peel_alpha,
                   paste_alpha=question.paste_alpha, mass_min=question.mass_min)
    index = choose_box(peeling, index=-1) if question.density is None else choose_box(peeling,
                                                                                      density=question.density)
    box = box_limits(peeling, index).rename(columns={"lower": "low", "upper": "high"})
    text = json.dumps(asdict(question), sort_keys=True)
    sha = hashlib.sha256(text.encode()).hexdigest()
    name = (results.manifest.get("experiment") or {}).get("name") or Path(folder).name
    claim = folders.Claim(FORMAT, f"{name}-discovery", sha, (*FILES, folders.MANIFEST), reads=(Path(folder),))
    plan = folders.plan(out, claim, force=force or _own_subfolder(out, folder))
    folders.claim(plan)
    outputs = []
    for name, frame in zip(DATA, (prob.assign(hit=hit).reset_index(), peeling.trajectory, peeling.limits, box)):
        store.write_csv(out / name, frame)
        outputs.append(out / name)
    outputs += save(tradeoff_figure(peeling, index, title=_title(question, results.points)), out, "tradeoff")
    outputs += save(box_limits_figure(peeling, index), out, "box_limits")
    chosen = peeling.trajectory[peeling.trajectory["box"] == index].iloc[0]
    manifest = {
        "format": FORMAT, "format_version": 1, "command": "discover",
        "experiment": {"name": claim.name},
        "question": asdict(question), "box": int(index),
        "coverage": float(chosen["coverage"]), "density": float(chosen["density"]), "mass": float(chosen["mass"]),
        "source": {"folder": str(folder), "outputs": _source_hashes(folder)},
        "config": {"sha256": sha, "text": text},
        "software": software(),
        "timings": {"started": started, "finished": now(), "wall_seconds": round(time.perf_counter() - clock, 2)},
        "outputs": {p.relative_to(out).as_posix(): store.sha256(p) for p in outputs},
    }
    store.write_json(out / folders.MANIFEST, manifest)
    return manifest


def _own_subfolder(out: Path, folder: Path) -> bool:
    """A sweep's own discovery/ subfolder from an earlier question is replaced without --force."""
    found = folders.owner(out) if out.is_dir() else None
    return out.resolve() == (folder / SUBFOLDER).resolve() and found is not None and found.format == FORMAT


def _title(q: Question, points: pd.DataFrame) -> str:
    who = "all accused: every one" if accused_key(q.accused) == ALL else f"accused {q.accused}"
    side = "below" if q.below else "at least"
    return (f"PRIM: where {OUTCOMES[q.outcome]} by month {q.horizon} ({who}) is {side} {q.threshold:g} "
            f"({len(points):,} points)")


def _source_hashes(folder: Path) -> dict[str, str]:
    manifest = store.read_json(folder / folders.MANIFEST) or {}
    outputs = manifest.get("outputs") or {}
    return {k: v for k, v in outputs.items() if k in DATA_FILES}
