"""Faults, zapping and fork's page-table copy.

Models: mm/memory.c, v4.14 (handle_mm_fault, __handle_mm_fault,
handle_pte_fault, do_anonymous_page, do_wp_page, wp_page_copy, wp_page_reuse,
do_swap_page's migration/hwpoison part, unmap_page_range and the zap_*_range
family, the mmu_gather's gather and flush, copy_page_range and its copy_*_range family,
free_pgd_range). The THP halves live in :mod:`thpsim.mm.huge_memory`.

Only anonymous private memory exists in the model: no file pages, no swap, no
userfaultfd. NUMA hinting faults: do_numa_page() (base pages) here,
do_huge_pmd_numa_page() in huge_memory.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PGDIR_SHIFT,
    PGDIR_SIZE,
    PMD_MASK,
    PMD_SHIFT,
    PMD_SIZE,
    PUD_SHIFT,
    PUD_SIZE,
    pfn_pte,
    pmd_devmap,
    pmd_none,
    pmd_protnone,
    pmd_trans_huge,
    pmd_write,
    pte_dirty,
    pte_mkdirty,
    pte_mkold,
    pte_mkspecial,
    pte_mkwrite,
    pte_mkyoung,
    pte_modify,
    pte_none,
    pte_pfn,
    pte_present,
    pte_protnone,
    pte_special,
    pte_write,
    pte_wrprotect,
    pud_none,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.include.asm_generic.tlb import mmu_gather, tlb_remove_page
from thpsim.kernel.locking import spin_lock, spin_unlock
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.sched_fair import (
    LAST_CPUPID_MASK,
    TNF_FAULT_LOCAL,
    TNF_MIGRATE_FAIL,
    TNF_MIGRATED,
    TNF_NO_GROUP,
    folio_last_cpupid,
    folio_use_access_time,
    task_numa_fault,
    vma_is_accessible,
    vma_set_access_pid_bit,
)
from thpsim.kernel.tlbflush import flush_tlb_mm_range
from thpsim.mm import huge_memory
from thpsim.mm.filemap import folio_lock, folio_trylock, folio_unlock
from thpsim.mm.gfp import __GFP_ZERO, GFP_HIGHUSER_MOVABLE
from thpsim.mm.internal import folio_pte_batch
from thpsim.mm.mempolicy import alloc_pages_vma, mpol_misplaced
from thpsim.mm.mm_types import (
    MM_ANONPAGES,
    VM_DONTCOPY,
    VM_FAULT_FALLBACK,
    VM_FAULT_HWPOISON,
    VM_FAULT_OOM,
    VM_FAULT_SIGBUS,
    VM_FAULT_SIGSEGV,
    VM_FAULT_WRITE,
    VM_LOCKED,
    VM_MAYWRITE,
    VM_SHARED,
    VM_WIPEONFORK,
    VM_WRITE,
    maybe_mkwrite,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.mmu_notifier import mmu_notifier_copy_range, mmu_notifier_invalidate_range
from thpsim.mm.page_alloc import NUMA_NO_NODE
from thpsim.mm.page_flags import F_anon_exclusive, F_dirty, F_head, F_tail, F_uptodate
from thpsim.mm.pgtable_generic import (
    Ptr,
    __pte_alloc,
    lookup_pmd_range,
    pgtable_free,
    pmd_lock,
    pmd_none_or_clear_bad,
    pmd_none_or_trans_huge_or_clear_bad,
    pmdp_get,
    pmdp_get_lockless,
    pte_offset_map,
    ptep_clear_flush,
    ptep_get,
    ptep_set_access_flags,
    ptr_set,
    set_pte_at,
    walk_to_pmd,
)
from thpsim.mm.rmap import (
    anon_vma_prepare,
    page_add_new_anon_rmap,
    page_dup_rmap,
    page_remove_rmap,
    page_remove_rmap_ptes,
    unlink_anon_vmas_locked,
)
from thpsim.mm.swap import get_page, lru_cache_add_active_or_unevictable, put_page
from thpsim.mm.swapfile import reuse_swap_page
from thpsim.mm.vmstat import NUMA_HINT_FAULTS, NUMA_HINT_FAULTS_LOCAL, PGFAULT

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

# include/linux/mm.h fault flags (v4.14)
FAULT_FLAG_WRITE = 0x01
FAULT_FLAG_MKWRITE = 0x02
FAULT_FLAG_ALLOW_RETRY = 0x04
FAULT_FLAG_RETRY_NOWAIT = 0x08
FAULT_FLAG_KILLABLE = 0x10
FAULT_FLAG_TRIED = 0x20
FAULT_FLAG_USER = 0x40
FAULT_FLAG_REMOTE = 0x80
FAULT_FLAG_INSTRUCTION = 0x100



class vm_fault:
    """Models: struct vm_fault (the fields anonymous faults use)."""

    __slots__ = ("vma", "flags", "address", "pmd", "orig_pmd", "pte", "orig_pte", "ptl")

    def __init__(self, vma: vm_area_struct, address: int, flags: int):
        self.vma = vma
        self.flags = flags
        self.address = address & ~(PAGE_SIZE - 1)
        self.pmd: Ptr = None  # type: ignore[assignment]
        self.orig_pmd = 0
        self.pte: Ptr | None = None
        self.orig_pte = 0
        self.ptl = None


# ---------------------------------------------------------------- helpers
def is_cow_mapping(flags: int) -> bool:
    """Models: mm/internal.h is_cow_mapping(): private and possibly writable."""
    return flags & (VM_SHARED | VM_MAYWRITE) == VM_MAYWRITE


def vm_normal_page(vma: vm_area_struct, addr: int, pte: int) -> int:
    """Models: vm_normal_page(): the PFN of a normal page, or -1 (zero page, special)."""
    if pte_special(pte):
        return -1
    return pte_pfn(pte)


def is_zero_pfn(ctx: KernelContext, pfn: int) -> bool:
    return pfn == ctx.zero_pfn


def mm_counter_anon() -> int:
    return MM_ANONPAGES


# ---------------------------------------------------------------- fault entry
def handle_mm_fault(vma: vm_area_struct, address: int, flags: int) -> KernelPath[int]:
    """Models: mm/memory.c handle_mm_fault(). Context: mmap_lock held for read.

    Preempts: see __handle_mm_fault. Returns: 0 or VM_FAULT_* bits.
    """
    mm = vma.vm_mm
    mm.kernel.vmstat.count_vm_event(PGFAULT)
    return (yield from __handle_mm_fault(vma, address, flags))


def __handle_mm_fault(vma: vm_area_struct, address: int, flags: int) -> KernelPath[int]:
    """Resolve a fault at the PMD level, then at the PTE level.

    Models: mm/memory.c __handle_mm_fault(), v4.14.
    Context: mmap_lock held for read.
    Preempts: in table allocation, after the lockless PMD read, waiting on a
    PMD migration entry, and in the paths below.
    Returns: 0 (the access is retried) or VM_FAULT_* bits.
    A PROT_NONE huge PMD in an accessible VMA is a NUMA hinting fault
    (do_huge_pmd_numa_page()).
    Simplified: no PUD-level (1 GiB) THP.
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    vmf = vm_fault(vma, address, flags)
    pmd = yield from walk_to_pmd(mm, address, True)
    if pmd is None:
        return VM_FAULT_OOM
    vmf.pmd = pmd
    if pmd_none(pmdp_get(pmd)) and huge_memory.transparent_hugepage_enabled(vma):
        ret = yield from huge_memory.do_huge_pmd_anonymous_page(vmf)
        if not ret & VM_FAULT_FALLBACK:
            return ret
    else:
        orig_pmd = pmdp_get_lockless(pmd)
        vmf.orig_pmd = orig_pmd
        yield PREEMPT  # window: another CPU may swap this PMD for a migration entry, or back
        if is_swap_pmd(orig_pmd):
            if not ctx.swp.is_pmd_migration_entry(orig_pmd):
                ctx.bug_on(True, f"non-migration swap PMD {orig_pmd:#x}")
            # cycle: mm/migrate.c keeps the wait (mm.migrate -> mm.gup -> mm.memory)
            from thpsim.mm.migrate import pmd_migration_entry_wait

            yield from pmd_migration_entry_wait(mm, pmd)
            return 0
        if pmd_trans_huge(orig_pmd) or pmd_devmap(orig_pmd):
            if pmd_protnone(orig_pmd) and vma_is_accessible(vma):
                return (yield from huge_memory.do_huge_pmd_numa_page(vmf, orig_pmd))
            if flags & FAULT_FLAG_WRITE and not pmd_write(orig_pmd):
                ret = yield from huge_memory.do_huge_pmd_wp_page(vmf, orig_pmd)
                if not ret & VM_FAULT_FALLBACK:
                    return ret
            else:
                yield from huge_memory.huge_pmd_set_accessed(vmf, orig_pmd)
                return 0
    return (yield from handle_pte_fault(vmf))


