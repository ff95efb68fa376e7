"""What the next run of the app uses (the scenario, the seed, the inputs changed from it) and the
model that Reset builds from it; inputs are named as in configs and ``--set``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import solara

from sim.app.scenarios import SYNTHETIC, Scenario
from sim.engines.mesa.model import TribunalModel
from sim.model.params import BY_NAME, Param, Params, split_name


def inputs_of(p: Param, n_accused: int) -> list[str]:
    """The input names for one parameter: itself, or one per accused (``accused.trip_rate[0]``, ...)."""
    if p.per_accused:
        return [f"{p.name}[{j}]" for j in range(n_accused)]
    return [p.name]


def param_of(name: str) -> tuple[Param, int | None]:
    """``accused.trip_rate[1]`` -> (its schema entry, 1); a plain name -> (its entry, None)."""
    base, index = split_name(name)
    return BY_NAME[base], index


def value_of(params: Params, name: str) -> Any:
    p, j = param_of(name)
    return params[p.name] if j is None else params[p.name][j]


@dataclass(frozen=True)
class Choices:
    """What the next run uses: the scenario it starts from, the seed, and the inputs changed from the
    scenario's values (dotted names, ``accused.trip_rate[0]`` for a list element)."""

    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    scenario: Scenario = field(default_factory=lambda: Scenario(SYNTHETIC))

    def base(self) -> Params:
        """The scenario's parameters (the schema's defaults for the synthetic roster)."""
        return Params(self.scenario.overrides)

    def params(self) -> Params:
        return self.base().replace(self.overrides)

    def default(self, name: str) -> Any:
        """An input's value before any change: the scenario's (or the schema's default)."""
        return value_of(self.base(), name)

    def set(self, name: str, value: Any) -> Choices:
        """A copy with one input changed; a value equal to the scenario's is dropped. Invalid -> UserError."""
        overrides = {k: v for k, v in self.overrides.items() if k != name}
        if value != self.default(name):
            overrides[name] = value
        chosen = replace(self, overrides=overrides)
        chosen.params()  # validate now, with the user's name
        return chosen

    def start_from(self, scenario: Scenario) -> Choices:
        """The scenario's values, no changes; the seed stays."""
        return replace(self, overrides={}, scenario=scenario)


class AppModel(TribunalModel):
    """The model the app runs: built from the session's Choices (a value or a solara.Reactive of one).

    Mesa's Reset calls ``AppModel(choices=...)`` with the session's reactive choices, so a
    Reset picks up whatever the inputs say at that moment.
    """

    def __init__(self, choices: Choices | solara.Reactive[Choices] | None = None):
        if isinstance(choices, solara.Reactive):
            choices = choices.value
        choices = choices or Choices()
        super().__init__(choices.params(), seed=choices.seed)  # as `python -m sim run --seed N`
        self.seed = choices.seed


def month_label(model: TribunalModel) -> str:
    """The month on show, as the event log numbers it: the month just simulated (months count from 0).

    After k steps months 0..k-1 are done: 'month 4 (5 of 120 months run)'; before the first step,
    only the warrants of month 0 are in the log: 'start (0 of 120 months run)'.
    """
    done, horizon = model.month, model.params.horizon
    return f"month {done - 1} ({done} of {horizon} months run)" if done else f"start (0 of {horizon} months run)"
