"""Transparent huge pages: PMD faults, COW, zap, fork, split.

Models: mm/huge_memory.c, v4.14 (with the v3 series' migration-entry handling
as merged), the 5.8+ THP COW behind ``thp_cow_copies_huge``.

A PMD here is one of (§1.4 of the notes): none; a PTE-table pointer; a huge
PMD (``pmd_trans_huge``); an invalidated huge PMD (P clear, PSE set: the split
and migration windows); a PMD migration entry (``is_swap_pmd``).

Simplified:
    * The huge zero page is allocated once and never freed (no shrinker, no
      per-mm reference); mapping it takes no page reference.
    * When the 4.14 THP COW cannot allocate a new THP it splits the PMD and
      falls back to 4 KiB COW (the 5.8+ way) instead of copying into 512 base
      pages (do_huge_pmd_wp_page_fallback).
    * No khugepaged (collapse).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from thpsim.arch.x86_64.pgtable import (
    _PAGE_DIRTY,
    _PAGE_SOFT_DIRTY,
    HPAGE_PMD_MASK,
    HPAGE_PMD_NR,
    HPAGE_PMD_ORDER,
    HPAGE_PMD_SIZE,
    PAGE_MASK,
    PAGE_SIZE,
    mk_huge_pmd,
    mk_table_entry,
    pfn_pte,
    pmd_devmap,
    pmd_dirty,
    pmd_mkdirty,
    pmd_mkold,
    pmd_mksoft_dirty,
    pmd_mkwrite,
    pmd_mkyoung,
    pmd_modify,
    pmd_none,
    pmd_pfn,
    pmd_present,
    pmd_protnone,
    pmd_soft_dirty,
    pmd_trans_huge,
    pmd_write,
    pmd_wrprotect,
    pmd_young,
    pte_mkdirty,
    pte_mkold,
    pte_mksoft_dirty,
    pte_mkspecial,
    pte_mkwrite,
    pte_mkyoung,
    pte_wrprotect,
)
from thpsim.arch.x86_64.swapops import (
    SWP_MIG_DIRTY,
    SWP_MIG_YOUNG,
    is_swap_pmd,
)
from thpsim.errors import KernelBug
from thpsim.include.asm_generic.tlb import mmu_gather, tlb_remove_page
from thpsim.kernel.locking import (
    down_read,
    down_write,
    spin_lock,
    spin_unlock,
    spinlock_t,
    up_read,
    up_write,
)
from thpsim.kernel.sched import PREEMPT, KernelPath, run_to_completion
from thpsim.kernel.sched_fair import (
    LAST_CPUPID_MASK,
    NUMA_BALANCING_NORMAL,
    TNF_FAULT_LOCAL,
    TNF_MIGRATE_FAIL,
    TNF_MIGRATED,
    TNF_NO_GROUP,
    folio_last_cpupid,
    folio_use_access_time,
    folio_xchg_access_time,
    jiffies_to_msecs,
    node_is_toptier,
    numab,
    task_numa_fault,
    vma_set_access_pid_bit,
)
from thpsim.kernel.tlbflush import flush_pmd_tlb_range
from thpsim.mm.filemap import folio_lock, folio_test_locked, folio_trylock, folio_unlock
from thpsim.mm.gfp import (
    __GFP_COMP,
    __GFP_DIRECT_RECLAIM,
    __GFP_KSWAPD_RECLAIM,
    __GFP_MOVABLE,
    __GFP_NORETRY,
    __GFP_ZERO,
    GFP_TRANSHUGE,
    GFP_TRANSHUGE_LIGHT,
)
from thpsim.mm.mempolicy import alloc_pages_vma, mpol_misplaced
from thpsim.mm.mm_types import (
    MM_ANONPAGES,
    VM_FAULT_FALLBACK,
    VM_FAULT_OOM,
    VM_FAULT_WRITE,
    VM_HUGEPAGE,
    VM_LOCKED,
    VM_NOHUGEPAGE,
    VM_SOFTDIRTY,
    VM_WRITE,
    maybe_mkwrite,
    mm_struct,
    vm_area_struct,
    vma_address,
)
from thpsim.mm.page_alloc import NUMA_NO_NODE, __alloc_pages, page_zone
from thpsim.mm.page_flags import (
    F_active,
    F_anon_exclusive,
    F_dirty,
    F_double_map,
    F_head,
    F_idle,
    F_locked,
    F_lru,
    F_mlocked,
    F_referenced,
    F_swapbacked,
    F_tail,
    F_unevictable,
    F_uptodate,
    F_young,
)
from thpsim.mm.pgtable_generic import (
    Ptr,
    lookup_pmd,
    pgtable_alloc,
    pgtable_free,
    pgtable_trans_huge_deposit,
    pgtable_trans_huge_withdraw,
    pmd_lock,
    pmdp_get,
    pmdp_huge_clear_flush,
    pmdp_huge_get_and_clear,
    pmdp_invalidate,
    pmdp_set_access_flags,
    set_pmd_at,
)
from thpsim.mm.rmap import (
    anon_vma_prepare,
    deferred_split_huge_page,
    page_add_anon_rmap,
    page_add_new_anon_rmap,
    page_anon_vma,
    page_dup_rmap,
    page_remove_rmap,
    try_to_migrate,
)
from thpsim.mm.swap import get_page, lru_cache_add_active_or_unevictable, put_page
from thpsim.mm.swapfile import reuse_swap_page
from thpsim.mm.vmstat import (
    NR_ANON_MAPPED,
    NR_ANON_THPS,
    NUMA_HINT_FAULTS,
    NUMA_HINT_FAULTS_LOCAL,
    PGLAZYFREE,
    THP_FAULT_ALLOC,
    THP_FAULT_FALLBACK,
    THP_SPLIT_PAGE,
    THP_SPLIT_PAGE_FAILED,
    THP_SPLIT_PMD,
    THP_ZERO_PAGE_ALLOC,
    THP_ZERO_PAGE_ALLOC_FAILED,
)

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext
    from thpsim.mm.memory import vm_fault

_M32 = 0xFFFF_FFFF


# ---------------------------------------------------------------- policy
def transparent_hugepage_enabled(vma: vm_area_struct) -> bool:
    """Models: include/linux/huge_mm.h transparent_hugepage_enabled(), v4.14."""
    if vma.vm_flags & VM_NOHUGEPAGE:
        return False
    mode = vma.vm_mm.kernel.thp.enabled
    if mode == "always":
        return True
    if mode == "madvise":
        return vma.vm_flags & VM_HUGEPAGE != 0
    return False


def transhuge_vma_suitable(vma: vm_area_struct, haddr: int) -> bool:
    return haddr >= vma.vm_start and haddr + HPAGE_PMD_SIZE <= vma.vm_end


def alloc_hugepage_direct_gfpmask(vma: vm_area_struct) -> int:
    """Models: alloc_hugepage_direct_gfpmask(), v4.14 (the defrag knob)."""
    madvised = vma.vm_flags & VM_HUGEPAGE != 0
    defrag = vma.vm_mm.kernel.thp.defrag
    if defrag == "always":
        return GFP_TRANSHUGE | (0 if madvised else __GFP_NORETRY)
    if defrag == "defer":
        return GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM
    if defrag == "defer+madvise":
        return GFP_TRANSHUGE_LIGHT | (__GFP_DIRECT_RECLAIM if madvised else __GFP_KSWAPD_RECLAIM)
    if defrag == "madvise":
        return GFP_TRANSHUGE_LIGHT | (__GFP_DIRECT_RECLAIM if madvised else 0)
    return GFP_TRANSHUGE_LIGHT


def maybe_pmd_mkwrite(pmd: int, vma: vm_area_struct) -> int:
    return pmd_mkwrite(pmd) if vma.vm_flags & VM_WRITE else pmd


def prep_transhuge_page(ctx: KernelContext, head: int) -> None:
    """Models: prep_transhuge_page(): the compound page is already made by __GFP_COMP."""


# ---------------------------------------------------------------- huge zero page
def mm_get_huge_zero_page(ctx: KernelContext) -> int:
    """Models: get_huge_zero_page(): allocate the huge zero page on first use."""
    if ctx.huge_zero_pfn >= 0:
        return ctx.huge_zero_pfn
    gfp = (GFP_TRANSHUGE | __GFP_ZERO | __GFP_COMP) & ~__GFP_MOVABLE
    pfn = __alloc_pages(ctx, gfp, HPAGE_PMD_ORDER, ctx.numa_node_id())
    if pfn < 0:
        ctx.vmstat.count_vm_event(THP_ZERO_PAGE_ALLOC_FAILED)
        return -1
    ctx.vmstat.count_vm_event(THP_ZERO_PAGE_ALLOC)
    ctx.huge_zero_pfn = pfn
    return pfn


def is_huge_zero_pfn(ctx: KernelContext, pfn: int) -> bool:
    """Models: is_huge_zero_page() for any of the huge zero page's 512 frames."""
    return ctx.huge_zero_pfn >= 0 and 0 <= pfn - ctx.huge_zero_pfn < HPAGE_PMD_NR


def is_huge_zero_pmd(ctx: KernelContext, pmd: int) -> bool:
    return pmd_present(pmd) and pmd_trans_huge(pmd) and pmd_pfn(pmd) == ctx.huge_zero_pfn


