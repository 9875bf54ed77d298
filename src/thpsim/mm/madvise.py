"""madvise: MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE.

Models: mm/madvise.c, v4.14 (madvise_behavior_valid, madvise_vma,
madvise_dontneed_single_vma, madvise_free_single_vma / madvise_free_page_range /
madvise_free_pte_range, hugepage_madvise in mm/khugepaged.c), and 6.x's
madvise_inject_error().

MADV_FREE walks its range with mm/pagewalk.py's walk_page_range(), its
``pmd_entry`` madvise_free_pte_range() as in the kernel, so it is preempted where
the kernel's walk is (the PTE lock, split_huge_page(), cond_resched() after each
PTE table), not per PMD step. MADV_DONTNEED is zap_page_range() (mm/memory.py), a
page-table loop of its own in the kernel too, not a page walk.

Simplified: MADV_FREE marks pages clean and old and counts pglazyfree; there is
no reclaim, so a lazily freed page keeps its data (Linux may return either the
old data or zeroes). MADV_SOFT_OFFLINE and MADV_HWPOISON go to
madvise_inject_error(), which hands each page to mm/memory_failure.py.
"""

from __future__ import annotations

import errno
import signal

from thpsim.arch.x86_64.pgtable import (
    PAGE_SHIFT,
    PAGE_SIZE,
    pmd_none,
    pmd_trans_huge,
    pte_dirty,
    pte_mkclean,
    pte_mkold,
    pte_pfn,
    pte_present,
    pte_special,
    pte_young,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.errors import BUS_MCEERR_AR, DeliveredSignal
from thpsim.kernel.entry import ULONG_MAX, ulong
from thpsim.kernel.locking import down_read, down_write, spin_lock, spin_unlock, up_read, up_write
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.task import CAP_SYS_ADMIN
from thpsim.mm import huge_memory
from thpsim.mm.filemap import folio_trylock, folio_unlock
from thpsim.mm.gup import get_user_pages_fast
from thpsim.mm.memory import mmu_gather, tlb_finish_mmu, tlb_gather_mmu, zap_page_range
from thpsim.mm.memory_failure import (
    MF_ACTION_REQUIRED,
    MF_COUNT_INCREASED,
    MF_SW_SIMULATED,
    memory_failure,
    soft_offline_page,
)
from thpsim.mm.mm_types import (
    VM_HUGEPAGE,
    VM_LOCKED,
    VM_NOHUGEPAGE,
    VM_PFNMAP,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.mmap import PAGE_ALIGN, split_vma_range, vma_merge_around
from thpsim.mm.page_flags import F_dirty, F_head, F_tail
from thpsim.mm.pagewalk import mm_walk, mm_walk_ops, walk_page_range
from thpsim.mm.pgtable_generic import Ptr, pmdp_get
from thpsim.mm.swap import get_page, put_page
from thpsim.mm.vmstat import PGLAZYFREE

# include/uapi/asm-generic/mman-common.h
MADV_NORMAL = 0
MADV_RANDOM = 1
MADV_SEQUENTIAL = 2
MADV_WILLNEED = 3
MADV_DONTNEED = 4
MADV_FREE = 8
MADV_REMOVE = 9
MADV_DONTFORK = 10
MADV_DOFORK = 11
MADV_MERGEABLE = 12
MADV_UNMERGEABLE = 13
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_DONTDUMP = 16
MADV_DODUMP = 17
MADV_WIPEONFORK = 18
MADV_KEEPONFORK = 19
MADV_COLD = 20
MADV_PAGEOUT = 21
MADV_POPULATE_READ = 22
MADV_POPULATE_WRITE = 23
MADV_HWPOISON = 100
MADV_SOFT_OFFLINE = 101

_M32 = 0xFFFF_FFFF

#: The advice values this model carries out.
SUPPORTED = (MADV_NORMAL, MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE)


def madvise_free_pte_range(pmd: Ptr, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """MADV_FREE's ``pmd_entry``: one PMD's part [addr, end) of the range.

    Models: madvise_free_pte_range(), v4.14 (mainline walks it the same way). A huge
    PMD (or PMD migration entry) goes to madvise_free_huge_pmd(); handled there, the
    walk goes on at once. Otherwise, under the PTE lock, each exclusively mapped page
    is marked clean and old (PG_dirty cleared, pglazyfree counted); a PTE-mapped THP
    mapped once is split first (the lock dropped meanwhile, then the PTEs rescanned
    from that address); a THP mapped elsewhere too, and a shared page, are left alone.
    Context: mmap_lock held for read; ``walk.private`` is the mmu_gather.
    Preempts: in madvise_free_huge_pmd(), taking the PTE lock, in split_huge_page(),
    and at cond_resched() after the PTE lock is dropped: the only preemption point
    of the walk itself (a hole, or a huge PMD freed in place, has none).
    Simplified: no swap entries (nothing is swapped out), no LRU deactivation
    (mark_page_lazyfree()/deactivate_page(): the model has no LRU lists).
    """
    tlb = walk.private
    vma = walk.vma
    ctx = walk.mm.kernel
    pages = ctx.pages
    v = pmdp_get(pmd)
    if pmd_trans_huge(v) or is_swap_pmd(v):
        if (yield from huge_memory.madvise_free_huge_pmd(tlb, vma, pmd, addr, end)):
            return 0  # goto next: no cond_resched()
    while True:
        v = pmdp_get(pmd)
        if pmd_none(v) or pmd_trans_huge(v) or is_swap_pmd(v):
            return 0  # pmd_trans_unstable()
        t = ctx.mem.tables[table_entry_pfn(v)]
        yield from spin_lock(t.ptl)
        retry = False
        nr = 0
        i = (addr >> PAGE_SHIFT) & 511
        for a in range(addr, end, PAGE_SIZE):
            e = t[i]
            i += 1
            if not pte_present(e) or pte_special(e):
                continue
            pfn = pte_pfn(e)
            if pages.flags[pfn] & (F_head | F_tail):
                head = pages.compound_head(pfn)
                if pages.page_mapcount(pfn) != 1:
                    continue
                get_page(ctx, head)
                if not folio_trylock(ctx, head):
                    put_page(ctx, head)
                    continue
                spin_unlock(t.ptl)
                yield from huge_memory.split_huge_page(ctx, head)
                folio_unlock(ctx, head)
                put_page(ctx, head)
                retry = True
                addr = a
                break
            if pages.page_mapcount(pfn) != 1:
                continue
            pages.flags[pfn] &= ~F_dirty & _M32
            if pte_young(e) or pte_dirty(e):
                t[i - 1] = pte_mkclean(pte_mkold(e))
                tlb.track(a, a + PAGE_SIZE)
            nr += 1
        if not retry:
            spin_unlock(t.ptl)
            ctx.vmstat.count_vm_events(PGLAZYFREE, nr)
            yield PREEMPT  # cond_resched()
            return 0


#: Models: madvise_free_walk_ops (5.4+; 4.14's struct mm_walk free_walk).
madvise_free_walk_ops = mm_walk_ops(pmd_entry=madvise_free_pte_range)


def madvise_free_page_range(tlb: mmu_gather, vma: vm_area_struct, addr: int,
                            end: int) -> KernelPath[None]:
    """Models: madvise_free_page_range(), v4.14 (inlined into madvise_free_single_vma()
    in 5.4+): walk_page_range() with madvise_free_walk_ops, the mmu_gather as
    ``private``. Simplified: no tlb_start_vma()/tlb_end_vma() (no cache flushing on
    x86). Preempts: in madvise_free_pte_range() only."""
    yield from walk_page_range(vma.vm_mm, addr, end, madvise_free_walk_ops, tlb)


def madvise_free_single_vma(vma: vm_area_struct, start: int, end: int) -> KernelPath[int]:
    """Models: madvise_free_single_vma(), v4.14: an anonymous VMA's [start, end) through
    madvise_free_page_range(), then one TLB flush for what changed.
    Context: mmap_lock held for read. Returns: 0 or -EINVAL (not anonymous, VM_PFNMAP).
    Simplified: no mmu notifiers, no lru_add_drain(), no update_hiwater_rss()."""
    if not vma.vma_is_anonymous() or vma.vm_flags & VM_PFNMAP:
        return -errno.EINVAL
    tlb = tlb_gather_mmu(vma.vm_mm, start, end)
    yield from madvise_free_page_range(tlb, vma, start, end)
    yield from tlb_finish_mmu(tlb)
    return 0


def madvise_vma(mm: mm_struct, vma, start: int, end: int, behavior: int) -> KernelPath[int]:
    """Models: madvise_vma(): one VMA's part of the range."""

    if behavior == MADV_DONTNEED:
        if vma.vm_flags & (VM_LOCKED | VM_PFNMAP):
            return -errno.EINVAL
        yield from zap_page_range(vma, start, end - start)
        return 0
    if behavior == MADV_FREE:
        if vma.vm_flags & (VM_LOCKED | VM_PFNMAP):
            return -errno.EINVAL
        return (yield from madvise_free_single_vma(vma, start, end))
    if behavior in (MADV_HUGEPAGE, MADV_NOHUGEPAGE):
        # hugepage_madvise() + madvise_behavior()'s split/merge
        parts = yield from split_vma_range(mm, start, end)
        for p in parts:
            if behavior == MADV_HUGEPAGE:
                p.vm_flags = (p.vm_flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE
            else:
                p.vm_flags = (p.vm_flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE
            yield from vma_merge_around(mm, p)
        return 0
    return 0  # MADV_NORMAL


def madvise_should_skip(start: int, len_in: int, behavior: int) -> int | None:
    """The argument checks of madvise(2), before any lock: the return value when the
    call ends here (-EINVAL, or 0 for an empty range), None when it goes on.

    Models: mm/madvise.c madvise_should_skip() (mainline; inline in v4.14's
    SYSCALL madvise): madvise_behavior_valid(), start page aligned, ``len_in``
    rounded up in unsigned long arithmetic (a length near 2**64 wraps to 0: EINVAL),
    the end wrapping past 2**64 (EINVAL), an empty range (0). ``start`` and
    ``len_in`` are already unsigned (sys_madvise()).
    """
    if behavior not in SUPPORTED and behavior not in (MADV_SOFT_OFFLINE, MADV_HWPOISON):
        return -errno.EINVAL
    if start & (PAGE_SIZE - 1):
        return -errno.EINVAL
    length = PAGE_ALIGN(len_in)
    if len_in and not length:
        return -errno.EINVAL
    end = (start + length) & ULONG_MAX
    if end < start:
        return -errno.EINVAL
    if end == start:
        return 0
    return None


def do_madvise(mm: mm_struct, start: int, len_in: int, behavior: int) -> KernelPath[int]:
    """Models: mm/madvise.c SYSCALL madvise, v4.14. Returns 0 or -errno
    (-ENOMEM for a hole, after applying the advice to the mapped parts)."""
    skip = madvise_should_skip(start, len_in, behavior)
    if skip is not None:
        return skip
    end = start + PAGE_ALIGN(len_in)
    unmapped_error = 0
    vma = mm.find_vma(start)
    while True:
        # still start < end
        if vma is None:
            return -errno.ENOMEM
        if vma.vm_start > start:  # a hole: advise the mapped parts, then -ENOMEM
            unmapped_error = -errno.ENOMEM
            start = vma.vm_start
            if start >= end:
                return unmapped_error
        s = max(start, vma.vm_start)
        e = min(end, vma.vm_end)
        nxt_start = vma.vm_end
        err = yield from madvise_vma(mm, vma, s, e, behavior)
        if err:
            return err
        start = nxt_start
        if start >= end:
            return unmapped_error
        vma = mm.find_vma(start)


def madvise_inject_error(task, start: int, end: int, behavior: int) -> KernelPath[int]:
    """madvise(MADV_SOFT_OFFLINE / MADV_HWPOISON) over [start, end).

    Models: mm/madvise.c madvise_inject_error(), 6.x: CAP_SYS_ADMIN, then per
    position a read-only get_user_pages_fast() (a reference on the folio, the zero
    pages too: they are refused later as unhandlable); the step is the size of the
    folio found there, measured before offlining (a THP advances 2 MiB, so one 4 KiB
    page of it is offlined).
    The first error ends the call.
    Context: no locks held. Preempts: in GUP and the offlining.
    Returns: 0 or -errno. Raises: DeliveredSignal(SIGBUS, BUS_MCEERR_AR) for
    MADV_HWPOISON on the caller's own page when the era passes MF_ACTION_REQUIRED
    (``madvise_hwpoison_action_required``; force_sig_mceerr(), delivered on the way
    back to user space, the call's error or not: raised here after every lock is
    released).
    """
    if not task.cred.capable(CAP_SYS_ADMIN):
        return -errno.EPERM
    ctx = task.mm.kernel
    pages = ctx.pages
    killed: list[int] = []
    sig_addr = 0
    ret = 0
    while start < end:
        found: list[int] = []
        ret = yield from get_user_pages_fast(task.mm, start, 1, 0, found)
        if ret != 1:
            break
        pfn = found[0]
        head = pages.compound_head(pfn)
        size = PAGE_SIZE << (pages.order[head] if pages.flags[head] & F_head else 0)
        if behavior == MADV_SOFT_OFFLINE:
            ctx.printk(f"Soft offlining pfn {pfn:#x} at process virtual address {start:#x}")
            ret = yield from soft_offline_page(ctx, pfn, MF_COUNT_INCREASED)
        else:
            ctx.printk(f"Injecting memory failure for pfn {pfn:#x} at process virtual "
                      f"address {start:#x}")
            n = len(killed)
            action = MF_ACTION_REQUIRED if ctx.profile.madvise_hwpoison_action_required else 0
            ret = yield from memory_failure(
                ctx, pfn, action | MF_COUNT_INCREASED | MF_SW_SIMULATED, killed)
            if len(killed) > n and not sig_addr:
                sig_addr = start
            if ret == -errno.EOPNOTSUPP:
                ret = 0
        if ret:
            break
        start += size
    if killed:  # queued by force_sig_mceerr(): delivered whatever madvise returns
        raise DeliveredSignal(signal.SIGBUS, BUS_MCEERR_AR, sig_addr)
    return ret


def sys_madvise(mm: mm_struct, start: int, len_in: int, behavior: int) -> KernelPath[int]:
    """Models: SYSCALL_DEFINE3(madvise): mmap_lock read for DONTNEED/FREE, write otherwise.

    MADV_SOFT_OFFLINE / MADV_HWPOISON (CONFIG_MEMORY_FAILURE) go to
    madvise_inject_error() after the argument checks (madvise_should_skip()), without
    mmap_lock, over [start, start + len_in). ``start`` and ``len_in`` are unsigned."""
    start, len_in = ulong(start), ulong(len_in)
    # ---- memory failure (mm/memory_failure.py)
    if behavior in (MADV_SOFT_OFFLINE, MADV_HWPOISON):
        skip = madvise_should_skip(start, len_in, behavior)
        if skip is not None:
            return skip
        return (yield from madvise_inject_error(mm.kernel.current, start, start + len_in,
                                                behavior))
    # ---- end memory failure
    write = behavior not in (MADV_DONTNEED, MADV_FREE)
    if write:
        yield from down_write(mm.mmap_lock)
    else:
        yield from down_read(mm.mmap_lock)
    try:
        return (yield from do_madvise(mm, start, len_in, behavior))
    finally:
        if write:
            up_write(mm.mmap_lock)
        else:
            up_read(mm.mmap_lock)
