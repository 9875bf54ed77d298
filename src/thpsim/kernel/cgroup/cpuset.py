"""The cpuset controller and the cgroup core it needs: nested cgroups, cpus and mems,
task cpus_allowed/mems_allowed, policy rebinding and page migration, with the cgroup
files.

Models: kernel/cgroup/cpuset.c (update_cpumask, update_cpumasks_hier,
update_nodemask, update_nodemasks_hier, validate_change, update_tasks_nodemask /
cpuset_change_task_nodemask, cpuset_migrate_mm, cpuset_can_attach / cpuset_attach,
cpuset_css_alloc / cpuset_css_online, cpuset_write_resmask), kernel/cgroup/cgroup.c
(cgroup_subtree_control_write, cgroup_vet_subtree_control_enable,
cgroup_can_be_thread_root, cgroup_migrate_vet_dst, cgroup_update_dfl_csses,
__cgroup_procs_write, cgroup_mkdir, cgroup_destroy_locked), mm/mempolicy.c
(mpol_rebind_policy, mpol_rebind_nodemask, mpol_rebind_mm); v4.14 for cgroup v1 and
mainline (7.2) for v2. The profile switch ``cpuset_cgroup_v2`` picks the hierarchy:

* v2 (mainline): mounted at /sys/fs/cgroup; cgroups nest to any depth. A cgroup has
  the cpuset controller (its files and its own css) when its parent lists it in
  ``cgroup.subtree_control`` (the root always has it); ``+cpuset`` needs the
  controller in the cgroup itself (ENOENT), ``-cpuset`` fails while a child still
  enables it for its own children (EBUSY). Tasks of a cgroup without the controller
  follow the nearest ancestor's cpuset. Every cgroup has cgroup.procs,
  cgroup.controllers and cgroup.subtree_control; with the controller a child also has
  cpuset.cpus, cpuset.mems and their .effective files (the root only the .effective
  ones). Effective = configured AND parent's effective, the parent's when that is
  empty (empty configured masks inherit), recomputed down the tree on every change.
  The migrate flag is always on. cgroup.procs obeys the no-internal-process rule
  (cgroup_migrate_vet_dst: EBUSY when the cgroup enables a controller for its
  children and one of them has tasks; the root and, cpuset being a threaded
  controller, a cgroup that may still become a thread root are exempt).
* v1 (seed): mounted at /sys/fs/cgroup/cpuset; cpusets nest to any depth; a new
  cpuset has empty cpuset.cpus and cpuset.mems; the top cpuset's are read-only
  (EACCES); a child's masks must stay within its parent's (EACCES) and a parent may
  not drop what a child uses (EBUSY); a cpuset with tasks may not become empty
  (ENOSPC); attaching to a cpuset with no cpus or no mems is ENOSPC;
  effective = configured; cpuset.memory_migrate (0 by default), tasks (one thread)
  and cgroup.procs (a thread group).

Changing mems or attaching sets every moved task's mems_allowed and cpus_allowed,
rebinds the task's and (for a thread-group leader) every VMA's policy, and, with the
migrate flag, migrates the mm with do_migrate_pages(old, new, MPOL_MF_MOVE_ALL)
before the write returns (the workqueue is flushed). Failures are not reported to
the writer.

Simplified: struct cgroup and its cpuset css are one object (``online`` says whether
the css exists); cpuset is the only controller (cgroup.controllers lists it or
nothing; other controller names are EINVAL); no threaded cgroups (cgroup.type is
read-only: domain, domain threaded or domain invalid; no cgroup.threads),
cgroup.events or max.depth; no exclusive or partition files, no
sched_load_balance, memory_pressure, spread or clone_children files; no hotplug of
CPUs or nodes into cpusets (the top cpuset's cpus and mems are the online CPUs and
the nodes with memory at boot); a task is bound to its one simulated CPU:
``cpus_allowed`` is recorded on the task (set_cpus_allowed_ptr()) but never moves it
to another CPU; node and CPU lists take ``a`` and ``a-b`` items (no ``a-b:g/n``
groups, no ``N``); v1 attach does not check the writer's euid; the task-to-cgroup
link is a table keyed by thread id (``css_of``; the kernel's task->cgroups),
filled at fork by cgroup_post_fork(); cgroup_mutex and cpus_read_lock are
folded into cpuset_mutex, so attach_in_progress is never seen; when a
subtree_control write re-homes tasks, cpuset_attach() runs once per destination css
(the kernel passes one taskset whose first task names the source and destination);
policies are rebound by replacing the immutable mempolicy objects (shared ones stay
shared).
"""

from __future__ import annotations

import errno
import os
from typing import Any

from thpsim.fs.proc.internal import run_as_opener
from thpsim.hw.memory import MAX_NUMNODES
from thpsim.kernel.locking import mutex_lock, mutex_unlock
from thpsim.kernel.sched import KernelPath
from thpsim.lib.kstrtox import kstrtoll, kstrtoull
from thpsim.mm.gfp import __GFP_HARDWALL

__all__ = ["cpuset", "cpuset_hierarchy", "update_nodemask", "update_cpumask",
           "cpusets_enabled", "cpuset_zone_allowed", "cpuset_nodemask_valid_mems_allowed",
           "cpuset_attach", "cpuset_write_resmask", "cgroup_attach_task",
           "cgroup_subtree_control_write", "FILE_CPULIST", "FILE_MEMLIST", "register"]

V2_ROOT = "/sys/fs/cgroup"
V1_ROOT = "/sys/fs/cgroup/cpuset"

#: kernel/cgroup/cpuset.c cpuset_filetype_t: which mask cpuset_write_resmask() writes
FILE_CPULIST = 1
FILE_MEMLIST = 2
#: the only controller: the name in cgroup.controllers and cgroup.subtree_control
CPUSET_NAME = "cpuset"


