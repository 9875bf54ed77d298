"""NUMA policy: mbind(2), set_mempolicy(2), get_mempolicy(2), migrate_pages(2), and
where faults land.

Rows MB-n, PM-n and MG-n cite the edge-case tables of caller-semantics.md (§2.6,
§3.3, §4.4); a row that differs per era is parametrized over both profiles
(``seed`` = 4.14, ``mainline`` = the oracle's 7.2). The oracle's mbind and
migrate_pages steps (the kernel oracle's recorded 7.2 run, scenarios basic, errors,
softdirty, target_frag) are reproduced under mainline.
Every migration is followed by reading back every word written (the shadow checks
each read) and the invariant checker.
"""

import errno

import pytest
from mm_helpers import (
    ANON,
    MB,
    RW,
    anon_huge_kb,
    errno_of,
    is_pmd_mapped,
    node_at,
    nodes_of,
    numa_machine,
    pfn_at,
)

from thpsim import (
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_F_ADDR,
    MPOL_F_MEMS_ALLOWED,
    MPOL_F_NODE,
    MPOL_F_NUMA_BALANCING,
    MPOL_F_RELATIVE_NODES,
    MPOL_F_STATIC_NODES,
    MPOL_INTERLEAVE,
    MPOL_LOCAL,
    MPOL_MF_LAZY,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    MPOL_MF_STRICT,
    MPOL_PREFERRED,
    MPOL_PREFERRED_MANY,
    MPOL_WEIGHTED_INTERLEAVE,
    PROT_READ,
    Machine,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE, pmd_soft_dirty
from thpsim.hw.memory import MAX_NUMNODES
from thpsim.kernel.task import CAP_SYS_NICE
from thpsim.mm import mempolicy as mp
from thpsim.mm.gup import follow_page_info
from thpsim.mm.page_alloc import __alloc_pages

HP = HPAGE_PMD_SIZE
MAXNODE = 65  # the oracle's 8 * sizeof(long) + 1
#: get_mempolicy(2)'s mask: 4.14 wants MAX_NUMNODES bits (libnuma probes up to 1025)
GET_MAXNODE = MAX_NUMNODES + 1
PROFILES = ("seed", "mainline")


def machine(profile="mainline", nodes=2, check=True, **kw):
    """``nodes`` NUMA nodes (a count or a {nid: bytes} map), one CPU each."""
    cpus = nodes if isinstance(nodes, int) else len(nodes)
    return numa_machine(profile, nodes, check, cpus=cpus, **kw)


def mask(*nodes):
    return sum(1 << n for n in nodes)


def region(p, nr_thp=4, fill=True, length=None):
    """An anonymous VMA of exactly ``nr_thp`` 2 MiB-aligned THP slots (the oracle's
    alloc_region: map more, unmap the unaligned ends), every 4 KiB page written."""
    length = nr_thp * HP if length is None else length
    raw = p.mmap(0, length + HP, RW, ANON)
    a = (raw + HP - 1) & ~(HP - 1)
    if a > raw:
        p.munmap(raw, a - raw)
    if raw + length + HP > a + length:
        p.munmap(a + length, raw + length + HP - (a + length))
    if fill:
        t = p.threads[0]
        for i in range(0, length, PAGE_SIZE):
            t.write(a + i, a + i)
    return a


def check_data(m, p, a, length):
    t = p.threads[0]
    for i in range(0, length, PAGE_SIZE):
        assert t.read(a + i) == a + i  # every read is also checked against the shadow
    m.check_integrity()


def events(m):
    return dict(m.kernel.vmstat.events)


def delta(m, before, *names):
    ev = m.kernel.vmstat.events
    names = names or ("pgmigrate_success", "pgmigrate_fail", "thp_migration_success",
                      "thp_migration_fail", "thp_migration_split")
    return {k: ev[k] - before[k] for k in names if ev[k] != before[k]}


def vma_policy(p, addr):
    return p.get_mempolicy(0, addr, MPOL_F_ADDR)[0]


def fill_node(m, nid):
    """Hold every free frame of node ``nid`` (fragment_node() plus every order-0 page
    left); give them back with m.unfragment()."""
    from thpsim.mm.gfp import __GFP_THISNODE, GFP_HIGHUSER_MOVABLE
    from thpsim.mm.page_flags import F_reserved

    held = m.fragment(nid)
    ctx = m.kernel
    while True:
        pfn = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, 0, nid)
        if pfn < 0:
            return held
        m.kernel.pages.flags[pfn] |= F_reserved  # as fragment_node() marks its frames
        held.append(pfn)


# ====================================================================== nodemask helpers
def test_mpol_to_str_forms():
    """numa_maps policy strings (§8.4): range syntax and the mode flags."""
    pol = mp.mempolicy(MPOL_BIND, 0, mask(0, 1, 2, 5))
    assert pol.mpol_to_str() == "bind:0-2,5"
    assert mp.mpol_to_str(None) == "default"
    assert mp.mpol_to_str(mp.mempolicy(MPOL_LOCAL, 0)) == "local"
    assert mp.mpol_to_str(mp.mempolicy(MPOL_PREFERRED, mp.MPOL_F_LOCAL)) == "local"  # 4.14
    assert mp.mpol_to_str(mp.mempolicy(MPOL_PREFERRED, 0, mask(1))) == "prefer:1"
    assert (mp.mpol_to_str(mp.mempolicy(MPOL_INTERLEAVE, MPOL_F_STATIC_NODES, mask(0, 2)))
            == "interleave=static:0,2")
    assert (mp.mpol_to_str(mp.mempolicy(MPOL_INTERLEAVE, MPOL_F_RELATIVE_NODES, mask(1)))
            == "interleave=relative:1")
    assert (mp.mpol_to_str(mp.mempolicy(MPOL_BIND, MPOL_F_NUMA_BALANCING, mask(1)))
            == "bind=balancing:1")
    assert (mp.mpol_to_str(mp.mempolicy(MPOL_PREFERRED_MANY, MPOL_F_STATIC_NODES
                                        | MPOL_F_NUMA_BALANCING, mask(3, 4)))
            == "prefer (many)=static|balancing:3-4")
    assert (mp.mpol_to_str(mp.mempolicy(MPOL_WEIGHTED_INTERLEAVE, 0, mask(0, 1)))
            == "weighted interleave:0-1")


def test_node_remap_fold_onto():
    assert mp.node_remap(2, mask(2, 3, 4), mask(3, 4, 5)) == 3
    assert mp.node_remap(7, mask(*range(8)), mask(3, 4, 5)) == 4  # 7 is the 7th: 7 % 3 = 1
    assert mp.node_remap(1, mask(0, 2), mask(5)) == 1  # not in old: itself
    assert mp.mpol_relative_nodemask(mask(0, 3), mask(2, 5)) == mask(2, 5)  # 3 folds to 1
    assert mp.next_node_in(1023, mask(0, 1)) == 0 and mp.next_node_in(0, mask(0, 1)) == 1


# ====================================================================== MB rows (§2.6)
@pytest.mark.parametrize("profile", PROFILES)
def test_mb1_bind_move_thp_stays_pmd_mapped(profile):
    """MB-1: mbind(thp, 2M, BIND, {1}, maxnode=3, MOVE) = 0; the THP moves whole and
    stays PMD-mapped; numa_maps reads ``bind:1 anon=512 dirty=512 N1=512``."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    before = events(m)
    assert p.mbind(a, HP, MPOL_BIND, mask(1), 3, MPOL_MF_MOVE) == 0
    assert set(nodes_of(m, p, a, HP)) == {1} and is_pmd_mapped(p, a)
    per_page = 512 if profile == "mainline" else 1  # pgmigrate_* in base pages since 5.9
    assert delta(m, before) == {"pgmigrate_success": per_page, "thp_migration_success": 1}
    assert vma_policy(p, a) == MPOL_BIND and len(p.mm.mmap) == 1
    numa_maps = p.fs.read("/proc/self/numa_maps")
    assert f"{a:08x} bind:1 anon=512 dirty=512 N1=512 kernelpagesize_kB=4" in numa_maps
    check_data(m, p, a, HP)


@pytest.mark.parametrize("profile", PROFILES)
def test_mb2_mb3_maxnode_quirk_empty_bind(profile):
    """MB-2: maxnode=2 reads only bit 0, so BIND {1} is an empty BIND: EINVAL.
    MB-3: maxnode=1, or a NULL mask, is the empty set: EINVAL for BIND."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(1), 2, MPOL_MF_MOVE) == errno.EINVAL
    assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(1), 1, MPOL_MF_MOVE) == errno.EINVAL
    assert errno_of(p.mbind, a, HP, MPOL_BIND, None, MAXNODE, MPOL_MF_MOVE) == errno.EINVAL
    assert set(nodes_of(m, p, a, HP, HP)) == {0} and vma_policy(p, a) == MPOL_DEFAULT


