"""What the mm tests share: the machines they boot, mapping and checking THP regions,
where a page lives, walking the page tables, stopping a THP migration at its PMD
migration entry, and the counters and errors a kernel test reads."""

from __future__ import annotations

import pytest

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PGDIR_SHIFT,
    PMD_SHIFT,
    PUD_SHIFT,
    table_entry_pfn,
)
from thpsim.kernel.context import KernelContext, ThpSettings
from thpsim.kernel.locking import down_read, up_read
from thpsim.mm.gfp import __GFP_THISNODE, GFP_HIGHUSER_MOVABLE
from thpsim.mm.gup import follow_page_info
from thpsim.mm.migrate import (
    MIGRATE_SYNC,
    MR_SYSCALL,
    alloc_migration_target,
    migrate_pages,
    migration_target_control,
    putback_movable_pages,
)
from thpsim.mm.page_flags import PageArrays
from thpsim.mm.pgtable_generic import lookup_pmd, pmdp_get
from thpsim.mm.swap import isolate_lru_page_for_migration
from thpsim.mm.vmstat import VmStat
from thpsim.profiles import make_profile
from thpsim.testing import Stepper

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MB = 1 << 20


def numa_machine(profile="seed", nodes=2, check=True, **kw) -> Machine:
    """``nodes`` nodes of 256 MiB (or a {nid: bytes} map) in 128 MiB memory blocks,
    the invariant checker after every system call unless ``check=False``; the rest
    (cpus, thp, ...) as ``kw`` says, else Machine's defaults."""
    if isinstance(nodes, int):
        nodes = {n: 256 * MB for n in range(nodes)}
    return Machine(nodes=nodes, block_size=128 * MB, check=check, profile=profile, **kw)


def unchecked_process(profile="seed"):
    """numa_machine() without the checker and a process on CPU 0: (machine, process)."""
    m = numa_machine(profile, check=False)
    return m, m.spawn(cpu=0)


def run_mmap_read_locked(m, p, path):
    """Run the kernel path ``path`` as ``p``, under its mmap_lock held for read (the
    context of get_user_pages() and walk_page_range())."""
    def locked():
        yield from down_read(p.mm.mmap_lock)
        try:
            return (yield from path)
        finally:
            up_read(p.mm.mmap_lock)
    return Stepper(m.kernel, locked(), task=p.task).finish()


def small_machine(profile="seed", **kw) -> Machine:
    """Two 64 MiB nodes, one 64 MiB memory block each, the invariant checker on."""
    return Machine(nodes={0: 64 * MB, 1: 64 * MB}, block_size=64 * MB, profile=profile,
                   check=True, **kw)


def thp_aligned(p, nr_thp=1, prot=RW):
    """mmap room for ``nr_thp`` 2 MiB-aligned THPs, nothing faulted; returns the
    aligned start."""
    a = p.mmap(0, (nr_thp + 1) * HPAGE_PMD_SIZE, prot, ANON)
    return (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)


def thp_area(p, nr=1, fault=True):
    """``nr`` 2 MiB-aligned huge pages in one VMA; each faulted by one write of its
    own address to its first word (``fault=False``: none)."""
    a = thp_aligned(p, nr)
    if fault:
        for i in range(nr):
            p.write(a + i * HPAGE_PMD_SIZE, a + i * HPAGE_PMD_SIZE)
    return a


def thp_region(p, nr_thp=4, fill=True):
    """nr_thp THPs, 2 MiB aligned, every 4 KiB page holding its own address (the
    oracle's setup); ``fill=False`` leaves them unfaulted."""
    a = thp_aligned(p, nr_thp)
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


def pmd_val(p, addr):
    """The PMD that maps ``addr`` in ``p`` (its PMD table must exist)."""
    return pmdp_get(lookup_pmd(p.mm, addr))


def pgtable_entries(m, pgd_pfn, addr, levels=4):
    """The (table, index) of each entry a walk of ``addr`` uses, PGD first; ``levels=3``
    stops at the PMD."""
    tables = m.kernel.mem.tables
    t = tables[pgd_pfn]
    out = []
    for shift in (PGDIR_SHIFT, PUD_SHIFT, PMD_SHIFT, PAGE_SHIFT)[:levels]:
        i = (addr >> shift) & 511
        out.append((t, i))
        if shift != PAGE_SHIFT and len(out) < levels:
            t = tables[table_entry_pfn(t[i])]
    return out


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
    mtc = migration_target_control(nid, None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, MR_SYSCALL)
    return lambda src: alloc_migration_target(ctx, src, mtc)


def kernel_context(mem, pages=None):
    """A bare KernelContext of ``mem`` (seed profile, no CPUs) with its memmap and
    no zones yet: what mm_core_init() has before free_area_init(), for tests that
    lay out and boot the allocator themselves."""
    return KernelContext(make_profile("seed"), mem, pages or PageArrays(mem.max_pfn), [],
                         ThpSettings("always", "madvise", True), VmStat(list(mem.nodes)))


def start_migration(m, p, a, node=1):
    """Isolate the THP mapped at ``a`` and run migrate_pages() to ``node`` until its PMD
    is a migration entry; returns (the stopped engine, its page list, the THP's head)."""
    ctx = m.kernel
    head = ctx.pages.compound_head(pfn_at(p, a))
    assert isolate_lru_page_for_migration(ctx, head) == 0
    lst = [head]
    st = Stepper(ctx, migrate_pages(ctx, lst, to_node(ctx, node), MIGRATE_SYNC, MR_SYSCALL))
    st.run_until(lambda: ctx.swp.is_pmd_migration_entry(pmd_val(p, a)))
    return st, lst, head


def finish_migration(m, st, lst):
    """Run the stopped engine to its end and put back what it left on ``lst``."""
    rc = st.finish()
    if lst:
        putback_movable_pages(m.kernel, lst)
    return rc


def committed_kb(m):
    """Committed_AS from /proc/meminfo, in kB."""
    for line in m.fs.read("/proc/meminfo").splitlines():
        if line.startswith("Committed_AS:"):
            return int(line.split()[1])
    raise AssertionError("no Committed_AS")
