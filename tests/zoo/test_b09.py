"""B9: set_pmd_migration_entry() reads the PMD, then invalidates it: a store
between the two sets D in the PMD and the invalidation drops it, so a THP written after
MADV_FREE is clean (reclaim could discard the store)."""

from zoo_entry_helpers import (
    bug,
    explore_finds_nothing,
    explore_first_failure,
    replay_scenario,
    signature,
)

SCENARIO = "free_vs_migration"
SW = bug("B9").switches


def test_found_replays_and_passes_now():
    _, ex = explore_first_failure("B9")
    assert "dirty bit lost" in ex.failure.message
    sched = ex.failure.schedule.encode()
    again = replay_scenario(SCENARIO, "seed", SW, sched)
    assert again.failure is not None and signature(again) == signature(ex)
    # passes now: the same operations under the same schedule, the switch off
    assert replay_scenario(SCENARIO, "seed", {}, sched, strict=False).failure is None


def test_switch_off_finds_nothing():
    explore_finds_nothing(SCENARIO, 2)
