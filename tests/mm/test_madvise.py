"""mm/madvise.py: MADV_FREE's results (pages freed lazily, PTE and page dirty bits, a
THP split for a partial range, the shared pages it leaves alone, pglazyfree) and where
its page walk may be preempted.

MADV_FREE walks the range with mm/pagewalk.py (``madvise_free_pte_range`` as the
``pmd_entry``); these tests pin what it does to the pages, whatever walks them.
"""

import errno

import pytest
from mm_helpers import ANON, MB, RW, check_data, delta, errno_of, is_pmd_mapped, pfn_at, thp_region

from thpsim import MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, Machine
from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SIZE,
    pmd_dirty,
    pmd_trans_huge,
    pmd_young,
    pte_dirty,
    pte_young,
    table_entry_pfn,
)
from thpsim.kernel.locking import down_read, up_read
from thpsim.kernel.sched import PREEMPT, run_to_completion
from thpsim.mm.madvise import madvise_free_single_vma
from thpsim.mm.page_flags import F_dirty
from thpsim.mm.pgtable_generic import lookup_pmd, pmdp_get
from thpsim.testing import Stepper


def entry_at(p, addr):
    """(huge, entry): the huge PMD mapping ``addr``, or its PTE."""
    ctx = p.mm.kernel
    v = pmdp_get(lookup_pmd(p.mm, addr))
    if pmd_trans_huge(v):
        return True, v
    return False, ctx.mem.tables[table_entry_pfn(v)][(addr >> PAGE_SHIFT) & 511]


def pte_bits(p, addr):
    """(dirty, young) of the PTE mapping ``addr``."""
    huge, e = entry_at(p, addr)
    assert not huge
    return pte_dirty(e), pte_young(e)


def page_dirty(m, p, addr):
    return bool(m.kernel.pages.flags[pfn_at(p, addr)] & F_dirty)


def events(m):
    return dict(m.kernel.vmstat.events)


def small_pages(m, p, n):
    """``n`` 4 KiB pages (MADV_NOHUGEPAGE), each holding its address."""
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, RW, ANON)
    p.madvise(a, 2 * HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)
    t = p.threads[0]
    for i in range(n):
        t.write(a + i * PAGE_SIZE, a + i * PAGE_SIZE)
    return a


def test_whole_thp_is_freed_lazily_in_place(machine):
    """A THP mapped once and covered whole: the huge PMD stays, clean and old; the page
    loses PG_dirty; 512 pages counted; the data stays (no reclaim in the model)."""
    p = machine.spawn()
    a = thp_region(p, 1)
    assert pmd_dirty(entry_at(p, a)[1])
    before = events(machine)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_FREE)
    assert delta(machine, before) == {"pglazyfree": 512}
    huge, v = entry_at(p, a)
    assert huge and not pmd_dirty(v) and not pmd_young(v)
    assert not page_dirty(machine, p, a)
    check_data(p, a, HPAGE_PMD_SIZE)
    p.threads[0].write(a + PAGE_SIZE, 7)  # a write dirties the PMD again
    assert pmd_dirty(entry_at(p, a)[1])


def test_partial_thp_is_split_and_only_the_range_freed(machine):
    """Part of a THP: the PMD and the page are split (the PMD's dirty bit goes to every
    page, 4.14's __split_huge_pmd_locked()), then only the range's pages lose PG_dirty;
    every PTE after the split is clean and old."""
    p = machine.spawn()
    a = thp_region(p, 1)
    lo, hi = a + 16 * PAGE_SIZE, a + 24 * PAGE_SIZE
    before = events(machine)
    p.madvise(lo, hi - lo, MADV_FREE)
    d = delta(machine, before)
    assert d["thp_split_pmd"] == 1 and d["thp_split_page"] == 1
    assert d["pglazyfree"] == 8
    assert not is_pmd_mapped(p, a)
    for addr in range(a, a + HPAGE_PMD_SIZE, PAGE_SIZE):
        inside = lo <= addr < hi
        assert pte_bits(p, addr) == (False, False), hex(addr)
        assert page_dirty(machine, p, addr) is not inside, hex(addr)
    check_data(p, a, HPAGE_PMD_SIZE)


