"""Helpers shared by the /proc files.

Models: fs/proc/internal.h (``get_proc_task``, ``proc_mem_open`` via
``mm_access``), kernel/ptrace.c ``__ptrace_may_access`` (the uid and
CAP_SYS_PTRACE part) and fs/proc/meminfo.c ``show_val_kb``.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from thpsim.kernel.sched import KernelPath, run_to_completion
from thpsim.kernel.task import CAP_SYS_PTRACE

if TYPE_CHECKING:
    from thpsim.fs.vfs import File

__all__ = [
    "get_proc_task",
    "get_task_mm",
    "ptrace_may_access",
    "proc_mem_open",
    "run_as_opener",
    "show_val_kb",
    "node_states_memory",
]


def get_proc_task(f: File) -> Any:
    """Models: get_proc_task(): the task the /proc/PID (or .../task/TID) directory names."""
    return f.params.get("tid") or f.params["pid"]


def get_task_mm(task: Any) -> Any:
    """Models: get_task_mm(): the task's mm, or None (exited, or no address space)."""
    mm = task.mm
    return None if mm is None or mm.dead else mm


def ptrace_may_access(f: File, task: Any) -> bool:
    """Models: kernel/ptrace.c __ptrace_may_access(), PTRACE_MODE_READ_FSCREDS.

    Same thread group: yes. Else the opener's uid must match the target's uid,
    euid and suid (and the target be dumpable, which every modelled task is),
    or the opener must hold CAP_SYS_PTRACE.
    Simplified: no LSM hook, no gid check (the model has no group ids).
    """
    if f.task is None or f.task.tgid == task.tgid:
        return True
    caller, tcred = f.cred, f.vfs.cred_of(task)
    if caller.euid == tcred.uid == tcred.euid == tcred.suid:
        return True
    return caller.capable(CAP_SYS_PTRACE)


def proc_mem_open(f: File) -> None:
    """Models: fs/proc/base.c proc_mem_open() -> mm_access(): EACCES unless the opener
    may ptrace-read the task (its own mm always passes)."""
    task = get_proc_task(f)
    mm = get_task_mm(task)
    if mm is not None and f.task is not None and f.task.mm is mm:
        return
    if not ptrace_may_access(f, task):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), f.path)


def run_as_opener(f: File, gen: KernelPath[Any]) -> Any:
    """Run a kernel path to completion with ``current`` = the opener, then restore it.

    Model-only: what the read(2)/write(2) system call entry does for the file's
    method. Root (``f.task is None``) runs as a kernel thread.
    """
    ctx = f.ctx
    prev = ctx.current
    ctx.current = f.task
    try:
        return run_to_completion(gen)
    finally:
        ctx.current = prev


def show_val_kb(label: str, kb: int) -> str:
    """Models: fs/proc/meminfo.c show_val_kb(): a 16-column label, the value right-aligned
    in 8 columns (wider if needed), " kB". ``label`` includes the colon."""
    return f"{label:<16}{kb:>8} kB\n"


def node_states_memory(ctx: Any) -> list[int]:
    """Models: node_states[N_MEMORY] as a list of node ids, in id order (the mask is
    :func:`thpsim.mm.mempolicy.node_states_memory`)."""
    from thpsim.mm.mempolicy import node_states_memory as n_memory
    from thpsim.mm.mempolicy import nodes_list

    return nodes_list(n_memory(ctx))
