"""Page references and the LRU: get_page, put_page, lru_cache_add.

Models: mm/swap.c (put_page, __put_page, __page_cache_release,
lru_cache_add_active_or_unevictable, 5.4's deactivate_page), include/linux/mm.h (get_page,
get_page_unless_zero), mm/huge_memory.c free_transhuge_page; v4.14.

Simplified: the LRU lists are flags and counters only (PG_lru, PG_active,
PG_unevictable, nr_active_anon ...): there is no reclaim to walk them. No
pagevecs: a page reaches the LRU at once (so no pagevec reference can make a
migration fail with -EAGAIN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.errors import KernelBug
from thpsim.mm.mm_types import VM_LOCKED, VM_SPECIAL
from thpsim.mm.page_alloc import __free_pages
from thpsim.mm.page_flags import (
    F_active,
    F_head,
    F_lru,
    F_mlocked,
    F_referenced,
    F_tail,
    F_unevictable,
)
from thpsim.mm.vmstat import (
    NR_ACTIVE_ANON,
    NR_INACTIVE_ANON,
    NR_ISOLATED_ANON,
    NR_MLOCK,
    NR_UNEVICTABLE,
    NR_ZONE_ACTIVE_ANON,
    NR_ZONE_INACTIVE_ANON,
    NR_ZONE_UNEVICTABLE,
    PGDEACTIVATE,
    PGFREE,
    UNEVICTABLE_PGCLEARED,
    UNEVICTABLE_PGCULLED,
    UNEVICTABLE_PGMLOCKED,
    UNEVICTABLE_PGMUNLOCKED,
    UNEVICTABLE_PGRESCUED,
    UNEVICTABLE_PGSTRANDED,
)

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext
    from thpsim.mm.mm_types import vm_area_struct

_M32 = 0xFFFF_FFFF


def hpage_nr_pages(ctx: KernelContext, head: int) -> int:
    return 1 << ctx.pages.order[head] if ctx.pages.flags[head] & F_head else 1


def get_page(ctx: KernelContext, pfn: int) -> None:
    pages = ctx.pages
    head = pages.compound_head(pfn)
    if pages.refcount[head] <= 0:
        raise KernelBug(f"get_page on page {head:#x} with refcount {pages.refcount[head]}")
    pages.refcount[head] += 1


def folio_get_refs(ctx: KernelContext, head: int, refs: int) -> None:
    """``refs`` get_page()s of the head page at once (folio_ref_add() after the
    same check)."""
    pages = ctx.pages
    if pages.refcount[head] <= 0:
        raise KernelBug(f"get_page on page {head:#x} with refcount {pages.refcount[head]}")
    pages.refcount[head] += refs


def page_ref_add(ctx: KernelContext, head: int, nr: int) -> None:
    ctx.pages.refcount[head] += nr


def get_page_unless_zero(ctx: KernelContext, pfn: int) -> bool:
    pages = ctx.pages
    head = pages.compound_head(pfn)
    if pages.refcount[head] == 0:
        return False
    pages.refcount[head] += 1
    return True


def put_page(ctx: KernelContext, pfn: int) -> None:
    """Drop a reference; the last one frees the page (or the whole compound page)."""
    pages = ctx.pages
    head = pfn if not pages.flags[pfn] & F_tail else pages.compound_head(pfn)
    c = pages.refcount[head] - 1
    if c < 0:
        raise KernelBug(f"put_page on page {head:#x} with refcount 0")
    pages.refcount[head] = c
    if c == 0:
        __put_page(ctx, head)


def folio_put_refs(ctx: KernelContext, head: int, refs: int) -> None:
    """Models: folio_put_refs(): ``refs`` put_page()s of the head page at once (the
    last reference frees it)."""
    if refs == 1:
        put_page(ctx, head)
        return
    pages = ctx.pages
    c = pages.refcount[head] - refs
    if c < 0:
        raise KernelBug(f"put_page on page {head:#x} with refcount 0")
    pages.refcount[head] = c
    if c == 0:
        __put_page(ctx, head)


def put_page_testzero(ctx: KernelContext, head: int) -> bool:
    pages = ctx.pages
    pages.refcount[head] -= 1
    return pages.refcount[head] == 0


def __put_page(ctx: KernelContext, head: int) -> None:
    """Models: mm/swap.c __put_page(): compound or single."""
    pages = ctx.pages
    __page_cache_release(ctx, head)
    if pages.flags[head] & F_head:
        # free_transhuge_page(): off the deferred-split queue, then free_compound_page()
        ctx.deferred_split_queue.pop(head, None)
        order = pages.order[head]
    else:
        order = 0
    ctx.vmstat.count_vm_events(PGFREE, 1 << order)
    __free_pages(ctx, head, order)


def __page_cache_release(ctx: KernelContext, head: int) -> None:
    """Take a page off its LRU list (del_page_from_lru_list)."""
    pages = ctx.pages
    f = pages.flags[head]
    if f & F_lru:
        del_page_from_lru(ctx, head)
        pages.flags[head] &= ~(F_active | F_unevictable) & _M32  # page_off_lru()
    if f & F_mlocked:
        # The page lost its last mapping (in a VM_LOCKED VMA: nothing else mlocks a page)
        # still PG_mlocked. 5.18+: that rmap removal munlocked it (munlock_vma_folio()
        # -> __munlock_folio(): munlocked and rescued, or stranded while isolated).
        # 4.14: page_remove_rmap() -> clear_page_mlock(): cleared, then rescued by
        # putback_lru_page(), or stranded when isolate_lru_page() fails.
        pages.flags[head] = pages.flags[head] & ~F_mlocked & _M32
        nr = hpage_nr_pages(ctx, head)
        ctx.vmstat.mod_zone_page_state(ctx.mem.pfn_to_nid(head), NR_MLOCK, -nr)
        if ctx.profile.mlock_counts_folio_pages:
            if f & F_lru:
                count_unevictable_event(ctx, UNEVICTABLE_PGMUNLOCKED, head)
        else:
            count_unevictable_event(ctx, UNEVICTABLE_PGCLEARED, head)
        count_unevictable_event(
            ctx, UNEVICTABLE_PGRESCUED if f & F_lru else UNEVICTABLE_PGSTRANDED, head)


def count_unevictable_event(ctx: KernelContext, item: str, head: int) -> None:
    """Count one unevictable_pgs_* event for the page or THP at ``head``.

    Models: count_vm_event(UNEVICTABLE_PG*) of 4.14 (one per page or THP) and
    __count_vm_events(UNEVICTABLE_PG*, folio_nr_pages()) of 5.18+ (base pages),
    as ``mlock_counts_folio_pages`` says.
    """
    nr = hpage_nr_pages(ctx, head) if ctx.profile.mlock_counts_folio_pages else 1
    ctx.vmstat.count_vm_events(item, nr)


def _lru_items(f: int) -> tuple[str, str]:
    if f & F_unevictable:
        return NR_UNEVICTABLE, NR_ZONE_UNEVICTABLE
    if f & F_active:
        return NR_ACTIVE_ANON, NR_ZONE_ACTIVE_ANON
    return NR_INACTIVE_ANON, NR_ZONE_INACTIVE_ANON


def add_page_to_lru(ctx: KernelContext, head: int) -> None:
    """Set PG_lru and count the page on its list (add_page_to_lru_list)."""
    pages = ctx.pages
    f = pages.flags[head]
    if f & F_lru:
        raise KernelBug(f"page {head:#x} already on the LRU")
    if f & F_mlocked:
        f |= F_unevictable
        f &= ~F_active & _M32
    pages.flags[head] = f | F_lru
    nr = hpage_nr_pages(ctx, head)
    nid = ctx.mem.pfn_to_nid(head)
    node_item, zone_item = _lru_items(f)
    ctx.vmstat.mod_node_page_state(nid, node_item, nr)
    ctx.vmstat.mod_zone_page_state(nid, zone_item, nr)


def del_page_from_lru(ctx: KernelContext, head: int) -> None:
    pages = ctx.pages
    f = pages.flags[head]
    nr = hpage_nr_pages(ctx, head)
    nid = ctx.mem.pfn_to_nid(head)
    node_item, zone_item = _lru_items(f)
    ctx.vmstat.mod_node_page_state(nid, node_item, -nr)
    ctx.vmstat.mod_zone_page_state(nid, zone_item, -nr)
    pages.flags[head] = f & ~(F_lru | F_unevictable) & _M32


def lru_cache_add_active_or_unevictable(ctx: KernelContext, head: int,
                                        vma: vm_area_struct) -> None:
    """Models: mm/swap.c lru_cache_add_active_or_unevictable(), v4.14 (4.16+: the
    unevictable page is culled on its way to the LRU, ``lru_add_counts_culled``;
    5.18+ folio_add_lru_vma() -> mlock_new_folio())."""
    pages = ctx.pages
    if vma.vm_flags & (VM_LOCKED | VM_SPECIAL) != VM_LOCKED:
        pages.flags[head] |= F_active
    else:
        if not pages.flags[head] & F_mlocked:
            pages.flags[head] |= F_mlocked
            nr = hpage_nr_pages(ctx, head)
            ctx.vmstat.mod_zone_page_state(ctx.mem.pfn_to_nid(head), NR_MLOCK, nr)
            count_unevictable_event(ctx, UNEVICTABLE_PGMLOCKED, head)
        if ctx.profile.lru_add_counts_culled:
            # 4.16+ __pagevec_lru_add_fn() / 5.18+ mlock_new_folio()
            count_unevictable_event(ctx, UNEVICTABLE_PGCULLED, head)
    add_page_to_lru(ctx, head)


def isolate_lru_page(ctx: KernelContext, head: int) -> int:
    """Models: mm/vmscan.c isolate_lru_page(): take a page off the LRU with a reference.

    Returns 0 or -EBUSY (not on the LRU).
    """
    pages = ctx.pages
    if not pages.flags[head] & F_lru:
        return -16
    if pages.refcount[head] <= 0:
        return -16
    pages.refcount[head] += 1
    del_page_from_lru(ctx, head)
    return 0


def isolate_lru_page_for_migration(ctx: KernelContext, head: int) -> int:
    """isolate_lru_page() + the NR_ISOLATED_ANON accounting every caller does.

    Models: the pair each 4.14 migration caller writes after mm/vmscan.c
    isolate_lru_page() (mempolicy's migrate_page_add(), move_pages'
    add_page_for_migration(), memory hot-remove, soft offline):
    inc_node_page_state(NR_ISOLATED_ANON) by the page's size; mm/migrate.c
    unmap_and_move() or putback_movable_pages() takes it back.
    Returns 0 or -EBUSY (not on the LRU).
    """
    err = isolate_lru_page(ctx, head)
    if err == 0:
        ctx.vmstat.mod_node_page_state(ctx.mem.pfn_to_nid(head), NR_ISOLATED_ANON,
                                       hpage_nr_pages(ctx, head))
    return err


def putback_lru_page(ctx: KernelContext, head: int) -> None:
    """Models: mm/vmscan.c putback_lru_page(): back on the LRU, drop the isolation ref."""
    add_page_to_lru(ctx, head)
    put_page(ctx, head)


def deactivate_page(ctx: KernelContext, head: int) -> None:
    """Move an active page to the inactive list.

    Models: mm/swap.c deactivate_page() + lru_deactivate_fn(), 5.4 (folio_deactivate()
    in 6.x): only a page on the LRU, active and evictable; PG_active and
    PG_referenced are cleared and pgdeactivate counts its base pages.
    Simplified: no pagevec, the move happens at once.
    """
    pages = ctx.pages
    f = pages.flags[head]
    if not f & F_lru or not f & F_active or f & F_unevictable:
        return
    del_page_from_lru(ctx, head)
    pages.flags[head] &= ~(F_active | F_referenced) & _M32
    add_page_to_lru(ctx, head)
    ctx.vmstat.count_vm_events(PGDEACTIVATE, hpage_nr_pages(ctx, head))
