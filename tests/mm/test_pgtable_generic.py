"""Page-table pages and the generic PMD/PTE operations (mm/pgtable_generic.py).

pgtable deposit and withdraw around a THP's life, pmdp_invalidate /
pmdp_huge_clear_flush / ptep_clear_flush and the TLB shootdowns they owe,
page-table allocation and its NR_PAGETABLE / mm->nr_ptes accounting, and the
bad-PMD checks.
"""

import pytest
from mm_helpers import ANON, RW, small_machine, thp_aligned

from thpsim import MAP_NORESERVE, PROT_READ
from thpsim.arch.x86_64.pgtable import (
    _PAGE_PRESENT,
    _PAGE_PSE,
    _PAGE_RW,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    mk_table_entry,
    pmd_pfn,
    pmd_present,
    pmd_trans_huge,
    pte_pfn,
    table_entry_pfn,
)
from thpsim.errors import KernelBug
from thpsim.hw.cpu import WALK_NOT_PRESENT, mmu_walk
from thpsim.kernel.locking import spin_unlock
from thpsim.kernel.sched import PREEMPT
from thpsim.mm.page_flags import F_pgtable
from thpsim.mm.pgtable_generic import (
    lookup_pmd,
    pgtable_alloc,
    pgtable_free,
    pgtable_trans_huge_deposit,
    pgtable_trans_huge_withdraw,
    pmd_lock,
    pmd_none_or_clear_bad,
    pmd_none_or_trans_huge_or_clear_bad,
    pmdp_get,
    pmdp_huge_clear_flush,
    pmdp_huge_get_and_clear,
    pmdp_invalidate,
    pte_offset_map,
    ptep_clear_flush,
    set_pmd_at,
    set_pte_at,
    walk_to_pmd,
)
from thpsim.mm.vmstat import NR_PAGETABLE
from thpsim.testing import Stepper

GB = 1 << 30


def boot(**kw):
    """Two nodes, CPUs 0-1 on node 0 and 2-3 on node 1."""
    return small_machine(cpus=4, **kw)


def thp_area(p, nr=1):
    """``nr`` THPs in one VMA, each faulted by writing ``a`` to its first word."""
    a = thp_aligned(p, nr)
    for i in range(nr):
        p.write(a + i * HPAGE_PMD_SIZE, a)
    return a


def pagetables(m, nid=None):
    vm = m.kernel.vmstat
    if nid is None:
        return vm.global_zone_page_state(NR_PAGETABLE)
    return vm.zone_extra[nid][NR_PAGETABLE]


def as_task(m, task, fn, *args):
    """Call a non-preempting kernel function with ``current`` = ``task``."""
    def path():
        return fn(*args)
        yield

    return Stepper(m.kernel, path(), task).finish()


def run(m, gen, task=None):
    return Stepper(m.kernel, gen, task).finish()


def tlb_has(m, cpu, mm, addr):
    return m.cpus[cpu].tlb_lookup(mm.mm_id, addr) >= 0


def free_pages(m):
    return int(dict(line.split() for line in m.fs.read("/proc/vmstat").splitlines())
               ["nr_free_pages"])


# ---------------------------------------------------------------- deposit / withdraw
def test_thp_fault_deposits_a_pte_table_that_split_withdraws():
    m = boot()
    p = m.spawn()
    before = pagetables(m)
    a = thp_area(p)
    pmd = lookup_pmd(p.mm, a)
    head = pmd_pfn(pmd[0][pmd[1]])
    deposited = list(pmd[0].pmd_huge_pte)
    assert len(deposited) == 1
    t = deposited[0]
    assert m.kernel.pages.flags[t] & F_pgtable and m.kernel.mem.tables[t].level == 1
    assert pagetables(m) == before + 3  # PUD, PMD and the deposited PTE table
    assert p.mm.nr_ptes == 1  # 4.14 counts the deposit as the mm's PTE table
    p.mprotect(a, PAGE_SIZE, PROT_READ)  # split the PMD
    v = pmd[0][pmd[1]]
    assert not pmd_trans_huge(v) and table_entry_pfn(v) == t  # the deposit became the table
    assert pmd[0].pmd_huge_pte == []
    assert pagetables(m) == before + 3 and p.mm.nr_ptes == 1
    table = m.kernel.mem.tables[t]
    assert [pte_pfn(table[i]) for i in range(512)] == [head + i for i in range(512)]


