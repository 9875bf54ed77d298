"""The stress harness: rounds of interleaved programs, the integrity oracle, reproducers.

Model-only. A run is a function of its :class:`StressConfig` and seed. Each
round builds every CPU's programs (stress/workload.py), runs them under the
configured policy (seeded from the run's seed and the round), and lets each
operation check its own outcome; every ``check_every`` rounds (and at the end)
the full invariant checker and a page-by-page comparison of every region with
what its owner wrote run at the quiescent point between rounds; at the
end every page is compared with what its owner wrote, the process exits, and
nothing may leak.

The first failure stops the run. Its report names what broke, the recent
events, and the one command that replays it; the reproducer (config, seed,
round, schedule) is saved as JSON.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from thpsim import IntegrityError
from thpsim.errors import ConfigError
from thpsim.stress.trace import EntryTracer
from thpsim.stress.workload import StressConfig, Workload
from thpsim.testing import (
    DONE,
    Execution,
    Failure,
    ReplayScheduler,
    Schedule,
    innermost_function,
    integrity_failure,
    make_scheduler,
    modeled_time,
    run_interleaved,
)

__all__ = ["StressResult", "run_stress", "replay_reproducer", "save_reproducer",
           "folio_migrations"]


@dataclass
class StressResult:
    seed: int
    rounds: int = 0
    steps: int = 0
    migrations: int = 0
    thp_migrations: int = 0
    seconds: float = 0.0
    failure: Failure | None = None
    failed_round: int = -1
    report: str = ""
    trace: list[dict[str, Any]] = field(default_factory=list)
    #: operations completed, by kind ("move_pages", "offline", "read smaps", ...)
    ops: dict[str, int] = field(default_factory=dict)
    #: SHA-256 over every round's schedule and each operation's result in order, then the
    #: final /proc/vmstat: two runs with the same digest did the same thing step for step
    #: (the restructuring and speed work must leave it unchanged for a fixed seed)
    digest: str = ""
    #: with ``cfg.modeled_time``: the cost model's totals at the end of the run
    #: (``total_ns``, ``ns_by_category``, ``tlb_hits``, ``tlb_misses``), else None
    modeled: dict[str, Any] | None = None

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    @property
    def migrations_per_second(self) -> float:
        return self.migrations / self.seconds if self.seconds else 0.0


def folio_migrations(m: Any) -> tuple[int, int]:
    """(folios migrated, THPs migrated) from /proc/vmstat's counters, per the profile's units."""
    ev = m.vm_events
    thp = ev["thp_migration_success"]
    if m.profile.pgmigrate_counts_base_pages:
        return ev["pgmigrate_success"] - 511 * thp, thp
    return ev["pgmigrate_success"], thp


def _scheduler(cfg: StressConfig, seed: int, round_: int) -> Any:
    s = seed * 1_000_003 + round_
    if cfg.policy == "pct":
        sched = make_scheduler("pct", s, depth=cfg.pct_depth, max_steps=4000)
    else:
        sched = make_scheduler(cfg.policy, s)
    sched.new_execution()
    return sched, s


def run_stress(cfg: StressConfig, seed: int, *, max_rounds: int | None = None,
               migration_budget: int | None = None, replay_round: int = -1,
               replay_schedule: str | None = None, trace: bool = False,
               trace_round: int | None = None, progress: Any = None,
               lenient: bool = False, step_observer: Any = None) -> StressResult:
    """Run rounds until ``cfg.rounds`` (or ``max_rounds``), the migration budget, or a failure.

    ``step_observer``: a function of the machine returning the interleaving driver's
    per-step callback (``on_step(step, cpu, op, trap, gen)``, trap None before a step),
    for the rounds the trace does not cover; it observes, it must not change the run.
    """
    t0 = time.perf_counter()
    res = StressResult(seed)
    wl = Workload(cfg, seed)
    m = wl.m
    rounds = cfg.rounds if max_rounds is None else max_rounds
    trace_events: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    observe = step_observer(m) if step_observer is not None else None

    def tracer_for(round_: int) -> Any:
        if not trace or (trace_round is not None and round_ != trace_round):
            return observe
        base = len(trace_events)
        entries = EntryTracer(m)
        where: dict[int, str] = {}
        clock: dict[int, float] = {}  # with modeled time: the CPU's ns before the step

        def on_step(step: int, cpu: int, op: str, trap: Any, gen: Any) -> None:
            if trap is None:  # before the step: the function it resumes in
                where[cpu] = innermost_function(gen)
                if cfg.modeled_time:
                    clock[cpu] = _cpu_ns(m, cpu)
                return
            fn = innermost_function(gen) if trap is not DONE else where.get(cpu, "?")
            args: dict[str, Any] = {"round": round_, "step": step, "cpu": cpu,
                                    "thread": wl.threads[cpu].tid,
                                    "from": where.get(cpu, "?"), "trap": repr(trap)}
            changed = entries.changes()
            if changed:
                args["entries"] = changed
            ts, dur = (base + step) * 10, 9.0
            if cfg.modeled_time:  # the time axis: each CPU's modeled clock, in us
                start = clock.get(cpu, 0.0)
                ts, dur = start / 1000, max((_cpu_ns(m, cpu) - start) / 1000, 0.001)
            trace_events.append({
                "name": f"{op}: {fn}",
                "ph": "X", "pid": 0, "tid": cpu, "ts": ts, "dur": dur,
                "args": args,
            })

        return on_step

    def finish(failure: Failure | None, round_: int) -> StressResult:
        res.seconds = time.perf_counter() - t0
        res.migrations, res.thp_migrations = folio_migrations(m)
        res.failure = failure
        res.failed_round = round_ if failure else -1
        digest.update(m.fs.read("/proc/vmstat").encode())
        res.digest = digest.hexdigest()
        snap = modeled_time(m, ("ns", "events")) if cfg.modeled_time else None
        if snap is not None:
            res.modeled = {
                "total_ns": snap["ns"]["total"]["total"],
                "ns_by_category": {k: v["total"] for k, v in snap["ns"].items()
                                   if k != "total"},
                "tlb_hits": int(snap["events"]["tlb_hit"]["total"]),
                "tlb_misses": int(snap["events"]["tlb_miss"]["total"])}
        if trace:
            res.trace = _chrome_trace(trace_events, len(m.cpus))
        return res

    for rnd in range(rounds):
        progs = wl.programs(rnd)
        if rnd == replay_round and replay_schedule is not None:
            sched = ReplayScheduler(replay_schedule, strict=not lenient)
            sched.new_execution()
            s = sched.schedule.seed
        else:
            sched, s = _scheduler(cfg, seed, rnd)
        ex: Execution = run_interleaved(m, progs, sched, s, log=True,
                                        on_step=tracer_for(rnd), log_limit=200,
                                        max_steps=5_000_000)
        res.steps += ex.steps
        res.rounds = rnd + 1
        digest.update(f"{rnd} {ex.schedule.encode()}\n".encode())
        for cpu, results in sorted(ex.results.items()):
            for name, value in results:
                digest.update(f"{cpu} {name} {_digestible(value)}\n".encode())
                kind = name.split(" memory", 1)[0]
                if type(value) is int and value < 0:  # an error return, by errno name
                    kind = f"{kind} {errno.errorcode.get(-value, -value)}"
                res.ops[kind] = res.ops.get(kind, 0) + 1
        if ex.failure is not None:
            return finish(ex.failure, rnd)
        last = ex.schedule
        if (rnd + 1) % cfg.check_every == 0:
            for kind, bad in (("invariant", integrity_failure(m)), ("integrity", _contents(wl))):
                if bad:
                    return finish(Failure(kind, bad, ex.schedule, ex.events[-40:]), rnd)
        if progress is not None:
            progress(res, m)
        if migration_budget is not None and folio_migrations(m)[0] >= migration_budget:
            break
    if res.rounds == 0:
        last = Schedule(0, ())
    # a failure found here replays as the last round's schedule followed by these checks
    for check in (lambda: integrity_failure(m), lambda: _final(wl), lambda: _exit(wl)):
        bad = check()
        if bad:
            return finish(Failure("invariant", bad, last, []), res.rounds - 1)
    return finish(None, -1)


def _digestible(value: Any) -> str:
    """An operation's result as text that does not depend on object identity."""
    if value is None or isinstance(value, int | str | bool):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_digestible(v) for v in value) + "]"
    return type(value).__name__


