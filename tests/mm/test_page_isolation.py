"""Tests for thpsim.mm.page_isolation: an isolated range is never handed out, and
test_pages_isolated() says when it is all free."""

from __future__ import annotations

import pytest
from mm_helpers import kernel_context

from thpsim.errors import KernelBug
from thpsim.hw.memory import PhysicalMemory
from thpsim.mm import page_isolation as pi
from thpsim.mm.gfp import __GFP_THISNODE, GFP_HIGHUSER_MOVABLE
from thpsim.mm.page_alloc import (
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    ZONE_NORMAL,
    __alloc_pages,
    __free_pages,
    buddyinfo,
    check_buddy,
    free_area_init,
    get_pageblock_migratetype,
    memblock_free_all,
    pageblock_nr_pages,
)

MiB = 1 << 20


def test_isolated_range_is_skipped_until_undone():
    mem = PhysicalMemory({0: 8 * MiB}, 4 * MiB)
    ctx = kernel_context(mem)
    pages = ctx.pages
    free_area_init(ctx, {})
    memblock_free_all(ctx)
    half = mem.max_pfn // 2
    gfp = GFP_HIGHUSER_MOVABLE | __GFP_THISNODE
    first = __alloc_pages(ctx, gfp, 0, 0)
    lo, hi = (0, half) if first < half else (half, mem.max_pfn)
    pi.start_isolate_page_range(ctx, lo, hi)
    assert not pi.test_pages_isolated(ctx, lo, hi)  # ``first`` is in use
    pages.refcount[first] = 0
    __free_pages(ctx, first, 0)
    assert pi.test_pages_isolated(ctx, lo, hi)
    got = [__alloc_pages(ctx, gfp, 0, 0) for _ in range(8)]
    assert all(not lo <= p < hi for p in got)
    pi.undo_isolate_page_range(ctx, lo, hi)
    assert not any(z.nr_isolate_pageblock for z in ctx.node_data[0].node_zones)
    for p in got:
        pages.refcount[p] = 0
        __free_pages(ctx, p, 0)
    check_buddy(ctx)


def test_isolation_is_per_pageblock_and_counted_per_zone():
    """set_migratetype_isolate() marks each pageblock MIGRATE_ISOLATE and counts it in
    its zone (nr_isolate_pageblock); isolating one twice is a bug (the kernel's
    -EBUSY); undo gives MIGRATE_MOVABLE back. The free lists are not touched."""
    mem = PhysicalMemory({0: 8 * MiB}, 4 * MiB)
    ctx = kernel_context(mem)
    free_area_init(ctx, {})
    memblock_free_all(ctx)
    z = ctx.node_data[0].node_zones[ZONE_NORMAL]
    before = buddyinfo(ctx)
    half = mem.max_pfn // 2
    assert get_pageblock_migratetype(ctx.pages, 0) == MIGRATE_MOVABLE
    pi.start_isolate_page_range(ctx, half, mem.max_pfn)
    assert z.nr_isolate_pageblock == half // pageblock_nr_pages == 2
    assert [get_pageblock_migratetype(ctx.pages, p)
            for p in range(0, mem.max_pfn, pageblock_nr_pages)] == [
        MIGRATE_MOVABLE, MIGRATE_MOVABLE, MIGRATE_ISOLATE, MIGRATE_ISOLATE]
    assert buddyinfo(ctx) == before
    with pytest.raises(KernelBug, match="isolated already"):
        pi.set_migratetype_isolate(ctx, half)
    pi.undo_isolate_page_range(ctx, half, mem.max_pfn)
    assert z.nr_isolate_pageblock == 0
    assert (ctx.pages.pageblock_flags_np == MIGRATE_MOVABLE).all()
    check_buddy(ctx)
