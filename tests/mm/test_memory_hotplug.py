"""Memory hotplug through /sys/devices/system/memory (mm/memory_hotplug.py).

Rows HR-n cite the edge-case table of caller-semantics.md §6.4; the oracle's
``memoffline`` scenario (all-7.2.brief.txt, movablecore=50%) is reproduced
under ``mainline`` with the same observables. The default machine has two nodes of
two 128 MiB blocks each, the upper one of each node in ZONE_MOVABLE::

    node 0 [memory0 Normal][memory1 Movable]  node 1 [memory2 Normal][memory3 Movable]
"""

import errno

import pytest
from mm_helpers import check_data, delta, is_pmd_mapped, pfn_at, thp_region

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT
from thpsim.drivers.base.memory import memory_block_change_state
from thpsim.errors import KernelBug
from thpsim.kernel.sched import WaitOn
from thpsim.kernel.task import SIGINT, kill_pid_info, signal_pending
from thpsim.mm.gfp import __GFP_THISNODE, GFP_KERNEL
from thpsim.mm.page_alloc import (
    MAX_ORDER,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    NODE_DATA,
    ZONE_MOVABLE,
    ZONE_NORMAL,
    __alloc_pages,
    __free_pages,
    get_pageblock_migratetype,
    is_free_buddy_page,
    page_zone,
    pageblock_nr_pages,
)
from thpsim.mm.page_flags import F_offline
from thpsim.mm.swap import get_page, put_page
from thpsim.testing import Race, Stepper

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MB = 1 << 20
BLOCK = 128 * MB
MD = "/sys/devices/system/memory"
PPB = BLOCK >> PAGE_SHIFT  # pages per block



def isolated_pageblocks(ctx) -> list[int]:
    """The first PFN of every MIGRATE_ISOLATE pageblock the zones count as isolated."""
    if not any(z.nr_isolate_pageblock for pg in ctx.node_data.values() for z in pg.node_zones):
        return []
    return [pfn for pfn in range(0, ctx.mem.max_pfn, pageblock_nr_pages)
            if get_pageblock_migratetype(ctx.pages, pfn) == MIGRATE_ISOLATE]

