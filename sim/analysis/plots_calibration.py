"""Figures of a calibration: the posterior against the prior, the record against replicated records,
the out-of-sample predictions, and the coverage of simulation-based calibration. Frames in, Figures out."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.analysis import style
from sim.analysis.inference import Prior, describe_statistic
from sim.model.params import lookup

POSTERIOR = "#0072B2"
PRIOR = "#9A9A9A"
TRUTH = "#D55E00"
RECORD = "#000000"


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=style.DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def parameter_axis_label(prior: Prior, width: int = 26) -> str:
    """A parameter's meaning (from the schema) and unit, then its dotted name."""
    p = lookup(prior.name)
    text = p.doc + (f" [{p.unit}]" if p.unit else "")
    return "\n".join(textwrap.wrap(text, width)[:3]) + f"\n({prior.name})"


def pairs_figure(population: pd.DataFrame, priors: Sequence[Prior], truth: dict[str, float] | None = None,
                 title: str = "") -> Figure:
    """Corner plot: each parameter's weighted posterior histogram over its prior density (diagonal), and
    weighted posterior samples for each pair (below). Log-uniform priors get log axes."""
    k = len(priors)
    size = max(3.6, 1.75 * k)
    with style.rc():
        fig = _figure(size, size)
        axes = fig.subplots(k, k, squeeze=False)
        w = population["weight"].to_numpy(float)
        for i, pi in enumerate(priors):
            for j, pj in enumerate(priors):
                ax = axes[i, j]
                if j > i:
                    ax.set_visible(False)
                    continue
                log_x = pj.dist == "loguniform"
                if i == j:
                    edges = (np.geomspace(pi.low, pi.high, 21) if log_x else np.linspace(pi.low, pi.high, 21))
                    ax.hist(population[pi.name], bins=edges, weights=w, density=True, color=POSTERIOR, alpha=0.8,
                            label="posterior")
                    grid = np.geomspace(pi.low, pi.high, 200) if log_x else np.linspace(pi.low, pi.high, 200)
                    ax.plot(grid, pi.scipy().pdf(grid), color=PRIOR, lw=1.2, label="prior")
                    ax.set_yticks([])
                    if truth:
                        ax.axvline(truth[pi.name], color=TRUTH, lw=1.4, label="true value")
                else:
                    ax.scatter(population[pj.name], population[pi.name], s=4 + 40 * w / w.max(), color=POSTERIOR,
                               alpha=0.35, linewidths=0)
                    if truth:
                        ax.plot(truth[pj.name], truth[pi.name], marker="x", color=TRUTH, ms=7, mew=1.8)
                    ax.set_ylim(pi.low, pi.high)
                    if pi.dist == "loguniform":
                        ax.set_yscale("log")
                ax.set_xlim(pj.low, pj.high)
                if log_x:
                    ax.set_xscale("log")
                if i == k - 1:
                    ax.set_xlabel(parameter_axis_label(pj), fontsize=6.5)
                else:
                    ax.set_xticklabels([])
                if j == 0 and i > 0:
                    ax.set_ylabel(parameter_axis_label(pi), fontsize=6.5)
                elif j > 0:
                    ax.set_yticklabels([])
                ax.tick_params(labelsize=6)
        axes[0, 0].legend(loc="upper right", fontsize=6)
        fig.suptitle(title or f"Posterior ({len(population):,} weighted particles) over the prior", fontsize=9)
    return fig


def _interval_panel(ax, rows: pd.DataFrame, value: str, label_of, log: bool = False) -> None:
    y = np.arange(len(rows))[::-1]
    ax.hlines(y, rows["low_90"], rows["high_90"], color=POSTERIOR, lw=1.2, alpha=0.55, label="90% predictive")
    ax.hlines(y, rows["low_50"], rows["high_50"], color=POSTERIOR, lw=4.0, alpha=0.9, label="50% predictive")
    ax.plot(rows[value], y, "o", color=RECORD, ms=3.5, label="the record")
    ax.set_yticks(y)
    ax.set_yticklabels([label_of(r) for _, r in rows.iterrows()], fontsize=6.5)
    if log:
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_xlim(left=0)


def _stat_label(row: pd.Series) -> str:
    name = row["statistic"]
    text = describe_statistic(name).replace(" (Aalen-Johansen, censored)", "")
    p = row.get("p_value", np.nan)
    return "\n".join(textwrap.wrap(text, 46)) + (f"  (p = {p:.2f})" if np.isfinite(p) else "")


