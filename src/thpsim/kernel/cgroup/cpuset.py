"""The cpuset controller's memory side: mems, task mems_allowed, policy rebinding and
page migration, with its cgroup files.

Models: kernel/cgroup/cpuset.c (update_nodemask, update_nodemasks_hier,
cpuset_update_task_nodemask / cpuset_change_task_nodemask, cpuset_migrate_mm,
cpuset_can_attach / cpuset_attach, cpuset_write_resmask), mm/mempolicy.c
(mpol_rebind_policy, mpol_rebind_nodemask, mpol_rebind_mm); v4.14 for cgroup v1
and mainline for v2. The profile switch ``cpuset_cgroup_v2`` picks the hierarchy:

* v2 (mainline): mounted at /sys/fs/cgroup; ``cgroup.subtree_control`` takes
  ``+cpuset``/``-cpuset``; a child has cpuset.mems, cpuset.mems.effective and
  cgroup.procs; the migrate flag is always on; an empty cpuset.mems inherits the
  parent's effective mems; effective = configured AND parent's effective (the
  parent's when that is empty).
* v1 (seed): mounted at /sys/fs/cgroup/cpuset; cpuset.mems (empty in a new
  cpuset; the top cpuset's is read-only: EACCES), cpuset.memory_migrate (0 by
  default), tasks (one thread) and cgroup.procs (a thread group);
  effective = configured; attaching to a cpuset with no mems is ENOSPC.

Changing mems or attaching sets every moved task's mems_allowed, rebinds the
task's and (for a thread-group leader) every VMA's policy, and, with the migrate
flag, migrates the mm with do_migrate_pages(old, new, MPOL_MF_MOVE_ALL) before the
write returns (the workqueue is flushed). Failures are not reported to the writer.

Simplified: no CPUs (cpuset.cpus is not modelled), no exclusive/partition files,
no hotplug of nodes into cpusets; the task-to-cpuset link is a table keyed by
thread id (``css_of``; the kernel's task->cgroups); cgroup_mutex and
cpus_read_lock are folded into cpuset_mutex; the
policies are rebound by replacing the immutable mempolicy objects (shared ones
stay shared).
"""

from __future__ import annotations

import errno
import os
from typing import Any

from thpsim.fs.proc.internal import bitmap_list_string, node_states_memory, run_as_opener
from thpsim.kernel.locking import mutex_lock, mutex_unlock
from thpsim.kernel.sched import KernelPath

__all__ = ["cpuset", "cpuset_hierarchy", "update_nodemask", "cpuset_attach",
           "cpuset_write_resmask", "cgroup_attach_task", "register"]

V2_ROOT = "/sys/fs/cgroup"
V1_ROOT = "/sys/fs/cgroup/cpuset"


class cpuset:
    """Models: struct cpuset (the memory fields): ``mems_allowed`` as configured,
    ``effective_mems``, ``old_mems_allowed``; CS_MEMORY_MIGRATE as ``memory_migrate``."""

    __slots__ = ("name", "parent", "children", "mems_allowed", "effective_mems",
                 "old_mems_allowed", "memory_migrate", "path")

    def __init__(self, name: str, parent: cpuset | None, path: str):
        self.name = name
        self.parent = parent
        self.children: dict[str, cpuset] = {}
        self.mems_allowed = 0
        self.effective_mems = 0
        self.old_mems_allowed = 0
        self.memory_migrate = False
        self.path = path

    def __repr__(self) -> str:
        return f"<cpuset {self.path} mems {self.effective_mems:#x}>"


class cpuset_hierarchy:
    """Model-only: one mounted cpuset hierarchy (the top cpuset and the task links)."""

    def __init__(self, ctx: Any, v2: bool, root_path: str):
        self.ctx = ctx
        self.v2 = v2
        self.top = cpuset("", None, root_path)
        mems = _all_mems(ctx)
        self.top.mems_allowed = self.top.effective_mems = self.top.old_mems_allowed = mems
        self.top.memory_migrate = v2
        #: thread id -> its cpuset (absent: the top cpuset)
        self.css_of: dict[int, cpuset] = {}
        #: v2: "+cpuset" written to the root's cgroup.subtree_control
        self.enabled = not v2
        #: cpuset_migrate_mm_wq: (mm, from, to) queued under cpuset_mutex
        self.migrate_work: list[tuple[Any, int, int]] = []

    def task_cs(self, task) -> cpuset:
        return self.css_of.get(task.pid, self.top)

    def tasks_of(self, cs: cpuset) -> list:
        return [t for t in self.ctx.tasks.values() if self.task_cs(t) is cs]


