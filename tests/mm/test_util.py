"""mm/util.py: the OVERCOMMIT_GUESS check of accountable mappings (mmap, mprotect), as
user space sees it (ENOMEM, Committed_AS), in both eras."""

import errno

import pytest
from mm_helpers import ANON, MB, RW, committed_kb, errno_of, numa_machine

from thpsim import MAP_FIXED, MAP_NORESERVE, MAP_POPULATE, PAGE_SIZE, PROT_NONE, PROT_READ


def _errno(fn):
    """The errno ``fn()`` failed with, or None when it succeeded."""
    try:
        fn()
    except OSError as e:
        return e.errno
    return None



@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_a_private_writable_mapping_larger_than_ram_is_enomem(profile):
    """Regression (found by thpsim fuzz): mmap of 1 TiB of private writable memory on a
    512 MiB machine succeeded. Under the default OVERCOMMIT_GUESS, mmap_region() charges
    it (accountable_mapping()) and __vm_enough_memory() refuses a charge above all RAM
    (mainline) or above the free pages (4.14): ENOMEM, nothing mapped. MAP_NORESERVE and
    read-only mappings are not charged."""
    m = numa_machine(profile)
    p = m.spawn()
    before = committed_kb(m)
    assert errno_of(lambda: p.mmap(0, 1 << 40, RW, ANON)) == errno.ENOMEM
    assert errno_of(lambda: p.mmap(0, 600 * MB, RW, ANON)) == errno.ENOMEM
    assert committed_kb(m) == before
    assert p.mmap(0, 1 << 40, RW, ANON | MAP_NORESERVE)
    assert p.mmap(0, 1 << 40, PROT_READ, ANON)
    assert committed_kb(m) == before
    a = p.mmap(0, 64 * MB, RW, ANON)
    assert committed_kb(m) == before + 64 * 1024
    # MAP_FIXED over an accounted mapping: what it replaces gives its charge back
    assert p.mmap(a, 64 * MB, RW, ANON | MAP_FIXED) == a
    assert committed_kb(m) == before + 64 * 1024


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_mprotect_charges_a_mapping_that_becomes_writable(profile):
    """mprotect_fixup(): a private mapping made writable is charged then (VM_ACCOUNT,
    Committed_AS grows); one larger than RAM is refused with ENOMEM and keeps its
    protection."""
    m = numa_machine(profile)
    p = m.spawn()
    before = committed_kb(m)
    a = p.mmap(0, 16 * PAGE_SIZE, PROT_NONE, ANON)
    assert committed_kb(m) == before
    p.mprotect(a, 16 * PAGE_SIZE, RW)
    assert committed_kb(m) == before + 64
    # the charge stays with the VMA; 6.12+ gives back that of a VMA never faulted
    # (mprotect_unaccount_unfaulted), so a faulted page keeps it in both eras here
    p.write(a, 1)
    p.mprotect(a, 16 * PAGE_SIZE, PROT_NONE)
    assert committed_kb(m) == before + 64
    big = p.mmap(0, 1 << 40, PROT_NONE, ANON)
    assert errno_of(lambda: p.mprotect(big, 1 << 40, RW)) == errno.ENOMEM
    assert committed_kb(m) == before + 64
    assert "---p" in next(line for line in p.fs.read(f"/proc/{p.pid}/maps").splitlines()
                          if line.startswith(f"{big:x}-"))


def test_the_4_14_heuristic_counts_free_pages_and_the_admin_reserve():
    """4.14: a charge must be below the free pages; without CAP_SYS_ADMIN, less the
    admin reserve (min(3% of RAM, 8 MiB)). Mainline compares with all RAM."""
    for profile, fits in (("seed", False), ("mainline", True)):
        m = numa_machine(profile)
        p = m.spawn()
        p.mmap(0, 256 * MB, RW, ANON | MAP_POPULATE)  # 256 MiB no longer free
        ok = _errno(lambda p=p: p.mmap(0, 300 * MB, RW, ANON)) is None
        assert ok == fits, profile
    m = numa_machine("seed")
    root, user = m.spawn(), m.spawn(uid=1000)
    free_mb = int(next(line for line in m.fs.read("/proc/meminfo").splitlines()
                       if line.startswith("MemFree:")).split()[1]) // 1024
    size = (free_mb - 4) * MB  # fits for root, not within the 8 MiB reserve for a user
    assert _errno(lambda: root.mmap(0, size, RW, ANON)) is None
    assert _errno(lambda: user.mmap(0, size, RW, ANON)) == errno.ENOMEM


@pytest.mark.parametrize("profile", ["seed", "mainline"])
@pytest.mark.parametrize("flags", [0, 1, 3])
def test_mremap_charges_the_growth_of_an_accounted_mapping(profile, flags):
    """Regression (found by thpsim fuzz): growing a private writable mapping by more
    than RAM succeeded. vma_to_resize() charges new_len - old_len of a VM_ACCOUNT VMA
    through security_vm_enough_memory_mm(): ENOMEM, nothing moved or grown; Committed_AS
    counts the growth that succeeds."""
    from thpsim import MREMAP_FIXED, MREMAP_MAYMOVE

    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, 64 * MB, RW, ANON)
    p.write(a, 7)
    before = committed_kb(m)
    fl = {0: 0, 1: MREMAP_MAYMOVE, 3: MREMAP_MAYMOVE | MREMAP_FIXED}[flags]
    dst = 0x1000_0000_0000 if flags == 3 else 0  # far below a: no overlap
    assert errno_of(lambda: p.mremap(a, 64 * MB, 1 << 40, fl, dst)) == errno.ENOMEM
    assert committed_kb(m) == before and p.read(a) == 7
    # read-only or MAP_NORESERVE mappings are not accounted: they may grow
    b = p.mmap(0, 64 * MB, PROT_READ, ANON)
    assert p.mremap(b, 64 * MB, 1 << 40, MREMAP_MAYMOVE)
    assert committed_kb(m) == before
