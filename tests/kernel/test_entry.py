"""The kernel entry (kernel/entry.py): every system call -- the API's, the VFS's and
the interleaved ones -- sets ``current``, handles signals and checks lockdep the same way."""

import pytest

from thpsim import Machine
from thpsim.errors import KernelBug
from thpsim.kernel.entry import run_syscall, syscall
from thpsim.kernel.interleave import Op, Program, run_interleaved
from thpsim.kernel.locking import down_write, rw_semaphore, up_write
from thpsim.kernel.sched import PREEMPT
from thpsim.kernel.schedulers import RoundRobinScheduler
from thpsim.kernel.task import SIGINT, SIGUSR1, signal_pending

MB = 1 << 20


def small():
    return Machine(nodes={0: 32 * MB}, block_size=32 * MB, cpus=2)


def test_run_syscall_sets_current_and_handles_signals_around():
    m = small()
    ctx = m.kernel
    p = m.spawn()
    seen = []

    def path():
        seen.append((ctx.current, signal_pending(p.task)))
        m.kill(p.pid, SIGINT)  # raised while in the kernel: handled on the way out
        yield PREEMPT
        return 5

    m.kill(p.pid, SIGUSR1)  # sent while in user space: handled on the way in
    assert run_syscall(ctx, p.task, path()) == 5
    assert seen == [(p.task, False)]
    assert ctx.current is None and not signal_pending(p.task)


def test_signals_are_handled_when_the_path_raises():
    m = small()
    p = m.spawn()

    def path():
        m.kill(p.pid, SIGINT)
        raise OSError(5, "EIO")
        yield PREEMPT

    with pytest.raises(OSError) as e:
        run_syscall(m.kernel, p.task, path())
    assert e.value.errno == 5
    assert not signal_pending(p.task) and m.kernel.current is None


def test_the_generator_form_yields_what_the_path_yields():
    m = small()
    p = m.spawn()

    def path():
        yield PREEMPT
        yield PREEMPT
        return 1

    g = syscall(m.kernel, p.task, path())
    assert [next(g), next(g)] == [PREEMPT, PREEMPT]
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == 1


def test_returning_to_user_space_with_a_lock_held_is_a_bug():
    """lockdep_sys_exit(): under the interleaving driver (lock tracking on) a system call
    that returns holding a lock fails the run."""
    m = small()
    ctx = m.kernel
    p = m.spawn()
    sem = rw_semaphore(ctx, "mmap_lock", "x")

    def leaky():
        yield from down_write(sem)
        return 0

    def fine():
        yield from down_write(sem)
        up_write(sem)
        return 0

    ok = run_interleaved(ctx, [Program(0, p.task, [Op("fine", lambda: m.syscall(p.task, fine()))])],
                         RoundRobinScheduler(0))
    assert ok.failure is None
    ex = run_interleaved(ctx, [Program(0, p.task,
                                       [Op("leaky", lambda: m.syscall(p.task, leaky()))])],
                         RoundRobinScheduler(0))
    assert ex.failure is not None and ex.failure.kind == "bug"
    assert "lock held when returning to user space" in ex.failure.message


def test_a_vfs_read_runs_as_the_opener():
    m = small()
    p = m.spawn()
    p.kill(SIGINT)
    assert "Name:\tthpsim" in p.fs.read("/proc/self/status")
    assert not signal_pending(p.task) and m.kernel.current is None


def test_a_vfs_listdir_and_lookup_are_system_calls_too():
    """getdents64() and stat() go through the entry like read(): the signals pending
    when the opener enters are handled, and ``current`` is restored after."""
    m = small()
    p = m.spawn()
    p.kill(SIGINT)
    assert "status" in p.fs.listdir("/proc/self")
    assert not signal_pending(p.task) and m.kernel.current is None
    p.kill(SIGINT)
    assert p.fs.exists("/proc/self/status") and not p.fs.exists("/proc/self/nothing")
    assert not signal_pending(p.task) and m.kernel.current is None


def test_a_path_yielding_a_non_trap_is_a_bug():
    m = small()
    p = m.spawn()

    def path():
        yield object()

    with pytest.raises(KernelBug):
        run_syscall(m.kernel, p.task, path())
    assert m.kernel.current is None
