"""The repository's root, found one way: the folder that holds this package (a checkout; its experiments/,
results/reference/ and docs/ sit beside sim/)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
