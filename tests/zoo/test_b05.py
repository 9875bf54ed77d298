"""B5: _PAGE_SWP_SOFT_DIRTY at bit 7 (_PAGE_PSE): a soft-dirty PMD migration entry is
pmd_present() and pmd_trans_huge(), so the kernel takes it for a mapped THP."""

from zoo_entry_helpers import (
    bug,
    explore_finds_nothing,
    explore_first_failure,
    failure_signature,
    replay_scenario,
    replay_stress,
    shrink,
    signature,
    stress_first_failure,
)

from thpsim.arch.x86_64.pgtable import pmd_present, pmd_trans_huge
from thpsim.arch.x86_64.swapops import SwapOps, is_swap_pmd

SW = bug("B5").switches


def test_bit7_makes_a_soft_dirty_migration_entry_look_present():
    for bit, looks_present in ((7, True), (1, False)):
        swp = SwapOps(inverted_offset=False, mainline_types=False, soft_dirty_bit=bit)
        pmd = swp.pmd_swp_mksoft_dirty(swp.swp_entry_to_pmd(swp.make_migration_entry(0x800, True)))
        assert pmd_present(pmd) is looks_present
        assert pmd_trans_huge(pmd) is looks_present
        assert is_swap_pmd(pmd) is not looks_present
        # the entry still decodes to the same page whatever the bit
        assert swp.pfn_swap_entry_pfn(swp.pmd_to_swp_entry(pmd)) == 0x800


def test_stress_finds_it_shrinks_and_replays(tmp_path):
    cfg, res, path = stress_first_failure("B5", 0, tmp_path)
    assert res.failure.kind == "bug"
    sig = failure_signature(res.failure)
    out = shrink(path, tmp_path)
    again = replay_stress(out, strict=True)
    assert failure_signature(again.failure) == sig
    # passes now: the same operations and schedule, soft-dirty at bit 1
    fixed = replay_stress(out, switches={}, strict=False)
    assert fixed.failure is None, fixed.failure


def test_fault_vs_migration_finds_it_without_preemption():
    _, ex = explore_first_failure("B5")
    sched = ex.failure.schedule.encode()
    again = replay_scenario("fault_vs_migration", "seed", SW, sched)
    assert signature(again) == signature(ex) and again.failure is not None
    assert replay_scenario("fault_vs_migration", "seed", {}, sched, strict=False).failure is None


def test_switch_off_finds_nothing():
    explore_finds_nothing("fault_vs_migration", 1)
