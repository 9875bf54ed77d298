"""Reverse mapping of anonymous pages (mm/rmap.py): anon_vma chains across fork, the
rmap walk reaching every mapping of a page, and the mapcounts and counters that
page_add_*_rmap / page_dup_rmap / page_remove_rmap keep.

State is built through the public API (``Machine``, ``Process``); the rmap functions
under test are called on ``m.kernel`` directly, driven by :class:`Stepper` as the
task that would run them.
"""

import pytest
from mm_helpers import (
    ANON,
    MB,
    RW,
    node_at,
    nodes_of,
    numa_machine,
    pfn_at,
    small_machine,
    thp_aligned,
    thp_area,
)

from thpsim import (
    MADV_HWPOISON,
    MADV_NOHUGEPAGE,
    MPOL_MF_MOVE_ALL,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
)
from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_NR,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    pmd_pfn,
    pmd_trans_huge,
    pte_pfn,
    pte_present,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.errors import KernelBug
from thpsim.kernel.sched import WaitOn
from thpsim.mm.migrate import remove_migration_ptes
from thpsim.mm.mm_types import linear_page_index
from thpsim.mm.page_flags import PAGE_MAPPING_ANON, F_anon_exclusive
from thpsim.mm.pgtable_generic import lookup_pmd
from thpsim.mm.rmap import (
    anon_vma_lock_write,
    anon_vma_unlock_write,
    page_add_anon_rmap,
    page_anon_vma,
    page_remove_rmap,
    rmap_walk_anon,
    try_to_migrate,
)
from thpsim.mm.swap import get_page, put_page
from thpsim.mm.vmstat import NR_ANON_MAPPED, NR_ANON_THPS, THP_DEFERRED_SPLIT_PAGE
from thpsim.testing import Stepper

PROFILES = ["seed", "mainline"]


def one_thp(profile="seed"):
    """A process with one faulted, PMD-mapped THP at ``a``; returns the machine, the
    process, ``a`` and the THP's head frame."""
    m = small_machine(profile)
    p = m.spawn()
    a = thp_area(p)
    return m, p, a, head_at(p, a)


def free_target(p):
    """A 2 MiB-aligned, 2 MiB range for mremap(MREMAP_FIXED) to replace. PROT_READ, so
    the new mapping does not merge with an adjacent anonymous VMA."""
    return thp_aligned(p, 1, PROT_READ)


def pfn_mapped_at(p, addr):
    """The frame the page tables of ``p`` map at ``addr`` (PMD or PTE), or -1."""
    pmd = lookup_pmd(p.mm, addr)
    if pmd is None:
        return -1
    v = pmd[0][pmd[1]]
    if pmd_trans_huge(v):
        return pmd_pfn(v) + ((addr % HPAGE_PMD_SIZE) >> PAGE_SHIFT)
    if v == 0 or is_swap_pmd(v):  # none, or a PMD migration entry
        return -1
    pte = p.machine.kernel.mem.tables[table_entry_pfn(v)][(addr >> PAGE_SHIFT) & 511]
    return pte_pfn(pte) if pte_present(pte) else -1


def is_pmd_mapped(p, addr):
    pmd = lookup_pmd(p.mm, addr)
    return pmd is not None and pmd_trans_huge(pmd[0][pmd[1]])


def head_at(p, addr):
    return p.machine.kernel.pages.compound_head(pfn_mapped_at(p, addr))


def stat(m, item):
    return m.kernel.vmstat.global_node_page_state(item)


def rmap_visits(m, head):
    """Every (mm_id, address) rmap_walk_anon() offers for ``head``."""
    seen = []

    def one(h, vma, address):
        seen.append((vma.vm_mm.mm_id, address))
        return True
        yield  # a generator, as rmap_one callbacks are

    Stepper(m.kernel, rmap_walk_anon(m.kernel, head, one)).finish()
    return seen