def test_pte_mapped_thp_is_split_then_freed(machine):
    """A THP mapped by PTEs (its PMD split by mprotect of a part) and mapped once:
    madvise_free_pte_range() splits the page, then frees every page of the range."""
    from thpsim import PROT_READ

    p = machine.spawn()
    a = thp_region(p, 1)
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    assert not is_pmd_mapped(p, a)
    before = events(machine)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_FREE)
    d = delta(machine, before)
    assert d.get("thp_split_page") == 1 and "thp_split_pmd" not in d
    assert d["pglazyfree"] == 512
    for addr in range(a, a + HPAGE_PMD_SIZE, PAGE_SIZE):
        assert pte_bits(p, addr) == (False, False)
        assert not page_dirty(machine, p, addr)
    check_data(p, a, HPAGE_PMD_SIZE)


def test_small_pages_cleaned_and_aged_then_dirtied_again(machine):
    p = machine.spawn()
    a = small_pages(machine, p, 10)
    before = events(machine)
    p.madvise(a, 2 * HPAGE_PMD_SIZE, MADV_FREE)
    assert delta(machine, before) == {"pglazyfree": 10}
    for i in range(10):
        assert pte_bits(p, a + i * PAGE_SIZE) == (False, False)
        assert not page_dirty(machine, p, a + i * PAGE_SIZE)
    check_data(p, a, 10 * PAGE_SIZE)
    p.threads[0].write(a, 99)
    assert pte_bits(p, a) == (True, True)
    assert p.threads[0].read(a) == 99


def test_shared_pages_are_left_alone(machine):
    """After fork every page is mapped twice: MADV_FREE in the parent frees nothing
    (a THP is neither split nor cleaned; a 4 KiB page keeps its bits)."""
    p = machine.spawn()
    a = thp_region(p, 1)
    b = small_pages(machine, p, 4)
    p.fork()
    before = events(machine)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_FREE)
    p.madvise(b, 4 * PAGE_SIZE, MADV_FREE)
    p.madvise(a + PAGE_SIZE, PAGE_SIZE, MADV_FREE)  # partial: not split either
    assert delta(machine, before) == {}
    assert is_pmd_mapped(p, a)
    assert pmd_dirty(entry_at(p, a)[1])
    for i in range(4):
        assert pte_bits(p, b + i * PAGE_SIZE)[0]


def test_unpopulated_range_and_holes(machine):
    """No page tables: nothing counted. A hole in the range: -ENOMEM after the advice
    is applied to the mapped parts."""
    p = machine.spawn()
    a = p.mmap(0, 8 * MB, RW, ANON)
    before = events(machine)
    p.madvise(a, 8 * MB, MADV_FREE)
    assert delta(machine, before) == {}
    b = small_pages(machine, p, 3)
    p.munmap(b + HPAGE_PMD_SIZE, PAGE_SIZE)
    before = events(machine)
    assert errno_of(p.madvise, b, 2 * HPAGE_PMD_SIZE, MADV_FREE) == errno.ENOMEM
    assert delta(machine, before) == {"pglazyfree": 3}
    assert pte_bits(p, b) == (False, False)


def test_huge_zero_page_is_skipped():
    m = Machine(nodes={0: 256 * MB, 1: 256 * MB}, block_size=128 * MB, check=True)
    p = m.spawn()
    a = thp_region(p, 1, fill=False)
    assert p.threads[0].read(a) == 0
    assert pfn_at(p, a) == m.kernel.huge_zero_pfn
    before = events(m)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_FREE)
    p.madvise(a, PAGE_SIZE, MADV_FREE)
    assert delta(m, before) == {}
    assert pfn_at(p, a) == m.kernel.huge_zero_pfn


def test_locked_vma_is_einval(machine):
    p = machine.spawn()
    a = small_pages(machine, p, 2)
    p.mlock(a, 2 * PAGE_SIZE)
    assert errno_of(p.madvise, a, 2 * PAGE_SIZE, MADV_FREE) == errno.EINVAL
    assert pte_bits(p, a)[0]


# ---------------------------------------------------------------- preemption points
def preempt_sites(m, p, start, end):
    """The function each PREEMPT trap of madvise_free_single_vma() over [start, end)
    comes from (the innermost generator), run alone under mmap_lock for read."""
    run_to_completion(down_read(p.mm.mmap_lock))
    gen = madvise_free_single_vma(p.mm.find_vma(start), start, end)
    s = Stepper(m.kernel, gen, task=p.task)
    sites = []
    while (t := s.step()) is not None:
        assert t is PREEMPT
        g = gen
        while getattr(g.gi_yieldfrom, "gi_code", None) is not None:
            g = g.gi_yieldfrom
        sites.append(g.gi_code.co_name)
    up_read(p.mm.mmap_lock)
    assert s.result == 0
    return sites


