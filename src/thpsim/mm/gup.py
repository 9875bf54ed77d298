"""Looking up the page behind a user address without faulting.

Models: mm/gup.c follow_page_mask() (follow_pmd_mask / follow_page_pte), v4.14:
a PMD migration entry or any non-present entry gives "no page" (the caller
faults, and the fault waits on the entry).

Preempts: never (a plain walk; callers that hold no page-table lock use it only
to decide whether to fault).
"""

from __future__ import annotations

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_MASK,
    PAGE_SHIFT,
    pmd_none,
    pmd_pfn,
    pmd_present,
    pmd_trans_huge,
    pmd_write,
    pte_pfn,
    pte_present,
    pte_special,
    pte_write,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.mm.mm_types import vm_area_struct
from thpsim.mm.pgtable_generic import lookup_pmd, pmdp_get


def follow_page(vma: vm_area_struct, address: int, write: bool) -> tuple[int, bool, bool]:
    """``(pfn, huge, zero)`` of the page mapped at ``address``, or ``(-1, False, False)``.

    ``write``: a read-only mapping counts as "no page" (FOLL_WRITE). ``pfn`` is the
    4 KiB page's frame even inside a THP; ``zero`` marks the zero pages.
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    pmd = lookup_pmd(mm, address)
    if pmd is None:
        return -1, False, False
    v = pmdp_get(pmd)
    if pmd_none(v) or is_swap_pmd(v):
        return -1, False, False
    if pmd_trans_huge(v):
        if not pmd_present(v) or not v & 1 or write and not pmd_write(v):
            return -1, False, False
        base = pmd_pfn(v)
        zero = base == ctx.huge_zero_pfn
        return base + ((address & ~HPAGE_PMD_MASK) >> PAGE_SHIFT), True, zero
    t = ctx.mem.tables[table_entry_pfn(v)]
    e = t[(address >> PAGE_SHIFT) & 511]
    if not pte_present(e) or not e & 1 or write and not pte_write(e):
        return -1, False, False
    pfn = pte_pfn(e)
    return pfn, False, pte_special(e) or pfn == ctx.zero_pfn


def follow_page_present(vma: vm_area_struct, address: int, write: bool) -> bool:
    return follow_page(vma, address, write)[0] >= 0
