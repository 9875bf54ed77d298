"""kill(2) and pending signals (kernel/task.py; Machine.kill, Process.kill).

Only what the model has: a signal is queued on the thread group, TIF_SIGPENDING is
set on the thread complete_signal() picks (what signal_pending() tests, as the
memory hot-remove loop does), and it is handled when that thread next passes through
a system call (every signal counts as caught by a handler).
"""

import errno

import pytest

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.errors import ConfigError
from thpsim.kernel.task import SIGINT, SIGTERM, SIGUSR1, handle_signals, signal_pending

MB = 1 << 20


def small():
    return Machine(nodes={0: 32 * MB}, block_size=32 * MB, cpus=2)


def test_kill_errors_as_kill2():
    m = small()
    p = m.spawn()
    for pid, sig, err in ((9999, SIGINT, errno.ESRCH),   # no such process
                          (9999, 65, errno.ESRCH),       # ESRCH is found first
                          (p.pid, 65, errno.EINVAL),     # past _NSIG (64)
                          (p.pid, -1, errno.EINVAL)):
        with pytest.raises(OSError) as e:
            m.kill(pid, sig)
        assert e.value.errno == err
    assert m.kill(p.pid, 0) == 0 and not signal_pending(p.task)  # 0: only checks
    with pytest.raises(ConfigError):
        m.kill(0, SIGINT)  # process groups are not modelled
    p.exit()
    with pytest.raises(OSError) as e:
        p.kill(SIGINT)
    assert e.value.errno == errno.ESRCH


def test_pending_until_the_next_system_call():
    """A signal sent while the process runs user code is handled (dequeued) before its
    next system call: that call does not see it."""
    m = small()
    p = m.spawn()
    assert p.kill(SIGUSR1) == 0
    assert signal_pending(p.task) and p.task.signal.shared_pending
    p.mmap(0, 2 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    assert not signal_pending(p.task) and not p.task.signal.shared_pending
    p.kill(SIGINT)
    p.fs.read("/proc/self/status")  # a read(2) through the process's view too
    assert not signal_pending(p.task)


def test_process_signal_goes_to_one_thread_of_the_group():
    """kill(pid) wakes the main thread; kill(tid) of another thread wakes that one.
    Both queue on the group's shared set, which the woken thread dequeues, lowest
    signal first."""
    m = small()
    p = m.spawn(cpu=0)
    t = p.clone(cpu=1)
    assert t.task.signal is p.task.signal
    m.kill(p.pid, SIGTERM)
    assert signal_pending(p.task) and not signal_pending(t.task)
    m.kill(t.tid, SIGINT)
    assert signal_pending(t.task)
    assert handle_signals(t.task) == [SIGINT, SIGTERM]  # the group's set, lowest first
    assert not signal_pending(t.task)
    assert signal_pending(p.task)  # TIF_SIGPENDING stays until p passes user mode
    assert handle_signals(p.task) == [] and not signal_pending(p.task)


def test_fork_child_has_its_own_signals():
    m = small()
    p = m.spawn()
    child = p.fork()
    assert child.task.signal is not p.task.signal  # copy_signal(): no CLONE_THREAD
    m.kill(child.pid, SIGINT)
    assert signal_pending(child.task) and not signal_pending(p.task)
    assert not p.task.signal.shared_pending
