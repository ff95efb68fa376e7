"""Claiming a results folder: whose it is, what a command may delete there, and checking it all first.

Every folder the tool writes has a manifest (``manifest.json``, written last: it marks a complete
folder) whose ``format`` names the kind of study; a resumable study (a sweep, a simulation-based
calibration) also writes a marker (``blocks/experiment.json``) when it claims the folder, listing every
file it may write. Claiming (``plan`` then ``claim``) checks everything first and then deletes only the
files of the same kind of study that its marker or manifest lists and whose names the claiming study
writes (``Claim.owns``). A folder of another kind of study, or the folder the command reads, is never
replaced, even with ``--force``; a user's file of a name the tool writes is refused, never overwritten.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sim.errors import UserError
from sim.experiments.blocks import BLOCK_FILE, BLOCKS
from sim.experiments.store import (
    TEMPORARY,
    is_temporary_folder,
    read_json,
    remove_temporary_folder,
    write_failed,
    write_json,
)

MANIFEST = "manifest.json"
MARKER = "experiment.json"
MARKER_PATH = f"{BLOCKS}/{MARKER}"
PROBE = "sim-write-test"  # the file that proves a folder writable (created and removed at once)

# manifest formats, one per kind of folder, with what each is and the command that writes it
SWEEP_FORMAT, RUN_FORMAT, CALIBRATION_FORMAT = "tribunal-sim results", "tribunal-sim run", "tribunal-sim calibration"
SBC_FORMAT, DISCOVERY_FORMAT = "tribunal-sim sbc", "tribunal-sim discovery"
FORECAST_FORMAT = "tribunal-sim forecast"
KIND_OF = {SWEEP_FORMAT: "a sweep", RUN_FORMAT: "a single run (`python -m sim run --out`)",
           CALIBRATION_FORMAT: "a calibration (`python -m sim calibrate`)",
           SBC_FORMAT: "a simulation-based calibration (`python -m sim calibrate --sbc`)",
           DISCOVERY_FORMAT: "a scenario discovery (`python -m sim discover`)",
           FORECAST_FORMAT: "a forecast (`python -m sim forecast`)"}
NOUN = {SWEEP_FORMAT: "experiment", RUN_FORMAT: "run", CALIBRATION_FORMAT: "calibration", SBC_FORMAT: "calibration",
        DISCOVERY_FORMAT: "discovery", FORECAST_FORMAT: "forecast"}
COMMAND = {SWEEP_FORMAT: "sweep", RUN_FORMAT: "run", CALIBRATION_FORMAT: "calibrate",
           SBC_FORMAT: "calibrate --sbc", DISCOVERY_FORMAT: "discover", FORECAST_FORMAT: "forecast"}


@dataclass(frozen=True)
class Claim:
    """What a command is about to write into a folder, and whose results they are.

    ``sha256`` identifies the config (None: any earlier folder of the same format is the same, as for
    `run --out`); ``files`` lists every relative path it may write and ``patterns`` (regular expressions
    of relative paths) the names it may have written in earlier folders of its kind (block files, figures);
    ``marker`` is where its list of files is recorded at claim time (None: only the manifest records them,
    at the end); ``temporaries`` are the exact names of its own temporary files; ``reads`` are the folders
    the command reads, which it never writes into.
    """

    format: str
    name: str
    sha256: str | None
    files: tuple[str, ...]
    marker: str | None = None
    software: dict[str, Any] = field(default_factory=dict)
    patterns: tuple[re.Pattern[str], ...] = ()
    temporaries: tuple[str, ...] = ()
    reads: tuple[Path, ...] = ()

    def owns(self, rel: str) -> bool:
        """Whether this kind of study writes the relative path ``rel``: only such files are ever deleted."""
        return (rel in self.files or rel in (self.marker, MANIFEST)
                or any(p.fullmatch(rel) for p in self.patterns))


@dataclass(frozen=True)
class Owner:
    """Who made an existing folder, as its marker or manifest says, and the files they list."""

    format: str
    name: str
    sha256: str | None
    files: frozenset[str]
    software: dict[str, Any]

    def describe(self, same: str | None = None) -> str:
        what = f"results of {NOUN[self.format]} '{self.name}'"
        if same is not None and self.format == same:
            return what + " with another config"
        return what + ("" if self.format == same else f" ({KIND_OF[self.format]})")


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
    named = doc.get("experiment") or doc.get("calibration") or doc.get("forecast") or {}
    name = named.get("name") if isinstance(named, dict) and isinstance(named.get("name"), str) else "?"
    listed = [*(doc.get("files") or []), *(doc.get("outputs") or {})]
    files = {str(f) for f in listed if isinstance(f, str) and _inside(f)}
    software = doc.get("software") if isinstance(doc.get("software"), dict) else {}
    return {"format": fmt, "name": name, "sha256": sha, "files": files, "software": software}


def _inside(rel: str) -> bool:
    """A relative path that stays inside its folder (an edited list may name ``../x`` or ``/etc/x``)."""
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and ".." not in path.parts


def owner(folder: Path) -> Owner | None:
    """The folder's owner from its marker (an unfinished resumable study) or its manifest; None when neither
    is the tool's. A marker or manifest that is a link, a FIFO, a device or oversized is a UserError, unread."""
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
            files |= {f"{BLOCKS}/{p.name}" for p in _entries(folder / BLOCKS) if BLOCK_FILE.fullmatch(p.name)}
    if manifest is not None and manifest["sha256"] == found["sha256"]:
        files |= manifest["files"]
    return Owner(found["format"], found["name"], found["sha256"], frozenset(files), found["software"])


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


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _subfolders(claim: Claim) -> list[str]:
    """The folders (relative, "" for the top) where the claim writes files."""
    subs = {PurePosixPath(f).parent.as_posix() for f in (*claim.files, *([claim.marker] if claim.marker else []))}
    return sorted({"" if s == "." else s for s in subs} | {""})


