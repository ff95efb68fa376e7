"""Neural posterior estimation (sim.studies.calibration.npe): seeded training and sampling give the same bytes
on a rerun, another thread count stays within the stated tolerance, no sample leaves a bounded prior, the
estimator recovers a known posterior, its checks run through sbi's diagnostics, and [npe] is validated."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.inference import make_prior
from sim.cli import main
from sim.errors import UserError
from sim.experiments.posterior import load_posterior
from sim.studies.calibration import npe, npe_folder
from sim.studies.calibration.config import calibration_from_text, load_calibration
from sim.studies.calibration.npe_config import NPESettings

PRIORS = (make_prior("arrest.intercept", {"low": -9, "high": 0, "why": "t"}),
          make_prior("home.detain_prob", {"low": 0, "high": 1, "why": "t"}))
SMALL = NPESettings(simulations=800, hidden_features=16, transforms=2, bins=4, batch=64, patience=3,
                    max_epochs=20, threads=1, samples=500, sbc_draws=100, learning_rate=3e-3)
NOISE = 0.05
# Another thread count changes how torch sums in sampling (and may in training): the posterior it gives is the
# same within this share of each prior's width, on its quantiles (docs/validation.md).
THREAD_TOLERANCE = 0.02


def toy_summaries(values: np.ndarray, seed: int) -> np.ndarray:
    """Summaries of a toy record: each parameter's prior probability with Gaussian noise, and their product."""
    rng = np.random.default_rng(seed)
    u = np.column_stack([(values[:, 0] + 9) / 9, values[:, 1]])
    noisy = u + NOISE * rng.normal(size=u.shape)
    return np.column_stack([noisy, noisy[:, 0] * noisy[:, 1]])


@pytest.fixture(scope="module")
def toy():
    values = npe.prior_draws(PRIORS, 3, SMALL.simulations, npe.TRAIN_TAG)
    x = toy_summaries(values, 1)
    return values, x, npe.train(PRIORS, values, x, SMALL, seed=3)


def test_a_rerun_gives_the_same_bytes(toy):
    values, x, trained = toy
    again = npe.train(PRIORS, values, x, SMALL, seed=3)
    assert trained.history.equals(again.history)
    obs = x[0]
    assert trained.sample(obs, 300).tobytes() == again.sample(obs, 300).tobytes()
    assert trained.sample(obs, 300).tobytes() != trained.sample(obs, 300, stage="forecast").tobytes()


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_training_writes_no_tensorboard_logs(tmp_path, monkeypatch):
    # sbi's default tracker writes ./sbi-logs/NPE_C/<time>/events.* wherever training runs; ours writes nothing
    monkeypatch.chdir(tmp_path)
    values = npe.prior_draws(PRIORS, 5, 200, npe.TRAIN_TAG)
    trained = npe.train(PRIORS, values, toy_summaries(values, 2), replace(SMALL, max_epochs=2), seed=5)
    assert len(trained.history) > 0 and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_another_seed_trains_another_network(toy):
    values, x, trained = toy
    assert not trained.history.equals(npe.train(PRIORS, values, x, SMALL, seed=4).history)


@pytest.mark.slow
def test_another_thread_count_stays_within_the_tolerance(toy):
    values, x, _ = toy
    # larger batches, fewer steps: two torch threads on two shared cores wait for each other at every step
    wide = replace(SMALL, batch=200)
    one, two = (npe.train(PRIORS, values, x, replace(wide, threads=threads), seed=3) for threads in (1, 2))
    obs = x[1]
    a, b = one.sample(obs, 2000), two.sample(obs, 2000)
    width = np.array([p.high - p.low for p in PRIORS])
    for q in (0.05, 0.5, 0.95):
        assert np.all(np.abs(np.quantile(a, q, axis=0) - np.quantile(b, q, axis=0)) <= THREAD_TOLERANCE * width)


def test_no_sample_leaves_the_prior_even_for_a_record_beyond_it(toy):
    _, _, trained = toy
    for obs in (np.array([1.3, -0.3, -0.4]), np.array([-0.2, 1.2, -0.2]), np.array([0.0, 0.0, 0.0])):
        draws = trained.sample(obs, 2000)
        for k, p in enumerate(PRIORS):
            assert p.low <= draws[:, k].min() and draws[:, k].max() <= p.high


def test_the_posterior_recovers_a_known_value(toy):
    """Given a noise-free record of u = (0.25, 0.7), the posterior's median lies within 3 noise sds of it."""
    _, _, trained = toy
    u = np.array([0.25, 0.7])
    draws = trained.sample(np.array([u[0], u[1], u[0] * u[1]]), 2000)
    got = np.array([(np.median(draws[:, 0]) + 9) / 9, np.median(draws[:, 1])])
    assert np.all(np.abs(got - u) < 3 * NOISE)
    assert np.all(np.std(draws, axis=0) / np.array([9, 1]) < 4 * NOISE)


