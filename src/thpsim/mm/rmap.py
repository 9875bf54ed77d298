"""Reverse mapping of anonymous pages: anon_vma, mapcounts, deferred split.

Models: mm/rmap.c (anon_vma_prepare, anon_vma_fork, unlink_anon_vmas,
page_add_new_anon_rmap, page_add_anon_rmap, page_dup_rmap, page_remove_rmap),
mm/huge_memory.c deferred_split_huge_page; v4.14 semantics, with the 5.18+
mapcount form described in :mod:`thpsim.mm.page_flags` (PageDoubleMap only as a flag,
for 4.14 and 6.1's deferred-split decisions: _pte_unmap_queues_pmd_mapped()).

``NR_ANON_MAPPED`` counts base pages mapped at least once (by a PTE or by the
PMD of their THP); ``NR_ANON_THPS`` counts PMD-mapped THPs, in base pages.

Lock ordering: see :mod:`thpsim.kernel.locking` (taken from the comment atop
mm/rmap.c).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.arch.x86_64.pgtable import (
    _PAGE_DIRTY,
    HPAGE_PMD_NR,
    PAGE_SHIFT,
    PAGE_SIZE,
    pte_dirty,
    pte_pfn,
    pte_soft_dirty,
    pte_write,
    pte_young,
)
from thpsim.errors import KernelBug
from thpsim.kernel.locking import down_read, down_write, rw_semaphore, up_read, up_write
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.tlbflush import flush_tlb_range
from thpsim.mm import page_vma_mapped as pvm
from thpsim.mm.mm_types import (
    MM_ANONPAGES,
    VM_ACCESS_FLAGS,
    VM_SOFTDIRTY,
    anon_vma,
    linear_page_index,
    vma_address,
)
from thpsim.mm.mmu_notifier import mmu_notifier_invalidate_range
from thpsim.mm.page_flags import (
    PAGE_MAPPING_ANON,
    F_anon_exclusive,
    F_dirty,
    F_double_map,
    F_head,
    F_swapbacked,
    F_tail,
)
from thpsim.mm.swap import folio_put_refs, hpage_nr_pages
from thpsim.mm.vmstat import NR_ANON_MAPPED, NR_ANON_THPS, THP_DEFERRED_SPLIT_PAGE

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext
    from thpsim.mm.mm_types import vm_area_struct


# ---------------------------------------------------------------- anon_vma
def anon_vma_alloc(ctx: KernelContext, parent: anon_vma | None = None) -> anon_vma:
    aid = ctx.alloc_anon_vma_id()
    av = anon_vma(aid, rw_semaphore(ctx, "anon_vma", f"av{aid}"), parent)
    ctx.anon_vmas[aid] = av
    return av


def anon_vma_chain_link(vma: vm_area_struct, av: anon_vma) -> None:
    vma.anon_vma_chain.append(av)
    av.vmas.append(vma)


def anon_vma_compatible(a: vm_area_struct, b: vm_area_struct) -> bool:
    """Models: anon_vma_compatible() (mm/mmap.c; mm/vma.c from 6.12): ``a`` ends
    where ``b`` starts, with the same policy and file, flags that differ only in
    access bits and VM_SOFTDIRTY (VM_IGNORE_MERGE), and pgoffs that line up; so a
    later mprotect could make them one VMA."""
    return (a.vm_end == b.vm_start
            and a.vm_policy == b.vm_policy
            and a.vm_file is b.vm_file
            and not (a.vm_flags ^ b.vm_flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)
            and b.vm_pgoff == a.vm_pgoff + ((b.vm_start - a.vm_start) >> PAGE_SHIFT))


def reusable_anon_vma(old: vm_area_struct, a: vm_area_struct,
                      b: vm_area_struct) -> anon_vma | None:
    """Models: reusable_anon_vma(): ``old``'s anon_vma when ``a`` and ``b`` are
    compatible and ``old`` is chained to that anon_vma alone (list_is_singular():
    a fork child's VMA, chained to its parent's too, lends nothing)."""
    if anon_vma_compatible(a, b):
        av = old.anon_vma
        if av is not None and len(old.anon_vma_chain) == 1:
            return av
    return None


def find_mergeable_anon_vma(vma: vm_area_struct) -> anon_vma | None:
    """Models: find_mergeable_anon_vma() (mm/mmap.c in 4.14 to 6.11, mm/vma.c
    since; the same rule throughout): the next VMA's anon_vma if it can be
    reused, else the previous one's. Sharing one means the two VMAs can merge
    once their flags agree (is_mergeable_anon_vma() needs the same anon_vma when
    both have one). Kept here, beside its one caller, because mm/mmap.py imports
    this module."""
    mm = vma.vm_mm
    i = mm.vma_index(vma)
    vmas = mm.mmap
    if i + 1 < len(vmas):
        av = reusable_anon_vma(vmas[i + 1], vma, vmas[i + 1])
        if av is not None:
            return av
    if i > 0:
        return reusable_anon_vma(vmas[i - 1], vmas[i - 1], vma)
    return None


def anon_vma_prepare(vma: vm_area_struct) -> int:
    """Models: __anon_vma_prepare(): give the VMA an anon_vma before its first page,
    a compatible neighbour's (find_mergeable_anon_vma()) or a new one.

    Returns 0 (the model never fails this allocation).
    """
    if vma.anon_vma is not None:
        return 0
    av = find_mergeable_anon_vma(vma)
    if av is None:
        av = anon_vma_alloc(vma.vm_mm.kernel)
    vma.anon_vma = av
    anon_vma_chain_link(vma, av)
    return 0


def anon_vma_clone(dst: vm_area_struct, src: vm_area_struct) -> None:
    """Models: anon_vma_clone(): link dst to every anon_vma src is linked to (VMA split)."""
    for av in src.anon_vma_chain:
        anon_vma_chain_link(dst, av)
    dst.anon_vma = src.anon_vma


def anon_vma_fork(vma: vm_area_struct, pvma: vm_area_struct) -> int:
    """Models: anon_vma_fork(): the child VMA joins the parent's chain and gets its own.

    Pages the child faults later go to its own anon_vma; pages shared with the
    parent stay findable through the parent's.
    """
    if pvma.anon_vma is None:
        return 0
    anon_vma_clone(vma, pvma)
    av = anon_vma_alloc(vma.vm_mm.kernel, pvma.anon_vma)
    vma.anon_vma = av
    anon_vma_chain_link(vma, av)
    return 0


def anon_vma_lock_write(av: anon_vma | None) -> KernelPath[None]:
    """Models: anon_vma_lock_write(): the root's rwsem, held while VMAs are linked,
    unlinked or resized, so that an rmap walk never misses a mapping."""

    if av is not None:
        yield from down_write(av.root.rwsem)


def anon_vma_unlock_write(av: anon_vma | None) -> None:

    if av is not None:
        up_write(av.root.rwsem)


def unlink_anon_vmas_locked(vma: vm_area_struct) -> KernelPath[None]:
    """unlink_anon_vmas() under the root anon_vma lock (as Linux takes it)."""
    av = vma.anon_vma or (vma.anon_vma_chain[0] if vma.anon_vma_chain else None)
    yield from anon_vma_lock_write(av)
    try:
        unlink_anon_vmas(vma)
    finally:
        anon_vma_unlock_write(av)


def unlink_anon_vmas(vma: vm_area_struct) -> None:
    """Models: unlink_anon_vmas(): drop the VMA from every anon_vma; free unused ones."""
    ctx = vma.vm_mm.kernel
    for av in vma.anon_vma_chain:
        av.vmas.remove(vma)
        if not av.vmas:
            ctx.anon_vmas.pop(av.id, None)
    vma.anon_vma_chain = []
    vma.anon_vma = None


def page_anon_vma(ctx: KernelContext, pfn: int) -> anon_vma | None:
    """Models: page_anon_vma(): the anon_vma a page's mapping names, if it still exists."""
    pages = ctx.pages
    m = pages.mapping[pages.compound_head(pfn)]
    if not m & PAGE_MAPPING_ANON:
        return None
    return ctx.anon_vmas.get(m >> 1)


