"""Shrinking a failing stress reproducer to a smaller one that fails the same way.

Model-only. Two stages, each keeping a candidate only when it fails with the
same signature (failure kind and the first words of its message):

1. The configuration: stop at the failing round, then fewer user threads, fewer
   migrator CPUs, fewer operations per round, fewer THPs per thread, half the
   rounds, and one kind of optional activity at a time turned off (fork,
   hot-remove, cpusets, clear_refs, /proc readers, unpoison) -- each candidate
   tried with the original seed and a few others (a smaller workload draws
   different operations).
2. The failing round's schedule: remove context switches (a lenient replay keeps
   the running CPU where the shortened record no longer fits), re-recording the
   schedule of each run that still fails.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from thpsim.stress.harness import (
    StressResult,
    failure_signature,
    load_reproducer,
    run_stress,
    save_reproducer,
)
from thpsim.stress.workload import StressConfig
from thpsim.testing import Schedule

__all__ = ["shrink_reproducer"]


def _try(cfg: StressConfig, seeds: list[int],
         sig: str) -> tuple[StressConfig, int, StressResult] | None:
    for seed in seeds:
        res = run_stress(cfg, seed)
        if res.failure is not None and failure_signature(res.failure) == sig:
            return replace(cfg, rounds=res.failed_round + 1), seed, res
    return None


def _schedule_runs(steps: tuple[int, ...]) -> int:
    return sum(1 for i in range(len(steps)) if i == 0 or steps[i] != steps[i - 1])


def shrink_reproducer(path: str, out: str, extra_seeds: int = 3,
                      log: Any = None, seconds: float | None = None) -> tuple[int, int, str]:
    """Shrink the reproducer at ``path``; write the smallest at ``out``.

    Returns (size before, size after, out) where size counts operations
    (threads x ops per round x rounds) plus the runs of one CPU in the schedule
    (each run ends at a context switch). ``seconds``: a time budget; when it runs
    out, no further candidate is tried and the smallest found so far is written.
    """
    deadline = None if seconds is None else time.perf_counter() + seconds

    def out_of_time() -> bool:
        return deadline is not None and time.perf_counter() > deadline

    cfg, seed, rnd, schedule, failure = load_reproducer(path)
    first = run_stress(cfg, seed, max_rounds=rnd + 1)
    if first.failure is None:
        raise ValueError(f"{path} does not fail when re-run")
    sig = failure_signature(first.failure)
    best_cfg = replace(cfg, rounds=rnd + 1)
    best_seed, best = seed, first
    size0 = cfg.size() + _schedule_runs(first.failure.schedule.steps)

    def say(msg: str) -> None:
        if log is not None:
            log(msg)

    improved = True
    while improved:
        improved = False
        cands = []
        if best_cfg.user_threads > 1:
            cands.append(replace(best_cfg, user_threads=best_cfg.user_threads - 1))
        if best_cfg.migrators > 1:
            cands.append(replace(best_cfg, migrators=best_cfg.migrators - 1))
        if best_cfg.ops_per_round > 4:
            cands.append(replace(best_cfg, ops_per_round=max(4, best_cfg.ops_per_round // 2)))
        for kind in ("fork", "hotplug", "cpusets", "clear_refs", "proc_readers", "unpoison"):
            if getattr(best_cfg, kind):
                cands.append(replace(best_cfg, **{kind: False}))
        if best_cfg.thps_per_thread > 1:
            cands.append(replace(best_cfg, thps_per_thread=best_cfg.thps_per_thread - 1))
        if best_cfg.rounds > 1:
            cands.append(replace(best_cfg, rounds=max(1, best_cfg.rounds // 2)))
        for cand in cands:
            if out_of_time():
                break
            got = _try(cand, [best_seed] + list(range(extra_seeds)), sig)
            if got is not None and got[0].complexity() < best_cfg.complexity():
                best_cfg, best_seed, best = got
                say(f"shrunk to {best_cfg.size()} operations (seed {best_seed})")
                improved = True
                break
    # stage 2: fewer context switches in the failing round
    steps = list(best.failure.schedule.steps)
    i = 1
    while i < len(steps) and not out_of_time():
        if steps[i] != steps[i - 1]:
            cand = steps[:i] + [steps[i - 1]] + steps[i + 1:]
            res = _replay_lenient(best_cfg, best_seed, best.failed_round, cand)
            if res.failure is not None and failure_signature(res.failure) == sig and (
                _schedule_runs(res.failure.schedule.steps) < _schedule_runs(tuple(steps))
            ):
                best = res
                steps = list(res.failure.schedule.steps)
                continue
        i += 1
    save_reproducer(out, best_cfg, best_seed, best)
    size1 = best_cfg.size() + _schedule_runs(best.failure.schedule.steps)
    say(f"shrunk from {size0} to {size1}")
    return size0, size1, out


def _replay_lenient(cfg: StressConfig, seed: int, rnd: int, steps: list[int]) -> StressResult:
    sched = Schedule(0, tuple(steps))
    return run_stress(cfg, seed, max_rounds=rnd + 1, replay_round=rnd,
                      replay_schedule=sched.encode(), lenient=True)