def _temporaries(folder: Path, claim: Claim) -> list[Path]:
    """What interrupted writes of this kind of study left: ``.<name>.XXXXXXXX.tmp`` files of names it writes,
    its own named temporaries, and temporary folders the tool made (``store.temporary_folder``, marked)."""
    found = []
    for sub in _subfolders(claim):
        here = folder / sub if sub else folder
        for p in _entries(here):
            rel = f"{sub}/{p.name}" if sub else p.name
            m = TEMPORARY.fullmatch(p.name)
            try:
                kind = os.lstat(p).st_mode
            except OSError:
                continue
            written = m is not None and (m["name"] == PROBE or claim.owns(f"{sub}/{m['name']}" if sub else m["name"]))
            own_file = stat.S_ISREG(kind) and (rel in claim.temporaries or written)
            if own_file or (stat.S_ISDIR(kind) and is_temporary_folder(p)):
                found.append(p)
    return found


def plan(folder: Path, claim: Claim, *, resume: bool = False, force: bool = False) -> Plan:
    """Every check before a folder is claimed; raises a one-line UserError and writes nothing (but a probe).

    The folder the command reads, or a folder of another kind of study, is refused whatever the flags;
    another config's results of the same kind, or a non-empty folder that is not the tool's, need ``force``;
    a resume needs the same config; a file of a name the claim writes that no marker or manifest of this
    kind lists (a user's own ``summary.csv``) is refused; symbolic links where the tool's files go are
    refused; the folder must be writable.
    """
    if os.path.lexists(folder) and not folder.is_dir():
        raise UserError(f"output {folder} is a file, not a folder; choose another --out")
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise UserError(f"cannot create {folder}: {base} is a file, not a folder; choose another --out")
    entries = _entries(folder)
    found = owner(folder) if entries else None
    command = COMMAND[claim.format]
    for source in claim.reads:
        if _same_folder(folder, source):
            held = f", which holds {found.describe()}" if found is not None else ""
            raise UserError(f"{folder} is the folder `{command}` reads ({source}{held}); writing there would "
                            f"replace what it reads: choose another --out")
    if found is not None and found.format != claim.format:
        raise UserError(f"{folder} holds {found.describe()}, and `{command}` writes {KIND_OF[claim.format]}; "
                        f"--force replaces only results of the same kind: choose another --out")
    same = found is not None and (claim.sha256 is None or found.sha256 == claim.sha256)
    what = (f"files that are not this {NOUN[claim.format]}'s results" if found is None else
            found.describe(claim.format))
    if resume and entries and not same and not force:
        if found is not None:
            raise UserError(f"cannot resume: the config changed since {folder} was started (sha256 "
                            f"{str(found.sha256)[:12]} there, {str(claim.sha256)[:12]} now); restore it, "
                            f"or start over with --force")
        raise UserError(f"cannot resume: {folder} holds {what}; choose another --out or pass --force to overwrite")
    if entries and not same and not force:
        raise UserError(f"{folder} holds {what}; choose another --out or pass --force to overwrite")
    keep = resume and same
    own = {f for f in (found.files if found else ()) if claim.owns(f)}
    names = set(claim.files) | ({claim.marker} if claim.marker else set()) | own
    _refuse_links(folder, names)
    delete = _temporaries(folder, claim)
    if found is not None:
        doomed = [MANIFEST] if keep else sorted(own)
        delete += [folder / f for f in doomed if _regular(folder / f)]
    foreign = _foreign(folder, set(claim.files) | ({claim.marker} if claim.marker else set()), own)
    if foreign is not None:
        raise UserError(f"{folder / foreign} is not a file this tool wrote (no manifest or marker of "
                        f"{KIND_OF[claim.format]} there lists it), and `{command}` writes that name; "
                        f"move it away or choose another --out")
    _probe(folder if folder.is_dir() else base, folder)
    for sub in {PurePosixPath(f).parent.as_posix() for f in names} - {"."}:
        if (folder / sub).is_dir():
            _probe(folder / sub, folder)
    freed = sum(p.stat().st_size for p in delete if _regular(p))
    free = shutil.disk_usage(folder if folder.is_dir() else base).free + freed
    warning = None
    if keep and found is not None and claim.software and found.software and \
            {k: found.software.get(k) for k in claim.software} != claim.software:
        warning = (f"warning: resuming blocks computed by {_describe(found.software)} with "
                   f"{_describe(claim.software)}; outputs may differ from an uninterrupted run")
    return Plan(folder, claim, found, keep, delete, free, warning)


