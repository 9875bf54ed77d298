"""The buddy allocator: nodes, zones, free lists, ``__alloc_pages()`` and ``__free_pages()``.

Models: mm/page_alloc.c, include/linux/mmzone.h, include/linux/gfp.h (gfp_zone()), v4.14.

Every node has two zones, ``ZONE_NORMAL`` and ``ZONE_MOVABLE``; at boot
``ZONE_MOVABLE`` is the top of the node, as ``movablecore=`` or ``movable_node``
make it, and may be empty (so may ``ZONE_NORMAL``). Memory hotplug moves memory
blocks between zones afterwards (mm/memory_hotplug.py), so zone spans may overlap
and a zone's span may have holes: as in the kernel, a frame's zone is what its
page->flags say (:func:`set_page_links`, :func:`page_zone`),
never where it lies. A zone owns one free list per order, 0 to
``MAX_ORDER - 1``: a dict used as an insertion-ordered set of block-head PFNs,
newest last, so ``popitem()`` takes the most recently freed block, as the kernel
takes the head of its list.

State of a free block of order ``o`` at PFN ``h`` (set up by ``__free_pages()``,
relied on by ``prep_new_page()``, checked by :func:`check_buddy`)::

    frame h (head)     _mapcount = PAGE_BUDDY_MAPCOUNT_VALUE (PageBuddy), order = o
    frames h+1 ..      _mapcount = -1, order = 0
    every frame        flags = 0, _refcount = 0, mapping = 0, index = 0

The state lives where the kernel keeps it: ``ctx.node_data`` is node_data[]
(:func:`NODE_DATA`), one :class:`pglist_data` per node holding its
:class:`zone` s, each with its free lists and counters; the memmap is
``ctx.pages`` (``pgdat.node_mem_map``), which also holds the zone links of
page->flags and the pageblock migratetypes. The allocation and freeing paths
are module functions under their kernel names taking what the kernel passes
them (``__alloc_pages(ctx, gfp, order, nid, nodemask)``,
``get_page_from_freelist(ctx, gfp, order, alloc_flags, ac)``,
``__rmqueue_smallest(zone, order)``, ``expand(zone, pfn, low, high)``,
``__free_pages(ctx, pfn, order)``, ``__free_one_page(pfn, zone, order)`` ...);
``ctx`` stands for the globals the kernel reaches without an argument
(``current``, ``mem_map``, ``node_data[]``). Call a ``__name`` from plain
functions: written inside a class body it would be name-mangled (STYLE.md 2.2).

Simplified:
    * No ZONE_DMA, ZONE_DMA32, ZONE_HIGHMEM or ZONE_DEVICE: zone index 0 is Normal,
      1 is Movable (4.14 numbers them 2 and 4).
    * No watermarks, lowmem_reserve, kswapd, reclaim, compaction or OOM killer: the
      slow path is not modelled, an allocation that finds no free block returns -1
      (NULL) at once, whatever its GFP flags say (``__GFP_NOFAIL`` included).
    * No per-cpu page lists and one free list per order per zone, not one per
      migratetype (so no fallback stealing). Pageblocks are MIGRATE_MOVABLE but
      those memory hot-remove isolates (MIGRATE_ISOLATE, mm/page_isolation.py),
      whose free blocks __rmqueue_smallest() skips.
    * ``__free_one_page()`` always adds at the head; 4.14 adds at the tail when the
      next-higher buddy is free, to give it a chance to coalesce.
    * ``check_new_page()`` is not run at allocation (free-block state is checked at
      free time and by ``check_buddy()``); no page owner, kmemcg or page poisoning.
    * A hwpoisoned frame is never put on a free list: freeing a block holding one
      frees the rest of the block around it. 4.14 frees the block and lets
      ``check_new_page()`` drop the whole block when it is next allocated.
    * Zonelists: the local node first, then by (distance, node id), zones highest
      first (ZONELIST_ORDER_NODE); no node_load spreading or CPU penalty as in
      build_zonelists()/find_next_best_node().
    * The zone bits of page->flags are an array of their own (``zoneid_np``, one
      zone id per frame: node and zone together, as page_zone_id() reads them), so
      the flags word keeps only PG_* bits.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import numpy as np

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_ORDER, PAGE_SHIFT
from thpsim.errors import ConfigError, KernelBug
from thpsim.include.linux.cpuset import cpuset_zone_allowed, cpusets_enabled
from thpsim.kernel.context import KernelContext
from thpsim.mm.gfp import (
    __GFP_ATOMIC,
    __GFP_COMP,
    __GFP_HARDWALL,
    __GFP_HIGHMEM,
    __GFP_MOVABLE,
    __GFP_THISNODE,
    __GFP_ZERO,
    GFP_HIGHUSER_MOVABLE,
)
from thpsim.mm.page_flags import (
    PAGE_BUDDY_MAPCOUNT_VALUE,
    PAGE_FLAGS_CHECK_AT_FREE,
    PAGE_MAPPING_ANON,
    F_head,
    F_hwpoison,
    F_offline,
    F_reserved,
    F_tail,
    PageArrays,
)
from thpsim.mm.vmstat import NUMA_FOREIGN, NUMA_HIT, NUMA_LOCAL, NUMA_MISS, NUMA_OTHER, PGALLOC

__all__ = [
    "ALLOC_CPUSET",
    "gfp_to_alloc_flags",
    "MAX_ORDER",
    "MAX_NR_ZONES",
    "NUMA_NO_NODE",
    "ZONE_NORMAL",
    "ZONE_MOVABLE",
    "zone_names",
    "gfp_zone",
    "zone",
    "pglist_data",
    "ZONES_SHIFT",
    "MIGRATE_MOVABLE",
    "MIGRATE_ISOLATE",
    "pageblock_order",
    "pageblock_nr_pages",
    "get_pageblock_migratetype",
    "set_pageblock_migratetype",
    "alloc_context",
    "free_area_init",
    "build_all_zonelists",
    "NODE_DATA",
    "page_zone",
    "page_zone_id",
    "set_page_links",
    "split_page",
    "free_pages_prepare",
    "take_page_off_buddy",
    "totalram_pages",
    "node_free_pages",
    "nr_free_pages_by_order",
    "buddyinfo",
    "for_each_free_block",
    "is_free_buddy_page",
    "free_block_of",
    "check_buddy",
    "memblock_free_all",
    "__free_pages_core",
    "__alloc_pages",
    "get_page_from_freelist",
    "first_zones_zonelist",
    "zone_statistics",
    "prep_new_page",
    "prep_compound_page",
    "alloc_pages_node",
    "__rmqueue_smallest",
    "expand",
    "__free_pages",
    "__free_one_page",
    "fragment_node",
    "unfragment",
    "__offline_isolated_pages",
]

#: Orders 0 .. MAX_ORDER - 1 (4 MiB blocks at most), include/linux/mmzone.h.
MAX_ORDER = 11
MAX_ORDER_NR_PAGES = 1 << (MAX_ORDER - 1)
ZONE_NORMAL = 0
ZONE_MOVABLE = 1
MAX_NR_ZONES = 2
#: page->flags' zone field width (include/linux/page-flags-layout.h) and its mask.
ZONES_SHIFT = 1
ZONES_MASK = (1 << ZONES_SHIFT) - 1
zone_names = ("Normal", "Movable")
NUMA_NO_NODE = -1

# gfp_zone(): both bits make ZONE_MOVABLE (GFP_HIGHUSER_MOVABLE); folded once.
_GFP_ZONE_MOVABLE = __GFP_MOVABLE | __GFP_HIGHMEM
#: fragment_node(): any zone, this node only.
_GFP_FRAGMENT = GFP_HIGHUSER_MOVABLE | __GFP_THISNODE
#: An order-0 frame freed with any of these needs the slow (reporting) path.
_FREE_ORDER0_SLOW = PAGE_FLAGS_CHECK_AT_FREE | F_head | F_tail | F_hwpoison
#: The same for the head of a larger block (PG_head was checked already) ...
_FREE_HEAD_SLOW = PAGE_FLAGS_CHECK_AT_FREE | F_hwpoison
#: ... and for its other frames, which must show exactly _TAIL (compound) or _NOTAIL here.
_FREE_TAIL_MASK = np.uint32(PAGE_FLAGS_CHECK_AT_FREE | F_hwpoison | F_head | F_tail)
_TAIL = np.uint32(F_tail)
_NOTAIL = np.uint32(0)
_M32 = 0xFFFF_FFFF

#: mm/internal.h alloc_flags: check the zone against the current task's cpuset
#: (the only ALLOC_* flag the model uses: no watermarks, no reserves).
ALLOC_CPUSET = 0x40


#: include/linux/mmzone.h migratetypes the model uses (4.14 numbering without CMA).
MIGRATE_MOVABLE = 1
MIGRATE_ISOLATE = 4
#: include/linux/pageblock-flags.h: pageblock_order is HUGETLB_PAGE_ORDER on x86_64.
pageblock_order = HPAGE_PMD_ORDER
pageblock_nr_pages = 1 << pageblock_order


class alloc_context:
    """Models: mm/internal.h struct alloc_context, v4.14: what prepare_alloc_pages()
    works out once per allocation. ``preferred_nid`` stands for preferred_zoneref's
    node; no migratetype (one free list per order) and no spread_dirty_pages."""

    __slots__ = ("zonelist", "nodemask", "preferred_nid", "high_zoneidx")

    def __init__(self, zonelist: list[zone], nodemask: int | None, preferred_nid: int,
                 high_zoneidx: int):
        self.zonelist = zonelist
        self.nodemask = nodemask
        self.preferred_nid = preferred_nid
        self.high_zoneidx = high_zoneidx


def get_pageblock_migratetype(pages: PageArrays, pfn: int) -> int:
    """Models: include/linux/mmzone.h get_pageblock_migratetype() (the pageblock's
    bits in the usemap). Context: any. Preempts: never."""
    return pages.pageblock_flags[pfn >> pageblock_order]


def set_pageblock_migratetype(pages: PageArrays, pfn: int, migratetype: int) -> None:
    """Models: mm/page_alloc.c set_pageblock_migratetype(). Context: zone->lock held
    (or boot, hotplug). Preempts: never."""
    pages.pageblock_flags[pfn >> pageblock_order] = migratetype


def gfp_to_alloc_flags(gfp_mask: int) -> int:
    """The slow path's alloc_flags.

    Models: mm/page_alloc.c gfp_to_alloc_flags(), v4.14, for ALLOC_CPUSET:
    set, except that GFP_ATOMIC ignores the cpuset rather than fail.
    Context: any. Preempts: never.
    Simplified: no watermark, ALLOC_HARDER/ALLOC_HIGH or CMA flags.
    """
    return 0 if gfp_mask & __GFP_ATOMIC else ALLOC_CPUSET


def gfp_zone(flags: int) -> int:
    """The highest zone an allocation with ``flags`` may use.

    Models: include/linux/gfp.h gfp_zone() (GFP_ZONE_TABLE), v4.14, for the two
    modelled zones. Context: any. Preempts: never.
    Returns: ZONE_MOVABLE when both __GFP_MOVABLE and __GFP_HIGHMEM are set, else
    ZONE_NORMAL.
    Simplified: no DMA/DMA32 zones, so __GFP_DMA/__GFP_DMA32 are ignored.
    """
    return ZONE_MOVABLE if flags & _GFP_ZONE_MOVABLE == _GFP_ZONE_MOVABLE else ZONE_NORMAL


class zone:
    """One zone of one node: its PFN span, page counts and free lists.

    Models: include/linux/mmzone.h struct zone, v4.14 (``free_area[order].nr_free``
    is ``nr_free[order]``; ``vm_stat[NR_FREE_PAGES]`` is ``nr_free_pages``).
    Context: the free lists and counters belong to the zone lock (zone->lock).
    """

    __slots__ = (
        "node",
        "zone_pgdat",
        "name",
        "zone_idx",
        "zone_start_pfn",
        "spanned_pages",
        "present_pages",
        "managed_pages",
        "free_area",
        "nr_free",
        "nr_free_pages",
        "nr_isolate_pageblock",
        "zoneid",
    )

    def __init__(self, node: int, zone_idx: int, start_pfn: int, nr_pages: int):
        self.node = node
        self.zone_pgdat: pglist_data | None = None
        self.name = zone_names[zone_idx]
        self.zone_idx = zone_idx
        #: An empty zone spans nothing and starts at 0 (free_area_init_core()).
        self.zone_start_pfn = start_pfn if nr_pages else 0
        self.spanned_pages = nr_pages
        self.present_pages = nr_pages
        #: Pages the buddy allocator manages: present minus reserved at boot.
        self.managed_pages = 0
        #: free_area[order]: block-head PFN -> None, oldest first (LIFO by popitem()).
        self.free_area: list[dict[int, None]] = [{} for _ in range(MAX_ORDER)]
        #: Free blocks per order (free_area[order].nr_free).
        self.nr_free: list[int] = [0] * MAX_ORDER
        #: NR_FREE_PAGES, in pages.
        self.nr_free_pages = 0
        #: Pageblocks of the zone that are MIGRATE_ISOLATE (memory hot-remove).
        self.nr_isolate_pageblock = 0
        #: Model-only: the zone id its frames' page->flags carry (page_zone_id():
        #: node and zone number together, node << ZONES_SHIFT | zone index).
        self.zoneid = node << ZONES_SHIFT | zone_idx

    def zone_end_pfn(self) -> int:
        """Models: mmzone.h zone_end_pfn(). Returns: the first PFN after the zone."""
        return self.zone_start_pfn + self.spanned_pages

    def zone_spans_pfn(self, pfn: int) -> bool:
        """Models: mmzone.h zone_spans_pfn()."""
        return self.zone_start_pfn <= pfn < self.zone_start_pfn + self.spanned_pages

    def zone_is_empty(self) -> bool:
        """Models: mmzone.h zone_is_empty(): the zone spans no PFN."""
        return self.spanned_pages == 0

    def zone_intersects(self, start_pfn: int, nr_pages: int) -> bool:
        """Models: mmzone.h zone_intersects(): the span overlaps [start_pfn, +nr_pages)."""
        if self.zone_is_empty():
            return False
        return (start_pfn < self.zone_start_pfn + self.spanned_pages
                and start_pfn + nr_pages > self.zone_start_pfn)

    def populated_zone(self) -> bool:
        """Models: mmzone.h populated_zone(): the zone has present pages."""
        return self.present_pages != 0

    def __repr__(self) -> str:
        return (
            f"<zone node {self.node} {self.name} pfn {self.zone_start_pfn:#x}"
            f"+{self.spanned_pages:#x} free {self.nr_free_pages}>"
        )


#: struct memory_failure_stats's fields, in the order of the MF_* results after total
MF_STATS_FILES = ("total", "ignored", "failed", "delayed", "recovered")


class memory_failure_stats:
    """Models: include/linux/mmzone.h struct memory_failure_stats (6.3+), one per node:
    how many raw poisoned frames memory_failure() counted there, by result."""

    __slots__ = MF_STATS_FILES

    def __init__(self) -> None:
        self.total = self.ignored = self.failed = self.delayed = self.recovered = 0

    def __repr__(self) -> str:
        return "memory_failure_stats(" + ", ".join(
            f"{k}={getattr(self, k)}" for k in MF_STATS_FILES) + ")"


class pglist_data:
    """One node's memory: its span, its zones and its zonelist.

    Models: include/linux/mmzone.h struct pglist_data (pg_data_t), v4.14, with one
    zonelist (``node_zonelists[ZONELIST_FALLBACK]``); ``__GFP_THISNODE`` uses its
    leading, local zones as ZONELIST_NOFALLBACK.
    """

    __slots__ = (
        "node_id",
        "node_start_pfn",
        "node_spanned_pages",
        "node_present_pages",
        "node_zones",
        "node_zonelist",
        "node_mem_map",
        "mf_stats",
    )

    def __init__(self, node_id: int, start_pfn: int, nr_pages: int, zones: list[zone],
                 node_mem_map: PageArrays):
        self.node_id = node_id
        self.node_start_pfn = start_pfn
        self.node_spanned_pages = nr_pages
        self.node_present_pages = nr_pages
        #: [ZONE_NORMAL, ZONE_MOVABLE]; either may have no pages.
        self.node_zones = zones
        #: Populated zones to try, in order: local node first, highest zone first.
        self.node_zonelist: list[zone] = []
        #: The memmap (struct page array) of the node's frames. Simplified: the
        #: machine's whole PageArrays, indexed by PFN (FLATMEM's mem_map).
        self.node_mem_map = node_mem_map
        #: memory_failure()'s per-node counts (mm/memory_failure.py)
        self.mf_stats = memory_failure_stats()

    def pgdat_end_pfn(self) -> int:
        """Models: mmzone.h pgdat_end_pfn()."""
        return self.node_start_pfn + self.node_spanned_pages

    def __repr__(self) -> str:
        return f"<pglist_data node {self.node_id} pfn {self.node_start_pfn:#x}>"


def free_area_init(ctx: KernelContext, movable_bytes: dict[int, int],
                   movable_align: int | None = None) -> None:
    """Lay out every node and zone of the machine; every frame starts PG_reserved.

    Models: mm/page_alloc.c free_area_init_nodes() -> free_area_init_node() ->
    free_area_init_core() and memmap_init_zone() (set_page_links(),
    SetPageReserved, set_pageblock_migratetype(MIGRATE_MOVABLE)), v4.14; the
    node table is ``ctx.node_data`` (the kernel's node_data[], read through
    :func:`NODE_DATA`). Then :func:`memblock_free_all` releases all frames but the
    reserved ones into the free lists; until then nothing can be allocated.
    Context: boot. Preempts: never.

    ``movable_bytes`` gives, per node id, how many bytes at the top of the node form
    ZONE_MOVABLE (at most the node size), a multiple of ``movable_align`` bytes: by
    default the memory-block size, so that no block spans two zones. The kernel
    aligns ZONE_MOVABLE's start only to MAX_ORDER_NR_PAGES
    (find_zone_movable_pfns_for_nodes()); ``movable_align=4 << 20`` allows that, and
    the block holding the boundary then spans both zones (it cannot be offlined).
    Raises: ConfigError for a movable size that does not fit.
    """
    mem = ctx.mem
    pages = ctx.pages
    if pages.nr != mem.max_pfn:
        raise ConfigError(f"PageArrays covers {pages.nr} frames, the machine {mem.max_pfn}")
    align = mem.block_size if movable_align is None else movable_align
    if movable_align is not None and (align <= 0 or align % (MAX_ORDER_NR_PAGES << PAGE_SHIFT)):
        raise ConfigError(
            f"movable_align {align} must be a positive multiple of a MAX_ORDER block "
            f"({MAX_ORDER_NR_PAGES << PAGE_SHIFT} bytes)"
        )
    for nid, size in movable_bytes.items():
        if nid not in mem.nodes:
            raise ConfigError(f"movable_bytes names node {nid}, which does not exist")
        node_size = mem.nodes[nid].nr_pages << PAGE_SHIFT
        if size < 0 or size % align or size > node_size:
            what = "memory-block size" if movable_align is None else "movable_align"
            raise ConfigError(
                f"node {nid}: ZONE_MOVABLE size {size} must be a multiple of the "
                f"{what} {align} between 0 and the node size {node_size}"
            )
    node_data: dict[int, pglist_data] = {}
    for nid, n in mem.nodes.items():
        movable_pages = movable_bytes.get(nid, 0) >> PAGE_SHIFT
        boundary = n.end_pfn - movable_pages
        normal = zone(nid, ZONE_NORMAL, n.start_pfn, boundary - n.start_pfn)
        movable = zone(nid, ZONE_MOVABLE, boundary, movable_pages)
        pgdat = pglist_data(nid, n.start_pfn, n.nr_pages, [normal, movable], pages)
        normal.zone_pgdat = movable.zone_pgdat = pgdat
        node_data[nid] = pgdat
    ctx.node_data = node_data
    for pgdat in node_data.values():
        for z in pgdat.node_zones:  # memmap_init_zone(): set_page_links() per frame
            set_page_links(ctx, z.zone_start_pfn, z.spanned_pages, z)
    # Every frame starts reserved (the kernel's memmap_init_zone(): SetPageReserved),
    # every pageblock MIGRATE_MOVABLE.
    pages.flags_np[:] |= F_reserved
    pages.pageblock_flags_np[:] = MIGRATE_MOVABLE
    build_all_zonelists(ctx)


# ------------------------------------------------------------------ layout
def build_all_zonelists(ctx: KernelContext) -> None:
    """(Re)build every node's zonelist.

    Models: mm/page_alloc.c build_all_zonelists() -> build_zonelists() (ZONELIST_ORDER_NODE),
    v4.14. Context: boot, or memory hotplug after a zone changes (stop_machine in
    4.14). Preempts: never.
    Simplified: the local node first, then the others by (node_distance, node id);
    no node_load round-robin and no penalty for nodes with CPUs.
    """
    distance = ctx.mem.distance
    for nid, pgdat in ctx.node_data.items():
        others = sorted(
            (m for m in ctx.node_data if m != nid), key=lambda m: (distance[nid, m], m)
        )
        zl: list[zone] = []
        for m in [nid, *others]:
            for z in reversed(ctx.node_data[m].node_zones):  # highest zone first
                if z.populated_zone():
                    zl.append(z)
        pgdat.node_zonelist = zl


def NODE_DATA(ctx: KernelContext, nid: int) -> pglist_data:
    """Models: NODE_DATA(). Returns: the node's pglist_data (KeyError if none)."""
    return ctx.node_data[nid]


