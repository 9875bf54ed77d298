"""The commands on scenario files: ``thpsim run``, ``numactl``, ``migratepages``,
``numastat`` and ``proc``.

Each takes argv (the words after the command) and returns the exit status; the ``thpsim``
entry point (thpsim.cli) wraps them in :func:`thpsim.cliutil.run_tool`: a bad option,
file, key or name is one line and exit 2; a step that fails or a check that does not
hold is exit 1 with the message on stderr (``thpsim run: FAIL: ...``).

The tools act on the state a scenario leaves (``--scenario FILE``), or the state after
step N (``--at N``); docs/scenario-files.md lists their options.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from thpsim.cliutil import (
    EXIT_FOUND,
    EXIT_OK,
    UsageError,
    add_profile_arguments,
    emit_json,
    nonneg_int,
    positive_int,
    profile_switches,
)
from thpsim.usr import scenario as sc_mod
from thpsim.usr.scenario import ScenarioFailure, State, ToolParser

__all__ = ["run_main", "numactl_main", "migratepages_main", "numastat_main", "proc_main"]


def _parser(cmd: str, description: str, parents: list[argparse.ArgumentParser] | None = None,
            scenario_option: bool = True) -> argparse.ArgumentParser:
    ap = ToolParser(prog=f"thpsim {cmd}", description=description, allow_abbrev=False,
                    parents=parents or [], epilog="exit status: 0 ok, 1 a step failed or a "
                    "check did not hold, 2 bad usage or input; docs/scenario-files.md")
    if scenario_option:
        ap.add_argument("--scenario", required=True, metavar="FILE",
                        help="the scenario file whose state the tool acts on")
    ap.add_argument("--at", type=nonneg_int, metavar="N",
                    help="the state after step N (default: after the last step)")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    ap.add_argument("--max-host-mib", type=positive_int, default=sc_mod.DEFAULT_MAX_HOST_MIB,
                    metavar="MIB", help="refuse a machine estimated to need more host "
                                        "memory (default %(default)s)")
    add_profile_arguments(ap, default=_FROM_FILE)
    return ap


#: ``--profile``'s default: the scenario's own (its [machine] profile).
_FROM_FILE = "the file's [machine] profile"


def _fail(cmd: str, e: ScenarioFailure) -> int:
    print(f"thpsim {cmd}: FAIL: {e}", file=sys.stderr)
    return EXIT_FOUND


def _state(cmd: str, args: argparse.Namespace,
           policy_override: tuple[str, dict[str, Any]] | None = None) -> State:
    sc = sc_mod.load(args.scenario)
    if args.profile == _FROM_FILE:
        args.profile = None
    switches = profile_switches(args)  # resolves a kernel-version --profile in args
    return sc_mod.run(sc, at=args.at, max_host_mib=args.max_host_mib, profile=args.profile,
                      switches=switches, policy_override=policy_override,
                      verbose=getattr(args, "verbose", False))


def _report(cmd: str, args: argparse.Namespace, state: State | None,
            failure: ScenarioFailure | None) -> int:
    """What ``run`` (and numactl starting a process) prints: the steps' output, then a
    summary line (or, with --json, one document)."""
    if failure is not None:
        state = failure.scenario_state
    out = "".join(state.out) if state else ""
    records = state.records if state else []
    sc = state.scenario if state else None
    checks = sum(1 for r in records if r["do"] == "check" and "result" in r)
    if args.json:
        emit_json({"file": args.file if hasattr(args, "file") else args.scenario,
                   "profile": f"{state.machine.profile.name}" if state else None,
                   "seed": state.machine.seed if state else None,
                   "steps": records, "checks_passed": checks, "output": out,
                   "ok": failure is None, "failure": str(failure) if failure else None})
    else:
        sys.stdout.write(out)
        if failure is None and sc is not None:
            print(f"{sc.path}: {len(records)} steps, {checks} checks passed: ok")
    if failure is not None:
        return _fail(cmd, failure)
    return EXIT_OK


def run_main(argv: list[str]) -> int:
    """``thpsim run FILE [--json] [-v] [--at N] [--profile P] [--switch K=V]``."""
    ap = _parser("run", "Run a TOML scenario file: build its machine, start its processes, "
                        "run its steps in order and check what it asks.",
                 scenario_option=False)
    ap.add_argument("file", metavar="FILE", help="the scenario (.toml)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every step and its result")
    args = ap.parse_args(argv)
    args.scenario = args.file
    try:
        state = _state("run", args)
    except ScenarioFailure as e:
        return _report("run", args, None, e)
    return _report("run", args, state, None)


def _print_tool(cmd: str, args: argparse.Namespace, tool: Any) -> int:
    """Run ``tool(state, [], args)`` on the scenario's state and print its text (or, with
    --json, its object): what numactl --hardware/--show, migratepages, numastat and proc
    share."""
    try:
        state = _state(cmd, args)
    except ScenarioFailure as e:
        return _fail(cmd, e)
    try:
        text, obj = tool(state, [], args)
    except OSError as e:  # the system call the tool makes failed (migratepages)
        print(f"{cmd.replace('pages', '_pages')}: {e.strerror}", file=sys.stderr)
        return EXIT_FOUND
    if args.json:
        emit_json(obj)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def numactl_main(argv: list[str]) -> int:
    """``thpsim numactl --scenario F --hardware | --show [--pid P] | POLICY -- PROCESS``."""
    ap = _parser("numactl", "numactl(8) on a scenario: --hardware, --show, or run a process "
                            "of the scenario under a memory policy (numactl --membind=1 "
                            "-- NAME).", parents=[sc_mod.numactl_parser()])
    ap.add_argument("command", nargs="?", metavar="PROCESS",
                    help="a [[process]] of the scenario to start under the policy")
    args = ap.parse_args(argv)
    policy = {k: getattr(args, k) for k in ("membind", "interleave", "preferred",
                                            "cpunodebind", "physcpubind")
              if getattr(args, k) is not None}
    if args.localalloc:
        policy["localalloc"] = True
    if args.hardware or args.show:
        if policy or args.command:
            raise UsageError("--hardware and --show take no policy and no PROCESS")
        return _print_tool("numactl", args, sc_mod.tool_numactl)
    if not args.command:
        raise UsageError("give --hardware, --show, or a policy and the PROCESS to start "
                         "(numactl --membind=1 -- NAME)")
    sc = sc_mod.load(args.scenario)
    if args.command not in {p.name for p in sc.processes}:
        raise UsageError(f"{args.command!r} is not a [[process]] of {sc.path} (declared: "
                         f"{', '.join(p.name for p in sc.processes)})")
    try:
        state = _state("numactl", args, policy_override=(args.command, policy))
    except ScenarioFailure as e:
        return _report("numactl", args, None, e)
    return _report("numactl", args, state, None)


def migratepages_main(argv: list[str]) -> int:
    """``thpsim migratepages --scenario F [-v] [--numastat] PID|NAME FROM TO``."""
    ap = _parser("migratepages", "migratepages(8) on a scenario's process: move its pages "
                                 "from FROM-NODES to TO-NODES with migrate_pages(2).",
                 parents=[sc_mod.migratepages_parser()])
    args = ap.parse_args(argv)
    return _print_tool("migratepages", args, sc_mod.tool_migratepages)


def numastat_main(argv: list[str]) -> int:
    """``thpsim numastat --scenario F [-c] [-m] [-n] [-z] [-v] [-p PID|NAME]...``."""
    ap = _parser("numastat", "numastat(8) on a scenario's state.",
                 parents=[sc_mod.numastat_parser()])
    args = ap.parse_args(argv)
    return _print_tool("numastat", args, sc_mod.tool_numastat)


def proc_main(argv: list[str]) -> int:
    """``thpsim proc --scenario F PATH [--offset N --length N]``: a /proc or /sys file of
    the state (``/proc/NAME/...`` takes a scenario process name for its pid)."""
    ap = _parser("proc", "Print a /proc or /sys file of a scenario's state.",
                 parents=[sc_mod.proc_parser()])
    args = ap.parse_args(argv)
    return _print_tool("proc", args, sc_mod.tool_proc)