# ---------------------------------------------------------------- mapcounts
def __page_set_anon_rmap(ctx: KernelContext, head: int, vma: vm_area_struct,
                         address: int, exclusive: bool) -> None:
    pages = ctx.pages
    av = vma.anon_vma
    if av is None:
        raise KernelBug(f"{vma!r} has no anon_vma")
    if not exclusive:
        av = av.root
    pages.mapping[head] = (av.id << 1) | PAGE_MAPPING_ANON
    pages.index[head] = linear_page_index(vma, address)


def page_add_new_anon_rmap(ctx: KernelContext, pfn: int, vma: vm_area_struct,
                           address: int, compound: bool) -> None:
    """Models: page_add_new_anon_rmap(): first mapping of a fresh page (PTE or PMD); the
    page becomes swap-backed (__SetPageSwapBacked(), 4.14 and 6.x alike), which only
    MADV_FREE takes away again."""
    pages = ctx.pages
    nid = ctx.mem.pfn_to_nid(pfn)
    if compound:
        pages.compound_mapcount[pfn] = 0
        ctx.vmstat.mod_node_page_state(nid, NR_ANON_THPS, HPAGE_PMD_NR)
        nr = HPAGE_PMD_NR
    else:
        if pages.flags[pfn] & (F_head | F_tail):
            raise KernelBug(f"page_add_new_anon_rmap of THP subpage {pfn:#x}")
        pages.mapcount[pfn] = 0
        nr = 1
    pages.flags[pfn] |= F_anon_exclusive | F_swapbacked
    ctx.vmstat.mod_node_page_state(nid, NR_ANON_MAPPED, nr)
    __page_set_anon_rmap(ctx, pfn, vma, address, True)


