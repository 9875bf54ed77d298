"""Memory hotplug: onlining and offlining ranges of memory blocks.

Models: mm/memory_hotplug.c (online_pages, offline_pages, move_pfn_range_to_zone,
remove_pfn_range_from_zone, zone_for_pfn_range, scan_movable_pages,
do_migrate_range, is_mem_section_removable; the range's isolation is
mm/page_isolation.py's); mainline (6.x/7.2) and 4.14
(seed), apart where the profile says (``offline_pages_no_timeout``,
``offline_pages_shrinks_zones``). The memory block devices that call them
(/sys/devices/system/memory) are drivers/base/memory.py.

A range here is one memory block (drivers/base/memory.py): PFNs [N *
pages_per_block, (N + 1) * pages_per_block). An offline range's frames are
PG_offline (``F_offline``), as the kernel clears the section's online bit.

Zones. A frame's zone is its page->flags link (``page_alloc.set_page_links``),
so zones may overlap and have holes. Onlining picks the zone as
zone_for_pfn_range() does -- ``online_kernel``: the kernel zone, ZONE_NORMAL;
``online_movable``: ZONE_MOVABLE; ``online`` (and ``online`` = 1):
default_zone_for_pfn(), the zone whose span alone meets the block, else the kernel
zone -- and move_pfn_range_to_zone() grows that zone's (and the node's) span over
the block and links its frames to it. Any offline block may join either zone. The
allocator then serves it from that zone: movable allocations (user pages, THPs)
may use a block in ZONE_MOVABLE, kernel ones (page tables) may not. valid_zones
of an offline block lists the zone ``online`` would pick, then the other ones
onlining may pick. Mainline offlining shrinks the zone and node spans again
(remove_pfn_range_from_zone(): the block is at the edge, or it is a hole) and
unlinks the frames; 4.14 (seed) leaves spans and links alone, so there ``online``
puts a block back where it was.

Offlining isolates the range (its pageblocks become MIGRATE_ISOLATE and the
allocator skips them, mm/page_isolation.py), refuses unmovable pages with EBUSY, migrates
every anonymous LRU folio out (a THP whole, to a THP on another node:
thp_migration_success; split on -ENOMEM where the profile does) until every frame
is free, then takes the range's free frames out of the allocator (managed and
present pages of zone and node drop). A pending signal ends it with -EINTR
(isolation undone, the block stays online). Mainline (4.15+) has no other way
out: a page that never migrates (pinned) makes the writer wait for a signal. 4.14
(seed) gives up with -EBUSY after its 120 s timeout, stood in for by
``_MAX_OFFLINE_PASSES`` rounds that leave the range in use. Onlining hands the
frames back (generic_online_page -> __free_pages_core).

Simplified:
    * Mainline's offline loop retries at once, forever (cond_resched() only). Here a
      round that changed nothing (no refcount or page flag in the range, no free-page
      count) sleeps in ``WaitOn`` until one of those changes or a signal is pending:
      a retry would only repeat the last one. The outcomes are the kernel's; and run
      to completion with nothing else running (``run_to_completion``, a write to
      ``state`` through ``m.fs``) a permanent pin is reported as the deadlock it is
      (``KernelBug``) instead of spinning.
    * The seed's 120 s timeout and 5-retry limit are ``_MAX_OFFLINE_PASSES`` rounds.
    * A memory block is one section: zone spans grow and shrink by whole blocks.
    * Online policy "contig-zones" only (no ``auto-movable``, no memory groups), no
      ``movable_node``; no memory notifiers, hugetlb or memmap_on_memory.
    * 6.x refuses to online a block that holds hwpoisoned frames (memblk_nr_poison:
      -EHWPOISON); here it onlines around them.
    * blocks smaller than a MAX_ORDER block (4 MiB) cannot be offlined (-EINVAL):
      a free buddy block could straddle the isolated range.
"""

from __future__ import annotations

import errno