def page_zone(ctx: KernelContext, pfn: int) -> zone:
    """Models: include/linux/mm.h page_zone(): the zone page->flags name.
    Context: any. Preempts: never.

    Returns: the zone ``pfn`` is linked to (KernelBug for a frame with no zone: one
    memory hot-remove took out, whose memmap the kernel poisons).
    """
    zid = ctx.pages.zoneid[pfn]
    if zid < 0:
        raise KernelBug(f"page_zone: pfn {pfn:#x} belongs to no zone (offline memmap)")
    return ctx.node_data[zid >> ZONES_SHIFT].node_zones[zid & ZONES_MASK]


def page_zone_id(ctx: KernelContext, pfn: int) -> int:
    """Models: include/linux/mm.h page_zone_id(): node and zone bits of page->flags
    as one number (-1: no zone). Context: any. Preempts: never."""
    return ctx.pages.zoneid[pfn]


def set_page_links(ctx: KernelContext, pfn: int, nr_pages: int, z: zone | None) -> None:
    """Link ``nr_pages`` frames from ``pfn`` to zone ``z`` (None: to no zone).

    Models: include/linux/mm.h set_page_links() (set_page_zone() + set_page_node())
    as memmap_init_range() runs it on every frame at boot and on memory hotplug;
    None stands for the poisoned memmap of offline memory (page_init_poison()).
    Context: boot, or memory hotplug with the range offline. Preempts: never.
    """
    ctx.pages.zoneid_np[pfn : pfn + nr_pages] = -1 if z is None else z.zoneid


