"""Fixed-seed stress runs must do exactly what they did when these digests were recorded.

A run's digest covers every round's schedule, each operation's result in order and the
final /proc/vmstat. Restructuring and speed work must not change kernel behaviour, so
these stay fixed; a change that is meant to alter behaviour (a model fix) re-records
them in the same commit and says why. Recorded at 5f344ec plus the digest itself;
re-recorded when cpuset limits moved into the allocator (issue 10, ALLOC_CPUSET): a
THP fault on a CPU whose node the task's cpuset excludes no longer gets a THP on an
allowed node (mempolicy's second copy of alloc_pages_mpol() put it there; the kernel
tries the THP on the local node only, except mainline's reclaiming retry).
Re-recorded when MADV_FREE moved onto mm/pagewalk.py (issue 10): its walk is preempted
where the kernel's is (the PTE lock, split_huge_page(), cond_resched() at the end of
madvise_free_pte_range()), no longer after every 2 MiB step, holes and huge PMDs
included; with those yields put back the old digests came out unchanged, so the
schedules are all that moved.
Re-recorded for issue 11's VMA merge fix (mm/mmap.py is_mergeable_anon_vma()): the
model tested how many VMAs share the neighbour's anon_vma, Linux tests whether the
neighbour's own anon_vma_chain is singular. A new or changed VMA without an anon_vma
next to a parent's VMA (chain [its anon_vma], shared with the children's VMAs) now
merges as in Linux, where the model refused; a forked VMA (chain of two) no longer
merges. Instrumenting seed 1 showed only the first kind of decision differs there.
Re-recorded (mainline only) for issue 16's thp_wp_huge_zero_alloc: a write fault on the
huge zero page allocates a THP in 6.13+ (Debian's 7.2 does; 6.12 splits), found by the
kernel oracle; with the switch off in mainline the old digests came out unchanged.
Re-recorded (mainline only) for thp_split_remap_zero_subpages: 6.12+ maps the
zero-filled subpages of a split anon THP to the shared zero page (Debian 6.12 and 7.2
do, 6.1 does not; the kernel oracle); with the switch off the digests stayed.
Re-recorded (mainline only) for rmap_deferred_split_partially_mapped: 6.3+ queues a THP
for deferred split on a PTE unmap only while no PMD maps it and some page stays mapped
(the kernel oracle: 6.12 and 7.2 count no split after a child's COW); switch off, same
digests.
Re-recorded (both profiles) for three kernel-oracle fixes of issue 16: mprotect() to the
protection a VMA already has changes nothing (mprotect_fixup()'s newflags == oldflags
return; the model split the VMA's huge PMDs and rewrote its PTEs); splitting a dirty huge
PMD leaves the PTEs clean in 4.14 and 6.1 (only the page is marked dirty; the model
carried the dirty bit, which 6.3+ does again: split_huge_pmd_carries_dirty); and in
mainline a base page's PTE restored after migration is soft-dirty only when its entry
was (migration_restore_dirty_keeps_soft_dirty), a migrated THP that was queued for
deferred split is requeued (migrate_requeue_deferred_split).
Re-recorded (seed 2 only) for the bug zoo (issue 12): madvise_free_pte_range() hands
only a trans-huge PMD to madvise_free_huge_pmd(), as 4.14 and mainline do; a PMD
migration entry is left by pmd_trans_unstable() without taking the PMD lock (the
model took it, one preemption point more), which is where B2's "bad pmd" happened.
Re-recorded (all) for the zoo's default-mix change ``whole_thp_ranges``: a quarter of
the range operations that land in the THP part (MADV_DONTNEED/FREE, mprotect, munmap,
MAP_FIXED) now cover one whole 2 MiB THP (zap_huge_pmd(), change_huge_pmd(), no
split), an allocator's purge; it draws one more random number per such operation, so
every run's operations change. With it off the old digests came out unchanged.
Re-recorded (mainline only) for migration_entry_wait_no_ref: from 5.0 on a fault that
waits on a migration entry holds no page reference while it sleeps
(put_and_wait_on_page_locked(), C:9a1ea439b16b; 5.19 none at all), so it no longer
fails the migrator's refcount check (-EAGAIN, B17); switch off, same digests.
Re-recorded (all) for get_user_pages_fast()'s lockless walk (gup_pgd_range(),
mm/gup.py): madvise(MADV_SOFT_OFFLINE) now finds a mapped page without taking
mmap_lock, as the kernel does, so the soft-offline steps have fewer preemption points;
with the walk stubbed out (always the slow path) and migration_entry_wait_no_ref off
the previous digests came out unchanged, except seed 11: split_huge_page()'s freeze now
takes the PMD lock of a PMD migration entry or another THP's PMD in a VMA of the
anon_vma, as split_huge_pmd_address() -> __split_huge_pmd() does (it compares the page
under the lock; the model used to skip those PMDs by a lockless look); with that look
put back seed 11 came out unchanged too.
Re-recorded (both profiles) for issue 16 item 6's counters: /proc/vmstat now prints
numa_hit/miss/foreign/interleave/local/other, pgalloc_normal/movable and every
unevictable_pgs_* event with values (4.14 counts unevictable events per page or THP),
mainline also thp_underused_split_page; a COW in a VM_LOCKED VMA munlocks the old page
(nr_mlock). With the final /proc/vmstat left out of the hash, the old and new code gave
the same digests for all eight runs: schedules and every operation's result unchanged.
The four paragraphs above came from four branches recorded apart; the digests were
recorded once more after merging them, with nothing changed beyond what each says.
Re-recorded (mainline 1, 2, 3, 12) for the kernel oracle's 2,000 programs on 6.12 and
7.2: a partially mapped THP on the deferred-split queue is split before migration
(migrate_split_deferred_folio, now on in mainline), a changed VMA with an anon_vma
merges into neighbours without one (vma_merge_faulted_into_unfaulted, 6.16) and
MADV_POPULATE_* stops at the first hole (madvise_populate_whole_range, 6.9); with the
three switches off the old digests came out unchanged. Re-recorded (seed 2) for
follow_page_pte(): a PROT_NONE PTE under FOLL_NUMA is no page (NULL), not no page
table, and a PTE unmap no longer queues a THP a PMD still maps (PageDoubleMap in 4.14
and 6.1; the kernel oracle, 6.1).
Re-recorded (mainline 1, 2, 12) for mprotect_unaccount_unfaulted: 6.12+ clears
VM_ACCOUNT when mprotect() takes write away from an anonymous VMA never faulted, so it
no longer merges with a faulted neighbour (the kernel oracle, g1-s10-0165); with the
switch off the old digests came out unchanged.
Re-recorded (seed 11) for 4.14's split_huge_page() freeze of a PMD-mapped THP: the
frozen PTEs are counted and page_remove_rmap()ed one by one, which queues the THP for
deferred split (thp_deferred_split_page; the kernel oracle on 6.1, the same code as
4.14); mainline (6.3+) is unchanged.
Re-recorded (mainline 2, 12) for the kernel oracle's 7.2 clusters: zap_pte_range()
removes a large folio's PTEs in one batch (zap_pte_batch, 6.9: a PTE-mapped THP unmapped
whole is not queued for deferred split) and MADV_DONTNEED frees a PTE table it empties
whole (madvise_dontneed_reclaim_pt, 6.13); MADV_COLLAPSE of PTE-mapped THPs and
read-only blocks. With those four switches off the old digests came out unchanged.
Re-recorded (all) for the 7.2 clusters that followed: a new anon page is swap-backed
(page_add_new_anon_rmap()); MADV_FREE makes it lazily freed (not swap-backed) and
counts pglazyfree once per page, not at every MADV_FREE (mark_page_lazyfree());
MADV_PAGEOUT's reclaim discards a clean lazily freed page (pglazyfreed;
try_to_unmap_one()); mremap moves a whole PTE table as it is
(mremap_move_normal_pmd, 5.10); mprotect makes a PTE writable only where soft-dirty
tracking does not need the write fault (can_change_pte_writable()). With the pglazyfree
count as before, the seed digests came out unchanged, and mainline 1 and 3 too with the
new switches off; mainline 2 and 12 differ by the PAGEOUT discards.
Re-recorded (mainline 12) for the oracle's 6.1 programs: split_huge_page()'s freeze of
a PMD-mapped THP writes PTE migration entries that keep the PMD's young and dirty bits
(6.1+) and, for a read-only exclusive THP, READ_EXCLUSIVE (5.19+), as
__split_huge_pmd_locked() does; with the old plain entries put back the old digest came
out unchanged (the new switches of that round, wp_copy_large_folio_subpages,
wp_reuse_large_folio_last_ref and vma_address_head_overlap, are off in mainline, and
PageDoubleMap is a 4.14/6.1 flag).
Re-recorded (seed 11, mainline 12) for anon_vma_prepare()'s find_mergeable_anon_vma():
a VMA's first fault reuses a compatible neighbour's anon_vma, as every era does (the
oracle's g1-s9-0147: two VMAs of a fork child that mlock2 makes alike merge on 7.2
and 6.12); with the lookup returning none, all eight old digests came out unchanged.
Re-recorded (all but seed 1) when the NUMA-balancing counters became what the kernel
prints: change_pmd_range() counts numa_huge_pte_updates for every huge PMD it changes,
an mprotect()'s too (the oracle's hand-numa-01 on 6.1, 6.12 and 7.2), and mainline's
/proc/vmstat has pgpromote_success and pgpromote_candidate (5.18, 6.0; hand-numa-02).
With both put back (the counter for the scanner only, the two lines hidden) all eight
old digests came out unchanged with NUMA balancing, pipes and the speed work in.
"""

