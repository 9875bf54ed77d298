"""System-call lengths and addresses as the kernel takes them: unsigned longs.

Issue 11, item 3. A Python int outside [0, 2**64) reaches the kernel as its u64
value (-4096 is 2**64 - 4096; the C prototypes take unsigned long / size_t), and
PAGE_ALIGN() and every ``start + len`` wrap as they do in C. Each test checks the
errno Linux gives and that a failing call left the machine as it was: the VMA list
(/proc/self/maps), the pagemap of the range, VmLck, the vmstat events and every
page's data (each read is also checked against the machine's shadow).
The mempolicy and migration calls (mbind, set/get_mempolicy, migrate_pages,
move_pages) also take ``int`` and ``pid_t`` arguments: the low 32 bits, signed.
"""

import errno

import pytest
from mm_helpers import ANON, RW, errno_of, numa_machine

from thpsim import (
    MADV_DONTNEED,
    MADV_HWPOISON,
    MADV_SOFT_OFFLINE,
    MAP_FIXED,
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_F_ADDR,
    MPOL_MF_MOVE,
    MPOL_MF_STRICT,
    MPOL_PREFERRED,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_READ,
)
from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PAGE_SIZE
from thpsim.profiles import make_profile

U64 = 1 << 64
NPAGES = 32
LEN = NPAGES * PAGE_SIZE


def setup(profile="mainline"):
    """A process with three VMAs (RW, R, RW: they do not merge) of NPAGES pages in a
    row, every page written with its address, and a fourth RW VMA after a one-page
    hole (a neighbour a wrong length could reach)."""
    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, 4 * LEN, RW, ANON)
    for i in range(0, 4 * LEN, PAGE_SIZE):
        p.write(a + i, a + i)
    p.mprotect(a + LEN, LEN, PROT_READ)
    p.munmap(a + 3 * LEN - PAGE_SIZE, PAGE_SIZE)
    return m, p, a


def state(m, p, a):
    """What a failed call must not change."""
    maps = p.fs.read("/proc/self/maps")
    pagemap = p.fs.read("/proc/self/pagemap", offset=(a >> PAGE_SHIFT) * 8,
                        length=4 * NPAGES * 8)
    status = [line for line in p.fs.read("/proc/self/status").splitlines()
              if line.startswith(("VmLck", "VmSize", "VmRSS"))]
    return maps, pagemap, status, dict(m.kernel.vmstat.events)


def data_intact(p, a):
    hole = a + 3 * LEN - PAGE_SIZE
    for i in range(0, 4 * LEN, PAGE_SIZE):
        if a + i != hole:
            assert p.read(a + i) == a + i


def fails_unchanged(m, p, a, err, fn, *args):
    before = state(m, p, a)
    assert errno_of(fn, *args) == err
    assert state(m, p, a) == before
    data_intact(p, a)
    m.check_integrity()


# ---- madvise: madvise_should_skip() (v4.14: inline in SYSCALL madvise)
@pytest.mark.parametrize("length", [U64 - 1, -1, U64 - 4095, -4095])
def test_madvise_length_rounding_to_zero_is_einval(length):
    """PAGE_ALIGN(len_in) wraps to 0 for len_in > 2**64 - 4096: EINVAL, nothing zapped
    (before: the rounded length was 2**64 and DONTNEED zapped everything above a)."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.madvise, a, length, MADV_DONTNEED)


def test_madvise_end_wrapping_is_einval():
    """start + len past 2**64: ``end < start``, EINVAL."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.madvise, a, U64 - a + 2 * PAGE_SIZE, MADV_DONTNEED)
    fails_unchanged(m, p, a, errno.EINVAL, p.madvise, a, -(a - PAGE_SIZE), MADV_DONTNEED)


def test_madvise_length_above_u64_is_taken_modulo():
    """2**64 + 4096 is 4096 to the kernel: one page zapped, the next one kept."""
    m, p, a = setup()
    assert p.madvise(a, U64 + PAGE_SIZE, MADV_DONTNEED) == 0
    assert p.read(a) == 0
    assert p.read(a + PAGE_SIZE) == a + PAGE_SIZE


