"""Start-up warnings of Mesa and Solara that tell a user of the app nothing, filtered at their source.

Each filter names the message, category and module it silences, so any other warning still shows.
``sim/app/__init__.py`` installs them before Mesa or Solara is imported (Solara checks Mesa's
components when they are defined, at import).
"""

from __future__ import annotations

import warnings

# (message regex, category, module regex of the warning's source): why it is noise here
FILTERS: tuple[tuple[str, type[Warning], str], ...] = (
    # Solara's rules-of-hooks check on Mesa's own ComponentsView (mesa/visualization/solara_viz.py), not our code
    (r".*found despite early return", UserWarning, r"solara\.validate_hooks"),
    # the app is served over plain http on this machine; Solara falls back to samesite=lax cookies, as it should
    (r"Cookies with samesite=none require https", UserWarning, r"solara\.server\.starlette"),
)


def install() -> None:
    """Add the filters (idempotent: warnings.filterwarnings keeps one copy of an identical filter)."""
    for message, category, module in FILTERS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