def handle_pte_fault(vmf: vm_fault) -> KernelPath[int]:
    """Models: mm/memory.c handle_pte_fault(), v4.14.

    Context: mmap_lock held for read. Preempts: after the lockless PTE read.
    """
    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    pmdval = pmdp_get(vmf.pmd)
    if pmd_none(pmdval):
        vmf.pte = None
    else:
        # pmd_devmap_trans_unstable(): a huge PMD or migration entry appeared: retry
        # (before C:84c3fc4 a migration entry was "bad" here: B2)
        if pmd_devmap(pmdval) or pmd_none_or_trans_huge_or_clear_bad(ctx, vmf.pmd):
            return 0
        vmf.pte = pte_offset_map(ctx, pmdval, vmf.address)
        vmf.orig_pte = ptep_get(vmf.pte)
        yield PREEMPT  # window: the PTE may change before we take the PTE lock
        if pte_none(vmf.orig_pte):
            vmf.pte = None
    if vmf.pte is None:
        return (yield from do_anonymous_page(vmf))
    entry = vmf.orig_pte
    if not pte_present(entry):
        return (yield from do_swap_page(vmf))
    if pte_protnone(entry):
        if vma_is_accessible(vma):
            return (yield from do_numa_page(vmf))
        return VM_FAULT_SIGSEGV  # PROT_NONE VMAs fail earlier (access_error())
    ptl = vmf.pte[0].ptl
    yield from spin_lock(ptl)
    if ptep_get(vmf.pte) != entry:
        spin_unlock(ptl)
        return 0  # another CPU changed it: the access is retried
    if vmf.flags & FAULT_FLAG_WRITE:
        if not pte_write(entry):
            vmf.ptl = ptl
            return (yield from do_wp_page(vmf))  # releases ptl
        entry = pte_mkdirty(entry)
    entry = pte_mkyoung(entry)
    ptep_set_access_flags(vma, vmf.address, vmf.pte, entry, bool(vmf.flags & FAULT_FLAG_WRITE))
    spin_unlock(ptl)
    return 0