def page_add_anon_rmap(ctx: KernelContext, pfn: int, vma: vm_area_struct, address: int,
                       compound: bool) -> None:
    """Models: page_add_anon_rmap() (a page already anon: restore after migration/split)."""
    pages = ctx.pages
    head = pages.compound_head(pfn)
    nid = ctx.mem.pfn_to_nid(head)
    if compound:
        c = pages.compound_mapcount[head] + 1
        pages.compound_mapcount[head] = c
        if c == 0:
            ctx.vmstat.mod_node_page_state(nid, NR_ANON_THPS, HPAGE_PMD_NR)
            nr = 1 << pages.order[head]
            unmapped = pages.nr_unmapped_subpages(head, nr)
            ctx.vmstat.mod_node_page_state(nid, NR_ANON_MAPPED, unmapped)
    else:
        c = pages.mapcount[pfn] + 1
        pages.mapcount[pfn] = c
        if c == 0 and (head == pfn and not pages.flags[pfn] & F_head
                       or pages.compound_mapcount[head] < 0):
            ctx.vmstat.mod_node_page_state(nid, NR_ANON_MAPPED, 1)
    if pages.mapping[head] == 0:
        __page_set_anon_rmap(ctx, head, vma, address - ((pfn - head) << 12), True)


def page_add_anon_rmap_ptes(ctx: KernelContext, pages_at: list[tuple[int, int]],
                            vma: vm_area_struct) -> None:
    """``page_add_anon_rmap(page, vma, address, False)`` for each ``(page, address)``
    of a run of PTEs, in one step when the pages are consecutive pages of one THP.

    In the style of 6.x folio_add_anon_rmap_ptes(), with the outcome of the per-page
    calls (tests/mm/test_rmap_batch.py): each page mapped for the first time counts
    in NR_ANON_MAPPED unless a PMD maps the THP; a folio without a mapping gets the
    first page's.
    """
    pages = ctx.pages
    first, address = pages_at[0]
    nr = len(pages_at)
    head = pages.compound_head(first)
    if nr == 1 or not pages.flags[head] & F_head or (
            [p for p, _ in pages_at] != list(range(first, first + nr))):
        for pfn, a in pages_at:
            page_add_anon_rmap(ctx, pfn, vma, a, False)
        return
    run = pages.mapcount_np[first : first + nr]
    run += 1
    if pages.compound_mapcount[head] < 0:
        newly = int((run == 0).sum())
        if newly:
            ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(head), NR_ANON_MAPPED, newly)
    if pages.mapping[head] == 0:
        __page_set_anon_rmap(ctx, head, vma, address - ((first - head) << 12), True)


def page_dup_rmap(ctx: KernelContext, pfn: int, compound: bool) -> None:
    """Models: page_dup_rmap(): one more mapping (fork). No statistics change."""
    pages = ctx.pages
    if compound:
        pages.compound_mapcount[pfn] += 1
    else:
        pages.mapcount[pfn] += 1
    pages.flags[pages.compound_head(pfn)] &= ~F_anon_exclusive & 0xFFFF_FFFF


