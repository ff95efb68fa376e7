"""A calibrated posterior as an experiment's input: every point run over posterior draws.

``[posterior] source = "calibrated"`` uses the posterior shipped with the package (sim/data/posterior/,
made by `python -m sim calibrate experiments/calibration.toml`; its manifest says how); any other
source is a calibration results folder. ``draws`` parameter vectors are resampled from the weighted
population (systematic resampling, seeded by the experiment seed); replicate r of every point uses
draw r mod draws, on the point's own streams, so a sweep reports parameter uncertainty (the spread
between draws) as well as Monte Carlo noise.

A draw never overwrites what is known of how the warrants were issued (``FACTS``, ``known_facts``): on the
real roster a scenario is a situation, and its values of whether the warrants were sealed, timed to a stay
in a state party, and issued after the home government fell stand whatever the posterior drew (given or
default: public, no stay at issue, a government standing); on the synthetic roster, those the config states
stand. The calibrated ``prosecutor.timed_share`` is the share of *sealed* warrants that were timed, so where
it is drawn it applies to the sealed share only (a public warrant is never timed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim.data.tables import DATA_DIR
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.folders import CALIBRATION_FORMAT, MANIFEST
from sim.model.params import Params, lookup

POSTERIOR = "posterior.parquet"  # a calibration's weighted population (sim.studies.calibration writes it)
PRESETS = {"calibrated": DATA_DIR / "posterior" / "calibrated"}  # a folder: posterior.parquet and manifest.json
DRAW_TAG = 0x504F5354  # "POST": the resampling of the draws, apart from every simulation stream
# What is known of the warrants' issue: sealed or public, timed to a stay in a state party or not, issued after the
# home government fell or not (ODD §7.0). A posterior draw never replaces a known one (``known_facts``).
FACTS = ("prosecutor.sealed_share", "prosecutor.timed_share", "home.fallen_at_issue")


def known_facts(params: Params, stated: frozenset[str] | set[str] = frozenset()) -> dict[str, float]:
    """The facts of issue that a posterior draw must leave as ``params`` has them: all of ``FACTS`` on the real
    roster (a historical situation; defaults included), those in ``stated`` (set by the config) on the synthetic."""
    keep = set(FACTS) if params["scenario.roster"] == "real" else set(stated) & set(FACTS)
    return {name: float(params[name]) for name in FACTS if name in keep}


@dataclass(frozen=True, eq=False)
class Posterior:
    """Parameter vectors resampled from a calibration's weighted population."""

    source: str
    names: tuple[str, ...]
    values: np.ndarray  # (draws, parameters)
    sha256: str  # of the posterior file read
    folder: Path | None = None  # the calibration folder it was read from
    stated: frozenset[str] = frozenset()  # the FACTS the config states: no draw replaces them (``known_facts``)

    @property
    def draws(self) -> int:
        return int(self.values.shape[0])

    def apply(self, params: Params, draw: int) -> Params:
        """``params`` with draw ``draw``'s values (a list parameter: every element, as it was calibrated), the
        known facts of issue kept (``known_facts``) and a drawn timed share applied to the sealed share only."""
        updates: dict[str, object] = {}
        for name, v in zip(self.names, self.values[draw]):
            updates[name] = [float(v)] * params.n_accused if lookup(name).is_list else float(v)
        facts = known_facts(params, self.stated)
        timed = "prosecutor.timed_share"
        if timed in updates and timed not in facts:  # calibrated among sealed warrants: public ones are never timed
            updates[timed] = float(updates[timed]) * float(params["prosecutor.sealed_share"])  # type: ignore[arg-type]
        updates.update({name: v for name, v in facts.items() if name in updates})
        return params.replace(updates)

    def keeping(self, stated: set[str] | frozenset[str]) -> Posterior:
        """This posterior with the facts of issue a config states (``FACTS`` among ``stated``) kept in every draw."""
        return replace(self, stated=frozenset(set(stated) & set(FACTS)))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, columns=list(self.names)).rename_axis("draw").reset_index()


def folder_of(source: str, base: Path | None = None) -> Path:
    """The folder a source names: a preset, or a path (relative to ``base``, the config's folder)."""
    if source in PRESETS:
        return PRESETS[source]
    path = Path(source)
    return path if path.is_absolute() or base is None else base / path


def load_posterior(source: str, draws: int, seed: int, base: Path | None = None) -> Posterior:
    """Read and verify a posterior (the file's sha256 must be its manifest's), then resample ``draws``."""
    folder = folder_of(source, base)
    manifest_path, path = folder / MANIFEST, folder / POSTERIOR
    if not manifest_path.is_file() or not path.is_file():
        known = ", ".join(f'"{k}"' for k in PRESETS)
        raise UserError(f"[posterior] source {source!r}: {folder} holds no calibration results ({MANIFEST} and "
                        f"{POSTERIOR}); use {known} or the folder of `python -m sim calibrate`")
    doc = store.read_json(manifest_path) or {}
    if doc.get("format") != CALIBRATION_FORMAT:
        raise UserError(f"[posterior] source {source!r}: {manifest_path} is not a calibration's manifest")
    recorded = (doc.get("outputs") or {}).get(POSTERIOR)
    digest = store.sha256(path)
    if recorded != digest:
        raise UserError(f"[posterior] source {source!r}: {path} is not the file the calibration wrote (its sha256 "
                        "differs from the manifest's); rerun the calibration or restore the file")
    frame = pd.read_parquet(path)
    names = tuple(p["name"] for p in doc.get("priors", []))
    missing = [n for n in (*names, "weight") if n not in frame.columns]
    if not names or missing:
        raise UserError(f"[posterior] source {source!r}: {path} lacks the column(s) {', '.join(missing) or 'priors'}")
    for n in names:
        lookup(n)
    w = frame["weight"].to_numpy(float)
    w = w / w.sum()
    u0 = np.random.default_rng(np.random.SeedSequence([DRAW_TAG, int(seed)])).uniform()
    index = np.minimum(np.searchsorted(np.cumsum(w), (u0 + np.arange(draws)) / draws, side="left"), len(w) - 1)
    return Posterior(source=source, names=names, values=frame[list(names)].to_numpy(float)[index], sha256=digest,
                     folder=folder)
