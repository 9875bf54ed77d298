"""NUMA allocation statistics and pgalloc_*: what /proc/vmstat and
/sys/devices/system/node/nodeN/{numastat,vmstat} show after known faults.

Kernel: mm/page_alloc.c rmqueue() (__count_zid_vm_events(PGALLOC, zone, 1 << order))
and zone_statistics() (one numa_hit or numa_miss + numa_foreign, and one numa_local
or numa_other, per allocation whatever its order; the preferred zone is the first
of the zonelist the nodemask allows), mm/mempolicy.c alloc_page_interleave() (4.14)
and alloc_pages_mpol() (6.7+) for numa_interleave / interleave_hit.
"""

import pytest
from mm_helpers import ANON, MB, RW, numa_machine

from thpsim import MADV_NOHUGEPAGE
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.mm.gfp import __GFP_THISNODE, GFP_HIGHUSER_MOVABLE
from thpsim.mm.mempolicy import MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED
from thpsim.mm.page_alloc import __alloc_pages
from thpsim.mm.page_flags import F_reserved

PROFILES = pytest.mark.parametrize("profile", ["seed", "mainline"])
NODE = "/sys/devices/system/node"
NUMASTAT = ("numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node",
            "other_node")
VMSTAT = ("numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local",
          "numa_other", "pgalloc_normal", "pgalloc_movable")


def key_values(text: str) -> dict[str, int]:
    return {line.split()[0]: int(line.split()[1]) for line in text.splitlines()}


class Counters:
    """Snapshots of /proc/vmstat and every node's numastat; delta() is what changed."""

    def __init__(self, m):
        self.m = m
        self.base = self.read()

    def read(self):
        fs = self.m.fs
        out = {k: v for k, v in key_values(fs.read("/proc/vmstat")).items() if k in VMSTAT}
        for nid in self.m.nodes:
            out |= {(nid, k): v
                    for k, v in key_values(fs.read(f"{NODE}/node{nid}/numastat")).items()}
        return out

    def delta(self):
        now = self.read()
        return {k: now[k] - self.base[k] for k in now if now[k] != self.base[k]}


def small_pages_area(p, npages=2):
    """A mapping that never gets a THP, its first page faulted (page tables in place)."""
    a = p.mmap(0, npages * PAGE_SIZE, RW, ANON)
    p.madvise(a, npages * PAGE_SIZE, MADV_NOHUGEPAGE)
    p.threads[0].write(a, 1)
    return a


def drain_node(m, nid):
    """Allocate every free page of node ``nid`` (a kernel consumer: the test's way
    to make a node full), PG_reserved as the checker expects of frames the kernel
    holds (cf. Machine.fragment()). Returns the PFNs."""
    held = []
    while True:
        pfn = __alloc_pages(m.kernel, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, 0, nid)
        if pfn < 0:
            return held
        m.kernel.pages.flags[pfn] |= F_reserved
        held.append(pfn)


@PROFILES
def test_local_fault_is_one_hit_and_local_on_the_cpus_node(profile):
    m = numa_machine(profile)
    p = m.spawn(cpu=0)  # node 0
    a = small_pages_area(p)
    c = Counters(m)
    p.threads[0].write(a + PAGE_SIZE, 1)
    assert c.delta() == {"numa_hit": 1, "numa_local": 1, "pgalloc_normal": 1,
                         (0, "numa_hit"): 1, (0, "local_node"): 1}


