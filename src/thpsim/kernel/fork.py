"""fork's address-space copy and the final teardown of an mm.

Models: kernel/fork.c, v4.14 (mm_init + pgd_alloc, dup_mmap, mmput/__mmput,
mmdrop with check_mm and pgd_free).
"""

from __future__ import annotations

import errno

from thpsim.errors import KernelBug
from thpsim.kernel.locking import down_write, rw_semaphore, spinlock_t, up_write
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.tlbflush import flush_tlb_mm
from thpsim.mm.memory import copy_page_range
from thpsim.mm.mm_types import (
    VM_DONTCOPY,
    VM_LOCKED,
    VM_LOCKONFAULT,
    VM_WIPEONFORK,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.mmap import check_mm, exit_mmap
from thpsim.mm.pgtable_generic import pgtable_alloc, pgtable_free
from thpsim.mm.rmap import anon_vma_fork, anon_vma_lock_write, anon_vma_unlock_write


def mm_alloc(ctx) -> mm_struct:
    """Models: mm_alloc() -> mm_init() -> pgd_alloc(). Raises OSError(ENOMEM) if no page."""
    pfn = pgtable_alloc(ctx, 4)
    if pfn < 0:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")
    mm_id = ctx.alloc_mm_id()
    mm = mm_struct(
        ctx,
        mm_id,
        ctx.mem.tables[pfn],
        rw_semaphore(ctx, "mmap_lock", f"mm{mm_id}"),
        spinlock_t(ctx, "page_table_lock", f"mm{mm_id}"),
    )
    return mm


def dup_mmap(mm: mm_struct, oldmm: mm_struct) -> KernelPath[int]:
    """Copy every VMA and its page tables (COW) into a new mm.

    Models: kernel/fork.c dup_mmap(), v4.14: VM_DONTCOPY VMAs are skipped; the
    child does not inherit VM_LOCKED; VM_WIPEONFORK VMAs start empty; the
    parent's TLB is flushed at the end (its PTEs were write-protected).
    Context: takes both mmap_locks for write. Returns 0 or -ENOMEM.
    """
    yield from down_write(oldmm.mmap_lock)
    yield from down_write(mm.mmap_lock)
    done = False
    try:
        ret = yield from _dup_vmas(mm, oldmm)
        done = True
    finally:
        if not done:  # unwinding: release without preempting (no yield in finally)
            up_write(mm.mmap_lock)
            up_write(oldmm.mmap_lock)
    up_write(mm.mmap_lock)
    yield from flush_tlb_mm(oldmm)  # the parent's PTEs were write-protected
    up_write(oldmm.mmap_lock)
    return ret


def _dup_vmas(mm: mm_struct, oldmm: mm_struct) -> KernelPath[int]:
    mm.total_vm = oldmm.total_vm
    mm.def_flags = oldmm.def_flags
    for mpnt in list(oldmm.mmap):
        if mpnt.vm_flags & VM_DONTCOPY:
            mm.total_vm -= (mpnt.vm_end - mpnt.vm_start) >> 12
            continue
        tmp = vm_area_struct(mm, mpnt.vm_start, mpnt.vm_end,
                             mpnt.vm_flags & ~(VM_LOCKED | VM_LOCKONFAULT), mpnt.vm_pgoff)
        tmp.vm_page_prot = mpnt.vm_page_prot
        tmp.vm_policy = mpnt.vm_policy
        if mpnt.vm_flags & VM_WIPEONFORK:
            tmp.anon_vma = None
        else:
            av = mpnt.anon_vma
            yield from anon_vma_lock_write(av)  # an rmap walk in flight finishes first
            try:
                anon_vma_fork(tmp, mpnt)
            finally:
                anon_vma_unlock_write(av)
        mm.insert_vma(tmp)
        if not mpnt.vm_flags & VM_WIPEONFORK:
            if (yield from copy_page_range(mm, oldmm, tmp, mpnt)) < 0:
                return -errno.ENOMEM
    mm.hiwater_rss = mm.get_mm_rss()
    return 0


def mmput(mm: mm_struct) -> KernelPath[list[str]]:
    """Drop a user of the mm; the last one tears the address space down.

    Models: mmput() -> __mmput() -> exit_mmap(), then mmdrop() -> __mmdrop()
    (check_mm, pgd_free). Returns what check_mm printed (empty when nothing leaked).
    """
    mm.mm_users -= 1
    if mm.mm_users > 0:
        return []
    if mm.mm_users < 0:
        raise KernelBug(f"mmput of {mm!r} with no users")
    yield from down_write(mm.mmap_lock)
    try:
        yield from exit_mmap(mm)
    finally:
        up_write(mm.mmap_lock)
    ctx = mm.kernel
    for cpu in ctx.cpus:  # the ASID is never used again
        cpu.flush_asid(mm.mm_id)
    out = check_mm(mm)
    if any(mm.pgd):
        raise KernelBug(f"{mm!r}: PGD not empty at pgd_free")
    pgtable_free(ctx, mm.pgd.pfn)
    mm.dead = True
    return out


def copy_process(ctx, parent, cpu: int) -> KernelPath[object]:
    """fork(2)'s memory half: a child task with a copy of the parent's address space.

    Models: kernel/fork.c copy_process() -> copy_mm() -> dup_mm() (the memory part;
    no signals, files or scheduler state). Returns the child task, or -ENOMEM.
    """
    from thpsim.kernel.task import task_struct

    child = task_struct(0, 0, None, cpu, parent.cred, parent.comm)
    child.mempolicy = parent.mempolicy
    child.il_prev = parent.il_prev
    child.mems_allowed = parent.mems_allowed
    try:
        new_mm = mm_alloc(ctx)
    except OSError:
        return -errno.ENOMEM
    ret = yield from dup_mmap(new_mm, parent.mm)
    if ret < 0:
        yield from mmput(new_mm)
        return ret
    pid = ctx.alloc_pid()
    child.pid = child.tgid = pid
    child.mm = new_mm
    new_mm.owner = child
    ctx.tasks[pid] = child
    from thpsim.kernel.cgroup.cgroup import cgroup_post_fork

    cgroup_post_fork(ctx, parent, child)
    return child
