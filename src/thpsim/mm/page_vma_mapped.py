"""Find where a page is mapped in one VMA: PMD-mapped, PTE-mapped, or migration entries.

Models: mm/page_vma_mapped.c page_vma_mapped_walk(), v4.14 (PMD-level hits
for a huge PMD or a PMD migration entry, re-checked under the PMD lock; PTE
level otherwise), with 6.x's step across PMD boundaries for a PTE-mapped THP
that mremap placed across two page tables.

A hit returns True with ``pvmw.ptl`` held: at PMD level ``pvmw.pte`` is None and
``pvmw.pmd`` is set; at PTE level ``pvmw.pte`` points at the entry. Call again to
continue (a PMD-level hit is terminal), or :func:`page_vma_mapped_walk_done`
to stop early.
"""

from __future__ import annotations

from thpsim.arch.x86_64.pgtable import (
    _NOT_KNL,
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    _PAGE_PSE,
    _PMD_PRESENT_MASK,
    _PSE_OR_DEVMAP,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
    PTE_PFN_MASK,
    pmd_pfn,
    pmd_present,
    pmd_trans_huge,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import SWP_PFN_MASK, is_swap_pmd
from thpsim.kernel.locking import spin_lock, spin_unlock
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.mm.mm_types import vm_area_struct
from thpsim.mm.pgtable_generic import lookup_pmd, pmd_lock, pmdp_get

_PRESENT_OR_PROTNONE = _PAGE_PRESENT | _PAGE_PROTNONE

PVMW_SYNC = 1 << 0
PVMW_MIGRATION = 1 << 1


class page_vma_mapped_walk_t:
    """Models: struct page_vma_mapped_walk (``_t``: Python has one namespace for the
    struct and the function)."""

    __slots__ = ("page", "nr", "vma", "address", "end", "pmd", "pte", "ptl", "flags")

    def __init__(self, page: int, nr: int, vma: vm_area_struct, address: int, flags: int):
        self.page = page
        self.nr = nr
        self.vma = vma
        self.address = address
        self.end = min(vma.vm_end, address + nr * PAGE_SIZE)
        self.pmd = None
        self.pte = None
        self.ptl = None
        self.flags = flags


def page_vma_mapped_walk_done(pvmw: page_vma_mapped_walk_t) -> None:
    if pvmw.ptl is not None:
        spin_unlock(pvmw.ptl)
        pvmw.ptl = None


def _check_pte(pvmw: page_vma_mapped_walk_t, pte: int) -> bool:
    """Models: check_pte(): a migration entry (PVMW_MIGRATION) or present PTE into the page."""
    if pte == 0:
        return False
    if pvmw.flags & PVMW_MIGRATION:
        if pte & _PRESENT_OR_PROTNONE:
            return False
        swp = pvmw.vma.vm_mm.kernel.swp
        entry = swp.pte_to_swp_entry(pte)
        if not swp.is_migration_entry(entry):
            return False
        pfn = entry & SWP_PFN_MASK
    else:
        # pte_none(pte) || !pte_present(pte), inlined: a present PTE is never none
        if not pte & _PRESENT_OR_PROTNONE:
            return False
        pfn = (pte & PTE_PFN_MASK) >> PAGE_SHIFT  # pte_pfn()
    return pvmw.page <= pfn < pvmw.page + pvmw.nr


def page_vma_mapped_walk_batch(pvmw: page_vma_mapped_walk_t) -> int:
    """How many entries, from the PTE-level hit ``pvmw.pte`` on, the walk would return
    one after another with no preemption point between them: consecutive entries of
    the same page table below ``pvmw.end``, each accepted by check_pte().

    Model-only: no kernel era batches here (try_to_migrate_one() and
    remove_migration_pte() take the walk's hits one at a time, as the model did);
    the model handles the run in one pass in the style of 6.x's set_ptes() and
    folio_remove_rmap_ptes(), which nothing can observe because no preemption point
    lies between the hits. :func:`page_vma_mapped_walk_skip` then leaves the walk at
    the run's last entry, so it goes on exactly where it would have.
    """
    t, i = pvmw.pte
    limit = min(512 - i, (pvmw.end - pvmw.address) >> PAGE_SHIFT)
    n = 1
    # _check_pte() of each entry, inlined (a call per PTE was a fifth of the walk)
    lo = pvmw.page
    hi = lo + pvmw.nr
    if pvmw.flags & PVMW_MIGRATION:
        swp = pvmw.vma.vm_mm.kernel.swp
        to_entry = swp.pte_to_swp_entry
        is_migration_entry = swp.is_migration_entry
        while n < limit:
            pte = t[i + n]
            if pte == 0 or pte & _PRESENT_OR_PROTNONE:
                break
            entry = to_entry(pte)
            if not is_migration_entry(entry) or not lo <= entry & SWP_PFN_MASK < hi:
                break
            n += 1
    else:
        while n < limit:
            pte = t[i + n]
            if not pte & _PRESENT_OR_PROTNONE or not lo <= (pte & PTE_PFN_MASK) >> PAGE_SHIFT < hi:
                break
            n += 1
    return n


def page_vma_mapped_walk_skip(pvmw: page_vma_mapped_walk_t, n: int) -> None:
    """Leave the walk at the ``n``-th entry of the run that starts at ``pvmw.pte``."""
    if n > 1:
        t, i = pvmw.pte
        pvmw.pte = (t, i + n - 1)
        pvmw.address += (n - 1) * PAGE_SIZE


def page_vma_mapped_walk(pvmw: page_vma_mapped_walk_t) -> KernelPath[bool]:
    """Next mapping of ``pvmw.page`` in ``pvmw.vma``.

    Context: anon_vma lock (rmap walk) or mmap_lock held by the caller.
    Preempts: after the lockless PMD read, and taking the PMD or PTE lock.
    """
    vma = pvmw.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    swp = ctx.swp
    if pvmw.pmd is not None and pvmw.pte is None:
        page_vma_mapped_walk_done(pvmw)  # a PMD-level hit is the only one
        return False
    if pvmw.pte is not None:
        pvmw.address += PAGE_SIZE
    if pvmw.address < vma.vm_start:
        pvmw.address = vma.vm_start
    while pvmw.address < pvmw.end:
        addr = pvmw.address
        if pvmw.pte is not None and addr & ~PMD_MASK == 0:
            page_vma_mapped_walk_done(pvmw)  # stepped into the next page table
            pvmw.pte = None
        if pvmw.pte is None:
            pmd = lookup_pmd(mm, addr)
            if pmd is None:
                pvmw.address = (addr & PMD_MASK) + PMD_SIZE
                continue
            pvmw.pmd = pmd
            pmde = pmd[0][pmd[1]]  # pmdp_get(pmd)
            yield PREEMPT  # window: the PMD may be split or turned into a migration entry
            # pmd_trans_huge(pmde) || is_swap_pmd(pmde), inlined (read once per walk)
            if pmde & _PSE_OR_DEVMAP == _PAGE_PSE or (
                    pmde & _NOT_KNL and not pmde & _PMD_PRESENT_MASK):
                pvmw.ptl = yield from pmd_lock(mm, pmd)
                pmde = pmdp_get(pmd)
                if pmd_trans_huge(pmde) and pmd_present(pmde):
                    if pvmw.flags & PVMW_MIGRATION or pmd_pfn(pmde) != pvmw.page:
                        page_vma_mapped_walk_done(pvmw)
                        return False
                    return True
                if is_swap_pmd(pmde):
                    if pvmw.flags & PVMW_MIGRATION and swp.is_pmd_migration_entry(pmde) and (
                        swp.pfn_swap_entry_pfn(swp.pmd_to_swp_entry(pmde)) == pvmw.page
                    ):
                        return True
                    page_vma_mapped_walk_done(pvmw)
                    return False
                page_vma_mapped_walk_done(pvmw)  # THP pmd was split under us: PTE level
                pmde = pmdp_get(pmd)
            # pmd_none(pmde) || pmd_trans_huge(pmde) || is_swap_pmd(pmde), inlined: past
            # pmd_none and pmd_trans_huge, is_swap_pmd is !pmd_present
            if (not pmde & _NOT_KNL or pmde & _PSE_OR_DEVMAP == _PAGE_PSE
                    or not pmde & _PMD_PRESENT_MASK):
                pvmw.pmd = None
                pvmw.address = (addr & PMD_MASK) + PMD_SIZE
                continue
            table = ctx.mem.tables[table_entry_pfn(pmde)]
            pvmw.pte = (table, (addr >> PAGE_SHIFT) & 511)
            pvmw.ptl = table.ptl
            yield from spin_lock(pvmw.ptl)
        else:
            pvmw.pte = (pvmw.pte[0], (addr >> PAGE_SHIFT) & 511)
        t, i = pvmw.pte
        if _check_pte(pvmw, t[i]):
            return True
        pvmw.address += PAGE_SIZE
    page_vma_mapped_walk_done(pvmw)
    pvmw.pte = None
    return False


