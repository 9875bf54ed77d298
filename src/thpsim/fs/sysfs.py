"""The sysfs files of NUMA nodes and of transparent huge pages.

Models: drivers/base/node.c (``/sys/devices/system/node``: the node-state lists
possible/online/has_normal_memory/has_memory/has_cpu, and per node cpumap,
cpulist, distance, meminfo, numastat, vmstat), mm/huge_memory.c
(``/sys/kernel/mm/transparent_hugepage``: enabled, defrag, use_zero_page,
hpage_pmd_size); v4.14 and mainline.

The THP knobs write the machine's ThpSettings (``ctx.thp``). 4.14 matches a
written mode by prefix (``memcmp(mode, buf, min(strlen(mode), count))``, so
``"alw"`` selects always and ``"d"`` defer+madvise); mainline needs the exact
word (``sysfs_streq``, one trailing newline allowed). Anything else: EINVAL.

Simplified: nodes are always online and possible; no memoryN links, no
hugepages/ or khugepaged/ directories.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT
from thpsim.drivers.base import memory
from thpsim.fs.proc.internal import node_states_memory
from thpsim.fs.proc.vmstat import vmstat_items
from thpsim.kernel.cgroup import cgroup, cpuset
from thpsim.kernel.context import THP_DEFRAG_MODES, THP_ENABLED_MODES
from thpsim.lib.bitmap import bitmap_list_string, bitmap_string
from thpsim.lib.kstrtox import kstrtoul
from thpsim.lib.string import sysfs_streq
from thpsim.mm import hwpoison_inject, memory_failure
from thpsim.mm.page_alloc import ZONE_NORMAL, node_free_pages
from thpsim.mm.vmstat import (
    NR_ACTIVE_ANON,
    NR_ANON_MAPPED,
    NR_ANON_THPS,
    NR_INACTIVE_ANON,
    NR_MLOCK,
    NR_PAGETABLE,
    NR_UNEVICTABLE,
    NUMA_FOREIGN,
    NUMA_HIT,
    NUMA_INTERLEAVE_HIT,
    NUMA_LOCAL,
    NUMA_MISS,
    NUMA_OTHER,
)

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["register", "node_read_meminfo", "enabled_store", "defrag_store"]

NODE_DIR = "/sys/devices/system/node"
THP_DIR = "/sys/kernel/mm/transparent_hugepage"


def _einval(f: File) -> OSError:
    return OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)


# ====================================================================== nodes
def _node_cpus(ctx: Any, nid: int) -> list[int]:
    return [c for c in ctx.mem.nodes[nid].cpus if ctx.cpus[c].online]


def _node_states(ctx: Any) -> dict[str, list[int]]:
    """Models: node_states[] (N_POSSIBLE, N_ONLINE, N_NORMAL_MEMORY, N_MEMORY, N_CPU)."""
    nids = list(ctx.mem.nodes)
    return {
        "possible": nids,
        "online": nids,
        "has_normal_memory": [
            nid for nid, pgdat in ctx.node_data.items()
            if pgdat.node_zones[ZONE_NORMAL].present_pages
        ],
        "has_memory": node_states_memory(ctx),
        "has_cpu": [nid for nid in nids if _node_cpus(ctx, nid)],
    }


def _print_nodes_state(state: str):
    """Models: print_nodes_state(): ``%*pbl`` and a newline."""

    def show(f: File) -> str:
        return bitmap_list_string(_node_states(f.ctx)[state]) + "\n"

    return show


def node_lookup(f: File, name: str) -> int | None:
    """``nodeN`` for every node of the machine."""
    if not name.startswith("node") or not name[4:].isdigit() or name[4:] != str(int(name[4:])):
        return None
    nid = int(name[4:])
    return nid if nid in f.ctx.mem.nodes else None


def node_names(f: File) -> list[str]:
    return [f"node{nid}" for nid in f.ctx.mem.nodes]


def node_read_cpumap(f: File) -> str:
    ctx = f.ctx
    return bitmap_string(_node_cpus(ctx, f.params["nid"]), len(ctx.cpus)) + "\n"


def node_read_cpulist(f: File) -> str:
    return bitmap_list_string(_node_cpus(f.ctx, f.params["nid"])) + "\n"


def node_read_distance(f: File) -> str:
    """Models: node_read_distance(): the distance to every online node, space-separated."""
    ctx = f.ctx
    nid = f.params["nid"]
    return " ".join(str(ctx.mem.distance[(nid, m)]) for m in ctx.mem.nodes) + "\n"


def node_read_meminfo(f: File) -> str:
    """Models: node_read_meminfo() (4.14 and mainline field lists; hugetlb lines last).

    ``Node N <label>`` with the label and colon padded to 16 columns, the value in
    8 (``"Node %d AnonHugePages:  %8lu kB"``).
    """
    ctx = f.ctx
    profile = ctx.profile
    nid = f.params["nid"]
    vm = ctx.vmstat
    node = vm.node[nid]
    zone = vm.zone_extra[nid]
    kb = 1 << (PAGE_SHIFT - 10)
    total = sum(z.managed_pages for z in ctx.node_data[nid].node_zones)
    free = node_free_pages(ctx, nid)
    fields: list[tuple[str, int]] = [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemUsed", total - free),
    ]
    if profile.node_meminfo_swapcached:
        fields.append(("SwapCached", 0))
    fields += [
        ("Active", node[NR_ACTIVE_ANON]),
        ("Inactive", node[NR_INACTIVE_ANON]),
        ("Active(anon)", node[NR_ACTIVE_ANON]),
        ("Inactive(anon)", node[NR_INACTIVE_ANON]),
        ("Active(file)", 0),
        ("Inactive(file)", 0),
        ("Unevictable", node[NR_UNEVICTABLE]),
        ("Mlocked", zone[NR_MLOCK]),
        ("Dirty", 0),
        ("Writeback", 0),
        ("FilePages", 0),
        ("Mapped", 0),
        ("AnonPages", node[NR_ANON_MAPPED]),
        ("Shmem", 0),
        ("KernelStack", 0),
        ("PageTables", zone[NR_PAGETABLE]),
    ]
    if profile.meminfo_sec_pagetables:
        fields.append(("SecPageTables", 0))
    fields += [("NFS_Unstable", 0), ("Bounce", 0), ("WritebackTmp", 0)]
    if profile.meminfo_kreclaimable:
        fields.append(("KReclaimable", 0))
    fields += [
        ("Slab", 0),
        ("SReclaimable", 0),
        ("SUnreclaim", 0),
        # NR_ANON_THPS counts base pages in the model (4.14: THPs * HPAGE_PMD_NR)
        ("AnonHugePages", node[NR_ANON_THPS]),
        ("ShmemHugePages", 0),
        ("ShmemPmdMapped", 0),
    ]
    if profile.file_thp_stats:
        fields += [("FileHugePages", 0), ("FilePmdMapped", 0)]
    out = [f"Node {nid} {label + ':':<15} {pages * kb:>8} kB\n" for label, pages in fields]
    out += [
        f"Node {nid} HugePages_Total: {0:>5}\n",
        f"Node {nid} HugePages_Free:  {0:>5}\n",
        f"Node {nid} HugePages_Surp:  {0:>5}\n",
    ]
    return "".join(out)


def node_read_numastat(f: File) -> str:
    """Models: node_read_numastat(): page-allocation counts of the node's zones."""
    zone = f.ctx.vmstat.zone_extra[f.params["nid"]]
    return "".join(
        f"{name} {zone[item]}\n"
        for name, item in (
            ("numa_hit", NUMA_HIT),
            ("numa_miss", NUMA_MISS),
            ("numa_foreign", NUMA_FOREIGN),
            ("interleave_hit", NUMA_INTERLEAVE_HIT),
            ("local_node", NUMA_LOCAL),
            ("other_node", NUMA_OTHER),
        )
    )


