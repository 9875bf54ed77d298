"""Event counters and node/zone statistics, and ``/proc/vmstat``.

Models: include/linux/vm_event_item.h, include/linux/mmzone.h (node_stat_item,
zone_stat_item), mm/vmstat.c (vmstat_text order, v4.14 plus the 5.9+ THP
migration counters, which the seed profile keeps as a documented extension).

Simplified: counters are exact (no per-cpu deltas); only the items the model
maintains are printed, in the kernel's order.
"""

from __future__ import annotations

from typing import Any

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR

__all__ = ["VmStat", "VM_EVENT_ITEMS", "vm_event_items", "NODE_STAT_ITEMS", "ZONE_STAT_ITEMS",
           "vmstat_items"]

# zone_stat_item (v4.14), the ones the model maintains. nr_free_pages comes from the buddy.
NR_FREE_PAGES = "nr_free_pages"
NR_ZONE_INACTIVE_ANON = "nr_zone_inactive_anon"
NR_ZONE_ACTIVE_ANON = "nr_zone_active_anon"
NR_ZONE_UNEVICTABLE = "nr_zone_unevictable"
NR_MLOCK = "nr_mlock"
NR_PAGETABLE = "nr_page_table_pages"
NUMA_HIT = "numa_hit"
NUMA_MISS = "numa_miss"
NUMA_FOREIGN = "numa_foreign"
NUMA_INTERLEAVE_HIT = "numa_interleave"
NUMA_LOCAL = "numa_local"
NUMA_OTHER = "numa_other"
ZONE_STAT_ITEMS = (
    NR_FREE_PAGES, NR_ZONE_INACTIVE_ANON, NR_ZONE_ACTIVE_ANON, NR_ZONE_UNEVICTABLE,
    NR_MLOCK, NR_PAGETABLE, NUMA_HIT, NUMA_MISS, NUMA_FOREIGN, NUMA_INTERLEAVE_HIT,
    NUMA_LOCAL, NUMA_OTHER,
)

# node_stat_item (v4.14), the ones the model maintains
NR_INACTIVE_ANON = "nr_inactive_anon"
NR_ACTIVE_ANON = "nr_active_anon"
NR_UNEVICTABLE = "nr_unevictable"
NR_ISOLATED_ANON = "nr_isolated_anon"
NR_ANON_MAPPED = "nr_anon_pages"
NR_ANON_THPS = "nr_anon_transparent_hugepages"
NODE_STAT_ITEMS = (
    NR_INACTIVE_ANON, NR_ACTIVE_ANON, NR_UNEVICTABLE, NR_ISOLATED_ANON, NR_ANON_MAPPED,
    NR_ANON_THPS,
)
#: node_stat_item PGPROMOTE_SUCCESS (5.18) and PGPROMOTE_CANDIDATE (6.0): NUMA balancing's
#: memory-tiering promotions (kernel/sched_fair.py, mm/migrate.py); always counted,
#: printed with ``vmstat_pgpromote``
PGPROMOTE_SUCCESS = "pgpromote_success"
PGPROMOTE_CANDIDATE = "pgpromote_candidate"
NODE_STAT_ITEMS_PGPROMOTE = (PGPROMOTE_SUCCESS, PGPROMOTE_CANDIDATE)
#: Node items /proc/vmstat prints in THPs although the model counts base pages
#: (5.x+ internal unit; 4.14 counted THPs directly: the printed value is the same).
NODE_ITEMS_IN_THPS = (NR_ANON_THPS,)

