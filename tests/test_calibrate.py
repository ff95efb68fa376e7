"""Calibration: targets from the record, summaries, config errors, outputs, and recovery of known values."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import inference as abc
from sim.cli.calibrate import calibrate_command
from sim.studies.calibration import (calibration_from_text, check_folder, load_calibration,
                                    run_calibration, target_sample)
from sim.cli import main
from sim.errors import UserError
from sim.experiments.store import sha256

DEFAULT = Path(__file__).resolve().parents[1] / "experiments" / "calibration.toml"

TINY = """
[calibration]
name = "tiny"
seed = 3
draws = 12
replicates = 6
block_size = 4
accept = 0.25
engine = "vectorized"
[scenario]
n_states = 12
n_partners = 2
horizon_months = 12
[priors]
"home.turnover_rate" = { dist = "uniform", low = 0.0, high = 0.1 }
"arrest.intercept" = { dist = "beta", a = 2.0, b = 2.0, low = -4.0, high = 0.0 }
[targets]
months = [1, 6, 12]
"""


def tiny(**changes: str) -> str:
    text = TINY
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text


# --- targets from the record -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def record():
    return target_sample(load_calibration(DEFAULT)).set_index("person")


def test_record_selection(record):
    """Warrants (not summons) for nationals of non-parties: 34 persons, 11 custody events (4 abroad)."""
    assert len(record) == 34
    assert record["event"].sum() == 11
    abroad = set(record.index[record["route"] == "arrested_by_host"])
    assert abroad == {"Callixte Mbarushimana", "Abdullah Al-Senussi", "Osama Elmasry Njeem (Almasri)",
                      "Khaled Mohamed Ali El Hishri"}
    assert "Bahar Idriss Abu Garda" not in record.index  # a summons
    assert "Thomas Lubanga Dyilo" not in record.index  # a national of a party


@pytest.mark.parametrize("person, months, event, route", [
    # 2009-03-04 -> 2019-04-11: 3,690 days / 30.4375
    ("Omar Hassan Ahmad al-Bashir", 3690 / 30.4375, True, "domestic_surrender"),
    # 2023-03-17 -> the record's date 2026-02-03: 1,054 days, censored
    ("Vladimir Putin", 1054 / 30.4375, False, "none"),
    # custody 2011-04 (held since April 2011) before the 2012-02-29 warrant: one day
    ("Simone Gbagbo", 1 / 30.4375, True, "domestic_surrender"),
    # warrant dated "2023" only: taken at 2023-07-01, 948 days to 2026-02-03
    ("Nasser Muhammad Muftah Daou", 948 / 30.4375, False, "none"),
    # self-surrender is not a route of the model: follow-up ends 2020-06-09 (4,792 days after 2007-04-27)
    ("Ali Muhammad Ali Abd-Al-Rahman (Ali Kushayb)", 4792 / 30.4375, False, "none"),
    # killed 2011-10-20, 115 days after the 2011-06-27 warrant
    ("Muammar Gaddafi", 115 / 30.4375, False, "none"),
])
def test_record_times(record, person, months, event, route):
    row = record.loc[person]
    assert row["time_months"] == pytest.approx(months)
    assert row["event"] == event and row["route"] == route


def test_record_kaplan_meier_by_hand(record):
    s = abc.summarise_sample(record.reset_index(), [1, 12])
    # 6 custody events within the first month out of 34; then Gaddafi and Saif al-Islam are censored
    # (3.8 and 4.8 months) before Al-Senussi's arrest at 8.7 months with 26 at risk
    assert s.surv == pytest.approx([28 / 34, 28 / 34 * 25 / 26])
    assert s.host_share == pytest.approx(4 / 11) and s.n == 34 and s.events == 11


def test_earlier_censor_date_drops_later_warrants():
    text = DEFAULT.read_text(encoding="utf-8").replace('# censor_date = "2026-02-03"', 'censor_date = "2019-01-01"')
    sample = target_sample(calibration_from_text(text)).set_index("person")
    assert "Vladimir Putin" not in sample.index
    bashir = sample.loc["Omar Hassan Ahmad al-Bashir"]
    assert not bashir["event"] and bashir["time_months"] == pytest.approx(3590 / 30.4375)


def test_exclude_must_name_a_person():
    text = DEFAULT.read_text(encoding="utf-8").replace('# exclude = ["Laurent', 'exclude = ["Laurent Gbagbo"]\n#')
    assert "Laurent Gbagbo" not in set(target_sample(calibration_from_text(text))["person"])
    with pytest.raises(UserError, match="exclude names 'Nobody'"):
        target_sample(calibration_from_text(text.replace('"Laurent Gbagbo"', '"Nobody"')))


def test_unmapped_custody_route_is_named():
    text = DEFAULT.read_text(encoding="utf-8").replace('other = "censor"', "")
    with pytest.raises(UserError, match=r"\[targets.routes\] has no entry for custody_route 'other'"):
        target_sample(calibration_from_text(text))


# --- summaries and distance --------------------------------------------------------------------------

def frame_of(months: list[int | None], routes: list[str]) -> pd.DataFrame:
    held = [m is not None for m in months]
    return pd.DataFrame({"in_custody": held,
                         "custody_month": pd.array([m if m is not None else None for m in months], dtype="Int64"),
                         "route": pd.Categorical(routes)})


def test_model_curve_by_hand():
    frame = frame_of([0, 2, None, 5], ["arrested_by_host", "domestic_surrender", "none", "arrested_by_host"])
    surv, share = abc.model_curve(frame, 6)
    assert surv == pytest.approx([1, 0.75, 0.75, 0.5, 0.5, 0.5, 0.25])
    assert share == pytest.approx(2 / 3)


def test_model_curve_matches_kaplan_meier_without_censoring():
    rng = np.random.default_rng(0)
    months = [int(m) if m < 30 else None for m in rng.integers(0, 40, size=200)]
    frame = frame_of(months, ["arrested_by_host" if m is not None else "none" for m in months])
    surv, _ = abc.model_curve(frame, 30)
    km = abc.summarise_sample(abc.model_sample(frame, 30), list(range(1, 31)))
    assert km.surv == pytest.approx(surv[1:])


def test_no_custody_gives_nan_share_and_largest_route_gap():
    surv, share = abc.model_curve(frame_of([None, None], ["none", "none"]), 3)
    assert surv == pytest.approx([1, 1, 1, 1]) and np.isnan(share)
    target = abc.Summary(np.array([0.9, 0.8]), 0.25, 10, 3)
    assert abc.distance(surv[[1, 2]], share, target, 0.5, "sup") == pytest.approx(0.2 + 0.5)
    assert abc.distance(np.array([0.8, 0.8]), 0.5, target, 1.0, "rmse") == pytest.approx(np.sqrt(0.01 / 2) + 0.25)


def test_posterior_summary_quantiles():
    draws = pd.DataFrame({"x": np.arange(101.0), "distance": np.zeros(101), "accepted": True})
    row = abc.posterior_summary(draws, [abc.Prior("x", "uniform", 0, 100)]).iloc[0]
    assert (row["mean"], row["median"], row["q5"], row["q95"]) == pytest.approx((50, 50, 5, 95))


# --- config errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, message", [
    ('"home.turnover_rate" = {', '"home.turnover" = {', r"unknown parameter 'home.turnover' \(did you mean"),
    ("low = 0.0, high = 0.1", "low = 0.0, high = 2.0", r"leaves home.turnover_rate's allowed range \[0, 1\]"),
    ("low = 0.0, high = 0.1", "low = 0.1, high = 0.0", "low .* must be below high"),
    ("a = 2.0", "a = -1.0", "beta shapes a and b must be positive"),
    ('dist = "uniform"', 'dist = "normal"', "dist must be one of uniform, beta"),
    ('"home.turnover_rate" = {', '"scenario.n_states" = {', "only real-valued parameters"),
    ('"home.turnover_rate" = {', '"accused.trip_rate" = {', r'calibrate one element, e.g. "accused.trip_rate\[0\]"'),
    ("draws = 12", "drawz = 12", r"unknown key 'drawz' in \[calibration\] \(did you mean draws\?\)"),
    ("[targets]", "[target]", r"unknown table \[target\]"),
    ("months = [1, 6, 12]", "months = [1, 6, 24]", r"within 1..12 \(scenario.horizon_months\)"),
    ("accept = 0.25", "accept = 0.1", "keeps fewer than 2 of 12 draws"),
    ('engine = "vectorized"', 'engine = "numpy"', "engine must be one of mesa, vectorized"),
    ("months = [1, 6, 12]", 'months = [1, 6, 12]\nmetric = "max"', "metric must be one of sup, rmse"),
    ("months = [1, 6, 12]", 'months = [1, 6, 12]\n[targets.routes]\nother = "arrest"',
     "map it to one of arrested_by_host, domestic_surrender, censor"),
    ("months = [1, 6, 12]", 'months = [1, 6, 12]\n[targets.routes]\nothr = "censor"',
     r"unknown key 'othr' in \[targets.routes\] \(did you mean other\?\)"),
    ("months = [1, 6, 12]", 'months = [1, 6, 12]\nreplicates = 5', "replicates has no meaning with source = 'record'"),
    ('[targets]', '[targets]\nsource = "model"', r"needs a \[targets.truth\] table"),
])
def test_config_errors_are_one_line(old, new, message):
    with pytest.raises(UserError, match=message) as info:
        calibration_from_text(tiny(**{old: new}))
    assert "\n" not in str(info.value)


def test_truth_outside_prior_is_refused():
    text = tiny(**{"months = [1, 6, 12]": 'source = "model"\nmonths = [1, 6, 12]\n[targets.truth]\n'
                                          '"home.turnover_rate" = 0.5\n"arrest.intercept" = -1.0'})
    with pytest.raises(UserError, match=r"home.turnover_rate = 0.5 lies outside its prior uniform\(0, 0.1\)"):
        calibration_from_text(text)


def test_cli_bad_config_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(tiny(**{"draws = 12": "draws = 'many'"}), encoding="utf-8")
    assert main(["calibrate", str(bad), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: [calibration] draws must be an integer, got 'many'"]
    assert not (tmp_path / "out").exists()
    assert main(["calibrate", str(tmp_path / "missing.toml"), "--quiet"]) == 2


# --- runs and outputs --------------------------------------------------------------------------------

def args(config: Path, out: Path, workers: int = 1, force: bool = False) -> argparse.Namespace:
    return argparse.Namespace(config=str(config), out=str(out), workers=workers, force=force, quiet=True)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cal") / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_run(tiny_config, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "one"
    assert calibrate_command(args(tiny_config, out)) == 0
    return out


def test_outputs_and_manifest(tiny_run):
    manifest = json.loads((tiny_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["text"] == TINY and manifest["calibration"]["draws"] == 12
    for name, digest in manifest["outputs"].items():
        assert sha256(tiny_run / name) == digest
    posterior = pd.read_parquet(tiny_run / "posterior.parquet")
    assert len(posterior) == 12 and posterior["accepted"].sum() == 3
    assert posterior.loc[posterior["accepted"], "distance"].max() <= posterior.loc[~posterior["accepted"],
                                                                                   "distance"].min()
    assert posterior["home.turnover_rate"].between(0, 0.1).all()
    assert posterior["arrest.intercept"].between(-4, 0).all()
    summary = pd.read_csv(tiny_run / "summary.csv")
    assert list(summary["parameter"]) == ["home.turnover_rate", "arrest.intercept"]
    assert (summary["q5"] <= summary["median"]).all() and (summary["median"] <= summary["q95"]).all()
    curves = pd.read_parquet(tiny_run / "curves.parquet")
    assert len(curves) == 3 * 13 and curves["surv"].between(0, 1).all()
    for png in ("pairs.png", "predictive.png"):
        assert (tiny_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_do_not_depend_on_workers(tiny_config, tiny_run):
    two = run_calibration(load_calibration(tiny_config), workers=2)
    pd.testing.assert_frame_equal(two.draws, pd.read_parquet(tiny_run / "posterior.parquet"))


def test_posterior_draws_are_reproducible_from_the_api(tiny_config, tiny_run):
    cal = load_calibration(tiny_config)
    again = run_calibration(cal, workers=1).draws
    pd.testing.assert_frame_equal(again, pd.read_parquet(tiny_run / "posterior.parquet"))


def test_foreign_folder_needs_force(tiny_config, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserError, match="holds files that are not this calibration's results; .* --force"):
        calibrate_command(args(tiny_config, out))
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    check_folder(out, load_calibration(tiny_config), force=True)  # --force lets the run write there
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(UserError, match="is a file, not a folder"):
        calibrate_command(args(tiny_config, tmp_path / "file", force=True))


def test_same_config_may_rerun_but_another_may_not(tiny_config, tiny_run, tmp_path):
    before = (tiny_run / "manifest.json").read_text(encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text(TINY.replace("seed = 3", "seed = 4"), encoding="utf-8")
    with pytest.raises(UserError, match="holds results of calibration 'tiny' with another config"):
        calibrate_command(args(other, tiny_run))
    assert (tiny_run / "manifest.json").read_text(encoding="utf-8") == before
    assert calibrate_command(args(tiny_config, tiny_run)) == 0  # the same config: its own folder, same bytes
    outputs = json.loads(before)["outputs"]
    assert json.loads((tiny_run / "manifest.json").read_text(encoding="utf-8"))["outputs"] == outputs


# --- recovery of known values ------------------------------------------------------------------------

RECOVERY = """
[calibration]
name = "recovery"
seed = 1
draws = 150
replicates = 60
accept = 0.1
engine = "vectorized"
[scenario]
n_states = 20
n_partners = 3
horizon_months = 36
[priors]
"home.turnover_rate" = { dist = "uniform", low = 0.0, high = 0.06 }
"arrest.intercept" = { dist = "uniform", low = -5.0, high = 2.0 }
[targets]
source = "model"
months = [3, 6, 12, 18, 24, 30, 36]
replicates = 300
follow_up = [12, 36]
[targets.truth]
"home.turnover_rate" = 0.02
"arrest.intercept" = -0.5
"""


@pytest.mark.slow
def test_calibration_recovers_known_values_from_a_synthetic_record():
    """Targets simulated at known values (600 censored warrants): the 90% intervals hold the truth,
    and the turnover rate, which sets the dominant route, is pinned down to a third of its prior."""
    cal = calibration_from_text(RECOVERY)
    result = run_calibration(cal, workers=1)
    summary = result.summary.set_index("parameter")
    for name, value in cal.targets.truth.items():
        assert summary.at[name, "q5"] <= value <= summary.at[name, "q95"], (name, summary.loc[name].to_dict())
    turnover = summary.loc["home.turnover_rate"]
    assert turnover["q95"] - turnover["q5"] < 0.06 / 3
    assert result.target.n == 600
