"""The invariant checker: a clean machine passes; each checker, given exactly the
corruption it guards against, fails and names itself -- in a full check and in the
incremental one Machine(check=True) runs after a system call (which defers only
check_buddy to the next full check)."""

from __future__ import annotations

import pytest
from mm_helpers import ANON, RW, numa_machine, pgtable_entries, thp_aligned

from thpsim import Machine
from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_SIZE,
    PAGE_SIZE,
    pmd_trans_huge,
    pte_pfn,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import swp_entry
from thpsim.errors import IntegrityError
from thpsim.integrity import CHECKERS, IntegrityState, check_integrity
from thpsim.mm.madvise import MADV_HUGEPAGE, MADV_NOHUGEPAGE
from thpsim.mm.mm_types import MM_ANONPAGES, vm_area_struct
from thpsim.mm.page_alloc import (
    for_each_free_block,
)
from thpsim.mm.page_flags import F_locked, F_pgtable, F_reserved
from thpsim.mm.rmap import anon_vma_alloc
from thpsim.mm.vmstat import NR_ANON_MAPPED, NR_ANON_THPS


class Setup:
    """A small machine: one process with a PMD-mapped THP at ``thp`` and 4 KiB pages at
    ``small`` (the first four written), checked clean once in full."""

    def __init__(self) -> None:
        self.m = m = numa_machine(check=False)
        self.p = p = m.spawn(cpu=0)
        t = p.threads[0]
        self.thp = thp_aligned(p)
        p.madvise(self.thp, HPAGE_PMD_SIZE, MADV_HUGEPAGE)
        t.write(self.thp, 1)
        self.small = p.mmap(0, 16 * PAGE_SIZE, RW, ANON)
        p.madvise(self.small, 16 * PAGE_SIZE, MADV_NOHUGEPAGE)
        for i in range(4):
            t.write(self.small + i * PAGE_SIZE, i + 1)
        self.mm = p.mm
        self.ctx = m.kernel
        assert pmd_trans_huge(self.pmd(self.thp)[0][self.pmd(self.thp)[1]])
        m.check_integrity()  # clean, and seeds the incremental state

    def pmd(self, addr: int):
        """(the PMD table mapping ``addr``, the index in it)."""
        return pgtable_entries(self.m, self.mm.pgd.pfn, addr, levels=3)[-1]

    def pte(self, addr: int):
        """(the PTE table mapping ``addr``, the index in it)."""
        return pgtable_entries(self.m, self.mm.pgd.pfn, addr)[-1]

    def small_pfn(self, i: int = 0) -> int:
        pte_t, j = self.pte(self.small + i * PAGE_SIZE)
        return pte_pfn(pte_t[j])


def failing(m: Machine, *, full: bool) -> str:
    with pytest.raises(IntegrityError) as e:
        m.check_integrity(full=full)
    return str(e.value)


MODES = [pytest.param(True, id="full"), pytest.param(False, id="incremental")]


def test_clean_machine_passes_full_and_incremental():
    s = Setup()
    s.m.check_integrity(full=False)
    s.m.check_integrity(full=True)
    st = s.m._check_state
    assert st.full_checks == 2 and st.incremental_checks == 1


def test_every_checker_has_a_docstring_naming_what_it_checks():
    for checker in CHECKERS:
        assert checker.__name__.startswith("check_") and checker.__doc__
        assert "Kernel:" in checker.__doc__


def _break_and_check(s: Setup, name: str, full: bool) -> str:
    msg = failing(s.m, full=full)
    assert f"\n  {name}: " in msg, msg
    return msg


def _break_one_small_page(full: bool, field: str, i: int, change, name: str) -> None:
    """Corrupt one field (``s.ctx.pages.<field>``) of the ``i``-th small page: only the
    checker ``name`` fails, and only once."""
    s = Setup()
    array = getattr(s.ctx.pages, field)
    pfn = s.small_pfn(i)
    array[pfn] = change(array[pfn])
    msg = _break_and_check(s, name, full)
    assert msg.count("\n  ") == 1


@pytest.mark.parametrize("full", MODES)
def test_check_vmas(full):
    s = Setup()
    vma = s.mm.find_vma(s.small)
    vma.vm_end = vma.vm_start  # empty VMA
    _break_and_check(s, "check_vmas", full)


