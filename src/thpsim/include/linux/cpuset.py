"""The page allocator's, mempolicy's and migration's side of cpusets.

Models: include/linux/cpuset.h (cpusets_enabled(), cpuset_zone_allowed(),
cpuset_current_mems_allowed) and the kernel/cgroup/cpuset.c functions they,
mempolicy and move_pages call (__cpuset_node_allowed(),
cpuset_nodemask_valid_mems_allowed(), cpuset_mems_allowed()). They read only a task's
``mems_allowed``, which the cpuset controller (kernel/cgroup/cpuset.py) keeps; they
live apart from it because the allocator, mempolicy and migration sit below the
controller (which migrates pages, rebinds policies and forks), as the header sits
below cpuset.c.
"""

from __future__ import annotations

from thpsim.mm.gfp import __GFP_HARDWALL

__all__ = ["cpusets_enabled", "cpuset_zone_allowed", "cpuset_nodemask_valid_mems_allowed",
           "cpuset_mems_allowed", "cpuset_current_mems_allowed"]


def cpusets_enabled(ctx) -> bool:
    """Does the page allocator have to apply the current task's cpuset?

    Models: include/linux/cpuset.h cpusets_enabled() (the cpusets_enabled_key static
    key, on while any cpuset but the top one exists) as prepare_alloc_pages() and
    get_page_from_freelist() read it with ``current`` (v4.14 and current).
    Context: any. Preempts: never.
    Simplified: true while the current task was ever put in a cpuset
    (``task.mems_allowed`` set; a task never confined may use every node, which is
    what the top cpuset allows, so the allocations agree), and only for the
    allocation of a user fault (``ctx.cpuset_alloc``, set by alloc_pages_vma()).
    The kernel applies the cpuset to every allocation in task context; here page
    tables, the huge zero page and migration targets (move_pages, mbind, memory
    hot-remove, soft offline, cpuset migration) are allocated as from a kernel
    thread. No current task (boot) stands for interrupt context.
    """
    cur = ctx.current
    return ctx.cpuset_alloc and cur is not None and cur.mems_allowed is not None


def __cpuset_node_allowed(ctx, node: int, gfp_mask: int) -> bool:
    """May the current task allocate on ``node``?

    Models: kernel/cgroup/cpuset.c __cpuset_node_allowed() (v4.14 and current): a
    node of current->mems_allowed, yes; otherwise a __GFP_HARDWALL (user)
    allocation, no; otherwise (a kernel allocation) a node of the nearest
    mem_exclusive or mem_hardwall ancestor's mems. Context: any. Preempts: never.
    Simplified: no mem_exclusive or mem_hardwall cpusets, so that ancestor is the
    top cpuset (every node); no OOM victims, no PF_EXITING exemption, no interrupt
    context (see :func:`cpusets_enabled`).
    """
    if ctx.current.mems_allowed >> node & 1:
        return True
    if gfp_mask & __GFP_HARDWALL:
        return False
    return True  # the top cpuset: every node


def cpuset_zone_allowed(ctx, z, gfp_mask: int) -> bool:
    """Models: include/linux/cpuset.h cpuset_zone_allowed() (cpusets_enabled() and
    __cpuset_zone_allowed(): __cpuset_node_allowed() of the zone's node).
    Context: any. Preempts: never."""
    return not cpusets_enabled(ctx) or __cpuset_node_allowed(ctx, z.node, gfp_mask)


def cpuset_nodemask_valid_mems_allowed(ctx, nodemask: int) -> bool:
    """Models: kernel/cgroup/cpuset.c cpuset_nodemask_valid_mems_allowed(): does
    ``nodemask`` intersect the current task's mems_allowed (every node when it is in
    no cpuset)? Context: any. Preempts: never."""
    return not cpusets_enabled(ctx) or nodemask & ctx.current.mems_allowed != 0


def cpuset_mems_allowed(ctx, task) -> int:
    """Models: kernel/cgroup/cpuset.c cpuset_mems_allowed(): the task's cpuset nodes
    (``task.mems_allowed``, None when it was never confined: every node of the
    machine) as a bitmask. Context: any. Preempts: never.
    Simplified: no callback_lock, no guarantee_online_mems() walk up the hierarchy."""
    mask = 0
    for nid in ctx.mem.nodes:
        mask |= 1 << nid
    allowed = task.mems_allowed
    return mask if allowed is None else mask & allowed


def cpuset_current_mems_allowed(ctx, task) -> int:
    """Models: include/linux/cpuset.h cpuset_current_mems_allowed (current->mems_allowed)
    for ``task``, the task the policy call acts for. Context: any. Preempts: never.
    Simplified: read as :func:`cpuset_mems_allowed` reads it (clipped to the machine's
    nodes)."""
    return cpuset_mems_allowed(ctx, task)