class cpuset:
    """One cgroup and its cpuset css.

    Models: struct cgroup (``parent``, ``children``, ``subtree_control``: whether it
    enables cpuset for its children) and struct cpuset: ``cpus_allowed`` /
    ``mems_allowed`` as configured, ``effective_cpus`` / ``effective_mems``,
    ``old_mems_allowed``, CS_MEMORY_MIGRATE as ``memory_migrate``, CS_ONLINE as
    ``online`` (v2: the parent enables cpuset; False: no css, the masks mean nothing).
    """

    __slots__ = ("name", "parent", "children", "path", "online", "subtree_control",
                 "cpus_allowed", "effective_cpus", "mems_allowed", "effective_mems",
                 "old_mems_allowed", "memory_migrate")

    def __init__(self, name: str, parent: cpuset | None, path: str):
        self.name = name
        self.parent = parent
        self.children: dict[str, cpuset] = {}
        self.path = path
        self.online = False
        self.subtree_control = False
        self.cpus_allowed = 0
        self.effective_cpus = 0
        self.mems_allowed = 0
        self.effective_mems = 0
        self.old_mems_allowed = 0
        self.memory_migrate = False

    def __repr__(self) -> str:
        if not self.online:
            return f"<cgroup {self.path} (no cpuset)>"
        return (f"<cpuset {self.path} cpus {self.effective_cpus:#x} "
                f"mems {self.effective_mems:#x}>")


class cpuset_hierarchy:
    """Model-only: one mounted cpuset hierarchy (the root cgroup and the task links)."""

    def __init__(self, ctx: Any, v2: bool, root_path: str):
        self.ctx = ctx
        self.v2 = v2
        self.top = cpuset("", None, root_path)
        top = self.top
        top.online = True
        top.cpus_allowed = top.effective_cpus = _online_cpus(ctx)
        top.mems_allowed = top.effective_mems = top.old_mems_allowed = _all_mems(ctx)
        top.memory_migrate = v2
        #: thread id -> its cgroup (absent: the root)
        self.css_of: dict[int, cpuset] = {}
        #: cpuset_migrate_mm_wq: (mm, from, to) queued under cpuset_mutex
        self.migrate_work: list[tuple[Any, int, int]] = []

    # ---- task links (task->cgroups)
    def task_cgroup(self, task) -> cpuset:
        """The cgroup the task is in (task_dfl_cgroup())."""
        return self.css_of.get(task.pid, self.top)

    def task_cs(self, task) -> cpuset:
        """Models: task_cs(): the css the task uses: its cgroup's, or (v2) the nearest
        ancestor's that has the controller."""
        return task_css(self.task_cgroup(task))

    def tasks_of(self, cs: cpuset) -> list:
        """The tasks whose cpuset is ``cs`` (css_task_iter over the css)."""
        return [t for t in self.ctx.tasks.values() if self.task_cs(t) is cs]

    def cgroup_tasks(self, cg: cpuset) -> list:
        """The tasks in the cgroup itself (its cgroup.procs and tasks files)."""
        return [t for t in self.ctx.tasks.values() if self.task_cgroup(t) is cg]

    def cgroup_has_tasks(self, cg: cpuset) -> bool:
        """Models: cgroup_has_tasks() (nr_populated_csets)."""
        return any(self.task_cgroup(t) is cg for t in self.ctx.tasks.values())

    def cgroup_is_populated(self, cg: cpuset) -> bool:
        """Models: cgroup_is_populated(): tasks in the cgroup or any descendant."""
        return any(_is_descendant(self.task_cgroup(t), cg) for t in self.ctx.tasks.values())

    def nr_populated_domain_children(self, cg: cpuset) -> int:
        """Models: cgroup->nr_populated_domain_children (every cgroup is a domain)."""
        return sum(1 for c in cg.children.values() if self.cgroup_is_populated(c))


def cgroup_post_fork(ctx: Any, parent: Any, child: Any) -> None:
    """A new task (fork or thread) starts in its parent's cgroup, with its masks.

    Models: cgroup_post_fork() (the child joins the parent's css_set) and the copy of
    cpus_allowed/mems_allowed in dup_task_struct(); cpuset_fork() changes nothing
    more when the cpuset is the parent's.
    """
    child.cpus_allowed = parent.cpus_allowed
    child.mems_allowed = parent.mems_allowed
    h = ctx.cpuset_hierarchy
    if h is None:
        return
    cg = h.css_of.get(parent.pid)
    if cg is not None:
        h.css_of[child.pid] = cg


def task_css(cg: cpuset) -> cpuset:
    """Model-only: the css a cgroup's tasks use (cgroup_e_css()): the cgroup's own, or
    the nearest ancestor's."""
    while not cg.online:
        assert cg.parent is not None
        cg = cg.parent
    return cg


def _is_descendant(cg: cpuset, ancestor: cpuset) -> bool:
    """Models: cgroup_is_descendant() (a cgroup is its own descendant)."""
    c: cpuset | None = cg
    while c is not None:
        if c is ancestor:
            return True
        c = c.parent
    return False


def _all_mems(ctx) -> int:
    """node_states[N_MEMORY] as a mask."""
    from thpsim.mm.mempolicy import node_states_memory as n_memory

    return n_memory(ctx)


def _online_cpus(ctx) -> int:
    """cpu_active_mask at boot: the online CPUs."""
    mask = 0
    for c in ctx.cpus:
        if c.online:
            mask |= 1 << c.cpu
    return mask


def _possible_cpus(ctx) -> int:
    """cpu_possible_mask: every CPU of the machine."""
    return (1 << len(ctx.cpus)) - 1


def _subset(a: int, b: int) -> bool:
    """nodes_subset() / cpumask_subset()."""
    return a & ~b == 0


# ---------------------------------------------------------------- the allocator's checks
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


