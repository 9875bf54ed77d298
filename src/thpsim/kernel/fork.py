"""Task creation and the lifetime of an mm: copy_process(), dup_mmap(), mmput().

Models: kernel/fork.c, v4.14: copy_process() with dup_task_struct() and copy_mm()
(the one way a task is made: fork, a new thread, a new process), mm_alloc (mm_init
+ pgd_alloc), dup_mmap, get_task_mm/mm_access, mmput/__mmput and mmdrop with
check_mm and pgd_free.

Layer: this module sits at the mm level, above the mm core, like kernel/cgroup: as
kernel/fork.c does, it calls into mm (dup_mmap() copies VMAs and page tables,
mmput() runs exit_mmap()) and calls the cgroup fork hook. (Linux 6.15 moved
dup_mmap() to mm/mmap.c; the model follows 4.14, where it is here.)
"""

from __future__ import annotations

import errno

from thpsim.errors import KernelBug
from thpsim.fs.file import dup_fd, files_struct
from thpsim.kernel.cgroup.cgroup import cgroup_post_fork
from thpsim.kernel.locking import down_write, rw_semaphore, spinlock_t, up_write
from thpsim.kernel.ptrace import ptrace_may_access
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.sched_fair import (
    attach_numa_balancing,
    fork_numa_balancing_mm,
    init_numa_balancing,
)
from thpsim.kernel.task import ALL_CAPS, cred, task_struct
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

__all__ = [
    "CLONE_VM",
    "CLONE_FS",
    "CLONE_FILES",
    "CLONE_SIGHAND",
    "CLONE_THREAD",
    "mm_alloc",
    "dup_mmap",
    "get_task_mm",
    "mm_access",
    "mmput",
    "dup_task_struct",
    "copy_mm",
    "copy_process",
]

# include/uapi/linux/sched.h
CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_THREAD = 0x00010000


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
    fork_numa_balancing_mm(mm, oldmm)  # dup_mm()'s memcpy() of the mm_struct
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


def get_task_mm(task) -> mm_struct | None:
    """The task's mm with a user reference taken (mmget()), or None.

    Models: kernel/fork.c get_task_mm(): None when the task has no address space or is
    past exit_mm(). Simplified: exit_mm() leaves ``task.mm`` pointing at the mm (the API
    still shows a dead process's mm), so an mm that is torn down (``dead``) or has no
    users left counts as none. The caller drops the reference with :func:`mmput`.
    """
    mm = task.mm
    if mm is None or mm.dead or mm.mm_users <= 0:
        return None
    mm.mm_users += 1
    return mm


def mm_access(caller, task, mode: int) -> KernelPath[mm_struct | None | int]:
    """The mm of ``task`` for ``caller`` (``current``) to inspect, with a reference.

    Models: kernel/fork.c mm_access(), v4.14: get_task_mm(); unless the mm is the
    caller's own, ptrace_may_access(``mode``) must hold, else the reference is dropped
    (mmput()) and the answer is -EACCES. None when the task has no mm (4.14 returns
    NULL; later kernels -ESRCH). ``caller`` None is a kernel thread acting as root.
    Context: process (cred_guard_mutex in the kernel). Preempts: only if the task
    exited meanwhile and the dropped reference was the last.
    """
    mm = get_task_mm(task)
    if mm is None:
        return None
    if (caller is None or mm is not caller.mm) and not ptrace_may_access(caller, task, mode):
        yield from mmput(mm)
        return -errno.EACCES
    return mm


def dup_task_struct(orig, cpu: int) -> task_struct:
    """A new task_struct, a copy of ``orig`` (None: init_task) running on ``cpu``.

    Models: kernel/fork.c dup_task_struct() (arch_dup_task_struct() copies the whole
    struct) as far as the model's fields go: credentials and comm (copy_creds() shares
    the cred), the NUMA policy and interleave cursor (mpol_dup(): policies are
    immutable here, so the copy is shared), the cpuset masks. No pid, mm, thread
    group or signal_struct yet: copy_process() sets those. init_task runs as root
    with every capability, with the default policy and no cpuset limits.
    """
    if orig is None:
        return task_struct(0, 0, None, cpu, cred(0, ALL_CAPS), "swapper")
    tsk = task_struct(0, 0, None, cpu, orig.cred, orig.comm)
    tsk.mempolicy = orig.mempolicy
    tsk.il_prev = orig.il_prev
    tsk.mems_allowed = orig.mems_allowed
    tsk.cpus_allowed = orig.cpus_allowed
    return tsk