def test_sbc_and_tarp_through_sbi_on_the_toy(toy):
    """300 fresh pseudo-records: ranks in 0..L from sbi's run_sbc, no parameter's KS p-value below 0.001, and
    TARP's expected coverage from run_tarp starts at 0 and ends at 1 on credibility levels in [0, 1]."""
    _, _, trained = toy
    truths = npe.prior_draws(PRIORS, 3, 300, npe.SBC_TAG)
    xs = toy_summaries(truths, 2)
    ranks, checks = npe.sbc(trained, truths, xs, SMALL.sbc_draws)
    assert ranks.shape == (300, 2) and ranks.min() >= 0 and ranks.max() <= SMALL.sbc_draws
    assert set(checks) >= {"ks_pvals", "c2st_ranks", "c2st_dap"}
    assert (checks["ks_pvals"] > 0.001).all()
    for k in range(2):
        assert stats.kstest((ranks[:, k] + 0.5) / (SMALL.sbc_draws + 1), "uniform").pvalue > 0.001
    ecp, alpha, atc, _ = npe.tarp(trained, truths, xs, SMALL.sbc_draws)
    assert ecp[0] == 0 and ecp[-1] == pytest.approx(1) and alpha[0] >= 0 and alpha[-1] <= 1
    assert np.all(np.diff(ecp) >= 0) and abs(atc) < 0.2


def test_prior_draws_are_a_prefix_of_longer_draws_and_independent_of_tags():
    a = npe.prior_draws(PRIORS, 1, 50, npe.TRAIN_TAG)
    assert np.array_equal(a, npe.prior_draws(PRIORS, 1, 80, npe.TRAIN_TAG)[:50])
    assert not np.array_equal(a, npe.prior_draws(PRIORS, 1, 50, npe.SBC_TAG))


def test_summaries_that_are_never_finite_are_one_clear_line():
    values = npe.prior_draws(PRIORS, 1, 200, npe.TRAIN_TAG)
    with pytest.raises(UserError, match="finite summaries"):
        npe.train(PRIORS, values, np.full((200, 3), np.nan), SMALL, seed=1)


BASE = '''
[calibration]
name = "n"
method = "npe"
[design.partners]
SDN = []
[priors]
"arrest.intercept" = {low = -8, high = 0, why = "test"}
'''


@pytest.mark.parametrize("change, message", [
    ('method = "npe"', 'method must be one of abc-smc, npe, got \'nep\''),
    ("[npe]\nsimulation = 10", "unknown key 'simulation'"),
    ("[npe]\nsimulations = 10", "simulations must be at least 100"),
    ("[npe]\nestimator = \"flow\"", "estimator must be one of nsf, maf"),
    ("[npe]\nlearning_rate = 2", "learning_rate must be a number between 0 and 1"),
    ("[npe]\nforecast_person = 3", "forecast_person must be text"),
    ("[npe]\nforecast_replicates = 19", "forecast_replicates must be at least 20, got 19"),
])
def test_npe_settings_are_validated_in_one_line(change, message):
    text = BASE.replace('method = "npe"', 'method = "nep"') if change == 'method = "npe"' else BASE + change
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        calibration_from_text(text)


def test_npe_table_needs_the_npe_method():
    with pytest.raises(UserError, match=r"\[npe\] is set but \[calibration\] method is not"):
        calibration_from_text(BASE.replace('method = "npe"\n', "") + "[npe]\nsimulations = 500")
    cal = calibration_from_text(BASE + "[npe]\nsimulations = 500")
    assert cal.method == "npe" and cal.npe is not None and cal.npe.simulations == 500
    assert calibration_from_text(BASE.replace('method = "npe"\n', "")).npe is None


def test_the_shipped_npe_config_fits_the_abc_smc_s_record_design_and_priors():
    experiments = Path(__file__).parent.parent / "experiments"
    abc, neural = (load_calibration(str(experiments / n)) for n in ("calibration.toml", "calibration_npe.toml"))
    assert (abc.method, neural.method) == ("abc-smc", "npe") and neural.npe is not None
    assert neural.selection == abc.selection and neural.priors == abc.priors and neural.base == abc.base
    assert (neural.months, neural.travel, neural.engine, neural.seed) == (abc.months, abc.travel, abc.engine, abc.seed)


TINY = (Path(__file__).parent / "fixtures" / "tiny_npe.toml")


def tiny_text(**npe_changes: object) -> str:
    text = TINY.read_text(encoding="utf-8")
    for key, value in npe_changes.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {json.dumps(value)}", text, flags=re.M)
    return text