def page_remove_rmap(ctx: KernelContext, pfn: int, compound: bool) -> None:
    """Models: page_remove_rmap() for anon pages (PTE or PMD mapping gone).

    A THP that loses part of its mappings is queued for deferred split.
    """
    pages = ctx.pages
    head = pages.compound_head(pfn)
    nid = ctx.mem.pfn_to_nid(head)
    if compound:
        c = pages.compound_mapcount[head] - 1
        if c < -1:
            raise KernelBug(f"compound mapcount underflow on {head:#x}")
        pages.compound_mapcount[head] = c
        if c >= 0:
            return
        ctx.vmstat.mod_node_page_state(nid, NR_ANON_THPS, -HPAGE_PMD_NR)
        nr = 1 << pages.order[head]
        unmapped = pages.nr_unmapped_subpages(head, nr)
        if unmapped:
            ctx.vmstat.mod_node_page_state(nid, NR_ANON_MAPPED, -unmapped)
        if not ctx.profile.rmap_deferred_split_partially_mapped:
            # 4.14 .. 6.1 page_remove_anon_compound_rmap(): only TestClearPageDoubleMap()
            # looks at the subpages' PTE mappings (and queues a partly mapped THP);
            # without it the PTE mappings another mm has of it queue nothing here
            double = bool(pages.flags[head] & F_double_map)
            pages.flags[head] &= ~F_double_map & 0xFFFF_FFFF
            if not double:
                return
        if 0 < unmapped < nr:
            deferred_split_huge_page(ctx, head)
        return
    c = pages.mapcount[pfn] - 1
    if c < -1:
        raise KernelBug(f"mapcount underflow on {pfn:#x}")
    pages.mapcount[pfn] = c
    if c >= 0:
        return
    if head != pfn or pages.flags[pfn] & F_head:
        pmd_mapped = pages.compound_mapcount[head] >= 0
        if not pmd_mapped:
            ctx.vmstat.mod_node_page_state(nid, NR_ANON_MAPPED, -1)
        # no deferred split while a PMD still maps the THP: 6.3+ __folio_remove_rmap()
        # (_nr_pages_mapped below ENTIRELY_MAPPED); 4.14 and 6.1 through PageDoubleMap
        # (a PMD split while another PMD maps the THP gives every subpage one more
        # _mapcount, taken back when the last PMD goes: the page is "still mapped by
        # someone else"; the kernel oracle, 6.1: a child's PTE unmap of a THP its
        # parent maps by PMD queues nothing). Without PageDoubleMap (PTEs that
        # migration restored next to another mm's PMD) the subpage's _mapcount goes
        # negative and 4.14/6.1 queue the THP (the oracle, 6.1: a forked child that
        # migrated the THP exits)
        if pmd_mapped and not _pte_unmap_queues_pmd_mapped(ctx, head):
            return
        if ctx.profile.rmap_deferred_split_partially_mapped:
            # 6.3+: queued only if some page is still mapped ("partially_mapped")
            nr = 1 << pages.order[head]
            if not (pages.mapcount_np[head : head + nr] >= 0).any():
                return
        deferred_split_huge_page(ctx, head)
    else:
        ctx.vmstat.mod_node_page_state(nid, NR_ANON_MAPPED, -1)


def _pte_unmap_queues_pmd_mapped(ctx: KernelContext, head: int) -> bool:
    """Does a subpage losing its last PTE mapping queue a THP that a PMD still maps?
    6.3+: never (_nr_pages_mapped stays below ENTIRELY_MAPPED). 4.14 and 6.1: unless
    PageDoubleMap gave every subpage an extra _mapcount (a PMD split while another
    PMD mapped the THP): the subpage's _mapcount then does not go negative."""
    return not (ctx.profile.rmap_deferred_split_partially_mapped
                or ctx.pages.flags[head] & F_double_map)


