"""Behaviours the kernel oracle found to differ between Debian's 6.1, 6.12 and 7.2
(tests/oracle/mmprog), each asserted through what a test program reads (pagemap's
soft-dirty bit, /proc/vmstat deltas, smaps) with its switch on and off, and one
behaviour every era shares (mprotect to the same protection changes nothing).

The programs that showed each one: g1-s1-0010 (mprotect, base-page soft-dirty),
g1-s2-0001 and g1-s2-0005 (split dirty PMD), g1-s1-0008 (deferred split and migration).
"""

import errno
import struct

import pytest
from mm_helpers import (
    ANON,
    RW,
    committed_kb,
    delta,
    errno_of,
    is_pmd_mapped,
    node_at,
    numa_machine,
    pfn_at,
    thp_area,
)

from thpsim import MADV_PAGEOUT, MADV_POPULATE_READ, MPOL_MF_MOVE, PROT_NONE, PROT_READ
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE

PM_SOFT_DIRTY = 1 << 55


def soft_dirty(p, a, n):
    """How many of the ``n`` pages from ``a`` pagemap shows soft-dirty."""
    raw = p.fs.read("/proc/self/pagemap", offset=(a >> PAGE_SHIFT) * 8, length=n * 8)
    return sum(1 for (e,) in struct.iter_unpack("<Q", raw) if e & PM_SOFT_DIRTY)


def machine(profile, **switches):
    m = numa_machine(profile, **switches)
    return m, m.spawn(cpu=0)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_mprotect_to_the_same_protection_keeps_the_huge_pmd(profile):
    """mprotect_fixup() returns at once when the flags do not change: no VMA split, no
    PMD split (the model split both; every era)."""
    m, p = machine(profile)
    a = thp_area(p)
    before = dict(m.kernel.vmstat.events)
    assert p.mprotect(a + 64 * PAGE_SIZE, 16 * PAGE_SIZE, RW) == 0
    assert is_pmd_mapped(p, a)
    assert "thp_split_pmd" not in delta(m, before)
    assert len(p.mm.mmap) == 1
    # a real change still splits
    assert p.mprotect(a + 64 * PAGE_SIZE, 16 * PAGE_SIZE, PROT_READ) == 0
    assert not is_pmd_mapped(p, a) and delta(m, before)["thp_split_pmd"] == 1


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_munlock_of_unlocked_memory_keeps_the_huge_pmd(profile):
    """mlock_fixup() leaves a VMA whose flags do not change alone: munlock of part of
    an unlocked THP is a no-op (every era; g1-s1-0049), and a range ending in a hole
    is still -ENOMEM."""
    m, p = machine(profile)
    a = thp_area(p)
    before = dict(m.kernel.vmstat.events)
    assert p.munlock(a + 0x1f4f05, 0xfff) == 0  # unaligned: rounded to its page
    assert p.munlock(a + 64 * PAGE_SIZE, 16 * PAGE_SIZE) == 0
    assert is_pmd_mapped(p, a) and len(p.mm.mmap) == 1
    assert "thp_split_pmd" not in delta(m, before)
    end = p.mm.mmap[0].vm_end
    assert errno_of(p.munlock, a, end - a + PAGE_SIZE) == errno.ENOMEM
    assert is_pmd_mapped(p, a) and len(p.mm.mmap) == 1
    # locking part of it does split, and unlocking it all merges it back
    assert p.mlock(a + 64 * PAGE_SIZE, 16 * PAGE_SIZE) == 0
    assert not is_pmd_mapped(p, a) and len(p.mm.mmap) == 3
    assert p.munlock(a, HPAGE_PMD_SIZE) == 0 and len(p.mm.mmap) == 1


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_mprotect_writable_populates_a_locked_prot_none_vma(profile):
    """mlock of PROT_NONE memory sets VM_LOCKED and faults nothing; mprotect to
    read-write then populates it (mprotect_fixup() breaks COW on a private VM_LOCKED
    VMA turning writable), so smaps shows it resident and locked (g1-s1-0160)."""
    m, p = machine(profile)
    a = p.mmap(0, 32 * PAGE_SIZE, 0, ANON)
    assert errno_of(p.mlock, a, 32 * PAGE_SIZE) == errno.ENOMEM  # populate refused
    assert all(pfn_at(p, a + i * PAGE_SIZE) < 0 for i in range(32))
    assert p.mprotect(a, 8 * PAGE_SIZE, RW) == 0
    assert all(pfn_at(p, a + i * PAGE_SIZE) >= 0 for i in range(8))
    assert all(pfn_at(p, a + i * PAGE_SIZE) < 0 for i in range(8, 32))
    assert "Locked:               32 kB" in p.fs.read("/proc/self/smaps")
    # without VM_LOCKED nothing is faulted
    b = p.mmap(0, 8 * PAGE_SIZE, 0, ANON)
    assert p.mprotect(b, 8 * PAGE_SIZE, RW) == 0
    assert all(pfn_at(p, b + i * PAGE_SIZE) < 0 for i in range(8))


