"""The NUMA node devices: /sys/devices/system/node.

Models: drivers/base/node.c, v4.14 and mainline: the node-state lists
(print_nodes_state(): possible, online, has_normal_memory, has_memory, has_cpu)
and per node (register_one_node(), node_dev_groups) cpumap, cpulist, distance,
meminfo, numastat, vmstat, and mainline's memory_failure/ group
(mm/memory_failure.py's memory_failure_attr_group, which node_dev_groups lists).

Simplified: nodes are always online and possible; no memoryN links, no
hugepages/ directory, no access/ or compact/ files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT
from thpsim.include.linux.nodemask import node_states_memory
from thpsim.lib.bitmap import bitmap_list_string, bitmap_string
from thpsim.mm import memory_failure
from thpsim.mm.mempolicy import nodes_list
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
    vmstat_items,
)

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["NODE_DIR", "register", "node_read_meminfo", "node_read_numastat",
           "node_read_vmstat", "node_read_distance", "node_read_cpumap", "node_read_cpulist"]

NODE_DIR = "/sys/devices/system/node"


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
        "has_memory": nodes_list(node_states_memory(ctx)),
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


def register(vfs: VFS) -> None:
    """Register /sys/devices/system/node: the node-state lists (node_dev_init()'s
    node_state_attrs), then one ``nodeN`` directory per node (register_one_node())
    with node_dev_groups' files, memory_failure/ included where the era has it."""
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
    memory_failure.register(vfs)