import numpy as np

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR, PAGE_SHIFT
from thpsim.kernel.sched import PREEMPT, KernelPath, WaitOn
from thpsim.kernel.task import signal_pending
from thpsim.mm.gfp import __GFP_RETRY_MAYFAIL, GFP_HIGHUSER_MOVABLE
from thpsim.mm.memory_failure import unhandlable_page
from thpsim.mm.migrate import (
    MIGRATE_SYNC,
    MR_MEMORY_HOTPLUG,
    alloc_migration_target,
    migrate_pages,
    migration_target_control,
    putback_movable_pages,
)
from thpsim.mm.page_alloc import (
    MAX_ORDER,
    MAX_ORDER_NR_PAGES,
    MIGRATE_MOVABLE,
    NODE_DATA,
    ZONE_MOVABLE,
    ZONE_NORMAL,
    __free_pages_core,
    __offline_isolated_pages,
    build_all_zonelists,
    free_block_of,
    page_zone,
    page_zone_id,
    pageblock_nr_pages,
    pageblock_order,
    pglist_data,
    set_page_links,
    zone,
)
from thpsim.mm.page_flags import (
    PAGE_MAPPING_ANON,
    F_head,
    F_hwpoison,
    F_lru,
    F_offline,
    F_reserved,
)
from thpsim.mm.page_isolation import (
    start_isolate_page_range,
    test_pages_isolated,
    undo_isolate_page_range,
)
from thpsim.mm.swap import isolate_lru_page_for_migration

__all__ = ["offline_pages", "online_pages", "zone_for_pfn_range", "is_mem_section_removable",
           "MMOP_ONLINE", "MMOP_ONLINE_KERNEL", "MMOP_ONLINE_MOVABLE"]

#: seed: rounds of migration before offline_pages() gives up with -EBUSY (4.14's 120 s).
_MAX_OFFLINE_PASSES = 10
_M32 = 0xFFFF_FFFF

#: include/linux/memory_hotplug.h online types (4.14 calls MMOP_ONLINE MMOP_ONLINE_KEEP).
MMOP_ONLINE = 0
MMOP_ONLINE_KERNEL = 1
MMOP_ONLINE_MOVABLE = 2


def _pages_per_section(ctx) -> int:
    """Model-only: PAGES_PER_SECTION (a memory block is one section)."""
    return ctx.mem.block_size >> PAGE_SHIFT


# ====================================================================== zones
def default_kernel_zone_for_pfn(ctx, nid: int, start_pfn: int, nr_pages: int) -> zone:
    """The kernel zone a range onlines into: the first zone below ZONE_NORMAL whose
    span meets it, else ZONE_NORMAL.

    Models: mm/memory_hotplug.c default_kernel_zone_for_pfn(), 4.14 = 6.x (no DMA or
    DMA32 zones here, so always ZONE_NORMAL). Preempts: never.
    """
    pgdat = NODE_DATA(ctx, nid)
    for zid in range(ZONE_NORMAL):  # ZONE_DMA, ZONE_DMA32: none modelled
        if pgdat.node_zones[zid].zone_intersects(start_pfn, nr_pages):
            return pgdat.node_zones[zid]
    return pgdat.node_zones[ZONE_NORMAL]


def default_zone_for_pfn(ctx, nid: int, start_pfn: int, nr_pages: int) -> zone:
    """The zone ``online`` picks: the kernel or the movable zone when exactly one of
    their spans meets the range, else the kernel zone (movable_node is off).

    Models: mm/memory_hotplug.c default_zone_for_pfn(), 4.14 = 6.x. Preempts: never.
    """
    kernel_zone = default_kernel_zone_for_pfn(ctx, nid, start_pfn, nr_pages)
    movable_zone = NODE_DATA(ctx, nid).node_zones[ZONE_MOVABLE]
    in_kernel = kernel_zone.zone_intersects(start_pfn, nr_pages)
    in_movable = movable_zone.zone_intersects(start_pfn, nr_pages)
    if in_kernel != in_movable:
        return kernel_zone if in_kernel else movable_zone
    return kernel_zone  # movable_node_enabled ? movable_zone : kernel_zone


def zone_for_pfn_range(ctx, online_type: int, nid: int, start_pfn: int,
                       nr_pages: int) -> zone:
    """Models: mm/memory_hotplug.c zone_for_pfn_range(), 4.14 = 6.x with the default
    online policy ("contig-zones"). Preempts: never.
    Returns: the zone onlining [start_pfn, +nr_pages) with ``online_type`` uses.
    """
    if online_type == MMOP_ONLINE_KERNEL:
        return default_kernel_zone_for_pfn(ctx, nid, start_pfn, nr_pages)
    if online_type == MMOP_ONLINE_MOVABLE:
        return NODE_DATA(ctx, nid).node_zones[ZONE_MOVABLE]
    return default_zone_for_pfn(ctx, nid, start_pfn, nr_pages)


