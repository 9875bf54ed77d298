"""Helpers shared by the /proc files.

Models: fs/proc/internal.h (``get_proc_task``, ``proc_mem_open`` via
kernel/fork.c ``mm_access``, the mm reference a task file's read holds),
lib/vsprintf.c ``%*pb`` / ``%*pbl`` bitmap formats, and fs/proc/meminfo.c
``show_val_kb``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from thpsim.kernel.fork import get_task_mm, mm_access, mmput
from thpsim.kernel.ptrace import PTRACE_MODE_READ_FSCREDS
from thpsim.kernel.sched import KernelPath, run_to_completion

if TYPE_CHECKING:
    from thpsim.fs.vfs import File

__all__ = [
    "mainline_formats",
    "get_proc_task",
    "proc_mem_open",
    "proc_task_mm_read",
    "show_val_kb",
    "bitmap_list_string",
    "bitmap_string",
    "parse_kstrto",
    "node_states_memory",
]


def mainline_formats(ctx: Any) -> bool:
    """The views print what current Linux prints (the ``mainline`` profile).

    Model-only era test: the text formats and the few reporting rules that
    changed after 4.14 (each call site names the version that changed it) follow
    the profile's name, as the brief for these views asks; ``seed`` prints 4.14.
    """
    return ctx.profile.name == "mainline"


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


def proc_task_mm_read(f: File, path: Callable[[Any], KernelPath[T]]) -> T:
    """Run ``path(mm)``, a /proc/PID file's kernel path over the task's mm (None when
    it has none), to completion, holding a user reference on the mm meanwhile.

    Models: get_task_mm() ... mmput() around a task file's show (the seq_file's
    m_start()/m_stop() take and drop the reference with mmget_not_zero()/mmput()).
    Runs in the read(2) system call of the opener (fs/vfs.py: ``current`` is set).
    """
    mm = get_task_mm(get_proc_task(f))
    try:
        return run_to_completion(path(mm))
    finally:
        if mm is not None:
            run_to_completion(mmput(mm))


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