@pytest.mark.parametrize("advice", [MADV_HWPOISON, MADV_SOFT_OFFLINE])
@pytest.mark.parametrize("length", [U64 - 1, -1, U64 - 4096 * 3])
def test_madvise_inject_error_checks_length_first(advice, length):
    """madvise_inject_error() runs after the length checks (v4.14 and mainline both):
    a wrapped length is EINVAL with no page offlined or poisoned."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.madvise, a, length, advice)
    assert "\nHardwareCorrupted:     0 kB\n" in m.fs.read("/proc/meminfo")


def test_madvise_unaligned_start_keeps_shadow():
    """EINVAL for an unaligned start: the API's shadow keeps the data (before: it
    forgot the page and the next read reported a false lost write)."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.madvise, a + 1, PAGE_SIZE, MADV_DONTNEED)


# ---- mprotect: do_mprotect_pkey()'s order
@pytest.mark.parametrize("length", [U64 - 1, -1, U64 - 4095])
def test_mprotect_wrapping_length_is_enomem_and_changes_nothing(length):
    """len rounds up to 0, end == start: ENOMEM before any VMA is touched (before: the
    mappings above a became read-only and the call still said ENOMEM)."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.ENOMEM, p.mprotect, a, length, PROT_READ)
    p.write(a, a)  # still writable


def test_mprotect_check_order():
    """Both PROT_GROWS* bits, then start alignment (EINVAL); len 0 succeeds whatever
    prot is; the wrap (ENOMEM) comes before arch_validate_prot() (EINVAL)."""
    m, p, a = setup()
    growsdown, growsup = 0x01000000, 0x02000000
    fails_unchanged(m, p, a, errno.EINVAL, p.mprotect, a + 1, 0, growsdown | growsup)
    fails_unchanged(m, p, a, errno.EINVAL, p.mprotect, a + 1, 0, 0x100)
    assert p.mprotect(a, 0, 0x100) == 0
    fails_unchanged(m, p, a, errno.ENOMEM, p.mprotect, a, -1, 0x100)
    fails_unchanged(m, p, a, errno.EINVAL, p.mprotect, a, PAGE_SIZE, 0x100)
    fails_unchanged(m, p, a, errno.EINVAL, p.mprotect, a, PAGE_SIZE, PROT_READ | growsup)
    fails_unchanged(m, p, a, errno.EINVAL, p.mprotect, a, PAGE_SIZE, PROT_READ | growsdown)
    assert state(m, p, a)[0].count("\n") == 4


# ---- munmap: do_munmap()'s len > TASK_SIZE - start
@pytest.mark.parametrize("length", [-PAGE_SIZE, U64 - PAGE_SIZE, -1, U64 - 1])
def test_munmap_negative_length_is_einval(length):
    """Before: munmap(a + 0x18000, -4096) succeeded and left two overlapping VMAs."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.munmap, a + 0x18000, length)
    vmas = [(v.vm_start, v.vm_end) for v in p.mm.mmap]
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(vmas, vmas[1:], strict=False))


def test_munmap_negative_address_is_einval():
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.munmap, -a, PAGE_SIZE)


# ---- mremap
@pytest.mark.parametrize("profile", ["seed", "mainline"])
@pytest.mark.parametrize("old_len,new_len,flags,err", [
    (-PAGE_SIZE, PAGE_SIZE, 0, errno.EINVAL),  # the shrink's do_munmap() refuses the tail
    (-PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE, errno.EINVAL),
    # 4.14: cannot grow in place, no room anywhere (ENOMEM); 6.17+: new_len > TASK_SIZE
    (PAGE_SIZE, -PAGE_SIZE, 0, None),
    (PAGE_SIZE, -PAGE_SIZE, MREMAP_MAYMOVE, None),
    (-PAGE_SIZE, -2 * PAGE_SIZE, MREMAP_MAYMOVE, errno.EINVAL),
    (-1, -1, MREMAP_MAYMOVE, errno.EINVAL),  # new_len rounds up to 0
    (PAGE_SIZE, -1, MREMAP_MAYMOVE, errno.EINVAL),
])
def test_mremap_negative_lengths(profile, old_len, new_len, flags, err):
    """Before: IndexError, or a neighbour unmapped."""
    m, p, a = setup(profile)
    if err is None:
        err = errno.EINVAL if profile == "mainline" else errno.ENOMEM
    fails_unchanged(m, p, a, err, p.mremap, a, old_len, new_len, flags)


