"""The integrity oracle: a shadow of every user write, and the invariant checker.

Model-only. The shadow is an independent model of what each address space
should read back, updated from the system-call semantics (not from the kernel's
page tables): a write records the value; munmap, MADV_DONTNEED and a MAP_FIXED
mmap over it forget it (memory reads 0 again); fork copies it; mremap moves it. Every user read is
checked against it.

The invariant checker walks every live address space's page tables and
compares them with the per-frame metadata, the counters and the allocator
(kernel-semantics.md §7): every frame free or owned exactly once; refcounts
and mapcounts equal what the page tables say; one deposited table per huge PMD
or PMD migration entry; a migration entry only while its page is locked;
nr_ptes/nr_pmds and RSS consistent; node statistics and free counts add up; no
lock left held.

Storage: per address space, one 512-word NumPy vector per touched 2 MiB
region -- no Python object per 4 KiB page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from thpsim.arch.x86_64.pgtable import (
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    HPAGE_PMD_NR,
    PAGE_SHIFT,
    PGDIR_SHIFT,
    PMD_SHIFT,
    PUD_SHIFT,
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
from thpsim.mm.huge_memory import is_huge_zero_pfn
from thpsim.mm.mm_types import MM_ANONPAGES
from thpsim.mm.page_flags import (
    PAGE_MAPPING_ANON,
    F_head,
    F_hwpoison,
    F_locked,
    F_pgtable,
    F_reserved,
    F_tail,
)
from thpsim.mm.vmstat import NR_ANON_MAPPED, NR_ANON_THPS, NR_PAGETABLE

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

_REGION_SHIFT = PMD_SHIFT
_IDX = 511


class Shadow:
    """What every address space should read back, per 4 KiB page."""

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
        if not s:
            return
        for key in [k for k in s if start >> _REGION_SHIFT <= k <= (end - 1) >> _REGION_SHIFT]:
            lo = max(start, key << _REGION_SHIFT)
            hi = min(end, (key + 1) << _REGION_SHIFT)
            r = s[key]
            r[(lo >> PAGE_SHIFT) & _IDX : ((hi - 1) >> PAGE_SHIFT & _IDX) + 1] = 0
            if not r.any():
                del s[key]

    def copy(self, src: int, dst: int) -> None:
        """fork: the child reads what the parent wrote."""
        self.spaces[dst] = {k: v.copy() for k, v in self.spaces.get(src, {}).items()}

    def move(self, mm_id: int, old: int, new: int, length: int) -> None:
        """mremap: the data moves with the mapping."""
        s = self.spaces.get(mm_id)
        if not s:
            return
        vals = [(a, self.expected(mm_id, a)) for a in _touched(s, old, old + length)]
        self.clear(mm_id, old, old + length)
        for a, v in vals:
            if v:
                self.record(mm_id, a - old + new, v)

    def drop(self, mm_id: int) -> None:
        self.spaces.pop(mm_id, None)

    def nbytes(self) -> int:
        return sum(r.nbytes for s in self.spaces.values() for r in s.values())


def _touched(s: dict[int, np.ndarray], start: int, end: int) -> list[int]:
    out = []
    for key in sorted(s):
        if key < start >> _REGION_SHIFT or key > (end - 1) >> _REGION_SHIFT:
            continue
        r = s[key]
        for i in np.nonzero(r)[0]:
            a = (key << _REGION_SHIFT) | (int(i) << PAGE_SHIFT)
            if start <= a < end:
                out.append(a)
    return out


# ---------------------------------------------------------------- invariants
def check_integrity(ctx: KernelContext, mms: list, *, allow_migration: bool = False) -> None:
    """Raise :class:`IntegrityError` naming the first broken invariant.

    ``mms``: the live address spaces. ``allow_migration``: migration entries
    may exist (a migration is in flight under the scheduler).
    """
    pages = ctx.pages
    mem = ctx.mem
    n = mem.max_pfn
    swp = ctx.swp
    pte_maps = np.zeros(n, dtype=np.int64)
    pmd_maps = np.zeros(n, dtype=np.int64)
    table_owner: dict[int, str] = {}
    errors: list[str] = []

    def own_table(pfn: int, who: str) -> None:
        if pfn in table_owner:
            errors.append(f"page table {pfn:#x} owned twice: {table_owner[pfn]} and {who}")
        table_owner[pfn] = who
        if pfn not in mem.tables:
            errors.append(f"{who}: table {pfn:#x} is not a page-table page")
        elif not pages.flags[pfn] & F_pgtable:
            errors.append(f"{who}: table {pfn:#x} lacks the page-table flag")

    for mm in mms:
        tag = f"mm{mm.mm_id}"
        own_table(mm.pgd.pfn, f"{tag} pgd")
        rss = 0
        nr_pte_tables = nr_pmd_tables = nr_pud_tables = 0
        deposits = 0
        for gi, ge in enumerate(mm.pgd):
            if ge == 0:
                continue
            pud_t = mem.tables[table_entry_pfn(ge)]
            own_table(pud_t.pfn, f"{tag} pud@{gi}")
            nr_pud_tables += 1
            for ui, ue in enumerate(pud_t):
                if pud_none(ue):
                    continue
                pmd_t = mem.tables[table_entry_pfn(ue)]
                own_table(pmd_t.pfn, f"{tag} pmd@{gi}/{ui}")
                nr_pmd_tables += 1
                huge_here = 0
                for mi, me in enumerate(pmd_t):
                    if pmd_none(me):
                        continue
                    addr = (gi << PGDIR_SHIFT) | (ui << PUD_SHIFT) | (mi << PMD_SHIFT)
                    if is_swap_pmd(me):
                        if not swp.is_pmd_migration_entry(me):
                            errors.append(
                                f"{tag} {addr:#x}: swap PMD {me:#x} not a migration entry"
                            )
                        elif not allow_migration:
                            errors.append(f"{tag} {addr:#x}: PMD migration entry left behind")
                        else:
                            _check_entry_locked(ctx, swp.pmd_to_swp_entry(me), tag, addr, errors)
                        rss += HPAGE_PMD_NR
                        huge_here += 1
                        continue
                    if pmd_trans_huge(me):
                        huge_here += 1
                        if not pmd_present(me) or not me & (_PAGE_PRESENT | _PAGE_PROTNONE):
                            errors.append(
                                f"{tag} {addr:#x}: invalidated huge PMD {me:#x} left behind"
                            )
                            continue
                        head = pmd_pfn(me)
                        if head == ctx.huge_zero_pfn:
                            continue
                        pmd_maps[head] += 1
                        rss += HPAGE_PMD_NR
                        if not pages.flags[head] & F_head:
                            errors.append(f"{tag} {addr:#x}: huge PMD maps non-head {head:#x}")
                        continue
                    pte_t = mem.tables.get(table_entry_pfn(me))
                    if pte_t is None:
                        errors.append(f"{tag} {addr:#x}: PMD {me:#x} points to a non-table")
                        continue
                    own_table(pte_t.pfn, f"{tag} pte@{addr:#x}")
                    nr_pte_tables += 1
                    for ti, te in enumerate(pte_t):
                        if te == 0 or pte_none(te):
                            continue
                        if pte_present(te):
                            pfn = pte_pfn(te)
                            if pte_special(te) or pfn == ctx.zero_pfn:
                                if pfn != ctx.zero_pfn and not is_huge_zero_pfn(ctx, pfn):
                                    errors.append(f"{tag}: special PTE to {pfn:#x}")
                                continue
                            pte_maps[pfn] += 1
                            rss += 1
                        else:
                            e = swp.pte_to_swp_entry(te)
                            if swp.is_migration_entry(e):
                                rss += 1
                                a = addr | (ti << PAGE_SHIFT)
                                if not allow_migration:
                                    errors.append(f"{tag} {a:#x}: PTE migration entry left behind")
                                else:
                                    _check_entry_locked(ctx, e, tag, a, errors)
                            elif not swp.is_hwpoison_entry(e):
                                errors.append(f"{tag}: unknown swap PTE {te:#x}")
                dep = pmd_t.pmd_huge_pte or []
                if len(dep) != huge_here:
                    errors.append(
                        f"{tag} pmd table {pmd_t.pfn:#x}: {len(dep)} deposited tables for "
                        f"{huge_here} huge PMDs/migration entries"
                    )
                for d in dep:
                    own_table(d, f"{tag} deposit@{pmd_t.pfn:#x}")
                    deposits += 1
        if mm.rss_stat[MM_ANONPAGES] != rss:
            errors.append(f"{tag}: MM_ANONPAGES {mm.rss_stat[MM_ANONPAGES]} != {rss} mapped")
        if mm.nr_ptes != nr_pte_tables + deposits:
            errors.append(
                f"{tag}: nr_ptes {mm.nr_ptes} != {nr_pte_tables} tables + {deposits} deposited"
            )
        if mm.nr_pmds != nr_pmd_tables:
            errors.append(f"{tag}: nr_pmds {mm.nr_pmds} != {nr_pmd_tables}")
        if mm.nr_puds != nr_pud_tables:
            errors.append(f"{tag}: nr_puds {mm.nr_puds} != {nr_pud_tables}")
        if mm.mmap_lock.writer is not None or mm.mmap_lock.readers:
            errors.append(f"{tag}: mmap_lock still held")

    for pfn, t in mem.tables.items():
        if pfn not in table_owner:
            errors.append(f"page table {pfn:#x} (level {t.level}) leaked: no mm owns it")
        if t.ptl is not None and t.ptl.owner is not None:
            errors.append(f"page table {pfn:#x}: lock still held")

    # ---- per-frame ledger (vectorised)
    flags = pages.flags_np
    is_head = (flags & F_head) != 0
    is_tail = (flags & F_tail) != 0
    order = pages.order_np.astype(np.int64)
    pfns = np.arange(n, dtype=np.int64)
    head_of = np.where(is_tail, pfns & ~((np.int64(1) << order) - 1), pfns)
    mapcount = pages.mapcount_np.astype(np.int64) + 1
    bad = np.nonzero((mapcount != pte_maps) & (pages.mapcount_np != -128))[0]
    for pfn in bad[:5]:
        errors.append(f"page {pfn:#x}: mapcount {mapcount[pfn]} != {pte_maps[pfn]} PTE maps")
    cmap = pages.compound_mapcount_np.astype(np.int64) + 1
    bad = np.nonzero(is_head & (cmap != pmd_maps))[0]
    for pfn in bad[:5]:
        errors.append(f"THP {pfn:#x}: compound mapcount {cmap[pfn]} != {pmd_maps[pfn]} PMD maps")
    bad = np.nonzero(~is_head & (pmd_maps != 0))[0]
    for pfn in bad[:5]:
        errors.append(f"page {pfn:#x}: PMD-mapped but not a THP head")
    # expected refcount of each (head) page: every mapping holds one reference
    refs = np.bincount(head_of, weights=pte_maps, minlength=n).astype(np.int64) + pmd_maps
    anon = (pages.mapping_np & PAGE_MAPPING_ANON) != 0
    user = anon & ~is_tail & (pages.refcount_np > 0)
    bad = np.nonzero(user & (pages.refcount_np != refs))[0]
    for pfn in bad[:5]:
        errors.append(
            f"page {pfn:#x}: refcount {pages.refcount_np[pfn]} != {refs[pfn]} mappings"
        )
    mapped_not_user = np.nonzero((refs > 0) & ~user)[0]
    for pfn in mapped_not_user[:5]:
        errors.append(f"page {pfn:#x}: mapped but not a live anonymous page")
    # every frame free or owned once
    free = np.zeros(n, dtype=bool)
    for pfn, o in ctx.buddy.for_each_free_block():
        if free[pfn : pfn + (1 << o)].any():
            errors.append(f"free block {pfn:#x} order {o} overlaps another")
        free[pfn : pfn + (1 << o)] = True
    owned_by_user = np.zeros(n, dtype=bool)
    heads = np.nonzero(user)[0]
    for h in heads:
        owned_by_user[h : h + (1 << int(order[h])) if is_head[h] else h + 1] = True
    special = np.zeros(n, dtype=bool)
    if ctx.zero_pfn >= 0:
        special[ctx.zero_pfn] = True
    if ctx.huge_zero_pfn >= 0:
        special[ctx.huge_zero_pfn : ctx.huge_zero_pfn + HPAGE_PMD_NR] = True
    tables = np.zeros(n, dtype=bool)
    if mem.tables:
        tables[np.fromiter(mem.tables.keys(), dtype=np.int64)] = True
    reserved = (flags & F_reserved) != 0
    poisoned = (flags & F_hwpoison) != 0
    owners = (
        free.astype(np.int8) + owned_by_user + special + tables
        + (reserved & ~special & ~owned_by_user)
    )
    bad = np.nonzero(owners > 1)[0]
    for pfn in bad[:5]:
        errors.append(f"frame {pfn:#x} owned {int(owners[pfn])} times")
    bad = np.nonzero((owners == 0) & ~poisoned & ~_offline_mask(ctx, n))[0]
    for pfn in bad[:5]:
        errors.append(
            f"frame {pfn:#x} leaked: not free and not owned (refcount {pages.refcount_np[pfn]},"
            f" flags {int(flags[pfn]):#x})"
        )
    locked = np.nonzero((flags & F_locked) != 0)[0]
    for pfn in locked[:5]:
        errors.append(f"page {pfn:#x} left locked")
    # ---- counters
    vm = ctx.vmstat
    exp_thps = int(((cmap > 0) & is_head & user).sum()) * HPAGE_PMD_NR
    if vm.global_node_page_state(NR_ANON_THPS) != exp_thps:
        errors.append(
            f"nr_anon_transparent_hugepages {vm.global_node_page_state(NR_ANON_THPS)} pages "
            f"!= {exp_thps}"
        )
    pmd_mapped = np.zeros(n, dtype=bool)
    for h in np.nonzero(is_head & (cmap > 0))[0]:
        pmd_mapped[h : h + (1 << int(order[h]))] = True
    exp_mapped = int(((pte_maps > 0) | pmd_mapped).sum())
    if vm.global_node_page_state(NR_ANON_MAPPED) != exp_mapped:
        errors.append(
            f"nr_anon_pages {vm.global_node_page_state(NR_ANON_MAPPED)} != {exp_mapped} mapped"
        )
    if vm.global_zone_page_state(NR_PAGETABLE) != len(mem.tables):
        errors.append(
            f"nr_page_table_pages {vm.global_zone_page_state(NR_PAGETABLE)} != "
            f"{len(mem.tables)} tables"
        )
    try:
        ctx.buddy.check_buddy()
    except KernelBug as e:  # the allocator's own check names what broke
        errors.append(f"buddy: {e}")
    if errors:
        more = f" (+{len(errors) - 10} more)" if len(errors) > 10 else ""
        raise IntegrityError("invariant broken:\n  " + "\n  ".join(errors[:10]) + more)


def _check_entry_locked(ctx: KernelContext, entry: int, tag: str, addr: int,
                        errors: list[str]) -> None:
    """Invariant 1 (kernel-semantics §7): a migration entry exists only while its page
    is locked by the migrator."""
    pfn = ctx.swp.pfn_swap_entry_pfn(entry)
    head = ctx.pages.compound_head(pfn)
    if not ctx.pages.flags[head] & F_locked:
        errors.append(f"{tag} {addr:#x}: migration entry to unlocked page {head:#x}")


def _offline_mask(ctx: KernelContext, n: int) -> np.ndarray:
    from thpsim.mm.page_flags import F_offline

    return (ctx.pages.flags_np & F_offline) != 0
