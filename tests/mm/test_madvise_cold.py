"""MADV_COLD and MADV_PAGEOUT (5.4, profile switch ``madvise_cold_pageout``).

Models tested: mm/madvise.c madvise_cold() / madvise_pageout(), can_madv_lru_vma(),
madvise_cold_or_pageout_pte_range() (6.9+: a PTE-mapped THP the range covers whole is
not split), mm/swap.c deactivate_page(), and mm/vmscan.c reclaim_pages() on a machine
without swap (nothing is paged out: a THP is split in the fallback to base pages, every
page goes back active). What a kernel test sees: smaps' Referenced, meminfo's
Active(anon)/Inactive(anon), pagemap (the same frames stay present), vmstat
(pgdeactivate, pgactivate, thp_split_page, thp_split_pmd), the data, and the errnos.
"""

from __future__ import annotations

import errno

import pytest
from fs_helpers import key_values, pagemap, smaps_of
from mm_helpers import (
    ANON,
    RW,
    check_data,
    delta,
    errno_of,
    is_pmd_mapped,
    numa_machine,
    thp_region,
)

from thpsim import (
    MADV_COLD,
    MADV_COLLAPSE,
    MADV_DONTNEED,
    MADV_NOHUGEPAGE,
    MADV_PAGEOUT,
    MAP_FIXED,
    MPOL_MF_MOVE,
    PROT_READ,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.mm.mm_types import VM_HUGETLB, VM_PFNMAP
from thpsim.profiles import make_profile
from thpsim.testing import Race, node_free_pages

PROFILES = ("seed", "mainline")
THP = HPAGE_PMD_SIZE
NR = THP // PAGE_SIZE


PFN = (1 << 55) - 1
KPF_REFERENCED, KPF_LRU, KPF_ACTIVE = 1 << 2, 1 << 5, 1 << 6


def kpageflags(m, pfn):
    return int.from_bytes(m.fs.read("/proc/kpageflags", offset=8 * pfn, length=8), "little")


def meminfo(m):
    kv = key_values(m.fs.read("/proc/meminfo"))
    return kv["Active(anon)"], kv["Inactive(anon)"]


def referenced_kb(p, a):
    return int(smaps_of(p.fs, a)["Referenced"])


def small(p, npages):
    """``npages`` 4 KiB pages (no THP), page i holding its address."""
    a = p.mmap(0, npages * PAGE_SIZE, RW, ANON)
    p.madvise(a, npages * PAGE_SIZE, MADV_NOHUGEPAGE)
    for i in range(npages):
        p.threads[0].write(a + i * PAGE_SIZE, a + i * PAGE_SIZE)
    return a


def pte_mapped_thp(p):
    """One THP, filled, mapped by 512 PTEs in one VMA (an mprotect of its first page
    split the PMD; the second mprotect merged the VMAs back)."""
    a = thp_region(p, 1)
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    p.mprotect(a, PAGE_SIZE, RW)
    assert not is_pmd_mapped(p, a)
    return a


@pytest.mark.parametrize("advice", [MADV_COLD, MADV_PAGEOUT])
@pytest.mark.parametrize("profile", PROFILES)
def test_validity_follows_the_switch(profile, advice):
    """madvise_behavior_valid(): EINVAL with the switch off (4.14), and nothing changes;
    0 with it on. The switch's other value is tested by overriding it."""
    for on in (False, True):
        m = numa_machine(make_profile(profile, madvise_cold_pageout=on))
        p = m.spawn()
        a = small(p, 4)
        pm = pagemap(p.fs, a, 4)
        before = dict(m.kernel.vmstat.events)
        if on:
            assert p.madvise(a, 4 * PAGE_SIZE, advice) == 0
        else:
            assert errno_of(p.madvise, a, 4 * PAGE_SIZE, advice) == errno.EINVAL
            assert delta(m, before) == {}
        assert pagemap(p.fs, a, 4) == pm
        check_data(p, a, 4 * PAGE_SIZE)


def test_cold_small_pages_clears_referenced_and_deactivates():
    """COLD: the PTEs' accessed bits and PG_referenced are cleared (smaps Referenced 0),
    the pages move to the inactive list (pgdeactivate per page); frames and data stay."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = small(p, 8)
    pm = pagemap(p.fs, a, 8)
    assert referenced_kb(p, a) == 32
    act, inact = meminfo(m)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a + 2 * PAGE_SIZE, 4 * PAGE_SIZE, MADV_COLD) == 0
    assert delta(m, before) == {"pgdeactivate": 4}
    assert referenced_kb(p, a) == 16
    assert meminfo(m) == (act - 16, inact + 16)
    assert pagemap(p.fs, a, 8) == pm
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, 8 * PAGE_SIZE, MADV_COLD) == 0  # again: only the 4 still active
    assert delta(m, before) == {"pgdeactivate": 4}
    assert referenced_kb(p, a) == 0
    for pfn in (e & PFN for e in pagemap(m.fs, a, 8, pid=p.pid)):
        assert pfn  # the machine's view shows PFNs
        assert not kpageflags(m, pfn) & (KPF_ACTIVE | KPF_REFERENCED)
        assert kpageflags(m, pfn) & KPF_LRU
    check_data(p, a, 8 * PAGE_SIZE)


def test_pageout_small_pages_without_swap_keeps_them():
    """PAGEOUT with no swap: every page is isolated, fails to get a swap slot and goes
    back active (pgactivate per page); the accessed bits stay (PAGEOUT does not clear
    them), the frames stay mapped, the data is intact."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = small(p, 8)
    pm = pagemap(p.fs, a, 8)
    act, inact = meminfo(m)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, 8 * PAGE_SIZE, MADV_PAGEOUT) == 0
    assert delta(m, before) == {"pgactivate": 8}
    assert meminfo(m) == (act, inact)
    assert referenced_kb(p, a) == 32
    assert pagemap(p.fs, a, 8) == pm
    check_data(p, a, 8 * PAGE_SIZE)


