"""B11: fork and mprotect rewrite a PMD migration entry as a read entry without its
soft-dirty bit: pagemap loses the write made after clear_refs."""

from zoo_entry_helpers import (
    bug,
    explore_finds_nothing,
    explore_first_failure,
    replay_scenario,
    signature,
)

SCENARIO = "softdirty_vs_migration"
SW = bug("B11").switches


def test_found_replays_and_passes_now():
    _, ex = explore_first_failure("B11")
    assert "soft-dirty lost" in ex.failure.message
    sched = ex.failure.schedule.encode()
    again = replay_scenario(SCENARIO, "seed", SW, sched)
    assert again.failure is not None and signature(again) == signature(ex)
    # passes now: the same operations under the same schedule, the switch off
    assert replay_scenario(SCENARIO, "seed", {}, sched, strict=False).failure is None


def test_switch_off_finds_nothing():
    explore_finds_nothing(SCENARIO, 2)
