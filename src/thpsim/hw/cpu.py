"""Simulated CPUs: TLBs and the MMU page walk.

Model-only (the silicon), following the Intel SDM's 4-level paging:

* The MMU walks PGD -> PUD -> PMD -> PTE in page-table frames
  (:attr:`PhysicalMemory.tables`), faults when an entry's P bit is clear (a
  PROT_NONE or migration entry is not present to hardware), requires U at every
  level for a user access and RW at every level for a write, sets A in every
  entry it uses and D in the leaf on a write.
* A TLB caches translations per address space (PCID-tagged, as Linux 4.14+ runs
  x86): 4 KiB entries and 2 MiB entries apart, each holding the PFN, the
  effective writability and the leaf's dirty state at fill time. Loads and
  stores use the TLB first; a store through an entry that lacks D re-walks (the
  CPU must set D), a store through a read-only entry faults. Nothing but an
  explicit invalidation removes an entry, so a store through a stale entry
  writes the frame that entry names: a missing flush loses data here as it did
  on real machines.
* Capacity is bounded (FIFO eviction, deterministic).
* ``knl_ad_erratum`` (a machine option, ``Machine(knl_ad_erratum=True)``): Knights
  Landing's erratum KNL4, where a thread about to page fault may set A and/or D in
  an entry whose P bit was just cleared (its A/D update is not atomic against its
  P check). The model's walk is one step, so it cannot place another CPU's store
  between the check and the update; it over-approximates: every user access that
  faults on a swap-format leaf (a PMD or PTE neither none nor present to the
  kernel: a migration or hwpoison entry) sets A in it, and D for a store, as if the
  entry had been installed just after the thread checked P. This is why the
  kernel's swap format keeps nothing in bits 5 and 6 (C:00839ee3b299, 4.8).

Translation values are ints: ``pfn << PAGE_SHIFT | _PAGE_RW? | _PAGE_DIRTY? | _PAGE_USER``.
"""

from __future__ import annotations

from thpsim.arch.x86_64.pgtable import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_GLOBAL,
    _PAGE_PRESENT,
    _PAGE_PSE,
    _PAGE_RW,
    _PAGE_USER,
    PAGE_SHIFT,
    PGDIR_SHIFT,
    PMD_SHIFT,
    PTE_PFN_MASK,
    PUD_SHIFT,
)
from thpsim.hw.memory import PhysicalMemory

__all__ = ["CPU", "flush_range_cpus", "mmu_walk", "WALK_NOT_PRESENT", "WALK_PROTECTION",
           "TLB_W", "TLB_D"]

#: Walk results below zero: the x86 page-fault error code's P bit (0 = not present).
WALK_NOT_PRESENT = -1
WALK_PROTECTION = -2

TLB_W = _PAGE_RW
TLB_D = _PAGE_DIRTY
_TLB_FLAGS = _PAGE_RW | _PAGE_DIRTY | _PAGE_USER
_HUGE_PFN_OFF = (1 << (PMD_SHIFT - PAGE_SHIFT)) - 1
_IDX = 511
_AD = _PAGE_ACCESSED | _PAGE_DIRTY
_NOT_AD = ~_AD & 0xFFFF_FFFF_FFFF_FFFF
#: What makes a non-present (P clear) PMD or PTE present to the kernel: PROTNONE, and
#: PSE in a PMD (pmd_present()); such entries are not swap entries.
_KERNEL_PRESENT = _PAGE_GLOBAL | _PAGE_PSE
#: The levels the MMU walks, top down (4-level paging): each one's index shift and the
#: entry bits that make it the leaf (PS in a PMD; every present PTE; none above).
_LEVELS = ((PGDIR_SHIFT, 0), (PUD_SHIFT, 0), (PMD_SHIFT, _PAGE_PSE), (PAGE_SHIFT, -1))

DEFAULT_TLB_ENTRIES_4K = 1536
DEFAULT_TLB_ENTRIES_2M = 1024


