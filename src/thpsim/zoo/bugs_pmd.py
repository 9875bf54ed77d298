"""Zoo entries: the PMD-level races of the seed series (kernel-semantics.md section 6).

B1 (zap_pmd_range's lockless multi-read), B2 (a migration entry cleared as a bad
PMD), B3 (no TLB flush when installing the PMD migration entry), B4 (the PMD
transiently none under mmap_sem read), B15 (the NUMA scan's multi-read racing to a
false "bad pmd").
"""

from __future__ import annotations

from thpsim.zoo.catalog import Bug, Detector

__all__ = ["BUGS"]

B3 = Bug(
    id="B3",
    title="no TLB flush when installing the PMD migration entry",
    switches={"bug_b3_pmd_migration_no_flush": True},
    profile="seed",
    symptom="lost write",
    fix="v3 of the THP migration series (Zi Yan, Feb 2017): set_pmd_migration_entry "
        "flushes (pmdp_huge_clear_flush); merged in 4.14 (C:84c3fc4e9c56) as pmdp_invalidate",
    detectors=(
        Detector("stress", budget=200),
        Detector("explore", scenario="stale_tlb", budget=1),
    ),
    doc="docs/zoo/b03.md",
)

BUGS: list[Bug] = [B3]