def test_cold_whole_pmd_thp_stays_huge():
    """COLD over a whole PMD-mapped THP: the PMD's accessed bit is cleared, the THP
    deactivated whole (pgdeactivate 512), no split."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = thp_region(p, 2)
    pm = pagemap(p.fs, a, 2 * NR)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, THP, MADV_COLD) == 0
    assert delta(m, before) == {"pgdeactivate": NR}
    assert is_pmd_mapped(p, a) and is_pmd_mapped(p, a + THP)
    assert referenced_kb(p, a) == 2048  # only the second THP
    assert pagemap(p.fs, a, 2 * NR) == pm
    check_data(p, a, 2 * THP)


@pytest.mark.parametrize("advice", [MADV_COLD, MADV_PAGEOUT])
def test_partial_pmd_thp_is_split(advice):
    """A PMD-mapped THP the range covers in part is split first (split_folio()), then
    the covered pages are handled at PTE level; the data stays."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = thp_region(p, 1)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a + THP // 2, THP // 4, advice) == 0
    d = delta(m, before)
    assert d["thp_split_page"] == 1 and d["thp_split_pmd"] == 1
    assert not is_pmd_mapped(p, a)
    assert d.get("pgdeactivate" if advice == MADV_COLD else "pgactivate") == NR // 4
    check_data(p, a, THP)


