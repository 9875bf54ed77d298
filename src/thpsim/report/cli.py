"""``thpsim report``: one self-contained HTML file with tables and plots.

    thpsim report --store runs.sqlite [--campaign NAME] [--config HASH] [--run ID] --out r.html
    thpsim report --stress --seed 1 [--profile P] [--switch K=V] [--rounds N] --out r.html
    thpsim report ... --json            the report's data as JSON on stdout (with or without --out)

From a results store (``thpsim campaign``): a summary per configuration, migrations
per caller, THPs migrated and split, the counters, the failures with their replay
commands, and for one run of each configuration memory per node over the run and
the physical memory map. ``--stress`` makes the same report from one stress run
done here and now: the run ``thpsim stress --seed S --rounds N`` does (its first
worker), sampled every few rounds. docs/reports.md says how to read each figure.

Exit status: 0 written; 1 (``--stress``) the run found a failure (the report is
still written); 2 bad input (nothing written).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import shlex
import sqlite3
import time
from pathlib import Path
from typing import Any, NoReturn

from thpsim.campaign.runner import CallerCounter
from thpsim.campaign.store import RunStore
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
    resolve_profile,
    version,
    write_atomic,
)
from thpsim.report.data import build_report, config_label
from thpsim.report.html import render
from thpsim.report.memmap import node_memory_map, node_occupancy
from thpsim.stress.harness import folio_migrations, format_report, run_stress
from thpsim.stress.workload import StressConfig

__all__ = ["main", "stress_run", "store_runs"]

#: ``thpsim stress --seed S`` runs worker w with seed S * 1000 + w (stress/cli.py):
#: ``--stress --seed S`` is its worker 0, so the printed command repeats this run.
_STRESS_WORKER_SEED = 1000
#: Samples a --stress run takes at most, unless --sample-every says otherwise.
_SAMPLES = 60


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (:class:`UsageError`, exit 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="thpsim report",
        description="Write one self-contained HTML report with plots (figures embedded, "
                    "no JavaScript), from a results store or from one stress run made now.",
        epilog="exit status: 0 written, 1 the --stress run failed (report written), "
               "2 bad usage or input (nothing written); see docs/reports.md")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--store", metavar="PATH", help="a results store (thpsim campaign)")
    src.add_argument("--stress", action="store_true",
                     help="run one stress run now and report it")
    ap.add_argument("--out", metavar="FILE", help="the HTML file to write")
    ap.add_argument("--json", action="store_true",
                    help="print the report's data as JSON on stdout")
    ap.add_argument("--title", default=None, help="the report's title")
    g = ap.add_argument_group("with --store")
    g.add_argument("--campaign", metavar="NAME", help="only this campaign's runs")
    g.add_argument("--config", metavar="HASH", help="only this configuration (hash prefix)")
    g.add_argument("--run", metavar="ID", type=positive_int, action="append", default=[],
                   help="the run whose time series and memory map a configuration's "
                        "section shows (repeatable; default: its first run with samples)")
    g = ap.add_argument_group("with --stress")
    g.add_argument("--seed", type=nonneg_int, default=0,
                   help="as thpsim stress --seed (run seed SEED*1000, worker 0)")
    g.add_argument("--rounds", type=positive_int, default=50, help="rounds (default 50)")
    g.add_argument("--sample-every", type=positive_int, default=None, metavar="N",
                   help=f"rounds between samples (default: about {_SAMPLES} samples)")
    add_profile_arguments(g)
    return ap


def main(argv: list[str] | None = None) -> int:
    """``thpsim report``: see the module docstring. Returns the exit status."""
    argv = list(argv or [])
    args = _parser().parse_args(argv)
    if not args.out and not args.json:
        raise UsageError("nothing to write: give --out FILE, --json, or both")
    if args.out:
        check_writable(args.out)  # before a run that may take minutes
    store_only = ("campaign", "config", "run")
    stress_only = ("rounds", "sample_every", "seed")
    if args.stress:
        given = [o for o in store_only if getattr(args, o)]
        if given:
            raise UsageError(f"--{given[0]} goes with --store, not --stress")
    else:
        defaults = _parser().parse_args(["--stress"])
        given = [o for o in stress_only if getattr(args, o) != getattr(defaults, o)]
        if args.switch or args.profile != defaults.profile:
            given.append("profile/--switch")
        if given:
            raise UsageError(f"--{given[0].replace('_', '-')} goes with --stress, "
                             "not --store")
    command = "thpsim report " + shlex.join(argv)
    if args.stress:
        run = stress_run(args.seed, args.rounds, args.profile, profile_switches(args),
                         sample_every=args.sample_every)
        runs = [run]
        title = args.title or f"thpsim report: stress run, seed {args.seed}"
        source = ("one stress run made by this command: the run of "
                  + _stress_command(run))
        chosen: list[int] = []
    else:
        runs = store_runs(args.store, args.campaign, args.config)
        ids = {r["id"] for r in runs}
        missing = [i for i in args.run if i not in ids]
        if missing:
            raise UsageError(f"--run {missing[0]}: no such run in {args.store}"
                             + (f" (campaign {args.campaign})" if args.campaign else ""))
        what = f"campaign {args.campaign}" if args.campaign else "all campaigns"
        title = args.title or f"thpsim report: {what}"
        source = f"results store {args.store} ({what})"
        chosen = args.run
    data = build_report(runs, command=command, title=title, source=source,
                        chosen_runs=chosen)
    data["thpsim_version"] = version()
    if args.out:
        configs = data["configurations"]
        with progress_bar(len(configs), "drawing", unit="config") as bar:
            html = render(data, progress=lambda: bar.update(1))
        write_atomic(args.out, html)
    if args.json:
        emit_json(data)
    if args.stress and runs[0]["outcome"] != "ok":
        return EXIT_FOUND
    return EXIT_OK


# ---------------------------------------------------------------- a results store
def store_runs(path: str, campaign: str | None = None, config: str | None = None
               ) -> list[dict[str, Any]]:
    """The runs of a results store, filtered; :class:`UsageError` (one line) for a
    missing or wrong file, an unknown campaign or configuration, or no runs. The
    store is opened for reading only: a missing file is not created."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such results store")
    if p.is_file() and p.stat().st_size == 0:
        raise UsageError(f"{path}: an empty file, not a results store")
    try:
        with RunStore(p, create=False) as store:
            if campaign is not None and campaign not in store.campaigns():
                known = ", ".join(store.campaigns()) or "none"
                raise UsageError(f"{path}: no campaign {campaign!r} (campaigns: {known})")
            runs = store.runs(campaign=campaign, config_hash=config)
    except sqlite3.Error as e:
        raise UsageError(f"{path}: cannot read the results store: {e}") from None
    if not runs:
        what = " ".join(x for x in (f"campaign {campaign}" if campaign else "",
                                    f"configuration {config}" if config else "") if x)
        raise UsageError(f"{path}: no runs" + (f" of {what}" if what else ""))
    return runs


