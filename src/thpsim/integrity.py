"""The integrity oracle: a shadow of every user write, and the invariant checker.

Model-only. The shadow is an independent model of what each address space
should read back, updated from the system-call semantics (not from the kernel's
page tables): a write records the value; munmap, MADV_DONTNEED and a MAP_FIXED
mmap over it forget it (memory reads 0 again); fork copies it; mremap moves it. Every user read is
checked against it.

The invariant checker walks every live address space's page tables once and
compares them with the per-frame metadata, the counters and the allocator
(kernel-semantics.md §7), one checker per invariant (CHECKERS below; each failure
starts with its checker's name): VMA lists sane; every entry inside a VMA; page
tables owned once, flagged and not leaked; no bad entry; a migration entry only
while its page is locked; one deposited table per huge PMD or PMD migration entry;
RSS and nr_ptes/nr_pmds/nr_puds consistent; no lock left held; mapcounts and
refcounts equal what the page tables say; no THP that a PTE maps is mlocked and
nr_mlock counts the mlocked pages; every frame free or owned exactly once;
node statistics and the allocator's free counts add up. An incremental mode (for
Machine(check=True), after each system call) re-checks only the frames that changed
since the last check; see the comment opening the invariants section below.

Storage: per address space, one 512-word NumPy vector per touched 2 MiB
region -- no Python object per 4 KiB page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from thpsim.arch.x86_64.pgtable import (
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    HPAGE_PMD_NR,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PGDIR_SHIFT,
    PMD_SHIFT,
    PUD_SHIFT,
    TASK_SIZE_MAX,
    pmd_none,
    pmd_pfn,
    pmd_present,
    pmd_trans_huge,
    pte_none,
    pte_pfn,
    pte_present,
    pte_special,
    pud_none,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.errors import IntegrityError, KernelBug
from thpsim.fs.pipe import pipe_held_pages
from thpsim.mm.huge_memory import is_huge_zero_pfn
from thpsim.mm.mm_types import MM_ANONPAGES
from thpsim.mm.page_alloc import MAX_ORDER, for_each_free_block
from thpsim.mm.page_alloc import check_buddy as check_free_lists
from thpsim.mm.page_flags import (
    PAGE_MAPPING_ANON,
    F_head,
    F_hwpoison,
    F_locked,
    F_mlocked,
    F_offline,
    F_pgtable,
    F_reserved,
    F_tail,
)
from thpsim.mm.vmstat import NR_ANON_MAPPED, NR_ANON_THPS, NR_MLOCK, NR_PAGETABLE

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

_REGION_SHIFT = PMD_SHIFT
_IDX = 511


#: Host bytes per frame a full check may hold at once (an estimate for the Machine's
#: host-memory guard): the walk's pte_maps and pmd_maps (int32 each), the free and
#: table masks and their temporaries, the int64 index of every frame and the
#: FrameView's gathered copies of the struct-page arrays.
CHECKER_BYTES_PER_FRAME = 64


class Shadow:
    """What every address space should read back, per 4 KiB page.

    Writes come from the API (:meth:`record`, what the CPU stored); everything that
    drops, moves or copies user data comes from the kernel paths that do it, through
    the mmu_notifier hooks (mm/mmu_notifier.py: :meth:`invalidate_range`,
    :meth:`move_range`, :meth:`copy_range`, :meth:`release`), so the shadow follows
    what the kernel decided and the page tables must agree with it. Kept per 2 MiB
    region of each address space (regions never written take no memory).
    """

    __slots__ = ("spaces",)

    def __init__(self) -> None:
        self.spaces: dict[int, dict[int, np.ndarray]] = {}

    def space(self, mm_id: int) -> dict[int, np.ndarray]:
        s = self.spaces.get(mm_id)
        if s is None:
            s = self.spaces[mm_id] = {}
        return s

    def record(self, mm_id: int, addr: int, value: int) -> None:
        s = self.space(mm_id)
        r = s.get(addr >> _REGION_SHIFT)
        if r is None:
            r = s[addr >> _REGION_SHIFT] = np.zeros(HPAGE_PMD_NR, dtype=np.uint64)
        r[(addr >> PAGE_SHIFT) & _IDX] = value

    def expected(self, mm_id: int, addr: int) -> int:
        s = self.spaces.get(mm_id)
        if s is None:
            return 0
        r = s.get(addr >> _REGION_SHIFT)
        return 0 if r is None else int(r[(addr >> PAGE_SHIFT) & _IDX])

    def clear(self, mm_id: int, start: int, end: int) -> None:
        """Forget [start, end): it reads 0 from now on (munmap, MADV_DONTNEED)."""
        s = self.spaces.get(mm_id)
        if not s or start >= end:
            return
        for key in _keys(s, start, end):
            lo = max(start, key << _REGION_SHIFT)
            hi = min(end, (key + 1) << _REGION_SHIFT)
            r = s[key]
            r[(lo >> PAGE_SHIFT) & _IDX : ((hi - 1) >> PAGE_SHIFT & _IDX) + 1] = 0
            if not r.any():
                del s[key]

    def copy(self, src: int, dst: int, start: int = 0, end: int = 1 << 64) -> None:
        """fork: in [start, end) the child reads what the parent wrote."""
        s = self.spaces.get(src)
        if not s or start >= end:
            return
        d = self.space(dst)
        for key in _keys(s, start, end):
            lo = max(start, key << _REGION_SHIFT)
            hi = min(end, (key + 1) << _REGION_SHIFT)
            i, j = (lo >> PAGE_SHIFT) & _IDX, ((hi - 1) >> PAGE_SHIFT & _IDX) + 1
            r = d.get(key)
            if r is None:
                r = d[key] = np.zeros(HPAGE_PMD_NR, dtype=np.uint64)
            r[i:j] = s[key][i:j]
            if not r.any():
                del d[key]

    def move(self, mm_id: int, old: int, new: int, length: int) -> None:
        """mremap: the data moves with the mapping; [new, new + length) reads what
        [old, old + length) held, and the old range reads 0."""
        s = self.spaces.get(mm_id)
        if not s:
            return
        vals = [(a, self.expected(mm_id, a)) for a in _touched(s, old, old + length)]
        self.clear(mm_id, old, old + length)
        self.clear(mm_id, new, new + length)
        for a, v in vals:
            if v:
                self.record(mm_id, a - old + new, v)

    def drop(self, mm_id: int) -> None:
        self.spaces.pop(mm_id, None)

    # ---- mmu_notifier_ops (mm/mmu_notifier.py): what the kernel did
    def invalidate_range(self, mm: Any, start: int, end: int) -> None:
        self.clear(mm.mm_id, start, end)

    def move_range(self, mm: Any, old: int, new: int, length: int) -> None:
        self.move(mm.mm_id, old, new, length)

    def copy_range(self, src: Any, dst: Any, start: int, end: int) -> None:
        self.copy(src.mm_id, dst.mm_id, start, end)

    def release(self, mm: Any) -> None:
        self.drop(mm.mm_id)

    def nbytes(self) -> int:
        return sum(r.nbytes for s in self.spaces.values() for r in s.values())


def _keys(s: dict[int, np.ndarray], start: int, end: int) -> list[int]:
    """The regions of ``s`` that meet [start, end), in address order: by the range when
    it spans fewer regions than ``s`` holds, else by ``s`` (the cost is the smaller)."""
    lo, hi = start >> _REGION_SHIFT, (end - 1) >> _REGION_SHIFT
    if hi - lo < len(s):
        return [k for k in range(lo, hi + 1) if k in s]
    return sorted(k for k in s if lo <= k <= hi)


def _touched(s: dict[int, np.ndarray], start: int, end: int) -> list[int]:
    out = []
    for key in _keys(s, start, end):
        r = s[key]
        for i in np.nonzero(r)[0]:
            a = (key << _REGION_SHIFT) | (int(i) << PAGE_SHIFT)
            if start <= a < end:
                out.append(a)
    return out


# ---------------------------------------------------------------- invariants
#
# One checker per invariant. Each is a function of a :class:`CheckRun` (the kernel, the
# live address spaces, one shared walk of their page tables and a view of the per-frame
# metadata) returning its failures; check_integrity() prefixes every failure with the
# checker's name, so a report says which invariant broke.
#
# Incremental mode (Machine(check=True) after each system call, see IntegrityState):
# the walk of every live page table and every checker that costs O(tables) or O(mms)
# run in full every time. The per-frame checkers (check_mapcounts, check_refcounts,
# check_frame_owners, check_page_locks and the expected vmstat sums) look only at the
# frames of the MAX_ORDER blocks in which something they read changed since the last
# check that passed: a per-frame field (flags, order, _refcount, _mapcount,
# compound_mapcount, mapping), the number of PTEs or PMDs mapping the frame, its
# free-list membership or its being a page table. The inputs of the frames outside
# those blocks are what they were when the last check passed, so they would pass
# again: incremental mode finds every failure a full check finds (listing perhaps
# other examples of the same failure), provided every compound page lies in one
# naturally aligned MAX_ORDER block (the allocator's invariant; a corrupted order field
# that breaks it is caught by the next full check). Finding the changed blocks
# compares each input with a snapshot as 64-bit words, block by block: a few passes of
# memcmp speed over the frame arrays, instead of the full check's ~60 array operations.
# Deferred to the next full check: check_buddy (the allocator's own O(frames) check of
# its free lists and zone counters), which incremental mode does not run.
# Machine(check=True) runs every CHECK_FULL_EVERY-th check in full; Machine.
# check_integrity() (what tests and the stress harness call) is always full.

#: Frames per block of the incremental mode: a naturally aligned MAX_ORDER block holds
#: every compound page that starts in it.
_BLOCK_SHIFT = MAX_ORDER - 1


class PageTableWalk:
    """What one walk of every live address space's page tables found.

    Attributes:
        pte_maps / pmd_maps: per frame, how many PTEs / huge PMDs map it.
        owner: table pfn -> who references it (first reference).
        owned_twice: (pfn, first, second) for each extra reference to a table.
        tables: (pfn, who) for every reference to a table, in walk order.
        bad_entries: entries no page-table code should ever leave.
        migration: (tag, addr, swap entry, "PTE"/"PMD") of every migration entry.
        deposits: (tag, pmd table pfn, deposited tables, huge PMDs + PMD migration entries).
        per_mm: mm -> (rss, PTE tables, PMD tables, PUD tables, deposited tables).
        mapped: mm -> (addresses, pfns) of every present PTE and huge PMD mapping a
            user page (a huge PMD once, at its head).
    """

    __slots__ = ("pte_maps", "pmd_maps", "owner", "owned_twice", "tables", "bad_entries",
                 "migration", "deposits", "per_mm", "outside", "mapped")

    def __init__(self, n: int) -> None:
        self.pte_maps = np.zeros(n, dtype=np.int32)
        self.pmd_maps = np.zeros(n, dtype=np.int32)
        self.owner: dict[int, str] = {}
        self.owned_twice: list[tuple[int, str, str]] = []
        self.tables: list[tuple[int, str]] = []
        self.bad_entries: list[str] = []
        self.migration: list[tuple[str, int, int, str]] = []
        self.deposits: list[tuple[str, int, int, int]] = []
        self.outside: list[str] = []
        self.per_mm: dict[Any, tuple[int, int, int, int, int]] = {}
        self.mapped: dict[Any, tuple[np.ndarray, np.ndarray]] = {}

    def own_table(self, pfn: int, who: str) -> None:
        if pfn in self.owner:
            self.owned_twice.append((pfn, self.owner[pfn], who))
        self.owner[pfn] = who
        self.tables.append((pfn, who))


def _nonzero(table: Any) -> np.ndarray:
    """The indices of a table's non-zero words (every *_none() entry is among the rest)."""
    return np.flatnonzero(np.frombuffer(table, dtype=np.uint64))


