"""thpsim benchmarks: fault rates and real memory per simulated GiB.

Run::

    python benchmarks/bench.py            # full sizes (a 4 GiB machine; about a minute)
    python benchmarks/bench.py --quick    # small sizes, a smoke test (seconds)

Every figure is one line, ``name: value unit``:

    base_page_faults_per_s     thp="never", one store per 4 KiB page of a fresh mapping
    thp_faults_per_s           thp="always", one store per 2 MiB of a fresh mapping
    rss_machine_simulated      simulated memory of the RSS machines (two nodes)
    rss_faulted_simulated      simulated memory faulted in each RSS measurement
    rss_<kind>_baseline        RSS of the measuring process before the machine is built
    rss_<kind>_booted          ... after booting it and mapping the range (nothing faulted)
    rss_<kind>_faulted         ... after storing to every 4 KiB page of the range
    rss_<kind>_growth_per_gib  (faulted - booted) / simulated GiB faulted

``<kind>`` is ``base`` (thp="never": PTE-mapped 4 KiB pages) or ``thp`` (thp="always":
PMD-mapped THPs). Every store goes through the shadow, so its memory is included.
Each RSS measurement runs in a fresh interpreter (this file, ``--rss-child``) so one
measurement's freed memory cannot hide the next one's growth. RSS is read from
/proc/self/status (VmRSS): Linux only.

The machines run with the defaults a user gets (``check=False``, shadow on).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time

try:
    import thpsim
except ImportError:  # run from a checkout without installing: use ../src
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    import thpsim

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE

MiB = 1 << 20
GiB = 1 << 30
RW = thpsim.PROT_READ | thpsim.PROT_WRITE
ANON = thpsim.MAP_PRIVATE | thpsim.MAP_ANONYMOUS
BLOCK_SIZE = 128 * MiB

#: Sizes per mode. The THP rounds fault half the machine each, so freed THPs come back
#: whole (no fallback to base pages). Full RSS: two nodes of 2 GiB, 3.5 GiB faulted.
SIZES = {
    "full": {
        "base_fault_bytes": 256 * MiB,
        "thp_node_bytes": 2 * GiB,
        "thp_fault_bytes": 1 * GiB,
        "thp_rounds": 4,
        "rss_node_bytes": 2 * GiB,
        "rss_fault_bytes": 3584 * MiB,
        "migrate_seconds": 5.0,
        "stress_rounds": 60,
    },
    "quick": {
        "base_fault_bytes": 4 * MiB,
        "thp_node_bytes": 256 * MiB,
        "thp_fault_bytes": 128 * MiB,
        "thp_rounds": 2,
        "rss_node_bytes": 128 * MiB,
        "rss_fault_bytes": 32 * MiB,
        "migrate_seconds": 0.3,
        "stress_rounds": 3,
    },
}


def figure(name: str, value: float, unit: str) -> str:
    """One machine-readable line."""
    if isinstance(value, float):
        return f"{name}: {value:.2f} {unit}"
    return f"{name}: {value} {unit}"


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/status (VmRSS, in kB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _machine(node_bytes: int, thp: str) -> thpsim.Machine:
    return thpsim.Machine(nodes={0: node_bytes, 1: node_bytes}, block_size=BLOCK_SIZE,
                          cpus=4, thp=thp, profile="seed", seed=0)


def _store_every(t: thpsim.Thread, addr: int, length: int, stride: int) -> int:
    write = t.write
    n = 0
    for a in range(addr, addr + length, stride):
        write(a, a | 1)
        n += 1
    return n


def bench_base_faults(length: int) -> float:
    """Base-page faults per second: thp="never", one store per 4 KiB page."""
    m = _machine(max(BLOCK_SIZE, length), "never")
    p = m.spawn(cpu=0)
    addr = p.mmap(0, length, RW, ANON)
    before = m.kernel.vmstat.events["pgfault"]
    t0 = time.perf_counter()
    _store_every(p.threads[0], addr, length, PAGE_SIZE)
    secs = time.perf_counter() - t0
    faults = m.kernel.vmstat.events["pgfault"] - before
    assert faults == length // PAGE_SIZE, faults
    return faults / secs


def bench_thp_faults(node_bytes: int, length: int, rounds: int) -> float:
    """THP faults per second: thp="always", one store per 2 MiB, ``rounds`` fresh mappings."""
    m = _machine(node_bytes, "always")
    p = m.spawn(cpu=0)
    t = p.threads[0]
    ev = m.kernel.vmstat.events
    faults = 0
    secs = 0.0
    for _ in range(rounds):
        # one 2 MiB more, so a 2 MiB-aligned window of ``length`` fits whatever the
        # profile's mmap alignment (seed: none)
        base = p.mmap(0, length + HPAGE_PMD_SIZE, RW, ANON)
        addr = (base + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
        before = ev["thp_fault_alloc"]
        t0 = time.perf_counter()
        _store_every(t, addr, length, HPAGE_PMD_SIZE)
        secs += time.perf_counter() - t0
        faults += ev["thp_fault_alloc"] - before
        p.munmap(base, length + HPAGE_PMD_SIZE)
    assert faults == rounds * (length // HPAGE_PMD_SIZE), faults
    return faults / secs


def measure_rss(kind: str, node_bytes: int, length: int) -> list[str]:
    """Boot a two-node machine, map ``length``, store to every 4 KiB page; RSS figures."""
    gc.collect()
    baseline = rss_bytes()
    m = _machine(node_bytes, "never" if kind == "base" else "always")
    p = m.spawn(cpu=0)
    # the second half is touched from a CPU of the last node, so THP faults (local only
    # in the seed profile) find room; 2 MiB-aligned so every PMD can hold a THP
    far = p.clone(cpu=len(m.cpus) - 1)
    base = p.mmap(0, length + HPAGE_PMD_SIZE, RW, ANON)
    addr = (base + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    gc.collect()
    booted = rss_bytes()
    half = length // 2 & ~(HPAGE_PMD_SIZE - 1)
    _store_every(p.threads[0], addr, half, PAGE_SIZE)
    _store_every(far, addr + half, length - half, PAGE_SIZE)
    gc.collect()
    faulted = rss_bytes()
    if kind == "thp":
        assert m.kernel.vmstat.events["thp_fault_alloc"] == length // HPAGE_PMD_SIZE
    return [
        figure(f"rss_{kind}_baseline", baseline / MiB, "MiB"),
        figure(f"rss_{kind}_booted", booted / MiB, "MiB"),
        figure(f"rss_{kind}_faulted", faulted / MiB, "MiB"),
        figure(f"rss_{kind}_growth_per_gib", (faulted - booted) / MiB / (length / GiB),
               "MiB/GiB"),
    ]


def _rss_in_child(kind: str, node_bytes: int, length: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--rss-child", kind,
         str(node_bytes), str(length)],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.splitlines()


def bench_move_pages(thp: bool, seconds: float) -> float:
    """Folio migrations per second through move_pages(2) in batches, back and forth
    between two nodes, the invariant checker off, the shadow (read checks) on."""
    m = thpsim.Machine(nodes={0: 1 * GiB, 1: 1 * GiB}, cpus=2,
                       thp="always" if thp else "never")
    p = m.spawn(cpu=0)
    a = p.mmap(0, 66 * MiB, thpsim.PROT_READ | thpsim.PROT_WRITE,
               thpsim.MAP_PRIVATE | thpsim.MAP_ANONYMOUS)
    a = (a + 2 * MiB - 1) & ~(2 * MiB - 1)
    n, step = (32, 2 * MiB) if thp else (2048, 4096)
    addrs = [a + i * step for i in range(n)]
    t = p.threads[0]
    for x in addrs:
        t.write(x, x)
    moved, node = 0, 1
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ret, st = p.move_pages(0, addrs, [node] * n, thpsim.MPOL_MF_MOVE)
        moved += sum(s == node for s in st)  # pages now on the target node
        node ^= 1
    dt = time.perf_counter() - t0
    for x in addrs:
        assert t.read(x) == x
    return moved / dt


def bench_stress(rounds: int) -> tuple[float, float]:
    """Stress steps and folio migrations per second under interleaving, every
    operation's outcome checked, full invariants every 5 rounds."""
    from thpsim.stress import StressConfig, run_stress

    res = run_stress(StressConfig(rounds=rounds, migrators=2), seed=1)
    if res.failure is not None:
        raise SystemExit(f"stress failed: {res.failure}")
    return res.steps_per_second, res.migrations_per_second


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--in-process", action="store_true",
                    help="measure RSS in this process, not in fresh interpreters")
    ap.add_argument("--rss-child", nargs=3, metavar=("KIND", "NODE_BYTES", "LENGTH"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        kind, node_bytes, length = args.rss_child
        for line in measure_rss(kind, int(node_bytes), int(length)):
            print(line)
        return 0
    sz = SIZES["quick" if args.quick else "full"]
    print(figure("base_page_faults_per_s", bench_base_faults(sz["base_fault_bytes"]),
                 "faults/s"), flush=True)
    print(figure("thp_faults_per_s",
                 bench_thp_faults(sz["thp_node_bytes"], sz["thp_fault_bytes"],
                                  sz["thp_rounds"]), "faults/s"), flush=True)
    print(figure("thp_migrations_per_s", bench_move_pages(True, sz["migrate_seconds"]),
                 "migrations/s"), flush=True)
    print(figure("base_page_migrations_per_s", bench_move_pages(False, sz["migrate_seconds"]),
                 "migrations/s"), flush=True)
    steps, migs = bench_stress(sz["stress_rounds"])
    print(figure("stress_steps_per_s", steps, "steps/s"), flush=True)
    print(figure("stress_migrations_per_s", migs, "migrations/s"), flush=True)
    print(figure("rss_machine_simulated", 2 * sz["rss_node_bytes"] // MiB, "MiB"))
    print(figure("rss_faulted_simulated", sz["rss_fault_bytes"] // MiB, "MiB"), flush=True)
    for kind in ("base", "thp"):
        if args.in_process:
            lines = measure_rss(kind, sz["rss_node_bytes"], sz["rss_fault_bytes"])
        else:
            lines = _rss_in_child(kind, sz["rss_node_bytes"], sz["rss_fault_bytes"])
        for line in lines:
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