# ------------------------------------------------------------------ allocation
def split_page(ctx: KernelContext, pfn: int, order: int) -> None:
    """Turn a non-compound order-``order`` allocation into 2**order order-0 pages.

    Models: mm/page_alloc.c split_page(), v4.14. Context: any. Preempts: never.
    Each frame ends with _refcount 1 and is freed on its own.
    """
    pages = ctx.pages
    if pages.flags[pfn] & (F_head | F_tail):
        raise KernelBug(f"split_page: pfn {pfn:#x} is part of a compound page")
    if pages.refcount[pfn] == 0:
        raise KernelBug(f"split_page: pfn {pfn:#x} has _refcount 0")
    if order:
        pages.refcount_np[pfn + 1 : pfn + (1 << order)] = 1


# ------------------------------------------------------------------ freeing
def free_pages_prepare(ctx: KernelContext, pfn: int, order: int) -> bool:
    """Check every frame of a block being freed and clear its state.

    Models: mm/page_alloc.c free_pages_prepare() with free_pages_check() and
    free_tail_pages_check() on every frame, v4.14 (the per-frame loop is done
    with NumPy over the block). Context: any. Preempts: never.
    Returns: True when the whole block may go to the free lists; False when
    some frame is hwpoisoned (it keeps PG_hwpoison and stays off the lists).
    Raises: KernelBug("Bad page state ...") naming the frame and what was wrong:
    _mapcount != -1 (PageBuddy: a double free), mapping set, _refcount set (on a
    frame other than the head), a PAGE_FLAGS_CHECK_AT_FREE flag, a compound page
    freed with the wrong order or a compound_mapcount.
    """
    pages = ctx.pages
    flags = pages.flags
    f = flags[pfn]
    if f & F_tail:
        raise KernelBug(f"Bad page state: pfn {pfn:#x}: freeing a tail page (PageTail)")
    mapping = pages.mapping
    if mapping[pfn] & PAGE_MAPPING_ANON:
        mapping[pfn] = 0  # PageMappingFlags(page): page->mapping = NULL
    if order == 0:
        if f & _FREE_ORDER0_SLOW or pages.mapcount[pfn] != -1 or mapping[pfn]:
            if f & F_head:  # VM_BUG_ON_PAGE(compound && compound_order(page) != order)
                raise KernelBug(
                    f"Bad page state: pfn {pfn:#x}: compound page of order "
                    f"{pages.order[pfn]} freed as order 0"
                )
            if _bad_frame(ctx, pfn, pfn, False):
                _bad_page(ctx, pfn, 0)
            # Only PG_hwpoison: keep the frame off the free lists.
            flags[pfn] = F_hwpoison
            pages.index[pfn] = 0
            return False
        flags[pfn] = 0
        pages.index[pfn] = 0
        return True
    end = pfn + (1 << order)
    compound = f & F_head
    if compound:
        if pages.order[pfn] != order:
            raise KernelBug(
                f"Bad page state: pfn {pfn:#x}: compound page of order "
                f"{pages.order[pfn]} freed as order {order}"
            )
        if pages.compound_mapcount[pfn] != -1:
            _bad_page(ctx, pfn, order)
    # free_pages_check() of every frame: the head by scalar, the tails by comparing
    # their bytes with those of a clean block (a memcmp: ~0.2 us per field for a THP,
    # where a NumPy count_nonzero() costs 0.4-1.5 us); a tail flags word may carry
    # bits free_pages_check() ignores, so there a mismatch falls back to the masked
    # NumPy test.
    zero_tails, unmapped_tails, tail_flags, clear_flags, clear_order, clear_index = (
        _free_block_bytes(order))
    poisoned = False
    if (
        f & _FREE_HEAD_SLOW
        or pages.mapcount[pfn] != -1
        or mapping[pfn]
        or mapping[pfn + 1 : end].tobytes() != zero_tails
        or pages.refcount[pfn + 1 : end].tobytes() != zero_tails
        or pages.mapcount[pfn + 1 : end].tobytes() != unmapped_tails
        or (flags[pfn + 1 : end].tobytes() != (tail_flags if compound else zero_tails)
            and np.count_nonzero(pages.flags_np[pfn + 1 : end] & _FREE_TAIL_MASK
                                 ^ (_TAIL if compound else _NOTAIL)))
    ):
        for p in range(pfn, end):  # the kernel's per-frame loop, to name the frame
            if _bad_frame(ctx, p, pfn, bool(compound)):
                _bad_page(ctx, pfn, order)
        poisoned = True  # nothing was bad but PG_hwpoison
    # Clear compound state and flags (clear_compound_head(), flags &= ~CHECK_AT_PREP).
    if poisoned:
        fl = pages.flags_np[pfn:end]
        if not np.count_nonzero(fl & F_hwpoison):
            raise KernelBug(f"free_pages_prepare: block {pfn:#x} order {order}: "
                            f"checks disagree")
        fl &= F_hwpoison
    else:
        flags[pfn:end] = clear_flags
    # Stored only where something is set: the boot-time frees of never-used memory
    # then leave those pages untouched (no resident memory, see docs/performance.md).
    if pages.order[pfn:end].tobytes() != clear_order.obj:  # (.obj: its bytes)
        pages.order[pfn:end] = clear_order
    if pages.index[pfn:end].tobytes() != clear_index.obj:
        pages.index[pfn:end] = clear_index
    pages.compound_mapcount[pfn] = -1
    return not poisoned


