"""The mempolicy header's inline functions that migration and the policy code share.

Models: include/linux/mempolicy.h vma_migratable(). It sits below both mm/migrate.c
(move_pages) and mm/mempolicy.c (the mbind/migrate_pages walks), which call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.mm.mm_types import VM_IO, VM_PFNMAP

if TYPE_CHECKING:
    from thpsim.mm.mm_types import vm_area_struct

__all__ = ["vma_migratable"]


def vma_migratable(vma: vm_area_struct) -> bool:
    """Models: include/linux/mempolicy.h vma_migratable() (anonymous memory: not IO/PFNMAP)."""

    return not vma.vm_flags & (VM_IO | VM_PFNMAP)
