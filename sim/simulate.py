"""One entry point for both engines: parameters in, a frame of outcomes out.

Seeding contract: replicates run in blocks of ``block_size``; block b draws only from
``SeedSequence(seed).spawn``-child keyed by b (see ``block_seed``), so a frame does not
depend on how blocks are grouped into calls, ordered, or spread over workers.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model.outcomes import Outcomes, combine_series
from sim.model.params import Params, as_params
from sim.model.seeding import child_seed, root_seed

ENGINES = ("mesa", "vectorized")
DEFAULT_BLOCK_SIZE = 1000
SeriesMode = Literal["mean", "replicate"] | None


def run_block(params: Params, seed: np.random.SeedSequence, n: int, engine: str = "vectorized",
              series: SeriesMode = None) -> Outcomes:
    """Run ``n`` replicates drawn from one block's SeedSequence with the chosen engine."""
    if engine == "mesa":
        from sim.engines.mesa.model import run_replicates
    elif engine == "vectorized":
        from sim.engines.vectorized.engine import run_replicates
    else:
        raise UserError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    return run_replicates(params, seed, n, series=series)


def block_sizes(replicates: int, block_size: int) -> list[int]:
    """Sizes of the blocks that make up ``replicates`` (all full but possibly the last)."""
    if replicates < 1:
        raise UserError(f"replicates must be at least 1, got {replicates}")
    if block_size < 1:
        raise UserError(f"block_size must be at least 1, got {block_size}")
    full, rest = divmod(replicates, block_size)
    return [block_size] * full + ([rest] if rest else [])


def simulate(params: Params | Mapping[str, Any] | None = None, *, replicates: int = 1,
             seed: int | np.random.SeedSequence = 0, engine: str = "mesa", block_size: int = DEFAULT_BLOCK_SIZE,
             series: SeriesMode = None) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``replicates`` replicates; one row per (replicate, accused) with the columns of sim.outcomes.COLUMNS.

    ``series="mean"`` (or ``"replicate"``) also returns the monthly series of legitimacy,
    member count, mean compliance and accused in custody, averaged over replicates (or per
    replicate), as a second frame.
    """
    p = as_params(params)
    if series not in (None, "mean", "replicate"):
        raise UserError(f"series must be None, 'mean' or 'replicate', got {series!r}")
    root = root_seed(seed)
    parts = [run_block(p, child_seed(root, b), n, engine, series)
             for b, n in enumerate(block_sizes(replicates, block_size))]
    frame = pd.concat([o.frame(b * block_size) for b, o in enumerate(parts)], ignore_index=True)
    if series is None:
        return frame
    return frame, combine_series([o.series for o in parts], block_size, series)
