"""The kernel entry and exit of a system call, and the sequential driver around it.

Models: kernel/entry/common.c syscall_enter_from_user_mode() and
syscall_exit_to_user_mode() (arch/x86/entry/common.c in 4.14: do_syscall_64(),
prepare_exit_to_usermode()), the parts the model has:

* on entry, signals sent while the thread ran user code are handled first: in the
  kernel the sender's IPI interrupted the thread, and the signal was delivered on
  that interrupt's way back to user space (irqentry_exit_to_user_mode()), before
  the thread could make this call;
* on exit, lockdep_sys_exit() (no lock may be held on return to user space; only
  when lock tracking is on, under the interleaving driver), then the signals raised
  meanwhile are delivered (exit_to_user_mode_loop(); kernel/task.py handle_signals()).

Every system call goes through here: the API's (thpsim.api), the VFS's reads,
writes, mkdir, rmdir, directory listings and lookups of /proc, /sys and cgroup files
(fs/vfs.py), and the stress harness's
operations (the generator form, :func:`syscall`, under the interleaving driver).
A user load or store that faults enters through the exception entry instead
(irqentry_enter_from_user_mode()/irqentry_exit_to_user_mode()), whose way back does
the same work; the model runs it through these functions too.
``task`` None is a kernel thread or the machine acting as root: no signals.

Model-only: :func:`run_syscall` is the sequential driver of one system call: it sets
``current`` (in the kernel the CPU simply runs the task) and drives the kernel path
to completion (kernel/sched.py run_to_completion()); the interleaving driver sets
``current`` at each switch itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from thpsim.errors import KernelBug
from thpsim.kernel.locking import KTHREAD
from thpsim.kernel.sched import KernelPath, Trap, run_to_completion
from thpsim.kernel.task import handle_signals

__all__ = [
    "syscall_enter_from_user_mode",
    "syscall_exit_to_user_mode",
    "lockdep_sys_exit",
    "syscall",
    "run_syscall",
    "call_syscall",
    "ULONG_MAX",
    "ulong",
    "c_int",
]

T = TypeVar("T")

#: The largest value of a system call's ``unsigned long`` / ``size_t`` argument.
ULONG_MAX = (1 << 64) - 1


def ulong(x: int) -> int:
    """A system-call argument as the kernel receives an ``unsigned long`` / ``size_t``.

    Models: the 64-bit register the argument arrives in (struct pt_regs) and the
    SYSCALL_DEFINEx wrapper's cast to the prototype's unsigned type: a Python int
    outside [0, 2**64) is taken modulo 2**64, so -4096 is 2**64 - 4096 as in C.
    """
    return x & ULONG_MAX


def c_int(x: int) -> int:
    """A system-call argument as the kernel receives an ``int`` (``pid_t`` too).

    Models: the SYSCALL_DEFINEx wrapper's cast of the 64-bit register to a 32-bit
    signed int: the low 32 bits, two's complement (2**32 + 1 is 1, 2**31 is
    -2**31). Also an ``int`` read from a user array (get_user() of an int).
    """
    x &= 0xFFFF_FFFF
    return x - (1 << 32) if x >> 31 else x


def lockdep_sys_exit(ctx: Any, task: Any) -> None:
    """Models: kernel/locking/lockdep.c lockdep_sys_exit(): returning to user space
    with a lock held is a bug. Only when lock tracking is on (``ctx.lockdep``)."""
    ld = ctx.lockdep
    if ld is None:
        return
    held = ld.get(KTHREAD if task is None else task)
    if held:
        raise KernelBug(f"lock held when returning to user space: {task!r} holds {held}")


def syscall_enter_from_user_mode(ctx: Any, task: Any) -> None:
    """Models: syscall_enter_from_user_mode() (module docstring: pending signals first)."""
    if task is not None:
        handle_signals(task)


def syscall_exit_to_user_mode(ctx: Any, task: Any, completed: bool = True) -> None:
    """Models: syscall_exit_to_user_mode(): lockdep_sys_exit() when the call completed
    (a path that raised has unwound what it held, or is a model failure already), then
    the pending signals are delivered."""
    if completed:
        lockdep_sys_exit(ctx, task)
    if task is not None:
        handle_signals(task)


def syscall(ctx: Any, task: Any, gen: Generator[Trap, None, T]) -> KernelPath[T]:
    """One system call of ``task`` as a kernel path: entry, ``gen``, exit.

    For the interleaving driver, which sets ``current`` at each step; it yields
    exactly what ``gen`` yields. A path closed half-way (a failed run being unwound)
    skips the exit work.
    """
    syscall_enter_from_user_mode(ctx, task)
    try:
        ret = yield from gen
    except GeneratorExit:
        raise
    except BaseException:
        syscall_exit_to_user_mode(ctx, task, completed=False)
        raise
    syscall_exit_to_user_mode(ctx, task)
    return ret


def call_syscall(ctx: Any, task: Any, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """The sequential driver around a system call whose body is a plain function (a
    VFS read or write, which drives its own kernel paths): ``current`` = ``task``
    for its duration, the entry before it, the exit after it."""
    prev = ctx.current
    syscall_enter_from_user_mode(ctx, task)
    ctx.current = task
    completed = False
    try:
        ret = fn(*args, **kw)
        completed = True
    finally:
        ctx.current = prev
        syscall_exit_to_user_mode(ctx, task, completed)
    return ret


def run_syscall(ctx: Any, task: Any, gen: Generator[Trap, None, T]) -> T:
    """The sequential driver of one system call: ``gen`` (a kernel path) runs to
    completion with ``current`` = ``task``, between the entry and the exit."""
    return call_syscall(ctx, task, run_to_completion, gen)
