"""move_pages(2) and the migration engine, as the kernel oracle observed them.

Oracle scenarios (the kernel oracle's recorded 7.2 run of its basic, subpage,
fork_shared, errors, target_frag and softdirty scenarios) are reproduced under
``mainline``; the ``seed`` profile follows the 4.14 code (kernel-semantics.md §3,
caller-semantics.md §1). Rows MP-n cite the edge-case
table of caller-semantics.md §1.8.
"""

import errno
from collections import Counter

import pytest
from mm_helpers import (
    ANON,
    MB,
    RW,
    check_data,
    delta,
    errno_of,
    is_pmd_mapped,
    node_at,
    nodes_of,
    numa_machine,
    thp_region,
)

import thpsim
from thpsim import (
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    PROT_NONE,
    PROT_READ,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.mm.gfp import __GFP_THISNODE, GFP_HIGHUSER_MOVABLE
from thpsim.mm.gup import follow_page_info
from thpsim.mm.migrate import (
    MR_MEMORY_HOTPLUG,
    MR_SYSCALL,
    alloc_migration_target,
    migration_target_control,
)
from thpsim.mm.page_alloc import NUMA_NO_NODE, __alloc_pages, __free_pages

EBUSY, EACCES, EFAULT, ENOENT = -errno.EBUSY, -errno.EACCES, -errno.EFAULT, -errno.ENOENT


def rle(status):
    out, prev, n = [], None, 0
    for s in status:
        if s == prev:
            n += 1
        else:
            if n:
                out.append(f"{prev}*{n}")
            prev, n = s, 1
    out.append(f"{prev}*{n}")
    return ",".join(out)


ALL_TO_1 = "1*1,-16*1,1*511,-16*1,1*511,-16*1,1*511,-16*1,1*510"


def move_all_to_1(p, a):
    """move_pages(MPOL_MF_MOVE) of every 4 KiB page of the four THPs at ``a`` to node 1,
    one entry per page (the oracle's 2048)."""
    return p.move_pages(0, [a + i for i in range(0, 8 * MB, PAGE_SIZE)], [1] * 2048,
                        MPOL_MF_MOVE)


def test_oracle_basic_move_pages_all_subpages():
    """Oracle `basic`: move_pages of all 2048 pages -> node 1; again: already there
    (MP-2, MP-8)."""
    m = numa_machine("mainline")
    p = m.spawn(cpu=0)
    a = thp_region(p)
    before = dict(m.kernel.vmstat.events)
    ret, st = move_all_to_1(p, a)
    assert ret == 0 and rle(st) == ALL_TO_1
    assert delta(m, before) == {"pgmigrate_success": 2048, "thp_migration_success": 4,
                                "pgfree": 2048, "pgalloc_normal": 2048}
    assert set(nodes_of(m, p, a, 8 * MB)) == {1}
    assert all(is_pmd_mapped(p, a + i * HPAGE_PMD_SIZE) for i in range(4))  # still THPs
    check_data(p, a, 8 * MB)
    before = dict(m.kernel.vmstat.events)
    ret, st = move_all_to_1(p, a)
    assert ret == 0 and rle(st) == "1*2048"
    assert delta(m, before) == {}


def test_seed_chunked_move_pages_all_subpages():
    """4.14 do_pages_move: a chunk isolates each THP once, later entries get -EBUSY;
    later chunks find the THP already moved; pgmigrate counts a THP as 1."""
    m = numa_machine("seed")
    p = m.spawn(cpu=0)
    a = thp_region(p)
    before = dict(m.kernel.vmstat.events)
    ret, st = move_all_to_1(p, a)
    assert ret == 0
    assert st[0] == 1 and st[1:169] == [EBUSY] * 168  # first chunk: 169 entries
    assert st[169:512] == [1] * (512 - 169)
    assert Counter(st)[1] + Counter(st)[EBUSY] == 2048
    d = delta(m, before)
    assert d["pgmigrate_success"] == 4 and d["thp_migration_success"] == 4
    assert set(nodes_of(m, p, a, 8 * MB)) == {1}
    check_data(p, a, 8 * MB)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_oracle_subpage_tail_moves_whole_thp(profile):
    """Oracle `subpage`: a tail address moves the whole THP (MP-1); one THP, 3 entries."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = thp_region(p)
    before = dict(m.kernel.vmstat.events)
    ret, st = p.move_pages(0, [a + PAGE_SIZE], [1], MPOL_MF_MOVE)
    assert (ret, st) == (0, [1])
    assert nodes_of(m, p, a, 8 * MB) == [1] * 512 + [0] * 1536
    d = delta(m, before)
    assert d["thp_migration_success"] == 1
    assert d["pgmigrate_success"] == (512 if profile == "mainline" else 1)
    assert is_pmd_mapped(p, a)  # AnonHugePages unchanged: still PMD-mapped
    # chunk3 p5, p9, p511 -> node 1
    c3 = a + 3 * HPAGE_PMD_SIZE
    ret, st = p.move_pages(0, [c3 + 5 * PAGE_SIZE, c3 + 9 * PAGE_SIZE, c3 + 511 * PAGE_SIZE],
                           [1, 1, 1], MPOL_MF_MOVE)
    assert ret == 0
    assert st == ([1, EBUSY, 1] if profile == "mainline" else [1, EBUSY, EBUSY])
    # interleaved 0:0 512:0 2:1 514:1 1024:0
    idx, nodes = [0, 512, 2, 514, 1024], [0, 0, 1, 1, 0]
    ret, st = p.move_pages(0, [a + i * PAGE_SIZE for i in idx], nodes, MPOL_MF_MOVE)
    # each entry reports its own target, though pages 0 and 2 share THP 0 (on node 1):
    # 4.14 looks every entry up first -- page 2 is "already on node 1", page 0 queues
    # the THP for node 0 -- then migrates: THP 0 ends on node 0. Mainline moves each
    # run of same-node entries before the next: to 0 for page 0, then back to 1.
    assert (ret, st) == (0, [0, 0, 1, 1, 0])
    assert node_at(m, p, a) == node_at(m, p, a + 2 * PAGE_SIZE) == (
        1 if profile == "mainline" else 0)
    check_data(p, a, 8 * MB)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_oracle_fork_shared(profile):
    """Oracle `fork_shared`: MOVE refuses shared pages (-EACCES, MP-9); MOVE_ALL moves them
    for both processes (MP-10); the child's pid works too."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = thp_region(p)
    c = p.fork()
    addrs = [a + i for i in range(0, 8 * MB, PAGE_SIZE)]
    before = dict(m.kernel.vmstat.events)
    ret, st = p.move_pages(0, addrs, [1] * 2048, MPOL_MF_MOVE)
    assert ret == 0 and st == [EACCES] * 2048 and delta(m, before) == {}
    ret, st = p.move_pages(0, addrs, [1] * 2048, MPOL_MF_MOVE_ALL)
    assert ret == 0
    if profile == "mainline":
        assert rle(st) == ALL_TO_1
    assert set(nodes_of(m, p, a, 8 * MB)) == {1}
    assert set(nodes_of(m, c, a, 8 * MB)) == {1}  # the child's page tables were updated
    ret, st = p.move_pages(c.pid, addrs, None)
    assert (ret, set(st)) == (0, {1})
    ret, st = p.move_pages(c.pid, addrs, [0] * 2048, MPOL_MF_MOVE_ALL)
    assert set(nodes_of(m, p, a, 8 * MB)) == {0}
    check_data(p, a, 8 * MB)
    check_data(c, a, 8 * MB)
    # COW after the migrations still isolates the two copies
    c.threads[0].write(a, 1)
    assert p.threads[0].read(a) == a


def test_oracle_errors_node_and_flags():
    """Oracle `errors`: ENODEV for nodes 5, 2000, -1, 64; EINVAL flags; ESRCH; count 0."""
    m = numa_machine("mainline")
    p = m.spawn(cpu=0)
    a = thp_region(p, 2)
    for node in (5, 2000, -1, 64):
        with pytest.raises(OSError) as e:
            p.move_pages(0, [a], [node], MPOL_MF_MOVE)
        assert e.value.errno == errno.ENODEV and e.value.status == [None]
    with pytest.raises(OSError) as e:
        p.move_pages(0, [a], [1], 0x100)
    assert e.value.errno == errno.EINVAL  # MP-14
    with pytest.raises(OSError) as e:
        p.move_pages(999999, [a], [1], MPOL_MF_MOVE)
    assert e.value.errno == errno.ESRCH
    assert p.move_pages(0, [], [], MPOL_MF_MOVE) == (0, [])  # MP-16


def test_oracle_errors_statuses_mainline():
    """Oracle `errors` (7.2): unmapped, untouched, huge zero, valid, PROT_NONE, kernel address."""
    m = numa_machine("mainline")
    p = m.spawn(cpu=0)
    r = p.mmap(0, 12 * MB, RW, ANON)
    r = (r + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    t = p.threads[0]
    untouched, hugezero, valid, protnone = r, r + 2 * MB, r + 4 * MB, r + 6 * MB
    t.read(hugezero)
    t.write(valid, 1)
    t.write(protnone, 2)
    p.mprotect(protnone, 2 * MB, PROT_NONE)
    unmapped = r + 20 * MB
    kernel = 0xFFFF_8880_0000_0000
    addrs = [unmapped, untouched, hugezero, valid, protnone, kernel]
    ret, st = p.move_pages(0, addrs, None)
    assert (ret, st) == (0, [EFAULT, ENOENT, EFAULT, 0, 0, EFAULT])
    ret, st = p.move_pages(0, addrs, [1] * 6, MPOL_MF_MOVE)
    assert (ret, st) == (0, [EFAULT, ENOENT, EFAULT, 1, 1, EFAULT])


def test_seed_statuses_untouched_efault_and_protnone_enoent():
    """4.3..6.11 (seed): FOLL_DUMP gives -EFAULT for an untouched page (MP-5); a
    PROT_NONE page is no page under FOLL_NUMA, and follow_page_pte()'s no_page label
    returns NULL for an entry that is not none: -ENOENT (the kernel oracle, 6.1:
    g1-s1-0079)."""
    m = numa_machine("seed")
    p = m.spawn(cpu=0)
    r = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    p.threads[0].write(r + PAGE_SIZE, 1)
    p.mprotect(r + PAGE_SIZE, PAGE_SIZE, PROT_NONE)
    ret, st = p.move_pages(0, [r, r + PAGE_SIZE], None)
    assert st == [EFAULT, ENOENT]


def move_two_thps_to_1_and_7(profile):
    """move_pages() of two THPs to node 1 and to node 7 (none): ENODEV. Returns the
    machine, the process, the THPs' address and the statuses the call wrote."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = thp_region(p, 2)
    with pytest.raises(OSError) as e:
        p.move_pages(0, [a, a + HPAGE_PMD_SIZE], [1, 7], MPOL_MF_MOVE)
    assert e.value.errno == errno.ENODEV
    return m, p, a, e.value.status


def test_oracle_errors_partial_enodev():
    """Oracle `errors`: chunk0 -> 1, chunk1 -> 7: ENODEV after entry 0 moved (MP-12)."""
    m, p, a, status = move_two_thps_to_1_and_7("mainline")
    assert status == [1, None]
    assert nodes_of(m, p, a, 4 * MB) == [1] * 512 + [0] * 512


def test_seed_partial_enodev_checks_chunk_first():
    m, p, a, status = move_two_thps_to_1_and_7("seed")
    assert status == [None, None]
    assert set(nodes_of(m, p, a, 4 * MB)) == {0}


def test_oracle_target_frag_mainline_splits():
    """Oracle `target_frag` (MP-3): no free 2 MiB block on node 1: each THP is split
    and its pages moved; return 0; counters as 7.2 shows."""
    m = numa_machine("mainline")
    p = m.spawn(cpu=0)
    a = thp_region(p)
    held = m.fragment(1)
    before = dict(m.kernel.vmstat.events)
    ret, st = move_all_to_1(p, a)
    assert ret == 0 and rle(st) == ALL_TO_1
    d = delta(m, before)
    for k, v in {"pgmigrate_success": 2048, "thp_migration_fail": 4, "thp_migration_split": 4,
                 "thp_split_page": 4, "thp_split_pmd": 4}.items():
        assert d[k] == v, k
    assert "thp_migration_success" not in d
    assert set(nodes_of(m, p, a, 8 * MB)) == {1}
    assert not is_pmd_mapped(p, a)  # AnonHugePages dropped to 0
    assert m.kernel.vmstat.global_node_page_state("nr_anon_transparent_hugepages") == 0
    check_data(p, a, 8 * MB)
    p.exit()
    m.unfragment(held)
    m.check_integrity()


def test_seed_target_frag_enomem():
    """4.14 (B18): a THP target that cannot be allocated gives -ENOMEM for the call;
    nothing moves, the THPs stay PMD-mapped on node 0."""
    m = numa_machine("seed")
    p = m.spawn(cpu=0)
    a = thp_region(p, 2)
    held = m.fragment(1)
    with pytest.raises(OSError) as e:
        p.move_pages(0, [a, a + HPAGE_PMD_SIZE], [1, 1], MPOL_MF_MOVE)
    assert e.value.errno == errno.ENOMEM and e.value.status == [None, None]
    assert set(nodes_of(m, p, a, 4 * MB)) == {0} and is_pmd_mapped(p, a)
    check_data(p, a, 4 * MB)
    p.exit()
    m.unfragment(held)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_pte_mapped_thp_migrates_as_one_folio(profile):
    """A THP mapped by PTEs (after a partial mprotect) still moves as one compound page,
    and stays PTE-mapped (kernel-semantics §3.11)."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = thp_region(p, 1)
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    assert not is_pmd_mapped(p, a)
    before = dict(m.kernel.vmstat.events)
    ret, st = p.move_pages(0, [a + 7 * PAGE_SIZE], [1], MPOL_MF_MOVE)
    assert (ret, st) == (0, [1])
    assert set(nodes_of(m, p, a, 2 * MB)) == {1}
    assert delta(m, before)["thp_migration_success"] == 1
    pfn = follow_page_info(p.mm.find_vma(a), a, False)[0]
    assert m.kernel.pages.PageTransHuge(pfn)  # still one compound page
    check_data(p, a, 2 * MB)
    with pytest.raises(thpsim.DeliveredSignal):
        p.threads[0].write(a, 1)  # the read-only page stayed read-only
    p.threads[0].write(a + PAGE_SIZE, a + PAGE_SIZE)  # a write entry restored writable


def test_base_pages_move_and_keep_cow():
    m = numa_machine("seed", thp="never")
    p = m.spawn(cpu=0)
    a = p.mmap(0, 16 * PAGE_SIZE, RW, ANON)
    t = p.threads[0]
    for i in range(16):
        t.write(a + i * PAGE_SIZE, i)
    c = p.fork()
    ret, st = p.move_pages(0, [a + i * PAGE_SIZE for i in range(16)], [1] * 16, MPOL_MF_MOVE_ALL)
    assert ret == 0 and st == [1] * 16
    assert set(nodes_of(m, c, a, 16 * PAGE_SIZE)) == {1}
    c.threads[0].write(a, 100)
    assert t.read(a) == 0 and c.threads[0].read(a) == 100
    t.write(a + PAGE_SIZE, 50)
    assert c.threads[0].read(a + PAGE_SIZE) == 1


def test_mp18_extra_reference_positive_return():
    """MP-18 (mainline): a page with an extra reference never migrates: the batch's
    failure count plus the entries never tried is returned; its statuses stay unwritten."""
    from thpsim.mm.swap import get_page, put_page

    m = numa_machine("mainline", thp="never", cpus=2)
    m2 = numa_machine("mainline", 3, check=False, thp="never")
    for mach in (m2,):
        p = mach.spawn(cpu=0)
        a = p.mmap(0, 8 * PAGE_SIZE, RW, ANON)
        for i in range(5):
            p.threads[0].write(a + i * PAGE_SIZE, i + 1)
        pin = follow_page_info(p.mm.find_vma(a + PAGE_SIZE), a + PAGE_SIZE, False)[0]
        get_page(mach.kernel, pin)  # a GUP pin
        ret, st = p.move_pages(0, [a + i * PAGE_SIZE for i in range(5)], [1, 1, 1, 2, 2],
                               MPOL_MF_MOVE)
        assert ret == 3
        assert st == [None] * 5
        assert nodes_of(mach, p, a, 5 * PAGE_SIZE)[:3] == [1, 0, 1]
        put_page(mach.kernel, pin)
        mach.check_integrity()
    del m


def test_move_all_needs_cap_sys_nice_before_pid_lookup():
    """MP-11: an unprivileged MOVE_ALL on a bogus pid gives EPERM, not ESRCH."""
    m = numa_machine("mainline")
    u = m.spawn(uid=1000)
    with pytest.raises(OSError) as e:
        u.move_pages(999999, [0x1000], [1], MPOL_MF_MOVE_ALL)
    assert e.value.errno == errno.EPERM


def test_other_users_process_eperm():
    """MP-20: another uid's process without CAP_SYS_PTRACE: EPERM; root may."""
    m = numa_machine("mainline")
    victim = m.spawn(uid=1001)
    a = thp_region(victim, 1)
    u = m.spawn(uid=1000)
    with pytest.raises(OSError) as e:
        u.move_pages(victim.pid, [a], [1], MPOL_MF_MOVE)
    assert e.value.errno == errno.EPERM
    root = m.spawn()
    assert root.move_pages(victim.pid, [a], [1], MPOL_MF_MOVE) == (0, [1])


def test_exited_process_esrch():
    m = numa_machine("mainline")
    p = m.spawn()
    q = m.spawn()
    q.exit()
    with pytest.raises(OSError) as e:
        p.move_pages(q.pid, [0x1000], None)
    assert e.value.errno == errno.ESRCH


def test_soft_dirty_kept_across_pmd_migration():
    """The swap soft-dirty bit (bit 1) carries soft-dirty through a PMD migration entry."""
    from thpsim.arch.x86_64.pgtable import pmd_clear_soft_dirty, pmd_soft_dirty
    from thpsim.mm.pgtable_generic import lookup_pmd

    for profile in ("seed", "mainline"):
        m = numa_machine(profile)
        p = m.spawn(cpu=0)
        a = thp_region(p, 2)
        pmd = lookup_pmd(p.mm, a)
        pmd[0][pmd[1]] = pmd_clear_soft_dirty(pmd[0][pmd[1]])  # as clear_refs 4 would
        for cpu in m.cpus:
            cpu.flush_asid(p.mm.mm_id)
        ret, status = p.move_pages(0, [a, a + HPAGE_PMD_SIZE], [1, 1], MPOL_MF_MOVE)
        assert ret == 0 and status == [1, 1]  # both THPs moved (a new PMD each)
        assert nodes_of(m, p, a, 2 * HPAGE_PMD_SIZE, HPAGE_PMD_SIZE) == [1, 1]
        v0 = lookup_pmd(p.mm, a)
        v1 = lookup_pmd(p.mm, a + HPAGE_PMD_SIZE)
        # seed (4.14): restored old and clean, soft-dirty only where it was;
        # mainline (6.1+): dirty restored from the entry, which sets soft-dirty too
        assert pmd_soft_dirty(v0[0][v0[1]]) == (profile == "mainline")
        assert pmd_soft_dirty(v1[0][v1[1]])


def test_alloc_migration_target_node_mask_and_thp():
    """alloc_migration_target(): NUMA_NO_NODE prefers the source's node; __GFP_THISNODE
    keeps to mtc.nid; the nodemask limits the fallback; a THP source gets a THP
    (compound, order 9) and a base page a base page."""
    m = numa_machine("mainline")
    ctx = m.kernel
    p = m.spawn(cpu=0)
    a = thp_region(p, 1)
    thp = ctx.pages.compound_head(follow_page_info(p.mm.find_vma(a), a, False)[0])
    assert ctx.mem.pfn_to_nid(thp) == 0
    base = __alloc_pages(ctx, GFP_HIGHUSER_MOVABLE, 0, 0)
    got = []
    for src, mtc in [
        (base, migration_target_control(NUMA_NO_NODE, None, GFP_HIGHUSER_MOVABLE, MR_SYSCALL)),
        (base, migration_target_control(NUMA_NO_NODE, 1 << 1, GFP_HIGHUSER_MOVABLE,
                                        MR_MEMORY_HOTPLUG)),
        (thp, migration_target_control(1, None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE,
                                       MR_SYSCALL)),
    ]:
        new = alloc_migration_target(ctx, src, mtc)
        assert new >= 0
        got.append((ctx.mem.pfn_to_nid(new), ctx.pages.compound_order(new)))
        ctx.pages.refcount[new] = 0
        __free_pages(ctx, new, ctx.pages.compound_order(new))
    assert got == [(0, 0), (1, 0), (1, 9)]
    held = m.fragment(1)
    thisnode = migration_target_control(1, None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE,
                                        MR_SYSCALL)
    assert alloc_migration_target(ctx, thp, thisnode) == -1  # no order-9 block on node 1
    m.unfragment(held)
    ctx.pages.refcount[base] = 0
    __free_pages(ctx, base, 0)
    m.check_integrity()


def test_move_pages_nodes_longer_than_pages_ignores_the_rest():
    """count is len(pages): entries of nodes[] beyond it are not read (C passes one
    count for both arrays); a shorter nodes[] is EFAULT."""
    m = numa_machine("mainline")
    p = m.spawn()
    a = thp_region(p, 1)
    assert p.move_pages(0, [a], [1, 0, 7]) == (0, [1])
    assert errno_of(p.move_pages, 0, [a, a + PAGE_SIZE], [1]) == errno.EFAULT
