"""madvise: the advice Linux has for private anonymous memory.

Models: mm/madvise.c, v4.14 (madvise_behavior_valid, madvise_need_mmap_write,
madvise_vma, madvise_behavior, madvise_willneed, madvise_remove,
madvise_dontneed_single_vma, madvise_free_single_vma / madvise_free_page_range /
madvise_free_pte_range, hugepage_madvise in mm/khugepaged.c, ksm_madvise in
mm/ksm.c), 5.14's madvise_populate() (profile switch ``madvise_populate``), 5.4's
MADV_COLD / MADV_PAGEOUT (``madvise_cold_pageout``: madvise_cold(),
madvise_pageout(), madvise_cold_or_pageout_pte_range() in its 6.9+ form), 6.1's
MADV_COLLAPSE (``madvise_collapse``: mm/khugepaged.py), and 6.x's madvise_inject_error().

The flag advice (NORMAL, RANDOM, SEQUENTIAL, DONTFORK, DOFORK, WIPEONFORK,
KEEPONFORK, DONTDUMP, DODUMP, MERGEABLE, UNMERGEABLE, HUGEPAGE, NOHUGEPAGE) changes
vm_flags, splitting and merging VMAs as madvise_behavior() does; kernel/fork.py's
dup_mmap() acts on VM_DONTCOPY and VM_WIPEONFORK. VM_RAND_READ/VM_SEQ_READ steer
file readahead and VM_DONTDUMP core dumps, neither of which the model has: they
are only flags (shown in smaps' VmFlags). VM_MERGEABLE is only a flag too: KSM's
ksmd is not modelled (as on a machine with /sys/kernel/mm/ksm/run at its default
0, nothing is ever merged), so MADV_UNMERGEABLE has no KSM pages to break.
MADV_WILLNEED is 0 with nothing done (CONFIG_SWAP: force_swapin_readahead() finds
no swap entries; the model swaps nothing out). MADV_REMOVE is EINVAL (private
anonymous memory has no file to punch a hole in).
MADV_COLD clears the accessed bits of the range's exclusively mapped pages (PTE
and PMD), their PG_referenced and PG_young (smaps' Referenced drops), and moves
them to the inactive list (pgdeactivate). MADV_PAGEOUT clears PG_referenced and
PG_young and hands the pages to mm/vmscan.py's reclaim_pages(); the model has no
swap, so reclaim fails for every swap-backed anonymous page as it does on a
swapless kernel: nothing is unmapped, the data stays, each page goes back active
(pgactivate) and a THP is split on the way (the fallback to base pages); a clean
lazily freed page (MADV_FREE) needs no swap and is discarded (pglazyfreed). Both
split a THP the range covers only in part. MADV_COLLAPSE is mm/khugepaged.py's madvise_collapse():
the range's 4 KiB pages collapsed into THPs as khugepaged would, synchronously.
Not modelled, EINVAL in every profile although mainline has them:
MADV_DONTNEED_LOCKED (5.18), MADV_GUARD_INSTALL/REMOVE (6.13).

MADV_FREE walks its range with mm/pagewalk.py's walk_page_range(), its
``pmd_entry`` madvise_free_pte_range() as in the kernel, so it is preempted where
the kernel's walk is (the PTE lock, split_huge_page(), cond_resched() after each
PTE table), not per PMD step. MADV_DONTNEED is zap_page_range() (mm/memory.py), a
page-table loop of its own in the kernel too, not a page walk.

MADV_FREE marks pages clean, old and lazily freed (not swap-backed: pglazyfree
counts them once); only MADV_PAGEOUT's reclaim (mm/vmscan.py) discards a lazily
freed page that is still clean, so otherwise it keeps its data (Linux may return
either the old data or zeroes, as memory pressure decides). MADV_SOFT_OFFLINE and
MADV_HWPOISON go to madvise_inject_error(), which hands each page to
mm/memory_failure.py.
"""

from __future__ import annotations

