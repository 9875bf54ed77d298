"""Tests for thpsim.mm.page_alloc: zones, zonelists, split/coalesce, frees, helpers.

Machines are small (8-32 MiB nodes, 2 or 8 MiB memory blocks). With 4 KiB pages
1 MiB is 256 frames and a MAX_ORDER - 1 (order-10) block is 4 MiB.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mm_helpers import kernel_context

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR, HPAGE_PMD_ORDER, PAGE_SHIFT
from thpsim.errors import ConfigError, KernelBug
from thpsim.hw.memory import PhysicalMemory
from thpsim.kernel.context import KernelContext
from thpsim.mm.gfp import (
    __GFP_ATOMIC,
    __GFP_COMP,
    __GFP_THISNODE,
    __GFP_ZERO,
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL,
    GFP_TRANSHUGE,
)
from thpsim.mm.page_alloc import (
    MAX_ORDER,
    NODE_DATA,
    ZONE_MOVABLE,
    ZONE_NORMAL,
    __alloc_pages,
    __free_pages,
    alloc_pages_node,
    buddyinfo,
    check_buddy,
    for_each_free_block,
    fragment_node,
    free_area_init,
    gfp_zone,
    is_free_buddy_page,
    memblock_free_all,
    node_free_pages,
    nr_free_pages_by_order,
    page_zone,
    split_page,
    take_page_off_buddy,
    totalram_pages,
    unfragment,
)
from thpsim.mm.page_flags import (
    PAGE_BUDDY_MAPCOUNT_VALUE,
    PAGE_MAPPING_ANON,
    F_head,
    F_hwpoison,
    F_lru,
    F_reserved,
    F_tail,
    PageArrays,
)

MiB = 1 << 20
FRAMES_PER_MIB = MiB >> PAGE_SHIFT  # 256
TOP = MAX_ORDER - 1  # order 10: 1024 frames, 4 MiB


def boot(
    node_mib: dict[int, int],
    block_mib: int = 8,
    movable_mib: dict[int, int] | None = None,
    distance: dict[tuple[int, int], int] | None = None,
    reserved: set[int] | None = None,
) -> tuple[PhysicalMemory, PageArrays, KernelContext]:
    mem = PhysicalMemory({n: s * MiB for n, s in node_mib.items()}, block_mib * MiB, distance)
    ctx = kernel_context(mem)
    movable = {n: s * MiB for n, s in (movable_mib or {}).items()}
    free_area_init(ctx, movable)
    memblock_free_all(ctx, reserved)
    return mem, ctx.pages, ctx


def put(pages: PageArrays, ctx: KernelContext, pfn: int, order: int) -> None:
    """Drop the last reference and free (what put_page() does for the test)."""
    pages.refcount[pfn] -= 1
    assert pages.refcount[pfn] == 0
    __free_pages(ctx, pfn, order)


def drain(ctx: KernelContext, nid: int) -> list[tuple[int, int]]:
    """Allocate every free frame of node ``nid``, biggest blocks first."""
    held = []
    for order in range(TOP, -1, -1):
        while True:
            pfn = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, order, nid)
            if pfn < 0:
                break
            held.append((pfn, order))
    assert node_free_pages(ctx, nid) == 0
    return held


def three_nodes(**kw):
    """Nodes 0, 2, 5 of 32, 16 and 8 MiB: PFNs [0, 8192), [8192, 12288), [12288, 14336)."""
    return boot({0: 32, 2: 16, 5: 8}, **kw)


# ---------------------------------------------------------------- layout
def test_layout_non_contiguous_node_ids():
    mem, pages, ctx = three_nodes(movable_mib={2: 8})
    assert list(ctx.node_data) == [0, 2, 5]
    n2 = NODE_DATA(ctx, 2)
    assert (n2.node_start_pfn, n2.node_spanned_pages) == (8192, 4096)
    normal, movable = n2.node_zones
    assert (normal.zone_idx, normal.name) == (ZONE_NORMAL, "Normal")
    assert (movable.zone_idx, movable.name) == (ZONE_MOVABLE, "Movable")
    assert (normal.zone_start_pfn, normal.zone_end_pfn()) == (8192, 10240)
    assert (movable.zone_start_pfn, movable.zone_end_pfn()) == (10240, 12288)
    assert page_zone(ctx, 10239) is normal and page_zone(ctx, 10240) is movable
    assert movable.zone_spans_pfn(12287) and not movable.zone_spans_pfn(12288)
    # Node 5 has no movable memory: its Movable zone is empty and in no zonelist.
    assert NODE_DATA(ctx, 5).node_zones[ZONE_MOVABLE].spanned_pages == 0
    assert totalram_pages(ctx) == mem.max_pfn == 14336
    assert [node_free_pages(ctx, n) for n in (0, 2, 5)] == [8192, 4096, 2048]
    assert pages.flags_np.max() == 0  # PG_reserved cleared on every released frame
    # Default distances: the local node, then the others by id; zones highest first.
    zl = [(z.node, z.name) for z in NODE_DATA(ctx, 2).node_zonelist]
    assert zl == [(2, "Movable"), (2, "Normal"), (0, "Normal"), (5, "Normal")]
    check_buddy(ctx)


def test_buddyinfo_text():
    _, _, ctx = three_nodes(movable_mib={2: 8})
    zeros = "     0 " * TOP
    assert buddyinfo(ctx) == (
        f"Node 0, zone   Normal {zeros}     8 \n"
        f"Node 2, zone   Normal {zeros}     2 \n"
        f"Node 2, zone  Movable {zeros}     2 \n"
        f"Node 5, zone   Normal {zeros}     2 \n"
    )


def test_movable_bytes_must_be_whole_blocks_of_an_existing_node():
    mem = PhysicalMemory({0: 32 * MiB}, 8 * MiB)
    pages = PageArrays(mem.max_pfn)
    for bad in ({0: 4 * MiB}, {0: 40 * MiB}, {1: 8 * MiB}, {0: -8 * MiB}):
        with pytest.raises(ConfigError):
            free_area_init(kernel_context(mem, pages), bad)


def test_nothing_allocatable_before_memblock_free_all_and_it_runs_once():
    mem = PhysicalMemory({0: 8 * MiB}, 8 * MiB)
    pages = PageArrays(mem.max_pfn)
    ctx = kernel_context(mem, pages)
    free_area_init(ctx, {})
    assert (pages.flags_np == F_reserved).all()
    assert __alloc_pages(ctx, GFP_KERNEL, 0, 0) == -1
    memblock_free_all(ctx)
    with pytest.raises(KernelBug, match="twice"):
        memblock_free_all(ctx)


def test_memblock_reserved_frames_stay_reserved_and_unmanaged():
    _, pages, ctx = boot({0: 8}, reserved={5, 1000})
    z = NODE_DATA(ctx, 0).node_zones[ZONE_NORMAL]
    assert z.managed_pages == z.present_pages - 2 == 2046
    assert z.nr_free_pages == 2046
    for pfn in (5, 1000):
        assert pages.flags[pfn] == F_reserved and not is_free_buddy_page(ctx, pfn)
    # [0, 5) is one order-2 block and one order-0 block; the 2nd order-10 block is whole.
    assert is_free_buddy_page(ctx, 0) and pages.order[0] == 2 and pages.order[4] == 0
    assert pages.mapcount[1024] == PAGE_BUDDY_MAPCOUNT_VALUE and pages.order[1024] == TOP
    check_buddy(ctx)


# ---------------------------------------------------------------- split and coalesce
def test_split_then_coalesce_back():
    _, pages, ctx = three_nodes()
    before = buddyinfo(ctx)
    # Node 5: [12288 order 10][13312 order 10]. LIFO: the last block freed is split.
    a = __alloc_pages(ctx, GFP_KERNEL, 0, 5)
    assert a == 13312
    # 13312 is handed out; 13313 (order 0), 13314 (1), ... 13824 (9) went on the lists.
    assert nr_free_pages_by_order(ctx, 5) == [1] * TOP + [1]
    assert pages.mapcount[13313] == PAGE_BUDDY_MAPCOUNT_VALUE and pages.order[13824] == 9
    b = __alloc_pages(ctx, GFP_KERNEL, 3, 5)
    assert b == 13320  # the order-3 block from the list, no further split
    assert nr_free_pages_by_order(ctx, 5) == [1, 1, 1, 0] + [1] * 7
    assert node_free_pages(ctx, 5) == 2048 - 1 - 8
    check_buddy(ctx)
    put(pages, ctx, a, 0)
    put(pages, ctx, b, 3)
    assert buddyinfo(ctx) == before
    check_buddy(ctx)


def test_every_order_allocates_and_frees_back():
    _, pages, ctx = three_nodes()
    before = buddyinfo(ctx)
    held = [(__alloc_pages(ctx, GFP_KERNEL, o, 0), o) for o in range(MAX_ORDER)]
    for pfn, order in held:
        assert pfn >= 0 and pfn % (1 << order) == 0 and pfn < 8192
    assert node_free_pages(ctx, 0) == 8192 - (2**MAX_ORDER - 1)
    check_buddy(ctx)
    for pfn, order in reversed(held[::2] + held[1::2]):
        put(pages, ctx, pfn, order)
    assert buddyinfo(ctx) == before
    assert __alloc_pages(ctx, GFP_KERNEL, MAX_ORDER, 0) == -1  # no such order


def test_split_page_gives_order0_pages_that_coalesce():
    _, pages, ctx = three_nodes()
    before = buddyinfo(ctx)
    pfn = __alloc_pages(ctx, GFP_KERNEL, 2, 0)
    assert list(pages.refcount_np[pfn : pfn + 4]) == [1, 0, 0, 0]
    split_page(ctx, pfn, 2)
    assert list(pages.refcount_np[pfn : pfn + 4]) == [1, 1, 1, 1]
    pages.refcount[pfn] = 0
    with pytest.raises(KernelBug, match=rf"pfn {pfn + 1:#x}.*nonzero _refcount"):
        __free_pages(ctx, pfn, 2)  # split pages are freed one by one
    pages.refcount[pfn] = 1
    for p in (pfn + 2, pfn, pfn + 3, pfn + 1):
        put(pages, ctx, p, 0)
    assert buddyinfo(ctx) == before
    thp = __alloc_pages(ctx, GFP_TRANSHUGE, HPAGE_PMD_ORDER, 0)
    with pytest.raises(KernelBug, match="compound"):
        split_page(ctx, thp, HPAGE_PMD_ORDER)


# ---------------------------------------------------------------- zonelists and fallback
def test_fallback_follows_distance_not_node_id():
    # Node 5 is nearer to node 0 than node 2 is.
    dist = {(0, 2): 30, (0, 5): 15, (2, 5): 25}
    mem, _, ctx = three_nodes(distance=dist)
    order_of = {n: [z.node for z in NODE_DATA(ctx, n).node_zonelist] for n in (0, 2, 5)}
    assert order_of == {0: [0, 5, 2], 2: [2, 5, 0], 5: [5, 0, 2]}
    drain(ctx, 0)
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 0)) == 5
    drain(ctx, 5)
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 0)) == 2


def test_thisnode_fails_when_full_plain_falls_back():
    mem, _, ctx = three_nodes()
    drain(ctx, 0)
    free = [node_free_pages(ctx, n) for n in (0, 2, 5)]
    assert __alloc_pages(ctx, GFP_KERNEL | __GFP_THISNODE, 0, 0) == -1
    assert __alloc_pages(ctx, GFP_TRANSHUGE | __GFP_THISNODE, HPAGE_PMD_ORDER, 0) == -1
    assert [node_free_pages(ctx, n) for n in (0, 2, 5)] == free  # failure counts nothing
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 0)) == 2  # next by id
    assert alloc_pages_node(ctx, 0, GFP_KERNEL, 0) >= 0


def test_nodemask_limits_the_nodes_tried():
    mem, _, ctx = three_nodes()
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 0, 1 << 5)) == 5
    drain(ctx, 0)
    assert __alloc_pages(ctx, GFP_KERNEL, 0, 0, 1 << 0) == -1
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 0, 1 << 0 | 1 << 5)) == 5


# ---------------------------------------------------------------- ZONE_MOVABLE
def test_movable_zone_takes_only_movable_allocations():
    # Node 0: [Normal 0..4095][Movable 4096..8191]
    _, pages, ctx = boot({0: 32, 1: 8}, movable_mib={0: 16})
    assert gfp_zone(GFP_KERNEL) == ZONE_NORMAL and gfp_zone(GFP_TRANSHUGE) == ZONE_MOVABLE
    user = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 0)
    thp = __alloc_pages(ctx, GFP_TRANSHUGE, HPAGE_PMD_ORDER, 0)
    assert user >= 4096 and thp >= 4096  # the highest zone first
    kernel = []
    while (pfn := __alloc_pages(ctx, GFP_KERNEL | __GFP_THISNODE, 0, 0)) >= 0:
        kernel.append(pfn)
    assert len(kernel) == 4096 and max(kernel) < 4096
    # Normal is full; Movable still has room, for movable allocations only.
    assert __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, 0, 0) >= 4096
    assert __alloc_pages(ctx, GFP_KERNEL, 0, 0) >= 8192  # falls back to node 1
    check_buddy(ctx)


def test_all_movable_node_serves_no_kernel_allocation():
    mem, _, ctx = boot({0: 16, 1: 16}, movable_mib={1: 16})  # like movable_node
    assert NODE_DATA(ctx, 1).node_zones[ZONE_NORMAL].spanned_pages == 0
    assert __alloc_pages(ctx, GFP_KERNEL | __GFP_THISNODE, 0, 1) == -1
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 1)) == 0
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 1)) == 1
    assert "zone  Movable" in buddyinfo(ctx) and buddyinfo(ctx).count("Node 1") == 1


# ---------------------------------------------------------------- prep_new_page
def test_compound_page_layout():
    _, pages, ctx = three_nodes()
    head = __alloc_pages(ctx, GFP_TRANSHUGE, HPAGE_PMD_ORDER, 0)
    end = head + HPAGE_PMD_NR
    assert head % HPAGE_PMD_NR == 0
    assert pages.flags[head] == F_head and pages.PageTransHuge(head)
    assert (pages.flags_np[head + 1 : end] == F_tail).all()
    assert (pages.order_np[head:end] == HPAGE_PMD_ORDER).all()
    assert pages.compound_head(head + 77) == head and pages.compound_head(head) == head
    assert pages.refcount[head] == 1 and not pages.refcount_np[head + 1 : end].any()
    assert pages.page_count(end - 1) == 1
    assert pages.compound_mapcount[head] == -1 and pages.total_mapcount(head) == 0
    # Without __GFP_COMP an order-9 block is no compound page.
    plain = __alloc_pages(ctx, GFP_TRANSHUGE & ~__GFP_COMP, HPAGE_PMD_ORDER, 0)
    assert not pages.flags_np[plain : plain + HPAGE_PMD_NR].any()
    put(pages, ctx, head, HPAGE_PMD_ORDER)
    put(pages, ctx, plain, HPAGE_PMD_ORDER)
    assert not pages.flags_np[head:end].any() and not pages.order_np[head + 1 : end].any()
    check_buddy(ctx)


def test_gfp_zero_clears_contents():
    mem, pages, ctx = three_nodes()
    pfn = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, HPAGE_PMD_ORDER, 0)
    mem.contents_np[pfn : pfn + HPAGE_PMD_NR] = 0xDEAD
    put(pages, ctx, pfn, HPAGE_PMD_ORDER)
    again = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, HPAGE_PMD_ORDER, 0)
    assert again == pfn and mem.contents[pfn + 3] == 0xDEAD  # LIFO, contents kept
    put(pages, ctx, again, HPAGE_PMD_ORDER)
    zeroed = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE | __GFP_ZERO, HPAGE_PMD_ORDER, 0)
    assert zeroed == pfn and not mem.contents_np[pfn : pfn + HPAGE_PMD_NR].any()


# ---------------------------------------------------------------- free-time checks
def test_freeing_a_mapped_page_is_a_bad_page_state():
    _, pages, ctx = three_nodes()
    pfn = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 0)
    pages.mapcount[pfn] = 0  # still mapped once
    pages.refcount[pfn] = 0
    with pytest.raises(KernelBug, match=rf"Bad page state: pfn {pfn:#x}.*nonzero mapcount"):
        __free_pages(ctx, pfn, 0)


def test_free_with_references_left_and_double_free():
    _, pages, ctx = three_nodes()
    pfn = __alloc_pages(ctx, GFP_KERNEL, 0, 0)
    with pytest.raises(KernelBug, match="_refcount 1"):
        __free_pages(ctx, pfn, 0)
    put(pages, ctx, pfn, 0)
    with pytest.raises(KernelBug, match="PageBuddy"):
        __free_pages(ctx, pfn, 0)
    with pytest.raises(KernelBug, match="no valid block"):
        __free_pages(ctx, 1, 1)


def test_bad_tail_is_named_and_anon_mapping_is_cleared():
    _, pages, ctx = three_nodes()
    head = __alloc_pages(ctx, GFP_TRANSHUGE, HPAGE_PMD_ORDER, 0)
    pages.mapping[head] = 7 << 1 | PAGE_MAPPING_ANON  # an anon_vma: cleared at free
    pages.flags[head + 7] |= F_lru
    pages.refcount[head] = 0
    with pytest.raises(KernelBug, match=rf"pfn {head + 7:#x}.*PAGE_FLAGS_CHECK_AT_FREE"):
        __free_pages(ctx, head, HPAGE_PMD_ORDER)
    pages.flags[head + 7] &= ~F_lru
    pages.mapcount[head + 300] = 0  # a tail still mapped by a PTE
    with pytest.raises(KernelBug, match=rf"pfn {head + 300:#x}.*nonzero mapcount"):
        __free_pages(ctx, head, HPAGE_PMD_ORDER)
    pages.mapcount[head + 300] = -1
    with pytest.raises(KernelBug, match="tail page"):
        __free_pages(ctx, head + HPAGE_PMD_NR // 2, 0)
    with pytest.raises(KernelBug, match="freed as order 0"):
        __free_pages(ctx, head, 0)
    __free_pages(ctx, head, HPAGE_PMD_ORDER)
    assert pages.mapping[head] == 0 and is_free_buddy_page(ctx, head)
    check_buddy(ctx)


def test_hwpoisoned_frames_stay_off_the_free_lists():
    _, pages, ctx = three_nodes()
    one = __alloc_pages(ctx, GFP_KERNEL, 0, 0)
    free = node_free_pages(ctx, 0)
    pages.flags[one] |= F_hwpoison
    put(pages, ctx, one, 0)
    assert node_free_pages(ctx, 0) == free and not is_free_buddy_page(ctx, one)
    assert pages.flags[one] == F_hwpoison
    thp = __alloc_pages(ctx, GFP_TRANSHUGE, HPAGE_PMD_ORDER, 0)
    pages.flags[thp + 3] |= F_hwpoison
    put(pages, ctx, thp, HPAGE_PMD_ORDER)
    assert node_free_pages(ctx, 0) == free - 1  # 511 of the 512 came back
    assert is_free_buddy_page(ctx, thp) and is_free_buddy_page(ctx, thp + 4)
    assert not is_free_buddy_page(ctx, thp + 3)
    assert pages.flags[thp + 3] == F_hwpoison and pages.flags[thp] == 0
    check_buddy(ctx)


def test_take_page_off_buddy():
    _, pages, ctx = three_nodes()
    before = buddyinfo(ctx)
    assert take_page_off_buddy(ctx, 100)
    assert not is_free_buddy_page(ctx, 100)
    assert is_free_buddy_page(ctx, 101) and is_free_buddy_page(ctx, 99)
    assert node_free_pages(ctx, 0) == 8191 and not take_page_off_buddy(ctx, 100)
    check_buddy(ctx)
    __free_pages(ctx, 100, 0)  # _refcount 0 as left: give it back
    assert buddyinfo(ctx) == before


# ---------------------------------------------------------------- test helpers
def test_fragment_node_blocks_thp_but_not_base_pages():
    _, pages, ctx = three_nodes(movable_mib={0: 16})
    before = buddyinfo(ctx)
    held = fragment_node(ctx, 0)
    assert len(held) == 4096 and all(p & 1 for p in held)
    assert all(pages.refcount[p] == 1 and pages.flags[p] & F_reserved for p in held)
    assert nr_free_pages_by_order(ctx, 0) == [4096] + [0] * TOP
    assert node_free_pages(ctx, 2) == 4096  # other nodes untouched
    thisnode_thp = GFP_TRANSHUGE | __GFP_THISNODE
    assert __alloc_pages(ctx, thisnode_thp, HPAGE_PMD_ORDER, 0) == -1
    pfn = __alloc_pages(ctx, GFP_KERNEL | __GFP_THISNODE, 0, 0)
    assert pfn >= 0 and pfn % 2 == 0
    check_buddy(ctx)
    put(pages, ctx, pfn, 0)
    unfragment(ctx, held)
    assert buddyinfo(ctx) == before
    assert __alloc_pages(ctx, thisnode_thp, HPAGE_PMD_ORDER, 0) >= 0
    with pytest.raises(KernelBug):
        unfragment(ctx, [held[0]])  # no longer held


def test_check_buddy_catches_corruption():
    _, pages, ctx = three_nodes()
    z = NODE_DATA(ctx, 2).node_zones[ZONE_NORMAL]
    z.nr_free[TOP] += 1
    with pytest.raises(KernelBug, match="nr_free"):
        check_buddy(ctx)
    z.nr_free[TOP] -= 1
    pages.refcount[8192 + 5] = 1  # a frame inside a free block
    with pytest.raises(KernelBug, match=f"frame {8192 + 5:#x} \\(free\\)"):
        check_buddy(ctx)
    pages.refcount[8192 + 5] = 0
    z.nr_free_pages += 1
    with pytest.raises(KernelBug, match="nr_free_pages"):
        check_buddy(ctx)
    z.nr_free_pages -= 1
    z.managed_pages -= 1
    with pytest.raises(KernelBug, match="managed_pages"):
        check_buddy(ctx)


def test_for_each_free_block_covers_the_free_frames():
    _, pages, ctx = three_nodes()
    __alloc_pages(ctx, GFP_KERNEL, 3, 2)
    blocks = list(for_each_free_block(ctx))
    assert sum(1 << o for _, o in blocks) == sum(node_free_pages(ctx, n) for n in (0, 2, 5))
    assert all(pages.PageBuddy(p) and pages.order[p] == o for p, o in blocks)


# ---------------------------------------------------------------- random sequences
_GFPS = [
    GFP_KERNEL,
    GFP_HIGHUSER_MOVABLE,
    GFP_TRANSHUGE,
    GFP_KERNEL | __GFP_THISNODE,
    GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_THISNODE,
]
_op = st.one_of(
    st.tuples(
        st.just("alloc"),
        st.integers(0, TOP),
        st.sampled_from([0, 3]),
        st.sampled_from(_GFPS),
        st.booleans(),  # split_page() the block if it is no compound page
    ),
    st.tuples(st.just("free"), st.integers(0, 1 << 16)),
)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.lists(_op, max_size=40))
def test_random_alloc_free_keeps_the_buddy_consistent(ops):
    # Node 0: [Normal 8 MiB]; node 3: [Normal 4 MiB][Movable 4 MiB]; 2 MiB blocks.
    mem, pages, ctx = boot({0: 8, 3: 8}, block_mib=2, movable_mib={3: 4})
    movable_start = NODE_DATA(ctx, 3).node_zones[ZONE_MOVABLE].zone_start_pfn
    before = buddyinfo(ctx)
    held: list[tuple[int, int]] = []
    in_use = set()
    for op in ops:
        if op[0] == "alloc":
            _, order, nid, gfp, split = op
            pfn = __alloc_pages(ctx, gfp, order, nid)
            if pfn < 0:
                continue
            frames = set(range(pfn, pfn + (1 << order)))
            assert not frames & in_use, "a frame was handed out twice"
            in_use |= frames
            if gfp & __GFP_THISNODE:
                assert mem.pfn_to_nid(pfn) == nid
            if gfp_zone(gfp) == ZONE_NORMAL:
                assert pfn + (1 << order) <= movable_start  # never in ZONE_MOVABLE
            if split and not gfp & __GFP_COMP:
                split_page(ctx, pfn, order)
                held.extend((p, 0) for p in frames)
            else:
                held.append((pfn, order))
        elif held:
            pfn, order = held.pop(op[1] % len(held))
            put(pages, ctx, pfn, order)
            in_use -= set(range(pfn, pfn + (1 << order)))
        check_buddy(ctx)
    assert sum(node_free_pages(ctx, n) for n in (0, 3)) == totalram_pages(ctx) - len(in_use)
    for pfn, order in held:
        put(pages, ctx, pfn, order)
    assert buddyinfo(ctx) == before


def test_no_merge_across_zone_or_node_boundaries():
    # 2 MiB blocks; both boundaries are 2 MiB- but not 4 MiB-aligned, so order-9 buddies
    # face each other across them:
    #   node 0 [o10 0][o9 1024] | node 1 [o9 1536][o9 2048] | Movable [o9 2560][o9 3072]
    _, pages, ctx = boot({0: 6, 1: 8}, block_mib=2, movable_mib={1: 4})
    assert nr_free_pages_by_order(ctx, 0)[9:] == [1, 1]
    assert nr_free_pages_by_order(ctx, 1)[9:] == [4, 0]
    before = buddyinfo(ctx)
    gfp = GFP_HIGHUSER_MOVABLE | __GFP_THISNODE
    got = [__alloc_pages(ctx, gfp, 9, 0)] + [__alloc_pages(ctx, gfp, 9, 1) for _ in range(4)]
    assert sorted(got) == [1024, 1536, 2048, 2560, 3072]
    for pfn in got:
        put(pages, ctx, pfn, 9)
    assert buddyinfo(ctx) == before
    check_buddy(ctx)


def test_alloc_cpuset_fast_path_hardwall_slow_path_lets_kernel_allocations_out():
    """prepare_alloc_pages(): with the current task in a cpuset of node 1 the fast path
    keeps to node 1 even from node 0's zonelist, for every allocation. When node 1
    is full, the slow path's ALLOC_CPUSET refuses node 0 to a __GFP_HARDWALL (user)
    allocation, lets a kernel one (GFP_KERNEL) have it (__cpuset_node_allowed(): the
    top cpuset), and GFP_ATOMIC ignores the cpuset (gfp_to_alloc_flags())."""
    mem = PhysicalMemory({0: 8 * MiB, 1: 8 * MiB}, 8 * MiB)
    pages = PageArrays(mem.max_pfn)
    task = SimpleNamespace(mems_allowed=0b10, cpu=0)  # numa_node_id(): node 0
    ctx = kernel_context(mem, pages)
    ctx.cpus = [SimpleNamespace(nid=0)]  # the task runs on a CPU of node 0
    ctx.current, ctx.cpuset_alloc = task, True
    free_area_init(ctx, {})
    memblock_free_all(ctx)
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 0)) == 1
    # zone_statistics(): the preferred zone is the first the cpuset's mask allows
    numa = ctx.vmstat.zone_extra
    assert (numa[1]["numa_hit"], numa[1]["numa_other"], numa[0]["numa_foreign"]) == (1, 1, 0)
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 0)) == 1
    assert __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, 0, 0) == -1
    assert __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 0, 1 << 0) == -1  # mask & cpuset: none
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 0, 1 << 0)) == 0  # slow path
    ctx.cpuset_alloc = False
    held = drain(ctx, 1)
    ctx.cpuset_alloc = True
    assert __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 0) == -1
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_KERNEL, 0, 1)) == 0
    assert mem.pfn_to_nid(__alloc_pages(ctx, __GFP_ATOMIC, 0, 1)) == 0
    task.mems_allowed = None  # in no cpuset: nothing to apply
    assert mem.pfn_to_nid(__alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 1)) == 0
    assert held
    check_buddy(ctx)
