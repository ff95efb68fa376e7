"""The results folder: block files written atomically, deterministic Parquet/CSV, hashes, the manifest.

Layout: points.parquet, runs.parquet, summary.csv, figures, manifest.json, and blocks/ (one Parquet
file per finished block plus experiment.json naming the experiment the folder belongs to).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import UserError

MANIFEST = "manifest.json"
POINTS = "points.parquet"
RUNS = "runs.parquet"
SUMMARY = "summary.csv"
BLOCKS = "blocks"
MARKER = "experiment.json"
FIGURES = "figures"
DATA_FILES = (POINTS, RUNS, SUMMARY)  # compared by `reproduce`
# fixed writer options: same rows in, same bytes out (no timestamps are written by pyarrow)
PARQUET = {"compression": "zstd", "compression_level": 3, "use_dictionary": True, "write_statistics": True,
           "version": "2.6", "data_page_version": "1.0", "store_schema": True}
ROW_GROUP = 1 << 20


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


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then rename over ``path``: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False).combine_chunks()


def write_parquet(path: Path, frame: pd.DataFrame | pa.Table) -> None:
    data = frame if isinstance(frame, pa.Table) else table(frame)
    atomic_write(path, lambda tmp: pq.write_table(data, tmp, row_group_size=ROW_GROUP, **PARQUET))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n", float_format="%.10g"))


def block_path(folder: Path, point: int, block: int) -> Path:
    return folder / BLOCKS / f"p{point:05d}_b{block:05d}.parquet"


def block_done(path: Path, rows: int) -> bool:
    """A block file counts when it is a readable Parquet file with the expected number of rows."""
    try:
        return pq.read_metadata(path).num_rows == rows
    except (OSError, pa.ArrowException):
        return False


def write_runs(path: Path, block_files: Iterable[Path]) -> None:
    """Concatenate block files in the given order into one Parquet file, one row group per block."""
    def write(tmp: Path) -> None:
        writer = None
        try:
            for f in block_files:
                t = pq.read_table(f).combine_chunks()
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema, **PARQUET)
                writer.write_table(t, row_group_size=ROW_GROUP)
        finally:
            if writer is not None:
                writer.close()
    atomic_write(path, write)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when missing or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write_json(path: Path, doc: dict[str, Any]) -> None:
    write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def owner(folder: Path) -> dict[str, Any] | None:
    """Which experiment a folder's results belong to: {name, sha256 of its config}, from marker or manifest."""
    for doc in (read_json(folder / BLOCKS / MARKER), read_json(folder / MANIFEST)):
        config, experiment = (doc or {}).get("config"), (doc or {}).get("experiment")
        if isinstance(config, dict) and isinstance(config.get("sha256"), str):
            name = experiment.get("name") if isinstance(experiment, dict) else None
            return {"name": name or "?", "sha256": config["sha256"]}
    return None


def prepare(folder: Path, name: str, config_sha: str, *, resume: bool, force: bool,
            software: dict[str, Any] | None = None) -> None:
    """Check that ``folder`` may receive this experiment's results, then claim it.

    Another experiment's folder needs --force; a resume needs the same config; a fresh run of the
    same experiment starts over. Raises UserError before touching anything.
    """
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output {folder} is a file, not a folder; choose another --out")
    found = owner(folder) if folder.is_dir() else None
    occupied = folder.is_dir() and any(folder.iterdir())
    same = found is not None and found["sha256"] == config_sha
    if resume and found is not None and not same and not force:
        raise UserError(f"cannot resume: the config changed since {folder} was started "
                        f"(sha256 {found['sha256'][:12]} there, {config_sha[:12]} now); restore it, "
                        f"or start over with --force")
    if occupied and not same and not force:
        what = (f"results of experiment '{found['name']}' with another config" if found
                else "files that are not this experiment's results")
        raise UserError(f"{folder} holds {what}; choose another --out or pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    if resume and same:
        earlier = (read_json(folder / BLOCKS / MARKER) or {}).get("software")
        if isinstance(earlier, dict) and software and earlier != software:
            sys.stderr.write(f"warning: resuming blocks computed by {_describe(earlier)} with {_describe(software)}; "
                             f"outputs may differ from an uninterrupted run\n")
    else:
        clear(folder)
    (folder / MANIFEST).unlink(missing_ok=True)  # the manifest marks a complete folder; rewritten at the end
    (folder / BLOCKS).mkdir(exist_ok=True)
    for tmp in (folder / BLOCKS).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    write_json(folder / BLOCKS / MARKER, {"experiment": {"name": name}, "config": {"sha256": config_sha},
                                         "software": software or {}})


def _describe(software: dict[str, Any]) -> str:
    commit = software.get("git_commit")
    return f"sim {software.get('sim')}" + (f" (commit {str(commit)[:10]})" if commit else "")


def clear(folder: Path) -> None:
    """Remove a sweep's outputs from a folder (and nothing else): data files, figures, blocks, manifest."""
    listed = (read_json(folder / MANIFEST) or {}).get("outputs")
    for name in listed if isinstance(listed, dict) else ():
        path = (folder / str(name)).resolve()
        if path.is_file() and folder.resolve() in path.parents:
            path.unlink()
    for name in (*DATA_FILES, MANIFEST):
        (folder / name).unlink(missing_ok=True)
    for sub in (BLOCKS, FIGURES):
        if (folder / sub).is_dir():
            shutil.rmtree(folder / sub)
