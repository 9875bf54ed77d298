"""madvise's flag, fork, WILLNEED, REMOVE and POPULATE advice on private anonymous memory.

Models tested: mm/madvise.c madvise_behavior_valid(), madvise_behavior() (4.14),
madvise_willneed(), madvise_remove(), 5.14's madvise_populate() (profile switch
``madvise_populate``), kernel/fork.c dup_mmap()'s VM_DONTCOPY/VM_WIPEONFORK, and the
VmFlags codes of fs/proc/task_mmu.c show_smap_vma_flags(). Before this, every advice
here but NORMAL gave EINVAL (issue 11).
"""

from __future__ import annotations

import errno
import signal

import pytest
from fs_helpers import PM_PRESENT, map_small, pagemap, smaps_of, smaps_records
from mm_helpers import ANON, RW, delta, errno_of, is_pmd_mapped, numa_machine, thp_area

from thpsim import (
    MADV_COLD,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_HUGEPAGE,
    MADV_HWPOISON,
    MADV_KEEPONFORK,
    MADV_MERGEABLE,
    MADV_NOHUGEPAGE,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_UNMERGEABLE,
    MADV_WILLNEED,
    MADV_WIPEONFORK,
    PROT_NONE,
    PROT_READ,
)
from thpsim.arch.x86_64.pgtable import PAGE_SIZE
from thpsim.errors import EHWPOISON, DeliveredSignal
from thpsim.fs.proc.task_mmu import _MNEMONICS
from thpsim.mm.madvise import madvise_behavior_valid, madvise_need_mmap_write
from thpsim.mm.mm_types import (
    VM_DONTCOPY,
    VM_DONTDUMP,
    VM_IO,
    VM_MERGEABLE,
    VM_PFNMAP,
    VM_RAND_READ,
    VM_SEQ_READ,
    VM_WIPEONFORK,
)
from thpsim.profiles import make_profile

PROFILES = ("seed", "mainline")


def flags_at(p, addr):
    return str(smaps_of(p.fs, addr)["VmFlags"]).split()


def vma_count(p):
    return len(smaps_records(p.fs.read("/proc/self/smaps")))


def filled(p, npages):
    """A VMA of ``npages`` 4 KiB pages (no THP), page i holding i + 1."""
    a = map_small(p, npages)
    p.madvise(a, npages * PAGE_SIZE, MADV_NOHUGEPAGE)
    for i in range(npages):
        p.threads[0].write(a + i * PAGE_SIZE, i + 1)
    return a


# ---------------------------------------------------------------- flag advice
#: advice -> (the VM flag it sets, its VmFlags code, the advice that clears it)
FLAG_ADVICE = {
    MADV_RANDOM: (VM_RAND_READ, "rr", MADV_NORMAL),
    MADV_SEQUENTIAL: (VM_SEQ_READ, "sr", MADV_NORMAL),
    MADV_DONTFORK: (VM_DONTCOPY, "dc", MADV_DOFORK),
    MADV_WIPEONFORK: (VM_WIPEONFORK, "wf", MADV_KEEPONFORK),
    MADV_DONTDUMP: (VM_DONTDUMP, "dd", MADV_DODUMP),
    MADV_MERGEABLE: (VM_MERGEABLE, "mg", MADV_UNMERGEABLE),
}


