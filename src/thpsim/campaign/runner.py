"""One run of a campaign: a stress run of the harness, measured for the results store.

Model-only (a tool). :func:`run_one` is what every back end calls, in whatever
process it runs: it takes a job (configuration, seed, where a reproducer goes)
and returns the run's row for :meth:`RunStore.add
<thpsim.campaign.store.RunStore.add>` without ``campaign``, ``label`` and
``version`` (the driver adds those). Everything in the row but ``seconds``,
``started`` and ``finished`` is a function of (configuration, seed): the harness
is deterministic, samples are taken at fixed rounds, nothing reads the clock
to decide anything.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import tempfile
import time
import traceback
from typing import Any

from thpsim.report.memmap import node_memory_map, node_occupancy
from thpsim.stress.harness import (
    folio_migrations,
    format_report,
    run_stress,
    save_reproducer,
)

from .spec import stress_config

__all__ = ["CALLERS", "run_one", "caller_of", "CallerCounter", "VMSTAT_KEYS", "job"]

#: The migration callers counted apart, in the order tables show them.
CALLERS = ("move_pages", "mbind", "migrate_pages", "cpuset", "hotplug", "soft_offline")

#: The /proc/vmstat counters a run keeps (THP and migration events), when present.
VMSTAT_KEYS = ("pgmigrate_success", "pgmigrate_fail", "thp_migration_success",
               "thp_migration_fail", "thp_migration_split", "thp_fault_alloc",
               "thp_fault_fallback", "thp_split_page", "thp_split_page_failed",
               "thp_split_pmd", "thp_deferred_split_page", "thp_zero_page_alloc",
               "thp_collapse_alloc", "nr_anon_transparent_hugepages", "numa_pages_migrated")

#: Errno names (``res.ops`` keys end in one for an operation that returned an error).
_ERRNO_NAMES = frozenset(errno.errorcode.values())

#: The workload's operation names (stress/workload.py) that migrate, by caller.
_OP_CALLER = {"move_pages": "move_pages", "mbind": "mbind", "migrate_pages": "migrate_pages",
              "cpuset attach": "cpuset", "cpuset.mems": "cpuset",
              "soft_offline": "soft_offline"}


def caller_of(op: str) -> str | None:
    """The migration caller a workload operation is (``offline memoryN``: hotplug),
    or None for an operation that does not migrate."""
    if op.startswith("offline memory"):
        return "hotplug"
    return _OP_CALLER.get(op)


class CallerCounter:
    """Folio migrations by caller, counted step by step.

    Given to the interleaving driver as ``on_step`` (kernel/interleave.py): before a
    step of an operation that migrates it reads the machine's migration count, after
    the step it adds the difference to that operation's caller. One CPU runs at a
    time, so each migration is counted once, for the CPU whose step did it; steps of
    operations that do not migrate are not measured (``other`` in :meth:`totals`
    holds whatever they did).
    """

    def __init__(self, m: Any):
        self.m = m
        self.by_caller: dict[str, int] = dict.fromkeys(CALLERS, 0)
        self._caller: str | None = None
        self._before = 0

    def on_step(self, step: int, cpu: int, op: str, trap: Any, gen: Any) -> None:
        """The driver's per-step callback: ``trap`` None before a step, else after it."""
        if trap is None:
            self._caller = caller_of(op)
            if self._caller is not None:
                self._before = folio_migrations(self.m)[0]
            return
        if self._caller is not None:
            self.by_caller[self._caller] += folio_migrations(self.m)[0] - self._before
            self._caller = None

    def totals(self, total: int) -> dict[str, int]:
        """The counts by caller, and ``other``: ``total`` less what the callers did."""
        out = dict(self.by_caller)
        out["other"] = total - sum(out.values())
        return out




def job(config: dict[str, Any], config_hash: str, seed: int, repro: str) -> dict[str, Any]:
    """A job for :func:`run_one` (plain data, so it crosses process and host boundaries):
    the configuration, its hash, the seed, and the path a reproducer is saved under."""
    return {"config": config, "config_hash": config_hash, "seed": seed, "repro": repro}