def machine(profile="mainline", check=True, nodes=None, movable=None, **kw):
    nodes = nodes or {0: 256 * MB, 1: 256 * MB}
    if movable is None:
        movable = {nid: size // 2 for nid, size in nodes.items()}  # movablecore=50%
    return Machine(nodes=nodes, block_size=BLOCK, check=check, profile=profile,
                   movable=movable, **kw)










def block_of(pfn):
    return pfn // (BLOCK >> PAGE_SHIFT)


def node_link(m, bid):
    """The X of the block's nodeX link (what ``ls memoryN | grep node`` finds)."""
    links = [n for n in m.fs.listdir(f"{MD}/memory{bid}") if n.startswith("node")]
    assert len(links) == 1 and m.fs.exists(f"{MD}/memory{bid}/{links[0]}")
    return int(links[0][4:])


def attr(m, bid, name):
    return m.fs.read(f"{MD}/memory{bid}/{name}").strip()




def node_memtotal_kb(m, nid):
    line = m.fs.read(f"/sys/devices/system/node/node{nid}/meminfo").splitlines()[0]
    return int(line.split()[3])


def memtotal_kb(m):
    return int(m.fs.read("/proc/meminfo").splitlines()[0].split()[1])


def zone_info(m, nid, zid):
    """zoneinfo-like: (start_pfn, spanned, present, managed) of one zone."""
    z = NODE_DATA(m.kernel, nid).node_zones[zid]
    return z.zone_start_pfn, z.spanned_pages, z.present_pages, z.managed_pages


def alloc_all_kernel_blocks(m, nid):
    """Every MAX_ORDER block a kernel allocation (GFP_KERNEL, page tables' zone) can
    get on node ``nid``. Give them back with free_blocks()."""
    ctx = m.kernel
    got = []
    while (pfn := __alloc_pages(ctx, GFP_KERNEL | __GFP_THISNODE, MAX_ORDER - 1, nid)) >= 0:
        got.append(pfn)
    return got


def free_blocks(m, pfns):
    for pfn in pfns:
        m.kernel.pages.refcount[pfn] = 0
        __free_pages(m.kernel, pfn, MAX_ORDER - 1)


def step_until_asleep(st, limit=10_000):
    """Step a Stepper until its path sleeps on a WaitOn that does not hold."""
    for _ in range(limit):
        t = st.step()
        assert t is not None, f"the path returned {st.result}"
        if isinstance(t, WaitOn) and not t.cond():
            return t
    raise AssertionError("the path never slept")


def sys_kill(ctx, pid, sig):
    """kill(2) as a kernel path for a Race operation (it never preempts)."""
    return kill_pid_info(ctx.tasks, sig, pid)
    yield


def test_hr12_block_size_bytes_and_listing():
    m = machine()
    assert m.fs.read(f"{MD}/block_size_bytes") == "8000000\n"  # hex, no 0x
    assert [n for n in m.fs.listdir(MD) if n.startswith("memory")] == [
        "memory0", "memory1", "memory2", "memory3"]
    assert attr(m, 0, "valid_zones") == "Normal" and attr(m, 1, "valid_zones") == "Movable"
    assert node_link(m, 3) == 1 and attr(m, 3, "phys_index") == "00000003"
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
                                       "phys_device")] == [
        "online", "1", "Movable", "1", "0"]
    assert node_link(m, bid) == 1
    memtotal = node_memtotal_kb(m, 1)
    before = dict(m.kernel.vmstat.events)
    assert m.fs.write(f"{MD}/memory{bid}/state", "offline\n") == len("offline\n")
    d = delta(m, before)
    assert d["pgmigrate_success"] == (2048 if profile == "mainline" else 4)
    assert d["thp_migration_success"] == 4
    # 5.5+ shrinks ZONE_MOVABLE away from the offline block: the kernel zone is its
    # default; 4.14 keeps the span, so Movable stays the default.
    zones = "Normal Movable" if profile == "mainline" else "Movable Normal"
    assert [attr(m, bid, n) for n in ("state", "online", "valid_zones")] == [
        "offline", "0", zones]
    for i in range(4):
        new = pfn_at(p, a + i * HPAGE_PMD_SIZE)
        assert m.kernel.mem.pfn_to_nid(new) == 0 and is_pmd_mapped(p, a + i * HPAGE_PMD_SIZE)
    assert node_memtotal_kb(m, 1) == memtotal - BLOCK // 1024
    check_data(p, a, 4 * HPAGE_PMD_SIZE)
    start = bid * (BLOCK >> PAGE_SHIFT)
    assert m.kernel.pages.flags[start] & F_offline
    assert not is_free_buddy_page(m.kernel, start)
    assert m.fs.write(f"{MD}/memory{bid}/state", "online_movable") == len("online_movable")
    assert [attr(m, bid, n) for n in ("state", "online", "valid_zones")] == [
        "online", "1", "Movable"]
    assert node_memtotal_kb(m, 1) == memtotal
    assert is_free_buddy_page(m.kernel, start)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_offlined_frames_are_never_allocated(profile):
    """Node 1 keeps only its Normal block: new faults there land in it, or elsewhere,
    never in the offline block; onlined as Movable, the block is used again."""
    m = machine(profile)
    bid = 3  # node 1's Movable block
    m.fs.write(f"{MD}/memory{bid}/state", "offline")
    p = m.spawn(cpu=3)
    a = thp_region(p, 8)
    lo, hi = bid * PPB, (bid + 1) * PPB
    assert all(not lo <= pfn_at(p, a + i * HPAGE_PMD_SIZE) < hi for i in range(8))
    m.fs.write(f"{MD}/memory{bid}/state", "online_movable")
    assert attr(m, bid, "state") == "online"
    b = thp_region(p, 1)
    assert lo <= pfn_at(p, b) < hi  # Movable is node 1's first zone in its zonelist
    m.check_integrity()


