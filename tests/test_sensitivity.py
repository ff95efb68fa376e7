"""Sensitivity indices through the code path of the model's outcomes, and the sensitivity command."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from sim.analysis.sensitivity import (
    Measure,
    design_indices,
    morris_noise,
    outcome_values,
    replicate_values,
    sensitivity_spec,
)
from sim.cli import main
from sim.errors import UserError
from sim.experiments.design import sampled_points
from tests.test_metrics import runs_frame

# Three float parameters stand in for the Ishigami function's x1, x2, x3 on [-pi, pi]
NAMES = ["arrest.duty", "arrest.compliance", "arrest.legitimacy"]
BOUNDS = {n: (-math.pi, math.pi) for n in NAMES}
PROBLEM = {"num_vars": 3, "names": NAMES, "bounds": [list(BOUNDS[n]) for n in NAMES]}


def exact(y: pd.Series, replicates: int = 2) -> pd.Series:
    """Per-point values as replicate values without noise: every replicate of a point equals its value."""
    index = pd.MultiIndex.from_product([y.index, range(replicates)], names=["point", "replicate"])
    return pd.Series(np.repeat(y.to_numpy(float), replicates), index=index)


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
    out = design_indices("sobol", PROBLEM, shuffled, exact(y), seed=3, second_order=second_order,
                         resamples=200).set_index("parameter")
    s1, st = ishigami_indices()
    assert out["S1"].to_numpy() == pytest.approx(s1, abs=0.03)
    assert out["ST"].to_numpy() == pytest.approx(st, abs=0.03)
    assert (out["S1_conf"] > 0).all() and (out["ST_conf"] < 0.1).all()
    assert (out["noise_share"] == 0).all()


def test_without_noise_the_sobol_estimates_are_salibs():
    """Noise-free outputs: the corrected estimators reduce to SALib's (Saltelli 2010, Jansen)."""
    from SALib.analyze import sobol

    points = sampled_points("sobol", BOUNDS, 512, 5, second_order=False)
    y = pd.Series(ishigami(points[NAMES].to_numpy()), index=points["point"])
    ours = design_indices("sobol", PROBLEM, points, exact(y), seed=1, second_order=False, resamples=20)
    theirs = sobol.analyze(PROBLEM, y.to_numpy(), calc_second_order=False, num_resamples=20, seed=1)
    assert ours["S1"].to_numpy() == pytest.approx(theirs["S1"], rel=1e-9)
    assert ours["ST"].to_numpy() == pytest.approx(theirs["ST"], rel=1e-9)


def test_sobol_indices_are_reproducible_for_a_seed():
    points = sampled_points("sobol", BOUNDS, 256, 1, second_order=False)
    y = pd.Series(ishigami(points[NAMES].to_numpy()), index=points["point"])
    a = design_indices("sobol", PROBLEM, points, exact(y), seed=7, second_order=False)
    b = design_indices("sobol", PROBLEM, points, exact(y), seed=7, second_order=False)
    pd.testing.assert_frame_equal(a, b)