def test_pageout_whole_thp_falls_back_to_base_pages():
    """PAGEOUT over a whole THP with no swap: reclaim cannot get it a swap slot, splits
    it (the fallback to base pages), and every base page goes back active."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = thp_region(p, 1)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, THP, MADV_PAGEOUT) == 0
    d = delta(m, before)
    assert d == {"pgactivate": NR, "thp_split_page": 1, "thp_split_pmd": 1}
    assert not is_pmd_mapped(p, a)
    check_data(p, a, THP)


def test_cold_pte_mapped_thp_covered_whole_is_not_split():
    """6.9+: a PTE-mapped THP the range covers whole is deactivated as one folio (its
    512 PTEs made old), not split; covered in part, it is split."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = pte_mapped_thp(p)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, THP, MADV_COLD) == 0
    assert delta(m, before) == {"pgdeactivate": NR}
    assert referenced_kb(p, a) == 0
    assert m.kernel.pages.flags[m.kernel.pages.compound_head(
        pagemap(p.fs, a)[0] & ((1 << 55) - 1))] & 1 << 15  # still PG_head
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, PAGE_SIZE, MADV_COLD) == 0
    assert delta(m, before)["thp_split_page"] == 1
    check_data(p, a, THP)


@pytest.mark.parametrize("profile", PROFILES)
def test_pte_mapped_thp_rule_per_switch(profile):
    """``madvise_cold_pte_thp_batch``: on (6.9+), COLD over a whole PTE-mapped THP
    keeps it whole; off (5.4..6.8), it is split first and its 512 pages deactivated
    one by one. Both values on both profiles (COLD switched on)."""
    for batch in (False, True):
        m = numa_machine(make_profile(profile, madvise_cold_pageout=True,
                                      madvise_cold_pte_thp_batch=batch))
        p = m.spawn()
        a = pte_mapped_thp(p)
        before = dict(m.kernel.vmstat.events)
        assert p.madvise(a, THP, MADV_COLD) == 0
        d = delta(m, before)
        assert d.get("thp_split_page", 0) == (0 if batch else 1)
        assert d["pgdeactivate"] == NR
        assert referenced_kb(p, a) == 0
        check_data(p, a, THP)


def test_pte_mapped_thp_shared_ends_the_pmd_before_6_9():
    """One PMD holding 508 PTEs of a THP a child maps too, then 4 small pages of the
    parent's own (one VMA). 5.4..6.8: the shared THP is met first and ends this PMD's
    part of the walk ("break"): nothing is deactivated. 6.9+: the THP's batch is
    skipped, the 4 small pages after it are deactivated."""
    for batch in (False, True):
        m = numa_machine(make_profile("mainline", madvise_cold_pte_thp_batch=batch))
        p = m.spawn()
        a = thp_region(p, 1)
        tail = a + THP - 4 * PAGE_SIZE
        p.munmap(tail, 4 * PAGE_SIZE)  # the PMD is split: 508 PTEs of the THP
        assert p.mmap(tail, 4 * PAGE_SIZE, RW, ANON | MAP_FIXED) == tail
        p.fork()
        for i in range(4):  # faulted after the fork: the parent's own pages
            p.write(tail + i * PAGE_SIZE, tail + i * PAGE_SIZE)
        vma = p.mm.find_vma(a)
        assert vma.vm_start <= a and vma.vm_end >= a + THP  # one VMA
        before = dict(m.kernel.vmstat.events)
        assert p.madvise(a, THP, MADV_COLD) == 0
        assert delta(m, before) == ({"pgdeactivate": 4} if batch else {})
        check_data(p, a, THP)


@pytest.mark.parametrize("advice", [MADV_COLD, MADV_PAGEOUT])
def test_shared_pages_are_left_alone(advice):
    """Pages mapped by a child too ("do not interfere with other mappings") are neither
    deactivated nor isolated, nor a shared THP split."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = small(p, 4)
    b = thp_region(p, 1)
    child = p.fork()
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, 4 * PAGE_SIZE, advice) == 0
    assert p.madvise(b + PAGE_SIZE, PAGE_SIZE, advice) == 0
    assert delta(m, before) == {}
    assert referenced_kb(p, a) == 16
    check_data(child, a, 4 * PAGE_SIZE)


@pytest.mark.parametrize("advice", [MADV_COLD, MADV_PAGEOUT])
def test_locked_vma_is_einval(advice):
    """can_madv_lru_vma(): a VM_LOCKED VMA is EINVAL; the pages before it in the range
    have been handled already (the call stops at the first error)."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = small(p, 4)
    p.mlock(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE)
    before = dict(m.kernel.vmstat.events)
    assert errno_of(p.madvise, a, 4 * PAGE_SIZE, advice) == errno.EINVAL
    assert delta(m, before) == ({"pgdeactivate": 2} if advice == MADV_COLD
                                else {"pgactivate": 2})
    check_data(p, a, 4 * PAGE_SIZE)


