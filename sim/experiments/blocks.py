"""Block files: a resumable study's finished units of work (``blocks/bNNNNNN.parquet``), each labelled when
written and verified before it is reused; and runs.parquet assembled from them.

A sweep writes one block per work unit (sim.experiments.runner), a simulation-based calibration one per
pseudo-record (sim.studies.calibration.sbc).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.experiments import store
from sim.experiments.store import PARQUET

BLOCKS = "blocks"  # the folder of block files (and of the marker that claims a resumable folder)
BLOCK_FILE = re.compile(r"b\d{6,}\.parquet")
BLOCK_PATH = re.compile(rf"{BLOCKS}/{BLOCK_FILE.pattern}")  # a block file's path relative to its study's folder
BLOCK_KEY = b"tribunal-sim.block"  # a block file's own label: config hash, points, replicates (Parquet metadata)


def block_name(block: int) -> str:
    return f"b{block:06d}.parquet"


def block_path(folder: Path, block: int) -> Path:
    return folder / BLOCKS / block_name(block)


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
    data = frame if isinstance(frame, pa.Table) else store.table(frame)
    data = data.replace_schema_metadata({**(data.schema.metadata or {}), BLOCK_KEY: spec.key})
    store.write_parquet(spec.path, data)


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
                while count >= store.ROW_GROUP:
                    whole = pa.concat_tables(pending).combine_chunks()
                    writer.write_table(whole.slice(0, store.ROW_GROUP), row_group_size=store.ROW_GROUP)
                    rest = whole.slice(store.ROW_GROUP)
                    pending, count = [rest], rest.num_rows
            if writer is not None and count:
                writer.write_table(pa.concat_tables(pending).combine_chunks(), row_group_size=store.ROW_GROUP)
        finally:
            if writer is not None:
                writer.close()
    store.atomic_write(path, write)
