"""Figures of a results folder: which kinds apply, and drawing them into ``<folder>/figures/``.

The figure functions themselves (frames in, a Figure out) are in sim.analysis.plots.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from matplotlib.figure import Figure

from sim.analysis import style
from sim.analysis.metrics import route_shares
from sim.analysis.plots import (
    KINDS,
    choose_points,
    curves_figure,
    heatmap_figure,
    is_grid,
    label_names,
    morris_figure,
    paired_figure,
    point_label,
    ranking_figure,
    routes_figure,
    sobol_figure,
    survival_figure,
    words,
)
from sim.analysis.survival import kaplan_meier
from sim.errors import UserError
from sim.experiments import store
from sim.experiments.layout import FIGURES
from sim.experiments.results import Results, load_results
from sim.model.params import BY_NAME


def applicable_kinds(results: Results) -> dict[str, str]:
    """Each kind mapped to '' when it can be drawn from ``results``, else the reason it cannot."""
    swept = results.swept
    sens = results.sensitivity
    method = str(sens["method"].iloc[0]) if sens is not None and "method" in sens and len(sens) else None
    reasons = {
        "heatmap": "" if len(swept) == 2 and is_grid(results.points, swept) else
        f"needs exactly two swept parameters on a grid, this folder sweeps {len(swept)}"
        + ("" if len(swept) != 2 else " not on a grid"),
        "curves": "" if len(swept) == 1 or (len(swept) == 2 and is_grid(results.points, swept)) else
        f"needs one swept parameter or two on a grid, this folder sweeps {len(swept)}",
        "survival": "",
        "routes": "",
        "sobol": "" if method == "sobol" else "needs sensitivity.csv from `python -m sim sensitivity` (sobol)",
        "morris": "" if method == "morris" else "needs sensitivity.csv from `python -m sim sensitivity` (morris)",
        "ranking": "" if method else "needs sensitivity.csv from `python -m sim sensitivity`",
        "paired": "" if results.paired is not None else "needs paired.csv from `python -m sim compare`",
    }
    return reasons


def figure(results: Results, kind: str, horizon: int | None = None) -> Figure:
    """The figure of one kind for a loaded results folder (at the longest horizon by default)."""
    horizons = results.horizons or [int(results.run_length().max())]
    h = int(horizon if horizon is not None else horizons[-1])
    if h not in horizons and kind in ("heatmap", "curves", "survival"):
        raise UserError(f"horizon {h} is not in the summary (it has {', '.join(map(str, horizons))})")
    n_rep, n_pts = results.n_replicates, len(results.points)
    hos = style.head_of_state(results.parameters)
    swept = results.swept
    if kind == "heatmap":
        return heatmap_figure(results.summary, results.points, swept[0], swept[1], h, n_rep, hos)
    if kind == "curves":
        return curves_figure(results.summary, results.points, swept[0], h, n_rep,
                             swept[1] if len(swept) > 1 else None, hos)
    if kind == "survival":
        chosen = choose_points(results.summary, h)
        runs = results.runs[results.runs["point"].isin(chosen)]
        length = results.run_length()
        km = kaplan_meier(runs, length, until=int(length.loc[chosen].min()))
        named = label_names(results.points, chosen, swept)
        labels = {p: point_label(results.points, p, named, keyed=len(swept) > len(named)) for p in chosen}
        return survival_figure(km, labels, n_pts, n_rep, hos, names=named, swept_total=len(swept))
    if kind == "routes":
        shares = route_shares(results.runs, ("point", "accused"), horizon=h)
        return routes_figure(shares, results.points, swept, h, n_rep, hos)
    if kind == "sobol":
        return sobol_figure(results.sensitivity, n_pts, n_rep)
    if kind == "morris":
        return morris_figure(results.sensitivity, n_pts, n_rep)
    if kind == "ranking":
        return ranking_figure(results.sensitivity, n_pts, n_rep)
    if kind == "paired":
        return paired_figure(results.paired, n_rep, hos, alternative_titles(results.manifest))
    raise UserError(f"unknown figure kind '{kind}'; choose from {', '.join(KINDS)}")


def alternative_titles(manifest: dict) -> dict[str, str]:
    """Each alternative of a comparison in words, from its manifest: its name, then what it changes
    ('Sealed: probability that a warrant is issued under seal = 1')."""
    titles = {}
    for alt in (manifest.get("comparison") or {}).get("alternatives", []):
        changes = "; ".join(change_text(k, v) for k, v in (alt.get("changes") or {}).items())
        titles[alt["name"]] = f"{words(alt['name'])}: {changes}" if changes else words(alt["name"])
    return titles


def change_text(name: str, value: object) -> str:
    """One parameter change in words: the schema's description (up to its first colon or parenthesis)
    and the value; per-state values of the real roster as 'MNG compliance 0.9'."""
    if name == "scenario.states" and isinstance(value, dict):
        return "; ".join(f"{iso} {attr} = {style.fmt_value(v) if isinstance(v, (int, float)) else v}"
                         for iso, attrs in value.items() for attr, v in dict(attrs).items())
    p = BY_NAME.get(name.partition("[")[0])
    what = (p.doc.split(":")[0].split(" (")[0] if p is not None and p.doc else name)
    shown = ", ".join(map(str, value)) if isinstance(value, list) else (
        style.fmt_value(value) if isinstance(value, (int, float)) else str(value))
    return f"{what} = {shown}"


def draw_figures(folder: Path, kinds: list[str] | None = None, results: Results | None = None) -> list[Path]:
    """Draw figures of a results folder into ``<folder>/figures/`` (PNG and SVG); return the paths.

    ``kinds=None`` draws every kind that applies; a requested kind that does not apply, or an
    unknown one, is a UserError naming it. ``results``: the folder already loaded.
    """
    results = results if results is not None else load_results(folder)
    reasons = applicable_kinds(results)
    if kinds is None:
        chosen = [k for k in KINDS if not reasons[k]]
    else:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise UserError(f"unknown figure kind '{unknown[0]}'; choose from {', '.join(KINDS)}")
        bad = [k for k in kinds if reasons[k]]
        if bad:
            raise UserError(f"cannot draw '{bad[0]}' from {folder}: {reasons[bad[0]]}")
        chosen = list(dict.fromkeys(kinds))
    out = Path(folder) / FIGURES
    paths: list[Path] = []
    for kind in chosen:
        paths += save(figure(results, kind), out, kind)
    return paths


def save(fig: Figure, out: Path, kind: str) -> list[Path]:
    """Draw a figure's files (sim.analysis.style.save) in a temporary folder, then rename each into ``out``:
    an interrupted draw leaves no half-written figure, and its temporary folder (marked as the tool's) is removed
    on the next run."""
    if out.is_symlink():
        raise UserError(f"{out} is a symbolic link; a results folder holds plain folders only: replace the link "
                        f"by the folder it points to")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with store.temporary_folder(out.parent, FIGURES) as tmp:
            drawn = style.save(fig, tmp, kind)
            for path in drawn:
                os.replace(path, out / path.name)
    except OSError as exc:
        raise store.write_failed(out / kind, exc) from None
    return [out / path.name for path in drawn]


def draw(folder: Path, kinds: list[str]) -> list[Path]:
    """Draw each figure kind a config asks for; a kind that fails is a warning, not a lost sweep."""
    paths: list[Path] = []
    reasons: dict[str, str] = {}
    with contextlib.suppress(Exception):  # a folder that cannot be read: each kind below reports it
        reasons = applicable_kinds(load_results(folder))
    for kind in kinds:
        if reasons.get(kind):  # this folder cannot have that figure: say why, and advise no redraw
            sys.stderr.write(f"warning: figure '{kind}' not drawn: it {reasons[kind]}\n")
            continue
        try:
            paths.extend(Path(p) for p in draw_figures(folder, [kind]))
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            sys.stderr.write(f"warning: figure '{kind}' skipped ({first}); "
                             f"redraw with `python -m sim plot {folder} --kind {kind}`\n")
    return paths
