"""B12: a THP that PTEs map stays mlocked after migration (docs/zoo/b12.md).

remove_migration_pmd() mlocks the new THP for a VM_LOCKED VMA that maps it by PMD; a
later PTE mapping of it (a child that split its PMD) must munlock it again (4.19,
C:e125fe405abe). Found by the explorer on ``mlock_fork_vs_migration``; the checker
that fires is check_mlocked.
"""

from __future__ import annotations

import pytest
from acct_helpers import finds_nothing, found_replayed_fixed
from zoo_helpers import assert_switch_off_everywhere

from thpsim import (
    HPAGE_PMD_SIZE,
    MAP_ANONYMOUS,
    MAP_LOCKED,
    MAP_PRIVATE,
    MPOL_MF_MOVE_ALL,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    IntegrityError,
    Machine,
)
from thpsim.zoo.bugs_acct import B12
from thpsim.zoo.catalog import CATALOG

SWITCH = "bug_b12_mlock_pte_mapped_thp"
MB = 1 << 20


def test_catalog_entry():
    assert CATALOG["B12"] is B12 and B12.switches == {SWITCH: True}
    assert_switch_off_everywhere(SWITCH)


def test_the_explorer_finds_it_shrinks_and_it_passes_now(out):
    m, msg = found_replayed_fixed(B12, 0, out, needle="check_mlocked")
    assert "mlocked but mapped by 511 PTEs" in msg


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_switch_off_the_explorer_finds_nothing(profile, out):
    finds_nothing(B12, 0, profile, out)


def _changelog_test_case(profile: str, **switches):
    """The fix's own test case, in order: a MAP_LOCKED THP, fork, the child mlocks 4 KiB
    of it and moves the range (MPOL_MF_MOVE_ALL here: the page is shared)."""
    m = Machine(nodes={0: 64 * MB, 1: 64 * MB}, block_size=64 * MB, cpus=2, profile=profile,
                **switches)
    p = m.spawn(cpu=0)
    base = p.mmap(0, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED)
    a = (base + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    # keep the one 2 MiB-aligned THP (the changelog maps it at a fixed aligned address)
    if a > base:
        p.munmap(base, a - base)
    p.munmap(a + HPAGE_PMD_SIZE, base + 2 * HPAGE_PMD_SIZE - a - HPAGE_PMD_SIZE)
    assert _mlocked_kb(m) == 2048
    child = p.fork()
    assert child.mlock(a, PAGE_SIZE) == 0
    _, (node,) = child.move_pages(0, [a + PAGE_SIZE], None)
    ret, status = child.move_pages(0, [a + PAGE_SIZE], [1 - node], MPOL_MF_MOVE_ALL)
    assert (ret, status) == (0, [1 - node])
    return m


def _mlocked_kb(m) -> int:
    line = next(x for x in m.fs.read("/proc/meminfo").splitlines() if x.startswith("Mlocked:"))
    return int(line.split()[1])


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_changelog_test_case_leaves_the_thp_evictable(profile):
    m = _changelog_test_case(profile)
    m.check_integrity()
    # only the child's own 4 KiB copy is mlocked; the THP the child maps by PTEs is not
    assert _mlocked_kb(m) == 4


def test_changelog_test_case_with_the_bug_mlocks_the_pte_mapped_thp():
    m = _changelog_test_case("seed", **{SWITCH: True})
    assert _mlocked_kb(m) == 4 + 2048
    with pytest.raises(IntegrityError, match="check_mlocked"):
        m.check_integrity()