# vm_event_item (v4.14 order; thp_migration_* are 5.9+, kept as an extension)
PGFAULT = "pgfault"
PGMAJFAULT = "pgmajfault"
PGFREE = "pgfree"
PGLAZYFREE = "pglazyfree"
PGLAZYFREED = "pglazyfreed"
PGACTIVATE = "pgactivate"
PGDEACTIVATE = "pgdeactivate"
NUMA_PTE_UPDATES = "numa_pte_updates"
NUMA_HUGE_PTE_UPDATES = "numa_huge_pte_updates"
NUMA_HINT_FAULTS = "numa_hint_faults"
NUMA_HINT_FAULTS_LOCAL = "numa_hint_faults_local"
NUMA_PAGE_MIGRATE = "numa_pages_migrated"
PGMIGRATE_SUCCESS = "pgmigrate_success"
PGMIGRATE_FAIL = "pgmigrate_fail"
UNEVICTABLE_PGCULLED = "unevictable_pgs_culled"
UNEVICTABLE_PGSCANNED = "unevictable_pgs_scanned"
UNEVICTABLE_PGRESCUED = "unevictable_pgs_rescued"
UNEVICTABLE_PGMLOCKED = "unevictable_pgs_mlocked"
UNEVICTABLE_PGMUNLOCKED = "unevictable_pgs_munlocked"
UNEVICTABLE_PGCLEARED = "unevictable_pgs_cleared"
UNEVICTABLE_PGSTRANDED = "unevictable_pgs_stranded"
#: PGALLOC per zone (TEXTS_FOR_ZONES("pgalloc")), indexed by zone_idx: __count_zid_vm_events()
PGALLOC = ("pgalloc_normal", "pgalloc_movable")
THP_FAULT_ALLOC = "thp_fault_alloc"
THP_FAULT_FALLBACK = "thp_fault_fallback"
THP_SPLIT_PAGE = "thp_split_page"
THP_SPLIT_PAGE_FAILED = "thp_split_page_failed"
THP_DEFERRED_SPLIT_PAGE = "thp_deferred_split_page"
#: 6.12+ (deferred_split_scan() of an underused THP): see vm_event_items()
THP_UNDERUSED_SPLIT_PAGE = "thp_underused_split_page"
THP_SPLIT_PMD = "thp_split_pmd"
THP_ZERO_PAGE_ALLOC = "thp_zero_page_alloc"
THP_ZERO_PAGE_ALLOC_FAILED = "thp_zero_page_alloc_failed"
THP_MIGRATION_SUCCESS = "thp_migration_success"
THP_MIGRATION_FAIL = "thp_migration_fail"
THP_MIGRATION_SPLIT = "thp_migration_split"
VM_EVENT_ITEMS = (
    "pgpgin", "pgpgout", "pswpin", "pswpout",
    *PGALLOC,
    PGFREE, PGACTIVATE, PGDEACTIVATE, PGLAZYFREE, PGFAULT, PGMAJFAULT, PGLAZYFREED,
    NUMA_PTE_UPDATES, NUMA_HUGE_PTE_UPDATES, NUMA_HINT_FAULTS, NUMA_HINT_FAULTS_LOCAL,
    NUMA_PAGE_MIGRATE, PGMIGRATE_SUCCESS, PGMIGRATE_FAIL,
    "compact_migrate_scanned", "compact_free_scanned", "compact_isolated", "compact_stall",
    "compact_fail", "compact_success",
    UNEVICTABLE_PGCULLED, UNEVICTABLE_PGSCANNED, UNEVICTABLE_PGRESCUED,
    UNEVICTABLE_PGMLOCKED, UNEVICTABLE_PGMUNLOCKED, UNEVICTABLE_PGCLEARED,
    UNEVICTABLE_PGSTRANDED,
    THP_FAULT_ALLOC, THP_FAULT_FALLBACK, "thp_collapse_alloc", "thp_collapse_alloc_failed",
    THP_SPLIT_PAGE, THP_SPLIT_PAGE_FAILED, THP_DEFERRED_SPLIT_PAGE, THP_UNDERUSED_SPLIT_PAGE,
    THP_SPLIT_PMD,
    THP_ZERO_PAGE_ALLOC, THP_ZERO_PAGE_ALLOC_FAILED,
    THP_MIGRATION_SUCCESS, THP_MIGRATION_FAIL, THP_MIGRATION_SPLIT,
)

def vm_event_items(profile: Any) -> list[str]:
    """The event names /proc/vmstat prints in ``profile``'s era, in vmstat_text order
    (thp_underused_split_page from 6.12, ``thp_underused_split_page``)."""
    if profile.thp_underused_split_page:
        return list(VM_EVENT_ITEMS)
    return [e for e in VM_EVENT_ITEMS if e != THP_UNDERUSED_SPLIT_PAGE]


class VmStat:
    """All counters of the machine: events, per-node and per-zone items."""

    __slots__ = ("events", "node", "zone_extra")

    def __init__(self, nids: list[int]):
        self.events: dict[str, int] = dict.fromkeys(VM_EVENT_ITEMS, 0)
        self.node: dict[int, dict[str, int]] = {
            nid: dict.fromkeys(NODE_STAT_ITEMS + NODE_STAT_ITEMS_PGPROMOTE, 0) for nid in nids
        }
        #: zone items other than nr_free_pages, summed per node (the model keeps them per node)
        self.zone_extra: dict[int, dict[str, int]] = {
            nid: dict.fromkeys(ZONE_STAT_ITEMS[1:], 0) for nid in nids
        }

    def count_vm_event(self, item: str) -> None:
        self.events[item] += 1

    def count_vm_events(self, item: str, delta: int) -> None:
        self.events[item] += delta

    def mod_node_page_state(self, nid: int, item: str, delta: int) -> None:
        """Models: __mod_node_page_state()."""
        self.node[nid][item] += delta

    def mod_zone_page_state(self, nid: int, item: str, delta: int) -> None:
        """Models: __mod_zone_page_state() (kept per node, see class docstring)."""
        self.zone_extra[nid][item] += delta

    def global_node_page_state(self, item: str) -> int:
        return sum(s[item] for s in self.node.values())

    def global_zone_page_state(self, item: str) -> int:
        return sum(s[item] for s in self.zone_extra.values())


def vmstat_items(ctx: Any, nid: int | None = None) -> list[tuple[str, int]]:
    """Zone then node items, machine-wide (``nid`` None) or of one node.

    Models: the first part of vmstat_start() (global_zone_page_state /
    global_node_page_state) and drivers/base/node.c node_read_vmstat()
    (sum_zone_node_page_state / node_page_state).
    """
    vm = ctx.vmstat
    nids = list(ctx.node_data) if nid is None else [nid]
    out: list[tuple[str, int]] = []
    for item in ZONE_STAT_ITEMS:
        if item == NR_FREE_PAGES:
            v = sum(z.nr_free_pages for n in nids for z in ctx.node_data[n].node_zones)
        else:
            v = sum(vm.zone_extra[n][item] for n in nids)
        out.append((item, v))
    for item in NODE_STAT_ITEMS:
        v = sum(vm.node[n][item] for n in nids)
        if item in NODE_ITEMS_IN_THPS:
            v //= HPAGE_PMD_NR
        out.append((item, v))
    if ctx.profile.vmstat_pgpromote:  # after the 4.14 items, as node_stat_item has them
        out += [(item, sum(vm.node[n][item] for n in nids)) for item in NODE_STAT_ITEMS_PGPROMOTE]
    return out
