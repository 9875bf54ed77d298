"""Helpers for tests that stop a kernel path half-way (Model-only).

The interleaving scheduler (a later issue) runs many kernel paths at once. Until
it exists, :class:`Stepper` drives one path trap by trap, so a test can stop a
migration while its migration entries are installed, run another system call
to completion, and then let the migration finish -- the same generators, the
same traps, no second copy of any path.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from thpsim.errors import KernelBug
from thpsim.kernel.sched import PREEMPT, Spin, Trap, WaitOn

__all__ = ["Stepper", "assert_preempts", "assert_no_preempts"]


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
