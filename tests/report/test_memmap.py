"""node_occupancy() and node_memory_map(): every frame counted once, in the right kind."""

from __future__ import annotations

import json

import pytest

from thpsim import (
    HPAGE_PMD_SIZE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_MF_MOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR
from thpsim.report.memmap import (
    KINDS,
    frame_kinds,
    node_memory_map,
    node_occupancy,
    node_ranges,
)
from thpsim.testing import node_free_pages, node_stat

MiB = 1 << 20
HINT = 0x7E00_0000_0000  # 2 MiB-aligned, so the mapping's PMDs can hold THPs


def _machine(thp: str = "always", profile: str = "seed") -> Machine:
    # sparse node ids on purpose: keys are the ids, not 0..n-1
    return Machine(nodes={0: 128 * MiB, 2: 128 * MiB}, cpus=2, thp=thp, seed=0, check=True,
                   profile=profile)


#: both eras: /proc/kpageflags differs between them (PGTABLE, OFFLINE, folio flags)
PROFILES = pytest.mark.parametrize("profile", ["seed", "mainline"])


def _check_adds_up(m: Machine) -> dict[str, dict[str, int]]:
    occ = node_occupancy(m)
    assert list(occ) == ["0", "2"]
    for nid, n in m.kernel.mem.nodes.items():
        kinds = occ[str(nid)]
        assert list(kinds) == list(KINDS)
        assert sum(kinds.values()) == n.nr_pages
        # the kernel's own counters agree where it keeps one
        assert kinds["free"] == node_free_pages(m, nid)
    return occ


@PROFILES
def test_boot_is_free_and_adds_up(profile):
    m = _machine(profile=profile)
    occ = _check_adds_up(m)
    for kinds in occ.values():
        assert kinds["thp"] == kinds["base"] == kinds["pgtable"] == kinds["poisoned"] == 0
        assert kinds["free"] > 0.99 * sum(kinds.values())


@PROFILES
def test_thp_fault_then_move_pages_moves_512_thp_pages(profile):
    m = _machine(profile=profile)
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, 4 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    t = p.threads[0]
    before = _check_adds_up(m)
    for i in range(4):
        t.write(a + i * HPAGE_PMD_SIZE, i + 1)  # four THPs on node 0 (cpu 0's node)
    faulted = _check_adds_up(m)
    assert faulted["0"]["thp"] - before["0"]["thp"] == 4 * HPAGE_PMD_NR
    assert faulted["0"]["pgtable"] > before["0"]["pgtable"]  # PGD..PMD tables for the mm
    assert faulted["2"] == before["2"]
    # every THP is PMD-mapped here: the kernel's count (in base pages) agrees
    assert faulted["0"]["thp"] == node_stat(m, 0)["nr_anon_transparent_hugepages"]

    ret, status = p.move_pages(0, [a], [2], MPOL_MF_MOVE)
    assert (ret, status) == (0, [2])
    moved = _check_adds_up(m)
    assert moved["0"]["thp"] == faulted["0"]["thp"] - HPAGE_PMD_NR
    assert moved["2"]["thp"] == faulted["2"]["thp"] + HPAGE_PMD_NR
    assert moved["2"]["free"] == faulted["2"]["free"] - HPAGE_PMD_NR
    assert moved["0"]["free"] == faulted["0"]["free"] + HPAGE_PMD_NR
    assert moved["2"]["thp"] == node_stat(m, 2)["nr_anon_transparent_hugepages"]


@PROFILES
def test_base_pages_and_split(profile):
    m = _machine(thp="never", profile=profile)
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, 64 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    t = p.threads[0]
    before = _check_adds_up(m)
    for i in range(10):
        t.write(a + i * PAGE_SIZE, i + 1)
    after = _check_adds_up(m)
    assert after["0"]["base"] - before["0"]["base"] == 10
    assert after["0"]["thp"] == 0

    # a partial munmap leaves the THP PTE-mapped, whole, on the deferred split queue;
    # splitting it (debugfs split_huge_pages) turns its other 511 pages into base pages
    m2 = _machine(profile=profile)
    p2 = m2.spawn(cpu=0)
    b = p2.mmap(HINT, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(HPAGE_PMD_NR):  # no zero-filled subpage (mainline frees those at split)
        p2.threads[0].write(b + i * PAGE_SIZE, i + 1)
    assert _check_adds_up(m2)["0"]["thp"] == HPAGE_PMD_NR
    p2.munmap(b, PAGE_SIZE)
    occ = _check_adds_up(m2)
    assert (occ["0"]["thp"], occ["0"]["base"]) == (HPAGE_PMD_NR, 0)
    m2.fs.write("/sys/kernel/debug/split_huge_pages", "1")
    split = _check_adds_up(m2)
    assert (split["0"]["thp"], split["0"]["base"]) == (0, HPAGE_PMD_NR - 1)
    assert split["0"]["free"] == occ["0"]["free"] + 1


@PROFILES
def test_hwpoison_counts_poisoned(profile):
    m = _machine(thp="never", profile=profile)
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(a, 5)
    from thpsim import MADV_SOFT_OFFLINE

    p.madvise(a, PAGE_SIZE, MADV_SOFT_OFFLINE)
    occ = _check_adds_up(m)
    assert occ["0"]["poisoned"] + occ["2"]["poisoned"] == 1
    assert occ["0"]["base"] + occ["2"]["base"] == 1  # the data moved to a new page


def test_frame_kinds_is_per_pfn():
    m = _machine()
    kind = frame_kinds(m)
    assert kind.shape == (m.kernel.mem.max_pfn,)
    assert int(kind.max()) < len(KINDS)
    # a window of the machine reads the same kinds as the whole
    assert (frame_kinds(m, 1000, 70000) == kind[1000:71000]).all()
    assert node_ranges(m) == {nid: (n.start_pfn, n.nr_pages)
                              for nid, n in m.kernel.mem.nodes.items()}


@PROFILES
def test_offline_block_is_other(profile):
    """A memory block taken offline is neither free nor in use: ``other``."""
    m = Machine(nodes={0: 256 * MiB, 1: 256 * MiB}, cpus=2, seed=0, profile=profile,
                block_size=128 * MiB, movable={1: 128 * MiB})
    before = node_occupancy(m)["1"]
    blocks = sorted(m.fs.listdir("/sys/devices/system/memory"))
    last = [b for b in blocks if b.startswith("memory")][-1]
    m.fs.write(f"/sys/devices/system/memory/{last}/state", "offline")
    after = node_occupancy(m)["1"]
    assert sum(after.values()) == sum(before.values())
    assert after["other"] - before["other"] == 128 * MiB // PAGE_SIZE
    assert before["free"] - after["free"] == 128 * MiB // PAGE_SIZE


def test_memory_map_shape_and_counts():
    m = _machine()
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(a, 1)
    p.threads[0].write(a + HPAGE_PMD_SIZE, 2)
    mm = node_memory_map(m)
    assert mm["kinds"] == list(KINDS)
    assert mm["block_pages"] == HPAGE_PMD_NR
    assert json.loads(json.dumps(mm)) == mm
    occ = node_occupancy(m)
    thp = KINDS.index("thp")
    for nid, node in m.kernel.mem.nodes.items():
        entry = mm["nodes"][str(nid)]
        assert entry["blocks"] == node.nr_pages // HPAGE_PMD_NR == 64
        assert len(entry["dominant"]) == len(entry["counts"]) == 64
        assert all(sum(c) == HPAGE_PMD_NR for c in entry["counts"])
        # the blocks add up to the node's occupancy
        totals = [sum(c[k] for c in entry["counts"]) for k in range(len(KINDS))]
        assert totals == list(occ[str(nid)].values())
        # a THP fills its naturally aligned block: that block is wholly "thp"
        whole = [i for i, c in enumerate(entry["counts"]) if c[thp] == HPAGE_PMD_NR]
        assert len(whole) == occ[str(nid)]["thp"] // HPAGE_PMD_NR
        assert all(entry["dominant"][i] == thp for i in whole)
    assert len(json.dumps(mm)) < 20_000


@pytest.mark.parametrize("gib", [1])
def test_1gib_node_is_512_blocks(gib):
    m = Machine(nodes={0: gib << 30}, cpus=1, seed=0)
    assert node_memory_map(m)["nodes"]["0"]["blocks"] == 512


@PROFILES
def test_huge_zero_page_is_other_not_thp(profile):
    """A read fault maps the huge zero page: a compound page, but not user memory."""
    m = _machine(profile=profile)
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    before = _check_adds_up(m)
    assert p.threads[0].read(a) == 0
    assert m.vmstat()["thp_zero_page_alloc"] == 1
    after = _check_adds_up(m)
    assert after["0"]["thp"] + after["2"]["thp"] == 0
    other = sum(after[n]["other"] - before[n]["other"] for n in after)
    assert other == HPAGE_PMD_NR
