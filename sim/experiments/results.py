"""Reading a results folder (points, runs, summary, manifest) for analysis and figures.

Every problem with the folder is a UserError of one line naming the file and the fix, so that
``python -m sim plot DIR`` and notebooks fail clearly on a missing or corrupt file. Nothing is
trusted that was not verified: each data file must have the sha256 the manifest records, and the
manifest must agree with its own config text (sim.experiments.provenance.check_manifest).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sim.errors import UserError
from sim.experiments import store
from sim.experiments.config import refuse_config_as_folder
from sim.experiments.folders import KIND_OF, MANIFEST, SWEEP_FORMAT
from sim.experiments.layout import BOX, DATA_FILES, DISCOVERY, FIGURES, PAIRED, POINTS, RUNS, SENSITIVITY, SUMMARY
from sim.experiments.provenance import check_manifest
from sim.model.params import BY_NAME, lookup, split_name
from sim.names import ALL_ACCUSED

FILES = (MANIFEST, *DATA_FILES)
# A discovery result (scenario discovery, e.g. PRIM) as one CSV of box limits, one row per restricted
# parameter: columns parameter, low, high (other columns are kept, not read). The first file found counts.
DISCOVERY_BOX = (f"{DISCOVERY}/{BOX}", "discovery.csv")
BOX_COLUMNS = ("parameter", "low", "high")
RUN_COLUMNS = ("point", "replicate", "accused", "in_custody", "custody_month", "route")
FIX = "rerun the experiment (python -m sim sweep CONFIG --resume) or point to a complete results folder"


@dataclass(frozen=True)
class Results:
    """A loaded results folder: the frames of the sweep and its manifest.

    ``runs`` is read from runs.parquet when first used; ``read_runs`` reads only some columns or
    points (Parquet column projection and row-group filters), so a large folder opens at once.
    """

    points: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any]
    folder: Path
    sensitivity: pd.DataFrame | None = field(default=None)
    paired: pd.DataFrame | None = field(default=None)  # paired.csv of `compare`
    discovery: pd.DataFrame | None = field(default=None)
    runs_frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def runs(self) -> pd.DataFrame:
        """Every run (one row per point, replicate and accused), read once."""
        if self.runs_frame is None:
            object.__setattr__(self, "runs_frame", self.read_runs())
        assert self.runs_frame is not None
        return self.runs_frame

    def read_runs(self, columns: list[str] | None = None, points: list[int] | None = None) -> pd.DataFrame:
        """Some columns (default all) of the runs of some points (default all), read from the file."""
        if self.runs_frame is not None:
            frame = self.runs_frame if points is None else self.runs_frame[self.runs_frame["point"].isin(points)]
            return (frame if columns is None else frame[columns]).reset_index(drop=True)
        path = self.folder / RUNS
        filters = None if points is None else [("point", "in", [int(p) for p in points])]
        return _read(path, lambda f: pd.read_parquet(f, columns=columns, filters=filters))

    @property
    def runs_columns(self) -> list[str]:
        """The columns of runs.parquet, from its schema (nothing else is read)."""
        if self.runs_frame is not None:
            return list(self.runs_frame.columns)
        return list(pq.read_schema(self.folder / RUNS).names)

    @property
    def pending(self) -> list[str]:
        """Outputs the manifest says were still to come when the folder was last written, and that are
        missing: a study stopped while it drew its figures (``--resume`` finishes them). Empty when complete."""
        listed = self.manifest.get("pending")
        if not isinstance(listed, list):
            return []
        return [f for f in listed if isinstance(f, str) and not (self.folder / f).is_file()]

    @property
    def swept(self) -> list[str]:
        """Dotted names of the swept parameters, in the order of the config."""
        return swept_parameters(self.points, self.manifest)

    @property
    def horizons(self) -> list[int]:
        """Horizons (months) of the summary's enforcement-probability columns."""
        return summary_horizons(self.summary)

    @property
    def parameters(self) -> dict[str, Any]:
        """The base parameter values recorded in the manifest (dotted names; empty when absent)."""
        return manifest_parameters(self.manifest)

    @property
    def n_replicates(self) -> int:
        """Replicates per point (the smallest, should points differ), from the summary's counts."""
        if "n" in self.summary.columns and len(self.summary):
            return int(self.summary["n"].min())
        runs = self.read_runs(["point", "replicate"])
        return 0 if runs.empty else int(runs.groupby("point", observed=True)["replicate"].nunique().min())

    def run_length(self) -> pd.Series:
        """Run length T (scenario.horizon_months) per point id."""
        return run_length(self.points, self.manifest)


