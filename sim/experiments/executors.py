"""Where blocks run: in this process, in a local process pool, or on a Dask cluster.

Every executor runs the same function on the same work units and yields results as they finish;
a block's numbers depend only on its replicates' streams, never on the executor or its workers.
An executor is opened before a results folder is touched (an unreachable scheduler is refused
first), its worker processes end with their parent, and Ctrl-C stops it without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.errors import UserError
from sim.experiments.posterior import Posterior
from sim.model.outcomes import OUTCOMES, Outcomes
from sim.model.params import Params
from sim.simulate import run_rows


@dataclass(frozen=True)
class Task:
    """A block to compute: rows (point[k], replicate[k]) with their points' parameters, from ``seed``."""

    block: int
    points: dict[int, Params]
    point: np.ndarray
    replicate: np.ndarray
    seed: int
    engine: str
    crn: bool = False
    posterior: Posterior | None = None


def block_frame(point: np.ndarray, replicates: np.ndarray, outcomes: Outcomes,
                draw: np.ndarray | None = None) -> pd.DataFrame:
    """A block's rows: the columns of sim.simulate with the point id in front (and the posterior draw)."""
    frame = outcomes.frame(replicates)
    f = outcomes.values["custody_month"].shape[1]
    frame.insert(0, "point", np.repeat(np.asarray(point, dtype=np.int64), f))
    if draw is not None:
        frame.insert(2, "draw", np.repeat(np.asarray(draw, dtype=np.int64), f))
    return frame


def compute_block(task: Task) -> tuple[Task, pd.DataFrame, float]:
    """Run one block; its rows are the columns of sim.simulate with the point id in front. Over a posterior,
    replicate r of point p runs at draw r mod draws, on point p's streams."""
    start = time.perf_counter()
    if task.posterior is None:
        out = run_rows(task.points, task.point, task.replicate, task.seed, engine=task.engine, crn=task.crn)
        return task, block_frame(task.point, task.replicate, out), time.perf_counter() - start
    n = task.posterior.draws
    draw = task.replicate % n
    key = task.point * n + draw
    points = {int(k): task.posterior.apply(task.points[int(k // n)], int(k % n)) for k in np.unique(key)}
    out = run_rows(points, key, task.replicate, task.seed, engine=task.engine, crn=task.crn, stream=task.point)
    return task, block_frame(task.point, task.replicate, out, draw), time.perf_counter() - start


def block_schema(posterior: bool = False) -> pa.Schema:
    """The columns, types and pandas metadata of every block file (what a reused block must have)."""
    values = {o.name: np.zeros(1) if o.per_run else np.zeros((1, 1)) for o in OUTCOMES}
    zero = np.zeros(1, dtype=np.int64)
    frame = block_frame(zero, zero, Outcomes(values), zero if posterior else None)
    return pa.Table.from_pandas(frame, preserve_index=False).schema


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


default_workers = available_cores


def worker_count(workers: int | None) -> int:
    """The local processes to start: all cores by default; more than the cores is capped, with a note."""
    cores = available_cores()
    if workers is None:
        return cores
    if workers > cores:
        sys.stderr.write(f"note: --workers {workers} is more than the {cores} cores this process may use; "
                         f"using {cores}\n")
        return cores
    return workers


_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z][a-z0-9+]*)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^\s/:\[\]]+)"
                      r"(?::(?P<port>\d+))?/?$")


def check_executor(workers: int | None, scheduler: str | None) -> None:
    """Reject a bad --workers or --scheduler before anything is written."""
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if scheduler is None or scheduler == "local":
        return
    m = _ADDRESS.match(scheduler)
    if not m:
        raise UserError(f"--scheduler must be 'local' or a Dask scheduler address like tcp://host:8786, "
                        f"got {scheduler!r}")
    if m["port"] is not None and not 1 <= int(m["port"]) <= 65535:
        raise UserError(f"--scheduler {scheduler}: port {m['port']} is not a TCP port (1..65535)")


# --- worker processes: no Ctrl-C of their own, and no life after their parent ------------------------------

PR_SET_PDEATHSIG = 1
STOPS = (signal.SIGINT, signal.SIGTERM)  # what stops a command; its pool workers leave both to it
DASK_PORT = 8786  # the port of an address that names none


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-started pool of ``workers`` processes that ignore Ctrl-C and SIGTERM and end with their parent."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               initializer=_end_with_parent, initargs=(os.getpid(),))


def _end_with_parent(parent: int) -> None:
    """In a worker: ignore Ctrl-C and SIGTERM sent to the whole process group (the parent stops the pool, with
    SIGKILL) and exit as soon as the parent is gone; one numba thread each (the fused engine), since the
    processes already share the cores."""
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    for sig in STOPS:
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):  # Linux: the kernel kills this process when its parent dies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:  # elsewhere (and as a backstop): notice being orphaned within a second
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="end-with-parent").start()


