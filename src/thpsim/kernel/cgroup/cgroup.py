"""The cgroup core: hierarchies of cgroups, their core files, moving tasks between
them, and mounting a hierarchy with its controller.

Models: kernel/cgroup/cgroup.c (cgroup_mkdir / cgroup_create, cgroup_rmdir /
cgroup_destroy_locked, cgroup_subtree_control_write,
cgroup_vet_subtree_control_enable, cgroup_can_be_thread_root,
cgroup_is_thread_root, cgroup_is_valid_domain, cgroup_type_show,
cgroup_migrate_vet_dst, cgroup_migrate, cgroup_attach_task,
cgroup_update_dfl_csses, __cgroup_procs_write / cgroup_procs_write_start,
cgroup_controllers_show, cgroup_file_write, cgroup_post_fork, cgroup_exit,
cgroup_base_files)
and kernel/cgroup/cgroup-v1.c (cgroup1_base_files: ``tasks`` and the sorted
``cgroup.procs``); v4.14 for v1 and mainline (7.2) for v2. The profile switch
``cpuset_cgroup_v2`` picks the hierarchy; the controller is the cpuset one
(kernel/cgroup/cpuset.py), reached through its :class:`cgroup_subsys` callbacks
and cftypes as cgroup.c reaches a controller.

* v2 (mainline): mounted at /sys/fs/cgroup; cgroups nest to any depth. A cgroup has
  the controller (its files and its own css) when its parent lists it in
  ``cgroup.subtree_control`` (the root always has it); ``+cpuset`` needs the
  controller in the cgroup itself (ENOENT), ``-cpuset`` fails while a child still
  enables it for its own children (EBUSY). Tasks of a cgroup without the controller
  use the nearest ancestor's css. Every cgroup has cgroup.procs,
  cgroup.controllers and cgroup.subtree_control (and, but the root, cgroup.type).
  cgroup.procs obeys the no-internal-process rule (cgroup_migrate_vet_dst: EBUSY
  when the cgroup enables a controller for its children and one of them has tasks;
  the root and, cpuset being a threaded controller, a cgroup that may still become
  a thread root are exempt).
* v1 (seed): mounted at /sys/fs/cgroup/cpuset; every cgroup has the controller;
  ``tasks`` (one thread) and ``cgroup.procs`` (a thread group).

Simplified: struct cgroup and its one css are one object (the controller's
subclass of :class:`cgroup`; ``online`` says whether the css exists); one
controller per hierarchy (cgroup.controllers lists it or nothing; other controller
names are EINVAL); no threaded cgroups (cgroup.type is read-only: domain, domain
threaded or domain invalid; no cgroup.threads), cgroup.events or max.depth; v1
attach does not check the writer's euid; the task-to-cgroup link is a table keyed
by thread id (``css_of``; the kernel's task->cgroups), filled at fork by
cgroup_post_fork() and emptied at exit by cgroup_exit() (copy_process() and
do_exit() call them; this module imports neither fork nor the controller);
cgroup_mutex is the controller's cpuset_mutex; when a
subtree_control write re-homes tasks, the controller's attach() runs once per
destination css (the kernel passes one taskset whose first task names the source
and destination).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from thpsim.kernel.locking import mutex_lock, mutex_unlock
from thpsim.kernel.sched import KernelPath, run_to_completion
from thpsim.lib.kstrtox import kstrtoint, kstrtoull
from thpsim.lib.string import strstrip

__all__ = ["cgroup", "cgroup_root", "cgroup_subsys", "cftype", "cgroup_attach_task",
           "cgroup_subtree_control_write", "cgroup_mkdir", "cgroup_rmdir",
           "cgroup_post_fork", "cgroup_exit", "register", "V1_ROOT", "V2_ROOT"]

V2_ROOT = "/sys/fs/cgroup"
V1_ROOT = "/sys/fs/cgroup/cpuset"

#: cgroup_kf_ops.atomic_write_len (PAGE_SIZE): a longer write to a cgroup file is E2BIG
CGROUP_ATOMIC_WRITE_LEN = 4096

#: include/linux/cgroup-defs.h cftype flags
CFTYPE_ONLY_ON_ROOT = 1 << 0
CFTYPE_NOT_ON_ROOT = 1 << 1


class cgroup:
    """Models: struct cgroup: ``parent``, ``children`` (by name), its directory
    ``path``, ``subtree_control`` (whether it enables the controller for its
    children) and ``online``: whether it has the controller's css (v2: its parent
    enables it; v1: always). The controller subclasses it with the css's fields.
    """

    __slots__ = ("name", "parent", "children", "path", "online", "subtree_control")

    def __init__(self, name: str, parent: cgroup | None, path: str):
        self.name = name
        self.parent = parent
        self.children: dict[str, Any] = {}
        self.path = path
        self.online = False
        self.subtree_control = False


class cftype:
    """Models: struct cftype: a controller's file, ``<controller>.<name>``, with its
    seq_show() (``show(h, css) -> text``) and either write() (``write(h, css, buf)``,
    a kernel path returning 0 or -errno, run as the writer) or write_u64()
    (``write_u64(h, css, value) -> 0 or -errno``, after cgroup_file_write()'s
    kstrtoull()), and CFTYPE_* ``flags``."""

    __slots__ = ("name", "show", "write", "write_u64", "flags")

    def __init__(self, name: str, show: Callable[..., str], *,
                 write: Callable[..., KernelPath[int]] | None = None,
                 write_u64: Callable[..., int] | None = None, flags: int = 0):
        self.name = name
        self.show = show
        self.write = write
        self.write_u64 = write_u64
        self.flags = flags


class cgroup_subsys:
    """Models: struct cgroup_subsys: the controller's callbacks cgroup.c calls.

    ``css_alloc(name, parent, path)``: a new cgroup with its (offline) css;
    ``css_online(h, css)`` / ``css_offline(css)``; ``can_attach(h, css) -> 0 or
    -errno``; ``attach(h, css, tasks, old_css)`` (a kernel path);
    ``post_attach(h)`` (a kernel path, after cgroup_mutex is dropped);
    ``bind(h)``: the root css set up when the hierarchy is mounted;
    ``dfl_cftypes`` (v2) / ``legacy_cftypes`` (v1): its files, in order.
    """

    __slots__ = ("name", "css_alloc", "css_online", "css_offline", "can_attach", "attach",
                 "post_attach", "bind", "dfl_cftypes", "legacy_cftypes")

    def __init__(self, name: str, *, css_alloc, css_online, css_offline, can_attach, attach,
                 post_attach, bind, dfl_cftypes: list[cftype],
                 legacy_cftypes: list[cftype]):
        self.name = name
        self.css_alloc = css_alloc
        self.css_online = css_online
        self.css_offline = css_offline
        self.can_attach = can_attach
        self.attach = attach
        self.post_attach = post_attach
        self.bind = bind
        self.dfl_cftypes = dfl_cftypes
        self.legacy_cftypes = legacy_cftypes


class cgroup_root:
    """One mounted hierarchy: its root cgroup, its one controller and the task links.

    Models: struct cgroup_root (``top``: the root cgroup, ``ss``: the controller
    bound to it) and the task->cgroups links (``css_of``).
    """

    def __init__(self, ctx: Any, v2: bool, root_path: str, ss: cgroup_subsys):
        self.ctx = ctx
        self.v2 = v2
        self.ss = ss
        self.top = ss.css_alloc("", None, root_path)
        self.top.online = True
        #: thread id -> its cgroup (absent: the root)
        self.css_of: dict[int, cgroup] = {}
        #: the controller's cpuset_migrate_mm_wq: (mm, from, to) queued under
        #: cpuset_mutex (kernel/cgroup/cpuset.py)
        self.migrate_work: list[tuple[Any, int, int]] = []
        ss.bind(self)

    # ---- task links (task->cgroups)
    def task_cgroup(self, task) -> cgroup:
        """The cgroup the task is in (task_dfl_cgroup())."""
        return self.css_of.get(task.pid, self.top)

    def task_css(self, task) -> cgroup:
        """Models: task_css() (cpuset.c's task_cs()): the css the task uses: its
        cgroup's, or (v2) the nearest ancestor's that has the controller."""
        return cgroup_e_css(self.task_cgroup(task))

    def tasks_of(self, cs: cgroup) -> list:
        """The tasks whose css is ``cs`` (css_task_iter over the css)."""
        return [t for t in self.ctx.tasks.values() if self.task_css(t) is cs]

    def cgroup_tasks(self, cg: cgroup) -> list:
        """The tasks in the cgroup itself (its cgroup.procs and tasks files)."""
        return [t for t in self.ctx.tasks.values() if self.task_cgroup(t) is cg]

    def cgroup_has_tasks(self, cg: cgroup) -> bool:
        """Models: cgroup_has_tasks() (nr_populated_csets)."""
        return any(self.task_cgroup(t) is cg for t in self.ctx.tasks.values())

    def cgroup_is_populated(self, cg: cgroup) -> bool:
        """Models: cgroup_is_populated(): tasks in the cgroup or any descendant."""
        return any(cgroup_is_descendant(self.task_cgroup(t), cg)
                   for t in self.ctx.tasks.values())

    def nr_populated_domain_children(self, cg: cgroup) -> int:
        """Models: cgroup->nr_populated_domain_children (every cgroup is a domain)."""
        return sum(1 for c in cg.children.values() if self.cgroup_is_populated(c))


def cgroup_post_fork(ctx: Any, parent: Any, child: Any) -> None:
    """A new task (fork, thread or new process) starts in its parent's cgroup.

    Models: cgroup_post_fork(): the child joins the parent's css_set; cpuset_fork()
    changes nothing more when the cpuset is the parent's (the masks were copied by
    dup_task_struct()). A child of a kernel thread (``parent`` None) starts in the
    root cgroup.
    """
    h = ctx.cpuset_hierarchy
    if h is None or parent is None:
        return
    cg = h.css_of.get(parent.pid)
    if cg is not None:
        h.css_of[child.pid] = cg


def cgroup_exit(ctx: Any, tsk: Any) -> None:
    """An exiting task leaves its cgroup.

    Models: cgroup_exit() (the task is unlinked from its css_set; cgroup_release()
    frees the link later in the kernel, at once here).
    """
    h = ctx.cpuset_hierarchy
    if h is not None:
        h.css_of.pop(tsk.pid, None)


def cgroup_e_css(cg: cgroup) -> cgroup:
    """Models: cgroup_e_css(): the css a cgroup's tasks use: the cgroup's own, or the
    nearest ancestor's."""
    while not cg.online:
        assert cg.parent is not None
        cg = cg.parent
    return cg


