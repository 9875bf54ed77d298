"""CPUs (hw/cpu.py): the PCID-tagged TLB with its 4 KiB and 2 MiB entries, its
invalidations (INVLPG, range, whole PCID), FIFO capacity, and the MMU walk that sets
A and D in the page-table frames."""

import pytest
from mm_helpers import ANON, MB, RW, pgtable_entries, thp_aligned

from thpsim import MADV_NOHUGEPAGE, PROT_READ, Machine
from thpsim.arch.x86_64.pgtable import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_USER,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SHIFT,
)
from thpsim.hw.cpu import CPU, TLB_D, TLB_W, WALK_NOT_PRESENT, WALK_PROTECTION, mmu_walk

VA = 0x7F00_0020_0000  # 2 MiB aligned
U = _PAGE_USER


def tr(pfn, flags=TLB_W | TLB_D | U):
    return (pfn << PAGE_SHIFT) | flags


# ---------------------------------------------------------------- the TLB
def test_4k_entry_covers_its_page_only():
    cpu = CPU(0, 0)
    cpu.tlb_fill(1, VA + 0x5123, tr(77), False)
    assert cpu.tlb_lookup(1, VA + 0x5000) == tr(77)
    assert cpu.tlb_lookup(1, VA + 0x5FFF) == tr(77)
    assert cpu.tlb_lookup(1, VA + 0x6000) == -1 and cpu.tlb_lookup(1, VA + 0x4FFF) == -1


def test_2m_entry_translates_every_subpage():
    """A 2 MiB entry filled from any subpage's translation yields each subpage's frame."""
    cpu = CPU(0, 0)
    cpu.tlb_fill(1, VA + 3 * PAGE_SIZE, tr(0x1000 + 3, TLB_W | U), True)
    assert cpu.tlb_lookup(1, VA) == tr(0x1000, TLB_W | U)
    assert cpu.tlb_lookup(1, VA + 511 * PAGE_SIZE + 8) == tr(0x1000 + 511, TLB_W | U)
    assert cpu.tlb_lookup(1, VA + HPAGE_PMD_SIZE) == -1 and cpu.tlb_lookup(1, VA - 1) == -1
    assert cpu.tlb[1][1] == {VA >> PMD_SHIFT: tr(0x1000, TLB_W | U)} and cpu.tlb[1][0] == {}


def test_4k_entry_wins_over_a_2m_entry():
    cpu = CPU(0, 0)
    cpu.tlb_fill(1, VA, tr(0x1000), True)
    cpu.tlb_fill(1, VA + 2 * PAGE_SIZE, tr(9), False)
    assert cpu.tlb_lookup(1, VA + 2 * PAGE_SIZE) == tr(9)
    assert cpu.tlb_lookup(1, VA + 3 * PAGE_SIZE) == tr(0x1003)


def test_entries_are_per_pcid():
    cpu = CPU(0, 0)
    cpu.tlb_fill(1, VA, tr(5), False)
    cpu.tlb_fill(2, VA, tr(6), False)
    cpu.tlb_fill(2, VA + HPAGE_PMD_SIZE, tr(0x2000), True)
    assert cpu.tlb_lookup(1, VA) == tr(5) and cpu.tlb_lookup(2, VA) == tr(6)
    assert cpu.tlb_lookup(3, VA) == -1 and cpu.tlb_lookup(1, VA + HPAGE_PMD_SIZE) == -1
    cpu.flush_asid(2)
    assert cpu.tlb_lookup(2, VA) == -1 and not cpu.has_entries(2)
    assert cpu.tlb_lookup(1, VA) == tr(5) and cpu.has_entries(1)


def test_invlpg_drops_the_4k_and_the_2m_entry_of_that_address_in_that_pcid():
    cpu = CPU(0, 0)
    cpu.tlb_fill(1, VA + PAGE_SIZE, tr(5), False)
    cpu.tlb_fill(1, VA + 2 * PAGE_SIZE, tr(6), False)
    cpu.tlb_fill(1, VA, tr(0x1000), True)
    cpu.tlb_fill(2, VA + PAGE_SIZE, tr(7), False)
    cpu.invlpg(1, VA + PAGE_SIZE + 0x10)
    assert cpu.tlb_lookup(1, VA + PAGE_SIZE) == -1  # both the 4 KiB and the 2 MiB entry gone
    assert cpu.tlb_lookup(1, VA + 2 * PAGE_SIZE) == tr(6)
    assert cpu.tlb_lookup(2, VA + PAGE_SIZE) == tr(7)
    cpu.invlpg(9, VA)  # a PCID with no entries: nothing happens