def set_huge_zero_page(pgtable: int, mm: mm_struct, vma: vm_area_struct, haddr: int,
                       pmd: Ptr, zero_pfn: int) -> None:
    """Context: PMD lock held."""
    entry = mk_huge_pmd(zero_pfn, vma.vm_page_prot)
    pgtable_trans_huge_deposit(mm, pmd, pgtable)
    set_pmd_at(mm, haddr, pmd, entry)
    mm.nr_ptes += 1


# ---------------------------------------------------------------- fault
def do_huge_pmd_anonymous_page(vmf: vm_fault) -> KernelPath[int]:
    """Fault a whole THP (or the huge zero page on a read) into an empty PMD.

    Models: mm/huge_memory.c do_huge_pmd_anonymous_page() and
    __do_huge_pmd_anonymous_page(), v4.14.
    Context: mmap_lock held for read. Preempts: in the PMD lock.
    Returns: 0, VM_FAULT_OOM, or VM_FAULT_FALLBACK (count thp_fault_fallback).
    """

    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    haddr = vmf.address & HPAGE_PMD_MASK
    if not transhuge_vma_suitable(vma, haddr):
        return VM_FAULT_FALLBACK
    anon_vma_prepare(vma)
    if not vmf.flags & 1 and ctx.thp.use_zero_page:
        pgtable = pgtable_alloc(ctx, 1)
        if pgtable < 0:
            return VM_FAULT_OOM
        zero = mm_get_huge_zero_page(ctx)
        if zero < 0:
            pgtable_free(ctx, pgtable)
            ctx.vmstat.count_vm_event(THP_FAULT_FALLBACK)
            return VM_FAULT_FALLBACK
        ptl = yield from pmd_lock(mm, vmf.pmd)
        if pmd_none(pmdp_get(vmf.pmd)):
            set_huge_zero_page(pgtable, mm, vma, haddr, vmf.pmd, zero)
            pgtable = -1
        spin_unlock(ptl)
        if pgtable >= 0:
            pgtable_free(ctx, pgtable)
        return 0
    gfp = alloc_hugepage_direct_gfpmask(vma) | __GFP_COMP
    page = alloc_pages_vma(gfp, HPAGE_PMD_ORDER, vma, haddr, hugepage=True)
    if page < 0:
        ctx.vmstat.count_vm_event(THP_FAULT_FALLBACK)
        return VM_FAULT_FALLBACK
    prep_transhuge_page(ctx, page)
    return (yield from __do_huge_pmd_anonymous_page(vmf, page, haddr))


def __do_huge_pmd_anonymous_page(vmf: vm_fault, page: int, haddr: int) -> KernelPath[int]:
    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    pgtable = pgtable_alloc(ctx, 1)
    if pgtable < 0:
        put_page(ctx, page)
        return VM_FAULT_OOM
    ctx.mem.clear_frames(page, HPAGE_PMD_NR)  # clear_huge_page()
    ctx.pages.flags[page] |= F_uptodate | F_swapbacked
    ptl = yield from pmd_lock(mm, vmf.pmd)
    if not pmd_none(pmdp_get(vmf.pmd)):
        spin_unlock(ptl)
        pgtable_free(ctx, pgtable)
        put_page(ctx, page)
        return 0
    entry = mk_huge_pmd(page, vma.vm_page_prot)
    entry = maybe_pmd_mkwrite(pmd_mkdirty(entry), vma)
    page_add_new_anon_rmap(ctx, page, vma, haddr, True)
    lru_cache_add_active_or_unevictable(ctx, page, vma)
    pgtable_trans_huge_deposit(mm, vmf.pmd, pgtable)
    set_pmd_at(mm, haddr, vmf.pmd, entry)
    mm.add_mm_counter(MM_ANONPAGES, HPAGE_PMD_NR)
    mm.nr_ptes += 1
    spin_unlock(ptl)
    ctx.vmstat.count_vm_event(THP_FAULT_ALLOC)
    return 0


def do_huge_pmd_numa_page(vmf: vm_fault, orig_pmd: int) -> KernelPath[int]:
    """A NUMA hinting fault on a PROT_NONE huge PMD: restore it, count, maybe migrate.

    Models: mm/huge_memory.c do_huge_pmd_numa_page(), two eras
    (``numa_thp_misplaced_generic``):

    * 5.13+ (6.x form): under the PMD lock, with the PMD unchanged, numa_hint_faults
      (and _local) count once, mpol_misplaced() decides; a misplaced THP is isolated
      (migrate_misplaced_folio_prepare()) and, after unlocking, migrated whole by the
      common path (migrate_misplaced_folio() -> migrate_pages(): a PMD migration
      entry replaces the PROT_NONE PMD; thp_migration_success; numa_pages_migrated 512;
      split first when ``thp_migration_supported`` is off). Otherwise the PMD is
      rebuilt accessible, young, and writable if it was or can be (can_change_pmd_writable()).
    * 4.14: counts, then takes the page lock (a THP already locked is being migrated:
      wait for it and retry), asks mpol_misplaced(); not misplaced: clear_pmdnuma (the
      PMD restored with its saved write bit); misplaced: a reference, the PMD lock
      dropped and retaken to check the PMD, then migrate_misplaced_transhuge_page()
      (mm/migrate.py), the path the THP migration series left alone.

    task_numa_fault() gets 512 pages. Context: mmap_lock held for read.
    Preempts: in the PMD lock, waiting on the page lock, in migration.
    Simplified: 4.14's page_lock_anon_vma_read() and the mm_tlb_flush_pending() flush
    are left out (the model's scanner flushes before it drops mmap_lock).
    """
    # the misplaced-migration path is mm/migrate.c's, which calls this file
    # cycle: huge_memory <-> migrate (ALLOWED_CYCLES)
    from thpsim.mm.migrate import (
        migrate_misplaced_folio,
        migrate_misplaced_folio_prepare,
        migrate_misplaced_transhuge_page,
    )

    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    pages = ctx.pages
    vm = ctx.vmstat
    task = ctx.current
    haddr = vmf.address & HPAGE_PMD_MASK
    this_nid = ctx.numa_node_id()
    flags = 0
    ptl = yield from pmd_lock(mm, vmf.pmd)
    if pmdp_get(vmf.pmd) != orig_pmd:
        spin_unlock(ptl)
        return 0
    head = pmd_pfn(orig_pmd)
    if not ctx.profile.numa_thp_misplaced_generic:
        # 4.14
        if folio_test_locked(ctx, head):  # pmd_trans_migrating(): wait, then retry
            get_page(ctx, head)
            spin_unlock(ptl)
            yield from folio_lock(ctx, head)  # wait_on_page_locked()
            folio_unlock(ctx, head)
            put_page(ctx, head)
            return 0
        page_nid = ctx.mem.pfn_to_nid(head)
        last_cpupid = folio_last_cpupid(ctx, head)
        vm.count_vm_event(NUMA_HINT_FAULTS)
        if page_nid == this_nid:
            vm.count_vm_event(NUMA_HINT_FAULTS_LOCAL)
            flags |= TNF_FAULT_LOCAL
        if not pmd_write(orig_pmd):  # pmd_savedwrite()
            flags |= TNF_NO_GROUP
        page_locked = folio_trylock(ctx, head)
        target = mpol_misplaced(ctx, head, vma, haddr)
        clear = False
        if target == NUMA_NO_NODE and page_locked:
            clear = True
        elif not page_locked:
            get_page(ctx, head)
            spin_unlock(ptl)
            yield from folio_lock(ctx, head)  # wait_on_page_locked()
            folio_unlock(ctx, head)
            put_page(ctx, head)
            task_numa_fault(ctx, task, last_cpupid, NUMA_NO_NODE, HPAGE_PMD_NR, flags)
            return 0
        else:
            get_page(ctx, head)
            spin_unlock(ptl)
            ptl = yield from pmd_lock(mm, vmf.pmd)
            if pmdp_get(vmf.pmd) != orig_pmd:
                folio_unlock(ctx, head)
                put_page(ctx, head)
                spin_unlock(ptl)
                return 0
            spin_unlock(ptl)
            if (yield from migrate_misplaced_transhuge_page(ctx, mm, vma, vmf.pmd, orig_pmd,
                                                            vmf.address, head, target)):
                flags |= TNF_MIGRATED
                page_nid = target
            else:
                flags |= TNF_MIGRATE_FAIL
            task_numa_fault(ctx, task, last_cpupid, page_nid, HPAGE_PMD_NR, flags)
            return 0
        if clear:  # clear_pmdnuma
            entry = pmd_mkyoung(pmd_modify(orig_pmd, vma.vm_page_prot))
            if pmd_write(orig_pmd):
                entry = pmd_mkwrite(entry)
            set_pmd_at(mm, haddr, vmf.pmd, entry)
            folio_unlock(ctx, head)
        spin_unlock(ptl)
        task_numa_fault(ctx, task, last_cpupid, page_nid, HPAGE_PMD_NR, flags)
        return 0
    # 5.13+
    nid = NUMA_NO_NODE
    last_cpupid = LAST_CPUPID_MASK
    entry = pmd_modify(orig_pmd, vma.vm_page_prot)
    writable = pmd_write(entry)
    if not writable and vma.vm_flags & VM_WRITE and not is_huge_zero_pmd(ctx, orig_pmd) and (
            pages.flags[head] & F_anon_exclusive):
        writable = True  # can_change_pmd_writable()
    if not is_huge_zero_pmd(ctx, orig_pmd):  # vm_normal_folio_pmd()
        nid = ctx.mem.pfn_to_nid(head)
        if not writable:
            flags |= TNF_NO_GROUP
        last_cpupid = (LAST_CPUPID_MASK if folio_use_access_time(ctx, head)
                       else folio_last_cpupid(ctx, head))
        vma_set_access_pid_bit(ctx, vma)
        vm.count_vm_event(NUMA_HINT_FAULTS)
        if nid == this_nid:
            vm.count_vm_event(NUMA_HINT_FAULTS_LOCAL)
            flags |= TNF_FAULT_LOCAL
        target = mpol_misplaced(ctx, head, vma, haddr)
        if target != NUMA_NO_NODE:
            if migrate_misplaced_folio_prepare(ctx, head, vma, target):
                flags |= TNF_MIGRATE_FAIL
            else:
                spin_unlock(ptl)
                writable = False
                if (yield from migrate_misplaced_folio(ctx, head, target)) == 0:
                    task_numa_fault(ctx, task, last_cpupid, target, HPAGE_PMD_NR,
                                    flags | TNF_MIGRATED)
                    return 0
                flags |= TNF_MIGRATE_FAIL
                ptl = yield from pmd_lock(mm, vmf.pmd)
                if pmdp_get(vmf.pmd) != orig_pmd:
                    spin_unlock(ptl)
                    return 0
    entry = pmd_mkyoung(pmd_modify(pmdp_get(vmf.pmd), vma.vm_page_prot))
    if writable:
        entry = pmd_mkwrite(entry)
    set_pmd_at(mm, haddr, vmf.pmd, entry)
    spin_unlock(ptl)
    if nid != NUMA_NO_NODE:
        task_numa_fault(ctx, task, last_cpupid, nid, HPAGE_PMD_NR, flags)
    return 0


