"""Sensitivity indices through the code path of the model's outcomes, and the sensitivity command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sim.analysis.sensitivity import design_indices, noise_levels, outcome_spec, outcome_values
from sim.cli import main
from sim.errors import UserError
from sim.experiments.design import sampled_points
from tests.test_metrics import runs_frame

# Three float parameters stand in for the Ishigami function's x1, x2, x3 on [-pi, pi]
NAMES = ["arrest.duty", "arrest.compliance", "arrest.legitimacy"]
BOUNDS = {n: (-math.pi, math.pi) for n in NAMES}
PROBLEM = {"num_vars": 3, "names": NAMES, "bounds": [list(BOUNDS[n]) for n in NAMES]}


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1):
    """Analytic indices (Ishigami and Homma 1990; Sobol' and Levitan 1999)."""
    pi4, pi8 = math.pi**4, math.pi**8
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_analytic_ishigami_values_are_the_published_ones():
    s1, st = ishigami_indices()
    assert s1 == pytest.approx([0.3139, 0.4424, 0.0], abs=1e-4)
    assert st == pytest.approx([0.5576, 0.4424, 0.2437], abs=1e-4)


@pytest.mark.parametrize("second_order", [False, True])
def test_sobol_indices_of_the_ishigami_function(second_order):
    points = sampled_points("sobol", BOUNDS, 2048, 11, second_order=second_order)  # the sweep's design
    y = pd.Series(ishigami(points[NAMES].to_numpy()), index=points["point"])
    shuffled = points.sample(frac=1, random_state=2)  # indices must follow point ids, not row order
    out = design_indices("sobol", PROBLEM, shuffled, y, seed=3, second_order=second_order,
                         resamples=200).set_index("parameter")
    s1, st = ishigami_indices()
    assert out["S1"].to_numpy() == pytest.approx(s1, abs=0.03)
    assert out["ST"].to_numpy() == pytest.approx(st, abs=0.03)
    assert (out["S1_conf"] > 0).all() and (out["ST_conf"] < 0.1).all()


def test_sobol_indices_are_reproducible_for_a_seed():
    points = sampled_points("sobol", BOUNDS, 256, 1, second_order=False)
    y = pd.Series(ishigami(points[NAMES].to_numpy()), index=points["point"])
    a = design_indices("sobol", PROBLEM, points, y, seed=7, second_order=False)
    b = design_indices("sobol", PROBLEM, points, y, seed=7, second_order=False)
    pd.testing.assert_frame_equal(a, b)


def test_morris_effects_of_a_linear_function_are_its_slopes_times_the_ranges():
    bounds = {"arrest.duty": (0.0, 2.0), "arrest.compliance": (-1.0, 3.0), "arrest.legitimacy": (0.0, 1.0)}
    problem = {"num_vars": 3, "names": NAMES, "bounds": [list(bounds[n]) for n in NAMES]}
    points = sampled_points("morris", bounds, 10, 4, levels=4)
    x = points[NAMES].to_numpy()
    y = pd.Series(3.0 * x[:, 0] - 0.5 * x[:, 1], index=points["point"])
    out = design_indices("morris", problem, points, y, seed=1, levels=4).set_index("parameter")
    # an elementary effect is the change per unit of the scaled [0, 1] range: slope x (high - low)
    assert out["mu"].to_numpy() == pytest.approx([6.0, -2.0, 0.0], abs=1e-9)
    assert out["mu_star"].to_numpy() == pytest.approx([6.0, 2.0, 0.0], abs=1e-9)
    assert out["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def test_mismatched_design_and_outputs_are_user_errors():
    points = sampled_points("sobol", BOUNDS, 8, 1, second_order=False)
    y = pd.Series(np.arange(len(points) - 1.0), index=points["point"][:-1])
    with pytest.raises(UserError, match="undefined"):
        design_indices("sobol", PROBLEM, points, y, seed=1, second_order=False)
    with pytest.raises(UserError, match="Sobol' analysis"):
        design_indices("sobol", PROBLEM, points.iloc[:-1], y, seed=1, second_order=False)


def test_outcome_values_and_their_standard_errors_by_hand():
    runs = pd.concat([runs_frame([[3, None], [None, 5], [40, 1], [7, None]], point=0,
                                 routes=[["arrested_by_host", "none"], ["none", "domestic_surrender"],
                                         ["domestic_surrender", "arrested_by_host"], ["arrested_by_host", "none"]],
                                 findings=[1, 2, 3, 6], trips=0),
                      runs_frame([[None, None], [2, 2]], point=1, findings=[0, 4], trips=0)])
    v = outcome_values(runs, {"outcome": "p_enforced", "horizon": 12, "accused": "0"})
    assert v.loc[0, "value"] == 2 / 4 and v.loc[1, "value"] == 1 / 2
    assert v.loc[0, "se"] == pytest.approx(math.sqrt(1 / 3) / 2)  # sd of (1, 0, 0, 1) over sqrt(4)
    v = outcome_values(runs, {"outcome": "p_arrested", "horizon": 120, "accused": "0"})
    assert v.loc[0, "value"] == 2 / 4
    v = outcome_values(runs, {"outcome": "p_enforced", "horizon": 12, "accused": "all"})
    assert v.loc[0, "value"] == 0 and v.loc[1, "value"] == 1 / 2
    v = outcome_values(runs, {"outcome": "findings", "horizon": 12, "accused": "all"})
    assert v.loc[0, "value"] == 3.0 and v.loc[1, "value"] == 2.0
    v = outcome_values(runs, {"outcome": "custody_month", "horizon": 120, "accused": "0"})
    assert v.loc[0, "value"] == pytest.approx(50 / 3)


def test_noise_levels_by_hand():
    values = pd.DataFrame({"value": [0.2, 0.4, 0.6], "se": [0.03, 0.04, 0.05]})
    mean_var = (0.03**2 + 0.04**2 + 0.05**2) / 3
    assert noise_levels("sobol", values, None)["noise_share"] == pytest.approx(mean_var / 0.04)
    morris = noise_levels("morris", values, 4)["noise_mu_star"]
    assert morris == pytest.approx(math.sqrt(2 / math.pi) * math.sqrt(2 * mean_var) / (4 / 6))


@pytest.mark.parametrize("table, message", [
    ({"outcome": "p_enforced", "colour": 1}, "unknown key 'colour'"),
    ({"outcome": "arrests"}, "outcome must be one of"),
    ({"horizon": 500}, "horizon must be a whole number of months in 1..120"),
    ({"accused": 2}, "accused must be an index 0..1"),
    ({"outcome": "p_arrested", "accused": "all"}, "p_arrested is about one accused"),
])
def test_bad_sensitivity_tables_are_one_line_errors(table, message):
    with pytest.raises(UserError, match=message.replace(".", r"\.").replace("(", r"\(")):
        outcome_spec(table, 120, 2)


TINY = """
[experiment]
name = "tiny_sensitivity"
seed = 3
replicates = 40
block_size = 20
engine = "vectorized"
[scenario]
n_states = 20
n_partners = 3
horizon_months = 24
[sweep]
sampler = "{sampler}"
n = {n}
{extra}
[sweep.bounds]
"arrest.intercept" = [-4.0, 0.0]
"court.legitimacy0" = [0.2, 0.8]
[sensitivity]
outcome = "p_enforced"
horizon = 24
accused = "all"
resamples = 50
[outputs]
horizons = [12, 24]
figures = ["survival"]
"""


@pytest.mark.parametrize("sampler, n, extra", [
    ("morris", 3, "levels = 4"),
    pytest.param("sobol", 4, "second_order = false", marks=pytest.mark.slow),
])
def test_sensitivity_command_end_to_end(tmp_path, capsys, sampler, n, extra):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.format(sampler=sampler, n=n, extra=extra))
    out = tmp_path / "out"
    assert main(["sensitivity", str(config), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    table = pd.read_csv(out / "sensitivity.csv")
    assert list(table["parameter"]) == ["arrest.intercept", "court.legitimacy0"]
    assert set(table["method"]) == {sampler} and set(table["outcome"]) == {"p_enforced"}
    assert (out / "figures" / f"{sampler}.png").stat().st_size > 0
    assert (out / "figures" / "survival.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sensitivity"]["method"] == sampler
    assert {"sensitivity.csv", f"figures/{sampler}.png"} <= set(manifest["outputs"])
    assert f"{sampler} indices of enforcement probability by month 24" in capsys.readouterr().out
    if sampler == "sobol":  # the same config and seed give the same indices (slow: a second run)
        first = (out / "sensitivity.csv").read_bytes()
        assert main(["sensitivity", str(config), "--out", str(out), "--workers", "1", "--quiet"]) == 0
        assert (out / "sensitivity.csv").read_bytes() == first


def test_sensitivity_on_a_grid_config_is_refused_before_running(tmp_path, capsys):
    config = tmp_path / "grid.toml"
    config.write_text('[experiment]\nname = "g"\n[sweep]\nsampler = "grid"\n[sweep.grid]\n"court.legitimacy0" = [0.5]\n')
    assert main(["sensitivity", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "sampler = \"sobol\" or \"morris\"" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_sobol_noise_is_removed_from_a_noisy_ishigami():
    """Ishigami plus Gaussian noise of known variance (noise share ~22%): the corrected indices cover the
    analytic ones within their 95% bootstrap intervals, while the uncorrected total indices are biased up."""
    from SALib.sample import sobol as saltelli

    from sim.analysis.sensitivity import sobol_with_noise

    x = saltelli.sample(PROBLEM, 2048, calc_second_order=False, seed=1)
    rng = np.random.default_rng(2)
    y = ishigami(x) + rng.normal(0, 2.0, len(x))
    r = sobol_with_noise(PROBLEM, y, 4.0, seed=3, resamples=300)
    s1, st = ishigami_indices()
    assert ((r["S1_low"] <= s1) & (s1 <= r["S1_high"])).all(), r
    assert ((r["ST_low"] <= st) & (st <= r["ST_high"])).all(), r
    assert (r["ST_raw"] > np.array(st) + 0.08).all()  # the bias the correction removes
    assert r["noise_share"].iloc[0] == pytest.approx(4.0 / np.var(y), rel=0.05)
