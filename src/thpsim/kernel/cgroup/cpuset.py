"""The cpuset controller: cpus and mems of nested cgroups, task
cpus_allowed/mems_allowed, policy rebinding and page migration, and its files.

Models: kernel/cgroup/cpuset.c (update_cpumask, update_cpumasks_hier,
update_nodemask, update_nodemasks_hier, validate_change, update_tasks_nodemask /
cpuset_change_task_nodemask, cpuset_migrate_mm, cpuset_can_attach / cpuset_attach,
cpuset_css_alloc / cpuset_css_online, cpuset_write_resmask, dfl_files /
legacy_files, cpuset_cgrp_subsys); v4.14 for cgroup v1 and mainline (7.2) for v2.
The hierarchy, its core files and task moves are kernel/cgroup/cgroup.py's, which
calls this controller through :data:`cpuset_cgrp_subsys`.

* v2 (mainline): a cgroup has the cpuset css when its parent enables the
  controller; with it a child has cpuset.cpus, cpuset.mems and their .effective
  files (the root only the .effective ones). Effective = configured AND parent's
  effective, the parent's when that is empty (empty configured masks inherit),
  recomputed down the tree on every change. The migrate flag is always on.
* v1 (seed): a new cpuset has empty cpuset.cpus and cpuset.mems; the top cpuset's
  are read-only (EACCES); a child's masks must stay within its parent's (EACCES)
  and a parent may not drop what a child uses (EBUSY); a cpuset with tasks may not
  become empty (ENOSPC); attaching to a cpuset with no cpus or no mems is ENOSPC;
  effective = configured; cpuset.memory_migrate (0 by default).

Changing mems or attaching sets every moved task's mems_allowed and cpus_allowed,
rebinds the task's and (for a thread-group leader) every VMA's policy
(mm/mempolicy.py mpol_rebind_task(), mpol_rebind_mm()), and, with the migrate flag,
migrates the mm with do_migrate_pages(old, new, MPOL_MF_MOVE_ALL) before the write
returns (the workqueue is flushed). Failures are not reported to the writer.

Simplified: struct cgroup and its cpuset css are one object (:class:`cpuset`, a
:class:`~thpsim.kernel.cgroup.cgroup.cgroup`; ``online`` says whether the css
exists); no exclusive or partition files, no sched_load_balance, memory_pressure,
spread or clone_children files; no hotplug of CPUs or nodes into cpusets (the top
cpuset's cpus and mems are the online CPUs and the nodes with memory at boot); a
task is bound to its one simulated CPU: ``cpus_allowed`` is recorded on the task
(set_cpus_allowed_ptr()) but never moves it to another CPU; node and CPU lists take
``a`` and ``a-b`` items (no ``a-b:g/n`` groups, no ``N``); cgroup_mutex and
cpus_read_lock are folded into cpuset_mutex, so attach_in_progress is never seen;
policies are rebound by replacing the immutable mempolicy objects (shared ones stay
shared).
"""

from __future__ import annotations

import errno

from thpsim.errors import KernelBug
from thpsim.hw.memory import MAX_NUMNODES
from thpsim.include.linux.nodemask import node_states_memory
from thpsim.include.uapi.linux.mempolicy import MPOL_MF_MOVE_ALL
from thpsim.kernel.cgroup.cgroup import (
    CFTYPE_NOT_ON_ROOT,
    cftype,
    cgroup,
    cgroup_root,
    cgroup_subsys,
)
from thpsim.kernel.fork import get_task_mm, mmput
from thpsim.kernel.locking import mutex_lock, mutex_unlock
from thpsim.kernel.sched import KernelPath
from thpsim.lib.bitmap import bitmap_parselist
from thpsim.lib.string import strstrip
from thpsim.mm.mempolicy import do_migrate_pages, mpol_rebind_mm, mpol_rebind_task, nodelist_str

__all__ = ["cpuset", "update_nodemask", "update_cpumask", "cpuset_attach",
           "cpuset_write_resmask", "cpuset_cgrp_subsys", "FILE_CPULIST", "FILE_MEMLIST"]

#: kernel/cgroup/cpuset.c cpuset_filetype_t: which mask cpuset_write_resmask() writes
FILE_CPULIST = 1
FILE_MEMLIST = 2
#: the only controller: the name in cgroup.controllers and cgroup.subtree_control
CPUSET_NAME = "cpuset"


class cpuset(cgroup):
    """One cgroup and its cpuset css.

    Models: struct cpuset (on its struct cgroup, see the module's Simplified):
    ``cpus_allowed`` / ``mems_allowed`` as configured, ``effective_cpus`` /
    ``effective_mems``, ``old_mems_allowed``, CS_MEMORY_MIGRATE as
    ``memory_migrate``, CS_ONLINE as ``online`` (v2: the parent enables cpuset;
    False: no css, the masks mean nothing).
    """

    __slots__ = ("cpus_allowed", "effective_cpus", "mems_allowed", "effective_mems",
                 "old_mems_allowed", "memory_migrate")

    parent: cpuset | None
    children: dict[str, cpuset]

    def __init__(self, name: str, parent: cpuset | None, path: str):
        super().__init__(name, parent, path)
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


