"""/proc/PID/status, /proc/meminfo, /proc/vmstat and /proc/buddyinfo."""

import re

from fs_helpers import boot, key_values, map_small, map_thp_area

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.mm.page_alloc import (
    node_free_pages,
    take_page_off_buddy,
    totalram_pages,
)
from thpsim.mm.page_flags import F_hwpoison


def test_status_memory_lines(profile):
    m = boot(profile)
    p = m.spawn()
    a = map_thp_area(p, 2)  # a 6 MiB VMA: [spare][THP A][THP B]
    p.threads[0].write(a, 1)
    p.threads[0].write(a + HPAGE_PMD_SIZE, 1)
    b = map_small(p, 4)
    p.threads[0].write(b, 1)
    p.clone()
    text = p.fs.read("/proc/self/status")
    st = key_values(text)
    assert re.search(r"^Name:\tthpsim$", text, re.M)
    assert st["Pid"] == st["Tgid"] == p.pid and st["Threads"] == 2
    assert st["VmSize"] == st["VmPeak"] == 6 * 1024 + 4 * 4
    assert st["VmRSS"] == st["VmHWM"] == st["RssAnon"] == 4096 + 4
    assert st["VmLck"] == 0
    assert "VmSize:\t    6160 kB\n" in text
    mm = p.mm
    # two THP deposits and one PTE table for the 4 KiB page
    assert mm.nr_ptes == 3
    if profile == "seed":  # 4.14: PTE and PMD tables apart
        assert st["VmPTE"] == mm.nr_ptes * 4 and st["VmPMD"] == mm.nr_pmds * 4
    else:  # 4.16+: every level in VmPTE
        assert "VmPMD" not in st
        assert st["VmPTE"] == (mm.nr_ptes + mm.nr_pmds + mm.nr_puds) * 4
    p.mlock(b, 4 * PAGE_SIZE)
    assert key_values(p.fs.read("/proc/self/status"))["VmLck"] == 16


def test_status_of_an_unprivileged_process(profile):
    m = boot(profile)
    u = m.spawn(uid=1000, caps=frozenset())
    st = m.fs.read(f"/proc/{u.pid}/status")
    assert "Uid:\t1000\t1000\t1000\t1000\n" in st
    assert "CapEff:\t0000000000000000\n" in st
    root = m.fs.read(f"/proc/{m.spawn().pid}/status")
    cap = "0000003fffffffff" if profile == "seed" else "000001ffffffffff"
    assert f"CapEff:\t{cap}\n" in root


def test_meminfo_format_and_thp(profile):
    m = boot(profile)
    before = key_values(m.fs.read("/proc/meminfo"))
    assert before["MemTotal"] == totalram_pages(m.kernel) * 4
    p = m.spawn()
    a = map_thp_area(p, 3)
    for i in range(3):
        p.threads[0].write(a + i * HPAGE_PMD_SIZE, 1)
    text = m.fs.read("/proc/meminfo")
    info = key_values(text)
    assert info["AnonHugePages"] == 3 * 2048
    assert info["AnonPages"] == 3 * 2048
    assert before["MemFree"] - info["MemFree"] >= 3 * 2048
    tables = m.kernel.vmstat.global_zone_page_state("nr_page_table_pages")
    assert info["PageTables"] == tables * 4
    assert re.search(r"^MemTotal: +\d+ kB$", text, re.M)
    assert f"AnonHugePages:  {3 * 2048:>8} kB\n" in text
    assert "HardwareCorrupted:     0 kB\n" in text
    assert "Hugepagesize:       2048 kB\n" in text
    assert ("Hugetlb" in info) == (profile == "mainline")
    assert all(len(line.split(":")[0]) < 16 or line.startswith("HardwareCorrupted")
               for line in text.splitlines())


def test_meminfo_hardware_corrupted():
    """A poisoned frame is 4 kB of HardwareCorrupted (as soft offline leaves a free frame:
    taken off the buddy lists, PG_hwpoison, one reference)."""
    m = boot()
    ctx = m.kernel
    pfn = ctx.mem.nodes[1].start_pfn + 4096
    assert take_page_off_buddy(ctx, pfn)
    ctx.pages.flags[pfn] |= F_hwpoison
    ctx.pages.refcount[pfn] = 1
    assert "HardwareCorrupted:     4 kB\n" in m.fs.read("/proc/meminfo")


def test_vmstat_thp_counters(profile):
    m = boot(profile)
    vm0 = key_values(m.fs.read("/proc/vmstat"))
    p = m.spawn()
    a = map_thp_area(p, 3)
    for i in range(3):
        p.threads[0].write(a + i * HPAGE_PMD_SIZE, 1)
    p.read(map_thp_area(p))  # a read fault: the huge zero page, no THP allocated
    vm = key_values(m.fs.read("/proc/vmstat"))
    assert vm["thp_fault_alloc"] - vm0["thp_fault_alloc"] == 3
    assert vm["nr_anon_transparent_hugepages"] == 3  # OV-12: printed in THPs
    assert vm["nr_anon_pages"] == 3 * 512
    assert vm["thp_zero_page_alloc"] == 1
    assert vm["nr_free_pages"] == sum(node_free_pages(m.kernel, n) for n in (0, 1))
    names = [line.split()[0] for line in m.fs.read("/proc/vmstat").splitlines()]
    # zone items, then node items, then events
    assert names.index("nr_free_pages") < names.index("nr_inactive_anon") < names.index("pgfault")
    assert names.index("thp_fault_alloc") < names.index("thp_migration_success")
    # Machine.vmstat(): the same file, parsed, in its order
    assert m.vmstat() == vm and list(m.vmstat()) == names
    assert m.vmstat()["pgfault"] == m.kernel.vmstat.events["pgfault"]


def test_buddyinfo():
    m = boot()
    lines = m.fs.read("/proc/buddyinfo").splitlines()
    assert [line[:21] for line in lines] == ["Node 0, zone   Normal", "Node 1, zone   Normal"]
    counts = [int(x) for x in lines[1].split()[4:]]
    assert len(counts) == 11
    assert sum(n << order for order, n in enumerate(counts)) == (
        node_free_pages(m.kernel, 1)
    )