def test_vmflags_codes_are_the_kernels():
    """show_smap_vma_flags()'s codes for the bits madvise sets (include/linux/mm.h bits)."""
    for flag, code, _ in FLAG_ADVICE.values():
        assert _MNEMONICS[flag.bit_length() - 1] == code


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("advice", list(FLAG_ADVICE))
def test_flag_advice_splits_sets_and_merges_back(profile, advice):
    """madvise_behavior(): the middle page of a 3-page VMA gets the flag (the VMA is
    split in three); the clearing advice merges the three back into one. Data stays."""
    flag, code, undo = FLAG_ADVICE[advice]
    m = numa_machine(profile)
    p = m.spawn()
    a = filled(p, 3)
    n = vma_count(p)
    assert code not in flags_at(p, a)
    assert p.madvise(a + PAGE_SIZE, PAGE_SIZE, advice) == 0
    assert vma_count(p) == n + 2
    assert code in flags_at(p, a + PAGE_SIZE)
    assert code not in flags_at(p, a) and code not in flags_at(p, a + 2 * PAGE_SIZE)
    assert p.mm.find_vma(a + PAGE_SIZE).vm_flags & flag
    assert p.madvise(a + PAGE_SIZE, PAGE_SIZE, advice) == 0  # again: nothing changes
    assert vma_count(p) == n + 2
    assert p.madvise(a, 3 * PAGE_SIZE, undo) == 0
    assert vma_count(p) == n
    assert code not in flags_at(p, a)
    assert [p.threads[0].read(a + i * PAGE_SIZE) for i in range(3)] == [1, 2, 3]


@pytest.mark.parametrize("profile", PROFILES)
def test_unchanged_flags_split_nothing(profile):
    """madvise_behavior(): advice that leaves vm_flags as they are returns at once: no
    VMA split, so no huge PMD split at the boundary (before, MADV_HUGEPAGE on part of
    a THP in a VM_HUGEPAGE VMA split the PMD and re-merged the VMA)."""
    m = numa_machine(profile, thp="madvise")
    p = m.spawn()
    a = thp_area(p, fault=False)
    p.madvise(a, 2 << 20, MADV_HUGEPAGE)
    p.write(a, 1)
    assert is_pmd_mapped(p, a)
    n = vma_count(p)
    before = dict(m.kernel.vmstat.events)
    for advice in (MADV_HUGEPAGE, MADV_NORMAL, MADV_DOFORK, MADV_KEEPONFORK, MADV_DODUMP,
                   MADV_UNMERGEABLE):
        assert p.madvise(a + PAGE_SIZE, PAGE_SIZE, advice) == 0
    assert delta(m, before) == {}
    assert is_pmd_mapped(p, a) and vma_count(p) == n


def test_random_and_sequential_replace_each_other():
    """MADV_RANDOM clears VM_SEQ_READ and MADV_SEQUENTIAL VM_RAND_READ; MADV_NORMAL
    clears both."""
    m = numa_machine()
    p = m.spawn()
    a = filled(p, 2)
    p.madvise(a, 2 * PAGE_SIZE, MADV_SEQUENTIAL)
    p.madvise(a, 2 * PAGE_SIZE, MADV_RANDOM)
    f = flags_at(p, a)
    assert "rr" in f and "sr" not in f
    p.madvise(a, 2 * PAGE_SIZE, MADV_SEQUENTIAL)
    f = flags_at(p, a)
    assert "sr" in f and "rr" not in f
    p.madvise(a, 2 * PAGE_SIZE, MADV_NORMAL)
    f = flags_at(p, a)
    assert "sr" not in f and "rr" not in f


def test_flag_advice_over_a_hole_is_enomem_after_the_mapped_parts():
    """do_madvise(): the advice reaches every mapped part, then -ENOMEM for the hole."""
    m = numa_machine()
    p = m.spawn()
    a = filled(p, 3)
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    assert errno_of(p.madvise, a, 3 * PAGE_SIZE, MADV_DONTDUMP) == errno.ENOMEM
    assert "dd" in flags_at(p, a) and "dd" in flags_at(p, a + 2 * PAGE_SIZE)


def test_mergeable_is_only_a_flag():
    """ksm_madvise(): VM_MERGEABLE set (ksmd is not modelled: nothing merges, the pages
    stay where they are); UNMERGEABLE clears it; fork keeps it in the child."""
    m = numa_machine()
    p = m.spawn()
    a = filled(p, 2)
    pm = pagemap(p.fs, a, 2)
    p.madvise(a, 2 * PAGE_SIZE, MADV_MERGEABLE)
    assert pagemap(p.fs, a, 2) == pm
    c = p.fork()
    assert "mg" in flags_at(c, a)
    p.madvise(a, 2 * PAGE_SIZE, MADV_UNMERGEABLE)
    assert "mg" not in flags_at(p, a)


