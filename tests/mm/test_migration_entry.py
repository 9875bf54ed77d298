"""Every path that meets a PMD migration entry (kernel-semantics.md §4).

A THP migration is stopped while its PMD migration entry is installed (the
``Stepper`` drives the engine trap by trap); another system call then runs to
completion against the entry, and the migration finishes. The invariant
checker runs at the end of each test.
"""

import errno

import pytest
from mm_helpers import (
    RW,
    finish_migration,
    numa_machine,
    pmd_val,
    start_migration,
    thp_aligned,
    thp_region,
)

from thpsim import (
    MADV_DONTNEED,
    MADV_FREE,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_NONE,
    PROT_READ,
    DeliveredSignal,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.kernel.exit import do_exit
from thpsim.kernel.fork import copy_process
from thpsim.kernel.sched import WaitOn, run_to_completion
from thpsim.mm.fault import X86_PF_USER, X86_PF_WRITE, do_user_addr_fault
from thpsim.mm.gup import follow_page_info
from thpsim.mm.mlock import sys_mlock
from thpsim.mm.pgtable_generic import lookup_pmd
from thpsim.testing import Stepper

PROFILES = ["seed", "mainline"]


def setup(profile, nr=2):
    """Two nodes, no checker after each call (the tests check at their ends), ``nr``
    THPs on node 0, every page holding its address; a migration of the first to node 1
    stopped at its PMD migration entry."""
    m = numa_machine(profile, check=False)
    p = m.spawn(cpu=0)
    a = thp_region(p, nr)
    st, lst, _head = start_migration(m, p, a)
    return m, p, a, st, lst


def is_migration(m, p, a):
    return m.kernel.swp.is_pmd_migration_entry(pmd_val(p, a))


def node_of(m, p, a):
    pfn, huge, _ = follow_page_info(p.mm.find_vma(a), a, False)
    return m.kernel.mem.pfn_to_nid(pfn), huge


@pytest.mark.parametrize("profile", PROFILES)
def test_entry_format_while_migrating(profile):
    """A write migration entry in the profile's swap layout, soft-dirty in bit 1."""
    m, p, a, st, lst = setup(profile)
    v = pmd_val(p, a)
    swp = m.kernel.swp
    assert v & 0x181 == 0 and v & 0x2  # not present, not PSE, not PROTNONE; soft-dirty
    assert swp.is_writable_migration_entry(swp.pmd_to_swp_entry(v))
    if profile == "seed":
        assert (v >> 9) & 31 == 29  # 4.14.0 layout: TYPE in bits 9-13
    else:
        assert v >> 59 == 26  # L1TF layout: TYPE in bits 59-63
    assert follow_page_info(p.mm.find_vma(a), a, False)[0] == -1  # gup finds no page
    assert finish_migration(m, st, lst) == 0
    assert node_of(m, p, a) == (1, True)
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_fault_waits_on_pmd_migration_entry(profile):
    m, p, a, st, lst = setup(profile)
    ctx = m.kernel
    fault = Stepper(ctx, do_user_addr_fault(p.task, a + 5 * PAGE_SIZE,
                                            X86_PF_WRITE | X86_PF_USER), p.task)
    trap = None
    for _ in range(100):
        trap = fault.step()
        if isinstance(trap, WaitOn) and not trap.cond():
            break
    assert isinstance(trap, WaitOn) and trap.key[0] == "page_locked"
    assert fault.step() is trap  # still blocked while the migration runs
    assert finish_migration(m, st, lst) == 0
    assert fault.finish() is None  # the fault returns: the access is retried
    p.threads[0].write(a + 5 * PAGE_SIZE, 99)
    assert p.threads[0].read(a + 5 * PAGE_SIZE) == 99
    assert node_of(m, p, a) == (1, True)
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_munmap_whole_thp_during_migration(profile):
    """zap_huge_pmd on an entry: deposit freed, RSS -512, no page reference dropped."""
    m, p, a, st, lst = setup(profile)
    rss = p.mm.rss_stat[1]
    ptes = p.mm.nr_ptes
    p.munmap(a, HPAGE_PMD_SIZE)
    assert p.mm.rss_stat[1] == rss - 512
    assert p.mm.nr_ptes == ptes - 1
    finish_migration(m, st, lst)
    m.check_integrity()
    p.exit()
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_partial_munmap_splits_migration_entry(profile):
    """__split_huge_pmd on an entry: 512 PTE migration entries; the THP comes back PTE-mapped."""
    m, p, a, st, lst = setup(profile)
    before = m.kernel.vmstat.events["thp_split_pmd"]
    p.munmap(a + 10 * PAGE_SIZE, PAGE_SIZE)
    assert m.kernel.vmstat.events["thp_split_pmd"] == before + 1
    assert finish_migration(m, st, lst) == 0
    assert node_of(m, p, a) == (1, False)
    assert node_of(m, p, a + 11 * PAGE_SIZE) == (1, False)
    for i in range(0, HPAGE_PMD_SIZE, PAGE_SIZE):
        if i != 10 * PAGE_SIZE:
            assert p.threads[0].read(a + i) == a + i
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_mprotect_downgrades_write_entry(profile):
    """change_huge_pmd: a write entry becomes a read entry (B10's guard)."""
    m, p, a, st, lst = setup(profile)
    p.mprotect(a, HPAGE_PMD_SIZE, PROT_READ)
    swp = m.kernel.swp
    assert not swp.is_writable_migration_entry(swp.pmd_to_swp_entry(pmd_val(p, a)))
    finish_migration(m, st, lst)
    assert node_of(m, p, a) == (1, True)
    assert not pmd_val(p, a) & 2  # restored read-only
    with pytest.raises(DeliveredSignal):
        p.threads[0].write(a, 1)
    p.mprotect(a, HPAGE_PMD_SIZE, RW)
    p.threads[0].write(a, 1)
    assert p.threads[0].read(a) == 1
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_fork_during_migration(profile):
    """copy_huge_pmd on an entry: parent downgraded to read, child gets a copy and a
    fresh deposit; after the migration both map the new THP and COW keeps them apart."""
    m, p, a, st, lst = setup(profile)
    c = p.fork()
    swp = m.kernel.swp
    for proc in (p, c):
        v = pmd_val(proc, a)
        assert swp.is_pmd_migration_entry(v)
        assert not swp.is_writable_migration_entry(swp.pmd_to_swp_entry(v))
    assert c.mm.rss_stat[1] == 1024
    finish_migration(m, st, lst)
    assert node_of(m, p, a) == node_of(m, c, a) == (1, True)
    c.threads[0].write(a, 7)
    assert p.threads[0].read(a) == a and c.threads[0].read(a) == 7
    p.threads[0].write(a + PAGE_SIZE, 8)
    assert c.threads[0].read(a + PAGE_SIZE) == a + PAGE_SIZE
    m.check_integrity()
    c.exit()
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_mremap_moves_migration_entry(profile):
    m, p, a, st, lst = setup(profile)
    dst = thp_aligned(p, 2, PROT_NONE)
    new = p.mremap(a, HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, dst)
    assert new == dst and is_migration(m, p, dst)
    finish_migration(m, st, lst)
    assert node_of(m, p, dst) == (1, True)
    assert p.threads[0].read(dst + 3 * PAGE_SIZE) == a + 3 * PAGE_SIZE
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_madvise_during_migration(profile):
    """MADV_FREE skips an entry; MADV_DONTNEED zaps it."""
    m, p, a, st, lst = setup(profile)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_FREE)
    assert is_migration(m, p, a)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_DONTNEED)
    assert pmd_val(p, a) == 0
    finish_migration(m, st, lst)
    assert p.threads[0].read(a) == 0
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_move_pages_query_during_migration(profile):
    m, p, a, st, lst = setup(profile)
    ret, status = p.move_pages(0, [a], None)
    assert status == [-errno.ENOENT if profile == "mainline" else -errno.EFAULT]
    finish_migration(m, st, lst)
    assert p.move_pages(0, [a], None) == (0, [1])
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_exit_during_migration(profile):
    m, p, a, st, lst = setup(profile)
    assert p.exit() == []  # check_mm: no bad rss-counter, no leaked nr_ptes
    finish_migration(m, st, lst)
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_mlock_during_migration_waits_then_mlocks_new_thp(profile):
    """mlock's populate faults on the entry and sleeps until the migration ends; the
    new THP is mlocked (remove_migration_pmd under VM_LOCKED, then populate)."""
    m, p, a, st, lst = setup(profile)
    ml = Stepper(m.kernel, sys_mlock(p.mm, a, HPAGE_PMD_SIZE, True), p.task)
    trap = None
    for _ in range(200):
        trap = ml.step()
        if isinstance(trap, WaitOn) and not trap.cond():
            break
    assert isinstance(trap, WaitOn)
    finish_migration(m, st, lst)
    assert ml.finish() == 0
    assert node_of(m, p, a) == (1, True)
    assert m.kernel.vmstat.global_zone_page_state("nr_mlock") == 512
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_fork_waits_for_the_remove_walk_on_the_anon_vma_lock(profile):
    """The regression the exhaustive search found (fork_vs_migration, bound 2): fork
    links the child's VMA into the anon_vma while remove_migration_ptes() walks it.
    Linking needs the anon_vma lock for write, so fork waits for the walk and the
    child copies the restored PMD; linked mid-walk, the child would keep a migration
    entry no one removes."""
    m, p, a, st, lst = setup(profile)
    ctx = m.kernel
    av = p.mm.find_vma(a).anon_vma.root
    # on to the remove walk, which holds the anon_vma lock for read
    st.run_until(lambda: bool(av.rwsem.readers) and "remove_migration" in _frames(st.gen))
    fork = Stepper(ctx, copy_process(ctx, p.task, 0, 0), task=p.task)
    for _ in range(10_000):
        t = fork.step()
        assert t is not None, "fork finished while the walk held the anon_vma lock"
        if isinstance(t, WaitOn) and not t.cond():
            break
    assert "anon_vma" in repr(fork.trap) and "write" in repr(fork.trap)
    for _ in range(10):  # it stays blocked while the walk holds the lock
        assert fork.step() is fork.trap
    finish_migration(m, st, lst)
    child = fork.finish()
    c_pmd = lookup_pmd(child.mm, a)
    v = c_pmd[0][c_pmd[1]]
    assert not ctx.swp.is_pmd_migration_entry(v) and v & 1, f"child PMD {v:#x}"
    assert run_to_completion(do_exit(ctx, child)) == []
    m.check_integrity()


def _frames(gen):
    names = []
    while gen is not None and hasattr(gen, "gi_code"):
        names.append(gen.gi_code.co_name)
        gen = gen.gi_yieldfrom
    return " ".join(names)
