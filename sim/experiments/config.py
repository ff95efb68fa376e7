"""Experiment config files (TOML): reading them and turning their model tables into parameters."""

from __future__ import annotations

import hashlib
import math
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.experiments.posterior import FACTS, Posterior, load_posterior
from sim.model.params import Param, Params, check_references, flatten_tables, lookup, split_name, suggest
from sim.names import FIGURE_KINDS
from sim.simulate import DEFAULT_ENGINE, check_engine

DEFAULT_BLOCK_SIZE = 1000  # replicates per work unit: a granularity of work and files, not of results


MAX_CONFIG_BYTES = 1 << 20  # a config is a few KB of TOML; anything larger is the wrong file
BOM = "\ufeff"


def config_command(path: str | Path) -> tuple[str, str]:
    """The command that runs a config and the folder it writes by default: ('sweep', 'results/baseline/');
    a [sensitivity], [alternatives] or [calibration] table names its own command."""
    try:
        doc = read_toml(path)
    except UserError:
        return "sweep", "results/<name>/"
    command = next((c for table, c in (("calibration", "calibrate"), ("alternatives", "compare"),
                                      ("sensitivity", "sensitivity")) if table in doc), "sweep")
    head = doc.get("calibration" if command == "calibrate" else "experiment")
    name = head.get("name") if isinstance(head, dict) else None
    return command, f"results/{name if isinstance(name, str) and _NAME.match(name) else Path(path).stem}/"


def refuse_config_as_folder(folder: str | Path) -> None:
    """A config given where a results folder belongs (``plot``, ``reproduce``, ``explore``) is a one-line
    UserError naming the command that makes such a folder."""
    path = Path(folder)
    if path.suffix.lower() == ".toml" and path.is_file():
        command, made = config_command(path)
        raise UserError(f"{path} is an experiment config, not a results folder: `python -m sim {command} {path}` "
                        f"makes the folder ({made}); give that folder")


DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".png", ".svg")  # files the tool writes, never a config


def read_config_text(path: str | Path) -> str:
    """A config file's text, exactly as written (it is hashed); unreadable files are a one-line UserError.

    Only a regular file of at most ``MAX_CONFIG_BYTES`` is read, so a device or a pipe (``/dev/zero``,
    a FIFO) is refused before anything is opened.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist; check the path") from None
    except OSError as exc:
        raise UserError(f"cannot read config {path}: {exc.strerror or exc.__class__.__name__}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"config {path} is a folder, not a TOML file")
    if path.suffix.lower() in DATA_SUFFIXES:
        raise UserError(f"{path} is a {path.suffix.lstrip('.').upper()} data file, not an experiment config: give "
                        f"the .toml (e.g. experiments/baseline.toml)")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"config {path} is not a regular file (a device, pipe or socket); give a TOML file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise UserError(f"config {path} has {info.st_size:,} bytes, more than a config's {MAX_CONFIG_BYTES:,}; "
                        f"is it the right file?")
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read config {path}: {exc.__class__.__name__}; is it a UTF-8 text file?") from None


def parse_toml(text: str, source: str = "config") -> dict[str, Any]:
    """Parse TOML text (a leading UTF-8 byte-order mark is allowed); malformed text is a one-line UserError."""
    try:
        return tomllib.loads(text.removeprefix(BOM))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config {source} is not valid TOML: {exc}") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file is a one-line UserError."""
    return parse_toml(read_config_text(path), str(path))


def check_tables(doc: dict[str, Any], source: str, tables: tuple[str, ...],
                 homes: dict[str, tuple[str, ...]], other: dict[str, str]) -> None:
    """The top level of a config: only the ``tables`` allowed, each a table; a key that belongs in a table
    (``homes``: table -> its keys) or a table of another kind of config (``other``: table -> the message
    naming the command it is for) is named with the fix. An empty config is refused: it would silently run
    every default."""
    if not doc:
        raise UserError(f"config {source} is empty; give at least one table (start from a file in experiments/)")
    for key, value in doc.items():
        if key not in tables and not isinstance(value, dict):
            home = next((t for t, keys in homes.items() if key in keys), None)
            hint = f" (put it under [{home}])" if home else "; parameters go under [parameters]"
            raise UserError(f"key '{key}' at the top of {source} belongs in a table{hint}")
        if key not in tables:
            if key in other:
                raise UserError(other[key])
            raise UserError(f"unknown table [{key}] in {source}{suggest(key, tables)}; allowed: {', '.join(tables)}")
        if not isinstance(value, dict):
            raise UserError(f"[{key}] in {source} must be a table, got {key} = {value!r}")


