"""Costs that must follow the VMAs and the page tables present, not the span (issue 11,
item 4). Each test counts WORK (VMAs looked at, page-table steps taken, pagemap entries
built one Python object at a time), never time, and failed before its fix:

* unmapped_area_topdown() passed every VMA above mmap_base one by one;
* change_protection(), copy_page_range() and move_page_tables() stepped per 2 MiB
  over an empty PGD/PUD entry, walk_pmd_range() per 1 GiB over an empty PGD entry
  (the kernel's pgd/pud loops skip an empty entry whole: lookup_pmd_range());
* pagemap_pte_hole() built a Python list of one int per 4 KiB of a hole.
"""

from __future__ import annotations

import pytest
from mm_helpers import ANON, RW, numa_machine

from thpsim import (
    MADV_COLD,
    MADV_FREE,
    MADV_PAGEOUT,
    MAP_FIXED,
    MAP_NORESERVE,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_READ,
)
from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PAGE_SIZE
from thpsim.fs.proc import task_mmu
from thpsim.mm import madvise, memory, mprotect, mremap, pagewalk
from thpsim.mm.mmap import MMAP_BASE, unmapped_area_topdown

BASE = 1 << 40
SPAN = 1 << 44
#: page-table steps allowed: a walk may look at every entry of each table present
#: (three pages written: 3 PUD tables and 3 PMD tables of 512 entries), plus one step
#: per PGD entry of the span
STEPS = 6 * 512 + (SPAN >> 39) + 8


class CountingList(list):
    """mm.mmap that counts the VMAs read from it, however they are read."""

    reads = 0

    def __getitem__(self, i):
        CountingList.reads += 1
        return super().__getitem__(i)

    def __iter__(self):
        for v in super().__iter__():
            CountingList.reads += 1
            yield v

    def __reversed__(self):
        for v in super().__reversed__():
            CountingList.reads += 1
            yield v


def test_gap_search_skips_the_vmas_above_mmap_base():
    """600 VMAs above mmap_base (MAP_FIXED) are not looked at one by one by mmap(0):
    the search starts at the first VMA below mmap_base."""
    m = numa_machine("mainline", check=False)
    p = m.spawn()
    for i in range(600):
        p.mmap(MMAP_BASE + 2 * i * PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED)
    p.mmap(0, PAGE_SIZE, RW, ANON)
    mm = p.mm
    mm.mmap = CountingList(mm.mmap)
    CountingList.reads = 0
    a = unmapped_area_topdown(mm, PAGE_SIZE)
    assert a == MMAP_BASE - 2 * PAGE_SIZE  # the gap right below the first mmap(0)
    assert CountingList.reads <= 2 * 10 + 4  # a bisection of 601, then one VMA


@pytest.fixture
def steps(monkeypatch):
    """Count the PMD lookups of the range walks (either helper, in every module)."""
    count = [0]
    for mod in (madvise, memory, mprotect, mremap, pagewalk):
        for name in ("lookup_pmd", "lookup_pmd_range"):
            fn = getattr(mod, name, None)
            if fn is None:
                continue

            def counted(*a, _fn=fn):
                count[0] += 1
                return _fn(*a)
            monkeypatch.setattr(mod, name, counted)
    return count


def sparse(profile="mainline"):
    """One 16 TiB VMA (MAP_NORESERVE) with three pages written: its start, middle, end."""
    m = numa_machine(profile, check=False)
    p = m.spawn()
    p.mmap(BASE, SPAN, RW, ANON | MAP_FIXED | MAP_NORESERVE)
    for off in (0, SPAN // 2, SPAN - PAGE_SIZE):
        p.write(BASE + off, off + 1)
    return m, p


@pytest.mark.parametrize("op", ["mprotect", "fork", "mremap", "cold", "pageout", "free",
                                "smaps"])
def test_range_walks_cost_by_tables_not_span(steps, op):
    m, p = sparse()
    steps[0] = 0
    if op == "mprotect":
        p.mprotect(BASE, SPAN, PROT_READ)
    elif op == "fork":
        p.fork()
    elif op == "mremap":
        dst = BASE + 2 * SPAN
        assert p.mremap(BASE, SPAN, SPAN, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst
        assert p.read(dst + SPAN // 2) == SPAN // 2 + 1
    elif op == "smaps":
        p.fs.read("/proc/self/smaps")
    else:
        advice = {"cold": MADV_COLD, "pageout": MADV_PAGEOUT, "free": MADV_FREE}[op]
        p.madvise(BASE, SPAN, advice)
    assert 0 < steps[0] <= STEPS
    if op != "mremap":
        assert p.read(BASE + SPAN // 2) == SPAN // 2 + 1


def test_pagemap_of_a_hole_is_built_in_bulk(monkeypatch):
    """A pagemap read over 1 GiB of hole (and a VMA's untouched part) makes no Python
    object per entry: the entries come as zeroed bytes / a repeated array."""
    listed = [0]
    base_array = task_mmu.array

    class CountingArray(base_array):
        def extend(self, it):
            if not isinstance(it, base_array):
                it = list(it)
                listed[0] += len(it)
            super().extend(it)

    monkeypatch.setattr(task_mmu, "array", CountingArray)
    m = numa_machine("mainline", check=False)
    p = m.spawn()
    a = p.mmap(BASE, 1 << 30, RW, ANON | MAP_FIXED | MAP_NORESERVE)
    p.write(a, 1)
    n = (2 << 30) >> PAGE_SHIFT
    raw = p.fs.read("/proc/self/pagemap", offset=((BASE - (1 << 30)) >> PAGE_SHIFT) * 8,
                    length=n * 8)
    assert len(raw) == n * 8
    assert raw[: (1 << 30) >> PAGE_SHIFT << 3] == bytes((1 << 30) >> PAGE_SHIFT << 3)
    assert listed[0] <= 512  # at most the one PTE table present
