"""The generic page-table walker, and folio_walk.

Models: mm/pagewalk.c. The callbacks live in ``mm_walk_ops`` (5.4+; 4.14 kept
them in ``struct mm_walk``), handed to :func:`walk_page_range` /
:func:`walk_page_vma` with a ``private`` pointer, as in 5.4+. The walk itself is
the 4.14 one (both eras walk the same way for what the model maps):

* VMA by VMA (:func:`walk_page_range`): a range outside every VMA is a hole
  (``pte_hole``, with ``walk.vma`` None); a VMA the ``test_walk`` callback skips
  (>0) is not walked, a negative result ends the walk; without ``test_walk`` a
  VM_PFNMAP VMA is skipped (reported as a hole).
* PMD by PMD (:func:`walk_pmd_range`): a missing upper table or a none PMD is a
  hole; any other PMD (table, huge PMD, PMD migration entry) goes to
  ``pmd_entry``, a kernel path that takes the page-table locks itself.
* then, if the ops have a ``pte_entry``, PTE by PTE under the PTE lock
  (:func:`walk_pte_range`, mainline's locked form).

The first non-zero callback result ends the walk and is returned.

Simplified: no hugetlb (``hugetlb_entry``), no pgd/p4d/pud_entry (no caller
here uses them), no ``walk->action``; holes are reported per PMD (per PUD when
the PUD is missing), not merged per PGD; with ``pte_entry`` a huge PMD or PMD
migration entry is left to ``pmd_entry`` (the kernel splits the huge PMD first).

Preempts: only inside the callbacks and the PTE lock.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    pmd_none,
    pmd_pfn,
    pmd_trans_huge,
    pte_none,
    pte_pfn,
    pte_present,
    pte_special,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.errors import KernelBug
from thpsim.kernel.locking import spin_unlock
from thpsim.kernel.sched import KernelPath
from thpsim.mm.mm_types import VM_PFNMAP, mm_struct, vm_area_struct
from thpsim.mm.pgtable_generic import (
    Ptr,
    lookup_pmd,
    lookup_pmd_range,
    pmd_trans_unstable,
    pmdp_get,
    pte_offset_map_lock,
)

__all__ = [
    "mm_walk_ops",
    "mm_walk",
    "walk_page_range",
    "walk_page_vma",
    "walk_page_test",
    "walk_pmd_range",
    "walk_pte_range",
    "walk_pte_lock",
    "FW_ZEROPAGE",
    "folio_walk_start",
]


class mm_walk_ops:
    """Models: struct mm_walk_ops (5.4+). ``pmd_entry(pmd, addr, next, walk)`` and
    ``pte_entry(pte, addr, next, walk)`` are kernel paths (they may take locks;
    ``pte`` is the PTE pointer, read under the PTE lock the walk holds);
    ``pte_hole(addr, next, walk)`` and ``test_walk(start, end, walk)`` are plain
    functions."""

    __slots__ = ("pmd_entry", "pte_entry", "pte_hole", "test_walk")

    def __init__(self, pmd_entry: Callable[..., KernelPath[int]] | None = None,
                 pte_entry: Callable[..., KernelPath[int]] | None = None,
                 pte_hole: Callable[..., int] | None = None,
                 test_walk: Callable[..., int] | None = None):
        self.pmd_entry = pmd_entry
        self.pte_entry = pte_entry
        self.pte_hole = pte_hole
        self.test_walk = test_walk


class mm_walk:
    """Models: struct mm_walk: the ops, the mm, the VMA being walked (None in a
    hole outside every VMA) and the caller's ``private`` data."""

    __slots__ = ("ops", "mm", "vma", "private")

    def __init__(self, ops: mm_walk_ops, mm: mm_struct, private: Any = None):
        self.ops = ops
        self.mm = mm
        self.vma: vm_area_struct | None = None
        self.private = private


def _assert_mmap_locked(mm: mm_struct) -> None:
    """mmap_assert_locked() (4.14: VM_BUG_ON(!rwsem_is_locked(&mm->mmap_sem)))."""
    lock = mm.mmap_lock
    if lock.writer is None and not lock.readers:
        raise KernelBug(f"page walk of {mm!r} without mmap_lock")


def walk_pte_lock(walk: mm_walk, pmd: Ptr, addr: int) -> KernelPath[tuple[Ptr, Any]]:
    """pte_offset_map_lock() on the PTE table a (stable, non-huge) PMD points to:
    the ``(pte pointer, ptl)`` a ``pmd_entry`` walks its PTEs under."""
    return (yield from pte_offset_map_lock(walk.mm.kernel, walk.mm, pmdp_get(pmd), addr))