def _all_mems(ctx) -> int:
    """node_states[N_MEMORY] as a mask."""
    return node_states_memory(ctx)


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


def cpuset_change_task_nodemask(task, newmems: int) -> None:
    """Models: cpuset_change_task_nodemask(): mems_allowed grown then shrunk (never
    empty), the task policy rebound (mpol_rebind_task)."""
    task.mems_allowed = newmems
    mpol_rebind_task(task, newmems)


def set_cpus_allowed_ptr(task, new_mask: int) -> None:
    """Models: kernel/sched/core.c set_cpus_allowed_ptr(), recording only.

    Simplified: the task keeps running on its one simulated CPU (``task.cpu``) even if
    ``new_mask`` excludes it; the kernel would migrate it (move_queued_task()).
    """
    task.cpus_allowed = new_mask


def _mmput(mm) -> KernelPath[None]:
    """mmput() of a reference the cpuset code took; the last one tears the mm down, and
    what check_mm() reports is a model failure."""
    leaks = yield from mmput(mm)
    if leaks:
        raise KernelBug("; ".join(leaks))


def cpuset_migrate_mm(h: cgroup_root, mm, from_: int, to: int) -> KernelPath[None]:
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


def cpuset_post_attach(h: cgroup_root) -> KernelPath[None]:
    """Run the queued migrations and wait for them: the write returns after the pages
    moved.

    Models: cpuset_post_attach() / the flush_workqueue(cpuset_migrate_mm_wq) at the end
    of cpuset_write_resmask(), and cpuset_migrate_mm_workfn():
    do_migrate_pages(MPOL_MF_MOVE_ALL), errors dropped, then mmput(). The reference
    keeps the mm whole even if its last task exits meanwhile. Simplified: the writer
    runs the work itself instead of waiting for the ordered workqueue's worker.
    Context: no cpuset locks. Preempts: in the migrations.
    """
    while h.migrate_work:
        mm, from_, to = h.migrate_work.pop(0)
        yield from do_migrate_pages(h.ctx, mm, from_, to, MPOL_MF_MOVE_ALL)
        yield from _mmput(mm)


def is_memory_migrate(h: cgroup_root, cs: cpuset) -> bool:
    """Models: is_memory_migrate(): CS_MEMORY_MIGRATE, set for every v2 css at
    cpuset_css_alloc()."""
    return h.v2 or cs.memory_migrate