def cgroup_is_descendant(cg: cgroup, ancestor: cgroup) -> bool:
    """Models: cgroup_is_descendant() (a cgroup is its own descendant)."""
    c: cgroup | None = cg
    while c is not None:
        if c is ancestor:
            return True
        c = c.parent
    return False


# ---------------------------------------------------------------- attach
def cgroup_can_be_thread_root(h: cgroup_root, cg: cgroup) -> bool:
    """Models: cgroup_can_be_thread_root(): the root always; another cgroup if none of
    its children has tasks (nr_populated_domain_children) and it enables no domain
    controller for them (cpuset is a threaded controller, the only one here)."""
    if cg.parent is None:
        return True  # cgroup_is_mixable()
    return h.nr_populated_domain_children(cg) == 0


def cgroup_is_thread_root(h: cgroup_root, cg: cgroup) -> bool:
    """Models: cgroup_is_thread_root(): a cgroup with tasks that enables a threaded
    controller (cpuset) for its children has become a thread root (no cgroup is
    threaded in the model, so nr_threaded_children is 0)."""
    return cg.subtree_control and h.cgroup_has_tasks(cg)


def cgroup_is_valid_domain(h: cgroup_root, cg: cgroup) -> bool:
    """Models: cgroup_is_valid_domain(): no ancestor but the (mixable) root is a thread
    root. Below a thread root, cgroups are ``domain invalid`` and take no tasks."""
    anc = cg.parent
    while anc is not None:
        if anc.parent is not None and cgroup_is_thread_root(h, anc):
            return False
        anc = anc.parent
    return True


