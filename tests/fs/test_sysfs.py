"""/sys/kernel/mm/transparent_hugepage and /sys/devices/system/node (sysfs.py)."""

import errno

import pytest
from fs_helpers import MB, boot, key_values, map_thp_area, smaps_of

from thpsim.mm.page_alloc import (
    node_free_pages,
)

THP = "/sys/kernel/mm/transparent_hugepage"
NODE = "/sys/devices/system/node"


def err(fn, *a) -> int:
    with pytest.raises(OSError) as e:
        fn(*a)
    return e.value.errno


def test_enabled_round_trip(profile):
    m = boot(profile)
    fs = m.fs
    assert fs.read(f"{THP}/enabled") == "[always] madvise never\n"
    assert fs.write(f"{THP}/enabled", "madvise\n") == 8
    assert fs.read(f"{THP}/enabled") == "always [madvise] never\n"
    assert m.kernel.thp.enabled == "madvise"
    # a fault in a VMA without MADV_HUGEPAGE now gets no THP
    p = m.spawn()
    a = map_thp_area(p)
    p.threads[0].write(a, 1)
    assert smaps_of(p.fs, a)["AnonHugePages"] == 0
    assert fs.write(f"{THP}/enabled", "never") == 5
    assert fs.read(f"{THP}/enabled") == "always madvise [never]\n"
    for bad in ("sometimes", "xyz\n", "[always]"):
        assert err(fs.write, f"{THP}/enabled", bad) == errno.EINVAL
    assert m.kernel.thp.enabled == "never"


def test_enabled_prefix_matching_by_era(profile):
    """4.14 compares min(strlen(mode), count) bytes: "alw" is always; mainline needs the word."""
    m = boot(profile, thp="never")
    fs = m.fs
    if profile == "seed":
        assert fs.write(f"{THP}/enabled", "alw") == 3
        assert m.kernel.thp.enabled == "always"
        fs.write(f"{THP}/defrag", "d")  # defer+madvise is tested before defer
        assert fs.read(f"{THP}/defrag") == "always defer [defer+madvise] madvise never\n"
        fs.write(f"{THP}/defrag", "defer\n")
        assert m.kernel.thp.defrag == "defer"
    else:
        assert err(fs.write, f"{THP}/enabled", "alw") == errno.EINVAL
        assert err(fs.write, f"{THP}/defrag", "d") == errno.EINVAL
        assert m.kernel.thp.enabled == "never"


def test_defrag_round_trip(profile):
    m = boot(profile)
    fs = m.fs
    assert fs.read(f"{THP}/defrag") == "always defer defer+madvise [madvise] never\n"
    for mode in ("always", "defer", "defer+madvise", "madvise", "never"):
        fs.write(f"{THP}/defrag", mode + "\n")
        assert m.kernel.thp.defrag == mode
        assert f"[{mode}]" in fs.read(f"{THP}/defrag")
    assert err(fs.write, f"{THP}/defrag", "often") == errno.EINVAL


def test_use_zero_page(profile):
    m = boot(profile)
    fs = m.fs
    assert fs.read(f"{THP}/use_zero_page") == "1\n"
    assert fs.write(f"{THP}/use_zero_page", "0\n") == 2
    assert fs.read(f"{THP}/use_zero_page") == "0\n"
    p = m.spawn()
    p.read(map_thp_area(p))
    assert m.kernel.huge_zero_pfn < 0  # a read fault no longer maps the huge zero page
    assert err(fs.write, f"{THP}/use_zero_page", "2") == errno.EINVAL
    assert err(fs.write, f"{THP}/use_zero_page", " 1") == errno.EINVAL
    assert err(fs.write, f"{THP}/use_zero_page", "1" * 30) == errno.ERANGE
    assert fs.read(f"{THP}/hpage_pmd_size") == "2097152\n"
    assert err(fs.write, f"{THP}/hpage_pmd_size", "4096") == errno.EACCES


def test_node_lists_and_files(profile):
    m = boot(profile, nodes={0: 256 * MB, 2: 256 * MB}, cpus={0: 3, 2: 1})
    fs = m.fs
    for state in ("possible", "online", "has_memory", "has_normal_memory", "has_cpu"):
        assert fs.read(f"{NODE}/{state}") == "0,2\n"
    assert fs.listdir(NODE)[-2:] == ["node0", "node2"]
    assert not fs.exists(f"{NODE}/node1")
    assert fs.read(f"{NODE}/node0/cpulist") == "0-2\n"
    assert fs.read(f"{NODE}/node2/cpulist") == "3\n"
    assert fs.read(f"{NODE}/node0/cpumap") == "7\n"
    assert fs.read(f"{NODE}/node2/distance") == "20 10\n"
    stat = key_values(fs.read(f"{NODE}/node0/numastat"))
    assert list(stat) == ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit",
                          "local_node", "other_node"]


def test_node_meminfo_and_vmstat(profile):
    m = boot(profile)
    p = m.spawn(cpu=3)  # a CPU of node 1: the THP lands there
    a = map_thp_area(p)
    p.threads[0].write(a, 1)
    text = m.fs.read(f"{NODE}/node1/meminfo")
    assert text.startswith("Node 1 MemTotal:       ")
    assert "Node 1 AnonHugePages:      2048 kB\n" in text
    assert "Node 1 AnonPages:          2048 kB\n" in text
    assert "Node 0 AnonHugePages:         0 kB\n" in m.fs.read(f"{NODE}/node0/meminfo")
    fields = {line.split()[2].rstrip(":"): int(line.split()[3]) for line in text.splitlines()}
    assert fields["MemUsed"] == fields["MemTotal"] - fields["MemFree"]
    assert fields["MemFree"] == node_free_pages(m.kernel, 1) * 4
    assert ("SecPageTables" in fields) == (profile == "mainline")
    vm = key_values(m.fs.read(f"{NODE}/node1/vmstat"))
    assert vm["nr_anon_transparent_hugepages"] == 1 and vm["nr_anon_pages"] == 512
    assert key_values(m.fs.read(f"{NODE}/node0/vmstat"))["nr_anon_transparent_hugepages"] == 0