@pytest.mark.parametrize("npages", [3, 64, 65, 300])  # both of flush_range's loops
def test_flush_range_drops_exactly_the_range(npages):
    cpu = CPU(0, 0)
    for i in range(-2, npages + 2):
        cpu.tlb_fill(1, VA + 4 * HPAGE_PMD_SIZE + i * PAGE_SIZE, tr(100 + i), False)
        cpu.tlb_fill(2, VA + 4 * HPAGE_PMD_SIZE + i * PAGE_SIZE, tr(100 + i), False)
    start = VA + 4 * HPAGE_PMD_SIZE
    cpu.flush_range(1, start, start + npages * PAGE_SIZE)
    for i in range(-2, npages + 2):
        hit = cpu.tlb_lookup(1, start + i * PAGE_SIZE) >= 0
        assert hit == (not 0 <= i < npages), i
        assert cpu.tlb_lookup(2, start + i * PAGE_SIZE) >= 0


def test_flush_range_drops_2m_entries_it_touches():
    cpu = CPU(0, 0)
    for k in range(3):
        cpu.tlb_fill(1, VA + k * HPAGE_PMD_SIZE, tr(0x1000 * (k + 1)), True)
    cpu.flush_range(1, VA + HPAGE_PMD_SIZE + 5 * PAGE_SIZE, VA + HPAGE_PMD_SIZE + 6 * PAGE_SIZE)
    assert [cpu.tlb_lookup(1, VA + k * HPAGE_PMD_SIZE) >= 0 for k in range(3)] == [
        True, False, True]


def test_capacity_evicts_the_oldest_entry_per_size():
    cpu = CPU(0, 0, cap4k=2, cap2m=1)
    cpu.tlb_fill(1, VA, tr(1), False)
    cpu.tlb_fill(1, VA + PAGE_SIZE, tr(2), False)
    cpu.tlb_fill(1, VA, tr(3), False)  # a refill of a cached page evicts nothing
    assert cpu.tlb_lookup(1, VA) == tr(3) and cpu.tlb_lookup(1, VA + PAGE_SIZE) == tr(2)
    cpu.tlb_fill(1, VA + 2 * PAGE_SIZE, tr(4), False)
    assert cpu.tlb_lookup(1, VA) == -1  # the first-filled entry went
    assert cpu.tlb_lookup(1, VA + PAGE_SIZE) == tr(2)
    cpu.tlb_fill(1, VA + 4 * HPAGE_PMD_SIZE, tr(0x1000), True)
    cpu.tlb_fill(1, VA + 8 * HPAGE_PMD_SIZE, tr(0x2000), True)
    assert cpu.tlb_lookup(1, VA + 4 * HPAGE_PMD_SIZE) == -1
    assert cpu.tlb_lookup(1, VA + 8 * HPAGE_PMD_SIZE) == tr(0x2000)
    assert cpu.tlb_lookup(1, VA + 2 * PAGE_SIZE) == tr(4)  # 4 KiB entries kept apart


def test_machine_fills_a_2m_entry_for_a_thp_and_4k_entries_for_base_pages():
    m = Machine(nodes={0: 64 * MB}, block_size=64 * MB, check=True)
    p = m.spawn(cpu=1)
    a = thp_aligned(p)
    p.write(a, 1)
    p.read(a + 17 * PAGE_SIZE)
    b = p.mmap(0, 2 * PAGE_SIZE, RW, ANON)
    p.madvise(b, 2 * PAGE_SIZE, MADV_NOHUGEPAGE)
    p.write(b, 2)
    p.read(b)
    d4, d2 = m.cpus[1].tlb[p.mm.mm_id]
    assert list(d2) == [a >> PMD_SHIFT]
    assert list(d4) == [b >> PAGE_SHIFT]
    assert not m.cpus[0].has_entries(p.mm.mm_id)  # CPU 0 never ran the process


# ---------------------------------------------------------------- the MMU walk
def clear_ad(ents):
    for t, i in ents:
        t[i] &= ~(_PAGE_ACCESSED | _PAGE_DIRTY)


@pytest.fixture
def base_page():
    m = Machine(nodes={0: 64 * MB}, block_size=64 * MB, thp="never")
    p = m.spawn()
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    p.write(a, 1)
    return m, p, a


