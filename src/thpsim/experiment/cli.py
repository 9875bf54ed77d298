"""``thpsim experiment`` and ``thpsim calibrate`` (docs/modeled-time.md).

    thpsim experiment split-vs-thp [--profile P] [--switch K=V] [--nr-thp N] [--rounds N]
                                   [--caller NAME ...] [--params TABLE.json]
                                   [--json] [--plot FILE.png]
    thpsim experiment tiering [--policy NAME ...] [--pattern zipf|uniform|phase]
                              [--nr-thp N] [--fast-thp N] [--ticks N] [--accesses N]
                              [--seed N] [--zipf-s S] [--phase-ticks N]
                              [--placement slow|fast-first] [--thp-migration both|on|off]
                              [--slow-latency-ns NS] [--slow-bandwidth-gbs GBS]
                              [--params TABLE.json] [--profile P] [--switch K=V]
                              [--json] [--plot FILE.png]     (docs/tiering.md)
    thpsim calibrate [MEASUREMENTS.toml|.json] [--params TABLE.json] [--fit NAME ...]
                     [--out FITTED.json] [--json]
    thpsim calibrate --example          the shipped measurements as an input file

Exit status: 0 done; 1 (experiment) a relation the series is about did not hold
(split-vs-thp: a caller kept fewer THPs with THP migration on than off; tiering: a
policy that migrated ran faster with split-first migration than with THP migration);
2 bad usage or input (one line, nothing written).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, NoReturn

from thpsim.cliutil import (
    EXIT_FOUND,
    EXIT_OK,
    UsageError,
    add_profile_arguments,
    check_writable,
    emit_json,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
    profile_switches,
    write_atomic,
)
from thpsim.demo import CALLERS
from thpsim.experiment import tiering as tier
from thpsim.experiment.calibrate import (
    DEFAULT_FIT,
    V3_COVER_LETTER,
    calibrate,
    default_params,
    example_text,
    load_measurements,
)
from thpsim.experiment.split_vs_thp import (
    DEFAULT_NR_THP,
    DEFAULT_ROUNDS,
    format_table,
    plot,
    split_vs_thp,
)
from thpsim.tiering import PATTERNS, POLICIES, TieredTopology

__all__ = ["experiment_main", "calibrate_main", "load_params"]

EXPERIMENTS = ("split-vs-thp", "tiering")
#: the tiering experiment's options, for the check that split-vs-thp is not given them
_TIERING_ONLY = ("policy", "pattern", "fast_thp", "ticks", "accesses", "seed", "zipf_s",
                 "phase_ticks", "placement", "thp_migration", "slow_latency_ns",
                 "slow_bandwidth_gbs")
_SPLIT_ONLY = ("rounds", "caller")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (:class:`UsageError`, exit 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def load_params(path: str) -> dict[str, float]:
    """A parameter table (``thpsim calibrate --out``'s JSON, flat names as in the
    machine's cost_params file) merged over the shipped one; UsageError if malformed."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror}") from None
    except ValueError as e:
        raise UsageError(f"{path}: not valid JSON ({e})") from None
    if isinstance(data, dict) and isinstance(data.get("params"), dict):
        data = data["params"]  # the whole --json output of calibrate
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object of parameter: value")
    base = default_params()
    unknown = sorted(set(data) - set(base))
    if unknown:
        raise UsageError(f"{path}: unknown parameter(s) {', '.join(unknown)}")
    bad = [k for k, v in data.items()
           if isinstance(v, bool) or not isinstance(v, int | float) or v < 0
           or (k.endswith("_gbs") and v == 0)]
    if bad:
        raise UsageError(f"{path}: {bad[0]} must be a number >= 0 (a bandwidth > 0)")
    base.update({k: float(v) for k, v in data.items()})
    return base


# ---------------------------------------------------------------- thpsim experiment
def _experiment_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="thpsim experiment",
                 description="Experiments on modeled time (docs/modeled-time.md).",
                 epilog="exit status: 0 done, 1 a THP-migration relation did not hold, "
                        "2 bad usage or input")
    ap.add_argument("name", choices=EXPERIMENTS, help="the experiment")
    ap.add_argument("--nr-thp", type=positive_int, default=None,
                    help=f"THPs in the working set (split-vs-thp default {DEFAULT_NR_THP}: "
                         f"4,096 pages, more than the 1,536-entry 4 KiB TLB holds; tiering "
                         f"default {tier.DEFAULTS['nr_thp']})")
    ap.add_argument("--rounds", type=positive_int, default=None,
                    help=f"split-vs-thp: sweeps over the working set after the move "
                         f"(default {DEFAULT_ROUNDS})")
    ap.add_argument("--caller", action="append", default=[], choices=CALLERS,
                    help="split-vs-thp: only this caller (repeatable; default all six)")
    t = ap.add_argument_group("tiering (docs/tiering.md)")
    t.add_argument("--policy", action="append", default=[], choices=tuple(POLICIES),
                   help="only this policy (repeatable; default all)")
    t.add_argument("--pattern", choices=PATTERNS, default=None,
                   help=f"access pattern (default {tier.DEFAULTS['pattern']})")
    t.add_argument("--fast-thp", type=nonneg_int, default=None,
                   help=f"the fast tier's capacity for the working set, in THPs (default "
                        f"{tier.DEFAULTS['fast_thp']})")
    t.add_argument("--ticks", type=positive_int, default=None,
                   help=f"ticks of the workload, a policy step after each (default "
                        f"{tier.DEFAULTS['ticks']})")
    t.add_argument("--accesses", type=positive_int, default=None,
                   help=f"loads per tick (default {tier.DEFAULTS['accesses']})")
    t.add_argument("--seed", type=nonneg_int, default=None,
                   help="the workload's and the machine's seed (default 0)")
    t.add_argument("--zipf-s", type=nonneg_float, default=None,
                   help=f"Zipf exponent (default {tier.DEFAULTS['zipf_s']})")
    t.add_argument("--phase-ticks", type=positive_int, default=None,
                   help=f"phase: ticks between hot-set changes (default "
                        f"{tier.DEFAULTS['phase_ticks']})")
    t.add_argument("--placement", choices=tier.PLACEMENTS, default=None,
                   help=f"where the working set starts (default {tier.DEFAULTS['placement']})")
    t.add_argument("--thp-migration", choices=("both", "on", "off"), default=None,
                   help="run with THP migration on, off (split first) or both (default)")
    t.add_argument("--slow-latency-ns", type=nonneg_float, default=None,
                   help=f"the slow node's load latency (default "
                        f"{TieredTopology.slow_latency_ns:g})")
    t.add_argument("--slow-bandwidth-gbs", type=positive_float, default=None,
                   help=f"the slow node's copy bandwidth, GB/s (default "
                        f"{TieredTopology.slow_bandwidth_gbs:g})")
    ap.add_argument("--params", metavar="TABLE.json",
                    help="the cost model's parameters (thpsim calibrate --out)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--plot", metavar="FILE.png", help="write a bar chart (matplotlib)")
    add_profile_arguments(ap)
    return ap


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n) not in (None, [])]