@pytest.mark.parametrize("advice,flag", [(MADV_DOFORK, VM_IO), (MADV_DODUMP, VM_PFNMAP)])
def test_dofork_on_io_and_dodump_on_special_are_einval(advice, flag):
    """madvise_behavior(): MADV_DOFORK on a VM_IO VMA and MADV_DODUMP on a VM_SPECIAL
    one are -EINVAL and change nothing (the flag set by hand: the model maps no device
    memory)."""
    m = numa_machine(check=False)
    p = m.spawn()
    a = filled(p, 2)
    vma = p.mm.find_vma(a)
    vma.vm_flags |= flag | VM_DONTCOPY | VM_DONTDUMP
    before = vma.vm_flags
    assert errno_of(p.madvise, a + PAGE_SIZE, PAGE_SIZE, advice) == errno.EINVAL
    assert p.mm.find_vma(a) is vma and vma.vm_flags == before
    assert (vma.vm_start, vma.vm_end) == (a, a + 2 * PAGE_SIZE)


def test_mergeable_ignored_on_special_vma():
    """ksm_madvise(): MADV_MERGEABLE on a VM_PFNMAP/VM_IO VMA is ignored: 0, no flag."""
    m = numa_machine(check=False)
    p = m.spawn()
    a = filled(p, 2)
    vma = p.mm.find_vma(a)
    vma.vm_flags |= VM_IO
    assert p.madvise(a, 2 * PAGE_SIZE, MADV_MERGEABLE) == 0
    assert not vma.vm_flags & VM_MERGEABLE


# ---------------------------------------------------------------- fork semantics
def test_dontfork_child_has_no_mapping_and_dofork_restores():
    """VM_DONTCOPY: dup_mmap() skips the VMA, so the child faults SIGSEGV there and its
    maps lack it; the parent keeps its data. After MADV_DOFORK a child inherits it."""
    m = numa_machine()
    p = m.spawn()
    a = filled(p, 2)
    p.madvise(a, 2 * PAGE_SIZE, MADV_DONTFORK)
    c = p.fork()
    assert c.mm.find_vma(a) is None or c.mm.find_vma(a).vm_start > a
    with pytest.raises(DeliveredSignal) as e:
        c.threads[0].read(a)
    assert e.value.si_signo == signal.SIGSEGV
    assert p.threads[0].read(a + PAGE_SIZE) == 2
    p.madvise(a, 2 * PAGE_SIZE, MADV_DOFORK)
    c2 = p.fork()
    assert c2.threads[0].read(a + PAGE_SIZE) == 2
    assert "dc" not in flags_at(c2, a)


def test_wipeonfork_child_reads_zeroes_and_keeponfork_restores():
    """VM_WIPEONFORK: the child gets the VMA (flag kept) but empty: zero-filled on
    fault, its pagemap empty; the parent's pages stay. MADV_KEEPONFORK: copied again."""
    m = numa_machine()
    p = m.spawn()
    a = filled(p, 2)
    p.madvise(a, 2 * PAGE_SIZE, MADV_WIPEONFORK)
    c = p.fork()
    assert "wf" in flags_at(c, a)
    assert not any(w & PM_PRESENT for w in pagemap(c.fs, a, 2))
    assert c.threads[0].read(a + PAGE_SIZE) == 0
    c.threads[0].write(a, 77)
    assert p.threads[0].read(a) == 1
    p.madvise(a, 2 * PAGE_SIZE, MADV_KEEPONFORK)
    c2 = p.fork()
    assert [c2.threads[0].read(a + i * PAGE_SIZE) for i in range(2)] == [1, 2]