def test_mb4_default_with_nodes_einval():
    """MB-4: MPOL_DEFAULT with a non-empty mask: EINVAL."""
    m = machine()
    p = m.spawn()
    a = region(p, 1, fill=False)
    assert errno_of(p.mbind, a, HP, MPOL_DEFAULT, mask(0), MAXNODE) == errno.EINVAL


@pytest.mark.parametrize("profile", PROFILES)
def test_mb5_partial_range_moves_whole_thp_and_splits_vma(profile):
    """MB-5: mbind(A+1M, 4 KiB, BIND {1}, MOVE) on the THP at [A, A+2M): three VMAs,
    the THP PTE-mapped (the middle VMA's edges cut its PMD) and migrated whole.

    Mainline: to node 1 (the target follows the new policy itself). 4.14: new_page()
    looks for a VMA from A+1M on that maps the head (at A): none does, so the task
    policy (local, node 0) places it: the THP is migrated, but stays on node 0
    [derived from the 4.14 code].
    """
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    before = events(m)
    assert p.mbind(a + MB, PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE) == 0
    # [A      ][1 page][          A+2M)
    assert [(v.vm_start - a, v.vm_end - a) for v in p.mm.mmap] == [
        (0, MB), (MB, MB + PAGE_SIZE), (MB + PAGE_SIZE, HP)]
    assert not any(is_pmd_mapped(p, a + i) for i in range(0, HP, 64 * PAGE_SIZE))
    assert anon_huge_kb(p) == 0
    want = 1 if profile == "mainline" else 0
    assert set(nodes_of(m, p, a, HP)) == {want}
    pfn = pfn_at(p, a)
    assert m.kernel.pages.PageTransHuge(pfn)  # one compound page still
    d = delta(m, before, "thp_migration_success", "thp_split_pmd")
    assert d == {"thp_migration_success": 1, "thp_split_pmd": 1}
    assert [vma_policy(p, a + x) for x in (0, MB, HP - PAGE_SIZE)] == [0, MPOL_BIND, 0]
    check_data(m, p, a, HP)


@pytest.mark.parametrize("profile", PROFILES)
def test_mb6_mb7_strict_only(profile):
    """MB-6 (mainline): STRICT alone with a page on node 0 and BIND {1}: EIO, policy
    not applied, nothing moved (the oracle's ``mbind(BIND node1, STRICT only)``).
    MB-7 (4.14): the walk is skipped without MOVE: 0, policy applied, nothing moved."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    before = events(m)
    if profile == "mainline":
        assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(1), MAXNODE,
                        MPOL_MF_STRICT) == errno.EIO
        assert vma_policy(p, a) == MPOL_DEFAULT
        assert f"{a:08x} default " in p.fs.read("/proc/self/numa_maps")
    else:
        assert p.mbind(a, HP, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_STRICT) == 0
        assert vma_policy(p, a) == MPOL_BIND
    assert set(nodes_of(m, p, a, HP, 64 * PAGE_SIZE)) == {0} and is_pmd_mapped(p, a)
    assert delta(m, before) == {}
    # pages already on an allowed node: STRICT alone is fine in both eras
    assert p.mbind(a, HP, MPOL_BIND, mask(0, 1), MAXNODE, MPOL_MF_STRICT) == 0


@pytest.mark.parametrize("flags", [MPOL_MF_MOVE, MPOL_MF_MOVE | MPOL_MF_STRICT])
@pytest.mark.parametrize("profile", PROFILES)
def test_mb8_mb9_shared_thp_skipped_silently(profile, flags):
    """MB-8/MB-9: a THP shared with a child is not moved without MOVE_ALL, and that is
    not a failure: 0 even with STRICT. MOVE_ALL (root) moves it for both."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    c = p.fork()
    before = events(m)
    assert p.mbind(a, HP, MPOL_BIND, mask(1), MAXNODE, flags) == 0
    assert node_at(m, p, a) == 0 and node_at(m, c, a) == 0 and delta(m, before) == {}
    assert vma_policy(p, a) == MPOL_BIND
    assert p.mbind(a, HP, MPOL_BIND, mask(1), MAXNODE, flags | MPOL_MF_MOVE_ALL) == 0
    assert node_at(m, p, a) == 1 and node_at(m, c, a) == 1  # one THP, both maps moved
    check_data(m, p, a, HP)
    check_data(m, c, a, HP)


@pytest.mark.parametrize("profile", PROFILES)
def test_mb10_unisolatable_thp_strict(profile):
    """MB-10: a THP that cannot be isolated (another path holds it off the LRU).
    Mainline MOVE|STRICT: EIO after the policy was applied and the other THP moved.
    4.14: the page is skipped silently: 0."""
    from thpsim.mm.migrate import putback_movable_pages
    from thpsim.mm.swap import isolate_lru_page_for_migration

    m = machine(profile, check=False)
    p = m.spawn(cpu=0)
    a = region(p, 2)
    held = pfn_at(p, a)
    assert isolate_lru_page_for_migration(m.kernel, held) == 0
    flags = MPOL_MF_MOVE | MPOL_MF_STRICT
    if profile == "mainline":
        assert errno_of(p.mbind, a, 2 * HP, MPOL_BIND, mask(1), MAXNODE, flags) == errno.EIO
    else:
        assert p.mbind(a, 2 * HP, MPOL_BIND, mask(1), MAXNODE, flags) == 0
    assert vma_policy(p, a) == MPOL_BIND  # applied in both eras
    assert node_at(m, p, a) == 0 and node_at(m, p, a + HP) == 1
    putback_movable_pages(m.kernel, [held])
    check_data(m, p, a, 2 * HP)
    # without STRICT the same failure is ignored
    assert isolate_lru_page_for_migration(m.kernel, pfn_at(p, a)) == 0
    assert p.mbind(a, 2 * HP, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE) == 0
    putback_movable_pages(m.kernel, [pfn_at(p, a)])
    m.check_integrity()


def holes(p):
    """[A 2M][hole 2M][B 2M][hole 2M][C 2M]: three VMAs, written."""
    a = region(p, 5)
    p.munmap(a + HP, HP)
    p.munmap(a + 3 * HP, HP)
    return a


@pytest.mark.parametrize("profile", PROFILES)
def test_mb11_mb12_mb13_holes(profile):
    """MB-11: a hole in the middle of the range: EFAULT, no policy change anywhere,
    nothing moved. MB-12: MPOL_DEFAULT tolerates it: 0. MB-13: a range that is all
    hole: EFAULT even for MPOL_DEFAULT."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = holes(p)
    before = events(m)
    assert errno_of(p.mbind, a, 3 * HP, MPOL_BIND, mask(1), MAXNODE,
                    MPOL_MF_MOVE) == errno.EFAULT
    assert [v.vm_policy for v in p.mm.mmap] == [None] * 3 and delta(m, before) == {}
    assert p.mbind(a, 3 * HP, MPOL_DEFAULT) == 0
    assert errno_of(p.mbind, a + HP, HP, MPOL_DEFAULT) == errno.EFAULT
    assert errno_of(p.mbind, a + HP, HP, MPOL_BIND, mask(1), MAXNODE) == errno.EFAULT
    check_data(m, p, a, HP)


@pytest.mark.parametrize("profile", PROFILES)
def test_hole_at_head_and_tail_per_era(profile):
    """§2.3 step 10 by era (``queue_pages_hole_checks``, 5.5): mainline reports a hole
    at the tail for BIND and none for MPOL_DEFAULT; 4.14 misses the tail hole (its
    test is dead code) and reports a head hole even for MPOL_DEFAULT (mbind_range)."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = holes(p)
    mainline = profile == "mainline"
    # tail hole: [A][hole) with C further up the address space
    if mainline:
        assert errno_of(p.mbind, a, 2 * HP, MPOL_BIND, mask(1), MAXNODE) == errno.EFAULT
        assert vma_policy(p, a) == MPOL_DEFAULT
    else:
        assert p.mbind(a, 2 * HP, MPOL_BIND, mask(1), MAXNODE) == 0
        assert vma_policy(p, a) == MPOL_BIND
    # head hole for MPOL_DEFAULT: (hole][B]
    if mainline:
        assert p.mbind(a + HP, 2 * HP, MPOL_DEFAULT) == 0
    else:
        assert errno_of(p.mbind, a + HP, 2 * HP, MPOL_DEFAULT) == errno.EFAULT
    # head hole for BIND: EFAULT in both
    assert errno_of(p.mbind, a + HP, 2 * HP, MPOL_BIND, mask(1), MAXNODE) == errno.EFAULT


