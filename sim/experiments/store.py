"""Results folders: the one home of their file names, atomic deterministic writes, and the claim of a folder.

A sweep's folder: points.parquet, runs.parquet, summary.csv, figures/, manifest.json (written last: it
marks a complete folder), sensitivity.csv (`sensitivity`), and blocks/ (one Parquet file per finished
block plus experiment.json, the marker naming the experiment and listing every file it may write).
A single run's folder (`run --out`) and a calibration's have their own files and a manifest.

Claiming a folder (``plan`` then ``claim``) checks everything first and deletes only files the tool
wrote: names it writes that its marker or manifest lists. Other files are never touched.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import UserError
from sim.names import FIGURE_KINDS as _FIGURE_KINDS

# --- file names (no other module spells them) ---------------------------------------------------------
MANIFEST = "manifest.json"
POINTS = "points.parquet"
RUNS = "runs.parquet"
SUMMARY = "summary.csv"
SENSITIVITY = "sensitivity.csv"
BLOCKS = "blocks"
MARKER = "experiment.json"
FIGURES = "figures"
FIGURE_FORMATS = ("png", "svg")
FIGURE_KINDS = _FIGURE_KINDS
EVENTS, SERIES, OUTCOME = "events.csv", "series.csv", "outcome.json"  # `run --out`
# `calibrate`: the posterior, its generations and summary, the record's summaries, the design (records and
# runs), the posterior predictive and out-of-sample checks, pyabc's history and the figures
POSTERIOR, GENERATIONS, OBSERVED, RECORDS, RUNS_TABLE = ("posterior.parquet", "generations.csv", "observed.csv",
                                                         "records.csv", "runs.csv")
PREDICTIVE, PREDICTIVE_DRAWS, OUT_OF_SAMPLE, OUT_OF_SAMPLE_SUMMARY = ("predictive.csv", "predictive.parquet",
                                                                      "out_of_sample.csv", "out_of_sample_summary.csv")
OUT_OF_SAMPLE_STATE, TRAVEL_TABLE, FINDINGS_TABLE, TIMED_STAYS = ("out_of_sample_state.csv", "travel.csv",
                                                                "findings.csv", "timed_stays.csv")
ABC_HISTORY = "abc_history.db"
CALIBRATION_FIGURES = ("pairs", "predictive", "out_of_sample")
RANKS, COVERAGE, FITS = "ranks.csv", "coverage.csv", "fits.csv"  # `calibrate --sbc`
OUTCOME_TABLE, TRAJECTORY, LIMITS, BOX = "outcome.csv", "trajectory.csv", "limits.csv", "box.csv"  # `discover`
DISCOVERY = "discovery"  # the subfolder of a sweep that `discover` writes by default
DISCOVERY_FIGURES = ("tradeoff", "box_limits")
PAIRED = "paired.csv"  # `compare`: paired differences of each alternative from the base
DATA_FILES = (POINTS, RUNS, SUMMARY)  # a sweep's data: hashed in the manifest, compared by `reproduce`
RUN_FILES = (EVENTS, SERIES, OUTCOME)
CALIBRATION_DATA = (POSTERIOR, GENERATIONS, SUMMARY, OBSERVED, RECORDS, RUNS_TABLE, TRAVEL_TABLE, FINDINGS_TABLE,
                    PREDICTIVE, TIMED_STAYS, OUT_OF_SAMPLE, OUT_OF_SAMPLE_SUMMARY,
                    OUT_OF_SAMPLE_STATE)  # compared by `reproduce`
SBC_DATA = (RANKS, COVERAGE)
DISCOVERY_DATA = (OUTCOME_TABLE, TRAJECTORY, LIMITS, BOX)
MARKER_PATH = f"{BLOCKS}/{MARKER}"
_BLOCK_FILE = re.compile(r"^b\d{6,}\.parquet$")
PROBE = "sim-write-test"  # the file that proves a folder writable (created and removed at once)
BLOCK_KEY = b"tribunal-sim.block"  # a block file's own label: config hash, points, replicates (Parquet metadata)

# manifest formats, one per kind of folder
SWEEP_FORMAT, RUN_FORMAT, CALIBRATION_FORMAT = "tribunal-sim results", "tribunal-sim run", "tribunal-sim calibration"
SBC_FORMAT, DISCOVERY_FORMAT = "tribunal-sim sbc", "tribunal-sim discovery"
KIND_OF = {SWEEP_FORMAT: "a sweep", RUN_FORMAT: "a single run (`python -m sim run --out`)",
           CALIBRATION_FORMAT: "a calibration (`python -m sim calibrate`)",
           SBC_FORMAT: "a simulation-based calibration (`python -m sim calibrate --sbc`)",
           DISCOVERY_FORMAT: "a scenario discovery (`python -m sim discover`)"}
NOUN = {SWEEP_FORMAT: "experiment", RUN_FORMAT: "run", CALIBRATION_FORMAT: "calibration", SBC_FORMAT: "calibration",
        DISCOVERY_FORMAT: "discovery"}

# fixed writer options: same rows in, same bytes out (no timestamps are written by pyarrow)
PARQUET = {"compression": "zstd", "compression_level": 3, "use_dictionary": True, "write_statistics": True,
           "version": "2.6", "data_page_version": "1.0", "store_schema": True,
           "write_page_checksum": True}  # a flipped bit in a block is caught when it is read back
ROW_GROUP = 1 << 18  # rows per row group of every file, runs.parquet included: its bytes ignore block_size


def figure_files(kinds: Iterable[str], folder: str | None = FIGURES) -> list[str]:
    """The relative paths of the figures of some kinds (``figures/<kind>.png`` and ``.svg``; at the top of
    the folder with ``folder=None``)."""
    prefix = f"{folder}/" if folder else ""
    return [f"{prefix}{kind}.{ext}" for kind in kinds for ext in FIGURE_FORMATS]


# Every file each kind of study folder (but a sweep's) may hold: what `plan` may delete and `reproduce` compares.
STUDY_FILES = {
    CALIBRATION_FORMAT: (*CALIBRATION_DATA, PREDICTIVE_DRAWS, ABC_HISTORY, *figure_files(CALIBRATION_FIGURES, None)),
    SBC_FORMAT: (*SBC_DATA, FITS, *figure_files(("sbc",), None)),
    DISCOVERY_FORMAT: (*DISCOVERY_DATA, *figure_files(DISCOVERY_FIGURES, None)),
}
STUDY_DATA = {CALIBRATION_FORMAT: CALIBRATION_DATA, SBC_FORMAT: SBC_DATA, DISCOVERY_FORMAT: DISCOVERY_DATA}


def block_name(block: int) -> str:
    return f"b{block:06d}.parquet"


def block_path(folder: Path, block: int) -> Path:
    return folder / BLOCKS / block_name(block)


@lru_cache(maxsize=1)
def _figure_names() -> frozenset[str]:
    return frozenset(f.split("/")[1] for f in figure_files(FIGURE_KINDS))


def _tool_name(rel: str) -> bool:
    """Whether the tool ever writes this relative path: only such files may be deleted."""
    parts = PurePosixPath(rel).parts
    if len(parts) == 1:
        return parts[0] in {MANIFEST, SENSITIVITY, PAIRED, *DATA_FILES, *RUN_FILES,
                            *(f for files in STUDY_FILES.values() for f in files)}
    if len(parts) == 2 and parts[0] == BLOCKS:
        return parts[1] == MARKER or bool(_BLOCK_FILE.match(parts[1]))
    return len(parts) == 2 and parts[0] == FIGURES and parts[1] in _figure_names()


# --- writing --------------------------------------------------------------------------------------------

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp's 0600 would hide results from others


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_failed(path: Path, exc: BaseException) -> UserError:
    """A failed write as one line: what could not be written, why, and what to do."""
    code = getattr(exc, "errno", None)
    why = os.strerror(code) if isinstance(code, int) else (str(exc).splitlines() or [exc.__class__.__name__])[0]
    if code in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc):
        fix = "free some space (or choose another --out) and rerun; a sweep continues with --resume"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = "choose a writable --out"
    else:
        fix = "check the folder and rerun"
    return UserError(f"cannot write {path} ({why}); {fix}")


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then rename over ``path``: readers see all or nothing.

    A failed write (full disk, read-only folder) removes its temporary file and is a one-line UserError.
    """
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
        tmp = None
    except (OSError, pa.ArrowException) as exc:
        raise write_failed(path, exc) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False).combine_chunks()


