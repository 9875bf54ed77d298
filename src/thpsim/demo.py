"""What ``thpsim demo`` shows: a THP migrated whole by each of the six callers the
v3 series taught to do it, and, for contrast, the same calls on a kernel without
THP migration (the ``thp_migration_supported`` switch off), where each THP is split
and its 512 pages move one by one.

Each caller gets a fresh two-node machine with two THPs faulted on node 0, then:

============  ==============================================================
move_pages    ``move_pages(0, 2, [a, a + 2M], [1, 1], status, MPOL_MF_MOVE)``
mbind         ``mbind(a, 4M, MPOL_BIND, {1}, MPOL_MF_MOVE)``
migrate_pages ``migrate_pages(pid, {0}, {1})``
cpuset        the process in a cpuset whose ``cpuset.mems`` goes from 0 to 1
              (v1 with ``memory_migrate`` for ``seed``; v2 for ``mainline``)
hot-remove    ``offline`` written to the memory block holding the THPs
soft-offline  ``madvise(a, 4K, MADV_SOFT_OFFLINE)``
============  ==============================================================

and reads what a test would: the THPs still PMD-mapped (smaps ``AnonHugePages``),
where the pages are (``move_pages`` query), and the ``/proc/vmstat`` deltas. Every
run ends with the invariant checker, and every read is checked against the shadow
of what was written. The data is returned; printing is the CLI's (STYLE.md 2.7).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from thpsim import (
    HPAGE_PMD_SIZE,
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
    Process,
)

__all__ = ["CALLERS", "migrate_by_caller", "migration_demo"]

MiB = 1 << 20
#: 2 MiB-aligned hint (not MAP_FIXED) so the region holds whole THPs in every profile
HINT = 0x7E00_0000_0000
NR_THP = 2
LENGTH = NR_THP * HPAGE_PMD_SIZE
#: memory-block size of the demo machines (the hot-remove caller offlines one)
BLOCK = 128 * MiB
#: CPUs of a demo machine (one per node)
CPUS = 2
#: vmstat counters the demo reports
EVENTS = ("pgmigrate_success", "pgmigrate_fail", "thp_migration_success",
          "thp_migration_fail", "thp_migration_split", "thp_split_page", "thp_split_pmd")

CALLERS = ("move_pages", "mbind", "migrate_pages", "cpuset", "hot-remove", "soft-offline")


def _cpuset_root(m: Machine) -> str:
    return "/sys/fs/cgroup" if m.profile.cpuset_cgroup_v2 else "/sys/fs/cgroup/cpuset"


def _join_cpuset(m: Machine, p: Process) -> str:
    """Put ``p`` in a cpuset ``demo`` with mems 0 (and memory_migrate on, for v1)."""
    fs, root = m.fs, _cpuset_root(m)
    if m.profile.cpuset_cgroup_v2:
        fs.write(f"{root}/cgroup.subtree_control", "+cpuset")
        fs.mkdir(f"{root}/demo")
        fs.write(f"{root}/demo/cpuset.mems", "0")
        fs.write(f"{root}/demo/cgroup.procs", str(p.pid))
    else:
        fs.mkdir(f"{root}/demo")
        fs.write(f"{root}/demo/cpuset.cpus", f"0-{CPUS - 1}")
        fs.write(f"{root}/demo/cpuset.mems", "0")
        fs.write(f"{root}/demo/cpuset.memory_migrate", "1")
        fs.write(f"{root}/demo/tasks", str(p.pid))
    return f"{root}/demo"


def _anon_huge_kb(m: Machine, p: Process) -> int:
    text = m.fs.read(f"/proc/{p.pid}/smaps")
    text = text.decode() if isinstance(text, bytes | bytearray) else text
    return sum(int(line.split()[1]) for line in text.splitlines()
               if line.startswith("AnonHugePages:"))


def _page_nodes(p: Process, a: int, length: int = LENGTH) -> dict[int, int]:
    """Pages of the region per node, from move_pages' query (nodes=NULL)."""
    _, status = p.move_pages(0, list(range(a, a + length, PAGE_SIZE)), None, 0)
    return dict(sorted(Counter(s for s in status if s is not None).items()))


#: ``probe(stage, machine, process, addr, length)``: called with stage "before" just
#: before the migrating call and "after" just after it; what it returns joins the result
Probe = Callable[[str, Machine, Process, int, int], dict[str, Any]]