def whole_number(value: Any, label: str, low: int | None = None) -> int:
    """An integer setting; a whole-number float (``24.0``) counts, as it does for integer parameters."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{label} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise UserError(f"{label} must be at least {low}, got {value}")
    return value


def model_overrides(doc: dict[str, Any]) -> dict[str, Any]:
    """The canonical parameter references set by a config's ``[scenario]`` and ``[parameters]`` tables.

    One parameter set in both tables, or in two spellings, is an error naming both.
    """
    parts = []
    for table in ("scenario", "parameters"):
        node = doc.get(table, {})
        if not isinstance(node, dict):
            raise UserError(f"[{table}] must be a table of name = value pairs")
        parts.append(flatten_tables({"scenario": node} if table == "scenario" else node, f"[{table}]"))
    scenario, parameters = parts
    for name in parameters:
        if name in scenario:
            raise UserError(f"[scenario] and [parameters] both set {name}; keep one of them")
    try:
        check_references([*scenario, *parameters])
    except UserError as exc:
        raise UserError(f"[scenario] and [parameters]: {exc}") from None
    return {**scenario, **parameters}


def params_from_file(path: str | Path | None, overrides: dict[str, Any] | None = None) -> Params:
    """Model parameters of a config (validated in full, as `sweep` does), then ``--set`` overrides."""
    base = load_experiment(path).base if path else Params()
    return base.replace(overrides or {})


# --- experiment configs: the [experiment], [sweep] and [outputs] tables, validated in full --------------

TABLES = ("experiment", "scenario", "parameters", "sweep", "outputs", "sensitivity", "posterior")
POSTERIOR_KEYS = ("source", "draws")
# Tables that only one command reads: a config given to another command is told which one it is for.
TABLE_COMMANDS = {"calibration": "calibrate", "priors": "calibrate", "targets": "calibrate",
                  "sensitivity": "sensitivity", "alternatives": "compare"}
EXPERIMENT_KEYS = ("name", "description", "seed", "replicates", "block_size", "engine")
SWEEP_KEYS = ("sampler", "n", "levels", "candidates", "second_order", "grid", "bounds", "common_random_numbers")
OUTPUT_KEYS = ("horizons", "figures")
SAMPLERS = ("grid", "lhs", "sobol", "morris")
DEFAULTS = {"seed": 0, "replicates": 1000, "engine": DEFAULT_ENGINE, "levels": 4, "second_order": True}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_POINTS = 100_000  # guards against a typo: a larger design would take long to validate and never finish
MAX_BLOCKS = 1_000_000


def wrong_command(table: str, source: str) -> str:
    """The message for a config whose ``[table]`` belongs to another command (see TABLE_COMMANDS)."""
    command = TABLE_COMMANDS[table]
    return (f"{source} is a config for `python -m sim {command}` (it has a [{table}] table); "
            f"run `python -m sim {command} {source}`")


@dataclass(frozen=True, eq=False)
class Experiment:
    """A validated experiment: design points (``points`` frame and per-point ``params``) and run settings.

    ``points`` has a ``point`` column (0..n-1) and one column per swept parameter, in config order.
    """

    name: str
    description: str
    seed: int
    replicates: int
    block_size: int
    engine: str
    sampler: str | None  # None: no [sweep] table, a single point at the base values
    swept: tuple[str, ...]
    base: Params
    points: pd.DataFrame
    params: tuple[Params, ...]
    horizons: tuple[int, ...]
    figures: tuple[str, ...]
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    n: int | None = None
    levels: int | None = None
    second_order: bool | None = None
    crn: bool = False  # common random numbers: every point on the streams of point 0
    posterior: Posterior | None = None  # run every point over these draws (replicate r: draw r mod draws)
    sensitivity: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    sha256: str = ""
    source: str = ""

    @property
    def n_points(self) -> int:
        return len(self.params)

    @property
    def n_rows(self) -> int:
        """Replicates of every point, point by point: the rows the blocks cut into units of work."""
        return self.n_points * self.replicates

    @property
    def n_blocks(self) -> int:
        return -(-self.n_rows // self.block_size)

    def blocks(self) -> list[Block]:
        """Every work unit, in order: block b holds rows b·block_size.. of the (point, replicate) sequence, so
        a block may hold many points (batched points) or part of one. Each row draws from its own stream
        (seed, point, replicate), so how rows are cut into blocks changes no number."""
        return [Block(b, b * self.block_size, min(self.block_size, self.n_rows - b * self.block_size),
                      self.replicates) for b in range(self.n_blocks)]

    def block_rows(self, block: Block) -> int:
        """Rows of a block's file: replicates times accused of each of its points."""
        counts = np.bincount(block.point_of_rows() - block.points[0])
        return int(sum(int(c) * self.params[block.points[0] + k].n_accused for k, c in enumerate(counts)))

    @property
    def problem(self) -> dict[str, Any]:
        """The SALib problem of the design: swept names in config order and their bounds
        (a grid's are the smallest and largest of its values)."""
        bounds = [list(self.bounds[n]) if n in self.bounds
                  else [float(self.points[n].min()), float(self.points[n].max())] for n in self.swept]
        return {"num_vars": len(self.swept), "names": list(self.swept), "bounds": bounds}