# ---------------------------------------------------------------- effective masks
def _compute_effective(h: cgroup_root, cs: cpuset, configured: int,
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


def _cpus_attach(h: cgroup_root, cs: cpuset) -> int:
    """The mask set_cpus_allowed_ptr() gets: the top cpuset gives every possible CPU,
    another its effective CPUs (guarantee_online_cpus())."""
    return _possible_cpus(h.ctx) if cs is h.top else cs.effective_cpus


def update_tasks_cpumask(h: cgroup_root, cs: cpuset) -> None:
    """Models: update_tasks_cpumask(): every task of the css gets its CPUs."""
    mask = _cpus_attach(h, cs)
    for task in h.tasks_of(cs):
        set_cpus_allowed_ptr(task, mask)


def update_cpumasks_hier(h: cgroup_root, cs: cpuset) -> None:
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


def update_tasks_nodemask(h: cgroup_root, cs: cpuset) -> KernelPath[None]:
    """Models: update_tasks_nodemask(): every task gets the new mems; each mm (once:
    mpol_rebind_mm() is idempotent) is rebound and, with the migrate flag, migrated
    from the cpuset's old mems. Preempts: in mpol_rebind_mm()."""
    newmems = cs.effective_mems
    seen: set[int] = set()
    for task in h.tasks_of(cs):
        cpuset_change_task_nodemask(task, newmems)
        if task.mm is None or task.mm.mm_id in seen:
            continue
        mm = get_task_mm(task)
        if mm is None:
            continue
        seen.add(mm.mm_id)
        yield from mpol_rebind_mm(mm, newmems)
        if is_memory_migrate(h, cs):
            yield from cpuset_migrate_mm(h, mm, cs.old_mems_allowed, newmems)
        else:
            yield from _mmput(mm)
    cs.old_mems_allowed = newmems


def update_nodemasks_hier(h: cgroup_root, cs: cpuset) -> KernelPath[None]:
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


def validate_change(h: cgroup_root, cur: cpuset, trial: cpuset) -> int:
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


def update_cpumask(h: cgroup_root, cs: cpuset, trialcs: cpuset, buf: str) -> int:
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


def update_nodemask(h: cgroup_root, cs: cpuset, trialcs: cpuset,
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


def cpuset_write_resmask(h: cgroup_root, cs: cpuset, buf: str,
                         private: int = FILE_MEMLIST) -> KernelPath[int]:
    """A write to cpuset.mems (``FILE_MEMLIST``) or cpuset.cpus (``FILE_CPULIST``).

    Models: cpuset_write_resmask(): strstrip(), a trial cpuset, update_nodemask() or
    update_cpumask() under cpuset_mutex, then the queued migrations flushed
    (:func:`cpuset_post_attach`).
    Returns 0 or -errno. Preempts: taking the locks, in the migrations.
    """
    ctx = h.ctx
    buf = strstrip(buf)
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
def cpuset_can_attach(h: cgroup_root, cs: cpuset) -> int:
    """Models: cpuset_can_attach() / cpuset_can_attach_check(): v1: a cpuset without
    CPUs or without nodes takes no task (-ENOSPC); v2: only empty effective CPUs
    refuse (a partition, not modelled). Returns 0 or -errno."""
    if not cs.effective_cpus:
        return -errno.ENOSPC
    if not h.v2 and not cs.mems_allowed:
        return -errno.ENOSPC
    return 0


def cpuset_attach(h: cgroup_root, cs: cpuset, tasks: list,
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
        mm = get_task_mm(leader)
        if mm is None:
            continue
        yield from mpol_rebind_mm(mm, to)
        if is_memory_migrate(h, cs):
            yield from cpuset_migrate_mm(h, mm, oldcs.old_mems_allowed, to)
        else:
            yield from _mmput(mm)
    cs.old_mems_allowed = to


# ---------------------------------------------------------------- css lifetime
def cpuset_css_online(h: cgroup_root, cs: cpuset) -> None:
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


def cpuset_bind(h: cgroup_root) -> None:
    """The top cpuset when the hierarchy is mounted: the online CPUs and the nodes
    with memory, configured and effective; the migrate flag on v2.

    Models: cpuset_init() / cpuset_bind() (and cpuset_css_alloc()'s
    CS_MEMORY_MIGRATE on v2)."""
    top = h.top
    top.cpus_allowed = top.effective_cpus = _online_cpus(h.ctx)
    top.mems_allowed = top.effective_mems = top.old_mems_allowed = _all_mems(h.ctx)
    top.memory_migrate = h.v2


# ---------------------------------------------------------------- files
def _list_show(mask: int) -> str:
    """Models: ``%*pbl\\n`` of a cpumask or nodemask (cpuset_common_seq_show())."""
    return nodelist_str(mask) + "\n"


def _mask_show(attr: str):
    def show(h: cgroup_root, cs: cpuset) -> str:
        return _list_show(getattr(cs, attr))
    return show


def _resmask_write(private: int):
    def write(h: cgroup_root, cs: cpuset, buf: str) -> KernelPath[int]:
        return cpuset_write_resmask(h, cs, buf, private)
    return write


def cpuset_read_u64_memory_migrate(h: cgroup_root, cs: cpuset) -> str:
    """Models: cpuset_read_u64(FILE_MEMORY_MIGRATE): ``is_memory_migrate()``."""
    return "1\n" if cs.memory_migrate else "0\n"


def cpuset_write_u64_memory_migrate(h: cgroup_root, cs: cpuset, val: int) -> int:
    """Models: cpuset_write_u64(FILE_MEMORY_MIGRATE) -> update_flag(CS_MEMORY_MIGRATE):
    any non-zero sets it. Returns 0."""
    cs.memory_migrate = val != 0
    return 0


#: kernel/cgroup/cpuset.c dfl_files (v2), in order
dfl_files = [
    cftype("cpus", _mask_show("cpus_allowed"), write=_resmask_write(FILE_CPULIST),
           flags=CFTYPE_NOT_ON_ROOT),
    cftype("mems", _mask_show("mems_allowed"), write=_resmask_write(FILE_MEMLIST),
           flags=CFTYPE_NOT_ON_ROOT),
    cftype("cpus.effective", _mask_show("effective_cpus")),
    cftype("mems.effective", _mask_show("effective_mems")),
]

#: kernel/cgroup/cpuset.c legacy_files (v1), in order
legacy_files = [
    cftype("cpus", _mask_show("cpus_allowed"), write=_resmask_write(FILE_CPULIST)),
    cftype("mems", _mask_show("mems_allowed"), write=_resmask_write(FILE_MEMLIST)),
    cftype("effective_cpus", _mask_show("effective_cpus")),
    cftype("effective_mems", _mask_show("effective_mems")),
    cftype("memory_migrate", cpuset_read_u64_memory_migrate,
           write_u64=cpuset_write_u64_memory_migrate),
]

#: kernel/cgroup/cpuset.c cpuset_cgrp_subsys: what cgroup.c calls
cpuset_cgrp_subsys = cgroup_subsys(
    CPUSET_NAME,
    css_alloc=cpuset,
    css_online=cpuset_css_online,
    css_offline=cpuset_css_offline,
    can_attach=cpuset_can_attach,
    attach=cpuset_attach,
    post_attach=cpuset_post_attach,
    bind=cpuset_bind,
    dfl_cftypes=dfl_files,
    legacy_cftypes=legacy_files,
)
