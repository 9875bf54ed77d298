"""What each node's physical memory holds, read the way page-types(8) reads it.

Model-only (a tool; closest: tools/mm/page-types.c). Every frame's word of
/proc/kpageflags is read in one go (through the machine's VFS, as a tool on
Linux would) and each frame put in exactly one kind, first match wins:

==========  ==============================================================
poisoned    KPF_HWPOISON (memory_failure(), soft offline, hwpoison-inject)
other       KPF_NOPAGE, KPF_ZERO_PAGE or KPF_RESERVED: offline blocks (mainline),
            the zero pages, frames reserved at boot
free        KPF_BUDDY: in a free block of the buddy allocator
pgtable     a page-table page (thpsim.testing.page_tables(): the same set in both
            eras; 4.14's kpageflags has no KPF_PGTABLE)
thp         KPF_COMPOUND_HEAD or _TAIL: part of a THP (HPAGE_PMD_NR frames each)
base        KPF_ANON: a 4 KiB page of anonymous user memory
other       everything else: kernel allocations, pages not (yet) user memory
==========  ==============================================================

Each node is one contiguous PFN range, the ranges laid out in node-id order from
PFN 0 (hw/memory.py), so a node's frames are the words at its offset in the file.
Classifying is a handful of vectorised NumPy operations over those words; nothing
loops over frames in Python. Reading changes nothing on the machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thpsim import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.testing import page_tables

__all__ = ["KINDS", "KIND_FREE", "KIND_BASE", "KIND_THP", "KIND_PGTABLE", "KIND_POISONED",
           "KIND_OTHER", "frame_kinds", "node_ranges", "node_occupancy", "node_memory_map"]

#: The kinds, in the order of their codes (``frame_kinds()`` values, ``dominant``).
KINDS = ("free", "base", "thp", "pgtable", "poisoned", "other")
KIND_FREE, KIND_BASE, KIND_THP, KIND_PGTABLE, KIND_POISONED, KIND_OTHER = range(len(KINDS))
_NKINDS = len(KINDS)
#: Frames per 2 MiB block (HPAGE_PMD_NR).
_BLOCK_PAGES = HPAGE_PMD_SIZE // PAGE_SIZE

# include/uapi/linux/kernel-page-flags.h (the bits this module reads)
KPF_BUDDY = 10
KPF_ANON = 12
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_HWPOISON = 19
KPF_NOPAGE = 20
KPF_ZERO_PAGE = 24
KPF_RESERVED = 32
#: /proc/kpageflags: one little-endian u64 per PFN
_KPF_WORD = np.dtype("<u8")


def _has(words: np.ndarray, *bits: int) -> np.ndarray:
    mask = np.uint64(sum(1 << b for b in bits))
    return (words & mask) != 0


def node_ranges(m: Any) -> dict[int, tuple[int, int]]:
    """node id -> (first PFN, number of frames), in node-id order (hw/memory.py's
    layout: contiguous ranges from PFN 0, in node-id order)."""
    out: dict[int, tuple[int, int]] = {}
    pfn = 0
    for nid, size in sorted(m.nodes.items()):
        out[nid] = (pfn, size // PAGE_SIZE)
        pfn += size // PAGE_SIZE
    return out


def frame_kinds(m: Any, start: int = 0, nr: int | None = None) -> np.ndarray:
    """The kind code (an index into :data:`KINDS`) of each frame in [start, start + nr)
    (default: every frame of the machine), as uint8. ``m`` is a :class:`thpsim.Machine`."""
    if nr is None:
        nr = sum(m.nodes.values()) // PAGE_SIZE - start
    raw = m.fs.read("/proc/kpageflags", offset=start * _KPF_WORD.itemsize,
                    length=nr * _KPF_WORD.itemsize)
    words = np.frombuffer(raw, dtype=_KPF_WORD)
    kind = np.full(len(words), KIND_OTHER, dtype=np.uint8)
    kind[_has(words, KPF_ANON)] = KIND_BASE
    kind[_has(words, KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL)] = KIND_THP
    tables = np.fromiter(page_tables(m), dtype=np.int64) - start
    kind[tables[(tables >= 0) & (tables < len(words))]] = KIND_PGTABLE
    kind[_has(words, KPF_BUDDY)] = KIND_FREE
    kind[_has(words, KPF_NOPAGE, KPF_ZERO_PAGE, KPF_RESERVED)] = KIND_OTHER
    kind[_has(words, KPF_HWPOISON)] = KIND_POISONED
    return kind


def node_occupancy(m: Any) -> dict[str, dict[str, int]]:
    """Pages of each node by kind: ``{"0": {"free": ..., "base": ..., "thp": ...,
    "pgtable": ..., "poisoned": ..., "other": ...}, ...}``, node ids as strings (JSON
    keys), in node-id order. A node's kinds add up to its pages exactly; ``thp``
    counts HPAGE_PMD_NR (512) pages per THP."""
    kind = frame_kinds(m)
    out: dict[str, dict[str, int]] = {}
    for nid, (start, nr) in node_ranges(m).items():
        counts = np.bincount(kind[start : start + nr], minlength=_NKINDS)
        out[str(nid)] = {k: int(c) for k, c in zip(KINDS, counts, strict=True)}
    return out


def node_memory_map(m: Any) -> dict:
    """A compact picture of each node's physical memory, one entry per 2 MiB block.

    Returns (JSON-serialisable)::

        {"kinds": ["free", "base", "thp", "pgtable", "poisoned", "other"],
         "block_pages": 512, "block_bytes": 2097152,
         "nodes": {"0": {"start_pfn": 0, "blocks": 512,
                         "dominant": [k, ...],           # one kind code per block
                         "counts": [[f, b, t, p, x, o], ...]},   # pages per kind
                   ...}}

    ``dominant[i]`` is the code of the kind holding most of block ``i``'s pages (the
    lowest code on a tie); ``counts[i]`` the block's pages per kind, in ``kinds``
    order, adding up to ``block_pages``. Node sizes are multiples of the memory-block
    size, itself a multiple of 2 MiB, so every block is whole.
    """
    kind = frame_kinds(m)
    nodes: dict[str, dict[str, Any]] = {}
    for nid, (start, nr) in node_ranges(m).items():
        nblocks = nr // _BLOCK_PAGES
        k = kind[start : start + nblocks * _BLOCK_PAGES].astype(np.int64)
        block = np.repeat(np.arange(nblocks, dtype=np.int64), _BLOCK_PAGES)
        counts = np.bincount(block * _NKINDS + k, minlength=nblocks * _NKINDS)
        counts = counts.reshape(nblocks, _NKINDS)
        nodes[str(nid)] = {
            "start_pfn": start,
            "blocks": int(nblocks),
            "dominant": counts.argmax(axis=1).tolist(),
            "counts": counts.tolist(),
        }
    return {"kinds": list(KINDS), "block_pages": _BLOCK_PAGES, "block_bytes": HPAGE_PMD_SIZE,
            "nodes": nodes}
