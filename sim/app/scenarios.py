"""Where a run of the app starts: the synthetic defaults or a historical scenario config
(``experiments/scenario_*.toml``), each with the name a reader knows it by."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.experiments.config import model_overrides, read_toml
from sim.model.params import Params
from sim.paths import ROOT

EXPERIMENTS = ROOT / "experiments"  # the historical scenario configs
SYNTHETIC = "Synthetic roster (the defaults)"


@dataclass(frozen=True)
class Scenario:
    """A starting point for the inputs: its name, what it is, the values its config sets, the config file."""

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    about: str = ""


def scenario_name(path: Path, description: str) -> str:
    """The name before the colon of the config's ``[experiment] description`` ("Côte d'Ivoire 2011: ...");
    without one, the file's words (``scenario_2011_libya.toml`` -> 'Libya 2011')."""
    head = description.partition(":")[0].strip()
    if description and head != description.strip():
        return head
    words = path.stem.removeprefix("scenario_").split("_")
    years = [w for w in words if w.isdigit()]
    return " ".join([*(w.capitalize() for w in words if not w.isdigit()), *years])


def roster_note(overrides: dict[str, Any]) -> str:
    """'real roster on 2023-03-17, home RUS' (or '' for the synthetic roster)."""
    if overrides.get("scenario.roster") != "real":
        return ""
    return f"real roster on {overrides.get('scenario.date', '?')}, home {overrides.get('scenario.home', '?')}"


def scenarios(folder: Path = EXPERIMENTS) -> list[Scenario]:
    """The synthetic defaults, then each historical scenario of ``experiments/scenario_*.toml``: the
    values of its [scenario] and [parameters] tables (a config the model refuses is left out)."""
    found = [Scenario(SYNTHETIC, about="The schema's defaults on a synthetic roster of states.")]
    for path in sorted(folder.glob("scenario_*.toml")):
        try:
            doc = read_toml(path)
            overrides = model_overrides(doc)
            Params(overrides)
        except UserError:
            continue
        description = str(doc.get("experiment", {}).get("description", ""))
        what = description.partition(":")[2].strip()
        about = "; ".join(s for s in (what, roster_note(overrides), f"experiments/{path.name}") if s)
        found.append(Scenario(scenario_name(path, description), overrides, path.name, about + "."))
    return found  # in the order of the files: by year