def write_parquet(path: Path, frame: pd.DataFrame | pa.Table) -> None:
    data = frame if isinstance(frame, pa.Table) else table(frame)
    atomic_write(path, lambda tmp: pq.write_table(data, tmp, row_group_size=ROW_GROUP, **PARQUET))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n", float_format="%.10g"))


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when missing or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write_json(path: Path, doc: dict[str, Any]) -> None:
    write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


# --- blocks: labelled on write, verified before reuse ----------------------------------------------------

@dataclass(frozen=True)
class BlockSpec:
    """What one block file must hold: rows of points ``points`` (first, last) and replicates ``replicates``
    (first, last), ``rows`` in all, labelled with ``label`` (the config's sha256)."""

    path: Path
    points: tuple[int, int]
    replicates: tuple[int, int]
    rows: int
    label: str

    @property
    def key(self) -> bytes:
        return json.dumps({"config_sha256": self.label, "points": list(self.points),
                           "replicates": list(self.replicates), "rows": self.rows}).encode()


def write_block(spec: BlockSpec, frame: pd.DataFrame | pa.Table) -> None:
    """A block's rows with its label in the file's metadata (runs.parquet drops the label)."""
    data = frame if isinstance(frame, pa.Table) else table(frame)
    data = data.replace_schema_metadata({**(data.schema.metadata or {}), BLOCK_KEY: spec.key})
    write_parquet(spec.path, data)