@pytest.mark.parametrize("profile", PROFILES)
def test_mb14_to_mb19_argument_checks(profile):
    """MB-14 (len 0, unaligned: EINVAL, alignment first), MB-15 (len 0, BIND with an
    empty mask: 0, before the mask is validated), MB-16 (MPOL_MF_LAZY: EINVAL),
    MB-17 (MOVE_ALL unprivileged: EPERM), MB-18 (STATIC|RELATIVE: EINVAL), MB-19
    (INTERLEAVE|NUMA_BALANCING: EINVAL); the oracle's unaligned mbind: EINVAL."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1, fill=False)
    assert errno_of(p.mbind, a + 100, 0, MPOL_BIND, mask(0), MAXNODE) == errno.EINVAL
    assert p.mbind(a, 0, MPOL_BIND, 0, MAXNODE) == 0
    assert p.mbind(a, 0, MPOL_BIND, None, 0) == 0
    assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(0), MAXNODE, MPOL_MF_LAZY) == errno.EINVAL
    u = m.spawn(uid=1000)
    b = region(u, 1, fill=False)
    assert errno_of(u.mbind, b, HP, MPOL_BIND, mask(1), MAXNODE,
                    MPOL_MF_MOVE_ALL) == errno.EPERM
    assert u.mbind(b, HP, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE) == 0
    both = MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES
    assert errno_of(p.mbind, a, HP, both, mask(0), MAXNODE) == errno.EINVAL
    balancing = MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING
    assert errno_of(p.mbind, a, HP, balancing, mask(0), MAXNODE) == errno.EINVAL
    assert errno_of(p.mbind, a + 100, HP, MPOL_BIND, mask(0), MAXNODE,
                    MPOL_MF_MOVE) == errno.EINVAL


@pytest.mark.parametrize("profile", PROFILES)
def test_numa_balancing_flag_per_era(profile):
    """MPOL_F_NUMA_BALANCING (5.12): BIND accepts it and get_mempolicy returns it
    with the user's mask; 4.14: not a mode flag, so the mode is out of range."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    mode = MPOL_BIND | MPOL_F_NUMA_BALANCING
    if profile == "seed":
        assert errno_of(p.set_mempolicy, mode, mask(1), MAXNODE) == errno.EINVAL
        return
    assert p.set_mempolicy(mode, mask(1, 5), MAXNODE) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (mode, mask(1, 5))  # the user's mask, as given
    assert p.fs.read("/proc/self/numa_maps") == ""  # no VMAs yet
    a = region(p, 1, fill=False)
    assert f"{a:08x} bind=balancing:1" in p.fs.read("/proc/self/numa_maps")


@pytest.mark.parametrize("profile", PROFILES)
def test_mb20_preferred_empty_reads_back_local(profile):
    """MB-20: mbind PREFERRED with an empty mask is local: get_mempolicy(MPOL_F_ADDR)
    reports MPOL_LOCAL (4) in mainline, MPOL_PREFERRED (1) in 4.14; numa_maps says
    ``local`` in both. PREFERRED|STATIC with an empty mask is EINVAL in both."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1, fill=False)
    assert p.mbind(a, HP, MPOL_PREFERRED, 0, MAXNODE) == 0
    want = MPOL_LOCAL if profile == "mainline" else MPOL_PREFERRED
    assert p.get_mempolicy(GET_MAXNODE, a, MPOL_F_ADDR) == (want, 0)
    assert f"{a:08x} local" in p.fs.read("/proc/self/numa_maps")
    assert errno_of(p.mbind, a, HP, MPOL_PREFERRED | MPOL_F_STATIC_NODES, 0,
                    MAXNODE) == errno.EINVAL
    assert errno_of(p.mbind, a, HP, MPOL_LOCAL | MPOL_F_STATIC_NODES, 0,
                    MAXNODE) == errno.EINVAL  # 4.10+


@pytest.mark.parametrize("profile", PROFILES)
def test_mb21_interleave_move_places_whole_thps_by_index(profile):
    """MB-21: INTERLEAVE {0,1}, MOVE: each misplaced THP moves whole to the node of its
    2 MiB index, ``(vm_pgoff >> 9) + ((addr - vm_start) >> 21)``, as a fault would
    place it. The table's setup (THPs on node 0) moves nothing: node 0 is in the mask,
    so no page is misplaced; here the THPs start on node 2."""
    m = machine(profile, nodes=3)
    p = m.spawn(cpu=2)
    a = region(p, 4)
    assert set(nodes_of(m, p, a, 4 * HP, HP)) == {2}
    before = events(m)
    assert p.mbind(a, 4 * HP, MPOL_INTERLEAVE, mask(0, 1), MAXNODE, MPOL_MF_MOVE) == 0
    vma = p.mm.find_vma(a)
    want = [((vma.vm_pgoff >> 9) + i) % 2 for i in range(4)]
    assert nodes_of(m, p, a, 4 * HP, HP) == want and sorted(want) == [0, 0, 1, 1]
    assert all(is_pmd_mapped(p, a + i * HP) for i in range(4))
    assert delta(m, before, "thp_migration_success") == {"thp_migration_success": 4}
    check_data(m, p, a, 4 * HP)
    # the table's setup: everything already on a node of the mask: nothing moves
    before = events(m)
    assert p.mbind(a, 4 * HP, MPOL_INTERLEAVE, mask(0, 1), MAXNODE, MPOL_MF_MOVE) == 0
    assert nodes_of(m, p, a, 4 * HP, HP) == want and delta(m, before) == {}


def test_mb22_nodes_without_memory_einval():
    """MB-22: a mask naming only nodes without memory: EINVAL. (The model has no
    memoryless nodes; a node id missing from a sparse machine is the same check:
    mpol_set_nodemask() intersects with N_MEMORY.) The oracle's BIND {5}: EINVAL."""
    m = machine(nodes={0: 256 * MB, 2: 256 * MB})
    p = m.spawn(cpu=0)
    a = region(p, 1)
    assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE) == errno.EINVAL
    assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(5), MAXNODE, MPOL_MF_MOVE) == errno.EINVAL
    assert p.mbind(a, HP, MPOL_BIND, mask(1, 2), MAXNODE, MPOL_MF_MOVE) == 0
    assert node_at(m, p, a) == 2 and p.get_mempolicy(GET_MAXNODE, a, MPOL_F_ADDR) == (
        MPOL_BIND, mask(2))
    check_data(m, p, a, HP)


@pytest.mark.parametrize("profile", PROFILES)
def test_mb23_target_node_full(profile):
    """MB-23: node 1 has no free page: MOVE gives 0 and the pages stay (mbind never
    reports ENOMEM); with STRICT: EIO [derived]."""
    m = machine(profile, thp="never")
    p = m.spawn(cpu=0)
    a = region(p, length=8 * PAGE_SIZE)
    held = fill_node(m, 1)
    assert p.mbind(a, 8 * PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE) == 0
    assert set(nodes_of(m, p, a, 8 * PAGE_SIZE)) == {0}
    assert errno_of(p.mbind, a, 8 * PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE,
                    MPOL_MF_MOVE | MPOL_MF_STRICT) == errno.EIO
    m.unfragment(held)
    assert p.mbind(a, 8 * PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE) == 0
    assert set(nodes_of(m, p, a, 8 * PAGE_SIZE)) == {1}
    check_data(m, p, a, 8 * PAGE_SIZE)