@pytest.mark.parametrize("whole", [False, True])
def test_madvise_populate_stops_at_the_first_hole(whole):
    """MADV_POPULATE_READ over a VMA, a hole, then a PROT_NONE VMA: 6.9+ walks the
    range in order and stops at the hole (-ENOMEM); 5.14-6.8 remember the hole, go on
    and fail on the PROT_NONE VMA (-EINVAL) (g1-s1-0179: 6.1 EINVAL, 6.12 and 7.2
    ENOMEM). The VMA before the hole is populated either way."""
    m, p = machine("mainline", madvise_populate_whole_range=whole)
    a = p.mmap(0, 32 * PAGE_SIZE, RW, ANON)
    assert p.munmap(a + 8 * PAGE_SIZE, 4 * PAGE_SIZE) == 0
    assert p.mprotect(a + 16 * PAGE_SIZE, PAGE_SIZE, 0) == 0
    err = errno_of(p.madvise, a, 32 * PAGE_SIZE, MADV_POPULATE_READ)
    assert err == (errno.ENOMEM if whole else errno.EINVAL)
    assert all(pfn_at(p, a + i * PAGE_SIZE) >= 0 for i in range(8))
    # the old walk populated the VMA between the hole and the PROT_NONE page too
    assert (pfn_at(p, a + 12 * PAGE_SIZE) >= 0) == (not whole)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
@pytest.mark.parametrize("onfault", [False, True])
def test_mremap_growing_a_locked_vma_populates_unless_onfault(profile, onfault):
    """mremap() growing a VM_LOCKED VMA populates the new tail (mm_populate()), but
    populate_vma_page_range() faults nothing in an MLOCK_ONFAULT VMA (4.14 and 6.x
    alike; g1-s3-0197 on 7.2)."""
    m, p = machine(profile)
    a = p.mmap(0, 16 * PAGE_SIZE, RW, ANON)
    assert p.munmap(a + 8 * PAGE_SIZE, 8 * PAGE_SIZE) == 0
    assert p.mlock2(a, 8 * PAGE_SIZE, 1 if onfault else 0) == 0
    assert all((pfn_at(p, a + i * PAGE_SIZE) >= 0) != onfault for i in range(8))
    assert p.mremap(a, 8 * PAGE_SIZE, 12 * PAGE_SIZE) == a
    assert all((pfn_at(p, a + i * PAGE_SIZE) >= 0) != onfault for i in range(8, 12))


@pytest.mark.parametrize("merges", [False, True])
def test_unlocked_faulted_vma_merges_into_unfaulted_neighbours(merges):
    """Three VMAs: unfaulted, faulted (mlock populated it) and unfaulted; munlock of
    all three gives one VMA in 6.16+ (the faulted one's anon_vma goes to the merged
    VMA) and three before (g1-s2-0127: 6.1 and 6.12 keep three, 7.2 one)."""
    m, p = machine("mainline", vma_merge_faulted_into_unfaulted=merges)
    a = p.mmap(0, 16 * PAGE_SIZE, RW, ANON)
    assert p.mlock(a + 4 * PAGE_SIZE, 2 * PAGE_SIZE) == 0
    assert len(p.mm.mmap) == 3
    assert p.munlock(a, 16 * PAGE_SIZE) == 0
    assert len(p.mm.mmap) == (1 if merges else 3)
    assert [p.read(a + i * PAGE_SIZE) for i in range(16)] == [0] * 16
    assert p.mprotect(a, 16 * PAGE_SIZE, PROT_READ) == 0  # rmap and walks still hold


@pytest.mark.parametrize("carries", [False, True])
def test_split_of_a_dirty_pmd(carries):
    """A dirty THP after clear_refs 4, then a partial mprotect splits its PMD: 4.14 and
    6.1 mark only the page dirty, so the PTEs stay clean and not soft-dirty; 6.3+
    makes every PTE dirty, which on x86 sets soft-dirty too."""
    m, p = machine("mainline", split_huge_pmd_carries_dirty=carries)
    a = thp_area(p)
    p.fs.write("/proc/self/clear_refs", "4")
    assert soft_dirty(p, a, 512) == 0
    assert p.mprotect(a, PAGE_SIZE, PROT_READ) == 0
    assert not is_pmd_mapped(p, a)
    assert soft_dirty(p, a, 512) == (512 if carries else 0)