def test_mremap_fixed_huge_new_len_is_einval():
    """MREMAP_FIXED: a new_len past TASK_SIZE is EINVAL before anything is unmapped."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.mremap, a + LEN, PAGE_SIZE, -PAGE_SIZE,
                    MREMAP_FIXED | MREMAP_MAYMOVE, a)


def test_mremap_fixed_huge_old_len_unmaps_destination_then_einval():
    """MREMAP_FIXED with old_len -4096: addr + old_len wraps below addr, so the ranges
    do not overlap by mremap_to()'s unsigned test; the destination is unmapped, then
    the tail's do_munmap() refuses its length: EINVAL, the destination stays unmapped
    (Linux's answer, 4.14 and mainline). Nothing else changed (before: EFAULT)."""
    m, p, a = setup()
    before = state(m, p, a)
    assert errno_of(p.mremap, a + LEN, -PAGE_SIZE, PAGE_SIZE,
                    MREMAP_FIXED | MREMAP_MAYMOVE, a) == errno.EINVAL
    maps, pagemap, _, _ = state(m, p, a)
    assert maps.splitlines()[0].startswith(f"{a + PAGE_SIZE:x}-{a + LEN:x} ")
    assert maps.splitlines()[1:] == before[0].splitlines()[1:]
    assert pagemap[:8] == bytes(8) and pagemap[8:] == before[1][8:]
    m.check_integrity()


def test_mremap_shrink_across_vmas_unmaps_the_tail():
    """A shrink unmaps [addr + new_len, addr + old_len) before the VMA's size is
    checked (mremap(), both eras), so it may span VMAs as munmap would."""
    m, p, a = setup()
    assert p.mremap(a, 2 * LEN, PAGE_SIZE) == a
    maps = p.fs.read("/proc/self/maps").splitlines()
    assert maps[0].startswith(f"{a:x}-{a + PAGE_SIZE:x} ")
    assert maps[1].startswith(f"{a + 2 * LEN:x}-")


# ---- mlock: do_mlock()'s len = PAGE_ALIGN(len + offset_in_page(start))
@pytest.mark.parametrize("length", [-PAGE_SIZE, U64 - 2 * PAGE_SIZE, -5 * PAGE_SIZE])
def test_mlock_wrapping_end_is_einval(length):
    """start + len wraps: EINVAL before any VMA (before: pages were locked and the
    call failed with ENOMEM)."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EINVAL, p.mlock, a, length)
    fails_unchanged(m, p, a, errno.EINVAL, p.munlock, a, length)
    fails_unchanged(m, p, a, errno.EINVAL, p.mlock2, a, length, 1)


def test_mlock_length_rounding_to_zero_does_nothing():
    """PAGE_ALIGN(2**64 - 1) is 0: mlock succeeds and locks nothing (Linux's answer)."""
    m, p, a = setup()
    before = state(m, p, a)
    assert p.mlock(a, -1) == 0
    assert p.mlock(a + 1, U64 - 2) == 0  # 2**64 - 2 + 1 rounds up to 0 as well
    assert state(m, p, a) == before


# ---- mmap: ksys_mmap_pgoff() -> do_mmap() -> get_unmapped_area(), in order
def test_mmap_ebadf_before_flag_checks():
    """Without MAP_ANONYMOUS the file comes first: EBADF even with a bad MAP_TYPE."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.EBADF, p.mmap, 0, PAGE_SIZE, RW, 0x0F, 5)
    fails_unchanged(m, p, a, errno.EINVAL, p.mmap, 0, PAGE_SIZE, RW, ANON, -1, 1)  # offset


def test_mmap_ignores_unknown_prot_bits():
    """do_mmap() does not validate prot (only mprotect does)."""
    m, p, a = setup()
    b = p.mmap(0, PAGE_SIZE, RW | 0x100, ANON)
    p.write(b, 7)
    assert p.read(b) == 7


@pytest.mark.parametrize("length", [-1, U64 - 1, U64 - PAGE_SIZE, 1 << 62, -PAGE_SIZE * 3])
def test_mmap_huge_length_is_enomem(length):
    """PAGE_ALIGN(len) wrapping to 0, or a length past TASK_SIZE: ENOMEM."""
    m, p, a = setup()
    fails_unchanged(m, p, a, errno.ENOMEM, p.mmap, 0, length, RW, ANON)
    fails_unchanged(m, p, a, errno.ENOMEM, p.mmap, a, length, RW, ANON | MAP_FIXED)


def test_mmap_fixed_check_order():
    """get_unmapped_area(): the range past TASK_SIZE (ENOMEM), then the alignment
    (EINVAL), then mmap_min_addr (EPERM); a bad MAP_TYPE only after that (EINVAL)."""
    m, p, a = setup()
    top = 1 << 47
    fails_unchanged(m, p, a, errno.ENOMEM, p.mmap, top + 1, PAGE_SIZE, RW, ANON | MAP_FIXED)
    fails_unchanged(m, p, a, errno.EINVAL, p.mmap, a + 1, PAGE_SIZE, RW, ANON | MAP_FIXED)
    fails_unchanged(m, p, a, errno.EPERM, p.mmap, PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED)
    fails_unchanged(m, p, a, errno.ENOMEM, p.mmap, top + 1, PAGE_SIZE, RW,
                    0x0F | 0x20 | MAP_FIXED)
    fails_unchanged(m, p, a, errno.EINVAL, p.mmap, 0, PAGE_SIZE, RW, 0x0F | 0x20)


# ---- mempolicy and migration: unsigned longs, ints and pid_t (issue 11, item 3)
def pol_of(p, a):
    """get_mempolicy(MPOL_F_ADDR) of ``a``: (mode, nodemask)."""
    return p.get_mempolicy(1024, a, MPOL_F_ADDR)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_mbind_mode_above_32_bits_per_switch(profile):
    """mbind's mode is an unsigned long. 5.12+ (``mbind_mode_c_int``): kernel_mbind()
    takes it as an int, so 2**32 + MPOL_BIND binds. 4.14: compared whole with MPOL_MAX,
    EINVAL and nothing changes. Both switch values on both profiles."""
    for on in (False, True):
        m = numa_machine(make_profile(profile, mbind_mode_c_int=on))
        p = m.spawn()
        a = p.mmap(0, LEN, RW, ANON)
        if on:
            assert p.mbind(a, LEN, U64 // 2 + 2**32 + MPOL_BIND, 0b10, 3) == 0
            assert pol_of(p, a)[0] == MPOL_BIND
        else:
            assert errno_of(p.mbind, a, LEN, 2**32 + MPOL_BIND, 0b10, 3) == errno.EINVAL
            assert pol_of(p, a)[0] == MPOL_DEFAULT
        # the mode flags stay in the low bits either way
        assert p.mbind(a, LEN, -(2**64) + MPOL_BIND, 0b01, 3) == 0


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_set_mempolicy_mode_is_an_int(profile):
    """set_mempolicy's mode is an int in both eras: 2**32 + MPOL_BIND is MPOL_BIND."""
    m = numa_machine(profile)
    p = m.spawn()
    assert p.set_mempolicy(2**32 + MPOL_BIND, 0b10, 3) == 0
    assert p.get_mempolicy(1024) == (MPOL_BIND, 0b10)
    assert errno_of(p.set_mempolicy, 2**31 + MPOL_BIND, 0b10, 3) == errno.EINVAL


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_mbind_lengths_and_flags(profile):
    """start + PAGE_ALIGN(len) past 2**64: EINVAL; a len rounding up to 2**64 is 0
    bytes (mbind has no madvise-like check: 0, nothing bound); flags is an unsigned
    int (2**32 + MPOL_MF_STRICT is STRICT); maxnode 0 with a mask wraps past
    8 * PAGE_SIZE bits: EINVAL; maxnode 2**64 + 3 is 3."""
    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, LEN, RW, ANON)
    assert errno_of(p.mbind, a, -PAGE_SIZE, MPOL_BIND, 0b10, 3) == errno.EINVAL
    assert p.mbind(a, -1, MPOL_BIND, 0b10, 3) == 0
    assert pol_of(p, a)[0] == MPOL_DEFAULT
    assert errno_of(p.mbind, a, LEN, MPOL_BIND, 0b10, 0) == errno.EINVAL
    assert errno_of(p.mbind, a, LEN, MPOL_BIND, 0b10, 8 * PAGE_SIZE + 2) == errno.EINVAL
    assert errno_of(p.mbind, a, LEN, MPOL_BIND, 0b10, 3, 2**32 + 0x40) == errno.EINVAL
    assert p.mbind(a, LEN, MPOL_BIND, 0b10, U64 + 3, 2**32 + MPOL_MF_STRICT) == 0
    assert pol_of(p, a) == (MPOL_BIND, 0b10)
    assert p.mbind(a - U64, LEN + U64, MPOL_PREFERRED, 0b01, 3) == 0
    assert pol_of(p, a) == (MPOL_PREFERRED, 0b01)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_move_pages_pid_flags_nodes_are_ints(profile):
    """move_pages(2): pid is a pid_t (2**32 is 0: the caller), flags an int
    (2**32 + MPOL_MF_MOVE is MOVE), each node an int read from the array (2**32 + 1
    is node 1), each page a user pointer (2**64 + a is a). Before: ESRCH, EINVAL,
    ENODEV."""
    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, LEN, RW, ANON)
    p.write(a, 5)
    p.write(a + PAGE_SIZE, 6)
    assert p.move_pages(2**32, [a], [1])[1] == [1]
    assert p.move_pages(0, [a], [0], 2**32 + MPOL_MF_MOVE)[1] == [0]
    assert p.move_pages(0, [a + U64], [2**32 + 1])[1] == [1]
    assert p.move_pages(0, [a, a + PAGE_SIZE], None)[1] == [1, 0]
    assert errno_of(p.move_pages, 2**31, [a], [0]) == errno.ESRCH  # pid -2**31
    assert p.read(a) == 5 and p.read(a + PAGE_SIZE) == 6


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_migrate_pages_pid_is_pid_t(profile):
    """migrate_pages(2): 2**32 is pid 0, the caller; 2**32 - 1 is -1: ESRCH; maxnode
    is an unsigned long (2**64 + 3 is 3)."""
    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, LEN, RW, ANON)
    p.write(a, 5)
    assert p.migrate_pages(2**32, U64 + 3, 0b01, 0b10) == 0
    assert p.move_pages(0, [a], None)[1] == [1]
    assert errno_of(p.migrate_pages, 2**32 - 1, 3, 0b10, 0b01) == errno.ESRCH
    assert p.read(a) == 5


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_get_mempolicy_maxnode_is_unsigned_long(profile):
    """get_mempolicy(2): maxnode 2**64 + 1024 is 1024; -1 is 2**64 - 1, whose copy
    length (ALIGN(maxnode - 1, 64) / 8) is past PAGE_SIZE: EINVAL; addr and flags are
    unsigned longs (2**32 + MPOL_F_ADDR is an unknown flag: EINVAL)."""
    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, LEN, RW, ANON)
    p.mbind(a, LEN, MPOL_BIND, 0b10, 3)
    assert p.get_mempolicy(U64 + 1024, a + U64, MPOL_F_ADDR) == (MPOL_BIND, 0b10)
    assert errno_of(p.get_mempolicy, -1, a, MPOL_F_ADDR) == errno.EINVAL
    assert errno_of(p.get_mempolicy, 1024, a, 2**32 + MPOL_F_ADDR) == errno.EINVAL