def predictive_figure(table: pd.DataFrame, n_draws: int, n_warrants: int, title: str = "") -> Figure:
    """The record's summaries against the distribution of replicated records at posterior draws: 50% and
    90% central intervals, the record's value, and the two-sided predictive p-value per statistic."""
    cif = table[table["statistic"].str.startswith("cif_")]
    rates = table[~table["statistic"].str.startswith("cif_")]
    with style.rc():
        fig = _figure(style.WIDTH, 1.2 + 0.27 * len(table))
        top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [max(1, len(cif)), max(1, len(rates))]})
        _interval_panel(top, cif, "record", _stat_label)
        top.set_xlim(-0.02, 1.02)
        top.set_xlabel("cumulative incidence (share of warrants)")
        top.legend(loc="lower right", fontsize=6.5)
        _interval_panel(bottom, rates, "record", _stat_label, log=True)
        bottom.set_xlabel("rate per year (log scale)")
        fig.suptitle(title or f"Posterior predictive check: the record ({n_warrants} warrants) against "
                              f"{n_draws} replicated records", fontsize=9)
    return fig


def out_of_sample_figure(table: pd.DataFrame, since: str, until: str) -> Figure:
    """What the record shows after ``since`` against the predictions of a fit on what was known then."""
    labels = {"events_arrested_by_host": "warrants surrendered by a host abroad",
              "events_domestic_surrender": "warrants surrendered by the home state",
              "events_detained": "warrants detained at home (not surrendered)",
              "findings_rate_new": "findings per run-year (new warrants)",
              "withdrawal_rate_new": "withdrawals per member-year (new warrants' runs)",
              "accession_rate_new": "accessions per non-member-year (new warrants' runs)"}
    events = table[table["outcome"].str.startswith("events_")]
    rates = table[~table["outcome"].str.startswith("events_")]
    with style.rc():
        fig = _figure(style.WIDTH, 3.4)
        left, right = fig.subplots(1, 2)
        for ax, rows, log in ((left, events, False), (right, rates, True)):
            _interval_panel(ax, rows, "record", lambda r: "\n".join(textwrap.wrap(labels.get(r["outcome"],
                                                                                                r["outcome"]), 28)),
                            log=log)
        left.set_xlabel(f"events after {since} (count)")
        right.set_xlabel("rate (log scale)")
        left.legend(loc="lower right", fontsize=6)
        fig.suptitle(f"Out of sample: calibrated on the record as of {since}, predicting {since} to {until}",
                     fontsize=9)
    return fig


def sbc_figure(ranks: pd.DataFrame, coverage: pd.DataFrame, n_ranks: int) -> Figure:
    """Simulation-based calibration: rank histograms per parameter (uniform when calibrated, with the 99%
    band of a uniform histogram) and the coverage of the 50% and 90% intervals with 95% binomial bounds."""
    from scipy import stats as sps

    params = list(dict.fromkeys(ranks["parameter"]))
    k = len(params)
    bins = 10
    with style.rc():
        rows = (k + 3) // 4
        fig = _figure(style.WIDTH, 1.9 + 1.25 * rows)
        spec = fig.add_gridspec(rows + 1, 4, height_ratios=[1.0] * rows + [1.5])
        hists = [fig.add_subplot(spec[i // 4, i % 4]) for i in range(k)]
        n = ranks.groupby("parameter").size().max()
        lo, hi = sps.binom(n, 1 / bins).ppf([0.005, 0.995])
        for ax, name in zip(hists, params):
            r = ranks.loc[ranks["parameter"] == name, "rank"].to_numpy()
            ax.axhspan(lo, hi, color=PRIOR, alpha=0.25, lw=0)
            ax.hist(r, bins=bins, range=(-0.5, n_ranks + 0.5), color=POSTERIOR)
            ax.set_title(name, fontsize=6.5)
            ax.set_yticks([])
            ax.tick_params(labelsize=6)
        cov = fig.add_subplot(spec[rows, :])
        x = np.arange(len(params))
        for offset, level, color in ((-0.15, 0.5, "#56B4E9"), (0.15, 0.9, POSTERIOR)):
            c = coverage[coverage["level"] == level].set_index("parameter").reindex(params)
            cov.errorbar(x + offset, c["coverage"], yerr=[c["coverage"] - c["coverage_low"],
                                                          c["coverage_high"] - c["coverage"]],
                         fmt="o", color=color, capsize=2, ms=3, label=f"{int(level * 100)}% intervals")
            cov.axhline(level, color=color, lw=0.8, ls="--")
        cov.set_xticks(x)
        cov.set_xticklabels(params, rotation=20, ha="right", fontsize=6)
        cov.set_ylim(0, 1.02)
        cov.set_ylabel("coverage")
        cov.legend(fontsize=6, loc="lower left")
        fig.suptitle(f"Simulation-based calibration: {n} pseudo-records drawn from the prior", fontsize=9)
    return fig
