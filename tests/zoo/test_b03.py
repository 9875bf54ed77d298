"""B3: no TLB flush when installing the PMD migration entry (docs/zoo/b03.md).

Found by the default stress mix and by the explorer on ``stale_tlb``; the shrunk
reproducer fails the same way; with the switch off it passes now.
"""

from __future__ import annotations

import pytest
from zoo_helpers import assert_switch_off_everywhere, replay_with_machine

from thpsim.zoo.bugs_pmd import B3
from thpsim.zoo.catalog import CATALOG
from thpsim.zoo.runner import confirm, replay_scenario, run_detector

SWITCH = "bug_b3_pmd_migration_no_flush"


def test_catalog_entry():
    assert CATALOG["B3"] is B3 and B3.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)
    assert [d.kind for d in B3.detectors] == ["stress", "explore"]


def test_the_default_stress_mix_finds_it(out):
    """Seed 2: found in round 4 of the catalog's budget."""
    fd = run_detector(B3.detectors[0], B3.profile, B3.switches, seed=2, out=out)
    assert fd.found and fd.runs <= B3.detectors[0].budget
    assert fd.kind == "integrity" and "lost write" in fd.message
    c = confirm(B3, fd, out, shrink=False)
    assert c.replays_same, "the reproducer does not fail the same way again"
    assert c.passes_now, "the reproducer still fails with the switch off"
    assert "--switch bug_b3_pmd_migration_no_flush=0" in c.passes_now_replay


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    fd = run_detector(B3.detectors[1], B3.profile, B3.switches, seed=0, out=out)
    assert fd.found and fd.kind == "check" and "lost write" in fd.message
    c = confirm(B3, fd, out)
    assert c.replays_same and c.passes_now
    assert c.shrunk_length <= c.original_length
    name, profile, switches, schedule = c.reproducer
    _, msg = replay_with_machine(name, profile, switches, schedule)
    assert msg and "lost write: CPU1 stored 2" in msg
    # the same operations under the same schedule, as far as it applies, switch off
    ex = replay_scenario(name, profile, {}, schedule, lenient=True)
    assert ex.failure is None, ex.failure and ex.failure.message


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    fd = run_detector(B3.detectors[1], profile, {}, seed=0, out=out)
    assert not fd.found and fd.runs > 5