def _free_block_bytes(order: int) -> tuple[bytes, bytes, bytes, memoryview, memoryview,
                                           memoryview]:
    """Model-only: what the fields of a clean 2**order block being freed hold, for
    free_pages_prepare()'s byte comparisons and stores (one tuple per order, made on
    first use): the tails' _refcount or mapping (zeros), their _mapcount (-1), their
    flags in a compound page (PG_tail only); zeroed flags, order and index of the
    whole block, as memoryviews in the formats of struct page's fields."""
    t = _FREE_BLOCK_BYTES.get(order)
    if t is None:
        n = 1 << order
        t = _FREE_BLOCK_BYTES[order] = (
            bytes(4 * (n - 1)),
            b"\xff" * (4 * (n - 1)),
            np.full(n - 1, F_tail, dtype=np.uint32).tobytes(),
            memoryview(bytes(4 * n)).cast("I"),
            memoryview(bytes(n)).cast("b"),
            memoryview(bytes(8 * n)).cast("q"),
        )
    return t


def _compound_block_bytes(order: int) -> tuple[bytes, memoryview, memoryview]:
    """Model-only: for prep_compound_page(): the bytes of 2**order - 1 clear flags
    words, PG_tail flags words for the tails and ``order`` for every frame, the latter
    two as memoryviews in the formats of struct page's fields (one tuple per order)."""
    t = _COMPOUND_BLOCK_BYTES.get(order)
    if t is None:
        n = 1 << order
        t = _COMPOUND_BLOCK_BYTES[order] = (
            bytes(4 * (n - 1)),
            memoryview(np.full(n - 1, F_tail, dtype=np.uint32).tobytes()).cast("I"),
            memoryview(np.full(n, order, dtype=np.int8).tobytes()).cast("b"),
        )
    return t


_COMPOUND_BLOCK_BYTES: dict[int, tuple[bytes, memoryview, memoryview]] = {}
_FREE_BLOCK_BYTES: dict[int, tuple[bytes, bytes, bytes, memoryview, memoryview,
                                   memoryview]] = {}


def _bad_frame(ctx: KernelContext, p: int, head: int, compound: bool) -> str:
    """Model-only: what is wrong with frame ``p`` of a block at ``head`` being freed.

    Returns: the kernel's bad_reason, or "" (a hwpoisoned frame is not bad).
    """
    pages = ctx.pages
    flags = pages.flags[p]
    if pages.mapcount[p] == PAGE_BUDDY_MAPCOUNT_VALUE:
        return "PageBuddy: already free (double free?)"
    if pages.mapcount[p] != -1:
        return "nonzero mapcount"
    if pages.mapping[p]:
        return "non-NULL mapping" if p == head else "corrupted mapping in tail page"
    if p != head and pages.refcount[p]:
        return "nonzero _refcount"
    if flags & PAGE_FLAGS_CHECK_AT_FREE:
        return "PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
    if p == head and compound and pages.compound_mapcount[p] != -1:
        return "nonzero compound_mapcount"
    if p != head and flags & (F_head | F_tail) != (F_tail if compound else 0):
        return (
            "compound_head not consistent"
            if compound
            else "PageCompound in a non-compound block"
        )
    return ""


