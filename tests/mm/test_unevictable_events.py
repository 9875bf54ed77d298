"""The unevictable_pgs_* events of /proc/vmstat after known mlock sequences.

Kernel: mm/mlock.c (4.14 mlock_vma_page(), munlock_vma_page(), clear_page_mlock();
5.18+ mlock_folio(), __mlock_folio(), __munlock_folio(), mlock_new_folio()),
mm/vmscan.c putback_lru_page() (4.14: culled, rescued), mm/swap.c (4.16+ LRU add:
culled). 4.14 counts one event per page or THP, 5.18+ base pages
(``mlock_counts_folio_pages``); 4.14 does not count culled for a page faulted into
a VM_LOCKED VMA (``lru_add_counts_culled``).
"""

import pytest
from mm_helpers import ANON, RW, numa_machine, thp_aligned

from thpsim import MADV_NOHUGEPAGE, MLOCK_ONFAULT
from thpsim.arch.x86_64.pgtable import PAGE_SIZE

PROFILES = pytest.mark.parametrize("profile", ["seed", "mainline"])
EVENTS = tuple(f"unevictable_pgs_{e}" for e in (
    "culled", "scanned", "rescued", "mlocked", "munlocked", "cleared", "stranded"))


def delta(m, before):
    now = m.vmstat()
    return {k[len("unevictable_pgs_"):]: now[k] - before[k]
            for k in EVENTS if now[k] != before[k]}


def meminfo_mlocked_kb(m):
    line = next(x for x in m.fs.read("/proc/meminfo").splitlines() if x.startswith("Mlocked:"))
    return int(line.split()[1])


def small_page(p, npages=1):
    a = p.mmap(0, npages * PAGE_SIZE, RW, ANON)
    p.madvise(a, npages * PAGE_SIZE, MADV_NOHUGEPAGE)
    for i in range(npages):
        p.threads[0].write(a + i * PAGE_SIZE, 1)
    return a


@PROFILES
def test_vmstat_prints_every_unevictable_event_in_kernel_order(profile):
    m = numa_machine(profile)
    names = [line.split()[0] for line in m.fs.read("/proc/vmstat").splitlines()]
    at = names.index("unevictable_pgs_culled")
    assert tuple(names[at:at + 7]) == EVENTS


@PROFILES
def test_mlock_then_munlock_of_a_page(profile):
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = small_page(p)
    b = m.vmstat()
    assert p.mlock(a, PAGE_SIZE) == 0
    assert delta(m, b) == {"mlocked": 1, "culled": 1}
    b = m.vmstat()
    assert p.munlock(a, PAGE_SIZE) == 0
    assert delta(m, b) == {"munlocked": 1, "rescued": 1}


@PROFILES
def test_mlock_of_a_thp_counts_one_event_in_4_14_and_512_pages_in_5_18(profile):
    m = numa_machine(profile, thp="always")
    p = m.spawn(cpu=0)
    a = thp_aligned(p)
    p.threads[0].write(a, 1)
    assert m.vmstat()["thp_fault_alloc"] == 1
    n = 512 if profile == "mainline" else 1
    b = m.vmstat()
    assert p.mlock(a, 512 * PAGE_SIZE) == 0
    assert delta(m, b) == {"mlocked": n, "culled": n}
    b = m.vmstat()
    assert p.munmap(a, 512 * PAGE_SIZE) == 0
    assert delta(m, b) == {"munlocked": n, "rescued": n}


@pytest.mark.parametrize("counts_pages", [False, True])
def test_mlock_counts_folio_pages_switch(counts_pages):
    m = numa_machine("seed", thp="always", mlock_counts_folio_pages=counts_pages)
    p = m.spawn(cpu=0)
    a = thp_aligned(p)
    p.threads[0].write(a, 1)
    b = m.vmstat()
    assert p.mlock(a, 512 * PAGE_SIZE) == 0
    assert delta(m, b)["mlocked"] == (512 if counts_pages else 1)


@PROFILES
def test_fault_into_a_locked_vma_is_culled_since_4_16(profile):
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = p.mmap(0, 2 * PAGE_SIZE, RW, ANON)
    p.madvise(a, 2 * PAGE_SIZE, MADV_NOHUGEPAGE)
    assert p.mlock2(a, 2 * PAGE_SIZE, MLOCK_ONFAULT) == 0
    p.threads[0].write(a, 1)  # page tables in place
    b = m.vmstat()
    p.threads[0].write(a + PAGE_SIZE, 1)
    want = {"mlocked": 1, "culled": 1} if profile == "mainline" else {"mlocked": 1}
    assert delta(m, b) == want


@pytest.mark.parametrize("culled", [False, True])
def test_lru_add_counts_culled_switch(culled):
    m = numa_machine("seed", lru_add_counts_culled=culled)
    p = m.spawn(cpu=0)
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    assert p.mlock2(a, PAGE_SIZE, MLOCK_ONFAULT) == 0
    b = m.vmstat()
    p.threads[0].write(a, 1)
    assert delta(m, b).get("culled", 0) == (1 if culled else 0)


@PROFILES
def test_cow_in_a_locked_vma_munlocks_the_old_page(profile):
    """The parent's mlocked page is shared with a child after fork (the child's VMA
    is not VM_LOCKED); the parent's write copies it: the new page is mlocked, the
    old one munlocked (4.14 wp_page_copy() -> munlock_vma_page(); 5.18+ the rmap
    removal in the VM_LOCKED VMA). Mlocked stays one page."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = small_page(p)
    assert p.mlock(a, PAGE_SIZE) == 0
    assert meminfo_mlocked_kb(m) == 4
    child = p.fork()
    b = m.vmstat()
    p.threads[0].write(a, 2)
    want = {"mlocked": 1, "munlocked": 1, "rescued": 1}
    if profile == "mainline":
        want["culled"] = 1
    assert delta(m, b) == want
    assert meminfo_mlocked_kb(m) == 4
    assert child.threads[0].read(a) == 1
    child.exit()
    assert meminfo_mlocked_kb(m) == 4


@PROFILES
def test_migrating_an_mlocked_page(profile):
    """move_pages of an mlocked page: the old page loses its mapping while isolated
    (4.14: clear_page_mlock(): cleared, and stranded as isolate_lru_page() fails;
    5.18+: munlocked in the rmap removal, off the LRU: stranded); the new page is
    mlocked by remove_migration_pte() before it reaches the LRU (no culled)."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = small_page(p)
    assert p.mlock(a, PAGE_SIZE) == 0
    b = m.vmstat()
    assert p.move_pages(p.pid, [a], [1]) == (0, [1])
    want = {"mlocked": 1, "stranded": 1}
    if profile == "seed":
        want["cleared"] = 1
    assert delta(m, b) == want
    assert meminfo_mlocked_kb(m) == 4
