"""SwapOps.pte_to_swp_entry() and swp_entry_to_pte() are inlined for speed: each must
equal the composition it models (``swp_entry(__swp_type(arch), __swp_offset(arch))``
and ``__swp_entry(swp_type(e), swp_offset(e))``) on every 64-bit word, in every layout
and soft-dirty placement."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thpsim.arch.x86_64.swapops import SwapOps, swp_entry, swp_offset, swp_type

LAYOUTS = [
    SwapOps(inverted_offset=inv, mainline_types=main, soft_dirty_bit=bit)
    for inv in (False, True) for main in (False, True) for bit in (1, 6, 7)
]
U64 = st.integers(0, 2**64 - 1)


def _composed_to_entry(ops: SwapOps, pte: int) -> int:
    arch = pte & ops._NOT_SWP_FLAGS
    return swp_entry(ops._SwapOps__swp_type(arch), ops._SwapOps__swp_offset(arch))


def _composed_to_pte(ops: SwapOps, entry: int) -> int:
    return ops._SwapOps__swp_entry(swp_type(entry), swp_offset(entry))


@pytest.mark.parametrize("ops", LAYOUTS, ids=lambda o: f"inv{o.inverted_offset}-"
                         f"sd{o._PAGE_SWP_SOFT_DIRTY:#x}-hw{o.SWP_HWPOISON}")
@given(word=U64)
def test_inlined_conversions_equal_the_composed_ones(ops, word):
    assert ops.pte_to_swp_entry(word) == _composed_to_entry(ops, word)
    assert ops.pmd_to_swp_entry(word) == _composed_to_entry(ops, word)
    assert ops.swp_entry_to_pte(word) == _composed_to_pte(ops, word)
    assert ops.swp_entry_to_pmd(word) == _composed_to_pte(ops, word)


@pytest.mark.parametrize("ops", LAYOUTS[:1] + LAYOUTS[6:7])
def test_edges(ops):
    for w in (0, 1, 2**64 - 1, 2**63, 2**59, 2**59 - 1, 0x3E00, 0xFFFF_C000):
        assert ops.pte_to_swp_entry(w) == _composed_to_entry(ops, w)
        assert ops.swp_entry_to_pte(w) == _composed_to_pte(ops, w)