def cgroup_type_show(h: cgroup_root, cg: cgroup) -> str:
    """Models: cgroup_type_show(): ``domain``, ``domain threaded`` (a thread root) or
    ``domain invalid``; ``threaded`` cgroups are not modelled."""
    if not cgroup_is_valid_domain(h, cg):
        return "domain invalid\n"
    if cg.parent is not None and cgroup_is_thread_root(h, cg):
        return "domain threaded\n"
    return "domain\n"


def cgroup_migrate_vet_dst(h: cgroup_root, dst: cgroup) -> int:
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


def cgroup_migrate(h: cgroup_root, cg: cgroup, tasks: list) -> KernelPath[int]:
    """Move ``tasks`` into cgroup ``cg``. Models: cgroup_migrate() ->
    cgroup_migrate_execute(): tasks already there are no part of the taskset; with
    any left, cpuset_can_attach() then cpuset_attach() (the source: the first task's
    css). Context: cpuset_mutex held. Preempts: in cpuset_attach()."""
    moving = [t for t in tasks if h.task_cgroup(t) is not cg]
    if not moving:
        return 0
    cs = cgroup_e_css(cg)
    ret = h.ss.can_attach(h, cs)
    if ret:
        return ret
    oldcs = h.task_css(moving[0])
    for task in moving:
        if cg is h.top:
            h.css_of.pop(task.pid, None)
        else:
            h.css_of[task.pid] = cg
    yield from h.ss.attach(h, cs, moving, oldcs)
    return 0


