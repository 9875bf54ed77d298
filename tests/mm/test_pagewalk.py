"""mm/pagewalk.py: which callback the walker calls for which range (VMAs, holes, PTE
tables, huge PMDs, PMD migration entries), test_walk, and a callback ending the walk."""

import errno

import pytest
from mm_helpers import (
    ANON,
    RW,
    pfn_at,
    run_mmap_read_locked,
    start_migration,
    thp_region,
    unchecked_process,
)

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_SIZE,
    PAGE_SIZE,
    PMD_SIZE,
    pmd_trans_huge,
    pte_none,
)
from thpsim.errors import KernelBug
from thpsim.mm.madvise import MADV_NOHUGEPAGE
from thpsim.mm.mm_types import VM_PFNMAP
from thpsim.mm.pagewalk import (
    FW_ZEROPAGE,
    folio_walk_start,
    mm_walk_ops,
    walk_page_range,
    walk_page_vma,
)
from thpsim.mm.pgtable_generic import pmdp_get, ptr_get
from thpsim.testing import Stepper


class Recorder:
    """Ops that record each call as (callback, start, end, vma start or None)."""

    def __init__(self, stop_at=None, skip=(), pte=False):
        self.calls = []
        self.stop_at = stop_at
        self.skip = skip
        self.ops = mm_walk_ops(pmd_entry=self.pmd_entry, pte_hole=self.pte_hole,
                               test_walk=self.test_walk if skip else None,
                               pte_entry=self.pte_entry if pte else None)

    def _vma(self, walk):
        return walk.vma.vm_start if walk.vma is not None else None

    def pmd_entry(self, pmd, addr, end, walk):
        assert walk.private is self
        v = pmdp_get(pmd)
        kind = ("migration" if walk.mm.kernel.swp.is_pmd_migration_entry(v)
                else "huge" if pmd_trans_huge(v) else "table")
        self.calls.append(("pmd", addr, end, kind))
        return 1 if addr == self.stop_at else 0
        yield

    def pte_entry(self, pte, addr, end, walk):
        if not pte_none(ptr_get(pte)):
            self.calls.append(("pte", addr, end, None))
        return 0
        yield

    def pte_hole(self, addr, end, walk):
        self.calls.append(("hole", addr, end, self._vma(walk)))
        return 0

    def test_walk(self, start, end, walk):
        self.calls.append(("test", start, end, self._vma(walk)))
        return self.skip.get(walk.vma.vm_start, 0)


def test_holes_tables_and_huge_pmds():
    """A gap between VMAs is a hole with no VMA; a none PMD inside a VMA is a hole of
    that VMA; a THP is a huge PMD, 4 KiB pages a table; the ranges are clipped."""
    m, p = unchecked_process()
    a = thp_region(p, nr_thp=2, fill=False)
    t = p.threads[0]
    t.write(a, 1)  # THP at a
    b = a + 2 * HPAGE_PMD_SIZE
    p.madvise(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)  # a VMA of its own
    t.write(a + HPAGE_PMD_SIZE + PAGE_SIZE, 2)
    r = Recorder()
    start, end = a - PAGE_SIZE, b + PAGE_SIZE
    assert run_mmap_read_locked(m, p, walk_page_range(p.mm, start, end, r.ops, r)) == 0
    kinds = [(c[0], c[1] - a, c[2] - a, c[3]) for c in r.calls]
    assert ("pmd", 0, HPAGE_PMD_SIZE, "huge") in kinds
    assert ("pmd", HPAGE_PMD_SIZE, 2 * HPAGE_PMD_SIZE, "table") in kinds
    # the walk covers the range exactly once, in address order
    pos = start
    for c in r.calls:
        assert c[1] == pos
        pos = c[2]
    assert pos == end
    holes_outside = [c for c in r.calls if c[0] == "hole" and c[3] is None]
    vma = p.mm.find_vma(start)
    if vma.vm_start > start:
        assert holes_outside[0][1:3] == (start, vma.vm_start)