# ---------------------------------------------------------------- policy rebinding
def nodes_remap(src: int, old: int, new: int) -> int:
    """Models: nodes_remap() (bitmap_remap): each set bit by its position in ``old``."""
    from thpsim.mm.mempolicy import node_remap, nodes_list

    out = 0
    for n in nodes_list(src):
        out |= 1 << node_remap(n, old, new)
    return out


def mpol_rebind_policy(pol, newmask: int):
    """Models: mm/mempolicy.c mpol_rebind_policy() -> mpol_rebind_nodemask() /
    mpol_rebind_preferred(). Returns the rebound policy (a new object: policies are
    immutable once attached), or ``pol`` when nothing changes."""
    from thpsim.mm.mempolicy import (
        MPOL_DEFAULT,
        MPOL_F_LOCAL,
        MPOL_F_RELATIVE_NODES,
        MPOL_F_STATIC_NODES,
        MPOL_LOCAL,
        MPOL_PREFERRED,
        first_node,
        mempolicy,
        mempolicy_w,
        mpol_relative_nodemask,
    )

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
    from thpsim.kernel.locking import down_write, up_write

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


def cpuset_change_task_nodemask(task, newmems: int) -> None:
    """Models: cpuset_change_task_nodemask(): mems_allowed grown then shrunk (never
    empty), the task policy rebound (mpol_rebind_task)."""
    task.mems_allowed = newmems
    task.mempolicy = mpol_rebind_policy(task.mempolicy, newmems)


def set_cpus_allowed_ptr(task, new_mask: int) -> None:
    """Models: kernel/sched/core.c set_cpus_allowed_ptr(), recording only.

    Simplified: the task keeps running on its one simulated CPU (``task.cpu``) even if
    ``new_mask`` excludes it; the kernel would migrate it (move_queued_task()).
    """
    task.cpus_allowed = new_mask


def _get_task_mm(task):
    """Models: get_task_mm(): the task's mm with a user reference (mmget), or None when
    it has none or is exiting (exit_mm() clears task->mm before the last mmput())."""
    mm = task.mm
    if mm is None or mm.dead or mm.mm_users <= 0:
        return None
    mm.mm_users += 1
    return mm


def _mmput(mm) -> KernelPath[None]:
    """mmput() of a reference the cpuset code took; the last one tears the mm down, and
    what check_mm() reports is a model failure."""
    from thpsim.errors import KernelBug
    from thpsim.kernel.fork import mmput

    leaks = yield from mmput(mm)
    if leaks:
        raise KernelBug("; ".join(leaks))


def cpuset_migrate_mm(h: cpuset_hierarchy, mm, from_: int, to: int) -> KernelPath[None]:
    """Queue the migration of ``mm`` from ``from_`` to ``to``; the work owns the
    caller's mm reference.

    Models: cpuset_migrate_mm(): the work goes to cpuset_migrate_mm_wq, to run after
    cpuset_mutex is dropped (:func:`cpuset_post_attach`), and drops the reference
    when done. Recent kernels skip the work (and drop it at once) when old == new.
    """
    if from_ == to:
        yield from _mmput(mm)
        return
    h.migrate_work.append((mm, from_, to))


def cpuset_post_attach(h: cpuset_hierarchy) -> KernelPath[None]:
    """Run the queued migrations and wait for them: the write returns after the pages
    moved.

    Models: cpuset_post_attach() / the flush_workqueue(cpuset_migrate_mm_wq) at the end
    of cpuset_write_resmask(), and cpuset_migrate_mm_workfn():
    do_migrate_pages(MPOL_MF_MOVE_ALL), errors dropped, then mmput(). The reference
    keeps the mm whole even if its last task exits meanwhile. Simplified: the writer
    runs the work itself instead of waiting for the ordered workqueue's worker.
    Context: no cpuset locks. Preempts: in the migrations.
    """
    from thpsim.mm.mempolicy import MPOL_MF_MOVE_ALL, do_migrate_pages

    while h.migrate_work:
        mm, from_, to = h.migrate_work.pop(0)
        yield from do_migrate_pages(h.ctx, mm, from_, to, MPOL_MF_MOVE_ALL)
        yield from _mmput(mm)


def is_memory_migrate(h: cpuset_hierarchy, cs: cpuset) -> bool:
    """Models: is_memory_migrate(): CS_MEMORY_MIGRATE, set for every v2 css at
    cpuset_css_alloc()."""
    return h.v2 or cs.memory_migrate


# ---------------------------------------------------------------- effective masks
def _compute_effective(h: cpuset_hierarchy, cs: cpuset, configured: int,
                       parent_effective: int) -> int:
    """Models: the masks of update_cpumasks_hier() / update_nodemasks_hier():
    configured AND parent's effective; v2: the parent's when that is empty; v1: the
    configured mask (a subset of the parent's)."""
    if cs.parent is None:
        return configured
    new = configured & parent_effective
    if h.v2 and not new:
        new = parent_effective
    return new


def _css_children(cs: cpuset) -> list[cpuset]:
    """cpuset_for_each_child(): the online child csses."""
    return [c for c in cs.children.values() if c.online]


def _cpus_attach(h: cpuset_hierarchy, cs: cpuset) -> int:
    """The mask set_cpus_allowed_ptr() gets: the top cpuset gives every possible CPU,
    another its effective CPUs (guarantee_online_cpus())."""
    return _possible_cpus(h.ctx) if cs is h.top else cs.effective_cpus


def update_tasks_cpumask(h: cpuset_hierarchy, cs: cpuset) -> None:
    """Models: update_tasks_cpumask(): every task of the css gets its CPUs."""
    mask = _cpus_attach(h, cs)
    for task in h.tasks_of(cs):
        set_cpus_allowed_ptr(task, mask)