def _bad_page(ctx: KernelContext, head: int, order: int) -> None:
    """Model-only: raise KernelBug for the first bad frame, as bad_page() reports it."""
    pages = ctx.pages
    for p in range(head, head + (1 << order)):
        reason = _bad_frame(ctx, p, head, bool(pages.flags[head] & F_head))
        if reason:
            raise KernelBug(
                f"Bad page state: pfn {p:#x} (order-{order} block at {head:#x} being "
                f"freed): {reason}; flags {pages.flags[p]:#x} _refcount "
                f"{pages.refcount[p]} _mapcount {pages.mapcount[p]} mapping "
                f"{pages.mapping[p]:#x} compound_mapcount {pages.compound_mapcount[head]}"
            )
    raise KernelBug(f"Bad page state: block {head:#x} order {order}")  # not reached


def take_page_off_buddy(ctx: KernelContext, pfn: int) -> bool:
    """Take one free frame out of the allocator (to poison it), splitting its block.

    Models: mm/page_alloc.c take_page_off_buddy() + break_down_buddy_pages(),
    5.8+. 4.14 soft-offlined a free page by setting PG_hwpoison on it where it lay.
    Context: takes and releases zone->lock. Preempts: never.
    Returns: True if ``pfn`` was free; it is then off the lists with _refcount 0,
    no flags, _mapcount -1; the caller sets PG_hwpoison (and takes a reference).
    """
    pages = ctx.pages
    head, order = free_block_of(ctx, pfn)
    if head < 0:
        return False
    z = page_zone(ctx, head)
    del z.free_area[order][head]
    z.nr_free[order] -= 1
    pages.mapcount[head] = -1
    pages.order[head] = 0
    z.nr_free_pages -= 1 << order
    # break_down_buddy_pages(): keep halving, putting back the half without pfn.
    while order:
        order -= 1
        half = 1 << order
        if pfn >= head + half:
            free, head = head, head + half
        else:
            free = head + half
        z.free_area[order][free] = None
        z.nr_free[order] += 1
        z.nr_free_pages += half
        pages.mapcount[free] = PAGE_BUDDY_MAPCOUNT_VALUE
        pages.order[free] = order
    return True


# ------------------------------------------------------------------ counters, views
def totalram_pages(ctx: KernelContext) -> int:
    """Models: totalram_pages(): managed pages of every zone."""
    return sum(z.managed_pages for p in ctx.node_data.values() for z in p.node_zones)


def node_free_pages(ctx: KernelContext, nid: int) -> int:
    """Models: sum_zone_node_page_state(nid, NR_FREE_PAGES) (node meminfo MemFree)."""
    return sum(z.nr_free_pages for z in ctx.node_data[nid].node_zones)


def nr_free_pages_by_order(ctx: KernelContext, nid: int) -> list[int]:
    """Free blocks per order on node ``nid``, summed over its zones (cf. /proc/buddyinfo)."""
    zones = ctx.node_data[nid].node_zones
    return [sum(z.nr_free[o] for z in zones) for o in range(MAX_ORDER)]


def buddyinfo(ctx: KernelContext) -> str:
    """/proc/buddyinfo: one line per populated zone.

    Models: mm/vmstat.c frag_show() / frag_show_print(), v4.14.
    """
    lines = []
    for pgdat in ctx.node_data.values():
        for z in pgdat.node_zones:
            if not z.populated_zone():
                continue
            counts = "".join(f"{n:6d} " for n in z.nr_free)
            lines.append(f"Node {pgdat.node_id}, zone {z.name:>8s} {counts}\n")
    return "".join(lines)


def for_each_free_block(ctx: KernelContext) -> Iterator[tuple[int, int]]:
    """Model-only: every free block as (pfn, order), node by node, zone by zone."""
    for pgdat in ctx.node_data.values():
        for z in pgdat.node_zones:
            for order, area in enumerate(z.free_area):
                for pfn in list(area):
                    yield pfn, order


def is_free_buddy_page(ctx: KernelContext, pfn: int) -> bool:
    """Models: mm/page_alloc.c is_free_buddy_page(): ``pfn`` lies in a free block
    (the heads it could have, order by order). Context: any. Preempts: never."""
    return free_block_of(ctx, pfn)[0] >= 0


def free_block_of(ctx: KernelContext, pfn: int) -> tuple[int, int]:
    """Model-only: the (head, order) of the free block holding ``pfn``, or (-1, -1)."""
    pages = ctx.pages
    mapcount = pages.mapcount
    border = pages.order
    for order in range(MAX_ORDER):
        head = pfn & ~((1 << order) - 1)
        if mapcount[head] == PAGE_BUDDY_MAPCOUNT_VALUE and border[head] == order:
            return head, order
    return -1, -1


def check_buddy(ctx: KernelContext) -> None:
    """Model-only invariant: the free lists, their counters and the free frames agree.

    Per zone: every free block is naturally aligned, inside the zone's span and
    made of frames linked to the zone, PageBuddy with its order, and overlaps no
    other; every frame of a free block has the free-block state (module
    docstring); no other frame of the zone is PageBuddy; nr_free and
    nr_free_pages equal what the lists hold; and free frames plus allocated frames
    (the zone's frames neither free, nor reserved at boot, nor offline) equal
    managed_pages. Every frame linked to the zone lies in its span.
    nr_isolate_pageblock counts the zone's online MIGRATE_ISOLATE pageblocks
    (offline ones stay isolated uncounted, see offline_pages()).
    Raises: KernelBug naming the zone, block and what is wrong.
    """
    pages = ctx.pages
    reserved = sorted(ctx.memblock_reserved or ())
    zoneid = pages.zoneid_np
    pb_heads = slice(0, pages.nr, pageblock_nr_pages)
    pb_isolated = ((pages.pageblock_flags_np == MIGRATE_ISOLATE)
                   & (pages.flags_np[pb_heads] & F_offline == 0))
    pb_zoneid = zoneid[pb_heads]
    for pgdat in ctx.node_data.values():
        for z in pgdat.node_zones:
            where = f"node {z.node} zone {z.name}"
            start, end = z.zone_start_pfn, z.zone_end_pfn()
            s = slice(start, end)
            mine = zoneid[s] == z.zoneid
            linked = int(np.count_nonzero(zoneid == z.zoneid))
            if linked != int(np.count_nonzero(mine)):
                raise KernelBug(f"{where}: {linked - int(np.count_nonzero(mine))} frames "
                                f"linked to it lie outside its span [{start:#x}, {end:#x})")
            covered = np.zeros(end - start, dtype=bool)
            heads = np.zeros(end - start, dtype=bool)
            nr_pages = 0
            for order, area in enumerate(z.free_area):
                if len(area) != z.nr_free[order]:
                    raise KernelBug(
                        f"{where}: order {order} list holds {len(area)} blocks, "
                        f"nr_free says {z.nr_free[order]}"
                    )
                nr = 1 << order
                for pfn in area:
                    blk = f"{where}: free block {pfn:#x} order {order}"
                    if pfn & (nr - 1):
                        raise KernelBug(f"{blk} is not aligned")
                    if pfn < start or pfn + nr > end:
                        raise KernelBug(f"{blk} is outside the zone [{start:#x}, {end:#x})")
                    if pages.mapcount[pfn] != PAGE_BUDDY_MAPCOUNT_VALUE:
                        raise KernelBug(f"{blk} is not PageBuddy")
                    if pages.order[pfn] != order:
                        raise KernelBug(f"{blk} head records order {pages.order[pfn]}")
                    rel = pfn - start
                    if covered[rel : rel + nr].any():
                        raise KernelBug(f"{blk} overlaps another free block")
                    covered[rel : rel + nr] = True
                    heads[rel] = True
                    nr_pages += nr
            if nr_pages != z.nr_free_pages:
                raise KernelBug(
                    f"{where}: free lists hold {nr_pages} pages, nr_free_pages says "
                    f"{z.nr_free_pages}"
                )
            foreign = covered & ~mine
            if foreign.any():
                p = start + int(np.flatnonzero(foreign)[0])
                raise KernelBug(f"{where}: frame {p:#x} of a free block is linked to "
                                f"zone id {zoneid[p]}, not this zone")
            mc = pages.mapcount_np[s]
            bad = (
                (pages.flags_np[s] != 0)
                | (pages.refcount_np[s] != 0)
                | (pages.mapping_np[s] != 0)
                | (pages.index_np[s] != 0)
                | (mc != np.where(heads, PAGE_BUDDY_MAPCOUNT_VALUE, -1))
                | (~heads & (pages.order_np[s] != 0))
            ) & covered
            bad |= ~heads & (mc == PAGE_BUDDY_MAPCOUNT_VALUE) & mine
            if bad.any():
                p = start + int(np.flatnonzero(bad)[0])
                raise KernelBug(
                    f"{where}: frame {p:#x} ({'free' if covered[p - start] else 'in use'}) "
                    f"has the wrong state: flags {pages.flags[p]:#x} _refcount "
                    f"{pages.refcount[p]} _mapcount {pages.mapcount[p]} mapping "
                    f"{pages.mapping[p]:#x} index {pages.index[p]} order {pages.order[p]}"
                )
            nr_reserved = sum(
                1 for r in reserved[bisect.bisect_left(reserved, start):
                                    bisect.bisect_left(reserved, end)]
                if zoneid[r] == z.zoneid
            )
            offline = int(np.count_nonzero((pages.flags_np[s] & F_offline != 0) & mine))
            allocated = int(np.count_nonzero(mine)) - nr_pages - nr_reserved - offline
            if nr_pages + allocated != z.managed_pages:
                raise KernelBug(
                    f"{where}: {nr_pages} free + {allocated} allocated pages != "
                    f"managed_pages {z.managed_pages}"
                )
            isolated = int(np.count_nonzero(pb_isolated & (pb_zoneid == z.zoneid)))
            if isolated != z.nr_isolate_pageblock:
                raise KernelBug(f"{where}: {isolated} online pageblocks are MIGRATE_ISOLATE, "
                                f"nr_isolate_pageblock says {z.nr_isolate_pageblock}")