@pytest.mark.parametrize("change, message", [
    ({"forecast_person": "Nobody"}, "forecast_person 'Nobody' is not among the design's warrants"),
    ({"cross_check": "calibrated"}, "calibrates arrest.intercept, accused.max_risk"),
    ({"cross_check": "no/such/folder"}, "holds no calibration results"),
])
def test_bad_checks_are_refused_before_the_folder_is_touched(tmp_path, capsys, change, message):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_text(**change), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["calibrate", str(config), "--out", str(out), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sbc_flags_belong_to_abc_smc(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_text(), encoding="utf-8")
    assert main(["calibrate", str(config), "--sbc", "100", "--out", str(tmp_path / "out")]) == 2
    assert "an NPE calibration runs its SBC with the fit" in capsys.readouterr().err


@pytest.mark.slow
def test_calibrate_writes_an_npe_folder_that_reproduce_verifies(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_text(), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["calibrate", str(config), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    absent = {npe_folder.OUT_OF_SAMPLE, npe_folder.OUT_OF_SAMPLE_SUMMARY, npe_folder.OUT_OF_SAMPLE_STATE,
              npe_folder.CROSS_CHECK}  # not asked for
    for name in (*(n for n in npe_folder.DATA if n not in absent), "manifest.json", "sbc_ranks.png", "tarp.png",
                 "forecast_coverage.png", "pairs.png", "predictive.png"):
        assert (out / name).is_file(), name
    assert not any((out / n).exists() for n in absent)
    post = pd.read_parquet(out / "posterior.parquet")
    assert len(post) == 50 and np.allclose(post["weight"], 1 / 50)
    ranks = pd.read_csv(out / "ranks.csv")
    assert list(ranks.columns[:4]) == ["record", "parameter", "rank", "L"]
    assert len(ranks) == 20 * 2 and ranks["rank"].between(0, ranks["L"]).all() and (ranks["L"] == 20).all()
    tarp = pd.read_csv(out / "tarp.csv")
    assert {"alpha", "ecp", "band_low", "band_high"} <= set(tarp.columns)
    forecast = pd.read_csv(out / "forecast_coverage.csv")
    used = forecast["draws_used"] > 0  # a record to date too rare for every draw's replicates: NaN, refused
    assert len(forecast) == 3 and used.any() and forecast[~used][["low", "high"]].isna().all(axis=None)
    assert not forecast.loc[~used, "answered"].any()
    summary = pd.read_csv(out / "forecast_summary.csv").iloc[0]
    assert summary["records"] + summary["refused"] == 3 and summary["records"] == forecast["answered"].sum()
    assert (forecast.loc[used, "low"] <= forecast.loc[used, "median"]).all()
    assert (forecast.loc[used, "median"] <= forecast.loc[used, "high"]).all()
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["calibration"]["method"].startswith("NPE") and doc["npe"]["threads"] == 1
    draws = load_posterior(str(out), 30, seed=1)  # a posterior source for sweeps and forecasts, like ABC-SMC's
    assert draws.names == ("arrest.intercept", "home.detain_prob") and draws.values.shape == (30, 2)
    capsys.readouterr()
    assert main(["reproduce", str(out), "--workers", "2", "--quiet"]) == 0
    assert "reproduced (npe): posterior.parquet, training.csv" in capsys.readouterr().out


def test_the_forecast_check_conditions_and_pools_as_the_forecast_does():
    """Draws all equal to the truth, on the truth's streams and replicates, give p_d = the truth's probability
    exactly (common random numbers), so the pooled 90% interval is that one value; a record to date that fewer
    than MIN_CONSISTENT replicates match sets every draw aside, as the forecast does (NaN interval: a miss)."""
    from sim.studies.calibration.design import build_design
    from sim.studies.calibration.forecast_check import (
        STATUS,
        conditional_counts,
        find_target,
        forecast_rows,
        records_to_date,
    )

    cal = calibration_from_text(TINY.read_text(encoding="utf-8"))
    design = build_design(cal.selection, cal.base)
    target = find_target(design, "Vladimir Putin", 24)
    truth = np.array([-2.0, 0.5])
    status, changed = records_to_date(design, target, cal.priors, truth[None, :], np.array([7]), cal.seed,
                                      cal.engine)
    row = forecast_rows(design, target, cal.priors, truth, np.repeat(truth[None, :], 3, axis=0), status[0],
                        bool(changed[0]), 7, replicates=60, truth_replicates=60, seed=cal.seed, engine=cal.engine)
    assert row["truth_consistent"] >= 20 and row["draws_used"] == 3 and row["answered"]
    assert row["low"] == row["median"] == row["high"] == pytest.approx(row["truth"], abs=1e-12)
    n, k = conditional_counts(design, target, cal.priors, truth[None, :], status[0], bool(changed[0]), 60,
                              123, cal.seed, cal.engine)
    assert 0 <= k[0] <= n[0] <= 60
    impossible = np.full_like(status[0], list(STATUS).index("custody"))  # every accused in custody, government fallen
    none = forecast_rows(design, target, cal.priors, truth, truth[None, :], impossible, True, 7, replicates=30,
                         truth_replicates=30, seed=cal.seed, engine=cal.engine)
    assert none["draws_used"] == 0 and np.isnan(none["low"]) and np.isnan(none["high"]) and not none["answered"]