def update_cpumasks_hier(h: cpuset_hierarchy, cs: cpuset) -> None:
    """Models: update_cpumasks_hier(): effective CPUs recomputed top-down (pre-order)
    from ``cs``; a cpuset whose effective CPUs stay the same skips its subtree; the
    tasks of every other one get the new CPUs.
    Context: cpuset_mutex held. Preempts: never."""
    stack = [cs]
    while stack:
        cp = stack.pop()
        parent_eff = cp.parent.effective_cpus if cp.parent is not None else 0
        new = _compute_effective(h, cp, cp.cpus_allowed, parent_eff)
        if new == cp.effective_cpus:
            continue  # css_rightmost_descendant(): nothing below changes either
        cp.effective_cpus = new
        update_tasks_cpumask(h, cp)
        stack.extend(reversed(_css_children(cp)))


def update_tasks_nodemask(h: cpuset_hierarchy, cs: cpuset) -> KernelPath[None]:
    """Models: update_tasks_nodemask(): every task gets the new mems; each mm (once:
    mpol_rebind_mm() is idempotent) is rebound and, with the migrate flag, migrated
    from the cpuset's old mems. Preempts: in mpol_rebind_mm()."""
    newmems = cs.effective_mems
    seen: set[int] = set()
    for task in h.tasks_of(cs):
        cpuset_change_task_nodemask(task, newmems)
        if task.mm is None or task.mm.mm_id in seen:
            continue
        mm = _get_task_mm(task)
        if mm is None:
            continue
        seen.add(mm.mm_id)
        yield from mpol_rebind_mm(mm, newmems)
        if is_memory_migrate(h, cs):
            yield from cpuset_migrate_mm(h, mm, cs.old_mems_allowed, newmems)
        else:
            yield from _mmput(mm)
    cs.old_mems_allowed = newmems


def update_nodemasks_hier(h: cpuset_hierarchy, cs: cpuset) -> KernelPath[None]:
    """Models: update_nodemasks_hier(): effective mems recomputed top-down (pre-order)
    from ``cs``; a cpuset whose effective mems stay the same skips its subtree; the
    tasks of every other one are updated. Preempts: in the task updates."""
    stack = [cs]
    while stack:
        cp = stack.pop()
        parent_eff = cp.parent.effective_mems if cp.parent is not None else 0
        new = _compute_effective(h, cp, cp.mems_allowed, parent_eff)
        if new == cp.effective_mems:
            continue  # css_rightmost_descendant()
        cp.effective_mems = new
        yield from update_tasks_nodemask(h, cp)
        stack.extend(reversed(_css_children(cp)))


# ---------------------------------------------------------------- validation
def is_cpuset_subset(p: cpuset, q: cpuset) -> bool:
    """Models: is_cpuset_subset(): p's CPUs and nodes within q's (no exclusive flags)."""
    return _subset(p.cpus_allowed, q.cpus_allowed) and _subset(p.mems_allowed,
                                                                q.mems_allowed)


def alloc_trial_cpuset(cs: cpuset) -> cpuset:
    """Models: alloc_trial_cpuset(): an unlinked copy of ``cs``'s masks."""
    trial = cpuset(cs.name, cs.parent, cs.path)
    trial.online = cs.online
    trial.cpus_allowed, trial.mems_allowed = cs.cpus_allowed, cs.mems_allowed
    trial.effective_cpus, trial.effective_mems = cs.effective_cpus, cs.effective_mems
    return trial


def validate_change(h: cpuset_hierarchy, cur: cpuset, trial: cpuset) -> int:
    """Would ``trial``'s masks keep the hierarchy's rules?

    Models: validate_change() with validate_change_legacy() / cpuset1_validate_change():
    v1 only (4.14): every child within the trial (EBUSY), the trial within the parent
    (EACCES), a cpuset with tasks keeps some CPUs and some nodes (ENOSPC). v2 has no
    such rules (mainline moved the ENOSPC check to v1: the 7.2 oracle empties the mems
    of a populated cgroup). The exclusive-flag checks are not modelled.
    Returns: 0 or -errno.
    """
    if h.v2:
        return 0
    for c in _css_children(cur):
        if not is_cpuset_subset(c, trial):
            return -errno.EBUSY
    if cur is h.top:
        return 0
    assert cur.parent is not None
    if not is_cpuset_subset(trial, cur.parent):
        return -errno.EACCES
    if h.cgroup_is_populated(cur):
        if cur.cpus_allowed and not trial.cpus_allowed:
            return -errno.ENOSPC
        if cur.mems_allowed and not trial.mems_allowed:
            return -errno.ENOSPC
    return 0


def bitmap_parselist(buf: str, nmaskbits: int) -> int:
    """Models: lib/bitmap.c bitmap_parselist(): ``0-2,5`` as a mask, or -EINVAL (not a
    list) / -ERANGE (a number at or beyond ``nmaskbits``)."""
    mask = 0
    for part in buf.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isascii() or not lo.isdigit() or sep and not (hi.isascii() and hi.isdigit()):
            return -errno.EINVAL
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            return -errno.EINVAL
        if b >= nmaskbits:
            return -errno.ERANGE
        mask |= ((1 << (b - a + 1)) - 1) << a
    return mask


def update_cpumask(h: cpuset_hierarchy, cs: cpuset, trialcs: cpuset, buf: str) -> int:
    """A write to cpuset.cpus.

    Models: update_cpumask(): the top cpuset -EACCES; empty clears; cpulist_parse()
    over nr_cpu_ids (-EINVAL / -ERANGE); CPUs outside the top cpuset's -EINVAL; the
    same value: nothing to do; validate_change(); then update_cpumasks_hier().
    Context: cpuset_mutex held. Preempts: never. Returns 0 or -errno.
    """
    if cs is h.top:
        return -errno.EACCES
    if not buf:
        trialcs.cpus_allowed = 0
    else:
        mask = bitmap_parselist(buf, len(h.ctx.cpus))
        if mask < 0:
            return mask
        if not _subset(mask, h.top.cpus_allowed):
            return -errno.EINVAL
        trialcs.cpus_allowed = mask
    if trialcs.cpus_allowed == cs.cpus_allowed:
        return 0
    ret = validate_change(h, cs, trialcs)
    if ret < 0:
        return ret
    cs.cpus_allowed = trialcs.cpus_allowed
    update_cpumasks_hier(h, cs)
    return 0