def test_zap_of_a_huge_pmd_frees_its_deposit():
    m = boot()
    p = m.spawn()
    a = thp_area(p)
    pmd = lookup_pmd(p.mm, a)
    t = pmd[0].pmd_huge_pte[0]
    before = pagetables(m)
    p.munmap(a, HPAGE_PMD_SIZE)
    assert pmd[0][pmd[1]] == 0 and pmd[0].pmd_huge_pte == []
    assert t not in m.kernel.mem.tables and not m.kernel.pages.flags[t] & F_pgtable
    assert pagetables(m) == before - 1 and p.mm.nr_ptes == 0


def test_each_huge_pmd_of_a_pmd_table_has_its_own_deposit():
    m = boot()
    p = m.spawn()
    a = thp_area(p, nr=3)
    pmd = lookup_pmd(p.mm, a)
    assert len(pmd[0].pmd_huge_pte) == 3 and p.mm.nr_ptes == 3
    p.munmap(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE)
    assert len(pmd[0].pmd_huge_pte) == 2 and p.mm.nr_ptes == 2


def test_deposit_and_withdraw_each_table_once():
    m = boot()
    p = m.spawn()
    a = thp_area(p)
    pmd = lookup_pmd(p.mm, a)
    ctx = m.kernel
    ptl = run(m, pmd_lock(p.mm, pmd), p.task)
    x = as_task(m, p.task, pgtable_alloc, ctx, 1)
    pgtable_trans_huge_deposit(p.mm, pmd, x)
    assert len(pmd[0].pmd_huge_pte) == 2
    got = {pgtable_trans_huge_withdraw(p.mm, pmd), pgtable_trans_huge_withdraw(p.mm, pmd)}
    assert x in got and len(got) == 2
    with pytest.raises(KernelBug, match="no deposited table"):
        pgtable_trans_huge_withdraw(p.mm, pmd)
    for t in got:  # put the THP's deposit back, free the extra table
        if t != x:
            pgtable_trans_huge_deposit(p.mm, pmd, t)
    spin_unlock(ptl)
    as_task(m, p.task, pgtable_free, ctx, x)
    m.check_integrity()


# ---------------------------------------------------------------- allocation accounting
def test_pgtable_alloc_is_local_and_counted_and_free_undoes_it():
    m = boot()
    ctx = m.kernel
    p = m.spawn(cpu=2)  # node 1
    n0, n1, free = pagetables(m, 0), pagetables(m, 1), free_pages(m)
    pfn = as_task(m, p.task, pgtable_alloc, ctx, 2)
    assert ctx.mem.pfn_to_nid(pfn) == 1
    assert (pagetables(m, 0), pagetables(m, 1)) == (n0, n1 + 1)
    assert free_pages(m) == free - 1
    t = ctx.mem.tables[pfn]
    assert t.level == 2 and list(t) == [0] * 512 and t.pmd_huge_pte == []
    assert ctx.pages.flags[pfn] & F_pgtable and ctx.pages.refcount[pfn] == 1
    as_task(m, p.task, pgtable_free, ctx, pfn)
    assert (pagetables(m, 0), pagetables(m, 1)) == (n0, n1)
    assert free_pages(m) == free
    assert pfn not in ctx.mem.tables and not ctx.pages.flags[pfn] & F_pgtable


def test_pgtable_free_refuses_a_table_with_deposits_or_its_lock_held():
    m = boot()
    ctx = m.kernel
    p = m.spawn()
    pmd_table = as_task(m, p.task, pgtable_alloc, ctx, 2)
    pte_table = as_task(m, p.task, pgtable_alloc, ctx, 1)
    pgtable_trans_huge_deposit(p.mm, (ctx.mem.tables[pmd_table], 0), pte_table)
    with pytest.raises(KernelBug, match="deposited"):
        as_task(m, p.task, pgtable_free, ctx, pmd_table)
    ctx.mem.tables[pmd_table].pmd_huge_pte.clear()
    ptl = run(m, pmd_lock(p.mm, (ctx.mem.tables[pte_table], 0)), p.task)
    with pytest.raises(KernelBug, match="lock held"):
        as_task(m, p.task, pgtable_free, ctx, pte_table)
    spin_unlock(ptl)
    as_task(m, p.task, pgtable_free, ctx, pte_table)
    as_task(m, p.task, pgtable_free, ctx, pmd_table)