@pytest.mark.parametrize("full", MODES)
def test_check_vmas_order(full):
    s = Setup()
    s.mm.mmap.reverse()  # the list no longer sorted
    _break_and_check(s, "check_vmas", full)


@pytest.mark.parametrize("full", MODES)
def test_check_pgtable_pages_flag(full):
    s = Setup()
    pte_t, _ = s.pte(s.small)
    s.ctx.pages.flags[pte_t.pfn] &= ~F_pgtable
    msg = _break_and_check(s, "check_pgtable_pages", full)
    assert "lacks the page-table flag" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_pgtable_pages_leak(full):
    s = Setup()
    pmd_t, i = s.pmd(s.small)
    pmd_t[i] = 0  # the PTE table unlinked behind the kernel's back: nobody owns it
    msg = _break_and_check(s, "check_pgtable_pages", full)
    assert "leaked: no mm owns it" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_pgtable_entries(full):
    s = Setup()
    pte_t, j = s.pte(s.small + 8 * PAGE_SIZE)  # inside the VMA, never touched
    assert pte_t[j] == 0
    pte_t[j] = s.ctx.swp.swp_entry_to_pte(swp_entry(1, 77))  # a swap entry: no swap here
    msg = _break_and_check(s, "check_pgtable_entries", full)
    assert "unknown swap PTE" in msg
    assert msg.count("\n  ") == 1  # nothing else broke


@pytest.mark.parametrize("full", MODES)
def test_check_migration_entries(full):
    s = Setup()
    pte_t, j = s.pte(s.small)
    pfn = pte_pfn(pte_t[j])
    pte_t[j] = s.ctx.swp.swp_entry_to_pte(s.ctx.swp.make_readable_migration_entry(pfn))
    msg = _break_and_check(s, "check_migration_entries", full)
    assert "PTE migration entry left behind" in msg
    # with a migration in flight, the entry must point to a locked page
    with pytest.raises(IntegrityError, match="check_migration_entries: .* unlocked page"):
        check_integrity(s.ctx, s.m.live_mms(), allow_migration=True)
    s.ctx.pages.flags[pfn] |= F_locked
    with pytest.raises(IntegrityError) as e:
        check_integrity(s.ctx, s.m.live_mms(), allow_migration=True)
    assert "check_migration_entries" not in str(e.value)  # the page's counts still broke


@pytest.mark.parametrize("full", MODES)
def test_check_deposits(full):
    s = Setup()
    pmd_t, _ = s.pmd(s.thp)
    assert pmd_t.pmd_huge_pte
    pmd_t.pmd_huge_pte.append(pmd_t.pmd_huge_pte[0])  # one table deposited twice
    msg = _break_and_check(s, "check_deposits", full)
    assert "2 deposited tables for 1 huge" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_rss_counters(full):
    s = Setup()
    s.mm.rss_stat[MM_ANONPAGES] += 1
    msg = _break_and_check(s, "check_rss_counters", full)
    assert msg.count("\n  ") == 1


@pytest.mark.parametrize("full", MODES)
@pytest.mark.parametrize("field", ["nr_ptes", "nr_pmds", "nr_puds"])
def test_check_pgtables_bytes(full, field):
    s = Setup()
    setattr(s.mm, field, getattr(s.mm, field) + 1)
    msg = _break_and_check(s, "check_pgtables_bytes", full)
    assert field in msg and msg.count("\n  ") == 1


@pytest.mark.parametrize("full", MODES)
def test_check_locks_released(full):
    s = Setup()
    s.mm.mmap_lock.readers.append(object())
    msg = _break_and_check(s, "check_locks_released", full)
    assert "mmap_lock still held" in msg and msg.count("\n  ") == 1


@pytest.mark.parametrize("full", MODES)
def test_check_page_locks(full):
    _break_one_small_page(full, "flags", 1, lambda v: v | F_locked, "check_page_locks")


@pytest.mark.parametrize("full", MODES)
def test_check_mapcounts(full):
    _break_one_small_page(full, "mapcount", 2, lambda v: v + 1, "check_mapcounts")