def page_remove_rmap_ptes(ctx: KernelContext, head: int, first: int, nr: int,
                          batch: bool = False) -> None:
    """``page_remove_rmap(pfn, False)`` for the ``nr`` consecutive pages from ``first``
    of the THP ``head``, one after the other, in one step.

    ``batch``: the kernel's own batched call, folio_remove_rmap_ptes() (6.8+), where a
    caller really removes the run at once: the deferred-split decision is made once,
    after the whole run (6.3+ rule: queued if the run unmapped a page and some page of
    the THP is still mapped), so a run that unmaps the whole THP does not queue it.

    In the style of 6.x folio_remove_rmap_ptes() (model-only here: the kernel's
    try_to_migrate_one() calls the per-PTE version), with the outcome of the per-PTE
    calls, which tests/mm/test_rmap_batch.py checks: each page that loses its
    last mapping counts in NR_ANON_MAPPED unless a PMD maps the THP, and the THP is
    queued for deferred split if, after one of them, some page was still mapped (6.3+;
    before: whenever one is unmapped). Every page of the run is mapped when it starts
    (its PTE maps it); an underflow goes the per-page way, to the same KernelBug.
    """
    pages = ctx.pages
    run = pages.mapcount_np[first : first + nr]
    if nr == 1 or not pages.flags[head] & F_head or (run < 0).any():
        for pfn in range(first, first + nr):
            page_remove_rmap(ctx, pfn, False)
        return
    run -= 1
    unmapped = run == -1
    newly = int(unmapped.sum())
    if not newly:
        return
    if pages.compound_mapcount[head] >= 0:
        # a PMD maps the THP too: as page_remove_rmap() decides per page
        if _pte_unmap_queues_pmd_mapped(ctx, head):
            deferred_split_huge_page(ctx, head)
        return
    ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(head), NR_ANON_MAPPED, -newly)
    if batch and ctx.profile.rmap_deferred_split_partially_mapped:
        n = 1 << pages.order[head]
        if (pages.mapcount_np[head : head + n] >= 0).any():
            deferred_split_huge_page(ctx, head)
        return
    if ctx.profile.rmap_deferred_split_partially_mapped and unmapped.argmax() == nr - 1:
        # the run's last page was the first to go: nothing of the run is mapped after
        # it, so the rest of the THP decides; an earlier one left the run's later pages
        n = 1 << pages.order[head]
        if not (pages.mapcount_np[head : head + n] >= 0).any():
            return
    deferred_split_huge_page(ctx, head)


def deferred_split_huge_page(ctx: KernelContext, head: int,
                             partially_mapped: bool = True) -> None:
    """Queue a THP for deferred split, counting thp_deferred_split_page.

    Models: deferred_split_huge_page() (4.14: counted when queued) and 6.12+
    deferred_split_folio(folio, partially_mapped) (counted when the partially-mapped
    flag is newly set; a folio queued without it, such as a migration's copy of an
    unflagged folio, is queued silently). The queue maps each head to that flag.
    """
    q = ctx.deferred_split_queue
    if partially_mapped and not q.get(head, False):
        ctx.vmstat.count_vm_event(THP_DEFERRED_SPLIT_PAGE)
        q[head] = True
    elif head not in q:
        q[head] = partially_mapped


def page_mapped(ctx: KernelContext, pfn: int) -> bool:
    pages = ctx.pages
    head = pages.compound_head(pfn)
    return pages.total_mapcount(head) > 0


# ---------------------------------------------------------------- the rmap walk
def rmap_walk_anon(ctx: KernelContext, head: int, rmap_one, done=None,
                   locked: bool = False) -> KernelPath[None]:
    """Call ``rmap_one(head, vma, address)`` (a generator returning False to stop) for
    every VMA that may map the page.

    Models: mm/rmap.c rmap_walk_anon(), v4.14: the anon_vma read-locked, its VMAs
    (the interval tree, a list here) visited in order; ``done()`` ends the walk early.
    Preempts: taking the anon_vma lock and in ``rmap_one``.
    """

    av = page_anon_vma(ctx, head)
    if av is None:
        return
    pages = ctx.pages
    nr = hpage_nr_pages(ctx, head)
    index = pages.index[head]
    if not locked:
        yield from down_read(av.root.rwsem)
    try:
        for vma in list(av.vmas):
            address = vma_address(vma, index)
            if address + nr * PAGE_SIZE <= vma.vm_start or address >= vma.vm_end:
                continue
            if ctx.cost is not None:  # modeled time: one VMA visited
                ctx.cost.rmap_walk(ctx.smp_processor_id())
            if not (yield from rmap_one(head, vma, address)):
                break
            if done is not None and done():
                break
    finally:
        if not locked:
            up_read(av.root.rwsem)


