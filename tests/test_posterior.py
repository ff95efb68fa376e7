"""A calibrated posterior as an experiment's input: draws resampled by weight, replicate r at draw r mod draws
on its point's own streams, the parameter spread in the summary, and refusals in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.config import experiment_from_text
from sim.experiments.folders import CALIBRATION_FORMAT, MANIFEST
from sim.experiments.posterior import POSTERIOR, load_posterior
from sim.experiments.provenance import manifest
from sim.simulate import simulate

PRIORS = [{"name": "arrest.intercept"}, {"name": "accused.max_risk"}]


def fake_calibration(folder, values, weights):
    """A calibration folder as `calibrate` writes it: posterior.parquet and a manifest with its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(values, columns=[p["name"] for p in PRIORS]).assign(weight=weights)
    store.write_parquet(folder / POSTERIOR, frame)
    store.write_json(folder / MANIFEST, manifest(CALIBRATION_FORMAT, {"priors": PRIORS}, config=None,
                                                       folder=folder, outputs=[folder / POSTERIOR]))
    return folder


CONFIG = """
[experiment]
name = "p"
seed = 4
replicates = 6
block_size = 4
engine = "vectorized"
[scenario]
n_states = 12
n_partners = 2
horizon_months = 12
[sweep]
sampler = "grid"
[sweep.grid]
"court.legitimacy0" = [0.4, 0.8]
[posterior]
source = "{source}"
draws = 3
[outputs]
horizons = [12]
"""


def test_draws_are_resampled_by_weight_and_reproducibly(tmp_path):
    folder = fake_calibration(tmp_path / "cal", [[-3.0, 0.01], [-1.0, 0.05], [-2.0, 0.1]], [0.0, 1.0, 0.0])
    post = load_posterior(str(folder), 7, seed=1)
    assert (post.values == [-1.0, 0.05]).all()  # all the weight on one particle
    folder = fake_calibration(tmp_path / "even", [[-3.0, 0.01], [-1.0, 0.05]], [0.25, 0.75])
    a, b = load_posterior(str(folder), 400, seed=2), load_posterior(str(folder), 400, seed=2)
    assert np.array_equal(a.values, b.values) and (a.values[:, 0] == -1.0).mean() == pytest.approx(0.75, abs=0.01)


def test_every_replicate_runs_at_its_draw_on_its_points_streams(tmp_path):
    folder = fake_calibration(tmp_path / "cal", [[-3.0, 0.01], [-1.0, 0.05], [-6.0, 0.2]], [0.2, 0.5, 0.3])
    config = tmp_path / "p.toml"
    config.write_text(CONFIG.format(source=folder), encoding="utf-8")
    exp = experiment_from_text(config.read_text(), str(config))
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 0
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert (runs["draw"] == runs["replicate"] % 3).all()
    post = exp.posterior
    for p in (0, 1):
        for d in range(3):
            params = post.apply(exp.params[p], d)
            expected = simulate(params, replicates=6, seed=4, point=p, engine="vectorized")
            got = runs[(runs["point"] == p) & (runs["draw"] == d)].drop(columns=["point", "draw"])
            want = expected[expected["replicate"] % 3 == d]
            pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert "p_enforced_12_param_sd" in summary.columns


@pytest.mark.parametrize("old, new, message", [
    ("draws = 3", "draws = 9", "exceeds [experiment] replicates"),
    ('"court.legitimacy0" = [0.4, 0.8]', '"arrest.intercept" = [-4.0, -3.0]', "which the posterior also sets"),
])
def test_bad_posterior_settings_are_one_line(tmp_path, old, new, message):
    folder = fake_calibration(tmp_path / "cal", [[-3.0, 0.01]], [1.0])
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        experiment_from_text(CONFIG.format(source=folder).replace(old, new))
    assert "\n" not in str(err.value)


def test_a_posterior_file_that_is_not_the_calibrations_is_refused(tmp_path):
    folder = fake_calibration(tmp_path / "cal", [[-3.0, 0.01]], [1.0])
    frame = pd.read_parquet(folder / POSTERIOR).assign(weight=0.5)
    frame.to_parquet(folder / POSTERIOR)
    with pytest.raises(UserError, match="not the file the calibration wrote"):
        load_posterior(str(folder), 2, seed=0)
    with pytest.raises(UserError, match="holds no calibration results"):
        load_posterior(str(tmp_path / "nowhere"), 2, seed=0)


def test_the_shipped_posterior_loads_and_names_calibrated_parameters():
    post = load_posterior("calibrated", 50, seed=0)
    assert post.draws == 50 and "arrest.intercept" in post.names and np.isfinite(post.values).all()
