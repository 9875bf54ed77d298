"""The /proc root and the per-process directories /proc/PID and /proc/PID/task/TID.

Models: fs/proc/root.c (``proc_root_lookup``, ``proc_root_readdir``), fs/proc/base.c
(``proc_pid_lookup``, ``proc_pid_readdir``, ``proc_task_lookup``,
``task_dump_owner``), fs/proc/self.c (``/proc/self``).

``/proc/PID`` resolves any live task id (thread ids too, as Linux does, though
readdir lists thread-group leaders only); ``/proc/self`` resolves to the
opener's thread-group leader. Files under the two templates are registered by
the modules that model them (task_mmu, array) for both directories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["register", "PID_DIRS", "task_dump_owner"]

#: The directories per-task files live in (tgid_base_stuff and tid_base_stuff).
PID_DIRS = ("/proc/{pid}", "/proc/{pid}/task/{tid}")


def _live(task: Any) -> bool:
    return task is not None and not task.exit_state


def proc_pid_lookup(f: File, name: str) -> Any:
    """Models: proc_pid_lookup() (and proc_self_get_link for "self")."""
    tasks = f.ctx.tasks
    if name == "self":
        if f.task is None:
            return None
        leader = tasks.get(f.task.tgid)
        return leader if _live(leader) else None
    if not name.isdigit() or name != str(int(name)):
        return None
    task = tasks.get(int(name))
    return task if _live(task) else None


def proc_pid_readdir(f: File) -> list[str]:
    """Models: proc_pid_readdir(): "self", then every thread-group leader by pid."""
    names = ["self"] if f.task is not None else []
    names += [str(pid) for pid, t in sorted(f.ctx.tasks.items()) if t.pid == t.tgid and _live(t)]
    return names


def proc_task_lookup(f: File, name: str) -> Any:
    """Models: proc_task_lookup(): a thread of the /proc/PID task's thread group."""
    if not name.isdigit() or name != str(int(name)):
        return None
    task = f.ctx.tasks.get(int(name))
    if not _live(task) or task.tgid != f.params["pid"].tgid:
        return None
    return task


def proc_task_readdir(f: File) -> list[str]:
    leader = f.params["pid"]
    return [str(t.pid) for t in sorted(leader.group, key=lambda t: t.pid) if _live(t)]


def task_dump_owner(f: File) -> int:
    """Models: task_dump_owner(): /proc/PID files belong to the task's euid, or to
    root while its mm is not dumpable (after a setuid: SUID_DUMP_DISABLE).

    Simplified: the kernel keeps the euid for the 0555 directories themselves
    (/proc/PID); the model's directories are world-readable either way."""
    task = f.params.get("tid") or f.params["pid"]
    mm = task.mm
    if mm is not None and mm.dumpable != 1:
        return 0
    return f.vfs.cred_of(task).euid


def register(vfs: VFS) -> None:
    vfs.register_dir("/proc", mode=0o555)
    vfs.register_dir("/proc/{pid}", mode=0o555, owner=task_dump_owner,
                     lookup=proc_pid_lookup, names=proc_pid_readdir)
    vfs.register_dir("/proc/{pid}/task", mode=0o555, owner=task_dump_owner)
    vfs.register_dir("/proc/{pid}/task/{tid}", mode=0o555, owner=task_dump_owner,
                     lookup=proc_task_lookup, names=proc_task_readdir)