def _foreign(folder: Path, names: set[str], own: set[str]) -> str | None:
    """The first relative path the claim would write that exists and is not its kind's own (a user's file of
    a name the tool writes), or None; one listing per folder, however many block files the claim has."""
    by_dir: dict[str, set[str]] = {}
    for rel in names:
        p = PurePosixPath(rel)
        by_dir.setdefault(p.parent.as_posix(), set()).add(p.name)
    for sub in sorted(by_dir):
        here = folder if sub == "." else folder / sub
        for entry in sorted(_entries(here)):
            rel = entry.name if sub == "." else f"{sub}/{entry.name}"
            if entry.name in by_dir[sub] and rel not in own:
                return rel
    return None


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
            if is_temporary_folder(path):
                remove_temporary_folder(path, _owned_inside(c, path.relative_to(folder)))
            else:
                path.unlink(missing_ok=True)
        writes = set(_subfolders(c))
        for here in {p.parent for p in plan.delete} - {folder}:  # a subfolder emptied that this claim never fills
            if here.relative_to(folder).as_posix() not in writes and here.is_dir() and not here.is_symlink() \
                    and not any(here.iterdir()):
                here.rmdir()
    except OSError as exc:
        raise write_failed((exc.filename and Path(exc.filename)) or folder, exc) from None
    if c.marker:
        write_json(folder / c.marker, {"format": c.format, "experiment": {"name": c.name},
                                       "config": {"sha256": c.sha256}, "software": c.software,
                                       "files": sorted(c.files)})


def _owned_inside(c: Claim, rel: Path) -> Callable[[str], bool]:
    """Which files of the temporary folder ``rel`` (``.<name>.XXXXXXXX.tmp``) the claim writes: those it writes
    into ``<name>`` (the figures of a temporary ``.figures.XXXXXXXX.tmp``)."""
    m = TEMPORARY.fullmatch(rel.name)
    target = (rel.parent / m["name"]).as_posix() if m else ""
    return lambda child: bool(target) and c.owns(f"{target}/{child}")


def _describe(software: dict[str, Any]) -> str:
    commit = software.get("git_commit")
    return f"sim {software.get('sim')}" + (f" (commit {str(commit)[:10]})" if commit else "")