def walk_page_tables(ctx: KernelContext, mms: list) -> PageTableWalk:
    """Walk every live address space's page tables once, for all checkers."""
    w = PageTableWalk(ctx.mem.max_pfn)
    for mm in mms:
        _walk_mm(ctx, mm, w)
    return w


def _walk_mm(ctx: KernelContext, mm: Any, w: PageTableWalk) -> None:
    """Add what one address space's tables hold to ``w``."""
    mem = ctx.mem
    swp = ctx.swp
    pmd_maps = w.pmd_maps
    tag = f"mm{mm.mm_id}"
    w.own_table(mm.pgd.pfn, f"{tag} pgd")
    rss = 0
    nr_pte_tables = nr_pmd_tables = nr_pud_tables = 0
    deposits = 0
    maps: list[tuple[np.ndarray, np.ndarray]] = []
    starts = np.fromiter((v.vm_start for v in mm.mmap), dtype=np.int64, count=len(mm.mmap))
    ends = np.fromiter((v.vm_end for v in mm.mmap), dtype=np.int64, count=len(mm.mmap))

    for gi in _nonzero(mm.pgd):
        gi = int(gi)
        ge = mm.pgd[gi]
        pud_t = mem.tables[table_entry_pfn(ge)]
        w.own_table(pud_t.pfn, f"{tag} pud@{gi}")
        nr_pud_tables += 1
        for ui in _nonzero(pud_t):
            ui = int(ui)
            ue = pud_t[ui]
            if pud_none(ue):
                continue
            pmd_t = mem.tables[table_entry_pfn(ue)]
            w.own_table(pmd_t.pfn, f"{tag} pmd@{gi}/{ui}")
            nr_pmd_tables += 1
            huge_here = 0
            for mi in _nonzero(pmd_t):
                mi = int(mi)
                me = pmd_t[mi]
                if pmd_none(me):
                    continue
                addr = (gi << PGDIR_SHIFT) | (ui << PUD_SHIFT) | (mi << PMD_SHIFT)
                if is_swap_pmd(me) or pmd_trans_huge(me):
                    if not _inside_vmas(starts, ends, np.array([addr]), HPAGE_PMD_SIZE)[0]:
                        w.outside.append(f"{tag} {addr:#x}: PMD {me:#x} outside every VMA")
                if is_swap_pmd(me):
                    if not swp.is_pmd_migration_entry(me):
                        w.bad_entries.append(
                            f"{tag} {addr:#x}: swap PMD {me:#x} not a migration entry")
                    else:
                        w.migration.append((tag, addr, swp.pmd_to_swp_entry(me), "PMD"))
                    rss += HPAGE_PMD_NR
                    huge_here += 1
                    continue
                if pmd_trans_huge(me):
                    huge_here += 1
                    if not pmd_present(me) or not me & (_PAGE_PRESENT | _PAGE_PROTNONE):
                        w.bad_entries.append(
                            f"{tag} {addr:#x}: invalidated huge PMD {me:#x} left behind")
                        continue
                    head = pmd_pfn(me)
                    if head == ctx.huge_zero_pfn:
                        continue
                    pmd_maps[head] += 1
                    maps.append((np.array([addr], dtype=np.int64),
                                 np.array([head], dtype=np.int64)))
                    rss += HPAGE_PMD_NR
                    if not ctx.pages.flags[head] & F_head:
                        w.bad_entries.append(
                            f"{tag} {addr:#x}: huge PMD maps non-head {head:#x}")
                    continue
                pte_t = mem.tables.get(table_entry_pfn(me))
                if pte_t is None:
                    w.bad_entries.append(f"{tag} {addr:#x}: PMD {me:#x} points to a non-table")
                    continue
                w.own_table(pte_t.pfn, f"{tag} pte@{addr:#x}")
                nr_pte_tables += 1
                rss += _walk_pte_table(ctx, w, tag, addr, pte_t, starts, ends, maps)
            dep = pmd_t.pmd_huge_pte or []
            w.deposits.append((tag, pmd_t.pfn, len(dep), huge_here))
            for d in dep:
                w.own_table(d, f"{tag} deposit@{pmd_t.pfn:#x}")
                deposits += 1
    w.per_mm[mm] = (rss, nr_pte_tables, nr_pmd_tables, nr_pud_tables, deposits)
    if maps:
        w.mapped[mm] = (np.concatenate([a for a, _ in maps]),
                        np.concatenate([f for _, f in maps]))