@PROFILES
def test_bind_to_a_remote_node_is_a_hit_there_and_other_node(profile):
    """The preferred zone is the first the BIND mask allows: node 1's, so the page
    is a hit on node 1, allocated from a CPU of node 0 (other_node)."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = small_pages_area(p)
    assert p.mbind(a + PAGE_SIZE, PAGE_SIZE, MPOL_BIND, 0b10, 3) == 0
    c = Counters(m)
    p.threads[0].write(a + PAGE_SIZE, 1)
    assert c.delta() == {"numa_hit": 1, "numa_other": 1, "pgalloc_normal": 1,
                         (1, "numa_hit"): 1, (1, "other_node"): 1}


@PROFILES
def test_preferred_node_full_is_a_miss_here_and_foreign_there(profile):
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = small_pages_area(p)
    assert p.mbind(a + PAGE_SIZE, PAGE_SIZE, MPOL_PREFERRED, 0b10, 3) == 0
    drain_node(m, 1)
    c = Counters(m)
    p.threads[0].write(a + PAGE_SIZE, 1)
    assert c.delta() == {"numa_miss": 1, "numa_foreign": 1, "numa_local": 1,
                         "pgalloc_normal": 1, (0, "numa_miss"): 1, (1, "numa_foreign"): 1,
                         (0, "local_node"): 1}


@PROFILES
def test_interleave_hits_count_per_node(profile):
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = small_pages_area(p, 5)
    assert p.set_mempolicy(MPOL_INTERLEAVE, 0b11, 3) == 0
    assert p.mbind(a + PAGE_SIZE, 4 * PAGE_SIZE, MPOL_INTERLEAVE, 0b11, 3) == 0
    c = Counters(m)
    for i in range(1, 5):
        p.threads[0].write(a + i * PAGE_SIZE, 1)
    assert c.delta() == {"numa_hit": 4, "numa_interleave": 4, "numa_local": 2,
                         "numa_other": 2, "pgalloc_normal": 4,
                         (0, "numa_hit"): 2, (0, "interleave_hit"): 2, (0, "local_node"): 2,
                         (1, "numa_hit"): 2, (1, "interleave_hit"): 2, (1, "other_node"): 2}


@PROFILES
def test_interleave_to_a_full_node_is_no_interleave_hit(profile):
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = small_pages_area(p, 3)
    assert p.mbind(a + PAGE_SIZE, 2 * PAGE_SIZE, MPOL_INTERLEAVE, 0b11, 3) == 0
    drain_node(m, 1)
    c = Counters(m)
    p.threads[0].write(a + PAGE_SIZE, 1)
    p.threads[0].write(a + 2 * PAGE_SIZE, 1)
    d = c.delta()
    # one page interleaved onto node 0 as chosen, one meant for node 1 landed on node 0
    assert d["numa_interleave"] == 1 and d[(0, "interleave_hit")] == 1
    assert d["numa_hit"] == 1 and d["numa_miss"] == 1 and d[(1, "numa_foreign")] == 1
    assert (1, "interleave_hit") not in d


@PROFILES
def test_thp_fault_counts_one_allocation_and_512_pgalloc(profile):
    m = numa_machine(profile, thp="always")
    p = m.spawn(cpu=2)  # node 1
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, RW, ANON)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    c = Counters(m)
    p.threads[0].write(a, 1)
    d = c.delta()
    assert m.vmstat()["thp_fault_alloc"] == 1
    # the THP, plus the page tables the first fault needs (PUD, PMD: one page each)
    tables = d["numa_hit"] - 1
    assert d["pgalloc_normal"] == 512 + tables
    assert d[(1, "numa_hit")] == 1 + tables and d[(1, "local_node")] == 1 + tables


@PROFILES
def test_thp_remote_fallback_is_a_miss_in_mainline(profile):
    """A THP fault that may reclaim (defrag=always) with no free 2 MiB block on the
    local node: 5.x+ retries the other nodes (a numa_miss there, numa_foreign
    here); 4.14 tries the local node only and falls back to a 4 KiB page."""
    m = numa_machine(profile, thp="always", defrag="always")
    p = m.spawn(cpu=0)
    a = p.mmap(0, 3 * HPAGE_PMD_SIZE, RW, ANON)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    p.threads[0].write(a + HPAGE_PMD_SIZE, 1)  # the PMD table the next fault needs
    held = m.fragment(0)
    c = Counters(m)
    b = m.vmstat()
    p.threads[0].write(a, 1)
    d = c.delta()
    v = m.vmstat()
    if profile == "mainline":
        # the THP from node 1, and the page table deposited with it from node 0
        assert v["thp_fault_alloc"] - b["thp_fault_alloc"] == 1
        assert d == {"numa_miss": 1, "numa_foreign": 1, "numa_other": 1,
                     "numa_hit": 1, "numa_local": 1, "pgalloc_normal": 513,
                     (1, "numa_miss"): 1, (0, "numa_foreign"): 1, (1, "other_node"): 1,
                     (0, "numa_hit"): 1, (0, "local_node"): 1}
    else:
        # a PTE table and a 4 KiB page, both local
        assert v["thp_fault_fallback"] - b["thp_fault_fallback"] == 1
        assert d == {"numa_hit": 2, "numa_local": 2, "pgalloc_normal": 2,
                     (0, "numa_hit"): 2, (0, "local_node"): 2}
    m.unfragment(held)


@PROFILES
def test_pgalloc_movable_counts_the_movable_zone(profile):
    m = numa_machine(profile, movable={0: 128 * MB})
    p = m.spawn(cpu=0)
    a = small_pages_area(p)
    c = Counters(m)
    p.threads[0].write(a + PAGE_SIZE, 1)
    d = c.delta()
    assert d["pgalloc_movable"] == 1 and "pgalloc_normal" not in d


@PROFILES
def test_node_vmstat_prints_the_numa_items(profile):
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    small_pages_area(p)
    vm = key_values(m.fs.read(f"{NODE}/node0/vmstat"))
    stat = key_values(m.fs.read(f"{NODE}/node0/numastat"))
    assert vm["numa_hit"] == stat["numa_hit"] > 0
    assert vm["numa_local"] == stat["local_node"] > 0
    total = key_values(m.fs.read("/proc/vmstat"))
    assert total["numa_hit"] == sum(
        key_values(m.fs.read(f"{NODE}/node{n}/numastat"))["numa_hit"] for n in m.nodes)