import errno
import signal

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    pmd_mkold,
    pmd_none,
    pmd_pfn,
    pmd_present,
    pmd_trans_huge,
    pmd_young,
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
from thpsim.errors import BUS_MCEERR_AR, EHWPOISON, DeliveredSignal
from thpsim.kernel.entry import ULONG_MAX, ulong
from thpsim.kernel.locking import down_read, down_write, spin_lock, spin_unlock, up_read, up_write
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.task import CAP_SYS_ADMIN
from thpsim.mm import huge_memory
from thpsim.mm.filemap import folio_lock, folio_trylock, folio_unlock
from thpsim.mm.gup import faultin_vma_page_range, get_user_pages_fast
from thpsim.mm.internal import folio_pte_batch
from thpsim.mm.khugepaged import madvise_collapse
from thpsim.mm.memory import mmu_gather, tlb_finish_mmu, tlb_gather_mmu, zap_page_range
from thpsim.mm.memory_failure import (
    MF_ACTION_REQUIRED,
    MF_COUNT_INCREASED,
    MF_SW_SIMULATED,
    memory_failure,
    soft_offline_page,
)
from thpsim.mm.mm_types import (
    VM_DONTCOPY,
    VM_DONTDUMP,
    VM_DONTEXPAND,
    VM_HUGEPAGE,
    VM_HUGETLB,
    VM_IO,
    VM_LOCKED,
    VM_MAYSHARE,
    VM_MERGEABLE,
    VM_MIXEDMAP,
    VM_NOHUGEPAGE,
    VM_PFNMAP,
    VM_RAND_READ,
    VM_SEQ_READ,
    VM_SHARED,
    VM_SPECIAL,
    VM_WIPEONFORK,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.mmap import PAGE_ALIGN, split_vma_range, vma_merge_around
from thpsim.mm.page_flags import (
    F_dirty,
    F_head,
    F_lru,
    F_referenced,
    F_swapbacked,
    F_tail,
    F_young,
)
from thpsim.mm.pagewalk import mm_walk, mm_walk_ops, walk_page_range
from thpsim.mm.pgtable_generic import (
    Ptr,
    pmd_trans_unstable,
    pmdp_get,
    pmdp_invalidate,
    set_pmd_at,
)
from thpsim.mm.swap import deactivate_page, get_page, isolate_lru_page, put_page
from thpsim.mm.swapfile import page_trans_huge_map_swapcount
from thpsim.mm.vmscan import reclaim_pages
from thpsim.mm.vmstat import PGLAZYFREE
from thpsim.profiles import Profile

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
MADV_COLLAPSE = 25
MADV_HWPOISON = 100
MADV_SOFT_OFFLINE = 101

_M32 = 0xFFFF_FFFF

#: The advice 4.14's madvise_behavior_valid() accepts (CONFIG_KSM and
#: CONFIG_TRANSPARENT_HUGEPAGE on; HWPOISON/SOFT_OFFLINE go to sys_madvise()'s
#: memory-failure branch first).
_VALID_4_14 = frozenset((
    MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE,
    MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE,
    MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK,
    MADV_KEEPONFORK,
    MADV_SOFT_OFFLINE, MADV_HWPOISON,  # CONFIG_MEMORY_FAILURE
))


def madvise_behavior_valid(behavior: int, profile: Profile) -> bool:
    """Models: madvise_behavior_valid(), v4.14, 5.4's MADV_COLD/MADV_PAGEOUT
    (``madvise_cold_pageout``), 5.14's MADV_POPULATE_READ/WRITE
    (``madvise_populate``) and 6.1's MADV_COLLAPSE (``madvise_collapse``). Not
    modelled (EINVAL here, valid in mainline): the later advice (module docstring)."""
    if behavior in _VALID_4_14:
        return True
    if behavior in (MADV_COLD, MADV_PAGEOUT):
        return profile.madvise_cold_pageout
    if behavior == MADV_COLLAPSE:
        return profile.madvise_collapse
    return profile.madvise_populate and behavior in (MADV_POPULATE_READ, MADV_POPULATE_WRITE)


def madvise_need_mmap_write(behavior: int) -> bool:
    """Models: madvise_need_mmap_write(): mmap_lock for read for the advice that only
    reads or zaps the range (REMOVE, WILLNEED, DONTNEED, FREE; 5.4+ COLD, PAGEOUT;
    5.14+ the POPULATE advice; 6.1+ COLLAPSE), for write for the advice that changes
    vm_flags."""
    return behavior not in (MADV_REMOVE, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE,
                            MADV_COLD, MADV_PAGEOUT, MADV_COLLAPSE,
                            MADV_POPULATE_READ, MADV_POPULATE_WRITE)


def madvise_free_pte_range(pmd: Ptr, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """MADV_FREE's ``pmd_entry``: one PMD's part [addr, end) of the range.

    Models: madvise_free_pte_range(), v4.14 (mainline walks it the same way). A huge
    PMD goes to madvise_free_huge_pmd(); handled there, the walk goes on at once. A
    PMD migration entry (not trans-huge) is left by pmd_trans_unstable(). Otherwise,
    under the PTE lock, each exclusively mapped page is marked clean and old
    (PG_dirty cleared, pglazyfree counted); a PTE-mapped THP mapped once is split
    first (the lock dropped meanwhile, then the PTEs rescanned from that address); a
    THP mapped elsewhere too, and a shared page, are left alone.
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
    if pmd_trans_huge(pmdp_get(pmd)):
        if (yield from huge_memory.madvise_free_huge_pmd(tlb, vma, pmd, addr, end)):
            return 0  # goto next: no cond_resched()
    while True:
        # a PMD migration entry is unstable here (before C:84c3fc4: "bad pmd", B2)
        if pmd_trans_unstable(ctx, pmd):
            return 0
        v = pmdp_get(pmd)
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
            if pages.flags[pfn] & F_swapbacked:
                # mark_page_lazyfree(): a lazily freed page is no longer swap-backed;
                # reclaim may discard it while it stays clean (mm/vmscan.py)
                pages.flags[pfn] &= ~F_swapbacked & _M32
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


def can_madv_lru_vma(vma: vm_area_struct) -> bool:
    """Models: can_madv_lru_vma() (5.4): COLD and PAGEOUT refuse locked, hugetlb and
    PFN-mapped VMAs."""
    return not vma.vm_flags & (VM_LOCKED | VM_HUGETLB | VM_PFNMAP)


def _cold_or_pageout_folio(ctx, head: int, pageout: bool, folio_list: list[int]) -> None:
    """The tail of both loops of madvise_cold_or_pageout_pte_range(): PG_referenced and
    PG_young cleared; PAGEOUT isolates the folio for reclaim_pages(), COLD moves it to
    the inactive list (deactivate_page()). Simplified: no PG_workingset (the model
    has none; the kernel sets it on an active folio here)."""
    pages = ctx.pages
    pages.flags[head] &= ~(F_referenced | F_young) & _M32
    if pageout:
        if isolate_lru_page(ctx, head) == 0:
            folio_list.append(head)
    else:
        deactivate_page(ctx, head)


def madvise_cold_or_pageout_huge_pmd(pmd: Ptr, addr: int, end: int, walk: mm_walk,
                                     folio_list: list[int]) -> KernelPath[bool]:
    """The huge-PMD branch of madvise_cold_or_pageout_pte_range() (5.4, 6.x):
    returns True when the PMD was dealt with here, False when the THP was split
    and the PTE loop goes on over it (``regular_folio``).

    A huge zero PMD, a PMD migration entry and a THP mapped more than once are left
    alone. A THP the range covers only in part is split (split_huge_page(), the
    folio locked, the PMD lock dropped); if the split fails nothing more is done.
    A whole one: COLD clears the PMD's accessed bit (pmdp_invalidate, flushed),
    then _cold_or_pageout_folio().
    """
    pageout, tlb = walk.private
    vma = walk.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    ptl = yield from huge_memory.pmd_trans_huge_lock(pmd, vma)
    if ptl is None:
        return True  # no longer huge: return 0
    orig = pmdp_get(pmd)
    if huge_memory.is_huge_zero_pmd(ctx, orig) or not pmd_present(orig):
        spin_unlock(ptl)
        return True
    head = pmd_pfn(orig)
    pages = ctx.pages
    if pages.total_mapcount(head) != 1:  # "do not interfere with other mappings"
        spin_unlock(ptl)
        return True
    if end - addr != HPAGE_PMD_SIZE:
        get_page(ctx, head)
        spin_unlock(ptl)
        yield from folio_lock(ctx, head)
        err = yield from huge_memory.split_huge_page(ctx, head)
        folio_unlock(ctx, head)
        put_page(ctx, head)
        return bool(err)  # split: on to the PTE loop; not split: return 0
    if not pageout and pmd_young(orig):
        old = yield from pmdp_invalidate(vma, addr, pmd)
        set_pmd_at(mm, addr, pmd, pmd_mkold(old))
        tlb.track(addr, addr + HPAGE_PMD_SIZE)
    _cold_or_pageout_folio(ctx, head, pageout, folio_list)
    spin_unlock(ptl)
    return True


def madvise_cold_or_pageout_pte_range(pmd: Ptr, addr: int, end: int,
                                      walk: mm_walk) -> KernelPath[int]:
    """MADV_COLD's and MADV_PAGEOUT's ``pmd_entry``: one PMD's part [addr, end).

    Models: madvise_cold_or_pageout_pte_range(), 6.9+ (Ryan Roberts' "avoid split
    during MADV_PAGEOUT and MADV_COLD"): a huge PMD goes to
    madvise_cold_or_pageout_huge_pmd(). Under the PTE lock each normal page (not
    the zero page) is looked at: a large folio the range maps only in part
    (madvise_folio_pte_batch(): consecutive PTEs of consecutive pages) is split
    when mapped once and trylocked, the PTE lock dropped meanwhile, then the same
    address is looked at again; a folio not on the LRU or mapped more times than it
    has pages is left alone; otherwise COLD clears the accessed bit of its PTEs
    (flushed with the mmu_gather) and both go on in _cold_or_pageout_folio().
    PAGEOUT then hands what it isolated to mm/vmscan.py's reclaim_pages().
    Context: mmap_lock held for read; ``walk.private`` is (pageout, mmu_gather).
    Preempts: taking the locks, in the splits and reclaim, and at cond_resched().
    5.4..6.8 (``madvise_cold_pte_thp_batch`` off) split every PTE-mapped THP met
    when mapped once and trylocked, even one the range covers whole, and leave the
    rest of the PMD when they cannot. Simplified: no fatal_signal_pending() check,
    no SWAP_CLUSTER_MAX resched points (the walk's cond_resched() at the end only);
    PAGEOUT clears no accessed bit itself (as in the kernel: only the swap-out would
    unmap).
    """
    pageout, tlb = walk.private
    ctx = walk.mm.kernel
    pages = ctx.pages
    batch = ctx.profile.madvise_cold_pte_thp_batch
    folio_list: list[int] = []
    v = pmdp_get(pmd)
    if pmd_trans_huge(v) or is_swap_pmd(v):
        if (yield from madvise_cold_or_pageout_huge_pmd(pmd, addr, end, walk, folio_list)):
            if pageout:
                yield from reclaim_pages(ctx, folio_list)
            return 0
    while True:
        v = pmdp_get(pmd)
        if pmd_none(v) or pmd_trans_huge(v) or is_swap_pmd(v):
            break  # pte_offset_map_lock() fails
        t = ctx.mem.tables[table_entry_pfn(v)]
        yield from spin_lock(t.ptl)
        retry = stop = unlocked = False
        a = addr
        i = (addr >> PAGE_SHIFT) & 511
        while a < end:
            e = t[i]
            nr = 1
            if not pte_present(e) or pte_special(e):
                a += PAGE_SIZE
                i += 1
                continue
            pfn = pte_pfn(e)
            head = pages.compound_head(pfn)
            if pages.flags[head] & F_head and not batch:
                # 5.4..6.8: any PTE-mapped THP is split; a shared or locked one, or
                # a failed split, ends this PMD's part ("break")
                if pages.page_mapcount(pfn) != 1 or not folio_trylock(ctx, head):
                    stop = True
                    break
                get_page(ctx, head)
                spin_unlock(t.ptl)
                unlocked = True
                err = yield from huge_memory.split_huge_page(ctx, head)
                folio_unlock(ctx, head)
                put_page(ctx, head)
                retry, stop = not err, bool(err)
                addr = a
                break
            if pages.flags[head] & F_head:
                # madvise_folio_pte_batch(): consecutive PTEs of consecutive pages
                nr = folio_pte_batch(ctx, t, i, (end - a) >> PAGE_SHIFT)
                if nr < 1 << pages.order[head]:
                    # folio_maybe_mapped_shared(): some page of it mapped twice
                    if (page_trans_huge_map_swapcount(ctx, head) > 1
                            or not folio_trylock(ctx, head)):
                        a += nr * PAGE_SIZE  # shared, or locked: skip the batch
                        i += nr
                        continue
                    get_page(ctx, head)
                    spin_unlock(t.ptl)
                    err = yield from huge_memory.split_huge_page(ctx, head)
                    folio_unlock(ctx, head)
                    put_page(ctx, head)
                    retry = True
                    # split: look at the same PTE again; not split: past the batch
                    addr = a + (nr * PAGE_SIZE if err else 0)
                    break
            if (not pages.flags[head] & F_lru
                    or pages.total_mapcount(head) != 1 << pages.compound_order(head)):
                a += nr * PAGE_SIZE
                i += nr
                continue
            if not pageout:
                young = False
                for k in range(i, i + nr):
                    if pte_young(t[k]):
                        young = True
                        t[k] = pte_mkold(t[k])
                if young:
                    tlb.track(a, a + nr * PAGE_SIZE)
            _cold_or_pageout_folio(ctx, head, pageout, folio_list)
            a += nr * PAGE_SIZE
            i += nr
        if not retry:
            if not (stop and unlocked):  # a failed split left the PTE lock dropped
                spin_unlock(t.ptl)
            break
    if pageout:
        yield from reclaim_pages(ctx, folio_list)
    yield PREEMPT  # cond_resched()
    return 0


#: Models: cold_walk_ops and pageout_walk_ops (5.4; one ``pmd_entry`` for both).
cold_walk_ops = mm_walk_ops(pmd_entry=madvise_cold_or_pageout_pte_range)


def madvise_cold_or_pageout(vma: vm_area_struct, start: int, end: int,
                            behavior: int) -> KernelPath[int]:
    """Models: madvise_cold() and madvise_pageout() (5.4, 6.x): -EINVAL unless
    can_madv_lru_vma(); then, under an mmu_gather, walk_page_range() over [start,
    end) with cold_walk_ops. Context: mmap_lock held for read.
    Simplified: no lru_add_drain() (no pagevecs); PAGEOUT's file-VMA rule
    (can_do_file_pageout()) is moot: only anonymous memory is modelled."""
    if not can_madv_lru_vma(vma):
        return -errno.EINVAL
    tlb = tlb_gather_mmu(vma.vm_mm, start, end)
    yield from walk_page_range(vma.vm_mm, start, end, cold_walk_ops,
                               (behavior == MADV_PAGEOUT, tlb))
    yield from tlb_finish_mmu(tlb)
    return 0


def ksm_madvise(vma: vm_area_struct, behavior: int, vm_flags: int) -> int:
    """The VMA's new flags for MADV_MERGEABLE / MADV_UNMERGEABLE.

    Models: mm/ksm.c ksm_madvise(), v4.14: MERGEABLE is ignored on a VMA already
    mergeable or shared, PFN/IO/DONTEXPAND/hugetlb/mixed; else VM_MERGEABLE is set.
    UNMERGEABLE clears it. Simplified: no ksmd (the default ``run`` 0), so no
    __ksm_enter() of the mm (its only error is -ENOMEM from a slab allocation) and
    no KSM pages for unmerge_ksm_pages() to break."""
    if behavior == MADV_MERGEABLE:
        if vm_flags & (VM_MERGEABLE | VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO
                       | VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP):
            return vm_flags  # "just ignore the advice"
        return vm_flags | VM_MERGEABLE
    return vm_flags & ~VM_MERGEABLE


def madvise_behavior(mm: mm_struct, vma: vm_area_struct, start: int, end: int,
                     behavior: int) -> KernelPath[int]:
    """The flag advice on one VMA's part [start, end) of the range.

    Models: madvise_behavior(), v4.14 (madvise_vma_behavior() + madvise_update_vma()
    in 6.x): the new vm_flags; -EINVAL for DOFORK on VM_IO, WIPEONFORK on a file or
    shared VMA, DODUMP on a VM_SPECIAL one; unchanged flags do nothing; else the VMA
    is split to [start, end), its flags set, and merged with its neighbours.
    Simplified: the split comes before the merge (the kernel tries vma_merge() first;
    the VMAs that result are the same).
    Context: mmap_lock held for write. Preempts: in the split and the merge.
    """
    new_flags = vma.vm_flags
    if behavior == MADV_NORMAL:
        new_flags &= ~(VM_RAND_READ | VM_SEQ_READ)
    elif behavior == MADV_SEQUENTIAL:
        new_flags = (new_flags & ~VM_RAND_READ) | VM_SEQ_READ
    elif behavior == MADV_RANDOM:
        new_flags = (new_flags & ~VM_SEQ_READ) | VM_RAND_READ
    elif behavior == MADV_DONTFORK:
        new_flags |= VM_DONTCOPY
    elif behavior == MADV_DOFORK:
        if vma.vm_flags & VM_IO:
            return -errno.EINVAL
        new_flags &= ~VM_DONTCOPY
    elif behavior == MADV_WIPEONFORK:
        if vma.vm_flags & VM_SHARED:  # "only supported on anonymous memory"
            return -errno.EINVAL
        new_flags |= VM_WIPEONFORK
    elif behavior == MADV_KEEPONFORK:
        new_flags &= ~VM_WIPEONFORK
    elif behavior == MADV_DONTDUMP:
        new_flags |= VM_DONTDUMP
    elif behavior == MADV_DODUMP:
        if new_flags & VM_SPECIAL:
            return -errno.EINVAL
        new_flags &= ~VM_DONTDUMP
    elif behavior in (MADV_MERGEABLE, MADV_UNMERGEABLE):
        new_flags = ksm_madvise(vma, behavior, new_flags)
    elif behavior == MADV_HUGEPAGE:  # hugepage_madvise()
        new_flags = (new_flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE
    elif behavior == MADV_NOHUGEPAGE:
        new_flags = (new_flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE
    if new_flags == vma.vm_flags:
        return 0
    parts = yield from split_vma_range(mm, start, end)
    for p in parts:
        p.vm_flags = new_flags
        yield from vma_merge_around(mm, p)
    return 0


def madvise_populate(mm: mm_struct, vma: vm_area_struct | None, start: int, end: int,
                     behavior: int) -> KernelPath[int]:
    """MADV_POPULATE_READ / MADV_POPULATE_WRITE: fault [start, end) in, readable or
    writable, as a read or write access would.

    Models: madvise_populate(), 5.14 (called per VMA from madvise_vma()), 6.9+
    (``madvise_populate_whole_range``: called once for the whole range, ``vma`` None,
    a hole ends it with -ENOMEM): per VMA faultin_vma_page_range(); mmap_lock dropped
    by a fault is taken again and the VMA looked up again (a hole then is -ENOMEM).
    Errors as the kernel maps them:
    -EINVAL for an incompatible VMA or permissions (PROT_NONE, a write to a
    read-only mapping), -EHWPOISON for a poisoned page, -EFAULT for SIGBUS/SIGSEGV,
    -ENOMEM otherwise. Context: mmap_lock held for read (dropped and retaken).
    Preempts: in the faults and taking mmap_lock again.
    """
    write = behavior == MADV_POPULATE_WRITE
    locked = [True]
    cur: vm_area_struct | None = vma
    while start < end:
        if cur is None or start >= cur.vm_end:
            cur = mm.find_vma(start)
            if cur is None or start < cur.vm_start:
                return -errno.ENOMEM
        tmp_end = min(end, cur.vm_end)
        pages = yield from faultin_vma_page_range(cur, start, tmp_end, write, locked)
        if not locked[0]:
            yield from down_read(mm.mmap_lock)
            locked[0] = True
            cur = None
        if pages < 0:
            if pages in (-errno.EINVAL, -EHWPOISON, -errno.EFAULT):
                return pages
            return -errno.ENOMEM
        start += pages * PAGE_SIZE
    return 0


def madvise_vma(mm: mm_struct, vma, start: int, end: int, behavior: int) -> KernelPath[int]:
    """Models: madvise_vma(), v4.14 (5.4: + COLD, PAGEOUT; 5.14: + POPULATE_*; 6.1:
    + COLLAPSE): one VMA's part of the range."""
    if behavior == MADV_REMOVE:
        # madvise_remove(): VM_LOCKED, then no vm_file: -EINVAL either way here
        return -errno.EINVAL
    if behavior == MADV_WILLNEED:
        # madvise_willneed(), CONFIG_SWAP, no vm_file: force_swapin_readahead() finds
        # no swap entry (the model swaps nothing out)
        return 0
    if behavior in (MADV_POPULATE_READ, MADV_POPULATE_WRITE):
        return (yield from madvise_populate(mm, vma, start, end, behavior))
    if behavior == MADV_DONTNEED:
        if vma.vm_flags & (VM_LOCKED | VM_PFNMAP):
            return -errno.EINVAL
        yield from zap_page_range(vma, start, end - start,
                                  reclaim_pt=mm.kernel.profile.madvise_dontneed_reclaim_pt)
        return 0
    if behavior in (MADV_COLD, MADV_PAGEOUT):
        return (yield from madvise_cold_or_pageout(vma, start, end, behavior))
    if behavior == MADV_COLLAPSE:
        return (yield from madvise_collapse(vma, start, end))
    if behavior == MADV_FREE:
        if vma.vm_flags & (VM_LOCKED | VM_PFNMAP):
            return -errno.EINVAL
        return (yield from madvise_free_single_vma(vma, start, end))
    return (yield from madvise_behavior(mm, vma, start, end, behavior))


def madvise_should_skip(start: int, len_in: int, behavior: int,
                        profile: Profile) -> int | None:
    """The argument checks of madvise(2), before any lock: the return value when the
    call ends here (-EINVAL, or 0 for an empty range), None when it goes on.

    Models: mm/madvise.c madvise_should_skip() (mainline; inline in v4.14's
    SYSCALL madvise): madvise_behavior_valid(), start page aligned, ``len_in``
    rounded up in unsigned long arithmetic (a length near 2**64 wraps to 0: EINVAL),
    the end wrapping past 2**64 (EINVAL), an empty range (0). ``start`` and
    ``len_in`` are already unsigned (sys_madvise()).
    """
    if not madvise_behavior_valid(behavior, profile):
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
    skip = madvise_should_skip(start, len_in, behavior, mm.kernel.profile)
    if skip is not None:
        return skip
    end = start + PAGE_ALIGN(len_in)
    if (behavior in (MADV_POPULATE_READ, MADV_POPULATE_WRITE)
            and mm.kernel.profile.madvise_populate_whole_range):
        # 6.9+: madvise_populate() walks the range itself, in order
        return (yield from madvise_populate(mm, None, start, end, behavior))
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
    sig_addr = sig_lsb = 0
    ret = 0
    while start < end:
        found: list[int] = []
        ret = yield from get_user_pages_fast(task.mm, start, 1, 0, found)
        if ret != 1:
            break
        pfn = found[0]
        head = pages.compound_head(pfn)
        size = PAGE_SIZE << pages.compound_order(head)
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
                # __add_to_kill(): tk->size_shift = folio_shift() of the page's folio
                # now (4.14: compound_order(compound_head(p)) + PAGE_SHIFT): a THP
                # memory_failure() could not split keeps its 2 MiB
                sig_lsb = PAGE_SHIFT + pages.compound_order(pages.compound_head(pfn))
            if ret == -errno.EOPNOTSUPP:
                ret = 0
        if ret:
            break
        start += size
    if killed:  # queued by force_sig_mceerr(): delivered whatever madvise returns
        raise DeliveredSignal(signal.SIGBUS, BUS_MCEERR_AR, sig_addr, sig_lsb)
    return ret


def sys_madvise(mm: mm_struct, start: int, len_in: int, behavior: int) -> KernelPath[int]:
    """Models: SYSCALL_DEFINE3(madvise): mmap_lock as madvise_need_mmap_write() says.

    MADV_SOFT_OFFLINE / MADV_HWPOISON (CONFIG_MEMORY_FAILURE) go to
    madvise_inject_error() after the argument checks (madvise_should_skip()), without
    mmap_lock, over [start, start + len_in). ``start`` and ``len_in`` are unsigned."""
    ctx = mm.kernel
    if ctx.cost is not None:  # modeled time: the system call's entry and exit
        ctx.cost.syscall(ctx.smp_processor_id())
    start, len_in = ulong(start), ulong(len_in)
    # ---- memory failure (mm/memory_failure.py)
    if behavior in (MADV_SOFT_OFFLINE, MADV_HWPOISON):
        skip = madvise_should_skip(start, len_in, behavior, mm.kernel.profile)
        if skip is not None:
            return skip
        return (yield from madvise_inject_error(mm.kernel.current, start, start + len_in,
                                                behavior))
    # ---- end memory failure
    write = madvise_need_mmap_write(behavior)
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