@pytest.mark.parametrize("full", MODES)
def test_check_mapcounts_compound(full):
    s = Setup()
    pmd_t, i = s.pmd(s.thp)
    head = table_entry_pfn(pmd_t[i])
    s.ctx.pages.compound_mapcount[head] += 1
    msg = _break_and_check(s, "check_mapcounts", full)
    assert "compound mapcount" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_refcounts(full):
    _break_one_small_page(full, "refcount", 3, lambda v: v + 1, "check_refcounts")


@pytest.mark.parametrize("full", MODES)
def test_check_frame_owners_twice(full):
    s = Setup()
    pfn = next(iter(for_each_free_block(s.ctx)))[0]
    s.ctx.pages.flags[pfn] |= F_reserved  # free and reserved
    msg = _break_and_check(s, "check_frame_owners", full)
    assert f"frame {pfn:#x} owned 2 times" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_frame_owners_leak(full):
    s = Setup()
    held = s.m.fragment(1)
    s.m.check_integrity()
    s.ctx.pages.flags[held[7]] &= ~F_reserved  # held by nobody now
    msg = _break_and_check(s, "check_frame_owners", full)
    assert f"frame {held[7]:#x} leaked" in msg and msg.count("\n  ") == 1


@pytest.mark.parametrize("full", MODES)
@pytest.mark.parametrize("item", [NR_ANON_THPS, NR_ANON_MAPPED])
def test_check_vmstat(full, item):
    s = Setup()
    s.ctx.vmstat.mod_node_page_state(0, item, 1)
    msg = _break_and_check(s, "check_vmstat", full)
    assert msg.count("\n  ") == 1


def test_check_buddy_full_only():
    s = Setup()
    zone = next(z for z in s.ctx.node_data[0].node_zones if any(z.nr_free))
    zone.nr_free[0] += 1  # a free block the lists do not hold
    s.m.check_integrity(full=False)  # deferred: incremental mode does not run it
    _break_and_check(s, "check_buddy", True)


def test_incremental_sees_only_changes_and_stays_exact():
    """A change after the last check is found however far from the other changes; a
    failed check leaves no snapshot, so the next one is full."""
    s = Setup()
    st = s.m._check_state
    t = s.p.threads[0]
    t.write(s.small + 5 * PAGE_SIZE, 9)
    s.m.check_integrity(full=False)
    assert st.incremental_checks == 1
    s.ctx.pages.refcount[s.small_pfn(5)] += 1
    _break_and_check(s, "check_refcounts", False)
    assert not st.valid
    s.ctx.pages.refcount[s.small_pfn(5)] -= 1
    s.m.check_integrity(full=False)  # no snapshot: ran in full
    assert st.full_checks == 2 and st.incremental_checks == 2


