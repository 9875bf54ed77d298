"""Turning the cost model on changes no kernel state (docs/modeled-time.md): the same
run gives the same page tables, pagemap, smaps, /proc/vmstat, dmesg and stress digest
with ``modeled_time`` on and off. The comparison itself can fail: a run that differs
by one store is told apart."""

from __future__ import annotations

from typing import Any

import pytest

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_DONTNEED,
    MADV_HUGEPAGE,
    MADV_SOFT_OFFLINE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_BIND,
    MPOL_MF_MOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from thpsim.demo import CALLERS, migrate_by_caller
from thpsim.stress.harness import run_stress
from thpsim.stress.workload import StressConfig
from thpsim.testing import memory_word, page_tables

MiB = 1 << 20
HINT = 0x7E00_0000_0000


def _workload(modeled: bool, extra: str = "") -> dict[str, Any]:
    """Faults, a fork with COW, a partial munmap (PMD split), every migrating call but
    hot-remove, MADV_DONTNEED, accesses from two CPUs; then everything a test reads.
    ``extra``: "store" writes one more value, "dontneed" drops one more page."""
    m = Machine(nodes={0: 256 * MiB, 1: 256 * MiB}, cpus=4, check=True,
                modeled_time=modeled, movable={0: 128 * MiB, 1: 128 * MiB})
    p = m.spawn(cpu=0)
    t0, t1 = p.threads[0], p.clone(cpu=2)
    n = 8 * HPAGE_PMD_SIZE
    a = p.mmap(HINT, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.madvise(a, n, MADV_HUGEPAGE)
    for x in range(a, a + n, PAGE_SIZE):
        t0.write(x, x)
    for x in range(a, a + n, 16 * PAGE_SIZE):
        t1.read(x)
    child = p.fork()
    child.threads[0].write(a + PAGE_SIZE, 7)
    p.munmap(a + HPAGE_PMD_SIZE, PAGE_SIZE)  # splits the second THP's PMD
    p.move_pages(0, [a, a + 2 * HPAGE_PMD_SIZE, a + 3 * HPAGE_PMD_SIZE + PAGE_SIZE],
                 [1, 1, 1], MPOL_MF_MOVE)
    p.mbind(a + 4 * HPAGE_PMD_SIZE, 2 * HPAGE_PMD_SIZE, MPOL_BIND, {1}, flags=MPOL_MF_MOVE)
    p.migrate_pages(p.pid, 0, {0}, {1})
    p.madvise(a + 6 * HPAGE_PMD_SIZE, PAGE_SIZE, MADV_SOFT_OFFLINE)
    p.madvise(a + 7 * HPAGE_PMD_SIZE, 4 * PAGE_SIZE, MADV_DONTNEED)
    if extra == "store":
        t0.write(a + 5 * PAGE_SIZE, 1)
    elif extra == "dontneed":
        p.madvise(a + 7 * HPAGE_PMD_SIZE + 9 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED)
    for x in range(a, a + n, 8 * PAGE_SIZE):
        if x != a + HPAGE_PMD_SIZE:
            t1.write(x, x + 1)
            t0.read(x)
    child.exit()
    m.check_integrity()
    fs = m.fs
    frames = sum(m.nodes.values()) // PAGE_SIZE
    return {
        "vmstat": fs.read("/proc/vmstat"),
        "meminfo": fs.read("/proc/meminfo"),
        "smaps": fs.read(f"/proc/{p.pid}/smaps"),
        "numa_maps": fs.read(f"/proc/{p.pid}/numa_maps"),
        "pagemap": fs.read(f"/proc/{p.pid}/pagemap", offset=(a // PAGE_SIZE) * 8,
                           length=(n // PAGE_SIZE) * 8),
        "tables": page_tables(m),
        "nodes": [p.pages_nodes(range(a + i * PAGE_SIZE, a + (i + 64) * PAGE_SIZE,
                                      PAGE_SIZE)) for i in range(0, n // PAGE_SIZE, 64)],
        "buddyinfo": fs.read("/proc/buddyinfo"),
        "kpageflags": fs.read("/proc/kpageflags", offset=0, length=frames * 8),  # every frame
        "kpagecount": fs.read("/proc/kpagecount", offset=0, length=frames * 8),
        "contents": [memory_word(p, x) for x in range(a, a + n, PAGE_SIZE)],
    }


def test_a_workload_leaves_the_same_state() -> None:
    off, on = _workload(False), _workload(True)
    assert on.keys() == off.keys()
    for k in off:
        assert on[k] == off[k], f"{k} differs with the cost model on"


def test_the_comparison_sees_a_difference() -> None:
    off = _workload(False)
    stored, dropped = _workload(False, "store"), _workload(False, "dontneed")
    assert [k for k in off if off[k] != stored[k]] == ["contents"]  # already dirty
    assert {"smaps", "pagemap", "numa_maps", "contents"} <= {
        k for k in off if off[k] != dropped[k]}


@pytest.mark.parametrize("caller", CALLERS)
def test_each_caller_leaves_the_same_state(caller: str) -> None:
    """The demo's run of each caller, both ways, with and without the cost model."""
    for whole in (True, False):
        off = migrate_by_caller(caller, thp_migration=whole)
        on = migrate_by_caller(caller, thp_migration=whole,
                               machine_options={"modeled_time": True})
        assert on == off


@pytest.mark.parametrize("profile,seed,kw", [
    ("seed", 1, dict(rounds=12, migrators=2)),
    ("mainline", 2, dict(rounds=12, migrators=2)),
    ("seed", 11, dict(rounds=20, migrators=2, policy="pct")),
])
def test_stress_digest_unchanged_by_the_cost_model(profile: str, seed: int, kw: dict) -> None:
    """The stress digests (every round's schedule, each operation's result, the final
    /proc/vmstat) are the same with the model on; tests/stress/test_digest.py pins the
    off ones."""
    off = run_stress(StressConfig(profile=profile, **kw), seed)
    on = run_stress(StressConfig(profile=profile, modeled_time=True, **kw), seed)
    assert off.failure is None and on.failure is None
    assert on.digest == off.digest
    assert off.modeled is None and on.modeled is not None and on.modeled["total_ns"] > 0


def test_stress_trace_time_axis_is_each_cpus_modeled_clock() -> None:
    """With the model on, a trace slice starts at its CPU's modeled time before the step
    and lasts what the step charged: per CPU the slices follow each other."""
    res = run_stress(StressConfig(rounds=1, migrators=2, modeled_time=True), 3, trace=True)
    assert res.failure is None and res.modeled is not None
    slices = [e for e in res.trace if e["ph"] == "X"]
    by_cpu: dict[int, list[dict]] = {}
    for e in slices:
        by_cpu.setdefault(e["tid"], []).append(e)
    assert len(by_cpu) >= 3
    for evs in by_cpu.values():
        for a, b in zip(evs, evs[1:], strict=False):
            assert a["ts"] + a["dur"] <= b["ts"] + 0.002  # the dur floor is 0.001 us
    end = max(e["ts"] + e["dur"] for e in slices)
    assert 0 < end * 1000 <= res.modeled["total_ns"] + 1
    steps = run_stress(StressConfig(rounds=1, migrators=2), 3, trace=True)
    assert [e["ts"] for e in steps.trace if e["ph"] == "X"][:3] == [0, 10, 20]  # steps
