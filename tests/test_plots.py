"""Figures: every kind from a small synthetic results folder, their size, determinism and `plot` errors."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sim.analysis.metrics import summarize
from sim.model.outcomes import Outcomes
from sim.model.params import Params
from sim.studies.figures import draw_figures

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
                        accessions=np.zeros(replicates, int), invitations=np.zeros(month.shape, int),
                        invitations_declined=np.zeros(month.shape, int), regime_changes=np.zeros(replicates, int),
                        regime_change_month=np.full(replicates, -1),
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
          "sobol": (1400, 1000), "morris": (1400, 920)}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sobol_frame() -> pd.DataFrame:
    return pd.DataFrame({"parameter": ["arrest.intercept", "court.legitimacy0", "accused.trip_rate[0]"],
                         "S1": [0.5, 0.2, 0.01], "S1_conf": [0.05, 0.04, 0.03], "ST": [0.6, 0.3, 0.05],
                         "ST_conf": [0.06, 0.05, 0.02], "method": "sobol", "outcome": "p_enforced",
                         "horizon": 120, "accused": "0", "noise_share": 0.04,
                         "outcome_label": "probability of custody by month 120, accused 0"})


def morris_frame() -> pd.DataFrame:
    return pd.DataFrame({"parameter": ["arrest.intercept", "court.legitimacy0", "states.withdrawal_delay"],
                         "mu": [0.2, -0.05, 0.0], "mu_star": [0.2, 0.06, 0.01], "mu_star_conf": [0.03, 0.02, 0.01],
                         "sigma": [0.1, 0.05, 0.01], "method": "morris", "outcome": "p_enforced", "horizon": 120,
                         "accused": "0", "noise_mu_star": 0.02,
                         "outcome_label": "probability of custody by month 120, accused 0"})


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
    from sim.experiments.results import load_results
    from sim.model.params import lookup
    from sim.studies.figures import figure

    results = load_results(grid_folder)
    fig = figure(results, "heatmap")
    from matplotlib.text import Text

    texts = " ".join(t.get_text() for t in fig.findobj(Text))
    for name in GRID:
        assert name in texts
        assert lookup(name).doc.split(" ")[0] in texts and lookup(name).doc in texts.replace("\n", " ")
    assert "12 points × 60 replicates" in fig._suptitle.get_text().replace("\n", " ")
    assert "Probability of custody by month 120; all accused: every one in custody" in fig._suptitle.get_text()


def test_half_boundary_runs_along_cell_edges_between_cells_above_and_below():
    from sim.analysis.plots import boundary_segments

    z = np.array([[0.2, 0.6], [0.4, 0.5]])  # rows are y, columns x: below/above in row 0, below/above in row 1
    segments = sorted(tuple(map(tuple, s)) for s in boundary_segments(z))
    assert segments == [((0.5, -0.5), (0.5, 0.5)), ((0.5, 0.5), (0.5, 1.5))]
    assert boundary_segments(np.full((3, 3), 0.7)) == []
    assert boundary_segments(np.array([[0.1, np.nan, 0.9]])) == []  # an unknown cell separates nothing


def test_heatmap_cells_show_value_and_interval_and_the_boundary_avoids_them(grid_folder):
    from matplotlib.collections import LineCollection

    from sim.experiments.results import load_results
    from sim.studies.figures import figure

    results = load_results(grid_folder)
    fig = figure(results, "heatmap")
    panel = fig.axes[0]  # accused 0
    boundary = [c for c in panel.collections if isinstance(c, LineCollection) and c.get_gid() == "half-boundary"]
    assert len(boundary) == 1
    for seg in boundary[0].get_segments():
        for x, y in seg:  # on cell edges (half-integers), never through a cell centre where its label is
            assert (x % 1, y % 1) != (0, 0) and {x % 1, y % 1} <= {0.0, 0.5}
    row = results.summary.merge(results.points, on="point").query(
        "accused == 0 and `states.sovereignty_member` == 0.4 and `court.legitimacy0` == 0.5").iloc[0]
    share = lambda v: "1" if v >= 0.995 else "0" if v < 0.005 else f"{v:.2f}".lstrip("0")  # noqa: E731
    expected = f"{share(row['p_enforced_120'])}\n{share(row['p_enforced_120_low'])}–{share(row['p_enforced_120_high'])}"
    cells = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in panel.texts}
    assert cells[(1, 1)] == expected  # x index 1 (0.4), y index 1 (0.5)
    assert len(cells) == 12 and all("–" in t for t in cells.values())


def test_routes_of_a_large_sampled_design_are_pooled_in_bins_with_intervals(tmp_path):
    from sim.analysis.metrics import route_shares, wilson_interval
    from sim.analysis.plots import MAX_BINS, route_bins, routes_figure
    from sim.experiments.results import load_results

    rng = np.random.default_rng(3)
    folder = make_results(tmp_path / "r", grid={"states.sovereignty_member": list(rng.uniform(0.1, 0.9, 80))},
                          replicates=25)
    results = load_results(folder)
    shares = route_shares(results.runs, horizon=120)
    fig = routes_figure(shares, results.points, results.swept, 120, 25, [1, 0])
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 2 * MAX_BINS  # two routes per bin, not one bar per point
    key, labels = route_bins(results.points, "states.sovereignty_member")
    assert len(labels) == MAX_BINS and key.value_counts().sum() == 80
    first = results.runs[(results.runs["point"].map(key) == 0) & (results.runs["accused"] == 0)]
    k = ((first["route"].astype(str) == "arrested_by_host") & (first["custody_month"].fillna(999) < 120)).sum()
    heights = sorted(b.get_height() for b in bars if abs(b.get_x() + b.get_width() / 2 - (0 - 0.19)) < 1e-6)
    assert heights == [pytest.approx(k / len(first))]  # bin 0, route arrested abroad: pooled share of its points
    low, high = wilson_interval(k, len(first))
    whiskers = [seg for c in fig.axes[0].collections for seg in c.get_segments()
                if abs(seg[0][0] - (0 - 0.19)) < 1e-6]
    assert any(seg[0][1] == pytest.approx(low[()]) and seg[1][1] == pytest.approx(high[()]) for seg in whiskers)


def test_survival_legend_names_parameter_values_never_point_ids(tmp_path):
    from matplotlib.text import Text

    from sim.experiments.results import load_results
    from sim.studies.figures import figure

    rng = np.random.default_rng(4)
    names = ["states.sovereignty_member", "court.legitimacy0", "arrest.intercept", "home.turnover_rate"]
    points = pd.DataFrame({"point": np.arange(12), names[0]: rng.uniform(0.1, 0.9, 12),
                           names[1]: rng.uniform(0.2, 0.8, 12), names[2]: rng.uniform(-6, -2, 12),
                           names[3]: rng.uniform(0, 0.01, 12)})
    folder = make_results(tmp_path / "r", grid={"court.legitimacy0": [0.5]}, replicates=10)
    runs = synthetic_runs(points, 10, 1)
    points.to_parquet(folder / "points.parquet", index=False)
    runs.to_parquet(folder / "runs.parquet", index=False)
    summarize(runs, HORIZONS).to_csv(folder / "summary.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"swept": names, "parameters": {"scenario.horizon_months": 120}}))
    fig = figure(load_results(folder, verify=False), "survival")  # files written by hand, without hashes
    legend = " ".join(t.get_text() for t in fig.legends[0].findobj(Text))
    assert "point " not in legend and "3 of 4 swept parameters" in legend
    assert len(re.findall(r"legitimacy0\s-?[0-9.]+", legend)) == 4  # each of the four lines names its values


def _overlaps(boxes) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]


@pytest.mark.parametrize("k", [3, 15, 30])
def test_morris_labels_do_not_overlap(k):
    from matplotlib.text import Annotation

    from sim.analysis.plots import morris_figure
    from sim.model.params import SCHEMA

    names = [p.name for p in SCHEMA if p.scalar_kind == "float"][:k]
    rng = np.random.default_rng(k)
    mu_star = np.sort(rng.gamma(0.6, 0.02, k))
    mu_star[: k // 2] = mu_star[0]  # a crowd of near-equal small effects near the origin
    frame = pd.DataFrame({"parameter": names, "mu": mu_star, "mu_star": mu_star, "mu_star_conf": 0.2 * mu_star,
                          "sigma": mu_star * rng.uniform(0.8, 1.2, k), "method": "morris", "outcome": "p_enforced",
                          "horizon": 120, "accused": "0", "noise_mu_star": 0.002, "outcome_label": "x"})
    fig = morris_figure(frame, 16 * k, 20)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    bars, scatter = fig.axes[:2]
    ticks = [t.get_window_extent(renderer) for t in bars.get_yticklabels() if t.get_text()]
    assert len(ticks) == k and _overlaps(ticks) == []
    labels = [a.get_window_extent(renderer) for a in scatter.findobj(Annotation)]
    assert labels and _overlaps(labels) == []
    assert _overlaps([*labels, scatter.get_legend().get_window_extent(renderer)]) == []


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
    assert code == 0
    assert out == [str(grid_folder / "figures" / "routes.png"), str(grid_folder / "figures" / "routes.svg")]


def test_sobol_figure_draws_no_negative_index_and_says_how_to_read_it():
    """Negative estimates (noise: an index is a share of a variance) are drawn at 0 and counted in a reading
    under the figure, which also gives the noise share; the axis starts at 0."""
    from matplotlib.patches import Rectangle

    from sim.analysis.plots import sobol_figure

    indices = pd.DataFrame({
        "parameter": ["arrest.intercept", "court.legitimacy0", "arrest.duty"],
        "S1": [0.30, -0.05, 0.01], "S1_low": [0.2, -0.15, -0.05], "S1_high": [0.4, 0.05, 0.06],
        "ST": [0.35, 0.02, -0.01], "ST_low": [0.25, -0.03, -0.06], "ST_high": [0.45, 0.07, 0.04],
        "noise_share": 0.28, "method": "sobol", "outcome": "p_enforced", "horizon": 60, "accused": "0",
        "measure": "p_enforced@60#0", "outcome_label": "probability of custody by month 60, accused 0"})
    fig = sobol_figure(indices, 64, 10)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() < 1]
    assert bars and min(b.get_width() for b in bars) >= 0 and ax.get_xlim()[0] == 0
    reading = [t.get_text() for t in fig.texts if t.get_text().startswith("Reading:")]
    assert len(reading) == 1 and "2 estimate(s) below 0" in reading[0] and "0.28" in reading[0]
