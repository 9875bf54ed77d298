"""MADV_COLLAPSE: khugepaged's synchronous collapse of 4 KiB pages into a THP.

Models: mm/khugepaged.c (6.1+, anonymous memory only) madvise_collapse(),
hpage_collapse_scan_pmd(), collapse_huge_page(), __collapse_huge_page_isolate(),
__collapse_huge_page_copy() and madvise_collapse_errno(), with cc->is_khugepaged
false (no max_ptes_none/shared/swap limits, no young-page requirement). The
khugepaged thread itself is not modelled.

The scan of a 2 MiB block: already PMD-mapped is done (SCAN_PMD_MAPPED); no page
table (SCAN_PMD_NULL), a page that is not a normal page (SCAN_PAGE_NULL) or no
writable PTE (SCAN_PAGE_RO) fail for good (EINVAL); a page locked, not on the LRU
or with references beyond its mappings (SCAN_PAGE_LOCK, SCAN_PAGE_LRU,
SCAN_PAGE_COUNT) fail for now (EAGAIN). Otherwise collapse_huge_page(): mmap_lock
is dropped to allocate the THP (thp_collapse_alloc; on the node holding most of the
pages, SCAN_ALLOC_HUGE_PAGE_FAIL: ENOMEM), taken for write, the VMA revalidated;
under the anon_vma lock the PMD is cleared and flushed (pmdp_collapse_flush()),
each page locked and isolated (a failure puts the PMD back); then the pages are
copied into the THP (zeroes for empty and zero-page PTEs), unmapped and released,
and the THP mapped by the PMD with the old PTE table deposited.

A page of a PTE-mapped THP is checked, locked and isolated as its folio, once
(5.8+, the compound list); its pages are copied like base pages, their PTEs removed
one by one (the folio may go on the deferred-split queue, as any partial unmap), and
the folio goes back to the LRU, or is freed when nothing maps it any more.

Simplified: a block holding a non-present PTE (a migration or hwpoison entry: the
kernel swaps in or waits) is not collapsed: EAGAIN, nothing changed. No memcg
charge, no mmu notifiers.
"""

from __future__ import annotations

