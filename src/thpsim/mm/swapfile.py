"""Swap-slot side of copy-on-write reuse.

Models: mm/swapfile.c reuse_swap_page() and page_trans_huge_map_swapcount(), v4.14
(both gone by 5.19, when do_wp_page() and do_huge_pmd_wp_page() test the anon
exclusivity instead). The model has no swap: every swap count is 0 and no page is
in the swap cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.mm.page_flags import F_head

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

__all__ = ["reuse_swap_page", "page_trans_huge_map_swapcount"]


def page_trans_huge_map_swapcount(ctx: KernelContext, pfn: int) -> int:
    """Models: page_trans_huge_map_swapcount() with no swap (so
    page_trans_huge_mapcount(): the most times any subpage is mapped, the PMD
    mapping counted for each). Simplified: no PageDoubleMap correction."""
    pages = ctx.pages
    head = pages.compound_head(pfn)
    if not pages.flags[head] & F_head:
        return pages.mapcount[head] + 1
    nr = 1 << pages.order[head]
    return int(pages.mapcount_np[head : head + nr].max()) + 1 + pages.compound_mapcount[head] + 1


def reuse_swap_page(ctx: KernelContext, pfn: int) -> bool:
    """Models: mm/swapfile.c reuse_swap_page() with no swap cache: mapped at most once.
    Context: page locked. Preempts: never."""
    return page_trans_huge_map_swapcount(ctx, pfn) <= 1