@pytest.mark.parametrize("profile", PROFILES)
def test_mb24_mb25_get_nodes_limits(profile):
    """MB-24: a set bit at or above MAX_NUMNODES: EINVAL. MB-25: a valid pointer to 0
    with maxnode 0: the decrement wraps past 8 * PAGE_SIZE: EINVAL (NULL with maxnode
    0, or maxnode 1, is the empty set: 0). Bits past ``maxnode - 1`` are not read
    (maxnode 64: bit 63 dropped), except that 5.11+ checks the whole top word above
    MAX_NUMNODES."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1, fill=False)
    assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(0, 1024), 2048) == errno.EINVAL
    assert errno_of(p.mbind, a, HP, MPOL_BIND, mask(0), 32770) == errno.EINVAL  # > 32768 bits
    assert p.mbind(a, HP, MPOL_BIND, mask(0), 32769) == 0
    assert errno_of(p.mbind, a, HP, MPOL_DEFAULT, 0, 0) == errno.EINVAL
    assert p.mbind(a, HP, MPOL_DEFAULT, None, 0) == 0
    assert p.mbind(a, HP, MPOL_DEFAULT, 0, 1) == 0
    assert p.set_mempolicy(MPOL_BIND, mask(0, 63), 64) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (MPOL_BIND, mask(0))  # bit 63 was not read
    # maxnode 1101 reads bits 0..1099; bit 1100 shares their top word
    beyond = mask(0, 1100)
    if profile == "mainline":
        assert errno_of(p.set_mempolicy, MPOL_BIND, beyond, 1101) == errno.EINVAL
    else:
        assert p.set_mempolicy(MPOL_BIND, beyond, 1101) == 0


# ====================================================================== VMA splitting
def test_vma_split_and_merge_back():
    """mbind_range(): a policy on the middle of a VMA splits it in three; the same
    policy on its neighbours merges all back; MPOL_DEFAULT merges them too."""
    m = machine(thp="never")
    p = m.spawn(cpu=0)
    a = region(p, length=8 * PAGE_SIZE)
    assert p.mbind(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE) == 0
    # [a  ][bind 1 ][        ]
    assert len(p.mm.mmap) == 3
    assert p.mbind(a + 4 * PAGE_SIZE, PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE) == 0
    assert len(p.mm.mmap) == 3  # merged into the bound middle VMA
    assert p.mm.mmap[1].vm_end == a + 5 * PAGE_SIZE
    assert p.mbind(a, 8 * PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE) == 0
    assert len(p.mm.mmap) == 1 and p.mm.mmap[0].vm_policy.nodes == mask(1)
    assert p.mbind(a + PAGE_SIZE, PAGE_SIZE, MPOL_INTERLEAVE, mask(0, 1), MAXNODE) == 0
    assert len(p.mm.mmap) == 3
    assert p.mbind(a, 8 * PAGE_SIZE, MPOL_DEFAULT) == 0
    assert len(p.mm.mmap) == 1 and p.mm.mmap[0].vm_policy is None
    check_data(m, p, a, 8 * PAGE_SIZE)


# ====================================================================== PM rows (§3.3)
@pytest.mark.parametrize("profile", PROFILES)
def test_pm1_preferred_empty_is_local(profile):
    """PM-1: set_mempolicy(PREFERRED, NULL, 0) reads back as MPOL_LOCAL (4) with an
    empty mask in mainline, MPOL_PREFERRED (1) in 4.14; MPOL_LOCAL itself the same."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    want = MPOL_LOCAL if profile == "mainline" else MPOL_PREFERRED
    assert p.set_mempolicy(MPOL_PREFERRED, None, 0) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (want, 0)
    assert p.set_mempolicy(MPOL_LOCAL) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (want, 0)
    assert errno_of(p.set_mempolicy, MPOL_LOCAL, mask(0), MAXNODE) == errno.EINVAL


def test_pm2_static_returns_user_mask():
    """PM-2: BIND|STATIC {0,1} reads back as 2|0x8000 with the user's mask, even the
    nodes that do not exist (the effective mask is {0,1} & N_MEMORY)."""
    m = machine()
    p = m.spawn(cpu=0)
    assert p.set_mempolicy(MPOL_BIND | MPOL_F_STATIC_NODES, mask(0, 1), MAXNODE) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (MPOL_BIND | MPOL_F_STATIC_NODES, mask(0, 1))
    assert p.set_mempolicy(MPOL_BIND | MPOL_F_STATIC_NODES, mask(1, 7), MAXNODE) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (MPOL_BIND | MPOL_F_STATIC_NODES, mask(1, 7))
    assert p.task.mempolicy.nodes == mask(1)
    assert p.set_mempolicy(MPOL_BIND, mask(1, 7), MAXNODE) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (MPOL_BIND, mask(1))  # no flag: the effective mask


def test_relative_nodes_fold_onto_allowed():
    """MPOL_F_RELATIVE_NODES: the mask is positional in the allowed set: on {0, 2, 5},
    relative {1} is node 2, relative {3} folds to position 0: node 0."""
    m = machine(nodes={0: 128 * MB, 2: 128 * MB, 5: 128 * MB})
    p = m.spawn(cpu=0)
    assert p.set_mempolicy(MPOL_BIND | MPOL_F_RELATIVE_NODES, mask(1), MAXNODE) == 0
    assert p.task.mempolicy.nodes == mask(2)
    assert p.set_mempolicy(MPOL_BIND | MPOL_F_RELATIVE_NODES, mask(3), MAXNODE) == 0
    assert p.task.mempolicy.nodes == mask(0)
    assert p.get_mempolicy(GET_MAXNODE) == (MPOL_BIND | MPOL_F_RELATIVE_NODES, mask(3))


def test_pm3_mask_shorter_than_nr_node_ids():
    """PM-3: get_mempolicy with maxnode 1 on a 2-node box: EINVAL; nr_node_ids counts
    sparse ids (node 5 needs maxnode >= 6)."""
    m = machine()
    p = m.spawn()
    assert errno_of(p.get_mempolicy, 1) == errno.EINVAL
    assert p.get_mempolicy(2) == (MPOL_DEFAULT, 0)
    s = machine(nodes={0: 128 * MB, 5: 128 * MB}).spawn()
    assert errno_of(s.get_mempolicy, 5) == errno.EINVAL
    assert s.get_mempolicy(6) == (MPOL_DEFAULT, 0)


def test_pm3_seed_mask_shorter_than_max_numnodes():
    """PM-3 in 4.14: SYSCALL_DEFINE5(get_mempolicy) checks "nmask != NULL && maxnode <
    MAX_NUMNODES" first (5.0, C:050c17f239fd, made it nr_node_ids): the oracle's 65 is
    EINVAL on a 2-node box, before the bad address is looked at; MAX_NUMNODES itself
    (MAX_NUMNODES - 1 bits) passes; no mask, no check."""
    p = machine("seed").spawn()
    assert errno_of(p.get_mempolicy, MAXNODE) == errno.EINVAL
    assert errno_of(p.get_mempolicy, MAXNODE, 1 << 40, MPOL_F_ADDR) == errno.EINVAL
    assert errno_of(p.get_mempolicy, MAX_NUMNODES - 1) == errno.EINVAL
    assert p.get_mempolicy(MAX_NUMNODES) == (MPOL_DEFAULT, 0)
    assert errno_of(p.get_mempolicy, 0, 1 << 40, MPOL_F_ADDR) == errno.EFAULT
    assert machine("mainline").spawn().get_mempolicy(MAXNODE) == (MPOL_DEFAULT, 0)


def test_pm4_node_of_thp():
    """PM-4: MPOL_F_NODE|MPOL_F_ADDR inside a THP on node 1: 1."""
    m = machine()
    p = m.spawn(cpu=1)
    a = region(p, 1)
    assert node_at(m, p, a) == 1
    assert p.get_mempolicy(0, a + 7 * PAGE_SIZE, MPOL_F_NODE | MPOL_F_ADDR) == (1, None)


@pytest.mark.parametrize("thp", ["always", "never"])
def test_pm5_untouched_reports_zero_page_node(thp):
    """PM-5: MPOL_F_NODE|MPOL_F_ADDR on an untouched address read-faults it: the
    (huge) zero page is mapped and its node reported [derived]: node 0 for the zero
    page (the first frame of the first node), the first user's node for the huge
    zero page (allocated on first use), though the BIND policy says node 0 for data."""
    m = machine(thp=thp)
    p = m.spawn(cpu=1)
    a = region(p, 1, fill=False)
    assert p.mbind(a, HP, MPOL_BIND, mask(0), MAXNODE) == 0
    mode, _ = p.get_mempolicy(0, a, MPOL_F_NODE | MPOL_F_ADDR)
    pfn, huge, zero = follow_page_info(p.mm.find_vma(a), a, False)
    assert zero and huge == (thp == "always")
    assert mode == m.kernel.mem.pfn_to_nid(pfn) == (1 if thp == "always" else 0)