def _inside_vmas(starts: np.ndarray, ends: np.ndarray, addrs: np.ndarray,
                 size: int) -> np.ndarray:
    """Per address: whether [addr, addr + size) lies inside one VMA (the VMAs sorted)."""
    i = np.searchsorted(ends, addrs, side="right")
    j = np.minimum(i, len(ends) - 1)
    return (i < len(ends)) & (starts[j] <= addrs) & (ends[j] >= addrs + size)


def _walk_pte_table(ctx: KernelContext, w: PageTableWalk, tag: str, addr: int,
                    pte_t: Any, starts: np.ndarray, ends: np.ndarray,
                    maps: list[tuple[np.ndarray, np.ndarray]]) -> int:
    """Add what one PTE table (mapping from ``addr``) holds to ``w``; return the pages it
    counts towards RSS. Present normal PTEs are handled as vectors, the others (zero
    page, special, migration, hwpoison and bad entries) one by one in index order."""
    arr = np.frombuffer(pte_t, dtype=np.uint64)
    ti = np.flatnonzero(arr)
    vals = arr[ti]
    keep = ~pte_none(vals)
    ti, vals = ti.astype(np.int64)[keep], vals[keep]
    if len(ti) == 0:
        return 0
    addrs = addr | (ti << PAGE_SHIFT)
    for k in np.flatnonzero(~_inside_vmas(starts, ends, addrs, PAGE_SIZE)):
        w.outside.append(f"{tag} {int(addrs[k]):#x}: PTE {int(vals[k]):#x} outside every VMA")
    present = pte_present(vals)
    pfns = pte_pfn(vals).astype(np.int64)
    normal = present & ~pte_special(vals) & (pfns != ctx.zero_pfn)
    np.add.at(w.pte_maps, pfns[normal], 1)
    maps.append((addrs[normal], pfns[normal]))
    rss = int(np.count_nonzero(normal))
    swp = ctx.swp
    for k in np.flatnonzero(~normal):
        te = int(vals[k])
        if present[k]:
            pfn = int(pfns[k])
            if pfn != ctx.zero_pfn and not is_huge_zero_pfn(ctx, pfn):
                w.bad_entries.append(f"{tag}: special PTE to {pfn:#x}")
            continue
        e = swp.pte_to_swp_entry(te)
        if swp.is_migration_entry(e):
            rss += 1
            w.migration.append((tag, int(addrs[k]), e, "PTE"))
        elif not swp.is_hwpoison_entry(e):
            w.bad_entries.append(f"{tag}: unknown swap PTE {te:#x}")
    return rss