def node_read_vmstat(f: File) -> str:
    """Models: node_read_vmstat(): the node's zone and node items, ``name value``."""
    return "".join(f"{name} {v}\n" for name, v in vmstat_items(f.ctx, f.params["nid"]))


# ====================================================================== THP knobs
def _mode_line(modes: tuple[str, ...], current: str) -> str:
    return " ".join(f"[{m}]" if m == current else m for m in modes) + "\n"


def _match_4_14(buf: bytes, word: str) -> bool:
    """4.14: ``!memcmp(word, buf, min(sizeof(word) - 1, count))``."""
    n = min(len(word), len(buf))
    return buf[:n] == word.encode()[:n]


def _pick(f: File, buf: bytes, modes: tuple[str, ...]) -> str:
    match = sysfs_streq if f.ctx.profile.thp_sysfs_streq else _match_4_14
    for m in modes:
        if match(buf, m):
            return m
    raise _einval(f)


def enabled_show(f: File) -> str:
    return _mode_line(THP_ENABLED_MODES, f.ctx.thp.enabled)


def enabled_store(f: File, buf: bytes) -> int:
    """Models: enabled_store(): always / madvise / never, else EINVAL."""
    if not buf:
        return 0  # sysfs_kf_write(): nothing to store
    f.ctx.thp.enabled = _pick(f, buf, THP_ENABLED_MODES)
    return len(buf)


