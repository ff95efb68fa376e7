"""``python -m sim explore FOLDER``: the sweep explorer in the browser, served like ``viz``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.app.exploration import describe_forecast, kinds_of
from sim.app.explorer import FOLDER_ENV
from sim.app.server import serve
from sim.experiments.config import refuse_config_as_folder
from sim.experiments.results import load_results
from sim.studies.forecast.study import read_forecast_folder

EXPLORER = "sim.app.explorer"


def explore_command(args: argparse.Namespace) -> int:
    """Check the folder (a bad one is one line here, not an error page), then serve the explorer on it."""
    refuse_config_as_folder(args.folder)
    folder = Path(args.folder).resolve()
    found = read_forecast_folder(folder) if folder.is_dir() else None
    if found is not None:
        print(f"{folder}: {describe_forecast(found)}", flush=True)
        return serve(EXPLORER, args, "the explorer", env={FOLDER_ENV: str(folder)})
    results = load_results(folder)
    kinds = ", ".join(k.name for k in kinds_of(results))
    print(f"{folder}: {kinds}; {len(results.points)} points, swept: {', '.join(results.swept) or 'nothing'}",
          flush=True)
    return serve(EXPLORER, args, "the explorer", env={FOLDER_ENV: str(folder)})
