"""Probabilistic concurrency testing.

Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized Scheduler with
Probabilistic Guarantees of Finding Bugs", ASPLOS 2010. Each CPU gets a random
distinct priority at least ``depth``; ``depth - 1`` change points are drawn
uniformly over the expected run length; the highest-priority runnable CPU runs,
and at the i-th change point the running CPU's priority drops to ``i``. A bug of
depth d is found with probability at least 1 / (n * k^(d-1)).

Invariants: priorities are distinct; change-point priorities (1..depth-1) are
below every initial priority.
"""

from __future__ import annotations

import random

from thpsim.kernel.sched import Scheduler


class PctScheduler(Scheduler):
    name = "pct"

    def __init__(self, seed: int, depth: int = 3, max_steps: int = 2000):
        self.seed = seed
        self.depth = max(1, depth)
        self.max_steps = max(1, max_steps)
        self._runs = 0
        self._reset()

    def _reset(self) -> None:
        self._rng = random.Random(self.seed)
        self._prio: dict[int, int] = {}
        self._changes = sorted(
            self._rng.randrange(1, self.max_steps + 1) for _ in range(self.depth - 1)
        )
        self._step = 0

    def new_execution(self) -> bool:
        self._reset()
        self._runs += 1
        return self._runs == 1

    def _priority(self, cpu: int) -> int:
        p = self._prio.get(cpu)
        if p is None:
            taken = set(self._prio.values())
            while True:
                p = self.depth + self._rng.randrange(1 << 30)
                if p not in taken:
                    break
            self._prio[cpu] = p
        return p

    def next_cpu(self, runnable: list[int], current: int | None) -> int:
        self._step += 1
        best = max(runnable, key=self._priority)
        if self._changes and self._step >= self._changes[0]:
            i = self.depth - len(self._changes)  # 1 .. depth-1
            self._changes.pop(0)
            self._prio[best] = i
            best = max(runnable, key=self._priority)
        return best

    def next_u64(self) -> int:
        return self._rng.getrandbits(64)

    def describe(self) -> str:
        return f"pct --seed {self.seed} --depth {self.depth}"
