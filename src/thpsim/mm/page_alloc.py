"""The buddy allocator: nodes, zones, free lists, ``__alloc_pages()`` and ``__free_pages()``.

Models: mm/page_alloc.c, include/linux/mmzone.h, include/linux/gfp.h (gfp_zone()), v4.14.

Every node has two zones, ``ZONE_NORMAL`` and ``ZONE_MOVABLE``; at boot
``ZONE_MOVABLE`` is the top of the node, as ``movablecore=`` or ``movable_node``
make it, and may be empty (so may ``ZONE_NORMAL``). Memory hotplug moves memory
blocks between zones afterwards (mm/memory_hotplug.py), so zone spans may overlap
and a zone's span may have holes: as in the kernel, a frame's zone is what its
page->flags say (:meth:`BuddyAllocator.set_page_links`, :meth:`BuddyAllocator.page_zone`),
never where it lies. A zone owns one free list per order, 0 to
``MAX_ORDER - 1``: a dict used as an insertion-ordered set of block-head PFNs,
newest last, so ``popitem()`` takes the most recently freed block, as the kernel
takes the head of its list.

State of a free block of order ``o`` at PFN ``h`` (set up by ``__free_pages()``,
relied on by ``prep_new_page()``, checked by :meth:`BuddyAllocator.check_buddy`)::

    frame h (head)     _mapcount = PAGE_BUDDY_MAPCOUNT_VALUE (PageBuddy), order = o
    frames h+1 ..      _mapcount = -1, order = 0
    every frame        flags = 0, _refcount = 0, mapping = 0, index = 0

The allocation and freeing paths are module functions under their kernel names
(``__alloc_pages()``, ``get_page_from_freelist()``, ``__rmqueue_smallest()``,
``expand()``, ``__free_pages()``, ``__free_one_page()``, ``memblock_free_all()`` ...);
their first argument, a :class:`BuddyAllocator`, stands in for the kernel's globals
(``NODE_DATA()``, ``mem_map``, the zone table). Call a ``__name`` from plain
functions: written inside a class body it would be name-mangled (STYLE.md 2.2).

Simplified:
    * No ZONE_DMA, ZONE_DMA32, ZONE_HIGHMEM or ZONE_DEVICE: zone index 0 is Normal,
      1 is Movable (4.14 numbers them 2 and 4).
    * No watermarks, lowmem_reserve, kswapd, reclaim, compaction or OOM killer: the
      slow path is not modelled, an allocation that finds no free block returns -1
      (NULL) at once, whatever its GFP flags say (``__GFP_NOFAIL`` included).
    * No per-cpu page lists, no migratetypes or pageblocks (so no fallback stealing):
      one free list per order per zone. MIGRATE_ISOLATE is stood in for by
      ``isolated_ranges`` (memory hot-remove), which __rmqueue_smallest() skips.
    * ``__free_one_page()`` always adds at the head; 4.14 adds at the tail when the
      next-higher buddy is free, to give it a chance to coalesce.
    * ``check_new_page()`` is not run at allocation (free-block state is checked at
      free time and by ``check_buddy()``); no page owner, kmemcg, zone_statistics
      (numa_hit ...) or page poisoning.
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
from typing import Any

import numpy as np

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT
from thpsim.errors import ConfigError, KernelBug
from thpsim.hw.memory import PhysicalMemory
from thpsim.include.linux.cpuset import cpuset_zone_allowed, cpusets_enabled
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
    "BuddyAllocator",
    "memblock_free_all",
    "__free_pages_core",
    "__alloc_pages",
    "get_page_from_freelist",
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
        "zoneid",
    )

    def __init__(self, node: int, zone_idx: int, start_pfn: int, nr_pages: int,
                 zoneid: int = -1):
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
        #: Model-only: the zone id its frames' page->flags carry (page_zone_id():
        #: node and zone number together), an index into BuddyAllocator._zone_table.
        self.zoneid = zoneid

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
        "mf_stats",
    )

    def __init__(self, node_id: int, start_pfn: int, nr_pages: int, zones: list[zone]):
        self.node_id = node_id
        self.node_start_pfn = start_pfn
        self.node_spanned_pages = nr_pages
        self.node_present_pages = nr_pages
        #: [ZONE_NORMAL, ZONE_MOVABLE]; either may have no pages.
        self.node_zones = zones
        #: Populated zones to try, in order: local node first, highest zone first.
        self.node_zonelist: list[zone] = []
        #: memory_failure()'s per-node counts (mm/memory_failure.py)
        self.mf_stats = memory_failure_stats()

    def pgdat_end_pfn(self) -> int:
        """Models: mmzone.h pgdat_end_pfn()."""
        return self.node_start_pfn + self.node_spanned_pages

    def __repr__(self) -> str:
        return f"<pglist_data node {self.node_id} pfn {self.node_start_pfn:#x}>"


class BuddyAllocator:
    """The page allocator of one machine: every node's zones and free lists.

    Built in two steps, as the kernel boots: the constructor lays out the nodes
    and zones and marks every frame PG_reserved (free_area_init()); then
    :func:`memblock_free_all` releases all frames but the reserved ones into the
    free lists. Until then nothing can be allocated.

    ``movable_bytes`` gives, per node id, how many bytes at the top of the node form
    ZONE_MOVABLE (at most the node size), a multiple of ``movable_align`` bytes: by
    default the memory-block size, so that no block spans two zones. The kernel
    aligns ZONE_MOVABLE's start only to MAX_ORDER_NR_PAGES
    (find_zone_movable_pfns_for_nodes()); ``movable_align=4 << 20`` allows that, and
    the block holding the boundary then spans both zones (it cannot be offlined).
    """

    __slots__ = (
        "mem",
        "pages",
        "nodes",
        "max_pfn",
        "_memblock_reserved",
        "_booted",
        "_zone_table",
        "zoneid_np",
        "_zoneid",
        "isolated_ranges",
        "kernel",
        # memoryviews of ``pages`` (scalar access without a second attribute lookup)
        "_flags",
        "_refcount",
        "_mapcount",
        "_cmapcount",
        "_order",
        "_mapping",
        "_index",
    )

    def __init__(self, mem: PhysicalMemory, pages: PageArrays, movable_bytes: dict[int, int],
                 movable_align: int | None = None, kernel: Any = None):
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
        self.mem = mem
        self.pages = pages
        #: the KernelContext whose ``current`` the cpuset checks read (None: no tasks)
        self.kernel = kernel
        self.max_pfn = mem.max_pfn
        self._flags = pages.flags
        self._refcount = pages.refcount
        self._mapcount = pages.mapcount
        self._cmapcount = pages.compound_mapcount
        self._order = pages.order
        self._mapping = pages.mapping
        self._index = pages.index
        self._memblock_reserved: frozenset[int] = frozenset()
        self._booted = False
        #: [start, end) PFN ranges whose free blocks are never handed out (memory
        #: hot-remove's start_isolate_page_range(); see __rmqueue_smallest).
        self.isolated_ranges: list[tuple[int, int]] = []
        #: node id -> pglist_data, in node-id order.
        self.nodes: dict[int, pglist_data] = {}
        #: zone id (zone.zoneid) -> zone: what page_zone() reads a frame's link against.
        self._zone_table: list[zone] = []
        #: Model-only stand-in for the zone bits of page->flags: each frame's zone id,
        #: -1 where the memmap holds no zone (a range memory hot-remove took out).
        self.zoneid_np = np.full(mem.max_pfn, -1, dtype=np.int16)
        self._zoneid = memoryview(self.zoneid_np).cast("B").cast("h")
        for nid, n in mem.nodes.items():
            movable_pages = movable_bytes.get(nid, 0) >> PAGE_SHIFT
            boundary = n.end_pfn - movable_pages
            normal = zone(nid, ZONE_NORMAL, n.start_pfn, boundary - n.start_pfn,
                          len(self._zone_table))
            movable = zone(nid, ZONE_MOVABLE, boundary, movable_pages, len(self._zone_table) + 1)
            self._zone_table += [normal, movable]
            pgdat = pglist_data(nid, n.start_pfn, n.nr_pages, [normal, movable])
            normal.zone_pgdat = movable.zone_pgdat = pgdat
            self.nodes[nid] = pgdat
            for z in (normal, movable):  # memmap_init_zone(): set_page_links() per frame
                self.set_page_links(z.zone_start_pfn, z.spanned_pages, z)
        # Every frame starts reserved (the kernel's memmap_init_zone(): SetPageReserved).
        pages.flags_np[:] |= F_reserved
        self.build_all_zonelists()

    # ------------------------------------------------------------------ layout
    def build_all_zonelists(self) -> None:
        """(Re)build every node's zonelist.

        Models: mm/page_alloc.c build_all_zonelists() -> build_zonelists() (ZONELIST_ORDER_NODE),
        v4.14. Context: boot, or memory hotplug after a zone changes (stop_machine in
        4.14). Preempts: never.
        Simplified: the local node first, then the others by (node_distance, node id);
        no node_load round-robin and no penalty for nodes with CPUs.
        """
        distance = self.mem.distance
        for nid, pgdat in self.nodes.items():
            others = sorted(
                (m for m in self.nodes if m != nid), key=lambda m: (distance[nid, m], m)
            )
            zl: list[zone] = []
            for m in [nid, *others]:
                for z in reversed(self.nodes[m].node_zones):  # highest zone first
                    if z.populated_zone():
                        zl.append(z)
            pgdat.node_zonelist = zl

    def NODE_DATA(self, nid: int) -> pglist_data:
        """Models: NODE_DATA(). Returns: the node's pglist_data (KeyError if none)."""
        return self.nodes[nid]

    def page_zone(self, pfn: int) -> zone:
        """Models: include/linux/mm.h page_zone(): the zone page->flags name.
        Context: any. Preempts: never.

        Returns: the zone ``pfn`` is linked to (KernelBug for a frame with no zone: one
        memory hot-remove took out, whose memmap the kernel poisons).
        """
        zid = self._zoneid[pfn]
        if zid < 0:
            raise KernelBug(f"page_zone: pfn {pfn:#x} belongs to no zone (offline memmap)")
        return self._zone_table[zid]

    def page_zone_id(self, pfn: int) -> int:
        """Models: include/linux/mm.h page_zone_id(): node and zone bits of page->flags
        as one number (-1: no zone). Context: any. Preempts: never."""
        return self._zoneid[pfn]

    def set_page_links(self, pfn: int, nr_pages: int, z: zone | None) -> None:
        """Link ``nr_pages`` frames from ``pfn`` to zone ``z`` (None: to no zone).

        Models: include/linux/mm.h set_page_links() (set_page_zone() + set_page_node())
        as memmap_init_range() runs it on every frame at boot and on memory hotplug;
        None stands for the poisoned memmap of offline memory (page_init_poison()).
        Context: boot, or memory hotplug with the range offline. Preempts: never.
        """
        self.zoneid_np[pfn : pfn + nr_pages] = -1 if z is None else z.zoneid

    # ------------------------------------------------------------------ boot
    # ------------------------------------------------------------------ allocation
    def split_page(self, pfn: int, order: int) -> None:
        """Turn a non-compound order-``order`` allocation into 2**order order-0 pages.

        Models: mm/page_alloc.c split_page(), v4.14. Context: any. Preempts: never.
        Each frame ends with _refcount 1 and is freed on its own.
        """
        if self._flags[pfn] & (F_head | F_tail):
            raise KernelBug(f"split_page: pfn {pfn:#x} is part of a compound page")
        if self._refcount[pfn] == 0:
            raise KernelBug(f"split_page: pfn {pfn:#x} has _refcount 0")
        if order:
            self.pages.refcount_np[pfn + 1 : pfn + (1 << order)] = 1

    # ------------------------------------------------------------------ freeing
    def free_pages_prepare(self, pfn: int, order: int) -> bool:
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
        flags = self._flags
        f = flags[pfn]
        if f & F_tail:
            raise KernelBug(f"Bad page state: pfn {pfn:#x}: freeing a tail page (PageTail)")
        mapping = self._mapping
        if mapping[pfn] & PAGE_MAPPING_ANON:
            mapping[pfn] = 0  # PageMappingFlags(page): page->mapping = NULL
        if order == 0:
            if f & _FREE_ORDER0_SLOW or self._mapcount[pfn] != -1 or mapping[pfn]:
                if f & F_head:  # VM_BUG_ON_PAGE(compound && compound_order(page) != order)
                    raise KernelBug(
                        f"Bad page state: pfn {pfn:#x}: compound page of order "
                        f"{self._order[pfn]} freed as order 0"
                    )
                if self._bad_frame(pfn, pfn, False):
                    self._bad_page(pfn, 0)
                # Only PG_hwpoison: keep the frame off the free lists.
                flags[pfn] = F_hwpoison
                self._index[pfn] = 0
                return False
            flags[pfn] = 0
            self._index[pfn] = 0
            return True
        pages = self.pages
        end = pfn + (1 << order)
        compound = f & F_head
        if compound:
            if self._order[pfn] != order:
                raise KernelBug(
                    f"Bad page state: pfn {pfn:#x}: compound page of order "
                    f"{self._order[pfn]} freed as order {order}"
                )
            if self._cmapcount[pfn] != -1:
                self._bad_page(pfn, order)
        # free_pages_check() of every frame: the head by scalar, the tails with NumPy.
        # count_nonzero() is the cheapest reduction (~0.4 us against ~1.2 us for any()).
        tails = slice(pfn + 1, end)
        cnz = np.count_nonzero
        poisoned = False
        if (
            f & _FREE_HEAD_SLOW
            or self._mapcount[pfn] != -1
            or mapping[pfn]
            or cnz(pages.mapping_np[tails])
            or cnz(pages.refcount_np[tails])
            or cnz(~pages.mapcount_np[tails])  # ~(-1) == 0
            or cnz(pages.flags_np[tails] & _FREE_TAIL_MASK ^ (_TAIL if compound else _NOTAIL))
        ):
            for p in range(pfn, end):  # the kernel's per-frame loop, to name the frame
                if self._bad_frame(p, pfn, bool(compound)):
                    self._bad_page(pfn, order)
            poisoned = True  # nothing was bad but PG_hwpoison
        fl = pages.flags_np[pfn:end]
        if poisoned and not cnz(fl & F_hwpoison):
            raise KernelBug(f"free_pages_prepare: block {pfn:#x} order {order}: checks disagree")
        # Clear compound state and flags (clear_compound_head(), flags &= ~CHECK_AT_PREP).
        if poisoned:
            fl &= F_hwpoison
        else:
            fl[:] = 0
        pages.order_np[pfn:end] = 0
        pages.index_np[pfn:end] = 0
        self._cmapcount[pfn] = -1
        return not poisoned

    def _bad_frame(self, p: int, head: int, compound: bool) -> str:
        """Model-only: what is wrong with frame ``p`` of a block at ``head`` being freed.

        Returns: the kernel's bad_reason, or "" (a hwpoisoned frame is not bad).
        """
        flags = self._flags[p]
        if self._mapcount[p] == PAGE_BUDDY_MAPCOUNT_VALUE:
            return "PageBuddy: already free (double free?)"
        if self._mapcount[p] != -1:
            return "nonzero mapcount"
        if self._mapping[p]:
            return "non-NULL mapping" if p == head else "corrupted mapping in tail page"
        if p != head and self._refcount[p]:
            return "nonzero _refcount"
        if flags & PAGE_FLAGS_CHECK_AT_FREE:
            return "PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
        if p == head and compound and self._cmapcount[p] != -1:
            return "nonzero compound_mapcount"
        if p != head and flags & (F_head | F_tail) != (F_tail if compound else 0):
            return (
                "compound_head not consistent"
                if compound
                else "PageCompound in a non-compound block"
            )
        return ""

    def _bad_page(self, head: int, order: int) -> None:
        """Model-only: raise KernelBug for the first bad frame, as bad_page() reports it."""
        for p in range(head, head + (1 << order)):
            reason = self._bad_frame(p, head, bool(self._flags[head] & F_head))
            if reason:
                raise KernelBug(
                    f"Bad page state: pfn {p:#x} (order-{order} block at {head:#x} being "
                    f"freed): {reason}; flags {self._flags[p]:#x} _refcount "
                    f"{self._refcount[p]} _mapcount {self._mapcount[p]} mapping "
                    f"{self._mapping[p]:#x} compound_mapcount {self._cmapcount[head]}"
                )
        raise KernelBug(f"Bad page state: block {head:#x} order {order}")  # not reached

    def take_page_off_buddy(self, pfn: int) -> bool:
        """Take one free frame out of the allocator (to poison it), splitting its block.

        Models: mm/page_alloc.c take_page_off_buddy() + break_down_buddy_pages(),
        5.8+. 4.14 soft-offlined a free page by setting PG_hwpoison on it where it lay.
        Context: takes and releases zone->lock. Preempts: never.
        Returns: True if ``pfn`` was free; it is then off the lists with _refcount 0,
        no flags, _mapcount -1; the caller sets PG_hwpoison (and takes a reference).
        """
        head, order = self._free_block_of(pfn)
        if head < 0:
            return False
        z = self.page_zone(head)
        del z.free_area[order][head]
        z.nr_free[order] -= 1
        self._mapcount[head] = -1
        self._order[head] = 0
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
            self._mapcount[free] = PAGE_BUDDY_MAPCOUNT_VALUE
            self._order[free] = order
        return True

    # ------------------------------------------------------------------ counters, views
    def totalram_pages(self) -> int:
        """Models: totalram_pages(): managed pages of every zone."""
        return sum(z.managed_pages for p in self.nodes.values() for z in p.node_zones)

    def node_free_pages(self, nid: int) -> int:
        """Models: sum_zone_node_page_state(nid, NR_FREE_PAGES) (node meminfo MemFree)."""
        return sum(z.nr_free_pages for z in self.nodes[nid].node_zones)

    def nr_free_pages_by_order(self, nid: int) -> list[int]:
        """Free blocks per order on node ``nid``, summed over its zones (cf. /proc/buddyinfo)."""
        zones = self.nodes[nid].node_zones
        return [sum(z.nr_free[o] for z in zones) for o in range(MAX_ORDER)]

    def buddyinfo(self) -> str:
        """/proc/buddyinfo: one line per populated zone.

        Models: mm/vmstat.c frag_show() / frag_show_print(), v4.14.
        """
        lines = []
        for pgdat in self.nodes.values():
            for z in pgdat.node_zones:
                if not z.populated_zone():
                    continue
                counts = "".join(f"{n:6d} " for n in z.nr_free)
                lines.append(f"Node {pgdat.node_id}, zone {z.name:>8s} {counts}\n")
        return "".join(lines)

    def for_each_free_block(self) -> Iterator[tuple[int, int]]:
        """Model-only: every free block as (pfn, order), node by node, zone by zone."""
        for pgdat in self.nodes.values():
            for z in pgdat.node_zones:
                for order, area in enumerate(z.free_area):
                    for pfn in list(area):
                        yield pfn, order

    def is_free(self, pfn: int) -> bool:
        """Model-only: ``pfn`` lies in a free block (checks the MAX_ORDER aligned heads)."""
        return self._free_block_of(pfn)[0] >= 0

    def _free_block_of(self, pfn: int) -> tuple[int, int]:
        """Model-only: the (head, order) of the free block holding ``pfn``, or (-1, -1)."""
        mapcount = self._mapcount
        border = self._order
        for order in range(MAX_ORDER):
            head = pfn & ~((1 << order) - 1)
            if mapcount[head] == PAGE_BUDDY_MAPCOUNT_VALUE and border[head] == order:
                return head, order
        return -1, -1

    def check_buddy(self) -> None:
        """Model-only invariant: the free lists, their counters and the free frames agree.

        Per zone: every free block is naturally aligned, inside the zone's span and
        made of frames linked to the zone, PageBuddy with its order, and overlaps no
        other; every frame of a free block has the free-block state (module
        docstring); no other frame of the zone is PageBuddy; nr_free and
        nr_free_pages equal what the lists hold; and free frames plus allocated frames
        (the zone's frames neither free, nor reserved at boot, nor offline) equal
        managed_pages. Every frame linked to the zone lies in its span.
        Raises: KernelBug naming the zone, block and what is wrong.
        """
        pages = self.pages
        reserved = sorted(self._memblock_reserved)
        zoneid = self.zoneid_np
        for pgdat in self.nodes.values():
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
                        if self._mapcount[pfn] != PAGE_BUDDY_MAPCOUNT_VALUE:
                            raise KernelBug(f"{blk} is not PageBuddy")
                        if self._order[pfn] != order:
                            raise KernelBug(f"{blk} head records order {self._order[pfn]}")
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
                        f"has the wrong state: flags {self._flags[p]:#x} _refcount "
                        f"{self._refcount[p]} _mapcount {self._mapcount[p]} mapping "
                        f"{self._mapping[p]:#x} index {self._index[p]} order {self._order[p]}"
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

    # ------------------------------------------------------------------ test helpers
