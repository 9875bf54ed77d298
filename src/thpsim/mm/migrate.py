"""Page migration: the engine every caller shares, and move_pages(2).

Models: mm/migrate.c. The engine follows v4.14 (migrate_pages -> unmap_and_move
-> __unmap_and_move -> move_to_new_page -> migrate_page, remove_migration_ptes)
with the era differences behind profile switches:

* ``migrate_thp_split_on_enomem`` (4.17+, C:94723aafb9e7; 6.x counting): a THP
  whose 2 MiB target cannot be allocated is split and its 512 pages migrated;
  4.14 returns -ENOMEM and abandons the rest of the list (B18).
* ``pgmigrate_counts_base_pages`` (5.9+, C:1a5bae25e3cf): pgmigrate_* count base
  pages (a THP 512); 4.14 counts a THP as 1. thp_migration_success/fail/split are
  counted in both profiles (the seed keeps them as a documented extension).
* move_pages: one do_pages_move() for both eras: 4.14's chunks of the pm array
  (statuses through the result pointer, positive failure counts dropped, return
  0) versus 4.17+'s per-node batches with a positive return
  (``move_pages_batched``), 6.10's folio_likely_mapped_shared() test
  (``move_pages_folio_likely_mapped_shared``) and 6.12's folio_walk statuses
  (``move_pages_folio_walk``).

Simplified: one migration mode (MIGRATE_SYNC); no writeback, no page cache,
no hugetlb, no non-LRU movable pages, no batching of the unmap/move phases.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_NR,
    HPAGE_PMD_ORDER,
    HPAGE_PMD_SIZE,
    PAGE_SIZE,
    mk_huge_pmd,
    pfn_pte,
    pmd_mkdirty,
    pmd_modify,
    pmd_none,
    pmd_trans_huge,
    pte_mkold,
    pte_mksoft_dirty,
    pte_mkspecial,
)
from thpsim.arch.x86_64.swapops import (
    is_swap_pmd,
)
from thpsim.hw.memory import MAX_NUMNODES
from thpsim.include.linux.cpuset import cpuset_mems_allowed
from thpsim.include.linux.mempolicy import vma_migratable
from thpsim.include.linux.nodemask import node_states_memory
from thpsim.include.uapi.linux.mempolicy import MPOL_MF_MOVE, MPOL_MF_MOVE_ALL
from thpsim.kernel.entry import c_int, ulong
from thpsim.kernel.locking import down_read, spin_lock, spin_unlock, up_read
from thpsim.kernel.ptrace import PTRACE_MODE_READ_REALCREDS, ptrace_may_access
from thpsim.kernel.sched import KernelPath, WaitOn
from thpsim.kernel.sched_fair import (
    MIGRATE_INTERVAL_MILLISECS,
    NUMA_BALANCING_MEMORY_TIERING,
    RATELIMIT_PAGES,
    folio_migrate_last_cpupid,
    msecs_to_jiffies,
    node_is_toptier,
    numab,
    pgdat_numab_of,
)
from thpsim.kernel.task import CAP_SYS_NICE
from thpsim.mm import page_vma_mapped as pvm
from thpsim.mm.filemap import folio_lock, folio_trylock, folio_unlock
from thpsim.mm.gfp import (
    __GFP_NOMEMALLOC,
    __GFP_NORETRY,
    __GFP_NOWARN,
    __GFP_RECLAIM,
    __GFP_THISNODE,
    GFP_HIGHUSER_MOVABLE,
    GFP_TRANSHUGE,
    GFP_TRANSHUGE_LIGHT,
)
from thpsim.mm.gup import FOLL_DUMP, FOLL_NUMA, follow_page
from thpsim.mm.huge_memory import (
    maybe_pmd_mkwrite,
    migration_entry_restore,
    remove_migration_pmd,
    split_huge_page,
)
from thpsim.mm.mlock import clear_page_mlock, mlock_vma_page
from thpsim.mm.mm_types import MM_ANONPAGES, VM_LOCKED, mm_struct, vm_area_struct
from thpsim.mm.page_alloc import NUMA_NO_NODE, __alloc_pages, node_free_pages
from thpsim.mm.page_flags import (
    F_active,
    F_anon_exclusive,
    F_dirty,
    F_head,
    F_hwpoison,
    F_idle,
    F_locked,
    F_lru,
    F_mlocked,
    F_referenced,
    F_swapbacked,
    F_unevictable,
    F_uptodate,
    F_young,
)
from thpsim.mm.pagewalk import FW_ZEROPAGE, folio_walk_start
from thpsim.mm.pgtable_generic import (
    Ptr,
    pmd_lock,
    pmdp_get,
    pmdp_huge_clear_flush,
    pte_offset_map,
    ptep_get,
    set_pmd_at,
)
from thpsim.mm.rmap import (
    deferred_split_huge_page,
    page_add_anon_rmap,
    page_add_anon_rmap_ptes,
    page_anon_vma,
    page_remove_rmap,
    rmap_walk_anon,
    try_to_migrate,
)
from thpsim.mm.swap import (
    folio_get_refs,
    get_page,
    hpage_nr_pages,
    isolate_lru_page_for_migration,
    put_page,
    putback_lru_page,
)
from thpsim.mm.vmstat import (
    NR_ISOLATED_ANON,
    NR_MLOCK,
    NUMA_PAGE_MIGRATE,
    PGMIGRATE_FAIL,
    PGMIGRATE_SUCCESS,
    PGPROMOTE_SUCCESS,
    THP_MIGRATION_FAIL,
    THP_MIGRATION_SPLIT,
    THP_MIGRATION_SUCCESS,
)

MIGRATEPAGE_SUCCESS = 0
# enum migrate_mode
MIGRATE_ASYNC = 0
MIGRATE_SYNC_LIGHT = 1
MIGRATE_SYNC = 2
# enum migrate_reason (v4.14 order)
MR_COMPACTION = 0
MR_MEMORY_FAILURE = 1
MR_MEMORY_HOTPLUG = 2
MR_SYSCALL = 3
MR_MEMPOLICY_MBIND = 4
MR_NUMA_MISPLACED = 5
MR_CMA = 6
#: passes of the 4.14 loop; force (blocking page lock) from the third on
NR_MIGRATE_PASSES = 10

_M32 = 0xFFFF_FFFF

#: A target allocator: source head PFN -> new page PFN (compound for a THP) or -1.
NewPage = Callable[[int], int]


# ---------------------------------------------------------------- waiting on migration entries
def migration_entry_wait(mm: mm_struct, pmd: Ptr, address: int) -> KernelPath[None]:
    """Wait until the page behind a PTE migration entry is unlocked.

    Models: mm/migrate.c migration_entry_wait() -> __migration_entry_wait(), v4.14:
    a reference (get_page_unless_zero) held while sleeping, B17's cause; 5.0+
    put_and_wait_on_page_locked() (5.19+ migration_entry_wait_on_locked()): none
    while sleeping (``migration_entry_wait_no_ref``, unless ``bug_b17_waiter_takes_ref``).
    Context: no locks held on return. Preempts: in the PTE lock, while waiting.
    """
    ctx = mm.kernel
    pmdval = pmdp_get(pmd)
    if pmd_none(pmdval) or pmd_trans_huge(pmdval) or is_swap_pmd(pmdval):
        return
    pte = pte_offset_map(ctx, pmdval, address)
    ptl = pte[0].ptl
    yield from spin_lock(ptl)
    val = ptep_get(pte)
    if not ctx.swp.is_pte_migration_entry(val):
        spin_unlock(ptl)
        return
    pfn = ctx.swp.pfn_swap_entry_pfn(ctx.swp.pte_to_swp_entry(val))
    head = ctx.pages.compound_head(pfn)
    if not ctx.pages.refcount[head] or not ctx.pages.flags[head] & F_locked:
        spin_unlock(ptl)
        return
    pages = ctx.pages
    if not _waiter_holds_ref(ctx.profile):
        # 5.0+: sleep on PG_locked without a reference; the migrator's own reference
        # keeps the page until the entry is gone (taken under the PTE lock)
        spin_unlock(ptl)
        yield WaitOn(("page_locked", head), lambda: not pages.flags[head] & F_locked)
        return
    get_page(ctx, head)
    spin_unlock(ptl)
    yield WaitOn(("page_locked", head), lambda: not pages.flags[head] & F_locked)
    put_page(ctx, head)


def pmd_migration_entry_wait(mm: mm_struct, pmd: Ptr) -> KernelPath[None]:
    """Wait until the THP behind a PMD migration entry is unlocked.

    Models: mm/migrate.c pmd_migration_entry_wait(), v4.14 (transient
    get_page_unless_zero on the old page while sleeping: B17's cause); 5.0+ without
    a reference while sleeping (see :func:`migration_entry_wait`).
    Context: takes and drops the PMD lock. Preempts: in the lock, while waiting.
    """
    ctx = mm.kernel
    ptl = yield from pmd_lock(mm, pmd)
    val = pmdp_get(pmd)
    if not ctx.swp.is_pmd_migration_entry(val):
        spin_unlock(ptl)
        return
    head = ctx.swp.pfn_swap_entry_pfn(ctx.swp.pmd_to_swp_entry(val))
    pages = ctx.pages
    if not pages.refcount[head] or not pages.flags[head] & F_locked:
        spin_unlock(ptl)
        return
    if not _waiter_holds_ref(ctx.profile):
        spin_unlock(ptl)
        yield WaitOn(("page_locked", head), lambda: not pages.flags[head] & F_locked)
        return
    pages.refcount[head] += 1
    spin_unlock(ptl)
    yield WaitOn(("page_locked", head), lambda: not pages.flags[head] & F_locked)
    put_page(ctx, head)


def _waiter_holds_ref(prof) -> bool:
    """Whether a task waiting on a migration entry sleeps holding a page reference:
    4.14 (get_page_unless_zero(); wait_on_page_locked(); put_page()), or B17 brought
    back into an era that drops it first (put_and_wait_on_page_locked(), 5.0)."""
    return not prof.migration_entry_wait_no_ref or prof.bug_b17_waiter_takes_ref


def try_to_map_unused_to_zeropage(ctx, vma: vm_area_struct, t, i: int, e: int,
                                  sub: int) -> bool:
    """A subpage of a split anon THP that holds only zeros is mapped to the shared
    zero page instead (its frame is freed when the split drops its reference).

    Models: mm/migrate.c try_to_map_unused_to_zeropage(), 6.12+ (remap_page() with
    RMP_USE_SHARED_ZEROPAGE): not for a hwpoisoned or mlocked page or a VM_LOCKED
    VMA; the zero-page PTE keeps the entry's soft-dirty bit; MM_ANONPAGES drops.
    The model's frame holds one word: "only zeros" is that word being 0.
    """
    pages = ctx.pages
    if pages.flags[sub] & (F_hwpoison | F_mlocked) or vma.vm_flags & VM_LOCKED:
        return False
    if ctx.mem.contents[sub]:
        return False
    pte = pte_mkspecial(pfn_pte(ctx.zero_pfn, vma.vm_page_prot))
    if ctx.swp.pte_swp_soft_dirty(e):
        pte = pte_mksoft_dirty(pte)
    t[i] = pte
    vma.vm_mm.add_mm_counter(MM_ANONPAGES, -1)
    return True


def remove_migration_pte(ctx, new: int, vma: vm_area_struct, address: int,
                         old: int, map_unused_to_zeropage: bool = False) -> KernelPath[bool]:
    """Replace this VMA's migration entries for ``old`` with mappings of ``new``.

    Models: mm/migrate.c remove_migration_pte(), v4.14 (PTE entries: old and
    clean, soft-dirty and write from the entry, mlock for a base page under
    VM_LOCKED, and 4.19's munlock of a THP it maps by PTE (B12); 6.1+ restores
    young/dirty from the entry) and
    remove_migration_pmd() for a PMD entry; ``map_unused_to_zeropage`` (a split's
    remap, 6.12+): try_to_map_unused_to_zeropage() first. The run of entries the
    walk finds under one PTE lock is restored in one pass, its references and rmap
    taken at once (folio_get_refs(), page_add_anon_rmap_ptes(); no preemption point
    lies between them).
    """
    swp = ctx.swp
    pages = ctx.pages
    nr = hpage_nr_pages(ctx, old)
    pvmw = pvm.page_vma_mapped_walk_t(old, nr, vma, address, pvm.PVMW_SYNC | pvm.PVMW_MIGRATION)
    while (yield from pvm.page_vma_mapped_walk(pvmw)):
        if pvmw.pte is None:
            # VM_BUG_ON_PAGE(PageHuge(page) || !PageTransCompound(page), page)
            ctx.bug_on(not pages.flags[pages.compound_head(new)] & F_head,
                       f"remove_migration_pte: PMD migration entry for {new:#x}, "
                       f"which is not a compound page")
            remove_migration_pmd(pvmw, new)
            continue
        t, i = pvmw.pte
        a = pvmw.address
        # the entries the walk would return next under the same lock, done in one pass
        n = pvm.page_vma_mapped_walk_batch(pvmw)
        restored: list[tuple[int, int]] = []  # (page, address)
        for j in range(i, i + n):
            e = t[j]
            entry = swp.pte_to_swp_entry(e)
            sub = new + (swp.pfn_swap_entry_pfn(entry) - old)
            if map_unused_to_zeropage and try_to_map_unused_to_zeropage(ctx, vma, t, j, e,
                                                                         sub):
                continue
            pte, exclusive = migration_entry_restore(
                ctx, vma, e, entry, pte_mkold(pfn_pte(sub, vma.vm_page_prot)), pte=True)
            if exclusive:
                pages.flags[new] |= F_anon_exclusive  # kept per folio in the model
            t[j] = pte
            restored.append((sub, a + (j - i) * PAGE_SIZE))
        pvm.page_vma_mapped_walk_skip(pvmw, n)
        if ctx.cost is not None:  # modeled time: the entries rewritten
            ctx.cost.pte_update(ctx.smp_processor_id(), n)
        if not restored:
            continue
        folio_get_refs(ctx, new, len(restored))
        page_add_anon_rmap_ptes(ctx, restored, vma)
        if vma.vm_flags & VM_LOCKED and not pages.flags[new] & F_head:
            mlock_vma_page(ctx, new)
        # 4.19 (C:e125fe405abe): a THP that a PTE maps again is not mlocked, even if a
        # VM_LOCKED PMD restored before this (rmap walks oldest VMA first) mlocked it;
        # bug_b12_mlock_pte_mapped_thp: without this line (4.14.0 .. 4.18, B12)
        if (pages.flags[new] & F_head and pages.flags[new] & F_mlocked
                and not ctx.profile.bug_b12_mlock_pte_mapped_thp):
            clear_page_mlock(ctx, new)
    return True


def remove_migration_ptes(ctx, old: int, new: int, locked: bool = False,
                          map_unused_to_zeropage: bool = False) -> KernelPath[None]:
    """Models: remove_migration_ptes(): an rmap walk over ``new`` (same anon_vma as
    ``old``); ``map_unused_to_zeropage`` is RMP_USE_SHARED_ZEROPAGE (6.12+)."""

    def one(head: int, vma: vm_area_struct, address: int) -> KernelPath[bool]:
        return (yield from remove_migration_pte(ctx, new, vma, address, old,
                                                map_unused_to_zeropage))

    yield from rmap_walk_anon(ctx, new, one, None, locked)


# ---------------------------------------------------------------- copy
def migrate_page_states(ctx, new: int, page: int) -> None:
    """Models: migrate_page_states(): move the page flags the new page must carry.

    PG_mlocked is not copied (remove_migration_* mlocks again); soft-dirty and the
    hardware A/D bits travel in the entries.
    """
    pages = ctx.pages
    f = pages.flags[page]
    nf = pages.flags[new]
    # PG_idle too (4.14: ``if (page_is_idle(page)) set_page_idle(newpage)``)
    nf |= f & (F_referenced | F_uptodate | F_dirty | F_young | F_idle | F_swapbacked
               | F_anon_exclusive)
    if f & F_active:
        nf |= F_active
        pages.flags[page] = pages.flags[page] & ~F_active & _M32
    elif f & F_unevictable:
        nf |= F_unevictable
    pages.flags[new] = nf
    pages.flags[page] = pages.flags[page] & ~(F_unevictable | F_anon_exclusive) & _M32
    folio_migrate_last_cpupid(ctx, new, page)  # NUMA balancing's last cpupid


def migrate_page(ctx, new: int, page: int) -> int:
    """Models: migrate_page() -> migrate_page_move_mapping() (anon, no mapping) +
    migrate_page_copy(). Returns MIGRATEPAGE_SUCCESS or -EAGAIN (extra references)."""
    pages = ctx.pages
    expected_count = 1  # the isolation reference: every mapping became an entry
    if pages.refcount[page] != expected_count:
        return -errno.EAGAIN
    pages.index[new] = pages.index[page]
    pages.mapping[new] = pages.mapping[page]
    nr = hpage_nr_pages(ctx, page)
    ctx.mem.copy_frames(new, page, nr)  # copy_huge_page(): one slice copy
    if ctx.cost is not None:  # modeled time (hw/cost.py): the copy, by node distance
        ctx.cost.copy_pages(ctx.smp_processor_id(), page, new, nr)
    migrate_page_states(ctx, new, page)
    return MIGRATEPAGE_SUCCESS


def move_to_new_page(ctx, new: int, page: int) -> int:
    """Models: move_to_new_page() for an anon page. The old page keeps its mapping
    (PageAnon) until it is freed, while migration entries still name it."""
    return migrate_page(ctx, new, page)


# ---------------------------------------------------------------- unmap and move
def __unmap_and_move(ctx, page: int, new: int, force: bool, mode: int) -> KernelPath[int]:
    """Models: mm/migrate.c __unmap_and_move(), v4.14.

    Lock the page (trylock, or sleep when forced), replace every mapping by a
    migration entry, copy, then point the entries at the new page (or back at
    the old one on failure).
    Preempts: waiting for the page lock, in the rmap walks.
    """
    pages = ctx.pages
    rc = -errno.EAGAIN
    if not folio_trylock(ctx, page):
        if not force or mode == MIGRATE_ASYNC:
            return rc
        yield from folio_lock(ctx, page)
    try:
        av = page_anon_vma(ctx, page)
        if av is not None:
            av.refcount += 1  # page_get_anon_vma(): outlive a mapcount of 0
        try:
            if not folio_trylock(ctx, new):
                return rc
            try:
                page_was_mapped = False
                if pages.total_mapcount(page):
                    yield from try_to_migrate(ctx, page)
                    page_was_mapped = True
                if not pages.total_mapcount(page):
                    rc = move_to_new_page(ctx, new, page)
                    if rc == MIGRATEPAGE_SUCCESS:
                        requeue_deferred_split(ctx, page, new)
                if page_was_mapped:
                    if rc == MIGRATEPAGE_SUCCESS:
                        yield from remove_migration_ptes(ctx, page, new)
                    else:
                        yield from remove_migration_ptes(ctx, page, page)
            finally:
                folio_unlock(ctx, new)
        finally:
            if av is not None:
                av.refcount -= 1
    finally:
        folio_unlock(ctx, page)
    return rc


def requeue_deferred_split(ctx, page: int, new: int) -> None:
    """A migrated THP that was on the deferred-split queue leaves it, and (after 6.12,
    ``migrate_requeue_deferred_split``) its copy is queued with the same
    partially-mapped flag.

    Models: __folio_migrate_mapping() unqueueing the source, and migrate_folio_move()'s
    deferred_split_folio(dst, src_partially_mapped). Before the requeue, the copy of a
    partially mapped THP escapes the shrinker until it loses another mapping.
    """
    q = ctx.deferred_split_queue
    if page not in q:
        return
    partially_mapped = q.pop(page)
    if ctx.profile.migrate_requeue_deferred_split:
        deferred_split_huge_page(ctx, new, partially_mapped)


def unmap_and_move(ctx, get_new_page: NewPage, page: int, force: bool, mode: int,
                   reason: int, results: dict[int, int] | None) -> KernelPath[int]:
    """Models: mm/migrate.c unmap_and_move(), v4.14. ``results`` is move_pages's
    result pointer: the new node on success, else the error (not written when the
    target allocation fails, as in 4.14)."""
    pages = ctx.pages
    nr = hpage_nr_pages(ctx, page)
    if pages.refcount[page] == 1:
        # freed under us: only the isolation reference is left
        pages.flags[page] = pages.flags[page] & ~(F_active | F_unevictable) & _M32
        rc = MIGRATEPAGE_SUCCESS
        new = -1
    else:
        new = get_new_page(page)
        if new < 0:
            return -errno.ENOMEM
        if ctx.cost is not None:  # modeled time: the per-folio overhead
            ctx.cost.migrate_folio(ctx.smp_processor_id())
        rc = yield from __unmap_and_move(ctx, page, new, force, mode)
        if results is not None:
            results[page] = rc if rc else ctx.mem.pfn_to_nid(new)
    if rc != -errno.EAGAIN:
        ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(page), NR_ISOLATED_ANON, -nr)
        if rc == MIGRATEPAGE_SUCCESS:
            put_page(ctx, page)  # the isolation reference: frees the old page
        else:
            putback_lru_page(ctx, page)
    if new >= 0:
        if rc == MIGRATEPAGE_SUCCESS:
            putback_lru_page(ctx, new)  # LRU add, and the allocation reference goes
        else:
            put_page(ctx, new)
    return rc


def try_split_folio(ctx, page: int, from_list: list[int]) -> KernelPath[bool]:
    """Split an isolated THP for migration; its tails join ``from_list`` right after
    it. Returns whether it was split.

    Models: mm/migrate.c try_split_folio() (split_folio_to_list under the folio lock;
    the isolation reference is the pin split_huge_page expects, and each tail joins
    the list with a reference of its own). The kernel migrates the split pages from a
    list of their own after the rest; here they follow their head in the same list.
    """
    yield from folio_lock(ctx, page)
    tails: list[int] = []
    rc = yield from split_huge_page(ctx, page, to_list=tails)
    folio_unlock(ctx, page)
    if rc:
        return False
    idx = from_list.index(page)
    from_list[idx + 1 : idx + 1] = tails
    return True


def migrate_pages(ctx, from_list: list[int], get_new_page: NewPage, mode: int, reason: int,
                  results: dict[int, int] | None = None) -> KernelPath[int]:
    """Migrate a list of isolated pages (head PFNs); the list keeps what did not move.

    Models: mm/migrate.c migrate_pages(), v4.14 (up to 10 passes, -EAGAIN retried,
    -ENOMEM aborts) with the 4.17+ THP split on -ENOMEM behind
    ``migrate_thp_split_on_enomem`` (``bug_b18_enomem_aborts_list``: the 4.14 line in
    a later era, B18), 6.10-6.12 migrate_pages_batch()'s split of a THP on the
    deferred-split queue behind ``migrate_split_deferred_folio``, and the split of
    every THP when ``thp_migration_supported`` is off (the kernel before the series).
    Context: pages isolated (one reference each, off the LRU, NR_ISOLATED counted).
    Returns: the number of pages (a THP counts 1) not migrated, or -ENOMEM.
    The caller puts back what is left in ``from_list`` (putback_movable_pages).
    """
    prof = ctx.profile
    pages = ctx.pages
    vm = ctx.vmstat
    nr_failed = nr_succeeded = 0
    nr_failed_pages = nr_succeeded_pages = 0
    thp_succeeded = thp_failed = thp_split = 0
    retry = 1
    rc = 0
    aborted = False
    #: pages of a THP split because THP migration is off; THPs that could not be split
    split_pages: set[int] = set()
    given_up: set[int] = set()
    for pass_ in range(NR_MIGRATE_PASSES):
        if not retry:
            break
        retry = 0
        for page in list(from_list):
            if page not in from_list or page in given_up:
                continue
            is_thp = bool(pages.flags[page] & F_head)
            nr = hpage_nr_pages(ctx, page)
            if (is_thp and prof.migrate_split_deferred_folio
                    and ctx.deferred_split_queue.get(page)):
                # 6.10-6.12 migrate_pages_batch(): a partially mapped THP on the
                # deferred-split queue is split first (try_split_folio) and its pages
                # migrated instead; a THP that cannot be split is migrated whole
                if (yield from try_split_folio(ctx, page, from_list)):
                    thp_split += 1
                    thp_failed += 1
                    retry += 1  # the tails are tried in the next pass
                    is_thp = False
                    nr = 1
            if is_thp and not prof.thp_migration_supported:
                # migrate_pages_batch(): no THP migration (before the series): split
                # the THP and migrate its pages as base pages. The THP is one failure
                # in the return value; its pages' own failures are not counted again.
                nr_failed += 1
                thp_failed += 1
                if (yield from try_split_folio(ctx, page, from_list)):
                    thp_split += 1
                    at = from_list.index(page)
                    split_pages.update(from_list[at:at + nr])
                    retry += 1  # the pages are tried in the next pass
                else:
                    nr_failed_pages += nr
                    given_up.add(page)  # stays on the list for the caller's putback
                continue
            rc = yield from unmap_and_move(ctx, get_new_page, page, pass_ > 2, mode, reason,
                                           results)
            if rc == -errno.ENOMEM:
                if (is_thp and prof.migrate_thp_split_on_enomem
                        and not prof.bug_b18_enomem_aborts_list):
                    # 4.17+: split the THP and migrate its pages as base pages
                    if (yield from try_split_folio(ctx, page, from_list)):
                        thp_split += 1
                        thp_failed += 1
                        retry += 1  # the head is retried at once, as a base page
                        continue
                nr_failed += 1
                nr_failed_pages += nr
                if is_thp:
                    thp_failed += 1
                aborted = True
                break
            if rc == -errno.EAGAIN:
                retry += 1
            elif rc == MIGRATEPAGE_SUCCESS:
                from_list.remove(page)
                nr_succeeded += 1
                nr_succeeded_pages += nr
                if is_thp:
                    thp_succeeded += 1
            else:
                from_list.remove(page)
                nr_failed += page not in split_pages
                nr_failed_pages += nr
                if is_thp:
                    thp_failed += 1
        if aborted:
            break
    if not aborted:
        nr_failed += max(0, retry - len(split_pages.intersection(from_list)))
        for page in from_list:
            if page in given_up:
                continue  # counted when it was given up
            if pages.flags[page] & F_head:
                thp_failed += 1
            nr_failed_pages += hpage_nr_pages(ctx, page)
        # 6.x: every page of a THP split for want of THP migration moved: 0
        rc = 0 if split_pages and not from_list else nr_failed
    else:
        rc = -errno.ENOMEM
    if prof.pgmigrate_counts_base_pages:
        vm.count_vm_events(PGMIGRATE_SUCCESS, nr_succeeded_pages)
        vm.count_vm_events(PGMIGRATE_FAIL, nr_failed_pages)
    else:
        vm.count_vm_events(PGMIGRATE_SUCCESS, nr_succeeded)
        vm.count_vm_events(PGMIGRATE_FAIL, nr_failed)
    vm.count_vm_events(THP_MIGRATION_SUCCESS, thp_succeeded)
    vm.count_vm_events(THP_MIGRATION_FAIL, thp_failed)
    vm.count_vm_events(THP_MIGRATION_SPLIT, thp_split)
    return rc


def putback_movable_pages(ctx, from_list: list[int]) -> None:
    """Models: putback_movable_pages(): back on the LRU, NR_ISOLATED undone."""
    for page in from_list:
        ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(page), NR_ISOLATED_ANON,
                                       -hpage_nr_pages(ctx, page))
        putback_lru_page(ctx, page)
    from_list.clear()


# ---------------------------------------------------------------- targets
class migration_target_control:
    """Where and how to allocate migration targets.

    Models: mm/internal.h struct migration_target_control (5.8+): ``nid`` the
    preferred node (NUMA_NO_NODE: the source page's), ``nmask`` the nodes allowed
    (None: all), ``gfp_mask``, ``reason`` (MR_*).
    """

    __slots__ = ("nid", "nmask", "gfp_mask", "reason")

    def __init__(self, nid: int, nmask: int | None, gfp_mask: int, reason: int):
        self.nid = nid
        self.nmask = nmask
        self.gfp_mask = gfp_mask
        self.reason = reason


def alloc_migration_target(ctx, src: int, mtc: migration_target_control) -> int:
    """Allocate the page ``src`` migrates to. Returns its PFN or -1.

    Models: mm/migrate.c alloc_migration_target() (5.8+), used by move_pages(2),
    migrate_pages(2) and cpuset migration (migrate_to_node()), memory hot-remove
    (do_migrate_range()) and soft offline. 4.14 gave each caller its own copy with
    the same effect: new_page_node() (move_pages), mempolicy's new_node_page(),
    memory_hotplug's new_node_page() and memory-failure's new_page().
    A THP source gets a THP: the mask without __GFP_RECLAIM, plus GFP_TRANSHUGE.
    Context: any. Preempts: never.
    Simplified: no hugetlb; callers ask for GFP_HIGHUSER_MOVABLE (x86-64 has no
    highmem), so the ZONE_MOVABLE source's __GFP_HIGHMEM is always there.
    """
    nid = mtc.nid
    if nid == NUMA_NO_NODE:
        nid = ctx.mem.pfn_to_nid(src)
    gfp_mask = mtc.gfp_mask
    order = 0
    pages = ctx.pages
    if pages.flags[src] & F_head:
        gfp_mask = gfp_mask & ~__GFP_RECLAIM | GFP_TRANSHUGE
        order = pages.compound_order(src)
    return __alloc_pages(ctx, gfp_mask, order, nid, mtc.nmask)


__all__ = [
    "migrate_pages",
    "putback_movable_pages",
    "remove_migration_ptes",
    "migration_target_control",
    "alloc_migration_target",
    "MR_SYSCALL",
    "MIGRATE_SYNC",
    "HPAGE_PMD_NR",
    "PAGE_SIZE",
    "F_lru",
]


# ---------------------------------------------------------------- move_pages(2)
#: 4.14 do_pages_move: PAGE_SIZE / sizeof(struct page_to_node) - 1
DO_PAGES_MOVE_CHUNK = PAGE_SIZE // 24 - 1
#: do_pages_stat: entries copied in per round
DO_PAGES_STAT_CHUNK_NR = 16


def _lookup_page(ctx, mm, addr: int) -> tuple[int, int, vm_area_struct | None]:
    """follow_page(FOLL_GET|FOLL_DUMP) (4.14) / folio_walk_start(FW_ZEROPAGE) (6.12+).

    Returns ``(err, pfn, vma)``: err < 0 is the status to report, else pfn is the
    4 KiB page mapped at addr. 4.14: NULL (a non-present entry) is -ENOENT, an
    ERR_PTR (no page table, a zero page, a PROT_NONE entry) its -errno; 6.12+: no
    folio is -ENOENT, a zero folio -EFAULT.
    Simplified: no FOLL_GET (the callers use the page before the next preemption
    point, and isolating it takes the reference they need); FOLL_NUMA makes a
    PROT_NONE PTE no page (-ENOENT; the kernel oracle, 6.1) and a PROT_NONE huge PMD
    no page table (-EFAULT).
    """
    vma = mm.find_vma(addr)
    if vma is None or addr < vma.vm_start:
        return -errno.EFAULT, -1, None
    if ctx.profile.move_pages_folio_walk:
        pfn, zero = folio_walk_start(vma, addr, FW_ZEROPAGE)
        if pfn < 0:
            return -errno.ENOENT, -1, vma
        if zero:
            return -errno.EFAULT, -1, vma
        return 0, pfn, vma
    page = follow_page(vma, addr, FOLL_DUMP | FOLL_NUMA)
    if page is None:
        return -errno.ENOENT, -1, vma
    if page < 0:
        return page, -1, vma
    return 0, page, vma


def do_pages_stat(ctx, mm, pages_: list[int], status: list[int | None]) -> KernelPath[int]:
    """Models: mm/migrate.c do_pages_stat(): each page's node, or its -errno."""

    yield from down_read(mm.mmap_lock)
    try:
        for i, addr in enumerate(pages_):
            err, pfn, _ = _lookup_page(ctx, mm, addr)
            status[i] = err if err < 0 else ctx.mem.pfn_to_nid(pfn)
    finally:
        up_read(mm.mmap_lock)
    return 0


def _check_node(ctx, node: int, task_nodes: int) -> int:
    """Models: do_pages_move()'s node checks: in range and node_state(node, N_MEMORY)
    (a node whose memory blocks are all offline has no memory), then the cpuset."""

    if node < 0 or node >= MAX_NUMNODES or not node_states_memory(ctx) >> node & 1:
        return -errno.ENODEV
    if not task_nodes >> node & 1:
        return -errno.EACCES
    return 0


def add_page_for_migration(ctx, mm, addr: int, node: int, pagelist: list[int],
                           migrate_all: bool, locked: bool = False) -> KernelPath[int]:
    """Models: mm/migrate.c add_page_for_migration() (4.17+, C:a49bd4d71637, 6.12+
    folio_walk form), which is 4.14 do_move_page_to_node_array()'s loop body.

    ``locked``: 4.14 holds mmap_lock over a whole chunk (the caller took it); 4.17+
    takes it here, per page.
    Without THP migration (``thp_migration_supported`` off) 4.14 looked the page up
    with FOLL_SPLIT, splitting its THP first; 4.17+ isolates the THP and the
    migration core splits it (migrate_pages()).
    Returns 1 (queued), 0 (already on the node), or the -errno status.
    """

    pages = ctx.pages
    if not locked:
        yield from down_read(mm.mmap_lock)
    try:
        err, pfn, vma = _lookup_page(ctx, mm, addr)
        if vma is not None and not vma_migratable(vma):
            return -errno.EFAULT
        if err < 0:
            return err
        head = pages.compound_head(pfn)
        if (head != pfn or pages.flags[head] & F_head) and not ctx.profile.thp_migration_supported \
                and not ctx.profile.move_pages_batched:
            # 4.14 do_move_page_to_node_array() without THP migration: follow_page()
            # with FOLL_SPLIT splits the THP, and only the page at addr is moved
            get_page(ctx, head)
            yield from folio_lock(ctx, head)
            yield from split_huge_page(ctx, head)
            folio_unlock(ctx, head)
            put_page(ctx, head)
            err, pfn, vma = _lookup_page(ctx, mm, addr)
            if err < 0:
                return err
            head = pages.compound_head(pfn)
        if ctx.mem.pfn_to_nid(head) == node:
            return 0
        if ctx.profile.move_pages_folio_likely_mapped_shared:
            # folio_likely_mapped_shared(): the folio's first page mapped more than once
            shared = pages.page_mapcount(head) > 1
        else:
            shared = pages.page_mapcount(pfn) > 1  # the page at addr
        if shared and not migrate_all:
            return -errno.EACCES
        if isolate_lru_page_for_migration(ctx, head):
            return -errno.EBUSY
        pagelist.append(head)
        return 1
    finally:
        if not locked:
            up_read(mm.mmap_lock)


def do_move_pages_to_node(ctx, pagelist: list[int], get_new_page: NewPage,
                          results: dict[int, int] | None = None) -> KernelPath[int]:
    """Models: mm/migrate.c do_move_pages_to_node() (4.17+; 4.14: the tail of
    do_move_page_to_node_array()): migrate the queued pages with ``get_new_page``
    (4.17+: one node per batch; 4.14: new_page_node() finds each page's node in the
    chunk's pm array; both through alloc_migration_target() here), then put back what did not move.
    Returns: migrate_pages()'s result (pages not moved, or -ENOMEM)."""
    if not pagelist:
        return 0
    err = yield from migrate_pages(ctx, pagelist, get_new_page, MIGRATE_SYNC, MR_SYSCALL,
                                   results)
    putback_movable_pages(ctx, pagelist)  # empty unless err
    return err


def move_pages_and_store_status(ctx, node: int, pagelist: list[int],
                                status: list[int | None], start: int, i: int,
                                nr_pages: int) -> KernelPath[int]:
    """Models: mm/migrate.c move_pages_and_store_status() (5.7+; 4.17: inline): migrate
    a batch for ``node``, then store ``node`` as the status of entries start..i-1.
    Returns: 0, -errno, or the pages of the batch and of entries i.. not moved."""
    if not pagelist:
        return 0
    mtc = migration_target_control(node, None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE,
                                   MR_SYSCALL)
    err = yield from do_move_pages_to_node(ctx, pagelist,
                                           lambda src: alloc_migration_target(ctx, src, mtc))
    if err:
        if err > 0:
            err += nr_pages - i
        return err
    for j in range(start, i):
        status[j] = node
    return 0


def do_pages_move(ctx, mm, task_nodes: int, pages_: list[int], nodes: list[int],
                  status: list[int | None], flags: int) -> KernelPath[int]:
    """Models: mm/migrate.c do_pages_move(), both eras in one body.

    4.14 (``move_pages_batched`` off) copies the entries into a page-sized pm array,
    169 at a time (DO_PAGES_MOVE_CHUNK): every node of a chunk is checked as it is
    copied in (a bad one ends the call before the chunk is touched); then
    do_move_page_to_node_array() holds mmap_lock over the chunk while it looks up
    and isolates each page (a THP already isolated by an earlier entry: -EBUSY),
    and migrates the chunk in one go, each page to its own node; isolated entries
    get their result through the result pointer (nothing when the target
    allocation fails), a positive failure count is dropped, and the chunk's
    statuses are copied out.

    4.17+ (C:a49bd4d71637, with 5.x's status rules) has no pm array: one pass in
    which each node is checked as its entry is reached, consecutive entries for one
    node queue as a batch (add_page_for_migration() taking mmap_lock per page) that
    migrates when the node changes or an entry does not queue; statuses are stored
    as entries are decided and after each batch; what did not move is returned.
    """

    if ctx.cost is not None:  # modeled time: 4.14's migrate_prep() (lru_add_drain_all())
        ctx.cost.lru_add_drain_all(ctx.smp_processor_id())
    batched = ctx.profile.move_pages_batched
    migrate_all = bool(flags & MPOL_MF_MOVE_ALL)
    nr_pages = len(pages_)
    # 4.17+ dropped the pm array: the whole array is one run
    chunk_nr = nr_pages if batched else DO_PAGES_MOVE_CHUNK
    pagelist: list[int] = []
    current_node = -1
    start = 0
    err = 0
    for chunk_start in range(0, nr_pages, max(chunk_nr, 1)):
        chunk_end = min(nr_pages, chunk_start + chunk_nr)
        pm_status: dict[int, int] = {}  # 4.14: pm[].status
        pm_page: dict[int, int] = {}  # 4.14: pm[].page, of the isolated entries
        if not batched:
            for j in range(chunk_start, chunk_end):
                err = _check_node(ctx, nodes[j], task_nodes)
                if err:
                    return err
            yield from down_read(mm.mmap_lock)  # do_move_page_to_node_array()
        try:
            i = chunk_start
            while i < chunk_end:
                node = nodes[i]
                if not batched:
                    current_node = node
                else:
                    err = _check_node(ctx, node, task_nodes)
                    if err:
                        break
                    if current_node == -1:
                        current_node = node
                        start = i
                    elif node != current_node:
                        err = yield from move_pages_and_store_status(
                            ctx, current_node, pagelist, status, start, i, nr_pages)
                        if err:
                            return err
                        start = i
                        current_node = node
                err = yield from add_page_for_migration(ctx, mm, pages_[i], current_node,
                                                        pagelist, migrate_all,
                                                        locked=not batched)
                if err > 0:
                    pm_status[i] = 0
                    pm_page[i] = pagelist[-1]
                    i += 1
                    continue
                if not batched:
                    pm_status[i] = err if err else current_node
                    i += 1
                    continue
                # not queued: store its status, then migrate the batch before it
                status[i] = err if err else current_node
                err = yield from move_pages_and_store_status(ctx, current_node, pagelist,
                                                             status, start, i, nr_pages)
                if err:
                    if err > 0:
                        err -= 1  # page i has its status already
                    return err
                current_node = -1
                i += 1
        finally:
            if not batched:
                up_read(mm.mmap_lock)
        if batched:
            # out_flush: the last batch migrates; an error already met is kept
            err1 = yield from move_pages_and_store_status(ctx, current_node, pagelist,
                                                          status, start, i, nr_pages)
            return err if err < 0 else err1
        # 4.14's new_page_node(): the node of the pm entry holding the page (none: no
        # target), allocated as alloc_migration_target() does
        target = {head: nodes[j] for j, head in pm_page.items()}

        def alloc(page: int, target: dict[int, int] = target) -> int:
            node = target.get(page)
            if node is None:
                return -1
            return alloc_migration_target(ctx, page, migration_target_control(
                node, None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, MR_SYSCALL))

        results: dict[int, int] = {}
        err = yield from do_move_pages_to_node(ctx, pagelist, alloc, results)
        for j, head in pm_page.items():
            if head in results:
                pm_status[j] = results[head]
        if err < 0:
            return err
        for j in range(chunk_start, chunk_end):
            status[j] = pm_status[j]
    return 0


def kernel_move_pages(ctx, caller, pid: int, pages_: list[int], nodes: list[int] | None,
                      status: list[int | None], flags: int) -> KernelPath[int]:
    """Models: mm/migrate.c kernel_move_pages() (SYSCALL move_pages): the checks in
    the kernel's order, then query or move. ``pid`` is a pid_t and ``flags`` an
    int (the low 32 bits); each entry of ``pages_`` is a user pointer (an unsigned
    long) and each of ``nodes`` an int, as get_user() reads them."""
    if ctx.cost is not None:  # modeled time: the system call's entry and exit
        ctx.cost.syscall(ctx.smp_processor_id())
    pid, flags = c_int(pid), c_int(flags)
    pages_ = [ulong(a) for a in pages_]
    if nodes is not None:
        nodes = [c_int(n) for n in nodes]
    if flags & ~(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL):
        return -errno.EINVAL
    if flags & MPOL_MF_MOVE_ALL and not caller.cred.capable(CAP_SYS_NICE):
        return -errno.EPERM
    task = caller if pid == 0 else ctx.tasks.get(pid)
    if task is None:
        return -errno.ESRCH
    if not ptrace_may_access(caller, task, PTRACE_MODE_READ_REALCREDS):
        return -errno.EPERM
    mm = task.mm
    if mm is None or mm.dead:
        return -errno.EINVAL
    if nodes is None:
        return (yield from do_pages_stat(ctx, mm, pages_, status))
    task_nodes = cpuset_mems_allowed(ctx, task)
    return (yield from do_pages_move(ctx, mm, task_nodes, pages_, nodes, status, flags))



# ---------------------------------------------------------------- NUMA balancing
def numamigrate_update_ratelimit(ctx, nid: int, nr_pages: int) -> bool:
    """Models: 4.14 mm/migrate.c numamigrate_update_ratelimit() (removed in 5.0:
    ``numa_migrate_ratelimit``): at most RATELIMIT_PAGES (128 MiB) migrated to a node
    per 100 ms window; True when the window's budget is spent (the migration is
    refused), else the pages are charged to it. Preempts: never."""
    s = numab(ctx)
    p = pgdat_numab_of(ctx, nid)
    if s.jiffies > p.numabalancing_migrate_next_window:
        p.numabalancing_migrate_nr_pages = 0
        p.numabalancing_migrate_next_window = s.jiffies + msecs_to_jiffies(
            MIGRATE_INTERVAL_MILLISECS)
    if p.numabalancing_migrate_nr_pages > RATELIMIT_PAGES:
        return True
    p.numabalancing_migrate_nr_pages += nr_pages
    return False


def migrate_balanced_pgdat(ctx, nid: int, nr_migrate_pages: int) -> bool:
    """Models: migrate_balanced_pgdat(): the node can take the pages without waking
    kswapd. Simplified: no watermarks in the model: its free pages suffice."""
    return node_free_pages(ctx, nid) >= nr_migrate_pages


def migrate_misplaced_folio_prepare(ctx, head: int, vma: vm_area_struct, node: int,
                                    caller_ref: bool = False) -> int:
    """Isolate a folio for a NUMA-misplaced migration to ``node``.

    Models: 6.10+ migrate_misplaced_folio_prepare() and 4.14 numamigrate_isolate_page():
    the target node must have room (migrate_balanced_pgdat()), the folio is taken off
    the LRU (NR_ISOLATED_ANON). ``caller_ref`` (4.14: the fault path took a reference):
    a THP must have no pin beyond its mapping, the caller's and the isolation's
    references (page_count() == 3), and the caller's reference is dropped on success.
    Returns 0 or -EAGAIN. Preempts: never.
    Simplified: no file folios (the shared-library and dirty-file tests).
    """
    nr = hpage_nr_pages(ctx, head)
    if not migrate_balanced_pgdat(ctx, node, nr):
        return -errno.EAGAIN
    if isolate_lru_page_for_migration(ctx, head):
        return -errno.EAGAIN
    if caller_ref:
        if ctx.pages.flags[head] & F_head and ctx.pages.refcount[head] != 3:
            ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(head), NR_ISOLATED_ANON, -nr)
            putback_lru_page(ctx, head)
            return -errno.EAGAIN
        put_page(ctx, head)  # the isolation holds the folio now
    return 0


def alloc_misplaced_dst_folio(ctx, src: int, node: int) -> int:
    """Models: alloc_misplaced_dst_folio() (4.14 alloc_misplaced_dst_page()): on
    ``node`` only, without reclaim, no warning (a THP: GFP_TRANSHUGE less reclaim,
    alloc_migration_target()'s rule)."""
    gfp = (GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NOMEMALLOC | __GFP_NORETRY
           | __GFP_NOWARN) & ~__GFP_RECLAIM
    mtc = migration_target_control(node, None, gfp, MR_NUMA_MISPLACED)
    return alloc_migration_target(ctx, src, mtc)


def migrate_misplaced_folio(ctx, head: int, node: int) -> KernelPath[int]:
    """Migrate an isolated folio to ``node`` for NUMA balancing.

    Models: mm/migrate.c migrate_misplaced_folio() (6.x; 4.14 migrate_misplaced_page()'s
    second half): migrate_pages(MIGRATE_ASYNC, MR_NUMA_MISPLACED) through
    alloc_misplaced_dst_folio(), what did not move put back; numa_pages_migrated
    counts the pages moved (4.14: one per call), and in tiering mode a move from a
    lower tier to the top tier counts pgpromote_success on the target.
    Context: the folio isolated (its reference is the isolation's).
    Preempts: in migrate_pages(). Returns: 0 or -EAGAIN.
    Simplified: a THP split on the way (THP migration off) that moved only in part
    counts as not moved.
    """
    nr = hpage_nr_pages(ctx, head)
    src_nid = ctx.mem.pfn_to_nid(head)
    migratepages = [head]
    nr_remaining = yield from migrate_pages(
        ctx, migratepages, lambda src: alloc_misplaced_dst_folio(ctx, src, node),
        MIGRATE_ASYNC, MR_NUMA_MISPLACED)
    if migratepages:
        putback_movable_pages(ctx, migratepages)
    if nr_remaining:
        return -errno.EAGAIN
    if ctx.profile.pgmigrate_counts_base_pages:  # 5.9+: nr_succeeded in base pages
        ctx.vmstat.count_vm_events(NUMA_PAGE_MIGRATE, nr)
    else:
        ctx.vmstat.count_vm_event(NUMA_PAGE_MIGRATE)
    if ctx.sysctl_numa_balancing_mode & NUMA_BALANCING_MEMORY_TIERING and (
            not node_is_toptier(ctx, src_nid)) and node_is_toptier(ctx, node):
        ctx.vmstat.mod_node_page_state(node, PGPROMOTE_SUCCESS, nr)
    return 0


def migrate_misplaced_page(ctx, head: int, vma: vm_area_struct, node: int) -> KernelPath[bool]:
    """Models: 4.14 mm/migrate.c migrate_misplaced_page(): the rate limit
    (``numa_migrate_ratelimit``), isolation (migrate_misplaced_folio_prepare()) and the
    migration. Context: the caller holds a reference, which this consumes.
    Preempts: in migrate_pages(). Returns whether the page moved."""
    if ctx.profile.numa_migrate_ratelimit and numamigrate_update_ratelimit(ctx, node, 1):
        put_page(ctx, head)
        return False
    if migrate_misplaced_folio_prepare(ctx, head, vma, node, caller_ref=True):
        put_page(ctx, head)
        return False
    return (yield from migrate_misplaced_folio(ctx, head, node)) == 0


def migrate_misplaced_transhuge_page(ctx, mm: mm_struct, vma: vm_area_struct, pmd: Ptr,
                                     entry: int, address: int, head: int,
                                     node: int) -> KernelPath[bool]:
    """Migrate a PMD-mapped THP to ``node`` from a NUMA hinting fault, 4.14's way.

    Models: 4.14 mm/migrate.c migrate_misplaced_transhuge_page() (3.8..5.12; the THP
    migration series left it alone; ``numa_thp_misplaced_generic`` off): rate limit;
    a THP allocated on ``node`` (GFP_TRANSHUGE_LIGHT | __GFP_THISNODE); the old one
    isolated (a THP must have page_count() == 3); contents and flags copied while the
    PMD is still the PROT_NONE entry ``entry`` (no CPU can reach the THP); then under
    the PMD lock, if the PMD is unchanged and the old THP has only its mapping's and
    the isolation's references (page_ref_freeze(page, 2)), the new THP is mapped
    (page_add_anon_rmap(), pmdp_huge_clear_flush_notify(), set_pmd_at()) and the old
    one unmapped and freed; pgmigrate_success and numa_pages_migrated count 512. No
    migration entries, no thp_migration_success. On failure the PMD is made accessible
    again (out_dropref) and pgmigrate_fail counts 512 (an allocation or isolation
    failure).
    Context: the THP locked and a reference held by the caller; both are consumed.
    Preempts: in the PMD lock and the flush. Returns whether it moved.
    """
    pages = ctx.pages
    vm = ctx.vmstat
    haddr = address & ~(HPAGE_PMD_SIZE - 1)
    old_nid = ctx.mem.pfn_to_nid(head)
    migrated = False
    fail = False
    if ctx.profile.numa_migrate_ratelimit and numamigrate_update_ratelimit(ctx, node,
                                                                            HPAGE_PMD_NR):
        new = -1
    else:
        new = __alloc_pages(ctx, GFP_TRANSHUGE_LIGHT | __GFP_THISNODE, HPAGE_PMD_ORDER,
                            node, None)
        fail = True
        if new >= 0 and migrate_misplaced_folio_prepare(ctx, head, vma, node,
                                                        caller_ref=True):
            put_page(ctx, new)
            new = -1
    if new >= 0:
        fail = False
        pages.flags[new] |= F_locked | (pages.flags[head] & F_swapbacked)
        pages.mapping[new] = pages.mapping[head]
        pages.index[new] = pages.index[head]
        ctx.mem.copy_frames(new, head, HPAGE_PMD_NR)  # migrate_page_copy()
        if ctx.cost is not None:  # modeled time: the copy, by node distance
            ctx.cost.copy_pages(ctx.smp_processor_id(), head, new, HPAGE_PMD_NR)
        migrate_page_states(ctx, new, head)
        ptl = yield from pmd_lock(mm, pmd)
        try:
            if pmdp_get(pmd) != entry or pages.refcount[head] != 2:
                # reverse migrate_page_copy()'s active and unevictable moves
                for flag in (F_active, F_unevictable):
                    if pages.flags[new] & flag:
                        pages.flags[new] &= ~flag & _M32
                        pages.flags[head] |= flag
                raced = True
            else:
                raced = False
                newpmd = maybe_pmd_mkwrite(pmd_mkdirty(mk_huge_pmd(new, vma.vm_page_prot)), vma)
                page_add_anon_rmap(ctx, new, vma, haddr, True)
                yield from pmdp_huge_clear_flush(vma, haddr, pmd)
                set_pmd_at(mm, haddr, pmd, newpmd)
                if pages.flags[head] & F_mlocked:  # mlock_migrate_page()
                    pages.flags[head] &= ~F_mlocked & _M32
                    pages.flags[new] |= F_mlocked
                    vm.mod_zone_page_state(old_nid, NR_MLOCK, -HPAGE_PMD_NR)
                    vm.mod_zone_page_state(node, NR_MLOCK, HPAGE_PMD_NR)
                page_remove_rmap(ctx, head, True)
        finally:
            spin_unlock(ptl)
        if raced:
            folio_unlock(ctx, new)
            put_page(ctx, new)
            get_page(ctx, head)  # retake the caller's reference and put it back
            putback_lru_page(ctx, head)
            vm.mod_node_page_state(old_nid, NR_ISOLATED_ANON, -HPAGE_PMD_NR)
            folio_unlock(ctx, head)
            put_page(ctx, head)
            return False
        get_page(ctx, new)  # an "isolate" reference, and onto the LRU
        putback_lru_page(ctx, new)
        folio_unlock(ctx, new)
        folio_unlock(ctx, head)
        put_page(ctx, head)  # the rmap reference
        vm.mod_node_page_state(old_nid, NR_ISOLATED_ANON, -HPAGE_PMD_NR)
        put_page(ctx, head)  # the isolation reference: frees the old THP
        vm.count_vm_events(PGMIGRATE_SUCCESS, HPAGE_PMD_NR)
        vm.count_vm_events(NUMA_PAGE_MIGRATE, HPAGE_PMD_NR)
        migrated = True
        return migrated
    if fail:
        vm.count_vm_events(PGMIGRATE_FAIL, HPAGE_PMD_NR)
    # out_dropref: make the PMD accessible again
    ptl = yield from pmd_lock(mm, pmd)
    try:
        if pmdp_get(pmd) == entry:
            set_pmd_at(mm, haddr, pmd, pmd_modify(entry, vma.vm_page_prot))
    finally:
        spin_unlock(ptl)
    folio_unlock(ctx, head)
    put_page(ctx, head)
    return migrated