#: the functions of MADV_FREE's own walk (the rest preempt in locks, splits, flushes)
WALK = {"madvise_free_single_vma", "madvise_free_page_range", "walk_page_range",
        "walk_pmd_range", "madvise_free_pte_range"}


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_preempts_only_where_the_kernel_does(profile):
    """As in the kernel's walk: a hole (no page table, or a none PMD) and a huge PMD
    freed in place add no preemption point; a PTE table adds two (taking its lock, and
    cond_resched() at the end of madvise_free_pte_range())."""
    m = Machine(nodes={0: 256 * MB, 1: 256 * MB}, block_size=128 * MB, profile=profile)
    p = m.spawn()
    a = p.mmap(0, 64 * MB, RW, ANON)
    a = (a + PMD_SIZE - 1) & ~(PMD_SIZE - 1)
    assert preempt_sites(m, p, a, a + 32 * MB) == []  # no page table at all
    p.threads[0].write(a, 1)  # one THP: the other PMDs of its table are none
    alone = preempt_sites(m, p, a, a + HPAGE_PMD_SIZE)
    assert alone[:2] == ["pmd_trans_huge_lock", "spin_lock"]  # madvise_free_huge_pmd()
    assert not WALK & set(alone)
    p.threads[0].write(a + 4096, 1)  # dirty again
    assert preempt_sites(m, p, a, a + 32 * MB) == alone  # the holes add nothing
    b = small_pages(m, p, 0)
    t = p.threads[0]
    t.write(b, 1)
    t.write(b + HPAGE_PMD_SIZE, 2)  # two PTE tables
    sites = preempt_sites(m, p, b, b + 2 * HPAGE_PMD_SIZE)
    assert sites[:4] == ["spin_lock", "madvise_free_pte_range"] * 2  # ptl, cond_resched()
    assert not WALK & set(sites[4:])  # then only tlb_finish_mmu()'s flush


def _vm_pte_kb(p) -> int:
    """VmPTE of /proc/PID/status: the process's page tables, in kB."""
    for line in p.fs.read(f"/proc/{p.pid}/status").splitlines():
        if line.startswith("VmPTE:"):
            return int(line.split()[1])
    raise AssertionError("no VmPTE line")


@pytest.mark.parametrize("reclaim", [True, False])
def test_dontneed_of_a_whole_block_frees_its_pte_table(reclaim):
    """6.13+ (``madvise_dontneed_reclaim_pt``; the kernel oracle's 7.2): MADV_DONTNEED
    over a whole 2 MiB block frees the emptied PTE table (VmPTE -4 kB), so the next
    read fault there maps the huge zero page by a PMD. Before (6.12, 6.1): the empty
    table stays and the read faults map the 4 KiB zero page. A DONTNEED over part of
    the block keeps the table in both eras."""
    m = Machine(nodes={0: 256 * MB, 1: 256 * MB}, cpus=2, thp="always", profile="mainline",
                check=True, madvise_dontneed_reclaim_pt=reclaim)
    p = m.spawn()
    a = thp_region(p, 2, fill=False)
    p.madvise(a, 4 * MB, MADV_NOHUGEPAGE)
    for x in range(a, a + 4 * MB, 64 * PAGE_SIZE):
        p.write(x, x)  # 4 KiB pages: two PTE tables
    pte_kb = _vm_pte_kb(p)
    p.madvise(a + 2 * MB, 2 * MB - PAGE_SIZE, MADV_DONTNEED)  # part of block 2
    assert _vm_pte_kb(p) == pte_kb
    p.madvise(a, 2 * MB, MADV_DONTNEED)  # all of block 1
    assert _vm_pte_kb(p) == pte_kb - (4 if reclaim else 0)
    p.madvise(a, 4 * MB, MADV_HUGEPAGE)  # the read fault may map a huge PMD again
    assert p.read(a + PAGE_SIZE) == 0
    assert is_pmd_mapped(p, a) == reclaim  # the huge zero page, where the table went
    assert p.read(a + 2 * MB + 64 * PAGE_SIZE) == 0  # zapped with the partial DONTNEED
    assert not is_pmd_mapped(p, a + 2 * MB)  # its table stayed: PTE-mapped
    m.check_integrity()