@pytest.mark.parametrize("profile, offline_zones, online_zone", [
    ("mainline", "Normal Movable", "Normal"),  # the oracle's answer for memory32
    ("seed", "Movable Normal", "Movable"),
])
def test_online_picks_the_default_zone(profile, offline_zones, online_zone):
    """``online`` (and online = 1) takes the first zone valid_zones lists:
    default_zone_for_pfn(), the zone whose span alone meets the block."""
    m = machine(profile)
    for how in ("state", "online"):
        m.fs.write(f"{MD}/memory3/state", "offline")
        assert attr(m, 3, "valid_zones") == offline_zones
        m.fs.write(f"{MD}/memory3/{how}", "online" if how == "state" else "1")
        assert attr(m, 3, "valid_zones") == online_zone
        m.fs.write(f"{MD}/memory3/state", "offline")
        m.fs.write(f"{MD}/memory3/state", "online_movable")  # back for the next round
    m.check_integrity()


def test_offline_block_onlines_into_either_zone_mainline():
    """An offline block joins ZONE_NORMAL (online_kernel) or ZONE_MOVABLE
    (online_movable): the zone's span grows over it, present and managed pages follow,
    /proc/buddyinfo lists it under that zone, and only a kernel zone serves kernel
    allocations (GFP_KERNEL, as page tables use) from it."""
    m = machine("mainline")
    b2, b3 = 2 * PPB, 3 * PPB
    assert zone_info(m, 1, ZONE_NORMAL) == (b2, PPB, PPB, PPB)
    assert zone_info(m, 1, ZONE_MOVABLE) == (b3, PPB, PPB, PPB)
    node_total, total = node_memtotal_kb(m, 1), memtotal_kb(m)

    m.fs.write(f"{MD}/memory3/state", "offline")  # the span shrinks away: zone empty
    assert zone_info(m, 1, ZONE_MOVABLE) == (0, 0, 0, 0)
    # offline_pages() left the block's pageblocks isolated, its zone counts none
    pb = range(b3, b3 + PPB, pageblock_nr_pages)
    assert all(get_pageblock_migratetype(m.kernel.pages, p) == MIGRATE_ISOLATE for p in pb)
    assert not isolated_pageblocks(m.kernel)
    assert node_memtotal_kb(m, 1) == node_total - BLOCK // 1024
    assert memtotal_kb(m) == total - BLOCK // 1024
    assert "Node 1, zone  Movable" not in m.fs.read("/proc/buddyinfo")

    m.fs.write(f"{MD}/memory3/state", "online_kernel")
    assert all(get_pageblock_migratetype(m.kernel.pages, p) == MIGRATE_MOVABLE for p in pb)
    assert attr(m, 3, "valid_zones") == "Normal" and attr(m, 2, "valid_zones") == "Normal"
    assert zone_info(m, 1, ZONE_NORMAL) == (b2, 2 * PPB, 2 * PPB, 2 * PPB)
    assert zone_info(m, 1, ZONE_MOVABLE) == (0, 0, 0, 0)
    assert node_memtotal_kb(m, 1) == node_total and memtotal_kb(m) == total
    assert "Node 1, zone  Movable" not in m.fs.read("/proc/buddyinfo")
    got = alloc_all_kernel_blocks(m, 1)
    assert len(got) == 2 * PPB >> (MAX_ORDER - 1)  # both blocks, all free
    assert any(b3 <= pfn < b3 + PPB for pfn in got)
    free_blocks(m, got)
    m.check_integrity()

    m.fs.write(f"{MD}/memory3/state", "offline")  # Normal shrinks back to memory2
    assert zone_info(m, 1, ZONE_NORMAL) == (b2, PPB, PPB, PPB)
    assert attr(m, 3, "valid_zones") == "Normal Movable"
    m.fs.write(f"{MD}/memory3/state", "online_movable")
    assert attr(m, 3, "valid_zones") == "Movable"
    assert zone_info(m, 1, ZONE_MOVABLE) == (b3, PPB, PPB, PPB)
    assert "Node 1, zone  Movable" in m.fs.read("/proc/buddyinfo")
    got = alloc_all_kernel_blocks(m, 1)
    assert got and not any(b3 <= pfn < b3 + PPB for pfn in got)  # memory2 only
    free_blocks(m, got)
    p = m.spawn(cpu=3)  # node 1: user THPs (movable) do land in it
    a = thp_region(p, 2)
    assert all(block_of(pfn_at(p, a + i * HPAGE_PMD_SIZE)) == 3 for i in range(2))
    assert all(block_of(pfn) != 3 for pfn in m.kernel.mem.tables)  # page tables do not
    m.check_integrity()