def resize_zone_range(z: zone, start_pfn: int, nr_pages: int) -> None:
    """Models: mm/memory_hotplug.c resize_zone_range(): grow the span over the range."""
    old_end_pfn = z.zone_end_pfn()
    if z.zone_is_empty() or start_pfn < z.zone_start_pfn:
        z.zone_start_pfn = start_pfn
    z.spanned_pages = max(start_pfn + nr_pages, old_end_pfn) - z.zone_start_pfn


def resize_pgdat_range(pgdat: pglist_data, start_pfn: int, nr_pages: int) -> None:
    """Models: mm/memory_hotplug.c resize_pgdat_range(): grow the node span."""
    old_end_pfn = pgdat.pgdat_end_pfn()
    if not pgdat.node_spanned_pages or start_pfn < pgdat.node_start_pfn:
        pgdat.node_start_pfn = start_pfn
    pgdat.node_spanned_pages = max(start_pfn + nr_pages, old_end_pfn) - pgdat.node_start_pfn


def move_pfn_range_to_zone(ctx, z: zone, start_pfn: int, nr_pages: int) -> None:
    """Associate an offline range with zone ``z``: spans grow, frames are linked.

    Models: mm/memory_hotplug.c move_pfn_range_to_zone() (resize_zone_range(),
    resize_pgdat_range(), memmap_init_range() -> set_page_links(), PG_reserved),
    6.x; 4.14 the same from online_pages() (move_pfn_range()).
    Context: device_hotplug_lock, mem_hotplug_begin(). Preempts: never.
    """
    resize_zone_range(z, start_pfn, nr_pages)
    resize_pgdat_range(NODE_DATA(ctx, z.node), start_pfn, nr_pages)
    set_page_links(ctx, start_pfn, nr_pages, z)
    # memmap_init_range(): every pageblock MIGRATE_MOVABLE again (offline_pages()
    # left them MIGRATE_ISOLATE)
    ctx.pages.pageblock_flags_np[start_pfn >> pageblock_order:
                                 (start_pfn + nr_pages) >> pageblock_order] = MIGRATE_MOVABLE
    ctx.pages.flags_np[start_pfn:start_pfn + nr_pages] |= F_reserved  # __init_single_page


def _section_in_zone(ctx, nid: int, z: zone, pfn: int) -> bool:
    """Model-only: the tests find_smallest/biggest_section_pfn() make of one section."""
    return (not ctx.pages.flags[pfn] & F_offline  # pfn_to_online_page()
            and ctx.mem.pfn_to_nid(pfn) == nid
            and page_zone_id(ctx, pfn) == z.zoneid)


def find_smallest_section_pfn(ctx, nid: int, z: zone, start_pfn: int, end_pfn: int) -> int:
    """Models: mm/memory_hotplug.c find_smallest_section_pfn(): the first online section
    of ``z`` in [start_pfn, end_pfn). Returns: its PFN, or -1 (the kernel's 0)."""
    for pfn in range(start_pfn, end_pfn, _pages_per_section(ctx)):
        if _section_in_zone(ctx, nid, z, pfn):
            return pfn
    return -1


def find_biggest_section_pfn(ctx, nid: int, z: zone, start_pfn: int, end_pfn: int) -> int:
    """Models: mm/memory_hotplug.c find_biggest_section_pfn(): the last PFN of the last
    online section of ``z`` in [start_pfn, end_pfn). Returns: that PFN, or -1."""
    for pfn in range(end_pfn - 1, start_pfn - 1, -_pages_per_section(ctx)):
        if _section_in_zone(ctx, nid, z, pfn):
            return pfn
    return -1


def shrink_zone_span(ctx, z: zone, start_pfn: int, end_pfn: int) -> None:
    """Take [start_pfn, end_pfn) off the span of ``z`` when it is at an edge (a range
    in the middle stays, as a hole); a zone left with nothing spans nothing.

    Models: mm/memory_hotplug.c shrink_zone_span(), 5.5+. Context: mem_hotplug_begin();
    the range is offline. Preempts: never.
    """
    nid = z.node
    if z.zone_start_pfn == start_pfn:
        pfn = find_smallest_section_pfn(ctx, nid, z, end_pfn, z.zone_end_pfn())
        if pfn >= 0:
            z.spanned_pages = z.zone_end_pfn() - pfn
            z.zone_start_pfn = pfn
        else:
            z.zone_start_pfn = 0
            z.spanned_pages = 0
    elif z.zone_end_pfn() == end_pfn:
        pfn = find_biggest_section_pfn(ctx, nid, z, z.zone_start_pfn, start_pfn)
        if pfn >= 0:
            z.spanned_pages = pfn - z.zone_start_pfn + 1
        else:
            z.zone_start_pfn = 0
            z.spanned_pages = 0