def _contents(wl: Workload) -> str | None:
    """Every page of every region holds what its owner last wrote (between rounds)."""
    try:
        wl.final_check()
    except IntegrityError as e:
        return str(e)
    return None


def _final(wl: Workload) -> str | None:
    bad = _contents(wl)
    return bad if bad is not None else integrity_failure(wl.m)


def _exit(wl: Workload) -> str | None:
    leaks = wl.p.exit()
    if leaks:
        return "; ".join(leaks)
    return integrity_failure(wl.m)


def _cpu_ns(m: Any, cpu: int) -> float:
    """CPU ``cpu``'s modeled nanoseconds so far (the cost model's file)."""
    snap = modeled_time(m, ("ns",))
    return snap["ns"]["total"][f"cpu{cpu}"] if snap is not None else 0.0


def _chrome_trace(events: list[dict[str, Any]], ncpu: int) -> list[dict[str, Any]]:
    meta = [{"name": "process_name", "ph": "M", "pid": 0, "args": {"name": "thpsim"}}]
    meta += [{"name": "thread_name", "ph": "M", "pid": 0, "tid": c, "args": {"name": f"CPU{c}"}}
             for c in range(ncpu)]
    return meta + events


# ---------------------------------------------------------------- reproducers
def save_reproducer(path: str, cfg: StressConfig, seed: int, res: StressResult) -> str:
    f = res.failure
    assert f is not None
    data = {
        "version": REPRODUCER_VERSION,
        "config": cfg.to_json(),
        "seed": seed,
        "round": res.failed_round,
        "schedule": f.schedule.encode(),
        "failure": {"kind": f.kind, "message": f.message},
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    return path


#: the reproducer file format this harness writes and reads
REPRODUCER_VERSION = 1


def load_reproducer(path: str) -> tuple[StressConfig, int, int, str, dict[str, str]]:
    """A saved reproducer: (config, seed, failing round, schedule, failure), or
    :class:`ConfigError` naming the file and what is wrong with it (missing, not JSON,
    another format version, a field missing or of the wrong type, a bad config)."""
    try:
        with open(path) as fh:
            d = json.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such reproducer file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({e})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not a reproducer (bad JSON: {e})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: not a reproducer (not a JSON object)")
    if d.get("version") != REPRODUCER_VERSION:
        raise ConfigError(f"{path}: reproducer format version {d.get('version')!r}; "
                          f"this thpsim reads version {REPRODUCER_VERSION}")
    for key, kind in (("config", dict), ("seed", int), ("round", int), ("schedule", str)):
        if not isinstance(d.get(key), kind) or isinstance(d.get(key), bool):
            raise ConfigError(f"{path}: field {key!r} missing or not {kind.__name__}")
    try:
        cfg = StressConfig.from_json(d["config"])
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except TypeError as e:
        raise ConfigError(f"{path}: config malformed ({e})") from None
    failure = d.get("failure", {})
    return cfg, d["seed"], d["round"], d["schedule"], failure if isinstance(failure, dict) else {}


def replay_reproducer(path: str, trace: bool = False, switches: dict[str, Any] | None = None,
                      lenient: bool = False) -> StressResult:
    """Re-run the saved run: the rounds before the failing one from the seed, the failing
    round under its recorded schedule (strictly; ``lenient``: as far as it applies, the
    running CPU going on where the recorded one cannot run). ``switches`` override the
    saved configuration's (a bug switch turned off, to see the failure go)."""
    cfg, seed, rnd, schedule, _ = load_reproducer(path)
    if switches:
        cfg = replace(cfg, switches={**cfg.switches, **switches})
    return run_stress(cfg, seed, max_rounds=rnd + 1, replay_round=rnd,
                      replay_schedule=schedule if rnd >= 0 else None, trace=trace,
                      trace_round=rnd if trace else None, lenient=lenient)


def failure_signature(f: Failure | None) -> str:
    """What "the same failure" means when shrinking: its kind and the first words."""
    if f is None:
        return ""
    msg = f.message.split(":", 2)
    head = msg[1] if len(msg) > 1 else msg[0]
    return f"{f.kind}:{head.split()[0] if head.split() else ''}"


def format_report(cfg: StressConfig, seed: int, res: StressResult, repro: str | None) -> str:
    f = res.failure
    assert f is not None
    lines = [
        f"FAILED stress run (profile {cfg.profile}, seed {seed}, round {res.failed_round}): "
        f"{f.kind}: {f.message}",
        f"schedule: {f.schedule.encode()}",
    ]
    if repro:
        lines.append(f"reproducer: {repro}")
        lines.append(f"replay: thpsim stress --replay {repro}")
    lines.append("recent events:")
    lines += [f"  {e}" for e in f.events[-20:]]
    return "\n".join(lines)
