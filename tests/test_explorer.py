"""The sweep explorer without a browser: outcome choices from the schema, per-point values and their
intervals against other code paths, slicing, brushing, pooling, the PRIM box, lazy reading, the page
rendered in-process (solara.render) and the `explore` command."""

from __future__ import annotations

import argparse
import base64
import io
import re
import shutil
import tempfile
from pathlib import Path

import ipyvuetify as v
import numpy as np
import pandas as pd
import pytest
import solara
from PIL import Image
from solara.widgets import HTML as HTMLWidget

from sim.analysis.metrics import ALL, enforced, route_shares, wilson_interval
from sim.analysis.survival import kaplan_meier
from sim.app import exploration as ex
from sim.cli import main
from sim.errors import UserError
from sim.experiments.results import load_results, read_discovery_box
from sim.model.outcomes import OUTCOMES, ROUTES
from tests.test_plots import make_results
from tests.test_sensitivity import TINY as SENSITIVITY_TINY
from tests.test_sweep_config import TINY as SWEEP_TINY

GRID3 = {"states.sovereignty_member": [0.2, 0.4, 0.6, 0.8], "court.legitimacy0": [0.3, 0.5, 0.7],
         "arrest.intercept": [-4.0, -3.0, -2.0]}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny baseline-like sweep, a tiny Morris sensitivity study (both really run), and a synthetic
    three-parameter grid with a discovery box."""
    root = tmp_path_factory.mktemp("explore")
    (root / "tiny.toml").write_text(SWEEP_TINY)
    (root / "sens.toml").write_text(SENSITIVITY_TINY.format(sampler="morris", n=3, extra="levels = 4"))
    assert main(["sweep", str(root / "tiny.toml"), "--out", str(root / "sweep"), "--workers", "1", "--quiet"]) == 0
    assert main(["sensitivity", str(root / "sens.toml"), "--out", str(root / "sens"), "--workers", "1",
                 "--quiet"]) == 0
    grid = make_results(root / "grid3", grid=GRID3, replicates=80)
    (grid / "discovery").mkdir()
    pd.DataFrame({"parameter": ["states.sovereignty_member", "court.legitimacy0"], "low": [0.15, 0.45],
                  "high": [0.5, None]}).to_csv(grid / "discovery" / "box.csv", index=False)
    return {"sweep": root / "sweep", "sens": root / "sens", "grid3": grid}


# ------------------------------------------------------------------ outcome choices come from the schema


def test_measures_are_derived_from_the_summary_and_the_output_schema(folders):
    results = load_results(folders["sweep"])
    found = {m.key: m for m in ex.measures(results.summary.columns, results.runs_columns)}
    horizons = results.horizons
    expected = {f"p_enforced_{h}" for h in horizons}
    expected |= {f"p_{r}_{h}" for r in ROUTES if r != "none" for h in horizons}
    expected |= {f"mean_{o.name}" for o in OUTCOMES if o.kind in ("count", "real", "month")}
    assert set(found) == expected
    assert found["mean_findings"].per_run and not found["mean_trips"].per_run
    assert found["mean_custody_month"].month
    assert ex.accused_options(found["mean_findings"], results.summary) == ["all"]
    assert ex.accused_options(found["p_arrested_by_host_12"], results.summary) == ["0", "1"]
    assert ex.accused_options(found["p_enforced_12"], results.summary) == ["0", "1", "all"]
    # a folder whose runs lack a column offers nothing that needs it
    fewer = ex.measures(results.summary.columns, [c for c in results.runs_columns if c != "trips"])
    assert "mean_trips" not in {m.key for m in fewer}


def test_per_point_values_agree_with_the_summary_and_the_metrics(folders):
    results = load_results(folders["grid3"])
    by_key = {m.key: m for m in ex.measures(results.summary.columns, results.runs_columns)}
    runs = results.runs
    for accused, code in (("0", 0), ("all", ALL)):  # the app's choices; the frames hold integers
        from_summary = ex.point_values(results, by_key["p_enforced_120"], accused).set_index("point")
        rows = results.summary[results.summary["accused"] == code].set_index("point")
        assert np.allclose(from_summary["value"], rows["p_enforced_120"])
        assert (from_summary["low"] <= from_summary["value"]).all() and (from_summary["value"]
                                                                          <= from_summary["high"]).all()
        trips = ex.point_values(results, by_key["mean_trips"], accused).set_index("point")
        assert np.allclose(trips["value"], rows["mean_trips"])  # the summary's own means (summed for "all")
        assert (trips["low"] < trips["value"]).all() and (trips["value"] < trips["high"]).all()
        month = ex.point_values(results, by_key["mean_custody_month"], accused).set_index("point")
        assert np.allclose(month["value"], rows["mean_custody_month"])
    abroad = ex.point_values(results, by_key["p_arrested_by_host_60"], "1").set_index("point")
    shares = route_shares(runs, horizon=60)
    shares = shares[shares["accused"] == 1].set_index("point")
    assert np.allclose(abroad["value"], shares["share_arrested_by_host"])
    low, high = wilson_interval(abroad["k"], abroad["n"])
    assert np.allclose(abroad["low"], low) and np.allclose(abroad["high"], high)
    findings = ex.point_values(results, by_key["mean_findings"], "all").set_index("point")
    one = runs[runs["accused"] == 0].groupby("point")["findings"]
    assert np.allclose(findings["value"], one.mean())
    assert np.allclose(findings["high"] - findings["value"], ex.Z95 * one.std() / np.sqrt(one.size()))
    with pytest.raises(UserError, match="cannot be shown for accused 'all'"):
        ex.point_values(results, by_key["p_arrested_by_host_60"], "all")


# ------------------------------------------------------------------ slicing, brushing, axes and pooling


def test_slices_keep_the_nearest_design_value_and_ranges_their_bounds(folders):
    points = load_results(folders["grid3"]).points
    sliced = ex.apply_filters(points, [ex.Filter("court.legitimacy0", "nearest", value=0.58)])
    assert set(sliced["court.legitimacy0"]) == {0.5} and len(sliced) == 12
    brushed = ex.apply_filters(points, [ex.Filter("states.sovereignty_member", "range", low=0.4, high=0.6),
                                        ex.Filter("arrest.intercept", "nearest", value=-10)])
    assert set(brushed["states.sovereignty_member"]) == {0.4, 0.6} and set(brushed["arrest.intercept"]) == {-4.0}
    assert len(ex.apply_filters(points, [ex.Filter("court.legitimacy0", "all")])) == len(points)
    with pytest.raises(UserError, match="filter mode"):
        ex.apply_filters(points, [ex.Filter("court.legitimacy0", "between")])
    assert ex.default_filter(points, "arrest.intercept", grid=True) == ex.Filter("arrest.intercept", "nearest",
                                                                                 value=-4.0)
    assert ex.default_filter(points, "arrest.intercept", grid=False) == ex.Filter("arrest.intercept", "range",
                                                                                  low=-4.0, high=-2.0)


def test_axes_show_values_or_bins_and_map_values_to_positions():
    few = pd.DataFrame({"point": range(4), "a": [0.2, 0.6, 0.2, 0.6]})
    axis = ex.make_axis(few, "a")
    assert list(axis.centres) == [0.2, 0.6] and axis.edges is None and list(axis.codes) == [0, 1, 0, 1]
    assert axis.position(0.4) == pytest.approx(0.5) and axis.position(0.0) == pytest.approx(-0.5)
    rng = np.random.default_rng(0)
    many = pd.DataFrame({"point": range(200), "a": rng.uniform(0, 1, 200)})
    binned = ex.make_axis(many, "a")
    assert len(binned.centres) == ex.BINS and binned.codes.between(0, ex.BINS - 1).all()
    for p, code in binned.codes.items():
        assert binned.edges[code] <= many.loc[p, "a"] <= binned.edges[code + 1]
    assert binned.position(binned.edges[0]) == pytest.approx(-0.5)
    assert binned.position(binned.edges[-1]) == pytest.approx(ex.BINS - 0.5)


def test_cells_pool_the_replicates_of_their_points(folders):
    results = load_results(folders["grid3"])
    by_key = {m.key: m for m in ex.measures(results.summary.columns, results.runs_columns)}
    x = ex.make_axis(results.points, "states.sovereignty_member")
    share = ex.cells(ex.point_values(results, by_key["p_enforced_120"], "0"), "share", x)  # pools 9 points each
    runs = results.runs.merge(results.points, on="point")
    first = runs[(runs["accused"] == 0) & (runs["states.sovereignty_member"] == 0.4)]
    k, n = enforced(first, 120).sum(), len(first)
    row = share[share["xi"] == 1].iloc[0]
    assert (row["points"], row["n"]) == (9, n) and row["value"] == pytest.approx(k / n)
    low, high = wilson_interval(k, n)
    assert (row["low"], row["high"]) == pytest.approx((float(low), float(high)))
    means = ex.cells(ex.point_values(results, by_key["mean_trips"], "0"), "mean", x)
    trips = first["trips"].to_numpy(dtype=float)
    row = means[means["xi"] == 1].iloc[0]
    half = ex.Z95 * trips.std(ddof=1) / np.sqrt(len(trips))
    assert row["value"] == pytest.approx(trips.mean()) and row["high"] - row["value"] == pytest.approx(half)


# ------------------------------------------------------------------ discovery box, lazy reading, one point


def test_discovery_box_is_read_from_its_file_and_refused_when_malformed(folders, tmp_path):
    box = read_discovery_box(folders["grid3"])
    assert list(box["parameter"]) == ["states.sovereignty_member", "court.legitimacy0"]
    assert box["high"].iloc[1] == np.inf  # an open side
    assert ex.box_limits(box, "court.legitimacy0") == (0.45, np.inf) and ex.box_limits(box, "arrest.intercept") is None
    assert read_discovery_box(folders["sweep"]) is None
    (tmp_path / "discovery.csv").write_text("name,from,to\nx,1,2\n")
    with pytest.raises(UserError, match=r"discovery.csv lacks column\(s\) parameter, low, high"):
        read_discovery_box(tmp_path)
    (tmp_path / "discovery.csv").write_text("parameter,low,high\ncourt.legitimacy0,0.8,0.2\n")
    with pytest.raises(UserError, match=r"low is above its high for court.legitimacy0"):
        read_discovery_box(tmp_path)


def test_the_box_is_drawn_where_its_limits_fall_on_the_heatmap(folders):
    from matplotlib.patches import Rectangle

    from sim.app import explorer_figures as figures

    results = load_results(folders["grid3"])
    measure = next(m for m in ex.measures(results.summary.columns, results.runs_columns) if m.key == "p_enforced_120")
    x, y = ex.make_axis(results.points, "states.sovereignty_member"), ex.make_axis(results.points, "court.legitimacy0")
    table = ex.cells(ex.point_values(results, measure, "0"), "share", x, y)
    box = (ex.box_limits(results.discovery, x.name), ex.box_limits(results.discovery, y.name))
    fig = figures.heatmap(table, measure, "0", x, y, "t", box)
    [frame] = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_gid() == "prim-box"]
    # sovereignty 0.15..0.5 on levels .2 .4 .6 .8 -> -0.25..1.5; legitimacy from 0.45 (levels .3 .5 .7) to the top
    assert frame.get_x() == pytest.approx(-0.25) and frame.get_x() + frame.get_width() == pytest.approx(1.5)
    assert frame.get_y() == pytest.approx(0.75) and frame.get_y() + frame.get_height() == pytest.approx(2.5)


def test_load_and_a_point_read_only_what_they_need(folders):
    results = load_results(folders["grid3"])
    assert results.runs_frame is None  # runs.parquet was checked, not read
    summary_measure = next(m for m in ex.measures(results.summary.columns, results.runs_columns)
                           if m.source == "summary")
    ex.point_values(results, summary_measure, "0")
    assert results.runs_frame is None
    one = results.read_runs(["point", "custody_month"], points=[7])
    assert list(one.columns) == ["point", "custody_month"] and set(one["point"]) == {7} and len(one) == 160
    km = ex.point_survival(results, 7)
    full = kaplan_meier(results.runs[results.runs["point"] == 7], 120)
    pd.testing.assert_frame_equal(km.reset_index(drop=True), full.reset_index(drop=True))
    params = ex.point_parameters(results, 7).set_index("parameter")["value"]
    assert params[list(GRID3)].tolist() == results.points.set_index("point").loc[7, list(GRID3)].tolist()
    with pytest.raises(UserError, match="point 99 is not in this folder"):
        ex.point_parameters(results, 99)


def test_folder_kinds_plug_in(folders):
    sweep, sens, grid = (load_results(folders[k]) for k in ("sweep", "sens", "grid3"))
    assert [k.name for k in ex.kinds_of(sweep)] == ["sweep"]
    assert [k.name for k in ex.kinds_of(sens)] == ["sweep", "sensitivity"]
    assert [k.name for k in ex.kinds_of(grid)] == ["sweep", "discovery"]
    table = ex.kinds_of(sens)[1].table(sens)
    first = sens.sensitivity[sens.sensitivity["measure"] == sens.sensitivity["measure"].iloc[0]]
    assert list(table["parameter"])[:len(first)] == list(first.sort_values("mu_star", ascending=False)["parameter"])
    assert list(dict.fromkeys(table["measure"])) == list(dict.fromkeys(sens.sensitivity["measure"]))
    comparison = ex.FolderKind("comparison", lambda r: (r.folder / "comparison.csv").is_file(), lambda r: "two runs")
    ex.register_kind(comparison)
    try:
        (folders["sweep"] / "comparison.csv").write_text("a\n1\n")
        assert [k.name for k in ex.kinds_of(sweep)] == ["sweep", "comparison"]
    finally:
        (folders["sweep"] / "comparison.csv").unlink()
        ex.KINDS.remove(comparison)


# ------------------------------------------------------------------ the page, in-process


def _render(folder: Path, monkeypatch):
    from sim.app import explorer

    monkeypatch.setenv(explorer.FOLDER_ENV, str(folder))
    _, rc = solara.render(solara.AppLayout(children=[explorer.Page()]), handle_error=False)
    return rc


def _figure_src(rc) -> str:
    found = [re.search(r'src="([^"]+)"', w.unsafe_innerHTML)[1] for w in rc.find(HTMLWidget).widgets
             if 'alt="explorer figure' in w.unsafe_innerHTML]
    assert len(found) == 1
    return found[0]


def _html(rc) -> str:
    return "\n".join(w.unsafe_innerHTML for w in rc.find(HTMLWidget).widgets)


def test_the_page_slices_with_a_slider_and_the_figure_changes(folders, monkeypatch):
    rc = _render(folders["grid3"], monkeypatch)
    assert rc.find(v.Select, label="Outcome").widget.v_model == "probability of custody by month 120"
    first = _figure_src(rc)
    with Image.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1]))) as im:
        assert im.size == (700, 430)
    slider = rc.find(v.Slider, label="arrest.intercept").widget  # the parameter off the axes: a slice
    slider.v_model = 2
    second = _figure_src(rc)
    assert second != first and "12 of 36 points (intercept = -2)" in _html(rc)  # the figure's alt text
    rc.find(v.Select, label="Outcome").widget.v_model = "share arrested by a host state abroad by month 60"
    assert rc.find(v.Select, label="Accused").widget.items == ["0", "1"]
    assert _figure_src(rc) != second
    assert "discovery</b>" in _html(rc)


def test_a_sensitivity_folder_opens_with_its_indices_and_a_range_slider(folders, monkeypatch):
    rc = _render(folders["sens"], monkeypatch)
    text = _html(rc)
    assert "sensitivity</b>" in text and "mu_star" in text and "arrest.intercept" in text
    first = _figure_src(rc)
    rc.find(v.BtnToggle).widgets[0].v_model = 1  # curves
    rc.find(v.Select, label="lines by").widget.v_model = "(none)"
    [brush] = rc.find(v.RangeSlider, label="court.legitimacy0").widgets  # a sampled design: a range
    low, high = brush.v_model
    brush.v_model = [low, low + (high - low) / 2]
    assert _figure_src(rc) != first


def test_a_point_shows_its_parameters_and_its_survival_curves(folders, monkeypatch):
    rc = _render(folders["sweep"], monkeypatch)
    rc.find(v.TextField, label="Point id").widget.v_model = "3"
    text = _html(rc)
    assert "<b>Point 3</b>" in text and "Kaplan-Meier curves of the chosen point" in text
    assert "<td>0.6</td>" in text  # point 3: states.sovereignty_member 0.6, prosecutor.outreach_budget 3


def test_a_point_prints_its_seed_as_an_integer(folders, monkeypatch):
    from sim.app.explorer import _cell

    results = load_results(folders["sweep"])
    params = ex.point_parameters(results, 3).set_index("parameter")["value"]
    seed = int(results.points.set_index("point").loc[3, "seed"])
    assert isinstance(params["seed"], (int, np.integer))  # read from its column: a seed of 20230317 is no 2.023e+07
    assert _cell(params["seed"]) == str(seed)
    assert _cell(0.123456) == "0.1235" and _cell(np.int64(7)) == "7" and _cell(20230317.0) == "20230317"
    rc = _render(folders["sweep"], monkeypatch)
    rc.find(v.TextField, label="Point id").widget.v_model = "3"
    tables = "".join(re.findall(r"<table.*?</table>", _html(rc), flags=re.S))
    assert f"<td>{seed}</td>" in tables and "e+0" not in tables


def test_tables_are_held_within_the_page(folders, monkeypatch):
    """Every table sits in a box that scrolls sideways rather than run off the right edge, long cells wrap."""
    from sim.app import explorer

    rc = _render(folders["sens"], monkeypatch)
    text = _html(rc)
    assert text.count("<table") == text.count("<div class='sim-table-box'><table") > 0
    assert ".sim-table-box { max-width: 100%; overflow-x: auto; }" in explorer.CSS
    assert "overflow-wrap: anywhere" in explorer.CSS


def test_a_discovery_box_starts_on_the_axes(folders, tmp_path, monkeypatch):
    """The parameters the PRIM box restricts are the default axes, so the box is on the first heatmap
    (the axes were the first two swept parameters, whatever the box)."""
    box = pd.DataFrame({"parameter": ["arrest.intercept", "court.legitimacy0"], "low": [-3.5, 0.45],
                        "high": [-1.0, None]})
    swept = list(GRID3)
    assert ex.default_axes(swept, box) == ["court.legitimacy0", "arrest.intercept", "states.sovereignty_member"]
    assert ex.default_axes(swept, None) == swept
    folder = tmp_path / "grid3"
    shutil.copytree(folders["grid3"], folder)
    box.to_csv(folder / "discovery" / "box.csv", index=False)
    rc = _render(folder, monkeypatch)
    assert rc.find(v.Select, label="x axis").widget.v_model == "court.legitimacy0"
    assert rc.find(v.Select, label="y axis").widget.v_model == "arrest.intercept"


def test_legends_stand_beside_the_curves():
    """The curves' and the survival figure's legends are outside the axes, never over a curve."""
    from sim.app import explorer_figures as figures

    results_like = make_results(Path(tempfile.mkdtemp()) / "g", grid={"court.legitimacy0": [0.3, 0.5, 0.7],
                                                                       "arrest.intercept": [-4.0, -2.0]},
                                replicates=20)
    results = load_results(results_like)
    measure = next(m for m in ex.measures(results.summary.columns, results.runs_columns) if m.key == "p_enforced_120")
    x, y = ex.make_axis(results.points, "court.legitimacy0"), ex.make_axis(results.points, "arrest.intercept")
    table = ex.cells(ex.point_values(results, measure, "0"), "share", x, y)
    km = ex.point_survival(results, 0)
    for fig in (figures.curves(table, measure, "0", x, y, "t"), figures.survival(km, "t", [1, 0])):
        fig.savefig(io.BytesIO(), format="png")  # lays the figure out as the page's PNG is
        ax = fig.axes[0]
        [legend] = [lg.get_window_extent() for lg in [*fig.legends, ax.get_legend()] if lg is not None]
        assert legend.x0 >= ax.get_window_extent().x1  # right of the axes
        assert legend.x1 <= fig.bbox.x1 + 1  # and within the figure


# ------------------------------------------------------------------ the command


def test_explore_refuses_a_missing_or_broken_folder_in_one_line(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: results folder") and err.count("\n") == 1


def test_explore_serves_the_explorer_module_on_the_folder(folders, monkeypatch, capsys):
    from sim.app import server

    seen = {}
    monkeypatch.setattr(server, "missing_assets", lambda: [])
    monkeypatch.setattr(server, "run_until_stopped", lambda cmd, env: seen.update(cmd=cmd, env=env) or 0)
    port = 8790
    assert main(["explore", str(folders["sens"]), "--port", str(port)]) == 0
    assert seen["cmd"][3:5] == ["run", "sim.app.explorer"] and "--production" in seen["cmd"]
    assert seen["env"]["SIM_EXPLORE_FOLDER"] == str(folders["sens"].resolve())
    assert seen["env"]["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"
    out = capsys.readouterr().out
    assert "sweep, sensitivity; 9 points" in out and f"http://127.0.0.1:{port}/" in out


def test_serve_refuses_a_busy_port(folders):
    import socket

    from sim.app.server import serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(UserError, match="already in use"):
            serve("sim.app.explorer", argparse.Namespace(host="127.0.0.1", port=s.getsockname()[1]), "x")


@pytest.mark.parametrize("rows_per_group", [80 * 2, 7])  # one point per row group (statistics), or mixed groups
def test_load_refuses_run_points_missing_from_points_without_reading_the_runs(folders, tmp_path, rows_per_group):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "r"
    shutil.copytree(folders["grid3"], folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    pq.write_table(pa.Table.from_pandas(runs, preserve_index=False), folder / "runs.parquet",
                   row_group_size=rows_per_group)
    assert load_results(folder, verify=False).runs_frame is None  # rewritten by hand: its hash is not the manifest's
    points = pd.read_parquet(folder / "points.parquet")
    points[points["point"] != 35].to_parquet(folder / "points.parquet", index=False)
    with pytest.raises(UserError, match=r"has point ids missing from points.parquet \(e.g. 35\)"):
        load_results(folder, verify=False)