def huge_pmd_set_accessed(vmf: vm_fault, orig_pmd: int) -> KernelPath[None]:
    """Models: huge_pmd_set_accessed(). Context: takes and releases the PMD lock."""
    vma = vmf.vma
    ptl = yield from pmd_lock(vma.vm_mm, vmf.pmd)
    try:
        if pmdp_get(vmf.pmd) != orig_pmd:
            return  # lost the race: the CPU faults again and sees the new PMD
        entry = pmd_mkyoung(orig_pmd)
        if vmf.flags & 1:
            entry = pmd_mkdirty(entry)
        pmdp_set_access_flags(vma, vmf.address & HPAGE_PMD_MASK, vmf.pmd, entry,
                              bool(vmf.flags & 1))
    finally:
        spin_unlock(ptl)


def do_huge_pmd_wp_page(vmf: vm_fault, orig_pmd: int) -> KernelPath[int]:
    """Write fault on a read-only huge PMD: reuse, copy the THP (4.14) or split (5.8+).

    Models: mm/huge_memory.c do_huge_pmd_wp_page(); ``thp_cow_copies_huge`` picks
    the 4.14 copy of the whole THP, else the 5.8+ split-and-fall-back; on the huge
    zero page ``thp_wp_huge_zero_alloc`` (6.13+, do_huge_zero_wp_pmd()) allocates a
    THP instead, falling back to the split when none is free.
    Context: mmap_lock held for read. Preempts: in the PMD lock and page lock.
    """
    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    haddr = vmf.address & HPAGE_PMD_MASK
    ptl = vmf.pmd[0].ptl
    page = -1
    if not is_huge_zero_pmd(ctx, orig_pmd):
        yield from spin_lock(ptl)
        if pmdp_get(vmf.pmd) != orig_pmd:
            spin_unlock(ptl)
            return 0
        page = pmd_pfn(orig_pmd)
        if not folio_trylock(ctx, page):
            get_page(ctx, page)
            spin_unlock(ptl)
            yield from folio_lock(ctx, page)
            yield from spin_lock(ptl)
            if pmdp_get(vmf.pmd) != orig_pmd:
                folio_unlock(ctx, page)
                spin_unlock(ptl)
                put_page(ctx, page)
                return 0
            put_page(ctx, page)
        if reuse_swap_page(ctx, page):
            entry = pmd_mkyoung(orig_pmd)
            entry = maybe_pmd_mkwrite(pmd_mkdirty(entry), vma)
            pmdp_set_access_flags(vma, haddr, vmf.pmd, entry, True)
            ctx.pages.flags[page] |= F_anon_exclusive  # page_move_anon_rmap()
            folio_unlock(ctx, page)
            spin_unlock(ptl)
            return VM_FAULT_WRITE
        folio_unlock(ctx, page)
        get_page(ctx, page)
        spin_unlock(ptl)
    # 6.13+ do_huge_zero_wp_pmd(): a THP replaces the huge zero page, whatever the
    # VMA's THP flags say now (vma_alloc_anon_folio_pmd() does not ask)
    zero_alloc = page < 0 and ctx.profile.thp_wp_huge_zero_alloc
    if not ctx.profile.thp_cow_copies_huge and not zero_alloc:
        # 5.8+: split the PMD and let the PTE fault copy 4 KiB
        if page >= 0:
            put_page(ctx, page)
        yield from __split_huge_pmd(vma, vmf.pmd, vmf.address, False)
        return VM_FAULT_FALLBACK
    new = -1
    if zero_alloc or transparent_hugepage_enabled(vma):
        gfp = alloc_hugepage_direct_gfpmask(vma) | __GFP_COMP
        new = alloc_pages_vma(gfp, HPAGE_PMD_ORDER, vma, haddr, hugepage=True)
    if new < 0:
        if page >= 0:
            put_page(ctx, page)
        yield from __split_huge_pmd(vma, vmf.pmd, vmf.address, False)
        ctx.vmstat.count_vm_event(THP_FAULT_FALLBACK)
        return VM_FAULT_FALLBACK
    ctx.vmstat.count_vm_event(THP_FAULT_ALLOC)
    if page < 0:
        ctx.mem.clear_frames(new, HPAGE_PMD_NR)
    else:
        ctx.mem.copy_frames(new, page, HPAGE_PMD_NR)  # copy_user_huge_page()
    ctx.pages.flags[new] |= F_uptodate | F_swapbacked
    yield from spin_lock(ptl)
    if page >= 0:
        put_page(ctx, page)
    if pmdp_get(vmf.pmd) != orig_pmd:
        spin_unlock(ptl)
        put_page(ctx, new)
        return 0
    entry = mk_huge_pmd(new, vma.vm_page_prot)
    entry = maybe_pmd_mkwrite(pmd_mkdirty(entry), vma)
    yield from pmdp_huge_clear_flush(vma, haddr, vmf.pmd)  # pmdp_huge_clear_flush_notify
    page_add_new_anon_rmap(ctx, new, vma, haddr, True)
    lru_cache_add_active_or_unevictable(ctx, new, vma)
    set_pmd_at(mm, haddr, vmf.pmd, entry)
    if page < 0:
        mm.add_mm_counter(MM_ANONPAGES, HPAGE_PMD_NR)
    else:
        page_remove_rmap(ctx, page, True)
        put_page(ctx, page)
    spin_unlock(ptl)
    return VM_FAULT_WRITE


# ---------------------------------------------------------------- locking helper
def __pmd_trans_huge_lock(pmd: Ptr, vma: vm_area_struct) -> KernelPath[spinlock_t | None]:
    """Models: __pmd_trans_huge_lock(): lock, then re-check swap/trans-huge/devmap."""
    ptl = yield from pmd_lock(vma.vm_mm, pmd)
    v = pmdp_get(pmd)
    if is_swap_pmd(v) or pmd_trans_huge(v) or pmd_devmap(v):
        return ptl
    spin_unlock(ptl)
    return None


def pmd_trans_huge_lock(pmd: Ptr, vma: vm_area_struct) -> KernelPath[spinlock_t | None]:
    """Models: pmd_trans_huge_lock(): lockless pre-check, then __pmd_trans_huge_lock."""
    v = pmdp_get(pmd)
    if is_swap_pmd(v) or pmd_trans_huge(v) or pmd_devmap(v):
        yield PREEMPT  # window: the PMD may be split or zapped before we lock it
        return (yield from __pmd_trans_huge_lock(pmd, vma))
    return None


# ---------------------------------------------------------------- zap
def zap_deposited_table(mm: mm_struct, pmd: Ptr) -> None:
    pgtable = pgtable_trans_huge_withdraw(mm, pmd)
    pgtable_free(mm.kernel, pgtable)
    mm.nr_ptes -= 1