def migrate_by_caller(caller: str, profile: str = "seed", switches: dict[str, Any] | None = None,
                      node_mib: int = 256, thp_migration: bool = True, *,
                      nr_thp: int = NR_THP, machine_options: dict[str, Any] | None = None,
                      probe: Probe | None = None, every_page: bool = False) -> dict[str, Any]:
    """Fault ``nr_thp`` THPs (two) on node 0, migrate them with ``caller``, report what
    changed. ``machine_options``: more Machine arguments (``modeled_time``);
    ``probe``: an observer around the call (the split-vs-THP experiment's);
    ``every_page``: move_pages names every 4 KiB page of the region, as a tool moving
    a range does, not only the THPs' heads (without THP migration a head names only
    its own page once the THP is split)."""
    switches = dict(switches or {})
    switches["thp_migration_supported"] = thp_migration
    size = node_mib * MiB
    length = nr_thp * HPAGE_PMD_SIZE
    m = Machine(nodes={0: size, 1: size}, cpus=CPUS, thp="always", profile=profile, seed=0,
                check=True, block_size=BLOCK, movable={0: size // 2, 1: size // 2},
                **(machine_options or {}), **switches)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    cpuset = _join_cpuset(m, p) if caller == "cpuset" else None
    a = p.mmap(HINT, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.madvise(a, length, MADV_HUGEPAGE)
    for x in range(a, a + length, PAGE_SIZE):
        t.write(x, x)
    before_thp = _anon_huge_kb(m, p) // 2048
    before_nodes = _page_nodes(p, a, length)
    v0 = m.vmstat()
    probed = probe("before", m, p, a, length) if probe is not None else {}
    ret: Any
    if caller == "move_pages":
        if every_page:
            pages = list(range(a, a + length, PAGE_SIZE))
            call = f"move_pages(0, {len(pages)}, [a, a+4K, ..], [1, ..], status, MPOL_MF_MOVE)"
        else:
            pages = [a + i * HPAGE_PMD_SIZE for i in range(nr_thp)]
            where = "[a, a+2M]" if nr_thp == 2 else f"[a, a+2M, .. a+{2 * (nr_thp - 1)}M]"
            call = f"move_pages(0, {nr_thp}, {where}, {[1] * nr_thp}, status, MPOL_MF_MOVE)"
        ret, status = p.move_pages(0, pages, [1] * len(pages), MPOL_MF_MOVE)
        ret = (f"{ret}, status {status}" if len(status) <= 16
               else f"{ret}, status per node {dict(sorted(Counter(status).items()))}")
    elif caller == "mbind":
        call = f"mbind(a, {length // MiB}M, MPOL_BIND, {{1}}, MPOL_MF_MOVE)"
        ret = p.mbind(a, length, MPOL_BIND, 0b10, 64, MPOL_MF_MOVE)
    elif caller == "migrate_pages":
        call = f"migrate_pages({p.pid}, {{0}}, {{1}})"
        ret = p.migrate_pages(p.pid, 64, 0b01, 0b10)
    elif caller == "cpuset":
        call = f"echo 1 > {cpuset}/cpuset.mems"
        ret = m.fs.write(f"{cpuset}/cpuset.mems", "1")
    elif caller == "hot-remove":
        word = m.fs.read(f"/proc/{p.pid}/pagemap", offset=(a // PAGE_SIZE) * 8, length=8)
        pfn = int.from_bytes(word, "little") & ((1 << 55) - 1)  # bits 0-54: the PFN
        block = pfn * PAGE_SIZE // BLOCK
        path = f"/sys/devices/system/memory/memory{block}/state"
        call = f"echo offline > {path}"
        ret = m.fs.write(path, "offline")
    elif caller == "soft-offline":
        call = "madvise(a, 4K, MADV_SOFT_OFFLINE)"
        ret = p.madvise(a, PAGE_SIZE, MADV_SOFT_OFFLINE)
    else:
        raise ValueError(f"unknown caller {caller!r}; known: {', '.join(CALLERS)}")
    if probe is not None:
        probed.update(probe("after", m, p, a, length))
    v1 = m.vmstat()
    for x in range(a, a + length, 64 * PAGE_SIZE):
        t.read(x)  # the shadow checks every read: nothing was lost in the move
    after_nodes = _page_nodes(p, a, length)
    after_thp = _anon_huge_kb(m, p) // 2048
    m.check_integrity()
    return {
        "caller": caller, "call": call, "ret": ret, "profile": profile,
        "thp_migration": thp_migration,
        "thp_before": before_thp, "thp_after": after_thp,
        "pages_per_node_before": before_nodes, "pages_per_node_after": after_nodes,
        "vmstat_delta": {k: v1.get(k, 0) - v0.get(k, 0) for k in EVENTS},
        "integrity": "ok", **probed,
    }


def migration_demo(profile: str = "seed", switches: dict[str, Any] | None = None,
                   node_mib: int = 256) -> list[dict[str, Any]]:
    """Every caller, with THP migration (the series) and without (before it)."""
    return [migrate_by_caller(c, profile, switches, node_mib, thp_migration=whole)
            for whole in (True, False) for c in CALLERS]