def test_pte_entry_per_present_pte_not_for_huge_pmds():
    m, p = unchecked_process()
    a = thp_region(p, nr_thp=2, fill=False)
    p.madvise(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)
    t = p.threads[0]
    t.write(a, 1)
    for k in (3, 5):
        t.write(a + HPAGE_PMD_SIZE + k * PAGE_SIZE, 1)
    r = Recorder(pte=True)
    walk = walk_page_range(p.mm, a, a + 2 * HPAGE_PMD_SIZE, r.ops, r)
    assert run_mmap_read_locked(m, p, walk) == 0
    ptes = [(c[1] - a - HPAGE_PMD_SIZE) // PAGE_SIZE for c in r.calls if c[0] == "pte"]
    assert ptes == [3, 5]  # the THP's PMD is left to pmd_entry
    assert [c[3] for c in r.calls if c[0] == "pmd"] == ["huge", "table"]


def test_test_walk_skips_and_stops():
    """test_walk > 0 skips the VMA (no pmd_entry there), < 0 ends the walk with it."""
    m, p = unchecked_process()
    a = thp_region(p, nr_thp=3)
    p.madvise(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)  # three VMAs
    mid = a + HPAGE_PMD_SIZE
    r = Recorder(skip={mid: 1})
    walk = walk_page_range(p.mm, a, a + 3 * HPAGE_PMD_SIZE, r.ops, r)
    assert run_mmap_read_locked(m, p, walk) == 0
    assert [c[0] for c in r.calls] == ["test", "pmd", "test", "test", "pmd"]
    assert not any(c[0] == "pmd" and c[1] == mid for c in r.calls)
    r = Recorder(skip={mid: -errno.EFAULT})
    walk = walk_page_range(p.mm, a, a + 3 * HPAGE_PMD_SIZE, r.ops, r)
    assert run_mmap_read_locked(m, p, walk) == -errno.EFAULT
    assert [c[0] for c in r.calls] == ["test", "pmd", "test"]


def test_pfnmap_vma_is_a_hole_without_test_walk():
    m, p = unchecked_process()
    a = thp_region(p, nr_thp=1)
    vma = p.mm.find_vma(a)
    vma.vm_flags |= VM_PFNMAP
    r = Recorder()
    assert run_mmap_read_locked(m, p, walk_page_vma(vma, r.ops, r)) == 0
    assert r.calls == [("hole", vma.vm_start, vma.vm_end, vma.vm_start)]
    vma.vm_flags &= ~VM_PFNMAP
    r = Recorder()
    assert run_mmap_read_locked(m, p, walk_page_vma(vma, r.ops, r)) == 0
    assert ("pmd", a, a + PMD_SIZE, "huge") in r.calls


def test_nonzero_pmd_entry_ends_the_walk():
    m, p = unchecked_process()
    a = thp_region(p, nr_thp=3)
    r = Recorder(stop_at=a + HPAGE_PMD_SIZE)
    walk = walk_page_range(p.mm, a, a + 3 * HPAGE_PMD_SIZE, r.ops, r)
    assert run_mmap_read_locked(m, p, walk) == 1
    assert [c[1] for c in r.calls] == [a, a + HPAGE_PMD_SIZE]


def test_pmd_migration_entry_goes_to_pmd_entry():
    m, p = unchecked_process()
    a = thp_region(p, nr_thp=1)
    st, _lst, _head = start_migration(m, p, a)
    r = Recorder()
    assert run_mmap_read_locked(m, p, walk_page_range(p.mm, a, a + HPAGE_PMD_SIZE, r.ops, r)) == 0
    assert r.calls == [("pmd", a, a + HPAGE_PMD_SIZE, "migration")]
    st.finish()
    m.check_integrity()


def test_walk_needs_mmap_lock_and_a_range():
    m, p = unchecked_process()
    a = thp_region(p, nr_thp=1)
    r = Recorder()
    with pytest.raises(KernelBug):
        Stepper(m.kernel, walk_page_range(p.mm, a, a + PAGE_SIZE, r.ops, r)).finish()
    assert run_mmap_read_locked(m, p, walk_page_range(p.mm, a, a, r.ops, r)) == -errno.EINVAL
    assert r.calls == []


def test_folio_walk_zero_pages():
    """folio_walk_start(): the zero page only with FW_ZEROPAGE; nothing for none."""
    m, p = unchecked_process()
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    p.madvise(a, 4 * PAGE_SIZE, MADV_NOHUGEPAGE)
    p.threads[0].read(a)
    vma = p.mm.find_vma(a)
    ctx = m.kernel
    assert folio_walk_start(vma, a, FW_ZEROPAGE) == (ctx.zero_pfn, True)
    assert folio_walk_start(vma, a, 0) == (-1, False)
    assert folio_walk_start(vma, a + PAGE_SIZE, FW_ZEROPAGE) == (-1, False)
    p.threads[0].write(a + 2 * PAGE_SIZE, 7)
    pfn = pfn_at(p, a + 2 * PAGE_SIZE)
    assert folio_walk_start(vma, a + 2 * PAGE_SIZE, 0) == (pfn, False)