def update_pgdat_span(pgdat: pglist_data) -> None:
    """Models: mm/memory_hotplug.c update_pgdat_span(): the node spans its zones."""
    node_start_pfn = node_end_pfn = 0
    for z in pgdat.node_zones:
        if not z.spanned_pages:
            continue
        if not node_end_pfn:
            node_start_pfn, node_end_pfn = z.zone_start_pfn, z.zone_end_pfn()
            continue
        node_end_pfn = max(node_end_pfn, z.zone_end_pfn())
        node_start_pfn = min(node_start_pfn, z.zone_start_pfn)
    pgdat.node_start_pfn = node_start_pfn
    pgdat.node_spanned_pages = node_end_pfn - node_start_pfn


def remove_pfn_range_from_zone(ctx, z: zone, start_pfn: int, nr_pages: int) -> None:
    """Dissociate an offlined range from its zone: links dropped, spans shrunk.

    Models: mm/memory_hotplug.c remove_pfn_range_from_zone() (the memmap poisoned:
    set_page_links() to no zone here; shrink_zone_span(), update_pgdat_span()), 5.5+.
    Context: mem_hotplug_begin(); the range is offline. Preempts: never.
    """
    set_page_links(ctx, start_pfn, nr_pages, None)
    shrink_zone_span(ctx, z, start_pfn, start_pfn + nr_pages)
    update_pgdat_span(NODE_DATA(ctx, z.node))


def adjust_present_page_count(ctx, z: zone, nr_pages: int) -> None:
    """Models: mm/memory_hotplug.c adjust_present_page_count() (5.15+; 4.14 did the
    same in online_pages()/offline_pages()): the zone's and the node's present pages."""
    z.present_pages += nr_pages
    NODE_DATA(ctx, z.node).node_present_pages += nr_pages


# ====================================================================== offlining
def _unmovable(ctx, pfn: int) -> bool:
    """Model-only: has_unmovable_pages() for one in-use frame: a poisoned frame is
    skipped (offlining leaves it out of use), else what memory_failure cannot handle
    either (page tables, reserved frames, anything that is no anonymous LRU page)."""
    if ctx.pages.flags[pfn] & F_hwpoison:
        return False
    return unhandlable_page(ctx, pfn)


def is_mem_section_removable(ctx, start_pfn: int, nr_pages: int) -> bool:
    """Whether offlining the range would likely succeed: no pageblock outside
    ZONE_MOVABLE holds an in-use page that is not on an LRU list.

    Models: mm/memory_hotplug.c is_mem_section_removable() ->
    is_pageblock_removable_nolock() -> has_unmovable_pages(count 0, skipping
    hwpoisoned pages), v4.14: free buddy blocks and refcount-0 frames (THP tails)
    are skipped; a ZONE_MOVABLE pageblock is removable whatever it holds.
    """
    pages = ctx.pages
    pfn = start_pfn
    end = start_pfn + nr_pages
    while pfn < end:
        if page_zone(ctx, pfn).zone_idx == ZONE_MOVABLE:
            pfn = (pfn | (HPAGE_PMD_NR - 1)) + 1  # the whole pageblock
            continue
        head, order = free_block_of(ctx, pfn)
        if head >= 0:
            pfn = head + (1 << order)
            continue
        if pages.refcount[pfn] and not pages.flags[pfn] & F_hwpoison and (
                pfn in ctx.mem.tables or not pages.flags[pfn] & F_lru):
            return False
        pfn += 1
    return True