def try_to_migrate_one(ctx: KernelContext, head: int, vma: vm_area_struct,
                       address: int) -> KernelPath[bool]:
    """Replace every mapping of the page in this VMA by a migration entry.

    Models: mm/rmap.c try_to_unmap_one() with TTU_MIGRATION (v4.14;
    try_to_migrate_one() in 6.x): a PMD mapping becomes a PMD migration entry
    (set_pmd_migration_entry), a PTE mapping a PTE migration entry carrying
    write and soft-dirty (6.x: exclusive, young, dirty too). Returns True (go on).
    Simplified: the PTEs of one VMA are cleared and then flushed once (6.x's
    TTU_BATCH_FLUSH style) instead of 4.14's ptep_clear_flush per PTE; the flush
    still completes before the page is copied. The run of PTEs the walk finds under
    one PTE lock is handled in one pass (page_vma_mapped_walk_batch(); no preemption
    point lies between them, so nothing else can tell), its rmap and references
    dropped at once (page_remove_rmap_ptes(), folio_put_refs()).
    """
    # cycle: mm.huge_memory -> mm.rmap imports this module
    from thpsim.mm.huge_memory import set_pmd_migration_entry

    pages = ctx.pages
    swp = ctx.swp
    pvmw = pvm.page_vma_mapped_walk_t(head, hpage_nr_pages(ctx, head), vma, address, 0)
    flush_start, flush_end = -1, -1
    while (yield from pvm.page_vma_mapped_walk(pvmw)):
        if pvmw.pte is None:
            yield from set_pmd_migration_entry(pvmw, head)
            continue
        t, i = pvmw.pte
        a = pvmw.address
        # the PTEs the walk would return next under the same lock, done in one pass
        n = pvm.page_vma_mapped_walk_batch(pvmw)
        if flush_start < 0:
            flush_start = a
        flush_end = a + n * PAGE_SIZE
        exclusive = bool(pages.flags[head] & F_anon_exclusive)
        subpages = []
        for j in range(i, i + n):
            pteval = t[j]
            t[j] = 0  # ptep_get_and_clear(); the TLB flush is batched below
            subpage = pte_pfn(pteval)
            subpages.append(subpage)
            if pte_dirty(pteval):
                pages.flags[head] |= F_dirty
            entry = swp.make_migration_entry_for(
                subpage, pte_write(pteval), exclusive, pte_young(pteval), pte_dirty(pteval))
            swp_pte = swp.swp_entry_to_pte(entry)
            if pte_soft_dirty(pteval):
                swp_pte = swp.pte_swp_mksoft_dirty(swp_pte)
            t[j] = swp_pte
        if ctx.cost is not None:  # modeled time: the PTEs rewritten
            ctx.cost.pte_update(ctx.smp_processor_id(), n)
        if subpages == list(range(subpages[0], subpages[0] + n)):
            page_remove_rmap_ptes(ctx, head, subpages[0], n)
        else:
            for subpage in subpages:
                page_remove_rmap(ctx, subpage, False)
        folio_put_refs(ctx, head, n)
        pvm.page_vma_mapped_walk_skip(pvmw, n)
    if flush_start >= 0:
        # Every CPU must stop writing the old page before it is copied.
        yield from flush_tlb_range(vma, flush_start, flush_end)
    return True


def try_to_migrate(ctx: KernelContext, head: int, locked: bool = False) -> KernelPath[None]:
    """Models: try_to_migrate() / 4.14 try_to_unmap(TTU_MIGRATION): walk every mapping.

    Context: page locked. The walk stops once the page is no longer mapped.
    """
    pages = ctx.pages

    def one(h: int, vma: vm_area_struct, address: int) -> KernelPath[bool]:
        return (yield from try_to_migrate_one(ctx, h, vma, address))

    yield from rmap_walk_anon(ctx, head, one, lambda: pages.total_mapcount(head) == 0, locked)