class FrameView:
    """The per-frame metadata of the frames ``idx`` (all frames, or the changed blocks
    of incremental mode), with what the walk says about them.

    Attributes (arrays over ``idx``): flags, is_head, is_tail, order, mapcount and
    cmap (the _mapcount / compound_mapcount fields plus one), raw_mapcount, refcount,
    pte_maps, pmd_maps, user (a live anonymous page or THP head: anon, not a tail,
    _refcount > 0), refs (the references its mappings hold: one per PTE mapping any
    of its frames, one per PMD mapping it), held (the references pipe buffers hold:
    pages vmsplice(2) put in a pipe).
    """

    def __init__(self, ctx: KernelContext, walk: PageTableWalk, idx: np.ndarray) -> None:
        pages = ctx.pages
        self.n = n = ctx.mem.max_pfn
        self.idx = idx
        self.all = len(idx) == n
        take = self.take
        self.flags = flags = take(pages.flags_np)
        self.is_head = (flags & F_head) != 0
        self.is_tail = is_tail = (flags & F_tail) != 0
        self.order = order = take(pages.order_np)
        self.raw_mapcount = take(pages.mapcount_np)
        self.mapcount = self.raw_mapcount + 1
        self.cmap = take(pages.compound_mapcount_np) + 1
        self.refcount = take(pages.refcount_np)
        self.pte_maps = pte_maps = take(walk.pte_maps)
        self.pmd_maps = take(walk.pmd_maps)
        anon = (take(pages.mapping_np) & PAGE_MAPPING_ANON) != 0
        self.user = anon & ~is_tail & (self.refcount > 0)
        # every mapping holds one reference on its (head) page: a tail's PTEs count
        # towards the head its order names; heads outside idx are not counted
        # (incremental mode: a compound page never leaves its block)
        tails = np.flatnonzero(is_tail)
        tail_pfn = idx[tails]
        head_of = tail_pfn & ~((np.int64(1) << order[tails].astype(np.int64)) - 1)
        if self.all or len(idx) == 0:
            loc = head_of
        else:
            loc = np.minimum(np.searchsorted(idx, head_of), len(idx) - 1)
            loc = np.where(idx[loc] == head_of, loc, len(idx))
        self.refs = np.where(is_tail, 0, pte_maps).astype(np.int64) + self.pmd_maps
        if len(tails):
            self.refs += np.bincount(loc, weights=pte_maps[tails], minlength=len(idx) + 1
                                     )[: len(idx)].astype(np.int64)
        # a page in a pipe buffer (vmsplice) holds one reference more on its head
        # (the zero pages' references are not checked: they are no user page)
        self.held = np.zeros(len(idx), dtype=np.int64)
        for page, nr in pipe_held_pages(ctx).items():
            head = pages.compound_head(page)
            if head == ctx.zero_pfn or is_huge_zero_pfn(ctx, head):
                continue
            i = head if self.all else int(np.searchsorted(idx, head))
            if i < len(idx) and idx[i] == head:
                self.held[i] += nr

    def take(self, a: np.ndarray) -> np.ndarray:
        """``a`` (an array over all frames) at ``idx``."""
        return a if self.all else a[self.idx]

    def spans(self, sel: np.ndarray) -> np.ndarray:
        """A whole-machine mask of the frames of the pages at ``sel`` (a mask over idx):
        a head with its tails, any other page alone."""
        out = np.zeros(self.n, dtype=bool)
        out[self.idx[sel & ~self.is_head]] = True
        for i in np.nonzero(sel & self.is_head)[0]:
            h = int(self.idx[i])
            out[h : h + (1 << int(self.order[i]))] = True
        return out


class CheckRun:
    """One run of the checker: the inputs every checker reads.

    ``frames`` covers every frame in a full check, the changed blocks in an incremental
    one (``incremental`` True); ``expected`` holds the counter values the frame ledger
    implies (NR_ANON_THPS, NR_ANON_MAPPED), whole-machine in both modes.
    """

    def __init__(self, ctx: KernelContext, mms: list, allow_migration: bool,
                 walk: PageTableWalk, frames: FrameView, free: np.ndarray,
                 free_overlaps: list[str], expected: tuple[int, int], incremental: bool):
        self.ctx = ctx
        self.mms = mms
        self.allow_migration = allow_migration
        self.walk = walk
        self.frames = frames
        self.free = free
        self.free_overlaps = free_overlaps
        self.expected = expected
        self.incremental = incremental


# ---- checkers about address spaces (run in full in both modes)
def check_vmas(run: CheckRun) -> list[str]:
    """Each mm's VMA list is sorted and non-overlapping; every VMA has vm_start <
    vm_end, both page aligned, below TASK_SIZE, and belongs to its mm.

    Kernel: validate_mm() (CONFIG_DEBUG_VM_RB, later CONFIG_DEBUG_VM_MAPLE_TREE).
    """
    errors = []
    for mm in run.mms:
        prev_end = 0
        for vma in mm.mmap:
            s, e = vma.vm_start, vma.vm_end
            if s >= e or (s | e) & (PAGE_SIZE - 1) or e > TASK_SIZE_MAX:
                errors.append(f"mm{mm.mm_id}: bad {vma!r}")
            if s < prev_end:
                errors.append(f"mm{mm.mm_id}: {vma!r} overlaps or precedes the previous VMA")
            if vma.vm_mm is not mm:
                errors.append(f"mm{mm.mm_id}: {vma!r} belongs to {vma.vm_mm!r}")
            prev_end = max(prev_end, e)
    return errors


def check_anon_vma_chains(run: CheckRun) -> list[str]:
    """Each VMA's anon_vma_chain holds its own anon_vma (and is empty without one), no
    anon_vma twice; a VMA is on an anon_vma's VMA list exactly when that anon_vma is on
    the VMA's chain; no VMA that left its mm (merged away, unmapped, exited) is still on
    an anon_vma's list.

    Kernel: nothing checks it at run time; a broken chain shows up later as an rmap
    walk that misses a mapping (anon_vma_chain / the anon_vma interval tree,
    mm/rmap.c), or as a use-after-free of the VMA the tree still holds.
    """
    errors = []
    live: set[int] = set()
    for mm in run.mms:
        for vma in mm.mmap:
            live.add(id(vma))
            chain = vma.anon_vma_chain
            av = vma.anon_vma
            if av is None and chain:
                errors.append(f"mm{mm.mm_id}: {vma!r} has no anon_vma but a chain of "
                              f"{len(chain)}")
            if av is not None and not any(c is av for c in chain):
                errors.append(f"mm{mm.mm_id}: {vma!r}: its anon_vma {av.id} is not on "
                              "its chain")
            if len({id(c) for c in chain}) != len(chain):
                errors.append(f"mm{mm.mm_id}: {vma!r}: an anon_vma twice on its chain")
            for c in chain:
                if not any(v is vma for v in c.vmas):
                    errors.append(f"mm{mm.mm_id}: {vma!r} chained to anon_vma {c.id}, "
                                  "which does not list it")
    for av in run.ctx.anon_vmas.values():
        for v in av.vmas:
            if id(v) not in live:
                errors.append(f"anon_vma {av.id} lists {v!r}, which is in no live mm")
            elif not any(c is av for c in v.anon_vma_chain):
                errors.append(f"anon_vma {av.id} lists {v!r}, whose chain lacks it")
    return errors


