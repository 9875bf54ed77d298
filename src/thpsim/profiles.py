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

__all__ = ["Profile", "PROFILES", "make_profile", "switch_docs", "switch_type"]


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
    #: 6.13+ (Dev Jain, "mm: Allocate THP on hugezeropage wp-fault"): a write fault on
    #: the huge zero page allocates a THP in its place (do_huge_zero_wp_pmd()). 5.8 to
    #: 6.12 split the zero PMD and fault 4 KiB; 4.14 allocated too, by its own path
    #: (the THP copy of ``thp_cow_copies_huge``, which also asks the VMA's THP flags).
    thp_wp_huge_zero_alloc: bool
    #: 6.3 (H. Dickins, the _nr_pages_mapped rework of page_remove_rmap(); kept by
    #: 6.8's __folio_remove_rmap()): removing a PTE mapping queues the THP for deferred
    #: split (thp_deferred_split_page) only when no PMD maps it and some page of it is
    #: still mapped. 4.14 and 6.1: whenever a subpage loses its last PTE mapping while
    #: no PMD maps the THP (PageDoubleMap keeps it "mapped" while one does), even if it
    #: was the THP's last mapped page; so also split_huge_page()'s freeze of a
    #: PMD-mapped THP, which maps the frozen PTEs and page_remove_rmap()s each.
    rmap_deferred_split_partially_mapped: bool
    #: smaps counts a THP that a PROT_NONE huge PMD maps (4.14: follow_trans_huge_pmd()
    #: refuses protnone only under FOLL_NUMA; mainline reads it with
    #: vm_normal_page_pmd()). Off: the kernel oracle on Debian's 6.1, where smaps'
    #: follow_trans_huge_pmd(FOLL_DUMP) gets no page for a protnone PMD (the
    #: gup_can_follow_protnone() rule of C:474098edac26, later fixed by passing
    #: FOLL_FORCE): Rss, AnonHugePages and Locked leave it out, while the PTE-mapped
    #: pages of the same VMA (vm_normal_page()) still count.
    smaps_pmd_counts_protnone: bool
    #: 6.17 (D. Jain, "mm: Optimize mprotect() by PTE batching"): change_pte_range()
    #: handles the PTEs of a large folio in batches and writes the batch's gathered
    #: dirty/young bits to all of them (x86 pte_mkdirty() sets soft-dirty too): after
    #: mprotect() every page of a dirty batch reads soft-dirty (the kernel oracle: 7.2
    #: does, 6.12 does not). Before: each PTE keeps its own bits.
    mprotect_pte_batch: bool
    #: 5.8 (Y. Yang, "libfs: fix error cast of negative value in simple_attr_write()"):
    #: a debugfs attribute write (hwpoison's corrupt-pfn, unpoison-pfn) is parsed by
    #: kstrtoull(): junk is EINVAL. 4.14: simple_strtoll(), no error (junk is 0, a
    #: negative number wraps). Both read only the first 23 bytes.
    simple_attr_write_kstrtoull: bool
    #: 6.12 (Yu Zhao, U. Arif, "mm: remap unused subpages to shared zeropage when
    #: splitting isolated thp"): splitting an anon THP maps each subpage that holds
    #: only zeros to the shared zero page and frees it (RSS drops; move_pages says
    #: EFAULT there). 4.14 and 6.1: every subpage stays mapped.
    thp_split_remap_zero_subpages: bool
    #: 6.7+ (C:efa7df3e3bb5, limited in 6.12 to PMD-multiple lengths): anonymous
    #: mappings whose length is a multiple of 2 MiB get a 2 MiB-aligned address.
    thp_align_anon_mappings: bool
    #: 5.8+ (mm/util.c __vm_enough_memory(), "mm: remove the free-memory heuristic of
    #: OVERCOMMIT_GUESS"): the default overcommit mode refuses only a charge larger than
    #: totalram_pages() + total_swap_pages. 4.14: a charge must be below the free pages
    #: (+ page cache, swap, reclaimable slab) minus totalreserve_pages and, without
    #: CAP_SYS_ADMIN, admin_reserve_kbytes.
    overcommit_guess_totalram: bool
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
    #: thp_migration_supported() (CONFIG_ARCH_ENABLE_THP_MIGRATION, which the v3 series
    #: added for x86_64 in 4.14): a THP migrates whole behind a PMD migration entry.
    #: Off: the kernel before the series (or an arch without it): the migration core
    #: splits every THP it is given and migrates its 512 pages as base pages
    #: (6.x migrate_pages_batch(): thp_migration_fail and thp_migration_split count it,
    #: the THP counts one failure in the return value). Simplified: 4.13 split earlier,
    #: in each caller (move_pages' FOLL_SPLIT, queue_pages_pmd()), and move_pages
    #: then moved only the addressed subpage; here every caller splits in the core.
    thp_migration_supported: bool
    #: 4.17+ (C:94723aafb9e7): a THP whose 2 MiB migration target cannot be allocated is
    #: split and its pages migrated (thp_migration_split, and 6.1+ thp_migration_fail).
    #: 4.14: -ENOMEM, and the rest of the list is abandoned (B18).
    migrate_thp_split_on_enomem: bool
    #: 6.10+ (C:6f7d760e86fa, "mm/migrate: split source folio if it is on deferred
    #: split list"; 6.12+ only a partially-mapped one, the folio flag of C:8422acdc97ed):
    #: a THP on the deferred-split queue is split before it is migrated
    #: (thp_migration_fail, thp_migration_split) and its pages are migrated instead.
    #: The kernel oracle: 6.12 and 7.2 both (each of 2,000 programs agrees or is
    #: neutral with it on); 4.14 and 6.1 migrate it whole.
    migrate_split_deferred_folio: bool
    #: between 6.1 and 6.12 (found by the kernel oracle; perhaps C:96a9c287e25d, 6.3,
    #: which made remove_migration_pte()'s pte_mkdirty() depend on the folio being
    #: dirty): a base page's PTE restored from a dirty migration entry is no longer made
    #: soft-dirty (x86's pte_mkdirty() sets both bits), so a page migrated after
    #: clear_refs 4 no longer reads as written. A PMD-mapped THP still is. 4.14 restores
    #: old and clean.
    migration_restore_dirty_keeps_soft_dirty: bool
    #: 6.3+ (P. Xu, "mm/thp: re-apply mkdirty for small pages after split"; 6.0 had it
    #: first, 6.1 took it back, C:624a2c94f5b7): splitting a dirty huge PMD makes every
    #: PTE dirty, and so soft-dirty on x86. 4.14 and 6.1: only the page is marked
    #: dirty, the PTEs are clean (the kernel oracle shows both).
    split_huge_pmd_carries_dirty: bool
    #: 6.13, backported to 6.12.y (migrate_folio_move() requeues the destination
    #: folio, "mm: migrate: requeue destination folio on deferred split queue"): a THP
    #: that was on the deferred-split queue is migrated whole and its copy queued with
    #: the source's partially-mapped flag (thp_deferred_split_page counts it again; the
    #: kernel oracle: Debian's 6.12 and 7.2 count two for a PTE-mapped THP migrated
    #: once, 6.1 one). Before: the copy is not queued.
    migrate_requeue_deferred_split: bool
    #: 6.16+ (C:879bca0a2c4f, "mm/vma: fix incorrectly disallowed anonymous VMA
    #: merges"): a VMA with an anon_vma whose flags change (mprotect, mlock, madvise,
    #: mbind) merges into a neighbour that has none (which takes its anon_vma), unless
    #: it is a fork child. Before (4.14 to 6.15) is_mergeable_anon_vma() asked the
    #: neighbour's empty anon_vma_chain to be singular, so they stayed apart (the
    #: kernel oracle: 6.1 and 6.12 keep three VMAs where 7.2 has one).
    vma_merge_faulted_into_unfaulted: bool
    #: between 6.1 and 6.12 (L. Stoakes, "mm/mprotect: allow unfaulted VMAs to be
    #: unaccounted on mprotect()"): mprotect() taking write away from an anonymous VMA
    #: without an anon_vma clears VM_ACCOUNT (the commit is given back), so it no longer
    #: merges with a faulted neighbour that keeps it (the kernel oracle: 6.1 merges,
    #: 6.12 and 7.2 keep them apart). Before: VM_ACCOUNT stays.
    mprotect_unaccount_unfaulted: bool
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
    #: 6.10 (D. Hildenbrand, "mm/migrate: use folio_likely_mapped_shared() in
    #: add_page_for_migration()"): move_pages' EACCES test asks whether the folio is
    #: mapped shared (the model: its first page's mapcount). 4.14..6.9:
    #: page_mapcount() of the page at the address.
    move_pages_folio_likely_mapped_shared: bool
    #: Bug B3 (v2 of the series, 2016): set_pmd_migration_entry clears the PMD with
    #: pmdp_huge_get_and_clear and no TLB flush, so another CPU keeps writing the old
    #: THP through its stale huge TLB entry and the write is lost. Off in every profile.
    bug_b3_pmd_migration_no_flush: bool
    #: Bugs B5 and B6: the bit of a swap (and migration) entry that keeps soft-dirty,
    #: _PAGE_SWP_SOFT_DIRTY. 1 since C:eee4818baac0 (4.14, "mm: x86: move
    #: _PAGE_SWP_SOFT_DIRTY from bit 7 to bit 1"). 7 (B5): _PAGE_PSE, where 3.11 to 4.13
    #: kept it (C:179ef71cbc08): a soft-dirty PMD migration entry is pmd_present() and
    #: pmd_trans_huge(). 6 (B6): _PAGE_DIRTY, the series' v2 proposal, which the Knights
    #: Landing A/D erratum (Machine(knl_ad_erratum=True)) can set on a non-present
    #: entry. An int: 0 (off, the fixed bit 1) in every profile, else the bit.
    bug_b5_swp_soft_dirty_bit: int
    #: Bug B7 (v1/v2 of the series, fixed in v3 by C:b5ff8161e37c "mm: thp: introduce
    #: separate TTU flag for thp freezing", 4.14): split_huge_page() freezes with
    #: TTU_MIGRATION, so the rmap walk installs a PMD migration entry instead of
    #: splitting the PMD into 512 PTE migration entries. Off in every profile.
    bug_b7_freeze_uses_ttu_migration: bool
    #: Bug B8 (4.14 to 4.19, fixed by C:2e83ee1d8694 "mm: thp: fix flags for pmd
    #: migration when split", 4.20): __split_huge_pmd_locked() reads write, young,
    #: dirty and soft-dirty of a PMD migration entry with the present-entry accessors
    #: (bit 1 = the swap soft-dirty bit reads as write). Off in every profile.
    bug_b8_split_mig_uses_present_accessors: bool
    #: Bug B9 (4.14 to 5.5, fixed by C:8a8683ad9ba4, Huang Ying, 5.6, on top of 4.16's
    #: C:d52605d7cb30 that made pmdp_invalidate() return the old PMD):
    #: set_pmd_migration_entry() reads the PMD, then invalidates it, so a dirty bit
    #: the hardware sets in between is lost. Off in every profile.
    bug_b9_read_then_invalidate: bool
    #: Bug B10 (guarded since the v3 series' patch 09, C:84c3fc4e9c56, 4.14): fork
    #: (copy_huge_pmd) and mprotect (change_huge_pmd) keep a writable PMD migration
    #: entry writable instead of making it a read entry. Off in every profile.
    bug_b10_migration_entry_keeps_write: bool
    #: Bug B11 (v4 of the series, fixed in v5 per C:ab6e3d0939bb's changelog):
    #: copy_huge_pmd() takes soft-dirty from the new read entry instead of the old
    #: entry, and change_huge_pmd() does not carry it over. Off in every profile.
    bug_b11_swp_soft_dirty_lost: bool
    #: Bug B1 (the THP migration series before v3; the multi-read test 4.14's C still
    #: spells): zap_pmd_range() classifies the PMD with three separate lockless reads
    #: (is_swap_pmd, pmd_trans_huge, pmd_devmap), so a THP that becomes a migration
    #: entry between them is taken for a PTE table, then skipped as unstable: the range
    #: is not zapped. Fixed by reading the PMD once and, 6.5+ (H. Dickins, "mm/memory:
    #: allow pte_offset_map[_lock]() to fail"), retrying the PMD. Off in every profile.
    bug_b1_zap_lockless_multiread: bool
    #: Bug B2 (before C:84c3fc4e9c56, "mm: thp: check pmd migration entry in common
    #: path", 4.14): pmd_none_or_trans_huge_or_clear_bad() has no !pmd_present clause,
    #: so a PMD migration entry is pmd_bad(): "bad pmd", cleared, its deposited table
    #: and mapping lost. Off in every profile.
    bug_b2_clear_bad_ignores_migration: bool
    #: Bug B4 (v3 of the series, Feb 2017; the same pattern Kirill Shutemov's 4.11
    #: "thp: fix few MADV_DONTNEED races" removed from other writers):
    #: set_pmd_migration_entry() clears the PMD with pmdp_huge_clear_flush(), so it is
    #: none through the TLB flush while readers holding only mmap_sem for read (MADV_DONTNEED)
    #: skip it. Merged 4.14: pmdp_invalidate() (never none). Off in every profile.
    bug_b4_transient_none_pmd: bool
    #: Bug B15 (4.14 until C:8b272b3cbbb5, Mel Gorman, "mm, numa: fix bad pmd by
    #: atomically check for pmd_trans_huge when marking page tables prot_numa", 5.6):
    #: change_pmd_range() tests is_swap_pmd, pmd_trans_huge and pmd_devmap with separate
    #: reads before pmd_none_or_clear_bad(), so a PMD that turns huge or into a migration
    #: entry between them is cleared as "bad pmd". Off in every profile.
    bug_b15_change_pmd_multiread: bool
    # ---- historical bugs B12-B20 (docs/zoo/b12.md ... b20.md); off in every profile
    #: 5.0 (C:9a1ea439b16b, H. Dickins, "mm: put_and_wait_on_page_locked() while page is
    #: migrated"; 5.19 C:ffa65753c431, A. Popple, no reference at all): a task waiting on
    #: a migration entry holds no reference on the page while it sleeps. 4.14: it holds
    #: one (get_page_unless_zero) until it wakes, so the migrator's refcount check fails
    #: with -EAGAIN (B17 is this behaviour brought back into ``mainline``).
    migration_entry_wait_no_ref: bool
    #: Bug B12 (4.14..4.18; fixed in 4.19 by C:e125fe405abe, K. Shutemov, "mm, thp: fix
    #: mlocking THP page with migration enabled"): remove_migration_pte() leaves a THP
    #: mlocked that it maps with PTEs, after remove_migration_pmd() mlocked it for a
    #: VM_LOCKED VMA mapping it by PMD.
    bug_b12_mlock_pte_mapped_thp: bool
    #: Bug B16 (4.14 __split_huge_pmd(), 6.x split_huge_pmd_locked(); fixed for good in
    #: 6.15 by C:be6e843fc51a, G. Guo, "mm/huge_memory: fix dereferencing invalid pmd
    #: migration entry"): the caller's page is compared with pmd_page(*pmd) before the
    #: PMD is known to be present, so a PMD migration entry is read as a page pointer.
    bug_b16_split_pmd_page_of_migration_entry: bool
    #: Bug B17: the waiter's reference of 4.14 (see ``migration_entry_wait_no_ref``) in an
    #: era that dropped it. Fixed in 5.0 (C:9a1ea439b16b) and 5.19 (C:ffa65753c431).
    bug_b17_waiter_takes_ref: bool
    #: Bug B18: the 4.14 -ENOMEM path of migrate_pages() (see
    #: ``migrate_thp_split_on_enomem``) in an era that splits the THP instead: a THP
    #: whose 2 MiB target cannot be allocated fails with -ENOMEM and the rest of the
    #: list is abandoned. Changed in 4.17 by C:94723aafb9e7.
    bug_b18_enomem_aborts_list: bool
    #: Bug B19 (v1 of the THP migration series, 2016): the lockless GUP-fast walk
    #: (gup_pmd_range) falls back to the slow path only for pmd_none(), so a PMD
    #: migration entry is read as a PTE-table pointer. 4.14 (C:84c3fc4e9c56): falls back
    #: for !pmd_present().
    bug_b19_gup_fast_pmd_none: bool
    #: Bug B20: the 4.14 smaps_pte_range() (see ``smaps_pmd_migration_entry``) in an era
    #: that accounts a PMD migration entry: a THP under migration drops out of smaps'
    #: Rss and AnonHugePages. Changed in 5.8 ("/proc/PID/smaps: add PMD migration
    #: entry parsing", Huang Ying).
    bug_b20_smaps_skips_pmd_migration_entry: bool
    # ---- mm/mempolicy.c (mbind, set_mempolicy, get_mempolicy, migrate_pages)
    #: 5.14 (Feng Tang's MPOL_LOCAL series): MPOL_LOCAL is stored as itself and
    #: MPOL_PREFERRED with an empty mask becomes it (get_mempolicy reports 4). 4.14:
    #: both are MPOL_PREFERRED + internal MPOL_F_LOCAL, reported as MPOL_PREFERRED (1).
    mpol_local_mode: bool
    #: 5.12 (Huang Ying's series): MPOL_F_NUMA_BALANCING is a mode flag (BIND; 6.x also
    #: PREFERRED_MANY). 4.14: not a mode flag, so the mode is out of range: EINVAL.
    mpol_numa_balancing: bool
    #: 5.12 (the same series, sanitize_mpol_flags(): ``int lmode = mode``): mbind(2)
    #: takes its unsigned long mode as an int, so 2**32 + MPOL_BIND is MPOL_BIND.
    #: 4.14 compares the whole unsigned long with MPOL_MAX: EINVAL.
    mbind_mode_c_int: bool
    #: 5.15 (C:b27abaccf8e8): MPOL_PREFERRED_MANY (5). 4.14: EINVAL.
    mpol_preferred_many: bool
    #: 6.9: MPOL_WEIGHTED_INTERLEAVE (6), every weight 1 here. 4.14: EINVAL.
    mpol_weighted_interleave: bool
    #: 5.11 (C:e130242dc351, fixed by C:000eca5d044d): get_nodes() checks the words
    #: above MAX_NUMNODES whole, so a bit past maxnode - 1 in the top word is EINVAL.
    #: 4.14 masks the top word to maxnode - 1 bits first.
    get_nodes_checks_whole_top_word: bool
    #: 5.0 (C:050c17f239fd, "mm/mempolicy.c: use nr_node_ids instead of MAX_NUMNODES"):
    #: get_mempolicy(2) with a mask is EINVAL when maxnode < nr_node_ids. 4.14 compares
    #: with MAX_NUMNODES (1024 here), so maxnode 65 is EINVAL even on a 2-node box.
    get_mempolicy_maxnode_nr_node_ids: bool
    #: 5.2 (C:a7f40cfe3b7a) and 5.3 (Yang Shi, unmovable pages under MOVE|STRICT):
    #: mbind(MPOL_MF_STRICT) without MOVE walks the range and a misplaced page is EIO
    #: (policy not applied); a PMD migration entry or a page that cannot be isolated is
    #: a failure (EIO under STRICT). 4.14 walks only with MOVE and skips both silently
    #: (MB-6/MB-7, MB-10).
    mbind_strict_eio: bool
    #: 5.5 (Li Xinhai, "fix checking unmapped holes for mbind"): mbind's range may have
    #: no hole at head, middle or tail (EFAULT) unless MPOL_DEFAULT; a range that is all
    #: hole is EFAULT. 4.14 misses a tail hole and reports a head hole (from
    #: mbind_range) even for MPOL_DEFAULT.
    queue_pages_hole_checks: bool
    #: 5.14 (Yang Shi, "don't have to split pmd for huge zero page"): mbind and
    #: migrate_pages skip a huge zero PMD. 4.14 splits it into zero-page PTEs.
    queue_pages_skip_huge_zero: bool
    #: 6.7 (Hugh Dickins, "fix migrate_pages(2) syscall return nr_failed"):
    #: migrate_pages(2) also counts the folios its walk could not isolate, and takes
    #: mmap_lock per source node; the walk isolates a PTE-mapped large folio once
    #: (qp->large) so its other PTEs are no failures, and an unmovable page under
    #: MOVE|STRICT no longer ends the walk (5.2 .. 6.6 returned 1 there: a hole later
    #: in the range went unseen and mbind failed EIO, not EFAULT; the kernel oracle,
    #: 6.1). 4.14: not counted. (The walk counts failures only with
    #: ``mbind_strict_eio``, as it does since 5.2.)
    queue_pages_nr_failed: bool
    #: 6.7 (Hugh Dickins, alloc_migration_target_by_mpol()): mbind allocates targets
    #: by the new policy itself (interleave anchored at the first queued folio) after
    #: dropping mmap_lock. 4.14 new_page(): the page's VMA from ``start`` on, or the
    #: task policy when none maps it (a THP whose head lies before ``start``).
    mbind_alloc_by_mpol: bool
    #: 5.13 (H. Dickins, "mm/thp: fix vma_address() if virtual address below file
    #: offset"): page_address_in_vma() of a THP head that lies before the VMA but whose
    #: folio reaches into it gives vm_start, so mbind's old new_page() finds the VMA a
    #: mid-THP mbind split off and allocates by its policy (oracle: 6.1 moves the THP
    #: of caller-semantics MB-5 to the bound node); 6.13 (M. Wilcox,
    #: page_address_in_vma(folio, page, vma)) asks about the one page again, so 4.14
    #: and mainline: -EFAULT (new_page() falls back to the task policy; 6.7+ mbind's
    #: interleave anchor skips the VMA). True only for the 5.13..6.12 kernels.
    vma_address_head_overlap: bool
    #: 5.9 (L. Torvalds, "mm: do_wp_page() simplification": reuse only at
    #: page_count() == 1; 5.19+ wp_can_reuse_anon_folio() "let's just consistently not
    #: reuse subpages") .. 6.16 (D. Hildenbrand, "mm: Copy-on-Write (COW) reuse support
    #: for PTE-mapped THP"): a write fault on a read-only PTE of a THP subpage that is
    #: not PageAnonExclusive always copies the subpage (the THP loses it and is queued
    #: for deferred split). 4.14 (reuse_swap_page(): no subpage mapped twice) and
    #: mainline (the folio exclusive to this mm) reuse. True only for 5.9..6.15 kernels
    #: (oracle: 6.12 and 6.1 copy).
    wp_copy_large_folio_subpages: bool
    #: with ``wp_copy_large_folio_subpages``, before 6.12 (6.1's do_wp_page(): copy
    #: only while folio_ref_count() > 1; later wp_can_reuse_anon_folio() refuses every
    #: large folio): the subpage is reused once it is the folio's only mapping (the
    #: last subpage a program writes after the others were copied stays a THP tail;
    #: oracle: 6.1 does, 6.12 does not). False elsewhere.
    wp_reuse_large_folio_last_ref: bool
    #: 4.15 (C:313674661925): migrate_pages(2) on another process needs
    #: ptrace_may_access(). 4.14: CAP_SYS_NICE or a matching real/effective uid.
    migrate_pages_ptrace_check: bool
    #: 4.15 (Yisheng Xie, "add nodes_empty check in SYSC_migrate_pages"): new_nodes is
    #: cut to the caller's cpuset and EINVAL only when empty. 4.14: EINVAL if any new
    #: node has no memory, and an empty new_nodes moves nothing (returns 0).
    migrate_pages_new_nodes_intersect: bool
    #: The v3 series' patch 11/14 ("mm: hwpoison: soft offline supports thp migration",
    #: dropped before 4.14): soft offline migrates an in-use THP whole and poisons only
    #: the reported 4 KiB frame. Shipped kernels split the THP first (mm/memory-failure.c).
    soft_offline_migrates_thp: bool
    #: ~5.9 (O. Salvador, soft offline rework): soft-offlining an already poisoned frame
    #: returns 0. 4.14: -EBUSY.
    soft_offline_poisoned_ok: bool
    # ---- mm/memory_hotplug.c (memory hot-remove)
    #: 4.15 (C:ecde0f3e7f9e, M. Hocko, "remove timeout from __offline_memory"):
    #: offline_pages() retries until nothing in the block is in use, and gives up only
    #: for a pending signal (-EINTR). 4.14: -EBUSY after 120 s or 5 failed migration
    #: rounds, stood in for by a bounded number of passes (mm/memory_hotplug.py).
    offline_pages_no_timeout: bool
    #: 5.x (is_mem_section_removable() removed): memoryN/removable prints 1 whenever the
    #: kernel can offline memory. 4.14: show_mem_removable() -> is_mem_section_removable():
    #: 0 when a pageblock outside ZONE_MOVABLE holds an in-use page that is not on an LRU
    #: list (page tables, reserved and kernel pages); 1 for an offline block.
    memory_removable_always: bool
    #: 5.5 (C:feee6b298916, D. Hildenbrand, "shrink zones when offlining memory"):
    #: offline_pages() shrinks the zone and node spans and drops the block's zone links,
    #: so an offline block at a zone's edge lies in no zone and onlines by default into
    #: the kernel zone (valid_zones "Normal Movable"). 4.14: spans shrink only on memory
    #: removal, so it stays in its zone's span and "online" keeps the zone
    #: (valid_zones "Movable Normal").
    offline_pages_shrinks_zones: bool
    #: cgroup v2 (mainline: 7.2 kernels may lack CONFIG_CPUSETS_V1, the oracle's v1 mount
    #: fails): cpusets at /sys/fs/cgroup, migration always on. 4.14: the v1 cpuset
    #: hierarchy at /sys/fs/cgroup/cpuset with cpuset.memory_migrate (kernel/cgroup/cpuset.py).
    cpuset_cgroup_v2: bool
    # ---- mm/memory-failure.c (memory_failure(): hard poison)
    #: 5.14 (A. Yao, "mm,hwpoison: return -EHWPOISON to denote that the page has already
    #: been poisoned"): memory_failure() on a frame already PG_hwpoison returns
    #: -EHWPOISON (hard_offline_page: EHWPOISON). 4.14: 0.
    memory_failure_poisoned_ehwpoison: bool
    #: 6.x (J. Chu, "send SIGBUS in the event of thp split fail"): a THP memory_failure()
    #: cannot split keeps PG_hwpoison on the bad frame, the caller mapping it is killed,
    #: MF_FAILED and -EHWPOISON. 4.14: PG_hwpoison cleared again, -EBUSY.
    memory_failure_unsplit_thp_ehwpoison: bool
    #: 6.3 (J. Yan, "mm: memory-failure: add memory failure stats to sysfs"):
    #: /sys/devices/system/node/nodeN/memory_failure/{total,ignored,failed,delayed,
    #: recovered}, counted by action_result(). 4.14: absent.
    memory_failure_node_stats: bool
    #: 6.1x-7.x (memory_failure_pfn(): poison of PFNs without a struct page, for VFIO
    #: PFN maps): memory_failure() of a PFN beyond the memmap with nothing mapping it
    #: is MF_IGNORED, -EBUSY (oracle: hard_offline_page of 0xfffffffff000 is EBUSY on
    #: 7.2, ENXIO on 6.1). 4.14: -ENXIO ("memory outside kernel control").
    memory_failure_pfn_without_page_ebusy: bool
    #: 5.x-6.x unpoison_memory() rework (N. Horiguchi): a frame that cannot be
    #: unpoisoned (not poisoned, still referenced or mapped) is -EBUSY, an offline or
    #: absent PFN -EIO. 4.14: such cases return 0 (only logged), no memmap -ENXIO.
    unpoison_memory_ebusy: bool
    #: between 6.1 and 6.12 (madvise_inject_error() passes MF_ACTION_REQUIRED): the
    #: caller mapping the page gets SIGBUS (BUS_MCEERR_AR) during the madvise call;
    #: oracle: 6.12 and 7.2 do, 6.1 does not. 4.14: no signal until the page is touched.
    madvise_hwpoison_action_required: bool
    #: 6.11 (J. Yan, "mm/memory-failure: userspace controls soft-offlining pages"):
    #: /proc/sys/vm/enable_soft_offline (0..1, default 1); at 0 soft_offline_page()
    #: of an online frame is -EOPNOTSUPP (soft_offline_page, MADV_SOFT_OFFLINE).
    #: 4.14: no such file.
    sysctl_enable_soft_offline: bool
    # ---- mm/mremap.c
    #: 6.17 (L. Stoakes' mremap rework, check_mremap_params()): a new_len past
    #: TASK_SIZE is EINVAL for every mremap, before the VMA is looked up. 4.14 (and
    #: 6.1): only with MREMAP_FIXED; otherwise the grow fails later (ENOMEM).
    mremap_new_len_task_size_einval: bool
    #: 5.7 (B. Geffon, "mm: Add MREMAP_DONTUNMAP to mremap()"), relaxed in 5.13 to
    #: any VMA but VM_DONTEXPAND/VM_PFNMAP: MREMAP_DONTUNMAP (4) moves the pages and
    #: leaves the old VMA mapped and empty; it needs MREMAP_MAYMOVE and old_len ==
    #: new_len (6.17: compared page-aligned). 4.14: an unknown flag, EINVAL.
    mremap_dontunmap: bool
    #: 5.16 (C:550a7d60bd5e, hugetlb mremap support): mremap looks up the VMA at
    #: ``addr`` (EFAULT) before the shrink and before mremap_to()'s unmaps. 4.14: a
    #: shrink of an unmapped range returns addr; MREMAP_FIXED unmaps the destination
    #: first, then vma_to_resize() fails (EFAULT).
    mremap_vma_lookup_first: bool
    #: 6.17 (L. Stoakes, "mm/mremap: permit mremap() move of multiple VMAs"):
    #: MREMAP_FIXED with old_len == new_len moves every VMA of the range (gaps kept;
    #: the range must start in a VMA). Before: the range must lie in one VMA (EFAULT).
    mremap_move_multiple_vmas: bool
    #: 6.17 (check_prep_vma(), L. Stoakes' mremap rework): with MREMAP_FIXED the VMA
    #: is checked (old_len 0, DONTUNMAP's VMA rule, the range inside the VMA) before
    #: the destination and the tail are unmapped, and a shrink's tail may cross VMAs.
    #: 4.14..6.16 mremap_to(): unmaps first, then vma_to_resize() may fail.
    mremap_check_vma_before_unmap: bool
    #: 5.14 (D. Hildenbrand, "mm/madvise: introduce MADV_POPULATE_(READ|WRITE) to
    #: prefault page tables"): madvise_behavior_valid() accepts MADV_POPULATE_READ
    #: and MADV_POPULATE_WRITE, which fault the range in. 4.14: EINVAL.
    madvise_populate: bool
    #: 6.9+ (C:631426ba1d45, "mm/madvise: make MADV_POPULATE_(READ|WRITE) handle
    #: VM_FAULT_RETRY properly"): do_madvise() hands the whole range to
    #: madvise_populate(), which walks it in order and stops at the first hole
    #: (-ENOMEM) or refused VMA (-EINVAL). 5.14-6.8: the per-VMA walk remembers a hole,
    #: goes on, and a later PROT_NONE VMA's -EINVAL wins (the kernel oracle: 6.1 gives
    #: EINVAL where 6.12 and 7.2 give ENOMEM).
    madvise_populate_whole_range: bool
    #: 5.4 (Minchan Kim, "introduce MADV_COLD" / "introduce MADV_PAGEOUT"):
    #: madvise_behavior_valid() accepts MADV_COLD (20) and MADV_PAGEOUT (21), which
    #: deactivate the range's pages or hand them to reclaim. 4.14: EINVAL.
    madvise_cold_pageout: bool
    #: 6.1 (Z. O'Keefe, "mm/madvise: introduce MADV_COLLAPSE sync hugepage
    #: collapse"): MADV_COLLAPSE (25) is valid (mm/khugepaged.py madvise_collapse()).
    #: 4.14: EINVAL.
    madvise_collapse: bool
    #: between 6.12 and 7.2 (the kernel oracle: Debian's 7.2 returns 0, 6.1 and 6.12
    #: EINVAL): MADV_COLLAPSE over a range that holds no whole aligned 2 MiB block
    #: succeeds with nothing to do. Before, hend - hstart wrapped (unsigned) and the
    #: count of blocks never matched: madvise_collapse_errno(SCAN_FAIL), EINVAL.
    madvise_collapse_no_block_ok: bool
    #: after 6.12 (D. Jain, "khugepaged: remove the writable check", Sept 2025; the
    #: kernel oracle: Debian's 7.2 collapses such a block, 6.1 and 6.12 do not): a 2 MiB
    #: block whose PTEs are all read-only (after clear_refs 4 or fork, say) may be
    #: collapsed. Before, hpage_collapse_scan_pmd() and __collapse_huge_page_isolate()
    #: gave SCAN_PAGE_RO: EINVAL for MADV_COLLAPSE.
    collapse_read_only_anon: bool
    #: after 6.12 (D. Jain, "khugepaged: optimize __collapse_huge_page_copy_succeeded()
    #: by PTE batching", 2025; the kernel oracle: Debian's 7.2 does not count a
    #: collapsed PTE-mapped THP in thp_deferred_split_page, 6.12 does): the PTEs of a
    #: large folio are removed in one folio_remove_rmap_ptes() call, so a THP the block
    #: mapped whole is never partially mapped. Before: one PTE at a time, and the
    #: first removal queues it for deferred split.
    collapse_pte_batch: bool
    #: 6.13 (Q. Zheng, C:6375e95f381e, "mm: pgtable: reclaim empty PTE page in
    #: madvise(MADV_DONTNEED)"; x86-64 CONFIG_PT_RECLAIM): MADV_DONTNEED over a whole
    #: 2 MiB block frees its emptied PTE table (PageTables drops; the next read fault
    #: there maps the huge zero page, a write fault a THP). Before (and for munmap,
    #: MADV_FREE, exit's zap): the empty table stays until the VMA goes.
    madvise_dontneed_reclaim_pt: bool
    #: 6.9 (D. Hildenbrand, "mm/memory: optimize unmap/zap with PTE-mapped THP"):
    #: zap_pte_range() removes the PTEs of one large folio in a batch
    #: (zap_present_ptes(), folio_remove_rmap_ptes()), so a PTE-mapped THP that a
    #: munmap or MADV_DONTNEED unmaps whole is never partially mapped and not queued
    #: for deferred split (the kernel oracle: 7.2 and 6.12 count none, 6.1 one).
    #: Before: one PTE at a time.
    zap_pte_batch: bool
    #: 5.10 on x86 (HAVE_MOVE_PMD; C:2c91bd4a4e2e, "mm: speed up mremap by 20x on large
    #: regions"): mremap() moves a PTE table covering a whole aligned 2 MiB to a none
    #: PMD as it is (move_normal_pmd()); its PTEs are not rewritten, so they keep their
    #: soft-dirty bits (the kernel oracle: 7.2 shows sd=0 after such a move following
    #: clear_refs 4). 4.14: move_ptes() for every table, each PTE made soft-dirty.
    mremap_move_normal_pmd: bool
    #: 6.11 (L. Yang, C:735ecdfaf4e8, "mm/vmscan: avoid split lazyfree THP during
    #: shrink_folio_list()"): reclaim discards a clean lazily freed (MADV_FREE) THP that
    #: a PMD maps with the PMD (unmap_huge_pmd_locked()). Before: try_to_unmap_one()
    #: splits the PMD first (TTU_SPLIT_HUGE_PMD, thp_split_pmd) and discards the PTEs.
    lazyfree_thp_unmap_pmd: bool
    #: 6.9 (R. Roberts, "mm: madvise: avoid split during MADV_PAGEOUT and MADV_COLD"):
    #: COLD/PAGEOUT handle a PTE-mapped THP the range covers whole as one folio and
    #: split only one covered in part. 5.4..6.8: every PTE-mapped THP met is split
    #: (one mapped elsewhere too, or locked, ends that PMD's part of the walk).
    madvise_cold_pte_thp_batch: bool
    # ---- fs/proc/task_mmu.c: smaps, smaps_rollup, pagemap, clear_refs, status's Vm* lines
    #: 5.16 (C:24d7275ce279, "don't read mapcount for migration entry") and 6.10
    #: (D. Hildenbrand, "account non-present entries as 'maybe shared, though no
    #: mapcount'"): smaps_account() accounts a page behind a non-present entry (a
    #: migration entry) whole, as shared, without reading its mapcount. 4.14: by
    #: refcount and mapcounts like a present one.
    smaps_account_nonpresent_shared: bool
    #: 5.8 (Huang Ying, "/proc/PID/smaps: add PMD migration entry parsing"):
    #: smaps_pte_range() hands a PMD migration entry to smaps_pmd_entry(), which
    #: accounts the THP behind it. 4.14 (C:84c3fc4e9c56, the THP migration series):
    #: present PMDs only.
    smaps_pmd_migration_entry: bool
    #: ~6.0 (after the 5.19 PTE markers, is_hwpoison_entry() moved up in swapops.h):
    #: is_pfn_swap_entry() includes hwpoison entries, so smaps and pagemap look up
    #: the page behind a hwpoison PTE too. 4.14: only a migration entry names a page.
    pfn_swap_entry_hwpoison: bool
    #: 6.0 ("mm/smaps: add Pss_Dirty"): the Pss_Dirty line.
    smaps_pss_dirty: bool
    #: 5.1 ("mm: smaps: split PSS into components"): smaps_rollup's
    #: Pss_Anon, Pss_File and Pss_Shmem lines.
    smaps_rollup_pss_split: bool
    #: 6.x (KSM pages counted in smaps, mss->ksm): the KSM line.
    smaps_ksm: bool
    #: 5.4 ("mm,thp: stats for file backed THP"): smaps' FilePmdMapped,
    #: meminfo's and node meminfo's FileHugePages and FilePmdMapped lines.
    file_thp_stats: bool
    #: 5.1 ("mm, thp, proc: report THP eligibility for each vma"):
    #: smaps' THPeligible line.
    smaps_thp_eligible: bool
    #: 5.14 (pagemap_pte_range()/pagemap_pmd_range() show a swap entry only with
    #: pm->show_pfn): pagemap's swap type and offset are zero unless the reader may
    #: see PFNs (CAP_SYS_ADMIN), like a PFN. 4.14: always shown.
    pagemap_hides_swap_offset: bool
    #: 6.10 (D. Hildenbrand, "fs/proc/task_mmu: don't indicate PM_MMAP_EXCLUSIVE
    #: without PM_PRESENT"): PM_MMAP_EXCLUSIVE only on present entries. 4.14: also
    #: on a migration entry whose page is mapped once.
    pagemap_exclusive_present_only: bool
    #: 6.10 (D. Hildenbrand, "fs/proc/task_mmu: indicate PM_FILE for PMD-mapped file
    #: THP"): pagemap_pmd_range() sets PM_FILE for a page that is not anon (the huge
    #: zero page too). 4.14: never PM_FILE for a PMD.
    pagemap_pmd_pm_file: bool
    #: 5.11 (C:29a951dfb3c3, "mm: fix clear_refs_write locking"): clear_refs takes
    #: mmap_lock for write throughout. 4.14: for read, dropped and retaken for write
    #: only to clear VM_SOFTDIRTY, then downgraded.
    clear_refs_mmap_write_lock: bool
    #: 5.11 (W. Deacon, "mm: proc: Invalidate TLB after clearing
    #: soft-dirty page state", "Avoid fullmm flush for young/dirty bit
    #: toggling"): clear_refs flushes the TLB only after a soft-dirty walk. 4.14:
    #: flush_tlb_mm() after every walk.
    clear_refs_flush_soft_dirty_only: bool
    #: 4.16 (C:af5b0f6a09e4, "mm: consolidate page table accounting"): status' VmPTE
    #: counts every page-table level (mm_pgtables_bytes()) and VmPMD is gone. 4.14:
    #: VmPTE (PTE tables) and VmPMD (PMD tables).
    status_vmpte_all_levels: bool
    # ---- fs/proc/array.c: /proc/PID/status
    #: 6.4 (C. Wu, "fs/proc: add Kthread flag to /proc/$pid/status"): the Kthread line.
    status_kthread: bool
    #: 4.15 ("proc, coredump: add CoreDumping flag"): the CoreDumping
    #: line.
    status_core_dumping: bool
    #: 5.0 (M. Hocko, "mm, proc: report PR_SET_THP_DISABLE in proc"): the
    #: THP_enabled line.
    status_thp_enabled: bool
    #: 5.10 ("seccomp: Report number of loaded filters"): the
    #: Seccomp_filters line.
    status_seccomp_filters: bool
    #: 5.8 (CAP_PERFMON 38, CAP_BPF 39) and 5.9 (CAP_CHECKPOINT_RESTORE 40):
    #: CAP_LAST_CAP 40 (CapBnd shows bits 0..40). 4.14: 37.
    cap_last_cap_40: bool
    # ---- fs/proc/meminfo.c, drivers/base/node.c: /proc/meminfo, nodeN/meminfo
    #: 5.19 ("mm: zswap: add basic meminfo and vmstat coverage"):
    #: meminfo's Zswap and Zswapped lines.
    meminfo_zswap: bool
    #: 4.20 ("mm: proc: add KReclaimable to /proc/meminfo"): the
    #: KReclaimable line of meminfo and node meminfo.
    meminfo_kreclaimable: bool
    #: 6.0 ("mm: add NR_SECONDARY_PAGETABLE"): the SecPageTables line
    #: of meminfo and node meminfo.
    meminfo_sec_pagetables: bool
    #: 4.16 ("/proc/meminfo: add percpu populated pages count"): the
    #: Percpu line.
    meminfo_percpu: bool
    #: 6.14 (N. Pache, "meminfo: add a per node counter for balloon drivers"): the
    #: Balloon line of /proc/meminfo.
    meminfo_balloon: bool
    #: 4.16 ("mm: show total hugetlb memory consumption in
    #: /proc/meminfo"): the Hugetlb line.
    meminfo_hugetlb: bool
    #: 5.9 (node_read_meminfo() prints NR_SWAPCACHE): node meminfo's SwapCached line.
    node_meminfo_swapcached: bool
    # ---- fs/proc/page.c: /proc/kpageflags, /proc/kpagecount
    #: 6.10 (M. Wilcox, "proc: rewrite stable_page_flags()"): the copied PG_* bits and
    #: KPF_IDLE come from the folio (the head page's flags). 4.14: the page's own.
    kpageflags_folio_flags: bool
    #: 5.0 ("mm: convert PG_balloon to PG_offline"): KPF_OFFLINE.
    kpageflags_offline: bool
    #: 4.18 ("mm: mark pages in use for page tables"): KPF_PGTABLE.
    kpageflags_pgtable: bool
    #: 5.19 (C:6c287605fd56, PG_anon_exclusive, an alias of PG_mappedtodisk):
    #: KPF_MAPPEDTODISK shows on exclusive anon pages. (The model keeps
    #: PG_anon_exclusive in that bit in every era; 4.14 never set it on anon pages.)
    kpageflags_anon_exclusive_mappedtodisk: bool
    #: 5.4 ("fs/proc/page.c: don't access uninitialized memmaps"):
    #: stable_page_flags(pfn_to_online_page()): a PFN of an offline memory block is
    #: KPF_NOPAGE.
    kpageflags_offline_block_nopage: bool
    #: 6.9 (M. Wilcox, "mm: support page_mapcount() on page_has_type() pages"):
    #: kpagecount is 0 for typed pages (buddy, page table, offline). 4.14: the
    #: page-type value read as a mapcount.
    kpagecount_typed_zero: bool
    # ---- kernel/sched/core.c sysctl_numa_balancing()
    #: 5.18 (C:c574bbe91703, Huang Ying, "NUMA balancing: optimize page placement for
    #: memory tiering system"): kernel.numa_balancing is a mode, 0..4 (extra2 =
    #: SYSCTL_FOUR: NUMA_BALANCING_NORMAL 1, NUMA_BALANCING_MEMORY_TIERING 2), read
    #: back as written. 4.14: 0 or 1.
    numa_balancing_memory_tiering: bool
    # ---- kernel/sched/fair.c, mm/memory.c, mm/migrate.c: NUMA balancing (numa-balancing.md)
    #: 5.13 (C:8a99b6833c88, P. Zijlstra, "sched: Move SCHED_DEBUG sysctl to debugfs"):
    #: the scan tunables (scan_delay_ms, scan_period_min_ms, scan_period_max_ms,
    #: scan_size_mb) are /sys/kernel/debug/sched/numa_balancing/* (u32 debugfs files),
    #: with 6.0's hot_threshold_ms beside them. 4.14:
    #: /proc/sys/kernel/numa_balancing_scan_{delay_ms,period_min_ms,period_max_ms,size_mb}.
    numa_balancing_debugfs_tunables: bool
    #: 6.4 (R. K T, "sched/numa: enhance vma scanning logic", "apply the scan delay to
    #: every new vma"; 6.7 M. Gorman's pids_active/prev_scan_seq rework): each VMA has a
    #: numab_state: it is scanned only a scan delay after the scanner first saw it, once
    #: per scan sequence, and after its first two sequences only if the task faulted in
    #: it lately (vma_is_accessed()) or no other VMA is left. Before: every suitable VMA.
    numa_balancing_vma_scan_state: bool
    #: 5.13 (Y. Shi, "mm: thp: refactor NUMA fault handling", "mm: migrate: don't split
    #: THP for misplaced NUMA page"): do_huge_pmd_numa_page() restores the PMD or migrates
    #: the THP through the common migrate_misplaced_page() (migrate_pages(), PMD
    #: migration entries, thp_migration_success). 4.14: migrate_misplaced_transhuge_page(),
    #: its own path (older than the THP migration series, which left it alone): copy
    #: while the PMD is PROT_NONE, swap the PMD under its lock, only an unshared THP
    #: (page_ref_freeze(page, 2)); pgmigrate_success and numa_pages_migrated count 512.
    numa_thp_misplaced_generic: bool
    #: 4.14 only (removed in 5.0 by C:efaffc5e40ae, M. Gorman, "mm, numa: remove
    #: rate-limiting of automatic NUMA balancing migration"): numamigrate_update_ratelimit():
    #: at most 128 MiB of pages migrated to a node per 100 ms window.
    numa_migrate_ratelimit: bool
    #: 4.19 (C:37355bdc5a12, M. Gorman, "mm, sched/numa: Migrate pages to local nodes
    #: quicker early in the lifetime of a task"): should_numa_migrate_memory() lets a
    #: first or private fault migrate at once while the task's numa_scan_seq <= 4,
    #: before the two-stage cpupid filter. 4.14: the filter always (a page whose last
    #: hinting fault came from another node stays, whoever faulted).
    numa_migrate_first_faults_early: bool
    #: pgpromote_success (5.18, C:e39bb6be9f2b) and pgpromote_candidate (6.0) printed in
    #: /proc/vmstat (node items; always counted); Debian's 6.1, 6.12 and 7.2 print both
    #: (oracle). 4.14 has neither.
    vmstat_pgpromote: bool
    # ---- mm/mlock.c, mm/swap.c: the unevictable_pgs_* events
    #: 4.16 (C:9c4e6b1a7027, "mm, mlock, vmscan: no more skipping pagevecs"): a page
    #: faulted into a VM_LOCKED VMA reaches the unevictable list through the LRU-add
    #: pagevec, which counts unevictable_pgs_culled. 4.14: add_page_to_unevictable_list(),
    #: not counted.
    lru_add_counts_culled: bool
    #: 5.18 (H. Dickins, "mm/munlock: mlock_page() munlock_page() batch by pagevec",
    #: "rmap call mlock_vma_page() munlock_vma_page()"): unevictable_pgs_{mlocked,
    #: munlocked,culled,rescued,stranded,cleared} count base pages (a THP 512), and the
    #: rmap removal of a page in a VM_LOCKED VMA munlocks it (munlocked, or stranded
    #: while it is isolated). 4.14: one per page or THP, and the last unmap of a page
    #: still PG_mlocked is clear_page_mlock(): cleared, then rescued (stranded when
    #: isolated).
    mlock_counts_folio_pages: bool
    # ---- mm/huge_memory.c sysfs and debugfs, fs/drop_caches.c
    #: 6.12 (U. Arif, "mm: split underused THPs"): /proc/vmstat's
    #: thp_underused_split_page, counted by deferred_split_scan() when it splits a THP
    #: thp_underused() finds more than khugepaged's max_ptes_none zero-filled pages in.
    #: The model's max_ptes_none is its default, HPAGE_PMD_NR - 1, at which
    #: thp_underused() is false: the counter stays 0 as on a default 6.12+ system.
    #: 4.14: no such line.
    thp_underused_split_page: bool
    #: 5.12 (C:fa6c02315f74, Zi Yan, "mm: huge_memory: a new debugfs interface for
    #: splitting THP tests"; 6.9 adds ",<new_order>", 6.15 ",<in_folio_offset>"):
    #: debugfs split_huge_pages takes "<pid>,0x<start>,0x<end>" (and a file path) as well
    #: as the global "1", and returns the string's length. 4.14: a simple attribute,
    #: 1 or EINVAL, the split count logged.
    split_huge_pages_pid: bool
    #: after 4.14 (enabled_store()/defrag_store() match with sysfs_streq()): a THP mode
    #: is the whole word, one trailing newline allowed. 4.14: a prefix match,
    #: ``memcmp(word, buf, min(sizeof(word) - 1, count))``.
    thp_sysfs_streq: bool
    #: after 4.14 (vm.drop_caches registered 0200, fs/drop_caches.c in 6.x): write
    #: only. 4.14: 0644.
    drop_caches_write_only: bool

    def with_switches(self, **switches: object) -> Profile:
        """This profile with some switches changed. A boolean switch takes a bool (or
        the ints 0 and 1), an integer switch a non-negative int; anything else, such
        as the string ``'no'`` (which would read as true), is a :class:`ConfigError`."""
        checked: dict[str, object] = {}
        for k, v in switches.items():
            kind = switch_type(k)
            if kind is None:
                raise ConfigError(f"unknown profile switch {k!r}")
            if kind is bool:
                if type(v) is not bool and not (type(v) is int and v in (0, 1)):
                    raise ConfigError(f"profile switch {k} takes True/False, not {v!r}")
                v = bool(v)
            elif type(v) is not int or v < 0:
                raise ConfigError(f"profile switch {k} takes a non-negative int, not {v!r}")
            checked[k] = v
        return replace(self, **checked)  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    "seed": Profile(
        name="seed",
        swap_layout_4_14_0=True,
        swap_types_v6=False,
        thp_cow_copies_huge=True,
        thp_wp_huge_zero_alloc=False,
        rmap_deferred_split_partially_mapped=False,
        smaps_pmd_counts_protnone=True,
        mprotect_pte_batch=False,
        simple_attr_write_kstrtoull=False,
        thp_split_remap_zero_subpages=False,
        thp_align_anon_mappings=False,
        overcommit_guess_totalram=False,
        thp_alloc_remote_fallback=False,
        mprotect_try_change_writable=False,
        pmd_bad_ignores_accessed=False,
        rss_counter_names=False,
        thp_migration_supported=True,
        migrate_thp_split_on_enomem=False,
        migrate_split_deferred_folio=False,
        migration_restore_dirty_keeps_soft_dirty=False,
        split_huge_pmd_carries_dirty=False,
        migrate_requeue_deferred_split=False,
        vma_merge_faulted_into_unfaulted=False,
        mprotect_unaccount_unfaulted=False,
        pgmigrate_counts_base_pages=False,
        move_pages_batched=False,
        move_pages_folio_walk=False,
        move_pages_folio_likely_mapped_shared=False,
        bug_b3_pmd_migration_no_flush=False,
        bug_b5_swp_soft_dirty_bit=0,
        bug_b7_freeze_uses_ttu_migration=False,
        bug_b8_split_mig_uses_present_accessors=False,
        bug_b9_read_then_invalidate=False,
        bug_b10_migration_entry_keeps_write=False,
        bug_b11_swp_soft_dirty_lost=False,
        bug_b1_zap_lockless_multiread=False,
        bug_b2_clear_bad_ignores_migration=False,
        bug_b4_transient_none_pmd=False,
        bug_b15_change_pmd_multiread=False,
        migration_entry_wait_no_ref=False,
        bug_b12_mlock_pte_mapped_thp=False,
        bug_b16_split_pmd_page_of_migration_entry=False,
        bug_b17_waiter_takes_ref=False,
        bug_b18_enomem_aborts_list=False,
        bug_b19_gup_fast_pmd_none=False,
        bug_b20_smaps_skips_pmd_migration_entry=False,
        mpol_local_mode=False,
        mpol_numa_balancing=False,
        mbind_mode_c_int=False,
        mpol_preferred_many=False,
        mpol_weighted_interleave=False,
        get_nodes_checks_whole_top_word=False,
        get_mempolicy_maxnode_nr_node_ids=False,
        mbind_strict_eio=False,
        queue_pages_hole_checks=False,
        queue_pages_skip_huge_zero=False,
        queue_pages_nr_failed=False,
        mbind_alloc_by_mpol=False,
        vma_address_head_overlap=False,
        wp_copy_large_folio_subpages=False,
        wp_reuse_large_folio_last_ref=False,
        migrate_pages_ptrace_check=False,
        migrate_pages_new_nodes_intersect=False,
        soft_offline_migrates_thp=True,
        soft_offline_poisoned_ok=False,
        offline_pages_no_timeout=False,
        memory_removable_always=False,
        offline_pages_shrinks_zones=False,
        cpuset_cgroup_v2=False,
        memory_failure_poisoned_ehwpoison=False,
        memory_failure_unsplit_thp_ehwpoison=False,
        memory_failure_node_stats=False,
        memory_failure_pfn_without_page_ebusy=False,
        unpoison_memory_ebusy=False,
        madvise_hwpoison_action_required=False,
        sysctl_enable_soft_offline=False,
        mremap_new_len_task_size_einval=False,
        mremap_dontunmap=False,
        mremap_vma_lookup_first=False,
        mremap_move_multiple_vmas=False,
        mremap_check_vma_before_unmap=False,
        madvise_populate=False,
        madvise_populate_whole_range=False,
        madvise_cold_pageout=False,
        madvise_collapse=False,
        madvise_collapse_no_block_ok=False,
        collapse_read_only_anon=False,
        collapse_pte_batch=False,
        madvise_dontneed_reclaim_pt=False,
        zap_pte_batch=False,
        mremap_move_normal_pmd=False,
        lazyfree_thp_unmap_pmd=False,
        madvise_cold_pte_thp_batch=False,
        smaps_account_nonpresent_shared=False,
        smaps_pmd_migration_entry=False,
        pfn_swap_entry_hwpoison=False,
        smaps_pss_dirty=False,
        smaps_rollup_pss_split=False,
        smaps_ksm=False,
        file_thp_stats=False,
        smaps_thp_eligible=False,
        pagemap_hides_swap_offset=False,
        pagemap_exclusive_present_only=False,
        pagemap_pmd_pm_file=False,
        clear_refs_mmap_write_lock=False,
        clear_refs_flush_soft_dirty_only=False,
        status_vmpte_all_levels=False,
        status_kthread=False,
        status_core_dumping=False,
        status_thp_enabled=False,
        status_seccomp_filters=False,
        cap_last_cap_40=False,
        meminfo_zswap=False,
        meminfo_kreclaimable=False,
        meminfo_sec_pagetables=False,
        meminfo_percpu=False,
        meminfo_balloon=False,
        meminfo_hugetlb=False,
        node_meminfo_swapcached=False,
        kpageflags_folio_flags=False,
        kpageflags_offline=False,
        kpageflags_pgtable=False,
        kpageflags_anon_exclusive_mappedtodisk=False,
        kpageflags_offline_block_nopage=False,
        kpagecount_typed_zero=False,
        numa_balancing_memory_tiering=False,
        numa_balancing_debugfs_tunables=False,
        numa_balancing_vma_scan_state=False,
        numa_thp_misplaced_generic=False,
        numa_migrate_ratelimit=True,
        numa_migrate_first_faults_early=False,
        vmstat_pgpromote=False,
        lru_add_counts_culled=False,
        mlock_counts_folio_pages=False,
        split_huge_pages_pid=False,
        thp_underused_split_page=False,
        thp_sysfs_streq=False,
        drop_caches_write_only=False,
    ),
    "mainline": Profile(
        name="mainline",
        swap_layout_4_14_0=False,
        swap_types_v6=True,
        thp_cow_copies_huge=False,
        thp_wp_huge_zero_alloc=True,
        rmap_deferred_split_partially_mapped=True,
        smaps_pmd_counts_protnone=True,
        mprotect_pte_batch=True,
        simple_attr_write_kstrtoull=True,
        thp_split_remap_zero_subpages=True,
        thp_align_anon_mappings=True,
        overcommit_guess_totalram=True,
        thp_alloc_remote_fallback=True,
        mprotect_try_change_writable=True,
        pmd_bad_ignores_accessed=True,
        rss_counter_names=True,
        thp_migration_supported=True,
        migrate_thp_split_on_enomem=True,
        migrate_split_deferred_folio=True,
        migration_restore_dirty_keeps_soft_dirty=True,
        split_huge_pmd_carries_dirty=True,
        migrate_requeue_deferred_split=True,
        vma_merge_faulted_into_unfaulted=True,
        mprotect_unaccount_unfaulted=True,
        pgmigrate_counts_base_pages=True,
        move_pages_batched=True,
        move_pages_folio_walk=True,
        move_pages_folio_likely_mapped_shared=True,
        bug_b3_pmd_migration_no_flush=False,
        bug_b5_swp_soft_dirty_bit=0,
        bug_b7_freeze_uses_ttu_migration=False,
        bug_b8_split_mig_uses_present_accessors=False,
        bug_b9_read_then_invalidate=False,
        bug_b10_migration_entry_keeps_write=False,
        bug_b11_swp_soft_dirty_lost=False,
        bug_b1_zap_lockless_multiread=False,
        bug_b2_clear_bad_ignores_migration=False,
        bug_b4_transient_none_pmd=False,
        bug_b15_change_pmd_multiread=False,
        migration_entry_wait_no_ref=True,
        bug_b12_mlock_pte_mapped_thp=False,
        bug_b16_split_pmd_page_of_migration_entry=False,
        bug_b17_waiter_takes_ref=False,
        bug_b18_enomem_aborts_list=False,
        bug_b19_gup_fast_pmd_none=False,
        bug_b20_smaps_skips_pmd_migration_entry=False,
        mpol_local_mode=True,
        mpol_numa_balancing=True,
        mbind_mode_c_int=True,
        mpol_preferred_many=True,
        mpol_weighted_interleave=True,
        get_nodes_checks_whole_top_word=True,
        get_mempolicy_maxnode_nr_node_ids=True,
        mbind_strict_eio=True,
        queue_pages_hole_checks=True,
        queue_pages_skip_huge_zero=True,
        queue_pages_nr_failed=True,
        mbind_alloc_by_mpol=True,
        vma_address_head_overlap=False,
        wp_copy_large_folio_subpages=False,
        wp_reuse_large_folio_last_ref=False,
        migrate_pages_ptrace_check=True,
        migrate_pages_new_nodes_intersect=True,
        soft_offline_migrates_thp=False,
        soft_offline_poisoned_ok=True,
        offline_pages_no_timeout=True,
        memory_removable_always=True,
        offline_pages_shrinks_zones=True,
        cpuset_cgroup_v2=True,
        memory_failure_poisoned_ehwpoison=True,
        memory_failure_unsplit_thp_ehwpoison=True,
        memory_failure_node_stats=True,
        memory_failure_pfn_without_page_ebusy=True,
        unpoison_memory_ebusy=True,
        madvise_hwpoison_action_required=True,
        sysctl_enable_soft_offline=True,
        mremap_new_len_task_size_einval=True,
        mremap_dontunmap=True,
        mremap_vma_lookup_first=True,
        mremap_move_multiple_vmas=True,
        mremap_check_vma_before_unmap=True,
        madvise_populate=True,
        madvise_populate_whole_range=True,
        madvise_cold_pageout=True,
        madvise_collapse=True,
        madvise_collapse_no_block_ok=True,
        collapse_read_only_anon=True,
        collapse_pte_batch=True,
        madvise_dontneed_reclaim_pt=True,
        zap_pte_batch=True,
        mremap_move_normal_pmd=True,
        lazyfree_thp_unmap_pmd=True,
        madvise_cold_pte_thp_batch=True,
        smaps_account_nonpresent_shared=True,
        smaps_pmd_migration_entry=True,
        pfn_swap_entry_hwpoison=True,
        smaps_pss_dirty=True,
        smaps_rollup_pss_split=True,
        smaps_ksm=True,
        file_thp_stats=True,
        smaps_thp_eligible=True,
        pagemap_hides_swap_offset=True,
        pagemap_exclusive_present_only=True,
        pagemap_pmd_pm_file=True,
        clear_refs_mmap_write_lock=True,
        clear_refs_flush_soft_dirty_only=True,
        status_vmpte_all_levels=True,
        status_kthread=True,
        status_core_dumping=True,
        status_thp_enabled=True,
        status_seccomp_filters=True,
        cap_last_cap_40=True,
        meminfo_zswap=True,
        meminfo_kreclaimable=True,
        meminfo_sec_pagetables=True,
        meminfo_percpu=True,
        meminfo_balloon=True,
        meminfo_hugetlb=True,
        node_meminfo_swapcached=True,
        kpageflags_folio_flags=True,
        kpageflags_offline=True,
        kpageflags_pgtable=True,
        kpageflags_anon_exclusive_mappedtodisk=True,
        kpageflags_offline_block_nopage=True,
        kpagecount_typed_zero=True,
        numa_balancing_memory_tiering=True,
        numa_balancing_debugfs_tunables=True,
        numa_balancing_vma_scan_state=True,
        numa_thp_misplaced_generic=True,
        numa_migrate_ratelimit=False,
        numa_migrate_first_faults_early=True,
        vmstat_pgpromote=True,
        lru_add_counts_culled=True,
        mlock_counts_folio_pages=True,
        split_huge_pages_pid=True,
        thp_underused_split_page=True,
        thp_sysfs_streq=True,
        drop_caches_write_only=True,
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


def switch_type(name: str) -> type | None:
    """bool or int for a profile switch, None for a name that is not one."""
    for f in fields(Profile):
        if f.name == name and name != "name":
            return bool if f.type in ("bool", bool) else int
    return None


def switch_docs() -> dict[str, str]:
    """Each switch's documentation: the ``#:`` comment above its field in
    :class:`Profile` (what it changes, the kernel version and commit that changed it),
    read from this module's source so the comment stays the one place it is written."""
    import inspect

    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(Profile).splitlines():
        text = line.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
        elif ":" in text and not text.startswith(("#", '"')) and pending:
            name = text.split(":", 1)[0].strip()
            if name.isidentifier():
                docs[name] = " ".join(pending)
            pending = []
        elif not text.startswith("#"):
            pending = []
    return docs
