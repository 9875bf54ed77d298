"""Helpers for tests that stop a kernel path half-way (Model-only).

The interleaving driver (kernel/interleave.py) runs many kernel paths at once;
:class:`Race` puts programs on it with a forced or searched schedule. For a test
that wants to hold one path at an exact point, :class:`Stepper` drives it trap by
trap: stop a migration while its migration entries are installed, run another
system call to completion, and then let the migration finish -- the same
generators, the same traps, no second copy of any path.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from thpsim.errors import KernelBug
from thpsim.kernel.sched import PREEMPT, Spin, Trap, WaitOn

__all__ = ["Stepper", "Race", "assert_preempts", "assert_no_preempts"]


class Stepper:
    """Drive one kernel path step by step, as ``task`` (``current``)."""

    def __init__(self, ctx: Any, gen: Generator[Trap, None, Any], task: Any = None):
        self.ctx = ctx
        self.gen = gen
        self.task = task
        self.done = False
        self.result: Any = None
        self.trap: Trap | None = None
        self.steps = 0

    def step(self) -> Trap | None:
        """Run to the next trap; None when the path returned."""
        if self.done:
            return None
        if isinstance(self.trap, WaitOn) and not self.trap.cond():
            return self.trap  # still blocked
        prev = self.ctx.current
        self.ctx.current = self.task
        try:
            self.trap = self.gen.send(None)
            self.steps += 1
            return self.trap
        except StopIteration as stop:
            self.done = True
            self.result = stop.value
            self.trap = None
            return None
        finally:
            self.ctx.current = prev

    def run_until(self, pred: Callable[[], bool], limit: int = 100_000) -> None:
        """Step until ``pred()`` holds (checked after each step)."""
        for _ in range(limit):
            if pred():
                return
            t = self.step()
            if t is None and not pred():
                raise AssertionError("the path ended before the condition held")
            if isinstance(t, WaitOn) and not t.cond():
                raise AssertionError(f"the path blocked on {t!r} before the condition held")
        raise AssertionError("condition never held")

    def finish(self, limit: int = 1_000_000) -> Any:
        """Run to completion; a wait that cannot end or a spin is a deadlock."""
        for _ in range(limit):
            t = self.step()
            if t is None:
                return self.result
            if isinstance(t, Spin) or isinstance(t, WaitOn) and not t.cond():
                raise KernelBug(f"path blocked on {t!r} with nothing else running")
        raise KernelBug("path did not finish")


def _count_preempts(gen: Generator[Trap, None, Any]) -> int:
    n = 0
    try:
        t = gen.send(None)
        while True:
            if t is PREEMPT:
                n += 1
            t = gen.send(None)
    except StopIteration:
        return n


def assert_preempts(gen: Generator[Trap, None, Any]) -> None:
    """The path must offer at least one preemption point."""
    assert _count_preempts(gen) > 0, "expected the path to preempt"


def assert_no_preempts(gen: Generator[Trap, None, Any]) -> None:
    assert _count_preempts(gen) == 0, "expected the path never to preempt"


class _ProgramBuilder:
    """The operations one CPU runs in a :class:`Race`."""

    def __init__(self, race: Race, cpu: int, thread: Any):
        self.race = race
        self.cpu = cpu
        self.thread = thread
        self.ops: list[Any] = []

    def store(self, addr: int, value: int) -> _ProgramBuilder:
        from thpsim.kernel.interleave import Op
        from thpsim.mm.uaccess import user_store

        task = self.thread.task
        self.ops.append(Op(f"store@{addr:#x}", lambda: user_store(task, addr, value)))
        return self

    def load(self, addr: int) -> _ProgramBuilder:
        from thpsim.kernel.interleave import Op
        from thpsim.mm.uaccess import user_load

        task = self.thread.task

        def start():
            value, _ = yield from user_load(task, addr)
            return value

        self.ops.append(Op(f"load@{addr:#x}", start))
        return self

    def move_pages(self, pages: list[int], nodes: list[int] | None, flags: int = 0,
                   pid: int = 0) -> _ProgramBuilder:
        from thpsim.kernel.interleave import Op
        from thpsim.mm.migrate import kernel_move_pages

        ctx = self.race.machine.kernel
        task = self.thread.task

        def start():
            status: list[int | None] = [None] * len(pages)
            ret = yield from kernel_move_pages(ctx, task, pid, list(pages), nodes, status, flags)
            return ret, status

        self.ops.append(Op("move_pages", start))
        return self

    def syscall(self, name: str, *args: Any) -> _ProgramBuilder:
        """munmap, mprotect, madvise, mremap, mmap, mlock, munlock by their kernel bodies."""
        from thpsim.kernel.interleave import Op
        from thpsim.mm import madvise, mlock, mmap, mprotect, mremap

        mm = self.thread.task.mm
        bodies = {
            "mmap": lambda: mmap.sys_mmap(mm, *args, -1, 0),
            "munmap": lambda: mmap.sys_munmap(mm, *args),
            "mprotect": lambda: mprotect.sys_mprotect(mm, *args),
            "madvise": lambda: madvise.sys_madvise(mm, *args),
            "mremap": lambda: mremap.sys_mremap(mm, *args),
            "mlock": lambda: mlock.sys_mlock(mm, *args, True),
            "munlock": lambda: mlock.sys_mlock(mm, *args, False),
        }
        try:
            self.ops.append(Op(name, bodies[name]))
        except KeyError:
            raise ValueError(f"no syscall body {name!r}") from None
        return self

    def call(self, name: str, start: Callable[[], Generator[Trap, None, Any]]) -> _ProgramBuilder:
        """Any kernel path (a generator factory), e.g. a migration of a list of pages."""
        from thpsim.kernel.interleave import Op

        self.ops.append(Op(name, start))
        return self


class Race:
    """A few threads' operations on one machine, run under one schedule.

    ::

        race = Race(m)
        race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
        race.on(1, t1).store(a, 7).load(a)
        ex = race.run(schedule="s1.0.0r3_1r2_0")     # or policy="pct", seed=3
        assert ex.result(1, 1) == 7                   # what CPU1's second op saw

    A run mutates the machine: build a new Race (and machine) for each run.
    ``ex.failure`` carries the schedule that replays a failing run.
    """

    def __init__(self, machine: Any):
        self.machine = machine
        self.programs: dict[int, _ProgramBuilder] = {}

    def on(self, cpu: int, thread: Any) -> _ProgramBuilder:
        if thread.task.cpu != cpu:
            raise ValueError(f"{thread!r} is bound to CPU{thread.task.cpu}, not CPU{cpu}")
        b = self.programs.get(cpu)
        if b is None:
            b = self.programs[cpu] = _ProgramBuilder(self, cpu, thread)
        return b

    def run(self, schedule: str | None = None, policy: str = "random", seed: int = 0,
            scheduler: Any = None, **policy_args: Any) -> Any:
        """Run once. ``scheduler``: an explicit policy object whose new_execution() the
        caller already called (to drive a DfsScheduler across fresh Races)."""
        from thpsim.kernel.interleave import Program, run_interleaved
        from thpsim.kernel.schedulers import make_scheduler

        if scheduler is not None:
            sched = scheduler
        elif schedule is not None:
            sched = make_scheduler(schedule)
            seed = sched.schedule.seed
            sched.new_execution()
        else:
            sched = make_scheduler(policy, seed, **policy_args)
            sched.new_execution()
        progs = [Program(b.cpu, b.thread.task, b.ops) for b in self.programs.values()]
        return run_interleaved(self.machine.kernel, progs, sched, seed)