# ---------------------------------------------------------------- anon_vma chains
def test_first_fault_prepares_one_anon_vma_and_points_the_page_at_it():
    m = small_machine()
    p = m.spawn()
    a = thp_area(p, fault=False)
    vma = p.mm.find_vma(a)
    assert vma.anon_vma is None and vma.anon_vma_chain == []
    p.write(a, 1)
    av = vma.anon_vma
    assert av is not None and av.root is av and av.parent is av
    assert vma.anon_vma_chain == [av] and av.vmas == [vma]
    head = head_at(p, a)
    pages = m.kernel.pages
    assert pages.mapping[head] == (av.id << 1) | PAGE_MAPPING_ANON
    assert page_anon_vma(m.kernel, head + 7) is av  # a tail page names its head's anon_vma
    assert pages.index[head] == linear_page_index(vma, a)
    assert pages.flags[head] & F_anon_exclusive


def test_fork_links_the_child_to_the_parent_chain_and_gives_it_its_own():
    m = small_machine()
    p = m.spawn()
    a = thp_area(p)
    pv = p.mm.find_vma(a)
    pav = pv.anon_vma
    c = p.fork()
    cv = c.mm.find_vma(a)
    cav = cv.anon_vma
    assert cav is not pav
    assert cav.parent is pav and cav.root is pav
    assert cv.anon_vma_chain == [pav, cav]
    assert pav.vmas == [pv, cv] and cav.vmas == [cv]
    # a grandchild joins all three; the root stays the first anon_vma
    g = c.fork()
    gv = g.mm.find_vma(a)
    assert gv.anon_vma_chain == [pav, cav, gv.anon_vma]
    assert gv.anon_vma.parent is cav and gv.anon_vma.root is pav
    assert pav.vmas == [pv, cv, gv] and cav.vmas == [cv, gv]


def test_a_page_the_child_faults_belongs_to_the_child_anon_vma_only():
    m = small_machine()
    p = m.spawn()
    a = thp_area(p, nr=2, fault=False)
    p.write(a, 1)
    c = p.fork()
    b = a + HPAGE_PMD_SIZE  # never touched by the parent
    c.write(b, 2)
    head = head_at(c, b)
    cav = c.mm.find_vma(b).anon_vma
    assert page_anon_vma(m.kernel, head) is cav
    assert rmap_visits(m, head) == [(c.mm.mm_id, b)]  # the parent is not even looked at
    assert pfn_mapped_at(p, b) == -1


def test_exit_unlinks_the_child_and_frees_its_anon_vma():
    m = small_machine()
    p = m.spawn()
    a = thp_area(p)
    pv = p.mm.find_vma(a)
    c = p.fork()
    cav_id = c.mm.find_vma(a).anon_vma.id
    assert cav_id in m.kernel.anon_vmas
    c.exit()
    assert pv.anon_vma.vmas == [pv]
    assert cav_id not in m.kernel.anon_vmas
    assert pv.anon_vma.id in m.kernel.anon_vmas


def test_a_new_mapping_does_not_merge_with_a_forked_vma():
    m = small_machine()
    p = m.spawn()
    a = thp_area(p)
    c = p.fork()
    cv = c.mm.find_vma(a)
    b = c.mmap(0, 2 * HPAGE_PMD_SIZE, RW, ANON)
    assert b + 2 * HPAGE_PMD_SIZE == cv.vm_start  # adjacent, flags and pgoff contiguous
    assert c.mm.find_vma(b) is not c.mm.find_vma(a)
    assert len(c.mm.find_vma(a).anon_vma_chain) == 2
    live = {id(v) for mm in m.live_mms() for v in mm.mmap}
    assert all(id(v) in live for av in m.kernel.anon_vmas.values() for v in av.vmas)


