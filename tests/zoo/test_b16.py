"""B16: split_huge_pmd compares the caller's page with pmd_folio() of a PMD migration
entry (docs/zoo/b16.md).

split_huge_page()'s anon_vma walk reaches a forked child's VMA, where another THP is
being migrated; reading a struct page from the entry's swap bits faults (6.x; 4.14 only
compared pointers). Found by the random scheduler on ``split_vs_migration_after_fork``.
"""

from __future__ import annotations

import pytest
from acct_helpers import finds_nothing, found_replayed_fixed
from zoo_helpers import assert_switch_off_everywhere

from thpsim.zoo.bugs_acct import B16
from thpsim.zoo.catalog import CATALOG

SWITCH = "bug_b16_split_pmd_page_of_migration_entry"


def test_catalog_entry():
    assert CATALOG["B16"] is B16 and B16.switches == {SWITCH: True}
    assert B16.profile == "mainline"
    assert_switch_off_everywhere(SWITCH)


def test_the_random_scheduler_finds_it_shrinks_and_it_passes_now(out):
    m, msg = found_replayed_fixed(B16, 0, out, needle="unable to handle page fault")
    assert "pmd_folio" in msg and "outside the memmap" in msg


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_random_scheduler_finds_nothing(profile, out):
    finds_nothing(B16, 0, profile, out)
