"""Page flags and per-frame metadata (``struct page``) as per-field arrays.

Models: include/linux/page-flags.h (flag numbers of v4.14, 64-bit,
CONFIG_MEMORY_FAILURE, CONFIG_TRANSPARENT_HUGEPAGE), include/linux/mm_types.h
(struct page fields), include/linux/page_ref.h, include/linux/mm.h
(page_mapcount, compound_head).

There is no Python object per page: each field is one array indexed by PFN
(NumPy, for vectorised checks) with a memoryview onto it (fast scalar access).

Simplified:
    * compound pages record their order in every frame of the compound
      (``order``); ``compound_head(pfn)`` aligns down by that order, instead of the
      tail's ``compound_head`` pointer. Compound pages are naturally aligned, so it
      is the same page.
    * ``compound_mapcount`` is an array of its own (Linux keeps it in the first tail).
    * PageDoubleMap (4.14's accounting of a THP mapped by PMD and PTEs at once) is a
      flag only (``F_double_map``, for the deferred-split decisions of 4.14 and 6.1):
      a subpage's ``_mapcount`` counts its PTE mappings only, and page_mapcount()
      adds the compound mapcount, as 5.18+ does.
    * PageBuddy is ``_mapcount == PAGE_BUDDY_MAPCOUNT_VALUE`` as in 4.14, with the
      buddy order in ``order`` (Linux: page_private).
"""

from __future__ import annotations

import numpy as np

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_ORDER
from thpsim.hw.memory import lazy_zeros

__all__ = ["PageArrays"]

# page-flags.h, v4.14 numbering
PG_locked = 0
PG_error = 1
PG_referenced = 2
PG_uptodate = 3
PG_dirty = 4
PG_lru = 5
PG_active = 6
PG_waiters = 7
PG_slab = 8
PG_owner_priv_1 = 9
PG_arch_1 = 10
PG_reserved = 11
PG_private = 12
PG_private_2 = 13
PG_writeback = 14
PG_head = 15
PG_mappedtodisk = 16
PG_reclaim = 17
PG_swapbacked = 18
PG_unevictable = 19
PG_mlocked = 20
PG_hwpoison = 21
PG_young = 22
PG_idle = 23
#: 5.19+: PG_anon_exclusive aliases PG_mappedtodisk on anon pages.
PG_anon_exclusive = PG_mappedtodisk
# Model-only flags, above every kernel flag.
_PG_tail = 28  # compound tail (Linux: compound_head bit 0)
_PG_pgtable = 29  # a page-table page (Linux 4.18+: PageTable page type)
_PG_offline = 30  # frame of an offlined memory block (Linux 5.0+: PageOffline type)
#: 4.14 .. 6.1 PG_double_map (PF_SECOND: kept in the first tail there; on the head
#: here): a THP still mapped by a PMD had another PMD split. The kernel also gave every
#: subpage one more _mapcount then; the model keeps only the flag and lets
#: page_remove_rmap() read it (thpsim.mm.rmap).
_PG_double_map = 31

PAGE_BUDDY_MAPCOUNT_VALUE = -128
#: page->mapping low bit: an anon_vma, not an address_space.
PAGE_MAPPING_ANON = 1


def _bit(n: int) -> int:
    return 1 << n


F_locked = _bit(PG_locked)
F_referenced = _bit(PG_referenced)
F_uptodate = _bit(PG_uptodate)
F_dirty = _bit(PG_dirty)
F_lru = _bit(PG_lru)
F_active = _bit(PG_active)
F_waiters = _bit(PG_waiters)
F_reserved = _bit(PG_reserved)
F_writeback = _bit(PG_writeback)
F_head = _bit(PG_head)
F_swapbacked = _bit(PG_swapbacked)
F_unevictable = _bit(PG_unevictable)
F_mlocked = _bit(PG_mlocked)
F_hwpoison = _bit(PG_hwpoison)
F_young = _bit(PG_young)
F_idle = _bit(PG_idle)
F_anon_exclusive = _bit(PG_anon_exclusive)
F_tail = _bit(_PG_tail)
F_pgtable = _bit(_PG_pgtable)
F_offline = _bit(_PG_offline)
F_double_map = _bit(_PG_double_map)

#: Flags a freed page must not carry (PAGE_FLAGS_CHECK_AT_FREE, abridged).
PAGE_FLAGS_CHECK_AT_FREE = (
    F_locked | F_lru | F_active | F_writeback | F_mlocked | F_unevictable | F_waiters
)


def _unmapped_bytes(nr: int) -> bytes:
    """Model-only: the bytes of ``nr`` _mapcount words all -1 (no frame mapped).

    Comparing a slice's bytes with this (``memoryview.tobytes()`` and a memcmp) is
    about 0.2 us for a THP's 512 frames, a fifth of a NumPy reduction over them;
    callers take it as the fast path and reduce only when it fails."""
    b = _UNMAPPED_BYTES.get(nr)
    if b is None:
        b = _UNMAPPED_BYTES[nr] = b"\xff" * (4 * nr)
    return b


_UNMAPPED_BYTES: dict[int, bytes] = {}


