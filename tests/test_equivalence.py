"""MODEL.md §6: the Mesa engine and the vectorized core give the same distribution of every output.

2,000 replicates per engine and parameter set, fixed seeds, one Holm-corrected family of tests
per set at family-wise error 0.01 (tests/stats.py). The same check must reject a deliberately
wrong variant (arrest intercept shifted by 0.5 in the vectorized core only): the check has power.
"""

import pytest

from sim import simulate
from sim.params import Params
from tests.stats import compare

REPLICATES = 2000
ALPHA = 0.01
SMALL = {"scenario.n_states": 30, "scenario.horizon_months": 36, "scenario.n_partners": 3}
SETS = {
    "defaults": {},
    "sealed, high legitimacy": {"prosecutor.sealed_share": 1.0, "court.legitimacy0": 0.9,
                                "prosecutor.unseal_rate": 0.02},
    "no outreach, no regime change": {"prosecutor.outreach_budget": 0, "home.turnover_rate": 0.0},
    "sovereign and aligned, many withdrawals": {"states.sovereignty_member": 0.8, "states.alignment": 0.6,
                                                "states.withdrawal_rate": 0.05, "states.withdrawal_delay": 6},
    "small roster, frequent trips": {"scenario.n_states": 12, "scenario.n_partners": 2,
                                     "accused.trip_rate": [3.0, 2.0], "accused.max_risk": [0.1, 0.1]},
}
FAST = ("defaults",)
_mesa_frames: dict[str, object] = {}


def _params(name: str, full_size: bool = False) -> Params:
    return Params(SETS[name] if full_size else {**SMALL, **SETS[name]})


def _mesa(name: str, full_size: bool = False):
    """The Mesa sample of a set, computed once per session (the power test reuses the defaults)."""
    key = f"{name}|{full_size}"
    if key not in _mesa_frames:
        _mesa_frames[key] = simulate(_params(name, full_size), replicates=REPLICATES, seed=101, engine="mesa")
    return _mesa_frames[key]


def _vectorized(params: Params):
    return simulate(params, replicates=REPLICATES, seed=202, engine="vectorized")


def _marks(name):
    return () if name in FAST else (pytest.mark.slow,)


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in SETS])
def test_engines_agree(name):
    params = _params(name)
    result = compare(_mesa(name), _vectorized(params), params.horizon, ALPHA)
    assert result.same, f"{name}: engines differ\n{result.report()}"


def test_a_shifted_intercept_is_detected():
    params = _params("defaults")
    wrong = params.replace({"arrest.intercept": params["arrest.intercept"] + 0.5})
    result = compare(_mesa("defaults"), _vectorized(wrong), params.horizon, ALPHA)
    assert not result.same, f"the check missed a shifted arrest intercept\n{result.report()}"


@pytest.mark.slow
def test_engines_agree_full_size_defaults():
    params = _params("defaults", full_size=True)
    result = compare(_mesa("defaults", full_size=True), _vectorized(params), params.horizon, ALPHA)
    assert result.same, f"full-size defaults: engines differ\n{result.report()}"