def walk_pte_range(pmd: Ptr, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """Models: walk_pte_range() (mainline: under the PTE lock): ``pte_entry`` for
    each PTE of [addr, end). Context: mmap_lock held. Preempts: taking the PTE lock
    and in ``pte_entry``."""
    (table, i), ptl = yield from walk_pte_lock(walk, pmd, addr)
    err = 0
    try:
        while addr < end:
            err = yield from walk.ops.pte_entry((table, i), addr, addr + PAGE_SIZE, walk)
            if err:
                break
            addr += PAGE_SIZE
            i += 1
    finally:
        spin_unlock(ptl)
    return err


def walk_pmd_range(start: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """Models: walk_pgd_range() down to walk_pmd_range(), v4.14.

    A missing upper-level table or a none PMD is a hole (``pte_hole``); any other
    PMD goes to ``pmd_entry``, then (with ``pte_entry``, a PTE table only) to
    :func:`walk_pte_range`.
    Context: mmap_lock held. Preempts: in the callbacks.
    """
    mm = walk.mm
    ops = walk.ops
    addr = start
    err = 0
    while addr < end:
        if walk.vma is not None:
            pmd, nxt = lookup_pmd_range(mm, addr, end)  # an empty PGD/PUD entry: whole
        else:
            pmd, nxt = None, end
        if pmd is None:
            if ops.pte_hole is not None:
                err = ops.pte_hole(addr, nxt, walk)
        elif pmd_none(pmdp_get(pmd)):
            if ops.pte_hole is not None:
                err = ops.pte_hole(addr, nxt, walk)
        else:
            if ops.pmd_entry is not None:
                err = yield from ops.pmd_entry(pmd, addr, nxt, walk)
            if not err and ops.pte_entry is not None and not pmd_trans_unstable(mm.kernel, pmd):
                err = yield from walk_pte_range(pmd, addr, nxt, walk)
        if err:
            break
        addr = nxt
    return err


def walk_page_test(start: int, end: int, walk: mm_walk) -> int:
    """Models: walk_page_test(): the ops' ``test_walk``, else skip a VM_PFNMAP VMA
    (reporting it as a hole). Returns 0 (walk), >0 (skip) or -errno (stop)."""
    ops = walk.ops
    if ops.test_walk is not None:
        return ops.test_walk(start, end, walk)
    vma = walk.vma
    if vma is not None and vma.vm_flags & VM_PFNMAP:
        err = ops.pte_hole(start, end, walk) if ops.pte_hole is not None else 0
        return err if err else 1
    return 0


def walk_page_range(mm: mm_struct, start: int, end: int, ops: mm_walk_ops,
                    private: Any = None) -> KernelPath[int]:
    """Walk [start, end) VMA by VMA. Models: mm/pagewalk.c walk_page_range().

    Context: mmap_lock held (read or write). Preempts: in the callbacks.
    Returns: 0, -EINVAL for an empty range, or the first non-zero callback value.
    """
    if start >= end:
        return -errno.EINVAL
    _assert_mmap_locked(mm)
    walk = mm_walk(ops, mm, private)
    vmas = mm.mmap
    vma = mm.find_vma(start)
    i = mm.vma_index(vma) if vma is not None else len(vmas)
    err = 0
    while True:
        vma = vmas[i] if i < len(vmas) else None
        if vma is None:
            walk.vma = None
            nxt = end
        elif start < vma.vm_start:
            walk.vma = None
            nxt = min(end, vma.vm_start)
        else:
            walk.vma = vma
            nxt = min(end, vma.vm_end)
            i += 1
            err = walk_page_test(start, nxt, walk)
            if err > 0:
                err = 0
                start = nxt
                if start >= end:
                    break
                continue
            if err < 0:
                break
        if walk.vma is not None or ops.pte_hole is not None:
            err = yield from walk_pmd_range(start, nxt, walk)
        if err:
            break
        start = nxt
        if start >= end:
            break
    return err


def walk_page_vma(vma: vm_area_struct, ops: mm_walk_ops, private: Any = None) -> KernelPath[int]:
    """Models: walk_page_vma(): one whole VMA. Context: mmap_lock held."""
    mm = vma.vm_mm
    _assert_mmap_locked(mm)
    walk = mm_walk(ops, mm, private)
    walk.vma = vma
    err = walk_page_test(vma.vm_start, vma.vm_end, walk)
    if err > 0:
        return 0
    if err < 0:
        return err
    return (yield from walk_pmd_range(vma.vm_start, vma.vm_end, walk))


# ---------------------------------------------------------------- folio_walk (6.12+)
#: folio_walk_start() flag: also return the shared zero pages
FW_ZEROPAGE = 0x1


def folio_walk_start(vma: vm_area_struct, addr: int, flags: int) -> tuple[int, bool]:
    """``(pfn, zero)``: the page mapped at ``addr`` by a present PTE or a huge PMD
    and whether it is a shared zero page; ``(-1, False)`` for no page table, a none
    or non-present entry, or a zero page without FW_ZEROPAGE.

    Models: mm/pagewalk.c folio_walk_start() (6.12+), its ``fw->page`` for the
    address. Unlike GUP, a PROT_NONE entry maps its page (no FOLL_NUMA).
    Simplified: the entry is read without the page-table lock (callers here hold
    mmap_lock and run to completion before the next preemption point), and
    folio_walk_end() has nothing to release; a special PTE maps a zero page (the
    only special mappings the model makes).
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    pmd = lookup_pmd(mm, addr)
    if pmd is None:
        return -1, False
    v = pmdp_get(pmd)
    if pmd_none(v) or is_swap_pmd(v):
        return -1, False
    if pmd_trans_huge(v):
        head = pmd_pfn(v)
        zero = head == ctx.huge_zero_pfn
        if zero and not flags & FW_ZEROPAGE:
            return -1, False
        return head + ((addr & ~HPAGE_PMD_MASK) >> PAGE_SHIFT), zero
    e = ctx.mem.tables[table_entry_pfn(v)][(addr >> PAGE_SHIFT) & 511]
    if pte_none(e) or not pte_present(e):
        return -1, False
    zero = pte_special(e) or pte_pfn(e) == ctx.zero_pfn
    if zero and not flags & FW_ZEROPAGE:
        return -1, False
    return pte_pfn(e), zero