def as_stored(schema: pa.Schema) -> pa.Schema:
    """The schema a Parquet file written from ``schema`` reads back with (some types change on the way)."""
    sink = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), sink, **PARQUET)
    return pq.read_metadata(pa.BufferReader(sink.getvalue())).schema.to_arrow_schema()


def _fields(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in schema]


def _range(meta: pq.FileMetaData, column: int) -> tuple[Any, Any] | None:
    lows, highs = [], []
    for g in range(meta.num_row_groups):
        s = meta.row_group(g).column(column).statistics
        if s is None or not s.has_min_max:
            return None
        lows.append(s.min)
        highs.append(s.max)
    return (min(lows), max(highs)) if lows else None


def block_verified(spec: BlockSpec, schema: pa.Schema) -> bool:
    """Whether a block file can be reused: its label, row count, columns and types, and the point and
    replicate ranges of its footer statistics are the expected ones, and its data read."""
    try:
        if not stat.S_ISREG(os.lstat(spec.path).st_mode):
            return False
        meta = pq.read_metadata(spec.path)
        found = meta.schema.to_arrow_schema()
        labels = dict(found.metadata or {})
        expected = as_stored(schema)
        if (meta.num_rows != spec.rows or _fields(found) != _fields(expected)
                or labels.pop(BLOCK_KEY, None) != spec.key or labels != dict(expected.metadata or {})):
            return False
        names = found.names
        if (_range(meta, names.index("point")) != spec.points
                or _range(meta, names.index("replicate")) != spec.replicates):
            return False
        return pq.read_table(spec.path, page_checksum_verification=True).num_rows == spec.rows
    except (OSError, pa.ArrowException, ValueError, KeyError, IndexError):
        return False


