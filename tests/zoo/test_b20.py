"""B20: smaps drops a THP under migration from Rss and AnonHugePages (docs/zoo/b20.md).

4.14 smaps_pte_range() accounts a present PMD only; 5.8+ accounts a PMD migration entry
too. The seed profile has 4.14's behaviour (``smaps_pmd_migration_entry`` off); the bug
switch brings it back into mainline. Found by the explorer on ``smaps_vs_migration``.
"""

from __future__ import annotations

import pytest
from acct_helpers import finds_nothing, found_replayed_fixed
from zoo_helpers import assert_switch_off_everywhere

from thpsim.scenarios import SCENARIOS
from thpsim.testing import DfsScheduler
from thpsim.zoo.bugs_acct import B20
from thpsim.zoo.catalog import CATALOG

SWITCH = "bug_b20_smaps_skips_pmd_migration_entry"


def test_catalog_entry():
    assert CATALOG["B20"] is B20 and B20.switches == {SWITCH: True}
    assert B20.profile == "mainline"
    assert_switch_off_everywhere(SWITCH)


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    found_replayed_fixed(B20, 0, out, needle="Rss 0 kB, AnonHugePages 0 kB")


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    finds_nothing(B20, 0, profile, out)


@pytest.mark.parametrize("profile,counted", [("seed", False), ("mainline", True)])
def test_era_behaviour(profile, counted):
    """smaps_pmd_migration_entry: in some interleaving smaps_rollup is read while the
    PMD is a migration entry; 4.14 then shows 0 kB, 5.8+ the whole THP."""
    seen = set()
    sched = DfsScheduler(1)
    while sched.new_execution():
        sr = SCENARIOS["smaps_vs_migration"](profile)
        ex = sr.race.run(scheduler=sched)
        assert sr.check(ex) is None
        text = ex.result(1, 0)
        seen.add("Rss:                   0 kB" in text)
    assert seen == ({False} if counted else {False, True})
