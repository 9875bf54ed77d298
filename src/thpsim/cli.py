"""The ``thpsim`` command: a guided demo, the benchmarks, and the race and stress tools.

    thpsim [demo] [--node-mib N] [--profile seed|mainline] [--counters]
    thpsim bench [--quick] [--json] [--compare] ...  benchmarks/bench.py
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
import importlib.util
import sys
from pathlib import Path
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
from thpsim.fuzz import MACHINES, runner
from thpsim.oracle.cli import main as oracle_main
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
BENCH_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


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


def demo(node_mib: int = 1024, profile: str = "seed", out: TextIO | None = None,
         use_fs: bool = True) -> int:
    """Fault THPs in, fork, COW in the child, split a PMD; show /proc; check integrity.

    ``use_fs``: read /proc and /sys through ``m.fs`` when thpsim.fs.vfs exists;
    False, or without it: print the same facts from the counters.
    """
    out = sys.stdout if out is None else out
    rw, anon = PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
    m = Machine(nodes={0: node_mib * MiB, 1: node_mib * MiB}, cpus=4, thp="always",
                profile=profile, seed=0, check=True)
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


def _load_bench():
    if not BENCH_PATH.exists():
        raise SystemExit(f"thpsim bench: {BENCH_PATH} not found (run from a source checkout)")
    spec = importlib.util.spec_from_file_location("thpsim_bench", BENCH_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _demo_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The demo's options, on the top level (``thpsim --counters``) and on ``demo``.
    The subcommand's copies default to SUPPRESS so they do not undo the top level's."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--node-mib", type=int, default=default(1024),
                        help="memory per node in MiB (multiple of 128; default 1024)")
    parser.add_argument("--profile", choices=("seed", "mainline"), default=default("seed"))
    parser.add_argument("--counters", action="store_true", default=default(False),
                        help="show the kernel counters, not the /proc and /sys files")


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
    return _load_bench().main(argv)


_TOOLS = {"bench": _bench, "replay": _replay, "explore": _explore, "race": _race, "stress": _stress,
          "fuzz": _fuzz, "oracle": oracle_main, "zoo": zoo_main}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``thpsim`` console script (pyproject: ``thpsim.cli:main``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in _TOOLS:
        return _TOOLS[argv[0]](argv[1:])
    ap = argparse.ArgumentParser(prog="thpsim", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    d = sub.add_parser("demo", help="THP faults, fork, COW, a PMD split, /proc (default)")
    _demo_options(ap, suppress=False)
    _demo_options(d, suppress=True)
    sub.add_parser("bench", help="migration, fault and stress rates, memory, scaling",
                   add_help=False)
    # listed for --help; each parses its own options (dispatched above)
    for name, text in (("stress", "the stress harness: run, replay, shrink, trace"),
                       ("explore", "search the interleavings of the race scenarios"),
                       ("race", "run one race scenario under a scheduling policy"),
                       ("replay", "replay a scenario's schedule"),
                       ("fuzz", "the hostile-input fuzzer: thpsim fuzz --minutes N"),
                       ("zoo", "find the historical bugs (bug_* switches), replay, confirm"),
                       ("oracle", "real kernels under QEMU against the model (docs/oracle.md)")):
        sub.add_parser(name, help=text, add_help=False)
    args = ap.parse_args(argv)
    return demo(args.node_mib, args.profile, use_fs=not args.counters)


if __name__ == "__main__":
    sys.exit(main())