def check_rmap_reaches_mappings(run: CheckRun) -> list[str]:
    """Every present PTE and huge PMD mapping an anonymous page is found by the page's
    reverse map: the VMA that maps it is on the page's anon_vma (page_anon_vma())
    and vma_address() of the page's index is the mapped address.

    Kernel: nothing checks it; rmap_walk_anon() (migration, memory_failure's
    try_to_unmap, page_referenced) then silently misses that mapping.
    """
    pages = run.ctx.pages
    anon_vmas = run.ctx.anon_vmas
    errors: list[str] = []
    for mm, (addrs, pfns) in run.walk.mapped.items():
        if not len(addrs) or not mm.mmap:
            continue
        flags = pages.flags_np[pfns]
        order = pages.order_np[pfns].astype(np.int64)
        heads = np.where((flags & F_tail) != 0,
                         pfns & ~((np.int64(1) << order) - 1), pfns)
        mapping = pages.mapping_np[heads].astype(np.int64)
        anon = (mapping & PAGE_MAPPING_ANON) != 0
        addrs, pfns, heads, mapping = addrs[anon], pfns[anon], heads[anon], mapping[anon]
        index = pages.index_np[heads].astype(np.int64) + (pfns - heads)
        ends = np.fromiter((v.vm_end for v in mm.mmap), dtype=np.int64, count=len(mm.mmap))
        vi = np.minimum(np.searchsorted(ends, addrs, side="right"), len(ends) - 1)
        starts = np.fromiter((v.vm_start for v in mm.mmap), dtype=np.int64,
                             count=len(mm.mmap))
        pgoff = np.fromiter((v.vm_pgoff for v in mm.mmap), dtype=np.int64,
                            count=len(mm.mmap))
        inside = (starts[vi] <= addrs) & (addrs < ends[vi])  # the rest: check_mapped_in_vmas
        wrong = inside & (pgoff[vi] + ((addrs - starts[vi]) >> PAGE_SHIFT) != index)
        for k in np.flatnonzero(wrong)[:5]:
            errors.append(f"mm{mm.mm_id} {int(addrs[k]):#x}: page {int(pfns[k]):#x} index "
                          f"{int(index[k])} is not where vma_address() looks")
        aid = mapping >> 1
        for v, a in set(zip(vi[inside].tolist(), aid[inside].tolist(), strict=True)):
            vma = mm.mmap[v]
            av = anon_vmas.get(a)
            if av is None or not any(x is vma for x in av.vmas):
                errors.append(f"mm{mm.mm_id}: {vma!r} maps pages of anon_vma {a}, whose "
                              "rmap walk does not visit it")
    return errors


def check_mapped_in_vmas(run: CheckRun) -> list[str]:
    """Every PTE and huge PMD (present, migration or hwpoison entry) lies inside one of
    its mm's VMAs: munmap, mremap and a MAP_FIXED mmap zap what they unmap.

    Kernel: nothing checks it directly; an entry left outside every VMA is never
    zapped, so exit_mmap() leaves it behind and check_mm() reports "Bad rss-counter
    state" (and the page leaks).
    """
    return list(run.walk.outside)


def check_rss_counters(run: CheckRun) -> list[str]:
    """MM_ANONPAGES equals the pages the mm's tables map (a huge PMD or PMD migration
    entry counts HPAGE_PMD_NR, a PTE or PTE migration entry one; zero pages none).

    Kernel: check_mm()'s "BUG: Bad rss-counter state" (here checked on live mms).
    """
    errors = []
    for mm, (rss, *_) in run.walk.per_mm.items():
        if mm.rss_stat[MM_ANONPAGES] != rss:
            errors.append(f"mm{mm.mm_id}: MM_ANONPAGES {mm.rss_stat[MM_ANONPAGES]} != "
                          f"{rss} mapped")
    return errors


def check_pgtables_bytes(run: CheckRun) -> list[str]:
    """nr_ptes counts the mm's PTE tables plus its deposited ones; nr_pmds and nr_puds
    count its PMD and PUD tables.

    Kernel: check_mm()'s "non-zero pgtables_bytes on freeing mm" (mm_pgtables_bytes,
    before 5.0 the nr_ptes/nr_pmds counters).
    """
    errors = []
    for mm, (_, nr_pte, nr_pmd, nr_pud, deposits) in run.walk.per_mm.items():
        tag = f"mm{mm.mm_id}"
        if mm.nr_ptes != nr_pte + deposits:
            errors.append(f"{tag}: nr_ptes {mm.nr_ptes} != {nr_pte} tables + "
                          f"{deposits} deposited")
        if mm.nr_pmds != nr_pmd:
            errors.append(f"{tag}: nr_pmds {mm.nr_pmds} != {nr_pmd}")
        if mm.nr_puds != nr_pud:
            errors.append(f"{tag}: nr_puds {mm.nr_puds} != {nr_pud}")
    return errors


def check_pgtable_entries(run: CheckRun) -> list[str]:
    """Every non-empty entry is one the kernel writes: a PMD points to a page table, maps
    a THP head (or the huge zero page), or is a PMD migration entry, never an
    invalidated (pmdp_invalidate) huge PMD left behind; a special PTE maps only a zero
    page; a non-present PTE is a migration or hwpoison entry.

    Kernel: print_bad_pte() ("BUG: Bad page map"), pmd_ERROR()/pmd_bad().
    """
    return list(run.walk.bad_entries)


