"""Physical memory: NUMA nodes, frames, their contents, and page-table pages.

Model-only (the silicon). What the kernel later calls a PFN indexes everything
here. Node ids may be any non-negative ints (0, 2, 5); each node is one
contiguous PFN range, the ranges laid out in node-id order, each starting on a
memory-block boundary.

Contents: one 64-bit word per 4 KiB frame, in one NumPy vector over all PFNs,
so a THP copy is one slice copy. Any address inside a frame reads and writes
that frame's word.

Page-table pages: a frame the kernel allocated for a table is given 512 64-bit
words here (:class:`PageTable`), kept in :attr:`PhysicalMemory.tables` keyed by
PFN; the MMU walk reads entries only from there. A table also carries the
fields Linux keeps in the table page's ``struct page`` (the split page-table
lock, ``pmd_huge_pte`` deposits).
"""

from __future__ import annotations

import array
from dataclasses import dataclass

import numpy as np

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PTRS_PER_PTE
from thpsim.errors import ConfigError

#: include/linux/numa.h MAX_NUMNODES with CONFIG_NODES_SHIFT=10, as distribution
#: kernels build: the width of every node mask (nodemask_t, mems_allowed, mbind's)
MAX_NUMNODES = 1 << 10

__all__ = ["NumaNode", "PageTable", "PhysicalMemory", "DEFAULT_DISTANCE_LOCAL"]

DEFAULT_DISTANCE_LOCAL = 10
DEFAULT_DISTANCE_REMOTE = 20

_ZERO_TABLE = bytes(8 * PTRS_PER_PTE)


class PageTable(array.array):
    """The 512 words of one page-table page, plus its ``struct page`` table fields.

    Attributes:
        pfn: the frame holding this table.
        ptl: the split page-table lock (``page->ptl``), set by the kernel.
        pmd_huge_pte: deposited PTE tables (``pmd_huge_pte``), PFNs, newest last;
            only used on PMD tables.
        level: 4 (PGD), 3 (PUD), 2 (PMD) or 1 (PTE); Model-only, for checkers.
    """

    __slots__ = ("pfn", "ptl", "pmd_huge_pte", "level")

    def __new__(cls, pfn: int, level: int) -> PageTable:
        t = super().__new__(cls, "Q", _ZERO_TABLE)
        t.pfn = pfn
        t.level = level
        t.ptl = None
        t.pmd_huge_pte = None
        return t

    def __init__(self, pfn: int, level: int):  # array.__init__ takes no arguments
        pass


@dataclass(slots=True)
class NumaNode:
    """One NUMA node of the machine (hardware view)."""

    nid: int
    start_pfn: int
    nr_pages: int
    cpus: list[int]

    @property
    def end_pfn(self) -> int:
        return self.start_pfn + self.nr_pages


class PhysicalMemory:
    """All frames of the machine, their contents, and the page-table store."""

    def __init__(
        self,
        node_bytes: dict[int, int],
        block_size: int,
        distance: dict[tuple[int, int], int] | None = None,
    ):
        if not node_bytes:
            raise ConfigError("a machine needs at least one node")
        page = 1 << PAGE_SHIFT
        if block_size <= 0 or block_size % (1 << 21):
            raise ConfigError("memory-block size must be a positive multiple of 2 MiB")
        self.block_size = block_size
        self.nodes: dict[int, NumaNode] = {}
        pfn = 0
        for nid in sorted(node_bytes):
            size = node_bytes[nid]
            if not 0 <= nid < MAX_NUMNODES:
                raise ConfigError(f"node id {nid} out of range 0..{MAX_NUMNODES - 1} "
                                  "(MAX_NUMNODES)")
            if size <= 0 or size % block_size:
                raise ConfigError(
                    f"node {nid}: size {size} is not a positive multiple of the "
                    f"memory-block size {block_size}"
                )
            self.nodes[nid] = NumaNode(nid, pfn, size // page, [])
            pfn += size // page
        self.max_pfn = pfn
        self._starts = [n.start_pfn for n in self.nodes.values()]
        self._nids = list(self.nodes)
        #: node id of every frame (page_to_nid() is a lookup, as the kernel's page flags hold it)
        self.nid_np = np.empty(self.max_pfn, dtype=np.int16)
        for n in self.nodes.values():
            self.nid_np[n.start_pfn : n.end_pfn] = n.nid
        self.nid = memoryview(self.nid_np).cast("B").cast("h")
        ids = self._nids
        self.distance: dict[tuple[int, int], int] = {}
        for a in ids:
            for b in ids:
                d = None if distance is None else distance.get((a, b), distance.get((b, a)))
                if d is None:
                    d = DEFAULT_DISTANCE_LOCAL if a == b else DEFAULT_DISTANCE_REMOTE
                if (a == b) != (d == DEFAULT_DISTANCE_LOCAL) and a == b:
                    raise ConfigError("a node's distance to itself must be 10")
                self.distance[(a, b)] = d
        # np.zeros is calloc: untouched frames cost no real memory.
        self.contents_np = np.zeros(self.max_pfn, dtype=np.uint64)
        #: Scalar access path: a memoryview reads and writes Python ints ~2x faster.
        self.contents = memoryview(self.contents_np).cast("B").cast("Q")
        self.tables: dict[int, PageTable] = {}

    def pfn_to_nid(self, pfn: int) -> int:
        """The node a frame belongs to (``page_to_nid``)."""
        return self.nid[pfn]

    def pfn_valid(self, pfn: int) -> bool:
        return 0 <= pfn < self.max_pfn

    # ---- page-table pages
    def new_table(self, pfn: int, level: int) -> PageTable:
        """Give a freshly allocated frame its 512 zeroed table words."""
        t = PageTable(pfn, level)
        self.tables[pfn] = t
        return t

    def free_table(self, pfn: int) -> PageTable:
        return self.tables.pop(pfn)

    # ---- contents
    def copy_frames(self, dst: int, src: int, nr: int) -> None:
        """Copy ``nr`` frames' contents (copy_highpage / copy_user_huge_page)."""
        self.contents_np[dst : dst + nr] = self.contents_np[src : src + nr]

    def clear_frames(self, pfn: int, nr: int) -> None:
        """Zero ``nr`` frames (clear_page / clear_huge_page)."""
        self.contents_np[pfn : pfn + nr] = 0
