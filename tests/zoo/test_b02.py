"""B2: a PMD migration entry is cleared as a bad PMD (docs/zoo/b02.md).

MADV_FREE hands the migration entry to pmd_trans_unstable(), which (without the
``!pmd_present`` clause) finds it bad: "bad pmd", the PMD cleared, its deposited table
and RSS leaked, the data gone. Found by the default stress mix and by the explorer on
``madvise_free_vs_migration``.
"""

from __future__ import annotations

import pytest
from zoo_helpers import assert_switch_off_everywhere, replay_with_machine

from thpsim.zoo.bugs_pmd import B2
from thpsim.zoo.catalog import CATALOG
from thpsim.zoo.runner import confirm, replay_scenario, run_detector

SWITCH = "bug_b2_clear_bad_ignores_migration"
STRESS = 0  # the default-mix detector
EXPLORE = 1  # the explorer over madvise_free_vs_migration


def test_catalog_entry():
    assert CATALOG["B2"] is B2 and B2.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)
    assert B2.detectors[EXPLORE].scenario == "madvise_free_vs_migration"


def test_the_default_stress_mix_finds_it(out):
    """Seed 5: found in round 24 of the catalog's budget."""
    d = B2.detectors[STRESS]
    fd = run_detector(d, B2.profile, B2.switches, seed=5, out=out)
    assert fd.found and fd.runs <= d.budget
    assert fd.kind == "invariant"
    assert "check_deposits" in fd.message and "check_rss_counters" in fd.message
    c = confirm(B2, fd, out, shrink=False)
    assert c.replays_same, "the reproducer does not fail the same way again"
    assert c.passes_now, "the reproducer still fails with the switch off"
    assert f"--switch {SWITCH}=0" in c.passes_now_replay


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    fd = run_detector(B2.detectors[EXPLORE], B2.profile, B2.switches, seed=0, out=out)
    assert fd.found and fd.kind == "check", fd.message
    assert "lost write" in fd.message, fd.message
    c = confirm(B2, fd, out)
    assert c.replays_same and c.passes_now
    assert c.shrunk_length <= c.original_length
    name, profile, switches, schedule = c.reproducer
    m, msg = replay_with_machine(name, profile, switches, schedule)
    assert msg and "holds None after MADV_FREE" in msg, msg
    assert any("bad pmd" in line for line in m.kernel.dmesg)
    # the same operations under the same schedule, as far as it applies, switch off
    ex = replay_scenario(name, profile, {}, schedule, lenient=True)
    assert ex.failure is None, ex.failure and ex.failure.message


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    fd = run_detector(B2.detectors[EXPLORE], profile, {}, seed=0, out=out)
    assert not fd.found, fd.message
    assert fd.runs > 10