# ---------------------------------------------------------------- allocation and freeing
# The kernel's functions; ``buddy`` stands in for its globals (NODE_DATA(), mem_map).

def memblock_free_all(buddy: BuddyAllocator,
                      reserved: set[int] | frozenset[int] | None = None) -> int:
    """Release every frame except ``reserved`` to the buddy allocator, once, at boot.

    Models: mm/memblock.c memblock_free_all() -> __free_pages_memory() (largest
    naturally aligned blocks first); was free_all_bootmem(), v4.14.
    Context: boot, before any allocation. Preempts: never.
    Returns: the number of pages released.
    Simplified: released zone by zone, so no block straddles a zone boundary.
    """
    if buddy._booted:
        raise KernelBug("memblock_free_all() called twice")
    buddy._booted = True
    res = frozenset(reserved or ())
    for pfn in res:
        if not 0 <= pfn < buddy.max_pfn:
            raise ConfigError(f"reserved pfn {pfn:#x} is outside memory")
    buddy._memblock_reserved = res
    ordered = sorted(res)
    total = 0
    for pgdat in buddy.nodes.values():
        for z in pgdat.node_zones:
            start, end = z.zone_start_pfn, z.zone_end_pfn()
            lo = bisect.bisect_left(ordered, start)
            hi = bisect.bisect_left(ordered, end)
            cursor = start
            for r in [*ordered[lo:hi], end]:
                for pfn, order in _aligned_blocks(cursor, r):
                    __free_pages_core(buddy, pfn, order)
                    total += 1 << order
                cursor = r + 1
    return total


