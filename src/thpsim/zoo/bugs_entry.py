"""Zoo entries: the bits of the PMD migration entry and what reads them
(kernel-semantics.md section 6).

B5 (soft-dirty at bit 7 = PSE), B6 (soft-dirty at bit 6 with the Knights Landing A/D
erratum), B7 (split_huge_page's freeze sharing TTU_MIGRATION), B8 (splitting a PMD
migration entry with the present-entry accessors), B9 (the dirty bit lost between
reading the PMD and invalidating it), B10 (a write migration entry kept writable by
fork), B11 (soft-dirty lost when fork or mprotect rewrites a migration entry).
"""

from __future__ import annotations

from thpsim.zoo.catalog import Bug, Detector

__all__ = ["BUGS"]

B5 = Bug(
    id="B5",
    title="soft-dirty at bit 7 (_PAGE_PSE) of a PMD migration entry",
    switches={"bug_b5_swp_soft_dirty_bit": 7},
    profile="seed",
    symptom="oops: a soft-dirty PMD migration entry is pmd_present() and pmd_trans_huge(); "
            "pmd_page() of it is a struct page beyond the memmap (IndexError), or a store "
            "keeps faulting",
    fix="C:eee4818baac0 \"mm: x86: move _PAGE_SWP_SOFT_DIRTY from bit 7 to bit 1\" "
        "(Naoya Horiguchi, patch 04 of the THP migration series, 4.14)",
    detectors=(
        Detector("stress", budget=20),
        Detector("explore", scenario="fault_vs_migration", budget=1),
    ),
    doc="docs/zoo/b05.md",
)

B6 = Bug(
    id="B6",
    title="soft-dirty at bit 6 (_PAGE_DIRTY) of a swap entry, with the Knights Landing "
          "A/D erratum",
    switches={"bug_b5_swp_soft_dirty_bit": 6},
    profile="seed",
    symptom="spurious soft-dirty (pagemap bit 55) on a page not written since clear_refs",
    fix="C:eee4818baac0 (4.14) put _PAGE_SWP_SOFT_DIRTY at bit 1 instead of the v2 "
        "proposal's bit 6, which C:00839ee3b299 (\"x86/mm: Move swap offset/type up in "
        "PTE to work around erratum\", 4.8) had left to the erratum",
    detectors=(
        Detector("explore", scenario="knl_softdirty_vs_migration", budget=1),
        Detector("random", scenario="knl_softdirty_vs_migration", budget=400),
    ),
    doc="docs/zoo/b06.md",
)

B7 = Bug(
    id="B7",
    title="split_huge_page's freeze shares TTU_MIGRATION and gets a PMD migration entry",
    switches={"bug_b7_freeze_uses_ttu_migration": True},
    profile="seed",
    symptom="VM_BUG_ON in remove_migration_pte: a PMD migration entry for a page that is "
            "no longer compound",
    fix="C:b5ff8161e37c \"mm: thp: introduce separate TTU flag for thp freezing\" "
        "(Naoya Horiguchi, patch 06 of the series, 4.14)",
    detectors=(
        Detector("stress", budget=100),
    ),
    doc="docs/zoo/b07.md",
)

B8 = Bug(
    id="B8",
    title="a PMD migration entry split with the present-entry accessors",
    switches={"bug_b8_split_mig_uses_present_accessors": True},
    profile="seed",
    symptom="COW broken: a soft-dirty read migration entry splits into write entries, "
            "the parent writes into the page its child shares",
    fix="C:2e83ee1d8694 \"mm: thp: fix flags for pmd migration when split\" "
        "(Peter Xu, 4.20)",
    detectors=(
        Detector("explore", scenario="fork_split_vs_migration", budget=1),
        Detector("random", scenario="fork_split_vs_migration", budget=100),
        Detector("pct", scenario="fork_split_vs_migration", budget=100),
    ),
    doc="docs/zoo/b08.md",
)

B9 = Bug(
    id="B9",
    title="the dirty bit lost between reading the PMD and invalidating it",
    switches={"bug_b9_read_then_invalidate": True},
    profile="seed",
    symptom="dirty bit lost: a store after MADV_FREE leaves neither PG_dirty nor a dirty "
            "mapping (reclaim would discard the data)",
    fix="C:8a8683ad9ba4 (Huang Ying, 5.6): set_pmd_migration_entry() takes the old PMD "
        "from pmdp_invalidate() (which returns it since C:d52605d7cb30, 4.16)",
    detectors=(
        Detector("explore", scenario="free_vs_migration", budget=1),
        Detector("random", scenario="free_vs_migration", budget=400),
    ),
    doc="docs/zoo/b09.md",
)

B10 = Bug(
    id="B10",
    title="a write PMD migration entry not made a read entry by fork (or mprotect)",
    switches={"bug_b10_migration_entry_keeps_write": True},
    profile="seed",
    symptom="COW broken: after migration both processes map the THP writable; the "
            "child's store shows in the parent",
    fix="copy_huge_pmd()/change_huge_pmd() make a write entry a read entry: the THP "
        "migration series' patch 09, C:84c3fc4e9c56 (Zi Yan, 4.14)",
    detectors=(
        Detector("explore", scenario="fork_vs_migration", budget=1),
        Detector("random", scenario="fork_vs_migration", budget=100),
        Detector("pct", scenario="fork_vs_migration", budget=100),
        Detector("stress", budget=400),
    ),
    doc="docs/zoo/b10.md",
)

B11 = Bug(
    id="B11",
    title="soft-dirty lost when fork or mprotect rewrites a PMD migration entry",
    switches={"bug_b11_swp_soft_dirty_lost": True},
    profile="seed",
    symptom="soft-dirty lost: pagemap bit 55 reads 0 for a THP written after clear_refs",
    fix="v5 of the THP migration series (per C:ab6e3d0939bb's changelog): copy_huge_pmd() "
        "reads pmd_swp_soft_dirty() of the old entry, change_huge_pmd() carries it over "
        "(4.14)",
    detectors=(
        Detector("explore", scenario="softdirty_vs_migration", budget=1),
        Detector("random", scenario="softdirty_vs_migration", budget=100),
        Detector("pct", scenario="softdirty_vs_migration", budget=100),
    ),
    doc="docs/zoo/b11.md",
)

BUGS: list[Bug] = [B5, B6, B7, B8, B9, B10, B11]
