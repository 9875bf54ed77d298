"""The overcommit check of accountable mappings.

Models: mm/util.c __vm_enough_memory() in the default mode, OVERCOMMIT_GUESS
(``vm.overcommit_memory`` 0), with security/commoncap.c cap_vm_enough_memory()
(security_vm_enough_memory_mm(): CAP_SYS_ADMIN of ``current`` decides the admin
reserve). mmap_region() charges a private writable mapping (accountable_mapping()),
mprotect_fixup() a private mapping that becomes writable; both fail with ENOMEM when
the check refuses.

Eras (``overcommit_guess_totalram``): 5.8+ refuses only a charge larger than all RAM
plus swap; 4.14 compares it with what could be made free.

Simplified: the model has no page cache, swap or reclaimable slab, and no
watermarks (totalreserve_pages is 0), so 4.14's estimate is the free pages alone;
the sysctls keep their defaults (no ``vm.overcommit_memory`` file), and
admin_reserve_kbytes is init_admin_reserve()'s min(3% of RAM, 8 MiB) computed from
the managed pages rather than the free pages at boot. vm_committed_as is not kept
(GUESS never reads it; /proc/meminfo's Committed_AS sums VM_ACCOUNT VMAs).
"""

from __future__ import annotations

import errno

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT
from thpsim.kernel.task import CAP_SYS_ADMIN
from thpsim.mm.mm_types import mm_struct
from thpsim.mm.page_alloc import node_free_pages, totalram_pages

__all__ = ["__vm_enough_memory", "security_vm_enough_memory_mm", "admin_reserve_pages"]

#: init_admin_reserve(): at most 8 MiB
ADMIN_RESERVE_MAX_KB = 1 << 13


def admin_reserve_pages(ctx) -> int:
    """sysctl_admin_reserve_kbytes in pages: min(free / 32, 8 MiB) (init_admin_reserve())."""
    return min(totalram_pages(ctx) // 32, ADMIN_RESERVE_MAX_KB >> (PAGE_SHIFT - 10))


def __vm_enough_memory(mm: mm_struct, pages: int, cap_sys_admin: bool) -> int:
    """Models: __vm_enough_memory() under OVERCOMMIT_GUESS. Returns 0 or -ENOMEM."""
    ctx = mm.kernel
    if ctx.profile.overcommit_guess_totalram:
        return -errno.ENOMEM if pages > totalram_pages(ctx) else 0  # no swap
    free = sum(node_free_pages(ctx, nid) for nid in ctx.node_data)
    if free <= 0:  # free <= totalreserve_pages (0: no watermarks)
        return -errno.ENOMEM
    if not cap_sys_admin:
        free -= admin_reserve_pages(ctx)
    return 0 if free > pages else -errno.ENOMEM


def security_vm_enough_memory_mm(mm: mm_struct, pages: int) -> int:
    """Models: security_vm_enough_memory_mm() -> cap_vm_enough_memory(): CAP_SYS_ADMIN of
    the calling task (a kernel path with no task counts as privileged)."""
    task = mm.kernel.current
    cap = task is None or task.cred.capable(CAP_SYS_ADMIN)
    return __vm_enough_memory(mm, pages, cap)
