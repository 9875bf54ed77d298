"""Page isolation: keeping the allocator away from a PFN range while it is emptied.

Models: mm/page_isolation.c (start_isolate_page_range(), undo_isolate_page_range(),
test_pages_isolated()), v4.14 and current, as memory hot-remove uses them.

Simplified: no pageblock migratetypes, so no MIGRATE_ISOLATE free lists and no
move_freepages_block(): an isolated range is an entry of
``BuddyAllocator.isolated_ranges``, whose free blocks __rmqueue_smallest() skips
(mm/page_alloc.py). has_unmovable_pages() is the caller's (offline_pages()).
"""

from __future__ import annotations

from thpsim.mm.page_alloc import BuddyAllocator
from thpsim.mm.page_flags import F_hwpoison

__all__ = ["start_isolate_page_range", "undo_isolate_page_range", "test_pages_isolated"]


def start_isolate_page_range(buddy: BuddyAllocator, start_pfn: int, end_pfn: int) -> None:
    """Stop the allocator handing out [start_pfn, end_pfn).

    Models: start_isolate_page_range() -> set_migratetype_isolate() per pageblock.
    Context: the range is one memory block (MAX_ORDER aligned), so no free block
    straddles its edges. Preempts: never.
    """
    buddy.isolated_ranges.append((start_pfn, end_pfn))


def undo_isolate_page_range(buddy: BuddyAllocator, start_pfn: int, end_pfn: int) -> None:
    """Models: undo_isolate_page_range() -> unset_migratetype_isolate(): the range's
    free blocks may be handed out again. Preempts: never."""
    buddy.isolated_ranges.remove((start_pfn, end_pfn))


def test_pages_isolated(buddy: BuddyAllocator, start_pfn: int, end_pfn: int) -> bool:
    """Is every frame of the isolated range free (or hwpoisoned and unused)?

    Models: test_pages_isolated() -> __test_page_isolated_in_pageblock() (MEMORY_OFFLINE:
    a hwpoisoned frame with no reference counts as isolated). Preempts: never.
    Returns: True where the kernel returns 0, False for -EBUSY.
    """
    pages = buddy.pages
    pfn = start_pfn
    while pfn < end_pfn:
        head, order = buddy._free_block_of(pfn)
        if head >= 0:
            pfn = head + (1 << order)
        elif pages.flags[pfn] & F_hwpoison and not pages.refcount[pfn]:
            pfn += 1
        else:
            return False
    return True
