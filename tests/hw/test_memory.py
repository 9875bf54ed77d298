"""Physical memory (hw/memory.py): node layout, node ids, distances, frame contents
and the page-table store, as the hardware (and /sys/devices/system/node) shows them."""

import pytest

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR, HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.errors import ConfigError
from thpsim.hw.cpu import mmu_walk
from thpsim.hw.memory import MAX_NUMNODES, PageTable, PhysicalMemory

MB = 1 << 20
FRAMES_PER_MB = MB // PAGE_SIZE


def frame_of(m, p, addr):
    """The frame the MMU translates ``addr`` of ``p`` to."""
    e, _ = mmu_walk(m.kernel.mem, p.mm.pgd.pfn, addr, False)
    assert e >= 0
    return e >> PAGE_SHIFT


def test_nodes_are_contiguous_pfn_ranges_in_id_order():
    mem = PhysicalMemory({1: 8 * MB, 0: 4 * MB}, 2 * MB)
    assert list(mem.nodes) == [0, 1]
    n0, n1 = mem.nodes[0], mem.nodes[1]
    assert (n0.start_pfn, n0.end_pfn) == (0, 4 * FRAMES_PER_MB)
    assert (n1.start_pfn, n1.end_pfn) == (4 * FRAMES_PER_MB, 12 * FRAMES_PER_MB)
    assert mem.max_pfn == 12 * FRAMES_PER_MB
    assert mem.pfn_to_nid(0) == 0 and mem.pfn_to_nid(n0.end_pfn - 1) == 0
    assert mem.pfn_to_nid(n1.start_pfn) == 1 and mem.pfn_to_nid(mem.max_pfn - 1) == 1
    assert mem.pfn_valid(mem.max_pfn - 1) and not mem.pfn_valid(mem.max_pfn)
    assert not mem.pfn_valid(-1)


def test_sparse_node_ids():
    mem = PhysicalMemory({5: 2 * MB, 0: 2 * MB, 2: 4 * MB}, 2 * MB)
    assert list(mem.nodes) == [0, 2, 5]
    assert [mem.nodes[n].start_pfn for n in (0, 2, 5)] == [0, 512, 1536]
    assert [mem.pfn_to_nid(p) for p in (0, 511, 512, 1535, 1536, 2047)] == [0, 0, 2, 2, 5, 5]
    assert set(mem.distance) == {(a, b) for a in (0, 2, 5) for b in (0, 2, 5)}


def test_machine_with_sparse_nodes_spreads_cpus_and_lists_online_nodes():
    m = Machine(nodes={0: 64 * MB, 3: 64 * MB}, block_size=64 * MB, cpus=3)
    assert m.nodes == {0: 64 * MB, 3: 64 * MB}
    assert [c.nid for c in m.cpus] == [0, 0, 3]
    assert m.kernel.mem.nodes[3].cpus == [2]
    assert m.fs.read("/sys/devices/system/node/online").strip() == "0,3"


def test_node_ids_at_or_above_max_numnodes_are_refused():
    PhysicalMemory({MAX_NUMNODES - 1: 2 * MB}, 2 * MB)
    with pytest.raises(ConfigError, match="MAX_NUMNODES"):
        PhysicalMemory({MAX_NUMNODES: 2 * MB}, 2 * MB)
    with pytest.raises(ConfigError):
        PhysicalMemory({-1: 2 * MB}, 2 * MB)


@pytest.mark.parametrize("nodes,block", [
    ({}, 2 * MB),                # no node
    ({0: 3 * MB}, 2 * MB),       # not a multiple of the block size
    ({0: 0}, 2 * MB),            # empty node
    ({0: 4 * MB}, 1 * MB),       # block not a multiple of 2 MiB
    ({0: 4 * MB}, 0),
])
def test_bad_layouts_are_refused(nodes, block):
    with pytest.raises(ConfigError):
        PhysicalMemory(nodes, block)


def test_default_distances_are_10_local_20_remote():
    mem = PhysicalMemory({0: 2 * MB, 1: 2 * MB, 4: 2 * MB}, 2 * MB)
    for a in (0, 1, 4):
        for b in (0, 1, 4):
            assert mem.distance[(a, b)] == (10 if a == b else 20)


def test_given_distances_are_symmetric_unless_both_directions_are_given():
    mem = PhysicalMemory({0: 2 * MB, 1: 2 * MB, 2: 2 * MB}, 2 * MB,
                         {(0, 1): 21, (1, 2): 31, (2, 1): 32})
    assert mem.distance[(0, 1)] == mem.distance[(1, 0)] == 21
    assert (mem.distance[(1, 2)], mem.distance[(2, 1)]) == (31, 32)
    assert mem.distance[(0, 2)] == 20 and mem.distance[(2, 2)] == 10