def update_nodemask(h: cpuset_hierarchy, cs: cpuset, trialcs: cpuset,
                    buf: str) -> KernelPath[int]:
    """A write to cpuset.mems.

    Models: update_nodemask(): v1 top cpuset -EACCES; empty clears; nodelist_parse()
    over MAX_NUMNODES (-EINVAL / -ERANGE); nodes outside the top cpuset's -EINVAL; the
    same value: nothing to do; validate_change(); then update_nodemasks_hier().
    Context: cpuset_mutex held. Preempts: in the task updates. Returns 0 or -errno.
    """
    if cs is h.top:
        return -errno.EACCES
    if not buf:
        trialcs.mems_allowed = 0
    else:
        mask = bitmap_parselist(buf, MAX_NUMNODES)
        if mask < 0:
            return mask
        if not _subset(mask, h.top.mems_allowed):
            return -errno.EINVAL
        trialcs.mems_allowed = mask
    if trialcs.mems_allowed == cs.mems_allowed:
        return 0
    ret = validate_change(h, cs, trialcs)
    if ret < 0:
        return ret
    cs.mems_allowed = trialcs.mems_allowed
    yield from update_nodemasks_hier(h, cs)
    return 0


def cpuset_write_resmask(h: cpuset_hierarchy, cs: cpuset, buf: str,
                         private: int = FILE_MEMLIST) -> KernelPath[int]:
    """A write to cpuset.mems (``FILE_MEMLIST``) or cpuset.cpus (``FILE_CPULIST``).

    Models: cpuset_write_resmask(): strstrip(), a trial cpuset, update_nodemask() or
    update_cpumask() under cpuset_mutex, then the queued migrations flushed
    (:func:`cpuset_post_attach`).
    Returns 0 or -errno. Preempts: taking the locks, in the migrations.
    """
    ctx = h.ctx
    buf = buf.strip()
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        ctx.bug_on(not cs.online, f"cpuset_write_resmask on {cs!r}")
        trialcs = alloc_trial_cpuset(cs)
        if private == FILE_CPULIST:
            ret = update_cpumask(h, cs, trialcs, buf)
        else:
            ret = yield from update_nodemask(h, cs, trialcs, buf)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    yield from cpuset_post_attach(h)
    return ret


# ---------------------------------------------------------------- attach
def cpuset_can_attach(h: cpuset_hierarchy, cs: cpuset) -> int:
    """Models: cpuset_can_attach() / cpuset_can_attach_check(): v1: a cpuset without
    CPUs or without nodes takes no task (-ENOSPC); v2: only empty effective CPUs
    refuse (a partition, not modelled). Returns 0 or -errno."""
    if not cs.effective_cpus:
        return -errno.ENOSPC
    if not h.v2 and not cs.mems_allowed:
        return -errno.ENOSPC
    return 0


def cpuset_attach(h: cpuset_hierarchy, cs: cpuset, tasks: list,
                  oldcs: cpuset) -> KernelPath[None]:
    """Give ``tasks`` (threads now in ``cs``, coming from ``oldcs``) their new CPUs and
    nodes.

    Models: cpuset_attach(): v2 with neither effective CPUs nor effective mems
    changed: nothing but old_mems_allowed; else each thread gets the CPUs
    (set_cpus_allowed_ptr()) and nodes; for each thread-group leader the mm's policies
    are rebound and, if the destination has the migrate flag, the mm migrates from the
    old cpuset's old_mems_allowed to the destination's effective mems (MOVE_ALL).
    Context: cpuset_mutex held. Preempts: in mpol_rebind_mm().
    """
    cpus_updated = cs.effective_cpus != oldcs.effective_cpus
    mems_updated = cs.effective_mems != oldcs.effective_mems
    to = cs.effective_mems
    if h.v2 and not cpus_updated and not mems_updated:
        cs.old_mems_allowed = to  # cgroup v2: nothing to update
        return
    cpus = _cpus_attach(h, cs)
    for task in tasks:
        set_cpus_allowed_ptr(task, cpus)
        cpuset_change_task_nodemask(task, to)
    for leader in tasks:
        if leader.pid != leader.tgid:
            continue  # only the leader carries the mm's memory
        mm = _get_task_mm(leader)
        if mm is None:
            continue
        yield from mpol_rebind_mm(mm, to)
        if is_memory_migrate(h, cs):
            yield from cpuset_migrate_mm(h, mm, oldcs.old_mems_allowed, to)
        else:
            yield from _mmput(mm)
    cs.old_mems_allowed = to


def cgroup_can_be_thread_root(h: cpuset_hierarchy, cg: cpuset) -> bool:
    """Models: cgroup_can_be_thread_root(): the root always; another cgroup if none of
    its children has tasks (nr_populated_domain_children) and it enables no domain
    controller for them (cpuset is a threaded controller, the only one here)."""
    if cg.parent is None:
        return True  # cgroup_is_mixable()
    return h.nr_populated_domain_children(cg) == 0


def cgroup_is_thread_root(h: cpuset_hierarchy, cg: cpuset) -> bool:
    """Models: cgroup_is_thread_root(): a cgroup with tasks that enables a threaded
    controller (cpuset) for its children has become a thread root (no cgroup is
    threaded in the model, so nr_threaded_children is 0)."""
    return cg.subtree_control and h.cgroup_has_tasks(cg)


def cgroup_is_valid_domain(h: cpuset_hierarchy, cg: cpuset) -> bool:
    """Models: cgroup_is_valid_domain(): no ancestor but the (mixable) root is a thread
    root. Below a thread root, cgroups are ``domain invalid`` and take no tasks."""
    anc = cg.parent
    while anc is not None:
        if anc.parent is not None and cgroup_is_thread_root(h, anc):
            return False
        anc = anc.parent
    return True