@pytest.mark.parametrize("keeps", [False, True])
def test_base_page_restored_after_migration_soft_dirty_only_from_the_entry(keeps):
    """Base pages written, then clear_refs 4, then move_pages: 6.1 restores each PTE
    dirty from its migration entry, and x86's pte_mkdirty() sets soft-dirty, so the
    pages read as written again; 6.12 and 7.2 do not."""
    m, p = machine("mainline", migration_restore_dirty_keeps_soft_dirty=keeps)
    a = p.mmap(0, 16 * PAGE_SIZE, RW, ANON)
    for i in range(16):
        p.write(a + i * PAGE_SIZE, i + 1)
    p.fs.write("/proc/self/clear_refs", "4")
    assert soft_dirty(p, a, 16) == 0
    status = p.move_pages(0, [a + i * PAGE_SIZE for i in range(16)], [1] * 16, MPOL_MF_MOVE)
    assert status == (0, [1] * 16)
    assert soft_dirty(p, a, 16) == (0 if keeps else 16)
    assert [p.read(a + i * PAGE_SIZE) for i in range(16)] == list(range(1, 17))


def partially_mapped_thp(m, p):
    """A THP whose second half is unmapped (queued for deferred split, counted once);
    returns its address."""
    a = thp_area(p)
    for i in range(0, HPAGE_PMD_SIZE, PAGE_SIZE):
        p.write(a + i, a + i)
    assert p.munmap(a + HPAGE_PMD_SIZE // 2, HPAGE_PMD_SIZE // 2) == 0
    return a


# (migrate_split_deferred_folio, migrate_requeue_deferred_split): the 6.1, 6.12 and
# 7.2 behaviour, and the /proc/vmstat events move_pages plus drop_caches add; the
# requeue alone (a queued THP migrated whole: in 7.2 one that cannot be split)
SPLIT = {"thp_migration_fail": 1, "thp_migration_split": 1, "thp_split_page": 1,
         "pgmigrate_success": 512}
ERAS = {
    "6.1": ((False, False), {"thp_migration_success": 1, "pgmigrate_success": 512}),
    "6.12": ((True, False), SPLIT),
    "7.2": ((True, True), SPLIT),
    "requeue": ((False, True), {"thp_migration_success": 1, "pgmigrate_success": 512,
                                "thp_deferred_split_page": 1, "thp_split_page": 1}),
}


@pytest.mark.parametrize("era", sorted(ERAS))
def test_migrating_a_thp_queued_for_deferred_split(era):
    """6.10+ split a partially mapped THP on the deferred-split queue before migrating
    it (6.12 and 7.2 in the kernel oracle); a THP migrated whole while queued has its
    copy queued again in 7.x (counted), so the shrinker (drop_caches) still splits
    the copy; 6.1 migrates it whole and forgets it."""
    (split, requeue), want = ERAS[era]
    m, p = machine("mainline", migrate_split_deferred_folio=split,
                   migrate_requeue_deferred_split=requeue)
    a = partially_mapped_thp(m, p)
    before = dict(m.kernel.vmstat.events)
    assert p.move_pages(0, [a], [1], MPOL_MF_MOVE) == (0, [1])  # the folio, or its page
    m.fs.write("/proc/sys/vm/drop_caches", "2")
    got = {k: v for k, v in delta(m, before).items()
           if k.startswith(("thp_", "pgmigrate_")) and k != "thp_split_pmd"}
    assert got == want
    n = HPAGE_PMD_SIZE // 2 // PAGE_SIZE
    assert [p.read(a + i * PAGE_SIZE) for i in range(n)] == [a + i * PAGE_SIZE
                                                             for i in range(n)]
    assert node_at(m, p, a) == 1



@pytest.mark.parametrize("unaccounts", [False, True])
def test_mprotect_read_only_gives_back_the_commit_of_an_unfaulted_vma(unaccounts):
    """mprotect() taking write away from an anonymous VMA that was never faulted (no
    anon_vma) clears VM_ACCOUNT in 6.12+ (vm_unacct_memory(): Committed_AS drops), so
    it no longer merges with a faulted neighbour that keeps its VM_ACCOUNT; 6.1 keeps
    VM_ACCOUNT and the commit (g1-s10-0165: 6.1 one VMA, 6.12 and 7.2 two)."""
    m, p = machine("mainline", mprotect_unaccount_unfaulted=unaccounts)
    before = committed_kb(m)
    a = p.mmap(0, 32 * PAGE_SIZE, RW, ANON)
    assert committed_kb(m) == before + 128
    assert p.mprotect(a + 16 * PAGE_SIZE, 16 * PAGE_SIZE, PROT_READ) == 0
    assert len(p.mm.mmap) == 2
    assert committed_kb(m) == before + (64 if unaccounts else 128)
    for i in range(16):
        p.write(a + i * PAGE_SIZE, i + 1)         # the first VMA gets an anon_vma
    assert p.mprotect(a, 32 * PAGE_SIZE, PROT_READ) == 0
    assert committed_kb(m) == before + (64 if unaccounts else 128)  # faulted: kept
    assert len(p.mm.mmap) == (2 if unaccounts else 1)
    assert [p.read(a + i * PAGE_SIZE) for i in range(32)] == list(range(1, 17)) + [0] * 16


@pytest.mark.parametrize("partially_mapped_rule", [False, True])
def test_split_of_a_pmd_mapped_thp_queues_it_in_4_14_and_6_1(partially_mapped_rule):
    """MADV_PAGEOUT of a PMD-mapped THP on a machine without swap splits it
    (split_huge_page()). 4.14 and 6.1 freeze the PMD into PTEs that are counted and
    then page_remove_rmap()ed one by one, so the THP is queued for deferred split on
    the way (thp_deferred_split_page +1, the kernel oracle on 6.1); 6.3+ does not
    (g1-s1-0009: 6.12 and 7.2 count none)."""
    m, p = machine("mainline", rmap_deferred_split_partially_mapped=partially_mapped_rule)
    a = thp_area(p)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, HPAGE_PMD_SIZE, MADV_PAGEOUT) == 0
    ev = m.kernel.vmstat.events
    assert ev["thp_split_page"] - before["thp_split_page"] == 1
    assert ev["thp_deferred_split_page"] - before["thp_deferred_split_page"] == (
        0 if partially_mapped_rule else 1)
    assert not m.kernel.deferred_split_queue  # the split took it off the queue
    assert p.read(a) == a


