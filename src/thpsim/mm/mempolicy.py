"""NUMA memory policy: where pages are allocated, and mbind/set_mempolicy/
get_mempolicy/migrate_pages(2).

Models: mm/mempolicy.c, v4.14 (``seed``) and current mainline (``mainline``, the
7.2 kernel of the oracle; the 6.7+ folio forms of the queue walk and
alloc_pages_mpol()). The eras differ behind these profile switches:

* ``mpol_local_mode`` (5.14): MPOL_LOCAL is a mode of its own and MPOL_PREFERRED
  with an empty mask becomes it; 4.14 stores both as MPOL_PREFERRED with the
  internal MPOL_F_LOCAL flag, and get_mempolicy() reports MPOL_PREFERRED (1).
* ``mpol_numa_balancing`` (5.12), ``mpol_preferred_many`` (5.15),
  ``mpol_weighted_interleave`` (6.9): the newer mode flag and modes; without them
  the value is past MPOL_MAX (or, for the flag, not a mode flag) and EINVAL.
* ``get_nodes_checks_whole_top_word`` (5.11 rewrite): bits above MAX_NUMNODES are
  checked a whole word at a time, so a set bit past ``maxnode - 1`` in the top word
  is EINVAL too; 4.14 masks the top word to ``maxnode - 1`` bits first.
* ``get_mempolicy_maxnode_nr_node_ids`` (5.0): get_mempolicy()'s mask must hold
  nr_node_ids bits; 4.14 asks for MAX_NUMNODES (maxnode >= 1024, libnuma's 1025).
* ``mbind_strict_eio`` (5.2, 5.3): MPOL_MF_STRICT walks the range even without
  MOVE and a misplaced page is EIO (policy not applied); a PMD migration entry or a
  page that cannot be isolated is a failure (EIO under STRICT). 4.14 skips those.
* ``queue_pages_hole_checks`` (5.5): holes at the head, middle and tail of the
  range are EFAULT except for MPOL_DEFAULT; 4.14 misses a tail hole and reports a
  head hole even for MPOL_DEFAULT.
* ``queue_pages_skip_huge_zero`` (5.14): a huge zero PMD is skipped; 4.14 splits it.
* ``queue_pages_nr_failed`` (6.7): migrate_pages(2) also counts the folios the walk
  could not isolate (a PTE-mapped THP by its PTEs in the batch, as 6.10+ does); a
  PTE-mapped large folio is tried once per walk (``qp->large``); the shared test is
  folio_maybe_mapped_shared(). With ``mbind_strict_eio`` alone (5.3..6.6) the other
  PTEs of a PTE-mapped THP count as failures: MOVE|STRICT gives EIO.
* The task's interleave cursor is ``task_struct.il_prev``; faults in a VMA never
  use it (they interleave by page index), only allocations without a VMA and
  get_mempolicy(MPOL_F_NODE).
* ``mbind_alloc_by_mpol`` (6.7): mbind's targets are allocated by the new policy
  itself (alloc_migration_target_by_mpol, interleave index anchored at the first
  queued folio), after mmap_lock is dropped; 4.14's new_page() looks the page up in
  the VMAs from ``start`` on (none found: the task policy) and migrates under
  mmap_sem.
* ``migrate_pages_ptrace_check`` and ``migrate_pages_new_nodes_intersect`` (4.15):
  ptrace_may_access() replaces the uid/CAP_SYS_NICE rule, and new_nodes is cut to the
  caller's cpuset (EINVAL only when nothing is left) instead of EINVAL for any node
  without memory.

Node masks are Python ints (bit n = node n); a user pointer that is NULL is None.
Policies are immutable once attached: VMAs split by mbind, fork and mremap share
the object, so no reference counts are kept (mpol_dup()/mpol_put() are no-ops).

Cpusets (kernel/cgroup/cpuset.py) rebind the policies and clip the nodes here.

Simplified: no shared (shmem) policies, no set_mempolicy_home_node(2), weighted
interleave with every weight 1 (the sysfs default). NUMA balancing's
change_prot_numa() and mpol_misplaced() are here, as in the kernel (the scanner and the
migration filter: kernel/sched_fair.py).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_ORDER,
    PAGE_MASK,
    PAGE_NONE,
    PAGE_SHIFT,
    PAGE_SIZE,
    TASK_SIZE,
    pmd_none,
    pmd_pfn,
    pte_none,
    pte_present,
    table_entry_pfn,
)
from thpsim.hw.memory import MAX_NUMNODES
from thpsim.include.linux.cpuset import (
    cpuset_current_mems_allowed,
    cpuset_mems_allowed,
    cpuset_nodemask_valid_mems_allowed,
)
from thpsim.include.linux.mempolicy import vma_migratable
from thpsim.include.linux.nodemask import node_states_memory
from thpsim.include.uapi.linux.mempolicy import (
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_F_ADDR,
    MPOL_F_LOCAL,
    MPOL_F_MEMS_ALLOWED,
    MPOL_F_MOF,
    MPOL_F_MORON,
    MPOL_F_NODE,
    MPOL_F_NUMA_BALANCING,
    MPOL_F_RELATIVE_NODES,
    MPOL_F_STATIC_NODES,
    MPOL_INTERLEAVE,
    MPOL_LOCAL,
    MPOL_MF_INTERNAL,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    MPOL_MF_STRICT,
    MPOL_MF_VALID,
    MPOL_PREFERRED,
    MPOL_PREFERRED_MANY,
    MPOL_WEIGHTED_INTERLEAVE,
)
from thpsim.kernel.entry import ULONG_MAX, c_int, ulong
from thpsim.kernel.locking import down_read, down_write, spin_lock, spin_unlock, up_read, up_write
from thpsim.kernel.ptrace import PTRACE_MODE_READ_REALCREDS, ptrace_may_access
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.sched_fair import should_numa_migrate_memory
from thpsim.kernel.task import CAP_SYS_NICE
from thpsim.lib.bitmap import bitmap_list_string
from thpsim.mm.gfp import (
    __GFP_COMP,
    __GFP_DIRECT_RECLAIM,
    __GFP_NOFAIL,
    __GFP_NORETRY,
    __GFP_NOWARN,
    __GFP_RETRY_MAYFAIL,
    __GFP_THISNODE,
    GFP_HIGHUSER_MOVABLE,
    GFP_TRANSHUGE,
    gfpflags_allow_blocking,
)
from thpsim.mm.internal import folio_pte_batch
from thpsim.mm.mm_types import vma_address
from thpsim.mm.page_alloc import __alloc_pages
from thpsim.mm.page_flags import F_head, F_reserved, F_tail
from thpsim.mm.pagewalk import mm_walk, mm_walk_ops, walk_page_range
from thpsim.mm.pgtable_generic import pmd_trans_unstable, pmdp_get
from thpsim.mm.rmap import page_anon_vma
from thpsim.mm.swap import isolate_lru_page_for_migration
from thpsim.mm.vmstat import NUMA_INTERLEAVE_HIT, NUMA_PTE_UPDATES

if TYPE_CHECKING:
    from thpsim.mm.mm_types import mm_struct, vm_area_struct

# mm/mempolicy.c internal walk flags
MPOL_MF_DISCONTIG_OK = MPOL_MF_INTERNAL << 0  # holes in the range are fine
MPOL_MF_INVERT = MPOL_MF_INTERNAL << 1  # queue pages *not* on the mask's nodes
MPOL_MF_MOVES = MPOL_MF_MOVE | MPOL_MF_MOVE_ALL  # Model-only shorthand
#: mode flags of 4.14; 5.12 added MPOL_F_NUMA_BALANCING (see :func:`mpol_mode_flags`)
MPOL_MODE_FLAGS_4_14 = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES

NUMA_NO_NODE = -1
#: pgoff_t -1: "no interleave index" (an allocation with no VMA: the task's cursor)
NO_INTERLEAVE_INDEX = (1 << 64) - 1
BITS_PER_LONG = 64
BITS_PER_BYTE = 8

#: numa_maps names (mm/mempolicy.c policy_modes[])
policy_modes = (
    "default", "prefer", "bind", "interleave", "local", "prefer (many)",
    "weighted interleave",
)

#: A target allocator for migrate_pages(): source head PFN -> new page PFN or -1.
NewPage = Callable[[int], int]


# ---------------------------------------------------------------- nodemask.h on ints
def _max_numnodes() -> int:
    return MAX_NUMNODES


def node_isset(node: int, mask: int) -> bool:
    return node >= 0 and mask >> node & 1 == 1


def nodes_weight(mask: int) -> int:
    return mask.bit_count()


def first_node(mask: int) -> int:
    """The lowest set node, or MAX_NUMNODES for an empty mask."""
    return (mask & -mask).bit_length() - 1 if mask else _max_numnodes()


def next_node(node: int, mask: int) -> int:
    """The first set node above ``node``, or MAX_NUMNODES."""
    return first_node(mask >> (node + 1) << (node + 1))


def next_node_in(node: int, mask: int) -> int:
    """next_node() wrapping round to first_node(); MAX_NUMNODES for an empty mask."""
    n = next_node(node, mask)
    return first_node(mask) if n >= _max_numnodes() else n


def nodes_list(mask: int) -> list[int]:
    """for_each_node_mask() as a list, ascending."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def node_remap(oldbit: int, old: int, new: int) -> int:
    """Models: bitmap_bitremap(): the k-th set bit of ``old`` maps to the
    (k mod weight(new))-th set bit of ``new``; a bit not in ``old`` (or an empty
    ``new``) maps to itself."""
    w = nodes_weight(new)
    if not node_isset(oldbit, old) or w == 0:
        return oldbit
    n = nodes_weight(old & ((1 << oldbit) - 1))
    return nodes_list(new)[n % w]