def cgroup_type_show(h: cpuset_hierarchy, cg: cpuset) -> str:
    """Models: cgroup_type_show(): ``domain``, ``domain threaded`` (a thread root) or
    ``domain invalid``; ``threaded`` cgroups are not modelled."""
    if not cgroup_is_valid_domain(h, cg):
        return "domain invalid\n"
    if cg.parent is not None and cgroup_is_thread_root(h, cg):
        return "domain threaded\n"
    return "domain\n"


def cgroup_migrate_vet_dst(h: cpuset_hierarchy, dst: cpuset) -> int:
    """Models: cgroup_migrate_vet_dst(): v1 has no rule; v2: a cgroup below a thread
    root cannot host tasks (-EOPNOTSUPP, the 7.2 oracle), then the
    no-internal-process constraint: a cgroup that enables a controller for its
    children takes no task (-EBUSY) unless it can be a thread root.
    Returns 0 or -errno."""
    if not h.v2:
        return 0
    if not cgroup_is_valid_domain(h, dst):
        return -errno.EOPNOTSUPP
    if cgroup_can_be_thread_root(h, dst):
        return 0
    if dst.subtree_control:
        return -errno.EBUSY
    return 0


def _cgroup_migrate(h: cpuset_hierarchy, cg: cpuset, tasks: list) -> KernelPath[int]:
    """Move ``tasks`` into cgroup ``cg``. Models: cgroup_migrate() ->
    cgroup_migrate_execute(): tasks already there are no part of the taskset; with
    any left, cpuset_can_attach() then cpuset_attach() (the source: the first task's
    css). Context: cpuset_mutex held. Preempts: in cpuset_attach()."""
    moving = [t for t in tasks if h.task_cgroup(t) is not cg]
    if not moving:
        return 0
    cs = task_css(cg)
    ret = cpuset_can_attach(h, cs)
    if ret:
        return ret
    oldcs = h.task_cs(moving[0])
    for task in moving:
        if cg is h.top:
            h.css_of.pop(task.pid, None)
        else:
            h.css_of[task.pid] = cg
    yield from cpuset_attach(h, cs, moving, oldcs)
    return 0


def cgroup_attach_task(h: cpuset_hierarchy, cg: cpuset, tasks: list) -> KernelPath[int]:
    """A write to ``tasks`` or ``cgroup.procs``: move ``tasks`` into ``cg``.

    Models: __cgroup_procs_write() -> cgroup_attach_permissions()'s
    cgroup_migrate_vet_dst() (v2) and cgroup_attach_task() -> cpuset_can_attach() +
    cpuset_attach() under cpuset_mutex, then cpuset_post_attach().
    Returns 0 or -errno. Preempts: taking the lock, in the migrations.
    """
    ctx = h.ctx
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        ret = cgroup_migrate_vet_dst(h, cg)
        if ret == 0:
            ret = yield from _cgroup_migrate(h, cg, tasks)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    yield from cpuset_post_attach(h)
    return ret


# ---------------------------------------------------------------- cgroup core (v2)
def cpuset_css_online(h: cpuset_hierarchy, cs: cpuset) -> None:
    """A new css for cgroup ``cs``: empty configured masks.

    Models: cpuset_css_alloc() (CS_MEMORY_MIGRATE on v2) and cpuset_css_online()
    (v2: the parent's effective CPUs and mems; v1: empty until written).
    """
    assert cs.parent is not None
    cs.online = True
    cs.cpus_allowed = cs.mems_allowed = cs.old_mems_allowed = 0
    cs.memory_migrate = h.v2
    if h.v2:
        cs.effective_cpus = cs.parent.effective_cpus
        cs.effective_mems = cs.parent.effective_mems
    else:
        cs.effective_cpus = cs.effective_mems = 0


def cpuset_css_offline(cs: cpuset) -> None:
    """Models: cpuset_css_offline() and the css's release: the masks are gone."""
    cs.online = False
    cs.cpus_allowed = cs.mems_allowed = cs.old_mems_allowed = 0
    cs.effective_cpus = cs.effective_mems = 0


def cgroup_vet_subtree_control_enable(h: cpuset_hierarchy, cg: cpuset) -> int:
    """Models: cgroup_vet_subtree_control_enable() for a threaded controller: allowed
    where the cgroup can be a thread root, else not while it has tasks (-EBUSY).
    Returns 0 or -errno."""
    if cgroup_can_be_thread_root(h, cg):
        return 0
    if h.cgroup_has_tasks(cg):
        return -errno.EBUSY
    return 0


def cgroup_update_dfl_csses(h: cpuset_hierarchy, cg: cpuset,
                            before: dict[int, cpuset]) -> KernelPath[None]:
    """Re-home the tasks below ``cg`` whose css changed when its subtree_control did.

    Models: cgroup_update_dfl_csses() -> cgroup_migrate_execute() -> cpuset_attach(),
    one call per destination css (see the module's Simplified).
    Context: cpuset_mutex held. Preempts: in cpuset_attach().
    """
    groups: dict[int, tuple[cpuset, cpuset, list]] = {}
    for task in h.ctx.tasks.values():
        old = before.get(task.pid)
        if old is None:
            continue
        new = h.task_cs(task)
        if new is old:
            continue
        if id(new) not in groups:
            groups[id(new)] = (new, old, [])
        groups[id(new)][2].append(task)
    for new, old, tasks in groups.values():
        yield from cpuset_attach(h, new, tasks, old)