def zap_huge_pmd(tlb: mmu_gather, vma: vm_area_struct, pmd: Ptr, addr: int) -> KernelPath[bool]:
    """Models: mm/huge_memory.c zap_huge_pmd(), v4.14.

    A migration entry holds no page reference (flush_needed = 0) but does hold
    512 of RSS and one deposited table. Returns: whether the PMD was zapped.
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    ptl = yield from __pmd_trans_huge_lock(pmd, vma)
    if ptl is None:
        return False
    orig = pmdp_huge_get_and_clear(mm, addr, pmd)
    tlb.track(addr, addr + HPAGE_PMD_SIZE)  # tlb_remove_pmd_tlb_entry()
    if is_huge_zero_pmd(ctx, orig):
        zap_deposited_table(mm, pmd)
        spin_unlock(ptl)
        return True
    if pmd_present(orig):
        page = pmd_pfn(orig)
        if pmd_dirty(orig):
            ctx.pages.flags[page] |= F_dirty
        page_remove_rmap(ctx, page, True)
        flush_needed = True
    else:
        ctx.bug_on(not ctx.swp.is_pmd_migration_entry(orig),
                   f"zap_huge_pmd: non-present huge PMD {orig:#x} is not a migration entry")
        page = ctx.swp.pfn_swap_entry_pfn(ctx.swp.pmd_to_swp_entry(orig))
        flush_needed = False
    zap_deposited_table(mm, pmd)
    mm.add_mm_counter(MM_ANONPAGES, -HPAGE_PMD_NR)
    spin_unlock(ptl)
    if flush_needed:
        tlb_remove_page(tlb, page)
    return True


# ---------------------------------------------------------------- split the PMD
def __split_huge_zero_page_pmd(vma: vm_area_struct, haddr: int, pmd: Ptr) -> KernelPath[None]:
    mm = vma.vm_mm
    ctx = mm.kernel
    yield from pmdp_huge_clear_flush(vma, haddr, pmd)  # pmdp_huge_clear_flush_notify
    pgtable = pgtable_trans_huge_withdraw(mm, pmd)
    t = ctx.mem.tables[pgtable]
    entry0 = pte_mkspecial(pfn_pte(ctx.zero_pfn, vma.vm_page_prot))
    for i in range(HPAGE_PMD_NR):
        t[i] = entry0
    pmd[0][pmd[1]] = mk_table_entry(pgtable)  # pmd_populate()


def __split_huge_pmd_locked(vma: vm_area_struct, pmd: Ptr, haddr: int,
                            freeze: bool) -> KernelPath[None]:
    """Turn a huge PMD (or PMD migration entry) into a PTE table from the deposit.

    Models: mm/huge_memory.c __split_huge_pmd_locked(), v4.14 with the 4.20 fix
    for migration entries (B8: flags are read from the entry, not with present
    accessors; ``bug_b8_split_mig_uses_present_accessors`` brings the 4.14 reads
    back). ``freeze`` (split_huge_page) writes PTE migration entries instead
    of PTEs and drops the mapping. Counts thp_split_pmd.
    Context: PMD lock held. Preempts: in the invalidating TLB flush.
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    swp = ctx.swp
    pages = ctx.pages
    ctx.vmstat.count_vm_event(THP_SPLIT_PMD)
    if ctx.cost is not None:  # modeled time: a PTE table of HPAGE_PMD_NR entries written
        ctx.cost.split_huge_pmd(ctx.smp_processor_id(), HPAGE_PMD_NR)
    old = pmdp_get(pmd)
    if is_huge_zero_pmd(ctx, old):
        yield from __split_huge_zero_page_pmd(vma, haddr, pmd)
        return
    pmd_migration = swp.is_pmd_migration_entry(old)
    if pmd_migration and ctx.profile.bug_b8_split_mig_uses_present_accessors:
        # B8 (4.14 to 4.19): the flags of the entry read with the present-PMD accessors:
        # write is bit 1 (the swap soft-dirty bit), young and dirty bits 5 and 6,
        # soft-dirty bit 11 (a TYPE or OFFSET bit of the entry)
        entry = swp.pmd_to_swp_entry(old)
        page = swp.pfn_swap_entry_pfn(entry)
        if pmd_dirty(old):
            pages.flags[page] |= F_dirty
        write = pmd_write(old)
        young = pmd_young(old)
        dirty = exclusive = False
        soft_dirty = pmd_soft_dirty(old)
    elif pmd_migration:
        # 6.1+ keeps young/dirty in the entry and (5.19+) exclusivity in its type
        entry = swp.pmd_to_swp_entry(old)
        page = swp.pfn_swap_entry_pfn(entry)
        write = swp.is_writable_migration_entry(entry)
        exclusive = swp.has_read_exclusive and swp.is_readable_exclusive_migration_entry(entry)
        young = swp.migration_entry_supports_ad and bool(entry & SWP_MIG_YOUNG)
        dirty = swp.migration_entry_supports_ad and bool(entry & SWP_MIG_DIRTY)
        soft_dirty = swp.pmd_swp_soft_dirty(old)
    else:
        # pmdp_invalidate(): keep the PMD non-none for lockless walkers, flush the TLB
        old = yield from pmdp_invalidate(vma, haddr, pmd)
        page = pmd_pfn(old)
        if pmd_dirty(old):
            pages.flags[page] |= F_dirty
        write = pmd_write(old)
        young = pmd_young(old)
        dirty = pmd_dirty(old)
        soft_dirty = pmd_soft_dirty(old)
        exclusive = bool(pages.flags[page] & F_anon_exclusive)
        pages.refcount[page] += HPAGE_PMD_NR - 1  # page_ref_add(): one per PTE
    pgtable = pgtable_trans_huge_withdraw(mm, pmd)
    t = ctx.mem.tables[pgtable]
    prot = vma.vm_page_prot
    for i in range(HPAGE_PMD_NR):
        sub = page + i
        if freeze or pmd_migration:
            # the PMD's (or its entry's) write, exclusive (5.19+), young and dirty
            # (6.1+) go to every PTE entry: make_*_migration_entry() and
            # make_migration_entry_young()/_dirty()
            sentry = swp.make_migration_entry_for(sub, write, exclusive, young, dirty)
            e = swp.swp_entry_to_pte(sentry)
            if soft_dirty:
                e = swp.pte_swp_mksoft_dirty(e)
        else:
            e = pfn_pte(sub, prot)
            if write:
                e = pte_mkwrite(e)
            else:
                e = pte_wrprotect(e)
            if not young:
                e = pte_mkold(e)
            else:
                e |= 1 << 5
            # 4.14 and 6.1: the PMD's dirty bit went to the page (SetPageDirty above),
            # not to the PTEs; 6.3+ carries it over again (pte_mkdirty() sets
            # soft-dirty too on x86)
            if dirty and ctx.profile.split_huge_pmd_carries_dirty:
                e = pte_mkdirty(e)
            if soft_dirty:
                e = pte_mksoft_dirty(e)
            pages.mapcount[sub] += 1  # atomic_inc(&page[i]._mapcount)
        t[i] = e
    if not pmd_migration:
        # 4.14 .. 6.1: a PMD split while another PMD still maps the THP sets
        # PageDoubleMap (TestSetPageDoubleMap(); each subpage's _mapcount +1 there)
        if (not freeze and not ctx.profile.rmap_deferred_split_partially_mapped
                and pages.compound_mapcount[page] >= 1):
            pages.flags[page] |= F_double_map
        # The PMD mapping goes: compound mapcount -1 (NR_ANON_THPS when it reaches zero).

        c = pages.compound_mapcount[page] - 1
        pages.compound_mapcount[page] = c
        nid = ctx.mem.pfn_to_nid(page)
        if c < 0:
            ctx.vmstat.mod_node_page_state(nid, NR_ANON_THPS, -HPAGE_PMD_NR)
        if freeze:
            # Every PTE became a migration entry (no PTE mapcount was added): drop the
            # 512 references just added (try_to_unmap_one's page_remove_rmap/put_page).
            pages.refcount[page] -= HPAGE_PMD_NR
            if c < 0:
                mapped = int((pages.mapcount_np[page : page + HPAGE_PMD_NR] >= 0).sum())
                ctx.vmstat.mod_node_page_state(nid, NR_ANON_MAPPED, -(HPAGE_PMD_NR - mapped))
                # 4.14 and 6.1 count each PTE, then page_remove_rmap() it: a subpage
                # losing its last mapping queues the THP for deferred split (counted
                # even though split_huge_page() is about to split it; the kernel
                # oracle, 6.1: MADV_PAGEOUT of a THP counts one). 6.3+ never maps
                # the frozen PTEs, and folio_remove_rmap_pmd() queues nothing.
                if mapped < HPAGE_PMD_NR and not ctx.profile.rmap_deferred_split_partially_mapped:
                    deferred_split_huge_page(ctx, page)
    pmd[0][pmd[1]] = mk_table_entry(pgtable)  # pmd_populate()


def pmd_folio(ctx: KernelContext, pmd: int) -> int:
    """The head PFN of the page a PMD maps, read through its struct page.

    Models: pmd_folio() (page_folio(pmd_page(pmd)), 5.18+: reads page->compound_head).
    Only meaningful for a present PMD: the PFN field of a swap entry is garbage, and a
    struct page outside the memmap is a fault ("BUG: unable to handle page fault",
    KernelBug). (4.14 compared pmd_page() pointers without reading them.)
    """
    pfn = pmd_pfn(pmd)
    if not 0 <= pfn < ctx.mem.max_pfn:
        raise KernelBug(f"BUG: unable to handle page fault: pmd_folio({pmd:#x}) reads the "
                        f"struct page of pfn {pfn:#x}, outside the memmap")
    return ctx.pages.compound_head(pfn)