# ---------------------------------------------------------------- one stress run
def _stress_command(run: dict[str, Any]) -> str:
    c = run["config"]
    words = ["thpsim", "stress", "--seed", str(run["seed"] // _STRESS_WORKER_SEED),
             "--rounds", str(c["stress"]["rounds"]), "--profile", c["profile"]]
    for k, v in sorted(c["switches"].items()):
        words += ["--switch", f"{k}={int(v) if isinstance(v, bool) else v}"]
    return shlex.join(words)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def stress_run(seed: int, rounds: int, profile: str, switches: dict[str, Any], *,
               sample_every: int | None = None, progress: bool | None = None
               ) -> dict[str, Any]:
    """One stress run, done here, as a run dict with the keys a results store's runs
    have (:mod:`thpsim.campaign.store`): the run ``thpsim stress --seed SEED --rounds
    ROUNDS --profile ... --switch ...`` does as its worker 0, sampled every
    ``sample_every`` rounds (node_occupancy() and the migrations so far) and at the
    last round (with node_memory_map())."""
    name, resolved = resolve_profile(profile, switches)
    cfg = StressConfig(profile=name, switches=resolved, rounds=rounds)
    every = sample_every or max(1, -(-rounds // _SAMPLES))
    run_seed = seed * _STRESS_WORKER_SEED
    samples: list[dict[str, Any]] = []
    state: dict[str, Any] = {"memmap": None, "counter": None, "m": None}
    # per-caller counts: the harness shows each step to the campaign's counter
    kw: dict[str, Any] = {"step_observer": lambda m: _observe(state, m)}

    def migrations_now(m: Any) -> dict[str, int]:
        total = folio_migrations(m)[0]
        c = state["counter"]
        return c.totals(total) if c is not None else {"all callers": total}

    with progress_bar(rounds, "stress", unit="round", enabled=progress) as bar:
        def on_round(res: Any, m: Any) -> None:
            state["m"] = m
            bar.update(1)
            r = res.rounds
            if r % every == 0 or r == rounds or r == 1:
                samples.append({"round": r, "step": res.steps, "nodes": node_occupancy(m),
                                "migrations": migrations_now(m)})
                state["memmap"] = node_memory_map(m)  # the latest: the end, or near it

        started = _now()
        t0 = time.perf_counter()
        res = run_stress(cfg, run_seed, progress=on_round, **kw)
        seconds = time.perf_counter() - t0
    ev = state["m"].vmstat() if state["m"] is not None else {}
    vmstat = {k: v for k, v in ev.items() if k.startswith(("thp_", "pgmigrate_", "numa_pages"))}
    errors: dict[str, int] = {}
    for kind, n in res.ops.items():
        op, _, err = kind.rpartition(" ")
        if op and err.isupper() and err.startswith("E"):
            errors[kind] = errors.get(kind, 0) + n
    counter = state["counter"]
    config = {"profile": name, "switches": resolved, "stress": cfg.to_json()}
    chash = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":"))
                           .encode()).hexdigest()
    run: dict[str, Any] = {
        "id": 1, "campaign": "", "label": config_label(config), "config": config,
        "config_hash": chash, "version": version(), "seed": run_seed,
        "outcome": "ok" if res.failure is None else "failed",
        "steps": res.steps, "rounds": res.rounds, "migrations": res.migrations,
        "thp_migrations": res.thp_migrations,
        "thp_split_pmd": vmstat.get("thp_split_pmd", 0),
        "thp_split_page": vmstat.get("thp_split_page", 0),
        "migrations_by_caller": counter.totals(res.migrations) if counter else {},
        "errors": errors, "ops": dict(res.ops), "vmstat": vmstat, "seconds": seconds,
        "started": started, "finished": _now(), "report": "", "reproducer": None,
        "replay": "", "samples": samples, "memmap": state["memmap"], "digest": res.digest,
    }
    if res.failure is not None:
        run["replay"] = _stress_command(run)
        repro = f"thpsim-repro/seed{run_seed}-w0.json"
        run["report"] = format_report(cfg, run_seed, res, repro)
        run["reproducer"] = {"config": cfg.to_json(), "seed": run_seed,
                             "round": res.failed_round,
                             "schedule": res.failure.schedule.encode(),
                             "failure": {"kind": res.failure.kind,
                                         "message": res.failure.message}}
    return run


def _observe(state: dict[str, Any], m: Any) -> Any:
    """The harness's step observer: a :class:`CallerCounter` for the run's machine."""
    state["counter"] = CallerCounter(m)
    return state["counter"].on_step