#: defrag_store() tests "defer+madvise" before "defer" (a prefix of it).
_DEFRAG_STORE_ORDER = ("always", "defer+madvise", "defer", "madvise", "never")


def defrag_show(f: File) -> str:
    return _mode_line(THP_DEFRAG_MODES, f.ctx.thp.defrag)


def defrag_store(f: File, buf: bytes) -> int:
    """Models: defrag_store(): always / defer / defer+madvise / madvise / never."""
    if not buf:
        return 0
    f.ctx.thp.defrag = _pick(f, buf, _DEFRAG_STORE_ORDER)
    return len(buf)


def use_zero_page_show(f: File) -> str:
    """Models: single_hugepage_flag_show(): ``%d``."""
    return f"{int(bool(f.ctx.thp.use_zero_page))}\n"


def use_zero_page_store(f: File, buf: bytes) -> int:
    """Models: single_hugepage_flag_store(): kstrtoul(buf, 10) (EINVAL, ERANGE), then a
    value above 1 is EINVAL."""
    if not buf:
        return 0
    err, value = kstrtoul(buf.decode("latin-1"), 10)
    if err:
        raise OSError(-err, os.strerror(-err), f.path)
    if value > 1:
        raise _einval(f)
    f.ctx.thp.use_zero_page = bool(value)
    return len(buf)


def hpage_pmd_size_show(f: File) -> str:
    return f"{HPAGE_PMD_SIZE}\n"


# ====================================================================== registration
def register(vfs: VFS) -> None:
    vfs.register_dir("/sys", mode=0o555)
    vfs.register_dir(NODE_DIR, mode=0o755)
    for state in ("possible", "online", "has_normal_memory", "has_memory", "has_cpu"):
        vfs.register_file(f"{NODE_DIR}/{state}", _print_nodes_state(state), mode=0o444)
    vfs.register_dir(f"{NODE_DIR}/node{{nid}}", mode=0o755, lookup=node_lookup,
                     names=node_names)
    for name, show in (
        ("cpumap", node_read_cpumap),
        ("cpulist", node_read_cpulist),
        ("distance", node_read_distance),
        ("meminfo", node_read_meminfo),
        ("numastat", node_read_numastat),
        ("vmstat", node_read_vmstat),
    ):
        vfs.register_file(f"{NODE_DIR}/node{{nid}}/{name}", show, mode=0o444)
    vfs.register_dir(THP_DIR, mode=0o755)
    vfs.register_file(f"{THP_DIR}/enabled", enabled_show, enabled_store, mode=0o644)
    vfs.register_file(f"{THP_DIR}/defrag", defrag_show, defrag_store, mode=0o644)
    vfs.register_file(f"{THP_DIR}/use_zero_page", use_zero_page_show, use_zero_page_store,
                      mode=0o644)
    vfs.register_file(f"{THP_DIR}/hpage_pmd_size", hpage_pmd_size_show, mode=0o444)
    # ---- memory blocks: /sys/devices/system/memory; hwpoison-inject's debugfs files;
    # the nodes' memory_failure/ groups
    memory.register(vfs)
    hwpoison_inject.register(vfs)
    memory_failure.register(vfs)
    # ---- cgroup cpusets: /sys/fs/cgroup (v2) or /sys/fs/cgroup/cpuset (v1)
    cgroup.register(vfs, cpuset.cpuset_cgrp_subsys)
