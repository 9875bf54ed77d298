"""B19: GUP-fast reads a PMD migration entry as a page table (docs/zoo/b19.md).

The lockless walk of get_user_pages_fast() must fall back to the slow path for a PMD
that is not present; v1 of the series fell back only for pmd_none(). Found by the
random scheduler on ``soft_offline_vs_migration`` (madvise(MADV_SOFT_OFFLINE) starts
with get_user_pages_fast()).
"""

from __future__ import annotations

import pytest
from acct_helpers import finds_nothing, found_replayed_fixed
from zoo_helpers import assert_switch_off_everywhere

from thpsim.scenarios import explore
from thpsim.zoo.bugs_acct import B19
from thpsim.zoo.catalog import CATALOG

SWITCH = "bug_b19_gup_fast_pmd_none"


def test_catalog_entry():
    assert CATALOG["B19"] is B19 and B19.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)


def test_the_random_scheduler_finds_it_shrinks_and_it_passes_now(out):
    m, msg = found_replayed_fixed(B19, 0, out, needle="pte_offset_map()")
    assert "is no PTE table" in msg


def test_the_explorer_finds_it_at_bound_1_in_seed():
    n, fails = explore("soft_offline_vs_migration", 1, "seed", {SWITCH: True})
    assert fails and n <= 19


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_random_scheduler_finds_nothing(profile, out):
    finds_nothing(B19, 0, profile, out)
