"""``python -m sim``: the command line (sim.cli); a missing dependency or a Ctrl-C while it loads is one line."""

import sys

import sim
from sim.errors import dependency_hint, missing_dependency


def _run() -> int:
    try:
        if sim.import_error is not None:
            raise sim.import_error
        from sim.cli import main

        return main()
    except ImportError as exc:
        package = missing_dependency(exc)
        if package is None:
            raise
        sys.stderr.write(f"error: {dependency_hint(package)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


raise SystemExit(_run())
