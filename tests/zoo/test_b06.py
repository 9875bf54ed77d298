"""B6: _PAGE_SWP_SOFT_DIRTY at bit 6 (_PAGE_DIRTY, the series' v2 proposal) on a CPU
with the Knights Landing A/D erratum: a stray D in a migration entry reads as
soft-dirty."""

import pytest
from zoo_entry_helpers import (
    bug,
    explore_finds_nothing,
    explore_first_failure,
    replay_scenario,
    signature,
)

from thpsim.arch.x86_64.pgtable import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    HPAGE_PMD_SIZE,
    mk_table_entry,
    pgd_index,
    pmd_index,
    pud_index,
)
from thpsim.arch.x86_64.swapops import SwapOps
from thpsim.hw.cpu import WALK_NOT_PRESENT, mmu_walk
from thpsim.scenarios import explore

SCENARIO = "knl_softdirty_vs_migration"
SW = bug("B6").switches


def test_found_replays_and_passes_now():
    n, ex = explore_first_failure("B6")
    assert "spurious soft-dirty" in ex.failure.message
    sched = ex.failure.schedule.encode()
    again = replay_scenario(SCENARIO, "seed", SW, sched)
    assert again.failure is not None and signature(again) == signature(ex)
    # passes now: the same machine (erratum on), soft-dirty at bit 1
    assert replay_scenario(SCENARIO, "seed", {}, sched, strict=False).failure is None


def test_bit6_alone_is_harmless_without_the_erratum():
    """Both values of the machine option: the bug needs the stray bit."""
    n, fails = explore(SCENARIO, 2, "seed", {**SW, "knl_ad_erratum": False})
    assert n > 1 and not fails


def test_switch_off_finds_nothing():
    explore_finds_nothing(SCENARIO, 2)


@pytest.mark.parametrize("erratum", [False, True])
@pytest.mark.parametrize("write", [False, True])
def test_mmu_walk_sets_stray_bits_only_on_an_erratum_cpu(erratum, write):
    """The machine option alone: an access that faults on a swap-format PMD (a migration
    entry) leaves A, and D for a store, in it on a Knights Landing CPU; nothing
    otherwise; never in a none PMD; the entry decodes to the same page either way."""
    swp = SwapOps(inverted_offset=False, mainline_types=False)
    entry = swp.swp_entry_to_pmd(swp.make_migration_entry(0x800, True))
    va = 0x7F00_0000_0000

    class Mem:
        tables = {1: [0] * 512, 2: [0] * 512, 3: [0] * 512}

    mem = Mem()
    mem.tables[1][pgd_index(va)] = mk_table_entry(2)
    mem.tables[2][pud_index(va)] = mk_table_entry(3)
    mem.tables[3][pmd_index(va)] = entry
    mem.tables[3][pmd_index(va) + 1] = 0
    assert mmu_walk(mem, 1, va, write, erratum) == (WALK_NOT_PRESENT, False)
    assert mmu_walk(mem, 1, va + HPAGE_PMD_SIZE, write, erratum) == (WALK_NOT_PRESENT, False)
    got = mem.tables[3][pmd_index(va)]
    stray = (_PAGE_ACCESSED | (_PAGE_DIRTY if write else 0)) if erratum else 0
    assert got == entry | stray
    assert mem.tables[3][pmd_index(va) + 1] == 0
    assert swp.pmd_to_swp_entry(got) == swp.pmd_to_swp_entry(entry)


def test_the_machine_option_is_a_bool():
    from thpsim import ConfigError, Machine

    with pytest.raises(ConfigError):
        Machine(nodes={0: 32 << 20}, block_size=32 << 20, cpus=1, knl_ad_erratum="yes")