import errno

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_NR,
    HPAGE_PMD_SHIFT,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    mk_huge_pmd,
    pmd_mkdirty,
    pmd_none,
    pmd_present,
    pmd_trans_huge,
    pte_none,
    pte_pfn,
    pte_present,
    pte_special,
    pte_write,
    table_entry_pfn,
)
from thpsim.kernel.entry import ULONG_MAX
from thpsim.kernel.locking import down_read, down_write, spin_lock, spin_unlock, up_read, up_write
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.tlbflush import flush_pmd_tlb_range
from thpsim.mm.filemap import folio_trylock, folio_unlock
from thpsim.mm.gfp import GFP_TRANSHUGE
from thpsim.mm.huge_memory import maybe_pmd_mkwrite
from thpsim.mm.internal import folio_pte_batch
from thpsim.mm.mm_types import (
    MM_ANONPAGES,
    VM_HUGETLB,
    VM_NOHUGEPAGE,
    VM_SPECIAL,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.page_alloc import __alloc_pages
from thpsim.mm.page_flags import (
    F_head,
    F_hwpoison,
    F_locked,
    F_lru,
    F_swapbacked,
    F_uptodate,
)
from thpsim.mm.pgtable_generic import (
    lookup_pmd_range,
    pgtable_trans_huge_deposit,
    pmd_lock,
    pmdp_get,
    ptr_set,
    set_pmd_at,
)
from thpsim.mm.rmap import (
    anon_vma_lock_write,
    anon_vma_unlock_write,
    page_add_new_anon_rmap,
    page_remove_rmap,
    page_remove_rmap_ptes,
)
from thpsim.mm.swap import (
    hpage_nr_pages,
    isolate_lru_page,
    lru_cache_add_active_or_unevictable,
    put_page,
    putback_lru_page,
)
from thpsim.mm.vmstat import NR_ISOLATED_ANON

# enum scan_result: the ones the model reaches
SCAN_FAIL = 0
SCAN_SUCCEED = 1
SCAN_PMD_NULL = 2
SCAN_PMD_MAPPED = 4
SCAN_PAGE_RO = 8
SCAN_PAGE_NULL = 10
SCAN_PAGE_LOCK = 12
SCAN_PAGE_ANON = 13
SCAN_PTE_NON_PRESENT = 20
SCAN_PAGE_COUNT = 21
SCAN_PAGE_LRU = 22
SCAN_ALLOC_HUGE_PAGE_FAIL = 23
SCAN_VMA_CHECK = 26
SCAN_PAGE_HWPOISON = 33

#: results after which madvise_collapse() goes on with the next block
_CONTINUE = frozenset((SCAN_PMD_NULL, SCAN_PTE_NON_PRESENT, SCAN_PAGE_RO, SCAN_PAGE_NULL,
                       SCAN_PAGE_COUNT, SCAN_PAGE_LOCK, SCAN_PAGE_LRU))


def madvise_collapse_errno(r: int) -> int:
    """Models: madvise_collapse_errno()."""
    if r == SCAN_ALLOC_HUGE_PAGE_FAIL:
        return -errno.ENOMEM
    if r in (SCAN_PAGE_COUNT, SCAN_PAGE_LOCK, SCAN_PAGE_LRU, SCAN_PTE_NON_PRESENT):
        return -errno.EAGAIN  # the last: the model's "not collapsed" (module doc)
    return -errno.EINVAL


def thp_vma_collapse_allowed(vma: vm_area_struct) -> bool:
    """thp_vma_allowable_order(vma, vm_flags, 0, PMD_ORDER) for anonymous memory: not
    VM_NOHUGEPAGE/hugetlb/special (the sysfs knob is not asked), the VMA's last
    aligned 2 MiB block fits (thp_vma_suitable_order()), an anon_vma exists."""
    last_block = (vma.vm_end - HPAGE_PMD_SIZE) & ~(HPAGE_PMD_SIZE - 1)
    return not (vma.vm_flags & (VM_NOHUGEPAGE | VM_HUGETLB | VM_SPECIAL)
                or last_block < vma.vm_start or vma.anon_vma is None)


def _scan_pte(ctx, e: int) -> tuple[int, int]:
    """One PTE as hpage_collapse_scan_pmd() and __collapse_huge_page_isolate() see it:
    ``(result, pfn)``; pfn -1 for an empty or zero-page PTE (SCAN_SUCCEED)."""
    if pte_none(e):
        return SCAN_SUCCEED, -1
    if not pte_present(e):
        return SCAN_PTE_NON_PRESENT, -1
    pfn = pte_pfn(e)
    if pte_special(e):  # vm_normal_page() is NULL: the zero page counts as empty
        return (SCAN_SUCCEED if pfn == ctx.zero_pfn else SCAN_PAGE_NULL), -1
    pages = ctx.pages
    if pages.flags[pfn] & F_hwpoison:
        return SCAN_PAGE_HWPOISON, -1
    # 5.8+ (C:5503fbf2b0b8, "khugepaged: allow to collapse PTE-mapped compound
    # pages"): a page of a PTE-mapped THP is checked as its folio is
    folio = pages.compound_head(pfn)
    f = pages.flags[folio]
    if not f & F_lru:
        return SCAN_PAGE_LRU, -1
    if f & F_locked:
        return SCAN_PAGE_LOCK, -1
    if not is_refcount_suitable(ctx, folio):
        return SCAN_PAGE_COUNT, -1
    return SCAN_SUCCEED, pfn


def is_refcount_suitable(ctx, folio: int) -> bool:
    """Models: is_refcount_suitable(): no references beyond the folio's mappings (no
    GUP pin, no isolation; the model has no swap cache)."""
    pages = ctx.pages
    return pages.refcount[folio] == pages.total_mapcount(folio)


def hpage_collapse_scan_pmd(mm: mm_struct, vma: vm_area_struct, addr: int,
                            locked: list[bool]) -> KernelPath[int]:
    """Models: hpage_collapse_scan_pmd() for the block at ``addr``, then
    collapse_huge_page() when it may collapse. ``locked[0]`` becomes False when
    mmap_lock (held for read) was dropped. Preempts: in the collapse."""
    ctx = mm.kernel
    pmd, _ = lookup_pmd_range(mm, addr, addr + HPAGE_PMD_SIZE)
    v = 0 if pmd is None else pmdp_get(pmd)
    if pmd_trans_huge(v) and pmd_present(v):
        return SCAN_PMD_MAPPED
    if pmd_none(v) or not pmd_present(v):
        return SCAN_PMD_NULL
    t = ctx.mem.tables[table_entry_pfn(v)]
    writable = False
    node_load: dict[int, int] = {}
    for i in range(HPAGE_PMD_NR):
        e = t[i]
        r, pfn = _scan_pte(ctx, e)
        if r != SCAN_SUCCEED:
            return r
        if pfn >= 0:
            writable = writable or pte_write(e)
            nid = ctx.mem.pfn_to_nid(pfn)
            node_load[nid] = node_load.get(nid, 0) + 1
    if not writable and not ctx.profile.collapse_read_only_anon:
        return SCAN_PAGE_RO
    locked[0] = False
    return (yield from collapse_huge_page(mm, addr, node_load))


def collapse_huge_page(mm: mm_struct, address: int, node_load: dict[int, int]
                       ) -> KernelPath[int]:
    """Models: collapse_huge_page(), anonymous: called with mmap_lock held for read,
    returns with it dropped. Returns a SCAN_* result."""
    ctx = mm.kernel
    pages = ctx.pages
    up_read(mm.mmap_lock)
    # alloc_charge_folio(): the node with most of the pages (hpage_collapse_find_target_node());
    # nodes tied with it in alloc_nmask. No page at all (a block of none and zero-page
    # PTEs, collapse_read_only_anon): every node ties at 0 and node 0 is preferred.
    loads = {nid: node_load.get(nid, 0) for nid in ctx.mem.nodes}
    best = max(loads.values())
    nmask = 0
    for nid, n in loads.items():
        if n == best:
            nmask |= 1 << nid
    node = min(nid for nid, n in loads.items() if n == best)
    hpage = __alloc_pages(ctx, GFP_TRANSHUGE, HPAGE_PMD_SHIFT - PAGE_SHIFT, node, nmask)
    if hpage < 0:
        ctx.vmstat.count_vm_event("thp_collapse_alloc_failed")
        return SCAN_ALLOC_HUGE_PAGE_FAIL
    ctx.vmstat.count_vm_event("thp_collapse_alloc")
    yield from down_write(mm.mmap_lock)
    try:
        # hugepage_vma_revalidate() and find_pmd_or_thp_or_none() again
        vma = mm.find_vma(address)
        if (vma is None or vma.vm_start > address or address + HPAGE_PMD_SIZE > vma.vm_end
                or not thp_vma_collapse_allowed(vma)):
            put_page(ctx, hpage)
            return SCAN_VMA_CHECK
        pmd, _ = lookup_pmd_range(mm, address, address + HPAGE_PMD_SIZE)
        v = 0 if pmd is None else pmdp_get(pmd)
        if pmd_trans_huge(v) and pmd_present(v):
            put_page(ctx, hpage)
            return SCAN_PMD_MAPPED
        if pmd_none(v) or not pmd_present(v):
            put_page(ctx, hpage)
            return SCAN_PMD_NULL
        av = vma.anon_vma
        yield from anon_vma_lock_write(av)
        ptl = yield from pmd_lock(mm, pmd)
        orig = pmdp_get(pmd)
        ptr_set(pmd, 0)  # pmdp_collapse_flush()
        yield from flush_pmd_tlb_range(vma, address, address + HPAGE_PMD_SIZE)
        spin_unlock(ptl)
        t = ctx.mem.tables[table_entry_pfn(orig)]
        yield from spin_lock(t.ptl)
        # __collapse_huge_page_isolate(): each folio locked and isolated once (a
        # large one goes on the compound list the first time one of its pages is met)
        isolated: list[int] = []
        compound: set[int] = set()
        result = SCAN_SUCCEED
        writable = False
        for i in range(HPAGE_PMD_NR):
            e = t[i]
            if (compound and pte_present(e) and not pte_special(e)
                    and pages.compound_head(pte_pfn(e)) in compound):
                writable = writable or pte_write(e)
                continue  # a page of a large folio dealt with already
            r, pfn = _scan_pte(ctx, e)
            if r != SCAN_SUCCEED:
                result = r
                break
            if pfn < 0:
                continue
            writable = writable or pte_write(e)
            folio = pages.compound_head(pfn)
            if not folio_trylock(ctx, folio):
                result = SCAN_PAGE_LOCK
                break
            if not is_refcount_suitable(ctx, folio):
                folio_unlock(ctx, folio)
                result = SCAN_PAGE_COUNT
                break
            if isolate_lru_page(ctx, folio):
                folio_unlock(ctx, folio)
                result = SCAN_PAGE_LRU
                break
            ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(folio), NR_ISOLATED_ANON,
                                           hpage_nr_pages(ctx, folio))
            isolated.append(folio)
            if folio != pfn or pages.flags[folio] & F_head:
                compound.add(folio)
        if result == SCAN_SUCCEED and not writable and not ctx.profile.collapse_read_only_anon:
            result = SCAN_PAGE_RO
        spin_unlock(t.ptl)
        if result != SCAN_SUCCEED:
            for folio in isolated:  # release_pte_pages()
                ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(folio), NR_ISOLATED_ANON,
                                               -hpage_nr_pages(ctx, folio))
                folio_unlock(ctx, folio)
                putback_lru_page(ctx, folio)
            ptl = yield from pmd_lock(mm, pmd)
            ptr_set(pmd, orig)  # pmd_populate(): the page table goes back
            spin_unlock(ptl)
            anon_vma_unlock_write(av)
            put_page(ctx, hpage)
            return result
        anon_vma_unlock_write(av)
        # __collapse_huge_page_copy(): the data, then the old mappings released
        mem = ctx.mem
        added = 0
        for i in range(HPAGE_PMD_NR):
            e = t[i]
            if pte_none(e) or pte_special(e):
                mem.clear_frames(hpage + i, 1)
                added += 1
            else:
                mem.copy_frames(hpage + i, pte_pfn(e), 1)
        batch = ctx.profile.collapse_pte_batch
        i = 0
        while i < HPAGE_PMD_NR:
            e = t[i]
            if pte_none(e) or pte_special(e):
                t[i] = 0  # ptep_clear()
                i += 1
                continue
            pfn = pte_pfn(e)
            folio = pages.compound_head(pfn)
            if folio not in compound:  # release_pte_folio()
                t[i] = 0
                page_remove_rmap(ctx, pfn, False)
                ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(pfn), NR_ISOLATED_ANON, -1)
                folio_unlock(ctx, pfn)
                putback_lru_page(ctx, pfn)
                put_page(ctx, folio)  # free_folio_and_swap_cache(): the mapping's ref
                i += 1
                continue
            # a large folio's PTEs: in one batch (collapse_pte_batch), else one by one
            nr = folio_pte_batch(ctx, t, i, HPAGE_PMD_NR - i) if batch else 1
            for j in range(i, i + nr):
                t[j] = 0
            if batch:
                page_remove_rmap_ptes(ctx, folio, pfn, nr, batch=True)
            else:
                page_remove_rmap(ctx, pfn, False)
            for _ in range(nr):
                put_page(ctx, folio)  # free_folio_and_swap_cache() / folio_put_refs()
            i += nr
        for folio in isolated:
            if folio in compound:  # the compound list: back on the LRU, or freed
                ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(folio), NR_ISOLATED_ANON,
                                               -hpage_nr_pages(ctx, folio))
                folio_unlock(ctx, folio)
                putback_lru_page(ctx, folio)
        mm.add_mm_counter(MM_ANONPAGES, added)
        pages.flags[hpage] |= F_uptodate | F_swapbacked
        entry = maybe_pmd_mkwrite(pmd_mkdirty(mk_huge_pmd(hpage, vma.vm_page_prot)), vma)
        ptl = yield from pmd_lock(mm, pmd)
        page_add_new_anon_rmap(ctx, hpage, vma, address, True)
        lru_cache_add_active_or_unevictable(ctx, hpage, vma)
        pgtable_trans_huge_deposit(mm, pmd, t.pfn)
        set_pmd_at(mm, address, pmd, entry)
        spin_unlock(ptl)
        return SCAN_SUCCEED
    finally:
        up_write(mm.mmap_lock)


