"""Zoo entries: the bugs that followed the series, mostly accounting and era semantics
(kernel-semantics.md section 6, B12 to B20).

B12 (an mlocked THP that PTEs map after migration), B16 (split_huge_pmd reads a page
from a PMD migration entry), B17 (a fault waiting on a migration entry pins the page),
B18 (-ENOMEM for a THP abandons the whole list), B19 (GUP-fast reads a PMD migration
entry as a page table), B20 (smaps drops a THP under migration). B13 (shmem THP) and
B14 (prep_transhuge_page on an order-0 target) do not fit the model: docs/zoo/b13.md
and b14.md say why. B17, B18 and B20 are 4.14 behaviour: the ``seed`` profile has it
as era behaviour (``migration_entry_wait_no_ref``, ``migrate_thp_split_on_enomem``,
``smaps_pmd_migration_entry`` off), so the bug switch brings the 4.14 line back into
``mainline``, whose scenarios expect the later semantics. None is reachable from the
default stress mix (no mlock, no fragmented node, no check of what smaps or a failed
move should say; one migrator CPU, so soft offline never meets a migration in flight);
B19 is found by the stress mix with ``migrators=3``; each has a race scenario in
thpsim.scenarios.
"""

from __future__ import annotations

from thpsim.zoo.catalog import Bug, Detector

__all__ = ["BUGS", "B12", "B16", "B17", "B18", "B19", "B20"]

B12 = Bug(
    id="B12",
    title="a THP mapped by PTEs stays mlocked after migration",
    switches={"bug_b12_mlock_pte_mapped_thp": True},
    profile="seed",
    symptom="check_mlocked: an mlocked THP mapped by PTEs (Mlocked/unevictable wrong)",
    fix="C:e125fe405abe \"mm, thp: fix mlocking THP page with migration enabled\" "
        "(Kirill A. Shutemov, 4.19, stable 4.14+)",
    detectors=(
        Detector("explore", scenario="mlock_fork_vs_migration", budget=1),
        Detector("random", scenario="mlock_fork_vs_migration", budget=50),
    ),
    doc="docs/zoo/b12.md",
)

B16 = Bug(
    id="B16",
    title="split_huge_pmd compares the caller's page with pmd_page() of a migration entry",
    switches={"bug_b16_split_pmd_page_of_migration_entry": True},
    profile="mainline",
    symptom="BUG: unable to handle page fault (pmd_folio() of a PMD migration entry)",
    fix="C:be6e843fc51a \"mm/huge_memory: fix dereferencing invalid pmd migration "
        "entry\" (Gavin Guo, 6.15); C:83a8441f8d8e (5.18) had kept non-leaf PMDs away",
    detectors=(
        Detector("random", scenario="split_vs_migration_after_fork", budget=60),
        Detector("pct", scenario="split_vs_migration_after_fork", budget=60),
    ),
    doc="docs/zoo/b16.md",
)

B17 = Bug(
    id="B17",
    title="a fault waiting on a migration entry pins the page",
    switches={"bug_b17_waiter_takes_ref": True},
    profile="mainline",
    symptom="move_pages fails (-EAGAIN for 10 passes) on a THP only faults touch",
    fix="C:9a1ea439b16b \"mm: put_and_wait_on_page_locked() while page is migrated\" "
        "(Hugh Dickins, 5.0); C:ffa65753c431 (Alistair Popple, 5.19): no reference",
    detectors=(
        Detector("explore", scenario="faults_vs_migration", budget=1),
        Detector("random", scenario="faults_vs_migration", budget=100),
    ),
    doc="docs/zoo/b17.md",
)

B18 = Bug(
    id="B18",
    title="-ENOMEM for a THP target aborts the whole migration list",
    switches={"bug_b18_enomem_aborts_list": True},
    profile="mainline",
    symptom="move_pages returns -ENOMEM with 4 KiB pages free on the target node",
    fix="C:94723aafb9e7 \"mm: unclutter THP migration\" (Michal Hocko, 4.17): split the "
        "THP and migrate its pages",
    detectors=(
        Detector("explore", scenario="migrate_to_fragmented_node", budget=1),
    ),
    doc="docs/zoo/b18.md",
)

B19 = Bug(
    id="B19",
    title="GUP-fast reads a PMD migration entry as a page table",
    switches={"bug_b19_gup_fast_pmd_none": True},
    profile="seed",
    symptom="BUG: pte_offset_map() of a PMD migration entry (no PTE table)",
    fix="the THP migration series after its v1 (Zi Yan, 2016): gup_pmd_range() falls "
        "back on !pmd_present(); merged in 4.14 (C:84c3fc4e9c56)",
    detectors=(
        # three migrator CPUs: one soft-offlines a page of a THP another is migrating
        # (with the default one, soft offline and migration never overlap)
        Detector("stress", stress={"migrators": 3}, budget=100),
        # the explorer finds it at bound 1 in seed (3 of 19 interleavings), but the
        # same search in mainline (a split before the soft offline) runs 1042 of them
        Detector("random", scenario="soft_offline_vs_migration", budget=300),
    ),
    doc="docs/zoo/b19.md",
)

B20 = Bug(
    id="B20",
    title="smaps drops a THP under migration from Rss and AnonHugePages",
    switches={"bug_b20_smaps_skips_pmd_migration_entry": True},
    profile="mainline",
    symptom="smaps_rollup: Rss and AnonHugePages 0 kB for a mapped THP",
    fix="\"/proc/PID/smaps: add PMD migration entry parsing\" (Huang Ying, 5.8)",
    detectors=(
        Detector("explore", scenario="smaps_vs_migration", budget=1),
        Detector("random", scenario="smaps_vs_migration", budget=100),
    ),
    doc="docs/zoo/b20.md",
)

BUGS: list[Bug] = [B12, B16, B17, B18, B19, B20]
