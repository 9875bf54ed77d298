"""Entry formats: worked encodings, predicates, and 64-bit round trips.

Golden words from kernel-semantics.md §1.3 and §2.2 (type 29 = SWP_MIGRATION_WRITE
in 4.14 with CONFIG_DEVICE_PRIVATE, pfn 0x12345).
"""

from hypothesis import given
from hypothesis import strategies as st

from thpsim.arch.x86_64 import pgtable as pg
from thpsim.arch.x86_64.swapops import (
    SwapOps,
    is_swap_pmd,
    pmd_swp_clear_soft_dirty,
    pmd_swp_mksoft_dirty,
    pmd_swp_soft_dirty,
    swp_entry,
    swp_offset,
    swp_type,
)

SEED = SwapOps(inverted_offset=False, mainline_types=False)
L1TF = SwapOps(inverted_offset=True, mainline_types=False)
V6 = SwapOps(inverted_offset=True, mainline_types=True)
U64 = st.integers(0, 2**64 - 1)


def test_fresh_thp_pmd_flags():
    # mk_huge_pmd(PAGE_COPY) -> pmd_mkdirty -> maybe_pmd_mkwrite: 0x80000000000008E7
    pmd = pg.pmd_mkwrite(pg.pmd_mkdirty(pg.mk_huge_pmd(0x200, pg.PAGE_COPY)))
    assert pg.pmd_flags(pmd) == 0x8000_0000_0000_08E7
    assert pg.pmd_pfn(pmd) == 0x200
    assert pg.pmd_present(pmd) and pg.pmd_trans_huge(pmd) and not is_swap_pmd(pmd)


def test_page_copy_is_p_u_a_nx():
    assert pg.PAGE_COPY == 0x8000_0000_0000_0025


def test_table_pointer():
    v = pg.pmd_populate_val(0x1234)
    assert v & 0xFFF == 0x67
    assert pg.pmd_table_pfn(v) == 0x1234
    assert pg.pmd_present(v) and not pg.pmd_trans_huge(v) and not pg.pmd_bad(v)


def test_invalidated_huge_pmd_stays_present_and_huge():
    pmd = pg.pmd_mkinvalid(pg.mk_huge_pmd(0x200, pg.PAGE_COPY | pg._PAGE_RW))
    assert not pmd & pg._PAGE_PRESENT
    assert pg.pmd_present(pmd) and pg.pmd_trans_huge(pmd)
    assert not is_swap_pmd(pmd)


def test_pmd_none_ignores_knl_erratum_bits():
    assert pg.pmd_none(0) and pg.pmd_none(pg._PAGE_ACCESSED | pg._PAGE_DIRTY)
    assert not pg.pmd_none(pg._PAGE_PRESENT)


def test_migration_entry_golden_words():
    e = SEED.make_migration_entry(0x12345, True)
    assert SEED.SWP_MIGRATION_WRITE == 29
    assert SEED.swp_entry_to_pmd(e) == 0x48D17A00
    assert pmd_swp_mksoft_dirty(SEED.swp_entry_to_pmd(e)) == 0x48D17A02
    assert L1TF.swp_entry_to_pmd(e) == 0xEFFF_FFFF_FDB9_7400
    assert pmd_swp_mksoft_dirty(L1TF.swp_entry_to_pmd(e)) == 0xEFFF_FFFF_FDB9_7402


def test_migration_entry_classification():
    # §1.4 classification table, last-but-one row: none n, present n, trans_huge n, swap Y, bad Y
    for ops in (SEED, L1TF, V6):
        pmd = ops.swp_entry_to_pmd(ops.make_migration_entry(0x12345, True))
        assert not pg.pmd_none(pmd)
        assert not pg.pmd_present(pmd)
        assert not pg.pmd_trans_huge(pmd)
        assert is_swap_pmd(pmd)
        assert pg.pmd_bad(pmd)
        assert ops.is_pmd_migration_entry(pmd)
        assert pmd & 0x181 == 0  # bits 0, 7, 8 clear


def test_soft_dirty_at_bit_7_would_look_huge():
    # B5: the pre-4.14 layout kept swap soft-dirty in bit 7 (PSE)
    pmd = SEED.swp_entry_to_pmd(SEED.make_migration_entry(0x12345, False)) | pg._PAGE_PSE
    assert pg.pmd_present(pmd) and pg.pmd_trans_huge(pmd)


def test_mainline_type_numbers():
    assert (V6.SWP_HWPOISON, V6.SWP_MIGRATION_READ, V6.SWP_MIGRATION_READ_EXCLUSIVE,
            V6.SWP_MIGRATION_WRITE) == (23, 24, 25, 26)
    e = V6.make_readable_exclusive_migration_entry(7)
    assert V6.is_migration_entry(e) and not V6.is_writable_migration_entry(e)


def test_write_entry_read_entry():
    for ops in (SEED, V6):
        w = ops.make_migration_entry(5, True)
        r = ops.make_migration_entry(5, False)
        assert ops.is_writable_migration_entry(w) and not ops.is_writable_migration_entry(r)
        assert ops.pfn_swap_entry_pfn(w) == ops.pfn_swap_entry_pfn(r) == 5


@given(st.integers(0, 31), st.integers(0, (1 << 45) - 1), st.booleans())
def test_swap_round_trip(t, off, sd):
    e = swp_entry(t, off)
    for ops in (SEED, L1TF):
        pmd = ops.swp_entry_to_pmd(e)
        assert 0 <= pmd < 2**64
        assert pmd & 0x181 == 0
        if sd:
            pmd = pmd_swp_mksoft_dirty(pmd)
            assert pmd_swp_soft_dirty(pmd)
        assert ops.pmd_to_swp_entry(pmd) == e
        assert swp_type(ops.pmd_to_swp_entry(pmd)) == t
        assert swp_offset(ops.pmd_to_swp_entry(pmd)) == off
        assert not pmd_swp_soft_dirty(pmd_swp_clear_soft_dirty(pmd))


@given(U64)
def test_results_stay_64_bit(v):
    for f in (pg.pmd_mkinvalid, pg.pmd_wrprotect, pg.pmd_mkold, pg.pmd_mkclean,
              pg.pte_wrprotect, pg.pte_mkold, pg.pte_mkclean, pg.pte_clear_soft_dirty,
              pg.pmd_clear_soft_dirty, pg.pmd_mkdirty, pg.pte_mkdirty):
        assert 0 <= f(v) < 2**64
    assert 0 <= pg.pte_modify(v, pg.PAGE_NONE) < 2**64
    assert 0 <= pg.pmd_modify(v, pg.PAGE_COPY) < 2**64


@given(st.integers(0, (1 << 40) - 1))
def test_pfn_round_trips(pfn):
    assert pg.pte_pfn(pg.pfn_pte(pfn, pg.PAGE_COPY)) == pfn
    huge = pfn & ~511
    assert pg.pmd_pfn(pg.mk_huge_pmd(huge, pg.PAGE_COPY)) == huge


def test_pte_modify_keeps_dirty_and_pfn():
    pte = pg.pte_mkdirty(pg.pte_mkyoung(pg.pfn_pte(0x42, pg.PAGE_COPY | pg._PAGE_RW)))
    ro = pg.pte_modify(pte, pg.PAGE_READONLY)
    assert pg.pte_pfn(ro) == 0x42 and pg.pte_dirty(ro) and pg.pte_soft_dirty(ro)
    assert not pg.pte_write(ro)
    none = pg.pte_modify(pte, pg.PAGE_NONE)
    assert pg.pte_present(none) and pg.pte_protnone(none) and not none & pg._PAGE_PRESENT
