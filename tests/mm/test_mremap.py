"""mremap(2): MREMAP_DONTUNMAP (5.7, switch ``mremap_dontunmap``) and where the VMA is
looked up (5.16, switch ``mremap_vma_lookup_first``).

Models tested: mm/mremap.c SYSCALL mremap's argument checks, mremap_to(),
vma_to_resize() and move_vma()'s DONTUNMAP branch. What a kernel test sees: the
address returned, /proc/self/maps and smaps' VmFlags, status' VmSize/VmLck, pagemap
of the old and new ranges, the data (each read also checked against the shadow).
"""

from __future__ import annotations

import errno

import pytest
from fs_helpers import pagemap, smaps_of
from mm_helpers import ANON, RW, errno_of, is_pmd_mapped, numa_machine, thp_region

from thpsim import (
    MADV_NOHUGEPAGE,
    MAP_FIXED,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_READ,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.profiles import make_profile

PROFILES = ("seed", "mainline")
N = 8
LEN = N * PAGE_SIZE
PM_PRESENT = 1 << 63
PFN = (1 << 55) - 1
DU = MREMAP_DONTUNMAP | MREMAP_MAYMOVE


def status(p):
    return {k: v for k, v in (line.split(":", 1) for line in
                              p.fs.read("/proc/self/status").splitlines())
            if k in ("VmSize", "VmLck")}


def filled(p, n=N):
    a = p.mmap(0, n * PAGE_SIZE, RW, ANON)
    p.madvise(a, n * PAGE_SIZE, MADV_NOHUGEPAGE)
    for i in range(n):
        p.write(a + i * PAGE_SIZE, a + i * PAGE_SIZE + 1)
    return a


@pytest.mark.parametrize("profile", PROFILES)
def test_dontunmap_follows_the_switch(profile):
    """Switch off (4.14): MREMAP_DONTUNMAP is an unknown flag, EINVAL, nothing changes.
    On: the pages move, the old VMA stays."""
    for on in (False, True):
        m = numa_machine(make_profile(profile, mremap_dontunmap=on))
        p = m.spawn()
        a = filled(p)
        maps = p.fs.read("/proc/self/maps")
        if not on:
            assert errno_of(p.mremap, a, LEN, LEN, DU) == errno.EINVAL
            assert p.fs.read("/proc/self/maps") == maps
            assert p.read(a) == a + 1
            continue
        b = p.mremap(a, LEN, LEN, DU)
        assert b != a
        assert smaps_of(p.fs, a)["Size"] == LEN // 1024  # the old VMA is still mapped
        assert p.read(b) == a + 1


def test_dontunmap_moves_pages_and_leaves_old_range_empty():
    """The page tables move: the new range maps the old frames; the old range is mapped
    but empty (pagemap: not present; reads give 0 from a fresh fault; a write there
    faults a new page, the moved data stays). VmSize grows by the length."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = filled(p)
    pfns = [e & PFN for e in pagemap(p.fs, a, N)]
    vmsize = int(status(p)["VmSize"].split()[0])
    b = p.mremap(a, LEN, LEN, DU)
    assert all(not e & PM_PRESENT for e in pagemap(p.fs, a, N))
    assert [e & PFN for e in pagemap(p.fs, b, N)] == pfns
    assert int(status(p)["VmSize"].split()[0]) == vmsize + LEN // 1024
    for i in range(N):
        assert p.read(b + i * PAGE_SIZE) == a + i * PAGE_SIZE + 1
        assert p.read(a + i * PAGE_SIZE) == 0
    p.write(a, 7)
    assert p.read(a) == 7 and p.read(b) == a + 1
    m.check_integrity()


def test_dontunmap_moves_a_thp_whole():
    """A PMD-mapped THP moves by its PMD (move_huge_pmd): huge at the new place."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = thp_region(p, 1)
    dst = p.mmap(0, 2 * HPAGE_PMD_SIZE, RW, ANON)
    dst = (dst + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    assert p.mremap(a, HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, DU | MREMAP_FIXED, dst) == dst
    assert is_pmd_mapped(p, dst)
    assert p.read(dst + PAGE_SIZE) == a + PAGE_SIZE
    assert p.read(a + PAGE_SIZE) == 0


def test_dontunmap_clears_vm_locked_on_the_old_vma():
    """The old VMA loses VM_LOCKED; the new one has it; VmLck is unchanged (the lock
    moved with the pages)."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = filled(p)
    p.mlock(a, LEN)
    lck = status(p)["VmLck"]
    b = p.mremap(a, LEN, LEN, DU)
    assert "lo" not in str(smaps_of(p.fs, a)["VmFlags"]).split()
    assert "lo" in str(smaps_of(p.fs, b)["VmFlags"]).split()
    assert status(p)["VmLck"] == lck
    assert p.read(b) == a + 1


@pytest.mark.parametrize("old_len,new_len,flags", [
    (LEN, LEN, MREMAP_DONTUNMAP),  # no MREMAP_MAYMOVE
    (LEN, 2 * LEN, DU),  # a resize
    (LEN, LEN // 2, DU),
    (LEN, LEN, DU | 8),  # an unknown flag
])
def test_dontunmap_einval(old_len, new_len, flags):
    """EINVAL before anything changes: without MAYMOVE, with old_len != new_len."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = filled(p)
    maps = p.fs.read("/proc/self/maps")
    assert errno_of(p.mremap, a, old_len, new_len, flags) == errno.EINVAL
    assert p.fs.read("/proc/self/maps") == maps and p.read(a) == a + 1


def test_dontunmap_lengths_compare_page_aligned():
    """6.17's check_mremap_params() compares the page-aligned lengths: 4096 and 4095
    are the same length."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = filled(p, 1)
    b = p.mremap(a, PAGE_SIZE, PAGE_SIZE - 1, DU)
    assert p.read(b) == a + 1


@pytest.mark.parametrize("profile", PROFILES)
def test_shrink_of_an_unmapped_range(profile):
    """4.14: a shrink looks no VMA up: [addr + new_len, addr + old_len) is unmapped
    (nothing there) and addr is returned. 5.16+: EFAULT first."""
    m = numa_machine(profile)
    p = m.spawn()
    a = filled(p)
    p.munmap(a, LEN)
    if profile == "seed":
        assert p.mremap(a, LEN, PAGE_SIZE) == a
        assert p.mremap(a, LEN, LEN) == a
    else:
        assert errno_of(p.mremap, a, LEN, PAGE_SIZE) == errno.EFAULT
        assert errno_of(p.mremap, a, LEN, LEN) == errno.EFAULT


@pytest.mark.parametrize("profile", PROFILES)
def test_fixed_from_an_unmapped_range(profile):
    """MREMAP_FIXED from an unmapped address: 4.14's mremap_to() unmaps the destination,
    then vma_to_resize() fails (EFAULT, the destination stays unmapped); 5.16+ fails
    with EFAULT before it, the destination intact."""
    m = numa_machine(profile)
    p = m.spawn()
    a = filled(p)
    dst = filled(p)
    p.munmap(a, LEN)
    assert errno_of(p.mremap, a, LEN, LEN, MREMAP_FIXED | MREMAP_MAYMOVE, dst) == errno.EFAULT
    if profile == "seed":
        assert errno_of(p.mprotect, dst, PAGE_SIZE, RW) == errno.ENOMEM
        p.mmap(dst, LEN, RW, ANON | MAP_FIXED)
        assert p.read(dst) == 0
    else:
        assert p.read(dst) == dst + 1


def two_vmas_and_dest(p):
    """[a, a + 4p) RW and [a + 5p, a + 8p) read-only (a one-page gap between), every
    page holding its address + 1; a destination of 8 RW pages, each holding its
    address + 1. Returns (a, dst)."""
    a = filled(p)
    p.munmap(a + 4 * PAGE_SIZE, PAGE_SIZE)
    p.mprotect(a + 5 * PAGE_SIZE, 3 * PAGE_SIZE, PROT_READ)
    dst = filled(p)
    return a, dst


def present(p, addr):
    return bool(pagemap(p.fs, addr)[0] & PM_PRESENT)


@pytest.mark.parametrize("profile", PROFILES)
def test_fixed_same_size_move_of_several_vmas(profile):
    """``mremap_move_multiple_vmas`` (6.17): MREMAP_FIXED with old_len == new_len over
    two VMAs and the gap between them moves both, each to its offset; the destination
    page across from the gap is not unmapped. Off: the range must lie in one VMA,
    EFAULT; 4.14..6.16 (``mremap_check_vma_before_unmap`` off) unmapped the
    destination first, 6.17 checks first and leaves it."""
    for multi in (False, True):
        m = numa_machine(make_profile(profile, mremap_move_multiple_vmas=multi))
        p = m.spawn()
        a, dst = two_vmas_and_dest(p)
        across = pagemap(p.fs, dst + 4 * PAGE_SIZE)[0]
        flags = MREMAP_FIXED | MREMAP_MAYMOVE
        if multi:
            assert p.mremap(a, LEN, LEN, flags, dst) == dst
            for i in (0, 3, 5, 7):
                assert p.read(dst + i * PAGE_SIZE) == a + i * PAGE_SIZE + 1
            assert pagemap(p.fs, dst + 4 * PAGE_SIZE)[0] == across  # still mapped
            assert any(line.startswith(f"{dst + 5 * PAGE_SIZE:x}-") and " r--p " in line
                       for line in p.fs.read("/proc/self/maps").splitlines())
            assert not any(line.startswith(f"{a:x}-")
                           for line in p.fs.read("/proc/self/maps").splitlines())
            continue
        assert errno_of(p.mremap, a, LEN, LEN, flags, dst) == errno.EFAULT
        before_6_17 = not m.profile.mremap_check_vma_before_unmap
        assert present(p, dst) != before_6_17
        assert p.read(a + 5 * PAGE_SIZE) == a + 5 * PAGE_SIZE + 1


def test_move_of_several_vmas_needs_a_vma_at_the_start():
    """remap_move(): a gap at the start of the range is EFAULT, nothing moved."""
    m = numa_machine("mainline")
    p = m.spawn()
    a, dst = two_vmas_and_dest(p)
    maps = p.fs.read("/proc/self/maps")
    assert errno_of(p.mremap, a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, 4 * PAGE_SIZE,
                    MREMAP_FIXED | MREMAP_MAYMOVE, dst) == errno.EFAULT
    assert p.fs.read("/proc/self/maps") == maps
    assert p.read(dst) == dst + 1


@pytest.mark.parametrize("profile", PROFILES)
def test_fixed_grow_past_the_vma_checks_before_unmapping(profile):
    """MREMAP_FIXED growing a range that runs past its VMA: EFAULT. 6.17
    (``mremap_check_vma_before_unmap``) finds it before unmapping anything; 4.14..6.16
    unmapped the destination first. Both switch values on both profiles."""
    for first in (False, True):
        m = numa_machine(make_profile(profile, mremap_check_vma_before_unmap=first))
        p = m.spawn()
        a, dst = two_vmas_and_dest(p)
        assert errno_of(p.mremap, a, 6 * PAGE_SIZE, LEN, MREMAP_FIXED | MREMAP_MAYMOVE,
                        dst) == errno.EFAULT
        assert present(p, dst) == first
        assert p.read(a) == a + 1


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("fixed", [False, True])
def test_growing_a_locked_vma_populates_the_tail_moved_or_not(profile, fixed):
    """SYSCALL mremap: ``if (locked && new_len > old_len) mm_populate(new_addr + old_len,
    new_len - old_len)``, whether the VMA grew in place or moved (every era). Before,
    the model populated only in place: Debian 7.2 showed rss 4112 kB where the model
    had 4096 (tests/oracle/mmprog g1-s1-0005)."""
    m = numa_machine(profile)
    p = m.spawn()
    a = filled(p)
    p.mlock(a, LEN)
    # a neighbour right after the VMA forces the move
    p.mmap(a + LEN, PAGE_SIZE, RW, ANON | MAP_FIXED)
    if fixed:
        dst = p.mmap(0, 4 * LEN, RW, ANON)
        new = p.mremap(a, LEN, 2 * LEN, MREMAP_MAYMOVE | MREMAP_FIXED, dst)
        assert new == dst
    else:
        new = p.mremap(a, LEN, 2 * LEN, MREMAP_MAYMOVE)
        assert new != a
    pm = pagemap(p.fs, new, 2 * N)
    assert all(e & PM_PRESENT for e in pm), [hex(e) for e in pm]
    assert status(p)["VmLck"].split()[0] == str(2 * LEN // 1024)
    for i in range(N):
        assert p.read(new + i * PAGE_SIZE) == a + i * PAGE_SIZE + 1
        assert p.read(new + LEN + i * PAGE_SIZE) == 0
