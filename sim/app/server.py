"""Serve the browser faces (``python -m sim viz``, ``python -m sim explore``) and check that their
front end is installed.

Solara's page loads its front end (Vue, Vuetify, RequireJS, fonts: npm packages) through its
server, which looks in a cache folder first, ``<sys.prefix>/share/solara/cdn/``, and only then in a
public CDN. The PyPI package solara-assets (a dependency of this project) puts those packages in
that folder at install time, so the page needs no internet; ``required_assets`` reads which
packages and versions the installed Solara asks for, and a test checks that every one is there.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sim.errors import UserError

APP = "sim.app.app"  # run as a module, so that sim/app/__init__.py quiets start-up warnings first
TELEMETRY_OFF = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_S = 10  # seconds the server has to stop after a forwarded signal, before it is killed

# "<cdn>/<package>@<version>/<file>" as written in Solara's page template and widgets; the
# package may be scoped (@scope/name), the version exact (10.1.1) or a major (vega@5).
_CDN_REF = re.compile(r"(?:\{\{cdn\}\}|getCdn\(\)\}|^)/((?:@[\w.-]+/)?[\w.-]+)@([\w.+-]+)/")


@dataclass(frozen=True)
class Asset:
    """One npm package as the page asks for it: cache folder name ``<package>@<version>``."""

    package: str
    version: str

    @property
    def folder(self) -> str:
        return f"{self.package}@{self.version}"


# ---------------------------------------------------------------- serving


def viz_command(args: argparse.Namespace) -> int:
    """Serve the model app (``solara run sim.app.app --production``) on host:port until stopped."""
    return serve(APP, args, "the app")


def serve(app: str, args: argparse.Namespace, what: str, env: dict[str, str] | None = None) -> int:
    """Run ``solara run APP --production`` on ``args.host``:``args.port``, telemetry off, until stopped.

    A SIGTERM, SIGINT (Ctrl-C) or SIGHUP to this process is passed on to the server, which then has
    STOP_GRACE_S seconds to close before it is killed: no server outlives this process.
    """
    host = getattr(args, "host", "127.0.0.1")
    port = int(getattr(args, "port", 8765))
    if not 0 < port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {port}")
    if not _port_free(host, port):
        raise UserError(f"port {port} on {host} is already in use; stop the other server or choose --port")
    missing = missing_assets()
    if missing:
        sys.stderr.write(f"note: {len(missing)} of Solara's front-end packages are not installed in {cache_dir()} "
                         f"({', '.join(a.folder for a in missing)}); the page fetches them from the internet. "
                         "Reinstall the project (`pip install -e .`, which brings solara-assets) to have them here\n")
    print(f"Opening {what} at http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    return run_until_stopped(solara_command(host, port, app), {**os.environ, **TELEMETRY_OFF, **(env or {})})


def run_until_stopped(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` as a child; forward stop signals to it and wait for it; 0 after a requested stop.

    The child has its own session, so a terminal's Ctrl-C reaches it once, through this process.
    """
    child = subprocess.Popen(command, env=env, start_new_session=True)
    stopped: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        stopped.append(signum)
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        while True:
            try:
                code = child.wait(timeout=STOP_GRACE_S if stopped else None)
                return 0 if stopped else code
            except subprocess.TimeoutExpired:  # asked to stop, but the server hangs on
                child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()
            child.wait()


def solara_command(host: str = "127.0.0.1", port: int = 8765, app: str = APP) -> list[str]:
    """The ``solara run`` command line that serves ``app`` (a module) in production mode."""
    return [sys.executable, "-m", "solara", "run", app, "--production", "--no-open",
            "--host", host, "--port", str(port)]


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------- offline assets


# Solara's widgets that load npm packages of their own and that the app and the explorer use: the grid of tiles
# (solara.GridDraggable). Altair figures (vegalite.vue: vega@5, vega-lite@5, vega-embed@6) are not used.
PAGE_WIDGETS = ("gridlayout.vue", "gridlayout_v3.vue")


def required_assets() -> list[Asset]:
    """The npm packages the pages load, read from the installed Solara's template and the widgets they use.

    The versions are the ones this Solara pins, so an upgrade of Solara changes the list by itself.
    """
    import ipyvue
    import solara.server.settings as server_settings

    solara_root = resources.files("solara")
    vue3 = ipyvue.__version__.startswith("3")
    sources = [(solara_root / "server" / "templates" / "solara.html.j2").read_text(encoding="utf-8")]
    sources += [(solara_root / "widgets" / "vue" / name).read_text(encoding="utf-8") for name in PAGE_WIDGETS]
    if server_settings.assets.fontawesome_enabled:
        sources.append(server_settings.assets.fontawesome_path)
    found: dict[str, Asset] = {}
    for text in sources:
        for line in text.splitlines():
            for m in _CDN_REF.finditer(line.strip()):
                asset = Asset(m[1], m[2])
                if _for_this_vue(asset, vue3):
                    found.setdefault(asset.folder, asset)
    if not any("solara-vuetify" in a.package for a in found.values()):
        raise UserError("could not find Solara's front-end package in its page template; "
                        "this Solara version is not supported, please report it")
    return sorted(found.values(), key=lambda a: a.folder)


def _for_this_vue(asset: Asset, vue3: bool) -> bool:
    """The template offers a Vue 2 and a Vue 3 front end; the installed ipyvue picks one."""
    if asset.package.endswith("solara-vuetify3-app"):
        return vue3
    if asset.package.endswith("solara-vuetify-app"):
        return not vue3
    return True


def cache_dir() -> Path:
    """Solara's CDN cache folder (``SOLARA_ASSETS_PROXY_CACHE_DIR``, default ``<sys.prefix>/share/solara/cdn``)."""
    import solara.server.settings as server_settings

    return Path(server_settings.assets.proxy_cache_dir)


def is_cached(folder: Path) -> bool:
    """A package is cached when unpacked whole: its package.json is there (Solara's own
    on-demand caching writes single files, never package.json)."""
    return (folder / "package.json").is_file()


def missing_assets(assets: Iterable[Asset] | None = None, root: Path | None = None) -> list[Asset]:
    """The packages of ``assets`` (default: those the installed Solara asks for) not whole in ``root``."""
    root = cache_dir() if root is None else root
    return [a for a in (required_assets() if assets is None else assets) if not is_cached(root / a.folder)]
