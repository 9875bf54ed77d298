"""Task exit: the one way a task ends.

Models: kernel/exit.c, v4.14: do_exit() (exit_mm() -> mmput(), cgroup_exit(), the
task unhashed and released: __unhash_process(), release_task()) and
do_group_exit() (exit_group(2): every thread of the group exits).

Layer: the mm level, like kernel/fork.py (exit_mm() drops the address space).

Simplified: no exit codes, zombies, wait(2), reparenting or exit signals: a task
that exits is released at once (``exit_state`` EXIT_DEAD, out of the pid table and
its thread group). exit_mm() leaves ``task.mm`` pointing at the mm (the API still
shows a dead process's mm; get_task_mm() treats it as gone).
"""

from __future__ import annotations

from typing import Any

from thpsim.fs.file import put_files_struct
from thpsim.kernel.cgroup.cgroup import cgroup_exit
from thpsim.kernel.fork import mmput
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.sched_fair import exit_numa_balancing

__all__ = ["EXIT_DEAD", "EXIT_ZOMBIE", "do_exit", "do_group_exit", "exit_files", "exit_mm"]

# include/linux/sched.h, task_struct.exit_state
EXIT_DEAD = 0x0010
EXIT_ZOMBIE = 0x0020


def exit_mm(tsk: Any) -> KernelPath[list[str]]:
    """Drop the task's address space.

    Models: kernel/exit.c exit_mm(): mmput() of the task's reference; the last user
    tears the mm down (exit_mmap()). Returns what check_mm() printed then (empty when
    nothing leaked, or when other users remain).
    """
    mm = tsk.mm
    if mm is None:
        return []
    return (yield from mmput(mm))


def exit_files(tsk: Any) -> None:
    """Models: kernel/exit.c exit_files(): drop the task's share of its open files;
    the last user closes them all (a pipe's pages are released then)."""
    files, tsk.files = tsk.files, None
    if files is not None:
        put_files_struct(files)


def do_exit(ctx: Any, tsk: Any) -> KernelPath[list[str]]:
    """The task ends: its mm reference is dropped and it leaves every table.

    Models: kernel/exit.c do_exit() -> exit_mm(), cgroup_exit(), then release_task()
    -> __exit_signal() -> __unhash_process() (out of the pid table and the thread
    group). Preempts: in the last mmput(). Returns what check_mm() printed.
    """
    out = yield from exit_mm(tsk)
    exit_files(tsk)
    exit_numa_balancing(ctx, tsk)
    cgroup_exit(ctx, tsk)
    tsk.exit_state = EXIT_DEAD
    ctx.tasks.pop(tsk.pid, None)
    if tsk in tsk.group and len(tsk.group) > 1:
        tsk.group.remove(tsk)
    return out


def do_group_exit(ctx: Any, tsk: Any) -> KernelPath[list[str]]:
    """exit_group(2): every thread of ``tsk``'s group exits, ``tsk`` last.

    Models: kernel/exit.c do_group_exit(): zap_other_threads() makes the others exit,
    then the caller runs do_exit(). Simplified: the other threads' do_exit() runs
    here, one after the other in the caller's context (in the kernel each runs it
    itself, in whatever order they wake); the caller's is last, so its mmput() is the
    one that tears the mm down. Returns what check_mm() printed.
    """
    out: list[str] = []
    for t in [t for t in tsk.group if t is not tsk]:
        out += yield from do_exit(ctx, t)
    out += yield from do_exit(ctx, tsk)
    return out
