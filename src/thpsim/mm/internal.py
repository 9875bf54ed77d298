"""Helpers that mm/internal.h gives several mm files.

Models: folio_pte_batch() (6.10+; 6.17 folio_pte_batch_flags() with its FPB_* flags),
used by queue_folios_pte_range() (mempolicy), madvise_cold_or_pageout_pte_range() and
change_pte_range() (mprotect). Simplified: the page table is one ``PageTable`` and
the batch never leaves it (the kernel's callers cap ``max_nr`` at the PMD's end too).
"""

from __future__ import annotations

from thpsim.arch.x86_64.pgtable import pte_pfn, pte_present, pte_soft_dirty, pte_write
from thpsim.mm.page_flags import F_head

__all__ = ["FPB_RESPECT_SOFT_DIRTY", "FPB_RESPECT_WRITE", "folio_pte_batch"]

FPB_RESPECT_SOFT_DIRTY = 1 << 1
FPB_RESPECT_WRITE = 1 << 2


def folio_pte_batch(ctx, t, i: int, max_nr: int, flags: int = 0) -> int:
    """How many present PTEs from slot ``i`` on (at most ``max_nr``) map the
    consecutive pages of the large folio that ``t[i]`` maps; 1 for a small folio.
    Dirty and young bits may differ; soft-dirty and write must match the first
    entry's under FPB_RESPECT_SOFT_DIRTY / FPB_RESPECT_WRITE."""
    pages = ctx.pages
    e = t[i]
    pfn = pte_pfn(e)
    head = pages.compound_head(pfn)
    if not pages.flags[head] & F_head:
        return 1
    limit = min(max_nr, 512 - i, head + (1 << pages.order[head]) - pfn)
    sd = pte_soft_dirty(e) if flags & FPB_RESPECT_SOFT_DIRTY else None
    w = pte_write(e) if flags & FPB_RESPECT_WRITE else None
    n = 1
    while n < limit:
        o = t[i + n]
        if not pte_present(o) or pte_pfn(o) != pfn + n:
            break
        if (sd is not None and pte_soft_dirty(o) != sd) or (w is not None and pte_write(o) != w):
            break
        n += 1
    return n
