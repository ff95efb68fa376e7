"""Figures: every kind from a small synthetic results folder, their size, determinism and `plot` errors."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sim.analysis.metrics import summarize
from sim.studies.figures import draw_figures
from sim.model.outcomes import Outcomes
from sim.model.params import Params

GRID = {"states.sovereignty_member": [0.2, 0.4, 0.6, 0.8], "court.legitimacy0": [0.3, 0.5, 0.7]}
HORIZONS = [24, 60, 120]


def synthetic_runs(points: pd.DataFrame, replicates: int, seed: int, horizon: int = 120) -> pd.DataFrame:
    """Fake sim.simulate frames: a monthly custody hazard that falls with sovereignty, rises with L0."""
    rng = np.random.default_rng(seed)
    frames = []
    for _, row in points.iterrows():
        s = row.get("states.sovereignty_member", 0.4)
        legit = row.get("court.legitimacy0", 0.5)
        rate = np.array([0.012, 0.006]) * np.exp(2.5 * (legit - 0.5) - 2.0 * (s - 0.4))
        month = rng.geometric(np.clip(rate, 1e-6, 1), size=(replicates, 2)) - 1
        month = np.where(month < horizon, month, -1)
        route = np.where(month >= 0, rng.choice([1, 2], size=month.shape, p=[0.3, 0.7]), 0)
        o = Outcomes.of(custody_month=month, route=route, trips=rng.poisson(50, month.shape),
                        trips_to_members=rng.poisson(9, month.shape), trips_cancelled=rng.poisson(3, month.shape),
                        detained_month=np.full(month.shape, -1), trips_at_issue=np.zeros(month.shape, int),
                        accessions=np.zeros(replicates, int),
                        findings=rng.poisson(5, replicates), withdrawals=rng.poisson(1.6, replicates),
                     members_final=rng.integers(100, 116, replicates), legitimacy_final=rng.random(replicates))
        frames.append(o.frame().assign(point=int(row["point"])))
    runs = pd.concat(frames, ignore_index=True)
    return runs[["point", *[c for c in runs.columns if c != "point"]]]


def make_results(folder: Path, grid: dict | None = None, replicates: int = 60, seed: int = 1,
                 sensitivity: pd.DataFrame | None = None) -> Path:
    """Write a small results folder with the sweep's layout (points, runs, summary, manifest)."""
    grid = GRID if grid is None else grid
    names = list(grid)
    combos = list(itertools.product(*grid.values()))
    points = pd.DataFrame(combos, columns=names)
    points.insert(0, "point", np.arange(len(points)))
    runs = synthetic_runs(points, replicates, seed)
    folder.mkdir(parents=True, exist_ok=True)
    points.to_parquet(folder / "points.parquet", index=False)
    runs.to_parquet(folder / "runs.parquet", index=False)
    summarize(runs, HORIZONS).to_csv(folder / "summary.csv", index=False)
    if sensitivity is not None:
        sensitivity.to_csv(folder / "sensitivity.csv", index=False)
    # a manifest as a sweep writes it: config text and hash, base parameters, swept names, output hashes
    text = "[experiment]\nname = 'test'\n[sweep]\nsampler = 'grid'\n[sweep.grid]\n" + "".join(
        f'"{n}" = {json.dumps([float(v) for v in values])}\n' for n, values in grid.items())
    files = ["points.parquet", "runs.parquet", "summary.csv", *(["sensitivity.csv"] if sensitivity is not None else [])]
    manifest = {"format": "tribunal-sim results",
                "config": {"text": text, "sha256": hashlib.sha256(text.encode()).hexdigest(), "source": "test"},
                "swept": names, "parameters": Params().to_dict(),
                "outputs": {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in files}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


# expected PNG sizes in pixels: figure inches x 200 dpi (the style's full-page width of 7 inches)
PIXELS = {"heatmap": (1400, 580), "curves": (1400, 880), "survival": (1400, 660), "routes": (1400, 920),
          "sobol": (1400, 920), "morris": (1400, 920)}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sobol_frame() -> pd.DataFrame:
    return pd.DataFrame({"parameter": ["arrest.intercept", "court.legitimacy0", "accused.trip_rate[0]"],
                         "S1": [0.5, 0.2, 0.01], "S1_conf": [0.05, 0.04, 0.03], "ST": [0.6, 0.3, 0.05],
                         "ST_conf": [0.06, 0.05, 0.02], "method": "sobol", "outcome": "p_enforced",
                         "horizon": 120, "accused": "0", "noise_share": 0.04,
                         "outcome_label": "enforcement probability by month 120, accused 0"})


def morris_frame() -> pd.DataFrame:
    return pd.DataFrame({"parameter": ["arrest.intercept", "court.legitimacy0", "states.withdrawal_delay"],
                         "mu": [0.2, -0.05, 0.0], "mu_star": [0.2, 0.06, 0.01], "mu_star_conf": [0.03, 0.02, 0.01],
                         "sigma": [0.1, 0.05, 0.01], "method": "morris", "outcome": "p_enforced", "horizon": 120,
                         "accused": "0", "noise_mu_star": 0.02,
                         "outcome_label": "enforcement probability by month 120, accused 0"})


def check_png(path: Path, kind: str) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 10_000
    with Image.open(path) as im:
        assert im.size == PIXELS[kind]
        assert len(np.unique(np.asarray(im.convert("L")))) > 20  # something is drawn, not a blank canvas


@pytest.fixture(scope="module")
def grid_folder(tmp_path_factory) -> Path:
    return make_results(tmp_path_factory.mktemp("grid") / "results")


def test_every_grid_kind_is_a_png_and_svg_of_the_expected_size(grid_folder):
    paths = draw_figures(grid_folder, None)  # None: every kind that applies to a two-parameter grid
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{k}.{ext}" for k in ("heatmap", "curves", "survival", "routes") for ext in ("png", "svg"))
    for p in paths:
        assert p.parent == grid_folder / "figures"
        if p.suffix == ".png":
            check_png(p, p.stem)
        else:
            assert p.read_text().lstrip().startswith("<?xml") and "</svg>" in p.read_text()


@pytest.mark.parametrize("kind, frame", [("sobol", sobol_frame), ("morris", morris_frame)])
def test_sensitivity_figures_from_a_sampled_design(tmp_path, kind, frame):
    rng = np.random.default_rng(0)
    folder = make_results(tmp_path / "r", grid={"states.sovereignty_member": list(rng.uniform(0.1, 0.9, 12))},
                          replicates=20, sensitivity=frame())
    paths = draw_figures(folder, [kind, "routes"])
    check_png(folder / "figures" / f"{kind}.png", kind)
    check_png(folder / "figures" / "routes.png", "routes")
    assert len(paths) == 4


def test_curves_of_one_swept_parameter(tmp_path):
    folder = make_results(tmp_path / "r", grid={"court.legitimacy0": [0.2, 0.5, 0.8]}, replicates=30)
    [png, _] = draw_figures(folder, ["curves"])
    check_png(png, "curves")


def test_figures_are_byte_identical_when_redrawn(grid_folder, tmp_path):
    first = {p.name: p.read_bytes() for p in draw_figures(grid_folder, ["heatmap"])}
    again = {p.name: p.read_bytes() for p in draw_figures(grid_folder, ["heatmap"])}
    assert first == again and b"Software" not in first["heatmap.png"]


def test_axes_carry_names_descriptions_and_the_number_of_replicates(grid_folder):
    from sim.studies.figures import figure
    from sim.experiments.results import load_results
    from sim.model.params import lookup

    results = load_results(grid_folder)
    fig = figure(results, "heatmap")
    from matplotlib.text import Text

    texts = " ".join(t.get_text() for t in fig.findobj(Text))
    for name in GRID:
        assert name in texts
        assert lookup(name).doc.split(" ")[0] in texts and lookup(name).doc in texts.replace("\n", " ")
    assert "12 points × 60 replicates" in fig._suptitle.get_text()
    assert "Enforcement probability by month 120" in fig._suptitle.get_text()


def test_heatmap_marks_the_half_probability_contour(grid_folder):
    from matplotlib.contour import ContourSet

    from sim.studies.figures import figure
    from sim.experiments.results import load_results

    fig = figure(load_results(grid_folder), "heatmap")
    levels = {tuple(c.levels) for c in fig.findobj(ContourSet)}
    assert levels == {(0.5,)}


def _plot(argv, capsys):
    from sim.cli import main

    code = main(["plot", *argv])
    captured = capsys.readouterr()
    return code, captured.err


BROKEN = {
    "missing summary": (lambda f: (f / "summary.csv").unlink(), "lacks summary.csv"),
    "missing runs": (lambda f: (f / "runs.parquet").unlink(), "lacks runs.parquet"),
    "corrupt runs": (lambda f: (f / "runs.parquet").write_bytes(b"PAR1 not really"), "runs.parquet is corrupt"),
    "truncated points": (lambda f: (f / "points.parquet").write_bytes((f / "points.parquet").read_bytes()[:50]),
                         "points.parquet is corrupt"),
    "corrupt manifest": (lambda f: (f / "manifest.json").write_text("{not json"), "manifest.json is corrupt"),
    "empty summary": (lambda f: (f / "summary.csv").write_text(""), "summary.csv is corrupt"),
    "summary without probabilities": (lambda f: pd.read_csv(f / "summary.csv")[["point", "accused", "n"]]
                                      .to_csv(f / "summary.csv", index=False), "has no p_enforced_H columns"),
    "runs without custody": (lambda f: pd.read_parquet(f / "runs.parquet").drop(columns="custody_month")
                             .to_parquet(f / "runs.parquet"), "lacks column(s) custody_month"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_plot_on_a_broken_folder_gives_one_line_and_exit_2(tmp_path, capsys, case):
    folder = make_results(tmp_path / "r", replicates=5)
    breaks, message = BROKEN[case]
    breaks(folder)
    before = sorted(p.name for p in folder.iterdir())
    code, err = _plot([str(folder)], capsys)
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written, nothing removed


@pytest.mark.parametrize("argv, message", [
    (["--kind", "heatmap"], "cannot draw 'heatmap'"),
    (["--kind", "pie"], "unknown figure kind 'pie'"),
    (["--kind", "sobol"], "needs sensitivity.csv"),
])
def test_plot_refuses_kinds_that_do_not_apply(tmp_path, capsys, argv, message):
    folder = make_results(tmp_path / "r", grid={"court.legitimacy0": [0.3, 0.7]}, replicates=5)
    code, err = _plot([str(folder), *argv], capsys)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_plot_of_a_missing_folder_in_a_fresh_process_has_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sim", "plot", str(tmp_path / "nowhere")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"error: results folder {tmp_path / 'nowhere'} does not exist; "
                                                f"check the path (a sweep writes results/<name>/)"]


def test_plot_command_prints_the_files_it_wrote(grid_folder, capsys):
    code = __import__("sim.cli", fromlist=["main"]).main(["plot", str(grid_folder), "--kind", "routes"])
    out = capsys.readouterr().out.split()
    assert code == 0 and out == [str(grid_folder / "figures" / "routes.png"), str(grid_folder / "figures" / "routes.svg")]
