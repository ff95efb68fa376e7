"""The facts of a warrant's issue (public or sealed, a timed stay or none, a government standing or fallen) are
never overwritten by a posterior draw: sweeps, `run --posterior` and forecasts go through Posterior.apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.errors import UserError
from sim.experiments.config import experiment_from_text, load_experiment
from sim.experiments.executors import Task, compute_block
from sim.experiments.posterior import FACTS, known_facts, load_posterior
from sim.model.params import Params

ROOT = Path(__file__).resolve().parents[1]
UKRAINE = (ROOT / "experiments" / "scenario_2023_ukraine.toml").read_text(encoding="utf-8")


def _with_posterior(text: str, draws: int = 40, replicates: int = 200) -> str:
    text = text.replace("replicates = 1000", f"replicates = {replicates}").replace("block_size = 1000",
                                                                                  f"block_size = {replicates}")
    text = text.replace('"accused.max_risk" = [0.02, 0.02]\n', "")  # the posterior draws it
    return text.replace("horizon_months = 120", "horizon_months = 2") \
        .replace("horizons = [12, 36, 60, 120]", "horizons = [1, 2]") \
        + f'\n[posterior]\nsource = "calibrated"\ndraws = {draws}\n'


def test_a_public_warrant_is_never_drawn_timed_nor_its_standing_government_fallen():
    exp = experiment_from_text(_with_posterior(UKRAINE), "ukraine.toml")
    post = exp.posterior
    assert post is not None
    drawn = post.values[:, list(post.names).index("prosecutor.timed_share")]
    assert drawn.max() > 0.5  # the calibrated posterior does draw high timed shares (for sealed warrants)
    for d in range(post.draws):
        p = post.apply(exp.params[0], d)
        assert (p["prosecutor.sealed_share"], p["prosecutor.timed_share"], p["home.fallen_at_issue"]) == (0, 0, 0)
        assert p["home.surrender_prob"] == post.values[d, list(post.names).index("home.surrender_prob")]


def test_a_sweep_over_the_posterior_has_no_stay_at_issue():
    """The issue's symptom: with the calibrated posterior, the Ukraine warrant was drawn as timed and some runs
    began with an arrest on a stay in month 0 (trips_at_issue 1); with the facts kept, none does."""
    exp = experiment_from_text(_with_posterior(UKRAINE, draws=40, replicates=400), "ukraine.toml")
    block = exp.blocks()[1]
    task = Task(block.block, dict(enumerate(exp.params)), block.point_of_rows(), block.replicate_of_rows(), exp.seed,
                "vectorized", posterior=exp.posterior)
    _, frame, _ = compute_block(task)
    assert frame["draw"].nunique() == 40
    assert frame["trips_at_issue"].sum() == 0


def test_on_the_synthetic_roster_only_stated_facts_stand_and_a_drawn_timed_share_is_the_sealed_share_s():
    post = load_posterior("calibrated", 20, seed=3)
    col = {n: post.values[:, i] for i, n in enumerate(post.names)}
    base = Params()
    assert known_facts(base) == {}
    public = [post.apply(base, d) for d in range(20)]
    assert all(p["prosecutor.timed_share"] == 0 for p in public)
    assert [p["home.fallen_at_issue"] for p in public] == pytest.approx(col["home.fallen_at_issue"])
    half = base.replace({"prosecutor.sealed_share": 0.5})
    assert [post.apply(half, d)["prosecutor.timed_share"] for d in range(20)] == \
        pytest.approx(0.5 * col["prosecutor.timed_share"])
    stated = post.keeping({"home.fallen_at_issue", "arrest.duty"})
    fallen = base.replace({"home.fallen_at_issue": 1.0})
    assert stated.stated == frozenset({"home.fallen_at_issue"})
    assert {stated.apply(fallen, d)["home.fallen_at_issue"] for d in range(20)} == {1.0}


SYNTHETIC = """
[experiment]
name = "facts"
seed = 4
replicates = 20
[scenario]
n_states = 12
n_partners = 2
horizon_months = 6
[parameters]
"home.fallen_at_issue" = 1.0
[posterior]
source = "calibrated"
draws = 10
"""


def test_a_config_may_state_a_fact_beside_a_posterior_but_no_other_parameter():
    exp = experiment_from_text(SYNTHETIC, "facts.toml")
    assert exp.posterior is not None and exp.posterior.stated == frozenset({"home.fallen_at_issue"})
    assert {exp.posterior.apply(exp.params[0], d)["home.fallen_at_issue"] for d in range(10)} == {1.0}
    bad = SYNTHETIC.replace('"home.fallen_at_issue" = 1.0', '"home.fallen_at_issue" = 1.0\n"home.surrender_prob" = 0.5')
    with pytest.raises(UserError, match=r"\[parameters\] and \[posterior\] both set home.surrender_prob"):
        experiment_from_text(bad, "facts.toml")


def test_run_with_a_posterior_keeps_the_facts(capsys):
    from sim.cli import main

    assert main(["run", "--config", str(ROOT / "experiments" / "scenario_2023_ukraine.toml"), "--posterior",
                 "calibrated", "--seed", "11", "--set", "scenario.horizon_months=3"]) == 0
    out = capsys.readouterr().out
    assert "prosecutor.timed_share = 0 (the scenario's fact of issue; drawn" in out
    assert "home.fallen_at_issue = 0 (the scenario's fact of issue; drawn" in out
    assert "timed to" not in out.split("replay this run")[1]  # the story tells no warrant timed to a stay


def test_every_fact_is_a_parameter_of_the_schema():
    base = load_experiment(ROOT / "experiments" / "scenario_2023_ukraine.toml").base
    assert set(known_facts(base)) == set(FACTS)
    assert np.all([0 <= base[f] <= 1 for f in FACTS])


def test_over_a_posterior_summary_and_figures_show_the_posterior_s_band_beside_the_monte_carlo_one(tmp_path):
    """The issue: every figure showed the Wilson interval (the replicates' noise) as if it were the model's
    uncertainty. Over a posterior, summary.csv has the posterior's 90% band and the curves draw both, named."""
    import pandas as pd

    from sim.analysis.metrics import posterior_band
    from sim.analysis.plots import POSTERIOR_LABEL, WILSON_LABEL, curves_figure
    from sim.cli import main

    table = pd.DataFrame({"p_enforced_12": [0.5, 0.02], "p_enforced_12_param_sd": [0.1, 0.05]})
    band = posterior_band(table, [12])
    assert band["p_enforced_12_param_low"].tolist() == pytest.approx([0.5 - 0.16449, 0.0], abs=1e-4)
    assert band["p_enforced_12_param_high"].tolist() == pytest.approx([0.5 + 0.16449, 0.02 + 0.08224], abs=1e-4)
    text = SYNTHETIC.replace("replicates = 20", "replicates = 200").replace('"home.fallen_at_issue" = 1.0\n', "") \
        .replace("horizon_months = 6", "horizon_months = 60") \
        + '[sweep.grid]\n"court.legitimacy0" = [0.3, 0.7]\n[outputs]\nhorizons = [60]\nfigures = ["curves"]\n'
    config = tmp_path / "post.toml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sweep", str(config), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert {"p_enforced_60_param_low", "p_enforced_60_param_high", "p_enforced_60_low"} <= set(summary.columns)
    mine = summary[summary["accused"] == 0]
    p, low, high = mine["p_enforced_60"], mine["p_enforced_60_param_low"], mine["p_enforced_60_param_high"]
    assert ((low <= p) & (p <= high)).all() and (high - low > 0.02).any()  # the posterior spreads p by 60 months
    # (at a point, the between-draw variance of p can fall below its binomial part and the band shrink to p)
    assert ((mine["p_enforced_60_low"] <= p) & (p <= mine["p_enforced_60_high"])).all()
    assert not np.allclose(high - low, mine["p_enforced_60_high"] - mine["p_enforced_60_low"])  # two bands
    points = pd.read_parquet(out / "points.parquet")
    fig = curves_figure(summary, points, "court.legitimacy0", 60, 200)
    labels = [t.get_text().replace("\n", " ") for t in fig.legends[0].texts]
    assert POSTERIOR_LABEL in labels and WILSON_LABEL in labels