@contextmanager
def _children_ignore_ctrl_c() -> Iterator[None]:
    """Processes started inside by this thread inherit a blocked SIGINT and SIGTERM, so a terminal's Ctrl-C
    (or a SIGTERM to the process group) reaches only this process; one meanwhile is held back and raised here
    on leaving, not lost."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOPS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ignore SIGINT in the whole process while a Dask LocalCluster starts its processes (from threads of
    its own, so a blocked mask would not reach them); its nannies and workers inherit the ignore. A
    Ctrl-C in these few seconds is lost: the one cost of children that stay quiet."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Executor:
    """Runs tasks in process, in a pool or on Dask; ``with Executor(...) as ex: ex.run(tasks)``.

    Entering connects to a Dask scheduler (or starts a LocalCluster), so an unreachable one is a
    UserError before anything is written.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        check_executor(workers, scheduler)
        self.scheduler = scheduler
        self.requested = workers
        self.workers = 1 if scheduler not in (None, "local") else worker_count(workers)
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> Executor:
        if self.scheduler is not None:
            try:
                self._connect()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # a cluster closed by Ctrl-C logs every cancelled task
        try:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        except Exception:
            pass
        finally:
            self._client = self._cluster = None
            quiet.setLevel(level)

    def _connect(self) -> None:
        from distributed import Client, LocalCluster

        if self.scheduler == "local":
            with _ctrl_c_ignored():
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=logging.ERROR)
                self._client = Client(self._cluster)
            return
        fix = "check the address (tcp://host:port) and that the scheduler runs, or use --scheduler local"
        m = _ADDRESS.match(str(self.scheduler))
        if m and (m["scheme"] or "tcp") == "tcp":  # a refused connection fails here at once, not after a timeout
            try:
                socket.create_connection((m["host"].strip("[]"), int(m["port"] or DASK_PORT)), timeout=10).close()
            except OSError as exc:
                why = exc.strerror or exc.__class__.__name__
                raise UserError(f"cannot reach the Dask scheduler at {self.scheduler!r} ({why}); {fix}") from None
        try:  # Client itself waits for ever on a server that accepts but never answers
            identity = asyncio.run(_identity(str(self.scheduler)))
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {self.scheduler!r} ({exc.__class__.__name__}); "
                            f"{fix}") from None
        if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
            raise UserError(f"cannot reach the Dask scheduler at {self.scheduler!r} (it answers, but not as a Dask "
                            f"scheduler); {fix}")
        try:
            self._client = Client(self.scheduler, timeout=10)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {self.scheduler!r} ({exc.__class__.__name__}); "
                            f"{fix}") from None

    def run(self, tasks: list[Task]) -> Iterator[tuple[Task, pd.DataFrame, float]]:
        """Yield (task, frame, seconds) for every task, in order of completion."""
        if not tasks:
            return
        if self._client is not None:
            yield from self._dask(tasks)
        elif self.workers == 1 or len(tasks) == 1:
            for task in tasks:
                yield compute_block(task)
        else:
            yield from _pool(tasks, min(self.workers, len(tasks)))

    def _dask(self, tasks: list[Task]) -> Iterator[tuple[Task, pd.DataFrame, float]]:
        """At most 2 blocks per Dask thread in flight (bounded memory); results come back to this process."""
        from distributed import as_completed

        client = self._client
        limit = 2 * max(1, sum(client.nthreads().values()) or self.workers)
        queue = iter(tasks)
        running = as_completed()
        futures = []
        try:
            for task in queue:
                futures.append(client.submit(compute_block, task, pure=False))
                running.add(futures[-1])
                if running.count() >= limit:
                    break
            for future in running:
                result = future.result()
                future.release()
                yield result
                following = next(queue, None)
                if following is not None:
                    futures.append(client.submit(compute_block, following, pure=False))
                    running.add(futures[-1])
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                quiet = logging.getLogger("distributed")
                level = quiet.level
                quiet.setLevel(logging.CRITICAL)
                try:
                    client.cancel(pending)
                except Exception:
                    pass
                finally:
                    quiet.setLevel(level)


async def _identity(address: str, seconds: float = 10) -> Any:
    """Ask a Dask scheduler who it is, within ``seconds`` (the handshake included)."""
    from distributed.comm import connect

    comm = await asyncio.wait_for(connect(address, timeout=seconds), seconds)
    try:
        await asyncio.wait_for(comm.write({"op": "identity"}), seconds)
        return await asyncio.wait_for(comm.read(), seconds)
    finally:
        comm.abort()


def _pool(tasks: list[Task], workers: int) -> Iterator[tuple[Task, pd.DataFrame, float]]:
    """A spawn-started process pool with at most 2 blocks per worker in flight (bounded memory)."""
    pool = process_pool(workers)
    queue, pending = iter(tasks), set()
    finished = False

    def submit(task: Task) -> None:
        with _children_ignore_ctrl_c():  # a submit may start a worker process
            pending.add(pool.submit(compute_block, task))

    try:
        for task in queue:
            submit(task)
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                following = next(queue, None)
                if following is not None:
                    submit(following)
        finished = True
    finally:
        if not finished:  # stopped (Ctrl-C, SIGTERM, an error, a full disk): do not wait for blocks in flight
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()  # the workers ignore SIGTERM
        pool.shutdown(wait=True, cancel_futures=True)


def execute(tasks: list[Task], workers: int | None = None,
            scheduler: str | None = None) -> Iterator[tuple[Task, pd.DataFrame, float]]:
    """Yield (task, frame, seconds) for every task, in order of completion (an Executor opened and closed)."""
    with Executor(workers, scheduler) as ex:
        yield from ex.run(tasks)