def nodes_remap(src: int, old: int, new: int) -> int:
    """Models: nodes_remap() (bitmap_remap): each set bit by its position in ``old``."""
    out = 0
    for n in nodes_list(src):
        out |= 1 << node_remap(n, old, new)
    return out


def nodes_fold(orig: int, sz: int) -> int:
    """Models: bitmap_fold(): bit n of ``orig`` sets bit n % sz."""
    out = 0
    for n in nodes_list(orig):
        out |= 1 << (n % sz)
    return out


def nodes_onto(orig: int, relmap: int) -> int:
    """Models: bitmap_onto(): bit m of ``orig`` sets the m-th set bit of ``relmap``."""
    out = 0
    for m, n in enumerate(nodes_list(relmap)):
        if orig >> m & 1:
            out |= 1 << n
    return out


def nodelist_str(mask: int) -> str:
    """The ``%*pbl`` range list: ``0-2,5``."""
    return bitmap_list_string(nodes_list(mask))


def nr_node_ids(ctx) -> int:
    """The highest possible node id + 1."""
    return max(ctx.mem.nodes) + 1


# ---------------------------------------------------------------- struct mempolicy
class mempolicy_w:
    """The union ``w`` of struct mempolicy: the user's mask (STATIC/RELATIVE/
    NUMA_BALANCING policies) or the cpuset's mems at creation (the others)."""

    __slots__ = ("user_nodemask", "cpuset_mems_allowed")

    def __init__(self, user_nodemask: int = 0, cpuset_mems_allowed: int = 0):
        self.user_nodemask = user_nodemask
        self.cpuset_mems_allowed = cpuset_mems_allowed


class mempolicy:
    """Models: include/linux/mempolicy.h struct mempolicy.

    ``mode`` MPOL_*; ``flags`` the user mode flags plus internal ones (MPOL_F_LOCAL
    in 4.14, MPOL_F_MOF/MORON for NUMA balancing); ``nodes`` the effective mask (a
    PREFERRED policy has exactly its node set; 4.14's ``v.preferred_node`` is
    first_node(nodes)). Immutable once mpol_set_nodemask() has filled it in.
    Equality is mpol_equal(), so VMAs with equal policies merge.
    """

    __slots__ = ("mode", "flags", "nodes", "w")

    def __init__(self, mode: int, flags: int, nodes: int = 0):
        self.mode = mode
        self.flags = flags
        self.nodes = nodes
        self.w = mempolicy_w()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, mempolicy):
            return NotImplemented
        return mpol_equal(self, other)  # not __mpol_equal: a class body would mangle it

    def __hash__(self) -> int:
        return hash((self.mode, self.flags, self.nodes))

    def __repr__(self) -> str:
        return f"mempolicy({self.mode}, {self.flags:#x}, {self.nodes:#x})"

    def mpol_to_str(self) -> str:
        return mpol_to_str(self)


def __mpol_equal(a: mempolicy, b: mempolicy) -> bool:
    """Models: __mpol_equal() (both eras; 4.14's PREFERRED compares the node or F_LOCAL)."""
    if a.mode != b.mode or a.flags != b.flags:
        return False
    if a.flags & (MPOL_MODE_FLAGS_4_14 | MPOL_F_NUMA_BALANCING):  # mpol_store_user_nodemask
        if a.w.user_nodemask != b.w.user_nodemask:
            return False
    if a.mode == MPOL_LOCAL or a.mode == MPOL_PREFERRED and a.flags & MPOL_F_LOCAL:
        return True
    return a.nodes == b.nodes


def mpol_equal(a: mempolicy | None, b: mempolicy | None) -> bool:
    """Models: mpol_equal(): NULL equals only NULL."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    return __mpol_equal(a, b)


def mpol_mode_flags(ctx) -> int:
    """MPOL_MODE_FLAGS of the era (5.12 added MPOL_F_NUMA_BALANCING)."""
    if ctx.profile.mpol_numa_balancing:
        return MPOL_MODE_FLAGS_4_14 | MPOL_F_NUMA_BALANCING
    return MPOL_MODE_FLAGS_4_14


def mpol_max(ctx) -> int:
    """MPOL_MAX of the era: 5 (4.14), 6 with PREFERRED_MANY (5.15), 7 (6.9)."""
    prof = ctx.profile
    if prof.mpol_weighted_interleave:
        return MPOL_WEIGHTED_INTERLEAVE + 1
    if prof.mpol_preferred_many:
        return MPOL_PREFERRED_MANY + 1
    return MPOL_LOCAL + 1


def mpol_store_user_nodemask(pol: mempolicy) -> bool:
    return pol.flags & (MPOL_MODE_FLAGS_4_14 | MPOL_F_NUMA_BALANCING) != 0


def _is_local(pol: mempolicy | None) -> bool:
    """Model-only: the policy allocates on the faulting CPU's node (none, LOCAL,
    or 4.14's PREFERRED|MPOL_F_LOCAL)."""
    return (pol is None or pol.mode == MPOL_LOCAL
            or pol.mode == MPOL_PREFERRED and pol.flags & MPOL_F_LOCAL != 0)


def mpol_to_str(pol: mempolicy | None) -> str:
    """The policy as /proc/PID/numa_maps prints it: ``default``, ``local``,
    ``prefer:1``, ``bind:0-2,5``, ``interleave=static:0,1``, ``bind=balancing:1``.

    Models: mpol_to_str() (4.14 prints 4.14's local PREFERRED as ``local``; the
    mainline form adds ``=balancing``, 6.x). None is the default policy.
    """
    if pol is None:
        return policy_modes[MPOL_DEFAULT]
    mode, flags, nodes = pol.mode, pol.flags, 0
    if mode == MPOL_PREFERRED and flags & MPOL_F_LOCAL:
        mode = MPOL_LOCAL
    elif mode not in (MPOL_DEFAULT, MPOL_LOCAL):
        nodes = pol.nodes
    out = policy_modes[mode]
    uflags = flags & (MPOL_MODE_FLAGS_4_14 | MPOL_F_NUMA_BALANCING)
    if uflags:
        out += "="
        if flags & MPOL_F_STATIC_NODES:
            out += "static"
        elif flags & MPOL_F_RELATIVE_NODES:
            out += "relative"
        if flags & MPOL_F_NUMA_BALANCING:
            if uflags & (uflags - 1):  # not a power of two: static|... or relative|...
                out += "|"
            out += "balancing"
    if nodes:
        out += ":" + nodelist_str(nodes)
    return out


# ---------------------------------------------------------------- creating policies
def mpol_new(ctx, mode: int, flags: int, nodes: int) -> tuple[int, mempolicy | None]:
    """Check the mode against the mask and make the policy object.

    Models: mpol_new(). Returns ``(0, policy)``, ``(0, None)`` for MPOL_DEFAULT, or
    ``(-EINVAL, None)``. 4.14 turns MPOL_LOCAL into MPOL_PREFERRED (the empty mask
    then means local in mpol_set_nodemask()); 5.14+ turns an empty-mask
    MPOL_PREFERRED into MPOL_LOCAL (``mpol_local_mode``).
    """
    if mode == MPOL_DEFAULT:
        if nodes:
            return -errno.EINVAL, None
        return 0, None
    if mode == MPOL_PREFERRED:
        if not nodes:
            if flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES):
                return -errno.EINVAL, None
            if ctx.profile.mpol_local_mode:
                mode = MPOL_LOCAL
    elif mode == MPOL_LOCAL:
        if nodes or flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES):
            return -errno.EINVAL, None
        if not ctx.profile.mpol_local_mode:
            mode = MPOL_PREFERRED
    elif not nodes:
        return -errno.EINVAL, None
    return 0, mempolicy(mode, flags)


def mpol_relative_nodemask(orig: int, rel: int) -> int:
    """Models: mpol_relative_nodemask(): fold ``orig`` to weight(rel), map it onto ``rel``."""
    return nodes_onto(nodes_fold(orig, nodes_weight(rel)), rel)