# ---------------------------------------------------------------- allocation and freeing


def memblock_free_all(ctx: KernelContext,
                      reserved: set[int] | frozenset[int] | None = None) -> int:
    """Release every frame except ``reserved`` to the buddy allocator, once, at boot.

    Models: mm/memblock.c memblock_free_all() -> __free_pages_memory() (largest
    naturally aligned blocks first); was free_all_bootmem(), v4.14.
    Context: boot, before any allocation. Preempts: never.
    Returns: the number of pages released.
    Simplified: released zone by zone, so no block straddles a zone boundary.
    """
    if ctx.memblock_reserved is not None:
        raise KernelBug("memblock_free_all() called twice")
    res = frozenset(reserved or ())
    for pfn in res:
        if not 0 <= pfn < ctx.mem.max_pfn:
            raise ConfigError(f"reserved pfn {pfn:#x} is outside memory")
    ctx.memblock_reserved = res
    ordered = sorted(res)
    total = 0
    for pgdat in ctx.node_data.values():
        for z in pgdat.node_zones:
            start, end = z.zone_start_pfn, z.zone_end_pfn()
            lo = bisect.bisect_left(ordered, start)
            hi = bisect.bisect_left(ordered, end)
            cursor = start
            for r in [*ordered[lo:hi], end]:
                for pfn, order in _aligned_blocks(cursor, r):
                    __free_pages_core(ctx, pfn, order)
                    total += 1 << order
                cursor = r + 1
    return total


def __free_pages_core(ctx: KernelContext, pfn: int, order: int) -> None:
    """Hand a never-used (PG_reserved) naturally aligned block to the allocator.

    Models: mm/page_alloc.c __free_pages_core(); was __free_pages_boot_core(), v4.14.
    Also the step memory hotplug uses to online frames (generic_online_page()).
    Context: boot or hotplug. Preempts: never.
    Simplified: the caller adjusts present_pages/spanned_pages on hotplug.
    """
    nr = 1 << order
    pages = ctx.pages
    s = slice(pfn, pfn + nr)
    pages.flags_np[s] &= ~F_reserved & _M32  # __ClearPageReserved
    if np.count_nonzero(pages.refcount_np[s]):  # untouched (calloc) memory stays so
        pages.refcount_np[s] = 0  # set_page_count(p, 0)
    page_zone(ctx, pfn).managed_pages += nr
    __free_pages(ctx, pfn, order)  # set_page_refcounted(); __free_pages() in 4.14


def __alloc_pages(ctx: KernelContext, gfp_mask: int, order: int, preferred_nid: int,
                  nodemask: int | None = None) -> int:
    """Allocate 2**order contiguous frames.

    Models: mm/page_alloc.c __alloc_pages_nodemask(), v4.14 (named __alloc_pages()
    since 5.13): prepare_alloc_pages(), the fast path's get_page_from_freelist(),
    and __alloc_pages_slowpath() as far as the model has one.
    Context: any; takes and releases zone->lock. Preempts: never.
    Returns: the first frame's PFN, or -1 (NULL). Nothing is counted on failure.

    prepare_alloc_pages(): while cpusets are enabled the fast path is a hardwall
    allocation (``__GFP_HARDWALL`` added) limited to the current task's
    mems_allowed: the nodemask when the caller gave none, else ALLOC_CPUSET on
    top of the caller's. The slow path tries once more with the caller's own GFP
    flags and nodemask and gfp_to_alloc_flags()' ALLOC_CPUSET (not for
    __GFP_ATOMIC), so a kernel allocation (no __GFP_HARDWALL) may leave the
    cpuset there (__cpuset_node_allowed()).
    Simplified: no watermarks, reclaim, compaction or retry loop (see the module
    docstring), so without cpusets the slow path would find what the fast path
    did and is skipped; no reserve_flags (PF_MEMALLOC, OOM victims) and no
    zonelist reset for them; no 5.16+ early failure when the nodemask misses
    the cpuset (cpuset_nodemask_valid_mems_allowed()), which only a kernel
    allocation could tell apart; no cpuset_mems_cookie retry (read_mems_allowed_retry()):
    an allocation never preempts here, so mems_allowed cannot change under it;
    order >= MAX_ORDER fails without the WARN.
    """
    if not 0 <= order < MAX_ORDER:
        return -1
    try:
        zonelist = ctx.node_data[preferred_nid].node_zonelist
    except KeyError:
        raise KernelBug(f"__alloc_pages: node {preferred_nid} does not exist") from None
    # prepare_alloc_pages()
    ac = alloc_context(zonelist, nodemask, preferred_nid, gfp_zone(gfp_mask))
    alloc_flags = 0
    alloc_gfp = gfp_mask
    cpusets = cpusets_enabled(ctx)
    if cpusets:
        alloc_gfp |= __GFP_HARDWALL
        if nodemask is None:
            ac.nodemask = ctx.current.mems_allowed  # &cpuset_current_mems_allowed
        else:
            alloc_flags |= ALLOC_CPUSET
    # First allocation attempt
    pfn = get_page_from_freelist(ctx, alloc_gfp, order, alloc_flags, ac)
    if pfn >= 0 or not cpusets:
        return pfn
    # __alloc_pages_slowpath(): the caller's flags and nodemask again
    ac.nodemask = nodemask
    alloc_flags = gfp_to_alloc_flags(gfp_mask)
    return get_page_from_freelist(ctx, gfp_mask, order, alloc_flags, ac)