def test_offline_in_the_middle_leaves_a_hole_mainline():
    """shrink_zone_span(): a block in the middle of a zone leaves a hole; one at the edge
    moves the edge to the next online block. Blocks then onlined into different zones
    make the spans overlap; each frame's zone is its link (page_zone())."""
    #   node 1 [memory2 Movable][memory3 Movable][memory4 Movable], Normal empty
    m = machine("mainline", nodes={0: 2 * BLOCK, 1: 3 * BLOCK},
                movable={0: BLOCK, 1: 3 * BLOCK})
    ctx = m.kernel
    m.fs.write(f"{MD}/memory3/state", "offline")
    assert zone_info(m, 1, ZONE_MOVABLE)[:3] == (2 * PPB, 3 * PPB, 2 * PPB)  # a hole
    assert attr(m, 3, "valid_zones") == "Movable Normal"  # inside Movable's span
    m.fs.write(f"{MD}/memory2/state", "offline")
    assert zone_info(m, 1, ZONE_MOVABLE)[:3] == (4 * PPB, PPB, PPB)
    assert attr(m, 2, "valid_zones") == attr(m, 3, "valid_zones") == "Normal Movable"
    pgdat = NODE_DATA(ctx, 1)
    assert (pgdat.node_start_pfn, pgdat.node_spanned_pages) == (4 * PPB, PPB)
    m.fs.write(f"{MD}/memory3/state", "online")  # no zone meets it: the kernel zone
    assert zone_info(m, 1, ZONE_NORMAL)[:3] == (3 * PPB, PPB, PPB)
    m.fs.write(f"{MD}/memory2/state", "online_movable")
    #   [memory2 Movable][memory3 Normal][memory4 Movable]: Movable spans memory3 too
    assert zone_info(m, 1, ZONE_MOVABLE)[:3] == (2 * PPB, 3 * PPB, 2 * PPB)
    assert [attr(m, b, "valid_zones") for b in (2, 3, 4)] == ["Movable", "Normal", "Movable"]
    normal, movable = pgdat.node_zones
    assert page_zone(ctx, 3 * PPB) is normal and page_zone(ctx, 3 * PPB - 1) is movable
    assert (pgdat.node_start_pfn, pgdat.node_spanned_pages) == (2 * PPB, 3 * PPB)
    assert m.fs.read("/sys/devices/system/node/has_normal_memory").strip() == "0-1"
    m.check_integrity()


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
    assert attr(m, 3, "state") == "offline"
    m.fs.write(f"{MD}/memory3/state", "online_kernel")  # any zone may take it
    assert attr(m, 3, "state") == "online" and attr(m, 3, "valid_zones") == "Normal"
    with pytest.raises(OSError) as e:  # HR-4 again
        m.fs.write(f"{MD}/memory3/state", "online")
    assert e.value.errno == errno.EINVAL