def test_pm6_to_pm9_flag_checks():
    """PM-6: MPOL_F_NODE with a BIND thread policy: EINVAL. PM-7: flags 0 with an
    address: EINVAL. PM-8: MEMS_ALLOWED with NODE: EINVAL; alone: the cpuset's nodes.
    PM-9: MPOL_F_ADDR on a VMA without a policy reports MPOL_DEFAULT, not the thread's
    BIND; no VMA there: EFAULT; unknown flags: EINVAL."""
    m = machine()
    p = m.spawn(cpu=0)
    a = region(p, 1, fill=False)
    assert p.set_mempolicy(MPOL_BIND, mask(1), MAXNODE) == 0
    assert errno_of(p.get_mempolicy, 0, 0, MPOL_F_NODE) == errno.EINVAL
    assert errno_of(p.get_mempolicy, MAXNODE, a, 0) == errno.EINVAL
    assert errno_of(p.get_mempolicy, MAXNODE, 0, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE) == (
        errno.EINVAL)
    assert p.get_mempolicy(GET_MAXNODE, 0, MPOL_F_MEMS_ALLOWED) == (0, mask(0, 1))
    assert p.get_mempolicy(GET_MAXNODE, a, MPOL_F_ADDR) == (MPOL_DEFAULT, 0)
    assert p.get_mempolicy(GET_MAXNODE) == (MPOL_BIND, mask(1))
    assert errno_of(p.get_mempolicy, MAXNODE, a - PAGE_SIZE, MPOL_F_ADDR) == errno.EFAULT
    assert errno_of(p.get_mempolicy, MAXNODE, 0, 8) == errno.EINVAL


def test_pm10_interleave_cursor_restarts():
    """PM-10: set_mempolicy(INTERLEAVE {0,1}) then MPOL_F_NODE: 0, the first node
    (the cursor restarts). Faults in a VMA interleave by page index, not by the
    cursor, so it stays at 0 after them."""
    m = machine(thp="never")
    p = m.spawn(cpu=0)
    assert p.set_mempolicy(MPOL_INTERLEAVE, mask(0, 1), MAXNODE) == 0
    assert p.get_mempolicy(0, 0, MPOL_F_NODE) == (0, None)
    a = region(p, length=4 * PAGE_SIZE)
    assert nodes_of(m, p, a, 4 * PAGE_SIZE) == [((a >> 12) + i) % 2 for i in range(4)]
    assert p.get_mempolicy(0, 0, MPOL_F_NODE) == (0, None)


@pytest.mark.parametrize("profile", PROFILES)
def test_pm11_mode_range_per_era(profile):
    """PM-11: mode 7 is EINVAL; PREFERRED_MANY (5, 5.15) and WEIGHTED_INTERLEAVE (6,
    6.9) exist only in mainline; an empty mask is EINVAL for both."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    assert errno_of(p.set_mempolicy, 7, mask(0), MAXNODE) == errno.EINVAL
    assert errno_of(p.set_mempolicy, -1, mask(0), MAXNODE) == errno.EINVAL
    for mode in (MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE):
        if profile == "seed":
            assert errno_of(p.set_mempolicy, mode, mask(1), MAXNODE) == errno.EINVAL
            continue
        assert errno_of(p.set_mempolicy, mode, 0, MAXNODE) == errno.EINVAL
        assert p.set_mempolicy(mode, mask(1), MAXNODE) == 0
        assert p.get_mempolicy(GET_MAXNODE) == (mode, mask(1))
    if profile == "mainline":
        assert p.get_mempolicy(0, 0, MPOL_F_NODE) == (1, None)  # weighted: next node


# ====================================================================== placement
@pytest.mark.parametrize("profile", PROFILES)
def test_bind_and_preferred_faults_land_on_their_node(profile):
    """Faults follow the VMA policy, else the thread's: BIND and PREFERRED {1} from a
    CPU on node 0 place base pages and THPs on node 1."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 2, fill=False)
    assert p.mbind(a, HP, MPOL_BIND, mask(1), MAXNODE) == 0
    assert p.mbind(a + HP, HP, MPOL_PREFERRED, mask(1), MAXNODE) == 0
    p.write(a, 1)
    p.write(a + HP, 2)
    assert node_at(m, p, a) == 1 and is_pmd_mapped(p, a)
    assert node_at(m, p, a + HP) == 1 and is_pmd_mapped(p, a + HP)
    n = m.spawn(cpu=0)
    assert n.set_mempolicy(MPOL_BIND, mask(1), MAXNODE) == 0
    b = region(n, length=4 * PAGE_SIZE)  # base pages: the VMA is too small for a THP
    assert set(nodes_of(m, n, b, 4 * PAGE_SIZE)) == {1}
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_interleave_faults_by_index(profile):
    """An INTERLEAVE VMA places base pages by page index and THPs by 2 MiB index."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 4, fill=False)
    assert p.mbind(a, 4 * HP, MPOL_INTERLEAVE, mask(0, 1), MAXNODE) == 0
    for i in range(4):
        p.write(a + i * HP, i)
    vma = p.mm.find_vma(a)
    assert nodes_of(m, p, a, 4 * HP, HP) == [((vma.vm_pgoff >> 9) + i) % 2 for i in range(4)]
    n = machine(profile, thp="never")
    q = n.spawn(cpu=0)
    b = region(q, length=6 * PAGE_SIZE, fill=False)
    assert q.mbind(b, 6 * PAGE_SIZE, MPOL_INTERLEAVE, mask(0, 1), MAXNODE) == 0
    for i in range(6):
        q.write(b + i * PAGE_SIZE, i)
    assert nodes_of(n, q, b, 6 * PAGE_SIZE) == [((b >> 12) + i) % 2 for i in range(6)]


def test_preferred_falls_back_bind_does_not_leave_its_nodes():
    """PREFERRED {1} with node 1 full falls back to node 0; BIND {0,1} with node 1
    full uses node 0 (inside its mask); a thread policy LOCAL on a node-1 CPU
    allocates there."""
    m = machine(thp="never")
    p = m.spawn(cpu=0)
    held = fill_node(m, 1)
    a = region(p, length=2 * PAGE_SIZE, fill=False)
    assert p.mbind(a, PAGE_SIZE, MPOL_PREFERRED, mask(1), MAXNODE) == 0
    assert p.mbind(a + PAGE_SIZE, PAGE_SIZE, MPOL_BIND, mask(0, 1), MAXNODE) == 0
    p.write(a, 1)
    p.write(a + PAGE_SIZE, 2)
    assert nodes_of(m, p, a, 2 * PAGE_SIZE) == [0, 0]
    m.unfragment(held)
    q = m.spawn(cpu=1)
    assert q.set_mempolicy(MPOL_LOCAL) == 0
    b = region(q, length=PAGE_SIZE)
    assert node_at(m, q, b) == 1
    m.check_integrity()


def test_preferred_many_faults_mainline():
    """PREFERRED_MANY {1}: the mask first, any node when it is full."""
    m = machine(thp="never")
    p = m.spawn(cpu=0)
    a = region(p, length=2 * PAGE_SIZE, fill=False)
    assert p.mbind(a, 2 * PAGE_SIZE, MPOL_PREFERRED_MANY, mask(1), MAXNODE) == 0
    p.write(a, 1)
    held = fill_node(m, 1)
    p.write(a + PAGE_SIZE, 2)
    assert nodes_of(m, p, a, 2 * PAGE_SIZE) == [1, 0]
    m.unfragment(held)
    m.check_integrity()


@pytest.mark.parametrize("cpuset", [False, True])
def test_preferred_many_thp_on_a_fragmented_node_with_and_without_a_cpuset(cpuset):
    """Issue 10's regression: PREFERRED_MANY {0} on a fragmented node 0. The policy
    tries its nodes first (__GFP_NORETRY, no direct reclaim), then any allowed node,
    so the THP fault gets a THP on node 1, outside a cpuset and inside one allowing
    both nodes alike. (mempolicy's old second copy of alloc_pages_mpol() for tasks in
    a cpuset tried node 0 only and fell back to a base page there.)"""
    m = machine(thp="always")
    p = m.spawn(cpu=0)
    if cpuset:
        m.fs.write("/sys/fs/cgroup/cgroup.subtree_control", "+cpuset")
        m.fs.mkdir("/sys/fs/cgroup/both")
        m.fs.write("/sys/fs/cgroup/both/cpuset.mems", "0")
        m.fs.write("/sys/fs/cgroup/both/cgroup.procs", str(p.pid))
        m.fs.write("/sys/fs/cgroup/both/cpuset.mems", "0-1")
        assert p.task.mems_allowed == 0b11
    held = m.fragment(0)
    a = region(p, length=HPAGE_PMD_SIZE, fill=False)
    assert p.mbind(a, HPAGE_PMD_SIZE, MPOL_PREFERRED_MANY, mask(0), MAXNODE) == 0
    p.write(a, 1)
    assert is_pmd_mapped(p, a)
    assert node_at(m, p, a) == 1
    m.unfragment(held)
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_policies_inherited_over_fork(profile):
    """fork copies the thread policy and every VMA policy; the child's faults obey both."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1, fill=False)
    assert p.mbind(a, HP, MPOL_BIND, mask(1), MAXNODE) == 0
    assert p.set_mempolicy(MPOL_PREFERRED, mask(1), MAXNODE) == 0
    c = p.fork()
    assert c.get_mempolicy(GET_MAXNODE) == (MPOL_PREFERRED, mask(1))
    assert c.get_mempolicy(GET_MAXNODE, a, MPOL_F_ADDR) == (MPOL_BIND, mask(1))
    c.write(a, 5)
    assert node_at(m, c, a) == 1 and is_pmd_mapped(c, a)
    b = region(c, 1)  # a new VMA in the child: the inherited thread policy
    assert node_at(m, c, b) == 1
    t = p.clone()  # a thread starts with the creator's policy too
    assert t.get_mempolicy(GET_MAXNODE) == (MPOL_PREFERRED, mask(1))
    assert t.set_mempolicy(MPOL_DEFAULT) == 0
    assert p.get_mempolicy(GET_MAXNODE) == (MPOL_PREFERRED, mask(1))  # per thread
    m.check_integrity()


