"""The ``thpsim`` command: a guided demo, the benchmarks, and the race and stress tools.

    thpsim [demo] [--node-mib N] [--profile seed|mainline] [--counters]
    thpsim bench [--quick] [--json] [--compare] ...  thpsim/bench.py
    thpsim replay|explore|race ...   race scenarios (see thpsim.scenarios)
    thpsim stress ...                the stress harness (see thpsim.stress)
    thpsim oracle ...                real kernels against the model (docs/oracle.md)
    thpsim fuzz ...                  the hostile-input fuzzer (see thpsim.fuzz)
    thpsim zoo ...                   the bug zoo: historical bugs found and replayed

``demo`` boots a two-node machine, faults THPs in, forks, breaks COW in the
child, splits a PMD with a partial munmap, and shows what /proc and /sys report
(through :attr:`Machine.fs`, or with ``--counters`` the same facts straight from
the counters), then runs the invariant checker. Printing lives
here, in the tool, not in the library (STYLE.md 2.7).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import textwrap
from typing import TextIO

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_HUGEPAGE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
    Process,
)
from thpsim.cliutil import (
    KERNEL_PROFILE_NAMES,
    UsageError,
    emit_json,
    host_memory_guard,
    profile_switches,
    resolve_profile,
    run_tool,
    switch_kinds,
    version,
)
from thpsim.demo import CALLERS, migration_demo
from thpsim.fuzz import MACHINES, runner
from thpsim.oracle.cli import main as oracle_main
from thpsim.profiles import PROFILES, switch_docs
from thpsim.scenarios import cli_explore, cli_replay, cli_run
from thpsim.stress.cli import main as stress_main
from thpsim.testing import mm_counters, node_free_pages, node_stat, vmas
from thpsim.zoo.cli import main as zoo_main

__all__ = ["main"]

MiB = 1 << 20
#: Where the demo asks for its mapping (a hint, not MAP_FIXED): 2 MiB-aligned, so all
#: four PMDs of the 8 MiB can hold THPs whatever the profile's alignment rule.
DEMO_HINT = 0x7E00_0000_0000
DEMO_LENGTH = 8 * MiB


def _text(x: object) -> str:
    return x.decode() if isinstance(x, bytes | bytearray) else str(x)


def _thp_events(m: Machine) -> dict[str, int]:
    return {k: v for k, v in m.vmstat().items() if k.startswith("thp_")}


def _show_proc(m: Machine, p: Process, addr: int, out: TextIO) -> None:
    """The /proc and /sys views, read through the VFS."""
    fs = m.fs
    smaps = _text(fs.read(f"/proc/{p.pid}/smaps")).splitlines()
    print(f"--- /proc/{p.pid}/smaps (the VMAs around {addr:#x})", file=out)
    keep = ("Size", "Rss", "Anonymous", "AnonHugePages", "Locked", "THPeligible")
    for line in smaps:
        head = line.split(":", 1)[0]
        if "-" in line.split(" ", 1)[0] or head in keep:
            print("  " + line, file=out)
    print("--- /proc/vmstat (thp_*)", file=out)
    for line in _text(fs.read("/proc/vmstat")).splitlines():
        if line.startswith(("thp_", "nr_anon_transparent_hugepages")):
            print("  " + line, file=out)
    print("--- /sys/devices/system/node/node0/meminfo", file=out)
    for line in _text(fs.read("/sys/devices/system/node/node0/meminfo")).splitlines():
        print("  " + line, file=out)


def _show_counters(m: Machine, procs: list[Process], out: TextIO) -> None:
    """The same facts from the counters (``--counters``, or no thpsim.fs.vfs)."""
    print("(showing the kernel counters directly, not /proc and /sys)", file=out)
    for p in procs:
        print(f"--- pid {p.pid}: VMAs and mm counters", file=out)
        for start, end, flags in vmas(p):
            print(f"  {start:012x}-{end:012x} flags {flags:#x} {(end - start) // 1024} kB",
                  file=out)
        for name, pages in mm_counters(p).items():
            print(f"  {name}: {pages} pages", file=out)
    print("--- vmstat events (thp_*, pgfault)", file=out)
    for k, v in _thp_events(m).items():
        print(f"  {k} {v}", file=out)
    print(f"  pgfault {m.vmstat()['pgfault']}", file=out)
    nid = min(m.nodes)
    print(f"--- node {nid} statistics", file=out)
    print(f"  MemTotal: {m.nodes[nid] // 1024} kB", file=out)
    print(f"  MemFree: {node_free_pages(m, nid) * PAGE_SIZE // 1024} kB", file=out)
    for item, pages in node_stat(m, nid).items():
        print(f"  {item}: {pages} pages", file=out)


def _print_migrations(rows: list[dict], out: TextIO) -> None:
    """The per-caller table of :func:`thpsim.demo.migration_demo`."""
    print("each caller on a fresh machine: two THPs (1024 pages) faulted on node 0, then "
          "moved towards node 1", file=out)
    for whole in (True, False):
        title = ("with THP migration (the v3 series): each THP moves whole" if whole else
                 "without it (thp_migration_supported=0, before the series): "
                 "each THP is split and its pages move one by one")
        print(f"--- {title}", file=out)
        print(f"  {'caller':<13} {'THPs':>6}  {'pages per node':<16} "
              f"{'thp_migration_success':>21} {'thp_split_page':>14} {'pgmigrate_success':>17}",
              file=out)
        for r in rows:
            if r["thp_migration"] != whole:
                continue
            d = r["vmstat_delta"]
            where = " ".join(f"{n}:{c}" for n, c in r["pages_per_node_after"].items())
            thps = f"{r['thp_before']} -> {r['thp_after']}"
            print(f"  {r['caller']:<13} {thps:>6}  "
                  f"{where:<16} {d['thp_migration_success']:>21} {d['thp_split_page']:>14} "
                  f"{d['pgmigrate_success']:>17}", file=out)
        print("  (THPs: PMD-mapped THPs before -> after, from smaps AnonHugePages; pages "
              "per node from move_pages(2)'s query; counters: /proc/vmstat deltas)",
              file=out)
    print("  soft-offline moves the data within its node; mainline (6.x) splits the THP "
          "there even with THP migration, as Linux does", file=out)


def demo(node_mib: int = 1024, profile: str = "seed", out: TextIO | None = None,
         use_fs: bool = True, as_json: bool = False,
         switches: dict | None = None) -> int:
    """Migrate THPs with each caller (with and without THP migration), then fault THPs
    in, fork, COW in the child, split a PMD; show /proc; check integrity.

    ``use_fs``: read /proc and /sys through ``m.fs``; False: print the same facts
    from the counters. ``as_json``: the per-caller results as one JSON document.
    """
    out = sys.stdout if out is None else out
    profile, switches = resolve_profile(profile, switches)
    if node_mib < 256 or node_mib % 128:
        raise UsageError(f"--node-mib {node_mib}: a multiple of 128, at least 256")
    _guard_host_memory(2 * node_mib)
    rows = migration_demo(profile, switches, node_mib=256)
    if as_json:
        emit_json({"profile": profile, "switches": switches, "callers": list(CALLERS),
                   "migrations": rows}, out)
        return 0
    _print_migrations(rows, out)
    out = sys.stdout if out is None else out
    rw, anon = PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
    m = Machine(nodes={0: node_mib * MiB, 1: node_mib * MiB}, cpus=4, thp="always",
                profile=profile, seed=0, check=True, **switches)
    print(f"booted {m!r}", file=out)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    addr = p.mmap(DEMO_HINT, DEMO_LENGTH, rw, anon)
    p.madvise(addr, DEMO_LENGTH, MADV_HUGEPAGE)
    print(f"pid {p.pid}: mmap {DEMO_LENGTH // MiB} MiB at {addr:#x}", file=out)
    for a in range(addr, addr + DEMO_LENGTH, PAGE_SIZE):
        t.write(a, a)
    ev = _thp_events(m)
    print(f"wrote every 4 KiB page: thp_fault_alloc={ev['thp_fault_alloc']} "
          f"anon rss={mm_counters(p)['MM_ANONPAGES']} pages", file=out)

    child = p.fork()
    ct = child.threads[0]
    cow = addr + HPAGE_PMD_SIZE + 5 * PAGE_SIZE
    ct.write(cow, 0xC0FFEE)
    assert ct.read(cow) == 0xC0FFEE and t.read(cow) == cow
    print(f"fork -> pid {child.pid}; child wrote {cow:#x} (COW, profile "
          f"{m.profile.name}: thp_cow_copies_huge={m.profile.thp_cow_copies_huge}); "
          f"parent still reads its own value", file=out)

    before = m.vmstat()["thp_split_pmd"]
    p.munmap(addr, HPAGE_PMD_SIZE // 2)
    split = m.vmstat()["thp_split_pmd"] - before
    print(f"munmap half a THP [{addr:#x}, {addr + HPAGE_PMD_SIZE // 2:#x}): "
          f"thp_split_pmd +{split}", file=out)
    for a in (addr + HPAGE_PMD_SIZE // 2, addr + HPAGE_PMD_SIZE - PAGE_SIZE):
        t.read(a)  # the other half still holds what was written (checked by the shadow)

    if use_fs:
        _show_proc(m, p, addr, out)
    else:
        _show_counters(m, [p, child], out)
    m.check_integrity()
    print("check_integrity: ok", file=out)
    return 0


def _demo_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The demo's options, on the top level (``thpsim --counters``) and on ``demo``.
    The subcommand's copies default to SUPPRESS so they do not undo the top level's."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--node-mib", type=int, default=default(1024),
                        help="memory per node in MiB (multiple of 128; default 1024)")
    parser.add_argument("--profile", choices=(*PROFILES, *KERNEL_PROFILE_NAMES),
                        default=default("seed"),
                        help="seed (4.14), mainline (7.2), or a kernel version's switch set")
    parser.add_argument("--switch", action="append", default=default([]),
                        metavar="NAME=VALUE", help="set a profile switch (repeatable)")
    parser.add_argument("--counters", action="store_true", default=default(False),
                        help="show the kernel counters, not the /proc and /sys files")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print the per-caller migration results as JSON")


def _switches_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help="only these switches (default: all); a prefix such as bug_ works")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object per switch")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown table")


def switches_table() -> list[dict]:
    """Every profile switch: type, value in each profile and kernel switch set, doc."""
    from thpsim.oracle.record import KERNEL_PROFILES  # lazy: the oracle's tables

    docs = switch_docs()
    rows = []
    for name, kind in switch_kinds().items():
        row = {"name": name, "type": kind.__name__}
        for prof in PROFILES:
            row[prof] = getattr(PROFILES[prof], name)
        for kernel in KERNEL_PROFILE_NAMES:
            base, sw = KERNEL_PROFILES[kernel]
            row[kernel] = sw.get(name, getattr(PROFILES[base], name))
        row["doc"] = docs.get(name, "")
        rows.append(row)
    return rows


def switches_cmd(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``thpsim switches``: the table of profile switches (docs/switches.md is its
    Markdown, checked by the tests to be current)."""
    out = sys.stdout if out is None else out
    rows = switches_table()
    if args.names:
        rows = [r for r in rows if any(r["name"].startswith(n) for n in args.names)]
        if not rows:
            raise UsageError(f"no profile switch named or starting with "
                             f"{', '.join(args.names)}")
    cols = (*PROFILES, *KERNEL_PROFILE_NAMES)
    if args.json:
        emit_json(rows, out)
    elif args.markdown:
        print(switches_markdown(rows) if args.names else switches_page(), file=out, end="")
    else:
        for r in rows:
            vals = "  ".join(f"{c}={_fmt_switch(r[c])}" for c in cols)
            print(f"{r['name']} ({r['type']})  {vals}", file=out)
            for line in textwrap.wrap(r["doc"], 92):
                print(f"    {line}", file=out)
    return 0


