"""Provenance: the software that made a folder, and the manifest that is enough to reproduce a sweep."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sim.experiments import store
from sim.experiments.config import Experiment
from sim.experiments.design import DESIGN_TAG
from sim.version import __version__

PACKAGES = ("numpy", "pandas", "mesa", "pyarrow", "SALib", "scipy", "statsmodels", "matplotlib", "dask",
            "distributed")


def build_manifest(exp: Experiment, folder: Path, outputs: list[Path], timings: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to reproduce the folder, and the sha256 of every output file."""
    return {
        "format": "tribunal-sim results", "format_version": 1,
        "experiment": {"name": exp.name, "description": exp.description, "seed": exp.seed,
                       "replicates": exp.replicates, "block_size": exp.block_size, "engine": exp.engine,
                       "sampler": exp.sampler, "n": exp.n, "levels": exp.levels, "second_order": exp.second_order,
                       "points": exp.n_points, "blocks_per_point": exp.blocks_per_point,
                       "horizons": list(exp.horizons), "figures": list(exp.figures)},
        "swept": list(exp.swept),
        "bounds": {k: list(v) for k, v in exp.bounds.items()},
        "parameters": exp.base.to_dict(),
        "points": [{"point": i, "values": {n: exp.points[n].iloc[i].item() for n in exp.swept}}
                   for i in range(exp.n_points)],
        "seeds": {"experiment_seed": exp.seed,
                  "block": "numpy.random.SeedSequence(seed, spawn_key=(point, block))",
                  "replicate": "engine-specific, drawn only from its block's SeedSequence",
                  "design": f"numpy.random.default_rng(SeedSequence([{DESIGN_TAG}, seed])) passed to SALib"},
        "config": {"source": exp.source, "sha256": exp.sha256, "text": exp.text},
        "software": software(),
        "timings": timings,
        "outputs": {p.relative_to(folder).as_posix(): store.sha256(p) for p in outputs},
    }


def software() -> dict[str, Any]:
    """The versions of this package, its git commit, Python and the libraries results depend on."""
    out: dict[str, Any] = {"sim": __version__, "git_commit": None, "git_dirty": None,
                           "python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        out["git_commit"] = _git(root, "rev-parse", "HEAD")
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
        out["git_dirty"] = None if status is None else bool(status)
    return out


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
