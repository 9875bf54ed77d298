"""B4: the PMD is transiently none while only mmap_sem read is held (docs/zoo/b04.md).

v3's set_pmd_migration_entry() clears the PMD with pmdp_huge_clear_flush(): none through
the flush, so MADV_DONTNEED (mmap_sem read) skips it. Found by the default stress mix
and by the explorer on ``dontneed_vs_migration``.
"""

from __future__ import annotations

import pytest
from zoo_helpers import assert_switch_off_everywhere, replay_with_machine

from thpsim.zoo.bugs_pmd import B4
from thpsim.zoo.catalog import CATALOG
from thpsim.zoo.runner import confirm, replay_scenario, run_detector

SWITCH = "bug_b4_transient_none_pmd"
STRESS = 0  # the default-mix detector
EXPLORE = 1  # the explorer over dontneed_vs_migration


def test_catalog_entry():
    assert CATALOG["B4"] is B4 and B4.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)
    assert B4.detectors[EXPLORE].scenario == "dontneed_vs_migration"


def test_the_default_stress_mix_finds_it(out):
    """Seed 2: found in round 14 of the catalog's budget (pagemap read the PMD while
    it was none)."""
    d = B4.detectors[STRESS]
    fd = run_detector(d, B4.profile, B4.switches, seed=2, out=out)
    assert fd.found and fd.runs <= d.budget
    assert fd.kind == "integrity" and "reads as not present" in fd.message
    c = confirm(B4, fd, out, shrink=False)
    assert c.replays_same, "the reproducer does not fail the same way again"
    assert c.passes_now, "the reproducer still fails with the switch off"
    assert f"--switch {SWITCH}=0" in c.passes_now_replay


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    fd = run_detector(B4.detectors[EXPLORE], B4.profile, B4.switches, seed=0, out=out)
    assert fd.found and fd.kind == "check", fd.message
    assert "stale data after MADV_DONTNEED" in fd.message, fd.message
    c = confirm(B4, fd, out)
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
    fd = run_detector(B4.detectors[EXPLORE], profile, {}, seed=0, out=out)
    assert not fd.found, fd.message
    assert fd.runs > 10
