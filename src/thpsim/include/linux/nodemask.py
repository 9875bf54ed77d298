"""The node states every layer above the allocator reads.

Models: include/linux/nodemask.h node_states[] as node_state()/for_each_node_state()
read it (the array is defined in mm/page_alloc.c and kept by memory hotplug's
node_set_state()). Here the N_MEMORY mask is computed when read, from the nodes'
present pages, so it is never stale. Kept apart from mm/mempolicy.py so that
migrate.c (move_pages' node check), the cpuset controller and /proc, /sys read it
without importing mempolicy.c.
"""

from __future__ import annotations

__all__ = ["node_states_memory"]


def node_states_memory(ctx) -> int:
    """node_states[N_MEMORY]: every node with memory online (present pages)."""
    mask = 0
    for nid, node in ctx.mem.nodes.items():
        present = ctx.node_data[nid].node_present_pages if ctx.node_data else 1
        if node.nr_pages and present:
            mask |= 1 << nid
    return mask
