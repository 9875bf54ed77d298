"""Helpers of the zoo tests: a scenario run under a recorded schedule, with its machine
(for dmesg), and a bug switch checked off in every profile."""

from __future__ import annotations

from typing import Any

from thpsim.profiles import PROFILES
from thpsim.scenarios import SCENARIOS
from thpsim.testing import ReplayScheduler


def replay_with_machine(name: str, profile: str, switches: dict[str, Any],
                        schedule: str) -> tuple[Any, Any]:
    """Build scenario ``name`` and run it under ``schedule`` (strictly): (the machine,
    the Execution, its end check applied as run_scenario() does)."""
    sr = SCENARIOS[name](profile, **switches)
    sched = ReplayScheduler(schedule)
    sched.new_execution()
    ex = sr.race.run(scheduler=sched, seed=sched.schedule.seed)
    msg = sr.check(ex) if ex.failure is None else ex.failure.message
    return sr.machine, msg


def assert_switch_off_everywhere(switch: str) -> None:
    for name, prof in PROFILES.items():
        assert getattr(prof, switch) in (False, 0), f"{switch} is on in profile {name}"