def experiment_main(argv: list[str] | None = None) -> int:
    """``thpsim experiment``: see the module docstring. Returns the exit status."""
    args = _experiment_parser().parse_args(list(argv or []))
    switches = profile_switches(args)
    if "thp_migration_supported" in switches:
        raise UsageError("--switch thp_migration_supported: the experiment runs both ways")
    wrong = _given(args, _TIERING_ONLY if args.name == "split-vs-thp" else _SPLIT_ONLY)
    if wrong:
        raise UsageError(f"{wrong[0]}: not an option of the {args.name} experiment")
    params: dict[str, float] | bool = load_params(args.params) if args.params else True
    if args.name == "tiering":
        return _tiering(args, switches, params)
    nr_thp = args.nr_thp or DEFAULT_NR_THP
    rounds = args.rounds or DEFAULT_ROUNDS
    if nr_thp > 32:
        raise UsageError(f"--nr-thp {nr_thp}: at most 32 (the demo machine's "
                         f"128 MiB movable zone per node)")
    if args.plot:
        check_writable(args.plot)
    callers = tuple(dict.fromkeys(args.caller)) or CALLERS
    rows = split_vs_thp(args.profile, switches, nr_thp=nr_thp, rounds=rounds,
                        params=params, callers=callers)
    if args.plot:
        plot(rows, args.plot)
    if args.json:
        emit_json({"experiment": args.name, "profile": args.profile, "switches": switches,
                   "nr_thp": nr_thp, "rounds": rounds, "results": rows})
    else:
        print(f"split-vs-thp: profile {args.profile}, {nr_thp} THPs, "
              f"{rounds} sweep(s) after the move; modeled time (docs/modeled-time.md)")
        print(format_table(rows))
        if args.plot:
            print(f"plot: {args.plot}")
    by = {(r["caller"], r["thp_migration"]): r for r in rows}
    worse = [c for c in callers if by[(c, True)]["thp_after"] < by[(c, False)]["thp_after"]]
    return EXIT_FOUND if worse else EXIT_OK