def pending_note(results: Results) -> str | None:
    """One line for a folder stopped before all its outputs were written (``Results.pending``), else None."""
    missing = results.pending
    if not missing:
        return None
    figures = all(f.startswith(f"{FIGURES}/") for f in missing)
    what = "its figures were drawn" if figures else "all its outputs were written"
    return (f"{results.folder} was stopped before {what} ({', '.join(missing)}); rerun the command that made it "
            f"with --resume to finish them")


def base_name(name: str) -> str:
    """``accused.trip_rate[0]`` -> ``accused.trip_rate``; other names unchanged."""
    return split_name(name)[0]


def is_parameter(name: str) -> bool:
    return base_name(name) in BY_NAME


def swept_parameters(points: pd.DataFrame, manifest: dict[str, Any]) -> list[str]:
    """The manifest's list of swept names when it has one, else the points' parameter columns that vary."""
    listed = manifest.get("swept")
    if isinstance(listed, list) and all(isinstance(n, str) and n in points.columns for n in listed):
        return list(listed)
    return [c for c in points.columns if is_parameter(c) and points[c].nunique(dropna=False) > 1]


def summary_horizons(summary: pd.DataFrame) -> list[int]:
    found = [re.fullmatch(r"p_enforced_(\d+)", c) for c in summary.columns]
    return sorted(int(m[1]) for m in found if m)


def manifest_parameters(manifest: dict[str, Any]) -> dict[str, Any]:
    for key in ("parameters", "params", "resolved_parameters", "base_parameters"):
        node = manifest.get(key)
        if isinstance(node, dict):
            return node
    return {}


def run_length(points: pd.DataFrame, manifest: dict[str, Any]) -> pd.Series:
    """scenario.horizon_months per point: swept, else the manifest's value, else the schema default."""
    name = "scenario.horizon_months"
    if name in points.columns:
        values = points[name].to_numpy()
    else:
        values = np.full(len(points), manifest_parameters(manifest).get(name, lookup(name).default))
    return pd.Series(values.astype(int), index=points["point"].to_numpy(), name=name)


def _read(path: Path, reader: Callable[[Path], Any]) -> Any:
    try:
        return reader(path)
    except UserError:
        raise
    except Exception as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__
        raise UserError(f"{path} is corrupt or unreadable ({detail}); {FIX}") from None


def _manifest(path: Path) -> dict[str, Any] | None:
    """A folder's manifest, or None when it has none; a link, FIFO, device or oversized file is refused
    unread, and one that is not a JSON object is named (store.read_bytes)."""
    data = store.read_bytes(path)
    if data is None:
        return None
    try:
        doc = json.loads(data.decode("utf-8"))
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise UserError(f"{path} is corrupt or unreadable (not a JSON object); {FIX}")
    return doc


def _columns(frame: pd.DataFrame, path: Path, needed: Iterable[str]) -> pd.DataFrame:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)}; {FIX}")
    return frame


