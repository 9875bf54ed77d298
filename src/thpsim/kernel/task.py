"""Tasks, credentials and pending signals.

Models: include/linux/sched.h task_struct (the fields the model uses),
include/linux/cred.h, include/uapi/linux/capability.h; the sending and testing of
signals from kernel/signal.c and include/linux/sched/signal.h (no module of their
own yet: only what kill(2) and signal_pending() need).
A process is a thread group: its threads share one mm_struct and one
signal_struct; ``tgid`` is the process id, ``pid`` the thread's own id.

Signals, Simplified:
    * Only pending sets: kill(2) queues a signal on the thread group's shared set
      and sets TIF_SIGPENDING on the thread complete_signal() picks, which is what
      signal_pending() tests (a kernel path sleeping in ``WaitOn`` sees it at once).
    * No dispositions, masks, handlers or siginfo: every signal counts as caught by
      a handler that returns (none is ignored at send time, none kills, SIGKILL and
      SIGSTOP included); :func:`handle_signals` dequeues them all when the thread
      returns to user space (the kernel entry, kernel/entry.py, calls it at the
      start and end of each system call, so a signal sent while the thread runs
      user code is handled before its next one). Interrupted system calls are
      never restarted: the caller sees the -EINTR, as with a handler installed
      without SA_RESTART.
"""

from __future__ import annotations

import errno
from typing import Any

CAP_SETUID = 7
CAP_IPC_LOCK = 14
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
CAP_SYS_NICE = 23
CAP_SYS_RESOURCE = 24
CAP_LAST_CAP = 40
ALL_CAPS = frozenset(range(CAP_LAST_CAP + 1))


class cred:
    """Models: struct cred (uids and the effective capability set)."""

    __slots__ = ("uid", "euid", "suid", "cap_effective")

    def __init__(self, uid: int, caps: frozenset[int]):
        self.uid = self.euid = self.suid = uid
        self.cap_effective = caps

    def capable(self, cap: int) -> bool:
        return cap in self.cap_effective


#: include/uapi/asm-generic/signal.h: signals are numbered 1 .. _NSIG (64 on x86-64).
_NSIG = 64
SIGINT = 2
SIGKILL = 9
SIGUSR1 = 10
SIGTERM = 15
#: arch/x86/include/asm/thread_info.h: "signal pending" in thread_info.flags.
TIF_SIGPENDING = 2
_TIF_SIGPENDING = 1 << TIF_SIGPENDING


def sigmask(sig: int) -> int:
    """Models: include/linux/signal.h sigmask(): signal ``sig``'s bit in a sigset_t."""
    return 1 << (sig - 1)


def valid_signal(sig: int) -> bool:
    """Models: include/linux/signal.h valid_signal(): 0 .. _NSIG (0 sends nothing)."""
    return 0 <= sig <= _NSIG


class signal_struct:
    """Models: struct signal_struct, the part a thread group shares for signals:
    ``shared_pending`` (struct sigpending's sigset_t, one bit per signal)."""

    __slots__ = ("shared_pending",)

    def __init__(self) -> None:
        self.shared_pending = 0


class task_struct:
    """Models: struct task_struct (one thread)."""

    __slots__ = ("pid", "tgid", "mm", "cpu", "cred", "comm", "mempolicy", "group",
                 "exit_state", "il_prev", "mems_allowed", "cpus_allowed",
                 "pending", "signal", "thread_flags", "files")

    def __init__(self, pid: int, tgid: int, mm: Any, cpu: int, creds: cred, comm: str):
        self.pid = pid
        self.tgid = tgid
        self.mm = mm
        self.cpu = cpu
        self.cred = creds
        self.comm = comm
        self.mempolicy: Any = None
        #: the thread group (all threads of the process), shared list
        self.group: list[task_struct] = [self]
        self.exit_state = 0
        #: the interleave cursor (MAX_NUMNODES - 1, as every task inherits from init)
        self.il_prev = (1 << 10) - 1
        #: the cpuset's allowed nodes (a bitmask); None: every node with memory
        self.mems_allowed: int | None = None
        #: the cpuset's CPUs (a bitmask, set_cpus_allowed_ptr()); None: every CPU.
        #: Recorded only: the task stays on ``cpu``.
        self.cpus_allowed: int | None = None
        #: signals sent to this thread alone (task->pending.signal, a sigset_t)
        self.pending = 0
        #: the thread group's signal_struct (shared by the threads of the group)
        self.signal = signal_struct()
        #: thread_info.flags: TIF_SIGPENDING
        self.thread_flags = 0
        #: the open files (fs/file.py files_struct; threads share it), None once exited
        self.files: Any = None

    def __repr__(self) -> str:
        return f"<task {self.pid}/{self.tgid} cpu{self.cpu}>"


# ---------------------------------------------------------------- signals
def signal_pending(task: task_struct | None) -> bool:
    """Models: include/linux/sched/signal.h signal_pending(): TIF_SIGPENDING is set.

    Context: any. Preempts: never. A kernel thread (``task`` None: what runs with no
    ``current``) has no signals here.
    """
    return task is not None and task.thread_flags & _TIF_SIGPENDING != 0


