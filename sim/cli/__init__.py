"""The command line face: ``python -m sim <command>``; one module per command group, each thin."""

from sim.cli.main import main

__all__ = ["main"]