# ---------------------------------------------------------------- WILLNEED, REMOVE
@pytest.mark.parametrize("profile", PROFILES)
def test_willneed_does_nothing_and_succeeds(profile):
    """madvise_willneed() on anonymous memory with CONFIG_SWAP: no swap entries to read
    in, 0; page tables and VMAs unchanged (a hole still -ENOMEM)."""
    m = numa_machine(profile)
    p = m.spawn()
    a = filled(p, 3)
    pm, n = pagemap(p.fs, a, 3), vma_count(p)
    assert p.madvise(a, 3 * PAGE_SIZE, MADV_WILLNEED) == 0
    assert pagemap(p.fs, a, 3) == pm and vma_count(p) == n
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    assert errno_of(p.madvise, a, 3 * PAGE_SIZE, MADV_WILLNEED) == errno.ENOMEM


@pytest.mark.parametrize("profile", PROFILES)
def test_remove_on_private_anonymous_is_einval(profile):
    """madvise_remove(): no vm_file (private anonymous memory) is -EINVAL; nothing is
    freed."""
    m = numa_machine(profile)
    p = m.spawn()
    a = filled(p, 2)
    assert errno_of(p.madvise, a, 2 * PAGE_SIZE, MADV_REMOVE) == errno.EINVAL
    assert p.threads[0].read(a + PAGE_SIZE) == 2


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("advice", [24, 26, 1000, -1])
def test_unmodelled_and_unknown_advice_is_einval(profile, advice):
    """DONTNEED_LOCKED (24, 5.18) is not modelled: EINVAL in both profiles, as 4.14
    gives; unknown values are EINVAL everywhere; nothing changes. (COLD, PAGEOUT and
    COLLAPSE: tests/mm/test_madvise_cold.py.)"""
    m = numa_machine(profile)
    p = m.spawn()
    a = filled(p, 2)
    pm, n = pagemap(p.fs, a, 2), vma_count(p)
    assert errno_of(p.madvise, a, 2 * PAGE_SIZE, advice) == errno.EINVAL
    assert pagemap(p.fs, a, 2) == pm and vma_count(p) == n


# ---------------------------------------------------------------- POPULATE (5.14)
def rss_kb(p):
    return sum(int(rec["Rss"]) for rec in smaps_records(p.fs.read("/proc/self/smaps")))


def fresh(p, npages, prot=RW):
    a = p.mmap(0, (npages + 1) * PAGE_SIZE, prot, ANON)
    p.munmap(a + npages * PAGE_SIZE, PAGE_SIZE)
    p.madvise(a, npages * PAGE_SIZE, MADV_NOHUGEPAGE)
    return a


@pytest.mark.parametrize("advice", [MADV_POPULATE_READ, MADV_POPULATE_WRITE])
def test_populate_is_einval_in_4_14(advice):
    m = numa_machine("seed")
    p = m.spawn()
    a = fresh(p, 4)
    assert errno_of(p.madvise, a, 4 * PAGE_SIZE, advice) == errno.EINVAL
    assert not any(w & PM_PRESENT for w in pagemap(p.fs, a, 4))


def test_populate_write_faults_in_private_pages():
    """MADV_POPULATE_WRITE: every page present, each a page of its own (RSS grows by
    the range), zero-filled; a second call changes nothing."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = fresh(p, 8)
    before = rss_kb(p)
    assert p.madvise(a, 8 * PAGE_SIZE, MADV_POPULATE_WRITE) == 0
    pm = pagemap(p.fs, a, 8)
    assert all(w & PM_PRESENT for w in pm)
    assert rss_kb(p) == before + 8 * 4
    assert p.madvise(a, 8 * PAGE_SIZE, MADV_POPULATE_WRITE) == 0
    assert pagemap(p.fs, a, 8) == pm
    assert p.threads[0].read(a + 3 * PAGE_SIZE) == 0


def test_populate_read_maps_the_zero_page():
    """MADV_POPULATE_READ on untouched anonymous memory maps the shared zero page:
    present in pagemap, no RSS; also on a PROT_READ mapping."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = fresh(p, 4)
    before = rss_kb(p)
    assert p.madvise(a, 4 * PAGE_SIZE, MADV_POPULATE_READ) == 0
    assert all(w & PM_PRESENT for w in pagemap(p.fs, a, 4))
    assert rss_kb(p) == before
    b = fresh(p, 2, PROT_READ)
    assert p.madvise(b, 2 * PAGE_SIZE, MADV_POPULATE_READ) == 0
    assert all(w & PM_PRESENT for w in pagemap(p.fs, b, 2))


