"""Test selection: the fast set by default; CI (CI=true) or --all runs slow, browser and notebook tests too."""

import os

LONG_MARKS = ("slow", "browser", "notebook")


def pytest_addoption(parser):
    parser.addoption("--all", action="store_true", help="also run slow, browser and notebook tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--all") or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return
    if config.getoption("-m"):
        return
    deselected = [it for it in items if any(it.get_closest_marker(m) for m in LONG_MARKS)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [it for it in items if it not in deselected]
