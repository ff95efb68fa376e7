"""Figures of a posterior estimator's validation: SBC rank histograms and ECDF differences with their bands,
TARP's expected coverage with its bootstrap band, the forecast's coverage, and two posteriors of the record
side by side. Frames in, Figures out (sim.analysis.validation computes what they show)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis import style
from sim.analysis.inference import Prior
from sim.analysis.plots_calibration import POSTERIOR, PRIOR, TRUTH, _figure
from sim.analysis.validation import ecdf_band, ecdf_difference, histogram_band

COLUMNS = 5
BINS = 20
GRID = np.linspace(0.01, 0.99, 99)


def sbc_ranks_figure(ranks: pd.DataFrame, table: pd.DataFrame, seed: int = 0) -> Figure:
    """Per parameter: the histogram of SBC ranks in 20 bins with the central 99% band of one bin's count under
    uniform ranks, and below it the ECDF of the fractional ranks minus the uniform CDF with its simultaneous 95%
    band (Säilynoja et al. 2022). Outside a band: miscalibrated (a ∪ or a hump in the histogram, an ECDF
    difference below then above zero: overconfident or underconfident; one-sided: biased)."""
    names = list(dict.fromkeys(ranks["parameter"]))
    n_draws = int(ranks["L"].iloc[0])
    records = int(ranks.groupby("parameter").size().max())
    lo, hi = histogram_band(records, BINS, 0.99)
    band_low, band_high = ecdf_band(records, n_draws, GRID, seed=seed)
    stats = table.set_index("parameter")
    rows = -(-len(names) // COLUMNS)
    with style.rc():
        fig = _figure(style.WIDTH, 0.5 + 2.3 * rows)
        spec = fig.add_gridspec(2 * rows, COLUMNS)
        for i, name in enumerate(names):
            r = ranks.loc[ranks["parameter"] == name, "rank"].to_numpy()
            top = fig.add_subplot(spec[2 * (i // COLUMNS), i % COLUMNS])
            top.axhspan(lo, hi, color=PRIOR, alpha=0.3, lw=0)
            top.hist(r, bins=BINS, range=(-0.5, n_draws + 0.5), color=POSTERIOR)
            top.set_title(f"{name}\nKS p = {stats.loc[name, 'ks_p']:.2f}", fontsize=6)
            top.set_yticks([])
            top.set_xticks([0, n_draws])
            top.tick_params(labelsize=5.5)
            bottom = fig.add_subplot(spec[2 * (i // COLUMNS) + 1, i % COLUMNS])
            bottom.fill_between(GRID, band_low, band_high, color=PRIOR, alpha=0.3, lw=0)
            bottom.plot(GRID, ecdf_difference(r, n_draws, GRID), color=POSTERIOR, lw=1.0)
            bottom.axhline(0, color="black", lw=0.5)
            bottom.set_xticks([0, 1])
            bottom.tick_params(labelsize=5.5)
            if i % COLUMNS == 0:
                top.set_ylabel("records", fontsize=6)
                bottom.set_ylabel("ECDF − uniform", fontsize=6)
        fig.suptitle(f"Simulation-based calibration: {records:,} pseudo-records, ranks among {n_draws:,} posterior "
                     "draws (bands: 99% per bin; 95% simultaneous)", fontsize=8.5)
    return fig


def tarp_figure(table: pd.DataFrame, atc: float, ks_p: float, records: int) -> Figure:
    """TARP: expected coverage of the posterior's credible regions against their credibility, with its 95%
    bootstrap bands (pointwise, and simultaneous); calibrated when the diagonal lies inside the band."""
    with style.rc():
        fig = _figure(3.6, 3.4)
        ax = fig.add_subplot()
        ax.fill_between(table["alpha"], table["band_low"], table["band_high"], color=PRIOR, alpha=0.3, lw=0,
                        label="95% bootstrap band (simultaneous)")
        ax.fill_between(table["alpha"], table["low"], table["high"], color=POSTERIOR, alpha=0.25, lw=0,
                        label="95% bootstrap band (pointwise)")
        ax.plot(table["alpha"], table["ecp"], color=POSTERIOR, lw=1.4, label="expected coverage")
        ax.plot([0, 1], [0, 1], color="black", lw=0.7, ls="--", label="ideal")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("credibility level α")
        ax.set_ylabel("expected coverage")
        ax.legend(loc="upper left", fontsize=6)
        ax.set_title(f"TARP over {records:,} pseudo-records\narea to the curve {atc:+.3f}, KS p = {ks_p:.2f}",
                     fontsize=8)
    return fig


def forecast_coverage_figure(frame: pd.DataFrame, summary: pd.Series, person: str, until: str) -> Figure:
    """Each checked pseudo-record's forecast interval for the probability of custody (90% over posterior draws)
    and the truth's probability, ordered by the truth; red where the interval misses it. Records the forecast
    refuses (``answered`` False) are left out, as the coverage leaves them out."""
    if "answered" in frame.columns:
        frame = frame[frame["answered"].astype(bool)]
    order = frame.sort_values(["truth", "record"]).reset_index(drop=True)
    miss = (order["truth"] < order["low"]) | (order["truth"] > order["high"])
    x = np.arange(len(order))
    with style.rc():
        fig = _figure(style.WIDTH, 3.0)
        ax = fig.add_subplot()
        ax.vlines(x[~miss], order["low"][~miss], order["high"][~miss], color=POSTERIOR, lw=0.8, alpha=0.7,
                  label="forecast: 90% interval over posterior draws")
        ax.vlines(x[miss], order["low"][miss], order["high"][miss], color=TRUTH, lw=0.8, label="misses the truth")
        ax.plot(x, order["truth"], ".", color="black", ms=2.0, label="truth: at the true parameters")
        ax.set_xlabel("pseudo-record (ordered by the truth's probability)")
        ax.set_ylabel(f"P(custody by {until})")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="upper left", fontsize=6.5)
        ax.set_title(f"The forecast's coverage for {person}: {int(summary['covered'])} of {int(summary['records'])} "
                     f"intervals hold the truth ({summary['coverage']:.2f}, 95% Wilson "
                     f"[{summary['coverage_low']:.2f}, {summary['coverage_high']:.2f}]; "
                     f"{int(summary.get('refused', 0))} refused)", fontsize=8)
    return fig


def cross_check_figure(first: pd.DataFrame, second: pd.DataFrame, priors: Sequence[Prior], table: pd.DataFrame,
                       labels: tuple[str, str] = ("NPE", "ABC-SMC")) -> Figure:
    """Each parameter's marginal posterior of the record by two methods over its prior range, with their overlap."""
    rows = -(-len(priors) // COLUMNS)
    overlap = table.set_index("parameter")["overlap"]
    with style.rc():
        fig = _figure(style.WIDTH, 0.6 + 1.5 * rows)
        for i, p in enumerate(priors):
            ax = fig.add_subplot(rows, COLUMNS, i + 1)
            log = p.dist == "loguniform"
            edges = np.geomspace(p.low, p.high, 26) if log else np.linspace(p.low, p.high, 26)
            for frame, color, label in ((first, POSTERIOR, labels[0]), (second, TRUTH, labels[1])):
                ax.hist(frame[p.name], bins=list(edges), density=True, histtype="step", color=color, lw=1.1,
                        label=label)
            if log:
                ax.set_xscale("log")
            ax.set_yticks([])
            ax.tick_params(labelsize=5.5)
            ax.set_title(f"{p.name}\noverlap {overlap[p.name]:.2f}", fontsize=6)
            if i == 0:
                ax.legend(fontsize=5.5, loc="upper right")
        fig.suptitle(f"The record's posterior by {labels[0]} and by {labels[1]}", fontsize=8.5)
    return fig