def cgroup_subtree_control_write(h: cpuset_hierarchy, cg: cpuset,
                                 buf: str) -> KernelPath[int]:
    """A write to cgroup.subtree_control: ``+cpuset`` / ``-cpuset``.

    Models: cgroup_subtree_control_write(): each word +name or -name of a controller
    (else -EINVAL); enabling needs the controller in ``cg`` itself (cgroup_control():
    the parent enables it, or ``cg`` is the root; else -ENOENT); disabling fails while
    a child enables it for its own children (-EBUSY); then
    cgroup_vet_subtree_control_enable(); the children gain or lose their css and
    their tasks move to it (cgroup_apply_control()), then cpuset_post_attach().
    Returns 0 or -errno. Preempts: taking the lock, in the attaches and migrations.
    """
    enable = disable = False
    for tok in buf.strip().split(" "):
        if not tok:
            continue
        if tok[1:] != CPUSET_NAME:
            return -errno.EINVAL
        if tok[0] == "+":
            enable, disable = True, False
        elif tok[0] == "-":
            enable, disable = False, True
        else:
            return -errno.EINVAL
    ctx = h.ctx
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        ret = yield from _subtree_control_apply(h, cg, enable, disable)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    yield from cpuset_post_attach(h)
    return ret


def _subtree_control_apply(h: cpuset_hierarchy, cg: cpuset, enable: bool,
                           disable: bool) -> KernelPath[int]:
    """The locked part of :func:`cgroup_subtree_control_write`. Context: cpuset_mutex
    held."""
    if enable:
        if cg.subtree_control:
            return 0
        if not cg.online:  # cgroup_control(cg) lacks cpuset: the parent did not enable it
            return -errno.ENOENT
    elif disable:
        if not cg.subtree_control:
            return 0
        if any(c.subtree_control for c in cg.children.values()):
            return -errno.EBUSY
    else:
        return 0
    if enable:
        ret = cgroup_vet_subtree_control_enable(h, cg)
        if ret:
            return ret
    before = {t.pid: h.task_cs(t) for t in h.ctx.tasks.values()
              if _is_descendant(h.task_cgroup(t), cg)}
    cg.subtree_control = enable
    for child in cg.children.values():
        if enable:
            cpuset_css_online(h, child)
        else:
            cpuset_css_offline(child)
    yield from cgroup_update_dfl_csses(h, cg, before)
    return 0


def cgroup_mkdir(h: cpuset_hierarchy, parent: cpuset, name: str,
                 path: str) -> KernelPath[cpuset]:
    """Models: cgroup_mkdir() -> cgroup_create() and, when the parent enables cpuset
    for its children (v1: always), cpuset_css_alloc() + cpuset_css_online().
    Context: takes cpuset_mutex (cgroup_mutex). Preempts: taking the lock."""
    ctx = h.ctx
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        cg = cpuset(name, parent, path)
        parent.children[name] = cg
        if not h.v2 or parent.subtree_control:
            cpuset_css_online(h, cg)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    return cg


def cgroup_rmdir(h: cpuset_hierarchy, cg: cpuset) -> KernelPath[int]:
    """Models: cgroup_rmdir() -> cgroup_destroy_locked(): a cgroup with tasks in its
    subtree or with children is busy (-EBUSY).
    Context: takes cpuset_mutex (cgroup_mutex). Preempts: taking the lock.
    Returns 0 or -errno."""
    ctx = h.ctx
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        if h.cgroup_is_populated(cg) or cg.children:
            return -errno.EBUSY
        assert cg.parent is not None
        del cg.parent.children[cg.name]
        if cg.online:
            cpuset_css_offline(cg)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    return 0


# ---------------------------------------------------------------- cgroup files
def _err(code: int, f) -> OSError:
    return OSError(code, os.strerror(code), f.path)


def _list_show(mask: int) -> str:
    """Models: ``%*pbl\\n`` of a cpumask or nodemask."""
    from thpsim.mm.mempolicy import nodelist_str

    return nodelist_str(mask) + "\n"


def _cs_at(h: cpuset_hierarchy, path: str) -> cpuset:
    """The cgroup holding ``path`` (a file, or a directory being made or removed)."""
    rel = path[len(h.top.path):].strip("/")
    cs = h.top
    for part in rel.split("/")[:-1] if rel else []:
        cs = cs.children[part]
    return cs