def _tiering(args: argparse.Namespace, switches: dict[str, Any],
             params: dict[str, float] | bool) -> int:
    """``thpsim experiment tiering``: thpsim.experiment.tiering, docs/tiering.md."""
    kw: dict[str, Any] = dict(tier.DEFAULTS)
    for k in ("pattern", "fast_thp", "ticks", "accesses", "seed", "zipf_s", "phase_ticks",
              "placement"):
        if getattr(args, k) is not None:
            kw[k] = getattr(args, k)
    if args.nr_thp is not None:
        kw["nr_thp"] = args.nr_thp
    topo = TieredTopology()
    if kw["nr_thp"] > tier.MAX_NR_THP:
        raise UsageError(f"--nr-thp {kw['nr_thp']}: at most {tier.MAX_NR_THP} (the slow "
                         f"node's {topo.slow_mib} MiB)")
    if kw["fast_thp"] > min(kw["nr_thp"], tier.MAX_FAST_THP):
        raise UsageError(f"--fast-thp {kw['fast_thp']}: at most the working set "
                         f"({kw['nr_thp']} THPs) and {tier.MAX_FAST_THP} (the fast node's "
                         f"{topo.fast_mib} MiB)")
    if kw["ticks"] * kw["accesses"] > tier.MAX_LOADS:
        raise UsageError(f"--ticks x --accesses: at most {tier.MAX_LOADS:,} loads a run")
    slow = {}
    if args.slow_latency_ns is not None:
        slow["slow_latency_ns"] = args.slow_latency_ns
    if args.slow_bandwidth_gbs is not None:
        slow["slow_bandwidth_gbs"] = args.slow_bandwidth_gbs
    topo = TieredTopology(**slow)
    base = None if params is True else params
    if args.plot:
        check_writable(args.plot)
    ways = {"both": (True, False), "on": (True,), "off": (False,)}[args.thp_migration or "both"]
    policies = tuple(dict.fromkeys(args.policy)) or tuple(POLICIES)
    rows = [tier.run_one(pol, whole, profile=args.profile, switches=switches, topology=topo,
                         params=base, **kw)
            for pol in policies for whole in ways]
    if args.plot:
        tier.plot(rows, args.plot)
    if args.json:
        emit_json({"experiment": args.name, "profile": args.profile, "switches": switches,
                   **kw, "topology": topo.describe(), "results": rows})
    else:
        print(f"tiering: profile {args.profile}, {kw['pattern']} over {kw['nr_thp']} THPs, "
              f"fast tier {kw['fast_thp']} THPs, {kw['ticks']} ticks x {kw['accesses']} "
              f"loads, seed {kw['seed']}, start {kw['placement']}; modeled time "
              f"(docs/tiering.md)")
        print(tier.format_table(rows))
        if args.plot:
            print(f"plot: {args.plot}")
    by = {(r["policy"], r["thp_migration"]): r for r in rows}
    worse = [p for p in policies if (p, True) in by and (p, False) in by
             and by[(p, True)]["pages_migrated"]
             and by[(p, False)]["runtime_us"] < by[(p, True)]["runtime_us"]]
    return EXIT_FOUND if worse else EXIT_OK


# ---------------------------------------------------------------- thpsim calibrate
def _calibrate_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="thpsim calibrate",
                 description="Fit the cost model's parameters to measured times by least "
                             "squares (docs/modeled-time.md). Without a file: the v3 "
                             "series' cover-letter move_pages figures.",
                 epilog="exit status: 0 fitted, 2 bad usage or input")
    ap.add_argument("measurements", nargs="?", metavar="FILE",
                    help="measurements, TOML or JSON ([[measurement]] tables; --example)")
    ap.add_argument("--params", metavar="TABLE.json",
                    help="the table to start from and hold (default: the shipped one)")
    ap.add_argument("--fit", action="append", default=[], metavar="NAME",
                    help=f"a parameter to fit (repeatable; default: the file's fit, else "
                         f"{', '.join(DEFAULT_FIT)})")
    ap.add_argument("--out", metavar="FITTED.json", help="write the fitted table here")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--example", action="store_true",
                    help="print the shipped measurements as an input file and stop")
    return ap


def calibrate_main(argv: list[str] | None = None) -> int:
    """``thpsim calibrate``: see the module docstring. Returns the exit status."""
    args = _calibrate_parser().parse_args(list(argv or []))
    if args.example:
        print(example_text())
        return EXIT_OK
    if args.measurements:
        meas, file_fit = load_measurements(args.measurements)
    else:
        meas, file_fit = [dict(m) for m in V3_COVER_LETTER], None
    fit = args.fit or file_fit or list(DEFAULT_FIT)
    base = load_params(args.params) if args.params else None
    if args.out:
        check_writable(args.out)
    result = calibrate(meas, base, fit)
    if args.out:
        write_atomic(args.out, json.dumps(result["params"], indent=2) + "\n")
    if args.json:
        emit_json(result)
        return EXIT_OK
    _print_calibration(result, args.out)
    return EXIT_OK


def _print_calibration(result: dict[str, Any], out: str | None) -> None:
    print("measurement                  measured us   modeled us   error")
    for m in result["measurements"]:
        print(f"{m['name'][:28]:<28} {m['measured_us']:>11.2f} {m['modeled_us']:>12.2f} "
              f"{m['error_pct']:>+7.2f}%")
    print(f"fitted ({', '.join(result['fit'])}; {result['iterations']} iteration(s)):")
    for k, v in result["params"].items():
        mark = "  *" if k in result["fit"] else ""
        print(f"  {k:<24} {v:.6g}{mark}")
    if out:
        print(f"written: {out} (Machine(modeled_time=json.load(...)), "
              f"thpsim experiment --params {out})")