def _fmt_switch(v: object) -> str:
    return str(int(v)) if isinstance(v, bool) else str(v)


SWITCHES_PAGE_HEAD = """# Profile switches

Every behaviour difference between eras is a named switch of `thpsim.profiles.Profile`:
`seed` is Linux 4.14 with the v3 series, `mainline` is what Linux 7.2 answers, and the
columns 7.2, 6.12 and 6.1 are the switch sets that the kernel oracle's recordings of
those kernels are replayed under (`--profile 6.1` selects one). `bug_*` switches bring
a historical bug back (docs/zoo/). Set any switch with `--switch NAME=VALUE` on every
command (values `0/1/true/false/on/off`, or an integer for `bug_b5_swp_soft_dirty_bit`),
or `Machine(NAME=value)` in Python. `thpsim switches [NAME-PREFIX] [--json]` prints
this table; it is generated from the `#:` comments in `src/thpsim/profiles.py` by
`thpsim switches --markdown`, and a test checks that this page is current.

"""


def switches_page() -> str:
    """docs/switches.md: the page ``thpsim switches --markdown`` prints."""
    return SWITCHES_PAGE_HEAD + switches_markdown()


def switches_markdown(rows: list[dict] | None = None) -> str:
    """The switch table as Markdown (docs/switches.md)."""
    rows = switches_table() if rows is None else rows
    cols = (*PROFILES, *KERNEL_PROFILE_NAMES)
    lines = ["| switch | " + " | ".join(cols) + " | what it changes, and when |",
             "|---|" + "---|" * len(cols) + "---|"]
    for r in rows:
        doc = r["doc"].replace("|", "\\|")
        lines.append(f"| `{r['name']}` | " + " | ".join(_fmt_switch(r[c]) for c in cols)
                     + f" | {doc} |")
    return "\n".join(lines) + "\n"


