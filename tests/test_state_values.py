"""scenario.states: counterfactual attribute values for named states of the real roster, in every engine (each
starts from sim.model.initial's draws, so the Mesa model's state and the NumPy core's arrays are checked here,
and tests/test_protocol.py checks that the three engines give the same replicates with state values set)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engines.mesa.model import TribunalModel
from sim.engines.vectorized.world import World
from sim.errors import UserError
from sim.experiments.config import experiment_from_text
from sim.model.batch import Batch
from sim.model.layout import Layout
from sim.model.params import Params

REAL = {"scenario.roster": "real", "scenario.date": "2023-03-17", "scenario.home": "RUS",
        "scenario.partners": ["csto"], "scenario.horizon_months": 6}
VALUES = {"MNG": {"compliance": 0.95, "capacity": 1.0}, "KAZ": {"alignment": 0.0}}


def test_both_engines_start_named_states_at_the_given_values_and_others_at_their_draws():
    params = Params({**REAL, "scenario.states": VALUES})
    plain = Params(REAL)
    m = TribunalModel(params, seed=3)
    base = TribunalModel(plain, seed=3)
    codes = list(m.roster.codes)
    for code, row in VALUES.items():
        for attr, value in row.items():
            assert m.state_vars[attr][codes.index(code)] == np.float32(value)  # every engine keeps float32 state
    other = codes.index("FRA")
    assert m.state_vars["compliance"][other] == base.state_vars["compliance"][other]  # the same draw
    batch = Batch.of({0: params}, np.zeros(40, int), np.arange(40), 3)
    layout = Layout.of(batch.params)
    w = World(layout, batch, slice(0, 40))
    column = {c: k for k, c in enumerate(np.asarray(codes)[layout.order])}
    assert np.all(w.compliance[:, column["MNG"]] == np.float32(0.95))
    assert np.all(w.capacity[:, column["MNG"]] == 1.0) and np.all(w.alignment[:, column["KAZ"]] == 0.0)
    assert np.ptp(w.compliance[:, column["FRA"]]) > 0  # still drawn per replicate


@pytest.mark.parametrize("values, message", [
    ({"XXX": {"compliance": 0.5}}, "not a state of the roster on 2023-03-17"),
    ({"MNG": {"complance": 0.5}}, "did you mean compliance"),
    ({"MNG": {"compliance": 1.5}}, "must be a number in [0, 1]"),
    ({"MNG": 0.5}, "must set at least one of"),
    ({"mng": {"compliance": 0.5}}, "is not an ISO3 code"),
])
def test_bad_state_values_are_refused_in_one_line(values, message):
    with pytest.raises(UserError) as err:
        Params({**REAL, "scenario.states": values})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_state_values_need_the_real_roster():
    with pytest.raises(UserError, match="applies only to the real roster"):
        Params({"scenario.states": {"MNG": {"compliance": 0.9}}})


def test_a_config_sets_state_values_as_nested_tables():
    exp = experiment_from_text('''
[experiment]
name = "mongolia"
replicates = 2
[scenario]
roster = "real"
date = "2023-03-17"
home = "RUS"
partners = ["csto"]
horizon_months = 6
[scenario.states.MNG]
compliance = 0.9
''')
    assert exp.base["scenario.states"] == {"MNG": {"compliance": 0.9}}
