"""The address-space structures: ``mm_struct``, ``vm_area_struct``, ``anon_vma``.

Models: include/linux/mm_types.h, include/linux/mm.h (VM_* flags,
vm_get_page_prot), include/linux/rmap.h (anon_vma, anon_vma_chain); v4.14.

Simplified:
    * The VMA tree (4.14: rbtree + list; 6.1+: maple tree) is one list sorted by
      address; lookups bisect it.
    * An anon_vma's interval tree of anon_vma_chains is a list of the VMAs linked
      to it; a VMA's anon_vma_chain list is the list of anon_vmas it is linked to.
    * Page tables are reached through the kernel context's physical memory (the
      direct map); ``mm.pgd`` is the PGD :class:`~thpsim.hw.memory.PageTable`.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import (
    PAGE_COPY,
    PAGE_COPY_EXEC,
    PAGE_NONE,
    PAGE_READONLY,
    PAGE_READONLY_EXEC,
    PAGE_SHARED,
    PAGE_SHARED_EXEC,
    PAGE_SHIFT,
    pte_mkwrite,
)

if TYPE_CHECKING:
    from thpsim.hw.memory import PageTable
    from thpsim.kernel.context import KernelContext
    from thpsim.kernel.locking import rw_semaphore, spinlock_t

# include/linux/mm.h
VM_NONE = 0x0
VM_READ = 0x1
VM_WRITE = 0x2
VM_EXEC = 0x4
VM_SHARED = 0x8
VM_MAYREAD = 0x10
VM_MAYWRITE = 0x20
VM_MAYEXEC = 0x40
VM_MAYSHARE = 0x80
VM_GROWSDOWN = 0x100
VM_PFNMAP = 0x400
VM_LOCKED = 0x2000
VM_IO = 0x4000
VM_SEQ_READ = 0x8000
VM_RAND_READ = 0x10000
VM_DONTCOPY = 0x20000
VM_DONTEXPAND = 0x40000
VM_LOCKONFAULT = 0x80000
VM_ACCOUNT = 0x100000
VM_NORESERVE = 0x200000
VM_HUGETLB = 0x400000
VM_WIPEONFORK = 0x2000000
VM_DONTDUMP = 0x4000000
VM_SOFTDIRTY = 0x8000000
VM_MIXEDMAP = 0x10000000
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_MERGEABLE = 0x80000000
VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC
VM_LOCKED_CLEAR_MASK = ~(VM_LOCKED | VM_LOCKONFAULT)
VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP
#: Flags that do not prevent two VMAs from merging (mm/mmap.c is_mergeable_vma).
VM_SOFTDIRTY_IGNORED = VM_SOFTDIRTY

# VM_FAULT_* (v4.14 values; include/linux/mm.h then, enum vm_fault_reason in
# include/linux/mm_types.h since 5.1)
VM_FAULT_OOM = 0x0001
VM_FAULT_SIGBUS = 0x0002
VM_FAULT_MAJOR = 0x0004
VM_FAULT_WRITE = 0x0008
VM_FAULT_HWPOISON = 0x0010
VM_FAULT_HWPOISON_LARGE = 0x0020
VM_FAULT_SIGSEGV = 0x0040
VM_FAULT_NOPAGE = 0x0100
VM_FAULT_LOCKED = 0x0200
VM_FAULT_RETRY = 0x0400
VM_FAULT_FALLBACK = 0x0800
VM_FAULT_DONE_COW = 0x1000
VM_FAULT_ERROR = (
    VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON
    | VM_FAULT_HWPOISON_LARGE | VM_FAULT_FALLBACK
)

# mm counters (include/linux/mm_types_task.h)
MM_FILEPAGES = 0
MM_ANONPAGES = 1
MM_SWAPENTS = 2
MM_SHMEMPAGES = 3
NR_MM_COUNTERS = 4
MM_COUNTER_NAMES = ("MM_FILEPAGES", "MM_ANONPAGES", "MM_SWAPENTS", "MM_SHMEMPAGES")

#: protection_map (mm/mmap.c) indexed by VM_READ|VM_WRITE|VM_EXEC|VM_SHARED.
protection_map = (
    PAGE_NONE, PAGE_READONLY, PAGE_COPY, PAGE_COPY,
    PAGE_READONLY_EXEC, PAGE_READONLY_EXEC, PAGE_COPY_EXEC, PAGE_COPY_EXEC,
    PAGE_NONE, PAGE_READONLY, PAGE_SHARED, PAGE_SHARED,
    PAGE_READONLY_EXEC, PAGE_READONLY_EXEC, PAGE_SHARED_EXEC, PAGE_SHARED_EXEC,
)


def vm_get_page_prot(vm_flags: int) -> int:
    """Models: mm/mmap.c vm_get_page_prot()."""
    return protection_map[vm_flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)]


class anon_vma:
    """Models: include/linux/rmap.h struct anon_vma (with its AVC tree as a VMA list)."""

    __slots__ = ("id", "root", "parent", "rwsem", "refcount", "degree", "vmas")

    def __init__(self, aid: int, rwsem: rw_semaphore, parent: anon_vma | None = None):
        self.id = aid
        self.parent = parent if parent is not None else self
        self.root = parent.root if parent is not None else self
        self.rwsem = rwsem
        self.refcount = 1
        self.degree = 1
        self.vmas: list[vm_area_struct] = []

    def __repr__(self) -> str:
        return f"<anon_vma {self.id} vmas={len(self.vmas)}>"


class vm_area_struct:
    """Models: struct vm_area_struct (the fields the anonymous-memory model uses)."""

    __slots__ = (
        "vm_start",
        "vm_end",
        "vm_mm",
        "vm_flags",
        "vm_page_prot",
        "vm_pgoff",
        "anon_vma",
        "anon_vma_chain",
        "vm_policy",
        "vm_file",
        "numab_state",
    )

    def __init__(self, mm: mm_struct, start: int, end: int, flags: int, pgoff: int):
        self.vm_start = start
        self.vm_end = end
        self.vm_mm = mm
        self.vm_flags = flags
        self.vm_page_prot = vm_get_page_prot(flags)
        self.vm_pgoff = pgoff
        self.anon_vma: anon_vma | None = None
        self.anon_vma_chain: list[anon_vma] = []
        self.vm_policy: Any = None
        self.vm_file: Any = None
        #: NUMA balancing's per-VMA scan state (6.4+ vma_numab_state,
        #: kernel/sched_fair.py); None until the scanner first sees the VMA, and for a
        #: copy (vm_area_dup()'s vma_numab_state_init())
        self.numab_state: Any = None

    def __repr__(self) -> str:
        return f"<vma {self.vm_start:#x}-{self.vm_end:#x} flags={self.vm_flags:#x}>"

    def vma_is_anonymous(self) -> bool:
        return self.vm_file is None


def maybe_mkwrite(pte: int, vma: vm_area_struct) -> int:
    """Models: include/linux/mm.h maybe_mkwrite(): writable only in a VM_WRITE VMA."""
    return pte_mkwrite(pte) if vma.vm_flags & VM_WRITE else pte


def linear_page_index(vma: vm_area_struct, address: int) -> int:
    """Models: include/linux/pagemap.h linear_page_index()."""
    return ((address - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff


def vma_address(vma: vm_area_struct, index: int) -> int:
    """Models: mm/internal.h vma_address() for one page index (no range check)."""
    return vma.vm_start + ((index - vma.vm_pgoff) << PAGE_SHIFT)


class mm_struct:
    """Models: struct mm_struct."""

    __slots__ = (
        "kernel",
        "mm_id",
        "pgd",
        "mmap",
        "mmap_lock",
        "page_table_lock",
        "rss_stat",
        "nr_ptes",
        "nr_pmds",
        "nr_puds",
        "total_vm",
        "locked_vm",
        "pinned_vm",
        "def_flags",
        "mm_users",
        "hiwater_rss",
        "hiwater_vm",
        "owner",
        "dead",
        "dumpable",
        "numa_next_scan",
        "numa_scan_offset",
        "numa_scan_seq",
        "__weakref__",
    )

    def __init__(self, kernel: KernelContext, mm_id: int, pgd: PageTable,
                 mmap_lock: rw_semaphore, page_table_lock: spinlock_t):
        self.kernel = kernel
        #: Also the PCID/ASID that tags this address space's TLB entries.
        self.mm_id = mm_id
        self.pgd = pgd
        self.mmap: list[vm_area_struct] = []
        self.mmap_lock = mmap_lock
        self.page_table_lock = page_table_lock
        self.rss_stat = [0] * NR_MM_COUNTERS
        self.nr_ptes = 0
        self.nr_pmds = 0
        self.nr_puds = 0
        self.total_vm = 0
        self.locked_vm = 0
        self.pinned_vm = 0
        self.def_flags = 0
        self.mm_users = 1
        self.hiwater_rss = 0
        self.hiwater_vm = 0
        self.owner: Any = None
        self.dead = False
        #: the MMF_DUMPABLE bits of mm->flags (get_dumpable()): SUID_DUMP_USER (1) until
        #: a credential change (commit_creds(): set_dumpable(mm, suid_dumpable), 0);
        #: read by task_dump_owner() and __ptrace_may_access()
        self.dumpable = 1
        #: NUMA balancing (kernel/sched_fair.py task_numa_work()): the jiffy of the next
        #: scan (0: not set yet), where the scan resumes, and completed scan passes
        self.numa_next_scan = 0
        self.numa_scan_offset = 0
        self.numa_scan_seq = 0

    def __repr__(self) -> str:
        return f"<mm {self.mm_id}>"

    # ---- counters (include/linux/mm.h)
    def add_mm_counter(self, member: int, value: int) -> None:
        self.rss_stat[member] += value

    def get_mm_rss(self) -> int:
        s = self.rss_stat
        return s[MM_FILEPAGES] + s[MM_ANONPAGES] + s[MM_SHMEMPAGES]

    def pgtables_bytes(self) -> int:
        """6.x mm_pgtables_bytes(): what VmPTE shows (PTE, PMD and PUD tables)."""
        return (self.nr_ptes + self.nr_pmds + self.nr_puds) << PAGE_SHIFT

    # ---- VMA lookup (mm/mmap.c)
    def find_vma(self, addr: int) -> vm_area_struct | None:
        """The first VMA with ``vm_end > addr`` (it may start above addr)."""
        i = bisect.bisect_right(self.mmap, addr, key=_vm_end)
        return self.mmap[i] if i < len(self.mmap) else None

    def find_vma_prev(self, addr: int) -> tuple[vm_area_struct | None, vm_area_struct | None]:
        i = bisect.bisect_right(self.mmap, addr, key=_vm_end)
        vma = self.mmap[i] if i < len(self.mmap) else None
        prev = self.mmap[i - 1] if i > 0 else None
        return vma, prev

    def vma_index(self, vma: vm_area_struct) -> int:
        i = bisect.bisect_left(self.mmap, vma.vm_start, key=_vm_start)
        if i >= len(self.mmap) or self.mmap[i] is not vma:
            raise ValueError(f"{vma!r} is not in {self!r}")
        return i

    def insert_vma(self, vma: vm_area_struct) -> None:
        """Models: vma_link() / insert_vm_struct() (no merging)."""
        bisect.insort(self.mmap, vma, key=_vm_start)

    def remove_vma(self, vma: vm_area_struct) -> None:
        del self.mmap[self.vma_index(vma)]


def _vm_end(v: vm_area_struct) -> int:
    return v.vm_end


def _vm_start(v: vm_area_struct) -> int:
    return v.vm_start