def _accused(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``accused`` as the integer of every frame (``ALL_ACCUSED`` for all accused; "all" in a folder of an
    earlier version), so that a summary merges with its runs on (point, accused)."""
    if pd.api.types.is_integer_dtype(frame["accused"]):
        return frame
    codes = pd.to_numeric(frame["accused"].replace("all", ALL_ACCUSED), errors="coerce")
    if codes.isna().any() or (codes < ALL_ACCUSED).any() or (codes != codes.round()).any():
        raise UserError(f"{path} has an accused that is neither an index nor all accused; {FIX}")
    return frame.assign(accused=codes.astype("int64"))


def _point_ids(path: Path) -> np.ndarray:
    """The point ids in runs.parquet: from its row-group statistics when each group holds one point
    (a sweep writes one group per block of one point), else from its point column."""
    meta = pq.ParquetFile(path).metadata
    index = meta.schema.to_arrow_schema().get_field_index("point")
    ids = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(index).statistics
        if stats is None or not stats.has_min_max or stats.min != stats.max:
            return pq.read_table(path, columns=["point"]).column("point").unique().to_numpy()
        ids.append(stats.min)
    return np.unique(np.asarray(ids, dtype=np.int64))


def read_discovery_box(folder: str | Path) -> pd.DataFrame | None:
    """The PRIM box of a folder's discovery result (``DISCOVERY_BOX``), or None when there is none.

    Columns parameter, low, high (floats; an open side may be empty, read as -inf or +inf); a file
    without them, or with a low above its high, is a one-line UserError.
    """
    folder = Path(folder)
    path = next((folder / name for name in DISCOVERY_BOX if (folder / name).is_file()), None)
    if path is None:
        return None
    box = _columns(_read(path, pd.read_csv), path, BOX_COLUMNS)
    box = box.assign(parameter=box["parameter"].astype(str),
                     low=pd.to_numeric(box["low"], errors="coerce").fillna(-np.inf),
                     high=pd.to_numeric(box["high"], errors="coerce").fillna(np.inf))
    bad = box[box["low"] > box["high"]]
    if len(bad):
        raise UserError(f"{path}: the box's low is above its high for {bad['parameter'].iloc[0]}; "
                        "write one row per parameter with low <= high")
    return box


def load_results(folder: str | Path, verify: bool = True) -> Results:
    """Load a sweep's results folder: ``r.points``, ``r.runs``, ``r.summary``, ``r.manifest``, ``r.folder``.

    Missing or corrupt files raise a one-line UserError naming them; so does a data file whose sha256
    is not the manifest's, or a manifest that disagrees with its config (``verify=False`` skips both
    checks, for folders written by hand). runs.parquet is checked (its columns and point ids) but read
    only when ``r.runs`` or ``r.read_runs`` asks for it.
    """
    folder = Path(folder)
    refuse_config_as_folder(folder)
    if not folder.is_dir():
        raise UserError(f"results folder {folder} does not exist; check the path (a sweep writes results/<name>/)")
    manifest = _manifest(folder / MANIFEST)
    if manifest is not None and manifest.get("format") in KIND_OF and manifest["format"] != SWEEP_FORMAT:
        raise UserError(f"{folder} holds {KIND_OF[manifest['format']]}, not a sweep's results; "
                        f"load_results and `plot` read the folders of `sweep` and `sensitivity`")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing or manifest is None:
        raise UserError(f"results folder {folder} lacks {', '.join(missing or [MANIFEST])}; {FIX}")
    points = _columns(_read(folder / POINTS, pd.read_parquet), folder / POINTS, ["point"])
    runs_path = folder / RUNS
    schema = _read(runs_path, lambda p: pd.DataFrame(columns=pq.read_schema(p).names))
    _columns(schema, runs_path, RUN_COLUMNS)
    run_points = _read(runs_path, _point_ids)
    summary = _accused(_columns(_read(folder / SUMMARY, pd.read_csv), folder / SUMMARY, ["point", "accused"]),
                       folder / SUMMARY)
    if not summary_horizons(summary):
        raise UserError(f"{folder / SUMMARY} has no p_enforced_H columns; {FIX}")
    outputs = manifest.get("outputs")
    listed: dict[str, Any] = outputs if isinstance(outputs, dict) else {}
    sensitivity = None
    if (folder / SENSITIVITY).is_file() and (SENSITIVITY in listed or not verify):
        sensitivity = _columns(_read(folder / SENSITIVITY, pd.read_csv), folder / SENSITIVITY, ["parameter"])
    paired = None
    if (folder / PAIRED).is_file() and (PAIRED in listed or not verify):
        paired = _accused(_columns(_read(folder / PAIRED, pd.read_csv), folder / PAIRED,
                                   ["alternative", "accused", "horizon", "diff"]), folder / PAIRED)
    if verify:
        verify_folder(folder, manifest, [*DATA_FILES, *([SENSITIVITY] if sensitivity is not None else []),
                                         *([PAIRED] if paired is not None else [])])
    unknown = sorted(set(run_points.tolist()) - set(points["point"]))
    if unknown:
        raise UserError(f"{folder / RUNS} has point ids missing from points.parquet "
                        f"(e.g. {unknown[0]}); {FIX}")
    return Results(points=points, summary=summary, manifest=manifest, folder=folder,
                   sensitivity=sensitivity, paired=paired, discovery=read_discovery_box(folder))


def verify_folder(folder: Path, manifest: dict[str, Any], names: list[str]) -> None:
    """Each named file must have the sha256 the manifest records, and the manifest must agree with its config."""
    listed = manifest.get("outputs")
    if not isinstance(listed, dict):
        raise UserError(f"{folder / MANIFEST} records no output hashes, so {folder} cannot be verified; {FIX}")
    for name in names:
        recorded = listed.get(name)
        if not isinstance(recorded, str):
            raise UserError(f"{folder / MANIFEST} records no sha256 for {name}, so it cannot be verified; {FIX}")
        if store.sha256(folder / name) != recorded:
            raise UserError(f"{folder / name} is not the file the sweep wrote (its sha256 differs from the "
                            f"manifest's); restore it, or {FIX}")
    check_manifest(manifest, folder / MANIFEST, full=False)