def do_numa_page(vmf: vm_fault) -> KernelPath[int]:
    """A NUMA hinting fault on a PROT_NONE PTE: restore it, count, maybe migrate.

    Models: mm/memory.c do_numa_page(), 4.14 and 6.x (numa_migrate_prep() 4.14,
    numa_migrate_check() 6.10+). Under the PTE lock, with the PTE unchanged:

    * 4.14 (``mprotect_try_change_writable`` off: the savedwrite era): the PTE is made
      accessible and young at once (its saved write bit kept); a page of a compound
      (PTE-mapped THP) is left there; numa_hint_faults (and _local when the page is on
      this CPU's node) are counted, a reference taken, mpol_misplaced() asked; after
      unlocking, migrate_misplaced_page() moves it (the PTE is a present PTE again, so
      the common migration path replaces it with a migration entry).
    * 6.x: numa_migrate_check() counts and asks mpol_misplaced() with the entry still
      PROT_NONE; a misplaced page is isolated under the lock
      (migrate_misplaced_folio_prepare()) and migrated after unlocking
      (migrate_misplaced_folio(): the migration entry replaces the PROT_NONE entry);
      otherwise, or when that fails and the PTE is unchanged, the PTE is rebuilt
      accessible, young, and writable if it was or can be (can_change_pte_writable():
      an exclusive anon page in a writable VMA).

    task_numa_fault() gets the fault (kernel/sched_fair.py), and 6.4+ records the pid
    in the VMA (vma_set_access_pid_bit()).
    Context: mmap_lock held for read. Preempts: in the PTE lock and migration.
    Simplified: a PTE-mapped large folio is restored without counting in every era
    (6.10+ handles mTHP and PTE-mapped THPs: numa_rebuild_large_mapping()); no
    TNF_SHARED (no shared anonymous memory).
    """
    # cycle: mm/migrate.c keeps the misplaced-migration path (migrate -> gup -> memory)
    from thpsim.mm.migrate import (
        migrate_misplaced_folio,
        migrate_misplaced_folio_prepare,
        migrate_misplaced_page,
    )

    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    pages = ctx.pages
    vm = ctx.vmstat
    task = ctx.current
    ptl = vmf.pte[0].ptl
    yield from spin_lock(ptl)
    old = ptep_get(vmf.pte)
    if old != vmf.orig_pte:
        spin_unlock(ptl)
        return 0
    pte = pte_modify(old, vma.vm_page_prot)
    flags = 0
    nid = NUMA_NO_NODE
    last_cpupid = LAST_CPUPID_MASK
    this_nid = ctx.numa_node_id()
    if not ctx.profile.mprotect_try_change_writable:
        # 4.14: make it present again first
        pte = pte_mkyoung(pte)
        if pte_write(old):  # pte_savedwrite()
            pte = pte_mkwrite(pte)
        set_pte_at(mm, vmf.address, vmf.pte, pte)  # ptep_modify_prot_commit()
        pfn = vm_normal_page(vma, vmf.address, pte)
        if pfn < 0:
            spin_unlock(ptl)
            return 0
        head = pages.compound_head(pfn)
        if head != pfn or pages.flags[head] & F_head:
            spin_unlock(ptl)  # TODO in 4.14: handle PTE-mapped THP
            return 0
        if not pte_write(pte):
            flags |= TNF_NO_GROUP
        last_cpupid = folio_last_cpupid(ctx, head)
        nid = ctx.mem.pfn_to_nid(head)
        get_page(ctx, head)  # numa_migrate_prep()
        vm.count_vm_event(NUMA_HINT_FAULTS)
        if nid == this_nid:
            vm.count_vm_event(NUMA_HINT_FAULTS_LOCAL)
            flags |= TNF_FAULT_LOCAL
        target = mpol_misplaced(ctx, head, vma, vmf.address)
        spin_unlock(ptl)
        if target == NUMA_NO_NODE:
            put_page(ctx, head)
        elif (yield from migrate_misplaced_page(ctx, head, vma, target)):
            nid = target
            flags |= TNF_MIGRATED
        else:
            flags |= TNF_MIGRATE_FAIL
        task_numa_fault(ctx, task, last_cpupid, nid, 1, flags)
        return 0
    # 6.x
    writable = pte_write(pte)
    pfn = vm_normal_page(vma, vmf.address, pte)
    head = pages.compound_head(pfn) if pfn >= 0 else -1
    if not writable and vma.vm_flags & VM_WRITE and head >= 0 and (
            pages.flags[head] & F_anon_exclusive):
        writable = True  # can_change_pte_writable()
    if pfn >= 0 and not (head != pfn or pages.flags[head] & F_head):
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
        target = mpol_misplaced(ctx, head, vma, vmf.address)
        if target != NUMA_NO_NODE:
            if migrate_misplaced_folio_prepare(ctx, head, vma, target):
                flags |= TNF_MIGRATE_FAIL
            else:
                spin_unlock(ptl)
                writable = False
                if (yield from migrate_misplaced_folio(ctx, head, target)) == 0:
                    task_numa_fault(ctx, task, last_cpupid, target, 1, flags | TNF_MIGRATED)
                    return 0
                flags |= TNF_MIGRATE_FAIL
                yield from spin_lock(ptl)
                if ptep_get(vmf.pte) != vmf.orig_pte:
                    spin_unlock(ptl)
                    return 0
    # numa_rebuild_single_mapping()
    pte = pte_mkyoung(pte_modify(ptep_get(vmf.pte), vma.vm_page_prot))
    if writable:
        pte = pte_mkwrite(pte)
    set_pte_at(mm, vmf.address, vmf.pte, pte)
    spin_unlock(ptl)
    if nid != NUMA_NO_NODE:
        task_numa_fault(ctx, task, last_cpupid, nid, 1, flags)
    return 0


