"""File mechanics of results folders: atomic deterministic writes, hashes, safe reads and the tool's own
temporary files and folders.

No study's file names live here: each study declares its own (sim.experiments.layout for a sweep's folder,
the modules of sim/studies/ for theirs). Claiming a folder is sim.experiments.folders; blocks are
sim.experiments.blocks.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import UserError

# fixed writer options: same rows in, same bytes out (no timestamps are written by pyarrow)
PARQUET = {"compression": "zstd", "compression_level": 3, "use_dictionary": True, "write_statistics": True,
           "version": "2.6", "data_page_version": "1.0", "store_schema": True,
           "write_page_checksum": True}  # a flipped bit in a block is caught when it is read back
ROW_GROUP = 1 << 18  # rows per row group of every file, runs.parquet included: its bytes ignore block_size
MAX_READ = 256 << 20  # the largest manifest or marker read (a 100,000-point manifest takes about 60 MB)
# the names tempfile gives (".<name>.XXXXXXXX.tmp", 8 of [a-z0-9_]): the only temporaries the tool removes
TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")
MARK = ".tribunal-sim-temporary"  # inside every temporary folder the tool makes: only such folders are removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp's 0600 would hide results from others


# --- reading --------------------------------------------------------------------------------------------

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def regular_file(path: Path, limit: int = MAX_READ) -> bool:
    """Whether ``path`` exists; raises a one-line UserError when it is not a plain file of at most ``limit``
    bytes. Checked with ``lstat`` before anything is opened: a symbolic link (say to /dev/zero), a FIFO (which
    would block a reader for ever), a device or an oversized file is refused, never read."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror or exc.__class__.__name__}); check the folder") from None
    fix = "a results folder holds plain files only: replace it by the file the tool wrote, or rerun the command"
    if stat.S_ISLNK(info.st_mode):
        raise UserError(f"{path} is a symbolic link; {fix}")
    if not stat.S_ISREG(info.st_mode):
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "a pipe, socket or device"
        raise UserError(f"{path} is not a regular file ({what}); {fix}")
    if info.st_size > limit:
        raise UserError(f"{path} has {info.st_size:,} bytes, more than the {limit:,} such a file may have; {fix}")
    return True


def read_bytes(path: Path, limit: int = MAX_READ) -> bytes | None:
    """The bytes of a plain file of at most ``limit`` bytes (``regular_file``), or None when it is missing."""
    if not regular_file(path, limit):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror or exc.__class__.__name__}); check the folder") from None
    if len(data) > limit:
        raise UserError(f"{path} grew past {limit:,} bytes while it was read; rerun the command")
    return data


def read_json(path: Path, limit: int = MAX_READ) -> dict[str, Any] | None:
    """A JSON object from a plain file (``read_bytes``), or None when missing or not a JSON object."""
    data = read_bytes(path, limit)
    if data is None:
        return None
    try:
        doc = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


# --- writing --------------------------------------------------------------------------------------------

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

    The temporary file is ``.<name>.XXXXXXXX.tmp`` beside ``path`` (``TEMPORARY``: the next claim of the
    folder removes one an interrupted write left). A failed write (full disk, read-only folder) removes its
    temporary file and is a one-line UserError.
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


def write_json(path: Path, doc: dict[str, Any]) -> None:
    write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


# --- temporary folders: marked when made, so that only the tool's own are ever removed ----------------------

@contextmanager
def temporary_folder(parent: Path, name: str) -> Iterator[Path]:
    """A fresh folder ``.<name>.XXXXXXXX.tmp`` in ``parent`` holding the mark ``MARK``; removed on leaving.

    One left by a kill is removed by the next claim of the folder (``remove_temporary_folder``), and only
    because it carries the mark: a user's folder of a similar name is never touched.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))
    try:
        (tmp / MARK).write_bytes(b"")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # made by this process a moment ago: everything in it is the tool's


def is_temporary_folder(path: Path) -> bool:
    """Whether ``path`` is a temporary folder the tool made (its name, a plain folder, the mark inside)."""
    try:
        return (TEMPORARY.fullmatch(path.name) is not None and stat.S_ISDIR(os.lstat(path).st_mode)
                and stat.S_ISREG(os.lstat(path / MARK).st_mode))
    except OSError:
        return False


def remove_temporary_folder(path: Path, own: Callable[[str], bool]) -> None:
    """Remove a temporary folder the tool made: its mark and the plain files whose names ``own`` accepts,
    then the folder if nothing else is left in it."""
    for entry in list(path.iterdir()):
        if entry.name != MARK and own(entry.name) and stat.S_ISREG(os.lstat(entry).st_mode):
            entry.unlink()
    if [entry.name for entry in path.iterdir()] == [MARK]:
        (path / MARK).unlink()
        path.rmdir()
