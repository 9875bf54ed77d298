"""/proc/meminfo.

Models: fs/proc/meminfo.c meminfo_proc_show() (v4.14 and mainline line sets),
mm/hugetlb.c hugetlb_report_meminfo(), arch/x86/mm/pageattr.c
arch_report_meminfo(), mm/util.c vm_commit_limit().

Values come from the buddy allocator (MemTotal = managed pages, MemFree = free
pages), the node/zone counters (AnonPages, Active(anon), Unevictable, Mlocked,
PageTables, AnonHugePages = NR_ANON_THPS) and the page flags
(HardwareCorrupted = PG_hwpoison frames, num_poisoned_pages).

Simplified: no page cache, slab, swap, vmalloc, kernel stacks, CMA or hugetlb
pool (their lines print 0); no watermarks, so MemAvailable equals MemFree; the
direct map is all 2 MiB pages; Committed_AS sums the VM_ACCOUNT VMAs of every
live address space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT
from thpsim.fs.proc.internal import show_val_kb
from thpsim.mm.mm_types import VM_ACCOUNT
from thpsim.mm.page_alloc import node_free_pages, totalram_pages
from thpsim.mm.page_flags import F_hwpoison
from thpsim.mm.vmstat import (
    NR_ACTIVE_ANON,
    NR_ANON_MAPPED,
    NR_ANON_THPS,
    NR_INACTIVE_ANON,
    NR_MLOCK,
    NR_PAGETABLE,
    NR_UNEVICTABLE,
)

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["meminfo_proc_show", "num_poisoned_pages", "vm_committed_as", "register"]

#: x86-64 4-level paging: VMALLOC_TOTAL = 32 TiB - 1 byte, in kB
VMALLOC_TOTAL_KB = ((32 << 40) - 1) >> 10
#: sysctl_overcommit_ratio default
OVERCOMMIT_RATIO = 50


def num_poisoned_pages(ctx: Any) -> int:
    """Models: num_poisoned_pages: frames with PG_hwpoison."""
    return int(np.count_nonzero(ctx.pages.flags_np & F_hwpoison))


def vm_committed_as(ctx: Any) -> int:
    """Models: vm_committed_as: pages of accountable (VM_ACCOUNT) mappings of every mm."""
    seen: dict[int, Any] = {}
    for t in ctx.tasks.values():
        mm = t.mm
        if mm is not None and not mm.dead:
            seen[mm.mm_id] = mm
    return sum(
        (v.vm_end - v.vm_start) >> PAGE_SHIFT
        for mm in seen.values()
        for v in mm.mmap
        if v.vm_flags & VM_ACCOUNT
    )


def meminfo_proc_show(f: File) -> str:
    """Models: meminfo_proc_show()."""
    ctx = f.ctx
    profile = ctx.profile
    vm = ctx.vmstat
    kb = 1 << (PAGE_SHIFT - 10)

    def val(label: str, pages: int) -> str:
        return show_val_kb(label, pages * kb)

    totalram = totalram_pages(ctx)
    freeram = sum(node_free_pages(ctx, nid) for nid in ctx.node_data)
    active_anon = vm.global_node_page_state(NR_ACTIVE_ANON)
    inactive_anon = vm.global_node_page_state(NR_INACTIVE_ANON)
    physical = sum(n.nr_pages for n in ctx.mem.nodes.values())
    out = [
        val("MemTotal:", totalram),
        val("MemFree:", freeram),
        val("MemAvailable:", freeram),
        val("Buffers:", 0),
        val("Cached:", 0),
        val("SwapCached:", 0),
        val("Active:", active_anon),
        val("Inactive:", inactive_anon),
        val("Active(anon):", active_anon),
        val("Inactive(anon):", inactive_anon),
        val("Active(file):", 0),
        val("Inactive(file):", 0),
        val("Unevictable:", vm.global_node_page_state(NR_UNEVICTABLE)),
        val("Mlocked:", vm.global_zone_page_state(NR_MLOCK)),
        val("SwapTotal:", 0),
        val("SwapFree:", 0),
    ]
    if profile.meminfo_zswap:
        out += [val("Zswap:", 0), val("Zswapped:", 0)]
    out += [
        val("Dirty:", 0),
        val("Writeback:", 0),
        val("AnonPages:", vm.global_node_page_state(NR_ANON_MAPPED)),
        val("Mapped:", 0),
        val("Shmem:", 0),
    ]
    if profile.meminfo_kreclaimable:
        out.append(val("KReclaimable:", 0))
    out += [
        val("Slab:", 0),
        val("SReclaimable:", 0),
        val("SUnreclaim:", 0),
        show_val_kb("KernelStack:", 0),
        val("PageTables:", vm.global_zone_page_state(NR_PAGETABLE)),
    ]
    if profile.meminfo_sec_pagetables:
        out.append(val("SecPageTables:", 0))
    out += [
        val("NFS_Unstable:", 0),
        val("Bounce:", 0),
        val("WritebackTmp:", 0),
        val("CommitLimit:", totalram * OVERCOMMIT_RATIO // 100),
        val("Committed_AS:", vm_committed_as(ctx)),
        show_val_kb("VmallocTotal:", VMALLOC_TOTAL_KB),
        val("VmallocUsed:", 0),
        val("VmallocChunk:", 0),
    ]
    if profile.meminfo_percpu:
        out.append(val("Percpu:", 0))
    out.append(f"HardwareCorrupted: {num_poisoned_pages(ctx) * kb:>5} kB\n")
    out += [
        # NR_ANON_THPS counts base pages in the model (4.14: THPs * HPAGE_PMD_NR)
        val("AnonHugePages:", vm.global_node_page_state(NR_ANON_THPS)),
        val("ShmemHugePages:", 0),
        val("ShmemPmdMapped:", 0),
    ]
    if profile.file_thp_stats:
        out += [val("FileHugePages:", 0), val("FilePmdMapped:", 0)]
    if profile.meminfo_balloon:
        out.append(val("Balloon:", 0))
    out += [
        f"HugePages_Total:   {0:>5}\n",
        f"HugePages_Free:    {0:>5}\n",
        f"HugePages_Rsvd:    {0:>5}\n",
        f"HugePages_Surp:    {0:>5}\n",
        show_val_kb("Hugepagesize:", HPAGE_PMD_SIZE >> 10),
    ]
    if profile.meminfo_hugetlb:
        out.append(show_val_kb("Hugetlb:", 0))
    out += [val("DirectMap4k:", 0), show_val_kb("DirectMap2M:", physical * kb)]
    return "".join(out)


def register(vfs: VFS) -> None:
    vfs.register_file("/proc/meminfo", meminfo_proc_show, mode=0o444)
