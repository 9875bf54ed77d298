"""The cgroup core's fork and exit hooks.

Models: kernel/cgroup/cgroup.c cgroup_post_fork() and cgroup_exit(), the hooks
copy_process() and do_exit() call. The task-to-cgroup links live in the mounted
cpuset hierarchy (kernel/cgroup/cpuset.py, ``ctx.cpuset_hierarchy``); this module
reads them through the context and imports neither the controller nor fork, so
kernel/fork.py can call it (as copy_process() calls into kernel/cgroup/cgroup.c)
without a cycle.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cgroup_post_fork", "cgroup_exit"]


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