def test_read_walk_sets_accessed_at_every_level_and_no_dirty(base_page):
    m, p, a = base_page
    ents = pgtable_entries(m, p.mm.pgd.pfn, a)
    clear_ad(ents)
    e, huge = mmu_walk(m.kernel.mem, p.mm.pgd.pfn, a, False)
    assert not huge and e >= 0
    assert all(t[i] & _PAGE_ACCESSED for t, i in ents)
    assert not any(t[i] & _PAGE_DIRTY for t, i in ents)
    assert e & TLB_W and not e & TLB_D and e & U  # writable, but not dirty yet
    assert e >> PAGE_SHIFT == ents[-1][0][ents[-1][1]] >> PAGE_SHIFT & ((1 << 40) - 1)


def test_write_walk_sets_dirty_in_the_leaf_only(base_page):
    m, p, a = base_page
    ents = pgtable_entries(m, p.mm.pgd.pfn, a)
    clear_ad(ents)
    e, _ = mmu_walk(m.kernel.mem, p.mm.pgd.pfn, a, True)
    assert e & TLB_D and e & TLB_W
    leaf_t, leaf_i = ents[-1]
    assert leaf_t[leaf_i] & _PAGE_DIRTY
    assert not any(t[i] & _PAGE_DIRTY for t, i in ents[:-1])


def test_thp_walk_stops_at_the_pmd_and_sets_its_bits():
    m = Machine(nodes={0: 64 * MB}, block_size=64 * MB)
    p = m.spawn()
    a = thp_aligned(p)
    p.write(a, 1)
    ents = pgtable_entries(m, p.mm.pgd.pfn, a, levels=3)
    clear_ad(ents)
    e0, huge = mmu_walk(m.kernel.mem, p.mm.pgd.pfn, a, False)
    assert huge
    t, i = ents[-1]
    assert t[i] & _PAGE_ACCESSED and not t[i] & _PAGE_DIRTY
    e9, _ = mmu_walk(m.kernel.mem, p.mm.pgd.pfn, a + 9 * PAGE_SIZE + 100, True)
    assert (e9 >> PAGE_SHIFT) - (e0 >> PAGE_SHIFT) == 9
    assert t[i] & _PAGE_DIRTY


def test_walk_faults_not_present_and_protection():
    m = Machine(nodes={0: 64 * MB}, block_size=64 * MB, thp="never")
    p = m.spawn()
    a = p.mmap(0, 2 * PAGE_SIZE, RW, ANON)
    mem, pgd = m.kernel.mem, p.mm.pgd.pfn
    assert mmu_walk(mem, pgd, a, False) == (WALK_NOT_PRESENT, False)  # nothing mapped
    p.read(a)  # a read fault maps the zero page read-only
    assert mmu_walk(mem, pgd, a, False)[0] >= 0
    assert mmu_walk(mem, pgd, a, True) == (WALK_PROTECTION, False)
    p.write(a + PAGE_SIZE, 1)
    t, i = pgtable_entries(m, pgd, a + PAGE_SIZE)[-1]
    t[i] &= ~_PAGE_USER  # a supervisor page: a user access is a protection fault
    assert mmu_walk(mem, pgd, a + PAGE_SIZE, False) == (WALK_PROTECTION, False)
    t[i] |= _PAGE_USER
    p.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ)
    assert mmu_walk(mem, pgd, a + PAGE_SIZE, True) == (WALK_PROTECTION, False)
    assert mmu_walk(mem, pgd, a + PAGE_SIZE, False)[0] >= 0


def test_a_stale_tlb_entry_is_used_until_flushed():
    """Nothing but an invalidation removes an entry: a store through it still
    reaches the old frame after the PTE changed."""
    m = Machine(nodes={0: 64 * MB}, block_size=64 * MB, thp="never", shadow=False)
    p = m.spawn()
    a = p.mmap(0, 2 * PAGE_SIZE, RW, ANON)
    p.write(a, 1)
    p.write(a + PAGE_SIZE, 2)
    mem, pgd = m.kernel.mem, p.mm.pgd.pfn
    old = mmu_walk(mem, pgd, a, False)[0] >> PAGE_SHIFT
    t, i = pgtable_entries(m, pgd, a)[-1]
    t2, i2 = pgtable_entries(m, pgd, a + PAGE_SIZE)[-1]
    saved = t[i]
    t[i] = t2[i2]  # the PTE now names the other page's frame, no flush
    p.write(a, 3)
    assert mem.contents[old] == 3 and p.read(a + PAGE_SIZE) == 2
    m.cpus[0].invlpg(p.mm.mm_id, a)
    assert p.read(a) == 2  # the new translation
    t[i] = saved
    m.cpus[0].invlpg(p.mm.mm_id, a)
    assert p.read(a) == 3