def copy_files(clone_flags: int, parent) -> files_struct:
    """Models: kernel/fork.c copy_files(): CLONE_FILES shares the parent's table
    (one more user), else dup_fd() copies it (each open file one reference more).
    Runs after copy_mm() here, not before: the model's copy_mm() fails with nothing
    to undo, so the order is not visible."""
    if parent is None or parent.files is None:
        return files_struct()
    if clone_flags & CLONE_FILES:
        parent.files.count += 1
        return parent.files
    return dup_fd(parent.files)


def copy_mm(ctx, clone_flags: int, tsk, oldmm) -> KernelPath[int]:
    """Give the new task its address space.

    Models: kernel/fork.c copy_mm(): none when the parent has none (a kernel thread
    forking: the child gets one at exec); CLONE_VM shares the parent's (mmget());
    else dup_mm(): mm_alloc() and dup_mmap(), whose failure drops the new mm
    (mmput()). Returns 0 or -ENOMEM.
    """
    if oldmm is None:
        return 0
    if clone_flags & CLONE_VM:
        oldmm.mm_users += 1  # mmget()
        tsk.mm = oldmm
        return 0
    try:
        mm = mm_alloc(ctx)
    except OSError:
        return -errno.ENOMEM
    mm.dumpable = oldmm.dumpable  # mm_init(): flags & MMF_INIT_MASK
    ret = yield from dup_mmap(mm, oldmm)
    if ret < 0:
        yield from mmput(mm)
        return ret
    tsk.mm = mm
    return 0


def copy_process(ctx, parent, clone_flags: int, cpu: int) -> KernelPath[task_struct | int]:
    """Make a task: fork(2), a new thread (clone(CLONE_VM | CLONE_THREAD ...)), or the
    first step of a new process started by the kernel.

    Models: kernel/fork.c copy_process() (called by _do_fork(), kernel_clone() since
    5.10), the parts the model has: dup_task_struct(), copy_mm(), the shared
    signal_struct with CLONE_THREAD (copy_signal()), alloc_pid(), the thread group
    (CLONE_THREAD joins ``parent``'s, else the child leads a new one), the pid table
    (attach_pid()) and cgroup_post_fork(). ``parent`` None is a kernel thread
    (kernel_init, which starts the first user process): the child has no mm until it
    execs. Runs as ``parent``; the child runs on ``cpu``.
    The open files: copy_files() (CLONE_FILES shares the table, else dup_fd());
    a kernel thread's child starts with a table of its own (init_files).
    Simplified: no fs, namespaces, scheduler state or ptrace; CLONE_THREAD
    without CLONE_VM | CLONE_SIGHAND is not refused (the API never asks for it).
    Returns: the child task, or -ENOMEM (nothing of it is left).
    """
    p = dup_task_struct(parent, cpu)
    numa = init_numa_balancing(ctx, None if parent is None else parent.mm)  # sched_fork()
    ret = yield from copy_mm(ctx, clone_flags, p, None if parent is None else parent.mm)
    if ret < 0:
        return ret
    p.files = copy_files(clone_flags, parent)
    pid = ctx.alloc_pid()
    p.pid = pid
    attach_numa_balancing(ctx, p, numa)
    if clone_flags & CLONE_THREAD:
        p.tgid = parent.tgid
        p.group = parent.group
        p.group.append(p)
        p.signal = parent.signal  # one signal_struct per thread group
    else:
        p.tgid = pid
        if p.mm is not None:
            p.mm.owner = p
    ctx.tasks[pid] = p
    cgroup_post_fork(ctx, parent, p)
    return p