def do_anonymous_page(vmf: vm_fault) -> KernelPath[int]:
    """Models: mm/memory.c do_anonymous_page(), v4.14.

    Context: mmap_lock held for read. Preempts: in pte_alloc and the PTE lock.
    Read faults map the shared zero page (special, read-only); write faults a new
    zeroed page from the VMA's policy.
    """
    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    if pmd_none(pmdp_get(vmf.pmd)):
        if (yield from __pte_alloc(mm, vmf.pmd)) < 0:
            return VM_FAULT_OOM
    pmdval = pmdp_get(vmf.pmd)
    if pmd_trans_huge(pmdval) or is_swap_pmd(pmdval):
        return 0  # pmd_trans_unstable: a huge PMD raced in; retry
    pte = pte_offset_map(ctx, pmdval, vmf.address)
    if not vmf.flags & FAULT_FLAG_WRITE:
        entry = pte_mkspecial(pfn_pte(ctx.zero_pfn, vma.vm_page_prot))
        ptl = pte[0].ptl
        yield from spin_lock(ptl)
        try:
            if not pte_none(ptep_get(pte)):
                return 0
            set_pte_at(mm, vmf.address, pte, entry)
        finally:
            spin_unlock(ptl)
        return 0
    anon_vma_prepare(vma)
    pfn = alloc_pages_vma(GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0, vma, vmf.address)
    if pfn < 0:
        return VM_FAULT_OOM
    pages = ctx.pages
    pages.flags[pfn] |= F_uptodate
    entry = pfn_pte(pfn, vma.vm_page_prot)
    if vma.vm_flags & VM_WRITE:
        entry = pte_mkwrite(pte_mkdirty(entry))
    ptl = pte[0].ptl
    yield from spin_lock(ptl)
    try:
        if not pte_none(ptep_get(pte)):
            raced = True
        else:
            raced = False
            mm.add_mm_counter(MM_ANONPAGES, 1)
            page_add_new_anon_rmap(ctx, pfn, vma, vmf.address, False)
            lru_cache_add_active_or_unevictable(ctx, pfn, vma)
            set_pte_at(mm, vmf.address, pte, entry)
    finally:
        spin_unlock(ptl)
    if raced:
        put_page(ctx, pfn)
    return 0


def do_wp_page(vmf: vm_fault) -> KernelPath[int]:
    """Write fault on a present read-only PTE: reuse the page or copy it.

    Models: mm/memory.c do_wp_page(), v4.14.
    Context: PTE lock held (vmf.ptl) on entry, released on return.
    Preempts: waiting for the page lock, in wp_page_copy.
    """
    vma = vmf.vma
    ctx = vma.vm_mm.kernel
    ptl = vmf.ptl
    pfn = vm_normal_page(vma, vmf.address, vmf.orig_pte)
    if pfn < 0:
        spin_unlock(ptl)
        vmf.ptl = None
        return (yield from wp_page_copy(vmf, -1))
    pages = ctx.pages
    head = pages.compound_head(pfn)
    if not folio_trylock(ctx, head):
        get_page(ctx, head)
        spin_unlock(ptl)
        yield from folio_lock(ctx, head)
        yield from spin_lock(ptl)
        if ptep_get(vmf.pte) != vmf.orig_pte:
            folio_unlock(ctx, head)
            spin_unlock(ptl)
            vmf.ptl = None
            put_page(ctx, head)
            return 0
        put_page(ctx, head)
    if head != pfn or pages.flags[head] & F_head:
        # 5.9..6.15 (wp_copy_large_folio_subpages): a subpage of a large folio is
        # reused only if PageAnonExclusive (kept per folio in the model)
        reuse = (not ctx.profile.wp_copy_large_folio_subpages
                 or bool(pages.flags[head] & F_anon_exclusive)
                 or (ctx.profile.wp_reuse_large_folio_last_ref
                     and pages.total_mapcount(head) == 1)) and reuse_swap_page(ctx, pfn)
    else:
        reuse = reuse_swap_page(ctx, pfn)
    if reuse:
        pages.flags[head] |= F_anon_exclusive  # page_move_anon_rmap()
        folio_unlock(ctx, head)
        # wp_page_reuse()
        entry = pte_mkyoung(vmf.orig_pte)
        entry = maybe_mkwrite(pte_mkdirty(entry), vma)
        ptep_set_access_flags(vma, vmf.address, vmf.pte, entry, True)
        spin_unlock(ptl)
        vmf.ptl = None
        return VM_FAULT_WRITE
    folio_unlock(ctx, head)
    get_page(ctx, pfn)
    spin_unlock(ptl)
    vmf.ptl = None
    ret = yield from wp_page_copy(vmf, pfn)
    put_page(ctx, pfn)
    return ret