def __free_pages_core(buddy: BuddyAllocator, pfn: int, order: int) -> None:
    """Hand a never-used (PG_reserved) naturally aligned block to the allocator.

    Models: mm/page_alloc.c __free_pages_core(); was __free_pages_boot_core(), v4.14.
    Also the step memory hotplug uses to online frames (generic_online_page()).
    Context: boot or hotplug. Preempts: never.
    Simplified: the caller adjusts present_pages/spanned_pages on hotplug.
    """
    nr = 1 << order
    pages = buddy.pages
    s = slice(pfn, pfn + nr)
    pages.flags_np[s] &= ~F_reserved & _M32  # __ClearPageReserved
    pages.refcount_np[s] = 0  # set_page_count(p, 0)
    buddy.page_zone(pfn).managed_pages += nr
    __free_pages(buddy, pfn, order)  # set_page_refcounted(); __free_pages() in 4.14


def __alloc_pages(buddy: BuddyAllocator, gfp_mask: int, order: int, preferred_nid: int,
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
        zonelist = buddy.nodes[preferred_nid].node_zonelist
    except KeyError:
        raise KernelBug(f"__alloc_pages: node {preferred_nid} does not exist") from None
    # prepare_alloc_pages()
    ctx = buddy.kernel
    alloc_flags = 0
    alloc_gfp = gfp_mask
    ac_nodemask = nodemask
    cpusets = ctx is not None and cpusets_enabled(ctx)
    if cpusets:
        alloc_gfp |= __GFP_HARDWALL
        if nodemask is None:
            ac_nodemask = ctx.current.mems_allowed  # &cpuset_current_mems_allowed
        else:
            alloc_flags |= ALLOC_CPUSET
    # First allocation attempt
    pfn = get_page_from_freelist(buddy, alloc_gfp, order, alloc_flags, zonelist,
                                      preferred_nid, ac_nodemask)
    if pfn >= 0 or not cpusets:
        return pfn
    # __alloc_pages_slowpath(): the caller's flags and nodemask again
    alloc_flags = gfp_to_alloc_flags(gfp_mask)
    return get_page_from_freelist(buddy, gfp_mask, order, alloc_flags, zonelist,
                                       preferred_nid, nodemask)


def get_page_from_freelist(buddy: BuddyAllocator, gfp_mask: int, order: int, alloc_flags: int,
                           zonelist: list[zone], preferred_nid: int,
                           nodemask: int | None) -> int:
    """Walk the zonelist for a zone that can hand out a 2**order block.

    Models: mm/page_alloc.c get_page_from_freelist() -> rmqueue(), v4.14.
    Context: any; takes and releases zone->lock. Preempts: never.
    Returns: a prepared block's PFN, or -1.
    Skips zones above gfp_zone(gfp_mask), nodes outside ``nodemask`` (bit n = node
    n; None = all), with ALLOC_CPUSET nodes cpuset_zone_allowed() refuses, and,
    with __GFP_THISNODE, every node but the preferred one (ZONELIST_NOFALLBACK).
    Simplified: the zone's free page count stands in for the watermark check.
    """
    high_zoneidx = (
        ZONE_MOVABLE if gfp_mask & _GFP_ZONE_MOVABLE == _GFP_ZONE_MOVABLE else ZONE_NORMAL
    )
    thisnode = gfp_mask & __GFP_THISNODE
    nr_pages = 1 << order
    for z in zonelist:
        nid = z.node
        if thisnode and nid != preferred_nid:
            break  # ZONELIST_NOFALLBACK: only the local zones, which come first
        if z.zone_idx > high_zoneidx or z.nr_free_pages < nr_pages:
            continue
        if nodemask is not None and not nodemask >> nid & 1:
            continue
        if alloc_flags & ALLOC_CPUSET and not cpuset_zone_allowed(buddy.kernel, z, gfp_mask):
            continue
        pfn = __rmqueue_smallest(buddy, z, order)  # rmqueue()
        if pfn >= 0:
            prep_new_page(buddy, pfn, order, gfp_mask)
            return pfn
    return -1


def prep_new_page(buddy: BuddyAllocator, pfn: int, order: int, gfp_flags: int) -> None:
    """Make a block taken off the free lists into an allocated page.

    Models: mm/page_alloc.c prep_new_page() (post_alloc_hook()), v4.14.
    Context: any. Preempts: never.
    The head gets _refcount 1; flags, mapping, index, order and _mapcount of
    every frame are already clean (the free-block state, see the module
    docstring). __GFP_ZERO zeroes the contents; __GFP_COMP with order > 0 makes
    a compound page.
    """
    buddy._refcount[pfn] = 1  # set_page_refcounted()
    if gfp_flags & __GFP_ZERO:
        buddy.mem.clear_frames(pfn, 1 << order)  # clear_highpage() per frame
    if order and gfp_flags & __GFP_COMP:
        prep_compound_page(buddy, pfn, order)


def prep_compound_page(buddy: BuddyAllocator, pfn: int, order: int) -> None:
    """Make a fresh 2**order block a compound page: PG_head, tails, compound_mapcount -1.

    Models: mm/page_alloc.c prep_compound_page(), v4.14. Context: any.
    Preempts: never.
    Simplified: every frame records the order (page_flags.py), so tails need
    no compound_head pointer; tails keep _refcount 0 and mapping 0.
    """
    end = pfn + (1 << order)
    pages = buddy.pages
    pages.flags_np[pfn + 1 : end] |= F_tail  # set_compound_head(), per tail
    pages.order_np[pfn:end] = order
    buddy._flags[pfn] |= F_head  # __SetPageHead()
    buddy._cmapcount[pfn] = -1  # atomic_set(compound_mapcount_ptr(page), -1)


def alloc_pages_node(buddy: BuddyAllocator, nid: int, gfp_mask: int, order: int) -> int:
    """Models: include/linux/gfp.h alloc_pages_node(), v4.14.

    Context: any. Preempts: never. Returns: a PFN or -1.
    Simplified: NUMA_NO_NODE (no current CPU here) means the first node.
    """
    if nid == NUMA_NO_NODE:
        nid = next(iter(buddy.nodes))
    return __alloc_pages(buddy, gfp_mask, order, nid, None)


def __rmqueue_smallest(buddy: BuddyAllocator, z: zone, order: int) -> int:
    """Take the smallest free block of at least ``order`` and split it down.

    Models: mm/page_alloc.c __rmqueue_smallest() (+ rmv_page_order()), v4.14.
    Context: zone->lock held. Preempts: never.
    Returns: the PFN of a 2**order block taken off the free lists, or -1.
    Simplified: a block inside ``isolated_ranges`` is skipped (the newest other
    one is taken), standing in for 4.14's MIGRATE_ISOLATE free lists. Isolated
    ranges are memory blocks (at least MAX_ORDER aligned), so no free block
    straddles their edges.
    """
    free_area = z.free_area
    isolated = buddy.isolated_ranges
    for current_order in range(order, MAX_ORDER):
        area = free_area[current_order]
        if area:
            if isolated:  # MIGRATE_ISOLATE: skip blocks inside an isolated range
                pfn = _newest_unisolated(area, isolated)
                if pfn < 0:
                    continue
                del area[pfn]
            else:
                pfn = area.popitem()[0]
            z.nr_free[current_order] -= 1
            buddy._mapcount[pfn] = -1  # rmv_page_order(): __ClearPageBuddy
            buddy._order[pfn] = 0  # set_page_private(page, 0)
            if current_order != order:
                expand(buddy, z, pfn, order, current_order)
            z.nr_free_pages -= 1 << order  # __mod_zone_freepage_state()
            return pfn
    return -1


def expand(buddy: BuddyAllocator, z: zone, pfn: int, low: int, high: int) -> None:
    """Split a 2**high block at ``pfn``, putting each upper half on its list.

    Models: mm/page_alloc.c expand(), v4.14. Context: zone->lock held.
    Preempts: never.
    """
    mapcount = buddy._mapcount
    order = buddy._order
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


def __free_pages(buddy: BuddyAllocator, pfn: int, order: int) -> None:
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
    if not 0 <= pfn < buddy.max_pfn or pfn & ((1 << order) - 1):
        raise KernelBug(f"__free_pages: pfn {pfn:#x} order {order} is no valid block")
    r = buddy._refcount[pfn]
    if r != 0:
        raise KernelBug(f"__free_pages: pfn {pfn:#x} has _refcount {r}, expected 0")
    if buddy.free_pages_prepare(pfn, order):
        __free_one_page(buddy, pfn, order, buddy.page_zone(pfn))
    else:
        _free_around_hwpoison(buddy, pfn, 1 << order)


def _free_around_hwpoison(buddy: BuddyAllocator, pfn: int, nr: int) -> None:
    """Model-only: free the frames of a prepared block that are not hwpoisoned.

    See the module docstring (Simplified) for how 4.14 differs.
    """
    z = buddy.page_zone(pfn)
    flags = buddy._flags
    start = pfn
    for p in range(pfn, pfn + nr + 1):
        if p == pfn + nr or flags[p] & F_hwpoison:
            for b, order in _aligned_blocks(start, p):
                __free_one_page(buddy, b, order, z)
            start = p + 1


def __free_one_page(buddy: BuddyAllocator, pfn: int, order: int, z: zone) -> None:
    """Put a block on the free lists, merging it with free buddies.

    Models: mm/page_alloc.c __free_one_page() (+ page_is_buddy(),
    set_page_order()), v4.14. Context: zone->lock held. Preempts: never.
    The buddy of the block at ``pfn`` is ``pfn ^ (1 << order)``; it merges when it
    is PageBuddy with the same order in the same zone (page_is_buddy():
    page_zone_id() equal, as zones may overlap after memory hotplug).
    """
    mapcount = buddy._mapcount
    border = buddy._order
    zoneid = buddy._zoneid
    zid = z.zoneid
    max_pfn = buddy.max_pfn
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


def fragment_node(buddy: BuddyAllocator, nid: int) -> list[int]:
    """Model-only test helper: leave node ``nid`` with no free block above order 0.

    Allocates every free block of the node, splits it into order-0 pages and
    frees every even PFN, keeping the odd ones: about half the node's free
    memory stays free, in order-0 blocks only.
    Returns: the PFNs held (sorted), each with _refcount 1 and PG_reserved set so
    an owner check recognises them. Give them back with :func:`unfragment`.
    """
    blocks = []
    for order in range(MAX_ORDER - 1, -1, -1):  # whole blocks: nothing is split
        while buddy.nr_free_pages_by_order(nid)[order]:
            pfn = __alloc_pages(buddy, _GFP_FRAGMENT, order, nid)
            if pfn < 0:
                raise KernelBug(f"fragment_node: node {nid} lost its order-{order} block")
            buddy.split_page(pfn, order)
            blocks.append((pfn, order))
    held = []
    flags = buddy._flags
    for pfn, order in blocks:
        for p in range(pfn, pfn + (1 << order)):
            if p & 1:
                flags[p] |= F_reserved
                held.append(p)
            else:
                buddy._refcount[p] = 0
                __free_pages(buddy, p, 0)
    held.sort()
    return held


def unfragment(buddy: BuddyAllocator, pfns: list[int]) -> None:
    """Model-only test helper: free the frames :func:`fragment_node` held."""
    flags = buddy._flags
    for p in pfns:
        if not flags[p] & F_reserved or buddy._refcount[p] != 1:
            raise KernelBug(f"unfragment: pfn {p:#x} is not a frame fragment_node() holds")
        flags[p] &= ~F_reserved & _M32
        buddy._refcount[p] = 0
        __free_pages(buddy, p, 0)


def __offline_isolated_pages(buddy: BuddyAllocator, start_pfn: int, end_pfn: int) -> None:
    """Take every free block of an isolated, emptied range off the free lists.

    Models: mm/page_alloc.c __offline_isolated_pages() (v4.14 and current), for
    offline_pages(): each free block is unlinked and loses PageBuddy; a hwpoisoned
    frame (never on a list here) is stepped over. The caller sets PG_offline and
    adjusts managed_pages. Context: the range is isolated (zone->lock in the kernel).
    Preempts: never.
    Simplified: ``buddy`` stands in for the kernel's globals (mem_map, the zones).
    """
    mapcount = buddy.pages.mapcount
    border = buddy.pages.order
    pfn = start_pfn
    while pfn < end_pfn:
        head, order = buddy._free_block_of(pfn)
        if head < 0:
            pfn += 1  # a hwpoisoned frame: stays out of use
            continue
        n = 1 << order
        z = buddy.page_zone(head)
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


def _newest_unisolated(area: dict[int, None], isolated: list[tuple[int, int]]) -> int:
    """Model-only: the most recently freed block of ``area`` outside every isolated
    range, or -1 (memory hot-remove's MIGRATE_ISOLATE, see __rmqueue_smallest)."""
    for pfn in reversed(area):
        if not any(s <= pfn < e for s, e in isolated):
            return pfn
    return -1