def _smaps_kb(p, a, field):
    lines = p.fs.read(f"/proc/{p.pid}/smaps").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{a:x}-"))
    for line in lines[start + 1:]:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


@pytest.mark.parametrize("counts", [False, True])
def test_smaps_of_a_prot_none_thp(counts):
    """A PMD-mapped THP made PROT_NONE stays mapped (pagemap present); smaps counts it
    in 4.14, 6.12 and 7.2, not in 6.1 (g1-s1-0122: Rss 0 there), while PTE-mapped
    pages of the same VMA count in every era."""
    m, p = machine("mainline", smaps_pmd_counts_protnone=counts)
    a = thp_area(p, 2)
    assert p.mprotect(a + HPAGE_PMD_SIZE, PAGE_SIZE, PROT_READ) == 0  # PTE-map the 2nd
    assert p.mprotect(a, 2 * HPAGE_PMD_SIZE, PROT_NONE) == 0  # the PMD stays huge
    thp_kb = HPAGE_PMD_SIZE >> 10
    assert _smaps_kb(p, a, "Rss") == (2 * thp_kb if counts else thp_kb)
    assert _smaps_kb(p, a, "AnonHugePages") == (thp_kb if counts else 0)


@pytest.mark.parametrize("batch", [False, True])
def test_mprotect_of_a_pte_mapped_thp_batches_dirty_into_soft_dirty(batch):
    """6.17+ mprotect() rewrites the PTEs of a large folio in batches that share the
    gathered dirty bit; x86's pte_mkdirty() sets soft-dirty with it, so after
    clear_refs 4 an mprotect() of dirty PTE-mapped THP pages reads soft-dirty on every
    page of the range (g1-s7-0199: 7.2 511 pages, 6.12 none)."""
    m, p = machine("mainline", mprotect_pte_batch=batch)
    a = thp_area(p)
    assert p.mprotect(a, PAGE_SIZE, PROT_READ) == 0  # split the PMD: PTE-mapped THP
    assert p.mprotect(a, PAGE_SIZE, RW) == 0
    assert not is_pmd_mapped(p, a)
    p.fs.write("/proc/self/clear_refs", "4")
    assert soft_dirty(p, a, 512) == 0
    assert p.mprotect(a + 16 * PAGE_SIZE, 64 * PAGE_SIZE, PROT_READ) == 0
    assert soft_dirty(p, a + 16 * PAGE_SIZE, 64) == (64 if batch else 0)
    assert soft_dirty(p, a, 16) == 0 and soft_dirty(p, a + 80 * PAGE_SIZE, 432) == 0
    assert p.read(a) == a
