"""Secondary observers of user memory: what the kernel did to the contents of user pages.

Models: mm/mmu_notifier.c, the idea and the call sites, not the interface. Linux tells a
secondary MMU (KVM, a device with its own page tables) about every change of a primary
page table that can drop or move user data, by calling the mm's notifiers from the
paths that make the change: ``mmu_notifier_invalidate_range_start()/end()`` around a
zap (unmap_page_range() for munmap, MAP_FIXED, MADV_DONTNEED, exit) and around
move_page_tables() (mremap), and ``mmu_notifier_release()`` from exit_mmap(). The
secondary MMU then refetches from the primary tables.

The model's one secondary observer is the API's shadow of user writes
(integrity.py :class:`~thpsim.integrity.Shadow`): what every page should read back.
It cannot refetch (it exists to check the primary tables), so it is told what the
kernel decided happened to the data, at the same call sites:

* :func:`mmu_notifier_invalidate_range` -- the kernel zapped [start, end) of ``mm``
  (after unmap_page_range()): the range reads 0 from now on;
* :func:`mmu_notifier_move_range` -- move_page_tables() moved one extent of page
  tables from ``old`` to ``new`` (model-only: Linux invalidates the old range and the
  secondary MMU refaults the new one);
* :func:`mmu_notifier_copy_range` -- dup_mmap() copied a VMA's contents into a child
  (copy_page_range(); model-only: a child's secondary MMUs start empty in Linux);
* :func:`mmu_notifier_release` -- exit_mmap() tore the address space down.

The observer follows the kernel's decisions (which range a munmap zaps, which extent
mremap moved), not the page tables: a zap that misses a PTE, a move that drops a
table, a fork that loses a page still leave the shadow expecting the data, and the
next read reports the lost write. Wrong decisions (a syscall that zaps a range it
should have refused) are the fuzzer's and the stateful model's to find: they compare
with what Linux documents, which a follower of the kernel cannot.

Subscribers sit in ``KernelContext.mmu_notifiers`` (one list for every mm: in Linux
each mm has its own subscriptions). With none (the stress harness and the race
scenarios run without a shadow) each hook is one test of an empty list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from thpsim.mm.mm_types import mm_struct

__all__ = [
    "mmu_notifier_ops",
    "mmu_notifier_invalidate_range",
    "mmu_notifier_move_range",
    "mmu_notifier_copy_range",
    "mmu_notifier_release",
]


class mmu_notifier_ops(Protocol):
    """What a subscriber implements (``struct mmu_notifier_ops``, the model's four)."""

    def invalidate_range(self, mm: mm_struct, start: int, end: int) -> None: ...

    def move_range(self, mm: mm_struct, old: int, new: int, length: int) -> None: ...

    def copy_range(self, src: mm_struct, dst: mm_struct, start: int, end: int) -> None: ...

    def release(self, mm: mm_struct) -> None: ...


def mmu_notifier_invalidate_range(mm: mm_struct, start: int, end: int) -> None:
    """unmap_page_range() zapped [start, end) of ``mm``: called once the PTEs and PMDs
    of the range are cleared (Linux: mmu_notifier_invalidate_range_end())."""
    for sub in mm.kernel.mmu_notifiers:
        sub.invalidate_range(mm, start, end)


def mmu_notifier_move_range(mm: mm_struct, old: int, new: int, length: int) -> None:
    """move_page_tables() moved [old, old + length) to ``new`` (one extent)."""
    for sub in mm.kernel.mmu_notifiers:
        sub.move_range(mm, old, new, length)


def mmu_notifier_copy_range(src: mm_struct, dst: mm_struct, start: int, end: int) -> None:
    """dup_mmap() copies [start, end) of ``src`` into the child ``dst``
    (copy_page_range() of one VMA)."""
    for sub in src.kernel.mmu_notifiers:
        sub.copy_range(src, dst, start, end)


def mmu_notifier_release(mm: mm_struct) -> None:
    """exit_mmap(): the address space is gone (Linux: mmu_notifier_release())."""
    for sub in mm.kernel.mmu_notifiers:
        sub.release(mm)