def test_online_attribute_takes_kstrtobool():
    """The device core's ``online`` file parses with kstrtobool(): off/0/n offline,
    on/1/y online (the zone ``online`` picks); anything else, or a leading space,
    EINVAL. A block in that state already is success with nothing done
    (drivers/base/core.c online_store(): ``ret < 0 ? ret : count`` on
    device_online()'s 1), unlike ``state`` (EINVAL)."""
    m = machine()
    for data in ("2", " 1", "x"):
        with pytest.raises(OSError) as e:
            m.fs.write(f"{MD}/memory3/online", data)
        assert e.value.errno == errno.EINVAL
    assert m.fs.write(f"{MD}/memory3/online", "off") == 3
    assert attr(m, 3, "online") == "0"
    assert m.fs.write(f"{MD}/memory3/online", "on\n") == 3
    assert attr(m, 3, "online") == "1"
    before = m.vmstat()
    assert m.fs.write(f"{MD}/memory3/online", "yes") == 3  # already online
    assert attr(m, 3, "online") == "1" and attr(m, 3, "state") == "online"
    assert m.fs.write(f"{MD}/memory3/online", "0") == 1
    assert m.fs.write(f"{MD}/memory3/online", "n") == 1  # already offline
    assert attr(m, 3, "state") == "offline"
    with pytest.raises(OSError) as e:
        m.fs.write(f"{MD}/memory3/state", "offline")  # the state file refuses it
    assert e.value.errno == errno.EINVAL
    assert m.fs.write(f"{MD}/memory3/state", "online") == 6
    assert m.vmstat()["nr_free_pages"] == before["nr_free_pages"]


def test_hr5_unmovable_kernel_pages_ebusy():
    """HR-5: block 0 (Normal) holds the zero page and the page tables: EBUSY, online."""
    m = machine()
    p = m.spawn(cpu=0)
    thp_region(p, 1)
    with pytest.raises(OSError) as e:
        m.fs.write(f"{MD}/memory0/state", "offline")
    assert e.value.errno == errno.EBUSY
    assert attr(m, 0, "state") == "online"
    assert not isolated_pageblocks(m.kernel)
    # the isolation is undone: a kernel allocation on node 0 comes from block 0 again
    # (node 0's only Normal block)
    from thpsim.mm.gfp import GFP_KERNEL

    pfn = __alloc_pages(m.kernel, GFP_KERNEL, 0, 0)
    assert pfn >= 0 and block_of(pfn) == 0
    put_page(m.kernel, pfn)
    m.check_integrity()


def pinned_thp(profile):
    """A machine whose node-1 THP is pinned by an extra reference (get_page(), as a
    long-lived GUP pin would), and a writer process on node 0."""
    m = machine(profile, check=False)  # the test's own pin breaks the refcount ledger
    p = m.spawn(cpu=3)
    a = thp_region(p, 1)
    head = pfn_at(p, a)
    get_page(m.kernel, head)
    w = m.spawn(cpu=0, comm="writer")
    return m, p, a, head, block_of(head), w


def check_unpinned_and_online(m, p, a, head, bid):
    """After put_page(): the block is online and whole, the THP in place, data intact."""
    ctx = m.kernel
    assert attr(m, bid, "state") == "online" and attr(m, bid, "valid_zones") == "Movable"
    assert pfn_at(p, a) == head and is_pmd_mapped(p, a)
    assert not isolated_pageblocks(ctx) and not ctx.memory_block_transition
    assert ctx.device_hotplug_lock.owner is None
    m.check_integrity()
    check_data(p, a, HPAGE_PMD_SIZE)