def try_to_unmap_one(ctx: KernelContext, head: int, vma: vm_area_struct,
                     address: int) -> KernelPath[bool]:
    """Discard this VMA's mappings of a lazily freed (MADV_FREE'd) anonymous folio.

    Models: mm/rmap.c try_to_unmap_one() as reclaim calls it for an anon folio that is
    not swap-backed, the only anon folio a machine without swap can unmap: each PTE is
    cleared (a dirty one marks the folio dirty); while the folio is clean and holds no
    reference beyond its mappings and reclaim's isolation, the mapping is dropped
    (MM_ANONPAGES, rmap, the mapping's reference: "discard"); otherwise the PTE is put
    back, the folio made swap-backed again (redirtied after MADV_FREE) and the walk
    stops (False). A PMD mapping: split first (TTU_SPLIT_HUGE_PMD) before 6.11; from
    6.11 (``lazyfree_thp_unmap_pmd``, C:735ecdfaf4e8, unmap_huge_pmd_locked())
    discarded whole when clean, else made swap-backed and split.
    Simplified: the PTEs are flushed once after the walk (the folio is freed only
    after it returns), not per PTE.
    """
    # cycle: mm.huge_memory -> mm.rmap imports this module
    from thpsim.mm.huge_memory import (
        __split_huge_pmd_locked,
        split_huge_pmd_address,
        zap_deposited_table,
    )

    pages = ctx.pages
    mm = vma.vm_mm
    nr = hpage_nr_pages(ctx, head)
    if nr > 1 and not ctx.profile.lazyfree_thp_unmap_pmd:
        yield from split_huge_pmd_address(vma, address, False)  # TTU_SPLIT_HUGE_PMD
    pvmw = pvm.page_vma_mapped_walk_t(head, nr, vma, address, 0)
    flush_start, flush_end = -1, -1
    ok = True
    while (yield from pvm.page_vma_mapped_walk(pvmw)):
        if pvmw.pte is None:  # a PMD maps the THP (the walk holds the PMD lock)
            pmd = pvmw.pmd
            haddr = pvmw.address & ~(nr * PAGE_SIZE - 1)
            orig = pmd[0][pmd[1]]
            if orig & _PAGE_DIRTY:
                pages.flags[head] |= F_dirty
            if (ctx.profile.lazyfree_thp_unmap_pmd and not pages.flags[head] & F_dirty
                    and pages.refcount[head] == pages.total_mapcount(head) + 1):
                pmd[0][pmd[1]] = 0  # pmdp_huge_clear_flush()
                yield from flush_tlb_range(vma, haddr, haddr + nr * PAGE_SIZE)
                page_remove_rmap(ctx, head, True)
                zap_deposited_table(mm, pmd)
                mm.add_mm_counter(MM_ANONPAGES, -nr)
                folio_put_refs(ctx, head, 1)
                if ctx.mmu_notifiers:  # the range reads zeroes from now on
                    mmu_notifier_invalidate_range(mm, haddr, haddr + nr * PAGE_SIZE)
                pvm.page_vma_mapped_walk_done(pvmw)
                break
            # kept: swap-backed again, the PMD split (the PTE walk that follows in the
            # kernel refuses a swap-backed folio without swap at once)
            pages.flags[head] |= F_swapbacked
            yield from __split_huge_pmd_locked(vma, pmd, haddr, False)
            pvm.page_vma_mapped_walk_done(pvmw)
            ok = False
            break
        t, i = pvmw.pte
        a = pvmw.address
        pteval = t[i]
        t[i] = 0  # ptep_clear_flush(); the flush is batched below
        if flush_start < 0:
            flush_start = a
        flush_end = a + PAGE_SIZE
        if pteval & _PAGE_DIRTY:
            pages.flags[head] |= F_dirty
        if (pages.flags[head] & (F_swapbacked | F_dirty)
                or pages.refcount[head] != pages.total_mapcount(head) + 1):
            t[i] = pteval  # set_pte_at(): redirtied or referenced, keep it
            pages.flags[head] |= F_swapbacked
            pvm.page_vma_mapped_walk_done(pvmw)
            ok = False
            break
        mm.add_mm_counter(MM_ANONPAGES, -1)  # discard:
        page_remove_rmap(ctx, pte_pfn(pteval), False)
        folio_put_refs(ctx, head, 1)
        if ctx.mmu_notifiers:  # the page reads zeroes from now on
            mmu_notifier_invalidate_range(mm, a, a + PAGE_SIZE)
    if flush_start >= 0:
        yield from flush_tlb_range(vma, flush_start, flush_end)
    return ok


def try_to_unmap(ctx: KernelContext, head: int) -> KernelPath[None]:
    """Models: try_to_unmap() for reclaim: walk every mapping until the folio is
    unmapped or one mapping must stay. Context: folio locked and isolated."""
    pages = ctx.pages

    def one(h: int, vma: vm_area_struct, address: int) -> KernelPath[bool]:
        return (yield from try_to_unmap_one(ctx, h, vma, address))

    yield from rmap_walk_anon(ctx, head, one, lambda: pages.total_mapcount(head) == 0)
