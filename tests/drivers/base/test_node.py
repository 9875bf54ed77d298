"""/sys/devices/system/node (drivers/base/node.py): the node-state lists and each
node's cpumap, cpulist, distance, numastat, meminfo and vmstat."""

import pytest
from fs_helpers import MB, boot, key_values, map_thp_area

from thpsim.mm.page_alloc import node_free_pages

NODE = "/sys/devices/system/node"
PROFILES = pytest.mark.parametrize("profile", ["seed", "mainline"])


@PROFILES
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


@PROFILES
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
