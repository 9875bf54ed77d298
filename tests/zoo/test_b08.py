"""B8: splitting a PMD migration entry with the present-entry accessors turns a
soft-dirty read entry into write PTE entries: the parent writes into the THP its child
shares."""

from zoo_entry_helpers import (
    bug,
    explore_finds_nothing,
    explore_first_failure,
    replay_scenario,
    signature,
)

SCENARIO = "fork_split_vs_migration"
SW = bug("B8").switches


def test_found_replays_and_passes_now():
    _, ex = explore_first_failure("B8")
    assert "COW broken" in ex.failure.message
    sched = ex.failure.schedule.encode()
    again = replay_scenario(SCENARIO, "seed", SW, sched)
    assert again.failure is not None and signature(again) == signature(ex)
    # passes now: the same operations under the same schedule, the switch off
    assert replay_scenario(SCENARIO, "seed", {}, sched, strict=False).failure is None


def test_switch_off_finds_nothing():
    explore_finds_nothing(SCENARIO, 1)