def __split_huge_pmd(vma: vm_area_struct, pmd: Ptr, address: int,
                     freeze: bool, page: int = -1) -> KernelPath[None]:
    """Models: mm/huge_memory.c __split_huge_pmd(), v4.14: lock, re-check, munlock a
    huge PMD's THP (clear_page_mlock: PTE-mapped THPs are not mlocked), split.

    ``page`` (try_to_unmap_one's split with TTU_SPLIT_HUGE_PMD, e.g. split_huge_page's
    freeze): the anon_vma walk only says the page may be mapped here; another page's
    PMD is left alone. 6.15 (C:be6e843fc51a) leaves a PMD migration entry alone before
    reading a page from it; ``bug_b16_split_pmd_page_of_migration_entry``: the caller's
    page is compared with the PMD's first (B16).
    Preempts: in the PMD lock and the invalidating flush.
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    haddr = address & HPAGE_PMD_MASK
    ptl = yield from pmd_lock(mm, pmd)
    try:
        v = pmdp_get(pmd)
        if pmd_trans_huge(v) or pmd_devmap(v) or is_swap_pmd(v):
            if page >= 0:
                if ctx.profile.bug_b16_split_pmd_page_of_migration_entry:
                    if page != pmd_folio(ctx, v):
                        return
                elif ctx.swp.is_pmd_migration_entry(v) or page != pmd_folio(ctx, v):
                    return
            if pmd_trans_huge(v) and not is_swap_pmd(v):
                # a PTE-mapped THP is never mlocked (4.14 mm/mlock.c)
                page = pmd_pfn(v)
                if mm.kernel.pages.flags[page] & F_mlocked:
                    # cycle: mm.mlock -> mm.gup -> mm.memory -> mm.huge_memory
                    from thpsim.mm.mlock import clear_page_mlock

                    clear_page_mlock(mm.kernel, page)
            if not is_swap_pmd(v) or mm.kernel.swp.is_pmd_migration_entry(v):
                yield from __split_huge_pmd_locked(vma, pmd, haddr, freeze)
    finally:
        spin_unlock(ptl)


def split_huge_pmd_address(vma: vm_area_struct, address: int,
                           freeze: bool) -> KernelPath[None]:
    """Models: split_huge_pmd_address(): find the PMD mapping ``address`` and split it."""

    pmd = lookup_pmd(vma.vm_mm, address)
    if pmd is None:
        return
    v = pmdp_get(pmd)
    if not (pmd_trans_huge(v) or is_swap_pmd(v)):
        return
    yield from __split_huge_pmd(vma, pmd, address, freeze)


def vma_adjust_trans_huge(vma: vm_area_struct, start: int, end: int,
                          adjust_next: int) -> KernelPath[None]:
    """Models: vma_adjust_trans_huge(): split PMDs that a VMA boundary will cut."""
    for a in (start, end):
        if a & ~HPAGE_PMD_MASK and (a & HPAGE_PMD_MASK) >= vma.vm_start and (
            (a & HPAGE_PMD_MASK) + HPAGE_PMD_SIZE <= vma.vm_end
        ):
            yield from split_huge_pmd_address(vma, a, False)


# ---------------------------------------------------------------- split the page
def can_split_huge_page(ctx: KernelContext, head: int) -> tuple[bool, int]:
    """Models: can_split_huge_page(): total_mapcount == page_count - extra_pins - 1."""
    pages = ctx.pages
    extra_pins = 0  # anon, no swap cache
    return pages.total_mapcount(head) == pages.refcount[head] - extra_pins - 1, extra_pins


def split_huge_page(ctx: KernelContext, head: int,
                    to_list: list[int] | None = None, page: int = -1) -> KernelPath[int]:
    """Split a THP into 512 base pages.

    Models: mm/huge_memory.c split_huge_page_to_list(), v4.14: freeze every
    mapping into PTE migration entries (unmap_page / freeze_page), check the
    refcount, __split_huge_page, then remap (remove_migration_ptes per subpage).
    Unmapped subpages are freed; the caller's reference and lock stay on ``page``
    (the subpage it named, split_huge_page(page); ``head`` by default), every other
    subpage is unlocked and keeps only its mappings' references. With
    ``to_list`` (an isolated THP, split_huge_page_to_list()) the tails keep one
    reference each and are appended to the list, still isolated.
    Context: page locked by the caller, who holds one reference.
    Preempts: in the rmap walk's locks and flushes.
    Returns: 0 or -EBUSY (count thp_split_page / thp_split_page_failed).
    """
    pages = ctx.pages
    if not pages.flags[head] & F_head:
        return 0
    ctx.bug_on(not pages.flags[head] & F_locked, f"split_huge_page: {head:#x} not locked")
    av = page_anon_vma(ctx, head)
    if av is None:
        ctx.vmstat.count_vm_event(THP_SPLIT_PAGE_FAILED)
        return -16

    yield from down_write(av.root.rwsem)
    try:
        ok, extra = can_split_huge_page(ctx, head)
        if not ok:
            ctx.vmstat.count_vm_event(THP_SPLIT_PAGE_FAILED)
            return -16
        # unmap_page(): every mapping becomes a PTE migration entry
        yield from _freeze_page(ctx, head, av)
        if pages.total_mapcount(head) or pages.refcount[head] != 1 + extra:
            yield from _remap_page(ctx, head, head)
            ctx.vmstat.count_vm_event(THP_SPLIT_PAGE_FAILED)
            return -16
        ctx.deferred_split_queue.pop(head, None)
        __split_huge_page(ctx, head)
        # 6.12+ remap_page(..., RMP_USE_SHARED_ZEROPAGE) for an anon folio: a subpage
        # holding only zeros is mapped to the shared zero page and freed
        zero = ctx.profile.thp_split_remap_zero_subpages
        for i in range(HPAGE_PMD_NR):
            yield from _remap_page(ctx, head + i, head + i, zero)
        if page < 0:
            page = head
        for i in range(1, HPAGE_PMD_NR):
            if head + i == page:
                continue  # keeps the split's reference as the caller's pin, and the lock
            folio_unlock(ctx, head + i)
            if to_list is not None:
                to_list.append(head + i)  # split_huge_page_to_list(): stays isolated
            else:
                put_page(ctx, head + i)
        if page != head:  # the caller's pin moved to ``page``: drop it from the head
            folio_unlock(ctx, head)
            put_page(ctx, head)
    finally:
        up_write(av.root.rwsem)
    ctx.vmstat.count_vm_event(THP_SPLIT_PAGE)
    return 0


def __split_huge_page(ctx: KernelContext, head: int) -> None:
    """Models: __split_huge_page() + __split_huge_page_tail(): compound -> 512 pages.

    Tails take the head's page state and index; each tail gets refcount 1 (dropped
    by the caller after remapping) and joins the head's LRU list.
    """
    pages = ctx.pages
    n = HPAGE_PMD_NR
    if ctx.cost is not None:  # modeled time: the compound page split
        ctx.cost.split_huge_page(ctx.smp_processor_id(), n)
    hf = pages.flags[head]
    # the flags __split_huge_page_tail() copies, and page_is_young()/page_is_idle()
    # (set_page_young()/set_page_idle() on each tail: idle page tracking survives)
    keep = F_referenced | F_swapbacked | F_mlocked | F_uptodate | F_active | F_locked | (
        F_unevictable | F_dirty | F_lru | F_young | F_idle
    )
    sl = slice(head, head + n)
    pages.flags_np[sl] = hf & keep
    pages.order_np[sl] = 0
    pages.compound_mapcount_np[head] = -1
    pages.mapping_np[sl] = pages.mapping[head]
    pages.index_np[sl] = pages.index[head] + np_arange(n)
    pages.refcount_np[head + 1 : head + n] = 1
    # The LRU counters counted 512 pages for the head: they now count 512 pages of 1.


def _freeze_page(ctx: KernelContext, head: int, av) -> KernelPath[None]:
    """Models: unmap_page()/freeze_page() (TTU_SPLIT_FREEZE): a PMD mapping is split
    straight into PTE migration entries, then every PTE mapping is converted.

    ``bug_b7_freeze_uses_ttu_migration`` (B7, v1/v2 of the series): the freeze passes
    TTU_MIGRATION, so the rmap walk meets the PMD mapping at PMD level and
    try_to_unmap_one() installs a PMD migration entry (set_pmd_migration_entry)
    instead of 512 PTE migration entries."""
    pages = ctx.pages
    if ctx.profile.bug_b7_freeze_uses_ttu_migration:
        yield from try_to_migrate(ctx, head, locked=True)
        return
    for vma in list(av.vmas):
        addr = vma_address(vma, pages.index[head])
        if addr + HPAGE_PMD_SIZE <= vma.vm_start or addr >= vma.vm_end:
            continue
        haddr = addr & HPAGE_PMD_MASK
        if haddr >= vma.vm_start and haddr + HPAGE_PMD_SIZE <= vma.vm_end:
            pmd = lookup_pmd(vma.vm_mm, haddr)
            if pmd is not None:
                # split_huge_pmd_address(vma, addr, freeze, page): the PMD is re-read
                # and compared with ``head`` under its lock (this lockless look only
                # skips what that would skip: neither huge nor a migration entry)
                v = pmdp_get(pmd)
                if (pmd_present(v) and pmd_trans_huge(v)) or ctx.swp.is_pmd_migration_entry(v):
                    yield from __split_huge_pmd(vma, pmd, haddr, True, head)
    # PTE-mapped: every PTE mapping a subpage becomes a migration entry (the same
    # rmap walk migration uses; the anon_vma lock is already held for write)
    yield from try_to_migrate(ctx, head, locked=True)


def _remap_page(ctx: KernelContext, old: int, new: int,
                zeropage: bool = False) -> KernelPath[None]:
    """Models: remap_page() -> remove_migration_ptes(old, new, locked=true), with
    RMP_USE_SHARED_ZEROPAGE when ``zeropage``."""
    # cycle: mm.migrate -> mm.huge_memory imports this module
    from thpsim.mm.migrate import remove_migration_ptes

    yield from remove_migration_ptes(ctx, old, new, locked=True,
                                     map_unused_to_zeropage=zeropage)


def deferred_split_scan(ctx: KernelContext) -> KernelPath[int]:
    """Split every THP on the deferred-split queue that can be split.

    Models: mm/huge_memory.c deferred_split_scan() (the shrinker; reached from
    drop_caches). Returns: the number split.
    """
    split = 0
    for head in list(ctx.deferred_split_queue):
        pages = ctx.pages
        if not pages.flags[head] & F_head or not pages.refcount[head]:
            ctx.deferred_split_queue.pop(head, None)
            continue
        get_page(ctx, head)
        if folio_trylock(ctx, head):
            if (yield from split_huge_page(ctx, head)) == 0:
                split += 1
            folio_unlock(ctx, head)
        put_page(ctx, head)
    return split


# ---------------------------------------------------------------- fork
def copy_huge_pmd(dst_mm: mm_struct, src_mm: mm_struct, dst_pmd: Ptr, src_pmd: Ptr,
                  addr: int, vma: vm_area_struct) -> KernelPath[int]:
    """Copy a huge PMD (or PMD migration entry) into the child with a fresh deposit.

    Models: mm/huge_memory.c copy_huge_pmd(), v4.14 with C:84c3fc4's migration
    branch: a write entry is downgraded to read in the parent (soft-dirty kept);
    the child gets a copy; no page reference or rmap for an entry. Bug switches:
    ``bug_b10_migration_entry_keeps_write`` (no downgrade), ``bug_b11_swp_soft_dirty_lost``
    (soft-dirty read from the new entry).
    Context: dst PMD lock, then src PMD lock nested. Returns: 0, -ENOMEM, -EAGAIN.
    """
    ctx = src_mm.kernel
    swp = ctx.swp
    pgtable = pgtable_alloc(ctx, 1)
    if pgtable < 0:
        return -12
    dst_ptl = yield from pmd_lock(dst_mm, dst_pmd)
    src_ptl = yield from pmd_lock(src_mm, src_pmd)
    try:
        pmd = pmdp_get(src_pmd)
        if is_swap_pmd(pmd):
            ctx.bug_on(not swp.is_pmd_migration_entry(pmd), "copy_huge_pmd: swap PMD")
            entry = swp.pmd_to_swp_entry(pmd)
            if (swp.is_writable_migration_entry(entry) or (
                swp.is_readable_exclusive_migration_entry(entry)
            )) and not ctx.profile.bug_b10_migration_entry_keeps_write:
                new = swp.swp_entry_to_pmd(
                    swp.make_readable_migration_entry(swp.pfn_swap_entry_pfn(entry))
                )
                # B11 (v4 of the series): soft-dirty read from the new entry
                sd_from = new if ctx.profile.bug_b11_swp_soft_dirty_lost else pmd
                if swp.pmd_swp_soft_dirty(sd_from):
                    new = swp.pmd_swp_mksoft_dirty(new)
                set_pmd_at(src_mm, addr, src_pmd, new)
                pmd = new
            dst_mm.add_mm_counter(MM_ANONPAGES, HPAGE_PMD_NR)
            dst_mm.nr_ptes += 1
            pgtable_trans_huge_deposit(dst_mm, dst_pmd, pgtable)
            set_pmd_at(dst_mm, addr, dst_pmd, pmd)
            return 0
        if not pmd_trans_huge(pmd):
            pgtable_free(ctx, pgtable)
            return -11
        if is_huge_zero_pmd(ctx, pmd):
            set_huge_zero_page(pgtable, dst_mm, vma, addr, dst_pmd, ctx.huge_zero_pfn)
            return 0
        page = pmd_pfn(pmd)
        get_page(ctx, page)
        page_dup_rmap(ctx, page, True)
        dst_mm.add_mm_counter(MM_ANONPAGES, HPAGE_PMD_NR)
        dst_mm.nr_ptes += 1
        pgtable_trans_huge_deposit(dst_mm, dst_pmd, pgtable)
        pmd = pmd_mkold(pmd_wrprotect(pmd))
        set_pmd_at(src_mm, addr, src_pmd, pmd_wrprotect(pmdp_get(src_pmd)))  # pmdp_set_wrprotect
        set_pmd_at(dst_mm, addr, dst_pmd, pmd)
        return 0
    finally:
        spin_unlock(src_ptl)
        spin_unlock(dst_ptl)


# ---------------------------------------------------------------- mprotect
def change_huge_pmd(vma: vm_area_struct, pmd: Ptr, addr: int, newprot: int,
                    prot_numa: bool) -> KernelPath[int]:
    """Models: mm/huge_memory.c change_huge_pmd(), v4.14.

    A write migration entry becomes a read entry (soft-dirty kept; bug switches
    ``bug_b10_migration_entry_keeps_write``, ``bug_b11_swp_soft_dirty_lost`` undo
    each); a huge PMD is invalidated, flushed and rewritten with the new protection.
    Returns: HPAGE_PMD_NR when a present PMD changed, 1 for a migration entry,
    0 when the PMD is no longer huge (the caller falls back to PTEs).

    ``prot_numa`` (the NUMA scanner, 4.14 and 6.x): the huge zero page and a PMD that
    is PROT_NONE already are left alone (1), and so, in tiering-only mode (5.18+), is a
    THP on a top-tier node; a THP on a lower tier gets its scan time. 4.14 keeps the
    write bit in the PROT_NONE PMD (pmd_mk_savedwrite()); 6.3+ does not
    (``mprotect_try_change_writable`` here; do_huge_pmd_numa_page() decides).
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    swp = ctx.swp
    ptl = yield from __pmd_trans_huge_lock(pmd, vma)
    if ptl is None:
        return 0
    try:
        v = pmdp_get(pmd)
        if is_swap_pmd(v):
            entry = swp.pmd_to_swp_entry(v)
            if swp.is_writable_migration_entry(entry) and (
                not ctx.profile.bug_b10_migration_entry_keeps_write
            ):
                new = swp.swp_entry_to_pmd(
                    swp.make_readable_migration_entry(swp.pfn_swap_entry_pfn(entry))
                )
                # B11 (v4 of the series): the soft-dirty bit not carried over
                if swp.pmd_swp_soft_dirty(v) and not ctx.profile.bug_b11_swp_soft_dirty_lost:
                    new = swp.pmd_swp_mksoft_dirty(new)
                set_pmd_at(mm, addr, pmd, new)
            return 1
        if prot_numa:
            if is_huge_zero_pmd(ctx, v) or pmd_protnone(v):
                return 1
            head = pmd_pfn(v)
            nid = ctx.mem.pfn_to_nid(head)
            if ctx.profile.numa_balancing_memory_tiering:
                if not ctx.sysctl_numa_balancing_mode & NUMA_BALANCING_NORMAL and (
                        node_is_toptier(ctx, nid)):
                    return 1
                if folio_use_access_time(ctx, head):
                    folio_xchg_access_time(ctx, head, jiffies_to_msecs(numab(ctx).jiffies))
        if is_huge_zero_pmd(ctx, v):
            preserve_write = False
        else:
            preserve_write = (prot_numa and pmd_write(v)
                              and not ctx.profile.mprotect_try_change_writable)
        old = yield from pmdp_invalidate(vma, addr, pmd)
        entry = pmd_modify(old, newprot)
        if preserve_write:
            entry = pmd_mkwrite(entry)
        elif not prot_numa and ctx.profile.mprotect_try_change_writable and (
            vma.vm_flags & VM_WRITE) and (
            not is_huge_zero_pmd(ctx, v)
        ) and (vma.vm_flags & VM_SOFTDIRTY or old & _PAGE_SOFT_DIRTY) and (
            ctx.pages.flags[pmd_pfn(old)] & F_anon_exclusive
        ):  # can_change_pmd_writable(): not while soft-dirty tracking wants the fault
            entry = pmd_mkwrite(entry)
        set_pmd_at(mm, addr, pmd, entry)
        return HPAGE_PMD_NR
    finally:
        spin_unlock(ptl)