def _guard_host_memory(sim_mib: int) -> None:
    """Refuse a machine whose simulation would not fit the host (cliutil)."""
    host_memory_guard(sim_mib)


def _replay(argv: list[str]) -> int:

    return cli_replay(argv)


def _explore(argv: list[str]) -> int:

    return cli_explore(argv)


def _race(argv: list[str]) -> int:

    return cli_run(argv)


def _stress(argv: list[str]) -> int:

    return stress_main(argv)


FUZZ_MISSING = ("thpsim fuzz needs Hypothesis, which is not installed: "
                "pip install 'thpsim[fuzz]'")


def _fuzz(argv: list[str]) -> int:
    """``thpsim fuzz``: the state machines of thpsim.fuzz for a time budget
    (thpsim/fuzz/runner.py); ``--replay FILE`` replays a saved finding."""
    ap = argparse.ArgumentParser(prog="thpsim fuzz",
                                 description="run the hostile-input fuzzer (issue 11)")
    ap.add_argument("--minutes", type=float, default=1.0, help="time budget (default 1)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of the run (each Hypothesis run's seed derives from it; "
                         "with --examples, the seed of the one run)")
    ap.add_argument("--profile", choices=("seed", "mainline", "both"), default="both")
    ap.add_argument("--machine", choices=(*MACHINES, "all"), default="all")
    ap.add_argument("--out", default="fuzz-findings",
                    help="directory for reproducer files (default ./fuzz-findings)")
    ap.add_argument("--examples", type=int, default=None,
                    help="one run of this many examples per machine and profile under "
                         "--seed itself (what a reproducer's command uses)")
    ap.add_argument("--steps", type=int, default=None, help="steps per example (default 30)")
    ap.add_argument("--replay", metavar="FILE", default=None,
                    help="replay a reproducer file written by an earlier run")
    args = ap.parse_args(argv)
    if importlib.util.find_spec("hypothesis") is None:
        print(FUZZ_MISSING, file=sys.stderr)
        return 2
    if args.replay is not None:
        return 1 if runner.replay(args.replay) else 0
    machines = list(MACHINES) if args.machine == "all" else [args.machine]
    profiles = runner.PROFILES if args.profile == "both" else (args.profile,)
    found = runner.run(machines, args.minutes, args.seed, profiles, args.out,
                       examples=args.examples,
                       steps=args.steps if args.steps is not None else runner.DEFAULT_STEPS)
    return 1 if found else 0