def wp_page_copy(vmf: vm_fault, old_pfn: int) -> KernelPath[int]:
    """Break COW: copy the page (or zero-fill for the zero page) and remap.

    Models: mm/memory.c wp_page_copy(), v4.14.
    Context: no page-table lock held on entry. Preempts: in the PTE lock and the
    TLB flush of the old entry.
    """
    vma = vmf.vma
    mm = vma.vm_mm
    ctx = mm.kernel
    if anon_vma_prepare(vma):
        return VM_FAULT_OOM
    if old_pfn < 0:
        new = alloc_pages_vma(GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0, vma, vmf.address)
    else:
        new = alloc_pages_vma(GFP_HIGHUSER_MOVABLE, 0, vma, vmf.address)
    if new < 0:
        return VM_FAULT_OOM
    if old_pfn >= 0:
        ctx.mem.copy_frames(new, old_pfn, 1)  # copy_user_highpage
    ctx.pages.flags[new] |= F_uptodate
    ptl = vmf.pte[0].ptl
    yield from spin_lock(ptl)
    try:
        if ptep_get(vmf.pte) != vmf.orig_pte:
            keep = False
        else:
            keep = True
            if old_pfn < 0:
                mm.add_mm_counter(MM_ANONPAGES, 1)
            entry = pfn_pte(new, vma.vm_page_prot)
            entry = maybe_mkwrite(pte_mkdirty(entry), vma)
            # ptep_clear_flush_notify(): no CPU may keep writing the old page
            yield from ptep_clear_flush(vma, vmf.address, vmf.pte)
            page_add_new_anon_rmap(ctx, new, vma, vmf.address, False)
            lru_cache_add_active_or_unevictable(ctx, new, vma)
            set_pte_at(mm, vmf.address, vmf.pte, entry)
            if old_pfn >= 0:
                page_remove_rmap(ctx, old_pfn, False)
                put_page(ctx, old_pfn)  # the reference the old mapping held
    finally:
        spin_unlock(ptl)
    if not keep:
        put_page(ctx, new)
        return 0
    if old_pfn >= 0 and vma.vm_flags & VM_LOCKED:
        # 4.14: munlock_vma_page() of the old page once copied (it may stay mapped
        # by a child, which never inherits VM_LOCKED); 5.18+: page_remove_rmap() in a
        # VM_LOCKED VMA -> munlock_vma_folio(). A PTE-mapped THP is never mlocked here.
        # cycle: mm.mlock -> mm.gup -> mm.memory imports this module
        from thpsim.mm.mlock import munlock_vma_page

        if not ctx.pages.flags[old_pfn] & (F_head | F_tail):
            munlock_vma_page(ctx, old_pfn)
    return VM_FAULT_WRITE


def do_swap_page(vmf: vm_fault) -> KernelPath[int]:
    """A non-present, non-none PTE: a migration entry (wait) or a hwpoison entry (SIGBUS).

    Models: the non-swap half of mm/memory.c do_swap_page(), v4.14.
    """
    ctx = vmf.vma.vm_mm.kernel
    entry = ctx.swp.pte_to_swp_entry(vmf.orig_pte)
    if ctx.swp.is_migration_entry(entry):
        # cycle: mm/migrate.c keeps the wait (migrate -> gup -> memory)
        from thpsim.mm.migrate import migration_entry_wait

        yield from migration_entry_wait(vmf.vma.vm_mm, vmf.pmd, vmf.address)
        return 0
    if ctx.swp.is_hwpoison_entry(entry):
        return VM_FAULT_HWPOISON
    ctx.bug_on(True, f"do_swap_page: unexpected swap entry {entry:#x} (no swap in the model)")
    return VM_FAULT_SIGBUS



# ---------------------------------------------------------------- mmu_gather
def tlb_gather_mmu(mm: mm_struct, start: int, end: int) -> mmu_gather:
    return mmu_gather(mm, start, end)


def tlb_flush_mmu(tlb: mmu_gather) -> KernelPath[None]:
    """Flush the gathered TLB range, then free the gathered pages and tables."""
    if tlb.need_flush:
        yield from flush_tlb_mm_range(tlb.mm, tlb.start, tlb.end)
        tlb.need_flush = False
        tlb.start, tlb.end = 1 << 64, 0
    ctx = tlb.mm.kernel
    pages, tlb.pages = tlb.pages, []
    for pfn in pages:
        put_page(ctx, pfn)
    tables, tlb.tables = tlb.tables, []
    for pfn in tables:
        pgtable_free(ctx, pfn)


def tlb_finish_mmu(tlb: mmu_gather) -> KernelPath[None]:
    yield from tlb_flush_mmu(tlb)


# ---------------------------------------------------------------- zap
def _addr_end(addr: int, end: int, size: int) -> int:
    boundary = (addr + size) & ~(size - 1)
    return boundary if boundary - 1 < end - 1 else end


def unmap_page_range(tlb: mmu_gather, vma: vm_area_struct, addr: int,
                     end: int, reclaim_pt: bool = False) -> KernelPath[None]:
    """Models: mm/memory.c unmap_page_range() (zap_p4d/pud/pmd/pte_range), v4.14.

    ``reclaim_pt``: zap_details.reclaim_pt (MADV_DONTNEED, 6.13+): a PTE table the
    zap covers whole and leaves empty is freed (zap_pte_range()).
    Context: mmap_lock held (read for MADV_DONTNEED, write for munmap/exit).
    Preempts: per PMD (cond_resched) and in the paths below.
    """
    ctx = vma.vm_mm.kernel
    tables = ctx.mem.tables
    mm = vma.vm_mm
    start = addr
    while addr < end:
        next_pgd = _addr_end(addr, end, PGDIR_SIZE)
        pgde = mm.pgd[(addr >> PGDIR_SHIFT) & 511]
        if pgde == 0:
            addr = next_pgd
            continue
        pud_t = tables[table_entry_pfn(pgde)]
        while addr < next_pgd:
            next_pud = _addr_end(addr, next_pgd, PUD_SIZE)
            pude = pud_t[(addr >> PUD_SHIFT) & 511]
            if pud_none(pude):
                addr = next_pud
                continue
            pmd_t = tables[table_entry_pfn(pude)]
            yield from zap_pmd_range(tlb, vma, pmd_t, addr, next_pud, reclaim_pt)
            addr = next_pud
    if ctx.mmu_notifiers:
        mmu_notifier_invalidate_range(mm, start, end)


