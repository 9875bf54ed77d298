"""Page isolation: keeping the allocator away from a PFN range while it is emptied.

Models: mm/page_isolation.c (start_isolate_page_range(), undo_isolate_page_range(),
test_pages_isolated()), v4.14 and current, as memory hot-remove uses them.

Simplified: one free list per order (mm/page_alloc.py), so move_freepages_block()
has nothing to move: set_migratetype_isolate() marks the pageblock
MIGRATE_ISOLATE and counts it in zone->nr_isolate_pageblock, and
__rmqueue_smallest() skips the free blocks of isolated pageblocks.
has_unmovable_pages() is the caller's (offline_pages()).
"""

from __future__ import annotations

from thpsim.errors import KernelBug
from thpsim.kernel.context import KernelContext
from thpsim.mm.page_alloc import (
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    free_block_of,
    get_pageblock_migratetype,
    page_zone,
    pageblock_nr_pages,
    set_pageblock_migratetype,
)
from thpsim.mm.page_flags import F_hwpoison

__all__ = [
    "set_migratetype_isolate",
    "unset_migratetype_isolate",
    "start_isolate_page_range",
    "undo_isolate_page_range",
    "test_pages_isolated",
]


def set_migratetype_isolate(ctx: KernelContext, pfn: int) -> None:
    """Models: set_migratetype_isolate(): the pageblock at ``pfn`` becomes
    MIGRATE_ISOLATE and its zone counts it (zone->lock held).
    Simplified: no move_freepages_block() (one free list per order); the caller
    checked for unmovable pages. Raises: KernelBug if already isolated (the
    kernel's -EBUSY, which one offliner at a time never meets). Preempts: never."""
    pages = ctx.pages
    if get_pageblock_migratetype(pages, pfn) == MIGRATE_ISOLATE:
        raise KernelBug(f"set_migratetype_isolate: pageblock {pfn:#x} is isolated already")
    set_pageblock_migratetype(pages, pfn, MIGRATE_ISOLATE)
    page_zone(ctx, pfn).nr_isolate_pageblock += 1


def unset_migratetype_isolate(ctx: KernelContext, pfn: int, migratetype: int) -> None:
    """Models: unset_migratetype_isolate(): the pageblock at ``pfn`` gets
    ``migratetype`` back and leaves its zone's count. Preempts: never."""
    pages = ctx.pages
    if get_pageblock_migratetype(pages, pfn) != MIGRATE_ISOLATE:
        return
    set_pageblock_migratetype(pages, pfn, migratetype)
    page_zone(ctx, pfn).nr_isolate_pageblock -= 1


def start_isolate_page_range(ctx: KernelContext, start_pfn: int, end_pfn: int) -> None:
    """Stop the allocator handing out [start_pfn, end_pfn).

    Models: start_isolate_page_range() -> set_migratetype_isolate() per pageblock.
    Context: the range is whole memory blocks (pageblock aligned), so no free
    block straddles its edges. Preempts: never.
    """
    for pfn in range(start_pfn, end_pfn, pageblock_nr_pages):
        set_migratetype_isolate(ctx, pfn)


def undo_isolate_page_range(ctx: KernelContext, start_pfn: int, end_pfn: int) -> None:
    """Models: undo_isolate_page_range(..., MIGRATE_MOVABLE) ->
    unset_migratetype_isolate() per pageblock: the range's free blocks may be
    handed out again. Preempts: never."""
    for pfn in range(start_pfn, end_pfn, pageblock_nr_pages):
        unset_migratetype_isolate(ctx, pfn, MIGRATE_MOVABLE)


def test_pages_isolated(ctx: KernelContext, start_pfn: int, end_pfn: int) -> bool:
    """Is every frame of the isolated range free (or hwpoisoned and unused)?

    Models: test_pages_isolated() -> __test_page_isolated_in_pageblock() (MEMORY_OFFLINE:
    a hwpoisoned frame with no reference counts as isolated). Preempts: never.
    Returns: True where the kernel returns 0, False for -EBUSY.
    """
    pages = ctx.pages
    pfn = start_pfn
    while pfn < end_pfn:
        head, order = free_block_of(ctx, pfn)
        if head >= 0:
            pfn = head + (1 << order)
        elif pages.flags[pfn] & F_hwpoison and not pages.refcount[pfn]:
            pfn += 1
        else:
            return False
    return True
