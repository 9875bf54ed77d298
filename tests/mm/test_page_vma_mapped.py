"""page_vma_mapped_walk() (mm/page_vma_mapped.py): where one page is mapped in one VMA.

A PMD-mapped THP is one PMD-level hit; a PTE-mapped THP is one hit per mapped
subpage, also when mremap placed it across two page tables; with PVMW_MIGRATION
the walk finds migration entries (PMD and PTE) instead of present mappings. Each
hit returns with the page-table lock held, and the walk drops it when it ends.
"""

import pytest
from mm_helpers import MB, RW, small_machine, thp_aligned, thp_area

from thpsim import MADV_DONTNEED, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_READ
from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_NR,
    HPAGE_PMD_SIZE,
    PAGE_SIZE,
    pmd_pfn,
    pmd_trans_huge,
    pte_pfn,
    table_entry_pfn,
)
from thpsim.mm.migrate import remove_migration_ptes
from thpsim.mm.page_vma_mapped import (
    PVMW_MIGRATION,
    PVMW_SYNC,
    page_vma_mapped_walk,
    page_vma_mapped_walk_done,
    page_vma_mapped_walk_t,
)
from thpsim.mm.pgtable_generic import lookup_pmd
from thpsim.mm.rmap import try_to_migrate
from thpsim.mm.swap import get_page, put_page
from thpsim.testing import Stepper

PROFILES = ["seed", "mainline"]


def one_thp(profile="seed", pte_mapped=False):
    """A process with one faulted THP at ``a`` (PTE-mapped if asked); returns the
    machine, the process, ``a`` and the THP's head frame."""
    m = small_machine(profile)
    p = m.spawn()
    a = thp_area(p)
    head = head_of(p, a)
    if pte_mapped:
        pte_map(p, a)
    return m, p, a, head


def head_of(p, a):
    pmd = lookup_pmd(p.mm, a)
    v = pmd[0][pmd[1]]
    assert pmd_trans_huge(v)
    return pmd_pfn(v)


def pte_map(p, a):
    """Split the THP's PMD into PTEs (mprotect of its first page) and restore the
    protection: one VMA again, the THP PTE-mapped."""
    p.mprotect(a, PAGE_SIZE, PROT_READ)
    p.mprotect(a, PAGE_SIZE, RW)
    pmd = lookup_pmd(p.mm, a)
    assert not pmd_trans_huge(pmd[0][pmd[1]])


def walk(m, p, page, vma, address, flags=0, nr=HPAGE_PMD_NR):
    """Run the walk to its end; returns [(level, address, pointer)] of every hit and
    checks the lock protocol: a hit holds the lock of the table it points into."""
    ctx = m.kernel
    pvmw = page_vma_mapped_walk_t(page, nr, vma, address, flags)
    hits = []
    while Stepper(ctx, page_vma_mapped_walk(pvmw), p.task).finish():
        if pvmw.pte is None:
            assert pvmw.ptl is pvmw.pmd[0].ptl and pvmw.ptl.owner is p.task
            hits.append(("pmd", pvmw.address, pvmw.pmd))
        else:
            assert pvmw.ptl is pvmw.pte[0].ptl and pvmw.ptl.owner is p.task
            hits.append(("pte", pvmw.address, pvmw.pte))
    assert pvmw.ptl is None  # the walk released its lock when it ended
    return hits


def migrate_out(m, head):
    """Replace every mapping of ``head`` with migration entries (holding the reference
    and the page, as migration does)."""
    get_page(m.kernel, head)
    Stepper(m.kernel, try_to_migrate(m.kernel, head)).finish()


def migrate_back(m, head):
    """Restore the mappings onto the same page, as a failed migration does."""
    Stepper(m.kernel, remove_migration_ptes(m.kernel, head, head)).finish()
    put_page(m.kernel, head)
    m.check_integrity()


# ---------------------------------------------------------------- present mappings
def test_pmd_mapped_thp_is_one_pmd_level_hit():
    m, p, a, head = one_thp()
    hits = walk(m, p, head, p.mm.find_vma(a), a)
    assert [(lvl, addr) for lvl, addr, _ in hits] == [("pmd", a)]
    slot = lookup_pmd(p.mm, a)
    assert hits[0][2] == slot  # the pointer is the PMD slot that maps it


def test_pmd_mapped_other_page_is_no_hit():
    m = small_machine()
    p = m.spawn()
    a = thp_area(p)
    b = thp_area(p)
    vma = p.mm.find_vma(a)
    assert walk(m, p, head_of(p, b), vma, a) == []  # asked at a, the PMD maps b's page


def test_pte_mapped_thp_is_one_hit_per_subpage():
    m, p, a, head = one_thp(pte_mapped=True)
    hits = walk(m, p, head, p.mm.find_vma(a), a)
    assert [addr for _, addr, _ in hits] == [a + i * PAGE_SIZE for i in range(HPAGE_PMD_NR)]
    assert {lvl for lvl, _, _ in hits} == {"pte"}
    for i, (_, _, (t, idx)) in enumerate(hits):
        assert pte_pfn(t[idx]) == head + i


def test_pte_mapped_walk_for_one_subpage():
    """nr=1 (a base page's walk) stops after that page's one PTE."""
    m, p, a, head = one_thp(pte_mapped=True)
    hits = walk(m, p, head + 5, p.mm.find_vma(a), a + 5 * PAGE_SIZE, nr=1)
    assert [addr for _, addr, _ in hits] == [a + 5 * PAGE_SIZE]


