"""The batched rmap updates of a run of PTEs do what the per-page calls do.

try_to_migrate_one() and remove_migration_pte() hand a run of PTEs of one THP to
page_remove_rmap_ptes() / page_add_anon_rmap_ptes() (mm/rmap.py) instead of calling
page_remove_rmap() / page_add_anon_rmap() once per page. Their docstrings promise the
same outcome: the same _mapcounts, NR_ANON_MAPPED, deferred-split queue and
thp_deferred_split_page count, in both deferred-split eras. Here both ways run from
the same states (per-page mapcounts, the run, a PMD mapping or not) and must agree.
"""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mm_helpers import PAGE_SIZE, RW, numa_machine, pfn_at, thp_area

from thpsim import PROT_READ
from thpsim.mm.rmap import (
    page_add_anon_rmap,
    page_add_anon_rmap_ptes,
    page_remove_rmap,
    page_remove_rmap_ptes,
)

_MACHINES = {}


def _pte_mapped_thp(partially_mapped_rule):
    """A machine with one PTE-mapped THP (its PMD split, the THP whole), cached."""
    if partially_mapped_rule not in _MACHINES:
        m = numa_machine("mainline", rmap_deferred_split_partially_mapped=partially_mapped_rule)
        p = m.spawn(cpu=0)
        a = thp_area(p)
        assert p.mprotect(a, PAGE_SIZE, PROT_READ) == 0
        assert p.mprotect(a, PAGE_SIZE, RW) == 0
        head = m.kernel.pages.compound_head(pfn_at(p, a))
        _MACHINES[partially_mapped_rule] = (m.kernel, p.mm.find_vma(a), a, head)
    return _MACHINES[partially_mapped_rule]


def _state(ctx, head):
    pages = ctx.pages
    return (pages.mapcount_np[head:head + 512].copy(), int(pages.compound_mapcount[head]),
            copy.deepcopy(ctx.vmstat.node), dict(ctx.vmstat.events),
            dict(ctx.deferred_split_queue), int(pages.mapping[head]), int(pages.index[head]))


def _set(ctx, head, state):
    mc, cmc, node, events, queue, mapping, index = state
    pages = ctx.pages
    pages.mapcount_np[head:head + 512] = mc
    pages.compound_mapcount[head] = cmc
    ctx.vmstat.node.clear()
    ctx.vmstat.node.update(copy.deepcopy(node))
    ctx.vmstat.events.clear()
    ctx.vmstat.events.update(events)
    ctx.deferred_split_queue.clear()
    ctx.deferred_split_queue.update(queue)
    pages.mapping[head] = mapping
    pages.index[head] = index


def _same(a, b):
    return (a[0] == b[0]).all() and a[1:] == b[1:]


# every page the same _mapcount but a few: whole-THP cases (nothing else mapped) are
# where the eras differ, and a random list of 512 would almost never give them
counts = st.builds(
    lambda fill, few: [few.get(k, fill) for k in range(512)],
    st.integers(-1, 2), st.dictionaries(st.integers(0, 511), st.integers(-1, 2), max_size=6))
runs = st.tuples(st.integers(0, 511), st.integers(1, 512))


@pytest.mark.parametrize("rule", [False, True])
@given(mapcounts=counts, run=runs, pmd_mapped=st.booleans(), queued=st.booleans())
def test_page_remove_rmap_ptes_is_the_per_page_calls(rule, mapcounts, run, pmd_mapped,
                                                     queued):
    ctx, vma, a, head = _pte_mapped_thp(rule)
    first, nr = run[0], min(run[1], 512 - run[0])
    mapcounts = list(mapcounts)
    for k in range(first, first + nr):
        mapcounts[k] = max(mapcounts[k], 0)  # a PTE maps each page of the run
    start = _state(ctx, head)
    try:
        s = list(start)
        s[0] = start[0].copy()
        s[0][:] = mapcounts
        s[1] = 0 if pmd_mapped else -1
        s[4] = {head: False} if queued else {}
        s = tuple(s)
        _set(ctx, head, s)
        for pfn in range(head + first, head + first + nr):
            page_remove_rmap(ctx, pfn, False)
        one_by_one = _state(ctx, head)
        _set(ctx, head, s)
        page_remove_rmap_ptes(ctx, head, head + first, nr)
        assert _same(_state(ctx, head), one_by_one)
    finally:
        _set(ctx, head, start)


@pytest.mark.parametrize("rule", [False, True])
@given(mapcounts=counts, run=runs, pmd_mapped=st.booleans())
def test_page_add_anon_rmap_ptes_is_the_per_page_calls(rule, mapcounts, run, pmd_mapped):
    ctx, vma, a, head = _pte_mapped_thp(rule)
    first, nr = run[0], min(run[1], 512 - run[0])
    start = _state(ctx, head)
    try:
        s = list(start)
        s[0] = start[0].copy()
        s[0][:] = mapcounts
        s[1] = 0 if pmd_mapped else -1
        s = tuple(s)
        pages_at = [(head + k, a + k * PAGE_SIZE) for k in range(first, first + nr)]
        _set(ctx, head, s)
        for pfn, addr in pages_at:
            page_add_anon_rmap(ctx, pfn, vma, addr, False)
        one_by_one = _state(ctx, head)
        _set(ctx, head, s)
        page_add_anon_rmap_ptes(ctx, pages_at, vma)
        assert _same(_state(ctx, head), one_by_one)
    finally:
        _set(ctx, head, start)