def test_hr6_seed_pinned_page_ebusy_and_stays_online():
    """HR-6, 4.14: the offline loop gives up after its timeout (the model: a bounded
    number of rounds) with EBUSY. The block stays online, data intact."""
    m, p, a, head, bid, w = pinned_thp("seed")
    try:
        with pytest.raises(OSError) as e:
            w.fs.write(f"{MD}/memory{bid}/state", "offline")
        assert e.value.errno == errno.EBUSY
        assert any("failed due to timeout" in line for line in m.kernel.dmesg)
    finally:
        put_page(m.kernel, head)
    check_unpinned_and_online(m, p, a, head, bid)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_hr6_pinned_page_offline_waits_then_sigint_eintr(profile):
    """HR-6: the write blocks on the pinned page; SIGINT to the writer ends it with
    EINTR, the isolation undone, state back to online, nothing offlined. Mainline
    sleeps until a signal (no timeout); 4.14 also checks for a signal every round."""
    m, p, a, head, bid, w = pinned_thp(profile)
    ctx = m.kernel
    try:
        st = Stepper(ctx, memory_block_change_state(ctx, bid, False), task=w.task)
        if profile == "mainline":
            t = step_until_asleep(st)
            assert t.key == ("offline_pages", bid * PPB)
            assert st.step() is t  # nothing changed, no signal: it sleeps on
        else:
            st.run_until(lambda: ctx.vmstat.events["pgmigrate_fail"] > 0)
        assert attr(m, bid, "state") == "going-offline"
        want = list(range(bid * PPB, (bid + 1) * PPB, pageblock_nr_pages))
        assert isolated_pageblocks(ctx) == want
        m.kill(w.pid, SIGINT)
        assert signal_pending(w.task)
        assert st.finish() == -errno.EINTR
        # still pending: it is delivered on the writer's way back to user space
        assert signal_pending(w.task)
        assert any("failed due to signal backoff" in line for line in ctx.dmesg)
    finally:
        put_page(ctx, head)
    assert not ctx.pages.flags[bid * PPB] & F_offline
    check_unpinned_and_online(m, p, a, head, bid)
    # The writer's next system call handles the signal first; unpinned, the block goes.
    w.fs.write(f"{MD}/memory{bid}/state", "offline")
    assert not signal_pending(w.task) and attr(m, bid, "state") == "offline"


@pytest.mark.parametrize("policy, kw", [("rr", {"quantum": 100_000})]
                         + [("random", {"seed": s}) for s in range(3)])
def test_hr6_mainline_sigint_from_another_cpu(policy, kw):
    """HR-6 interleaved: CPU0 writes offline, CPU1 sends SIGINT to it. Round-robin
    runs CPU0 until the write sleeps, then the kill wakes it; the random schedules
    send the signal before or during the offline. Each way the write ends with EINTR
    and the block stays online."""
    m, p, a, head, bid, w = pinned_thp("mainline")
    ctx = m.kernel
    killer = m.spawn(cpu=1)
    race = Race(m)
    race.on(0, w.threads[0]).call("offline", lambda: memory_block_change_state(ctx, bid, False))
    race.on(1, killer.threads[0]).call("kill", lambda: sys_kill(ctx, w.pid, SIGINT))
    ex = race.run(policy=policy, **kw)
    assert ex.failure is None, ex.failure
    assert ex.result(0, 0) == -errno.EINTR and ex.result(1, 0) == 0
    if policy == "rr":  # the write slept on the pin before the signal came
        events = ex.events
        slept = next(i for i, e in enumerate(events) if "WaitOn('offline_pages'" in e)
        assert slept < next(i for i, e in enumerate(events) if "kill ->" in e)
    put_page(ctx, head)
    check_unpinned_and_online(m, p, a, head, bid)