def test_page_table_accounting_of_base_page_faults():
    """One 4 KiB fault builds PUD, PMD and PTE tables; a fault 2 MiB away needs one
    more PTE table, one 1 GiB away a PMD and a PTE table; exit frees them all."""
    m = boot(thp="never")
    p = m.spawn()
    assert pagetables(m) == 1  # the PGD
    # 3 GiB is more than the machine's RAM: MAP_NORESERVE, or OVERCOMMIT_GUESS refuses it
    a = p.mmap(0, 3 * GB, RW, ANON | MAP_NORESERVE)
    a = (a + GB - 1) & ~(GB - 1)  # one PMD table covers [a, a + 1 GiB)
    assert (a >> 39) == ((a + GB) >> 39)  # and one PUD table covers both
    mm = p.mm
    p.write(a, 1)
    assert pagetables(m) == 4 and (mm.nr_puds, mm.nr_pmds, mm.nr_ptes) == (1, 1, 1)
    p.write(a + PAGE_SIZE, 1)
    assert pagetables(m) == 4
    p.write(a + HPAGE_PMD_SIZE, 1)
    assert pagetables(m) == 5 and (mm.nr_puds, mm.nr_pmds, mm.nr_ptes) == (1, 1, 2)
    p.write(a + GB, 1)
    assert pagetables(m) == 7 and (mm.nr_puds, mm.nr_pmds, mm.nr_ptes) == (1, 2, 3)
    p.exit()
    assert pagetables(m) == 0


def test_walk_to_pmd_allocates_only_when_asked():
    m = boot(thp="never")
    p = m.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    assert lookup_pmd(p.mm, a) is None
    assert run(m, walk_to_pmd(p.mm, a, False), p.task) is None
    assert pagetables(m) == 1
    slot = run(m, walk_to_pmd(p.mm, a, True), p.task)
    assert pagetables(m) == 3 and slot == lookup_pmd(p.mm, a)
    assert slot[0][slot[1]] == 0  # the PMD itself is still none: no PTE table yet
    p.write(a, 5)
    assert pagetables(m) == 4 and table_entry_pfn(slot[0][slot[1]]) in m.kernel.mem.tables


# ---------------------------------------------------------------- PMD operations and their flushes
def _thp_in_two_tlbs():
    """A THP read by a thread on CPU 0 (node 0) and one on CPU 2 (node 1): both TLBs
    hold its 2 MiB entry. Returns the machine, the process, the THP's address, its PMD
    slot and the PMD's value."""
    m = boot()
    p = m.spawn(cpu=0)
    t1 = p.clone(cpu=2)
    a = thp_area(p)
    p.read(a)
    t1.read(a + 5 * PAGE_SIZE)
    assert tlb_has(m, 0, p.mm, a) and tlb_has(m, 2, p.mm, a + 7 * PAGE_SIZE)
    pmd = lookup_pmd(p.mm, a)
    return m, p, a, pmd, pmdp_get(pmd)


def test_pmdp_invalidate_keeps_pse_clears_present_then_flushes():
    m, p, a, pmd, old = _thp_in_two_tlbs()
    ctx = m.kernel
    flushes = ctx.nr_tlb_flushes
    st = Stepper(ctx, pmdp_invalidate(p.mm.find_vma(a), a, pmd), p.task)
    assert st.step() is PREEMPT  # the flush's window: the PMD is invalid, TLBs still hold it
    v = pmd[0][pmd[1]]
    assert v == old & ~_PAGE_PRESENT and v & _PAGE_PSE
    assert pmd_present(v) and pmd_trans_huge(v)  # still huge to lockless kernel walkers
    assert tlb_has(m, 0, p.mm, a) and tlb_has(m, 2, p.mm, a)
    assert st.finish() == old
    assert not tlb_has(m, 0, p.mm, a) and not tlb_has(m, 2, p.mm, a)
    assert ctx.nr_tlb_flushes == flushes + 1
    assert mmu_walk(ctx.mem, p.mm.pgd.pfn, a, False) == (WALK_NOT_PRESENT, False)
    set_pmd_at(p.mm, a, pmd, old)
    assert p.read(a) == a
    m.check_integrity()


