"""Behaviour profiles: one table of named switches.

A profile is a table of switch values. Each difference between the system the
seed describes (``seed``: Linux 4.14 with the v3 series, the 4.14.0 swap layout,
every later correctness fix on) and what current Linux answers (``mainline``:
7.2 as recorded by the kernel oracle, 6.12/6.13 where they agree) is one switch
here, with the version that changed it. Historical bugs will be switches too
(``bug_*``, all off in both profiles).

Use :func:`make_profile` to get a profile, optionally overriding switches::

    make_profile("seed", thp_cow_copies_huge=False)
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from thpsim.errors import ConfigError

__all__ = ["Profile", "PROFILES", "make_profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """The switch values of one behaviour profile. Field docs name the era that changed it."""

    name: str
    #: 4.14.0: OFFSET 14-63, TYPE 9-13. False after the L1TF merge (Aug 2018): TYPE 59-63,
    #: inverted OFFSET 9-58.
    swap_layout_4_14_0: bool
    #: 6.x swap type numbers (HWPOISON 23, MIGRATION READ/READ_EXCL/WRITE 24/25/26) and the
    #: read-exclusive migration entry (5.19+); 4.14: 27, 28/29.
    swap_types_v6: bool
    #: 4.14: a write fault on a shared THP copies the whole THP (copy_user_huge_page).
    #: 5.8+ (C:3917c80280c9): split the PMD and copy the 4 KiB page only.
    thp_cow_copies_huge: bool
    #: 6.7+ (C:efa7df3e3bb5, limited in 6.12 to PMD-multiple lengths): anonymous
    #: mappings whose length is a multiple of 2 MiB get a 2 MiB-aligned address.
    thp_align_anon_mappings: bool
    #: 5.19+ (PG_anon_exclusive): pagemap's PM_MMAP_EXCLUSIVE (bit 56) of an anon page
    #: follows PageAnonExclusive; 4.14: page_mapcount() == 1.
    pagemap_anon_exclusive: bool
    #: 6.x: a THP fault that may reclaim (defrag, MADV_HUGEPAGE) retries on remote nodes
    #: after the local __GFP_THISNODE attempt fails (alloc_pages_mpol). 4.14: local only.
    thp_alloc_remote_fallback: bool
    #: 6.x mprotect: exclusive anon PTEs are made writable at once when the VMA becomes
    #: writable (can_change_pte_writable, MM_CP_TRY_CHANGE_WRITABLE). 4.14: no, the next
    #: write faults and reuses the page.
    mprotect_try_change_writable: bool
    #: 6.13 pmd_bad() ignores the accessed bit.
    pmd_bad_ignores_accessed: bool
    #: mm counter names in check_mm's "Bad rss-counter state" message (6.x prints names).
    rss_counter_names: bool
    #: 4.17+ (C:94723aafb9e7): a THP whose 2 MiB migration target cannot be allocated is
    #: split and its pages migrated (thp_migration_split, and 6.1+ thp_migration_fail).
    #: 4.14: -ENOMEM, and the rest of the list is abandoned (B18).
    migrate_thp_split_on_enomem: bool
    #: 5.9+ (C:1a5bae25e3cf): pgmigrate_success/fail count base pages (a THP 512).
    #: 4.14: one per page or THP.
    pgmigrate_counts_base_pages: bool
    #: 4.17+ (C:a49bd4d71637) move_pages: batches per target node, statuses written after
    #: a batch migrates, a positive return for what did not move. 4.14: chunks of 169
    #: entries, every entry isolated first, statuses through the result pointer, return 0.
    move_pages_batched: bool
    #: 6.12+ folio_walk: an untouched address gives -ENOENT (4.3..6.11: -EFAULT) and a
    #: touched PROT_NONE page its node (6.1: -EFAULT).
    move_pages_folio_walk: bool
    #: Bug B3 (v2 of the series, 2016): set_pmd_migration_entry clears the PMD with
    #: pmdp_huge_get_and_clear and no TLB flush, so another CPU keeps writing the old
    #: THP through its stale huge TLB entry and the write is lost. Off in every profile.
    bug_b3_pmd_migration_no_flush: bool

    def with_switches(self, **switches: object) -> Profile:
        known = {f.name for f in fields(self)}
        for k in switches:
            if k not in known:
                raise ConfigError(f"unknown profile switch {k!r}")
        return replace(self, **switches)  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    "seed": Profile(
        name="seed",
        swap_layout_4_14_0=True,
        swap_types_v6=False,
        thp_cow_copies_huge=True,
        thp_align_anon_mappings=False,
        pagemap_anon_exclusive=False,
        thp_alloc_remote_fallback=False,
        mprotect_try_change_writable=False,
        pmd_bad_ignores_accessed=False,
        rss_counter_names=False,
        migrate_thp_split_on_enomem=False,
        pgmigrate_counts_base_pages=False,
        move_pages_batched=False,
        move_pages_folio_walk=False,
        bug_b3_pmd_migration_no_flush=False,
    ),
    "mainline": Profile(
        name="mainline",
        swap_layout_4_14_0=False,
        swap_types_v6=True,
        thp_cow_copies_huge=False,
        thp_align_anon_mappings=True,
        pagemap_anon_exclusive=True,
        thp_alloc_remote_fallback=True,
        mprotect_try_change_writable=True,
        pmd_bad_ignores_accessed=True,
        rss_counter_names=True,
        migrate_thp_split_on_enomem=True,
        pgmigrate_counts_base_pages=True,
        move_pages_batched=True,
        move_pages_folio_walk=True,
        bug_b3_pmd_migration_no_flush=False,
    ),
}


def make_profile(profile: str | Profile = "seed", **switches: object) -> Profile:
    if isinstance(profile, Profile):
        base = profile
    else:
        try:
            base = PROFILES[profile]
        except KeyError:
            raise ConfigError(
                f"unknown profile {profile!r}; known: {', '.join(PROFILES)}"
            ) from None
    return base.with_switches(**switches) if switches else base