def register(vfs) -> None:
    """Mount the hierarchy the profile names (v2 at /sys/fs/cgroup, v1 at
    /sys/fs/cgroup/cpuset) and register the root cgroup's files."""
    ctx = vfs.ctx
    v2 = ctx.profile.cpuset_cgroup_v2
    root = V2_ROOT if v2 else V1_ROOT
    h = cpuset_hierarchy(ctx, v2, root)
    vfs.state["cpuset"] = h
    ctx.cpuset_hierarchy = h  # for cgroup_post_fork()

    def cs_of(f) -> cpuset:
        return _cs_at(h, f.path)

    def masks_show(attr: str):
        def show(f) -> str:
            return _list_show(getattr(cs_of(f), attr))
        return show

    def resmask_store(private: int):
        def store(f, buf: bytes) -> int:
            cs = cs_of(f)
            ret = run_as_opener(f, cpuset_write_resmask(h, cs, buf.decode("latin-1"),
                                                        private))
            if ret < 0:
                raise _err(-ret, f)
            return len(buf)
        return store

    def migrate_show(f) -> str:
        return "1\n" if cs_of(f).memory_migrate else "0\n"

    def migrate_store(f, buf: bytes) -> int:
        """Models: cgroup_file_write() -> kstrtoull(buf, 0) (EINVAL) ->
        cpuset_write_u64() -> update_flag(CS_MEMORY_MIGRATE): any non-zero sets it."""
        err, val = kstrtoull(buf.decode("latin-1"))
        if err:
            raise _err(-err, f)
        cs_of(f).memory_migrate = val != 0
        return len(buf)

    def procs_show(f) -> str:
        """v2: the processes of the cgroup; v1: their tgids, sorted, once each."""
        tasks = h.cgroup_tasks(cs_of(f))
        if v2:
            return "".join(f"{t.pid}\n" for t in tasks if t.pid == t.tgid)
        return "".join(f"{tgid}\n" for tgid in sorted({t.tgid for t in tasks}))

    def tasks_show(f) -> str:
        return "".join(f"{pid}\n" for pid in sorted(t.pid for t in h.cgroup_tasks(cs_of(f))))

    def _attach(f, buf: bytes, group: bool) -> int:
        """Models: cgroup_procs_write_start(): kstrtoint(strstrip(buf), 0) (EINVAL;
        v1 also for a negative pid), 0 for the writer itself, an unknown pid ESRCH,
        the whole thread group for cgroup.procs."""
        err, pid = kstrtoll(buf.decode("latin-1").strip())
        if err or not -(1 << 31) <= pid < 1 << 31 or (not v2 and pid < 0):
            raise _err(errno.EINVAL, f)
        if pid == 0:
            task = f.task
            if task is None:
                raise _err(errno.EINVAL, f)  # a kernel thread may not be moved
        else:
            task = ctx.tasks.get(pid)
            if task is None:
                raise _err(errno.ESRCH, f)
        threads = list(task.group) if group else [task]
        ret = run_as_opener(f, cgroup_attach_task(h, cs_of(f), threads))
        if ret < 0:
            raise _err(-ret, f)
        return len(buf)

    def procs_store(f, buf: bytes) -> int:
        return _attach(f, buf, True)

    def tasks_store(f, buf: bytes) -> int:
        return _attach(f, buf, False)

    def controllers_show(f) -> str:
        """Models: cgroup_controllers_show(): cgroup_print_ss_mask() of
        cgroup_control(): the controllers the parent enables (all for the root)."""
        return f"{CPUSET_NAME}\n" if cs_of(f).online else "\n"

    def subtree_show(f) -> str:
        return f"{CPUSET_NAME}\n" if cs_of(f).subtree_control else "\n"

    def subtree_store(f, buf: bytes) -> int:
        cg = cs_of(f)
        ret = run_as_opener(f, cgroup_subtree_control_write(h, cg, buf.decode("latin-1")))
        if ret < 0:
            raise _err(-ret, f)
        for child in cg.children.values():  # kernfs_activate() / css_clear_dir()
            has_files = vfs.exists(f"{child.path}/cpuset.mems.effective")
            if child.online and not has_files:
                register_css_files(child)
            elif not child.online and has_files:
                unregister_css_files(child)
        return len(buf)

    def register_css_files(cs: cpuset) -> None:
        """The cpuset files of an online css (dfl_files / legacy_files)."""
        path = cs.path
        top = cs is h.top
        if v2:
            if not top:
                vfs.register_file(f"{path}/cpuset.cpus", masks_show("cpus_allowed"),
                                  resmask_store(FILE_CPULIST), mode=0o644)
                vfs.register_file(f"{path}/cpuset.mems", masks_show("mems_allowed"),
                                  resmask_store(FILE_MEMLIST), mode=0o644)
            vfs.register_file(f"{path}/cpuset.cpus.effective",
                              masks_show("effective_cpus"), mode=0o444)
            vfs.register_file(f"{path}/cpuset.mems.effective",
                              masks_show("effective_mems"), mode=0o444)
        else:
            vfs.register_file(f"{path}/cpuset.cpus", masks_show("cpus_allowed"),
                              resmask_store(FILE_CPULIST), mode=0o644)
            vfs.register_file(f"{path}/cpuset.mems", masks_show("mems_allowed"),
                              resmask_store(FILE_MEMLIST), mode=0o644)
            vfs.register_file(f"{path}/cpuset.effective_cpus",
                              masks_show("effective_cpus"), mode=0o444)
            vfs.register_file(f"{path}/cpuset.effective_mems",
                              masks_show("effective_mems"), mode=0o444)
            vfs.register_file(f"{path}/cpuset.memory_migrate", migrate_show, migrate_store,
                              mode=0o644)

    def unregister_css_files(cs: cpuset) -> None:
        """v2 only: a v1 cpuset's css lives as long as its directory."""
        for name in ("cpuset.cpus", "cpuset.mems", "cpuset.cpus.effective",
                     "cpuset.mems.effective"):
            vfs.unregister(f"{cs.path}/{name}")

    def register_cgroup_files(cs: cpuset) -> None:
        """The core files (cgroup_base_files / cgroup1_base_files)."""
        path = cs.path
        vfs.register_file(f"{path}/cgroup.procs", procs_show, procs_store, mode=0o644)
        if v2:
            vfs.register_file(f"{path}/cgroup.controllers", controllers_show, mode=0o444)
            if cs.parent is not None:
                vfs.register_file(f"{path}/cgroup.type",
                                  lambda f: cgroup_type_show(h, cs_of(f)), mode=0o444)
            vfs.register_file(f"{path}/cgroup.subtree_control", subtree_show,
                              subtree_store, mode=0o644)
        else:
            vfs.register_file(f"{path}/tasks", tasks_show, tasks_store, mode=0o644)
        if cs.online:
            register_css_files(cs)

    def mkdir(f, path: str) -> None:
        parent = _cs_at(h, path)
        name = path.rsplit("/", 1)[1]
        cg = run_as_opener(f, cgroup_mkdir(h, parent, name, path))
        vfs.register_dir(path, mode=0o755, mkdir=mkdir, rmdir=rmdir)
        register_cgroup_files(cg)

    def rmdir(f, path: str) -> None:
        parent = _cs_at(h, path)
        cg = parent.children[path.rsplit("/", 1)[1]]
        ret = run_as_opener(f, cgroup_rmdir(h, cg))
        if ret < 0:
            raise _err(-ret, f)
        vfs.unregister(path)

    vfs.register_dir(root, mode=0o755, mkdir=mkdir, rmdir=rmdir)
    register_cgroup_files(h.top)
