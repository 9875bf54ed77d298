"""Bounded exhaustive search: every schedule with at most ``preemption_bound``
preemptions, depth first (CHESS-style preemption bounding: Musuvathi and Qadeer,
"Iterative context bounding for systematic testing of multithreaded programs",
PLDI 2007).

A switch away from a still-runnable CPU is a preemption; switches forced by the
current CPU blocking or finishing are free. Each run replays the recorded
prefix, then takes the first choice at new switch points; after the run, the
deepest switch point with an untried choice is advanced.
"""

from __future__ import annotations

from thpsim.kernel.sched import Scheduler


class DfsScheduler(Scheduler):
    name = "dfs"

    def __init__(self, preemption_bound: int = 2, max_executions: int = 100_000):
        self.bound = preemption_bound
        self.max_executions = max_executions
        #: per switch point of the current path: (choices, index)
        self._stack: list[tuple[list[int], int]] = []
        self._depth = 0
        self._preemptions = 0
        self.executions = 0
        self._started = False

    def new_execution(self) -> bool:
        if self._started:
            # backtrack: drop exhausted switch points, advance the deepest open one
            while self._stack:
                choices, idx = self._stack[-1]
                if idx + 1 < len(choices):
                    self._stack[-1] = (choices, idx + 1)
                    break
                self._stack.pop()
            if not self._stack:
                return False
        if self.executions >= self.max_executions:
            return False
        self._started = True
        self._depth = 0
        self._preemptions = 0
        self.executions += 1
        return True

    def next_cpu(self, runnable: list[int], current: int | None) -> int:
        if self._depth < len(self._stack):
            choices, idx = self._stack[self._depth]
        else:
            if current in runnable:
                # the non-preemptive choice first, then preemptions while the bound allows
                choices = [current]
                if self._preemptions < self.bound:
                    choices += [c for c in runnable if c != current]
            else:
                choices = list(runnable)
            idx = 0
            self._stack.append((choices, idx))
        cpu = choices[idx]
        if current in runnable and cpu != current:
            self._preemptions += 1
        self._depth += 1
        return cpu

    def next_u64(self) -> int:
        return 0

    def describe(self) -> str:
        return f"dfs --preemption-bound {self.bound}"