def _all_mems(ctx) -> int:
    mask = 0
    for nid in node_states_memory(ctx):
        mask |= 1 << nid
    return mask


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


def cpuset_migrate_mm(h: cpuset_hierarchy, mm, from_: int, to: int) -> None:
    """Queue the migration of ``mm`` from ``from_`` to ``to``.

    Models: cpuset_migrate_mm(): the work goes to cpuset_migrate_mm_wq, to run
    after cpuset_mutex is dropped (:func:`cpuset_post_attach`). Recent kernels skip
    the work when old == new.
    """
    if from_ == to:
        return
    h.migrate_work.append((mm, from_, to))


def cpuset_post_attach(h: cpuset_hierarchy) -> KernelPath[None]:
    """Run the queued migrations and wait for them: the write returns after the pages
    moved.

    Models: cpuset_post_attach() / the flush_workqueue(cpuset_migrate_mm_wq) at the end
    of cpuset_write_resmask(), and cpuset_migrate_mm_workfn():
    do_migrate_pages(MPOL_MF_MOVE_ALL), errors dropped. Simplified: the writer runs
    the work itself instead of waiting for the ordered workqueue's worker.
    Context: no cpuset locks. Preempts: in the migrations.
    """
    from thpsim.mm.mempolicy import MPOL_MF_MOVE_ALL, do_migrate_pages

    while h.migrate_work:
        mm, from_, to = h.migrate_work.pop(0)
        if mm.dead:
            continue
        yield from do_migrate_pages(h.ctx, mm, from_, to, MPOL_MF_MOVE_ALL)


def _migrate_flag(h: cpuset_hierarchy, cs: cpuset) -> bool:
    return h.v2 or cs.memory_migrate


def _update_tasks_nodemask(h: cpuset_hierarchy, cs: cpuset) -> KernelPath[None]:
    """Models: cpuset_update_tasks_nodemask(): every task gets the new mems; each mm
    (once, by its leader) is rebound and, with the migrate flag, migrated from the
    cpuset's old mems."""
    newmems = cs.effective_mems
    seen: set[int] = set()
    for task in h.tasks_of(cs):
        cpuset_change_task_nodemask(task, newmems)
        mm = task.mm
        if mm is None or mm.dead or mm.mm_id in seen:
            continue
        seen.add(mm.mm_id)
        yield from mpol_rebind_mm(mm, newmems)
        if _migrate_flag(h, cs):
            cpuset_migrate_mm(h, mm, cs.old_mems_allowed, newmems)
    cs.old_mems_allowed = newmems


def _effective(h: cpuset_hierarchy, cs: cpuset) -> int:
    if cs.parent is None:
        return cs.mems_allowed
    if not h.v2:
        return cs.mems_allowed
    pe = cs.parent.effective_mems
    return (cs.mems_allowed & pe) or pe


def update_nodemasks_hier(h: cpuset_hierarchy, cs: cpuset) -> KernelPath[None]:
    """Models: update_nodemasks_hier(): recompute effective mems top-down; update the
    tasks of every cpuset whose effective mems changed."""
    new = _effective(h, cs)
    if new != cs.effective_mems:
        cs.effective_mems = new
        yield from _update_tasks_nodemask(h, cs)
    for child in list(cs.children.values()):
        yield from update_nodemasks_hier(h, child)


