"""Helpers shared by the /proc files.

Models: fs/proc/internal.h (``get_proc_task``, ``proc_mem_open`` via
``mm_access``), kernel/ptrace.c ``__ptrace_may_access`` (the uid and
CAP_SYS_PTRACE part), lib/vsprintf.c ``%*pb`` / ``%*pbl`` bitmap formats, and
fs/proc/meminfo.c ``show_val_kb``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
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
    "bitmap_list_string",
    "bitmap_string",
    "parse_kstrto",
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


def bitmap_list_string(ids: Iterable[int]) -> str:
    """Models: ``%*pbl`` (bitmap_list_string): ``0-2,5``; empty for no bits."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(ids)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def bitmap_string(ids: Iterable[int], nbits: int) -> str:
    """Models: ``%*pb`` (bitmap_string): hex, 32 bits per comma-separated chunk, most
    significant chunk first; every chunk but a partial first one is zero-padded."""
    value = 0
    for i in ids:
        value |= 1 << i
    chunks = []
    nchunks = (nbits + 31) // 32
    for k in range(nchunks - 1, -1, -1):
        bits = min(32, nbits - 32 * k)
        word = (value >> (32 * k)) & ((1 << bits) - 1)
        chunks.append(f"{word:0{(bits + 3) // 4}x}")
    return ",".join(chunks)


def parse_kstrto(data: bytes, lo: int, hi: int) -> tuple[int, int]:
    """Models: lib/kstrtox.c kstrtoint(strstrip(buf), 10, ...): optional sign, decimal
    digits, nothing else. Returns ``(0, value)``, or ``(-errno, 0)``: -EINVAL (not a
    number), -ERANGE (outside [lo, hi], the C type's range)."""
    s = data.decode("latin-1").strip(" \t\n\v\f\r")
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or not body.isascii() or not body.isdigit():
        return -errno.EINVAL, 0
    v = int(s)
    if not lo <= v <= hi:
        return -errno.ERANGE, 0
    return 0, v


def node_states_memory(ctx: Any) -> list[int]:
    """Models: node_states[N_MEMORY] as a list of node ids, in id order (the mask is
    :func:`thpsim.mm.mempolicy.node_states_memory`)."""
    from thpsim.mm.mempolicy import node_states_memory as n_memory
    from thpsim.mm.mempolicy import nodes_list

    return nodes_list(n_memory(ctx))