def test_partially_unmapped_thp_skips_the_holes():
    m, p, a, head = one_thp(pte_mapped=True)
    p.madvise(a + 16 * PAGE_SIZE, 16 * PAGE_SIZE, MADV_DONTNEED)  # zaps; the VMA stays
    hits = walk(m, p, head, p.mm.find_vma(a), a)
    want = [a + i * PAGE_SIZE for i in range(HPAGE_PMD_NR) if not 16 <= i < 32]
    assert [addr for _, addr, _ in hits] == want


def test_walk_is_bounded_by_the_vma():
    """munmap of the THP's middle splits the VMA: each part finds only its own PTEs."""
    m, p, a, head = one_thp()
    p.munmap(a + 256 * PAGE_SIZE, 16 * PAGE_SIZE)
    lo, hi = p.mm.find_vma(a), p.mm.find_vma(a + 272 * PAGE_SIZE)
    assert lo is not hi
    lo_hits = walk(m, p, head, lo, a)
    hi_hits = walk(m, p, head, hi, a)  # the rmap walk's address: before hi's start
    assert [addr for _, addr, _ in lo_hits] == [a + i * PAGE_SIZE for i in range(256)]
    assert [addr for _, addr, _ in hi_hits] == [a + i * PAGE_SIZE for i in range(272, 512)]


def test_pte_mapped_thp_across_two_page_tables():
    """mremap to 1 MiB past alignment: the THP's PTEs live in two PTE tables and the
    walk steps from the first table into the second."""
    m, p, a, head = one_thp()
    t = thp_aligned(p, 2, PROT_READ) + MB
    assert p.mremap(a, HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, t) == t
    hits = walk(m, p, head, p.mm.find_vma(t), t)
    assert [addr for _, addr, _ in hits] == [t + i * PAGE_SIZE for i in range(HPAGE_PMD_NR)]
    tables = [tbl.pfn for _, _, (tbl, _) in hits]
    assert tables[0] != tables[-1]
    assert len(set(tables)) == 2 and tables.index(tables[-1]) == HPAGE_PMD_NR // 2
    assert all(pte_pfn(tbl[i]) == head + n for n, (_, _, (tbl, i)) in enumerate(hits))


def test_walk_done_releases_the_lock_early():
    m, p, a, head = one_thp(pte_mapped=True)
    pvmw = page_vma_mapped_walk_t(head, HPAGE_PMD_NR, p.mm.find_vma(a), a, 0)
    assert Stepper(m.kernel, page_vma_mapped_walk(pvmw), p.task).finish()
    ptl = pvmw.ptl
    assert ptl.owner is p.task
    page_vma_mapped_walk_done(pvmw)
    assert ptl.owner is None and pvmw.ptl is None


# ---------------------------------------------------------------- migration entries
@pytest.mark.parametrize("profile", PROFILES)
def test_pmd_migration_entry_found_only_with_pvmw_migration(profile):
    m, p, a, head = one_thp(profile)
    vma = p.mm.find_vma(a)
    assert walk(m, p, head, vma, a, PVMW_MIGRATION | PVMW_SYNC) == []  # present: no hit
    migrate_out(m, head)
    pmd = lookup_pmd(p.mm, a)
    assert m.kernel.swp.is_pmd_migration_entry(pmd[0][pmd[1]])
    assert walk(m, p, head, vma, a) == []  # not present: no hit without PVMW_MIGRATION
    hits = walk(m, p, head, vma, a, PVMW_MIGRATION | PVMW_SYNC)
    assert [(lvl, addr) for lvl, addr, _ in hits] == [("pmd", a)]
    assert walk(m, p, head + HPAGE_PMD_NR, vma, a, PVMW_MIGRATION) == []  # another page's
    migrate_back(m, head)
    assert pmd_pfn(pmd[0][pmd[1]]) == head


@pytest.mark.parametrize("profile", PROFILES)
def test_pte_migration_entries_found_only_with_pvmw_migration(profile):
    m, p, a, head = one_thp(profile, pte_mapped=True)
    p.madvise(a + 100 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED)  # one hole
    vma = p.mm.find_vma(a)
    migrate_out(m, head)
    assert walk(m, p, head, vma, a) == []
    hits = walk(m, p, head, vma, a, PVMW_MIGRATION | PVMW_SYNC)
    want = [a + i * PAGE_SIZE for i in range(HPAGE_PMD_NR) if i != 100]
    assert [addr for _, addr, _ in hits] == want
    swp = m.kernel.swp
    for _, addr, (t, i) in hits:
        entry = swp.pte_to_swp_entry(t[i])
        assert swp.is_migration_entry(entry)
        assert swp.pfn_swap_entry_pfn(entry) == head + (addr - a) // PAGE_SIZE
    migrate_back(m, head)
    hits = walk(m, p, head, vma, a)
    assert len(hits) == HPAGE_PMD_NR - 1


def test_pmd_table_pointer_is_not_a_pmd_level_hit():
    """A PMD that points at a PTE table is walked at PTE level, never reported itself."""
    m, p, a, head = one_thp(pte_mapped=True)
    pmd = lookup_pmd(p.mm, a)
    table = m.kernel.mem.tables[table_entry_pfn(pmd[0][pmd[1]])]
    hits = walk(m, p, head, p.mm.find_vma(a), a)
    assert {lvl for lvl, _, _ in hits} == {"pte"}
    assert all(tbl is table for _, _, (tbl, _) in hits)
