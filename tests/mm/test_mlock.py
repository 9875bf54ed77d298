"""mm/mlock.py: mlock(2), mlock2(2) and munlock(2) as user space sees them (VMA flags,
RSS, VmLck)."""

import pytest
from mm_helpers import ANON, RW, numa_machine, thp_region

from thpsim import HPAGE_PMD_SIZE, MLOCK_ONFAULT, PAGE_SIZE, PROT_READ
from thpsim.testing import mm_counters, vmas

VM_LOCKED = 0x2000
VM_LOCKONFAULT = 0x80000


def _vmlck_kb(p):
    for line in p.fs.read(f"/proc/{p.pid}/status").splitlines():
        if line.startswith("VmLck:"):
            return int(line.split()[1])
    raise AssertionError("no VmLck line")


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_mlock_after_mlock2_onfault_populates_and_drops_onfault(profile):
    """Regression (found by thpsim fuzz): apply_vma_lock_flags() computes the new flags
    as ``vm_flags & VM_LOCKED_CLEAR_MASK | flags``, so mlock() (or mlock2(0)) over a
    range locked with MLOCK_ONFAULT turns it into an ordinary locked range: VM_LOCKONFAULT
    is gone and __mm_populate() faults every page in. The model OR-ed VM_LOCKED into the
    flags and kept VM_LOCKONFAULT, so the pages were never populated."""
    m = numa_machine(profile)
    p = m.spawn()
    n = 16
    a = p.mmap(0, n * PAGE_SIZE, RW, ANON)
    p.mlock2(a, n * PAGE_SIZE, MLOCK_ONFAULT)
    assert [fl & (VM_LOCKED | VM_LOCKONFAULT) for s, e, fl in vmas(p) if s == a] == [
        VM_LOCKED | VM_LOCKONFAULT]
    assert mm_counters(p)["MM_ANONPAGES"] == 0
    p.mlock(a, n * PAGE_SIZE)
    assert [fl & (VM_LOCKED | VM_LOCKONFAULT) for s, e, fl in vmas(p) if s == a] == [VM_LOCKED]
    assert mm_counters(p)["MM_ANONPAGES"] == n
    assert _vmlck_kb(p) == n * 4
    # and back: MLOCK_ONFAULT again sets the flag, without counting the pages twice
    p.mlock2(a, n * PAGE_SIZE, MLOCK_ONFAULT)
    assert [fl & (VM_LOCKED | VM_LOCKONFAULT) for s, e, fl in vmas(p) if s == a] == [
        VM_LOCKED | VM_LOCKONFAULT]
    assert _vmlck_kb(p) == n * 4


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_mlock2_onfault_over_half_a_locked_range_splits_it(profile):
    """Only the pages in the range change: the VMA splits where the flags differ."""
    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, 8 * PAGE_SIZE, RW, ANON)
    p.mlock(a, 8 * PAGE_SIZE)
    p.mlock2(a, 4 * PAGE_SIZE, MLOCK_ONFAULT)
    got = [(s - a, e - a, fl & (VM_LOCKED | VM_LOCKONFAULT)) for s, e, fl in vmas(p)]
    assert got == [(0, 4 * PAGE_SIZE, VM_LOCKED | VM_LOCKONFAULT),
                   (4 * PAGE_SIZE, 8 * PAGE_SIZE, VM_LOCKED)]
    assert _vmlck_kb(p) == 8 * 4


def _mlocked_kb(m):
    line = next(x for x in m.fs.read("/proc/meminfo").splitlines()
                if x.startswith("Mlocked:"))
    return int(line.split()[1])


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_splitting_the_pmd_of_an_mlocked_thp_munlocks_it(profile):
    """Regression: 4.14 __split_huge_pmd() clear_page_mlock()s the THP (one LRU entry: a
    THP mapped by PTEs is never mlocked). mprotect of one page of an mlocked THP splits
    its PMD: Mlocked drops from 2048 kB to 0, the VMA stays locked. The model left it
    mlocked (the invariant checker's check_mlocked fails after the mprotect)."""
    m = numa_machine(profile)
    p = m.spawn()
    a = thp_region(p, nr_thp=1)
    p.mlock(a, HPAGE_PMD_SIZE)
    assert _mlocked_kb(m) == 2048
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    assert _mlocked_kb(m) == 0
    assert _vmlck_kb(p) == 2048
