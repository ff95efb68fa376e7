"""Command line: ``python -m sim <command>``. Parses, calls one function below, prints.

Bad input of any kind ends in one line on stderr and exit status 2, never a traceback; Ctrl-C ends
in one line and exit status 130, SIGTERM in the same line and exit status 143.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sim.errors import UserError
from sim.names import FIGURE_KINDS

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143: stopped by SIGTERM, as a shell reports it

# command -> "module:function" taking the parsed args and returning an exit status
HANDLERS = {
    "run": "sim.cli.run:run_command",
    "params": "sim.cli.main:params_command",
    "sweep": "sim.cli.sweep:sweep_command",
    "reproduce": "sim.cli.sweep:reproduce_command",
    "plot": "sim.cli.analysis:plot_command",
    "sensitivity": "sim.cli.analysis:sensitivity_command",
    "discover": "sim.cli.analysis:discover_command",
    "compare": "sim.cli.analysis:compare_command",
    "calibrate": "sim.cli.calibrate:calibrate_command",
    "forecast": "sim.cli.forecast:forecast_command",
    "viz": "sim.app.server:viz_command",
    "explore": "sim.cli.explore:explore_command",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str):
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _add_model_options(p: argparse.ArgumentParser, seed: bool = True) -> None:
    p.add_argument("--config", metavar="FILE", help="experiment TOML; its [scenario] and [parameters] tables are used")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter, e.g. --set court.legitimacy0=0.7 (repeatable)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _add_sweep_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help="output folder (default results/<experiment name>/)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default and most: the cores available; 1 = in-process)")
    p.add_argument("--scheduler", metavar="local|ADDRESS",
                   help="run on Dask: 'local' starts a LocalCluster, tcp://host:port joins an existing one")
    p.add_argument("--resume", action="store_true", help="skip blocks already written (config must be unchanged)")
    p.add_argument("--force", action="store_true", help="overwrite a folder that holds another experiment's results")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("run", help="one replicate with the Mesa engine, told as a story")
    _add_model_options(p)
    p.add_argument("--out", metavar="DIR", help="write events.csv, series.csv, outcome.json and manifest.json here")
    p.add_argument("--force", action="store_true",
                   help="write into a folder holding other files or results (only the tool's own files are replaced)")
    p.add_argument("--posterior", metavar="SOURCE", help="run at one draw of a calibrated posterior: \"calibrated\" "
                   "(shipped) or a calibration folder; the draw is resampled with the seed")

    p = sub.add_parser("params", help="print the parameter table (name, default, range, description)")
    p.add_argument("--markdown", action="store_true", help="as the Markdown table of docs/ODD.md")
    p.add_argument("--outcomes", action="store_true",
                   help="print the outcome table instead (every output of a run and monthly series)")

    p = sub.add_parser("sweep", help="run an experiment config: points × replicates, results and figures")
    p.add_argument("config", metavar="CONFIG", help="experiment TOML file")
    _add_sweep_options(p)

    p = sub.add_parser("reproduce", help="rerun a results folder's experiment and compare every output's hash")
    p.add_argument("folder", metavar="DIR", help="results folder holding manifest.json")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes (results do not depend on it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("plot", help="redraw a results folder's figures without rerunning anything")
    p.add_argument("folder", metavar="DIR", help="results folder")
    p.add_argument("--kind", action="append", metavar="KIND",
                   help=f"figure kind ({', '.join(FIGURE_KINDS)}); repeatable; default: all that apply")

    p = sub.add_parser("sensitivity", help="Sobol' or Morris sensitivity analysis of an outcome (SALib)")
    p.add_argument("config", metavar="CONFIG", help="experiment TOML with a [sensitivity] table")
    _add_sweep_options(p)

    p = sub.add_parser("compare", help="paired counterfactuals: a base scenario and alternatives on the same "
                                        "replicate streams, paired differences in the probability of custody")
    p.add_argument("configs", nargs="+", metavar="CONFIG", help="a config with [alternatives.NAME] tables, or "
                   "BASE.toml ALT.toml ... (each a single scenario; the base's [experiment] settings apply)")
    _add_sweep_options(p)

    p = sub.add_parser("discover", help="scenario discovery (PRIM) over a finished sweep: where is custody "
                                         "likely, or unlikely?")
    p.add_argument("folder", metavar="DIR", help="results folder of a sweep with a sampled design (lhs or sobol)")
    p.add_argument("--outcome", default="p_enforced", help="p_enforced (custody by either route, default) or "
                   "p_arrested (arrest by a host state abroad; one accused)")
    p.add_argument("--horizon", type=int, required=True, metavar="MONTHS", help="the outcome by this month")
    p.add_argument("--threshold", type=float, required=True, metavar="P",
                   help="a point is of interest when its probability is at least P (below P with --below)")
    p.add_argument("--below", action="store_true", help="look for where the probability is below the threshold")
    p.add_argument("--accused", default="all", metavar="INDEX", help="an accused index, or \"all\" (default)")
    p.add_argument("--density", type=float, metavar="D", help="choose the box of largest coverage with density at "
                   "least D (default: the last box of the peeling trajectory)")
    p.add_argument("--peel-alpha", type=float, help="share peeled off per step (default 0.05)")
    p.add_argument("--paste-alpha", type=float, help="share pasted back per step (default 0.05)")
    p.add_argument("--mass-min", type=float, help="smallest share of points in a box (default 0.05)")
    p.add_argument("--out", metavar="DIR", help="output folder (default DIR/discovery/)")
    p.add_argument("--force", action="store_true", help="overwrite a folder that holds other results")

    p = sub.add_parser("calibrate", help="ABC-SMC against the court's record, with predictive and out-of-sample "
                                          "checks")
    p.add_argument("config", metavar="CONFIG", help="calibration TOML")
    p.add_argument("--no-checks", action="store_true", help="fit only: skip the predictive and out-of-sample checks")
    p.add_argument("--sbc", type=int, metavar="N", help="simulation-based calibration: N pseudo-records from the "
                   "prior, each calibrated with the config's [checks] sbc settings (long)")
    p.add_argument("--out", metavar="DIR", help="output folder (default results/<name>/)")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes")
    p.add_argument("--resume", action="store_true", help="with --sbc: keep the pseudo-records already "
                   "calibrated in the folder (verified) and do the rest")
    p.add_argument("--force", action="store_true", help="overwrite an existing folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("forecast", help="the probability of custody by each horizon for a warrant still at large, "
                                         "given the record to date, over a calibrated posterior")
    p.add_argument("config", metavar="CONFIG", help="forecast TOML with a [forecast] table (e.g. "
                   "experiments/forecast_2023_ukraine.toml)")
    p.add_argument("--out", metavar="DIR", help="output folder (default results/<name>/)")
    p.add_argument("--force", action="store_true", help="overwrite a folder that holds another forecast's results")
    p.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")

    p = sub.add_parser("viz", help="open the browser app (Solara) with sliders for every parameter")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")

    p = sub.add_parser("explore", help="explore a finished sweep or study folder in the browser (Solara)")
    p.add_argument("folder", metavar="FOLDER", help="results folder of a sweep or sensitivity study")
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    return parser


def params_command(args: argparse.Namespace) -> int:
    if args.outcomes:
        print(_outcome_table(args.markdown))
        return 0
    from sim.model.params import table_markdown, table_text

    print(table_markdown() if args.markdown else table_text())
    return 0


def _outcome_table(markdown: bool) -> str:
    """The outcome schema as docs/ODD.md's Markdown table, or grouped for the terminal."""
    from sim.model.outcomes import OUTCOMES, SERIES, outcome_table_markdown

    if markdown:
        return outcome_table_markdown()
    rows = [(o.name, o.kind, o.doc, f"per {o.level}") for o in OUTCOMES] + [(s.name, "series", s.doc, "per month")
                                                                          for s in SERIES]
    width = max(len(name) for name, *_ in rows)
    lines = []
    for group in dict.fromkeys(level for *_, level in rows):
        lines.append(f"[{group}]")
        lines += [f"  {name:<{width}}  {kind:<7} {doc}" for name, kind, doc, level in rows if level == group]
    return "\n".join(lines)


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[list[bool]]:
    """While a command runs, SIGTERM (a scheduler's end of job, ``kill PID``) stops it as Ctrl-C does: the
    same one line, the finished blocks kept; the list holds True once it came."""
    came = [False]
    if threading.current_thread() is not threading.main_thread():
        yield came
        return

    def stop(signum: int, frame: object) -> None:
        if not came[0]:  # a second one while the command stops is ignored: it is stopping already
            came[0] = True
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield came
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module, _, func = HANDLERS[args.command].partition(":")
    with _sigterm_as_ctrl_c() as terminated:
        try:
            handler = getattr(importlib.import_module(module), func)
            return int(handler(args) or 0)
        except UserError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_BAD_INPUT
        except KeyboardInterrupt as exc:
            sys.stderr.write(f"{str(exc) or 'interrupted'}\n")
            return EXIT_TERMINATED if terminated[0] else EXIT_INTERRUPTED
        except BrokenPipeError:
            return 0
        except OSError as exc:  # a file system failure the commands did not foresee: still one line
            where = f" {exc.filename}" if exc.filename else ""
            sys.stderr.write(f"error: cannot complete{where}: {exc.strerror or exc}; check the path and free space\n")
            return EXIT_BAD_INPUT
