"""Step traces: which page-table entries each step changed, before and after.

Model-only. Entries live in the page-table frames (``PhysicalMemory.tables``),
written by many kernel helpers (set_pte_at, ptep_get_and_clear, pmdp_invalidate,
copy_page_range, ...), so instead of hooking each writer the tracer keeps a copy
of every table and, after a step, reports the words that differ. A changed
word is named by the mm and virtual address it maps (found by walking each
live mm's tables down from its PGD) and decoded: present with its PFN and
bits, a migration entry (with its PFN and write/exclusive flavour), a hwpoison
entry, a PTE table pointer, or none. A table freed or allocated in the step is
reported as such; a deposited PTE table (``pmd_huge_pte``) has no address.

Costs a copy of every table per step: for traces of a round or a reproducer,
not for long runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thpsim.arch.x86_64.pgtable import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    _PAGE_PSE,
    _PAGE_RW,
    _PAGE_SOFT_DIRTY,
    PAGE_SHIFT,
    PGDIR_SHIFT,
    PMD_SHIFT,
    PTE_PFN_MASK,
    PUD_SHIFT,
    pmd_pfn,
    pte_pfn,
)
from thpsim.arch.x86_64.swapops import pte_swp_soft_dirty

__all__ = ["EntryTracer", "describe_entry"]

_LEVEL_NAME = {4: "pgd", 3: "pud", 2: "pmd", 1: "pte"}
_SHIFT = {4: PGDIR_SHIFT, 3: PUD_SHIFT, 2: PMD_SHIFT, 1: PAGE_SHIFT}
_ZERO = bytes(4096)


def describe_entry(ctx: Any, level: int, v: int) -> str:
    """A kernel developer's reading of one entry word (model-only): ``none``, a table
    pointer, a present mapping (PFN, huge, rw/ro, A, D, soft-dirty, protnone), or a
    non-present swap-format entry (migration with its flavour, hwpoison, swap)."""
    if v == 0:
        return "none"
    if level > 2 or level == 2 and v & _PAGE_PRESENT and not v & _PAGE_PSE:
        return f"table at pfn {(v & PTE_PFN_MASK) >> PAGE_SHIFT:#x}"
    present = v & (_PAGE_PRESENT | _PAGE_PROTNONE | (_PAGE_PSE if level == 2 else 0))
    if not present:
        swp = ctx.swp
        entry = swp.pte_to_swp_entry(v)
        sd = " soft-dirty" if pte_swp_soft_dirty(v) else ""
        if swp.is_migration_entry(entry):
            kind = ("write" if swp.is_writable_migration_entry(entry) else
                    "read-exclusive" if swp.is_readable_exclusive_migration_entry(entry)
                    else "read")
            return f"migration entry ({kind}) pfn {swp.pfn_swap_entry_pfn(entry):#x}{sd}"
        if swp.is_hwpoison_entry(entry):
            return f"hwpoison entry pfn {swp.pfn_swap_entry_pfn(entry):#x}"
        return f"swap entry {entry:#x}{sd}"
    pfn = pmd_pfn(v) if level == 2 else pte_pfn(v)
    bits = ["huge" if level == 2 else "",
            "rw" if v & _PAGE_RW else "ro",
            "A" if v & _PAGE_ACCESSED else "",
            "D" if v & _PAGE_DIRTY else "",
            "soft-dirty" if v & _PAGE_SOFT_DIRTY else "",
            "" if v & _PAGE_PRESENT else "protnone" if v & _PAGE_PROTNONE
            else "invalidated"]  # a huge PMD after pmdp_invalidate()
    return f"pfn {pfn:#x} " + " ".join(b for b in bits if b)


class EntryTracer:
    """Reports the page-table words changed since the last call (see module docstring)."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.snap: dict[int, bytes] = {pfn: t.tobytes() for pfn, t in ctx.mem.tables.items()}

    def _owners(self) -> dict[int, tuple[int, int, int]]:
        """table pfn -> (mm id, level, first virtual address it maps)."""
        out: dict[int, tuple[int, int, int]] = {}
        tables = self.ctx.mem.tables
        seen: set[int] = set()
        for task in self.ctx.tasks.values():
            mm = task.mm
            if mm is None or mm.mm_id in seen:
                continue
            seen.add(mm.mm_id)
            stack = [(mm.pgd, 4, 0)]
            while stack:
                t, level, base = stack.pop()
                out[t.pfn] = (mm.mm_id, level, base)
                if level == 1:
                    continue
                for i in np.nonzero(np.frombuffer(t, dtype=np.uint64))[0]:
                    v = int(t[i])
                    if not v & 1 or level == 2 and v & _PAGE_PSE:
                        continue
                    child = tables.get((v & PTE_PFN_MASK) >> PAGE_SHIFT)
                    if child is not None:
                        stack.append((child, level - 1, base + (int(i) << _SHIFT[level])))
        return out

    def changes(self) -> list[dict[str, Any]]:
        """The entries changed since the previous call, oldest table first."""
        ctx = self.ctx
        tables = ctx.mem.tables
        snap = self.snap
        out: list[dict[str, Any]] = []
        owners: dict[int, tuple[int, int, int]] | None = None
        for pfn, t in tables.items():
            b = t.tobytes()
            old = snap.get(pfn)
            if old == b:
                continue
            snap[pfn] = b
            if old is None:
                out.append({"table": f"{pfn:#x}", "allocated": _LEVEL_NAME.get(t.level, "?")})
                old = _ZERO
            if owners is None:
                owners = self._owners()
            a = np.frombuffer(b, dtype=np.uint64)
            o = np.frombuffer(old, dtype=np.uint64)
            mm_id, level, base = owners.get(pfn, (-1, t.level, -1))
            for i in np.nonzero(a != o)[0]:
                before, after = int(o[i]), int(a[i])
                rec: dict[str, Any] = {
                    "level": _LEVEL_NAME.get(level, "?"),
                    "before": f"{before:#x}", "after": f"{after:#x}",
                    "was": describe_entry(ctx, level, before),
                    "now": describe_entry(ctx, level, after),
                }
                if base >= 0:
                    rec["mm"] = mm_id
                    rec["addr"] = f"{base + (int(i) << _SHIFT[level]):#x}"
                else:
                    rec["table"] = f"{pfn:#x}"  # deposited, or not reachable from a PGD
                out.append(rec)
        for pfn in [p for p in snap if p not in tables]:
            del snap[pfn]
            out.append({"table": f"{pfn:#x}", "freed": True})
        return out