def check_migration_entries(run: CheckRun) -> list[str]:
    """A migration entry exists only while a migration is in flight (``allow_migration``)
    and only while the migrator holds its page locked (kernel-semantics §7 invariant 1).

    Kernel: pfn_swap_entry_to_page()'s BUG_ON(is_migration_entry && !PageLocked).
    """
    errors = []
    pages = run.ctx.pages
    for tag, addr, entry, level in run.walk.migration:
        if not run.allow_migration:
            errors.append(f"{tag} {addr:#x}: {level} migration entry left behind")
            continue
        head = pages.compound_head(run.ctx.swp.pfn_swap_entry_pfn(entry))
        if not pages.flags[head] & F_locked:
            errors.append(f"{tag} {addr:#x}: migration entry to unlocked page {head:#x}")
    return errors


def check_deposits(run: CheckRun) -> list[str]:
    """Each PMD table holds one deposited PTE table per huge PMD or PMD migration entry.

    Kernel: pgtable_trans_huge_deposit()/withdraw() pairing; a missing deposit is the
    NULL withdraw zap_deposited_table() would oops on, an extra one a leak.
    """
    return [f"{tag} pmd table {pfn:#x}: {ndep} deposited tables for {huge} huge "
            f"PMDs/migration entries"
            for tag, pfn, ndep, huge in run.walk.deposits if ndep != huge]


def check_pgtable_pages(run: CheckRun) -> list[str]:
    """Every table the walk reaches (PGD, PUD, PMD, PTE and deposited tables) is
    referenced once, is a page-table page and has PG_table set; every page-table page
    is owned by a live mm (no leaked table).

    Kernel: the PageTable checks of pgtable_page_dtor() and free_pages_check() ("Bad
    page state" on a table page), and check_mm()'s pgtables_bytes leak report.
    """
    errors = []
    mem = run.ctx.mem
    flags = run.ctx.pages.flags
    for pfn, first, second in run.walk.owned_twice:
        errors.append(f"page table {pfn:#x} owned twice: {first} and {second}")
    for pfn, who in run.walk.tables:
        if pfn not in mem.tables:
            errors.append(f"{who}: table {pfn:#x} is not a page-table page")
        elif not flags[pfn] & F_pgtable:
            errors.append(f"{who}: table {pfn:#x} lacks the page-table flag")
    owner = run.walk.owner
    for pfn, t in mem.tables.items():
        if pfn not in owner:
            errors.append(f"page table {pfn:#x} (level {t.level}) leaked: no mm owns it")
    return errors


def check_locks_released(run: CheckRun) -> list[str]:
    """Between system calls no lock is held: no mmap_lock, no page-table lock.

    Kernel: lockdep's check on return to user space (lockdep_sys_exit(), "lock held
    when returning to user space").
    """
    errors = [f"mm{mm.mm_id}: mmap_lock still held" for mm in run.mms
              if mm.mmap_lock.writer is not None or mm.mmap_lock.readers]
    for pfn, t in run.ctx.mem.tables.items():
        if t.ptl is not None and t.ptl.owner is not None:
            errors.append(f"page table {pfn:#x}: lock still held")
    return errors


# ---- checkers about frames (the changed blocks only, in incremental mode)
def check_page_locks(run: CheckRun) -> list[str]:
    """No page is left PG_locked between system calls.

    Kernel: the PG_locked bit of PAGE_FLAGS_CHECK_AT_FREE (bad_page() "Bad page state");
    lockdep does not see page locks.
    """
    f = run.frames
    return [f"page {int(f.idx[i]):#x} left locked"
            for i in np.nonzero((f.flags & F_locked) != 0)[0][:5]]


def check_mapcounts(run: CheckRun) -> list[str]:
    """Each page's _mapcount + 1 equals the PTEs mapping it (except PageBuddy's marker),
    each THP head's compound_mapcount + 1 the huge PMDs mapping it, and only THP heads
    are PMD-mapped.

    Kernel: CONFIG_PAGE_TABLE_CHECK (mm/page_table_check.c), which counts a page's
    mappings from the page-table writes and BUG()s when they disagree.
    """
    f = run.frames
    errors = []
    bad = np.nonzero((f.mapcount != f.pte_maps) & (f.raw_mapcount != -128))[0]
    for i in bad[:5]:
        errors.append(f"page {int(f.idx[i]):#x}: mapcount {f.mapcount[i]} != "
                      f"{f.pte_maps[i]} PTE maps")
    for i in np.nonzero(f.is_head & (f.cmap != f.pmd_maps))[0][:5]:
        errors.append(f"THP {int(f.idx[i]):#x}: compound mapcount {f.cmap[i]} != "
                      f"{f.pmd_maps[i]} PMD maps")
    for i in np.nonzero(~f.is_head & (f.pmd_maps != 0))[0][:5]:
        errors.append(f"page {int(f.idx[i]):#x}: PMD-mapped but not a THP head")
    return errors


def check_refcounts(run: CheckRun) -> list[str]:
    """A live anonymous page's _refcount equals its mappings (each PTE of any of its
    frames and each PMD holds one reference) plus the pipe buffers holding it (between
    system calls nothing else does),
    and every mapped page is a live anonymous page.

    Kernel: the VM_BUG_ON_PAGE/VM_BUG_ON_FOLIO refcount checks (page_ref_count() below
    page_mapcount(), put_page() on a zero refcount).
    """
    f = run.frames
    errors = []
    for i in np.nonzero(f.user & (f.refcount != f.refs + f.held))[0][:5]:
        errors.append(f"page {int(f.idx[i]):#x}: refcount {f.refcount[i]} != "
                      f"{f.refs[i]} mappings + {f.held[i]} pipe buffers")
    for i in np.nonzero((f.refs > 0) & ~f.user)[0][:5]:
        errors.append(f"page {int(f.idx[i]):#x}: mapped but not a live anonymous page")
    return errors


