"""Faults, THP, COW, fork, split, zap and teardown, observed as a kernel test would.

Each test runs on a small booted Machine with the invariant checker after every
system call (the ``machine`` fixture, check=True).
"""

import errno
import signal

import pytest
from mm_helpers import ANON, MB, RW, numa_machine, thp_aligned

import thpsim
import thpsim.mm.memory as memory_c
from thpsim import (
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    DeliveredSignal,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.mm.gup import follow_page_info
from thpsim.mm.page_alloc import (
    node_free_pages,
    totalram_pages,
)


def ev(m, name):
    return m.kernel.vmstat.events[name]


def thp_mapped(p, addr):
    vma = p.mm.find_vma(addr)
    pfn, huge, zero = follow_page_info(vma, addr, False)
    return pfn, huge, zero




def test_thp_fault_maps_pmd_and_counts(machine):
    p = machine.spawn(cpu=0)
    a = p.mmap(0, 4 * MB, RW, ANON)
    assert a % HPAGE_PMD_SIZE == 0 or True
    t = p.threads[0]
    base = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    before = ev(machine, "thp_fault_alloc")
    t.write(base + 5 * PAGE_SIZE, 42)
    assert ev(machine, "thp_fault_alloc") == before + 1
    pfn, huge, zero = thp_mapped(p, base)
    assert huge and not zero
    assert p.mm.rss_stat[1] == 512
    assert t.read(base + 5 * PAGE_SIZE) == 42
    assert t.read(base) == 0  # never written reads 0
    # the THP was allocated on the faulting CPU's node
    assert machine.kernel.mem.pfn_to_nid(pfn) == 0


def test_thp_on_node_of_cpu():
    m = numa_machine(cpus=2)
    p = m.spawn(cpu=1)
    a = p.mmap(0, 2 * MB, RW, ANON)
    base = a & ~(HPAGE_PMD_SIZE - 1)
    p.threads[0].write(a, 1)
    pfn, huge, _ = thp_mapped(p, a)
    assert m.kernel.mem.pfn_to_nid(pfn) == 1
    assert huge == (base == a)


def test_read_fault_maps_zero_page_then_write_allocates():
    m = numa_machine(thp="never")
    p = m.spawn()
    a = p.mmap(0, 64 * 1024, RW, ANON)
    t = p.threads[0]
    assert t.read(a) == 0
    pfn, huge, zero = thp_mapped(p, a)
    assert zero and pfn == m.kernel.zero_pfn
    assert p.mm.rss_stat[1] == 0
    t.write(a, 7)
    pfn2, _, zero2 = thp_mapped(p, a)
    assert not zero2 and pfn2 != pfn
    assert t.read(a) == 7 and p.mm.rss_stat[1] == 1


def test_huge_zero_page_on_read_then_cow_to_thp():
    m = numa_machine()
    p = m.spawn()
    base = thp_aligned(p)
    t = p.threads[0]
    assert t.read(base) == 0
    assert ev(m, "thp_zero_page_alloc") == 1
    _, huge, zero = thp_mapped(p, base)
    assert huge and zero
    t.write(base + PAGE_SIZE, 3)
    _, huge, zero = thp_mapped(p, base)
    assert huge and not zero
    assert t.read(base + PAGE_SIZE) == 3 and t.read(base) == 0


@pytest.mark.parametrize("mode,hugepage,expect", [
    ("always", False, True), ("madvise", False, False), ("madvise", True, True),
    ("never", True, False),
])
def test_thp_enabled_modes(mode, hugepage, expect):
    m = numa_machine(thp=mode)
    p = m.spawn()
    a = p.mmap(0, 4 * MB, RW, ANON)
    base = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    if hugepage:
        p.madvise(a, 4 * MB, MADV_HUGEPAGE)
    p.threads[0].write(base, 1)
    assert thp_mapped(p, base)[1] is expect


def test_nohugepage_vma_gets_base_pages(machine):
    p = machine.spawn()
    a = p.mmap(0, 4 * MB, RW, ANON)
    p.madvise(a, 4 * MB, MADV_NOHUGEPAGE)
    base = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    p.threads[0].write(base, 1)
    assert not thp_mapped(p, base)[1]


def test_fallback_when_node_fragmented():
    m = numa_machine(cpus=2)
    held = m.fragment(0)
    p = m.spawn(cpu=0)
    base = thp_aligned(p)
    p.threads[0].write(base, 9)
    assert ev(m, "thp_fault_fallback") == 1
    assert ev(m, "thp_fault_alloc") == 0
    pfn, huge, _ = thp_mapped(p, base)
    assert not huge and m.kernel.mem.pfn_to_nid(pfn) == 0  # seed: local only, no remote THP
    p.exit()
    m.unfragment(held)
    m.check_integrity()


def test_mainline_falls_back_remote_for_madvised_thp():
    m = numa_machine(cpus=2, profile="mainline")
    held = m.fragment(0)
    p = m.spawn(cpu=0)
    a = p.mmap(0, 4 * MB, RW, ANON)
    p.madvise(a, 4 * MB, MADV_HUGEPAGE)
    base = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    p.threads[0].write(base, 9)
    pfn, huge, _ = thp_mapped(p, base)
    assert huge and m.kernel.mem.pfn_to_nid(pfn) == 1
    p.exit()
    m.unfragment(held)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_fork_cow_of_thp(profile):
    m = numa_machine(profile=profile)
    p = m.spawn()
    a = p.mmap(0, 2 * MB, RW, ANON) if profile == "mainline" else p.mmap(0, 4 * MB, RW, ANON)
    base = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    t = p.threads[0]
    for i in range(0, HPAGE_PMD_SIZE, PAGE_SIZE):
        t.write(base + i, i + 1)
    c = p.fork()
    ct = c.threads[0]
    pfn_p = thp_mapped(p, base)[0]
    assert thp_mapped(c, base)[0] == pfn_p  # shared
    assert m.kernel.pages.refcount[pfn_p] == 2
    split_before = ev(m, "thp_split_pmd")
    ct.write(base + PAGE_SIZE, 1000)
    assert ct.read(base + PAGE_SIZE) == 1000 and t.read(base + PAGE_SIZE) == PAGE_SIZE + 1
    assert ct.read(base + 2 * PAGE_SIZE) == 2 * PAGE_SIZE + 1
    if profile == "seed":
        # 4.14: the whole THP is copied; the child keeps a PMD mapping
        assert thp_mapped(c, base)[1] and ev(m, "thp_split_pmd") == split_before
        assert thp_mapped(c, base)[0] != pfn_p
    else:
        # 5.8+: the child's PMD is split and one 4 KiB page copied
        assert not thp_mapped(c, base)[1] and ev(m, "thp_split_pmd") == split_before + 1
        assert thp_mapped(c, base + 2 * PAGE_SIZE)[0] == pfn_p + 2
    # the parent may now write in place
    t.write(base, 5)
    assert ct.read(base) == 1
    c.exit()
    p.exit()


def test_fork_cow_base_pages():
    m = numa_machine(thp="never")
    p = m.spawn()
    a = p.mmap(0, 64 * 1024, RW, ANON)
    t = p.threads[0]
    t.write(a, 1)
    c = p.fork()
    assert c.threads[0].read(a) == 1
    c.threads[0].write(a, 2)
    assert t.read(a) == 1 and c.threads[0].read(a) == 2
    t.write(a, 3)  # sole owner again: reuse
    assert c.threads[0].read(a) == 2


def test_partial_munmap_splits_pmd_and_queues_deferred_split(machine):
    m = machine
    p = m.spawn()
    base = thp_aligned(p)
    t = p.threads[0]
    for i in range(0, HPAGE_PMD_SIZE, PAGE_SIZE):
        t.write(base + i, i)
    p.munmap(base + 100 * PAGE_SIZE, 10 * PAGE_SIZE)
    assert ev(m, "thp_split_pmd") == 1
    assert ev(m, "thp_deferred_split_page") == 1
    assert t.read(base + 99 * PAGE_SIZE) == 99 * PAGE_SIZE
    assert t.read(base + 110 * PAGE_SIZE) == 110 * PAGE_SIZE
    with pytest.raises(DeliveredSignal) as e:
        t.read(base + 100 * PAGE_SIZE)
    assert e.value.si_signo == signal.SIGSEGV and e.value.si_code == thpsim.errors.SEGV_MAPERR
    assert p.mm.rss_stat[1] == 502
    # drop_caches runs the deferred-split shrinker: the THP becomes 512 pages, 10 freed
    from thpsim.kernel.sched import run_to_completion
    from thpsim.mm.huge_memory import deferred_split_scan

    free_before = node_free_pages(m.kernel, 0)
    assert run_to_completion(deferred_split_scan(m.kernel)) == 1
    assert ev(m, "thp_split_page") == 1
    assert node_free_pages(m.kernel, 0) == free_before + 10
    m.check_integrity()
    assert t.read(base + 300 * PAGE_SIZE) == 300 * PAGE_SIZE


def test_madvise_free_partial_thp_splits_page(machine):
    p = machine.spawn()
    base = thp_aligned(p)
    t = p.threads[0]
    t.write(base, 1)
    p.madvise(base, 8 * PAGE_SIZE, MADV_FREE)
    assert ev(machine, "thp_split_pmd") == 1
    assert ev(machine, "thp_split_page") == 1
    assert ev(machine, "pglazyfree") == 8
    assert t.read(base) == 1  # no reclaim in the model: lazily freed data stays


def test_dontneed_reads_zero(machine):
    p = machine.spawn()
    a = p.mmap(0, 4 * MB, RW, ANON)
    t = p.threads[0]
    for off in (0, 3 * MB):
        t.write(a + off, 5)
    p.madvise(a, 4 * MB, MADV_DONTNEED)
    assert t.read(a) == 0 and t.read(a + 3 * MB) == 0
    assert p.mm.rss_stat[1] == 0


def test_mprotect_readonly_then_write_segv(machine):
    p = machine.spawn()
    a = p.mmap(0, 4 * MB, RW, ANON)
    base = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    t = p.threads[0]
    t.write(base, 1)
    p.mprotect(base, HPAGE_PMD_SIZE, PROT_READ)
    assert thp_mapped(p, base)[1]  # a whole PMD: changed in place, not split
    with pytest.raises(DeliveredSignal) as e:
        t.write(base, 2)
    assert e.value.si_code == thpsim.errors.SEGV_ACCERR and e.value.si_addr == base
    assert t.read(base) == 1
    p.mprotect(base, PAGE_SIZE, PROT_READ | PROT_WRITE)  # cuts the PMD
    assert ev(machine, "thp_split_pmd") == 1
    t.write(base, 3)
    assert t.read(base) == 3
    p.mprotect(base + PAGE_SIZE, PAGE_SIZE, PROT_NONE)
    with pytest.raises(DeliveredSignal):
        t.read(base + PAGE_SIZE)


def test_mremap_moves_thp_whole(machine):
    p = machine.spawn()
    base = thp_aligned(p)
    t = p.threads[0]
    t.write(base, 11)
    pfn = thp_mapped(p, base)[0]
    dst = p.mmap(0, 8 * MB, PROT_NONE, ANON)
    dst = (dst + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    new = p.mremap(base, HPAGE_PMD_SIZE, HPAGE_PMD_SIZE,
                   thpsim.MREMAP_MAYMOVE | thpsim.MREMAP_FIXED, dst)
    assert new == dst
    assert thp_mapped(p, dst)[:2] == (pfn, True)
    assert t.read(dst) == 11
    assert ev(machine, "thp_split_pmd") == 0


def test_mlock_populates_and_counts(machine):
    p = machine.spawn()
    a = p.mmap(0, 4 * MB, RW, ANON)
    p.mlock(a, 4 * MB)
    assert p.mm.rss_stat[1] == 1024
    assert machine.kernel.vmstat.global_zone_page_state("nr_mlock") == 1024
    p.munlock(a, 4 * MB)
    assert machine.kernel.vmstat.global_zone_page_state("nr_mlock") == 0


def test_mlock_of_prot_none_is_enomem_after_locking(machine):
    """Kernel oracle (6.1): mlock() of a PROT_NONE mapping is -1 ENOMEM, yet VmLck counts
    it (VM_LOCKED is set before populating fails); mmap() with MAP_POPULATE or MAP_LOCKED
    of PROT_NONE memory succeeds (populate errors are ignored there)."""
    from thpsim.mm.mmap import MAP_LOCKED, MAP_POPULATE, PROT_NONE

    p = machine.spawn()
    a = p.mmap(0, 2 * MB, PROT_NONE, ANON)
    with pytest.raises(OSError) as e:
        p.mlock(a, 2 * MB)
    assert e.value.errno == errno.ENOMEM
    assert "VmLck:\t    2048 kB" in p.fs.read("/proc/self/status")
    assert p.mm.rss_stat[1] == 0
    p.munlock(a, 2 * MB)
    assert p.mmap(0, 2 * MB, PROT_NONE, ANON | MAP_POPULATE) > 0
    assert p.mmap(0, 2 * MB, PROT_NONE, ANON | MAP_LOCKED) > 0
    assert "VmLck:\t    2048 kB" in p.fs.read("/proc/self/status")


def test_exit_returns_every_frame(machine):
    m = machine
    free0 = totalram_pages(m.kernel) and sum(
        node_free_pages(m.kernel, n) for n in m.kernel.mem.nodes)
    p = m.spawn()
    a = p.mmap(0, 8 * MB, RW, ANON)
    t = p.threads[0]
    for i in range(0, 8 * MB, 64 * 1024):
        t.write(a + i, i)
    c = p.fork()
    c.threads[0].write(a, 1)
    p.munmap(a + 3 * MB, 5 * PAGE_SIZE)
    assert c.exit() == [] and p.exit() == []
    free1 = sum(node_free_pages(m.kernel, n) for n in m.kernel.mem.nodes)
    # everything is back except the huge zero page, which is never freed
    assert free1 == free0
    assert m.kernel.vmstat.global_node_page_state("nr_anon_pages") == 0


@pytest.mark.parametrize("call,args,err", [
    ("mmap", (0, 0, RW, ANON), errno.EINVAL),
    ("mmap", (0, 4096, RW, MAP_ANONYMOUS), errno.EINVAL),
    ("mmap", (1, 4096, RW, ANON | MAP_FIXED), errno.EINVAL),
    ("mmap", (0, 4096, RW, MAP_PRIVATE), errno.EBADF),
    ("mmap", (0, 1 << 62, RW, ANON), errno.ENOMEM),
    ("munmap", (1, 4096), errno.EINVAL),
    ("munmap", (0x10000, 0), errno.EINVAL),
    ("mprotect", (1, 4096, PROT_READ), errno.EINVAL),
    ("mprotect", (0x10000, 4096, 0x80), errno.EINVAL),
    ("mprotect", (0x10000, 4096, PROT_READ), errno.ENOMEM),
    ("madvise", (1, 4096, MADV_DONTNEED), errno.EINVAL),
    ("madvise", (0x10000, 4096, 12345), errno.EINVAL),
    ("madvise", (0x10000, 4096, MADV_DONTNEED), errno.ENOMEM),
    ("mremap", (1, 4096, 8192, 0), errno.EINVAL),
    ("mremap", (0x10000, 4096, 8192, 0), errno.EFAULT),
    ("mremap", (0x10000, 4096, 0, 1), errno.EINVAL),
    ("mremap", (0x10000, 4096, 8192, 2), errno.EINVAL),
    ("mlock", (0x10000, 4096), errno.ENOMEM),
])
def test_errno(machine, call, args, err):
    p = machine.spawn()
    with pytest.raises(OSError) as e:
        getattr(p, call)(*args)
    assert e.value.errno == err


def test_mremap_grow_in_place_and_fail_without_maymove(machine):
    p = machine.spawn()
    a = p.mmap(0, 3 * PAGE_SIZE, RW, ANON)
    p.mmap(a + 3 * PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED)  # blocks growth
    with pytest.raises(OSError) as e:
        p.mremap(a, 3 * PAGE_SIZE, 8 * PAGE_SIZE, 0)
    assert e.value.errno == errno.ENOMEM
    p.threads[0].write(a, 4)
    b = p.mremap(a, 3 * PAGE_SIZE, 8 * PAGE_SIZE, thpsim.MREMAP_MAYMOVE)
    assert b != a and p.threads[0].read(b) == 4


def test_segv_outside_any_vma(machine):
    p = machine.spawn()
    with pytest.raises(DeliveredSignal) as e:
        p.threads[0].write(0x5000_0000, 1)
    assert e.value.si_signo == signal.SIGSEGV and e.value.si_code == 1


def test_vma_merge_after_mprotect_back(machine):
    p = machine.spawn()
    a = p.mmap(0, 16 * PAGE_SIZE, RW, ANON)
    p.mprotect(a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, PROT_READ)
    assert len(p.mm.mmap) == 3
    p.mprotect(a + 4 * PAGE_SIZE, 4 * PAGE_SIZE, RW)
    assert len(p.mm.mmap) == 1


def test_mainline_aligns_pmd_multiple_mappings():
    m = numa_machine(profile="mainline")
    p = m.spawn()
    p.mmap(0, 3 * PAGE_SIZE, RW, ANON)
    a = p.mmap(0, 4 * MB, RW, ANON)
    assert a % HPAGE_PMD_SIZE == 0
    s = numa_machine(profile="seed")
    q = s.spawn()
    q.mmap(0, 3 * PAGE_SIZE, RW, ANON)
    assert q.mmap(0, 4 * MB, RW, ANON) % HPAGE_PMD_SIZE != 0


def test_threads_share_memory_and_tlb_shootdown():
    m = numa_machine(cpus=4)
    p = m.spawn(cpu=0)
    t1 = p.clone(cpu=3)
    a = p.mmap(0, 64 * 1024, RW, ANON)
    p.threads[0].write(a, 5)
    assert t1.read(a) == 5  # t1's TLB now caches the page
    p.madvise(a, PAGE_SIZE, MADV_DONTNEED)
    assert t1.read(a) == 0  # the flush removed CPU3's entry


# ---------------------------------------------------------------- linear costs (issue 11)
def _counting(monkeypatch, names, limit):
    """Count calls of ``names`` in mm/memory.py (those it imports); fail fast once
    ``limit`` is passed."""
    calls = [0]
    for name in names:
        real = getattr(memory_c, name, None)
        if real is None:
            continue

        def wrapped(*a, _real=real, **kw):
            calls[0] += 1
            assert calls[0] <= limit, f"more than {limit} page-table slots visited"
            return _real(*a, **kw)

        monkeypatch.setattr(memory_c, name, wrapped)
    return calls


@pytest.mark.parametrize("how", ["exit", "munmap"])
def test_freeing_tables_across_the_address_space_visits_only_existing_tables(
        monkeypatch, how):
    """A process mapping a page at 0x10000 and one near the top of user space: exit
    (free_pgtables over [0x10000, top)) and a munmap of both visit the PMD slots of the
    two PMD tables that exist, not the 2**26 PMD slots of the span between them, as
    free_pgd_range() skips empty PGD/PUD entries (pgd_none_or_clear_bad() and co.).
    Before the fix this stepped 2 MiB at a time over 128 TiB (about a minute)."""
    m = numa_machine()
    p = m.spawn()
    a = p.mmap(0x10000, PAGE_SIZE, RW, ANON | MAP_FIXED)
    b = p.mmap((1 << 47) - 0x10000, PAGE_SIZE, RW, ANON | MAP_FIXED)
    p.write(a, 1)
    p.write(b, 2)
    calls = _counting(monkeypatch, ["lookup_pmd", "lookup_pmd_range", "pmdp_get"], 4 * 512)
    if how == "exit":
        p.exit()
    else:
        assert p.munmap(a, b + PAGE_SIZE - a) == 0
        assert p.mm.nr_ptes == p.mm.nr_pmds == 0
    assert 0 < calls[0] <= 2 * 512 + 4  # two PMD tables, plus the zap's own reads
    m.check_integrity()


@pytest.mark.parametrize("nohugepage", [False, True])
@pytest.mark.parametrize("alloc", [True, False])
def test_write_to_huge_zero_page_by_era(alloc, nohugepage):
    """6.13+ (thp_wp_huge_zero_alloc, do_huge_zero_wp_pmd()) replaces the huge zero page
    with a new THP on a write fault, even after MADV_NOHUGEPAGE (the allocation does not
    ask the VMA); 5.8 to 6.12 split the zero PMD and fault one 4 KiB page. Debian's 7.2
    and 6.12 differ exactly so on tests/oracle/mmprog g1-s1-0001."""
    m = numa_machine("mainline", thp_wp_huge_zero_alloc=alloc)
    p = m.spawn()
    base = thp_aligned(p)
    t = p.threads[0]
    assert t.read(base) == 0
    if nohugepage:
        p.madvise(base, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)
    before = dict(m.kernel.vmstat.events)
    t.write(base + PAGE_SIZE, 3)
    _, huge, zero = thp_mapped(p, base + PAGE_SIZE)
    assert not zero and huge is alloc
    assert thp_mapped(p, base)[2] is not alloc  # after the split: the 4 KiB zero page
    assert ev(m, "thp_fault_alloc") - before["thp_fault_alloc"] == int(alloc)
    assert ev(m, "thp_split_pmd") - before["thp_split_pmd"] == int(not alloc)
    assert p.mm.rss_stat[1] == (512 if alloc else 1)
    assert t.read(base + PAGE_SIZE) == 3 and t.read(base) == 0


@pytest.mark.parametrize("remap", [True, False])
def test_split_maps_zero_filled_subpages_to_the_zero_page_by_era(remap):
    """6.12+ (thp_split_remap_zero_subpages): splitting an anon THP maps every subpage
    that holds only zeros to the shared zero page and frees it; written subpages stay.
    Debian's 6.12 and 7.2 show rss 0 after MADV_FREE split a populated, never written
    THP (tests/oracle/mmprog g1-s1-0119); 6.1 keeps all 512 mapped."""
    from thpsim import MADV_FREE, MAP_POPULATE

    m = numa_machine("mainline", thp_split_remap_zero_subpages=remap)
    p = m.spawn()
    a = p.mmap(0, 4 * MB, RW, ANON | MAP_POPULATE)
    base = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    t = p.threads[0]
    t.write(base + 3 * PAGE_SIZE, 33)
    before = p.mm.rss_stat[1]
    free_before = node_free_pages(m.kernel, 0)
    p.madvise(base + 100 * PAGE_SIZE, PAGE_SIZE, MADV_FREE)  # splits the THP
    dropped = before - p.mm.rss_stat[1]
    assert dropped == (511 if remap else 0)
    assert node_free_pages(m.kernel, 0) - free_before == (511 if remap else 0)
    _, status = p.move_pages(0, [base, base + 3 * PAGE_SIZE], None)
    assert status == ([-errno.EFAULT, 0] if remap else [0, 0])
    assert t.read(base + 3 * PAGE_SIZE) == 33 and t.read(base) == 0
    t.write(base, 5)  # the zero page is COWed as usual
    assert t.read(base) == 5


@pytest.mark.parametrize("partial", [True, False])
def test_cow_in_child_of_a_thp_its_parent_maps_by_pmd_by_era(partial):
    """A child's COW of one page of a THP its parent still maps by PMD does not queue
    the THP for deferred split in any era: 6.3+ because the folio is entirely mapped
    (rmap_deferred_split_partially_mapped), 4.14 and 6.1 because PageDoubleMap keeps
    the page mapped (the kernel oracle, 6.1: g1-s1-0007 and g1-s1-0015 count nothing).
    Unmapping half of a THP nobody maps by PMD queues it in every era."""
    m = numa_machine("mainline", rmap_deferred_split_partially_mapped=partial)
    p = m.spawn()
    base = thp_aligned(p)
    p.threads[0].write(base, 1)
    assert thp_mapped(p, base)[1]
    child = p.fork()
    before = ev(m, "thp_deferred_split_page")
    child.threads[0].write(base + PAGE_SIZE, 2)  # splits the child's PMD, COWs one page
    assert ev(m, "thp_deferred_split_page") - before == 0
    assert p.threads[0].read(base + PAGE_SIZE) == 0 and child.threads[0].read(base) == 1
    child.exit()
    assert ev(m, "thp_deferred_split_page") - before == 0
    p.munmap(base + HPAGE_PMD_SIZE // 2, HPAGE_PMD_SIZE // 2)  # PMD split, half unmapped
    assert ev(m, "thp_deferred_split_page") - before == 1