def zap_pmd_range(tlb: mmu_gather, vma: vm_area_struct, pmd_t, addr: int,
                  end: int, reclaim_pt: bool = False) -> KernelPath[None]:
    """Models: mm/memory.c zap_pmd_range(), v4.14 (merged form: lockless
    classification, then zap_huge_pmd or split, then pmd_none_or_trans_huge_or_clear_bad).

    The classification reads the PMD once (pmdp_get_lockless(); 6.5+ also retries a
    PMD that stopped being a table); ``bug_b1_zap_lockless_multiread`` reads it three
    times, as the series' first versions did (B1).
    """
    ctx = vma.vm_mm.kernel
    while addr < end:
        next_ = _addr_end(addr, end, PMD_SIZE)
        pmd = (pmd_t, (addr >> PMD_SHIFT) & 511)
        if ctx.profile.bug_b1_zap_lockless_multiread:
            huge = yield from _zap_classify_multiread(pmd)  # B1
        else:
            pmdval = pmdp_get_lockless(pmd)
            huge = is_swap_pmd(pmdval) or pmd_trans_huge(pmdval) or pmd_devmap(pmdval)
        if huge:
            if next_ - addr != HPAGE_PMD_SIZE:
                yield from huge_memory.__split_huge_pmd(vma, pmd, addr, False)
            elif (yield from huge_memory.zap_huge_pmd(tlb, vma, pmd, addr)):
                addr = next_
                yield PREEMPT  # cond_resched()
                continue
        if pmd_none_or_trans_huge_or_clear_bad(ctx, pmd):
            addr = next_
            continue
        yield from zap_pte_range(tlb, vma, pmd, addr, next_, reclaim_pt)
        addr = next_
        yield PREEMPT  # cond_resched(): another CPU may run between PMDs


def _zap_classify_multiread(pmd: Ptr) -> KernelPath[bool]:
    """B1 (``bug_b1_zap_lockless_multiread``): the test ``is_swap_pmd(*pmd) ||
    pmd_trans_huge(*pmd) || pmd_devmap(*pmd)`` as three loads of ``*pmd``. A THP that
    becomes a migration entry between the first two is neither, so the caller goes on
    to pmd_none_or_trans_huge_or_clear_bad(), which skips it as unstable."""
    if is_swap_pmd(pmdp_get(pmd)):
        return True
    yield PREEMPT  # window: another CPU may rewrite the PMD between the loads
    if pmd_trans_huge(pmdp_get(pmd)):
        return True
    yield PREEMPT  # window: as above
    return pmd_devmap(pmdp_get(pmd))


def zap_pte_range(tlb: mmu_gather, vma: vm_area_struct, pmd: Ptr, addr: int,
                  end: int, reclaim_pt: bool = False) -> KernelPath[None]:
    """Models: mm/memory.c zap_pte_range(), v4.14, with 6.13's empty-table reclaim
    (C:6375e95f381e, "mm: pgtable: reclaim empty PTE page in madvise(MADV_DONTNEED)",
    mm/pt_reclaim.c): with ``reclaim_pt`` and a range covering the whole table
    (reclaim_pt_is_enabled()), a table left with every entry none is unhooked from
    its PMD under the PMD lock and freed with the gather (pte_free_tlb(),
    mm_dec_nr_ptes()); the next fault there sees a none PMD (a THP, or the huge zero
    page, may map it). Simplified: the model takes the PMD lock after the PTE lock
    (try_to_free_pte()'s way), never the trylock of the fast path.
    Context: takes the PTE lock (and then the PMD lock)."""
    mm = vma.vm_mm
    ctx = mm.kernel
    pmdval = pmdp_get(pmd)
    table = ctx.mem.tables[table_entry_pfn(pmdval)]
    ptl = table.ptl
    yield from spin_lock(ptl)
    try:
        rss = 0
        pages = ctx.pages
        swp = ctx.swp
        batch = ctx.profile.zap_pte_batch
        i = (addr >> PAGE_SHIFT) & 511
        a = addr
        while a < end:
            ptent = table[i]
            if ptent == 0 or pte_none(ptent):
                i += 1
                a += PAGE_SIZE
                continue
            if pte_present(ptent):
                pfn = vm_normal_page(vma, a, ptent)
                if pfn >= 0 and batch and pages.flags[pages.compound_head(pfn)] & F_head:
                    # 6.9+ zap_present_ptes(): the PTEs of one large folio in a batch,
                    # one folio_remove_rmap_ptes() (no deferred split for a folio the
                    # batch unmaps whole)
                    head = pages.compound_head(pfn)
                    nr = folio_pte_batch(ctx, table, i, (end - a) >> PAGE_SHIFT)
                    dirty = False
                    for j in range(i, i + nr):
                        dirty = dirty or pte_dirty(table[j])
                        table[j] = 0  # get_and_clear_full_ptes()
                    tlb.track(a, a + nr * PAGE_SIZE)
                    rss -= nr
                    if dirty:
                        pages.flags[head] |= F_dirty
                    page_remove_rmap_ptes(ctx, head, pfn, nr, batch=True)
                    for k in range(nr):
                        tlb_remove_page(tlb, pfn + k)
                    i += nr
                    a += nr * PAGE_SIZE
                    continue
                table[i] = 0  # ptep_get_and_clear_full()
                tlb.track(a, a + PAGE_SIZE)  # tlb_remove_tlb_entry()
                if pfn < 0:
                    i += 1
                    a += PAGE_SIZE
                    continue
                rss -= 1
                if pte_dirty(ptent):
                    pages.flags[pages.compound_head(pfn)] |= F_dirty
                page_remove_rmap(ctx, pfn, False)
                tlb_remove_page(tlb, pfn)
            else:
                entry = swp.pte_to_swp_entry(ptent)
                if swp.is_migration_entry(entry):
                    rss -= 1
                table[i] = 0  # pte_clear_not_present_full()
            i += 1
            a += PAGE_SIZE
        mm.add_mm_counter(MM_ANONPAGES, rss)
    finally:
        spin_unlock(ptl)
    if reclaim_pt and end - addr >= PMD_SIZE:
        yield from try_to_free_pte(tlb, pmd, table, addr & PMD_MASK)