def mpol_set_nodemask(ctx, task, pol: mempolicy | None, nodes: int) -> int:
    """Intersect the user's mask with the allowed nodes with memory and fill ``pol``.

    Models: mpol_set_nodemask() and the mpol_ops[].create constructors
    (mpol_new_nodemask(), mpol_new_preferred()). Returns 0 or -EINVAL (nothing left).
    Context: called before the policy is visible to anyone.
    """
    if pol is None or pol.mode == MPOL_LOCAL:
        return 0
    mask1 = cpuset_current_mems_allowed(ctx, task) & node_states_memory(ctx)
    if pol.mode == MPOL_PREFERRED and not nodes:
        pol.flags |= MPOL_F_LOCAL  # 4.14: explicit local allocation
        return 0
    if pol.flags & MPOL_F_RELATIVE_NODES:
        mask2 = mpol_relative_nodemask(nodes, mask1)
    else:
        mask2 = nodes & mask1
    if mpol_store_user_nodemask(pol):
        pol.w.user_nodemask = nodes
    else:
        pol.w.cpuset_mems_allowed = cpuset_current_mems_allowed(ctx, task)
    if not mask2:
        return -errno.EINVAL
    if pol.mode == MPOL_PREFERRED:
        pol.nodes = 1 << first_node(mask2)  # mpol_new_preferred()
    else:
        pol.nodes = mask2  # mpol_new_nodemask()
    return 0


def sanitize_mpol_flags(ctx, mode: int) -> tuple[int, int, int]:
    """Split the mode argument into mode and mode flags; ``(err, mode, flags)``.

    Models: sanitize_mpol_flags() (5.12+; the same tests inline in 4.14's
    syscalls, where MPOL_F_NUMA_BALANCING is not a mode flag and so makes the mode
    out of range).
    """
    mode &= 0xFFFF_FFFF  # the C int, compared unsigned
    mode_flags = mode & mpol_mode_flags(ctx)
    mode &= ~mpol_mode_flags(ctx)
    if mode >= mpol_max(ctx):
        return -errno.EINVAL, 0, 0
    if mode == MPOL_PREFERRED_MANY and not ctx.profile.mpol_preferred_many:
        return -errno.EINVAL, 0, 0  # (a switch set without the modes before it)
    if mode_flags & MPOL_F_STATIC_NODES and mode_flags & MPOL_F_RELATIVE_NODES:
        return -errno.EINVAL, 0, 0
    if mode_flags & MPOL_F_NUMA_BALANCING:
        if mode not in (MPOL_BIND, MPOL_PREFERRED_MANY):
            return -errno.EINVAL, 0, 0
        mode_flags |= MPOL_F_MOF | MPOL_F_MORON
    return 0, mode, mode_flags