class PageArrays:
    """``mem_map``: every frame's ``struct page``, one array per field.

    ``x_np`` is the NumPy array; ``x`` a memoryview onto the same memory for
    scalar access from kernel paths (reads Python ints).
    """

    __slots__ = (
        "nr",
        "flags_np", "flags",
        "refcount_np", "refcount",
        "mapcount_np", "mapcount",
        "compound_mapcount_np", "compound_mapcount",
        "order_np", "order",
        "mapping_np", "mapping",
        "index_np", "index",
        "zoneid_np", "zoneid",
        "pageblock_flags_np", "pageblock_flags",
    )

    #: Host bytes per frame of these arrays: flags, refcount, mapcount,
    #: compound_mapcount, mapping (4 each), order (1), index (8), zone id (2).
    BYTES_PER_FRAME = 4 * 5 + 1 + 8 + 2

    def __init__(self, nr: int):
        self.nr = nr
        # lazy_zeros(): a field's pages take host memory only once written
        self.flags_np = lazy_zeros(nr, np.uint32)
        self.refcount_np = lazy_zeros(nr, np.int32)
        #: _mapcount: -1 when unmapped (page_mapcount() adds 1).
        self.mapcount_np = lazy_zeros(nr, np.int32)
        self.mapcount_np[:] = -1
        #: compound_mapcount (head only): -1 when no PMD maps the compound page.
        self.compound_mapcount_np = lazy_zeros(nr, np.int32)
        self.compound_mapcount_np[:] = -1
        #: compound order of every frame in a compound page; buddy order of a free block head.
        self.order_np = lazy_zeros(nr, np.int8)
        #: page->mapping: anon_vma id << 1 | PAGE_MAPPING_ANON, or 0.
        self.mapping_np = lazy_zeros(nr, np.int32)
        #: page->index: the page's linear index (address >> PAGE_SHIFT in its anon_vma).
        self.index_np = lazy_zeros(nr, np.int64)
        self.flags = memoryview(self.flags_np).cast("B").cast("I")
        self.refcount = memoryview(self.refcount_np).cast("B").cast("i")
        self.mapcount = memoryview(self.mapcount_np).cast("B").cast("i")
        self.compound_mapcount = memoryview(self.compound_mapcount_np).cast("B").cast("i")
        self.order = memoryview(self.order_np).cast("B").cast("b")
        self.mapping = memoryview(self.mapping_np).cast("B").cast("i")
        self.index = memoryview(self.index_np).cast("B").cast("q")
        #: The zone bits of page->flags (page_zone_id(): node << ZONES_SHIFT | zone),
        #: -1 where the memmap holds no zone (a range memory hot-remove took out).
        self.zoneid_np = lazy_zeros(nr, np.int16)
        self.zoneid_np[:] = -1
        self.zoneid = memoryview(self.zoneid_np).cast("B").cast("h")
        #: Each pageblock's migratetype (the usemap, mem_section->pageblock_flags of
        #: every section end to end): pageblock_order is HPAGE_PMD_ORDER on x86_64.
        self.pageblock_flags_np = np.zeros(-(-nr >> HPAGE_PMD_ORDER), dtype=np.int8)
        self.pageblock_flags = memoryview(self.pageblock_flags_np).cast("B").cast("b")

    # ---- flags
    def test(self, pfn: int, flag: int) -> bool:
        return self.flags[pfn] & flag != 0

    def set(self, pfn: int, flag: int) -> None:
        self.flags[pfn] |= flag

    def clear(self, pfn: int, flag: int) -> None:
        self.flags[pfn] &= ~flag & 0xFFFF_FFFF

    # ---- compound pages (mm.h)
    def compound_head(self, pfn: int) -> int:
        if self.flags[pfn] & F_tail:
            return pfn & ~((1 << self.order[pfn]) - 1)
        return pfn

    def compound_order(self, head: int) -> int:
        return self.order[head] if self.flags[head] & F_head else 0

    def PageTransHuge(self, pfn: int) -> bool:
        """A THP head (order-9 compound)."""
        return self.flags[pfn] & F_head != 0

    def PageCompound(self, pfn: int) -> bool:
        return self.flags[pfn] & (F_head | F_tail) != 0

    def PageAnon(self, pfn: int) -> bool:
        return self.mapping[self.compound_head(pfn)] & PAGE_MAPPING_ANON != 0

    def PageBuddy(self, pfn: int) -> bool:
        return self.mapcount[pfn] == PAGE_BUDDY_MAPCOUNT_VALUE

    # ---- counts (page_ref.h, mm.h)
    def page_count(self, pfn: int) -> int:
        return self.refcount[self.compound_head(pfn)]

    def page_mapcount(self, pfn: int) -> int:
        """Models: page_mapcount() (5.18+ form): PTE maps of this page + PMD maps of its THP."""
        head = self.compound_head(pfn)
        n = self.mapcount[pfn] + 1
        if head != pfn or self.flags[pfn] & F_head:
            n += self.compound_mapcount[head] + 1
        return n

    def total_mapcount(self, head: int) -> int:
        """Models: total_mapcount() / folio_mapcount(): all mappings of a (compound) page."""
        if not self.flags[head] & F_head:
            return self.mapcount[head] + 1
        nr = 1 << self.order[head]
        if self.mapcount[head : head + nr].tobytes() == _unmapped_bytes(nr):
            ptes = 0  # no subpage mapped by a PTE (a PMD-mapped THP): skip the sum
        else:
            ptes = int(self.mapcount_np[head : head + nr].sum()) + nr
        return ptes + self.compound_mapcount[head] + 1

    def nr_unmapped_subpages(self, head: int, nr: int) -> int:
        """Model-only: how many of the ``nr`` frames from ``head`` no PTE maps
        (``_mapcount < 0``); what rmap's NR_ANON_MAPPED accounting of a PMD
        mapping counts."""
        if self.mapcount[head : head + nr].tobytes() == _unmapped_bytes(nr):
            return nr
        return int(np.count_nonzero(self.mapcount_np[head : head + nr] < 0))

    def compound_mapcount_of(self, head: int) -> int:
        return self.compound_mapcount[head] + 1