def do_migrate_range(ctx, start: int, end: int) -> KernelPath[int]:
    """Isolate and migrate every anonymous LRU folio in [start, end).

    Models: mm/memory_hotplug.c scan_movable_pages() + do_migrate_range(), 6.x: a
    large folio is handled once and the scan jumps past it; folios that fail
    isolation are left for a later round.
    Context: the range is isolated. Preempts: in the migration.
    Returns: the number of folios found (0: nothing movable is left).
    """
    pages = ctx.pages
    found = 0
    pagelist: list[int] = []
    pfn = start
    while pfn < end:
        f = pages.flags[pfn]
        if pages.refcount[pfn] and pages.mapping[pfn] & PAGE_MAPPING_ANON and f & F_lru:
            found += 1
            nr = 1 << pages.order[pfn] if f & F_head else 1
            if isolate_lru_page_for_migration(ctx, pfn) == 0:
                pagelist.append(pfn)
            pfn += nr
            continue
        if f & F_head:
            pfn += 1 << pages.order[pfn]
        else:
            pfn += 1
    if pagelist:
        # the source node preferred; every other memory node allowed (the source only
        # when it is alone); GFP_USER | __GFP_MOVABLE | __GFP_RETRY_MAYFAIL (the
        # model's GFP_HIGHUSER_MOVABLE)
        src_nid = ctx.mem.pfn_to_nid(start)
        nmask = 0
        for nid, pgdat in ctx.node_data.items():
            if nid != src_nid and any(z.present_pages for z in pgdat.node_zones):
                nmask |= 1 << nid
        if not nmask:
            nmask = 1 << src_nid
        mtc = migration_target_control(src_nid, nmask,
                                       GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL,
                                       MR_MEMORY_HOTPLUG)
        ret = yield from migrate_pages(ctx, pagelist,
                                       lambda src: alloc_migration_target(ctx, src, mtc),
                                       MIGRATE_SYNC, MR_MEMORY_HOTPLUG)
        if ret and pagelist:
            putback_movable_pages(ctx, pagelist)
    return found


def _range_snapshot(ctx, start: int, end: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Model-only: what another round of the offline loop would read: the range's
    refcounts and page flags, and the machine's free-page count (a migration target
    may become available anywhere)."""
    free = sum(z.nr_free_pages for pgdat in ctx.node_data.values() for z in pgdat.node_zones)
    return (ctx.pages.refcount_np[start:end].copy(), ctx.pages.flags_np[start:end].copy(),
            free)


def _range_changed(ctx, start: int, end: int, snap: tuple[np.ndarray, np.ndarray, int]) -> bool:
    """Model-only: something :func:`_range_snapshot` saw has changed since ``snap``."""
    free = sum(z.nr_free_pages for pgdat in ctx.node_data.values() for z in pgdat.node_zones)
    return (free != snap[2]
            or not np.array_equal(ctx.pages.refcount_np[start:end], snap[0])
            or not np.array_equal(ctx.pages.flags_np[start:end], snap[1]))


def offline_pages_failed(ctx, start_pfn: int, end_pfn: int, reason: str) -> None:
    """Model-only: the pr_info() of offline_pages()'s failure path, in dmesg (also
    4.14's test_pages_in_a_zone() failure, which drivers/base/memory.py reports)."""
    ctx.printk(f"memory offlining [mem {start_pfn << PAGE_SHIFT:#010x}-"
               f"{(end_pfn << PAGE_SHIFT) - 1:#010x}] failed due to {reason}")