def test_vma_split_clones_the_chain():
    """mprotect of the first half: both halves stay linked to the same anon_vma."""
    m = small_machine()
    p = m.spawn()
    a = thp_area(p)
    av = p.mm.find_vma(a).anon_vma
    p.mprotect(a, HPAGE_PMD_SIZE // 2, PROT_READ)
    lo, hi = p.mm.find_vma(a), p.mm.find_vma(a + HPAGE_PMD_SIZE // 2)
    assert lo is not hi
    assert lo.anon_vma is av and hi.anon_vma is av
    assert lo.anon_vma_chain == [av] and hi.anon_vma_chain == [av]
    assert set(map(id, av.vmas)) == {id(lo), id(hi)}


def _two_halves(p, second_prot):
    """One 4 MiB mapping cut into two VMAs that differ only in protection."""
    a = thp_area(p, nr=2, fault=False)
    p.mprotect(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, second_prot)
    lo, hi = p.mm.find_vma(a), p.mm.find_vma(a + HPAGE_PMD_SIZE)
    assert lo is not hi
    return a, lo, hi


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_first_fault_reuses_a_compatible_neighbours_anon_vma(profile):
    """find_mergeable_anon_vma(): VMAs that differ only in access bits share one
    anon_vma, so once their protections agree again they merge into one VMA."""
    m = small_machine(profile)
    p = m.spawn()
    a, lo, hi = _two_halves(p, PROT_READ | PROT_WRITE | PROT_EXEC)
    p.write(a, 1)
    p.write(a + HPAGE_PMD_SIZE, 2)
    assert hi.anon_vma is lo.anon_vma and hi.anon_vma_chain == [lo.anon_vma]
    assert m.kernel.anon_vmas[lo.anon_vma.id].vmas == [lo, hi]
    p.mprotect(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, RW)
    assert p.mm.find_vma(a) is p.mm.find_vma(a + HPAGE_PMD_SIZE)
    assert p.read(a + HPAGE_PMD_SIZE) == 2


def test_no_reuse_across_other_flags_or_from_a_fork_child():
    """Flags beyond the access bits must agree (here VM_NOHUGEPAGE), and a VMA
    chained to its parent's anon_vma too (a fork child's) lends nothing."""
    m = small_machine()
    p = m.spawn()
    a = thp_area(p, nr=2, fault=False)
    p.madvise(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)
    p.write(a, 1)
    p.write(a + HPAGE_PMD_SIZE, 2)
    lo, hi = p.mm.find_vma(a), p.mm.find_vma(a + HPAGE_PMD_SIZE)
    assert lo.anon_vma is not None and hi.anon_vma is not lo.anon_vma

    p2 = m.spawn()
    b, _, _ = _two_halves(p2, PROT_READ | PROT_WRITE | PROT_EXEC)
    p2.write(b, 1)
    c = p2.fork()
    c.write(b + HPAGE_PMD_SIZE, 2)
    clo, chi = c.mm.find_vma(b), c.mm.find_vma(b + HPAGE_PMD_SIZE)
    assert len(clo.anon_vma_chain) == 2
    assert chi.anon_vma is not clo.anon_vma and chi.anon_vma_chain == [chi.anon_vma]


# ---------------------------------------------------------------- the rmap walk
def test_rmap_walk_reaches_parent_and_child_after_fork():
    m, p, a, head = one_thp()
    c = p.fork()
    assert sorted(rmap_visits(m, head)) == sorted([(p.mm.mm_id, a), (c.mm.mm_id, a)])


@pytest.mark.parametrize("profile", PROFILES)
def test_rmap_walk_follows_mremap_in_the_child(profile):
    m, p, a, head = one_thp(profile)
    c = p.fork()
    b = free_target(c)
    assert c.mremap(a, HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, b) == b
    assert is_pmd_mapped(c, b) and pfn_mapped_at(c, b) == head
    visits = rmap_visits(m, head)
    assert sorted(visits) == sorted([(p.mm.mm_id, a), (c.mm.mm_id, b)])
    procs = {p.mm.mm_id: p, c.mm.mm_id: c}
    for mm_id, addr in visits:  # every address the walk offers really maps the page
        assert pfn_mapped_at(procs[mm_id], addr + 5 * PAGE_SIZE) == head + 5


def test_rmap_walk_after_mremap_moves_a_pte_mapped_thp_off_alignment():
    """A THP moved to an address 1 MiB off alignment is PTE-mapped across two page
    tables; the walk still offers the VMA at the page's new address."""
    m, p, a, head = one_thp()
    t = free_target(p) + MB
    assert p.mremap(a, HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, t) == t
    assert not is_pmd_mapped(p, t)
    assert rmap_visits(m, head) == [(p.mm.mm_id, t)]
    assert pfn_mapped_at(p, t + HPAGE_PMD_SIZE - PAGE_SIZE) == head + HPAGE_PMD_NR - 1


def test_rmap_walk_waits_for_the_anon_vma_lock():
    """A walk cannot run while a VMA is being linked (fork, split and mremap hold the
    root anon_vma's rwsem for write), so it never sees a half-linked chain."""
    m, p, a, head = one_thp()
    ctx = m.kernel
    root = p.mm.find_vma(a).anon_vma.root
    Stepper(ctx, anon_vma_lock_write(root), p.task).finish()
    seen = []

    def one(h, vma, address):
        seen.append(address)
        return True
        yield

    walker = Stepper(ctx, rmap_walk_anon(ctx, head, one))
    for _ in range(5):
        trap = walker.step()
    assert isinstance(trap, WaitOn) and not trap.cond() and seen == []
    anon_vma_unlock_write(root)
    walker.finish()
    assert seen == [a] and not root.rwsem.readers


def test_rmap_walk_stops_when_done():
    m, p, a, head = one_thp()
    ctx = m.kernel
    c = p.fork()
    c.fork()
    seen = []

    def one(h, vma, address):
        seen.append(vma.vm_mm.mm_id)
        return True
        yield

    Stepper(ctx, rmap_walk_anon(ctx, head, one, lambda: len(seen) == 2)).finish()
    assert seen == [p.mm.mm_id, c.mm.mm_id]

    def stop(h, vma, address):
        seen.append(vma.vm_mm.mm_id)
        return False
        yield

    seen.clear()
    Stepper(ctx, rmap_walk_anon(ctx, head, stop)).finish()
    assert seen == [p.mm.mm_id]


@pytest.mark.parametrize("profile", PROFILES)
def test_try_to_migrate_unmaps_every_mapping_and_remove_migration_ptes_restores_them(profile):
    """try_to_migrate() walks the rmap: parent PMD, child (moved by mremap) PMD, and a
    third process that PTE-maps the page all lose their mapping; restoring the page
    onto itself (a failed migration) maps it again everywhere."""
    m, p, a, head = one_thp(profile)
    ctx = m.kernel
    c = p.fork()
    b = free_target(c)
    c.mremap(a, HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, b)
    g = p.fork()
    g.mprotect(a, PAGE_SIZE, PROT_READ)  # the grandchild's PMD is split into PTEs
    assert not is_pmd_mapped(g, a)
    pages = ctx.pages
    assert pages.compound_mapcount_of(head) == 2
    assert pages.total_mapcount(head) == 2 + HPAGE_PMD_NR
    refs = pages.page_count(head)
    get_page(ctx, head)  # the reference migration holds (isolation) while it unmaps
    Stepper(ctx, try_to_migrate(ctx, head)).finish()
    assert pages.total_mapcount(head) == 0
    assert pages.page_count(head) == 1  # each mapping's reference went with it
    for proc, addr in ((p, a), (c, b), (g, a), (g, a + HPAGE_PMD_SIZE - PAGE_SIZE)):
        assert pfn_mapped_at(proc, addr) == -1
    Stepper(ctx, remove_migration_ptes(ctx, head, head)).finish()
    assert pages.total_mapcount(head) == 2 + HPAGE_PMD_NR
    put_page(ctx, head)
    assert pages.page_count(head) == refs
    assert pfn_mapped_at(p, a) == head and pfn_mapped_at(c, b) == head
    assert pfn_mapped_at(g, a + 3 * PAGE_SIZE) == head + 3
    m.check_integrity()


# ---------------------------------------------------------------- mapcounts and counters
def test_thp_fault_counts_a_pmd_mapping_not_subpage_mappings():
    m = small_machine()
    p = m.spawn()
    a = thp_area(p, fault=False)
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (0, 0)
    p.write(a, 1)
    head = head_at(p, a)
    pages = m.kernel.pages
    assert pages.compound_mapcount_of(head) == 1
    assert all(pages.mapcount[head + i] == -1 for i in range(HPAGE_PMD_NR))
    assert pages.page_mapcount(head + 100) == 1 and pages.total_mapcount(head) == 1
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (HPAGE_PMD_NR, HPAGE_PMD_NR)


def test_fork_dups_the_pmd_mapping_without_touching_counters():
    m, p, a, head = one_thp()
    pages = m.kernel.pages
    c = p.fork()
    assert pages.compound_mapcount_of(head) == 2
    assert pages.page_mapcount(head + 1) == 2
    assert not pages.flags[head] & F_anon_exclusive  # shared now: COW on write
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (HPAGE_PMD_NR, HPAGE_PMD_NR)
    c.exit()
    assert pages.compound_mapcount_of(head) == 1
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (HPAGE_PMD_NR, HPAGE_PMD_NR)
    p.munmap(a, HPAGE_PMD_SIZE)
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (0, 0)


def test_pmd_split_moves_the_mapping_to_every_subpage():
    m, p, a, head = one_thp()
    pages = m.kernel.pages
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    assert pages.compound_mapcount_of(head) == 0
    assert all(pages.mapcount[head + i] == 0 for i in range(HPAGE_PMD_NR))
    assert pages.total_mapcount(head) == HPAGE_PMD_NR
    # still 512 base pages mapped, but no longer a PMD-mapped THP
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (HPAGE_PMD_NR, 0)


@pytest.mark.parametrize("profile", PROFILES)
def test_pmd_and_pte_mappings_of_one_thp_count_separately(profile):
    """The parent maps the THP with its PMD, the child with PTEs: each subpage is
    mapped twice, the compound page once by PMD."""
    m, p, a, head = one_thp(profile)
    pages = m.kernel.pages
    c = p.fork()
    c.mprotect(a, PAGE_SIZE, PROT_READ)
    assert is_pmd_mapped(p, a) and not is_pmd_mapped(c, a)
    assert pages.compound_mapcount_of(head) == 1
    assert pages.mapcount[head + 9] == 0
    assert pages.page_mapcount(head + 9) == 2
    assert pages.total_mapcount(head) == 1 + HPAGE_PMD_NR
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (HPAGE_PMD_NR, HPAGE_PMD_NR)
    # the parent's PMD goes: the pages stay mapped by the child's PTEs
    p.munmap(a, HPAGE_PMD_SIZE)
    assert pages.compound_mapcount_of(head) == 0
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (HPAGE_PMD_NR, 0)
    assert head not in m.kernel.deferred_split_queue  # every subpage still mapped


def test_partial_unmap_of_a_pte_mapped_thp_queues_deferred_split_once():
    m, p, a, head = one_thp()
    ctx = m.kernel
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    before = ctx.vmstat.events[THP_DEFERRED_SPLIT_PAGE]
    p.munmap(a + 16 * PAGE_SIZE, 16 * PAGE_SIZE)
    assert stat(m, NR_ANON_MAPPED) == HPAGE_PMD_NR - 16
    assert head in ctx.deferred_split_queue
    p.munmap(a + 64 * PAGE_SIZE, PAGE_SIZE)
    assert stat(m, NR_ANON_MAPPED) == HPAGE_PMD_NR - 17
    assert ctx.vmstat.events[THP_DEFERRED_SPLIT_PAGE] == before + 1  # queued once


def test_page_remove_and_add_anon_rmap_of_one_subpage():
    """page_remove_rmap() of a PTE-mapped subpage's last mapping: NR_ANON_MAPPED
    drops by one and the THP is queued; page_add_anon_rmap() (what restoring a
    migration entry does) counts it again."""
    m, p, a, head = one_thp()
    ctx = m.kernel
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    sub = head + 3
    vma = p.mm.find_vma(a + 3 * PAGE_SIZE)
    page_remove_rmap(ctx, sub, False)
    assert ctx.pages.mapcount[sub] == -1
    assert stat(m, NR_ANON_MAPPED) == HPAGE_PMD_NR - 1
    assert head in ctx.deferred_split_queue
    page_add_anon_rmap(ctx, sub, vma, a + 3 * PAGE_SIZE, False)
    assert ctx.pages.mapcount[sub] == 0
    assert stat(m, NR_ANON_MAPPED) == HPAGE_PMD_NR
    with pytest.raises(KernelBug, match="mapcount underflow"):
        page_remove_rmap(ctx, sub, False)
        page_remove_rmap(ctx, sub, False)


def test_compound_remove_and_add_anon_rmap():
    """Dropping the only PMD mapping takes NR_ANON_THPS and all 512 NR_ANON_MAPPED
    (no subpage is PTE-mapped); adding it back restores both."""
    m, p, a, head = one_thp()
    ctx = m.kernel
    vma = p.mm.find_vma(a)
    page_remove_rmap(ctx, head, True)
    assert ctx.pages.compound_mapcount_of(head) == 0
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (0, 0)
    assert head not in ctx.deferred_split_queue  # fully unmapped: nothing to split
    page_add_anon_rmap(ctx, head, vma, a, True)
    assert ctx.pages.compound_mapcount_of(head) == 1
    assert (stat(m, NR_ANON_MAPPED), stat(m, NR_ANON_THPS)) == (HPAGE_PMD_NR, HPAGE_PMD_NR)
    m.check_integrity()
    with pytest.raises(KernelBug, match="compound mapcount underflow"):
        for _ in range(3):
            page_remove_rmap(ctx, head, True)


# ---------------------------------------------------------------- merge after fork: rmap reach
def _forked_then_mapped_next_to(profile="seed"):
    """p faults a THP, forks c; c maps 2 MiB right below the inherited VMA, then forks g.
    Before the is_mergeable_anon_vma() fix the two merged, c's VMA lost its link to p's
    anon_vma, and g's VMA (cloned from that chain) was never on p's anon_vma."""
    m = numa_machine(profile)
    p = m.spawn(cpu=0)
    a = thp_area(p)
    c = p.fork()
    b = c.mmap(0, 2 * HPAGE_PMD_SIZE, RW, ANON)
    assert b + 2 * HPAGE_PMD_SIZE == a
    g = c.fork()
    return m, p, c, g, a


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_move_all_after_merge_candidate_moves_every_mapping(profile):
    """move_pages(MPOL_MF_MOVE_ALL) from the parent migrates the page the child shares:
    the rmap walk must reach the child's mapping, else the migration fails (refcount
    left over) or the child keeps the old frame."""
    m, p, c, g, a = _forked_then_mapped_next_to(profile)
    addrs = [a + i for i in range(0, HPAGE_PMD_SIZE, PAGE_SIZE)]
    assert node_at(m, p, a) == 0
    ret, _ = p.move_pages(0, addrs, [1] * len(addrs), MPOL_MF_MOVE_ALL)
    assert ret == 0
    assert set(nodes_of(m, p, a, HPAGE_PMD_SIZE)) == {1}
    assert set(nodes_of(m, c, a, HPAGE_PMD_SIZE)) == {1}
    assert set(nodes_of(m, g, a, HPAGE_PMD_SIZE)) == {1}
    assert pfn_at(p, a) == pfn_at(c, a) == pfn_at(g, a)
    m.check_integrity()


def test_hwpoison_after_merge_candidate_reaches_every_process():
    """MADV_HWPOISON on the parent's page unmaps it from the child too (the rmap walk of
    memory_failure's try_to_unmap must reach the child's mapping)."""
    m, p, c, g, a = _forked_then_mapped_next_to("seed")
    p5 = a + 5 * PAGE_SIZE
    assert pfn_at(p, p5) == pfn_at(c, p5) == pfn_at(g, p5)
    assert p.madvise(p5, PAGE_SIZE, MADV_HWPOISON) == 0
    assert pfn_at(p, p5) < 0
    assert pfn_at(c, p5) < 0  # the child's mapping is gone too
    assert pfn_at(g, p5) < 0  # and the grandchild's
    m.check_integrity()
