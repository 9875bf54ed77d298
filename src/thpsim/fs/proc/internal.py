"""Helpers shared by the /proc files.

Models: fs/proc/internal.h (``get_proc_task``, ``proc_mem_open`` via
kernel/fork.c ``mm_access``, the mm reference a task file's read holds) and
fs/proc/meminfo.c ``show_val_kb``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from thpsim.include.linux.nodemask import node_states_memory as n_memory
from thpsim.kernel.fork import get_task_mm, mm_access, mmput
from thpsim.kernel.ptrace import PTRACE_MODE_READ_FSCREDS
from thpsim.kernel.sched import KernelPath, run_to_completion
from thpsim.mm.mempolicy import nodes_list

if TYPE_CHECKING:
    from thpsim.fs.vfs import File

__all__ = [
    "get_proc_task",
    "proc_mem_open",
    "proc_task_mm_read",
    "show_val_kb",
    "node_states_memory",
]


def get_proc_task(f: File) -> Any:
    """Models: get_proc_task(): the task the /proc/PID (or .../task/TID) directory names."""
    return f.params.get("tid") or f.params["pid"]


def proc_mem_open(f: File) -> None:
    """Models: fs/proc/base.c proc_mem_open() -> mm_access(PTRACE_MODE_READ_FSCREDS):
    EACCES unless the opener may ptrace-read the task (its own mm always passes).
    The file keeps no reference (the kernel's mmgrab() keeps the struct, not the
    address space; each read takes its own, :func:`proc_task_mm_read`)."""
    mm = run_to_completion(mm_access(f.task, get_proc_task(f), PTRACE_MODE_READ_FSCREDS))
    if isinstance(mm, int):
        raise OSError(-mm, os.strerror(-mm), f.path)
    if mm is not None:
        run_to_completion(mmput(mm))


T = TypeVar("T")


def proc_task_mm_read(f: File, path: Callable[[Any], KernelPath[T]]) -> KernelPath[T]:
    """Run ``path(mm)``, a /proc/PID file's kernel path over the task's mm (None when
    it has none), holding a user reference on the mm meanwhile.

    Models: get_task_mm() ... mmput() around a task file's show or write (the
    seq_file's m_start()/m_stop() take and drop the reference with
    mmget_not_zero()/mmput(); pagemap_read() and clear_refs_write() do the same).
    Context: the read(2) or write(2) of the opener (``current``). Preempts: in
    ``path``; in mmput() only if the task exited meanwhile and this was the last user.
    A path unwound half-way (an exception, a closed interleaving) drops the reference
    at once.
    """
    mm = get_task_mm(get_proc_task(f))
    try:
        ret = yield from path(mm)
    except BaseException:
        if mm is not None:
            run_to_completion(mmput(mm))
        raise
    if mm is not None:
        yield from mmput(mm)
    return ret


def show_val_kb(label: str, kb: int) -> str:
    """Models: fs/proc/meminfo.c show_val_kb(): a 16-column label, the value right-aligned
    in 8 columns (wider if needed), " kB". ``label`` includes the colon."""
    return f"{label:<16}{kb:>8} kB\n"


def node_states_memory(ctx: Any) -> list[int]:
    """Models: node_states[N_MEMORY] as a list of node ids, in id order (the mask is
    :func:`thpsim.include.linux.nodemask.node_states_memory`)."""

    return nodes_list(n_memory(ctx))
