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
import mmap
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PTRS_PER_PTE
from thpsim.errors import ConfigError

#: include/linux/numa.h MAX_NUMNODES with CONFIG_NODES_SHIFT=10, as distribution
#: kernels build: the width of every node mask (nodemask_t, mems_allowed, mbind's)
MAX_NUMNODES = 1 << 10

__all__ = ["NumaNode", "PageTable", "PhysicalMemory", "DEFAULT_DISTANCE_LOCAL", "lazy_zeros"]

DEFAULT_DISTANCE_LOCAL = 10
DEFAULT_DISTANCE_REMOTE = 20

_ZERO_TABLE = bytes(8 * PTRS_PER_PTE)


def is_int(v: object) -> bool:
    """An int and not a bool (True is not a size)."""
    return isinstance(v, int) and not isinstance(v, bool)


#: clear_frames(): ``nr`` zero contents words, per ``nr`` (1, 512, ...).
_ZERO_FRAMES: dict[int, memoryview] = {}


def lazy_zeros(n: int, dtype: type | str) -> np.ndarray:
    """Model-only: ``np.zeros(n, dtype)`` in an anonymous private mapping of its own.

    Its pages stay the host's shared zero page until written, one 4 KiB page at a
    time. NumPy's own large arrays are madvise(MADV_HUGEPAGE)d: on a host with THP
    in ``madvise`` mode one store there makes a whole 2 MiB resident, so the per-frame
    arrays of memory nothing has used cost host memory anyway (docs/performance.md,
    Memory).
    """
    dt = np.dtype(dtype)
    if n * dt.itemsize == 0:
        return np.zeros(n, dtype=dt)
    buf = mmap.mmap(-1, n * dt.itemsize, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buf, dtype=dt, count=n)


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

    #: Bytes this class keeps per frame: the node id (int16) and the contents (uint64).
    BYTES_PER_FRAME = 2 + 8

    def __init__(
        self,
        node_bytes: dict[int, int],
        block_size: int,
        distance: dict[tuple[int, int], int] | None = None,
    ):
        page = 1 << PAGE_SHIFT
        self.max_pfn = self.layout(node_bytes, block_size)
        self.block_size = block_size
        self.nodes: dict[int, NumaNode] = {}
        pfn = 0
        for nid in sorted(node_bytes):
            size = node_bytes[nid]
            self.nodes[nid] = NumaNode(nid, pfn, size // page, [])
            pfn += size // page
        self._starts = [n.start_pfn for n in self.nodes.values()]
        self._nids = list(self.nodes)
        self.distance = self.slit(self._nids, distance)
        #: node id of every frame (page_to_nid() is a lookup, as the kernel's page flags hold it)
        self.nid_np = lazy_zeros(self.max_pfn, np.int16)
        for n in self.nodes.values():
            self.nid_np[n.start_pfn : n.end_pfn] = n.nid
        self.nid = memoryview(self.nid_np).cast("B").cast("h")
        # Untouched frames cost no real memory (lazy_zeros()).
        self.contents_np = lazy_zeros(self.max_pfn, np.uint64)
        #: Scalar access path: a memoryview reads and writes Python ints ~2x faster.
        self.contents = memoryview(self.contents_np).cast("B").cast("Q")
        self.tables: dict[int, PageTable] = {}

    @staticmethod
    def layout(node_bytes: Mapping[int, int], block_size: int) -> int:
        """Check a node layout and return the number of frames it spans (``max_pfn``).

        Every node id in 0..MAX_NUMNODES-1, every size a positive multiple of the
        memory-block size, the block size a positive multiple of 2 MiB (x86-64's
        memory blocks hold whole sections). Raises ConfigError otherwise; allocates
        nothing, so a caller can size the machine before building it.
        """
        if not node_bytes:
            raise ConfigError("a machine needs at least one node")
        if not is_int(block_size) or block_size <= 0 or block_size % (1 << 21):
            raise ConfigError("memory-block size must be a positive multiple of 2 MiB")
        frames = 0
        for nid in sorted(node_bytes):
            size = node_bytes[nid]
            if not is_int(nid) or not 0 <= nid < MAX_NUMNODES:
                raise ConfigError(f"node id {nid!r} out of range 0..{MAX_NUMNODES - 1} "
                                  "(MAX_NUMNODES)")
            if not is_int(size) or size <= 0 or size % block_size:
                raise ConfigError(
                    f"node {nid}: size {size!r} is not a positive multiple of the "
                    f"memory-block size {block_size}"
                )
            frames += size >> PAGE_SHIFT
        return frames

    @staticmethod
    def slit(nids: list[int], distance: Mapping[tuple[int, int], int] | None
             ) -> dict[tuple[int, int], int]:
        """The node distance table: ``distance[(a, b)]``, else ``distance[(b, a)]``,
        else 10 local and 20 remote.

        Models: the checks of drivers/acpi/numa/srat.c slit_valid() (a node's
        distance to itself is LOCAL_DISTANCE, 10; to another node more than 10) and
        arch/x86/mm/numa.c numa_set_distance() (a distance is a u8). Linux ignores
        a bad table (and falls back to 10/20); a machine given one is refused with
        ConfigError instead. 255 (unreachable in the SLIT) is not modelled: remote
        distances are 11..254. A pair naming a node the machine lacks is refused.
        """
        out: dict[tuple[int, int], int] = {}
        if distance:
            for key, d in distance.items():
                if (not isinstance(key, tuple) or len(key) != 2
                        or key[0] not in nids or key[1] not in nids):
                    raise ConfigError(f"distance {key!r}: not a pair of this machine's "
                                      f"nodes {nids}")
                if not is_int(d):
                    raise ConfigError(f"distance {key!r}: {d!r} is not an int")
        for a in nids:
            for b in nids:
                d = None if distance is None else distance.get((a, b), distance.get((b, a)))
                if d is None:
                    d = DEFAULT_DISTANCE_LOCAL if a == b else DEFAULT_DISTANCE_REMOTE
                if a == b and d != DEFAULT_DISTANCE_LOCAL:
                    raise ConfigError("a node's distance to itself must be 10")
                if a != b and not DEFAULT_DISTANCE_LOCAL < d <= 254:
                    raise ConfigError(f"distance {a}->{b} is {d}: a remote distance is "
                                      "11..254 (slit_valid())")
                out[(a, b)] = d
        return out

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
        c = self.contents  # a memoryview copy: a memmove, a third of NumPy's slice copy
        c[dst : dst + nr] = c[src : src + nr]

    def clear_frames(self, pfn: int, nr: int) -> None:
        """Zero ``nr`` frames (clear_page / clear_huge_page)."""
        z = _ZERO_FRAMES.get(nr)
        if z is None:
            z = _ZERO_FRAMES[nr] = memoryview(bytes(8 * nr)).cast("Q")
        self.contents[pfn : pfn + nr] = z