def try_to_free_pte(tlb: mmu_gather, pmd: Ptr, table, addr: int) -> KernelPath[None]:
    """Models: mm/pt_reclaim.c try_to_free_pte() (6.13+): under the PMD lock and the
    PTE lock, if the PMD still points to ``table`` and every entry is none, clear the
    PMD and free the table with the gather."""
    mm = tlb.mm
    pml = yield from pmd_lock(mm, pmd)
    try:
        v = pmdp_get(pmd)
        if pmd_none(v) or pmd_trans_huge(v) or is_swap_pmd(v) or table_entry_pfn(v) != table.pfn:
            return
        yield from spin_lock(table.ptl)
        try:
            if any(table):
                return  # refilled meanwhile
            ptr_set(pmd, 0)  # pmd_clear()
            mm.nr_ptes -= 1  # mm_dec_nr_ptes()
            tlb.track(addr, addr + PMD_SIZE)  # the flush before the table is freed
            tlb.tables.append(table.pfn)  # pte_free_tlb()
        finally:
            spin_unlock(table.ptl)
    finally:
        spin_unlock(pml)


def unmap_vmas(tlb: mmu_gather, vmas: list[vm_area_struct], start: int,
               end: int) -> KernelPath[None]:
    """Models: mm/memory.c unmap_vmas()/unmap_single_vma()."""
    for vma in vmas:
        s = max(start, vma.vm_start)
        e = min(end, vma.vm_end)
        if s < e:
            yield from unmap_page_range(tlb, vma, s, e)


def zap_page_range(vma: vm_area_struct, start: int, size: int,
                   reclaim_pt: bool = False) -> KernelPath[None]:
    """Models: mm/memory.c zap_page_range() (MADV_DONTNEED; 6.x
    zap_page_range_single(), whose details ask for ``reclaim_pt`` in 6.13+).
    Context: mmap_lock read."""
    tlb = tlb_gather_mmu(vma.vm_mm, start, start + size)
    yield from unmap_page_range(tlb, vma, start, start + size, reclaim_pt)
    yield from tlb_finish_mmu(tlb)


# ---------------------------------------------------------------- free page tables
def free_pgd_range(tlb: mmu_gather, addr: int, end: int, floor: int,
                   ceiling: int) -> None:
    """Free page tables covering [addr, end) whose whole span lies in [floor, ceiling).

    Models: mm/memory.c free_pgd_range() and free_p*_range(), v4.14 (the floor/ceiling
    rule: a table is freed only if no VMA outside the range can still need it).
    ``ceiling`` 0 means the top of the address space. Tables are queued on the
    gather and freed after the TLB flush. Context: mmap_lock held for write.
    """
    mm = tlb.mm
    ctx = mm.kernel
    tables = ctx.mem.tables
    top = 1 << 48
    ceil = ceiling if ceiling else top

    def spans(lo: int, size: int) -> bool:
        return lo >= floor and lo + size <= ceil

    # PTE tables: per 2 MiB, skipping empty PGD and PUD entries as free_pud_range()
    # and free_pmd_range() do (p*d_none_or_clear_bad()): the cost follows the tables
    # that exist, not the span (an exit spans nearly the whole address space)
    a = addr & PMD_MASK
    while a < end:
        next_pgd = (a + PGDIR_SIZE) & ~(PGDIR_SIZE - 1)
        pgde = mm.pgd[(a >> PGDIR_SHIFT) & 511]
        if not pgde:
            a = next_pgd
            continue
        pud_t = tables[table_entry_pfn(pgde)]
        while a < end and a < next_pgd:
            next_pud = (a + PUD_SIZE) & ~(PUD_SIZE - 1)
            pude = pud_t[(a >> PUD_SHIFT) & 511]
            if pud_none(pude):
                a = next_pud
                continue
            pmd_t = tables[table_entry_pfn(pude)]
            while a < end and a < next_pud:
                if spans(a, PMD_SIZE):
                    pmd = (pmd_t, (a >> PMD_SHIFT) & 511)
                    v = pmdp_get(pmd)
                    if not pmd_none(v) and not pmd_trans_huge(v) and not is_swap_pmd(v):
                        pmd[0][pmd[1]] = 0
                        mm.nr_ptes -= 1
                        tlb.tables.append(table_entry_pfn(v))
                a += PMD_SIZE
    # PMD tables: per 1 GiB, skipping empty PGD entries
    a = addr & ~(PUD_SIZE - 1)
    while a < end:
        pgde = mm.pgd[(a >> PGDIR_SHIFT) & 511]
        if not pgde:
            a = (a + PGDIR_SIZE) & ~(PGDIR_SIZE - 1)
            continue
        if spans(a, PUD_SIZE):
            pud_t = tables[table_entry_pfn(pgde)]
            i = (a >> PUD_SHIFT) & 511
            pude = pud_t[i]
            if not pud_none(pude):
                pmd_t = tables[table_entry_pfn(pude)]
                if any(pmd_t) or pmd_t.pmd_huge_pte:
                    ctx.bug_on(True, f"freeing PMD table {pmd_t.pfn:#x} still in use")
                pud_t[i] = 0
                mm.nr_pmds -= 1
                tlb.tables.append(pmd_t.pfn)
        a += PUD_SIZE
    # PUD tables: per 512 GiB
    a = addr & ~(PGDIR_SIZE - 1)
    while a < end:
        if spans(a, PGDIR_SIZE):
            i = (a >> PGDIR_SHIFT) & 511
            pgde = mm.pgd[i]
            if pgde:
                pud_t = tables[table_entry_pfn(pgde)]
                if any(pud_t):
                    ctx.bug_on(True, f"freeing PUD table {pud_t.pfn:#x} still in use")
                mm.pgd[i] = 0
                mm.nr_puds -= 1
                tlb.tables.append(pud_t.pfn)
        a += PGDIR_SIZE