#: Tools with their own options: thpsim bench|replay|explore|race|stress|fuzz|oracle --help
def _bench(argv: list[str]) -> int:
    from thpsim.bench import main as bench_main  # lazy: start-up time

    return bench_main(argv)


def _shrink(argv: list[str]) -> int:
    """``thpsim shrink FILE [--out F] ...``: ``thpsim stress --shrink FILE``."""
    if not argv or argv[0].startswith("-"):
        return stress_main(["--help"] if "-h" in argv or "--help" in argv else ["--shrink"])
    return stress_main(["--shrink", argv[0], *argv[1:]])


_TOOLS = {"bench": _bench, "shrink": _shrink, "replay": _replay, "explore": _explore,
          "race": _race, "stress": _stress, "fuzz": _fuzz, "oracle": oracle_main, "zoo": zoo_main}

#: Commands in their own modules, imported when used: name -> (module, function, help).
#: Each function takes argv (the words after the command) and returns the exit code
#: (thpsim.cliutil: 0 ok, 1 found something, 2 bad input).
_LAZY: dict[str, tuple[str, str, str]] = {
    "run": ("thpsim.usr.cli", "run_main", "run a TOML scenario file (machine, processes, steps)"),
    "numactl": ("thpsim.usr.cli", "numactl_main",
                "numactl(8) on a scenario: --hardware, --show, --membind/--interleave ..."),
    "migratepages": ("thpsim.usr.cli", "migratepages_main",
                     "migratepages(8) on a scenario's process: PID FROM-NODES TO-NODES"),
    "numastat": ("thpsim.usr.cli", "numastat_main", "numastat(8) on a scenario: -p PID, -m, -n"),
    "proc": ("thpsim.usr.cli", "proc_main", "print any /proc or /sys file of a scenario's state"),
    "campaign": ("thpsim.campaign.cli", "campaign_main",
                 "run (configuration, seed) sets locally or on Ray into a results store"),
    "runs": ("thpsim.campaign.cli", "runs_main", "list and compare runs in a results store"),
    "report": ("thpsim.report.cli", "main", "write a self-contained HTML report with plots"),
    "experiment": ("thpsim.experiment.cli", "experiment_main",
                   "modeled-time experiments: split-vs-thp, tiering (docs/modeled-time.md, "
                   "docs/tiering.md)"),
    "calibrate": ("thpsim.experiment.cli", "calibrate_main",
                  "fit the cost model's parameters to measured times (least squares)"),
}