def test_pmdp_huge_clear_flush_clears_and_flushes_every_cpu():
    m, p, a, pmd, old = _thp_in_two_tlbs()
    ctx = m.kernel
    flushes = ctx.nr_tlb_flushes
    assert run(m, pmdp_huge_clear_flush(p.mm.find_vma(a), a, pmd), p.task) == old
    assert pmd[0][pmd[1]] == 0
    assert not tlb_has(m, 0, p.mm, a) and not tlb_has(m, 2, p.mm, a + HPAGE_PMD_SIZE - 1)
    assert ctx.nr_tlb_flushes == flushes + 1
    set_pmd_at(p.mm, a, pmd, old)
    m.check_integrity()


def test_pmdp_huge_get_and_clear_leaves_the_tlbs_stale():
    """Without the flush, a CPU keeps translating through the cleared PMD (what the
    planted B3 defect relies on)."""
    m, p, a, pmd, old = _thp_in_two_tlbs()
    ctx = m.kernel
    flushes = ctx.nr_tlb_flushes
    assert pmdp_huge_get_and_clear(p.mm, a, pmd) == old
    assert pmd[0][pmd[1]] == 0
    assert m.cpus[2].tlb_lookup(p.mm.mm_id, a) >> PAGE_SHIFT == pmd_pfn(old)
    assert ctx.nr_tlb_flushes == flushes
    set_pmd_at(p.mm, a, pmd, old)
    m.check_integrity()


def test_ptep_clear_flush_flushes_only_that_page():
    m = boot(thp="never")
    ctx = m.kernel
    p = m.spawn(cpu=0)
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    for i in range(4):
        p.write(a + i * PAGE_SIZE, i)
    for i in range(4):
        p.read(a + i * PAGE_SIZE)
    pmd = lookup_pmd(p.mm, a + PAGE_SIZE)
    pte = pte_offset_map(ctx, pmd[0][pmd[1]], a + PAGE_SIZE)
    old = pte[0][pte[1]]
    assert run(m, ptep_clear_flush(p.mm.find_vma(a), a + PAGE_SIZE, pte), p.task) == old
    assert pte[0][pte[1]] == 0
    assert not tlb_has(m, 0, p.mm, a + PAGE_SIZE)
    assert tlb_has(m, 0, p.mm, a) and tlb_has(m, 0, p.mm, a + 2 * PAGE_SIZE)
    set_pte_at(p.mm, a + PAGE_SIZE, pte, old)
    assert p.read(a + PAGE_SIZE) == 1
    m.check_integrity()


# ---------------------------------------------------------------- bad PMDs
@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_migration_entry_is_unstable_not_bad(profile):
    """pmd_none_or_trans_huge_or_clear_bad() leaves a PMD migration entry alone;
    pmd_none_or_clear_bad() takes it for a bad PMD and clears it (what B2 did)."""
    m = boot(profile=profile)
    ctx = m.kernel
    p = m.spawn()
    scratch = as_task(m, p.task, pgtable_alloc, ctx, 2)
    slot = (ctx.mem.tables[scratch], 3)
    swp = ctx.swp
    entry = swp.swp_entry_to_pmd(swp.make_migration_entry_for(0x1200, True, True, True, True))
    assert swp.is_pmd_migration_entry(entry)
    slot[0][3] = entry
    assert pmd_none_or_trans_huge_or_clear_bad(ctx, slot) is True
    assert slot[0][3] == entry and ctx.dmesg == []
    assert pmd_none_or_clear_bad(ctx, slot) is True
    assert slot[0][3] == 0 and any("bad pmd" in line for line in ctx.dmesg)
    slot[0][3] = 0
    as_task(m, p.task, pgtable_free, ctx, scratch)


def test_genuinely_bad_pmd_is_cleared_and_a_table_pointer_is_kept():
    m = boot()
    ctx = m.kernel
    p = m.spawn()
    scratch = as_task(m, p.task, pgtable_alloc, ctx, 2)
    slot = (ctx.mem.tables[scratch], 0)
    good = mk_table_entry(0x4321)
    slot[0][0] = good
    assert pmd_none_or_trans_huge_or_clear_bad(ctx, slot) is False and slot[0][0] == good
    slot[0][0] = good & ~_PAGE_RW  # a read-only table pointer: pmd_bad()
    assert pmd_none_or_trans_huge_or_clear_bad(ctx, slot) is True
    assert slot[0][0] == 0 and len(ctx.dmesg) == 1
    as_task(m, p.task, pgtable_free, ctx, scratch)
