"""Zoo entries: the PMD-level races of the seed series (kernel-semantics.md section 6).

B1 (zap_pmd_range's lockless multi-read), B2 (a migration entry cleared as a bad
PMD), B3 (no TLB flush when installing the PMD migration entry), B4 (the PMD
transiently none under mmap_sem read), B15 (change_pmd_range's multi-read racing
to a false "bad pmd"). Budgets: stress rounds of the default mix, then the
explorer's preemption bound over the race scenario that isolates the race.
"""

from __future__ import annotations

from thpsim.zoo.catalog import Bug, Detector

__all__ = ["BUGS", "B1", "B2", "B3", "B4", "B15"]

B1 = Bug(
    id="B1",
    title="zap_pmd_range() classifies the PMD with separate lockless reads",
    switches={"bug_b1_zap_lockless_multiread": True},
    profile="seed",
    symptom="stale data after MADV_DONTNEED / munmap (the range was not zapped)",
    fix="v3 patches 01-03 of the THP migration series (Zi Yan, Feb 2017; dropped) took "
        "the PMD lock first; upstream reads the PMD once and, 6.5+ (Hugh Dickins, "
        "\"mm/memory: allow pte_offset_map[_lock]() to fail\"), retries it",
    detectors=(
        Detector("stress", budget=300),
        Detector("explore", scenario="dontneed_vs_migration", budget=2),
    ),
    doc="docs/zoo/b01.md",
)

B2 = Bug(
    id="B2",
    title="a PMD migration entry is cleared as a bad PMD",
    switches={"bug_b2_clear_bad_ignores_migration": True},
    profile="seed",
    symptom="\"bad pmd\": the PMD cleared, its deposited table and RSS leaked, data lost",
    fix="C:84c3fc4e9c56 \"mm: thp: check pmd migration entry in common path\" (v3 patch "
        "09, merged in 4.14)",
    detectors=(
        Detector("stress", budget=200),
        Detector("explore", scenario="madvise_free_vs_migration", budget=1),
    ),
    doc="docs/zoo/b02.md",
)

B3 = Bug(
    id="B3",
    title="no TLB flush when installing the PMD migration entry",
    switches={"bug_b3_pmd_migration_no_flush": True},
    profile="seed",
    symptom="lost write (a store through a stale huge TLB entry lands in the old page)",
    fix="v3 of the THP migration series (Zi Yan, Feb 2017): set_pmd_migration_entry "
        "flushes (pmdp_huge_clear_flush); merged in 4.14 (C:616b837) as pmdp_invalidate",
    detectors=(
        Detector("stress", budget=200),
        Detector("explore", scenario="stale_tlb", budget=1),
    ),
    doc="docs/zoo/b03.md",
)

B4 = Bug(
    id="B4",
    title="the PMD is transiently none while only mmap_sem read is held",
    switches={"bug_b4_transient_none_pmd": True},
    profile="seed",
    symptom="stale data after MADV_DONTNEED; a PMD table freed with an entry in it",
    fix="merged 4.14 (C:616b837): set_pmd_migration_entry() uses pmdp_invalidate(), "
        "never none; the same pattern elsewhere: Kirill Shutemov, \"thp: fix few "
        "MADV_DONTNEED races\" (4.11, C:ced108037c2a and C:0a85e51d3764)",
    detectors=(
        Detector("stress", budget=300),
        Detector("explore", scenario="dontneed_vs_migration", budget=1),
    ),
    doc="docs/zoo/b04.md",
)

B15 = Bug(
    id="B15",
    title="change_pmd_range() multi-read guard races to a false \"bad pmd\"",
    switches={"bug_b15_change_pmd_multiread": True},
    profile="seed",
    symptom="\"bad pmd\": a PMD migration entry cleared under mprotect, deposit and RSS leaked",
    fix="C:8b272b3cbbb5 (Mel Gorman, \"mm, numa: fix bad pmd by atomically check for "
        "pmd_trans_huge when marking page tables prot_numa\", 5.6)",
    detectors=(
        Detector("explore", scenario="mprotect_vs_migration", budget=3),
        Detector("stress", budget=200),
    ),
    doc="docs/zoo/b15.md",
)

BUGS: list[Bug] = [B1, B2, B3, B4, B15]