def offline_pages(ctx, start_pfn: int, nr_pages: int, z: zone) -> KernelPath[int]:
    """Offline [start_pfn, start_pfn + nr_pages) of zone ``z``: migrate what is in use,
    then take the frames out of the allocator.

    Models: mm/memory_hotplug.c offline_pages(), 6.x; with the profile, 4.14's
    __offline_pages() (a timeout; spans kept).
    Context: device_hotplug_lock (one offliner at a time); ``current`` is the writer,
    whose pending signal ends the wait. Preempts: at the top of every round
    (cond_resched()), in the migration, and (mainline) waiting for the range to
    change after a round that moved nothing.
    Returns: 0, -EINVAL (several zones, a block smaller than MAX_ORDER), -EBUSY
    (unmovable pages; seed: the range stays in use), -EINTR (a signal is pending).
    """
    pages = ctx.pages
    end = start_pfn + nr_pages
    if nr_pages < MAX_ORDER_NR_PAGES:
        return -errno.EINVAL
    # The caller checked mem->zone; the kernel keeps this as a sanity check.
    if ctx.warn_on_once(page_zone_id(ctx, start_pfn) != z.zoneid
                        or page_zone_id(ctx, end - 1) != z.zoneid,
                        "offline_pages: multizone range"):
        offline_pages_failed(ctx, start_pfn, end, "multizone range")
        return -errno.EINVAL
    start_isolate_page_range(ctx, start_pfn, end)  # the allocator stops handing it out
    isolated = True
    try:
        for pfn in range(start_pfn, end):
            if pages.refcount[pfn] and _unmovable(ctx, pfn) or pfn in ctx.mem.tables:
                ctx.printk(f"page:{pfn:#x} has unmovable pages")
                offline_pages_failed(ctx, start_pfn, end, "failure to isolate range")
                return -errno.EBUSY
        task = ctx.current
        no_timeout = ctx.profile.offline_pages_no_timeout
        passes = 0
        while True:
            if signal_pending(task):
                offline_pages_failed(ctx, start_pfn, end, "signal backoff")
                return -errno.EINTR
            if not no_timeout and passes >= _MAX_OFFLINE_PASSES:
                offline_pages_failed(ctx, start_pfn, end, "timeout")  # 4.14: 120 s
                return -errno.EBUSY
            yield PREEMPT  # cond_resched() between rounds: other CPUs free, fault and pin
            before = _range_snapshot(ctx, start_pfn, end) if no_timeout else None
            if ctx.cost is not None:  # modeled time: the pass's lru_add_drain_all()
                ctx.cost.lru_add_drain_all(ctx.smp_processor_id())
            yield from do_migrate_range(ctx, start_pfn, end)
            if test_pages_isolated(ctx, start_pfn, end):
                break
            passes += 1
            if before is not None and not _range_changed(ctx, start_pfn, end, before):
                # Model-only (module docstring): the kernel would retry at once and find
                # the same; sleep until what a retry reads changes, or a signal arrives.
                yield WaitOn(("offline_pages", start_pfn),
                             lambda snap=before: signal_pending(task)
                             or _range_changed(ctx, start_pfn, end, snap))
        __offline_isolated_pages(ctx, start_pfn, end)
        # The pageblocks stay MIGRATE_ISOLATE until the range is onlined again
        # (move_pfn_range_to_zone()); the zone stops counting them (6.x; 4.14
        # undid the isolation here, which nothing can tell apart: the range
        # holds no free block now).
        for pfn in range(start_pfn, end, pageblock_nr_pages):
            page_zone(ctx, pfn).nr_isolate_pageblock -= 1
        isolated = False
        sl = slice(start_pfn, end)
        pages.flags_np[sl] |= F_offline
        z.managed_pages -= nr_pages  # adjust_managed_page_count()
        adjust_present_page_count(ctx, z, -nr_pages)
        build_all_zonelists(ctx)  # (if !populated_zone(zone))
        if ctx.profile.offline_pages_shrinks_zones:
            remove_pfn_range_from_zone(ctx, z, start_pfn, nr_pages)
        ctx.printk(f"Offlined Pages {nr_pages}")
        return 0
    finally:
        if isolated:
            undo_isolate_page_range(ctx, start_pfn, end)


def online_pages(ctx, start_pfn: int, nr_pages: int, z: zone) -> int:
    """Move an offline range into zone ``z`` and hand it to the allocator.

    Models: mm/memory_hotplug.c online_pages(), 6.x (move_pfn_range_to_zone(),
    online_pages_range() -> generic_online_page() -> __free_pages_core() per MAX_ORDER
    block, adjust_present_page_count(), build_all_zonelists()); 4.14 the same.
    Context: device_hotplug_lock. Preempts: never.
    Returns: 0.
    """
    pages = ctx.pages
    end = start_pfn + nr_pages
    sl = slice(start_pfn, end)
    poisoned = pages.flags_np[sl] & F_hwpoison != 0
    move_pfn_range_to_zone(ctx, z, start_pfn, nr_pages)
    pages.flags_np[sl] &= ~F_offline & _M32  # online_mem_sections()
    pfn = start_pfn
    while pfn < end:
        if poisoned[pfn - start_pfn]:
            pages.flags_np[pfn] &= ~F_reserved & _M32
            z.managed_pages += 1  # __free_pages_core counts it; it stays out of use
            pfn += 1
            continue
        order = 0
        while (order < MAX_ORDER - 1 and not pfn & ((2 << order) - 1) and pfn + (2 << order) <= end
               and not poisoned[pfn - start_pfn: pfn - start_pfn + (2 << order)].any()):
            order += 1
        __free_pages_core(ctx, pfn, order)
        pfn += 1 << order
    adjust_present_page_count(ctx, z, nr_pages)
    build_all_zonelists(ctx)
    return 0