def run_one(j: dict[str, Any]) -> dict[str, Any]:
    """Run one job and return its row (every store column but ``campaign``, ``label``,
    ``version`` and ``id``). Never raises for a failure of the model: a run whose oracle
    found a failure is ``failed``, with the report, reproducer (as JSON, not written to
    disk here) and replay command; one that raised is ``error``, with the traceback as
    its report."""
    config, seed = j["config"], j["seed"]
    cfg = stress_config(config)
    budget = config["migration_budget"]
    every = config["sample_every"]
    last_round = cfg.rounds
    samples: list[dict[str, Any]] = []
    state: dict[str, Any] = {"memmap": None, "counter": None}

    def migrations_now(m: Any) -> dict[str, int]:
        total = folio_migrations(m)[0]
        c = state["counter"]
        return c.totals(total) if c is not None else {"other": total}

    def progress(res: Any, m: Any) -> None:
        state["m"] = m
        r = res.rounds
        final = r == last_round or (budget is not None and folio_migrations(m)[0] >= budget)
        if r % every == 0 or final:
            samples.append({"round": r, "step": res.steps, "nodes": node_occupancy(m),
                            "migrations": migrations_now(m)})
        if final:
            state["memmap"] = node_memory_map(m)

    def observer(m: Any) -> Any:
        state["m"] = m
        state["counter"] = CallerCounter(m)
        return state["counter"].on_step

    started = _now()
    t0 = time.perf_counter()
    kw: dict[str, Any] = {"step_observer": observer}
    try:
        res = run_stress(cfg, seed, migration_budget=budget, progress=progress, **kw)
    except Exception:  # the model or the harness crashed: record it, go on with the rest
        seconds = time.perf_counter() - t0
        return _row(seed, "error", seconds, started, report=traceback.format_exc(),
                    samples=samples, memmap=state["memmap"])
    seconds = time.perf_counter() - t0
    errors: dict[str, int] = {}
    for kind, n in res.ops.items():
        name = kind.rsplit(" ", 1)[-1]
        if name in _ERRNO_NAMES:
            errors[name] = errors.get(name, 0) + n
    counter = state["counter"]
    by_caller = (counter.totals(res.migrations) if counter is not None
                 else {"other": res.migrations})
    # the machine as the run left it (its process exited): the final counters
    ev = state["m"].vmstat() if "m" in state else {}
    vmstat = {k: ev[k] for k in VMSTAT_KEYS if k in ev}
    row = _row(seed, "ok", seconds, started, samples=samples, memmap=state["memmap"],
               steps=res.steps, rounds=res.rounds, migrations=res.migrations,
               thp_migrations=res.thp_migrations, errors=errors, ops=dict(res.ops),
               digest=res.digest, migrations_by_caller=by_caller, vmstat=vmstat,
               thp_split_pmd=vmstat.get("thp_split_pmd", 0),
               thp_split_page=vmstat.get("thp_split_page", 0))
    if res.failure is not None:
        repro = j["repro"]
        row["outcome"] = "failed"
        row["report"] = format_report(cfg, seed, res, repro)
        row["reproducer"] = _reproducer_json(cfg, seed, res)
        row["replay"] = f"thpsim stress --replay {repro}"
    return row


def _reproducer_json(cfg: Any, seed: int, res: Any) -> dict[str, Any]:
    """The reproducer save_reproducer() writes, as a dict (written to a temporary file
    and read back, so the format is the harness's own)."""
    fd, tmp = tempfile.mkstemp(prefix="thpsim-repro-", suffix=".json")
    os.close(fd)
    try:
        save_reproducer(tmp, cfg, seed, res)
        with open(tmp) as fh:
            return json.load(fh)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _row(seed: int, outcome: str, seconds: float, started: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "seed": seed, "outcome": outcome, "steps": 0, "rounds": 0, "migrations": 0,
        "thp_migrations": 0, "thp_split_pmd": 0, "thp_split_page": 0,
        "migrations_by_caller": {}, "errors": {}, "ops": {}, "vmstat": {},
        "seconds": seconds, "started": started, "finished": _now(), "report": "",
        "reproducer": None, "replay": "", "samples": [], "memmap": None, "digest": "",
    }
    row.update(kw)
    return row