class CPU:
    """One simulated CPU: its node and its TLB."""

    __slots__ = ("cpu", "nid", "tlb", "tlb_regions", "evictions", "cap4k", "cap2m",
                 "online", "knl_ad_erratum")

    def __init__(
        self,
        cpu: int,
        nid: int,
        cap4k: int = DEFAULT_TLB_ENTRIES_4K,
        cap2m: int = DEFAULT_TLB_ENTRIES_2M,
        knl_ad_erratum: bool = False,
    ):
        self.cpu = cpu
        self.knl_ad_erratum = knl_ad_erratum
        self.nid = nid
        #: asid -> (4 KiB entries by vpn, 2 MiB entries by vaddr >> PMD_SHIFT)
        self.tlb: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
        #: Model-only index of the 4 KiB entries: asid -> {vpn >> 9: {vpn, ...}} (the
        #: entries under each 2 MiB of address space), kept in step with ``tlb`` so
        #: that a flush of a 2 MiB range visits the entries in it, not every entry of
        #: the address space.
        self.tlb_regions: dict[int, dict[int, set[int]]] = {}
        self.evictions = 0  # 4 KiB FIFO evictions since the last compaction
        self.cap4k = cap4k
        self.cap2m = cap2m
        self.online = True

    def __repr__(self) -> str:
        return f"CPU{self.cpu}"

    # ---- lookups
    def tlb_lookup(self, asid: int, vaddr: int) -> int:
        """The cached translation of ``vaddr``'s 4 KiB page, or -1 on a miss."""
        t = self.tlb.get(asid)
        if t is None:
            return -1
        e = t[0].get(vaddr >> PAGE_SHIFT)
        if e is not None:
            return e
        e = t[1].get(vaddr >> PMD_SHIFT)
        if e is not None:
            return e + (((vaddr >> PAGE_SHIFT) & _HUGE_PFN_OFF) << PAGE_SHIFT)
        return -1

    def tlb_fill(self, asid: int, vaddr: int, translation: int, huge: bool) -> None:
        t = self.tlb.get(asid)
        if t is None:
            t = self.tlb[asid] = ({}, {})
            self.tlb_regions[asid] = {}
        if huge:
            d, key = t[1], vaddr >> PMD_SHIFT
            translation -= ((vaddr >> PAGE_SHIFT) & _HUGE_PFN_OFF) << PAGE_SHIFT
            if key not in d and len(d) >= self.cap2m:
                del d[next(iter(d))]  # FIFO eviction
            d[key] = translation
            return
        d, key = t[0], vaddr >> PAGE_SHIFT
        if key not in d:
            regions = self.tlb_regions[asid]
            if len(d) >= self.cap4k:
                self.evictions += 1
                if self.evictions >= _COMPACT_EVERY:
                    # Model-only: evicting from the front leaves a growing run of
                    # deleted slots that next(iter(d)) walks over each time; a copy
                    # (same entries, same order) drops them.
                    self.evictions = 0
                    d = dict(d)
                    self.tlb[asid] = (d, t[1])
                old = next(iter(d))
                del d[old]  # FIFO eviction
                s = regions[old >> _REGION_SHIFT]  # _region_discard(regions, old), inlined
                s.discard(old)
                if not s:
                    del regions[old >> _REGION_SHIFT]
            r = key >> _REGION_SHIFT
            s = regions.get(r)
            if s is None:
                regions[r] = {key}
            else:
                s.add(key)
        d[key] = translation

    # ---- invalidation (what INVLPG, INVPCID and a CR3 write do)
    def invlpg(self, asid: int, vaddr: int) -> None:
        t = self.tlb.get(asid)
        if t is not None:
            vpn = vaddr >> PAGE_SHIFT
            if t[0].pop(vpn, None) is not None:
                _region_discard(self.tlb_regions[asid], vpn)
            t[1].pop(vaddr >> PMD_SHIFT, None)

    def flush_range(self, asid: int, start: int, end: int) -> None:
        t = self.tlb.get(asid)
        if t is None:
            return
        d4, d2 = t
        lo, hi = start >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT
        if d4:
            regions = self.tlb_regions[asid]
            if hi - lo < 64:
                for vpn in range(lo, hi + 1):
                    if d4.pop(vpn, None) is not None:
                        _region_discard(regions, vpn)
            else:  # by the 2 MiB regions holding entries: the fewer of range and index
                rlo, rhi = lo >> _REGION_SHIFT, hi >> _REGION_SHIFT
                if rhi - rlo < len(regions):
                    hit = [r for r in range(rlo, rhi + 1) if r in regions]
                else:
                    hit = [r for r in regions if rlo <= r <= rhi]
                for r in hit:
                    s = regions[r]
                    if rlo < r < rhi:  # the whole region lies in the range
                        for vpn in s:
                            del d4[vpn]
                        del regions[r]
                        continue
                    for vpn in [v for v in s if lo <= v <= hi]:
                        del d4[vpn]
                        s.discard(vpn)
                    if not s:
                        del regions[r]
        if d2:
            klo, khi = start >> PMD_SHIFT, (end - 1) >> PMD_SHIFT
            if khi - klo < len(d2):
                for key in range(klo, khi + 1):
                    d2.pop(key, None)
            else:
                for key in [k for k in d2 if klo <= k <= khi]:
                    del d2[key]

    def flush_asid(self, asid: int) -> None:
        self.tlb.pop(asid, None)
        self.tlb_regions.pop(asid, None)

    def has_entries(self, asid: int) -> bool:
        t = self.tlb.get(asid)
        return t is not None and bool(t[0] or t[1])