def check_frame_owners(run: CheckRun) -> list[str]:
    """Every frame is exactly one of: free (in one free block, free blocks never overlap),
    part of a live user page, a zero page, a page table, reserved; none is leaked
    (owned by nothing) unless hwpoisoned or offline.

    Kernel: bad_page() ("Bad page state") on allocating or freeing a frame that is
    still in use; page_owner's leak reports.
    """
    ctx = run.ctx
    f = run.frames
    idx = f.idx
    n = f.n
    errors = list(run.free_overlaps)
    owned_by_user = f.take(f.spans(f.user))
    special = np.zeros(n, dtype=bool)
    if ctx.zero_pfn >= 0:
        special[ctx.zero_pfn] = True
    if ctx.huge_zero_pfn >= 0:
        special[ctx.huge_zero_pfn : ctx.huge_zero_pfn + HPAGE_PMD_NR] = True
    special = f.take(special)
    tables = f.take(_tables_mask(ctx))
    reserved = (f.flags & F_reserved) != 0
    poisoned = (f.flags & F_hwpoison) != 0
    offline = (f.flags & F_offline) != 0
    owners = (f.take(run.free).astype(np.int8) + owned_by_user + special + tables
              + (reserved & ~special & ~owned_by_user))
    for i in np.nonzero(owners > 1)[0][:5]:
        errors.append(f"frame {int(idx[i]):#x} owned {int(owners[i])} times")
    for i in np.nonzero((owners == 0) & ~poisoned & ~offline)[0][:5]:
        errors.append(f"frame {int(idx[i]):#x} leaked: not free and not owned (refcount "
                      f"{f.refcount[i]}, flags {int(f.flags[i]):#x})")
    return errors


def check_mlocked(run: CheckRun) -> list[str]:
    """A THP that any PTE maps is not PG_mlocked, and nr_mlock counts the pages that are.

    Kernel: 4.14 mm/mlock.c keeps a PTE-mapped THP on the evictable LRU (one LRU entry
    for the whole page: a part cannot be locked), so __split_huge_pmd() and
    remove_migration_pte() clear PG_mlocked and mlock_vma_page() skips such a page;
    /proc/meminfo's Mlocked is nr_mlock. (thpsim's mlock is 4.14's in both profiles.)
    """
    f = run.frames
    errors = []
    mlocked = (f.flags & F_mlocked) != 0
    for i in np.nonzero(f.is_head & mlocked & (f.refs - f.pmd_maps > 0))[0][:5]:
        errors.append(f"THP {int(f.idx[i]):#x}: mlocked but mapped by "
                      f"{int(f.refs[i] - f.pmd_maps[i])} PTEs")
    ctx = run.ctx
    flags = ctx.pages.flags_np
    heads = np.flatnonzero((flags & F_mlocked) != 0)
    want = int((np.int64(1) << ctx.pages.order_np[heads].astype(np.int64)).sum())
    got = ctx.vmstat.global_zone_page_state(NR_MLOCK)
    if got != want:
        errors.append(f"nr_mlock {got} != {want} mlocked pages")
    return errors


def check_vmstat(run: CheckRun) -> list[str]:
    """The node counters agree with the frames: nr_anon_transparent_hugepages (in pages)
    with the PMD-mapped live THPs, nr_anon_pages with the frames mapped by a PTE or
    inside a PMD-mapped THP, nr_page_table_pages with the page-table pages.

    Kernel: what /proc/meminfo and /proc/vmstat show (AnonHugePages, AnonPages,
    PageTables); the kernel has no checker, a drift shows as a wrong meminfo.
    """
    errors = []
    vm = run.ctx.vmstat
    exp_thps, exp_mapped = run.expected
    if vm.global_node_page_state(NR_ANON_THPS) != exp_thps:
        errors.append(f"nr_anon_transparent_hugepages "
                      f"{vm.global_node_page_state(NR_ANON_THPS)} pages != {exp_thps}")
    if vm.global_node_page_state(NR_ANON_MAPPED) != exp_mapped:
        errors.append(f"nr_anon_pages {vm.global_node_page_state(NR_ANON_MAPPED)} != "
                      f"{exp_mapped} mapped")
    tables = len(run.ctx.mem.tables)
    if vm.global_zone_page_state(NR_PAGETABLE) != tables:
        errors.append(f"nr_page_table_pages {vm.global_zone_page_state(NR_PAGETABLE)} != "
                      f"{tables} tables")
    return errors


def check_buddy(run: CheckRun) -> list[str]:
    """The allocator's free lists, nr_free, the zones' free counts and managed_pages add
    up, per zone and node (page_alloc.check_buddy() names what broke). Full checks
    only: incremental mode defers it.

    Kernel: the VM_BUG_ONs of __free_one_page()/expand() and the per-zone
    NR_FREE_PAGES accounting /proc/zoneinfo shows.
    """
    if run.incremental:
        return []
    try:
        check_free_lists(run.ctx)
    except KernelBug as e:  # the allocator's own check names what broke
        return [str(e)]
    return []


#: Every checker, in the order its failures are reported.
CHECKERS = (
    check_vmas,
    check_anon_vma_chains,
    check_rmap_reaches_mappings,
    check_mapped_in_vmas,
    check_pgtable_pages,
    check_pgtable_entries,
    check_migration_entries,
    check_deposits,
    check_rss_counters,
    check_pgtables_bytes,
    check_locks_released,
    check_mapcounts,
    check_refcounts,
    check_frame_owners,
    check_page_locks,
    check_mlocked,
    check_vmstat,
    check_buddy,
)


def _tables_mask(ctx: KernelContext) -> np.ndarray:
    tables = np.zeros(ctx.mem.max_pfn, dtype=bool)
    if ctx.mem.tables:
        tables[np.fromiter(ctx.mem.tables.keys(), dtype=np.int64)] = True
    return tables


def _free_frames(ctx: KernelContext) -> tuple[np.ndarray, list[str]]:
    """Every frame in a free block, and the free blocks that overlap another (in list
    order: each block that overlaps one listed before it)."""
    n = ctx.mem.max_pfn
    blocks = np.array(list(for_each_free_block(ctx)), dtype=np.int64).reshape(-1, 2)
    start = blocks[:, 0]
    end = start + (np.int64(1) << blocks[:, 1])
    by_start = np.argsort(start, kind="stable")
    s, e = start[by_start], end[by_start]
    if len(s) < 2 or (s[1:] >= np.maximum.accumulate(e)[:-1]).all():
        edge = np.zeros(n + 1, dtype=np.int8)
        np.add.at(edge, s, 1)
        np.add.at(edge, e, -1)
        return np.cumsum(edge[:n], dtype=np.int8) > 0, []
    free = np.zeros(n, dtype=bool)
    overlaps = []
    for pfn, o in blocks.tolist():
        if free[pfn : pfn + (1 << o)].any():
            overlaps.append(f"free block {pfn:#x} order {o} overlaps another")
        free[pfn : pfn + (1 << o)] = True
    return free, overlaps


