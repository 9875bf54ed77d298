"""Helpers of the zoo tests of B12-B20 (bugs_acct): find a bug with one detector, check
that its shrunk reproducer fails the same way and passes with the switch off."""

from __future__ import annotations

from typing import Any

from zoo_helpers import replay_with_machine

from thpsim.zoo.catalog import Bug
from thpsim.zoo.runner import confirm, replay_scenario, run_detector


def found_replayed_fixed(bug: Bug, detector: int, out: str, seed: int = 0,
                         needle: str = "") -> tuple[Any, str]:
    """Run ``bug``'s detector number ``detector`` on ``seed``: it must find the bug (its
    message containing ``needle``), the shrunk reproducer must fail the same way, and
    the same schedule must pass with the switch off. Returns (the machine of the
    shrunk reproducer's replay, its failure message)."""
    d = bug.detectors[detector]
    fd = run_detector(d, bug.profile, bug.switches, seed=seed, out=out)
    assert fd.found, f"{bug.id} not found by {d}"
    assert fd.runs <= max(d.budget, 1) or d.kind == "explore"
    assert needle in fd.message, fd.message
    c = confirm(bug, fd, out)
    assert c.replays_same, "the shrunk reproducer does not fail the same way"
    assert c.passes_now, "the shrunk reproducer still fails with the switch off"
    assert c.shrunk_length <= c.original_length
    name, profile, switches, schedule = c.reproducer
    m, msg = replay_with_machine(name, profile, switches, schedule)
    assert msg and needle in msg, msg
    ex = replay_scenario(name, profile, {}, schedule, lenient=True)
    assert ex.failure is None, ex.failure and ex.failure.message
    return m, msg


def finds_nothing(bug: Bug, detector: int, profile: str, out: str, seed: int = 0) -> None:
    """The detector with every switch off finds nothing in ``profile``."""
    fd = run_detector(bug.detectors[detector], profile, {}, seed=seed, out=out)
    assert not fd.found, fd.message
