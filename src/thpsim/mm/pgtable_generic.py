"""Page-table pointers, accessors, locks, allocation and deposits.

Models: include/linux/pgtable.h (pgd/pud/pmd/pte_offset, READ_ONCE accessors),
include/linux/mm.h (pmd_lock, pte_lockptr, pte_alloc), mm/memory.c (__pte_alloc,
__pmd_alloc, __pud_alloc), mm/pgtable-generic.c (pmdp_invalidate,
pmdp_huge_clear_flush, pgtable_trans_huge_deposit/withdraw,
pmd_clear_bad), include/asm-generic/pgtable.h v4.14
(pmd_none_or_trans_huge_or_clear_bad, pmd_trans_unstable), arch/x86 pgalloc.

A pointer to an entry (``pmd_t *``) is a ``(PageTable, index)`` tuple: the table
page and the slot. Entries are read and written only through these accessors,
so each load or store another CPU could see apart is one statement.

Simplified: split page-table locks for PTE and PMD tables (USE_SPLIT_PTE_PTLOCKS,
USE_SPLIT_PMD_PTLOCKS, as x86-64 has); upper levels use ``mm->page_table_lock``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.arch.x86_64.pgtable import (
    PAGE_SHIFT,
    PGDIR_SHIFT,
    PMD_SHIFT,
    PUD_SHIFT,
    mk_table_entry,
    pmd_bad,
    pmd_mkinvalid,
    pmd_none,
    pmd_present,
    pmd_trans_huge,
    pud_none,
    table_entry_pfn,
)
from thpsim.errors import KernelBug
from thpsim.hw.memory import PageTable
from thpsim.kernel.locking import spin_lock, spin_unlock, spinlock_t
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.tlbflush import flush_pmd_tlb_range, flush_tlb_page
from thpsim.mm.gfp import GFP_PGTABLE_USER
from thpsim.mm.page_alloc import __alloc_pages, __free_pages
from thpsim.mm.page_flags import F_pgtable
from thpsim.mm.vmstat import NR_PAGETABLE

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext
    from thpsim.mm.mm_types import mm_struct, vm_area_struct

Ptr = tuple[PageTable, int]

_IDX = 511


# ---------------------------------------------------------------- offsets
def pgd_offset(mm: mm_struct, addr: int) -> Ptr:
    return (mm.pgd, (addr >> PGDIR_SHIFT) & _IDX)


def pud_offset(ctx: KernelContext, pgd: Ptr, addr: int) -> Ptr:
    t, i = pgd
    return (ctx.mem.tables[table_entry_pfn(t[i])], (addr >> PUD_SHIFT) & _IDX)


def pmd_offset(ctx: KernelContext, pud: Ptr, addr: int) -> Ptr:
    t, i = pud
    return (ctx.mem.tables[table_entry_pfn(t[i])], (addr >> PMD_SHIFT) & _IDX)


def pte_offset_map(ctx: KernelContext, pmdval: int, addr: int) -> Ptr:
    """Models: pte_offset_map() given the PMD value already read (a table pointer).

    A PMD value that points at no page table (a huge PMD or a swap entry read as a
    table pointer) is garbage memory read as PTEs: KernelBug."""
    t = ctx.mem.tables.get(table_entry_pfn(pmdval))
    if t is None or t.level != 1:
        raise KernelBug(f"BUG: pte_offset_map() of PMD {pmdval:#x}: pfn "
                        f"{table_entry_pfn(pmdval):#x} is no PTE table")
    return (t, (addr >> PAGE_SHIFT) & _IDX)


def pmd_table(pmd: Ptr) -> PageTable:
    return pmd[0]


def ptr_get(p: Ptr) -> int:
    """READ_ONCE(*p): pmdp_get(), ptep_get(), pmdp_get_lockless()."""
    return p[0][p[1]]


pmdp_get = ptr_get
ptep_get = ptr_get
pmdp_get_lockless = ptr_get


def ptr_set(p: Ptr, val: int) -> None:
    """WRITE_ONCE(*p, val): set_pte_at(), set_pmd_at() without their extra arguments."""
    p[0][p[1]] = val


def set_pmd_at(mm: mm_struct, addr: int, pmd: Ptr, val: int) -> None:
    pmd[0][pmd[1]] = val


def set_pte_at(mm: mm_struct, addr: int, pte: Ptr, val: int) -> None:
    pte[0][pte[1]] = val


def pmd_clear(pmd: Ptr) -> None:
    pmd[0][pmd[1]] = 0


def pte_clear(mm: mm_struct, addr: int, pte: Ptr) -> None:
    pte[0][pte[1]] = 0


def ptep_get_and_clear(mm: mm_struct, addr: int, pte: Ptr) -> int:
    t, i = pte
    v = t[i]
    t[i] = 0
    return v


def pmdp_huge_get_and_clear(mm: mm_struct, addr: int, pmd: Ptr) -> int:
    """Clear a huge PMD and return it. No TLB flush (the caller's job)."""
    t, i = pmd
    v = t[i]
    t[i] = 0
    return v


def pmdp_establish(vma: vm_area_struct, addr: int, pmd: Ptr, val: int) -> int:
    """Atomically exchange a PMD (xchg on x86) and return the old value."""
    t, i = pmd
    old = t[i]
    t[i] = val
    return old


# ---------------------------------------------------------------- flushing variants
def ptep_clear_flush(vma: vm_area_struct, addr: int, pte: Ptr) -> KernelPath[int]:
    """Models: mm/pgtable-generic.c ptep_clear_flush(): clear, then flush the page."""
    v = ptep_get_and_clear(vma.vm_mm, addr, pte)
    yield from flush_tlb_page(vma, addr)
    return v


def pmdp_huge_clear_flush(vma: vm_area_struct, haddr: int, pmd: Ptr) -> KernelPath[int]:
    """Models: pmdp_huge_clear_flush(): clear a huge PMD, then flush its 2 MiB."""
    v = pmdp_huge_get_and_clear(vma.vm_mm, haddr, pmd)
    yield from flush_pmd_tlb_range(vma, haddr, haddr + (1 << PMD_SHIFT))
    return v


def pmdp_invalidate(vma: vm_area_struct, haddr: int, pmd: Ptr) -> KernelPath[int]:
    """Models: pmdp_invalidate() (4.16+ returns the old value via pmdp_establish).

    The PMD keeps PSE, so it stays pmd_present()/pmd_trans_huge() to lockless
    readers while hardware faults on it; then the 2 MiB range is flushed.
    """
    old = pmdp_establish(vma, haddr, pmd, pmd_mkinvalid(pmdp_get(pmd)))
    yield from flush_pmd_tlb_range(vma, haddr, haddr + (1 << PMD_SHIFT))
    return old


def ptep_set_access_flags(vma: vm_area_struct, addr: int, pte: Ptr, entry: int,
                          dirty: bool) -> bool:
    """Models: x86 ptep_set_access_flags(): store if changed (no flush: only A/D/W grew)."""
    t, i = pte
    changed = t[i] != entry
    if changed:
        t[i] = entry
    return changed


pmdp_set_access_flags = ptep_set_access_flags


# ---------------------------------------------------------------- locks
def pmd_lockptr(mm: mm_struct, pmd: Ptr) -> spinlock_t:
    """The split PMD lock lives in the PMD table page's struct page."""
    return pmd[0].ptl


def pmd_lock(mm: mm_struct, pmd: Ptr) -> KernelPath[spinlock_t]:
    """Take the PMD lock. Preempts: in spin_lock()."""
    return (yield from spin_lock(pmd[0].ptl))


def pte_lockptr(ctx: KernelContext, pmdval: int) -> spinlock_t:
    """The split PTE lock lives in the PTE table page's struct page."""
    return ctx.mem.tables[table_entry_pfn(pmdval)].ptl


def pte_offset_map_lock(ctx: KernelContext, mm: mm_struct, pmdval: int,
                        addr: int) -> KernelPath[tuple[Ptr, spinlock_t]]:
    pte = pte_offset_map(ctx, pmdval, addr)
    ptl = pte[0].ptl
    yield from spin_lock(ptl)
    return pte, ptl


# ---------------------------------------------------------------- table pages
def pgtable_alloc(ctx: KernelContext, level: int) -> int:
    """Allocate and construct one page-table page; -1 when memory is exhausted.

    Models: pte_alloc_one()/pmd_alloc_one()/pud_alloc_one() +
    pgtable_page_ctor() (the split ptlock), on the local node.
    """
    pfn = __alloc_pages(ctx, GFP_PGTABLE_USER, 0, ctx.numa_node_id())
    if pfn < 0:
        return -1
    pages = ctx.pages
    pages.flags[pfn] |= F_pgtable
    t = ctx.mem.new_table(pfn, level)
    t.ptl = spinlock_t(ctx, "ptl", f"pt{pfn:#x}")
    if level == 2:
        t.pmd_huge_pte = []
    ctx.vmstat.mod_zone_page_state(ctx.mem.pfn_to_nid(pfn), NR_PAGETABLE, 1)
    return pfn


def pgtable_free(ctx: KernelContext, pfn: int) -> None:
    """Models: pte_free()/pmd_free()/pud_free() + pgtable_page_dtor()."""
    t = ctx.mem.tables[pfn]
    if t.ptl is not None and t.ptl.owner is not None:
        raise KernelBug(f"freeing page table {pfn:#x} with its lock held")
    if t.pmd_huge_pte:
        raise KernelBug(f"freeing PMD table {pfn:#x} with deposited tables {t.pmd_huge_pte}")
    ctx.mem.free_table(pfn)
    pages = ctx.pages
    pages.flags[pfn] &= ~F_pgtable & 0xFFFF_FFFF
    ctx.vmstat.mod_zone_page_state(ctx.mem.pfn_to_nid(pfn), NR_PAGETABLE, -1)
    pages.refcount[pfn] -= 1
    if pages.refcount[pfn] != 0:
        raise KernelBug(f"page table {pfn:#x} has refcount {pages.refcount[pfn]} at free")
    __free_pages(ctx, pfn, 0)


def __pud_alloc(mm: mm_struct, pgd: Ptr) -> KernelPath[int]:
    """Returns 0, or -ENOMEM. Context: mmap_lock held."""
    ctx = mm.kernel
    new = pgtable_alloc(ctx, 3)
    if new < 0:
        return -12
    yield from spin_lock(mm.page_table_lock)
    try:
        if ptr_get(pgd) == 0:
            mm.nr_puds += 1
            ptr_set(pgd, mk_table_entry(new))
            new = -1
    finally:
        spin_unlock(mm.page_table_lock)
    if new >= 0:
        pgtable_free(ctx, new)
    return 0


def __pmd_alloc(mm: mm_struct, pud: Ptr) -> KernelPath[int]:
    ctx = mm.kernel
    new = pgtable_alloc(ctx, 2)
    if new < 0:
        return -12
    yield from spin_lock(mm.page_table_lock)
    try:
        if pud_none(ptr_get(pud)):
            mm.nr_pmds += 1
            ptr_set(pud, mk_table_entry(new))
            new = -1
    finally:
        spin_unlock(mm.page_table_lock)
    if new >= 0:
        pgtable_free(ctx, new)
    return 0


def __pte_alloc(mm: mm_struct, pmd: Ptr) -> KernelPath[int]:
    """Models: mm/memory.c __pte_alloc(): allocate, then populate under the PMD lock.

    Returns 0, or -ENOMEM. Another CPU may have populated (or put a huge PMD
    there) meanwhile; then the new table is freed.
    """
    ctx = mm.kernel
    new = pgtable_alloc(ctx, 1)
    if new < 0:
        return -12
    ptl = yield from pmd_lock(mm, pmd)
    try:
        if pmd_none(ptr_get(pmd)):
            mm.nr_ptes += 1
            ptr_set(pmd, mk_table_entry(new))
            new = -1
    finally:
        spin_unlock(ptl)
    if new >= 0:
        pgtable_free(ctx, new)
    return 0


def walk_to_pmd(mm: mm_struct, addr: int, alloc: bool) -> KernelPath[Ptr | None]:
    """pgd_offset -> p4d/pud_alloc -> pmd_alloc, as __handle_mm_fault starts.

    Returns the PMD pointer, or None (no table and ``alloc`` false, or -ENOMEM).
    """
    ctx = mm.kernel
    pgd = pgd_offset(mm, addr)
    if ptr_get(pgd) == 0:
        if not alloc or (yield from __pud_alloc(mm, pgd)) < 0:
            return None
    pud = pud_offset(ctx, pgd, addr)
    if pud_none(ptr_get(pud)):
        if not alloc or (yield from __pmd_alloc(mm, pud)) < 0:
            return None
    return pmd_offset(ctx, pud, addr)


def lookup_pmd(mm: mm_struct, addr: int) -> Ptr | None:
    """Plain (non-allocating, never preempting) walk to the PMD slot, or None."""
    ctx = mm.kernel
    t = mm.pgd
    e = t[(addr >> PGDIR_SHIFT) & _IDX]
    if e == 0:
        return None
    t = ctx.mem.tables[table_entry_pfn(e)]
    e = t[(addr >> PUD_SHIFT) & _IDX]
    if pud_none(e):
        return None
    return (ctx.mem.tables[table_entry_pfn(e)], (addr >> PMD_SHIFT) & _IDX)


def lookup_pmd_range(mm: mm_struct, addr: int, end: int) -> tuple[Ptr | None, int]:
    """A range walk's step at ``addr`` (below ``end``): ``(pmd, next)``.

    With the PMD slot found, ``next`` is the end of that PMD's part of the range
    (pmd_addr_end()); with an upper-level entry empty, ``pmd`` is None and ``next``
    is where that empty entry's span ends (pgd_addr_end() / pud_addr_end()), as the
    kernel's pgd/p4d/pud loops skip it (``pgd_none_or_clear_bad(): continue``), so a
    walk costs by the tables present, not by the span.
    """
    ctx = mm.kernel
    e = mm.pgd[(addr >> PGDIR_SHIFT) & _IDX]
    if e == 0:
        return None, _range_end(addr, end, PGDIR_SHIFT)
    e = ctx.mem.tables[table_entry_pfn(e)][(addr >> PUD_SHIFT) & _IDX]
    if pud_none(e):
        return None, _range_end(addr, end, PUD_SHIFT)
    return ((ctx.mem.tables[table_entry_pfn(e)], (addr >> PMD_SHIFT) & _IDX),
            _range_end(addr, end, PMD_SHIFT))


def _range_end(addr: int, end: int, shift: int) -> int:
    """Models: pgd_addr_end() and friends: the next 2**shift boundary, or ``end``."""
    boundary = ((addr >> shift) + 1) << shift
    return boundary if boundary - 1 < end - 1 else end


# ---------------------------------------------------------------- deposits
def pgtable_trans_huge_deposit(mm: mm_struct, pmd: Ptr, pgtable: int) -> None:
    """Models: pgtable-generic.c pgtable_trans_huge_deposit(). Context: PMD lock held."""
    pmd[0].pmd_huge_pte.append(pgtable)


def pgtable_trans_huge_withdraw(mm: mm_struct, pmd: Ptr) -> int:
    """Models: pgtable_trans_huge_withdraw() (FIFO, as the kernel's list). PMD lock held."""
    dep = pmd[0].pmd_huge_pte
    if not dep:
        raise KernelBug(f"withdraw from PMD table {pmd[0].pfn:#x} with no deposited table")
    return dep.pop(0)


# ---------------------------------------------------------------- bad-PMD handling
def pmd_clear_bad(ctx: KernelContext, pmd: Ptr) -> None:
    """Models: pmd_clear_bad(): print "bad pmd" and clear it (what B2 did to migration entries)."""
    ctx.printk(f"mm/pgtable-generic.c: bad pmd {ptr_get(pmd):016x}")
    pmd_clear(pmd)


def pmd_none_or_clear_bad(ctx: KernelContext, pmd: Ptr) -> bool:
    v = ptr_get(pmd)
    if pmd_none(v):
        return True
    if pmd_bad(v, ctx.profile.pmd_bad_ignores_accessed):
        pmd_clear_bad(ctx, pmd)
        return True
    return False


def pmd_none_or_trans_huge_or_clear_bad(ctx: KernelContext, pmd: Ptr) -> bool:
    """Models: asm-generic/pgtable.h v4.14 (C:84c3fc4): a migration entry is unstable, not bad.

    Returns true for none, trans-huge, or not present (migration entry), before
    pmd_bad() is ever tested; clears a genuinely bad PMD. With
    ``bug_b2_clear_bad_ignores_migration`` the function before that commit: a
    migration entry is bad (B2).
    """
    pmdval = ptr_get(pmd)
    if ctx.profile.bug_b2_clear_bad_ignores_migration:
        # B2: before C:84c3fc4 only none and trans-huge are unstable; a migration entry
        # falls through to pmd_bad()
        if pmd_none(pmdval) or pmd_trans_huge(pmdval):
            return True
    elif pmd_none(pmdval) or pmd_trans_huge(pmdval) or not pmd_present(pmdval):
        return True
    if pmd_bad(pmdval, ctx.profile.pmd_bad_ignores_accessed):
        pmd_clear_bad(ctx, pmd)
        return True
    return False


def pmd_trans_unstable(ctx: KernelContext, pmd: Ptr) -> bool:
    return pmd_none_or_trans_huge_or_clear_bad(ctx, pmd)