def test_hr6_mainline_pin_without_signal_is_a_deadlock_when_run_alone():
    """Mainline has no timeout: run to completion with nothing else running, a pin
    nobody drops and no signal coming is the deadlock the sequential driver reports.
    Unwinding undoes the isolation and the going-offline state."""
    m, p, a, head, bid, w = pinned_thp("mainline")
    try:
        with pytest.raises(KernelBug, match=r"deadlock: waiting on WaitOn\('offline_pages'"):
            w.fs.write(f"{MD}/memory{bid}/state", "offline")
    finally:
        put_page(m.kernel, head)
    check_unpinned_and_online(m, p, a, head, bid)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_hr10_state_reads_going_offline_during_offline(profile):
    """HR-10: while offline_pages() runs, ``state`` reads going-offline (``online``
    still 1); once it is done, offline."""
    m = machine(profile)
    ctx = m.kernel
    p = m.spawn(cpu=3)
    a = thp_region(p, 2)
    bid = block_of(pfn_at(p, a))
    st = Stepper(ctx, memory_block_change_state(ctx, bid, False))
    assert attr(m, bid, "state") == "online"
    st.run_until(lambda: attr(m, bid, "state") == "going-offline")
    assert attr(m, bid, "online") == "1" and block_of(pfn_at(p, a)) == bid  # not moved yet
    assert st.finish() == 0
    assert attr(m, bid, "state") == "offline" and attr(m, bid, "online") == "0"
    assert all(block_of(pfn_at(p, a + i * HPAGE_PMD_SIZE)) != bid for i in range(2))
    m.check_integrity()
    check_data(p, a, 2 * HPAGE_PMD_SIZE)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_hr7_block_spanning_two_zones(profile):
    """HR-7: ZONE_MOVABLE starts 64 MiB into memory2 (movablecore-style, aligned only to
    MAX_ORDER): valid_zones prints none; offline is EINVAL and the block stays online."""
    #   node 1 [memory2: Normal 64 MiB | Movable 64 MiB][memory3: Movable]
    m = machine(profile, movable={0: BLOCK, 1: BLOCK + BLOCK // 2}, movable_align=4 * MB)
    ctx = m.kernel
    boundary = 2 * PPB + PPB // 2
    assert page_zone(ctx, boundary - 1).zone_idx == ZONE_NORMAL
    assert page_zone(ctx, boundary).zone_idx == ZONE_MOVABLE
    assert attr(m, 2, "valid_zones") == "none" and attr(m, 3, "valid_zones") == "Movable"
    with pytest.raises(OSError) as e:
        m.fs.write(f"{MD}/memory2/state", "offline")
    assert e.value.errno == errno.EINVAL
    assert attr(m, 2, "state") == "online" and attr(m, 2, "valid_zones") == "none"
    assert not isolated_pageblocks(m.kernel)
    assert any("failed due to multizone range" in line for line in m.kernel.dmesg)
    m.fs.write(f"{MD}/memory3/state", "offline")  # the single-zone block goes
    assert attr(m, 3, "state") == "offline"
    m.check_integrity()


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
    ctx = m.kernel
    assert not is_free_buddy_page(ctx, start + 7)
    assert is_free_buddy_page(ctx, start + 6) and is_free_buddy_page(ctx, start + 8)
    assert "HardwareCorrupted:     4 kB" in m.fs.read("/proc/meminfo")
    m.check_integrity()


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_removable_per_era(profile):
    """memoryN/removable: 4.14 computes is_mem_section_removable() (0 for a Normal block
    holding page tables or kernel pages, 1 for a Movable block whatever it holds and for
    an offline block); since 5.x it is 1 whenever offlining is supported (oracle: 1)."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = thp_region(p, 2)
    table = next(iter(m.kernel.mem.tables))  # page tables come from ZONE_NORMAL
    normal = block_of(table)
    movable = block_of(pfn_at(p, a))
    assert page_zone(m.kernel, pfn_at(p, a)).name == "Movable"
    want_normal = "0" if profile == "seed" else "1"
    assert attr(m, normal, "removable") == want_normal
    assert attr(m, movable, "removable") == "1"
    m.fs.write(f"{MD}/memory{movable}/state", "offline")
    assert attr(m, movable, "removable") == "1"
    # node 1's Normal block holds no kernel page: removable in 4.14 too, until a page
    # table lands there
    assert attr(m, 2, "valid_zones") == "Normal" and attr(m, 2, "removable") == "1"
    q = m.spawn(cpu=3)  # node 1: its page tables come from node 1's Normal zone
    thp_region(q, 1)
    assert any(block_of(t) == 2 for t in m.kernel.mem.tables)
    assert attr(m, 2, "removable") == want_normal
