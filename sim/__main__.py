"""``python -m sim``: the command line (sim.cli)."""

from sim.cli import main

raise SystemExit(main())