def test_distance_to_self_must_be_10():
    with pytest.raises(ConfigError, match="itself"):
        PhysicalMemory({0: 2 * MB, 1: 2 * MB}, 2 * MB, {(1, 1): 12})


def test_distance_shows_in_sysfs():
    m = Machine(nodes={0: 64 * MB, 2: 64 * MB}, block_size=64 * MB,
                distance={(0, 2): 17})
    assert m.fs.read("/sys/devices/system/node/node0/distance").split() == ["10", "17"]
    assert m.fs.read("/sys/devices/system/node/node2/distance").split() == ["17", "10"]


def test_frame_contents_copy_and_clear():
    mem = PhysicalMemory({0: 4 * MB}, 2 * MB)
    assert mem.contents[7] == 0
    for i in range(4):
        mem.contents[10 + i] = 0xABC0 + i
    mem.contents[20] = 2**64 - 1  # a full 64-bit word
    assert mem.contents[20] == 2**64 - 1
    mem.copy_frames(100, 10, 4)
    assert [mem.contents[100 + i] for i in range(4)] == [0xABC0 + i for i in range(4)]
    assert mem.contents[104] == 0 and mem.contents[10] == 0xABC0  # source kept, no overrun
    mem.clear_frames(101, 2)
    assert [mem.contents[100 + i] for i in range(4)] == [0xABC0, 0, 0, 0xABC3]


def test_a_user_write_lands_in_its_frame_word():
    """Any address inside a 4 KiB page reads and writes that frame's one word."""
    m = Machine(nodes={0: 64 * MB}, block_size=64 * MB, thp="never", check=True)
    p = m.spawn()
    a = p.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a + 8, 0x1122334455667788)
    pfn = frame_of(m, p, a)
    assert m.kernel.mem.contents[pfn] == 0x1122334455667788
    assert p.read(a + PAGE_SIZE - 8) == 0x1122334455667788
    p.write(a + PAGE_SIZE, 7)
    assert frame_of(m, p, a + PAGE_SIZE) != pfn and m.kernel.mem.contents[pfn] == 0x1122334455667788


def test_thp_copy_is_a_copy_of_512_frame_words():
    m = Machine(nodes={0: 64 * MB, 1: 64 * MB}, block_size=64 * MB, check=True)
    p = m.spawn()
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    for i in range(0, HPAGE_PMD_SIZE, 64 * PAGE_SIZE):
        p.write(a + i, a + i)
    mem = m.kernel.mem
    src = frame_of(m, p, a)
    dst = mem.nodes[1].start_pfn + 2 * HPAGE_PMD_NR
    mem.copy_frames(dst, src, HPAGE_PMD_NR)
    assert [int(x) for x in mem.contents_np[dst:dst + HPAGE_PMD_NR:64]] == [
        a + i for i in range(0, HPAGE_PMD_SIZE, 64 * PAGE_SIZE)]
    mem.clear_frames(dst, HPAGE_PMD_NR)
    assert not mem.contents_np[dst:dst + HPAGE_PMD_NR].any()


def test_page_table_pages_are_512_zeroed_words():
    mem = PhysicalMemory({0: 4 * MB}, 2 * MB)
    t = mem.new_table(33, 2)
    assert isinstance(t, PageTable) and mem.tables[33] is t
    assert len(t) == 512 and all(w == 0 for w in t)
    assert (t.pfn, t.level, t.ptl, t.pmd_huge_pte) == (33, 2, None, None)
    t[511] = 2**64 - 1  # entries are full 64-bit words (NX is bit 63)
    assert t[511] == 2**64 - 1
    with pytest.raises(OverflowError):
        t[0] = 2**64
    assert mem.free_table(33) is t and 33 not in mem.tables


@pytest.mark.parametrize("distance", [
    {(0, 1): -5}, {(0, 1): 5}, {(0, 1): 10}, {(0, 1): 255}, {(0, 1): 300},
    {(0, 0): 11}, {(1, 1): -10}, {(0, 2): 20}, {(0, 1): 20.0}, {0: 20},
])
def test_bad_slit_distances_are_refused(distance):
    """Regression (issue 11): negative and other impossible distances were taken.
    slit_valid(): a node's distance to itself is 10, to another node more than 10;
    numa_set_distance(): a distance is a u8 (255, unreachable, is not modelled). A
    pair naming a node the machine lacks is refused too."""
    with pytest.raises(ConfigError):
        Machine(distance=distance)


def test_edge_slit_distances_are_taken():
    m = Machine(distance={(0, 1): 11, (1, 0): 254})
    assert m.kernel.mem.distance == {(0, 0): 10, (0, 1): 11, (1, 0): 254, (1, 1): 10}