@dataclass(frozen=True)
class Block:
    """One work unit: ``n`` consecutive rows of the (point, replicate) sequence, from row ``first``
    (with ``per_point`` replicates per point, row g is replicate g mod per_point of point g div per_point)."""

    block: int
    first: int
    n: int
    per_point: int

    def point_of_rows(self) -> np.ndarray:
        return np.arange(self.first, self.first + self.n) // self.per_point

    def replicate_of_rows(self) -> np.ndarray:
        return np.arange(self.first, self.first + self.n) % self.per_point

    @property
    def points(self) -> tuple[int, int]:
        """The first and last point of the block's rows."""
        return (self.first // self.per_point, (self.first + self.n - 1) // self.per_point)

    @property
    def replicates(self) -> tuple[int, int]:
        """The smallest and largest replicate number among the block's rows."""
        first, last = self.first % self.per_point, (self.first + self.n - 1) % self.per_point
        return (first, last) if self.points[0] == self.points[1] else (0, self.per_point - 1)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment config file; every problem is a one-line UserError."""
    return experiment_from_text(read_config_text(path), str(path))


def experiment_from_text(text: str, source: str = "config") -> Experiment:
    """The experiment of a config's text (as recorded in a manifest)."""
    return experiment_from_doc(parse_toml(text, source), text, source)


def experiment_from_doc(doc: dict[str, Any], text: str, source: str) -> Experiment:
    """Validate a parsed config: unknown tables and keys are errors with a did-you-mean hint; every error
    names the config file and, where the message does not, the table of the key it is about."""
    try:
        return _experiment_from_doc(doc, text, source)
    except UserError as exc:
        raise UserError(located(str(exc), source, doc)) from None


_PARAM_AT_START = re.compile(r"^(?:unknown parameter ')?([a-z_]+\.[a-z_0-9]+(?:\[\d+\])?)")


def located(message: str, source: str, doc: dict[str, Any]) -> str:
    """``message`` with the config file first and the key's table (``[parameters]``, ``[scenario]``,
    ``[sweep.grid]``, ...) where the message names a parameter but no table."""
    if source and source in message:
        return message
    where = ""
    m = _PARAM_AT_START.match(message)
    if m and not message.startswith("["):
        name = m[1]
        node = doc.get("sweep")
        sweep: dict[str, Any] = node if isinstance(node, dict) else {}
        tables = [("[parameters]", doc.get("parameters")), ("[sweep.grid]", sweep.get("grid")),
                  ("[sweep.bounds]", sweep.get("bounds"))]
        where = next((f"{table} " for table, keys in tables if isinstance(keys, dict) and name in keys), "")
        scenario = doc.get("scenario")
        if not where and name.startswith("scenario.") and isinstance(scenario, dict) and \
                name.removeprefix("scenario.").split("[")[0] in scenario:
            where = "[scenario] "
    return f"{source}: {where}{message}" if source else message


def _experiment_from_doc(doc: dict[str, Any], text: str, source: str) -> Experiment:
    check_tables(doc, source, TABLES, {"experiment": EXPERIMENT_KEYS, "sweep": SWEEP_KEYS, "outputs": OUTPUT_KEYS},
                 {t: wrong_command(t, source) for t in TABLE_COMMANDS if t not in TABLES})
    exp = _table(doc, "experiment", EXPERIMENT_KEYS)
    name = exp.get("name", Path(source).stem)
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise UserError(f"[experiment] name must be a folder name of letters, digits, '_', '-' or '.', got {name!r}")
    description = exp.get("description", "")
    if not isinstance(description, str):
        raise UserError(f"[experiment] description must be text, got {description!r}")
    seed = _int(exp.get("seed", DEFAULTS["seed"]), "[experiment] seed", 0)
    replicates = _int(exp.get("replicates", DEFAULTS["replicates"]), "[experiment] replicates", 1)
    block_size = _int(exp.get("block_size", DEFAULT_BLOCK_SIZE), "[experiment] block_size", 1)
    engine = check_engine(exp.get("engine", DEFAULTS["engine"]), "[experiment] engine")
    base = Params(model_overrides(doc))
    design = _design(doc, base, seed)
    blocks = -(-len(design["points"]) * replicates // block_size)
    if blocks > MAX_BLOCKS:
        raise UserError(f"{len(design['points'])} points x {replicates} replicates make {blocks:,} blocks "
                        f"(at most {MAX_BLOCKS:,}); raise [experiment] block_size or lower replicates")
    params = tuple(_point_params(base, design, i) for i in range(len(design["points"])))
    horizons, figures = _outputs(doc, params)
    posterior = _posterior(doc, source, seed, replicates, design["swept"], params)
    return Experiment(name=name, description=description, seed=seed, replicates=replicates,
                      block_size=block_size, engine=engine, sampler=design["sampler"], swept=design["swept"],
                      base=base, points=design["points"], params=params, horizons=horizons, figures=figures,
                      bounds=design["bounds"], n=design["n"], levels=design["levels"],
                      second_order=design["second_order"], crn=design["crn"], posterior=posterior,
                      sensitivity=dict(doc.get("sensitivity", {})),
                      text=text, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), source=source)


def _posterior(doc: dict[str, Any], source: str, seed: int, replicates: int, swept: tuple[str, ...],
               params: tuple[Params, ...]) -> Posterior | None:
    """[posterior]: source (a preset or a calibration folder, relative to the config) and draws."""
    if "posterior" not in doc:
        return None
    table = _table(doc, "posterior", POSTERIOR_KEYS)
    where = table.get("source")
    if not isinstance(where, str) or not where.strip():
        raise UserError('[posterior] needs source = "calibrated" (the shipped posterior) or the folder of a '
                        "calibration (`python -m sim calibrate` writes one)")
    draws = _int(table.get("draws", 100), "[posterior] draws", 1)
    if draws > replicates:
        raise UserError(f"[posterior] draws = {draws} exceeds [experiment] replicates = {replicates}; every draw "
                        "needs at least one replicate (replicate r uses draw r mod draws)")
    base = Path(source).parent if source not in ("config", "") else None
    posterior = load_posterior(where, draws, seed, base)
    both = sorted(set(posterior.names) & {split_name(n)[0] for n in swept})
    if both:
        raise UserError(f"[sweep] sweeps {both[0]}, which the posterior also sets; sweep another parameter or drop "
                        "the posterior")
    given = {split_name(n)[0] for n in model_overrides(doc)}
    fixed = sorted((given & set(posterior.names)) - set(FACTS))
    if fixed:
        raise UserError(f"[parameters] and [posterior] both set {fixed[0]}; keep one of them (each posterior draw "
                        f"gives its own value; only the facts of issue, {', '.join(FACTS)}, stand over the draws)")
    posterior = posterior.keeping(given)
    for p in params[:1]:
        try:
            posterior.apply(p, 0)
        except UserError as exc:
            raise UserError(f"[posterior] {where}: {exc}") from None
    return posterior


def _table(doc: dict[str, Any], name: str, allowed: tuple[str, ...], where: str | None = None) -> dict[str, Any]:
    return check_table(doc.get(name, {}), where or f"[{name}]", allowed)


def check_table(node: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``node`` as a table whose keys are all in ``allowed``; else a one-line UserError with a suggestion."""
    if not isinstance(node, dict):
        raise UserError(f"{where} must be a table, got {node!r}")
    for key in node:
        if key not in allowed:
            raise UserError(f"unknown key '{key}' in {where}{suggest(key, allowed)}; allowed: {', '.join(allowed)}")
    return node


_int = whole_number


def _design(doc: dict[str, Any], base: Params, seed: int) -> dict[str, Any]:
    """The swept names, their settings and the points frame (see sim.experiments.design)."""
    from sim.experiments.design import grid_points, sampled_points

    out = {"sampler": None, "swept": (), "bounds": {}, "n": None, "levels": None, "second_order": None,
           "crn": False, "points": pd.DataFrame({"point": np.zeros(1, dtype=np.int64)})}
    if "sweep" not in doc:
        return out
    sweep = _table(doc, "sweep", SWEEP_KEYS)
    crn = sweep.get("common_random_numbers", False)
    if not isinstance(crn, bool):
        raise UserError(f"[sweep] common_random_numbers must be true or false, got {crn!r}")
    out["crn"] = crn
    sampler = sweep.get("sampler", "grid")
    if sampler not in SAMPLERS:
        raise UserError(f"unknown sampler {sampler!r} in [sweep]{suggest(str(sampler), SAMPLERS)}; "
                        f"choose one of {', '.join(SAMPLERS)}")
    out["sampler"] = sampler
    wanted = "grid" if sampler == "grid" else "bounds"
    for key in ("grid", "bounds"):
        if key != wanted and key in sweep:
            raise UserError(f"sampler '{sampler}' takes [sweep.{wanted}], not [sweep.{key}]; rename the table")
    allowed = {"grid": (), "lhs": ("n",), "sobol": ("n", "second_order"),
               "morris": ("n", "levels", "candidates")}[sampler]
    for key in ("n", "levels", "candidates", "second_order"):
        if key in sweep and key not in allowed:
            raise UserError(f"[sweep] {key} has no meaning for sampler '{sampler}'; remove it")
    table = sweep.get(wanted)
    if not isinstance(table, dict) or not table:
        raise UserError(f"sampler '{sampler}' needs a non-empty [sweep.{wanted}] table of parameter = "
                        + ("[values]" if wanted == "grid" else "[low, high]"))
    values = flatten_tables(table, f"[sweep.{wanted}]")
    swept = tuple(values)
    _check_set_once(doc, swept, f"[sweep.{wanted}]", "the sweep gives its values")
    for name in swept:
        _check_sweepable(name, wanted, base)
    out["swept"] = swept
    if sampler == "grid":
        sizes = [len(v) if isinstance(v, list) else 1 for v in values.values()]
        _check_size(math.prod(sizes), "the grid (the product of its value counts)")
        out["points"] = grid_points(base, values)
        return out
    bounds = {name: _check_bounds(name, v) for name, v in values.items()}
    n = _int(sweep.get("n"), f"[sweep] n (the number of {_N_WORD[sampler]})", 1) if "n" in sweep else None
    if n is None:
        raise UserError(f"sampler '{sampler}' needs n in [sweep]: the number of {_N_WORD[sampler]}")
    if sampler == "sobol" and n & (n - 1):
        raise UserError(f"[sweep] n = {n}: Sobol' designs need a power of two (e.g. {1 << n.bit_length()})")
    if sampler == "morris" and n < 2:
        raise UserError(f"[sweep] n = {n}: a Morris design needs at least 2 trajectories")
    levels = _int(sweep.get("levels", DEFAULTS["levels"]), "[sweep] levels", 2) if sampler == "morris" else None
    if levels is not None and levels > 1000:
        raise UserError(f"[sweep] levels = {levels}: a Morris grid has at most 1000 levels (4 to 10 is usual)")
    candidates = _int(sweep["candidates"], "[sweep] candidates", 1) if "candidates" in sweep else None
    if candidates is not None and not n < candidates <= 10_000:
        raise UserError(f"[sweep] candidates = {candidates}: the trajectories drawn to keep the n = {n} most spread "
                        f"must number more than n and at most 10,000 (e.g. {max(10 * n, n + 1)})")
    second = sweep.get("second_order", DEFAULTS["second_order"]) if sampler == "sobol" else None
    if sampler == "sobol" and not isinstance(second, bool):
        raise UserError(f"[sweep] second_order must be true or false, got {second!r}")
    d = len(swept)
    _check_size({"lhs": n, "sobol": n * (2 * d + 2 if second else d + 2), "morris": n * (d + 1)}[sampler],
                f"the {sampler} design")
    out.update(bounds=bounds, n=n, levels=levels, second_order=second,
               points=sampled_points(sampler, bounds, n, seed, levels=levels, second_order=second,
                                     candidates=candidates))
    return out


def _check_size(points: int, what: str) -> None:
    if points > MAX_POINTS:
        raise UserError(f"{what} has {points:,} points, more than {MAX_POINTS:,}; lower n or the grid's values")


_N_WORD = {"lhs": "points", "sobol": "base samples N (points = N·(2D+2), or N·(D+2) without second order)",
           "morris": "trajectories (points = n·(D+1))"}


def base_param(name: str) -> Param:
    """The schema entry of a swept name, ``accused.trip_rate[0]`` -> ``accused.trip_rate``."""
    return lookup(split_name(name)[0])


def _check_set_once(doc: dict[str, Any], names: tuple[str, ...] | list[str], where: str, why: str) -> None:
    """A parameter that ``where`` sets (canonical references) and that [scenario] or [parameters] sets too is
    an error naming both: one of the two would silently win. (A whole list set there and one of its elements
    here is one element of a base list, not a second value.)"""
    for table in ("scenario", "parameters"):
        node = doc.get(table, {})
        given = flatten_tables({"scenario": node} if table == "scenario" else node, f"[{table}]")
        both = [n for n in names if n in given]
        if both:
            raise UserError(f"[{table}] and {where} both set {both[0]}; keep one of them ({why})")


def _check_sweepable(name: str, table: str, base: Params) -> None:
    p = base_param(name)
    roster = base["scenario.roster"]
    if p.applies and p.applies != roster:
        raise UserError(f"[sweep.{table}] {name} applies only to the {p.applies} roster, and scenario.roster is "
                        f"{roster!r}; sweep another parameter or set scenario.roster = \"{p.applies}\"")
    if not p.numeric:
        raise UserError(f"[sweep.{table}] {name}: only numeric parameters can be swept and {name} is "
                        f"{'a date' if p.scalar_kind == 'date' else 'text'}; set it in [scenario] or [parameters]")
    if p.is_list and split_name(name)[1] is None:
        raise UserError(f"[sweep.{table}] {name} is a list; sweep one element, e.g. \"{name}[0]\"")


def _check_bounds(name: str, value: Any) -> tuple[float, float]:
    p = base_param(name)
    where = f"[sweep.bounds] {name}"
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
        raise UserError(f"{where} must be [low, high], two numbers, got {value!r}")
    low, high = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (low, high)):
        raise UserError(f"{where} = {value!r} must be finite")
    if p.scalar_kind in ("int", "bool") and not (low.is_integer() and high.is_integer()):
        raise UserError(f"{where} = {value!r}: {name} is an integer parameter; give integer bounds")
    if not low < high:
        raise UserError(f"{where} = {value!r}: low must be below high")
    if low < p.low or high > p.high:
        raise UserError(f"{where} = {value!r} lies outside the parameter's range {p.range_text()}")
    return low, high


def _point_params(base: Params, design: dict[str, Any], i: int) -> Params:
    frame = design["points"]
    values = {name: frame[name].iloc[i].item() for name in design["swept"]}
    try:
        return base.replace(values)
    except UserError as exc:
        shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
        raise UserError(f"design point {i} ({shown}): {exc}") from None


def _outputs(doc: dict[str, Any], params: tuple[Params, ...]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    out = _table(doc, "outputs", OUTPUT_KEYS)
    shortest = min(p.horizon for p in params)
    given = out.get("horizons", [shortest])
    if not isinstance(given, list) or not given:
        raise UserError(f"[outputs] horizons must be a non-empty list of whole months, got {given!r}")
    try:
        horizons = [whole_number(h, "[outputs] horizons") for h in given]
    except UserError:
        raise UserError(f"[outputs] horizons must be a non-empty list of whole months, got {given!r}") from None
    for h in horizons:
        if not 1 <= h <= shortest:
            raise UserError(f"[outputs] horizons: {h} is not within 1..{shortest} months "
                            f"(scenario.horizon_months of {'every point' if len(params) > 1 else 'the run'})")
    if len(set(horizons)) < len(horizons):
        raise UserError(f"[outputs] horizons {horizons} lists a month twice")
    figures = out.get("figures", [])
    if not isinstance(figures, list) or any(not isinstance(f, str) for f in figures):
        raise UserError(f"[outputs] figures must be a list of names from {', '.join(FIGURE_KINDS)}, got {figures!r}")
    for f in figures:
        if f not in FIGURE_KINDS:
            raise UserError(f"[outputs] figures: unknown kind {f!r}{suggest(f, FIGURE_KINDS)}; "
                            f"choose from {', '.join(FIGURE_KINDS)}")
    if len(set(figures)) < len(figures):
        raise UserError(f"[outputs] figures {figures} lists a kind twice")
    return tuple(sorted(horizons)), tuple(figures)