def update_nodemask(h: cpuset_hierarchy, cs: cpuset, buf: str) -> KernelPath[int]:
    """Models: update_nodemask(): v1 top cpuset -EACCES; a list that does not parse or
    names nodes outside the top cpuset -EINVAL; the same value: nothing to do.
    Returns 0 or -errno."""
    if cs is h.top and not h.v2:
        return -errno.EACCES
    mask = _parse_nodelist(buf)
    if mask < 0:
        return -errno.EINVAL
    if mask & ~h.top.mems_allowed:
        return -errno.EINVAL
    if mask == cs.mems_allowed:
        return 0
    cs.mems_allowed = mask
    yield from update_nodemasks_hier(h, cs)
    return 0


def cpuset_attach(h: cpuset_hierarchy, cs: cpuset, tasks: list) -> KernelPath[int]:
    """Move ``tasks`` (threads) into ``cs``.

    Models: cpuset_can_attach() (v1: no mems -> ENOSPC) and cpuset_attach(): each
    thread gets the destination's mems; for a thread-group leader the mm's policies
    are rebound and, if the destination has the migrate flag, the mm migrates from the
    old cpuset's mems to the new (MOVE_ALL). Returns 0 or -errno.
    """
    if not h.v2 and not cs.effective_mems:
        return -errno.ENOSPC
    for task in tasks:
        old = h.task_cs(task)
        if old is cs:
            continue
        oldmems = old.effective_mems
        if cs is h.top:
            h.css_of.pop(task.pid, None)
        else:
            h.css_of[task.pid] = cs
        if h.v2 and oldmems == cs.effective_mems:
            continue  # v2: nothing to update
        cpuset_change_task_nodemask(task, cs.effective_mems)
        mm = task.mm
        if task.pid != task.tgid or mm is None or mm.dead:
            continue  # only the leader carries the mm's memory
        yield from mpol_rebind_mm(mm, cs.effective_mems)
        if _migrate_flag(h, cs):
            cpuset_migrate_mm(h, mm, oldmems, cs.effective_mems)
    return 0


def cpuset_write_resmask(h: cpuset_hierarchy, cs: cpuset, buf: str) -> KernelPath[int]:
    """A write to cpuset.mems.

    Models: cpuset_write_resmask(): update_nodemask() under cpuset_mutex, then the
    queued migrations flushed (:func:`cpuset_post_attach`).
    Returns 0 or -errno. Preempts: taking the locks, in the migrations.
    """
    ctx = h.ctx
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        ret = yield from update_nodemask(h, cs, buf)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    yield from cpuset_post_attach(h)
    return ret


def cgroup_attach_task(h: cpuset_hierarchy, cs: cpuset, tasks: list) -> KernelPath[int]:
    """A write to ``tasks`` or ``cgroup.procs``.

    Models: cgroup_attach_task() -> cpuset_can_attach() + cpuset_attach() under
    cpuset_mutex, then cpuset_post_attach(). Returns 0 or -errno.
    """
    ctx = h.ctx
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        ret = yield from cpuset_attach(h, cs, tasks)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    yield from cpuset_post_attach(h)
    return ret


def _parse_nodelist(buf: str) -> int:
    """Models: nodelist_parse() (bitmap_parselist): "0-2,5", empty for none; -1 on error."""
    s = buf.strip()
    mask = 0
    if not s:
        return 0
    for part in s.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or sep and not hi.isdigit():
            return -1
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a or b >= 1 << 10:
            return -1
        for n in range(a, b + 1):
            mask |= 1 << n
    return mask


# ---------------------------------------------------------------- cgroup files
def _err(code: int, f) -> OSError:
    return OSError(code, os.strerror(code), f.path)


def _nodes_show(mask: int) -> str:
    return bitmap_list_string(n for n in range(1 << 10) if mask >> n & 1) + "\n"


def _cs_at(h: cpuset_hierarchy, path: str) -> cpuset:
    rel = path[len(h.top.path):].strip("/")
    cs = h.top
    for part in rel.split("/")[:-1] if rel else []:
        cs = cs.children[part]
    return cs


