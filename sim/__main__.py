"""``python -m sim``: the command line (sim.cli); a Ctrl-C even while it loads ends in one line."""

import sys

try:
    from sim.cli.main import main
except KeyboardInterrupt:
    sys.stderr.write("interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
