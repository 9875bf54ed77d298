"""Step traces: which page-table entries each step changed, before and after.

Model-only. Entries live in the page-table frames (read through
:func:`thpsim.testing.page_tables`), written by many kernel helpers (set_pte_at,
ptep_get_and_clear, pmdp_invalidate, copy_page_range, ...), so instead of hooking
each writer the tracer keeps a copy of every table and, after a step, reports the
words that differ. A changed word is named by the mm and virtual address it maps
(found by walking each live mm's tables down from its PGD) and decoded: present with its PFN and
bits, a migration entry (with its PFN and write/exclusive flavour), a hwpoison
entry, a PTE table pointer, or none. A table freed or allocated in the step is
reported as such; a deposited PTE table (``pmd_huge_pte``) has no address.

Costs a copy of every table per step: for traces of a round or a reproducer,
not for long runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thpsim.testing import LEVEL_NAME, LEVEL_SHIFT, describe_entry, page_tables, table_owners

__all__ = ["EntryTracer"]

_ZERO = bytes(4096)


class EntryTracer:
    """Reports the page-table words changed since the last call (see module docstring)."""

    def __init__(self, machine: Any):
        self.machine = machine
        self.snap: dict[int, bytes] = {pfn: b for pfn, (_, b) in page_tables(machine).items()}

    def changes(self) -> list[dict[str, Any]]:
        """The entries changed since the previous call, oldest table first."""
        m = self.machine
        tables = page_tables(m)
        snap = self.snap
        out: list[dict[str, Any]] = []
        owners: dict[int, tuple[int, int, int]] | None = None
        for pfn, (table_level, b) in tables.items():
            old = snap.get(pfn)
            if old == b:
                continue
            snap[pfn] = b
            if old is None:
                out.append({"table": f"{pfn:#x}",
                            "allocated": LEVEL_NAME.get(table_level, "?")})
                old = _ZERO
            if owners is None:
                owners = table_owners(m)
            a = np.frombuffer(b, dtype=np.uint64)
            o = np.frombuffer(old, dtype=np.uint64)
            mm_id, level, base = owners.get(pfn, (-1, table_level, -1))
            for i in np.nonzero(a != o)[0]:
                before, after = int(o[i]), int(a[i])
                rec: dict[str, Any] = {
                    "level": LEVEL_NAME.get(level, "?"),
                    "before": f"{before:#x}", "after": f"{after:#x}",
                    "was": describe_entry(m, level, before),
                    "now": describe_entry(m, level, after),
                }
                if base >= 0:
                    rec["mm"] = mm_id
                    rec["addr"] = f"{base + (int(i) << LEVEL_SHIFT[level]):#x}"
                else:
                    rec["table"] = f"{pfn:#x}"  # deposited, or not reachable from a PGD
                out.append(rec)
        for pfn in [p for p in snap if p not in tables]:
            del snap[pfn]
            out.append({"table": f"{pfn:#x}", "freed": True})
        return out