def free_pgtables(tlb: mmu_gather, vmas: list[vm_area_struct], floor: int,
                  ceiling: int) -> KernelPath[None]:
    """Models: mm/memory.c free_pgtables() for a run of adjacent removed VMAs.

    Each VMA is first hidden from rmap (unlink_anon_vmas under the anon_vma lock), so
    an rmap walk never visits a VMA whose page tables are being freed.
    """

    for v in vmas:
        yield from unlink_anon_vmas_locked(v)
    if not vmas:
        return
    free_pgd_range(tlb, vmas[0].vm_start, vmas[-1].vm_end, floor, ceiling)


# ---------------------------------------------------------------- fork
def copy_page_range(dst_mm: mm_struct, src_mm: mm_struct, dst_vma: vm_area_struct,
                    vma: vm_area_struct) -> KernelPath[int]:
    """Copy a VMA's page tables into the child, setting up COW.

    Models: mm/memory.c copy_page_range() -> copy_pmd_range() -> copy_pte_range()
    / copy_huge_pmd(), v4.14. Context: both mmap_locks held for write.
    Preempts: per PMD and in table allocation and locks. Returns 0 or -ENOMEM.
    """
    ctx = src_mm.kernel
    if ctx.mmu_notifiers:
        mmu_notifier_copy_range(src_mm, dst_mm, vma.vm_start, vma.vm_end)
    if vma.anon_vma is None:
        return 0
    addr, end = vma.vm_start, vma.vm_end
    while addr < end:
        src_pmd, next_ = lookup_pmd_range(src_mm, addr, end)
        if src_pmd is None:  # an empty PGD or PUD entry: skipped whole
            addr = next_
            continue
        v = pmdp_get(src_pmd)
        if pmd_none(v):
            addr = next_
            continue
        dst_pmd = yield from walk_to_pmd(dst_mm, addr, True)
        if dst_pmd is None:
            return -12
        if is_swap_pmd(v) or pmd_trans_huge(v) or pmd_devmap(v):
            err = yield from huge_memory.copy_huge_pmd(dst_mm, src_mm, dst_pmd, src_pmd,
                                                       addr, vma)
            if err == -12:
                return -12
            if err == 0:
                addr = next_
                continue
            # -EAGAIN: the PMD was split under us; copy at PTE level
        if pmd_none_or_clear_bad(ctx, src_pmd):
            addr = next_
            continue
        if (yield from copy_pte_range(dst_mm, src_mm, dst_pmd, src_pmd, vma, addr, next_)):
            return -12
        addr = next_
        yield PREEMPT  # cond_resched()
    return 0


def copy_pte_range(dst_mm: mm_struct, src_mm: mm_struct, dst_pmd: Ptr, src_pmd: Ptr,
                   vma: vm_area_struct, addr: int, end: int) -> KernelPath[int]:
    """Models: mm/memory.c copy_pte_range() + copy_one_pte(), v4.14.

    Context: takes the dst PTE lock, then the src PTE lock nested.
    """
    ctx = src_mm.kernel
    if pmd_none(pmdp_get(dst_pmd)):
        if (yield from __pte_alloc(dst_mm, dst_pmd)) < 0:
            return -12
    dst_t = ctx.mem.tables[table_entry_pfn(pmdp_get(dst_pmd))]
    src_v = pmdp_get(src_pmd)
    if pmd_trans_huge(src_v) or is_swap_pmd(src_v) or pmd_none(src_v):
        return 0  # changed under us (cannot happen with mmap_lock held for write)
    src_t = ctx.mem.tables[table_entry_pfn(src_v)]
    yield from spin_lock(dst_t.ptl)
    yield from spin_lock(src_t.ptl)
    try:
        swp = ctx.swp
        is_cow = is_cow_mapping(vma.vm_flags)
        rss = 0
        i = (addr >> PAGE_SHIFT) & 511
        for _a in range(addr, end, PAGE_SIZE):
            pte = src_t[i]
            if pte_none(pte):
                i += 1
                continue
            if not pte_present(pte):
                entry = swp.pte_to_swp_entry(pte)
                if swp.is_migration_entry(entry):
                    rss += 1
                    if swp.is_writable_migration_entry(entry) and is_cow:
                        # make_migration_entry_read(): COW mappings must not stay writable
                        new = swp.swp_entry_to_pte(
                            swp.make_readable_migration_entry(swp.pfn_swap_entry_pfn(entry))
                        )
                        if swp.pte_swp_soft_dirty(pte):
                            new = swp.pte_swp_mksoft_dirty(new)
                        src_t[i] = new
                        pte = new
                dst_t[i] = pte
                i += 1
                continue
            if is_cow and pte_write(pte):
                pte = pte_wrprotect(pte)
                src_t[i] = pte  # ptep_set_wrprotect()
            pte = pte_mkold(pte)
            pfn = vm_normal_page(vma, _a, pte)
            if pfn >= 0:
                get_page(ctx, pfn)
                page_dup_rmap(ctx, pfn, False)
                rss += 1
            dst_t[i] = pte
            i += 1
        dst_mm.add_mm_counter(MM_ANONPAGES, rss)
    finally:
        spin_unlock(src_t.ptl)
        spin_unlock(dst_t.ptl)
    return 0


def vma_wants_copy(vma: vm_area_struct) -> bool:
    """Whether fork copies this VMA's pages (VM_DONTCOPY skips the VMA, WIPEONFORK its pages)."""
    return not vma.vm_flags & (VM_DONTCOPY | VM_WIPEONFORK)


