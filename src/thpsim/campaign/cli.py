"""``thpsim campaign`` (run configuration x seed sets into a results store) and
``thpsim runs`` (list, summarise, compare and show what a store holds).

    thpsim campaign --name smoke --seeds 0-99 --rounds 20
    thpsim campaign --profile mainline --switch thp_cow_copies_huge=0 --seeds 50 --workers 8
    thpsim campaign profiles.toml --seeds 0-999 --backend ray --address auto
    thpsim runs --summary
    thpsim runs --compare seed mainline
    thpsim runs --show 17

See docs/campaigns.md. Exit status: 0 every run of the campaign passed, 1 one
failed (or crashed), 2 bad input (nothing is created then).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from thpsim.cliutil import (
    EXIT_FOUND,
    EXIT_OK,
    UsageError,
    add_profile_arguments,
    check_writable,
    emit_json,
    nonneg_int,
    positive_int,
    profile_switches,
    progress_bar,
    version,
    write_atomic,
)

from .backends import BACKENDS, ray_session, run_local, run_ray
from .runner import CALLERS, job
from .spec import (
    OPTIONAL_PATHS,
    CampaignConfig,
    load_campaign_file,
    make_config,
    parse_seeds,
)
from .store import RunStore

__all__ = ["campaign_main", "runs_main", "DEFAULT_STORE"]

DEFAULT_STORE = "thpsim-runs.sqlite"


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (:class:`UsageError`, exit 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# ---------------------------------------------------------------- thpsim campaign
def _campaign_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="thpsim campaign", description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", help="a TOML campaign file ([[config]] tables)")
    ap.add_argument("--name", help="the campaign's name (default: the file's name key or "
                                   "stem, else the configuration's label)")
    ap.add_argument("--seeds", help="N (0..N-1), A-B, or a list 1,5,9-12 (default 10)")
    ap.add_argument("--store", default=DEFAULT_STORE, help="results store (default %(default)s)")
    ap.add_argument("--out", default="thpsim-repro",
                    help="where failing runs' reproducers are written (default %(default)s)")
    g = ap.add_argument_group("configuration (without FILE; with it, sizes override the file)")
    add_profile_arguments(g, default=None)
    g.add_argument("--rounds", type=positive_int, help="rounds per run (default 20)")
    g.add_argument("--migrations", type=positive_int,
                   help="stop a run after this many folio migrations")
    g.add_argument("--user-threads", type=positive_int, help="default 2")
    g.add_argument("--migrators", type=positive_int, help="default 1")
    g.add_argument("--ops-per-round", type=positive_int, help="default 40")
    g.add_argument("--check-every", type=positive_int, help="rounds between full checks "
                                                            "(default 5)")
    g.add_argument("--policy", choices=["random", "pct", "rr"], help="default random")
    g.add_argument("--without", action="append", choices=OPTIONAL_PATHS,
                   help="leave out a kind of kernel activity (repeatable)")
    g.add_argument("--node-mib", type=positive_int, help="each of the two nodes (default 256)")
    g.add_argument("--block-mib", type=positive_int,
                   help="memory-block size (default 128, or half a node below 256 MiB)")
    g.add_argument("--sample-every", type=positive_int,
                   help="rounds between samples (default a tenth of the rounds)")
    b = ap.add_argument_group("back end")
    b.add_argument("--backend", choices=BACKENDS, default="local")
    b.add_argument("--workers", type=positive_int, default=None,
                   help="local: worker processes (default: all cores); ray without "
                        "--address: CPUs of the local instance")
    b.add_argument("--address", help="ray: join this cluster (e.g. auto, or ray://HOST:10001)")
    b.add_argument("--batch", type=positive_int,
                   help="ray: runs per task (default: from timing the first run)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    return ap


#: Command-line options that are configuration settings, by spec key.
_SIZE_OPTIONS = ("rounds", "migrations", "user_threads", "migrators", "ops_per_round",
                 "check_every", "policy", "without", "node_mib", "block_mib", "sample_every")


def _configs(args: argparse.Namespace) -> tuple[str, str | None, list[CampaignConfig]]:
    """(campaign name, seeds text, configurations) from the file and the options."""
    given = {k: getattr(args, k) for k in _SIZE_OPTIONS if getattr(args, k) is not None}
    if args.file is None:
        settings = dict(given)
        if args.profile is not None:
            settings["profile"] = args.profile
        settings["switches"] = profile_switches(args)
        cc = make_config(settings)
        return args.name or cc.label, args.seeds, [cc]
    if args.profile is not None or args.switch:
        raise UsageError("--profile and --switch go in the campaign file's [[config]] tables")
    name, seeds, tables = load_campaign_file(args.file)
    configs = [make_config({**t, **given}, f"{args.file} [[config]] #{i}")
               for i, t in enumerate(tables, 1)]
    hashes = [c.hash for c in configs]
    dup = next((c for k, c in enumerate(configs) if c.hash in hashes[:k]), None)
    if dup is not None:
        raise UsageError(f"{args.file}: two [[config]] tables are the same configuration "
                         f"({dup.label})")
    return (args.name or name or Path(args.file).stem,
            args.seeds if args.seeds is not None else seeds, configs)


def _repro_path(out: str, cc: CampaignConfig, seed: int) -> str:
    return os.path.join(out, f"{cc.hash[:12]}-seed{seed}.json")


def campaign_main(argv: list[str]) -> int:
    """``thpsim campaign``: run every (configuration, seed) not yet stored at this model
    version, store each as it finishes, print the campaign's summary. Returns 1 if any
    run of the campaign (stored now or before) failed or crashed."""
    args = _campaign_parser().parse_args(argv)
    name, seeds_text, configs = _configs(args)
    seeds = parse_seeds(seeds_text if seeds_text is not None else "10")
    if not name.strip():
        raise UsageError("--name: empty")
    if args.backend != "ray" and (args.address is not None or args.batch is not None):
        raise UsageError("--address and --batch are for --backend ray")
    workers = args.workers or os.cpu_count() or 1
    check_writable(args.store)
    check_writable(os.path.join(args.out, "probe.json"))
    # Ray (missing, no cluster at --address) fails here, before the store is created
    session = (ray_session(args.address, args.workers) if args.backend == "ray"
               else contextlib.nullcontext())
    with session, contextlib.closing(RunStore(args.store)) as store:
        return _run_campaign(args, store, name, configs, seeds, workers)


def _run_campaign(args: argparse.Namespace, store: RunStore, name: str,
                  configs: list[CampaignConfig], seeds: list[int], workers: int) -> int:
    ver = version()
    jobs, meta = [], []
    for cc in configs:
        stored = store.stored_seeds(cc.hash, ver)
        for s in seeds:
            if s not in stored:
                jobs.append(job(cc.config, cc.hash, s, _repro_path(args.out, cc, s)))
                meta.append(cc)
    total = len(configs) * len(seeds)
    counts = {"done": 0, "failed": 0, "stored": 0}
    bar = progress_bar(len(jobs), f"campaign {name}", unit="run")

    def on_result(i: int, row: dict[str, Any]) -> None:
        cc = meta[i]
        row.update(campaign=name, label=cc.label, config=cc.config, config_hash=cc.hash,
                   version=ver)
        if row["reproducer"] is not None:  # the file the stored replay command names
            write_atomic(jobs[i]["repro"], json.dumps(row["reproducer"], indent=1,
                                                      sort_keys=True))
        counts["stored"] += store.add(row) is not None
        counts["done"] += 1
        counts["failed"] += row["outcome"] != "ok"
        bar.update(1)
        bar.set_postfix(failed=counts["failed"])

    t0 = time.perf_counter()
    batch = None
    try:
        if args.backend == "ray":
            batch = run_ray(jobs, on_result, address=args.address, batch=args.batch,
                            workers=args.workers, log=lambda s: bar.write(s, file=sys.stderr))
        else:
            run_local(jobs, workers, on_result)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    summary = _campaign_summary(store, name, configs, seeds, ver)
    summary.update(backend=args.backend, ran=counts["done"], skipped=total - len(jobs),
                   wall_seconds=round(wall, 3), store=str(args.store))
    if batch is not None:
        summary["batch"] = batch
    if args.json:
        emit_json(summary)
    else:
        _print_campaign(summary)
    bad = sum(c["failed"] + c["errors"] for c in summary["configs"])
    return EXIT_FOUND if bad else EXIT_OK


def _campaign_summary(store: RunStore, name: str, configs: list[CampaignConfig],
                      seeds: list[int], ver: str) -> dict[str, Any]:
    """Totals per configuration over the campaign's (configuration, seed) set as stored
    (this invocation's runs and earlier ones), and its failures with replay commands."""
    out: dict[str, Any] = {"campaign": name, "version": ver, "seeds": len(seeds),
                           "configs": [], "failures": []}
    for cc in configs:
        rows = store.runs(config_hash=cc.hash, version=ver, seeds=seeds)
        agg = _aggregate(rows)
        out["configs"].append({"label": cc.label, "config_hash": cc.hash, **agg})
        out["failures"] += [_failure(r) for r in rows if r["outcome"] != "ok"]
    return out


def _failure(r: dict[str, Any]) -> dict[str, Any]:
    first = r["report"].splitlines()[0] if r["report"] else ""
    return {"id": r["id"], "label": r["label"], "config_hash": r["config_hash"],
            "seed": r["seed"], "outcome": r["outcome"], "summary": first,
            "replay": r["replay"]}


def _print_campaign(s: dict[str, Any]) -> None:
    runs = sum(c["runs"] for c in s["configs"])
    print(f"campaign {s['campaign']}: {runs} runs stored of {len(s['configs'])} x "
          f"{s['seeds']} ({s['ran']} run now, {s['skipped']} already stored), "
          f"{s['wall_seconds']:.1f} s wall, backend {s['backend']}")
    _print_summary_table(s["configs"])
    _print_failures(s["failures"])


# ---------------------------------------------------------------- aggregation
#: The counters totalled per configuration and compared side by side.
_COUNTERS = ("steps", "rounds", "migrations", "thp_migrations", "thp_split_pmd",
             "thp_split_page")


def _aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over runs: counts, counters, migrations by caller, errors by errno, seconds,
    and migrations per second of run time."""
    agg: dict[str, Any] = {"runs": len(rows),
                           "failed": sum(r["outcome"] == "failed" for r in rows),
                           "errors": sum(r["outcome"] == "error" for r in rows)}
    for k in _COUNTERS:
        agg[k] = sum(r[k] for r in rows)
    by_caller: dict[str, int] = {}
    by_errno: dict[str, int] = {}
    for r in rows:
        for k, v in r["migrations_by_caller"].items():
            by_caller[k] = by_caller.get(k, 0) + v
        for k, v in r["errors"].items():
            by_errno[k] = by_errno.get(k, 0) + v
    agg["migrations_by_caller"] = dict(sorted(by_caller.items(), key=_caller_order))
    agg["errors_by_errno"] = dict(sorted(by_errno.items()))
    agg["seconds"] = round(sum(r["seconds"] for r in rows), 6)
    agg["migrations_per_second"] = (round(agg["migrations"] / agg["seconds"], 1)
                                    if agg["seconds"] else 0.0)
    return agg


def _caller_order(item: tuple[str, int]) -> tuple[int, str]:
    k = item[0]
    return (CALLERS.index(k) if k in CALLERS else len(CALLERS), k)


def _print_table(header: list[str], rows: list[list[Any]]) -> None:
    cells = [header] + [[_cell(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def _print_summary_table(configs: list[dict[str, Any]]) -> None:
    _print_table(["config", "hash", "runs", "failed", "errors", "migrations", "mig/s",
                  "thp_split_pmd", "thp_split_page", "seconds"],
                 [[c["label"], c["config_hash"][:12], c["runs"], c["failed"], c["errors"],
                   c["migrations"], c["migrations_per_second"], c["thp_split_pmd"],
                   c["thp_split_page"], c["seconds"]] for c in configs])


def _print_failures(failures: list[dict[str, Any]]) -> None:
    if not failures:
        return
    print(f"{len(failures)} run(s) not ok:")
    for f in failures:
        print(f"  run {f['id']} ({f['label']}, seed {f['seed']}): {f['outcome']}: "
              f"{f['summary']}")
        if f["replay"]:
            print(f"    replay: {f['replay']}")


# ---------------------------------------------------------------- thpsim runs
def _runs_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="thpsim runs",
                 description="List, summarise, compare and show the runs in a results store.")
    ap.add_argument("--store", default=DEFAULT_STORE, help="results store (default %(default)s)")
    ap.add_argument("--campaign", help="only this campaign's runs")
    ap.add_argument("--config", metavar="HASH", help="only this configuration (hash prefix)")
    ap.add_argument("--outcome", choices=["ok", "failed", "error"], help="only these runs")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--summary", action="store_true", help="totals per configuration")
    what.add_argument("--compare", nargs=2, metavar=("A", "B"),
                      help="two configurations side by side (campaign name or hash prefix)")
    what.add_argument("--show", type=nonneg_int, metavar="ID", help="one run in full")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON on stdout")
    fmt.add_argument("--csv", action="store_true", help="CSV on stdout (listing, summary)")
    return ap


def runs_main(argv: list[str]) -> int:
    """``thpsim runs``: read a results store (never writes it)."""
    args = _runs_parser().parse_args(argv)
    if args.csv and (args.show is not None or args.compare):
        raise UsageError("--csv is for the listing and --summary")
    store = RunStore(args.store, create=False)
    try:
        if args.show is not None:
            return _show(store, args)
        if args.compare:
            return _compare(store, args)
        rows = store.runs(campaign=args.campaign, config_hash=args.config, outcome=args.outcome)
        if args.summary:
            return _summary(rows, args)
        return _listing(rows, args)
    finally:
        store.close()


def _rate(r: dict[str, Any]) -> float:
    return round(r["migrations"] / r["seconds"], 1) if r["seconds"] else 0.0


_LIST_COLUMNS = ["id", "campaign", "config", "seed", "outcome", "steps", "migrations",
                 "rate", "seconds"]


def _listing(rows: list[dict[str, Any]], args: argparse.Namespace) -> int:
    table = [[r["id"], r["campaign"], r["label"], r["seed"], r["outcome"], r["steps"],
              r["migrations"], _rate(r), round(r["seconds"], 3)] for r in rows]
    if args.json:
        emit_json([{**dict(zip(_LIST_COLUMNS, t, strict=True)),
                    "config_hash": r["config_hash"], "version": r["version"]}
                   for t, r in zip(table, rows, strict=True)])
    elif args.csv:
        w = csv.writer(sys.stdout)
        w.writerow(_LIST_COLUMNS)
        w.writerows(table)
    elif rows:
        _print_table(_LIST_COLUMNS, table)
    else:
        print("no runs stored" + (" that match" if args.campaign or args.config
                                  or args.outcome else ""))
    return EXIT_OK


def _groups(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["config_hash"], r["version"]), []).append(r)
    return [(g[0], g) for g in groups.values()]


def _summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> int:
    out = [{"label": first["label"], "config_hash": first["config_hash"],
            "version": first["version"], **_aggregate(g)} for first, g in _groups(rows)]
    cols = ["label", "config_hash", "version", "runs", "failed", "errors", "migrations",
            "migrations_per_second", "thp_migrations", "thp_split_pmd", "thp_split_page",
            "seconds"]
    if args.json:
        emit_json(out)
    elif args.csv:
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows([[c[k] for k in cols] for c in out])
    elif out:
        _print_summary_table(out)
    else:
        print("no runs stored")
    return EXIT_OK


def _select(store: RunStore, what: str) -> tuple[str, list[dict[str, Any]]]:
    """The runs of one configuration named by a campaign name (with one configuration)
    or a config hash prefix; UsageError when nothing or more than one matches."""
    if what in store.campaigns():
        rows = store.runs(campaign=what)
        hashes = sorted({r["config_hash"] for r in rows})
        if len(hashes) > 1:
            raise UsageError(f"campaign {what!r} has {len(hashes)} configurations "
                             f"({', '.join(h[:12] for h in hashes)}): give a hash prefix")
        return f"{what} ({rows[0]['label']}, {hashes[0][:12]})", rows
    hashes = store.config_hashes(what) if what and all(
        c in "0123456789abcdef" for c in what.lower()) else []
    if not hashes:
        raise UsageError(f"{what!r}: no campaign of that name, no configuration hash with "
                         f"that prefix")
    if len(hashes) > 1:
        raise UsageError(f"{what!r}: a prefix of {len(hashes)} configuration hashes "
                         f"({', '.join(h[:12] for h in hashes)}): give more of it")
    rows = store.runs(config_hash=hashes[0])
    return f"{rows[0]['label']} ({hashes[0][:12]})", rows


def _compare(store: RunStore, args: argparse.Namespace) -> int:
    (na, ra), (nb, rb) = (_select(store, w) for w in args.compare)
    a, b = _aggregate(ra), _aggregate(rb)
    names = list(_COUNTERS)
    names += [f"migrations_by_caller.{k}" for k in
              dict(sorted({**a["migrations_by_caller"], **b["migrations_by_caller"]}.items(),
                          key=_caller_order))]
    names += [f"errors_by_errno.{k}" for k in sorted({**a["errors_by_errno"],
                                                      **b["errors_by_errno"]})]

    def get(agg: dict[str, Any], name: str) -> int:
        head, _, key = name.partition(".")
        return agg[head].get(key, 0) if key else agg[head]

    counters = []
    for n in names:
        ta, tb = get(a, n), get(b, n)
        rate_a = ta / a["seconds"] if a["seconds"] else 0.0
        rate_b = tb / b["seconds"] if b["seconds"] else 0.0
        counters.append({"counter": n, "a_total": ta, "a_per_second": round(rate_a, 2),
                         "b_total": tb, "b_per_second": round(rate_b, 2),
                         "ratio": round(rate_b / rate_a, 3) if rate_a else None})
    out = {"a": {"name": na, "runs": a["runs"], "failed": a["failed"], "errors": a["errors"],
                 "seconds": a["seconds"]},
           "b": {"name": nb, "runs": b["runs"], "failed": b["failed"], "errors": b["errors"],
                 "seconds": b["seconds"]},
           "counters": counters,
           "failures": {"a": [_failure(r) for r in ra if r["outcome"] != "ok"],
                        "b": [_failure(r) for r in rb if r["outcome"] != "ok"]}}
    if args.json:
        emit_json(out)
        return EXIT_OK
    for side in ("a", "b"):
        s = out[side]
        print(f"{side.upper()}: {s['name']}: {s['runs']} runs, {s['failed']} failed, "
              f"{s['errors']} errors, {s['seconds']:.2f} s")
    print("rates are per second of run time; ratio = B/A")
    _print_table(["counter", "A total", "A /s", "B total", "B /s", "ratio"],
                 [[c["counter"], c["a_total"], c["a_per_second"], c["b_total"],
                   c["b_per_second"], "-" if c["ratio"] is None else f"{c['ratio']:.3f}"]
                  for c in counters])
    for side in ("a", "b"):
        if out["failures"][side]:
            print(f"{side.upper()}: ", end="")
            _print_failures(out["failures"][side])
    return EXIT_OK


def _show(store: RunStore, args: argparse.Namespace) -> int:
    r = store.run(args.show)
    if r is None:
        raise UsageError(f"--show {args.show}: no run with that id in {args.store}")
    if args.json:
        emit_json(r)
        return EXIT_OK
    for k in ("id", "campaign", "label", "config_hash", "version", "seed", "outcome",
              "steps", "rounds", "migrations", "thp_migrations", "thp_split_pmd",
              "thp_split_page", "seconds", "started", "finished", "digest"):
        print(f"{k}: {r[k]}")
    for k in ("migrations_by_caller", "errors", "vmstat", "ops"):
        print(f"{k}: " + ", ".join(f"{n} {v}" for n, v in r[k].items()))
    print(f"samples: {len(r['samples'])}"
          + (f" (rounds {r['samples'][0]['round']}..{r['samples'][-1]['round']})"
             if r["samples"] else ""))
    print("config: " + json.dumps(r["config"], sort_keys=True))
    if r["report"]:
        print("report:")
        print("\n".join(f"  {line}" for line in r["report"].splitlines()))
    if r["replay"]:
        print(f"replay: {r['replay']}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(campaign_main(sys.argv[1:]))