@pytest.mark.parametrize("flag", [VM_PFNMAP, VM_HUGETLB])
def test_pfnmap_and_hugetlb_vmas_are_einval(flag):
    """can_madv_lru_vma(): VM_PFNMAP and VM_HUGETLB VMAs are refused (the flag set by
    hand: the model maps neither); nothing is deactivated."""
    m = numa_machine("mainline", check=False)
    p = m.spawn()
    a = small(p, 2)
    p.mm.find_vma(a).vm_flags |= flag
    before = dict(m.kernel.vmstat.events)
    for advice in (MADV_COLD, MADV_PAGEOUT):
        assert errno_of(p.madvise, a, 2 * PAGE_SIZE, advice) == errno.EINVAL
    assert delta(m, before) == {}


@pytest.mark.parametrize("advice", [MADV_COLD, MADV_PAGEOUT])
def test_hole_is_enomem_after_the_mapped_part(advice):
    """A hole in the range: the mapped parts are advised, then ENOMEM."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = small(p, 4)
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    before = dict(m.kernel.vmstat.events)
    assert errno_of(p.madvise, a, 4 * PAGE_SIZE, advice) == errno.ENOMEM
    assert sum(delta(m, before).values()) == 3
    check_data(p, a, PAGE_SIZE)


@pytest.mark.parametrize("profile", PROFILES)
def test_collapse_errno_per_profile(profile):
    """MADV_COLLAPSE (6.1): EINVAL in 4.14. Mainline: an anonymous range whose THPs are
    PMD-mapped already succeeds; a 2 MiB block never touched (no page table:
    SCAN_PMD_NULL) is EINVAL; a range inside one block is EINVAL (madvise_collapse()
    compares the blocks done with hend - hstart in unsigned arithmetic: SCAN_FAIL); a
    VMA never faulted (no anon_vma) is EINVAL."""
    m = numa_machine(profile)
    p = m.spawn()
    a = thp_region(p, 1)
    fresh = p.mmap(0, 3 * THP, RW, ANON)
    fresh = (fresh + THP - 1) & ~(THP - 1)
    if profile == "seed":
        assert errno_of(p.madvise, a, THP, MADV_COLLAPSE) == errno.EINVAL
        return
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, THP, MADV_COLLAPSE) == 0
    # inside one block: 0 in 7.x (madvise_collapse_no_block_ok), EINVAL before
    assert p.madvise(a + PAGE_SIZE, PAGE_SIZE, MADV_COLLAPSE) == 0
    assert errno_of(p.madvise, fresh, THP, MADV_COLLAPSE) == errno.EINVAL
    assert delta(m, before) == {}
    p.write(fresh + THP, 1)  # now the VMA has an anon_vma: the untouched block fails
    before = dict(m.kernel.vmstat.events)
    assert errno_of(p.madvise, fresh, THP, MADV_COLLAPSE) == errno.EINVAL
    assert p.madvise(fresh + THP, THP, MADV_COLLAPSE) == 0  # the fault made a THP
    assert delta(m, before) == {}
    check_data(p, a, THP)


@pytest.mark.parametrize("read_only_ok", [True, False])
def test_collapse_of_small_pages(read_only_ok):
    """Mainline MADV_COLLAPSE of a block of 4 KiB pages (some written, some read as the
    zero page, the rest never touched): one new THP maps the block by its PMD
    (thp_collapse_alloc), the written data is in it, the rest reads 0; smaps shows
    2 MiB AnonHugePages and Rss. A VM_NOHUGEPAGE VMA is EINVAL. A block with no
    writable PTE (only the zero page here): 7.2 collapses it too (a THP of zeroes,
    ``collapse_read_only_anon``), 6.12 and 6.1 say EINVAL (SCAN_PAGE_RO). THP "never":
    COLLAPSE ignores the knob."""
    m = numa_machine("mainline", thp="never", collapse_read_only_anon=read_only_ok)
    p = m.spawn()
    a = thp_region(p, 1, fill=False)
    p.madvise(a, THP, MADV_NOHUGEPAGE)
    p.write(a, a)
    assert errno_of(p.madvise, a, THP, MADV_COLLAPSE) == errno.EINVAL
    b = thp_region(p, 2, fill=False)
    written = range(0, THP, 64 * PAGE_SIZE)
    for i in written:
        p.write(b + i, b + i)
    p.read(b + PAGE_SIZE)  # the zero page
    p.read(b + THP)  # the second block: only the zero page, nothing writable
    old = pagemap(m.fs, b, NR, pid=p.pid)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(b, THP, MADV_COLLAPSE) == 0
    assert delta(m, before) == {"thp_collapse_alloc": 1, "pgfree": len(written),
                                "pgalloc_normal": 512}
    assert is_pmd_mapped(p, b)
    new = pagemap(m.fs, b, NR, pid=p.pid)
    assert [e & PFN for e in new] == [(new[0] & PFN) + i for i in range(NR)]
    assert {e & PFN for e in new}.isdisjoint(e & PFN for e in old)
    rec = smaps_of(p.fs, b)
    assert int(rec["AnonHugePages"]) == 2048 and int(rec["Rss"]) >= 2048
    for i in range(0, THP, 16 * PAGE_SIZE):
        assert p.read(b + i) == (b + i if i in written else 0)
    if read_only_ok:
        assert p.madvise(b + THP, THP, MADV_COLLAPSE) == 0
        assert is_pmd_mapped(p, b + THP) and p.read(b + THP) == 0
    else:
        assert errno_of(p.madvise, b + THP, THP, MADV_COLLAPSE) == errno.EINVAL
        assert not is_pmd_mapped(p, b + THP)
    m.check_integrity()


@pytest.mark.parametrize("read_only_ok", [True, False])
def test_collapse_keeps_a_forked_childs_pages(read_only_ok):
    """After fork the parent's PTEs are read-only: no writable PTE, SCAN_PAGE_RO,
    EINVAL, until 7.x (``collapse_read_only_anon``, the kernel oracle's 7.2). Once
    one page is written (COW), the block collapses in every era: pages the child maps
    too are copied into the parent's new THP; the child keeps the old pages and
    their data; the parent's later writes do not reach the child."""
    m = numa_machine("mainline", thp="never", collapse_read_only_anon=read_only_ok)
    p = m.spawn()
    b = thp_region(p, 1, fill=False)
    for i in range(0, THP, 32 * PAGE_SIZE):
        p.write(b + i, b + i)
    child = p.fork()
    if not read_only_ok:
        assert errno_of(p.madvise, b, THP, MADV_COLLAPSE) == errno.EINVAL
        p.write(b + THP - PAGE_SIZE, 9)  # a COW copy: one writable PTE
    else:
        p.write(b + THP - PAGE_SIZE, 9)  # the same data either way
    assert p.madvise(b, THP, MADV_COLLAPSE) == 0
    assert is_pmd_mapped(p, b)
    assert p.read(b + THP - PAGE_SIZE) == 9 and p.read(b + 32 * PAGE_SIZE) == b + 32 * PAGE_SIZE
    p.write(b, 5)
    assert child.read(b) == b and p.read(b) == 5
    check_data(child, b, 32 * PAGE_SIZE, skip=[b + i for i in range(PAGE_SIZE, 32 * PAGE_SIZE,
                                                                     PAGE_SIZE)])
    m.check_integrity()


@pytest.mark.parametrize("batch", [True, False])
def test_collapse_of_a_pte_mapped_thp(batch):
    """5.8+: a block mapping a THP by PTEs is collapsed: the folio is locked and
    isolated once, its pages copied into a new THP that the PMD maps, the old THP
    freed (all 512 frames back), the data unchanged. Its PTEs go one by one before
    the PTE batching of 7.x (``collapse_pte_batch`` off, 6.12: the first removal
    leaves it partially mapped, thp_deferred_split_page +1) or in one batch (7.2:
    never partially mapped, no deferred split)."""
    m = numa_machine("mainline", collapse_pte_batch=batch)
    p = m.spawn()
    a = pte_mapped_thp(p)
    old_head = pagemap(m.fs, a, 1, pid=p.pid)[0] & PFN
    free_before = node_free_pages(m, 0)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, THP, MADV_COLLAPSE) == 0
    d = delta(m, before)
    assert d["thp_collapse_alloc"] == 1
    assert d.get("thp_deferred_split_page", 0) == (0 if batch else 1)
    assert is_pmd_mapped(p, a)
    new = pagemap(m.fs, a, NR, pid=p.pid)
    assert new[0] & PFN != old_head
    assert node_free_pages(m, 0) == free_before  # one THP in, one THP out
    assert not m.kernel.deferred_split_queue.get(old_head)
    check_data(p, a, THP)
    m.check_integrity()


