"""Where a campaign's runs execute: local worker processes, or a Ray cluster.

Model-only (a tool). Both back ends take the same jobs (plain dicts,
:func:`thpsim.campaign.runner.job`), run each with
:func:`~thpsim.campaign.runner.run_one`, and hand every finished run back to the
caller's ``on_result(index, row)`` in the driver process, as soon as it (or its
batch) is done, in completion order. Only the driver writes the store, so a
store never sees two writers; a run's row does not depend on the back end that
ran it (everything but its timings is a function of configuration and seed).

``local``
    ``workers`` processes (fork) on this machine, one job at a time each.
``ray``
    Ray tasks of ``batch`` jobs each (so a task lasts seconds, not milliseconds:
    Ray's per-task overhead is a few milliseconds). ``address`` joins a running
    cluster (thpsim must be installed on its nodes, at the same version); without
    it ``ray.init()`` starts a private local instance, stopped at the end. Ray is
    an optional dependency: ``pip install 'thpsim[ray]'``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from thpsim.cliutil import UsageError

from .runner import run_one

__all__ = ["BACKENDS", "run_local", "run_ray", "ray_session", "auto_batch", "require_ray",
           "TARGET_TASK_SECONDS"]

BACKENDS = ("local", "ray")

#: How long a Ray task should run, for the automatic batch size.
TARGET_TASK_SECONDS = 2.0

OnResult = Callable[[int, dict[str, Any]], None]


def _worker_init() -> None:
    """A local worker leaves Ctrl-C to the driver, which stops the pool (no traceback
    from every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_indexed(item: tuple[int, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    i, j = item
    return i, run_one(j)


def run_local(jobs: Sequence[dict[str, Any]], workers: int, on_result: OnResult) -> None:
    """Run ``jobs`` on ``workers`` local processes (in this process when one worker, or
    one job, is enough); ``on_result(i, row)`` in this process as each run ends."""
    if not jobs:
        return
    workers = min(workers, len(jobs))
    if workers == 1:
        for i, j in enumerate(jobs):
            on_result(i, run_one(j))
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        for i, row in pool.imap_unordered(_run_indexed, list(enumerate(jobs)), chunksize=1):
            on_result(i, row)


def auto_batch(seconds_per_run: float, runs: int, cpus: int) -> int:
    """Jobs per Ray task: enough for a task to last about :data:`TARGET_TASK_SECONDS`,
    but never so many that some of the cluster's ``cpus`` would get no task."""
    by_time = max(1, math.ceil(TARGET_TASK_SECONDS / max(seconds_per_run, 1e-3)))
    by_spread = max(1, math.ceil(runs / max(1, cpus)))
    return min(by_time, by_spread)


def _batch(jobs: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """The body of a Ray task: run its jobs in order."""
    return [(i, run_one(j)) for i, j in jobs]


def require_ray() -> Any:
    """The ``ray`` module, or a one-line UsageError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError("--backend ray needs Ray, which is not installed: "
                         "pip install 'thpsim[ray]'") from None
    return ray


#: How long to wait for a cluster's head to accept a connection.
PROBE_SECONDS = 5.0


def _probe(address: str) -> None:
    """Fail at once, in one line, when ``HOST:PORT`` (or ``ray://HOST:PORT``) does not
    accept a TCP connection: ray.init() would retry for ever, logging every attempt.
    ``auto`` and ``local`` are left to Ray (it fails fast when there is no cluster)."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        if address in ("auto", "local"):
            return
        raise UsageError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS).close()
    except OSError as e:
        raise UsageError(f"--address {address}: no Ray cluster answers there "
                         f"({e.strerror or e})") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """Join the Ray cluster at ``address``, or start a private local instance (``workers``
    CPUs, default all), quietly (no dashboard, workers' output not forwarded); yields the
    ``ray`` module and disconnects (stopping a private instance) at the end. A missing
    Ray, an address nobody answers at, a failed start: one-line :class:`UsageError`,
    before anything else is done."""
    ray = require_ray()
    if address is not None:
        _probe(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                            "logging_level": logging.ERROR, "configure_logging": True}
    if address is not None:
        init["address"] = address
    elif workers is not None:
        init["num_cpus"] = workers
    try:
        ray.init(**init)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise UsageError(f"cannot start or join Ray ({address or 'local'}): "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def run_ray(jobs: Sequence[dict[str, Any]], on_result: OnResult, *, address: str | None = None,
            batch: int | None = None, workers: int | None = None,
            log: Callable[[str], None] | None = None) -> int:
    """Run ``jobs`` as Ray tasks; ``on_result(i, row)`` in this (the driver) process as
    each task completes. Uses the Ray session already up (:func:`ray_session`), else
    opens one for ``address``/``workers`` and closes it at the end. ``batch`` None: the
    first job runs here, timed, and sets the batch size (:func:`auto_batch`); its
    result is kept like any other. Returns the batch size used."""
    ray = require_ray()
    session = (contextlib.nullcontext(ray) if ray.is_initialized()
               else ray_session(address, workers))
    with session:
        if not jobs:
            return batch or 1
        items = list(enumerate(jobs))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if batch is None:
            t0 = time.perf_counter()
            i, j = items.pop(0)
            on_result(i, run_one(j))
            batch = auto_batch(time.perf_counter() - t0, len(items), cpus)
        if log is not None:
            log(f"ray: {cpus} CPUs, {len(items)} runs in tasks of {batch}")
        task = ray.remote(_batch)
        pending = [task.remote(items[k:k + batch]) for k in range(0, len(items), batch)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                for i, row in ray.get(ref):
                    on_result(i, row)
    return batch