def get_page_from_freelist(ctx: KernelContext, gfp_mask: int, order: int, alloc_flags: int,
                           ac: alloc_context) -> int:
    """Walk ``ac.zonelist`` for a zone that can hand out a 2**order block.

    Models: mm/page_alloc.c get_page_from_freelist() -> rmqueue(), v4.14.
    Context: any; takes and releases zone->lock. Preempts: never.
    Returns: a prepared block's PFN, or -1.
    Skips zones above ``ac.high_zoneidx`` (gfp_zone()), nodes outside
    ``ac.nodemask`` (bit n = node n; None = all), with ALLOC_CPUSET nodes
    cpuset_zone_allowed() refuses, and, with __GFP_THISNODE, every node but
    ``ac.preferred_nid`` (ZONELIST_NOFALLBACK).
    Simplified: the zone's free page count stands in for the watermark check.
    """
    high_zoneidx = ac.high_zoneidx
    nodemask = ac.nodemask
    preferred_nid = ac.preferred_nid
    thisnode = gfp_mask & __GFP_THISNODE
    nr_pages = 1 << order
    preferred_zone = first_zones_zonelist(ac, thisnode)
    for z in ac.zonelist:
        nid = z.node
        if thisnode and nid != preferred_nid:
            break  # ZONELIST_NOFALLBACK: only the local zones, which come first
        if z.zone_idx > high_zoneidx or z.nr_free_pages < nr_pages:
            continue
        if nodemask is not None and not nodemask >> nid & 1:
            continue
        if alloc_flags & ALLOC_CPUSET and not cpuset_zone_allowed(ctx, z, gfp_mask):
            continue
        pfn = __rmqueue_smallest(z, order)  # rmqueue()
        if pfn >= 0:
            # rmqueue(): __count_zid_vm_events(PGALLOC, ...) and zone_statistics()
            ctx.vmstat.count_vm_events(PGALLOC[z.zone_idx], nr_pages)
            if preferred_zone is not None:
                zone_statistics(ctx, preferred_zone, z)
            prep_new_page(ctx, pfn, order, gfp_mask)
            return pfn
    return -1


def first_zones_zonelist(ac: alloc_context, thisnode: int) -> zone | None:
    """The zone ``ac.preferred_zoneref`` points at: the first zone of the zonelist
    (the preferred node's own zones only with __GFP_THISNODE, the NOFALLBACK list)
    at or below ``ac.high_zoneidx`` and in ``ac.nodemask``; None when there is none.

    Models: include/linux/mmzone.h first_zones_zonelist() as prepare_alloc_pages()
    (finalise_ac() in 5.x+) and __alloc_pages_slowpath() call it. Context: any.
    Preempts: never.
    """
    nodemask = ac.nodemask
    for z in ac.zonelist:
        if thisnode and z.node != ac.preferred_nid:
            break
        if z.zone_idx > ac.high_zoneidx:
            continue
        if nodemask is not None and not nodemask >> z.node & 1:
            continue
        return z
    return None


def zone_statistics(ctx: KernelContext, preferred_zone: zone, z: zone) -> None:
    """Count one allocation in the NUMA statistics.

    Models: mm/page_alloc.c zone_statistics(), v4.14 (zone_stat_items; 5.14+ NUMA
    event counters, ``nr_account`` 1 from rmqueue(): one per allocation whatever its
    order, in both eras). The zone the block came from gets numa_hit when it is on
    the preferred zone's node, else numa_miss and the preferred zone numa_foreign;
    it also gets numa_local when it is on the node of the CPU ``current`` runs on
    (numa_node_id()), else numa_other. Context: zone->lock or the pcp lock.
    Preempts: never.
    Simplified: the counters are kept per node (zone_extra), as node numastat and
    /proc/vmstat sum them; no vm.numa_stat sysctl (always on).
    """
    vm = ctx.vmstat
    nid = z.node
    if nid == preferred_zone.node:
        vm.mod_zone_page_state(nid, NUMA_HIT, 1)
    else:
        vm.mod_zone_page_state(nid, NUMA_MISS, 1)
        vm.mod_zone_page_state(preferred_zone.node, NUMA_FOREIGN, 1)
    vm.mod_zone_page_state(nid, NUMA_LOCAL if nid == ctx.numa_node_id() else NUMA_OTHER, 1)


def prep_new_page(ctx: KernelContext, pfn: int, order: int, gfp_flags: int) -> None:
    """Make a block taken off the free lists into an allocated page.

    Models: mm/page_alloc.c prep_new_page() (post_alloc_hook()), v4.14.
    Context: any. Preempts: never.
    The head gets _refcount 1; flags, mapping, index, order and _mapcount of
    every frame are already clean (the free-block state, see the module
    docstring). __GFP_ZERO zeroes the contents; __GFP_COMP with order > 0 makes
    a compound page.
    """
    ctx.pages.refcount[pfn] = 1  # set_page_refcounted()
    if gfp_flags & __GFP_ZERO:
        ctx.mem.clear_frames(pfn, 1 << order)  # clear_highpage() per frame
    if order and gfp_flags & __GFP_COMP:
        prep_compound_page(ctx, pfn, order)


def prep_compound_page(ctx: KernelContext, pfn: int, order: int) -> None:
    """Make a fresh 2**order block a compound page: PG_head, tails, compound_mapcount -1.

    Models: mm/page_alloc.c prep_compound_page(), v4.14. Context: any.
    Preempts: never.
    Simplified: every frame records the order (page_flags.py), so tails need
    no compound_head pointer; tails keep _refcount 0 and mapping 0.
    """
    end = pfn + (1 << order)
    pages = ctx.pages
    zero_tails, tail_flags, order_bytes = _compound_block_bytes(order)
    if pages.flags[pfn + 1 : end].tobytes() == zero_tails:  # no flag on any tail (usual)
        pages.flags[pfn + 1 : end] = tail_flags  # set_compound_head(), per tail
    else:
        pages.flags_np[pfn + 1 : end] |= F_tail
    pages.order[pfn:end] = order_bytes
    pages.flags[pfn] |= F_head  # __SetPageHead()
    pages.compound_mapcount[pfn] = -1  # atomic_set(compound_mapcount_ptr(page), -1)


def alloc_pages_node(ctx: KernelContext, nid: int, gfp_mask: int, order: int) -> int:
    """Models: include/linux/gfp.h alloc_pages_node(), v4.14.

    Context: any. Preempts: never. Returns: a PFN or -1.
    Simplified: NUMA_NO_NODE (no current CPU here) means the first node.
    """
    if nid == NUMA_NO_NODE:
        nid = next(iter(ctx.node_data))
    return __alloc_pages(ctx, gfp_mask, order, nid, None)


def __rmqueue_smallest(z: zone, order: int) -> int:
    """Take the smallest free block of at least ``order`` and split it down.

    Models: mm/page_alloc.c __rmqueue_smallest() (+ rmv_page_order()), v4.14.
    Context: zone->lock held. Preempts: never.
    Returns: the PFN of a 2**order block taken off the free lists, or -1.
    Simplified: one free list per order, not one per migratetype: while the zone
    has MIGRATE_ISOLATE pageblocks (nr_isolate_pageblock), a block whose
    pageblock is isolated is skipped and the newest other one taken, which is
    what 4.14's separate MIGRATE_ISOLATE lists leave to take. An isolated range
    is whole memory blocks (pageblock aligned), so a free block's head tells
    its pageblock's migratetype.
    """
    free_area = z.free_area
    pages = z.zone_pgdat.node_mem_map
    for current_order in range(order, MAX_ORDER):
        area = free_area[current_order]
        if area:
            if z.nr_isolate_pageblock:  # has_isolate_pageblock(zone)
                pfn = _newest_unisolated(area, pages)
                if pfn < 0:
                    continue
                del area[pfn]
            else:
                pfn = area.popitem()[0]
            z.nr_free[current_order] -= 1
            pages.mapcount[pfn] = -1  # rmv_page_order(): __ClearPageBuddy
            pages.order[pfn] = 0  # set_page_private(page, 0)
            if current_order != order:
                expand(z, pfn, order, current_order)
            z.nr_free_pages -= 1 << order  # __mod_zone_freepage_state()
            return pfn
    return -1


