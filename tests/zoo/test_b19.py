"""B19: GUP-fast reads a PMD migration entry as a page table (docs/zoo/b19.md).

The lockless walk of get_user_pages_fast() must fall back to the slow path for a PMD
that is not present; v1 of the series fell back only for pmd_none(). Found by the
stress mix with three migrator CPUs (one soft-offlines a page of a THP another is
migrating) and by the random scheduler on ``soft_offline_vs_migration``
(madvise(MADV_SOFT_OFFLINE) starts with get_user_pages_fast()).
"""

from __future__ import annotations

import pytest
from acct_helpers import finds_nothing, found_replayed_fixed
from zoo_helpers import assert_switch_off_everywhere

from thpsim.scenarios import explore
from thpsim.zoo.bugs_acct import B19
from thpsim.zoo.catalog import CATALOG
from thpsim.zoo.runner import confirm, run_detector

SWITCH = "bug_b19_gup_fast_pmd_none"
STRESS = 0  # the stress mix with migrators=3
RANDOM = 1  # the random scheduler over soft_offline_vs_migration


def test_catalog_entry():
    assert CATALOG["B19"] is B19 and B19.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)


def test_the_stress_mix_with_three_migrators_finds_it_and_it_passes_now(out):
    """Seed 0: round 8 of the budget's 100."""
    d = B19.detectors[STRESS]
    assert d.stress == {"migrators": 3}
    fd = run_detector(d, B19.profile, B19.switches, seed=0, out=out)
    assert fd.found and fd.runs <= d.budget
    assert fd.kind == "bug" and "pte_offset_map()" in fd.message, fd.message
    c = confirm(B19, fd, out, shrink=False)
    assert c.replays_same and c.passes_now
    assert f"--switch {SWITCH}=0" in c.passes_now_replay


def test_the_random_scheduler_finds_it_shrinks_and_it_passes_now(out):
    m, msg = found_replayed_fixed(B19, RANDOM, out, needle="pte_offset_map()")
    assert "is no PTE table" in msg


def test_the_explorer_finds_it_at_bound_1_in_seed():
    n, fails = explore("soft_offline_vs_migration", 1, "seed", {SWITCH: True})
    assert fails and n <= 19


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_random_scheduler_finds_nothing(profile, out):
    finds_nothing(B19, RANDOM, profile, out)
