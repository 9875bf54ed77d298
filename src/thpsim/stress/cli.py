"""``thpsim stress``: run the harness sharded over worker processes, replay, shrink.

    thpsim stress --seed 1 --migrations 1000000 --workers 2 --profile seed
    thpsim stress --seed 1 --rounds 200 --switch bug_b3_pmd_migration_no_flush=1
    thpsim stress --seed 1 --rounds 50 --without hotplug --without cpusets
    thpsim stress --replay thpsim-repro/seed1-w0.json [--trace trace.json]
    thpsim stress --replay thpsim-repro/seed1-w0.json --switch bug_b3_pmd_migration_no_flush=0
    thpsim stress --shrink thpsim-repro/seed1-w0.json

Each worker runs an independent machine seeded from (seed, worker); progress
lines report steps and migrations per second. The first failure in any worker
prints its report and the command that replays it, and the run exits 1.
A replay with ``--switch`` overrides the reproducer's switches; where the failing
round's schedule no longer fits (a bug switch turned off), the round follows it as
far as it applies and a pass is reported as "passes now" (``--strict``: a divergence).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from typing import Any

from thpsim.cliutil import (
    UsageError,
    add_profile_arguments,
    check_writable,
    host_memory_guard,
    nonneg_int,
    positive_float,
    positive_int,
    profile_switches,
    progress_bar,
    write_atomic,
)
from thpsim.stress.harness import (
    folio_migrations,
    format_report,
    load_reproducer,
    replay_reproducer,
    run_stress,
    save_reproducer,
)
from thpsim.stress.shrink import shrink_reproducer
from thpsim.stress.workload import StressConfig

__all__ = ["main"]


#: kernel activity that ``--without`` can leave out (StressConfig fields)
_OPTIONAL_PATHS = ["fork", "hotplug", "cpusets", "clear-refs", "proc-readers", "unpoison",
                   "whole-thp-ranges"]


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    cfg = StressConfig.from_json(job["config"])
    seed = job["seed"]
    last = [time.perf_counter()]
    t0 = time.perf_counter()
    # on a terminal: a bar per worker (rounds, or migrations against the budget);
    # otherwise (a log, a pipe) a progress line every --progress-every seconds
    budget = job["budget"]
    goal = budget if budget else cfg.rounds
    bar = progress_bar(goal, f"worker {job['worker']}",
                       unit="migration" if budget else "round", position=job["worker"])

    def progress(res: Any, m: Any) -> None:
        now = time.perf_counter()
        if not bar.disable:
            done = folio_migrations(m)[0] if budget else res.rounds
            bar.update(min(done, goal) - bar.n)
            return
        if now - last[0] >= job["progress_every"]:
            last[0] = now
            mig, thp = folio_migrations(m)
            dt = now - t0
            print(f"[worker {job['worker']}] round {res.rounds} steps {res.steps} "
                  f"migrations {mig} (THP {thp}) {mig / dt:.0f}/s {res.steps / dt:.0f} steps/s",
                  file=sys.stderr, flush=True)  # progress on stderr, results on stdout

    try:
        res = run_stress(cfg, seed, migration_budget=job["budget"], progress=progress,
                         trace=job.get("trace") is not None,
                         trace_round=job.get("trace_round", 0))
    finally:
        bar.close()
    out = {"worker": job["worker"], "seed": seed, "rounds": res.rounds, "steps": res.steps,
           "migrations": res.migrations, "thp_migrations": res.thp_migrations,
           "seconds": res.seconds, "report": None, "repro": None, "ops": res.ops,
           "modeled": res.modeled}
    if job.get("trace"):
        tr = job.get("trace_round", 0)
        what = ("every round" if tr is None else f"round {tr}") + f" of worker {job['worker']}"
        _write_trace(job["trace"], res.trace, what, modeled=cfg.modeled_time)
    if res.failure is not None:
        path = os.path.join(job["out"], f"seed{seed}-w{job['worker']}.json")
        save_reproducer(path, cfg, seed, res)
        out["repro"] = path
        out["report"] = format_report(cfg, seed, res, path)
    return out


def _write_trace(path: str, events: list[dict[str, Any]], covers: str,
                 modeled: bool = False) -> None:
    """The Chrome/Perfetto trace, whole or not at all, with what it covers in its
    metadata and on stderr. Timestamps are interleaving steps (1 step = 1 us), or with
    ``--modeled-time`` each CPU's modeled time (its own clock, docs/modeled-time.md)."""
    unit = ("modeled microseconds, each CPU's own clock" if modeled
            else "one interleaving step per microsecond")
    write_atomic(path, json.dumps({"traceEvents": events, "otherData": {
        "covers": covers, "time unit": unit}}))
    print(f"trace: {path} covers {covers} ({len(events)} events; time axis: "
          f"{'modeled time' if modeled else 'steps'})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="thpsim stress", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=nonneg_int, default=0)
    add_profile_arguments(ap)
    ap.add_argument("--workers", type=positive_int, default=1)
    ap.add_argument("--rounds", type=nonneg_int, default=None, help="rounds per worker")
    ap.add_argument("--migrations", type=positive_int, default=None,
                    help="folio migrations in all (split over the workers)")
    ap.add_argument("--node-mib", type=positive_int, default=256,
                    help="memory per node in MiB, two nodes (a multiple of 128; default 256)")
    ap.add_argument("--user-threads", type=positive_int, default=2)
    ap.add_argument("--migrators", type=positive_int, default=1)
    ap.add_argument("--ops-per-round", type=positive_int, default=40)
    ap.add_argument("--check-every", type=positive_int, default=5,
                    help="rounds between full checks")
    ap.add_argument("--policy", default="random", choices=["random", "pct", "rr"])
    ap.add_argument("--out", default="thpsim-repro", help="where reproducers are saved")
    ap.add_argument("--progress-every", type=positive_float, default=10.0, help="seconds")
    ap.add_argument("--trace", default=None,
                    help="write a Chrome/Perfetto trace JSON (worker 0; see --trace-round)")
    ap.add_argument("--trace-round", default="0", metavar="N|all",
                    help="which rounds of worker 0 the trace covers: one round (default "
                         "0) or all (large); a replay traces the failing round")
    ap.add_argument("--replay", default=None, help="replay a saved reproducer")
    ap.add_argument("--strict", action="store_true",
                    help="with --replay: a schedule that no longer fits is a failure")
    ap.add_argument("--shrink", default=None, help="shrink a saved reproducer")
    ap.add_argument("--without", action="append", default=[], choices=_OPTIONAL_PATHS,
                    help="leave out a kind of kernel activity (repeatable)")
    ap.add_argument("--modeled-time", action="store_true",
                    help="run the cost model: modeled time in the summary and on the "
                         "trace's time axis (docs/modeled-time.md; the run is the same)")
    args = ap.parse_args(argv)
    if args.trace_round == "all":
        trace_round = None
    elif args.trace_round.isdigit():
        trace_round = int(args.trace_round)
    else:
        raise UsageError(f"--trace-round {args.trace_round!r}: a round number or 'all'")
    if args.trace:
        check_writable(args.trace)

    if args.replay:
        # --switch k=v overrides the reproducer's switches (k=0: a bug switch turned off)
        override = profile_switches(args)
        res = replay_reproducer(args.replay, trace=args.trace is not None,
                                switches=override)
        diverged = None
        if res.failure is not None and res.failure.kind == "divergence" and not args.strict:
            diverged = res.failure.message
            res = replay_reproducer(args.replay, trace=args.trace is not None,
                                    switches=override, lenient=True)
        cfg, seed, _, _, _ = load_reproducer(args.replay)
        if args.trace:
            _write_trace(args.trace, res.trace, f"replay of {args.replay}: the failing round")
        if res.failure is None:
            if diverged is not None:
                print(f"passes now: replayed {args.replay}: no failure; the failing round's "
                      f"schedule followed as far as it applies ({diverged})")
            else:
                print(f"replayed {args.replay}: no failure")
            return 0
        print(format_report(cfg, seed, res, args.replay))
        return 1
    if args.shrink:
        base, ext = os.path.splitext(args.shrink)
        out = f"{base}.min{ext}"
        before, after, path = shrink_reproducer(args.shrink, out, log=print)
        print(f"shrunk {args.shrink} from {before} to {after}: {path}")
        print(f"replay: thpsim stress --replay {path}")
        return 0

    switches = profile_switches(args)
    rounds = args.rounds if args.rounds is not None else (10**9 if args.migrations else 50)
    if args.node_mib % 128:
        raise UsageError(f"--node-mib {args.node_mib}: a multiple of 128 (the block size)")
    host_memory_guard(2 * args.node_mib * args.workers)
    check_writable(os.path.join(args.out, "seed0-w0.json"))
    node = args.node_mib << 20
    cfg = StressConfig(profile=args.profile, switches=switches, nodes={0: node, 1: node},
                       user_threads=args.user_threads,
                       migrators=args.migrators, ops_per_round=args.ops_per_round,
                       rounds=rounds, policy=args.policy, check_every=args.check_every,
                       modeled_time=args.modeled_time,
                       **{name.replace("-", "_"): False for name in args.without})
    budget = None if args.migrations is None else -(-args.migrations // args.workers)
    jobs = [{"config": cfg.to_json(), "seed": args.seed * 1000 + w, "worker": w,
             "budget": budget, "out": args.out, "progress_every": args.progress_every,
             "trace": args.trace if w == 0 else None, "trace_round": trace_round}
            for w in range(args.workers)]
    t0 = time.perf_counter()
    what = (f"budget {args.migrations} migrations" if args.migrations
            else f"{rounds} rounds")
    print(f"stress: profile {args.profile}, {args.workers} worker(s), seed {args.seed}, "
          f"{what}", flush=True)
    if args.workers == 1:
        results = [_worker(jobs[0])]
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.workers) as pool:
            results = list(pool.imap_unordered(_worker, jobs))
    wall = time.perf_counter() - t0
    steps = sum(r["steps"] for r in results)
    mig = sum(r["migrations"] for r in results)
    thp = sum(r["thp_migrations"] for r in results)
    failed = [r for r in results if r["report"]]
    print(f"total: {steps} steps, {mig} folio migrations ({thp} THP) in {wall:.1f} s wall: "
          f"{mig / wall:.0f} migrations/s, {steps / wall:.0f} steps/s")
    ops: dict[str, int] = {}
    for r in results:
        for k, v in r["ops"].items():
            ops[k] = ops.get(k, 0) + v
    print("operations: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    if args.modeled_time:
        ns = sum(r["modeled"]["total_ns"] for r in results if r["modeled"])
        cats: dict[str, float] = {}
        for r in results:
            for k, v in (r["modeled"] or {}).get("ns_by_category", {}).items():
                cats[k] = cats.get(k, 0.0) + v
        top = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in
                        sorted(cats.items(), key=lambda kv: -kv[1]) if v)
        misses = sum(r["modeled"]["tlb_misses"] for r in results if r["modeled"])
        print(f"modeled time: {ns / 1e6:.3f} ms over all CPUs ({top} ms); "
              f"{misses} TLB misses (docs/modeled-time.md)")
    for r in failed:
        print(r["report"])
    if not failed:
        print("no integrity or invariant failure")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