def write_runs(path: Path, block_files: Iterable[Path]) -> None:
    """Concatenate block files in the given order into one Parquet file of fixed row groups (``ROW_GROUP``
    rows each): the bytes depend on the rows alone, not on how they were split into blocks."""
    def write(tmp: Path) -> None:
        writer: pq.ParquetWriter | None = None
        pending: list[pa.Table] = []
        count = 0
        try:
            for f in block_files:
                t = pq.read_table(f)
                meta = {k: v for k, v in (t.schema.metadata or {}).items() if k != BLOCK_KEY}
                t = t.replace_schema_metadata(meta)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema, **PARQUET)
                pending.append(t)
                count += t.num_rows
                while count >= ROW_GROUP:
                    whole = pa.concat_tables(pending).combine_chunks()
                    writer.write_table(whole.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                    rest = whole.slice(ROW_GROUP)
                    pending, count = [rest], rest.num_rows
            if writer is not None and count:
                writer.write_table(pa.concat_tables(pending).combine_chunks(), row_group_size=ROW_GROUP)
        finally:
            if writer is not None:
                writer.close()
    atomic_write(path, write)


# --- claiming a folder --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """What a command is about to write into a folder, and whose results they are.

    ``sha256`` identifies the config (None: any earlier folder of the same format is the same, as for
    `run --out`); ``files`` lists every relative path it may write; ``marker`` is where its list of
    files is recorded at claim time (None: only the manifest records them, at the end).
    """

    format: str
    name: str
    sha256: str | None
    files: tuple[str, ...]
    marker: str | None = None
    software: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Owner:
    """Who made an existing folder, as its marker or manifest says, and which of its files are the tool's."""

    format: str
    name: str
    sha256: str | None
    files: frozenset[str]
    software: dict[str, Any]


@dataclass
class Plan:
    """The outcome of every check: the folder may be claimed; ``delete`` lists what claiming removes."""

    folder: Path
    claim: Claim
    owner: Owner | None
    keep: bool  # resume: the owner's blocks are kept
    delete: list[Path]
    free: int  # bytes free where the folder is, plus the bytes of the files to delete
    warning: str | None = None


def _record(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The identity in a marker or manifest: format, name, config sha256, files; None if not the tool's."""
    if not doc:
        return None
    fmt = doc.get("format")
    if fmt not in KIND_OF:
        fmt = RUN_FORMAT if "command" in doc and "seed" in doc else None  # run folders of earlier versions
    if fmt is None:
        return None
    config: dict[str, Any] = doc["config"] if isinstance(doc.get("config"), dict) else {}
    sha = config.get("sha256") if isinstance(config.get("sha256"), str) else None
    named = doc.get("experiment") or doc.get("calibration") or {}
    name = named.get("name") if isinstance(named, dict) and isinstance(named.get("name"), str) else "?"
    listed = [*(doc.get("files") or []), *(doc.get("outputs") or {})]
    files = {str(f) for f in listed if isinstance(f, str)}
    software = doc.get("software") if isinstance(doc.get("software"), dict) else {}
    return {"format": fmt, "name": name, "sha256": sha, "files": files, "software": software}


def owner(folder: Path) -> Owner | None:
    """The folder's owner from its marker (an unfinished sweep) or its manifest; None when neither is the tool's."""
    marker_doc = read_json(folder / MARKER_PATH)
    if marker_doc is not None and "format" not in marker_doc:  # a marker of an earlier version: a sweep's
        marker_doc = {**marker_doc, "format": SWEEP_FORMAT}
    marker, manifest = _record(marker_doc), _record(read_json(folder / MANIFEST))
    found = marker or manifest
    if found is None:
        return None
    files = set(found["files"]) | {MANIFEST}
    if marker is not None:
        files |= {MARKER_PATH}
        if "files" not in (marker_doc or {}):  # earlier markers listed no files: their blocks go by name
            files |= {f"{BLOCKS}/{p.name}" for p in _entries(folder / BLOCKS) if _BLOCK_FILE.match(p.name)}
    if manifest is not None and manifest["sha256"] == found["sha256"]:
        files |= manifest["files"]
    return Owner(found["format"], found["name"], found["sha256"], frozenset(f for f in files if _tool_name(f)),
                 found["software"])


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []
    except OSError:
        return []


def _nearest_existing(folder: Path) -> Path:
    path = folder.absolute()
    while not os.path.lexists(path):
        path = path.parent
    return path


def _probe(where: Path, folder: Path) -> None:
    """Create and remove a file in ``where``: the one sure test that the folder can be written."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{PROBE}.", suffix=".tmp", dir=where)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else exc.__class__.__name__
        raise UserError(f"cannot write to {folder} ({why} in {where}); choose a writable --out") from None


def _temporaries(folder: Path, names: set[str]) -> list[Path]:
    """Temporary files left by an interrupted write (``.<name>.XXXX.tmp``) of names the tool writes."""
    found = []
    for sub in ("", BLOCKS, FIGURES):
        here = folder / sub if sub else folder
        for p in _entries(here):
            m = re.fullmatch(r"\.(.+)\.[A-Za-z0-9_]+\.tmp", p.name)
            rel = f"{sub}/{m[1]}" if m and sub else (m[1] if m else "")
            if m and (rel in names or _tool_name(rel) or m[1] in (FIGURES, PROBE)) and not p.is_symlink():
                found.append(p)
    return found


def plan(folder: Path, claim: Claim, *, resume: bool = False, force: bool = False) -> Plan:
    """Every check before a folder is claimed; raises a one-line UserError and writes nothing (but a probe).

    Another experiment's folder, or a non-empty folder that is not the tool's, needs ``force``; a resume
    needs the same config; symbolic links where the tool's files go are refused; the folder must be
    writable.
    """
    if os.path.lexists(folder) and not folder.is_dir():
        raise UserError(f"output {folder} is a file, not a folder; choose another --out")
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise UserError(f"cannot create {folder}: {base} is a file, not a folder; choose another --out")
    entries = _entries(folder)
    found = owner(folder) if entries else None
    same = (found is not None and found.format == claim.format
            and (claim.sha256 is None or found.sha256 == claim.sha256))
    what = (f"files that are not this {NOUN[claim.format]}'s results" if found is None else
            f"results of {NOUN[found.format]} '{found.name}'" + (" with another config"
                                                                 if found.format == claim.format else ""))
    if resume and entries and not same and not force:
        if found is not None and found.format == claim.format:
            raise UserError(f"cannot resume: the config changed since {folder} was started (sha256 "
                            f"{str(found.sha256)[:12]} there, {str(claim.sha256)[:12]} now); restore it, "
                            f"or start over with --force")
        raise UserError(f"cannot resume: {folder} holds {what}; choose another --out or pass --force to overwrite")
    if entries and not same and not force:
        raise UserError(f"{folder} holds {what}; choose another --out or pass --force to overwrite")
    keep = resume and same
    names = set(claim.files) | ({claim.marker} if claim.marker else set()) | (set(found.files) if found else set())
    _refuse_links(folder, names)
    delete = _temporaries(folder, names)
    if found is not None:
        doomed = [MANIFEST] if keep else sorted(found.files)
        delete += [folder / f for f in doomed if _regular(folder / f)]
    _probe(folder if folder.is_dir() else base, folder)
    for sub in {PurePosixPath(f).parent.as_posix() for f in names} - {"."}:
        if (folder / sub).is_dir():
            _probe(folder / sub, folder)
    freed = sum(p.stat().st_size for p in delete if p.is_file())
    free = shutil.disk_usage(folder if folder.is_dir() else base).free + freed
    warning = None
    if keep and found is not None and claim.software and found.software and \
            {k: found.software.get(k) for k in claim.software} != claim.software:
        warning = (f"warning: resuming blocks computed by {_describe(found.software)} with "
                   f"{_describe(claim.software)}; outputs may differ from an uninterrupted run")
    return Plan(folder, claim, found, keep, delete, free, warning)


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _refuse_links(folder: Path, names: set[str]) -> None:
    """A symbolic link where the tool writes or deletes would send either elsewhere: refuse it up front
    (as a folder where a file goes, or a file where a folder goes)."""
    by_dir: dict[str, set[str]] = {}
    for rel in names:
        p = PurePosixPath(rel)
        by_dir.setdefault(p.parent.as_posix(), set()).add(p.name)
    fix = "move it away or choose another --out"
    for sub in sorted(by_dir):
        here = folder if sub == "." else folder / sub
        if sub != ".":
            if here.is_symlink():
                raise UserError(f"{here} is a symbolic link; a results folder holds plain files and folders only: "
                                f"replace the link by what it points to, or choose another --out")
            if os.path.lexists(here) and not here.is_dir():
                raise UserError(f"{here} is a file where the tool needs a folder; {fix}")
        if not here.is_dir():
            continue
        with os.scandir(here) as entries:
            for entry in entries:
                if entry.name not in by_dir[sub]:
                    continue
                if entry.is_symlink():
                    raise UserError(f"{here / entry.name} is a symbolic link; a results folder holds plain files "
                                    f"only: replace the link by the file it points to, or choose another --out")
                if entry.is_dir(follow_symlinks=False):
                    raise UserError(f"{here / entry.name} is a folder where the tool writes a file; {fix}")


def check_space(plan: Plan, needed: int, what: str) -> None:
    """Refuse a run whose files would not fit where the folder is (``needed`` is an estimate in bytes)."""
    if needed > plan.free:
        raise UserError(f"{plan.folder} needs about {_mb(needed)} for {what} and {_mb(plan.free)} is free; "
                        f"free some space or choose another --out")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def claim(plan: Plan) -> None:
    """Claim a checked folder: create it, remove the earlier files the plan lists, record the claim."""
    folder, c = plan.folder, plan.claim
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path in plan.delete:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        for sub in (FIGURES, BLOCKS):
            here = folder / sub
            if here.is_dir() and not here.is_symlink() and not any(here.iterdir()) and \
                    not any(f.startswith(f"{sub}/") for f in c.files):
                here.rmdir()
    except OSError as exc:
        raise write_failed((exc.filename and Path(exc.filename)) or folder, exc) from None
    if c.marker:
        write_json(folder / c.marker, {"format": c.format, "experiment": {"name": c.name},
                                       "config": {"sha256": c.sha256}, "software": c.software,
                                       "files": sorted(c.files)})


def _describe(software: dict[str, Any]) -> str:
    commit = software.get("git_commit")
    return f"sim {software.get('sim')}" + (f" (commit {str(commit)[:10]})" if commit else "")