def get_nodes(ctx, nmask: int | None, maxnode: int) -> tuple[int, int]:
    """Read a node mask from user space: ``(err, nodes)``.

    Models: get_nodes(). The kernel first decrements ``maxnode`` and reads that many
    bits: maxnode 1, or a NULL mask, is the empty set; maxnode 0 wraps around, so
    with a mask it is past 8 * PAGE_SIZE bits: EINVAL, as is anything past them; a
    set bit at or above MAX_NUMNODES EINVAL. ``get_nodes_checks_whole_top_word``
    (5.11+) checks the top word whole, 4.14 only its first ``maxnode - 1`` bits.
    Simplified: the user mask is an int; a negative one stands for a bad pointer
    (EFAULT).
    """
    maxnode = (maxnode - 1) & ULONG_MAX
    if maxnode == 0 or nmask is None:
        return 0, 0
    if nmask < 0:
        return -errno.EFAULT, 0
    if maxnode > PAGE_SIZE * BITS_PER_BYTE:
        return -errno.EINVAL, 0
    max_numnodes = _max_numnodes()
    word_mask = (1 << BITS_PER_LONG) - 1

    def word(k: int) -> int:
        return nmask >> (k * BITS_PER_LONG) & word_mask

    if ctx.profile.get_nodes_checks_whole_top_word:
        while maxnode > max_numnodes:
            bits = min(maxnode, BITS_PER_LONG)
            t = word((maxnode - 1) // BITS_PER_LONG) & ((1 << bits) - 1)
            if maxnode - bits >= max_numnodes:
                maxnode -= bits
            else:
                maxnode = max_numnodes
                t &= ~((1 << (max_numnodes % BITS_PER_LONG)) - 1)
            if t:
                return -errno.EINVAL, 0
        return 0, nmask & ((1 << maxnode) - 1)
    # 4.14: whole words above MAX_NUMNODES must be zero, the top one masked first
    nlongs = (maxnode + BITS_PER_LONG - 1) // BITS_PER_LONG
    endmask = word_mask if maxnode % BITS_PER_LONG == 0 else (1 << (maxnode % BITS_PER_LONG)) - 1
    max_longs = (max_numnodes + BITS_PER_LONG - 1) // BITS_PER_LONG
    if nlongs > max_longs:
        for k in range(max_longs, nlongs):
            t = word(k)
            if t & (endmask if k == nlongs - 1 else word_mask):
                return -errno.EINVAL, 0
        nlongs = max_longs
        endmask = word_mask
    nodes = nmask & ((1 << (nlongs * BITS_PER_LONG)) - 1)
    top = (nlongs - 1) * BITS_PER_LONG
    nodes &= ~(word_mask << top) | (endmask << top)
    return 0, nodes


# ---------------------------------------------------------------- rebinding (cpuset)
def mpol_rebind_policy(pol, newmask: int):
    """Models: mpol_rebind_policy() -> mpol_rebind_nodemask() /
    mpol_rebind_preferred(). Returns the rebound policy (a new object: policies are
    immutable once attached), or ``pol`` when nothing changes."""
    if pol is None or pol.mode in (MPOL_DEFAULT, MPOL_LOCAL) or pol.flags & MPOL_F_LOCAL:
        return pol
    w = mempolicy_w(pol.w.user_nodemask, pol.w.cpuset_mems_allowed)
    if pol.flags & MPOL_F_STATIC_NODES:
        tmp = pol.w.user_nodemask & newmask
    elif pol.flags & MPOL_F_RELATIVE_NODES:
        tmp = mpol_relative_nodemask(pol.w.user_nodemask, newmask)
    else:
        tmp = nodes_remap(pol.nodes, pol.w.cpuset_mems_allowed, newmask)
        w.cpuset_mems_allowed = newmask
    if not tmp:
        tmp = newmask
    if pol.mode == MPOL_PREFERRED:
        tmp = 1 << first_node(tmp)
    new = mempolicy(pol.mode, pol.flags, tmp)
    new.w = w
    return new if new != pol or w.cpuset_mems_allowed != pol.w.cpuset_mems_allowed else pol


def mpol_rebind_mm(mm, newmask: int) -> KernelPath[None]:
    """Models: mpol_rebind_mm(): every VMA's policy, under mmap_lock for write.
    Preempts: taking mmap_lock."""
    yield from down_write(mm.mmap_lock)
    try:
        done: dict[int, Any] = {}  # a policy shared by VMAs stays shared
        for vma in mm.mmap:
            pol = vma.vm_policy
            if pol is None:
                continue
            if id(pol) not in done:
                done[id(pol)] = mpol_rebind_policy(pol, newmask)
            vma.vm_policy = done[id(pol)]
    finally:
        up_write(mm.mmap_lock)


def mpol_rebind_task(task, new: int) -> None:
    """Models: mpol_rebind_task(): the task's own policy rebound to ``new`` (called
    by cpuset_change_task_nodemask() under task_lock)."""
    task.mempolicy = mpol_rebind_policy(task.mempolicy, new)


# ---------------------------------------------------------------- looking policies up
def get_task_policy(task) -> mempolicy | None:
    """Models: get_task_policy(): the task's policy, None for the default (local)
    policy. Simplified: the per-node preferred_node_policy[] defaults are None too."""
    return None if task is None else task.mempolicy


def __get_vma_policy(vma: vm_area_struct | None, addr: int) -> mempolicy | None:
    """Models: __get_vma_policy(): the VMA's own policy (no shared policies)."""
    return None if vma is None else vma.vm_policy


def get_vma_policy(ctx, vma: vm_area_struct | None, addr: int,
                   order: int) -> tuple[mempolicy | None, int]:
    """The policy for an allocation at ``addr`` and its interleave index.

    Models: get_vma_policy() (6.7 form, returning ``ilx``; 4.14 computed the same
    index in interleave_nid()): the VMA's policy, else the task's; for interleave
    the index is the page offset in units of the allocation,
    ``(vm_pgoff >> order) + ((addr - vm_start) >> (PAGE_SHIFT + order))``.
    No VMA: NO_INTERLEAVE_INDEX (the task's interleave cursor decides).
    """
    pol = __get_vma_policy(vma, addr)
    if pol is None:
        pol = get_task_policy(ctx.current)
    if vma is None:
        return pol, NO_INTERLEAVE_INDEX
    ilx = 0
    if pol is not None and pol.mode in (MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE):
        ilx = (vma.vm_pgoff >> order) + ((addr - vma.vm_start) >> (PAGE_SHIFT + order))
    return pol, ilx


# ---------------------------------------------------------------- the task's interleave cursor
def task_il_prev(ctx, task) -> int:
    """The task's interleave cursor (``task_struct.il_prev``)."""
    return task.il_prev


def set_task_il_prev(ctx, task, node: int) -> None:
    task.il_prev = node


def interleave_nodes(ctx, pol: mempolicy) -> int:
    """Models: interleave_nodes() / weighted_interleave_nodes() with every weight 1:
    the current task's round robin over the policy's nodes."""
    task = ctx.current
    nxt = next_node_in(task_il_prev(ctx, task) if task is not None else -1, pol.nodes)
    if nxt < _max_numnodes() and task is not None:
        set_task_il_prev(ctx, task, nxt)
    return nxt


def offset_il_node(ctx, pol: mempolicy, n: int) -> int:
    """Models: offset_il_node() / 6.7's interleave_nid(pol, ilx): the (n mod
    weight)-th node of the mask (weighted interleave with all weights 1 is the same)."""
    nodes = nodes_list(pol.nodes)
    if not nodes:
        return ctx.numa_node_id()
    return nodes[n % len(nodes)]


def interleave_nid(ctx, pol: mempolicy, ilx: int) -> int:
    if ilx == NO_INTERLEAVE_INDEX:
        return interleave_nodes(ctx, pol)
    return offset_il_node(ctx, pol, ilx)


# ---------------------------------------------------------------- allocating by policy
def policy_nodemask(ctx, gfp: int, pol: mempolicy | None) -> int | None:
    """Models: policy_nodemask(): BIND and PREFERRED_MANY restrict the zonelist walk;
    a BIND mask that misses the cpuset's nodes is ignored
    (cpuset_nodemask_valid_mems_allowed()), the allocator then keeps to the cpuset.
    Simplified: every user allocation is in the policy zone (apply_policy_zone())."""
    if pol is not None:
        if pol.mode == MPOL_PREFERRED_MANY:
            return pol.nodes
        if pol.mode == MPOL_BIND and cpuset_nodemask_valid_mems_allowed(ctx, pol.nodes):
            return pol.nodes
    return None


def policy_node(ctx, gfp: int, pol: mempolicy | None, nd: int) -> int:
    """Models: policy_node(): PREFERRED starts at its node; the others at ``nd``
    (the local node), BIND then walking ``nd``'s zonelist for the nearest allowed node."""
    if pol is not None and pol.mode == MPOL_PREFERRED and not pol.flags & MPOL_F_LOCAL:
        return first_node(pol.nodes)
    if pol is not None and pol.mode == MPOL_BIND:
        ctx.warn_on_once(gfp & __GFP_THISNODE != 0, "policy_node: __GFP_THISNODE with MPOL_BIND")
    return nd


def alloc_pages_preferred_many(ctx, gfp: int, order: int, nid: int, nodemask: int) -> int:
    """Models: alloc_pages_preferred_many(): the mask first without direct reclaim,
    then any node."""
    preferred_gfp = (gfp | __GFP_NOWARN) & ~(__GFP_DIRECT_RECLAIM | __GFP_NOFAIL)
    pfn = __alloc_pages(ctx, preferred_gfp, order, nid, nodemask)
    if pfn < 0:
        pfn = __alloc_pages(ctx, gfp, order, nid, None)
    return pfn


def alloc_pages_mpol(ctx, gfp: int, order: int, pol: mempolicy | None, ilx: int, nid: int,
                     hugepage: bool = False) -> int:
    """Allocate 2**order pages as ``pol`` says. Returns a PFN or -1.

    Models: alloc_pages_mpol() (6.7+), which is 4.14's alloc_pages_vma() body:
    interleave picks the node by index (or the task's cursor) and counts
    numa_interleave (interleave_hit) on it when the page landed there; PREFERRED_MANY tries
    its mask, then anywhere; a THP (``hugepage``) under any other policy that allows
    the local (or preferred) node is tried there only with __GFP_THISNODE, and only
    ``thp_alloc_remote_fallback`` (5.x+) retries elsewhere when it may reclaim;
    otherwise the preferred node's zonelist, filtered by the BIND mask.
    Context: any. Preempts: never.
    """
    if pol is not None and pol.mode in (MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE):
        # 4.14 alloc_page_interleave(); 6.7+ the tail of alloc_pages_mpol()
        il_nid = interleave_nid(ctx, pol, ilx)
        pfn = __alloc_pages(ctx, gfp, order, il_nid, None)
        if pfn >= 0 and ctx.mem.pfn_to_nid(pfn) == il_nid:
            ctx.vmstat.mod_zone_page_state(il_nid, NUMA_INTERLEAVE_HIT, 1)
        return pfn
    nodemask = policy_nodemask(ctx, gfp, pol)
    nid = policy_node(ctx, gfp, pol, nid)
    if pol is not None and pol.mode == MPOL_PREFERRED_MANY:
        return alloc_pages_preferred_many(ctx, gfp, order, nid, pol.nodes)
    if hugepage and (nodemask is None or node_isset(nid, nodemask)):
        if not ctx.profile.thp_alloc_remote_fallback:
            return __alloc_pages(ctx, gfp | __GFP_THISNODE, order, nid, None)
        pfn = __alloc_pages(ctx, gfp | __GFP_THISNODE | __GFP_NORETRY, order, nid, None)
        if pfn >= 0 or not gfpflags_allow_blocking(gfp):
            return pfn
    return __alloc_pages(ctx, gfp, order, nid, nodemask)


def alloc_pages_vma(gfp: int, order: int, vma: vm_area_struct, addr: int,
                    hugepage: bool = False) -> int:
    """Allocate for a fault at ``addr`` in ``vma``. Returns a PFN or -1.

    Models: alloc_pages_vma() (v4.14) / vma_alloc_folio() (6.x): the VMA's policy,
    else the faulting task's, else local; see :func:`alloc_pages_mpol`.
    Context: mmap_lock held. Preempts: never.
    """
    ctx = vma.vm_mm.kernel
    pol, ilx = get_vma_policy(ctx, vma, addr, order)
    ctx.cpuset_alloc = True
    try:
        return alloc_pages_mpol(ctx, gfp, order, pol, ilx, ctx.numa_node_id(), hugepage)
    finally:
        ctx.cpuset_alloc = False


# ---------------------------------------------------------------- queue_pages_range
class queue_pages:
    """Models: struct queue_pages (the walk's private data). ``prev`` is 4.14's hole
    tracker, ``first``/``start``/``end`` 5.5's, ``nr_failed``/``large`` 6.7's."""

    __slots__ = ("pagelist", "flags", "nmask", "start", "end", "first", "prev",
                 "nr_failed", "large")

    def __init__(self, pagelist: list[int], flags: int, nmask: int, start: int, end: int):
        self.pagelist = pagelist
        self.flags = flags
        self.nmask = nmask
        self.start = start
        self.end = end
        self.first: vm_area_struct | None = None
        self.prev: vm_area_struct | None = None
        self.nr_failed = 0
        self.large = -1


def queue_pages_required(ctx, page: int, qp: queue_pages) -> bool:
    """Models: queue_folio_required(): on a node of the mask (or, with
    MPOL_MF_INVERT, not on one)."""
    nid = ctx.mem.pfn_to_nid(page)
    return node_isset(nid, qp.nmask) == (not qp.flags & MPOL_MF_INVERT)


def strictly_unmovable(flags: int) -> bool:
    """Models: strictly_unmovable(): STRICT without MOVE or MOVE_ALL."""
    return flags & (MPOL_MF_STRICT | MPOL_MF_MOVES) == MPOL_MF_STRICT


def _maybe_mapped_shared(ctx, head: int) -> bool:
    """Model-only: 4.14 moves a page only if page_mapcount(head) == 1; the 6.7+ folio
    walk skips folio_maybe_mapped_shared() folios, modelled as page_mapcount(first
    page) > 1 as move_pages does. They differ for a PTE-mapped THP whose head page is
    not mapped (4.14 leaves it)."""
    if ctx.profile.queue_pages_nr_failed:
        return ctx.pages.page_mapcount(head) > 1
    return ctx.pages.page_mapcount(head) != 1


def migrate_page_add(ctx, page: int, pagelist: list[int], flags: int) -> bool:
    """Isolate the page's head onto ``pagelist`` unless it is shared and not MOVE_ALL.

    Models: migrate_page_add() (4.14) / migrate_folio_add() (6.x). Returns False when
    the page could not be isolated (6.x counts that as a failure; 4.14 ignores it).
    A shared page skipped without MOVE_ALL is not a failure.
    """
    head = ctx.pages.compound_head(page)
    if flags & MPOL_MF_MOVE_ALL or not _maybe_mapped_shared(ctx, head):
        if isolate_lru_page_for_migration(ctx, head) == 0:
            pagelist.append(head)
        else:
            return False
    return True


def _queue_one(ctx, vma: vm_area_struct, page: int, qp: queue_pages, nr: int) -> None:
    """Model-only: the common tail of queue_folios_pmd() and the PTE loop: queue the
    misplaced page, counting a failure (6.x) where it cannot be."""
    flags = qp.flags
    if not ctx.profile.mbind_strict_eio:
        if flags & MPOL_MF_MOVES:  # 4.14: failures to isolate are silently skipped
            migrate_page_add(ctx, page, qp.pagelist, flags)
        return
    if (not flags & MPOL_MF_MOVES or not vma_migratable(vma)
            or not migrate_page_add(ctx, page, qp.pagelist, flags)):
        qp.nr_failed += nr


def queue_pages_pmd(pmd, ptl, addr: int, end: int, walk: mm_walk) -> KernelPath[bool]:
    """One huge PMD: queue the whole THP if it is misplaced.

    Models: queue_pages_pmd() (4.14) / queue_folios_pmd() (6.7+).
    Context: the PMD lock ``ptl`` held; released here. Preempts: only in 4.14's
    split of a huge zero PMD.
    Returns: True when the PMD was dealt with, False when it was split and the PTE
    level must be walked (4.14's huge zero page).
    """
    # cycle: mm.huge_memory -> mm.mempolicy imports this module
    from thpsim.mm.huge_memory import __split_huge_pmd

    vma = walk.vma
    qp = walk.private
    ctx = vma.vm_mm.kernel
    prof = ctx.profile
    v = pmdp_get(pmd)
    if ctx.swp.is_pmd_migration_entry(v):
        # a THP under migration by someone else: 4.14 skips it, 5.2+ a failure
        if prof.mbind_strict_eio:
            qp.nr_failed += 1
        spin_unlock(ptl)
        return True
    head = pmd_pfn(v)
    if head == ctx.huge_zero_pfn:
        spin_unlock(ptl)
        if prof.queue_pages_skip_huge_zero:
            return True  # walk->action = ACTION_CONTINUE
        yield from __split_huge_pmd(vma, pmd, addr, False)
        return False
    if queue_pages_required(ctx, head, qp):
        _queue_one(ctx, vma, head, qp, 1)
    spin_unlock(ptl)
    return True


def queue_pages_pte_range(pmd, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """The walk's pmd_entry: one PMD's worth of the range (``walk.private`` is the
    struct queue_pages).

    Models: queue_pages_pte_range() (4.14) / queue_folios_pte_range() (6.7+):
    a huge PMD goes to :func:`queue_pages_pmd`; otherwise each present PTE's page
    (the zero page and reserved pages skipped) is checked, and a PTE-mapped THP is
    queued once, by its head.
    Context: mmap_lock held. Preempts: taking the PMD and PTE locks; cond_resched().
    Returns: 0, -EIO (6.x: STRICT alone found a misplaced page), or 1 (5.2 .. 6.6:
    MOVE|STRICT met a page it could not queue: the walk stops).
    """
    # cycle: mm.huge_memory -> mm.mempolicy imports this module
    from thpsim.mm.huge_memory import pmd_trans_huge_lock

    # cycle: mm.memory -> mm.mempolicy imports this module
    from thpsim.mm.memory import vm_normal_page

    vma = walk.vma
    qp = walk.private
    ctx = vma.vm_mm.kernel
    pages = ctx.pages
    flags = qp.flags
    strict_eio = ctx.profile.mbind_strict_eio
    folio_walk = ctx.profile.queue_pages_nr_failed  # 6.7+: qp->large, 6.10+ batches
    failed_before = qp.nr_failed
    while True:
        ptl = yield from pmd_trans_huge_lock(pmd, vma)
        if ptl is not None:
            if (yield from queue_pages_pmd(pmd, ptl, addr, end, walk)):
                break
        if pmd_trans_unstable(ctx, pmd):
            v = pmdp_get(pmd)
            if pmd_none(v) or not strict_eio:
                return 0
            continue  # 6.x: pte_offset_map_lock() failed: ACTION_AGAIN
        v = pmdp_get(pmd)
        t = ctx.mem.tables[table_entry_pfn(v)]
        yield from spin_lock(t.ptl)
        if pmdp_get(pmd) != v:
            spin_unlock(t.ptl)  # the table went away before we locked it: walk again
            continue
        try:
            i = (addr >> PAGE_SHIFT) & 511
            a = addr
            while a < end:
                e = t[i]
                nr = 1
                if pte_none(e):
                    pass
                elif not pte_present(e):
                    if strict_eio and ctx.swp.is_pte_migration_entry(e):
                        qp.nr_failed += 1
                else:
                    pfn = vm_normal_page(vma, a, e)
                    if pfn >= 0 and pfn != ctx.zero_pfn and not pages.flags[pfn] & F_reserved:
                        head = pages.compound_head(pfn)
                        large = pages.flags[pfn] & (F_head | F_tail) != 0
                        if large and folio_walk:
                            nr = folio_pte_batch(ctx, t, i, (end - a) >> PAGE_SHIFT)
                        if queue_pages_required(ctx, head, qp):
                            if large and folio_walk:
                                # a large folio is isolated once: its other PTEs are
                                # no failure (5.3..6.6 counted them: EIO under STRICT)
                                if head == qp.large:
                                    i += nr
                                    a += nr * PAGE_SIZE
                                    continue
                                qp.large = head
                            _queue_one(ctx, vma, pfn, qp, nr)
                            if qp.nr_failed and strictly_unmovable(flags):
                                break
                i += nr
                a += nr * PAGE_SIZE
        finally:
            spin_unlock(t.ptl)
        yield PREEMPT  # cond_resched(): another CPU may fault or migrate in this range
        break
    if strict_eio and qp.nr_failed and strictly_unmovable(flags):
        return -errno.EIO
    if (strict_eio and not folio_walk and qp.nr_failed > failed_before
            and flags & MPOL_MF_STRICT and flags & MPOL_MF_MOVES):
        # 5.2 .. 6.6: an unmovable page under MOVE|STRICT ends the walk (returns 1,
        # "has_unmovable"): the rest of the range, a hole after it included, is not
        # looked at, and do_mbind() applies the policy and fails with EIO (oracle:
        # 6.1). 6.7+ keeps walking (qp->has_unmovable).
        return 1
    return 0


def queue_pages_test_walk(start: int, end: int, walk: mm_walk) -> int:
    """Decide whether to walk ``walk.vma`` (its part [start, end) of the range).

    Models: queue_pages_test_walk(). Returns 0 (walk it), 1 (skip it) or -EFAULT (a
    hole, unless MPOL_MF_DISCONTIG_OK). 5.5+ (``queue_pages_hole_checks``): a hole
    before the first VMA, or after any VMA that ends inside the range. 4.14: only a
    gap between two VMAs of the range (its tail test can never fire: ``end`` is
    already clipped to the VMA). 4.14 walks only with MOVE; 5.2+ also with STRICT.
    """
    vma = walk.vma
    qp = walk.private
    prof = vma.vm_mm.kernel.profile
    flags = qp.flags
    mm = vma.vm_mm
    if prof.queue_pages_hole_checks:
        if qp.first is None:
            qp.first = vma
            if not flags & MPOL_MF_DISCONTIG_OK and qp.start < vma.vm_start:
                return -errno.EFAULT  # hole at the head of the range
        nxt = mm.find_vma(vma.vm_end)
        if (not flags & MPOL_MF_DISCONTIG_OK and vma.vm_end < qp.end
                and (nxt is None or vma.vm_end < nxt.vm_start)):
            return -errno.EFAULT  # hole in the middle or at the tail
    else:
        if not vma_migratable(vma):
            return 1
        if qp.first is None:
            qp.first = vma
        if not flags & MPOL_MF_DISCONTIG_OK:
            nxt = mm.find_vma(vma.vm_end)
            if nxt is None and vma.vm_end < end:
                return -errno.EFAULT
            if qp.prev is not None and qp.prev.vm_end < vma.vm_start:
                return -errno.EFAULT
        qp.prev = vma
    if prof.mbind_strict_eio:
        if not vma_migratable(vma) and not flags & MPOL_MF_STRICT:
            return 1
        return 0 if flags & (MPOL_MF_STRICT | MPOL_MF_MOVES) else 1
    return 0 if flags & MPOL_MF_MOVES else 1


#: Models: queue_pages_walk_ops
queue_pages_walk_ops = mm_walk_ops(pmd_entry=queue_pages_pte_range,
                                   test_walk=queue_pages_test_walk)


def queue_pages_range(mm: mm_struct, start: int, end: int, nmask: int, flags: int,
                      pagelist: list[int]) -> KernelPath[int]:
    """Walk [start, end) and isolate the pages to migrate onto ``pagelist``.

    Models: queue_pages_range() -> walk_page_range() with the queue_pages ops.
    Context: mmap_lock held (write for mbind, read for migrate_pages).
    Preempts: in the PMD/PTE locks and between page tables.
    Returns: -EFAULT (a hole, or the whole range unmapped in 5.5+), -EIO (6.x, STRICT
    alone and a misplaced page), else 0 (4.14) or the number of folios that could not
    be queued (6.7+; counted from 5.2 on, when ``mbind_strict_eio``).
    """
    prof = mm.kernel.profile
    qp = queue_pages(pagelist, flags, nmask, start, end)
    err = yield from walk_page_range(mm, start, end, queue_pages_walk_ops, qp)
    if prof.queue_pages_hole_checks and qp.first is None:
        err = -errno.EFAULT  # the whole range is a hole
    return err if err else qp.nr_failed


# ---------------------------------------------------------------- mbind(2)
def vma_replace_policy(vma: vm_area_struct, pol: mempolicy | None) -> int:
    """Models: vma_replace_policy() (mpol_dup() is sharing: policies are immutable)."""
    vma.vm_policy = pol
    return 0


def mbind_range(mm: mm_struct, start: int, end: int, new_pol: mempolicy | None) -> KernelPath[int]:
    """Give every VMA part inside [start, end) the new policy, splitting VMAs at the
    range's edges and merging neighbours whose policies (and all else) now agree.

    Models: mbind_range(). 4.14 first returns -EFAULT when no VMA contains
    ``start`` (its only head-hole check). The kernel tries vma_merge() before
    split_vma(); splitting and then merging around gives the same VMAs.
    Context: mmap_lock held for write. Preempts: in the VMA split (a PMD a boundary
    cuts is split) and the anon_vma lock.
    """
    # cycle: mm.mmap -> mm.huge_memory -> mm.mempolicy imports this module
    from thpsim.mm.mmap import split_vma_range, vma_merge_around

    vma = mm.find_vma(start)
    if not mm.kernel.profile.queue_pages_hole_checks and (vma is None or vma.vm_start > start):
        return -errno.EFAULT
    while vma is not None and vma.vm_start < end:
        vmstart = max(start, vma.vm_start)
        vmend = min(end, vma.vm_end)
        if mpol_equal(vma.vm_policy, new_pol):
            nxt_addr = vma.vm_end
        else:
            parts = yield from split_vma_range(mm, vmstart, vmend)
            piece = parts[0]
            err = vma_replace_policy(piece, new_pol)
            if err:
                return err
            piece = yield from vma_merge_around(mm, piece)
            nxt_addr = max(piece.vm_end, vmend)
        vma = mm.find_vma(nxt_addr)
    return 0


def page_address_in_vma(ctx, page: int, vma: vm_area_struct) -> int:
    """Where ``page`` (a head) is mapped in ``vma``, or -EFAULT.

    Models: mm/rmap.c page_address_in_vma() for anonymous pages: the VMA must share
    the page's anon_vma root, and the page's index must fall inside the VMA; 5.13+
    (``vma_address_head_overlap``, internal.h vma_address()): a compound head below
    the VMA whose folio still reaches into it gives the VMA's start.
    """

    av = page_anon_vma(ctx, page)
    if vma.anon_vma is None or av is None or vma.anon_vma.root is not av.root:
        return -errno.EFAULT
    index = ctx.pages.index[page]
    address = vma_address(vma, index)
    if (address < vma.vm_start and ctx.profile.vma_address_head_overlap
            and ctx.pages.PageTransHuge(page)
            and index + (1 << ctx.pages.compound_order(page)) - 1 >= vma.vm_pgoff):
        return vma.vm_start
    if address < vma.vm_start or address >= vma.vm_end:
        return -errno.EFAULT
    return address


def new_page(ctx, mm: mm_struct, start: int) -> NewPage:
    """mbind's 4.14 target allocator: the first VMA from ``start`` on that maps the
    page decides, by its (new) policy at the page's address; no such VMA (a THP whose
    head lies before ``start``) leaves the task policy. THPs as THPs.

    Models: mm/mempolicy.c new_page(), v4.14 (alloc_hugepage_vma() / alloc_page_vma()).
    """

    def alloc(page: int) -> int:
        vma = mm.find_vma(start)
        address = -errno.EFAULT
        while vma is not None:
            address = page_address_in_vma(ctx, page, vma)
            if address != -errno.EFAULT:
                break
            vma = mm.find_vma(vma.vm_end)
        if ctx.pages.PageTransHuge(page):
            order, gfp, huge = HPAGE_PMD_ORDER, GFP_TRANSHUGE | __GFP_COMP, True
        else:
            order, gfp, huge = 0, GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL, False
        pol, ilx = get_vma_policy(ctx, vma, address, order)
        return alloc_pages_mpol(ctx, gfp, order, pol, ilx, ctx.numa_node_id(), huge)

    return alloc


def alloc_migration_target_by_mpol(ctx, pol: mempolicy | None, ilx_base: int) -> NewPage:
    """mbind's 6.7+ target allocator: the new policy itself, interleave index
    ``ilx_base + (index >> order)``; THPs as THPs (GFP_TRANSHUGE).

    Models: mm/mempolicy.c alloc_migration_target_by_mpol().
    """

    def alloc(page: int) -> int:
        pages = ctx.pages
        order = pages.compound_order(page)
        ilx = ilx_base + (pages.index[page] >> order)
        if order:
            gfp = GFP_TRANSHUGE
        else:
            gfp = GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL | __GFP_COMP
        return alloc_pages_mpol(ctx, gfp | __GFP_COMP, order, pol, ilx, ctx.numa_node_id(),
                                order == HPAGE_PMD_ORDER)

    return alloc


def _mbind_ilx_base(ctx, mm: mm_struct, start: int, end: int, pol: mempolicy | None,
                    pagelist: list[int]) -> int:
    """6.7+ do_mbind(): anchor the interleave index at the first queued folio, so it
    lands exactly where a fault at its address would."""
    if pol is None or pol.mode not in (MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE):
        return 0
    folio = pagelist[0]
    vma = mm.find_vma(start)
    while vma is not None and vma.vm_start < end:
        addr = page_address_in_vma(ctx, folio, vma)
        if addr != -errno.EFAULT:
            order = ctx.pages.compound_order(folio)
            _, ilx = get_vma_policy(ctx, vma, addr, order)
            return ilx - (ctx.pages.index[folio] >> order)
        vma = mm.find_vma(vma.vm_end)
    return 0


def do_mbind(ctx, task, start: int, length: int, mode: int, mode_flags: int, nmask: int,
             flags: int) -> KernelPath[int]:
    """Set the policy of [start, start + length) and move the pages it covers.

    Models: do_mbind(). Checks in the kernel's order (flags, MOVE_ALL's
    CAP_SYS_NICE, alignment, wrap, empty range, mpol_new(), the mask); then, under
    mmap_lock for write, queue the misplaced pages (checked against the *user's*
    mask), apply the policy (mbind_range()) and migrate (4.14 under the lock, 6.7+
    after dropping it). STRICT with any failure: -EIO, after the policy is applied.
    Migration failures are never -ENOMEM here.
    Context: takes mm->mmap_lock for write. Preempts: in the lock, the walk, the
    VMA splits and the migration.
    """
    # cycle: mm.migrate -> mm.huge_memory -> mm.mempolicy imports this module
    from thpsim.mm.migrate import (
        MIGRATE_SYNC,
        MR_MEMPOLICY_MBIND,
        migrate_pages,
        putback_movable_pages,
    )

    prof = ctx.profile
    mm = task.mm
    if flags & ~MPOL_MF_VALID:
        return -errno.EINVAL
    if flags & MPOL_MF_MOVE_ALL and not task.cred.capable(CAP_SYS_NICE):
        return -errno.EPERM
    if start & ~PAGE_MASK:
        return -errno.EINVAL
    if mode == MPOL_DEFAULT:
        flags &= ~MPOL_MF_STRICT
    length = (length + PAGE_SIZE - 1) & PAGE_MASK
    end = (start + length) & ULONG_MAX
    if end < start:
        return -errno.EINVAL
    if end == start:
        return 0
    err, new = mpol_new(ctx, mode, mode_flags, nmask)
    if err:
        return err
    if new is None:
        flags |= MPOL_MF_DISCONTIG_OK  # the default policy tolerates holes
    pagelist: list[int] = []
    yield from down_write(mm.mmap_lock)
    locked = True
    try:
        err = mpol_set_nodemask(ctx, task, new, nmask)
        if err:
            return err
        nr_failed = yield from queue_pages_range(mm, start, end, nmask,
                                                 flags | MPOL_MF_INVERT, pagelist)
        if nr_failed < 0:
            err, nr_failed = nr_failed, 0
        else:
            err = yield from mbind_range(mm, start, end, new)
        if not err and pagelist:
            if ctx.cost is not None:  # modeled time: migrate_prep() (lru_add_drain_all())
                ctx.cost.lru_add_drain_all(ctx.smp_processor_id())
            if prof.mbind_alloc_by_mpol:
                pol = new if new is not None else get_task_policy(task)
                get_new = alloc_migration_target_by_mpol(
                    ctx, pol, _mbind_ilx_base(ctx, mm, start, end, pol, pagelist))
                up_write(mm.mmap_lock)
                locked = False
            else:
                get_new = new_page(ctx, mm, start)
            ret = yield from migrate_pages(ctx, pagelist, get_new, MIGRATE_SYNC,
                                           MR_MEMPOLICY_MBIND)
            nr_failed = nr_failed | ret if ret >= 0 else ret  # -ENOMEM is a failure too
        if nr_failed and flags & MPOL_MF_STRICT:
            err = -errno.EIO
        if pagelist:
            putback_movable_pages(ctx, pagelist)
        return err
    finally:
        if locked:
            up_write(mm.mmap_lock)


def kernel_mbind(ctx, task, start: int, length: int, mode: int, nmask: int | None,
                 maxnode: int, flags: int) -> KernelPath[int]:
    """mbind(2). Models: kernel_mbind() (SYSCALL mbind in 4.14): the mode, then the
    mask, then do_mbind(). ``start``, ``length``, ``mode`` and ``maxnode`` are
    unsigned longs, ``flags`` an unsigned int; 5.12+ (``mbind_mode_c_int``) takes
    the mode as an int (``int lmode = mode``: 2**32 + MPOL_BIND is MPOL_BIND), 4.14
    compares the whole unsigned long with MPOL_MAX (EINVAL). Returns 0 or -errno."""
    if ctx.cost is not None:  # modeled time: the system call's entry and exit
        ctx.cost.syscall(ctx.smp_processor_id())
    mode = ulong(mode)
    if not ctx.profile.mbind_mode_c_int and (mode & ~mpol_mode_flags(ctx)) >> 32:
        return -errno.EINVAL  # 4.14: "if (mode >= MPOL_MAX)" on the unsigned long
    err, lmode, mode_flags = sanitize_mpol_flags(ctx, mode)
    if err:
        return err
    err, nodes = get_nodes(ctx, nmask, maxnode)
    if err:
        return err
    return (yield from do_mbind(ctx, task, start & ULONG_MAX, length & ULONG_MAX, lmode,
                                mode_flags, nodes, flags & 0xFFFF_FFFF))


# ---------------------------------------------------------------- set_mempolicy(2)
def do_set_mempolicy(ctx, task, mode: int, flags: int, nodes: int) -> int:
    """Models: do_set_mempolicy(): the calling thread's policy; interleave restarts
    its cursor at the first node. Context: task_lock. Preempts: never."""
    err, new = mpol_new(ctx, mode, flags, nodes)
    if err:
        return err
    err = mpol_set_nodemask(ctx, task, new, nodes)
    if err:
        return err
    task.mempolicy = new
    if new is not None and new.mode in (MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE):
        set_task_il_prev(ctx, task, _max_numnodes() - 1)
    return 0


def kernel_set_mempolicy(ctx, task, mode: int, nmask: int | None,
                         maxnode: int) -> KernelPath[int]:
    """set_mempolicy(2). Models: kernel_set_mempolicy(). Preempts: never (a generator
    so the driver runs it like every other system call)."""
    err, lmode, mode_flags = sanitize_mpol_flags(ctx, c_int(mode))
    if err:
        return err
    err, nodes = get_nodes(ctx, nmask, maxnode)
    if err:
        return err
    return do_set_mempolicy(ctx, task, lmode, mode_flags, nodes)
    yield  # never reached: makes this a system-call generator


# ---------------------------------------------------------------- get_mempolicy(2)
def get_policy_nodemask(pol: mempolicy | None) -> int:
    """Models: get_policy_nodemask(): a local policy reports the empty mask."""
    return 0 if pol is None or _is_local(pol) else pol.nodes


def lookup_node(ctx, mm: mm_struct, addr: int) -> KernelPath[int]:
    """The node of the page at ``addr``, faulting it in for reading if absent.

    Models: lookup_node() -> get_user_pages(addr, 1, 0): an untouched anonymous
    address maps the zero page (or the huge zero page) and reports its node.
    Simplified: no FOLL_GET (the node is read before any preemption point, so the
    reference and its put_page() change nothing).
    Context: mmap_lock held for read. Preempts: in the fault.
    Returns: a node id or -errno (-EFAULT: no VMA or not readable; -ENOMEM).
    """
    # cycle: mm.gup -> mm.memory -> mm.mempolicy imports this module
    from thpsim.mm.gup import get_user_pages

    pages: list[int] = []
    err = yield from get_user_pages(mm, addr & PAGE_MASK, 1, 0, pages)
    if err < 0:
        return err
    return ctx.mem.pfn_to_nid(pages[0])


def do_get_mempolicy(ctx, task, addr: int, flags: int) -> KernelPath[tuple[int, int, int]]:
    """Models: do_get_mempolicy(). Returns ``(err, *policy, nodemask)``.

    flags 0: the thread's policy (addr must be 0); MPOL_F_ADDR: the VMA's own
    policy (no fallback to the thread's); MPOL_F_NODE|MPOL_F_ADDR: the node of the
    page at addr; MPOL_F_NODE: the next node of the thread's interleave cursor;
    MPOL_F_MEMS_ALLOWED: the cpuset's nodes. The mask is the user's own for
    STATIC/RELATIVE (and 5.12+ NUMA_BALANCING) policies.
    Context: takes mmap_lock for read with MPOL_F_ADDR. Preempts: there.
    """

    if flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED):
        return -errno.EINVAL, 0, 0
    if flags & MPOL_F_MEMS_ALLOWED:
        if flags & (MPOL_F_NODE | MPOL_F_ADDR):
            return -errno.EINVAL, 0, 0
        return 0, 0, cpuset_current_mems_allowed(ctx, task)
    mm = task.mm
    pol = task.mempolicy
    locked = False
    try:
        if flags & MPOL_F_ADDR:
            yield from down_read(mm.mmap_lock)
            locked = True
            vma = mm.find_vma(addr)
            if vma is None or vma.vm_start > addr:
                return -errno.EFAULT, 0, 0
            pol = vma.vm_policy  # no fallback to the task policy
        elif addr:
            return -errno.EINVAL, 0, 0
        if flags & MPOL_F_NODE:
            if flags & MPOL_F_ADDR:
                nid = yield from lookup_node(ctx, mm, addr)
                if nid < 0:
                    return nid, 0, 0
                pval = nid
            elif pol is not None and pol is task.mempolicy and pol.mode in (
                    MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE):
                # weighted: il_weight is always 0 with weights of 1, so the next node
                pval = next_node_in(task_il_prev(ctx, task), pol.nodes)
            else:
                return -errno.EINVAL, 0, 0
        else:
            pval = MPOL_DEFAULT if pol is None else pol.mode | (pol.flags & mpol_mode_flags(ctx))
        if pol is not None and mpol_store_user_nodemask(pol):
            nodes = pol.w.user_nodemask
        else:
            nodes = get_policy_nodemask(pol)
        return 0, pval, nodes
    finally:
        if locked:
            up_read(mm.mmap_lock)


def copy_nodes_to_user(ctx, nmask: list[int], maxnode: int, nodes: int) -> int:
    """Models: copy_nodes_to_user(): ALIGN(maxnode - 1, 64) / 8 bytes are written
    (the part past the kernel's mask zeroed); more than PAGE_SIZE past it: EINVAL."""
    copy = (((maxnode - 1) & ULONG_MAX) + 63) // 64 * 8 & ULONG_MAX
    nbytes = (nr_node_ids(ctx) + 63) // 64 * 8
    if copy > nbytes and copy > PAGE_SIZE:
        return -errno.EINVAL
    nmask[0] = nodes & ((1 << (copy * 8)) - 1)
    return 0


def kernel_get_mempolicy(ctx, task, policy: list[int] | None, nmask: list[int] | None,
                         maxnode: int, addr: int, flags: int) -> KernelPath[int]:
    """get_mempolicy(2): ``policy`` and ``nmask`` are one-element out-arrays (None is
    NULL). Models: kernel_get_mempolicy() (4.14: SYSCALL_DEFINE5(get_mempolicy)): a
    mask shorter than nr_node_ids (4.14: MAX_NUMNODES) is EINVAL before anything
    else. Returns 0 or -errno."""
    maxnode &= ULONG_MAX
    # both eras: "nmask != NULL && maxnode < <limit>" is the first check
    limit = (nr_node_ids(ctx) if ctx.profile.get_mempolicy_maxnode_nr_node_ids
             else MAX_NUMNODES)
    if nmask is not None and maxnode < limit:
        return -errno.EINVAL
    err, pval, nodes = yield from do_get_mempolicy(ctx, task, addr & ULONG_MAX,
                                                   flags & ULONG_MAX)
    if err:
        return err
    if policy is not None:
        policy[0] = pval
    if nmask is not None:
        return copy_nodes_to_user(ctx, nmask, maxnode, nodes)
    return 0


# ---------------------------------------------------------------- migrate_pages(2)
def migrate_to_node(ctx, mm: mm_struct, source: int, dest: int, flags: int) -> KernelPath[int]:
    """Move every page of ``mm`` that sits on ``source`` to ``dest`` (__GFP_THISNODE).

    Models: migrate_to_node(): walk the whole address space (holes allowed),
    migrate with new_node_page() (4.14) / alloc_migration_target() (6.x).
    Returns: the folios not moved (6.7+: including those the walk could not
    isolate, ``queue_pages_nr_failed``), or -ENOMEM.
    Context: 4.14: the caller holds mmap_lock for read; 6.x takes it for the walk.
    """
    # cycle: mm.migrate -> mm.huge_memory -> mm.mempolicy imports this module
    from thpsim.mm.migrate import (
        MIGRATE_SYNC,
        MR_SYSCALL,
        alloc_migration_target,
        migrate_pages,
        migration_target_control,
        putback_movable_pages,
    )

    prof = ctx.profile
    pagelist: list[int] = []
    if not mm.mmap:
        return 0
    if prof.queue_pages_nr_failed:
        yield from down_read(mm.mmap_lock)
        try:
            nr_failed = yield from queue_pages_range(mm, mm.mmap[0].vm_start, TASK_SIZE,
                                                     1 << source, flags | MPOL_MF_DISCONTIG_OK,
                                                     pagelist)
        finally:
            up_read(mm.mmap_lock)
    else:
        yield from queue_pages_range(mm, mm.mmap[0].vm_start, TASK_SIZE, 1 << source,
                                     flags | MPOL_MF_DISCONTIG_OK, pagelist)
        nr_failed = 0
    err = 0
    if pagelist:
        # exactly ``dest``, a THP as a THP (4.14's new_node_page() did the same)
        mtc = migration_target_control(dest, None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE,
                                       MR_SYSCALL)
        err = yield from migrate_pages(ctx, pagelist,
                                       lambda src: alloc_migration_target(ctx, src, mtc),
                                       MIGRATE_SYNC, MR_SYSCALL)
        if pagelist:
            putback_movable_pages(ctx, pagelist)
    if err >= 0:
        err += nr_failed
    return err


def do_migrate_pages(ctx, mm: mm_struct, from_: int, to: int, flags: int) -> KernelPath[int]:
    """Move the pages of ``mm`` from the nodes of ``from_`` to those of ``to``.

    Models: do_migrate_pages(): source s goes to node_remap(s, from, to); when the
    masks' weights differ, sources that are also in ``to`` stay; s == d is skipped.
    Each round takes the first pair whose destination is not a pending source (else
    the last moving pair) and moves that source whole, so no page moves twice.
    Returns: the total not moved, or the first -errno (-ENOMEM).
    Context: 4.14 holds mmap_lock for read throughout; 6.x per source (migrate_to_node).
    """

    if ctx.cost is not None:  # modeled time: migrate_prep() (lru_add_drain_all())
        ctx.cost.lru_add_drain_all(ctx.smp_processor_id())
    per_node_lock = ctx.profile.queue_pages_nr_failed
    busy = 0
    err = 0
    if not per_node_lock:
        yield from down_read(mm.mmap_lock)
    try:
        tmp = from_
        while tmp:
            source = NUMA_NO_NODE
            dest = 0
            for s in nodes_list(tmp):
                if nodes_weight(from_) != nodes_weight(to) and node_isset(s, to):
                    continue
                d = node_remap(s, from_, to)
                if s == d:
                    continue
                source, dest = s, d  # node moved: remember it
                if not node_isset(dest, tmp):
                    break  # dest is not a pending source: take this pair
            if source == NUMA_NO_NODE:
                break
            tmp &= ~(1 << source)
            err = yield from migrate_to_node(ctx, mm, source, dest, flags)
            if err > 0:
                busy += err
            if err < 0:
                break
    finally:
        if not per_node_lock:
            up_read(mm.mmap_lock)
    if err < 0:
        return err
    return busy


def _may_migrate_other(ctx, caller, task) -> bool:
    """4.14's rule: CAP_SYS_NICE, or the caller's real/effective uid matches the
    target's real/saved uid; 4.15+ (``migrate_pages_ptrace_check``):
    ptrace_may_access(PTRACE_MODE_READ_REALCREDS)."""

    if ctx.profile.migrate_pages_ptrace_check:
        return ptrace_may_access(caller, task, PTRACE_MODE_READ_REALCREDS)
    c, t = caller.cred, task.cred
    return (c.euid in (t.suid, t.uid) or c.uid in (t.suid, t.uid)
            or c.capable(CAP_SYS_NICE))


def kernel_migrate_pages(ctx, caller, pid: int, maxnode: int, old_nodes: int | None,
                         new_nodes: int | None) -> KernelPath[int]:
    """migrate_pages(2). Models: kernel_migrate_pages() (SYSCALL migrate_pages in 4.14),
    checks in the kernel's order: both masks (get_nodes()), the pid (ESRCH), the
    permission (EPERM), new_nodes inside the target's cpuset unless CAP_SYS_NICE
    (EPERM), new_nodes cut to the caller's cpuset (4.15+; 4.14: every new node must
    have memory) and empty -> EINVAL, no mm -> EINVAL. Moves shared pages only with
    CAP_SYS_NICE (MOVE_ALL). Returns the number of pages not moved, or -errno.
    """
    if ctx.cost is not None:  # modeled time: the system call's entry and exit
        ctx.cost.syscall(ctx.smp_processor_id())
    err, old = get_nodes(ctx, old_nodes, maxnode)
    if err:
        return err
    err, new = get_nodes(ctx, new_nodes, maxnode)
    if err:
        return err
    pid = c_int(pid)  # pid_t
    task = caller if pid == 0 else ctx.tasks.get(pid)
    if task is None:
        return -errno.ESRCH
    if not _may_migrate_other(ctx, caller, task):
        return -errno.EPERM
    task_nodes = cpuset_mems_allowed(ctx, task)
    if new & ~task_nodes and not caller.cred.capable(CAP_SYS_NICE):
        return -errno.EPERM
    if ctx.profile.migrate_pages_new_nodes_intersect:
        new &= cpuset_mems_allowed(ctx, caller)
        if not new:
            return -errno.EINVAL
    elif new & ~node_states_memory(ctx):
        return -errno.EINVAL
    mm = task.mm
    if mm is None or mm.dead:
        return -errno.EINVAL
    flags = MPOL_MF_MOVE_ALL if caller.cred.capable(CAP_SYS_NICE) else MPOL_MF_MOVE
    return (yield from do_migrate_pages(ctx, mm, old, new, flags))


# ---------------------------------------------------------------- NUMA balancing
def change_prot_numa(vma: vm_area_struct, addr: int, end: int) -> KernelPath[int]:
    """Make the present PTEs and huge PMDs of ``addr..end`` PROT_NONE hinting entries.

    Models: mm/mempolicy.c change_prot_numa() (4.14 and 6.x): change_protection() with
    PAGE_NONE and MM_CP_PROT_NUMA (mm/mprotect.py: which entries are skipped), and
    numa_pte_updates counted by the entries changed (a huge PMD 512; change_pmd_range()
    counts numa_huge_pte_updates). Context: mmap_lock held for read.
    Preempts: in change_protection(). Returns: the entries changed.
    """
    # mm/mprotect.py imports mm/mmap.py -> mm/memory.py -> this file
    # cycle: mprotect -> mmap -> memory -> mempolicy
    from thpsim.mm.mprotect import change_protection

    nr_updated = yield from change_protection(vma, addr, end, PAGE_NONE, prot_numa=True)
    if nr_updated > 0:
        vma.vm_mm.kernel.vmstat.count_vm_events(NUMA_PTE_UPDATES, nr_updated)
    return nr_updated


def mpol_misplaced(ctx, head: int, vma: vm_area_struct, addr: int) -> int:
    """The node a folio hit by a NUMA hinting fault should move to, or NUMA_NO_NODE.

    Models: mm/mempolicy.c mpol_misplaced(), 4.14 and 6.x, for the policies that can
    be migrate-on-fault (MPOL_F_MOF): the default policy (local; MPOL_F_MORON), and
    5.12+ MPOL_BIND or MPOL_PREFERRED_MANY with MPOL_F_NUMA_BALANCING (BIND: only when
    the faulting CPU's node is in the mask; PREFERRED_MANY: only when the folio is off
    the mask). Under MPOL_F_MORON the target is the faulting CPU's node, if
    should_numa_migrate_memory() agrees. Any other policy: NUMA_NO_NODE.
    Context: current is the faulting task. Preempts: never.
    Simplified: no shared policies; the per-node preferred_node_policy[] is the
    default policy.
    """
    order = ctx.pages.order[head] if ctx.pages.flags[head] & F_head else 0
    pol, _ilx = get_vma_policy(ctx, vma, addr, order)
    curnid = ctx.mem.pfn_to_nid(head)
    thiscpu = ctx.smp_processor_id()
    thisnid = ctx.cpu_to_node(thiscpu)
    if pol is None:
        flags = MPOL_F_MOF | MPOL_F_MORON  # default_policy / preferred_node_policy[]
    else:
        flags = pol.flags
        if not flags & MPOL_F_MOF:
            return NUMA_NO_NODE
        if pol.mode == MPOL_BIND and not node_isset(thisnid, pol.nodes):
            return NUMA_NO_NODE
        if pol.mode == MPOL_PREFERRED_MANY and node_isset(curnid, pol.nodes):
            return NUMA_NO_NODE
    polnid = thisnid
    if flags & MPOL_F_MORON:
        if not should_numa_migrate_memory(ctx, ctx.current, head, curnid, thiscpu):
            return NUMA_NO_NODE
    return polnid if curnid != polnid else NUMA_NO_NODE


__all__ = [
    "change_prot_numa",
    "mpol_misplaced",
    "mempolicy",
    "mpol_to_str",
    "mpol_equal",
    "get_task_policy",
    "get_vma_policy",
    "alloc_pages_vma",
    "alloc_pages_mpol",
    "kernel_mbind",
    "kernel_set_mempolicy",
    "kernel_get_mempolicy",
    "kernel_migrate_pages",
    "do_migrate_pages",
]