def test_morris_effects_of_a_linear_function_are_its_slopes_times_the_ranges():
    bounds = {"arrest.duty": (0.0, 2.0), "arrest.compliance": (-1.0, 3.0), "arrest.legitimacy": (0.0, 1.0)}
    problem = {"num_vars": 3, "names": NAMES, "bounds": [list(bounds[n]) for n in NAMES]}
    points = sampled_points("morris", bounds, 10, 4, levels=4)
    x = points[NAMES].to_numpy()
    y = pd.Series(3.0 * x[:, 0] - 0.5 * x[:, 1], index=points["point"])
    out = design_indices("morris", problem, points, exact(y), seed=1, levels=4).set_index("parameter")
    # an elementary effect is the change per unit of the scaled [0, 1] range: slope x (high - low)
    assert out["mu"].to_numpy() == pytest.approx([6.0, -2.0, 0.0], abs=1e-9)
    assert out["mu_star"].to_numpy() == pytest.approx([6.0, 2.0, 0.0], abs=1e-9)
    assert out["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert out["noise_mu_star"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    assert list(out["above_noise"]) == [True, True, False]


def test_mismatched_design_and_outputs_are_user_errors():
    points = sampled_points("sobol", BOUNDS, 8, 1, second_order=False)
    y = exact(pd.Series(np.arange(len(points) - 1.0), index=points["point"][:-1]))
    with pytest.raises(UserError, match="undefined"):
        design_indices("sobol", PROBLEM, points, y, seed=1, second_order=False)
    with pytest.raises(UserError, match="Sobol' analysis needs"):
        design_indices("sobol", PROBLEM, points.iloc[:-1], y, seed=1, second_order=False)


def test_outcome_values_and_their_standard_errors_by_hand():
    runs = pd.concat([runs_frame([[3, None], [None, 5], [40, 1], [7, None]], point=0,
                                 routes=[["arrested_by_host", "none"], ["none", "domestic_surrender"],
                                         ["domestic_surrender", "arrested_by_host"], ["arrested_by_host", "none"]],
                                 findings=[1, 2, 3, 6], trips=0),
                      runs_frame([[None, None], [2, 2]], point=1, findings=[0, 4], trips=0)])
    v = outcome_values(runs, Measure("p_enforced", 12, "0"))
    assert v.loc[0, "value"] == 2 / 4 and v.loc[1, "value"] == 1 / 2
    assert v.loc[0, "se"] == pytest.approx(math.sqrt(1 / 3) / 2)  # sd of (1, 0, 0, 1) over sqrt(4)
    v = outcome_values(runs, Measure("p_arrested", 120, "0"))
    assert v.loc[0, "value"] == 2 / 4
    v = outcome_values(runs, Measure("p_enforced", 12, "all"))
    assert v.loc[0, "value"] == 0 and v.loc[1, "value"] == 1 / 2
    v = outcome_values(runs, Measure("findings", 120, "all"))
    assert v.loc[0, "value"] == 3.0 and v.loc[1, "value"] == 2.0
    v = outcome_values(runs, Measure("custody_month", 120, "0"))
    assert v.loc[0, "value"] == pytest.approx(50 / 3)
    per = replicate_values(runs, Measure("custody_month", 120, "0"))
    assert per.loc[(0, 1)] != per.loc[(0, 1)]  # no custody: undefined, not zero
    v = outcome_values(runs, Measure("trips", 120, "all"))
    assert (v["value"] == 0).all()


def test_morris_noise_by_hand():
    """Two parameters, one trajectory of three points, two replicates: each step's standard error is the
    spread of the replicates' paired differences over sqrt(2), divided by the step (levels 4: 2/3)."""
    problem = {"num_vars": 2, "names": NAMES[:2], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    x = np.array([[0.0, 0.0], [2 / 3, 0.0], [2 / 3, 2 / 3]])
    per = pd.Series([1.0, 2.0, 1.5, 3.5, 1.5, 3.5],
                    index=pd.MultiIndex.from_product([[0, 1, 2], [0, 1]], names=["point", "replicate"]))
    noise = morris_noise(problem, x, per, levels=4)
    first = np.std([0.5, 1.5], ddof=1) / math.sqrt(2) / (2 / 3)  # step 1 moves parameter 0
    assert noise == pytest.approx([math.sqrt(2 / math.pi) * first, 0.0])  # step 2 changes nothing


@pytest.mark.parametrize("paired", [False, True])
def test_morris_noise_level_is_the_mu_star_of_a_parameter_without_effect(paired):
    """y_r = 3·x0 + noise with sd 1 over R = 50 replicates; x1 has no effect. Independent noise at every
    point: x1's μ* matches its noise level (within 15%, 200 trajectories); paired (common random numbers:
    the same noise at both ends of a step) both are exactly zero and x0's μ* is exactly 3·range."""
    problem = {"num_vars": 2, "names": NAMES[:2], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    points = sampled_points("morris", dict(zip(NAMES[:2], [(0.0, 1.0)] * 2)), 200, 9, levels=4)
    x = points[NAMES[:2]].to_numpy()
    rng = np.random.default_rng(4)
    noise = np.tile(rng.normal(0, 1, 50), (len(x), 1)) if paired else rng.normal(0, 1, (len(x), 50))
    values = 3.0 * x[:, :1] + noise
    index = pd.MultiIndex.from_product([points["point"], range(50)], names=["point", "replicate"])
    out = design_indices("morris", problem, points, pd.Series(values.reshape(-1), index=index), seed=2,
                         levels=4).set_index("parameter")
    if paired:
        assert out.loc[NAMES[1], "mu_star"] == pytest.approx(0, abs=1e-9)
        assert out["noise_mu_star"].to_numpy() == pytest.approx([0, 0], abs=1e-9)
        assert out.loc[NAMES[0], "mu_star"] == pytest.approx(3.0)
    else:
        expected = math.sqrt(2 / math.pi) * math.sqrt(2 / 50) / (2 / 3)
        assert out.loc[NAMES[1], "noise_mu_star"] == pytest.approx(expected, rel=0.1)
        assert out.loc[NAMES[1], "mu_star"] == pytest.approx(out.loc[NAMES[1], "noise_mu_star"], rel=0.15)
        assert not out.loc[NAMES[1], "above_noise"] and out.loc[NAMES[0], "above_noise"]


def test_a_sensitivity_table_expands_to_one_measure_per_combination():
    spec = sensitivity_spec({"outcomes": ["p_enforced", "trips_to_members", "findings"], "horizons": [60, 120],
                             "accused": [0, 1]}, 120, 2)
    assert [m.key for m in spec.measures] == [
        "p_enforced@60#0", "p_enforced@60#1", "p_enforced@120#0", "p_enforced@120#1",
        "trips_to_members#0", "trips_to_members#1", "findings"]
    assert spec.measures[0].label == "probability of custody by month 60, accused 0"
    assert sensitivity_spec({}, 24, 1).measures == (Measure("p_enforced", 24, "0"),)


@pytest.mark.parametrize("table, message", [
    ({"outcomes": ["p_enforced"], "colour": 1}, "unknown key 'colour'"),
    ({"outcome": "p_enforced"}, "outcome is now outcomes = [...]"),
    ({"outcomes": ["arrests"]}, "'arrests' is not one of"),
    ({"horizons": [500]}, "horizons must be whole numbers of months in 1..120"),
    ({"accused": [2]}, "accused must be indices 0..1"),
    ({"horizons": [60, 60]}, "must list at least one value, each once"),
    ({"outcomes": []}, "must list at least one value"),
    ({"resamples": 3}, "resamples (bootstrap) must be an integer of at least 10"),
])
def test_bad_sensitivity_tables_are_one_line_errors(table, message):
    with pytest.raises(UserError, match=re.escape(message)):
        sensitivity_spec(table, 120, 2)


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
outcomes = ["p_enforced", "findings"]
horizons = [24]
accused = ["all"]
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
    assert list(table["parameter"]) == ["arrest.intercept", "court.legitimacy0"] * 2
    assert set(table["method"]) == {sampler} and list(table["measure"]) == ["p_enforced@24#all"] * 2 + ["findings"] * 2
    assert (out / "figures" / "ranking.png").stat().st_size > 0
    assert (out / "figures" / f"{sampler}.png").stat().st_size > 0
    assert (out / "figures" / "survival.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sensitivity"]["method"] == sampler
    assert manifest["sensitivity"]["measures"] == ["p_enforced@24#all", "findings"]
    assert {"sensitivity.csv", f"figures/{sampler}.png"} <= set(manifest["outputs"])
    printed = capsys.readouterr().out
    assert f"{sampler} indices of probability of custody by month 24, all accused (every one in custody)" in printed
    assert "mean non-compliance findings by the court: " in printed
    assert main(["reproduce", str(out), "--workers", "1", "--quiet"]) == 0
    assert "reproduced (sensitivity): points.parquet, runs.parquet, summary.csv, sensitivity.csv identical" \
        in capsys.readouterr().out
    if sampler == "sobol":  # the same config and seed give the same indices (slow: a second run)
        first = (out / "sensitivity.csv").read_bytes()
        assert main(["sensitivity", str(config), "--out", str(out), "--workers", "1", "--quiet"]) == 0
        assert (out / "sensitivity.csv").read_bytes() == first


@pytest.mark.parametrize("text, message", [
    ('[experiment]\nname = "g"\n[sweep]\nsampler = "grid"\n[sweep.grid]\n"court.legitimacy0" = [0.5]\n',
     'sampler = "sobol" or "morris"'),
    (TINY.format(sampler="sobol", n=4, extra="second_order = false\ncommon_random_numbers = true"),
     "set [sweep] common_random_numbers = false"),
    (TINY.format(sampler="morris", n=3, extra="levels = 4").replace("replicates = 40", "replicates = 1"),
     "replicates to at least 2"),
    (TINY.format(sampler="morris", n=3, extra="levels = 4").replace('"findings"]', '"finding"]'),
     "'finding' is not one of"),
    (TINY.format(sampler="morris", n=3, extra="candidates = 3"), "must number more than n"),
])
def test_bad_sensitivity_configs_are_refused_before_running(tmp_path, capsys, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["sensitivity", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_optimised_morris_trajectories_are_reproducible_and_of_the_asked_number():
    bounds = dict(zip(NAMES, [(0.0, 1.0)] * 3))
    a = sampled_points("morris", bounds, 5, 3, levels=4, candidates=40)
    b = sampled_points("morris", bounds, 5, 3, levels=4, candidates=40)
    plain = sampled_points("morris", bounds, 5, 3, levels=4)
    assert len(a) == 5 * 4 and a.equals(b) and not a.equals(plain)
    steps = np.abs(np.diff(a[NAMES].to_numpy().reshape(5, 4, 3), axis=1))
    assert ((steps > 1e-12).sum(axis=2) == 1).all()  # each step of a trajectory moves exactly one parameter


def test_sobol_noise_is_removed_from_a_noisy_ishigami():
    """Ishigami plus Gaussian noise of known variance (noise share ~22%), 40 independent replications at
    N = 512: the corrected indices' 95% bootstrap intervals cover the analytic values in at least 90% of
    the 240 checks (at nominal coverage a shortfall this large has probability < 0.001) and in at least
    80% for each index, while the uncorrected total indices are biased up by the noise share."""
    from SALib.sample import sobol as saltelli

    from sim.analysis.sensitivity import sobol_with_noise

    s1, st = ishigami_indices()
    hits, bias = [], []
    for rep in range(40):
        x = saltelli.sample(PROBLEM, 512, calc_second_order=False, seed=100 + rep)
        y = ishigami(x) + np.random.default_rng(rep).normal(0, 2.0, len(x))
        r = sobol_with_noise(PROBLEM, y, 4.0, seed=rep, resamples=200)
        hits.append(np.r_[(r["S1_low"] <= s1) & (s1 <= r["S1_high"]), (r["ST_low"] <= st) & (st <= r["ST_high"])])
        bias.append(r["ST_raw"].to_numpy() - st)
        assert r["noise_share"].iloc[0] == pytest.approx(4.0 / np.var(y), rel=0.1)
    hits = np.array(hits)
    assert hits.mean() >= 0.90 and (hits.mean(axis=0) >= 0.80).all(), hits.mean(axis=0)
    assert (np.mean(bias, axis=0) > 0.05).all()  # the bias the correction removes