# ---------------------------------------------------------------- mremap
def move_huge_pmd(vma: vm_area_struct, old_addr: int, new_addr: int, old_end: int,
                  old_pmd: Ptr, new_pmd: Ptr) -> KernelPath[bool]:
    """Move a huge PMD (or PMD migration entry) to a new address.

    Models: mm/huge_memory.c move_huge_pmd(), v4.14: clear the old, move the
    deposited table when the PMD locks differ, set soft-dirty (swap or present
    bit), flush the old range if the entry was present and dirty.
    Context: mmap_lock held for write; takes both PMD locks.
    """
    mm = vma.vm_mm
    if (old_addr & ~HPAGE_PMD_MASK or new_addr & ~HPAGE_PMD_MASK
            or old_end - old_addr < HPAGE_PMD_SIZE):
        return False
    if not pmd_none(pmdp_get(new_pmd)):
        mm.kernel.bug_on(True, "move_huge_pmd: new PMD not none")
    old_ptl = yield from __pmd_trans_huge_lock(old_pmd, vma)
    if old_ptl is None:
        return False
    new_ptl = new_pmd[0].ptl
    nested = new_ptl is not old_ptl
    if nested:
        yield from spin_lock(new_ptl)
    try:
        pmd = pmdp_huge_get_and_clear(mm, old_addr, old_pmd)
        force_flush = pmd_present(pmd) and pmd_dirty(pmd)
        if nested:  # pmd_move_must_withdraw()
            pgtable = pgtable_trans_huge_withdraw(mm, old_pmd)
            pgtable_trans_huge_deposit(mm, new_pmd, pgtable)
        # move_soft_dirty_pmd()
        if is_swap_pmd(pmd):
            pmd = mm.kernel.swp.pmd_swp_mksoft_dirty(pmd)
        else:
            pmd = pmd_mksoft_dirty(pmd)
        set_pmd_at(mm, new_addr, new_pmd, pmd)
        if force_flush or pmd_present(pmd):

            yield from flush_pmd_tlb_range(vma, old_addr, old_addr + HPAGE_PMD_SIZE)
    finally:
        if nested:
            spin_unlock(new_ptl)
        spin_unlock(old_ptl)
    return True