def flush_range_cpus(cpus: list[CPU], asid: int, start: int, end: int) -> None:
    """``cpu.flush_range(asid, start, end)`` on every CPU of ``cpus``: what the IPIs of
    one shootdown do.

    Model-only, for speed: a shootdown visits every CPU (linear in CPUs, as the
    kernel's IPIs to mm_cpumask are), so the usual case is done here without a call
    per CPU: a CPU holding nothing of the address space is skipped, and one holding
    no 4 KiB entries of it, flushed over one 2 MiB range, drops that 2 MiB entry.
    """
    key = start >> PMD_SHIFT
    one_key = key == (end - 1) >> PMD_SHIFT
    for cpu in cpus:
        t = cpu.tlb.get(asid)
        if t is None:
            continue
        if t[0] or not one_key:
            cpu.flush_range(asid, start, end)
        else:
            t[1].pop(key, None)


#: tlb_fill(): copy a 4 KiB entry dict after this many FIFO evictions.
_COMPACT_EVERY = 512

#: 4 KiB entries are indexed by the 2 MiB region of address space they lie in.
_REGION_SHIFT = PMD_SHIFT - PAGE_SHIFT


def _region_discard(regions: dict[int, set[int]], vpn: int) -> None:
    """Model-only: drop ``vpn`` from the region index (the entry was removed)."""
    s = regions[vpn >> _REGION_SHIFT]
    s.discard(vpn)
    if not s:
        del regions[vpn >> _REGION_SHIFT]


def mmu_walk(mem: PhysicalMemory, pgd_pfn: int, vaddr: int, write: bool,
             knl_ad_erratum: bool = False) -> tuple[int, bool]:
    """Walk the page tables for a user access, as the MMU does.

    Returns ``(translation, huge)`` with translation >= 0 on success (A set in
    every entry used, D in the leaf on a write), or ``(WALK_NOT_PRESENT, False)``
    / ``(WALK_PROTECTION, False)``. ``knl_ad_erratum``: a fault on a swap-format
    PMD or PTE sets stray A (and D for a write) in it (see the module docstring).
    """
    tables = mem.tables
    t = tables[pgd_pfn]
    rw = _PAGE_RW
    for shift, leaf in _LEVELS:
        i = (vaddr >> shift) & _IDX
        e = t[i]
        if not e & _PAGE_PRESENT:
            if knl_ad_erratum and shift <= PMD_SHIFT and e & _NOT_AD and not e & _KERNEL_PRESENT:
                t[i] = e | (_AD if write else _PAGE_ACCESSED)  # KNL4: stray A/D
            return WALK_NOT_PRESENT, False
        if not e & _PAGE_USER:
            return WALK_PROTECTION, False
        rw &= e
        if e & leaf:
            break  # the leaf: a PTE, or a PMD with PS set (2 MiB)
        if not e & _PAGE_ACCESSED:
            t[i] = e | _PAGE_ACCESSED
        t = tables[(e & PTE_PFN_MASK) >> PAGE_SHIFT]
    if write and not rw:
        return WALK_PROTECTION, False
    new = e | (_AD if write else _PAGE_ACCESSED)
    if new != e:
        t[i] = new
    flags = rw | (new & _PAGE_DIRTY) | _PAGE_USER
    if shift == PMD_SHIFT:
        pfn = ((e & PTE_PFN_MASK) >> PAGE_SHIFT) & ~_HUGE_PFN_OFF
        pfn += (vaddr >> PAGE_SHIFT) & _HUGE_PFN_OFF
        return (pfn << PAGE_SHIFT) | flags, True
    return (e & PTE_PFN_MASK) | flags, False
