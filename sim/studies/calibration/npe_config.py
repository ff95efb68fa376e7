"""The ``[npe]`` table of a calibration config with ``method = "npe"``: the training set, the estimator, its
training, and the sizes of its checks (simulation-based calibration, TARP, the forecast's coverage and the
cross-check against another posterior)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sim.analysis.forecast import MIN_CONSISTENT
from sim.errors import UserError
from sim.model.params import suggest

METHODS = ("abc-smc", "npe")
ESTIMATORS = ("nsf", "maf")  # sbi's flows; both learn in the priors' unconstrained space (sim.analysis.prior_space)


@dataclass(frozen=True)
class NPESettings:
    """Neural posterior estimation: what is simulated, how the flow is built and trained, and the checks' sizes."""

    simulations: int = 20_000  # pseudo-records drawn from the prior to train on
    estimator: str = "nsf"  # sbi's neural spline flow (coupling layers: one pass to sample)
    hidden_features: int = 50
    transforms: int = 5
    bins: int = 10  # spline bins of "nsf"
    batch: int = 512  # training batch size
    learning_rate: float = 5e-4
    patience: int = 20  # epochs without a better validation loss before training stops
    max_epochs: int = 1000
    validation_fraction: float = 0.1
    threads: int = 2  # torch's threads: results are reproduced byte for byte with the same count
    samples: int = 4000  # posterior samples of the record (equally weighted)
    sbc_draws: int = 1000  # posterior draws per pseudo-record for SBC ranks (0..L) and TARP
    tarp_bootstrap: int = 1000  # bootstrap resamples of the records for TARP's band
    forecast_person: str = ""  # the warrant whose forecast's coverage is checked ("" skips the check)
    forecast_records: int = 200  # pseudo-records (with that person at large at the record's date) checked
    forecast_horizon: int = 60  # months after the record's date
    forecast_draws: int = 100  # posterior draws per forecast
    forecast_replicates: int = 200  # replicates per draw
    truth_replicates: int = 2000  # replicates at the true parameters
    cross_check: str = "calibrated"  # a posterior to compare on the record: "calibrated" (shipped) or a folder; ""


KEYS = tuple(f.name for f in fields(NPESettings))
MINIMUM = {"simulations": 100, "hidden_features": 2, "transforms": 1, "bins": 2, "batch": 2, "patience": 1,
           "max_epochs": 1, "threads": 1, "samples": 10, "sbc_draws": 10, "tarp_bootstrap": 10,
           "forecast_records": 1, "forecast_horizon": 1, "forecast_draws": 2,
           "forecast_replicates": MIN_CONSISTENT, "truth_replicates": MIN_CONSISTENT}  # fewer: every draw set aside


def npe_settings(node: Any, method: str) -> NPESettings | None:
    """The validated ``[npe]`` table (defaults where a key is absent); None unless ``method`` is "npe"."""
    if method not in METHODS:
        raise UserError(f"[calibration] method must be one of {', '.join(METHODS)}, got {method!r}"
                        f"{suggest(str(method), METHODS)}")
    if method != "npe":
        if node is not None:
            raise UserError("[npe] is set but [calibration] method is not \"npe\"; set method = \"npe\" or drop [npe]")
        return None
    node = {} if node is None else node
    if not isinstance(node, dict):
        raise UserError(f"[npe] must be a table, got {node!r}")
    for key in node:
        if key not in KEYS:
            raise UserError(f"[npe] has unknown key '{key}'{suggest(key, KEYS)}; allowed: {', '.join(KEYS)}")
    values: dict[str, Any] = {}
    defaults = NPESettings()
    for key in KEYS:
        if key not in node:
            continue
        value, default = node[key], getattr(defaults, key)
        label = f"[npe] {key}"
        if isinstance(default, str):
            if not isinstance(value, str):
                raise UserError(f"{label} must be text, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise UserError(f"{label} must be a whole number, got {value!r}")
            if value < MINIMUM[key]:
                raise UserError(f"{label} must be at least {MINIMUM[key]}, got {value}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise UserError(f"{label} must be a number between 0 and 1, got {value!r}")
        values[key] = value
    settings = NPESettings(**values)
    if settings.estimator not in ESTIMATORS:
        raise UserError(f"[npe] estimator must be one of {', '.join(ESTIMATORS)}, got {settings.estimator!r}"
                        f"{suggest(settings.estimator, ESTIMATORS)}")
    if int(settings.simulations * settings.validation_fraction) < 10:
        raise UserError(f"[npe] simulations = {settings.simulations} at validation_fraction = "
                        f"{settings.validation_fraction} leaves fewer than 10 pseudo-records to validate on; "
                        "simulate more")
    return settings
