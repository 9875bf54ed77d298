"""What a user-space tiering policy sees and the calls it makes.

Model-only (a user-space library). Everything goes through the files and system calls
Linux gives a privileged process (the policy's thread runs as root):

* ``/proc/PID/pagemap``: the PFN behind each page (bits 0-54; bit 63 present);
* ``/proc/kpageflags``: whether a PFN is a THP head or tail (KPF_THP,
  KPF_COMPOUND_HEAD/TAIL);
* ``/sys/kernel/mm/page_idle/bitmap`` (mm/page_idle.c): mark folios idle, read which
  stayed idle; a THP's bit is its head PFN's;
* ``/proc/PID/numa_maps``: pages per node of the working set;
* ``move_pages(pid, pages, NULL)``: the node of each page; ``move_pages`` with nodes,
  ``mbind`` with MPOL_MF_MOVE and ``migrate_pages`` to move them.

:class:`TieringEnv` is what a policy is handed: the workload's process and range, the
policy's own thread (a second thread of the workload's process, on another CPU of the
fast node: mbind acts on the caller's address space), the two tiers and the fast
tier's capacity for this working set.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

from thpsim import HPAGE_PMD_SIZE, MPOL_BIND, MPOL_MF_MOVE, PAGE_SHIFT, PAGE_SIZE

__all__ = ["AccessView", "TieringEnv", "Unit", "PAGE_IDLE_BITMAP"]

PAGE_IDLE_BITMAP = "/sys/kernel/mm/page_idle/bitmap"
_PM_PFN_MASK = (1 << 55) - 1
_PM_PRESENT = 1 << 63
# include/uapi/linux/kernel-page-flags.h
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_THP = 22
_PAGES_PER_THP = HPAGE_PMD_SIZE // PAGE_SIZE


@dataclass(frozen=True)
class Unit:
    """One folio of the working set as user space sees it: its first virtual address,
    its size in pages (512 for a THP, 1 for a base page) and its head PFN."""

    addr: int
    nr_pages: int
    pfn: int


class AccessView:
    """Reads and writes of the access-information files, as ``fs`` (a thread's view)."""

    def __init__(self, fs: Any, pid: int):
        self.fs = fs
        self.pid = pid

    def pagemap(self, addr: int, nr_pages: int) -> list[int]:
        """The PFN of each page from ``addr`` (-1 where not present)."""
        raw = self.fs.read(f"/proc/{self.pid}/pagemap", offset=(addr >> PAGE_SHIFT) * 8,
                           length=nr_pages * 8)
        words = struct.unpack(f"<{len(raw) // 8}Q", raw)
        return [w & _PM_PFN_MASK if w & _PM_PRESENT else -1 for w in words]

    def kpageflags(self, pfn: int) -> int:
        raw = self.fs.read("/proc/kpageflags", offset=pfn * 8, length=8)
        return struct.unpack("<Q", raw)[0] if raw else 0

    def units(self, addr: int, nr_chunks: int) -> list[Unit]:
        """The folios of ``nr_chunks`` 2 MiB chunks from ``addr``: one unit per chunk
        that is a THP (its first page's PFN a THP head, every page behind it), else one
        per present base page."""
        pfns = self.pagemap(addr, nr_chunks * _PAGES_PER_THP)
        out: list[Unit] = []
        for c in range(nr_chunks):
            chunk = pfns[c * _PAGES_PER_THP:(c + 1) * _PAGES_PER_THP]
            base = addr + c * HPAGE_PMD_SIZE
            head = chunk[0]
            if head >= 0 and chunk[-1] == head + _PAGES_PER_THP - 1:
                kpf = self.kpageflags(head)
                if kpf >> KPF_THP & 1 and kpf >> KPF_COMPOUND_HEAD & 1:
                    out.append(Unit(base, _PAGES_PER_THP, head))
                    continue
            out.extend(Unit(base + i * PAGE_SIZE, 1, p) for i, p in enumerate(chunk) if p >= 0)
        return out

    # ---- idle page tracking
    def _words(self, pfns: list[int]) -> dict[int, int]:
        words: dict[int, int] = {}
        for p in pfns:
            words[p // 64] = words.get(p // 64, 0) | 1 << (p % 64)
        return words

    def mark_idle(self, pfns: list[int]) -> None:
        """Write the bitmap: each PFN's folio gets its accessed bits cleared, PG_idle."""
        words = self._words(pfns)
        for w in _runs(sorted(words)):
            self.fs.write(PAGE_IDLE_BITMAP,
                          struct.pack(f"<{len(w)}Q", *(words[i] for i in w)), offset=w[0] * 8)

    def idle(self, pfns: list[int]) -> set[int]:
        """The PFNs whose folio is still idle (not accessed since marked)."""
        words = self._words(pfns)
        out: set[int] = set()
        for w in _runs(sorted(words)):
            raw = self.fs.read(PAGE_IDLE_BITMAP, offset=w[0] * 8, length=len(w) * 8)
            got = struct.unpack(f"<{len(raw) // 8}Q", raw)
            for i, v in zip(w, got, strict=False):
                bits = v & words[i]
                while bits:
                    low = bits & -bits
                    out.add(i * 64 + low.bit_length() - 1)
                    bits ^= low
        return out

    def node_pages(self) -> dict[int, int]:
        """Pages per node of the process's anonymous memory (numa_maps ``N<node>=``)."""
        out: dict[int, int] = {}
        for nid, n in re.findall(r"\bN(\d+)=(\d+)", self.fs.read(f"/proc/{self.pid}/numa_maps")):
            out[int(nid)] = out.get(int(nid), 0) + int(n)
        return out


def _runs(idx: list[int], limit: int = 512) -> list[list[int]]:
    """Consecutive word indices in runs of at most ``limit`` (a sysfs write takes at
    most a page: 512 words)."""
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][-1] == i - 1 and len(runs[-1]) < limit:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


@dataclass
class TieringEnv:
    """What a policy is handed (module docstring)."""

    machine: Any
    process: Any
    thread: Any
    addr: int
    nr_chunks: int
    fast: int
    slow: int
    fast_capacity_pages: int
    view: AccessView = field(init=False)
    calls: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.view = AccessView(self.thread.fs, self.process.pid)

    @property
    def length(self) -> int:
        return self.nr_chunks * HPAGE_PMD_SIZE

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def nodes_of(self, addrs: list[int]) -> list[int]:
        """move_pages(0, addrs, NULL): each page's node (or -errno)."""
        if not addrs:
            return []
        self._count("move_pages_query")
        _, status = self.thread.move_pages(0, addrs, None)
        return list(status)

    def move(self, units: list[Unit], node: int) -> int:
        """move_pages(0, every page of ``units``, node, MPOL_MF_MOVE): every 4 KiB page
        named, as a tool moving a range does (without THP migration each THP is split
        and its pages moved one by one). Returns the pages now on ``node``."""
        addrs = [u.addr + i * PAGE_SIZE for u in units for i in range(u.nr_pages)]
        if not addrs:
            return 0
        self._count("move_pages")
        _, status = self.thread.move_pages(0, addrs, [node] * len(addrs), MPOL_MF_MOVE)
        return sum(1 for s in status if s == node)

    def mbind_move(self, start: int, length: int, node: int) -> None:
        """mbind(start, length, MPOL_BIND, {node}, MPOL_MF_MOVE)."""
        self._count("mbind")
        self.thread.mbind(start, length, MPOL_BIND, {node}, flags=MPOL_MF_MOVE)

    def migrate_all(self, old: int, new: int) -> int:
        """migrate_pages(0, {old}, {new}): every page of the process on ``old``."""
        self._count("migrate_pages")
        return self.thread.migrate_pages(0, 0, {old}, {new})