def register(vfs) -> None:
    """Mount the hierarchy the profile names (v2 at /sys/fs/cgroup, v1 at
    /sys/fs/cgroup/cpuset) and register the top cpuset's files."""
    ctx = vfs.ctx
    v2 = ctx.profile.cpuset_cgroup_v2
    root = V2_ROOT if v2 else V1_ROOT
    h = cpuset_hierarchy(ctx, v2, root)
    vfs.state["cpuset"] = h

    def cs_of(f) -> cpuset:
        return _cs_at(h, f.path)

    def mems_show(f) -> str:
        return _nodes_show(cs_of(f).mems_allowed)

    def mems_eff_show(f) -> str:
        return _nodes_show(cs_of(f).effective_mems)

    def mems_store(f, buf: bytes) -> int:
        ret = run_as_opener(f, cpuset_write_resmask(h, cs_of(f), buf.decode("latin-1")))
        if ret < 0:
            raise _err(-ret, f)
        return len(buf)

    def migrate_show(f) -> str:
        return "1\n" if cs_of(f).memory_migrate else "0\n"

    def migrate_store(f, buf: bytes) -> int:
        s = buf.strip()
        if s not in (b"0", b"1"):
            raise _err(errno.EINVAL, f)
        cs_of(f).memory_migrate = s == b"1"
        return len(buf)

    def procs_show(f) -> str:
        cs = cs_of(f)
        return "".join(f"{t.pid}\n" for t in h.tasks_of(cs) if t.pid == t.tgid)

    def tasks_show(f) -> str:
        return "".join(f"{t.pid}\n" for t in h.tasks_of(cs_of(f)))

    def _attach(f, buf: bytes, group: bool) -> int:
        s = buf.strip()
        if not s.isdigit():
            raise _err(errno.EINVAL, f)
        task = ctx.tasks.get(int(s))
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

    def subtree_show(f) -> str:
        return "cpuset\n" if h.enabled else "\n"

    def subtree_store(f, buf: bytes) -> int:
        words = buf.decode("latin-1").split()
        for w in words:
            if w not in ("+cpuset", "-cpuset"):
                raise _err(errno.EINVAL, f)
            if w == "-cpuset" and h.top.children:
                raise _err(errno.EBUSY, f)
            h.enabled = w == "+cpuset"
        return len(buf)

    def register_cs_files(path: str, top: bool) -> None:
        vfs.register_file(f"{path}/cgroup.procs", procs_show, procs_store, mode=0o644)
        vfs.register_file(f"{path}/cpuset.mems.effective", mems_eff_show, mode=0o444)
        if v2:
            if top:
                vfs.register_file(f"{path}/cgroup.subtree_control", subtree_show,
                                  subtree_store, mode=0o644)
            else:
                vfs.register_file(f"{path}/cpuset.mems", mems_show, mems_store, mode=0o644)
        else:
            vfs.register_file(f"{path}/cpuset.mems", mems_show, mems_store, mode=0o644)
            vfs.register_file(f"{path}/cpuset.memory_migrate", migrate_show, migrate_store,
                              mode=0o644)
            vfs.register_file(f"{path}/tasks", tasks_show, tasks_store, mode=0o644)

    def mkdir(f, path: str) -> None:
        parent = _cs_at(h, path)
        if v2 and (parent is not h.top or not h.enabled):
            # Simplified: one level of v2 children, cpuset enabled at the root first
            raise _err(errno.EPERM, f)
        name = path.rsplit("/", 1)[1]
        cs = cpuset(name, parent, path)
        cs.memory_migrate = v2
        if v2:
            cs.effective_mems = cs.old_mems_allowed = parent.effective_mems
        parent.children[name] = cs
        vfs.register_dir(path, mode=0o755, mkdir=mkdir, rmdir=rmdir)
        register_cs_files(path, False)

    def rmdir(f, path: str) -> None:
        parent = _cs_at(h, path)
        name = path.rsplit("/", 1)[1]
        cs = parent.children[name]
        if cs.children or h.tasks_of(cs):
            raise _err(errno.EBUSY, f)
        del parent.children[name]
        vfs.unregister(path)

    vfs.register_dir(root, mode=0o755, mkdir=mkdir, rmdir=rmdir)
    register_cs_files(root, True)
