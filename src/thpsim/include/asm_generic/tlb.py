"""The mmu_gather and the inline that queues a page on it.

Models: include/asm-generic/tlb.h struct mmu_gather, __tlb_adjust_range() and
tlb_remove_page(), v4.14. The gather's setup and flush (tlb_gather_mmu(),
tlb_flush_mmu(), tlb_finish_mmu()) stay in mm/memory.py, where v4.14 keeps them
(mm/mmu_gather.c since 4.20). Kept apart so that huge_memory.c's zap, which queues
the huge page, needs no import of memory.c.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thpsim.mm.mm_types import mm_struct

__all__ = ["mmu_gather", "tlb_remove_page"]


class mmu_gather:
    """Models: struct mmu_gather (include/asm-generic/tlb.h v4.14): pages and tables
    are freed only after the TLB range they were mapped in has been flushed."""

    __slots__ = ("mm", "start", "end", "fullmm", "pages", "tables", "need_flush")

    def __init__(self, mm: mm_struct, start: int, end: int):
        self.mm = mm
        self.fullmm = start == 0 and end == -1
        self.start = 1 << 64
        self.end = 0
        self.pages: list[int] = []
        self.tables: list[int] = []
        self.need_flush = False

    def track(self, start: int, end: int) -> None:
        """__tlb_adjust_range()"""
        if start < self.start:
            self.start = start
        if end > self.end:
            self.end = end
        self.need_flush = True


def tlb_remove_page(tlb: mmu_gather, pfn: int) -> None:
    """Models: tlb_remove_page() -> __tlb_remove_page_size(): queue the page to be
    freed after the flush. Simplified: one unbounded batch, so the batch-full flush
    never happens. Context: page table lock held. Preempts: never."""
    tlb.pages.append(pfn)