@pytest.mark.parametrize("advice,prot", [(MADV_POPULATE_READ, PROT_NONE),
                                         (MADV_POPULATE_WRITE, PROT_NONE),
                                         (MADV_POPULATE_WRITE, PROT_READ)])
def test_populate_without_permission_is_einval(advice, prot):
    """faultin_vma_page_range(): check_vma_flags() failing is -EINVAL, not -EFAULT;
    nothing is faulted in."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = fresh(p, 2, prot)
    assert errno_of(p.madvise, a, 2 * PAGE_SIZE, advice) == errno.EINVAL
    assert not any(w & PM_PRESENT for w in pagemap(p.fs, a, 2))


def test_populate_stops_at_a_hole_or_a_bad_vma():
    """The range is populated VMA by VMA up to the failure: a hole is -ENOMEM, a
    read-only VMA under POPULATE_WRITE -EINVAL; the pages before it stay faulted in
    (Linux does not undo them)."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = fresh(p, 4)
    p.munmap(a + 2 * PAGE_SIZE, PAGE_SIZE)
    assert errno_of(p.madvise, a, 4 * PAGE_SIZE, MADV_POPULATE_WRITE) == errno.ENOMEM
    assert [bool(w & PM_PRESENT) for w in pagemap(p.fs, a, 2)] == [True, True]
    b = fresh(p, 4)
    p.mprotect(b + 2 * PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ)
    assert errno_of(p.madvise, b, 4 * PAGE_SIZE, MADV_POPULATE_WRITE) == errno.EINVAL
    assert [bool(w & PM_PRESENT) for w in pagemap(p.fs, b, 4)] == [True, True, False, False]


def test_populate_of_a_poisoned_page_is_ehwpoison():
    """FOLL_HWPOISON: a page poisoned by MADV_HWPOISON gives -EHWPOISON."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = filled(p, 2)
    with pytest.raises(DeliveredSignal) as sig:  # mainline's MF_ACTION_REQUIRED
        p.madvise(a, PAGE_SIZE, MADV_HWPOISON)
    assert sig.value.si_signo == signal.SIGBUS
    assert errno_of(p.madvise, a, 2 * PAGE_SIZE, MADV_POPULATE_READ) == EHWPOISON


def test_mmap_lock_mode_and_validity_per_profile():
    """madvise_need_mmap_write(): read for REMOVE, WILLNEED, DONTNEED, FREE and
    POPULATE_*, write for the flag advice; madvise_behavior_valid() per profile."""
    seed, mainline = make_profile("seed"), make_profile("mainline")
    for advice in (MADV_REMOVE, MADV_WILLNEED, MADV_POPULATE_READ, MADV_POPULATE_WRITE):
        assert not madvise_need_mmap_write(advice)
    for advice in (*FLAG_ADVICE, MADV_NORMAL, MADV_HUGEPAGE):
        assert madvise_need_mmap_write(advice)
        assert madvise_behavior_valid(advice, seed) and madvise_behavior_valid(advice, mainline)
    for advice in (MADV_POPULATE_READ, MADV_POPULATE_WRITE):
        assert not madvise_behavior_valid(advice, seed)
        assert madvise_behavior_valid(advice, mainline)
    for advice in (MADV_COLD, MADV_PAGEOUT, 25):
        assert not madvise_behavior_valid(advice, seed)
        assert madvise_behavior_valid(advice, mainline)
    for advice in (MADV_COLD, MADV_PAGEOUT, 25, MADV_POPULATE_READ):
        assert not madvise_need_mmap_write(advice)
