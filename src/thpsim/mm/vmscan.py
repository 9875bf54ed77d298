"""Reclaim of a given list of pages, on a machine without swap.

Models: mm/vmscan.c reclaim_pages() (5.4; reclaim_folio_list() in 6.x) and the part
of shrink_page_list() / shrink_folio_list() an isolated, mapped, anonymous page
reaches when it is handed over with its references ignored (MADV_PAGEOUT): its
swap slot. The model has no swap device (mm/swapfile.py), so add_to_swap() /
folio_alloc_swap() always fails:

* a THP that can be split is split first (the fallback to base pages,
  split_huge_page_to_list(); thp_swpout_fallback is not a counter of the model),
  its tails joining the list; one that cannot be split is activated whole;
* every page then fails to get a slot and goes to ``activate_locked``: PG_active
  set (unless mlocked), pgactivate counted, and back on the LRU
  (putback_lru_page()).

Nothing swap-backed is unmapped and no data moves: those pages stay where they
were. A lazily freed page (MADV_FREE: not swap-backed) needs no slot: while it is
clean it is unmapped from every mapping and freed (pglazyfreed; a later read sees
zeroes), a large folio whole; one written since MADV_FREE is made swap-backed again
and kept, active (try_to_unmap_one() in mm/rmap.py).
Simplified: one pass (the kernel batches per node); no page_check_references()
(reclaim_pages() ignores references), no writeback, no demotion (reclaim_pages()
forbids it in 6.x).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.mm import huge_memory
from thpsim.mm.filemap import folio_trylock, folio_unlock
from thpsim.mm.page_flags import F_active, F_dirty, F_head, F_mlocked, F_swapbacked
from thpsim.mm.rmap import try_to_unmap
from thpsim.mm.swap import put_page, putback_lru_page
from thpsim.mm.vmstat import PGACTIVATE, PGLAZYFREED

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext
    from thpsim.kernel.sched import KernelPath

_M32 = 0xFFFF_FFFF


def reclaim_pages(ctx: KernelContext, page_list: list[int]) -> KernelPath[int]:
    """Try to reclaim the isolated pages of ``page_list``; returns the number reclaimed
    (only lazily freed pages: no swap). Each page arrives isolated (off the LRU, with the isolation
    reference) and leaves on the LRU again, active, the list emptied.

    Models: reclaim_pages() (ClearPageActive, then shrink_page_list() with
    ignore_references) and shrink_page_list()'s anonymous path with no swap space.
    Context: no spinlock held. Preempts: in the split.
    """
    pages = ctx.pages
    pgactivate = reclaimed = 0
    todo = list(page_list)
    page_list.clear()
    for head in todo:
        pages.flags[head] &= ~F_active & _M32
    i = 0
    while i < len(todo):
        page = todo[i]
        i += 1
        nr = 1
        if not folio_trylock(ctx, page):
            putback_lru_page(ctx, page)  # keep: back as it is
            continue
        if not pages.flags[page] & F_swapbacked:
            # a lazily freed anon folio (MADV_FREE): no swap slot needed, no split;
            # unmapped (discarded while clean) and freed, or kept (redirtied)
            if pages.total_mapcount(page) and not pages.flags[page] & F_dirty:
                yield from try_to_unmap(ctx, page)
            nr = 1 << pages.order[page] if pages.flags[page] & F_head else 1
            if (not pages.total_mapcount(page) and pages.refcount[page] == 1
                    and not pages.flags[page] & F_dirty):
                ctx.vmstat.count_vm_events(PGLAZYFREED, nr)  # free_it
                reclaimed += nr
                folio_unlock(ctx, page)
                put_page(ctx, page)
                continue
            pages.flags[page] |= F_swapbacked  # redirtied: swap-backed again
            if not pages.flags[page] & F_mlocked:
                pages.flags[page] |= F_active
                pgactivate += nr
            folio_unlock(ctx, page)
            putback_lru_page(ctx, page)
            continue
        if pages.flags[page] & F_head:
            # add_to_swap() fails: "Fallback to swap normal pages"
            ok, _ = huge_memory.can_split_huge_page(ctx, page)
            tails: list[int] = []
            if ok and (yield from huge_memory.split_huge_page(ctx, page, tails)) == 0:
                todo.extend(tails)  # split_huge_page_to_list(): on the list, isolated
            else:
                nr = 1 << pages.order[page]
        # add_to_swap() fails again: activate_locked(_split)
        if not pages.flags[page] & F_mlocked:
            pages.flags[page] |= F_active
            pgactivate += nr
        folio_unlock(ctx, page)
        putback_lru_page(ctx, page)
    ctx.vmstat.count_vm_events(PGACTIVATE, pgactivate)
    return reclaimed