def signal_wake_up(t: task_struct) -> None:
    """Models: kernel/signal.c signal_wake_up(): set TIF_SIGPENDING. The wake-up is
    implicit: a path sleeping in ``WaitOn`` re-tests its condition at every step."""
    t.thread_flags |= _TIF_SIGPENDING


def recalc_sigpending(t: task_struct) -> None:
    """Models: kernel/signal.c recalc_sigpending_tsk(): TIF_SIGPENDING stays set while
    a signal is pending for the thread or its group (no signal is ever blocked)."""
    if t.pending or t.signal.shared_pending:
        t.thread_flags |= _TIF_SIGPENDING
    else:
        t.thread_flags &= ~_TIF_SIGPENDING


def wants_signal(t: task_struct) -> bool:
    """Models: kernel/signal.c wants_signal() with no blocked masks, stopped or traced
    tasks: an exiting thread does not want it, nor one that already has one pending
    (task_curr() is not modelled)."""
    if t.exit_state:
        return False
    return not t.thread_flags & _TIF_SIGPENDING


def complete_signal(p: task_struct) -> None:
    """Pick the thread of ``p``'s group that takes a group-wide signal, and wake it.

    Models: kernel/signal.c complete_signal(): ``p`` itself when it wants the signal,
    else the first other thread that does (the kernel resumes from
    signal->curr_target; here the scan starts at the group's first thread); if none
    does, each already has TIF_SIGPENDING and one of them will dequeue it.
    Simplified: no fatal-signal group kill.
    """
    if wants_signal(p):
        signal_wake_up(p)
        return
    for t in p.group:
        if wants_signal(t):
            signal_wake_up(t)
            return


def send_signal_locked(sig: int, t: task_struct, group: bool) -> int:
    """Queue ``sig`` on ``t`` (with ``group``, on its thread group) and wake a thread.

    Models: kernel/signal.c __send_signal_locked() (legacy_queue(): a signal already
    pending is not queued twice), then complete_signal() or signal_wake_up(); was
    __send_signal(), 4.14. Context: siglock in the kernel. Preempts: never.
    Returns: 0.
    """
    bit = sigmask(sig)
    if group:
        t.signal.shared_pending |= bit
        complete_signal(t)
    else:
        t.pending |= bit
        signal_wake_up(t)
    return 0


def group_send_sig_info(sig: int, p: task_struct) -> int:
    """Models: kernel/signal.c group_send_sig_info() -> check_kill_permission() ->
    do_send_sig_info(PIDTYPE_TGID). Returns: 0 (signal 0 only checks), or -EINVAL for
    a bad signal number. Simplified: the sender is root, so permission always holds."""
    if not valid_signal(sig):
        return -errno.EINVAL
    if sig == 0:
        return 0
    return send_signal_locked(sig, p, True)


def kill_pid_info(tasks: dict[int, task_struct], sig: int, pid: int) -> int:
    """kill(2) of one positive pid: a process, or any of its threads by thread id.

    Models: kernel/signal.c kill_proc_info() -> kill_pid_info(): -ESRCH when no task
    has that id (tested before the signal number), else group_send_sig_info().
    ``tasks`` is the pid table (KernelContext.tasks). Context: process (rcu read lock
    in the kernel). Preempts: never. Returns: 0 or -errno.
    """
    p = tasks.get(pid)
    if p is None or p.exit_state:
        return -errno.ESRCH
    return group_send_sig_info(sig, p)


def dequeue_signal(t: task_struct) -> int:
    """Take the lowest-numbered pending signal of ``t``: its own set first, then the
    group's.

    Models: kernel/signal.c dequeue_signal() -> next_signal() (the preference for
    synchronous signals is moot: none is ever queued), then recalc_sigpending().
    Context: siglock in the kernel. Preempts: never. Returns: the signal, 0 if none.
    """
    sig = 0
    if t.pending:
        low = t.pending & -t.pending
        t.pending &= ~low
        sig = low.bit_length()
    elif t.signal.shared_pending:
        low = t.signal.shared_pending & -t.signal.shared_pending
        t.signal.shared_pending &= ~low
        sig = low.bit_length()
    recalc_sigpending(t)
    return sig


def handle_signals(t: task_struct) -> list[int]:
    """Deliver every pending signal of ``t`` on its way back to user space.

    Models: the signal loop of exit_to_user_mode_loop() -> arch_do_signal_or_restart()
    -> get_signal() (do_signal() in 4.14). Context: returning to user space.
    Preempts: never.
    Returns: the signals delivered, in order.
    Simplified: every signal is caught by a handler that returns (module docstring),
    so delivering one is dequeuing it.
    """
    out: list[int] = []
    while t.thread_flags & _TIF_SIGPENDING:
        sig = dequeue_signal(t)
        if not sig:
            break
        out.append(sig)
    return out
