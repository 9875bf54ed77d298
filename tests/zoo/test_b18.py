"""B18: -ENOMEM for a THP target aborts the whole migration list (docs/zoo/b18.md).

4.14 migrate_pages() gives up on -ENOMEM; 4.17+ splits the THP and migrates its pages.
The seed profile has 4.14's behaviour (``migrate_thp_split_on_enomem`` off); the bug
switch brings it back into mainline. Found by the explorer on
``migrate_to_fragmented_node`` (one CPU, one interleaving).
"""

from __future__ import annotations

import errno

import pytest
from acct_helpers import finds_nothing, found_replayed_fixed
from zoo_helpers import assert_switch_off_everywhere

from thpsim.scenarios import explore
from thpsim.testing import DfsScheduler
from thpsim.zoo.bugs_acct import B18
from thpsim.zoo.catalog import CATALOG

SWITCH = "bug_b18_enomem_aborts_list"


def test_catalog_entry():
    assert CATALOG["B18"] is B18 and B18.switches == {SWITCH: True}
    assert B18.profile == "mainline"
    assert_switch_off_everywhere(SWITCH)


def test_the_explorer_finds_it_and_it_passes_now(out):
    m, msg = found_replayed_fixed(B18, 0, out, needle="move_pages returned (-12")
    ev = m.vmstat()
    assert ev["thp_migration_split"] == 0 and ev["thp_migration_fail"] == 1


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    finds_nothing(B18, 0, profile, out)


@pytest.mark.parametrize("profile,ret,split", [("seed", -errno.ENOMEM, 0),
                                               ("mainline", 0, 1)])
def test_era_behaviour(profile, ret, split):
    """migrate_thp_split_on_enomem: 4.14 returns -ENOMEM (both pages stay), 4.17+ splits
    the THP (thp_migration_split) and moves everything."""
    from thpsim.scenarios import SCENARIOS

    sr = SCENARIOS["migrate_to_fragmented_node"](profile)
    sched = DfsScheduler(0)
    sched.new_execution()
    ex = sr.race.run(scheduler=sched)
    assert ex.result(0, 0)[0] == ret
    assert sr.machine.vmstat()["thp_migration_split"] == split
    assert sr.check(ex) is None
    assert explore("migrate_to_fragmented_node", 0, profile)[1] == []
