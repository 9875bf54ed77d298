"""B17: a fault waiting on a migration entry pins the page (docs/zoo/b17.md).

4.14's waiter holds a reference while it sleeps, so the migrator's refcount check
fails (-EAGAIN) for as long as faults keep coming; 5.0 dropped it. The seed profile has
that as era behaviour (``migration_entry_wait_no_ref`` off); the bug switch brings it
back into mainline. Found by the explorer on ``faults_vs_migration``.
"""

from __future__ import annotations

import errno

import pytest
from acct_helpers import finds_nothing, found_replayed_fixed
from zoo_helpers import assert_switch_off_everywhere

from thpsim.scenarios import run_scenario
from thpsim.testing import make_scheduler
from thpsim.zoo.bugs_acct import B17
from thpsim.zoo.catalog import CATALOG

SWITCH = "bug_b17_waiter_takes_ref"


def test_catalog_entry():
    assert CATALOG["B17"] is B17 and B17.switches == {SWITCH: True}
    assert B17.profile == "mainline"
    assert_switch_off_everywhere(SWITCH)


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    m, msg = found_replayed_fixed(B17, 0, out, needle="was not moved")
    ev = m.vmstat()
    assert ev["thp_migration_fail"] == 1 and ev["thp_migration_success"] == 0


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    finds_nothing(B17, 0, profile, out)


def _outcomes(profile: str, **switches) -> set:
    got = set()
    for seed in range(40):
        sched = make_scheduler("random", seed)
        sched.new_execution()
        ex = run_scenario("faults_vs_migration", sched, profile, switches, seed)
        assert ex.failure is None, ex.failure.message
        got.add(repr(ex.result(0, 0)))
    return got


@pytest.mark.parametrize("no_ref", [False, True])
def test_era_switch_waiter_reference(no_ref):
    """migration_entry_wait_no_ref: 4.14's pinned waiters can fail the move (-EAGAIN in
    move_pages' status, the documented outcome); 5.0+ waiters never do."""
    got = _outcomes("seed", migration_entry_wait_no_ref=no_ref)
    eagain = repr((0, [-errno.EAGAIN]))
    assert (eagain in got) is not no_ref, got
    assert repr((0, [1])) in got