def _lazy(name: str):
    """The function of a command in _LAZY, its module imported now."""
    module, func, _ = _LAZY[name]
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``thpsim`` console script (pyproject: ``thpsim.cli:main``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in _TOOLS:
        return run_tool(argv[0], lambda: _TOOLS[argv[0]](argv[1:]))
    if argv and argv[0] in _LAZY:
        return run_tool(argv[0], lambda: _lazy(argv[0])(argv[1:]))
    ap = argparse.ArgumentParser(prog="thpsim", description=__doc__.split("\n\n")[0],
                                 epilog="exit status: 0 ok, 1 the run found a failure, "
                                        "2 bad usage or input; thpsim COMMAND --help")
    ap.add_argument("--version", action="version", version=f"thpsim {version()}")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    d = sub.add_parser("demo", help="a THP migrated whole by each caller, and the split "
                                    "it replaced (default)")
    _demo_options(ap, suppress=False)
    _demo_options(d, suppress=True)
    sw = sub.add_parser("switches", help="every profile switch: era, default per profile, "
                                         "what it changes")
    _switches_options(sw)
    # listed for --help; each parses its own options (dispatched above)
    for name, text in (("bench", "migration, fault and stress rates, memory, scaling"),
                       ("stress", "the stress harness: run, replay, shrink, trace"),
                       ("shrink", "shrink a stress reproducer (thpsim stress --shrink FILE)"),
                       ("explore", "search the interleavings of the race scenarios"),
                       ("race", "run one race scenario under a scheduling policy"),
                       ("replay", "replay a race scenario's schedule"),
                       ("fuzz", "the hostile-input fuzzer: thpsim fuzz --minutes N"),
                       ("zoo", "find the historical bugs (bug_* switches), replay, confirm"),
                       ("oracle", "real kernels under QEMU against the model "
                                  "(docs/oracle.md)"),
                       *((k, v[2]) for k, v in _LAZY.items())):
        sub.add_parser(name, help=text, add_help=False)

    def body() -> int:
        args = ap.parse_args(argv)
        if args.cmd == "switches":
            return switches_cmd(args)
        return demo(args.node_mib, args.profile, use_fs=not args.counters,
                    as_json=args.json, switches=profile_switches(args))

    return run_tool(argv[0] if argv else "demo", body)


if __name__ == "__main__":
    sys.exit(main())