def madvise_collapse(vma: vm_area_struct, start: int, end: int) -> KernelPath[int]:
    """MADV_COLLAPSE over one VMA's part [start, end).

    Models: madvise_collapse(), 6.1+: -EINVAL for a VMA no THP may back
    (thp_vma_collapse_allowed()); then each whole aligned 2 MiB block of the range is
    scanned and collapsed (hpage_collapse_scan_pmd()), mmap_lock taken again for
    read and the VMA revalidated after a collapse dropped it. The listed failures
    go on with the next block, any other ends the loop. The result is 0 when every
    block is done, else madvise_collapse_errno() of the last failure (a range
    inside one block asks, in unsigned arithmetic, for 2**43 - 1 blocks: SCAN_FAIL,
    EINVAL, until ``madvise_collapse_no_block_ok`` (7.x: 0); an empty aligned range
    is 0). Context: mmap_lock held for read, held
    again on return. Preempts: in the collapses, between blocks.
    """
    if not thp_vma_collapse_allowed(vma):
        return -errno.EINVAL
    mm = vma.vm_mm
    hstart = (start + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    hend = end & ~(HPAGE_PMD_SIZE - 1)
    if hstart >= hend and mm.kernel.profile.madvise_collapse_no_block_ok:
        return 0  # no whole block in the range: nothing to collapse (7.x)
    thps = 0
    last_fail = SCAN_FAIL
    locked = [True]
    addr = hstart
    while addr < hend:
        if not locked[0]:
            yield from down_read(mm.mmap_lock)
            locked[0] = True
            v = mm.find_vma(addr)  # hugepage_vma_revalidate()
            if (v is None or v.vm_start > addr or addr + HPAGE_PMD_SIZE > v.vm_end
                    or not thp_vma_collapse_allowed(v)):
                last_fail = SCAN_VMA_CHECK
                break
            vma = v
            hend = min(hend, v.vm_end & ~(HPAGE_PMD_SIZE - 1))
        pmd, nxt = lookup_pmd_range(mm, addr, hend)
        if pmd is None:  # no table over [addr, nxt): SCAN_PMD_NULL for each block
            last_fail = SCAN_PMD_NULL
            addr = nxt
            continue
        result = yield from hpage_collapse_scan_pmd(mm, vma, addr, locked)
        if result in (SCAN_SUCCEED, SCAN_PMD_MAPPED):
            thps += 1
        elif result in _CONTINUE:
            last_fail = result
        else:
            last_fail = result
            break
        addr += HPAGE_PMD_SIZE
        yield PREEMPT  # cond_resched()
    if not locked[0]:
        yield from down_read(mm.mmap_lock)
    want = ((hend - hstart) & ULONG_MAX) >> HPAGE_PMD_SHIFT
    return 0 if thps == want else madvise_collapse_errno(last_fail)