from __future__ import annotations

import pytest

from thpsim.stress.harness import run_stress
from thpsim.stress.workload import StressConfig

GOLDEN = [
    ("seed", 1, dict(rounds=12, migrators=2),
     "1df8d34c9f2c89622759fa4cab28f2408e33f70433093e2c0fb90fc5f71815ac"),
    ("seed", 2, dict(rounds=12, migrators=2),
     "b40e6d87124bb5b35c709e38ed39af8186ba70f609e4d97d830a2c015dfd7337"),
    ("seed", 3, dict(rounds=12, migrators=2),
     "ea1710f089b79f504e54a6d4de903f3ad7b852658a2438c778b0d1952b598c31"),
    ("mainline", 1, dict(rounds=12, migrators=2),
     "40c9b29c487f3b9158b3a0d3ecc0042b58462a7899d41c4581cecc8dc1d2be9e"),
    ("mainline", 2, dict(rounds=12, migrators=2),
     "3bd815c422dfec265140a04a153b40d40157b354fd74c4267547338f81fd7f1f"),
    ("mainline", 3, dict(rounds=12, migrators=2),
     "39fb56351987df9fc02436046ea0346409c5635e2272dd7e40afeda3a22cf9de"),
    ("seed", 11, dict(rounds=40, migrators=2, policy="pct"),
     "c23bcff9b909fa69cf9fd128805ec35954bbf4f68b6b910144509c7f7bc3c8cc"),
    ("mainline", 12, dict(rounds=40, migrators=2, user_threads=3),
     "82a795d51ba0f053faa3ad565e708c463f8ae78617e35d7b5643e20cf6252479"),
]


@pytest.mark.parametrize("profile,seed,kw,digest", GOLDEN,
                         ids=[f"{p}-{s}" for p, s, _, _ in GOLDEN])
def test_stress_digest_unchanged(profile: str, seed: int, kw: dict, digest: str) -> None:
    r = run_stress(StressConfig(profile=profile, **kw), seed)
    assert r.failure is None, r.failure
    assert r.digest == digest, (
        f"stress run (profile {profile}, seed {seed}, {kw}) behaves differently: "
        f"digest {r.digest}")


def test_digest_sees_a_change() -> None:
    """The digest is not a constant: another seed, or one more round, changes it."""
    a = run_stress(StressConfig(rounds=3), 5).digest
    assert a == run_stress(StressConfig(rounds=3), 5).digest
    assert a != run_stress(StressConfig(rounds=3), 6).digest
    assert a != run_stress(StressConfig(rounds=4), 5).digest
