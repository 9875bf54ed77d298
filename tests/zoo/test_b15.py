"""B15: change_pmd_range()'s multi-read guard races to a false "bad pmd" (docs/zoo/b15.md).

mprotect's guard reads the PMD four times; a THP that becomes a migration entry after
the first read is passed to pmd_none_or_clear_bad(): "bad pmd", cleared. Found by the
explorer on ``mprotect_vs_migration`` (the default stress mix meets it too rarely).
"""

from __future__ import annotations

import pytest
from zoo_helpers import assert_switch_off_everywhere, replay_with_machine

from thpsim.zoo.bugs_pmd import B15
from thpsim.zoo.catalog import CATALOG
from thpsim.zoo.runner import confirm, replay_scenario, run_detector

SWITCH = "bug_b15_change_pmd_multiread"
EXPLORE = 0  # the explorer over mprotect_vs_migration


def test_catalog_entry():
    assert CATALOG["B15"] is B15 and B15.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)
    assert B15.detectors[EXPLORE].scenario == "mprotect_vs_migration"


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    fd = run_detector(B15.detectors[EXPLORE], B15.profile, B15.switches, seed=0, out=out)
    assert fd.found and fd.kind == "check", fd.message
    assert "check_deposits" in fd.message, fd.message
    c = confirm(B15, fd, out)
    assert c.replays_same and c.passes_now
    assert c.shrunk_length <= c.original_length
    name, profile, switches, schedule = c.reproducer
    m, msg = replay_with_machine(name, profile, switches, schedule)
    assert msg and "check_rss_counters" in msg, msg
    assert any("bad pmd" in line for line in m.kernel.dmesg)
    # the same operations under the same schedule, as far as it applies, switch off
    ex = replay_scenario(name, profile, {}, schedule, lenient=True)
    assert ex.failure is None, ex.failure and ex.failure.message


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    fd = run_detector(B15.detectors[EXPLORE], profile, {}, seed=0, out=out)
    assert not fd.found, fd.message
    assert fd.runs > 10