def test_collapse_of_a_thp_another_process_maps_too():
    """A PTE-mapped THP that a fork child also maps: the parent's block collapses into
    its own new THP (a COW write made one PTE writable); the child keeps the old THP,
    still mapped by its PTEs, with the data as at fork."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = pte_mapped_thp(p)
    child = p.fork()
    p.write(a + 5 * PAGE_SIZE, 55)
    assert p.madvise(a, THP, MADV_COLLAPSE) == 0
    assert is_pmd_mapped(p, a) and not is_pmd_mapped(child, a)
    assert p.read(a + 5 * PAGE_SIZE) == 55 and child.read(a + 5 * PAGE_SIZE) == a + 5 * PAGE_SIZE
    check_data(child, a, THP)
    m.check_integrity()


@pytest.mark.parametrize("advice", [MADV_COLD, MADV_PAGEOUT])
@pytest.mark.parametrize("seed", range(6))
def test_cold_pageout_race_migration_and_stores(advice, seed):
    """COLD/PAGEOUT over part of a THP (a split) and a whole one, interleaved with
    move_pages of both THPs and a store/load on a third CPU: every schedule ends with
    the invariants holding (the checker after each step) and the stored value read."""
    m = numa_machine("mainline", cpus=4)
    p = m.spawn(cpu=0)
    a = thp_region(p, 2)
    t1, t2 = p.clone(cpu=1), p.clone(cpu=2)
    race = Race(m)
    race.on(0, p.threads[0]).syscall("madvise", a + THP // 2, 3 * THP // 2, advice)
    race.on(1, t1).move_pages([a, a + THP + PAGE_SIZE], [1, 1], MPOL_MF_MOVE)
    race.on(2, t2).store(a + THP // 2, 77).load(a + THP // 2)
    ex = race.run(policy="random", seed=seed)
    assert ex.failure is None, ex.failure
    assert ex.result(0, 0) == 0 and ex.result(2, 1) == 77
    m.check_integrity()


@pytest.mark.parametrize("seed", range(9))
def test_collapse_races_migration_zap_and_stores(seed):
    """MADV_COLLAPSE of a block of 4 KiB pages interleaved with move_pages, DONTNEED or
    PAGEOUT of pages in it, and stores/loads on a third CPU: every schedule keeps the
    invariants (checked after each step); a store that lands is read back."""
    m = numa_machine("mainline", cpus=4, thp="never")
    p = m.spawn(cpu=0)
    b = thp_region(p, 1, fill=False)
    for i in range(0, THP, 16 * PAGE_SIZE):
        p.write(b + i, b + i)
    t1, t2 = p.clone(cpu=1), p.clone(cpu=2)
    race = Race(m)
    race.on(0, p.threads[0]).syscall("madvise", b, THP, MADV_COLLAPSE)
    other = race.on(1, t1)
    if seed % 3 == 0:
        other.move_pages([b, b + 16 * PAGE_SIZE], [1, 1], MPOL_MF_MOVE)
    elif seed % 3 == 1:
        other.syscall("madvise", b + 16 * PAGE_SIZE, 64 * PAGE_SIZE, MADV_DONTNEED)
    else:
        other.syscall("madvise", b, THP, MADV_PAGEOUT)
    race.on(2, t2).store(b + 128 * PAGE_SIZE, 77).load(b + 128 * PAGE_SIZE)  # not zapped
    ex = race.run(policy="pct" if seed % 2 else "random", seed=seed)
    assert ex.failure is None, ex.failure
    assert ex.result(0, 0) in (0, -errno.EAGAIN) and ex.result(2, 1) == 77
    m.check_integrity()


@pytest.mark.parametrize("ok", [True, False])
def test_collapse_of_a_range_inside_one_block_by_era(ok):
    """Debian's 7.2 answers 0 for MADV_COLLAPSE over a range holding no whole aligned
    2 MiB block (nothing to do); 6.1 and 6.12 EINVAL (hend - hstart wraps, the block
    count never matches: SCAN_FAIL). tests/oracle/mmprog g1-s1-0024 and others. The
    VMA check still comes first: a VMA no THP may back is EINVAL in every era."""
    m = numa_machine("mainline", madvise_collapse_no_block_ok=ok)
    p = m.spawn()
    a = thp_region(p, 1)
    if ok:
        assert p.madvise(a + PAGE_SIZE, 2 * PAGE_SIZE, MADV_COLLAPSE) == 0
    else:
        assert errno_of(p.madvise, a + PAGE_SIZE, 2 * PAGE_SIZE, MADV_COLLAPSE) == \
            errno.EINVAL
    p.madvise(a, THP, MADV_NOHUGEPAGE)
    assert errno_of(p.madvise, a + PAGE_SIZE, PAGE_SIZE, MADV_COLLAPSE) == errno.EINVAL
    check_data(p, a, THP)


def test_pageout_discards_clean_lazily_freed_pages():
    """MADV_FREE makes pages lazily freed (not swap-backed); MADV_PAGEOUT's reclaim,
    which has no swap, still discards those that stayed clean (try_to_unmap_one():
    MM_ANONPAGES, pglazyfreed; they read 0 again) and keeps one written since
    MADV_FREE, swap-backed again, with its data."""
    from thpsim import MADV_FREE

    m = numa_machine("mainline")
    p = m.spawn()
    a = small(p, 8)
    p.madvise(a, 8 * PAGE_SIZE, MADV_FREE)
    p.write(a + 3 * PAGE_SIZE, 33)  # redirtied after MADV_FREE
    rss = int(smaps_of(p.fs, a)["Rss"])
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, 8 * PAGE_SIZE, MADV_PAGEOUT) == 0
    d = delta(m, before)
    assert d["pglazyfreed"] == 7
    assert int(smaps_of(p.fs, a)["Rss"]) == rss - 7 * 4
    assert p.read(a + 3 * PAGE_SIZE) == 33
    assert all(p.read(a + i * PAGE_SIZE) == 0 for i in range(8) if i != 3)
    m.check_integrity()