# ====================================================================== MG rows (§4.4)
@pytest.mark.parametrize("profile", PROFILES)
def test_mg1_thp_and_base_pages(profile):
    """MG-1: 1 THP + 10 base pages on node 0, migrate_pages(pid, 3, {0}, {1}) = 0:
    everything on node 1, the THP still PMD-mapped."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    b = region(p, length=10 * PAGE_SIZE)
    before = events(m)
    assert p.migrate_pages(p.pid, 3, mask(0), mask(1)) == 0
    assert set(nodes_of(m, p, a, HP)) == {1} and is_pmd_mapped(p, a)
    assert set(nodes_of(m, p, b, 10 * PAGE_SIZE)) == {1}
    ok = 522 if profile == "mainline" else 11
    assert delta(m, before) == {"pgmigrate_success": ok, "thp_migration_success": 1}
    check_data(m, p, a, HP)
    check_data(m, p, b, 10 * PAGE_SIZE)


@pytest.mark.parametrize("profile", PROFILES)
def test_mg2_maxnode_two_empty_new(profile):
    """MG-2: maxnode 2 reads bit 0 only: old {0}, new {}: EINVAL in mainline (nothing
    left after the cpuset cut); 4.14 has no such check: 0, nothing moved."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    if profile == "mainline":
        assert errno_of(p.migrate_pages, 0, 2, mask(0), mask(1)) == errno.EINVAL
    else:
        assert p.migrate_pages(0, 2, mask(0), mask(1)) == 0
    assert node_at(m, p, a) == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_mg3_shift_without_cascade(profile):
    """MG-3: pages on 0, 1, 2; old {0,1,2} new {1,2,3}: 0, each node's pages move one
    up and none moves twice (pgmigrate_success = the pages moved)."""
    m = machine(profile, nodes=4, thp="never")
    ps = []
    for cpu in range(3):
        q = m.spawn(cpu=cpu)
        ps.append((q, region(q, length=3 * PAGE_SIZE)))
    root = m.spawn(cpu=0)
    for q, _ in ps:
        before = events(m)
        assert root.migrate_pages(q.pid, MAXNODE, mask(0, 1, 2), mask(1, 2, 3)) == 0
        assert delta(m, before) == {"pgmigrate_success": 3}
    assert [nodes_of(m, q, a, 3 * PAGE_SIZE) for q, a in ps] == [[1] * 3, [2] * 3, [3] * 3]
    for q, a in ps:
        check_data(m, q, a, 3 * PAGE_SIZE)


@pytest.mark.parametrize("old,new,moves", [
    ((2, 3, 4), (3, 4, 5), {2: 3, 3: 4, 4: 5}),
    (tuple(range(8)), (3, 4, 5), {0: 3, 1: 4, 2: 5, 6: 3, 7: 4}),
    ((0, 1), (1,), {0: 1}),
    ((1,), (0, 1), {}),
    ((0, 1), (0, 1), {}),
    ((0, 1, 2), (1, 2, 3), {0: 1, 1: 2, 2: 3}),
])
def test_do_migrate_pages_mapping_table(old, new, moves):
    """§4.2's table: node_remap() pairs, sources in ``new`` skipped when the weights
    differ, and no page moved twice."""
    m = machine(nodes={n: 128 * MB for n in range(8)}, thp="never", check=False)
    ps = []
    for cpu in range(8):
        q = m.spawn(cpu=cpu)
        ps.append((q, region(q, length=PAGE_SIZE)))
    root = m.spawn()
    for nid, (q, a) in enumerate(ps):
        assert root.migrate_pages(q.pid, MAXNODE, mask(*old), mask(*new)) == 0
        assert node_at(m, q, a) == moves.get(nid, nid), nid
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_mg4_source_in_new_with_other_weight(profile):
    """MG-4: pages on 1, old {1} new {0,1}: 0, nothing moved."""
    m = machine(profile)
    p = m.spawn(cpu=1)
    a = region(p, 1)
    before = events(m)
    assert p.migrate_pages(0, MAXNODE, mask(1), mask(0, 1)) == 0
    assert node_at(m, p, a) == 1 and delta(m, before) == {}


@pytest.mark.parametrize("profile", PROFILES)
def test_mg5_mg6_shared_thp(profile):
    """MG-5: an unprivileged caller moves with MOVE: a THP shared with another process
    stays, not counted: 0. MG-6: root (MOVE_ALL) moves it; the other process then sees
    the new page."""
    m = machine(profile)
    u = m.spawn(cpu=0, uid=1000)
    a = region(u, 1)
    c = u.fork()
    old = pfn_at(c, a)
    assert u.migrate_pages(0, MAXNODE, mask(0), mask(1)) == 0
    assert node_at(m, u, a) == 0 and pfn_at(c, a) == old
    root = m.spawn()
    assert root.migrate_pages(u.pid, MAXNODE, mask(0), mask(1)) == 0
    assert node_at(m, u, a) == 1 and node_at(m, c, a) == 1 and pfn_at(c, a) != old
    assert pfn_at(c, a) == pfn_at(u, a)
    check_data(m, u, a, HP)
    check_data(m, c, a, HP)


@pytest.mark.parametrize("profile", PROFILES)
def test_mg7_mg8_mg9_checks(profile):
    """MG-7: new nodes outside the target's cpuset, unprivileged: EPERM (node 5 is in
    no cpuset). MG-8: root, nothing left after the caller's cpuset cut: EINVAL (the
    oracle's {0}->{5}). MG-9: no such pid: ESRCH (the oracle's pid 999999)."""
    m = machine(profile)
    u = m.spawn(cpu=0, uid=1000)
    region(u, 1)
    root = m.spawn()
    assert errno_of(u.migrate_pages, 0, MAXNODE, mask(0), mask(5)) == errno.EPERM
    assert errno_of(root.migrate_pages, u.pid, MAXNODE, mask(0), mask(5)) == errno.EINVAL
    assert errno_of(root.migrate_pages, 999999, MAXNODE, mask(0), mask(1)) == errno.ESRCH
    # the masks are read first: a bit at MAX_NUMNODES beats the bad pid
    assert errno_of(root.migrate_pages, 999999, 2048, mask(0, 1024), mask(1)) == errno.EINVAL
    # a new mask with one real node and one absent: 4.15+ cuts it, 4.14 refuses it
    if profile == "mainline":
        assert root.migrate_pages(u.pid, MAXNODE, mask(0), mask(1, 5)) == 0
        assert node_at(m, u, u.mm.mmap[0].vm_start) == 1
    else:
        assert errno_of(root.migrate_pages, u.pid, MAXNODE, mask(0),
                        mask(1, 5)) == errno.EINVAL


