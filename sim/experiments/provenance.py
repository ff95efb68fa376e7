"""Provenance: the one builder of manifests (sweep, single run, calibration) and their checks.

Every manifest has a common core (format, software, the config's text and sha256, the sha256 of every
output) and sections of its study. A manifest is trusted only as far as it agrees with itself: its
config text must match its hash, and the sections that the config determines must be what the config
gives (``check_manifest``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.experiments import store
from sim.experiments.config import Experiment, experiment_from_text, model_overrides, parse_toml
from sim.experiments.design import DESIGN_TAG
from sim.experiments.folders import RUN_FORMAT, SWEEP_FORMAT
from sim.model.params import Params, flatten_tables
from sim.paths import ROOT
from sim.version import __version__

PACKAGES = ("numpy", "pandas", "mesa", "pyarrow", "SALib", "scipy", "statsmodels", "matplotlib", "dask",
            "distributed")
FORMAT_VERSION = 1


def config_record(text: str | None, source: str | None = None) -> dict[str, Any] | None:
    """The config section: where it came from, its exact text and that text's sha256 (None: no config)."""
    if text is None:
        return None
    return {"source": source, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "text": text}


def output_hashes(folder: Path, paths: Iterable[Path]) -> dict[str, str]:
    """The sha256 of each output, keyed by its path relative to the folder."""
    return {p.relative_to(folder).as_posix(): store.sha256(p) for p in paths}


def manifest(fmt: str, sections: dict[str, Any], *, config: dict[str, Any] | None, folder: Path,
             outputs: Iterable[Path]) -> dict[str, Any]:
    """A manifest: the common core around a study's ``sections``."""
    return {"format": fmt, "format_version": FORMAT_VERSION, **sections, "config": config, "software": software(),
            "outputs": output_hashes(folder, outputs)}


# --- sweep ------------------------------------------------------------------------------------------------

def sweep_sections(exp: Experiment) -> dict[str, Any]:
    """What a sweep's config determines: settings, swept names, bounds, base parameters, points, seeds."""
    return {
        "experiment": {"name": exp.name, "description": exp.description, "seed": exp.seed,
                       "replicates": exp.replicates, "block_size": exp.block_size, "engine": exp.engine,
                       "sampler": exp.sampler, "n": exp.n, "levels": exp.levels, "second_order": exp.second_order,
                       "points": exp.n_points, "blocks": exp.n_blocks,
                       "common_random_numbers": exp.crn,
                       "horizons": list(exp.horizons), "figures": list(exp.figures)},
        "swept": list(exp.swept),
        "posterior": None if exp.posterior is None else {
            "source": exp.posterior.source, "sha256": exp.posterior.sha256, "draws": exp.posterior.draws,
            "parameters": list(exp.posterior.names),
            "draw": "replicate r of every point uses draw r mod draws, resampled with "
                    "SeedSequence([0x504F5354, seed])"},
        "bounds": {k: list(v) for k, v in exp.bounds.items()},
        "parameters": exp.base.to_dict(),
        "points": [{"point": i, "values": {n: exp.points[n].iloc[i].item() for n in exp.swept}}
                   for i in range(exp.n_points)],
        "seeds": {"experiment_seed": exp.seed,
                  "replicate": "replicate r of point p draws only from its own stream, keyed by (seed, p, r) "
                               "(sim.model.seeding), or (seed, 0, r) with common random numbers; blocks group "
                               "rows of one or many points and change no number",
                  "design": f"numpy.random.default_rng(SeedSequence([{DESIGN_TAG}, seed])) passed to SALib"},
    }