def cgroup_attach_task(h: cgroup_root, cg: cgroup, tasks: list) -> KernelPath[int]:
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
            ret = yield from cgroup_migrate(h, cg, tasks)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    yield from h.ss.post_attach(h)
    return ret


# ---------------------------------------------------------------- subtree_control, mkdir, rmdir
def cgroup_vet_subtree_control_enable(h: cgroup_root, cg: cgroup) -> int:
    """Models: cgroup_vet_subtree_control_enable() for a threaded controller: allowed
    where the cgroup can be a thread root, else not while it has tasks (-EBUSY).
    Returns 0 or -errno."""
    if cgroup_can_be_thread_root(h, cg):
        return 0
    if h.cgroup_has_tasks(cg):
        return -errno.EBUSY
    return 0


def cgroup_update_dfl_csses(h: cgroup_root, cg: cgroup,
                            before: dict[int, cgroup]) -> KernelPath[None]:
    """Re-home the tasks below ``cg`` whose css changed when its subtree_control did.

    Models: cgroup_update_dfl_csses() -> cgroup_migrate_execute() -> cpuset_attach(),
    one call per destination css (see the module's Simplified).
    Context: cpuset_mutex held. Preempts: in cpuset_attach().
    """
    groups: dict[int, tuple[cgroup, cgroup, list]] = {}
    for task in h.ctx.tasks.values():
        old = before.get(task.pid)
        if old is None:
            continue
        new = h.task_css(task)
        if new is old:
            continue
        if id(new) not in groups:
            groups[id(new)] = (new, old, [])
        groups[id(new)][2].append(task)
    for new, old, tasks in groups.values():
        yield from h.ss.attach(h, new, tasks, old)