def expand(z: zone, pfn: int, low: int, high: int) -> None:
    """Split a 2**high block at ``pfn``, putting each upper half on its list.

    Models: mm/page_alloc.c expand(), v4.14. Context: zone->lock held.
    Preempts: never.
    """
    pages = z.zone_pgdat.node_mem_map
    mapcount = pages.mapcount
    order = pages.order
    free_area = z.free_area
    nr_free = z.nr_free
    size = 1 << high
    while high > low:
        high -= 1
        size >>= 1
        buddy = pfn + size
        free_area[high][buddy] = None  # list_add()
        nr_free[high] += 1
        mapcount[buddy] = PAGE_BUDDY_MAPCOUNT_VALUE  # set_page_order()
        order[buddy] = high


def __free_pages(ctx: KernelContext, pfn: int, order: int) -> None:
    """Return a 2**order block whose reference count has reached 0.

    Models: mm/page_alloc.c free_the_page() -> __free_pages_ok() ->
    free_one_page(), v4.14 (the tail of __free_pages(), after put_page_testzero()).
    Context: the caller dropped the last reference (_refcount 0). Takes and
    releases zone->lock. Preempts: never.
    Raises: KernelBug on a bad page state (bad_page()), a tail or unaligned
    ``pfn``, or a nonzero _refcount.
    Simplified: the caller drops the reference: this is __free_pages() minus
    put_page_testzero().
    """
    if not 0 <= pfn < ctx.mem.max_pfn or pfn & ((1 << order) - 1):
        raise KernelBug(f"__free_pages: pfn {pfn:#x} order {order} is no valid block")
    r = ctx.pages.refcount[pfn]
    if r != 0:
        raise KernelBug(f"__free_pages: pfn {pfn:#x} has _refcount {r}, expected 0")
    if free_pages_prepare(ctx, pfn, order):
        __free_one_page(pfn, page_zone(ctx, pfn), order)
    else:
        _free_around_hwpoison(ctx, pfn, 1 << order)


def _free_around_hwpoison(ctx: KernelContext, pfn: int, nr: int) -> None:
    """Model-only: free the frames of a prepared block that are not hwpoisoned.

    See the module docstring (Simplified) for how 4.14 differs.
    """
    z = page_zone(ctx, pfn)
    flags = ctx.pages.flags
    start = pfn
    for p in range(pfn, pfn + nr + 1):
        if p == pfn + nr or flags[p] & F_hwpoison:
            for b, order in _aligned_blocks(start, p):
                __free_one_page(b, z, order)
            start = p + 1


def __free_one_page(pfn: int, z: zone, order: int) -> None:
    """Put a block on the free lists, merging it with free buddies.

    Models: mm/page_alloc.c __free_one_page() (+ page_is_buddy(),
    set_page_order()), v4.14. Context: zone->lock held. Preempts: never.
    The buddy of the block at ``pfn`` is ``pfn ^ (1 << order)``; it merges when it
    is PageBuddy with the same order in the same zone (page_is_buddy():
    page_zone_id() equal, as zones may overlap after memory hotplug).
    """
    pages = z.zone_pgdat.node_mem_map
    mapcount = pages.mapcount
    border = pages.order
    zoneid = pages.zoneid
    zid = z.zoneid
    max_pfn = pages.nr
    free_area = z.free_area
    nr_free = z.nr_free
    z.nr_free_pages += 1 << order
    while order < MAX_ORDER - 1:
        buddy = pfn ^ (1 << order)
        if (
            buddy >= max_pfn
            or mapcount[buddy] != PAGE_BUDDY_MAPCOUNT_VALUE
            or border[buddy] != order
            or zoneid[buddy] != zid
        ):
            break
        del free_area[order][buddy]  # list_del(); rmv_page_order()
        nr_free[order] -= 1
        mapcount[buddy] = -1
        border[buddy] = 0
        pfn &= buddy
        order += 1
    mapcount[pfn] = PAGE_BUDDY_MAPCOUNT_VALUE  # set_page_order()
    border[pfn] = order
    free_area[order][pfn] = None
    nr_free[order] += 1


def fragment_node(ctx: KernelContext, nid: int) -> list[int]:
    """Model-only test helper: leave node ``nid`` with no free block above order 0.

    Allocates every free block of the node, splits it into order-0 pages and
    frees every even PFN, keeping the odd ones: about half the node's free
    memory stays free, in order-0 blocks only.
    Returns: the PFNs held (sorted), each with _refcount 1 and PG_reserved set so
    an owner check recognises them. Give them back with :func:`unfragment`.
    """
    blocks = []
    for order in range(MAX_ORDER - 1, -1, -1):  # whole blocks: nothing is split
        while nr_free_pages_by_order(ctx, nid)[order]:
            pfn = __alloc_pages(ctx, _GFP_FRAGMENT, order, nid)
            if pfn < 0:
                raise KernelBug(f"fragment_node: node {nid} lost its order-{order} block")
            split_page(ctx, pfn, order)
            blocks.append((pfn, order))
    held = []
    flags = ctx.pages.flags
    for pfn, order in blocks:
        for p in range(pfn, pfn + (1 << order)):
            if p & 1:
                flags[p] |= F_reserved
                held.append(p)
            else:
                ctx.pages.refcount[p] = 0
                __free_pages(ctx, p, 0)
    held.sort()
    return held


def unfragment(ctx: KernelContext, pfns: list[int]) -> None:
    """Model-only test helper: free the frames :func:`fragment_node` held."""
    flags = ctx.pages.flags
    for p in pfns:
        if not flags[p] & F_reserved or ctx.pages.refcount[p] != 1:
            raise KernelBug(f"unfragment: pfn {p:#x} is not a frame fragment_node() holds")
        flags[p] &= ~F_reserved & _M32
        ctx.pages.refcount[p] = 0
        __free_pages(ctx, p, 0)


def __offline_isolated_pages(ctx: KernelContext, start_pfn: int, end_pfn: int) -> None:
    """Take every free block of an isolated, emptied range off the free lists.

    Models: mm/page_alloc.c __offline_isolated_pages() (v4.14 and current), for
    offline_pages(): each free block is unlinked and loses PageBuddy; a hwpoisoned
    frame (never on a list here) is stepped over. The caller sets PG_offline and
    adjusts managed_pages. Context: the range is isolated (zone->lock in the kernel).
    Preempts: never.
    """
    mapcount = ctx.pages.mapcount
    border = ctx.pages.order
    pfn = start_pfn
    while pfn < end_pfn:
        head, order = free_block_of(ctx, pfn)
        if head < 0:
            pfn += 1  # a hwpoisoned frame: stays out of use
            continue
        n = 1 << order
        z = page_zone(ctx, head)
        del z.free_area[order][head]  # del_page_from_free_list()
        z.nr_free[order] -= 1
        z.nr_free_pages -= n
        mapcount[head] = -1  # __ClearPageBuddy()
        border[head] = 0
        pfn = head + n


def _aligned_blocks(start: int, end: int) -> Iterator[tuple[int, int]]:
    """Model-only: cover [start, end) with the largest naturally aligned blocks, in order.

    The loop of mm/memblock.c __free_pages_memory(): each block's order is the
    smaller of MAX_ORDER - 1 and start's alignment, lowered until it fits.
    """
    while start < end:
        order = (
            MAX_ORDER - 1 if start == 0 else min(MAX_ORDER - 1, (start & -start).bit_length() - 1)
        )
        while start + (1 << order) > end:
            order -= 1
        yield start, order
        start += 1 << order


def _newest_unisolated(area: dict[int, None], pages: PageArrays) -> int:
    """Model-only: the most recently freed block of ``area`` whose pageblock is not
    MIGRATE_ISOLATE, or -1 (memory hot-remove, see __rmqueue_smallest)."""
    pageblock_flags = pages.pageblock_flags
    for pfn in reversed(area):
        if pageblock_flags[pfn >> pageblock_order] != MIGRATE_ISOLATE:
            return pfn
    return -1