@pytest.mark.parametrize("profile", PROFILES)
def test_migrate_pages_permission_per_era(profile):
    """EPERM rule: 4.15+ ptrace_may_access() (same uid or CAP_SYS_PTRACE); 4.14 a
    matching uid or CAP_SYS_NICE. A same-uid caller may in both."""
    m = machine(profile)
    victim = m.spawn(cpu=0, uid=1001)
    a = region(victim, 1)
    nice = m.spawn(uid=1000, caps=frozenset({CAP_SYS_NICE}))
    if profile == "mainline":
        assert errno_of(nice.migrate_pages, victim.pid, MAXNODE, mask(0),
                        mask(1)) == errno.EPERM
    else:
        assert nice.migrate_pages(victim.pid, MAXNODE, mask(0), mask(1)) == 0
        assert node_at(m, victim, a) == 1
    stranger = m.spawn(uid=1000)
    assert errno_of(stranger.migrate_pages, victim.pid, MAXNODE, mask(0, 1),
                    mask(1, 0)) == errno.EPERM
    same = m.spawn(uid=1001)
    assert same.migrate_pages(victim.pid, MAXNODE, mask(1), mask(0)) == 0
    assert node_at(m, victim, a) == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_mg10_pinned_page_counts_one(profile):
    """MG-10: one page with an extra reference never migrates: 1 is returned."""
    from thpsim.mm.swap import get_page, put_page

    m = machine(profile, thp="never", check=False)
    p = m.spawn(cpu=0)
    a = region(p, length=4 * PAGE_SIZE)
    pin = pfn_at(p, a + PAGE_SIZE)
    get_page(m.kernel, pin)  # a GUP pin
    assert p.migrate_pages(0, MAXNODE, mask(0), mask(1)) == 1
    assert nodes_of(m, p, a, 4 * PAGE_SIZE) == [1, 0, 1, 1]
    put_page(m.kernel, pin)
    check_data(m, p, a, 4 * PAGE_SIZE)


@pytest.mark.parametrize("profile", PROFILES)
def test_migrate_pages_counts_unisolatable_per_era(profile):
    """§4.3: 6.7+ adds the folios its walk could not isolate to the return (1 here);
    4.14 skips them silently (0). The other THP moves in both."""
    from thpsim.mm.migrate import putback_movable_pages
    from thpsim.mm.swap import isolate_lru_page_for_migration

    m = machine(profile, check=False)
    p = m.spawn(cpu=0)
    a = region(p, 2)
    held = pfn_at(p, a)
    assert isolate_lru_page_for_migration(m.kernel, held) == 0
    want = 1 if profile == "mainline" else 0
    assert p.migrate_pages(0, MAXNODE, mask(0), mask(1)) == want
    assert node_at(m, p, a) == 0 and node_at(m, p, a + HP) == 1
    putback_movable_pages(m.kernel, [held])
    check_data(m, p, a, 2 * HP)


