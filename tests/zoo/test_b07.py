"""B7: split_huge_page() freezing with TTU_MIGRATION: the rmap walk meets the PMD
mapping at PMD level and installs a PMD migration entry instead of 512 PTE migration
entries, then the split compound page gets a huge mapping back (VM_BUG_ON)."""

import pytest
from zoo_entry_helpers import (
    bug,
    failure_signature,
    replay_stress,
    shrink,
    stress_first_failure,
)

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_FREE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    KernelBug,
    Machine,
)

SW = bug("B7").switches
MB = 1 << 20


def test_stress_finds_it_shrinks_and_replays(tmp_path):
    cfg, res, path = stress_first_failure("B7", 0, tmp_path)
    assert res.failure.kind == "bug"
    assert "remove_migration_pte" in res.failure.message
    sig = failure_signature(res.failure)
    out = shrink(path, tmp_path)
    assert replay_stress(out).failure is not None
    assert failure_signature(replay_stress(out).failure) == sig
    fixed = replay_stress(out, switches={}, strict=False)
    assert fixed.failure is None, fixed.failure


@pytest.mark.parametrize("profile", ["seed", "mainline"])
@pytest.mark.parametrize("on", [False, True])
def test_madv_free_of_part_of_a_thp_splits_it(profile, on):
    """MADV_FREE of part of a PMD-mapped THP splits the page (madvise_free_huge_pmd ->
    split_huge_page): fine with the freeze splitting the PMD; a kernel BUG with B7."""
    m = Machine(nodes={0: 64 * MB}, block_size=64 * MB, cpus=1, profile=profile,
                check=True, **({"bug_b7_freeze_uses_ttu_migration": True} if on else {}))
    p = m.spawn()
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    for i in range(4):
        p.threads[0].write(a + i * PAGE_SIZE, i + 1)
    if on:
        with pytest.raises(KernelBug, match="remove_migration_pte"):
            p.madvise(a, 2 * PAGE_SIZE, MADV_FREE)
        return
    assert p.madvise(a, 2 * PAGE_SIZE, MADV_FREE) == 0
    assert [p.threads[0].read(a + i * PAGE_SIZE) for i in (2, 3)] == [3, 4]
    m.check_integrity()
