"""Memory hot-remove through /sys/devices/system/memory (mm/memory_hotplug.py).

Rows HR-n cite the edge-case table of caller-semantics.md §6.4; the oracle's
``memoffline`` scenario (all-7.2.brief.txt, movablecore=50%) is reproduced
under ``mainline`` with the same observables.
"""

import errno

import pytest

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.mm.gup import follow_page
from thpsim.mm.page_flags import F_offline
from thpsim.mm.swap import get_page, put_page

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MB = 1 << 20
BLOCK = 128 * MB
MD = "/sys/devices/system/memory"


def machine(profile="mainline", check=True, nodes=None, movable=None, **kw):
    nodes = nodes or {0: 256 * MB, 1: 256 * MB}
    if movable is None:
        movable = {nid: size // 2 for nid, size in nodes.items()}  # movablecore=50%
    return Machine(nodes=nodes, block_size=BLOCK, check=check, profile=profile,
                   movable=movable, **kw)


def thp_region(p, nr_thp=4):
    a = p.mmap(0, (nr_thp + 1) * HPAGE_PMD_SIZE, RW, ANON)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    t = p.threads[0]
    for i in range(0, nr_thp * HPAGE_PMD_SIZE, PAGE_SIZE):
        t.write(a + i, a + i)
    return a


def check_data(p, a, length):
    t = p.threads[0]
    for i in range(0, length, PAGE_SIZE):
        assert t.read(a + i) == a + i


def pfn_at(p, addr):
    return follow_page(p.mm.find_vma(addr), addr, False)[0]


def is_pmd_mapped(p, addr):
    return follow_page(p.mm.find_vma(addr), addr, False)[1]


def block_of(pfn):
    return pfn // (BLOCK >> PAGE_SHIFT)


def attr(m, bid, name):
    return m.fs.read(f"{MD}/memory{bid}/{name}").strip()


def delta(m, before):
    return {k: v - before[k] for k, v in m.kernel.vmstat.events.items() if v != before[k]}


def node_memtotal_kb(m, nid):
    line = m.fs.read(f"/sys/devices/system/node/node{nid}/meminfo").splitlines()[0]
    return int(line.split()[3])


def test_hr12_block_size_bytes_and_listing():
    m = machine()
    assert m.fs.read(f"{MD}/block_size_bytes") == "8000000\n"  # hex, no 0x
    assert [n for n in m.fs.listdir(MD) if n.startswith("memory")] == [
        "memory0", "memory1", "memory2", "memory3"]
    assert attr(m, 0, "valid_zones") == "Normal" and attr(m, 1, "valid_zones") == "Movable"
    assert attr(m, 3, "node") == "1" and attr(m, 3, "phys_index") == "00000003"
    assert not m.fs.exists(f"{MD}/memory4")


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_hr1_memoffline_oracle(profile):
    """Oracle memoffline (7.2): the block holding 4 THPs on node 1 goes offline; they
    move whole to node 0, still PMD-mapped; pgmigrate_success +2048 (mainline counts
    base pages; the seed 4), thp_migration_success +4; online_movable brings it back."""
    m = machine(profile)
    p = m.spawn(cpu=3)  # node 1
    a = thp_region(p, 4)
    pfn = pfn_at(p, a)
    assert m.kernel.mem.pfn_to_nid(pfn) == 1
    bid = block_of(pfn)
    assert [attr(m, bid, n) for n in ("state", "online", "valid_zones", "removable",
                                       "phys_device", "node")] == [
        "online", "1", "Movable", "1", "0", "1"]
    memtotal = node_memtotal_kb(m, 1)
    before = dict(m.kernel.vmstat.events)
    assert m.fs.write(f"{MD}/memory{bid}/state", "offline\n") == len("offline\n")
    d = delta(m, before)
    assert d["pgmigrate_success"] == (2048 if profile == "mainline" else 4)
    assert d["thp_migration_success"] == 4
    assert [attr(m, bid, n) for n in ("state", "online", "valid_zones")] == [
        "offline", "0", "Normal Movable"]
    for i in range(4):
        new = pfn_at(p, a + i * HPAGE_PMD_SIZE)
        assert m.kernel.mem.pfn_to_nid(new) == 0 and is_pmd_mapped(p, a + i * HPAGE_PMD_SIZE)
    assert node_memtotal_kb(m, 1) == memtotal - BLOCK // 1024
    check_data(p, a, 4 * HPAGE_PMD_SIZE)
    start = bid * (BLOCK >> PAGE_SHIFT)
    assert m.kernel.pages.flags[start] & F_offline
    assert not m.kernel.buddy.is_free(start)
    assert m.fs.write(f"{MD}/memory{bid}/state", "online_movable") == len("online_movable")
    assert [attr(m, bid, n) for n in ("state", "online", "valid_zones")] == [
        "online", "1", "Movable"]
    assert node_memtotal_kb(m, 1) == memtotal
    assert m.kernel.buddy.is_free(start)


def test_offlined_frames_are_never_allocated():
    """Node 1 keeps only its Normal block: new faults there land in it, or elsewhere,
    never in the offline block; after onlining, the block is used again."""
    m = machine()
    bid = 3  # node 1's Movable block
    m.fs.write(f"{MD}/memory{bid}/state", "offline")
    p = m.spawn(cpu=3)
    a = thp_region(p, 8)
    lo, hi = bid * (BLOCK >> PAGE_SHIFT), (bid + 1) * (BLOCK >> PAGE_SHIFT)
    assert all(not lo <= pfn_at(p, a + i * HPAGE_PMD_SIZE) < hi for i in range(8))
    m.fs.write(f"{MD}/memory{bid}/online", "1")
    assert attr(m, bid, "state") == "online"
    b = thp_region(p, 1)
    assert lo <= pfn_at(p, b) < hi  # Movable is node 1's first zone in its zonelist


def test_hr2_no_thp_target_splits_mainline():
    """HR-2: no free 2 MiB block on the other node: mainline splits the THP and moves
    its 512 pages (thp_migration_split +1), AnonHugePages drops."""
    m = machine("mainline")
    p = m.spawn(cpu=3)
    a = thp_region(p, 1)
    bid = block_of(pfn_at(p, a))
    held = m.fragment(0)
    before = dict(m.kernel.vmstat.events)
    try:
        m.fs.write(f"{MD}/memory{bid}/state", "offline")
    finally:
        m.unfragment(held)
    d = delta(m, before)
    assert d["thp_migration_split"] == 1 and d["pgmigrate_success"] == 512
    assert not is_pmd_mapped(p, a)
    assert attr(m, bid, "state") == "offline"
    check_data(p, a, HPAGE_PMD_SIZE)


def test_hr3_hr4_hr11_state_errors():
    m = machine()
    for data in ("online", "online_movable"):  # HR-4: already online
        with pytest.raises(OSError) as e:
            m.fs.write(f"{MD}/memory3/state", data)
        assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:  # HR-11
        m.fs.write(f"{MD}/memory3/state", "foo")
    assert e.value.errno == errno.EINVAL
    m.fs.write(f"{MD}/memory3/state", "offline")
    with pytest.raises(OSError) as e:  # HR-3
        m.fs.write(f"{MD}/memory3/state", "offline")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:  # a Movable block cannot come back as a kernel zone
        m.fs.write(f"{MD}/memory3/state", "online_kernel")
    assert e.value.errno == errno.EINVAL
    assert attr(m, 3, "state") == "offline"
    m.fs.write(f"{MD}/memory3/state", "online")
    assert attr(m, 3, "state") == "online"


def test_hr5_unmovable_kernel_pages_ebusy():
    """HR-5: block 0 (Normal) holds the zero page and the page tables: EBUSY, online."""
    m = machine()
    p = m.spawn(cpu=0)
    thp_region(p, 1)
    with pytest.raises(OSError) as e:
        m.fs.write(f"{MD}/memory0/state", "offline")
    assert e.value.errno == errno.EBUSY
    assert attr(m, 0, "state") == "online"
    assert not m.kernel.buddy.isolated_ranges
    b = thp_region(p, 1)  # the allocator hands out block 0 again
    assert pfn_at(p, b) >= 0


def test_hr6_pinned_page_ebusy_and_stays_online():
    """HR-6: a pinned movable page never migrates; the kernel waits for a signal
    (EINTR); the model gives up with EBUSY. The block stays online, data intact."""
    m = machine(check=False)  # the test's own pin breaks the refcount ledger
    p = m.spawn(cpu=3)
    a = thp_region(p, 1)
    head = pfn_at(p, a)
    bid = block_of(head)
    get_page(m.kernel, head)
    try:
        with pytest.raises(OSError) as e:
            m.fs.write(f"{MD}/memory{bid}/state", "offline")
        assert e.value.errno == errno.EBUSY
    finally:
        put_page(m.kernel, head)
    assert attr(m, bid, "state") == "online" and pfn_at(p, a) == head
    m.check_integrity()
    check_data(p, a, HPAGE_PMD_SIZE)


def test_hr8_single_node_targets_other_blocks():
    m = machine(nodes={0: 512 * MB}, movable={0: 256 * MB})
    p = m.spawn()
    a = thp_region(p, 2)
    bid = block_of(pfn_at(p, a))
    assert attr(m, bid, "valid_zones") == "Movable"
    m.fs.write(f"{MD}/memory{bid}/state", "offline")
    for i in range(2):
        assert block_of(pfn_at(p, a + i * HPAGE_PMD_SIZE)) != bid
        assert is_pmd_mapped(p, a + i * HPAGE_PMD_SIZE)
    check_data(p, a, 2 * HPAGE_PMD_SIZE)


def test_node_leaves_has_memory_when_its_blocks_go():
    m = machine(movable={0: 128 * MB, 1: 256 * MB})
    m.fs.write(f"{MD}/memory2/state", "offline")
    m.fs.write(f"{MD}/memory3/state", "offline")
    assert m.fs.read("/sys/devices/system/node/has_memory").strip() == "0"
    m.fs.write(f"{MD}/memory2/state", "online")
    assert m.fs.read("/sys/devices/system/node/has_memory").strip() == "0-1"


def test_hr9_move_pages_to_emptied_node_enodev():
    m = machine(movable={0: 128 * MB, 1: 256 * MB})
    m.fs.write(f"{MD}/memory2/state", "offline")
    m.fs.write(f"{MD}/memory3/state", "offline")
    p = m.spawn(cpu=0)
    a = thp_region(p, 1)
    with pytest.raises(OSError) as e:
        p.move_pages(0, [a], [1])
    assert e.value.errno == errno.ENODEV


def test_soft_offline_in_offline_block_eio_and_poison_survives_offline():
    """SO-8's EIO half: a frame of an offline block is not online memory. A frame
    soft-offlined while free stays poisoned (and out of use) across offline/online."""
    m = machine()
    sof = f"{MD}/soft_offline_page"
    start = 3 * (BLOCK >> PAGE_SHIFT)
    m.fs.write(sof, hex((start + 7) << PAGE_SHIFT))
    m.fs.write(f"{MD}/memory3/state", "offline")
    with pytest.raises(OSError) as e:
        m.fs.write(sof, hex((start + 9) << PAGE_SHIFT))
    assert e.value.errno == errno.EIO
    m.fs.write(f"{MD}/memory3/state", "online")
    buddy = m.kernel.buddy
    assert not buddy.is_free(start + 7) and buddy.is_free(start + 6) and buddy.is_free(start + 8)
    assert "HardwareCorrupted:     4 kB" in m.fs.read("/proc/meminfo")
    m.check_integrity()