def _expected_counters(frames: FrameView, nblocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Per MAX_ORDER block of ``frames``: the THP pages (HPAGE_PMD_NR per PMD-mapped live
    THP head) and the mapped frames (mapped by a PTE or in a PMD-mapped THP)."""
    f = frames
    thp_heads = f.idx[(f.cmap > 0) & f.is_head & f.user]
    thps = np.bincount(thp_heads >> _BLOCK_SHIFT, minlength=nblocks) * HPAGE_PMD_NR
    mapped = (f.pte_maps > 0) | f.take(f.spans((f.cmap > 0) & f.is_head))
    return thps, np.bincount(f.idx[mapped] >> _BLOCK_SHIFT, minlength=nblocks)


def _blocks_differ(now: np.ndarray, then: np.ndarray, nblocks: int) -> np.ndarray:
    """Per MAX_ORDER block: whether any frame's entry in ``now`` differs from ``then``
    (compared as 64-bit words where the block's bytes allow it)."""
    n = len(now)
    if n == nblocks << _BLOCK_SHIFT:
        width = now.itemsize << _BLOCK_SHIFT
        if width % 8 == 0:
            a = now.view(np.uint64).reshape(nblocks, -1)
            b = then.view(np.uint64).reshape(nblocks, -1)
        else:
            a, b = now.reshape(nblocks, -1), then.reshape(nblocks, -1)
        return (a != b).any(axis=1)
    out = np.zeros(nblocks, dtype=bool)
    out[np.nonzero(now != then)[0] >> _BLOCK_SHIFT] = True
    return out


class IntegrityState:
    """What incremental mode remembers from the last check that passed: the inputs of the
    per-frame checkers, and the expected counters per MAX_ORDER block."""

    _FIELDS = ("flags_np", "order_np", "refcount_np", "mapcount_np",
               "compound_mapcount_np", "mapping_np")

    def __init__(self) -> None:
        self.valid = False
        self.snap: dict[str, np.ndarray] = {}
        self.thps_blk = np.zeros(0, dtype=np.int64)
        self.mapped_blk = np.zeros(0, dtype=np.int64)
        self.full_checks = 0
        self.incremental_checks = 0

    def changed_frames(self, ctx: KernelContext, walk: PageTableWalk, free: np.ndarray,
                       tables: np.ndarray) -> np.ndarray | None:
        """The frames of every block where a per-frame input changed, or None when the
        snapshot cannot tell (no snapshot, the machine's size or zero pages changed)."""
        snap = self.snap
        if not self.valid or len(snap["pte_maps"]) != ctx.mem.max_pfn \
                or snap["zero"] != (ctx.zero_pfn, ctx.huge_zero_pfn):
            return None
        pages = ctx.pages
        n = ctx.mem.max_pfn
        nblocks = -(-n >> _BLOCK_SHIFT)
        changed = np.zeros(nblocks, dtype=bool)
        pairs = [(walk.pte_maps, snap["pte_maps"]), (walk.pmd_maps, snap["pmd_maps"]),
                 (free, snap["free"]), (tables, snap["tables"])]
        pairs += [(getattr(pages, name), snap[name]) for name in self._FIELDS]
        for now, then in pairs:
            changed |= _blocks_differ(now, then, nblocks)
        blocks = np.nonzero(changed)[0].astype(np.int64)
        idx = ((blocks[:, None] << _BLOCK_SHIFT)
               + np.arange(1 << _BLOCK_SHIFT, dtype=np.int64)).ravel()
        return idx[idx < n]

    def save(self, ctx: KernelContext, walk: PageTableWalk, free: np.ndarray,
             tables: np.ndarray, changed: np.ndarray | None) -> None:
        """Remember this check's inputs; ``changed``: the only frames whose fields can
        differ from the snapshot (an incremental check's), None: copy all."""
        snap = self.snap
        for name in self._FIELDS:
            now = getattr(ctx.pages, name)
            if changed is not None:
                snap[name][changed] = now[changed]
            else:
                snap[name] = now.copy()
        snap["pte_maps"] = walk.pte_maps
        snap["pmd_maps"] = walk.pmd_maps
        snap["free"] = free
        snap["tables"] = tables
        snap["zero"] = (ctx.zero_pfn, ctx.huge_zero_pfn)
        self.valid = True


def check_integrity(ctx: KernelContext, mms: list, *, allow_migration: bool = False,
                    state: IntegrityState | None = None, full: bool = True) -> None:
    """Run every checker; raise :class:`IntegrityError` listing the failures, each
    prefixed with its checker's name.

    ``mms``: the live address spaces. ``allow_migration``: migration entries may exist
    (a migration is in flight under the scheduler). ``state``: remember this check's
    inputs so a later ``full=False`` check is incremental (module comment above:
    what incremental mode checks and defers); ``full=False`` without a valid state,
    or after a failed check, runs a full check.
    """
    n = ctx.mem.max_pfn
    walk = walk_page_tables(ctx, mms)
    free, free_overlaps = _free_frames(ctx)
    tables = _tables_mask(ctx)
    nblocks = (n >> _BLOCK_SHIFT) + 1
    idx = None
    if state is not None and not full:
        idx = state.changed_frames(ctx, walk, free, tables)
    incremental = idx is not None
    if idx is None:
        idx = np.arange(n, dtype=np.int64)
    frames = FrameView(ctx, walk, idx)
    thps, mapped = _expected_counters(frames, nblocks)
    if incremental:
        assert state is not None
        blocks = np.unique(idx >> _BLOCK_SHIFT)
        thps_blk, mapped_blk = state.thps_blk.copy(), state.mapped_blk.copy()
        thps_blk[blocks] = thps[blocks]
        mapped_blk[blocks] = mapped[blocks]
    else:
        thps_blk, mapped_blk = thps, mapped
    run = CheckRun(ctx, mms, allow_migration, walk, frames, free, free_overlaps,
                   (int(thps_blk.sum()), int(mapped_blk.sum())), incremental)
    errors = [f"{checker.__name__}: {e}" for checker in CHECKERS for e in checker(run)]
    if state is not None:
        if incremental:
            state.incremental_checks += 1
        else:
            state.full_checks += 1
        state.valid = False
    if errors:
        more = f" (+{len(errors) - 10} more)" if len(errors) > 10 else ""
        raise IntegrityError("invariant broken:\n  " + "\n  ".join(errors[:10]) + more)
    if state is not None:
        state.thps_blk, state.mapped_blk = thps_blk, mapped_blk
        state.save(ctx, walk, free, tables, idx if incremental else None)
