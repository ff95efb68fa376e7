"""The parameter schema: defaults match MODEL.md §8, and every kind of bad value is refused in one clear line."""

import math

import pytest

from sim.errors import UserError
from sim.model.params import BY_NAME, SCHEMA, Params, coerce, flatten_tables, parse_overrides, parse_value

# MODEL.md §8, typed in by hand from the specification.
MODEL_DEFAULTS = {
    "scenario.n_states": 193, "scenario.member_share": 0.6, "scenario.n_regions": 5, "scenario.n_partners": 10,
    "scenario.horizon_months": 120, "states.concentration": 10, "states.sovereignty_member": 0.4,
    "states.sovereignty_nonmember": 0.7, "states.compliance_member": 0.6, "states.compliance_nonmember": 0.3,
    "states.capacity": 0.8, "states.alignment_partner": 0.8, "states.alignment": 0.2, "states.appeal_sd": 0.5,
    "states.partner_appeal": 2.0, "states.arrest_norm_gain": 0.05, "states.conformity": 0.02,
    "states.legitimacy_pull": 0.01, "states.withdrawal_rate": 0.01, "states.withdrawal_threshold": 0.5,
    "states.withdrawal_delay": 12, "accused.head_of_state": [1, 0], "accused.trip_rate": [0.8, 0.3],
    "accused.risk_aversion": [100, 100], "accused.max_risk": [0.02, 0.02], "accused.sealed_awareness": 0.2,
    "accused.travel_alignment": 2.0, "arrest.intercept": -4.0, "arrest.duty": 3.0, "arrest.compliance": 2.0,
    "arrest.legitimacy": 1.5, "arrest.pressure": 1.0, "arrest.sovereignty": 2.5, "arrest.alignment": 5.0,
    "arrest.immunity": 1.0, "court.legitimacy0": 0.5, "court.arrest_gain": 0.10, "court.finding_prob": 0.5,
    "court.finding_pressure": 0.3, "court.defiance_loss": 0.02, "court.nonmember_loss": 0.005,
    "court.reversion": 0.01, "prosecutor.outreach_budget": 10, "prosecutor.pressure_decay": 0.05,
    "prosecutor.outreach_boost": 0.1, "prosecutor.sealed_share": 0.0, "prosecutor.unseal_rate": 1 / 12,
    "prosecutor.home_engagement": 0.5, "home.turnover_rate": 1 / 240, "home.engagement_effect": 1.0,
    "home.surrender_prob": 0.5, "scenario.roster": "synthetic",
    # v1.3: each new mechanism is off by default
    "states.accession_rate": 0.0, "states.accession_delay": 2, "prosecutor.timed_share": 0.0,
    "home.fallen_at_issue": 0.0, "home.detain_prob": 0.0, "home.detained_surrender_rate": 0.0,
    "prosecutor.timed_arrest": 0.0, "home.turnover_sd": 0.0, "accused.invitation_rate": 0.0,  # v1.4, v1.5
}


def test_defaults_match_the_specification():
    p = Params()
    for name, value in MODEL_DEFAULTS.items():
        assert p[name] == pytest.approx(value), name
    model_names = set(MODEL_DEFAULTS) | {"scenario.date", "scenario.home", "scenario.partners"}
    model_names |= {"scenario.states"}  # the project's extension: counterfactual values for named states
    assert set(BY_NAME) == model_names


def test_every_default_is_valid_and_documented():
    for p in SCHEMA:
        assert coerce(p, p.default) == p.default
        assert p.doc and "\n" not in p.doc
        lo, hi = p.slider_range
        if p.numeric:
            assert math.isfinite(lo) and math.isfinite(hi) and lo < hi, p.name


@pytest.mark.parametrize("values, message", [
    ({"court.legitimacy": 0.5}, "unknown parameter 'court.legitimacy' (did you mean court.legitimacy0?)"),
    ({"legitimacy0": 0.5}, "did you mean court.legitimacy0?"),
    ({"court.legitimacy0": 1.5}, "court.legitimacy0 = 1.5 is out of range [0, 1]"),
    ({"court.legitimacy0": "high"}, "court.legitimacy0 must be a number, got 'high'"),
    ({"scenario.n_states": 10.5}, "scenario.n_states must be an integer, got 10.5"),
    ({"scenario.roster": "imaginary"}, "scenario.roster must be one of synthetic, real, got 'imaginary'"),
    ({"accused.trip_rate": [0.1, 0.2, 0.3]}, "one common length"),
    ({"accused.trip_rate": []}, "accused.trip_rate must be a non-empty list of numbers, got []"),
    ({"accused.head_of_state": "yes"}, "accused.head_of_state must be a non-empty list of 0s and 1s, got 'yes'"),
    ({"accused.max_risk[5]": 0.1}, "index 5 is out of range"),
    ({"accused.max_risk[0]": 2}, "accused.max_risk[0] = 2 is out of range [0, 1]"),
    ({"court.legitimacy0[0]": 0.1}, "court.legitimacy0 is not a list"),
    ({"scenario.n_states": 5, "scenario.n_partners": 5}, "scenario.n_partners = 5 exceeds the 4 states"),
    ({"scenario.date": "2023-02-30"}, "scenario.date must be a date YYYY-MM-DD"),
    ({"court.legitimacy0": float("nan")}, "court.legitimacy0 must be a number"),
    ({"home.turnover_rate": True}, "home.turnover_rate must be a number, got True"),
])
def test_bad_values_are_refused_with_one_clear_line(values, message):
    with pytest.raises(UserError) as err:
        Params(values)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_list_elements_can_be_set_by_index_and_lists_resized_together():
    p = Params({"accused.trip_rate[0]": 1.5})
    assert p["accused.trip_rate"] == [1.5, 0.3]
    q = Params({k: [v[0]] for k, v in Params().items() if BY_NAME[k].per_accused})
    assert q.n_accused == 1


def test_overrides_parse_toml_values():
    assert parse_value("0.7") == 0.7 and parse_value("[1, 0]") == [1, 0] and parse_value("real") == "real"
    assert parse_overrides(["court.legitimacy0=0.7", "accused.trip_rate=[1.0, 2.0]"]) == {
        "court.legitimacy0": 0.7, "accused.trip_rate": [1.0, 2.0]}
    with pytest.raises(UserError, match="--set expects name=value"):
        parse_overrides(["court.legitimacy0"])


def test_config_tables_accept_nested_and_quoted_dotted_keys():
    assert flatten_tables({"court": {"legitimacy0": 0.6}, "arrest.duty": 2.0}, "[parameters]") == {
        "court.legitimacy0": 0.6, "arrest.duty": 2.0}
    with pytest.raises(UserError, match=r"did you mean arrest.duty"):
        flatten_tables({"arrest": {"dutty": 1.0}}, "[parameters]")


def test_replace_keeps_the_original_and_validates():
    base = Params()
    changed = base.replace({"arrest.duty": 4.0})
    assert base["arrest.duty"] == 3.0 and changed["arrest.duty"] == 4.0
    assert changed.to_dict(changed_only=True) == {"arrest.duty": 4.0}
    with pytest.raises(UserError):
        base.replace({"arrest.duty": 99.0})