# ---------------------------------------------------------------- madvise
def madvise_free_huge_pmd(tlb: mmu_gather, vma: vm_area_struct, pmd: Ptr, addr: int,
                          next_: int) -> KernelPath[bool]:
    """Models: mm/huge_memory.c madvise_free_huge_pmd(), v4.14.

    A migration entry is skipped. A THP mapped once and covered whole is marked
    clean and old (lazy free); a partial range splits the page.
    Returns: whether the PMD was handled here.
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    ptl = yield from pmd_trans_huge_lock(pmd, vma)
    if ptl is None:
        return False
    orig = pmdp_get(pmd)
    if is_huge_zero_pmd(ctx, orig):
        spin_unlock(ptl)
        return True
    if not pmd_present(orig):
        ctx.bug_on(not ctx.swp.is_pmd_migration_entry(orig), "madvise_free_huge_pmd: swap PMD")
        spin_unlock(ptl)
        return True
    page = pmd_pfn(orig)
    pages = ctx.pages
    if pages.total_mapcount(page) != 1:
        spin_unlock(ptl)
        return True
    if next_ - addr != HPAGE_PMD_SIZE:
        get_page(ctx, page)
        spin_unlock(ptl)
        if folio_trylock(ctx, page):
            yield from split_huge_page(ctx, page)
            folio_unlock(ctx, page)
        put_page(ctx, page)
        return False  # the caller goes on at PTE level over the split page
    pages.flags[page] &= ~F_dirty & _M32
    if pmd_young(orig) or pmd_dirty(orig):
        old = yield from pmdp_invalidate(vma, addr, pmd)
        entry = pmd_mkold(old) & ~(1 << 6)
        set_pmd_at(mm, addr, pmd, entry)
        tlb.track(addr, addr + HPAGE_PMD_SIZE)

    if pages.flags[page] & F_swapbacked:  # mark_page_lazyfree(): once, while swap-backed
        pages.flags[page] &= ~F_swapbacked & _M32
        ctx.vmstat.count_vm_events(PGLAZYFREE, HPAGE_PMD_NR)
    spin_unlock(ptl)
    return True


import numpy as np  # noqa: E402


def np_arange(n: int):
    return np.arange(n, dtype=np.int64)


# ---------------------------------------------------------------- migration entries
def set_pmd_migration_entry(pvmw, page: int) -> KernelPath[None]:
    """Replace a huge PMD by a PMD migration entry.

    Models: mm/huge_memory.c set_pmd_migration_entry(), v4.14 with the 5.6 fix
    (B9: the old value comes from pmdp_invalidate itself, so no dirty bit is lost;
    ``bug_b9_read_then_invalidate`` brings back the read, a preemption point, then
    the invalidation).
    6.x: an exclusive anon page gets a read-exclusive entry; young and dirty go
    into the entry (migration_entry_supports_ad). The series' earlier versions, as
    bug switches: v2 cleared the PMD without a flush (B3), v3 with
    pmdp_huge_clear_flush(), leaving it none through the flush (B4).
    Context: PMD lock held (by the walk), page locked. Preempts: in the flush.
    """

    vma = pvmw.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    swp = ctx.swp
    pages = ctx.pages
    address = pvmw.address & HPAGE_PMD_MASK
    # which primitive clears the PMD changed twice (kernel-semantics.md 3.5)
    if ctx.profile.bug_b3_pmd_migration_no_flush:
        pmdval = pmdp_huge_get_and_clear(mm, address, pvmw.pmd)  # B3 (v2): no TLB flush
    elif ctx.profile.bug_b4_transient_none_pmd:
        # B4 (v3): flushed, but none until set_pmd_at() below
        pmdval = yield from pmdp_huge_clear_flush(vma, address, pvmw.pmd)
    elif ctx.profile.bug_b9_read_then_invalidate:
        # B9 (4.14 to 5.5): ``pmdval = *pvmw->pmd; pmdp_invalidate(...)``: another CPU's
        # store may set D in the PMD between the read and the invalidation
        pmdval = pmdp_get(pvmw.pmd)
        yield PREEMPT
        yield from pmdp_invalidate(vma, address, pvmw.pmd)
    else:
        pmdval = yield from pmdp_invalidate(vma, address, pvmw.pmd)
    if pmd_dirty(pmdval):
        pages.flags[page] |= F_dirty
    entry = swp.make_migration_entry_for(page, pmd_write(pmdval),
                                         bool(pages.flags[page] & F_anon_exclusive),
                                         pmd_young(pmdval), pmd_dirty(pmdval))
    pmdswp = swp.swp_entry_to_pmd(entry)
    if pmd_soft_dirty(pmdval):
        pmdswp = swp.pmd_swp_mksoft_dirty(pmdswp)
    set_pmd_at(mm, address, pvmw.pmd, pmdswp)
    if ctx.cost is not None:  # modeled time: the PMD rewritten
        ctx.cost.pte_update(ctx.smp_processor_id(), 1)
    page_remove_rmap(ctx, page, True)
    put_page(ctx, page)


def migration_entry_restore(ctx, vma: vm_area_struct, swp_word: int, entry: int,
                            mapping: int, pte: bool = False) -> tuple[int, bool]:
    """The bits a mapping restored from a migration entry carries, and whether the page
    is exclusive to this mapping; the same for a PTE and a PMD (the x86 bits match).

    Models: the common part of mm/migrate.c remove_migration_pte() and
    remove_migration_pmd() (model-only; kept here, below migrate.c, which imports it):
    ``mapping`` arrives old and clean; soft-dirty from the swap soft-dirty bit;
    writable only for a writable entry in a VM_WRITE VMA; 6.1+ young and dirty from
    the entry's SWP_MIG_YOUNG/DIRTY bits; 5.19+ exclusive unless the entry is a
    plain readable one (RMAP_EXCLUSIVE).

    Soft-dirty from a dirty entry: x86's pte_mkdirty()/pmd_mkdirty() set both bits,
    so a dirty page comes back soft-dirty; after 6.1
    (``migration_restore_dirty_keeps_soft_dirty``) a PTE (``pte``) no longer does.
    """
    swp = ctx.swp
    if swp.pte_swp_soft_dirty(swp_word):
        mapping = pte_mksoft_dirty(mapping)
    if swp.is_writable_migration_entry(entry):
        mapping = maybe_mkwrite(mapping, vma)
    if swp.migration_entry_supports_ad:
        if entry & SWP_MIG_YOUNG:
            mapping = pte_mkyoung(mapping)
        if entry & SWP_MIG_DIRTY:
            if pte and ctx.profile.migration_restore_dirty_keeps_soft_dirty:
                mapping |= _PAGE_DIRTY  # dirty again, soft-dirty only from the entry
            else:
                mapping = pte_mkdirty(mapping)  # x86: dirty and soft-dirty
    exclusive = swp.has_read_exclusive and (
        swp.is_writable_migration_entry(entry) or swp.is_readable_exclusive_migration_entry(entry))
    return mapping, exclusive


def remove_migration_pmd(pvmw, new: int) -> None:
    """Replace a PMD migration entry by a huge PMD to ``new``.

    Models: mm/huge_memory.c remove_migration_pmd(), v4.14: old and clean (A/D
    lost; 6.1+ restores them from the entry, and pmd_mkdirty sets soft-dirty too),
    soft-dirty from the swap bit, writable only for a write entry and a VM_WRITE
    VMA, mlocked again under VM_LOCKED. No TLB flush: the entry was not present.
    Context: PMD lock held, both pages locked. Preempts: never.
    """
    vma = pvmw.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    address = pvmw.address & HPAGE_PMD_MASK
    old = pmdp_get(pvmw.pmd)
    entry = ctx.swp.pmd_to_swp_entry(old)
    get_page(ctx, new)
    pmde, exclusive = migration_entry_restore(ctx, vma, old, entry,
                                              pmd_mkold(mk_huge_pmd(new, vma.vm_page_prot)))
    if exclusive:
        ctx.pages.flags[new] |= F_anon_exclusive
    page_add_anon_rmap(ctx, new, vma, address, True)
    set_pmd_at(mm, address, pvmw.pmd, pmde)
    if ctx.cost is not None:  # modeled time: the PMD rewritten
        ctx.cost.pte_update(ctx.smp_processor_id(), 1)
    if vma.vm_flags & VM_LOCKED:
        # cycle: mm.mlock -> mm.gup -> mm.memory -> mm.huge_memory imports this module
        from thpsim.mm.mlock import mlock_vma_page

        mlock_vma_page(ctx, new)


# ---------------------------------------------------------------- debugfs split_huge_pages
SPLIT_HUGE_PAGES = "/sys/kernel/debug/split_huge_pages"
#: mm/huge_memory.c MAX_INPUT_BUF_SZ: the bytes split_huge_pages_write() copies in; the
#: last is then NUL, so the string holds at most 254 of them
MAX_INPUT_BUF_SZ = 255


def _vsscanf(s: str, fmt: list[str]) -> list[int]:
    """The conversions lib/vsprintf.c vsscanf() makes of ``s`` for the formats
    split_huge_pages_write() uses: ``fmt`` is a list of literals and conversions
    ("%d", "%ld": signed decimal; "%lx": hex, an optional 0x of its own). A literal
    must match exactly; a conversion skips white space first and stops the scan if no
    digit follows. Returns the values converted before the first mismatch."""
    out: list[int] = []
    i = 0
    for tok in fmt:
        if not tok.startswith("%"):
            if not s.startswith(tok, i):
                break
            i += len(tok)
            continue
        while i < len(s) and s[i] in " \t\n\v\f\r":
            i += 1
        hexa = tok == "%lx"
        digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
        neg = not hexa and s[i:i + 1] == "-"
        j = i + 1 if neg else i
        if j >= len(s) or s[j] not in digits:
            break
        if hexa and s[j:j + 2] in ("0x", "0X") and s[j + 2:j + 3] and s[j + 2] in digits:
            j += 2  # _parse_integer_fixup_radix()
        k = j
        while k < len(s) and s[k] in digits:
            k += 1
        v = int(s[j:k], 16 if hexa else 10)
        v = -v if neg else v
        bits = 32 if tok == "%d" else 64
        v &= (1 << bits) - 1
        if tok != "%lx" and v >> (bits - 1):
            v -= 1 << bits
        out.append(v)
        i = k
    return out


def _split_one(ctx: KernelContext, head: int, split_order: int) -> KernelPath[bool]:
    """Split the THP at ``head`` (locked, referenced by the caller) down to
    ``split_order``. Returns True when it was split."""
    if split_order == 1:
        return False  # 6.x: no order-1 anon folios (split_huge_page_to_list_to_order())
    return (yield from split_huge_page(ctx, head)) == 0


def split_huge_pages_all(ctx: KernelContext) -> KernelPath[tuple[int, int]]:
    """Split every THP on an LRU list.

    Models: mm/huge_memory.c split_huge_pages_all() (4.14: split_huge_pages_set()):
    every PFN of every populated zone; a frame that is free (no reference to take),
    a tail, not a compound head, or off the LRU (the huge zero page, an isolated
    THP) is skipped; the others are locked (folio_lock(), which may sleep) and
    split_huge_page()d. Returns (split, total).
    """
    pages = ctx.pages
    split = total = 0
    for pgdat in ctx.node_data.values():
        for z in pgdat.node_zones:
            if not z.populated_zone():
                continue
            pfn = z.zone_start_pfn
            end = z.zone_end_pfn()
            while pfn < end:
                f = pages.flags[pfn]
                if f & F_tail or not f & F_head or not f & F_lru or pages.refcount[pfn] <= 0:
                    pfn += 1
                    continue
                if page_zone(ctx, pfn) is not z:
                    pfn += 1
                    continue
                nr = 1 << pages.order[pfn]
                get_page(ctx, pfn)
                total += 1
                yield from folio_lock(ctx, pfn)
                if (yield from split_huge_page(ctx, pfn)) == 0:
                    split += 1
                folio_unlock(ctx, pfn)
                put_page(ctx, pfn)
                pfn += nr
    return split, total


def split_huge_pages_pid(ctx: KernelContext, pid: int, vaddr_start: int, vaddr_end: int,
                         new_order: int = 0) -> KernelPath[int]:
    """Split the THPs mapped in [vaddr_start, vaddr_end) of process ``pid``.

    Models: mm/huge_memory.c split_huge_pages_pid(), 5.12+ (6.9: ``new_order``):
    no such task -ESRCH, no mm -EINVAL; under mmap_lock for read, page by page
    (a PTE table may hold several PTE-mapped THPs): a hole ends the walk; the zero
    pages and base pages are skipped; a THP whose order is not above ``new_order``
    is skipped; one that cannot be split (can_split_folio(): other references) or
    that another holds locked is counted and skipped, the others are split.
    Returns 0 whatever was split (the kernel only pr_debug()s "split of total").
    Simplified: the model has PMD-sized THPs only, so a ``new_order`` of 2 to 8
    splits to base pages (the kernel makes order-``new_order`` folios); 1 splits
    nothing (no order-1 anon folios); a special VMA (VM_IO, VM_PFNMAP) never occurs.
    """
    # cycle: mm.gup -> mm.memory -> mm.huge_memory (follow_page_mask() is gup's)
    from thpsim.mm.gup import _follow_page_mask_nowait

    vaddr_start &= PAGE_MASK
    vaddr_end &= PAGE_MASK
    task = ctx.tasks.get(pid)  # find_get_task_by_vpid()
    if task is None:
        return -errno.ESRCH
    mm = task.mm
    if mm is None or mm.dead:
        return -errno.EINVAL
    pages = ctx.pages
    split = total = 0
    yield from down_read(mm.mmap_lock)
    try:
        addr = vaddr_start
        while addr < vaddr_end:
            vma = mm.find_vma(addr)
            if vma is None or addr < vma.vm_start:
                break
            page, _mask = _follow_page_mask_nowait(vma, addr, 0)
            if page is None or page < 0 or page == ctx.zero_pfn:
                addr += PAGE_SIZE
                continue
            head = pages.compound_head(page)
            if head == ctx.huge_zero_pfn or not pages.flags[head] & F_head:
                addr += PAGE_SIZE
                continue
            if new_order >= pages.order[head]:
                addr += PAGE_SIZE
                continue
            total += 1
            get_page(ctx, head)
            if can_split_huge_page(ctx, head)[0] and folio_trylock(ctx, head):
                if (yield from _split_one(ctx, head, new_order)):
                    split += 1
                folio_unlock(ctx, head)
            put_page(ctx, head)
            addr += PAGE_SIZE
    finally:
        up_read(mm.mmap_lock)
    return 0


def split_huge_pages_write(f, buf: bytes) -> int:
    """/sys/kernel/debug/split_huge_pages (root only, 0200).

    Models: mm/huge_memory.c split_huge_pages_write(), 5.12+ (``split_huge_pages_pid``;
    7.2's formats): the first 254 bytes as a C string, then
      "<pid>,0x<start>,0x<end>[,<new_order>[,<in_folio_offset>]]": split_huge_pages_pid()
      (ESRCH, EINVAL); a lone "1" (pid 1 and nothing after): split_huge_pages_all();
      "/<path>,0x<off>,0x<off>[,<order>[,<offset>]]": the file's page-cache THPs;
    anything else EINVAL. Returns the string's length on success (not the count).
    4.14 split_huge_pages_set(), a DEFINE_SIMPLE_ATTRIBUTE: the value (simple_attr_write())
    must be 1 (else EINVAL), the whole count is returned, and the result is logged
    ("<split> of <total> THP split").
    Simplified: no page cache, so a path that exists splits nothing (one that does not
    is EINVAL); ``in_folio_offset`` (6.15, a non-uniform folio_split()) splits as
    ``new_order`` does.
    """
    ctx = f.ctx
    if not ctx.profile.split_huge_pages_pid:
        # cycle: mm.hwpoison_inject -> mm.memory_failure -> mm.huge_memory
        from thpsim.mm.hwpoison_inject import simple_attr_write

        if simple_attr_write(f, buf) != 1:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
        split, total = run_to_completion(split_huge_pages_all(ctx))
        ctx.printk(f"{split} of {total} THP split")
        return len(buf)
    raw = buf[:MAX_INPUT_BUF_SZ - 1]
    s = raw.split(b"\0", 1)[0].decode("latin-1")
    if s.startswith("/"):
        path, sep, rest = s.partition(",")
        vals = _vsscanf(rest, ["0x", "%lx", ",", "0x", "%lx", ",", "%d", ",", "%ld"])
        if not sep or len(vals) not in (2, 3, 4) or not f.vfs.path_exists(path):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
        return len(s)
    vals = _vsscanf(s, ["%d", ",", "0x", "%lx", ",", "0x", "%lx", ",", "%d", ",", "%ld"])
    if len(vals) == 1 and vals[0] == 1:
        run_to_completion(split_huge_pages_all(ctx))
        return len(s)
    if len(vals) not in (3, 4, 5):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
    new_order = vals[3] & 0xFFFF_FFFF if len(vals) > 3 else 0  # unsigned int
    ret = run_to_completion(split_huge_pages_pid(ctx, vals[0], vals[1], vals[2], new_order))
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret), f.path)
    return len(s)


def register_debugfs(vfs) -> None:
    """Models: split_huge_pages_debugfs(): debugfs_create_file("split_huge_pages",
    0200, NULL, NULL, &split_huge_pages_fops)."""
    vfs.register_file(SPLIT_HUGE_PAGES, writer=split_huge_pages_write, mode=0o200)
