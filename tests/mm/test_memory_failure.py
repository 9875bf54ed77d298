"""Soft offline and injected hard poison (mm/memory_failure.py).

Rows SO-n cite the edge-case table of caller-semantics.md §7.5; the oracle
scenarios ``softoffline``, ``hwpoison`` and ``errors`` (all-7.2.brief.txt) are
reproduced under ``mainline`` with the same observables (pagemap frames,
kpageflags, HardwareCorrupted, AnonHugePages, vmstat deltas, SIGBUS siginfo).
/sys/devices/system/memory/hard_offline_page (§7.1: memory_failure(pfn, 0)) and the
6.3+ per-node counters /sys/devices/system/node/nodeN/memory_failure/* are checked
against mm/memory-failure.c's action_result() (no oracle run covers them).
"""

import errno
import signal
import struct

import pytest
from mm_helpers import (
    ANON,
    MB,
    RW,
    anon_huge_kb,
    check_data,
    delta,
    errno_of,
    is_pmd_mapped,
    numa_machine,
    pfn_at,
    thp_region,
)

from thpsim import (
    MADV_HWPOISON,
    MADV_NOHUGEPAGE,
    MADV_SOFT_OFFLINE,
    MAP_FIXED,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR, HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.errors import BUS_MCEERR_AR, DeliveredSignal
from thpsim.mm.memory_failure import EHWPOISON
from thpsim.mm.page_alloc import (
    for_each_free_block,
    is_free_buddy_page,
    page_zone,
)
from thpsim.mm.page_flags import F_hwpoison
from thpsim.mm.swap import get_page, put_page

KPF_HWPOISON = 19
SOFT_OFFLINE_FILE = "/sys/devices/system/memory/soft_offline_page"


def hw_corrupted_kb(m):
    for line in m.fs.read("/proc/meminfo").splitlines():
        if line.startswith("HardwareCorrupted:"):
            return int(line.split()[1])
    raise AssertionError("no HardwareCorrupted line")


def kpageflags(m, pfn):
    return struct.unpack("<Q", m.fs.read("/proc/kpageflags", offset=pfn * 8, length=8))[0]


def pagemap(p, addr):
    return struct.unpack("<Q", p.fs.read("/proc/self/pagemap", offset=(addr >> PAGE_SHIFT) * 8,
                                         length=8))[0]


def soft_offline(m, p, addr, length=PAGE_SIZE):
    """madvise(MADV_SOFT_OFFLINE), which must succeed; returns the vmstat events it
    changed."""
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(addr, length, MADV_SOFT_OFFLINE) == 0
    return delta(m, before)


def madvise_untouched(thp, advice):
    """madvise(``advice``) of the first page of a fresh, never touched, 2 MiB-aligned
    VMA (mainline, THP ``thp``), which must fail; returns the machine and the errno."""
    m = numa_machine("mainline", thp=thp)
    p = m.spawn()
    a = thp_region(p, 0)
    p.mmap(a, HPAGE_PMD_SIZE, RW, ANON | MAP_FIXED)  # a fresh, untouched VMA
    return m, errno_of(p.madvise, a, PAGE_SIZE, advice)


def base_page(p):
    """One written 4 KiB page in a VMA that never gets a THP."""
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    p.madvise(a, 4 * PAGE_SIZE, MADV_NOHUGEPAGE)
    p.threads[0].write(a, 0x1234)
    return a


# ---------------------------------------------------------------- madvise(MADV_SOFT_OFFLINE)
@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_so1_unprivileged_eperm(profile):
    m = numa_machine(profile)
    p = m.spawn(uid=1000)
    a = base_page(p)
    assert errno_of(p.madvise, a, PAGE_SIZE, MADV_SOFT_OFFLINE) == errno.EPERM
    assert errno_of(p.madvise, a, PAGE_SIZE, MADV_HWPOISON) == errno.EPERM
    assert hw_corrupted_kb(m) == 0


def test_so9_unaligned_einval_before_eperm():
    """Oracle errors: madvise(unaligned, MADV_SOFT_OFFLINE) -> EINVAL (checked before the
    capability, as do_madvise does)."""
    m = numa_machine("mainline")
    p = m.spawn(uid=1000)
    a = base_page(p)
    assert errno_of(p.madvise, a + 1, PAGE_SIZE, MADV_SOFT_OFFLINE) == errno.EINVAL


def test_so10_unmapped_efault():
    m = numa_machine("mainline")
    p = m.spawn()
    a = p.mmap(0, 2 * PAGE_SIZE, RW, ANON)
    p.munmap(a, 2 * PAGE_SIZE)
    assert errno_of(p.madvise, a, PAGE_SIZE, MADV_SOFT_OFFLINE) == errno.EFAULT


@pytest.mark.parametrize("thp", ["always", "never"])
def test_untouched_page_eio(thp):
    """Oracle errors: madvise(untouched page, MADV_SOFT_OFFLINE) -> EIO: the read-only
    GUP maps the (huge) zero page, which is unhandlable ("unhandlable page" in dmesg)."""
    m, err = madvise_untouched(thp, MADV_SOFT_OFFLINE)
    assert err == errno.EIO
    assert hw_corrupted_kb(m) == 0
    assert "unhandlable page" in m.kernel.dmesg[-1]


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_so2_base_page_moves_and_old_frame_poisoned(profile):
    m = numa_machine(profile)
    p = m.spawn()
    a = base_page(p)
    old = pfn_at(p, a)
    before = dict(m.kernel.vmstat.events)
    assert p.madvise(a, PAGE_SIZE, MADV_SOFT_OFFLINE) == 0
    new = pfn_at(p, a)
    assert new != old and new >= 0
    assert m.kernel.mem.pfn_to_nid(new) == m.kernel.mem.pfn_to_nid(old)  # same node preferred
    assert kpageflags(m, old) >> KPF_HWPOISON & 1
    assert not kpageflags(m, new) >> KPF_HWPOISON & 1
    assert hw_corrupted_kb(m) == 4
    assert p.threads[0].read(a) == 0x1234
    assert delta(m, before).get("pgmigrate_success") == 1
    assert not is_free_buddy_page(m.kernel, old)  # never handed out again


def test_softoffline_oracle_mainline():
    """Oracle softoffline (7.2): page 3 of a THP, then a whole THP, then page 3 again."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = thp_region(p, 4)
    assert anon_huge_kb(p) == 8192
    p3 = a + 3 * PAGE_SIZE
    old = pfn_at(p, p3)
    d = soft_offline(m, p, p3)
    assert d["pgmigrate_success"] == 1
    assert d["thp_split_page"] == 1 and d["thp_split_pmd"] == 1
    assert "thp_migration_success" not in d
    new = pfn_at(p, p3)
    assert new != old
    assert kpageflags(m, old) >> KPF_HWPOISON & 1
    assert hw_corrupted_kb(m) == 4
    assert anon_huge_kb(p) == 6144
    # the other 511 pages of chunk 0 stay where they were, now PTE-mapped
    assert pfn_at(p, a) == old - 3 and pfn_at(p, a + 4 * PAGE_SIZE) == old + 1
    assert not is_pmd_mapped(p, a)
    check_data(p, a, 4 * HPAGE_PMD_SIZE)

    # madvise(chunk2 whole 2 MiB): the step is the THP's size, so one page is offlined
    c2 = a + 2 * HPAGE_PMD_SIZE
    old2 = pfn_at(p, c2)
    d = soft_offline(m, p, c2, HPAGE_PMD_SIZE)
    assert d["pgmigrate_success"] == 1 and d["thp_split_page"] == 1
    assert anon_huge_kb(p) == 4096
    assert hw_corrupted_kb(m) == 8
    assert pfn_at(p, c2) != old2 and pfn_at(p, c2 + PAGE_SIZE) == old2 + 1

    # page 3 again: the new frame is soft-offlined in turn
    assert soft_offline(m, p, p3) == {"pgmigrate_success": 1, "pgfree": 1, "pgalloc_normal": 1}
    assert hw_corrupted_kb(m) == 12
    assert pfn_at(p, p3) not in (old, new)
    check_data(p, a, 4 * HPAGE_PMD_SIZE)


def test_so11_seed_migrates_whole_thp():
    """SO-11 (the v3 patch 11): the whole THP is copied to a new THP, PMD-mapped; only
    the reported frame is poisoned; the old THP's other frames are free again."""
    m = numa_machine("seed")
    p = m.spawn()
    a = thp_region(p, 2)
    p3 = a + 3 * PAGE_SIZE
    old_head = pfn_at(p, a)
    d = soft_offline(m, p, p3)
    assert d["thp_migration_success"] == 1 and d["pgmigrate_success"] == 1
    assert "thp_split_page" not in d
    assert is_pmd_mapped(p, a) and anon_huge_kb(p) == 4096
    new_head = pfn_at(p, a)
    assert new_head != old_head
    assert m.kernel.mem.pfn_to_nid(new_head) == m.kernel.mem.pfn_to_nid(old_head)
    assert hw_corrupted_kb(m) == 4
    assert m.kernel.pages.flags[old_head + 3] & F_hwpoison
    ctx = m.kernel
    assert not is_free_buddy_page(ctx, old_head + 3)
    assert all(is_free_buddy_page(ctx, old_head + i) for i in range(HPAGE_PMD_NR) if i != 3)
    check_data(p, a, 2 * HPAGE_PMD_SIZE)


def test_so11_seed_thp_without_thp_target_enomem():
    """The v3 patch allocates the THP target with __GFP_THISNODE and no reclaim; on a
    fragmented node the seed's engine (no split on -ENOMEM) fails the migration with
    -ENOMEM, which soft offline passes up. Nothing is poisoned, the THP stays."""
    m = numa_machine("seed")
    p = m.spawn()
    a = thp_region(p, 1)
    held = m.fragment(m.kernel.mem.pfn_to_nid(pfn_at(p, a)))
    assert errno_of(p.madvise, a, PAGE_SIZE, MADV_SOFT_OFFLINE) == errno.ENOMEM
    m.unfragment(held)
    assert hw_corrupted_kb(m) == 0 and is_pmd_mapped(p, a)
    check_data(p, a, HPAGE_PMD_SIZE)


def test_so3_thp_start_2mib_offlines_first_page_only():
    m = numa_machine("mainline")
    p = m.spawn()
    a = thp_region(p, 1)
    head = pfn_at(p, a)
    assert p.madvise(a, HPAGE_PMD_SIZE, MADV_SOFT_OFFLINE) == 0
    assert hw_corrupted_kb(m) == 4
    assert m.kernel.pages.flags[head] & F_hwpoison
    assert not m.kernel.pages.flags[head + 1] & F_hwpoison
    assert anon_huge_kb(p) == 0


def test_so4_split_fails_with_extra_pin_ebusy():
    m = numa_machine("mainline", check=False)  # the test's own pin breaks the refcount ledger
    p = m.spawn()
    a = thp_region(p, 1)
    head = pfn_at(p, a)
    get_page(m.kernel, head)  # a long-term pin: split_huge_page refuses
    before = dict(m.kernel.vmstat.events)
    try:
        assert errno_of(p.madvise, a + PAGE_SIZE, PAGE_SIZE, MADV_SOFT_OFFLINE) == errno.EBUSY
        assert delta(m, before) == {"thp_split_page_failed": 1}
        assert hw_corrupted_kb(m) == 0 and is_pmd_mapped(p, a)
    finally:
        put_page(m.kernel, head)
    m.check_integrity()


# ---------------------------------------------------------------- /sys/.../soft_offline_page
@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_so6_free_frame_via_sysfs(profile):
    m = numa_machine(profile)
    ctx = m.kernel
    pfn = next(pf for pf, _o in for_each_free_block(ctx)) + 5
    assert is_free_buddy_page(ctx, pfn)
    data = f"{pfn << PAGE_SHIFT:#x}\n"
    assert m.fs.write(SOFT_OFFLINE_FILE, data) == len(data)
    assert not is_free_buddy_page(ctx, pfn)
    assert is_free_buddy_page(ctx, pfn + 1) and is_free_buddy_page(ctx, pfn - 1)
    assert hw_corrupted_kb(m) == 4
    assert kpageflags(m, pfn) >> KPF_HWPOISON & 1
    m.check_integrity()
    # SO-5: the same frame again: 0 since ~5.9, EBUSY in 4.14
    if profile == "mainline":
        assert m.fs.write(SOFT_OFFLINE_FILE, data) == len(data)
    else:
        assert errno_of(m.fs.write, SOFT_OFFLINE_FILE, data) == errno.EBUSY
    assert hw_corrupted_kb(m) == 4


def test_sysfs_in_use_page_by_physical_address():
    m = numa_machine("mainline")
    p = m.spawn()
    a = base_page(p)
    old = pfn_at(p, a)
    m.fs.write(SOFT_OFFLINE_FILE, str(old << PAGE_SHIFT))  # decimal works too (base 0)
    assert pfn_at(p, a) != old and p.threads[0].read(a) == 0x1234
    assert hw_corrupted_kb(m) == 4


@pytest.mark.parametrize("data, err", [
    ("xyz", errno.EINVAL),  # SO-7
    ("\n", errno.EINVAL),
    ("0xfffffffff000", errno.ENXIO),  # SO-8: no memmap
])
def test_so7_so8_sysfs_errors(data, err):
    m = numa_machine("mainline")
    assert errno_of(m.fs.write, SOFT_OFFLINE_FILE, data) == err


def test_sysfs_zero_length_write_reaches_no_store():
    """sysfs_kf_write(): a write of 0 bytes returns 0 before the store runs."""
    m = numa_machine("mainline")
    assert m.fs.write(SOFT_OFFLINE_FILE, "") == 0
    assert hw_corrupted_kb(m) == 0


def test_sysfs_needs_cap_sys_admin_and_is_write_only():
    m = numa_machine("mainline")
    p = m.spawn(uid=0, caps=frozenset())
    assert errno_of(p.fs.write, SOFT_OFFLINE_FILE, "0x1000") == errno.EPERM
    with pytest.raises(OSError):
        m.fs.read(SOFT_OFFLINE_FILE)


def test_zero_page_via_sysfs_eio():
    m = numa_machine("mainline")
    zero = hex(m.kernel.zero_pfn << PAGE_SHIFT)
    assert errno_of(m.fs.write, SOFT_OFFLINE_FILE, zero) == errno.EIO


# ---------------------------------------------------------------- MADV_HWPOISON
@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_hwpoison_oracle(profile):
    """Oracle hwpoison (7.2 and 6.12): MADV_HWPOISON on page 5 of a THP: SIGBUS
    BUS_MCEERR_AR at the page during madvise (6.1, like 4.14: madvise returns 0, no
    signal); the THP is split, page 5 becomes a hwpoison entry (pagemap: not present,
    swap), the other 511 pages stay readable; touching page 5 again gives SIGBUS at the
    faulting address. 4.14 splits first as well."""
    m = numa_machine(profile)
    p = m.spawn()
    a = thp_region(p, 4)
    p5 = a + 5 * PAGE_SIZE
    old = pfn_at(p, p5)
    before = dict(m.kernel.vmstat.events)
    if profile == "mainline":
        with pytest.raises(DeliveredSignal) as e:
            p.madvise(p5, PAGE_SIZE, MADV_HWPOISON)
        assert (e.value.si_signo, e.value.si_code, e.value.si_addr) == (
            signal.SIGBUS, BUS_MCEERR_AR, p5)
        assert e.value.si_addr_lsb == PAGE_SHIFT  # the THP was split: one page lost
    else:
        assert p.madvise(p5, PAGE_SIZE, MADV_HWPOISON) == 0
    d = delta(m, before)
    assert d["thp_split_page"] == 1 and d["thp_split_pmd"] == 1
    assert "pgmigrate_success" not in d
    assert anon_huge_kb(p) == 6144
    assert hw_corrupted_kb(m) == 4
    assert kpageflags(m, old) >> KPF_HWPOISON & 1
    pm = pagemap(p, p5)
    assert not pm >> 63 & 1 and pm >> 62 & 1  # not present, swapped (a hwpoison entry)
    assert pfn_at(p, p5) < 0
    m.check_integrity()
    with pytest.raises(DeliveredSignal) as e:
        p.threads[0].read(p5 + 17)
    assert (e.value.si_signo, e.value.si_code, e.value.si_addr) == (
        signal.SIGBUS, BUS_MCEERR_AR, p5 + 17)
    assert e.value.si_addr_lsb == PAGE_SHIFT  # do_sigbus(): VM_FAULT_HWPOISON
    assert p.threads[0].read(a + 6 * PAGE_SIZE) == a + 6 * PAGE_SIZE  # page 6: no signal
    check_data(p, a, 4 * HPAGE_PMD_SIZE, skip={p5})
    assert not is_free_buddy_page(m.kernel, old)
    p.exit()
    m.check_integrity()
    assert hw_corrupted_kb(m) == 4  # the frame stays out of use after the exit


def test_so12_hwpoison_base_page_then_fork_child_sigbus():
    m = numa_machine("mainline")
    p = m.spawn()
    a = base_page(p)
    child = p.fork()
    old = pfn_at(p, a)
    with pytest.raises(DeliveredSignal):
        p.madvise(a, PAGE_SIZE, MADV_HWPOISON)
    assert hw_corrupted_kb(m) == 4
    # the child shared the frame: it gets SIGBUS only when it touches it (late kill)
    with pytest.raises(DeliveredSignal) as e:
        child.threads[0].read(a)
    assert e.value.si_code == BUS_MCEERR_AR
    assert not is_free_buddy_page(m.kernel, old)
    child.exit()
    p.exit()
    m.check_integrity()


def test_hwpoison_on_poisoned_address_efault():
    """A second MADV_HWPOISON, or a MADV_SOFT_OFFLINE, at an address whose PTE is a
    hwpoison entry: the GUP fails (VM_FAULT_HWPOISON without FOLL_HWPOISON -> EFAULT)."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = base_page(p)
    with pytest.raises(DeliveredSignal):
        p.madvise(a, PAGE_SIZE, MADV_HWPOISON)
    for advice in (MADV_HWPOISON, MADV_SOFT_OFFLINE):
        assert errno_of(p.madvise, a, PAGE_SIZE, advice) == errno.EFAULT
    assert hw_corrupted_kb(m) == 4


# ---------------------------------------------------------------- /sys/.../hard_offline_page
HARD_OFFLINE_FILE = "/sys/devices/system/memory/hard_offline_page"
NODE = "/sys/devices/system/node"


def mf_stats(m, nid):
    """The node's /sys/devices/system/node/nodeN/memory_failure counters."""
    return {name: int(m.fs.read(f"{NODE}/node{nid}/memory_failure/{name}"))
            for name in ("total", "ignored", "failed", "delayed", "recovered")}


def all_stats(m):
    return {nid: mf_stats(m, nid) for nid in m.kernel.mem.nodes}


def zero_stats(m):
    return {nid: dict.fromkeys(("total", "ignored", "failed", "delayed", "recovered"), 0)
            for nid in m.kernel.mem.nodes}


def bumped(m, nid, **counters):
    """zero_stats() with ``counters`` (and total) added on node ``nid``."""
    want = zero_stats(m)
    for k, v in counters.items():
        want[nid][k] += v
        want[nid]["total"] += v
    return want


def phys(pfn):
    return f"{pfn << PAGE_SHIFT:#x}\n"


def test_node_stats_files_mainline_only():
    """6.3+: nodeN/memory_failure/{total,ignored,failed,delayed,recovered}, 0444,
    "%lu\\n"; absent in 4.14."""
    m = numa_machine("mainline")
    assert "memory_failure" in m.fs.listdir(f"{NODE}/node1")
    assert m.fs.listdir(f"{NODE}/node0/memory_failure") == [
        "total", "ignored", "failed", "delayed", "recovered"]
    assert m.fs.read(f"{NODE}/node0/memory_failure/total") == "0\n"
    assert errno_of(m.fs.write, f"{NODE}/node0/memory_failure/total", "1") == errno.EACCES
    s = numa_machine("seed")
    assert not s.fs.exists(f"{NODE}/node0/memory_failure")
    assert s.fs.exists(HARD_OFFLINE_FILE)  # hard_offline_page is older than 4.14


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_hard_offline_free_frame(profile):
    """memory_failure(pfn, 0) on a free frame: taken off the allocator, poisoned
    (MF_MSG_BUDDY: recovered); again: EHWPOISON since 5.14, success in 4.14; the
    already poisoned frame is not counted again."""
    m = numa_machine(profile)
    ctx = m.kernel
    pfn = next(pf for pf, _o in for_each_free_block(ctx)) + 7
    nid = m.kernel.mem.pfn_to_nid(pfn)
    assert m.fs.write(HARD_OFFLINE_FILE, phys(pfn)) == len(phys(pfn))
    assert not is_free_buddy_page(ctx, pfn) and is_free_buddy_page(ctx, pfn + 1)
    assert kpageflags(m, pfn) >> KPF_HWPOISON & 1
    assert hw_corrupted_kb(m) == 4
    assert "free buddy page: Recovered" in m.kernel.dmesg[-1]
    m.check_integrity()
    if profile == "mainline":
        assert all_stats(m) == bumped(m, nid, recovered=1)
        assert errno_of(m.fs.write, HARD_OFFLINE_FILE, phys(pfn)) == EHWPOISON
        assert all_stats(m) == bumped(m, nid, recovered=1)
    else:
        assert m.fs.write(HARD_OFFLINE_FILE, phys(pfn)) == len(phys(pfn))
    assert hw_corrupted_kb(m) == 4


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_hard_offline_mapped_page_sigbus_on_touch(profile):
    """A process's page: its data is lost, the PTE becomes a hwpoison entry; the
    process gets no signal at the write (no MF_ACTION_REQUIRED, early kill off) but
    SIGBUS BUS_MCEERR_AR when it touches the address (as after MADV_HWPOISON). A THP
    subpage splits the THP first; its neighbours stay readable."""
    m = numa_machine(profile)
    p = m.spawn()
    a = base_page(p)
    old = pfn_at(p, a)
    m.fs.write(HARD_OFFLINE_FILE, str(old << PAGE_SHIFT))  # decimal is fine (base 0)
    pm = pagemap(p, a)
    assert not pm >> 63 & 1 and pm >> 62 & 1
    assert hw_corrupted_kb(m) == 4
    with pytest.raises(DeliveredSignal) as e:
        p.threads[0].read(a)
    assert (e.value.si_signo, e.value.si_code, e.value.si_addr) == (
        signal.SIGBUS, BUS_MCEERR_AR, a)
    t = thp_region(p, 1)
    p9 = t + 9 * PAGE_SIZE
    sub = pfn_at(p, p9)
    before = dict(m.kernel.vmstat.events)
    m.fs.write(HARD_OFFLINE_FILE, phys(sub))
    assert delta(m, before).get("thp_split_page") == 1
    assert anon_huge_kb(p) == 0 and hw_corrupted_kb(m) == 8
    with pytest.raises(DeliveredSignal):
        p.threads[0].read(p9)
    check_data(p, t, HPAGE_PMD_SIZE, skip={p9})
    if profile == "mainline":
        want = zero_stats(m)
        for pf in (old, sub):
            want[m.kernel.mem.pfn_to_nid(pf)]["recovered"] += 1
            want[m.kernel.mem.pfn_to_nid(pf)]["total"] += 1
        assert all_stats(m) == want
    m.check_integrity()
    p.exit()
    m.check_integrity()
    assert hw_corrupted_kb(m) == 8


def test_hard_offline_kernel_page_ignored_ebusy():
    """A page table: get_hwpoison_page() cannot take it ("unhandlable page"),
    MF_MSG_GET_HWPOISON is ignored: EBUSY, yet PG_hwpoison stays set (ignored +1,
    HardwareCorrupted +4). The zero page likewise."""
    m = numa_machine("mainline")
    p = m.spawn()
    base_page(p)
    table = max(m.kernel.mem.tables)
    nid = m.kernel.mem.pfn_to_nid(table)
    assert errno_of(m.fs.write, HARD_OFFLINE_FILE, phys(table)) == errno.EBUSY
    assert "unhandlable page" in m.kernel.dmesg[-2]
    assert "get hwpoison page: Ignored" in m.kernel.dmesg[-1]
    assert kpageflags(m, table) >> KPF_HWPOISON & 1 and hw_corrupted_kb(m) == 4
    assert all_stats(m) == bumped(m, nid, ignored=1)
    zero = m.kernel.zero_pfn
    with pytest.raises(OSError) as e:
        m.fs.write(HARD_OFFLINE_FILE, phys(zero))
    assert e.value.errno == errno.EBUSY and hw_corrupted_kb(m) == 8
    m.check_integrity()
    p.exit()  # the poisoned page table is freed: it stays out of use
    m.check_integrity()
    assert not is_free_buddy_page(m.kernel, table)


@pytest.mark.parametrize("data, err", [
    ("xyz", errno.EINVAL),
    ("\n", errno.EINVAL),
    ("0x", errno.EINVAL),
    (" 4096", errno.EINVAL),  # kstrtoull: no leading space
    ("0x10000000000000000", errno.EINVAL),  # -ERANGE from kstrtoull, EINVAL from the store
    ("0xfffffffff000", errno.EBUSY),  # no memmap: memory_failure_pfn(), MF_IGNORED (7.2)
])
def test_hard_offline_errors(data, err):
    m = numa_machine("mainline")
    assert errno_of(m.fs.write, HARD_OFFLINE_FILE, data) == err
    assert hw_corrupted_kb(m) == 0 and all_stats(m) == zero_stats(m)


def test_hard_offline_beyond_ram_enxio_in_4_14():
    """4.14 (and 6.1, oracle): "memory outside kernel control", ENXIO."""
    m = numa_machine("seed")
    with pytest.raises(OSError) as e:
        m.fs.write(HARD_OFFLINE_FILE, "0xfffffffff000")
    assert e.value.errno == errno.ENXIO and hw_corrupted_kb(m) == 0


def test_hard_offline_needs_cap_sys_admin_and_is_write_only():
    m = numa_machine("mainline")
    p = m.spawn(uid=0, caps=frozenset())
    assert errno_of(p.fs.write, HARD_OFFLINE_FILE, "0x1000") == errno.EPERM
    q = m.spawn(uid=1000)
    with pytest.raises(OSError) as e:
        q.fs.write(HARD_OFFLINE_FILE, "0x1000")
    assert e.value.errno == errno.EACCES  # mode 0200, owner root
    with pytest.raises(OSError):
        m.fs.read(HARD_OFFLINE_FILE)
    assert hw_corrupted_kb(m) == 0


def test_hard_offline_offline_memory_enxio():
    """A frame of an offline memory block: pfn_to_online_page() is NULL, ENXIO
    (soft_offline_page_store says EIO for the same frame)."""
    m = numa_machine("mainline", movable={0: 128 * MB, 1: 128 * MB})
    bid = (m.kernel.mem.nodes[1].end_pfn - 1) // ((128 * MB) >> PAGE_SHIFT)
    m.fs.write(f"/sys/devices/system/memory/memory{bid}/state", "offline")
    pfn = bid * ((128 * MB) >> PAGE_SHIFT) + 3
    assert errno_of(m.fs.write, HARD_OFFLINE_FILE, phys(pfn)) == errno.ENXIO
    assert errno_of(m.fs.write, SOFT_OFFLINE_FILE, phys(pfn)) == errno.EIO


# ---------------------------------------------------------------- per-node statistics
def test_stats_madvise_hwpoison_counts_recovered_on_the_pages_node():
    """MADV_HWPOISON on a THP subpage on node 1: split, MF_MSG_DIRTY_LRU recovered on
    node 1 (total +1); node 0 untouched. A second THP on node 0 counts there."""
    m = numa_machine("mainline")
    p = m.spawn(cpu=0)
    a = thp_region(p, 2)
    p.move_pages(0, [a], [1])
    for addr, nid in ((a + 5 * PAGE_SIZE, 1), (a + HPAGE_PMD_SIZE, 0)):
        assert m.kernel.mem.pfn_to_nid(pfn_at(p, addr)) == nid
        with pytest.raises(DeliveredSignal):
            p.madvise(addr, PAGE_SIZE, MADV_HWPOISON)
        assert "dirty LRU page: Recovered" in m.kernel.dmesg[-1]
    want = bumped(m, 1, recovered=1)
    want[0]["recovered"] = want[0]["total"] = 1
    assert all_stats(m) == want
    assert hw_corrupted_kb(m) == 8


@pytest.mark.parametrize("thp", ["never", "always"])
def test_stats_madvise_hwpoison_on_untouched_memory(thp):
    """MADV_HWPOISON where nothing was written: GUP maps the zero page (or the huge zero
    page). The zero page is a reserved kernel page: poisoned, ignored, EBUSY. The huge
    zero page cannot be split: poisoned, failed, EHWPOISON; it is mapped by nobody's
    anon rmap, so no signal."""
    m, err = madvise_untouched(thp, MADV_HWPOISON)
    zero = m.kernel.zero_pfn if thp == "never" else m.kernel.huge_zero_pfn
    nid = m.kernel.mem.pfn_to_nid(zero)
    if thp == "never":
        assert err == errno.EBUSY
        assert "reserved kernel page: Ignored" in m.kernel.dmesg[-1]
        assert all_stats(m) == bumped(m, nid, ignored=1)
    else:
        assert err == EHWPOISON
        assert "unsplit thp: Failed" in m.kernel.dmesg[-1]
        assert all_stats(m) == bumped(m, nid, failed=1)
    assert kpageflags(m, zero) >> KPF_HWPOISON & 1 and hw_corrupted_kb(m) == 4
    m.check_integrity()


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_memory_failure_unsplit_thp(profile):
    """memory_failure() on a THP with an extra pin (the split fails). 6.x: PG_hwpoison
    stays on the frame, the caller (MF_ACTION_REQUIRED) gets SIGBUS, MF_FAILED,
    -EHWPOISON. 4.14: the flag is cleared again, -EBUSY, no signal."""
    m = numa_machine(profile, check=False)  # the test's own pin breaks the refcount ledger
    p = m.spawn()
    a = thp_region(p, 1)
    head = pfn_at(p, a)
    get_page(m.kernel, head)
    try:
        if profile == "mainline":
            with pytest.raises(DeliveredSignal) as e:
                p.madvise(a + 3 * PAGE_SIZE, PAGE_SIZE, MADV_HWPOISON)
            assert (e.value.si_signo, e.value.si_code) == (signal.SIGBUS, BUS_MCEERR_AR)
            # kill_procs_now() -> __add_to_kill(): folio_shift() of the unsplit THP
            assert (e.value.si_addr, e.value.si_addr_lsb) == (a + 3 * PAGE_SIZE, 21)
            assert hw_corrupted_kb(m) == 4 and m.kernel.pages.flags[head + 3] & F_hwpoison
            assert all_stats(m) == bumped(m, m.kernel.mem.pfn_to_nid(head), failed=1)
        else:
            assert errno_of(p.madvise, a + 3 * PAGE_SIZE, PAGE_SIZE, MADV_HWPOISON) == errno.EBUSY
            assert hw_corrupted_kb(m) == 0
        assert is_pmd_mapped(p, a)
    finally:
        put_page(m.kernel, head)
    m.check_integrity()
    p.exit()
    m.check_integrity()


def test_soft_offline_is_not_counted_in_node_stats():
    """page_handle_poison() bumps num_poisoned_pages only: soft offline (madvise or
    sysfs, in-use or free frame) grows HardwareCorrupted, never nodeN/memory_failure."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = base_page(p)
    t = thp_region(p, 1)
    assert p.madvise(a, PAGE_SIZE, MADV_SOFT_OFFLINE) == 0
    assert p.madvise(t + PAGE_SIZE, PAGE_SIZE, MADV_SOFT_OFFLINE) == 0
    free = next(pf for pf, _o in for_each_free_block(m.kernel)) + 1
    m.fs.write(SOFT_OFFLINE_FILE, phys(free))
    assert hw_corrupted_kb(m) == 12
    assert all_stats(m) == zero_stats(m)
    # memory_failure() on a soft-offlined frame: already poisoned, not counted again
    assert errno_of(m.fs.write, HARD_OFFLINE_FILE, phys(free)) == EHWPOISON
    assert all_stats(m) == zero_stats(m) and hw_corrupted_kb(m) == 12


def test_soft_offline_subpage_zapped_during_the_split_mainline():
    """Stress found it: soft offline of a THP subpage splits the THP first (mainline);
    a MADV_DONTNEED of that subpage while the split has it frozen (a PTE migration
    entry) must not free it under the soft offline, whose pin moves to the subpage
    with split_huge_page(page) (the kernel's try_to_split_thp_page())."""
    from thpsim.mm.madvise import MADV_DONTNEED, madvise_inject_error
    from thpsim.testing import Stepper

    m = numa_machine("mainline", check=False)  # the split is half-way during the madvise
    ctx = m.kernel
    p = m.spawn()
    a = thp_region(p, 1)
    p5 = a + 5 * PAGE_SIZE
    old = pfn_at(p, p5)
    so = Stepper(ctx, madvise_inject_error(p.task, p5, p5 + PAGE_SIZE, MADV_SOFT_OFFLINE),
                 task=p.task)

    def frozen():
        from thpsim.mm.pgtable_generic import lookup_pmd

        pmd = lookup_pmd(p.mm, a)
        v = pmd[0][pmd[1]]
        if not v or v & (1 << 7):  # still huge (or none)
            return False
        t = ctx.mem.tables[(v & ((1 << 52) - 1)) >> PAGE_SHIFT]
        return ctx.swp.is_pte_migration_entry(t[5])

    so.run_until(frozen)
    assert p.madvise(p5, PAGE_SIZE, MADV_DONTNEED) == 0
    assert so.finish() == 0
    assert kpageflags(m, old) >> KPF_HWPOISON & 1 and hw_corrupted_kb(m) == 4
    assert p.threads[0].read(p5) == 0  # zapped: reads the zero page
    check_data(p, a, HPAGE_PMD_SIZE, skip={p5})
    m.check_integrity()


UNPOISON_FILE = "/sys/kernel/debug/hwpoison/unpoison-pfn"
CORRUPT_FILE = "/sys/kernel/debug/hwpoison/corrupt-pfn"


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_unpoison_after_soft_offline_gives_the_frame_back(profile):
    """hwpoison-inject's unpoison-pfn: a soft-offlined frame is unpoisoned (HWPOISON
    gone from kpageflags, HardwareCorrupted back to 0, the frame free again); again,
    it is not poisoned: -EBUSY in mainline, 0 (logged) in 4.14."""
    m = numa_machine(profile)
    p = m.spawn()
    a = base_page(p)
    old = pfn_at(p, a)
    assert p.madvise(a, PAGE_SIZE, MADV_SOFT_OFFLINE) == 0
    assert kpageflags(m, old) >> KPF_HWPOISON & 1 and hw_corrupted_kb(m) == 4
    assert not is_free_buddy_page(m.kernel, old)
    m.fs.write(UNPOISON_FILE, str(old))
    assert not kpageflags(m, old) >> KPF_HWPOISON & 1 and hw_corrupted_kb(m) == 0
    assert is_free_buddy_page(m.kernel, old)
    assert p.threads[0].read(a) == 0x1234  # the data lives in the new frame
    if profile == "mainline":
        assert errno_of(m.fs.write, UNPOISON_FILE, str(old)) == errno.EBUSY
    else:
        assert m.fs.write(UNPOISON_FILE, str(old)) == len(str(old))
    m.check_integrity()


def test_unpoison_refuses_a_mapped_or_kernel_frame_mainline():
    """A reserved kernel frame (the zero page) stays poisoned: -EBUSY; bad input
    -EINVAL; a PFN without a memmap -EIO; the debugfs directory is root's only."""
    m = numa_machine("mainline")
    zero = m.kernel.zero_pfn
    with pytest.raises(OSError) as e:  # memory_failure(): reserved: ignored, but poisoned
        m.fs.write(CORRUPT_FILE, str(zero))
    assert e.value.errno == errno.EBUSY and kpageflags(m, zero) >> KPF_HWPOISON & 1
    with pytest.raises(OSError) as e:
        m.fs.write(UNPOISON_FILE, str(zero))
    assert e.value.errno == errno.EBUSY and kpageflags(m, zero) >> KPF_HWPOISON & 1
    for bad in ("xyz", "-1"):
        assert errno_of(m.fs.write, UNPOISON_FILE, bad) == errno.EINVAL
    assert errno_of(m.fs.write, UNPOISON_FILE, str(m.kernel.pages.nr + 5)) == errno.EIO
    user = m.spawn(uid=1000)
    assert errno_of(user.fs.write, UNPOISON_FILE, "1") == errno.EACCES


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_corrupt_pfn_then_unpoison_a_hard_poisoned_anon_page(profile):
    """corrupt-pfn on a mapped anonymous page: memory_failure() unmaps it (a hwpoison
    entry: SIGBUS on touch); the frame is not mapped nor referenced any more, so
    unpoison gives it back; the process still gets SIGBUS there (its entry stays)."""
    m = numa_machine(profile)
    p = m.spawn()
    a = base_page(p)
    pfn = pfn_at(p, a)
    m.fs.write(CORRUPT_FILE, str(pfn))
    assert hw_corrupted_kb(m) == 4
    with pytest.raises(DeliveredSignal):
        p.threads[0].read(a)
    m.fs.write(UNPOISON_FILE, str(pfn))
    assert hw_corrupted_kb(m) == 0 and is_free_buddy_page(m.kernel, pfn)
    with pytest.raises(DeliveredSignal):
        p.threads[0].read(a)
    m.check_integrity()


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_unpoison_of_a_frame_in_offline_memory(profile):
    """The stress find: a soft-offlined frame whose block then goes offline. 4.14 clears
    PG_hwpoison and leaves the frame offline (onlining frees it with the rest);
    mainline refuses (-EIO: pfn_to_online_page() is NULL) until the block is back.
    Either way the frame is freed exactly once."""
    m = numa_machine(profile, movable={1: 128 * MB})
    p = m.spawn(cpu=3)  # node 1
    a = base_page(p)
    pfn = pfn_at(p, a)
    block = pfn // ((128 * MB) >> PAGE_SHIFT)
    state = f"/sys/devices/system/memory/memory{block}/state"
    assert page_zone(m.kernel, pfn).name == "Movable"
    assert p.madvise(a, PAGE_SIZE, MADV_SOFT_OFFLINE) == 0
    p.exit()
    m.fs.write(state, "offline")
    if profile == "mainline":
        with pytest.raises(OSError) as e:
            m.fs.write(UNPOISON_FILE, str(pfn))
        assert e.value.errno == errno.EIO and hw_corrupted_kb(m) == 4
        m.fs.write(state, "online_movable")
        m.fs.write(UNPOISON_FILE, str(pfn))
    else:
        m.fs.write(UNPOISON_FILE, str(pfn))
        assert hw_corrupted_kb(m) == 0 and not is_free_buddy_page(m.kernel, pfn)
        m.fs.write(state, "online_movable")
    assert hw_corrupted_kb(m) == 0 and is_free_buddy_page(m.kernel, pfn)
    m.check_integrity()


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_debugfs_pfn_writes_parse_as_simple_attr_write_did(profile):
    """fs/libfs.c simple_attr_write() reads only the first 23 bytes of a write; 5.8+
    (simple_attr_write_kstrtoull) parses them with kstrtoull (junk: EINVAL), 4.14 with
    simple_strtoll (no error: junk is 0, "0x10zz" is 16). Found by the files fuzzer's
    review: the model parsed the whole write with kstrtoull in both eras, so 24 zeros
    and a 1 poisoned PFN 1 where every kernel reads PFN 0."""
    m = numa_machine(profile)
    p = m.spawn()
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    p.write(a, 1)
    pfn = struct.unpack("<Q", p.fs.read("/proc/self/pagemap", offset=(a >> 12) * 8,
                                        length=8))[0] & ((1 << 55) - 1)
    # 23 bytes are read: the trailing digits of a long write are never seen
    long = "0x" + f"{pfn:021x}" + "999"  # 23 bytes hold the PFN; "999" is not read
    if profile == "seed":  # unpoison of a page that is not poisoned: 0 (only logged)
        assert m.fs.write(UNPOISON_FILE, long) == len(long)
    else:  # ... -EBUSY: the PFN was parsed (all 26 bytes would name another PFN: EIO)
        assert errno_of(m.fs.write, UNPOISON_FILE, long) == errno.EBUSY
    if profile == "seed":
        assert m.fs.write(UNPOISON_FILE, "xyz") == 3  # simple_strtoll: PFN 0, no error
    else:
        assert errno_of(m.fs.write, UNPOISON_FILE, "xyz") == errno.EINVAL
    zeros = "0" * 24 + "1"  # the 23 bytes are all zeros: PFN 0 in both eras
    assert errno_of(m.fs.write, CORRUPT_FILE, zeros) == errno.EBUSY  # reserved frame
    assert kpageflags(m, 0) >> KPF_HWPOISON & 1
    assert not kpageflags(m, 1) >> KPF_HWPOISON & 1