def cgroup_subtree_control_write(h: cgroup_root, cg: cgroup,
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
    for tok in strstrip(buf).split(" "):
        if not tok:
            continue
        if tok[1:] != h.ss.name:
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
    yield from h.ss.post_attach(h)
    return ret


def _subtree_control_apply(h: cgroup_root, cg: cgroup, enable: bool,
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
    before = {t.pid: h.task_css(t) for t in h.ctx.tasks.values()
              if cgroup_is_descendant(h.task_cgroup(t), cg)}
    cg.subtree_control = enable
    for child in cg.children.values():
        if enable:
            h.ss.css_online(h, child)
        else:
            h.ss.css_offline(child)
    yield from cgroup_update_dfl_csses(h, cg, before)
    return 0


def cgroup_mkdir(h: cgroup_root, parent: cgroup, name: str,
                 path: str) -> KernelPath[cgroup | int]:
    """Models: cgroup_mkdir() -> cgroup_create() and, when the parent enables cpuset
    for its children (v1: always), cpuset_css_alloc() + cpuset_css_online().
    A name with a newline is -EINVAL before anything is made (cgroup_mkdir(): it
    would break /proc/<pid>/cgroup's one-line-per-hierarchy format); the VFS has
    refused "." and ".." (EEXIST) and names over NAME_MAX (ENAMETOOLONG) before.
    Context: takes cpuset_mutex (cgroup_mutex). Preempts: taking the lock.
    Returns the new cgroup or -errno."""
    if "\n" in name:
        return -errno.EINVAL
    ctx = h.ctx
    yield from mutex_lock(ctx.cpuset_mutex)
    try:
        cg = h.ss.css_alloc(name, parent, path)
        parent.children[name] = cg
        if not h.v2 or parent.subtree_control:
            h.ss.css_online(h, cg)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    return cg


def cgroup_rmdir(h: cgroup_root, cg: cgroup) -> KernelPath[int]:
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
            h.ss.css_offline(cg)
    finally:
        mutex_unlock(ctx.cpuset_mutex)
    return 0


# ---------------------------------------------------------------- cgroup files
def _err(code: int, f) -> OSError:
    return OSError(code, os.strerror(code), f.path)


def _cgroup_at(h: cgroup_root, path: str) -> cgroup:
    """The cgroup holding ``path`` (a file, or a directory being made or removed)."""
    rel = path[len(h.top.path):].strip("/")
    cg = h.top
    for part in rel.split("/")[:-1] if rel else []:
        cg = cg.children[part]
    return cg


def cgroup_procs_show(h: cgroup_root, cg: cgroup) -> str:
    """Models: cgroup_procs_show() (v2: the thread-group leaders of the cgroup) and
    cgroup-v1.c's pidlist (v1: their tgids, sorted, once each)."""
    tasks = h.cgroup_tasks(cg)
    if h.v2:
        return "".join(f"{t.pid}\n" for t in tasks if t.pid == t.tgid)
    return "".join(f"{tgid}\n" for tgid in sorted({t.tgid for t in tasks}))


def cgroup1_tasks_show(h: cgroup_root, cg: cgroup) -> str:
    """Models: cgroup-v1.c ``tasks``: the thread ids of the cgroup, sorted."""
    return "".join(f"{pid}\n" for pid in sorted(t.pid for t in h.cgroup_tasks(cg)))


def cgroup_procs_write(f, h: cgroup_root, cg: cgroup, buf: bytes,
                       threadgroup: bool) -> KernelPath[int]:
    """A write to cgroup.procs (``threadgroup``) or v1's tasks.

    Models: __cgroup_procs_write() / __cgroup1_procs_write() ->
    cgroup_procs_write_start(): kstrtoint(strstrip(buf), 0) or a negative pid EINVAL
    (both hierarchies), 0 for the writer itself, an unknown pid ESRCH, the whole
    thread group for cgroup.procs; then cgroup_attach_task().
    Returns: the byte count. Raises: OSError.
    """
    err, pid = kstrtoint(strstrip(buf.decode("latin-1")), 0)
    if err or pid < 0:
        raise _err(errno.EINVAL, f)
    if pid == 0:
        task = f.task
        if task is None:
            raise _err(errno.EINVAL, f)  # a kernel thread may not be moved
    else:
        task = h.ctx.tasks.get(pid)
        if task is None:
            raise _err(errno.ESRCH, f)
    threads = list(task.group) if threadgroup else [task]
    ret = yield from cgroup_attach_task(h, cg, threads)
    if ret < 0:
        raise _err(-ret, f)
    return len(buf)


def cgroup_controllers_show(h: cgroup_root, cg: cgroup) -> str:
    """Models: cgroup_controllers_show(): cgroup_print_ss_mask() of cgroup_control():
    the controllers the parent enables (all for the root)."""
    return f"{h.ss.name}\n" if cg.online else "\n"


def cgroup_subtree_control_show(h: cgroup_root, cg: cgroup) -> str:
    """Models: cgroup_subtree_control_show()."""
    return f"{h.ss.name}\n" if cg.subtree_control else "\n"


def cgroup_file_write(f, h: cgroup_root, cg: cgroup, cft: cftype,
                      buf: bytes) -> KernelPath[int]:
    """Models: cgroup_file_write(): a write_u64 file parses kstrtoull(buf, 0) first
    (its error returned); the controller's error, else the byte count.
    Raises: OSError."""
    if cft.write_u64 is not None:
        err, val = kstrtoull(buf.decode("latin-1"))
        if err:
            raise _err(-err, f)
        ret = cft.write_u64(h, cg, val)
    else:
        assert cft.write is not None
        ret = yield from cft.write(h, cg, buf.decode("latin-1"))
    if ret < 0:
        raise _err(-ret, f)
    return len(buf)


def _css_cftypes(h: cgroup_root, cg: cgroup) -> list[cftype]:
    """The controller's files a cgroup has (cgroup_addrm_files()'s CFTYPE_* tests)."""
    top = cg is h.top
    return [cft for cft in (h.ss.dfl_cftypes if h.v2 else h.ss.legacy_cftypes)
            if not (top and cft.flags & CFTYPE_NOT_ON_ROOT)
            and not (not top and cft.flags & CFTYPE_ONLY_ON_ROOT)]


def register(vfs, ss: cgroup_subsys) -> None:
    """Mount the hierarchy the profile names with controller ``ss`` (v2 at
    /sys/fs/cgroup, v1 at /sys/fs/cgroup/cpuset) and register the root cgroup's
    files; mkdir and rmdir add and remove the others'."""
    ctx = vfs.ctx
    v2 = ctx.profile.cpuset_cgroup_v2
    root = V2_ROOT if v2 else V1_ROOT
    h = cgroup_root(ctx, v2, root, ss)
    vfs.state["cpuset"] = h
    ctx.cpuset_hierarchy = h  # for cgroup_post_fork()

    def cg_of(f) -> cgroup:
        return _cgroup_at(h, f.path)

    def subtree_store(f, buf: bytes) -> int:
        cg = cg_of(f)
        ret = run_to_completion(cgroup_subtree_control_write(h, cg, buf.decode("latin-1")))
        if ret < 0:
            raise _err(-ret, f)
        for child in cg.children.values():  # kernfs_activate() / css_clear_dir()
            cfts = _css_cftypes(h, child)
            has_files = vfs.path_exists(f"{child.path}/{ss.name}.{cfts[-1].name}")
            if child.online and not has_files:
                register_css_files(child)
            elif not child.online and has_files:
                unregister_css_files(child)
        return len(buf)

    def css_file(cft: cftype):
        def show(f) -> str:
            return cft.show(h, cg_of(f))

        def store(f, buf: bytes) -> KernelPath[int]:
            return cgroup_file_write(f, h, cg_of(f), cft, buf)

        writable = cft.write is not None or cft.write_u64 is not None
        return show, store if writable else None, 0o644 if writable else 0o444

    def register_css_files(cg: cgroup) -> None:
        """The controller's files of an online css (css_populate_dir())."""
        for cft in _css_cftypes(h, cg):
            show, store, mode = css_file(cft)
            vfs.register_file(f"{cg.path}/{ss.name}.{cft.name}", show, store, mode=mode,
                              atomic_write_len=CGROUP_ATOMIC_WRITE_LEN)

    def unregister_css_files(cg: cgroup) -> None:
        """v2 only (css_clear_dir()): a v1 css lives as long as its directory."""
        for cft in _css_cftypes(h, cg):
            vfs.unregister(f"{cg.path}/{ss.name}.{cft.name}")

    def register_cgroup_files(cg: cgroup) -> None:
        """The core files (cgroup_base_files / cgroup1_base_files)."""
        path = cg.path
        vfs.register_file(f"{path}/cgroup.procs", lambda f: cgroup_procs_show(h, cg_of(f)),
                          lambda f, buf: cgroup_procs_write(f, h, cg_of(f), buf, True),
                          mode=0o644, atomic_write_len=CGROUP_ATOMIC_WRITE_LEN)
        if v2:
            vfs.register_file(f"{path}/cgroup.controllers",
                              lambda f: cgroup_controllers_show(h, cg_of(f)), mode=0o444)
            if cg.parent is not None:
                vfs.register_file(f"{path}/cgroup.type",
                                  lambda f: cgroup_type_show(h, cg_of(f)), mode=0o444)
            vfs.register_file(f"{path}/cgroup.subtree_control",
                              lambda f: cgroup_subtree_control_show(h, cg_of(f)),
                              subtree_store, mode=0o644,
                              atomic_write_len=CGROUP_ATOMIC_WRITE_LEN)
        else:
            vfs.register_file(f"{path}/tasks", lambda f: cgroup1_tasks_show(h, cg_of(f)),
                              lambda f, buf: cgroup_procs_write(f, h, cg_of(f), buf, False),
                              mode=0o644, atomic_write_len=CGROUP_ATOMIC_WRITE_LEN)
        if cg.online:
            register_css_files(cg)

    def mkdir(f, path: str) -> None:
        parent = _cgroup_at(h, path)
        name = path.rsplit("/", 1)[1]
        cg = run_to_completion(cgroup_mkdir(h, parent, name, path))
        if isinstance(cg, int):
            raise _err(-cg, f)
        # the name is the user's: braces are not a template here
        vfs.register_dir(path, mode=0o755, mkdir=mkdir, rmdir=rmdir, literal=True)
        register_cgroup_files(cg)

    def rmdir(f, path: str) -> None:
        parent = _cgroup_at(h, path)
        cg = parent.children[path.rsplit("/", 1)[1]]
        ret = run_to_completion(cgroup_rmdir(h, cg))
        if ret < 0:
            raise _err(-ret, f)
        vfs.unregister(path)

    vfs.register_dir(root, mode=0o755, mkdir=mkdir, rmdir=rmdir)
    vfs.mount_points.add(root)  # cgroup_get_tree(): the hierarchy is mounted there
    register_cgroup_files(h.top)