def build_manifest(exp: Experiment, folder: Path, outputs: list[Path], timings: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to reproduce a sweep's folder, and the sha256 of every output file."""
    return manifest(SWEEP_FORMAT, {**sweep_sections(exp), "timings": timings},
                    config={"source": exp.source, "sha256": exp.sha256, "text": exp.text}, folder=folder,
                    outputs=outputs)


# --- single run -------------------------------------------------------------------------------------------

def run_command_line(params: Params, seed: int) -> str:
    """The command that reruns a single run: its seed and every parameter that differs from the default."""
    changed = params.to_dict(changed_only=True)
    sets = " ".join(f"--set {k}={json.dumps(v, separators=(',', ':'))}" for k, v in changed.items())
    return f"python -m sim run --seed {seed} {sets}".strip()


def run_manifest(params: Params, seed: int, folder: Path, outputs: list[Path],
                 config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of `run --out`: the command that reruns it, its seed and every parameter."""
    return manifest(RUN_FORMAT, {"command": run_command_line(params, seed), "engine": "mesa", "seed": seed,
                                       "parameters": params.to_dict()}, config=config, folder=folder,
                    outputs=outputs)


# --- checks -----------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _first_difference(recorded: Any, derived: Any, path: str) -> str | None:
    if isinstance(recorded, dict) and isinstance(derived, dict):
        for key in sorted(set(recorded) | set(derived), key=str):
            if key not in derived:
                return f"{path}.{key} is in the manifest but not given by the config"
            if key not in recorded:
                return f"{path}.{key} is missing from the manifest"
            found = _first_difference(recorded[key], derived[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(derived, list) and len(recorded) == len(derived):
        for i, (a, b) in enumerate(zip(recorded, derived)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if recorded != derived:
        return f"{path} is {json.dumps(recorded)[:60]} there and {json.dumps(derived)[:60]} from its config text"
    return None


def check_config_hash(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """The manifest's config section, checked against its own sha256."""
    config = doc.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("text"), str) \
            or not isinstance(config.get("sha256"), str):
        raise UserError(f"{path} is corrupt (no config text and sha256); rerun the experiment")
    if hashlib.sha256(config["text"].encode("utf-8")).hexdigest() != config["sha256"]:
        raise UserError(f"{path} is corrupt: its config text does not match its recorded sha256")
    return config


def check_manifest(doc: dict[str, Any], path: Path, *, full: bool) -> Experiment | None:
    """Refuse a sweep manifest whose sections disagree with its own config text (an edited manifest).

    ``full`` rebuilds the whole experiment (settings, points, seeds; returned); otherwise only what
    loading a folder reads is checked, cheaply: the base parameters and the swept names.
    """
    config = check_config_hash(doc, path)
    try:
        derived, recorded, exp = _derived(doc, config, full)
    except UserError as exc:
        raise UserError(f"{path} is corrupt: its config text is not a valid experiment ({exc})") from None
    found = _first_difference(_plain(recorded), _plain(derived), "manifest")
    if found:
        raise UserError(f"{path} disagrees with its own config: {found.removeprefix('manifest.')}; "
                        f"the manifest was edited: restore it or rerun the experiment")
    return exp


def _derived(doc: dict[str, Any], config: dict[str, Any], full: bool) -> tuple[dict, dict, Experiment | None]:
    source = config.get("source") or "config"
    if full:
        if "comparison" in doc:
            from sim.experiments.comparison import comparison_from_texts

            exp = comparison_from_texts(config["text"], str(source)).experiment
        else:
            exp = experiment_from_text(config["text"], str(source))
        derived = {k: v for k, v in sweep_sections(exp).items() if k != "seeds"}  # seeds: words, and the seed
        derived["experiment_seed"] = exp.seed
        recorded = {k: doc.get(k) for k in derived if k != "experiment_seed"}
        recorded["experiment_seed"] = (doc.get("seeds") or {}).get("experiment_seed")
    else:
        exp = None
        parsed = parse_toml(config["text"], str(source))
        sweep = parsed.get("sweep") if isinstance(parsed.get("sweep"), dict) else {}
        table = sweep.get("grid", sweep.get("bounds", {})) if isinstance(sweep, dict) else {}
        derived = {"parameters": Params(model_overrides(parsed)).to_dict(),
                   "swept": list(flatten_tables(table, "[sweep]")) if isinstance(table, dict) else []}
        recorded = {k: doc.get(k) for k in derived}
    return derived, recorded, exp


# --- software ---------------------------------------------------------------------------------------------

def software() -> dict[str, Any]:
    """The versions of this package, its git commit, Python and the libraries results depend on."""
    out: dict[str, Any] = {"sim": __version__, "git_commit": None, "git_dirty": None,
                           "python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    root = ROOT
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
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
