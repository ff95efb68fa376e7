"""Matplotlib figures as images on a Solara page: a PNG data URL, and the <img> that shows it at the
size it was drawn for."""

from __future__ import annotations

import base64
import html
import io

import solara
from matplotlib.figure import Figure

SCREEN_DPI = 100  # CSS pixels per figure inch: a figure of W inches is shown W * 100 px wide
SHARPNESS = 2  # PNG pixels per CSS pixel


def png_url(fig: Figure, dpi: float = SCREEN_DPI) -> str:
    """The figure as a PNG data URL (what the page's <img> shows); ``SCREEN_DPI * SHARPNESS`` for a sharp one."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def css_width(fig: Figure) -> int:
    """The width in CSS pixels at which ``fig``'s text has the point sizes it was drawn with."""
    return round(fig.get_figwidth() * SCREEN_DPI)


@solara.component
def Picture(url: str, alt: str, width: int | None = None):
    """An image in its tile: ``width`` CSS pixels wide (its drawn size) where the tile allows, never wider
    than the tile; without ``width``, scaled to fit about 370 px of height."""
    size = (f'width="{width}" style="display:block;max-width:100%;height:auto;margin:auto"' if width else
            'style="display:block;max-width:100%;max-height:370px;margin:auto"')
    solara.HTML(tag="div", unsafe_innerHTML=f'<img src="{url}" alt="{html.escape(alt)}" {size}>',
                style={"width": "100%"})