def test_machine_check_true_runs_incremental_with_periodic_full():
    m = numa_machine()
    p = m.spawn(cpu=0)
    a = p.mmap(0, 64 * PAGE_SIZE, RW, ANON)
    for i in range(40):
        p.threads[0].write(a + i * PAGE_SIZE, i)
    st = m._check_state
    total = st.full_checks + st.incremental_checks
    assert total >= 41
    assert st.full_checks == -(-total // Machine.CHECK_FULL_EVERY)


def test_state_is_optional():
    s = Setup()
    check_integrity(s.ctx, s.m.live_mms())
    st = IntegrityState()
    check_integrity(s.ctx, s.m.live_mms(), state=st, full=False)  # no snapshot yet: full
    assert st.full_checks == 1 and st.incremental_checks == 0


@pytest.mark.parametrize("full", MODES)
def test_check_mapped_in_vmas(full):
    s = Setup()
    s.mm.remove_vma(s.mm.find_vma(s.small))  # unlinked behind the kernel's back
    msg = _break_and_check(s, "check_mapped_in_vmas", full)
    assert msg.count("\n  check_mapped_in_vmas: ") == 4  # the four written pages
    assert "\n  check_anon_vma_chains: " in msg  # and its anon_vma still lists it


@pytest.mark.parametrize("full", MODES)
def test_check_vmas_overlap(full):
    """Two VMAs that overlap (what munmap with a negative length once left)."""
    s = Setup()
    vma = s.mm.find_vma(s.small)
    vma.vm_end += PAGE_SIZE
    nxt = vm_area_struct(s.mm, vma.vm_start + PAGE_SIZE, vma.vm_end + PAGE_SIZE,
                         vma.vm_flags, vma.vm_pgoff + 1)
    s.mm.mmap.insert(s.mm.vma_index(vma) + 1, nxt)
    _break_and_check(s, "check_vmas", full)


@pytest.mark.parametrize("full", MODES)
def test_check_anon_vma_chains_own_anon_vma(full):
    s = Setup()
    vma = s.mm.find_vma(s.small)
    vma.anon_vma.vmas.remove(vma)
    vma.anon_vma_chain = []  # consistent with the list, but its own anon_vma is missing
    msg = _break_and_check(s, "check_anon_vma_chains", full)
    assert "is not on its chain" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_anon_vma_chains_freed_vma(full):
    """A VMA merged away but left on an anon_vma (the model's merge bug, issue 11)."""
    s = Setup()
    vma = s.mm.find_vma(s.small)
    gone = vm_area_struct(s.mm, vma.vm_start, vma.vm_end, vma.vm_flags, vma.vm_pgoff)
    gone.anon_vma = vma.anon_vma
    gone.anon_vma_chain = [vma.anon_vma]
    vma.anon_vma.vmas.append(gone)
    msg = _break_and_check(s, "check_anon_vma_chains", full)
    assert msg.count("\n  ") == 1 and "in no live mm" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_rmap_reaches_mappings(full):
    """A VMA whose chain moved to a new anon_vma while its pages still name the old one
    (a grandchild forked from the badly merged VMA, issue 11): chains agree, the rmap
    walk from the pages misses the VMA."""
    s = Setup()
    vma = s.mm.find_vma(s.small)
    vma.anon_vma.vmas.remove(vma)
    av = anon_vma_alloc(s.ctx)
    vma.anon_vma = av
    vma.anon_vma_chain = [av]
    av.vmas.append(vma)
    msg = _break_and_check(s, "check_rmap_reaches_mappings", full)
    assert msg.count("\n  ") == 1


@pytest.mark.parametrize("full", MODES)
def test_check_rmap_reaches_mappings_index(full):
    """A page whose index is not where vma_address() looks for it."""
    s = Setup()
    s.ctx.pages.index_np[s.small_pfn(0)] += 1
    msg = _break_and_check(s, "check_rmap_reaches_mappings", full)
    assert msg.count("\n  ") == 1


@pytest.mark.parametrize("full", MODES)
def test_check_frame_owners_free_blocks_overlap(full):
    s = Setup()
    zone = next(z for z in s.ctx.node_data[1].node_zones if z.free_area[10])
    head = next(iter(zone.free_area[10]))
    zone.free_area[0][head + 3] = None  # a frame of a free MAX_ORDER block listed again
    msg = _break_and_check(s, "check_frame_owners", full)
    assert f"free block {head:#x} order 10 overlaps another" in msg  # listed after it


@pytest.mark.parametrize("full", MODES)
def test_check_mlocked_pte_mapped_thp(full):
    """A THP that a PTE maps must not be PG_mlocked (4.14 mm/mlock.c; B12's symptom)."""
    from thpsim import PROT_READ
    from thpsim.mm.mlock import mlock_vma_page

    s = Setup()
    s.p.mprotect(s.thp, PAGE_SIZE, PROT_READ)  # the PMD splits: PTE-mapped now
    s.m.check_integrity()
    pmd_t, i = s.pte(s.thp)
    head = s.ctx.pages.compound_head(pte_pfn(pmd_t[i]))
    mlock_vma_page(s.ctx, head)  # what remove_migration_pmd() did under B12
    msg = _break_and_check(s, "check_mlocked", full)
    assert "mlocked but mapped by 512 PTEs" in msg


@pytest.mark.parametrize("full", MODES)
def test_check_mlocked_nr_mlock(full):
    from thpsim.mm.vmstat import NR_MLOCK

    s = Setup()
    s.ctx.vmstat.mod_zone_page_state(0, NR_MLOCK, 1)
    msg = _break_and_check(s, "check_mlocked", full)
    assert "nr_mlock 1 != 0 mlocked pages" in msg
