"""B1: zap_pmd_range() classifies the PMD with separate lockless reads (docs/zoo/b01.md).

A THP that turns into a migration entry between the reads is skipped as unstable: the
range is not zapped. Found by the default stress mix and by the explorer on
``dontneed_vs_migration``.
"""

from __future__ import annotations

import pytest
from zoo_helpers import assert_switch_off_everywhere, replay_with_machine

from thpsim.zoo.bugs_pmd import B1
from thpsim.zoo.catalog import CATALOG
from thpsim.zoo.runner import confirm, replay_scenario, run_detector

SWITCH = "bug_b1_zap_lockless_multiread"
STRESS = 0  # the default-mix detector
EXPLORE = 1  # the explorer over dontneed_vs_migration


def test_catalog_entry():
    assert CATALOG["B1"] is B1 and B1.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)
    assert B1.detectors[EXPLORE].scenario == "dontneed_vs_migration"


def test_the_default_stress_mix_finds_it(out):
    """Seed 1: found in round 40 of the catalog's budget (a lost write: a range
    MADV_DONTNEED skipped still holds its old data). Other seeds end in the other
    symptoms of a range left unzapped (a PMD table freed while in use, a store that
    keeps faulting)."""
    d = B1.detectors[STRESS]
    fd = run_detector(d, B1.profile, B1.switches, seed=1, out=out)
    assert fd.found and fd.runs <= d.budget
    assert fd.kind == "integrity" and "lost write" in fd.message, fd.message
    c = confirm(B1, fd, out, shrink=False)
    assert c.replays_same, "the reproducer does not fail the same way again"
    assert c.passes_now, "the reproducer still fails with the switch off"
    assert f"--switch {SWITCH}=0" in c.passes_now_replay


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    fd = run_detector(B1.detectors[EXPLORE], B1.profile, B1.switches, seed=0, out=out)
    assert fd.found and fd.kind == "check", fd.message
    assert "stale data after MADV_DONTNEED" in fd.message, fd.message
    c = confirm(B1, fd, out)
    assert c.replays_same and c.passes_now
    assert c.shrunk_length <= c.original_length
    name, profile, switches, schedule = c.reproducer
    m, msg = replay_with_machine(name, profile, switches, schedule)
    assert msg and "CPU1 loaded 1" in msg, msg
    # the same operations under the same schedule, as far as it applies, switch off
    ex = replay_scenario(name, profile, {}, schedule, lenient=True)
    assert ex.failure is None, ex.failure and ex.failure.message


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    fd = run_detector(B1.detectors[EXPLORE], profile, {}, seed=0, out=out)
    assert not fd.found, fd.message
    assert fd.runs > 10
