"""The kernel's own NUMA balancing as a policy of ``thpsim experiment tiering``
(``numab``, src/thpsim/tiering/policies.py NumaBalancingPolicy): it turns
kernel.numa_balancing on and the workload's own timer ticks do the rest (the scanner,
hinting faults, promotion). docs/numa-balancing.md."""

from __future__ import annotations

from thpsim.experiment.tiering import run_one

SHORT = {"ticks": 2500}


def test_mainline_tiering_mode_promotes_thps_whole() -> None:
    """Mode 2 on 7.2: each chunk's PMD is made PROT_NONE after the scan delay (1 s),
    the workload's next load of it is a hinting fault within the hot threshold, and the
    THP moves up whole through the common migration path: pgpromote_success counts its
    512 pages, thp_migration_success one."""
    r = run_one("numab", True, profile="mainline", **SHORT)
    vm = r["vmstat"]
    assert r["policy_params"]["mode_set"] == 2
    assert vm["numa_huge_pte_updates"] == 16 and vm["numa_pte_updates"] == 16 * 512
    assert vm["numa_hint_faults"] >= 16
    assert vm["thp_migration_success"] == 16 and r["thp_splits"] == 0
    assert vm["numa_pages_migrated"] == vm["pgpromote_success"] == 16 * 512
    assert r["fast_pages_end"] == 16 * 512 and r["fast_share"] > 0
    base = run_one("none", True, profile="mainline", **SHORT)
    assert all(base["vmstat"][k] == 0 for k in ("numa_pte_updates", "numa_hint_faults"))
    assert r["access_us"] < base["access_us"]


def test_mainline_split_first_without_thp_migration() -> None:
    on = run_one("numab", True, profile="mainline", **SHORT)
    off = run_one("numab", False, profile="mainline", **SHORT)
    assert off["thp_splits"] == 16 and off["thp_migrated"] == 0
    assert off["vmstat"]["pgpromote_success"] == 16 * 512
    assert off["runtime_us"] > on["runtime_us"] and off["tlb_misses"] > on["tlb_misses"]


def test_seed_moves_thps_whole_by_the_old_path_either_way() -> None:
    """4.14 has no tiering mode (mode 1 instead) and migrates a misplaced THP by
    migrate_misplaced_transhuge_page(), which the THP migration series left alone: the
    THPs move whole with and without THP migration, no thp_migration_success."""
    runs = [run_one("numab", whole, **SHORT) for whole in (True, False)]
    for r in runs:
        assert r["policy_params"]["mode_set"] == 1
        assert r["thp_splits"] == 0 and r["vmstat"]["thp_migration_success"] == 0
        assert r["vmstat"]["numa_pages_migrated"] == 16 * 512
    assert runs[0]["runtime_us"] == runs[1]["runtime_us"]
