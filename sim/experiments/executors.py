"""Where blocks run: in this process, in a local process pool, or on a Dask cluster.

Every executor runs the same function on the same work units and yields results as they finish;
a block's numbers depend only on its (point, block) seed, never on the executor or its workers.
"""

from __future__ import annotations

import logging
import os
import re
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Iterator

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model.params import Params
from sim.simulate import run_rows


@dataclass(frozen=True)
class Task:
    """A block to compute: ``n`` replicates of ``params`` from seed (experiment seed, point, block)."""

    params: Params
    seed: int
    point: int
    block: int
    n: int
    first: int
    engine: str


def compute_block(task: Task) -> tuple[Task, pd.DataFrame, float]:
    """Run one block; its rows are the columns of sim.simulate with the point id in front."""
    start = time.perf_counter()
    replicates = np.arange(task.first, task.first + task.n)
    out = run_rows({task.point: task.params}, np.full(task.n, task.point), replicates, task.seed, engine=task.engine)
    frame = out.frame(replicates)
    frame.insert(0, "point", task.point)
    return task, frame, time.perf_counter() - start


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_ADDRESS = re.compile(r"^([a-z][a-z0-9+]*://)?[^\s/:]+(:\d+)?/?$|^[a-z][a-z0-9+]*://\S+$")


def check_executor(workers: int | None, scheduler: str | None) -> None:
    """Reject a bad --workers or --scheduler before anything is written."""
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if scheduler is not None and scheduler != "local" and not _ADDRESS.match(scheduler):
        raise UserError(f"--scheduler must be 'local' or a Dask scheduler address like tcp://host:8786, "
                        f"got {scheduler!r}")


def execute(tasks: list[Task], workers: int | None = None,
            scheduler: str | None = None) -> Iterator[tuple[Task, pd.DataFrame, float]]:
    """Yield (task, frame, seconds) for every task, in order of completion."""
    check_executor(workers, scheduler)
    workers = default_workers() if workers is None else workers
    if not tasks:
        return
    if scheduler:
        yield from _dask(tasks, workers, scheduler)
    elif workers == 1 or len(tasks) == 1:
        for task in tasks:
            yield compute_block(task)
    else:
        yield from _pool(tasks, min(workers, len(tasks)))


def _pool(tasks: list[Task], workers: int) -> Iterator[tuple[Task, pd.DataFrame, float]]:
    """A spawn-started process pool with at most 2 blocks per worker in flight (bounded memory)."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    queue, pending = iter(tasks), set()
    try:
        for task in queue:
            pending.add(pool.submit(compute_block, task))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                task = next(queue, None)
                if task is not None:
                    pending.add(pool.submit(compute_block, task))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(tasks: list[Task], workers: int, scheduler: str) -> Iterator[tuple[Task, pd.DataFrame, float]]:
    """Dask distributed: 'local' starts a LocalCluster of ``workers`` processes, else join ``scheduler``."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout=20)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise UserError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc.__class__.__name__}); "
                                f"check the address (tcp://host:port) or use --scheduler local") from None
        with client:
            limit = 2 * max(1, sum(client.nthreads().values()) or workers)
            queue = iter(tasks)
            running = as_completed()
            for task in queue:
                running.add(client.submit(compute_block, task, pure=False))
                if running.count() >= limit:
                    break
            for future in running:
                result = future.result()
                future.release()
                yield result
                task = next(queue, None)
                if task is not None:
                    running.add(client.submit(compute_block, task, pure=False))
    finally:
        if cluster is not None:
            cluster.close()
