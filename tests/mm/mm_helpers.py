"""What the mm tests share: mapping and checking THP regions, where a page lives, and
the counters and errors a kernel test reads."""

from __future__ import annotations

import pytest

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.kernel.context import KernelContext, ThpSettings
from thpsim.mm.gup import follow_page_info
from thpsim.mm.page_flags import PageArrays
from thpsim.mm.vmstat import VmStat
from thpsim.profiles import make_profile

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MB = 1 << 20


def thp_region(p, nr_thp=4, fill=True):
    """nr_thp THPs, 2 MiB aligned, every 4 KiB page holding its own address (the
    oracle's setup); ``fill=False`` leaves them unfaulted."""
    a = p.mmap(0, (nr_thp + 1) * HPAGE_PMD_SIZE, RW, ANON)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    if fill:
        t = p.threads[0]
        for i in range(0, nr_thp * HPAGE_PMD_SIZE, PAGE_SIZE):
            t.write(a + i, a + i)
    return a


def check_data(p, a, length, skip=()):
    """Every page of [a, a + length) but ``skip`` still holds its address (each read is
    also checked against the machine's shadow)."""
    t = p.threads[0]
    for i in range(0, length, PAGE_SIZE):
        if a + i not in skip:
            assert t.read(a + i) == a + i


def pfn_at(p, addr):
    return follow_page_info(p.mm.find_vma(addr), addr, False)[0]


def node_at(m, p, addr):
    return m.kernel.mem.pfn_to_nid(pfn_at(p, addr))


def nodes_of(m, p, a, length, step=PAGE_SIZE):
    return [node_at(m, p, a + i) for i in range(0, length, step)]


def is_pmd_mapped(p, addr):
    return follow_page_info(p.mm.find_vma(addr), addr, False)[1]


def anon_huge_kb(p):
    """AnonHugePages summed over /proc/self/smaps, as the oracle prints it."""
    return sum(int(line.split()[1]) for line in p.fs.read("/proc/self/smaps").splitlines()
               if line.startswith("AnonHugePages:"))


def delta(m, before):
    """The /proc/vmstat events that changed since ``before`` (a copy of the events)."""
    return {k: v - before[k] for k, v in m.kernel.vmstat.events.items() if v != before[k]}


def errno_of(fn, *args, **kw):
    with pytest.raises(OSError) as e:
        fn(*args, **kw)
    return e.value.errno


def to_node(ctx, nid: int):
    """move_pages(2)'s target allocator for node ``nid``: alloc_migration_target() with
    __GFP_THISNODE, as kernel_move_pages() builds it."""
    from thpsim.mm.gfp import __GFP_THISNODE, GFP_HIGHUSER_MOVABLE
    from thpsim.mm.migrate import MR_SYSCALL, alloc_migration_target, migration_target_control

    mtc = migration_target_control(nid, None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, MR_SYSCALL)
    return lambda src: alloc_migration_target(ctx, src, mtc)


def kernel_context(mem, pages=None):
    """A bare KernelContext of ``mem`` (seed profile, no CPUs) with its memmap and
    no zones yet: what mm_core_init() has before free_area_init(), for tests that
    lay out and boot the allocator themselves."""
    return KernelContext(make_profile("seed"), mem, pages or PageArrays(mem.max_pfn), [],
                         ThpSettings("always", "madvise", True), VmStat(list(mem.nodes)))