@pytest.mark.parametrize("profile", PROFILES)
def test_mg11_no_thp_block_on_target(profile):
    """MG-11: node 1 has no free 2 MiB block. Mainline: the THP is split and its pages
    moved: 0, thp_migration_split +1. 4.14: the THP target fails and migrate_pages()
    returns -ENOMEM: the syscall fails with ENOMEM and the THP stays."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    held = m.fragment(1)
    before = events(m)
    if profile == "mainline":
        assert p.migrate_pages(0, MAXNODE, mask(0), mask(1)) == 0
        assert set(nodes_of(m, p, a, HP)) == {1} and not is_pmd_mapped(p, a)
        assert delta(m, before) == {"pgmigrate_success": 512, "thp_migration_fail": 1,
                                    "thp_migration_split": 1}
    else:
        assert errno_of(p.migrate_pages, 0, MAXNODE, mask(0), mask(1)) == errno.ENOMEM
        assert set(nodes_of(m, p, a, HP)) == {0} and is_pmd_mapped(p, a)
    m.unfragment(held)
    check_data(m, p, a, HP)


# ====================================================================== the oracle
def test_oracle_basic_mbind_and_migrate_pages():
    """Oracle `basic` (7.2): fault 4 THPs bound to node 0 by set_mempolicy, move_pages
    them to node 1, then mbind(BIND 0, MOVE), mbind(DEFAULT), migrate_pages(self
    {0}->{1}), mbind(BIND 0, MOVE|STRICT), mbind(BIND 1, STRICT only) = EIO. THPs move
    whole: +2048 pgmigrate_success and +4 thp_migration_success per step, still
    PMD-mapped. (The oracle's migrate_pages also moved the test program's own ~26
    pages: 2074.)"""
    m = machine()
    p = m.spawn(cpu=0)
    assert p.set_mempolicy(MPOL_BIND, mask(0), MAXNODE) == 0
    a = region(p, 4)
    assert p.set_mempolicy(MPOL_DEFAULT, None, 0) == 0
    assert set(nodes_of(m, p, a, 8 * MB, HP)) == {0}
    pages = [a + i for i in range(0, 8 * MB, PAGE_SIZE)]
    assert p.move_pages(0, pages, [1] * 2048, MPOL_MF_MOVE)[0] == 0
    whole = {"pgmigrate_success": 2048, "thp_migration_success": 4}

    def step(want_node):
        assert nodes_of(m, p, a, 8 * MB) == [want_node] * 2048  # nodes: N*2048
        assert all(is_pmd_mapped(p, a + i * HP) for i in range(4))
        assert anon_huge_kb(p) == 8192 and len(p.mm.mmap) == 1  # smaps: vmas=1

    before = events(m)
    assert p.mbind(a, 8 * MB, MPOL_BIND, mask(0), MAXNODE, MPOL_MF_MOVE) == 0
    step(0)
    assert delta(m, before) == whole
    assert p.mbind(a, 8 * MB, MPOL_DEFAULT, None, 0, 0) == 0
    before = events(m)
    assert p.migrate_pages(p.pid, MAXNODE, mask(0), mask(1)) == 0
    step(1)
    assert delta(m, before) == whole
    before = events(m)
    assert p.mbind(a, 8 * MB, MPOL_BIND, mask(0), MAXNODE,
                   MPOL_MF_MOVE | MPOL_MF_STRICT) == 0
    step(0)
    assert delta(m, before) == whole
    before = events(m)
    assert errno_of(p.mbind, a, 8 * MB, MPOL_BIND, mask(1), MAXNODE,
                    MPOL_MF_STRICT) == errno.EIO
    step(0)
    assert delta(m, before) == {}  # vmstat+: (none)
    check_data(m, p, a, 8 * MB)


def test_oracle_errors_mbind_and_migrate_pages():
    """Oracle `errors` (7.2): mbind(BIND node5, MOVE) EINVAL; mbind(unaligned) EINVAL;
    mbind(unmapped range) EFAULT; migrate_pages(self, {0}->{5}) EINVAL;
    migrate_pages(pid 999999) ESRCH."""
    m = machine()
    p = m.spawn(cpu=0)
    a = region(p, 4)
    hole = p.mmap(0, PAGE_SIZE, PROT_READ, ANON)
    p.munmap(hole, PAGE_SIZE)
    assert errno_of(p.mbind, a, 8 * MB, MPOL_BIND, mask(5), MAXNODE,
                    MPOL_MF_MOVE) == errno.EINVAL
    assert errno_of(p.mbind, a + 100, 8 * MB, MPOL_BIND, mask(0), MAXNODE,
                    MPOL_MF_MOVE) == errno.EINVAL
    assert errno_of(p.mbind, hole, PAGE_SIZE, MPOL_BIND, mask(0), MAXNODE,
                    MPOL_MF_MOVE) == errno.EFAULT
    assert errno_of(p.migrate_pages, p.pid, MAXNODE, mask(0), mask(5)) == errno.EINVAL
    assert errno_of(p.migrate_pages, 999999, MAXNODE, mask(0), mask(1)) == errno.ESRCH
    assert set(nodes_of(m, p, a, 8 * MB, HP)) == {0}
    check_data(m, p, a, 8 * MB)


def test_oracle_softdirty_kept_by_migrate_pages():
    """Oracle `softdirty` (7.2): after clear_refs 4, migrate_pages(self {0}->{1})
    brings every THP back soft-dirty (the dirty PMD rebuilt from the migration
    entry sets soft-dirty too)."""
    from thpsim.arch.x86_64.pgtable import pmd_clear_soft_dirty
    from thpsim.mm.pgtable_generic import lookup_pmd

    m = machine()
    p = m.spawn(cpu=0)
    a = region(p, 4)
    for i in range(4):
        t, idx = lookup_pmd(p.mm, a + i * HP)
        t[idx] = pmd_clear_soft_dirty(t[idx])  # as clear_refs 4 does
    for cpu in m.cpus:
        cpu.flush_asid(p.mm.mm_id)
    before = events(m)
    assert p.migrate_pages(p.pid, MAXNODE, mask(0), mask(1)) == 0
    assert delta(m, before) == {"pgmigrate_success": 2048, "thp_migration_success": 4}
    for i in range(4):
        t, idx = lookup_pmd(p.mm, a + i * HP)
        assert pmd_soft_dirty(t[idx])
    check_data(m, p, a, 8 * MB)


def test_oracle_target_frag_migrate_pages_back():
    """Oracle `target_frag` (7.2): move_pages to a node with no 2 MiB block splits the
    THPs; migrate_pages(self {1}->{0}) then moves the 2048 base pages back: 0,
    +2048 pgmigrate_success, no THP formed again (AnonHugePages 0)."""
    m = machine()
    p = m.spawn(cpu=0)
    a = region(p, 4)
    held = m.fragment(1)
    assert p.move_pages(0, [a + i for i in range(0, 8 * MB, PAGE_SIZE)], [1] * 2048,
                        MPOL_MF_MOVE)[0] == 0
    assert set(nodes_of(m, p, a, 8 * MB)) == {1}
    before = events(m)
    assert p.migrate_pages(p.pid, MAXNODE, mask(1), mask(0)) == 0
    assert delta(m, before) == {"pgmigrate_success": 2048}
    assert set(nodes_of(m, p, a, 8 * MB)) == {0}
    assert not any(m.kernel.pages.PageCompound(pfn_at(p, a + i * HP)) for i in range(4))
    assert anon_huge_kb(p) == 0
    m.unfragment(held)
    check_data(m, p, a, 8 * MB)


# ====================================================================== era-specific walk details
@pytest.mark.parametrize("profile", PROFILES)
def test_huge_zero_pmd_in_range(profile):
    """A huge zero PMD in an mbind(MOVE) range: 5.14+ skips it; 4.14 splits it into
    zero-page PTEs (thp_split_pmd +1). Never migrated."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1, fill=False)
    assert p.read(a) == 0  # a read fault maps the huge zero page
    assert follow_page_info(p.mm.find_vma(a), a, False)[1:] == (True, True)
    before = events(m)
    assert p.mbind(a, HP, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE | MPOL_MF_STRICT) == 0
    split = profile == "seed"
    assert delta(m, before, "thp_split_pmd", "pgmigrate_success") == (
        {"thp_split_pmd": 1} if split else {})
    assert follow_page_info(p.mm.find_vma(a), a, False)[1:] == (not split, True)
    p.write(a + PAGE_SIZE, 7)  # a write now allocates by the new policy
    assert node_at(m, p, a + PAGE_SIZE) == 1
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_pte_mapped_thp_queued_once(profile):
    """A PTE-mapped THP in the range is isolated once, by its head, and moved whole."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    p.mprotect(a, PAGE_SIZE, PROT_READ)  # splits the PMD, not the THP
    assert not is_pmd_mapped(p, a)
    p.mprotect(a, PAGE_SIZE, RW)
    before = events(m)
    assert p.mbind(a, HP, MPOL_BIND, mask(1), MAXNODE, MPOL_MF_MOVE | MPOL_MF_STRICT) == 0
    assert set(nodes_of(m, p, a, HP)) == {1}
    assert m.kernel.pages.PageTransHuge(pfn_at(p, a))
    assert delta(m, before, "thp_migration_success") == {"thp_migration_success": 1}
    check_data(m, p, a, HP)


# ====================================================================== concurrency
@pytest.mark.parametrize("profile", PROFILES)
def test_mbind_races_faults_and_migrate_pages(profile):
    """mbind(MOVE|STRICT) on CPU0, stores and loads on CPU1, migrate_pages and
    mbind(DEFAULT) on CPU2, under random schedules: no lost write, no broken
    invariant, every page ends on node 1 (whichever path isolated it moved it)."""
    from thpsim.testing import Race

    for seed in range(6):
        m = Machine(nodes={0: 32 * MB, 1: 32 * MB}, block_size=32 * MB, cpus=4,
                    profile=profile, shadow=False)
        p = m.spawn(cpu=1)
        a = p.mmap(0, 3 * HP, RW, ANON)
        a = (a + HP - 1) & ~(HP - 1)
        for i in range(0, 2 * HP, 64 * PAGE_SIZE):
            p.write(a + i, i + 1)
        t0, t2 = p.clone(cpu=0), p.clone(cpu=2)
        ctx = m.kernel

        def mbind_move(ctx=ctx, t=t0.task, a=a):
            return mp.kernel_mbind(ctx, t, a + MB, 2 * HP - MB, MPOL_BIND, mask(1), 3,
                                   MPOL_MF_MOVE | MPOL_MF_STRICT)

        def migrate(ctx=ctx, t=t2.task):
            return mp.kernel_migrate_pages(ctx, t, 0, 3, mask(0), mask(1))

        def mbind_default(ctx=ctx, t=t2.task, a=a):
            return mp.kernel_mbind(ctx, t, a, HP, MPOL_DEFAULT, None, 0, 0)

        race = Race(m)
        race.on(0, t0).call("mbind", mbind_move)
        race.on(1, p.threads[0]).store(a + MB + 3 * PAGE_SIZE, 77).load(
            a + MB + 3 * PAGE_SIZE).load(a)
        race.on(2, t2).call("migrate_pages", migrate).call("mbind", mbind_default)
        ex = race.run(policy="random", seed=seed)
        assert ex.failure is None, ex.failure
        # a folio the other path holds isolated is a failure: EIO under STRICT, and
        # migrate_pages counts it (mainline: per PTE of a PTE-mapped THP)
        assert ex.result(0, 0) in (0, -errno.EIO) and ex.result(2, 0) >= 0
        assert ex.result(1, 1) == 77 and ex.result(1, 2) == 1
        assert set(nodes_of(m, p, a, 2 * HP, 64 * PAGE_SIZE)) == {1}
        m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_thp_with_unmapped_head_page(profile):
    """A PTE-mapped THP whose head page is no longer mapped (the first 4 KiB were
    unmapped): 4.14 moves a page only when page_mapcount(head) == 1, so it stays;
    mainline (folio_maybe_mapped_shared(): not shared) moves it, and since it is
    partially mapped (on the deferred-split queue) 6.10+ splits it first and moves
    its pages (the kernel oracle: 6.12 and 7.2) [derived from the code of both]."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    a = region(p, 1)
    p.munmap(a, PAGE_SIZE)
    before = events(m)
    assert p.mbind(a + PAGE_SIZE, HP - PAGE_SIZE, MPOL_BIND, mask(1), MAXNODE,
                   MPOL_MF_MOVE) == 0
    mainline = profile == "mainline"
    assert set(nodes_of(m, p, a + PAGE_SIZE, HP - PAGE_SIZE)) == {1 if mainline else 0}
    assert delta(m, before, "thp_migration_success", "thp_migration_split") == (
        {"thp_migration_split": 1} if mainline else {})
    t = p.threads[0]
    for i in range(PAGE_SIZE, HP, PAGE_SIZE):
        assert t.read(a + i) == a + i
    m.check_integrity()
