"""One look for every figure: sizes, fonts, colours, labels from the parameter schema, and saving.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas (no pyplot state, the global
backend untouched) inside ``rc()``; files are written byte-for-byte reproducibly (no timestamp or
software tag, fixed SVG hash salt).
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.model.params import lookup
from sim.names import ALL_ACCUSED

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

DPI = 200
WIDTH = 7.0  # inches: the full text width of a journal page
SIZES = {  # (width, height) in inches per figure kind
    "heatmap": (WIDTH, 2.9),
    "curves": (WIDTH, 4.4),
    "survival": (WIDTH, 3.3),
    "routes": (WIDTH, 4.6),
    "sobol": (WIDTH, 5.0),
    "morris": (WIDTH, 4.6),
    "ranking": (WIDTH, 6.4),
    "paired": (WIDTH, 3.6),
    "tradeoff": (WIDTH, 3.6),
    "box_limits": (WIDTH, 3.0),
    "fan": (WIDTH, 3.6),
}
# Okabe-Ito colours: distinguishable with common colour-vision deficiencies and in greyscale print
ACCUSED_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00")
ALL_COLOR = "#222222"
ROUTE_COLORS = {"arrested_by_host": "#0072B2", "domestic_surrender": "#E69F00", "none": "#DDDDDD"}
ROUTE_LABELS = {"arrested_by_host": "arrested by a host state abroad",
                "domestic_surrender": "handed over after a change of government at home",
                "none": "not in custody"}
SERIES_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
SEQUENTIAL = "viridis"
SVG_SALT = "tribunal-sim"

RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.titleweight": "normal",
    "axes.labelsize": 8.5,
    "axes.linewidth": 0.7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#E4E4E4",
    "grid.linewidth": 0.6,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "figure.titlesize": 10,
    "figure.titleweight": "bold",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": SVG_SALT,
    "svg.fonttype": "path",
    "image.cmap": SEQUENTIAL,
}


@contextlib.contextmanager
def rc() -> Iterator[None]:
    """The project's matplotlib settings, for building and saving a figure."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(kind: str) -> Figure:
    """An empty figure of the kind's size with constrained layout (so its pixel size is fixed), on
    its own Agg canvas: no pyplot, no display, and the caller's backend (a notebook's) untouched."""
    fig = Figure(figsize=SIZES[kind], dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def pixel_size(kind: str) -> tuple[int, int]:
    """(width, height) in pixels of a kind's PNG."""
    w, h = SIZES[kind]
    return round(w * DPI), round(h * DPI)


def save(fig: Figure, folder: Path, stem: str) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` reproducibly; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    with rc():
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return [png, svg]


def parameter_label(name: str, width: int = 48, brief: bool = False) -> str:
    """Axis label of a parameter: its schema description (and unit), then its dotted name."""
    base, _, index = name.partition("[")
    p = lookup(base)
    doc = p.doc
    if index:
        doc += f" (accused {index.rstrip(']')})"
    if p.unit:
        doc += f" [{p.unit}]"
    if brief:
        return name
    return "\n".join(textwrap.wrap(doc, width)) + f"\n{name}"


ALL_LABEL = "all accused"
ALL_MEANS = "every one in custody"  # what "all accused" means for custody: the joint event, on every figure


def is_all(accused: object) -> bool:
    """Whether ``accused`` stands for all accused (``ALL_ACCUSED``, or "all" in a folder of an older version)."""
    return str(accused) in ("all", str(ALL_ACCUSED))


def accused_label(accused: int | str, head_of_state: list[int] | None = None) -> str:
    """'accused 0 (head of state)', 'accused 1 (senior official)', or 'all accused' (figures that show the
    latter say what it means: ALL_MEANS)."""
    if is_all(accused):
        return ALL_LABEL
    j = int(accused)
    if head_of_state is None or j >= len(head_of_state):
        return f"accused {j}"
    return f"accused {j} ({'head of state' if head_of_state[j] else 'senior official'})"


def accused_color(accused: int | str) -> str:
    return ALL_COLOR if is_all(accused) else ACCUSED_COLORS[int(accused) % len(ACCUSED_COLORS)]


def fmt_value(value: Any) -> str:
    """A swept value for ticks and legends: short, without float noise."""
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        return f"{float(value):.4g}"
    return str(value)


def fmt_tick(value: Any) -> str:
    """A compact tick label: ``0.25`` -> ``.25`` for values between -1 and 1."""
    text = fmt_value(value)
    if text.startswith("0.") or text.startswith("-0."):
        text = text.replace("0.", ".", 1)
    return text


def replicates_text(n_points: int, n_replicates: int) -> str:
    pts = f"{n_points:,} point" + ("s" if n_points != 1 else "")
    return f"{pts} × {n_replicates:,} replicates"


def head_of_state(parameters: Mapping[str, Any]) -> list[int] | None:
    value = parameters.get("accused.head_of_state")
    return list(value) if isinstance(value, (list, tuple)) else lookup("accused.head_of_state").default
