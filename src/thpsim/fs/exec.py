"""execve(2)'s new address space: how a process started by the kernel gets its mm.

Models: fs/exec.c, the part of an exec the model has: bprm_mm_init() -> mm_alloc()
(an empty address space), exec_mmap() (the task's mm and mm->owner; the old mm, if
any, is dropped with mmput()), __set_task_comm(). The credentials are the ones the
starter gave the child before the exec (commit_creds(): a setuid()/capset() in the
child, or the kernel's own for a user-mode helper).

Simplified: no binary is loaded: the new mm has no VMAs (no text, heap or stack);
the process maps what it needs with mmap(2). Only a task without an mm execs here
(the child of a kernel thread, see kernel/fork.py copy_process()).
"""

from __future__ import annotations

import errno
from typing import Any

from thpsim.errors import KernelBug
from thpsim.kernel.fork import mm_alloc

__all__ = ["exec_mm"]


def exec_mm(ctx: Any, tsk: Any, new_cred: Any, comm: str) -> int:
    """Give ``tsk`` (``current``, which has no mm yet) ``new_cred``, a new empty mm
    and the name ``comm``.

    Models: commit_creds(), then bprm_mm_init() -> mm_alloc() and exec_mmap(), then
    __set_task_comm() (module docstring). The PGD is allocated as ``tsk``, on its
    CPU's node. Context: process. Preempts: never.
    Returns: 0, or -ENOMEM when no page is left for the PGD (nothing changed).
    """
    if tsk.mm is not None:
        raise KernelBug("exec_mm: only a task without an address space is modelled")
    try:
        mm = mm_alloc(ctx)
    except OSError:
        return -errno.ENOMEM
    tsk.cred = new_cred
    tsk.mm = mm
    mm.owner = tsk
    tsk.comm = comm
    return 0
