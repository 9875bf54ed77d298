"""Round-robin: switch to the next runnable CPU every ``quantum`` switch points."""

from __future__ import annotations

import random

from thpsim.kernel.sched import Scheduler


class RoundRobinScheduler(Scheduler):
    name = "rr"

    def __init__(self, seed: int = 0, quantum: int = 1):
        self.seed = seed
        self.quantum = max(1, quantum)
        self._rng = random.Random(seed)
        self._left = self.quantum
        self._runs = 0

    def new_execution(self) -> bool:
        self._rng = random.Random(self.seed)
        self._left = self.quantum
        self._runs += 1
        return self._runs == 1

    def next_cpu(self, runnable: list[int], current: int | None) -> int:
        if current in runnable and self._left > 1:
            self._left -= 1
            return current
        self._left = self.quantum
        if current is None:
            return runnable[0]
        later = [c for c in runnable if c > current]
        return later[0] if later else runnable[0]

    def next_u64(self) -> int:
        return self._rng.getrandbits(64)

    def describe(self) -> str:
        return f"rr --quantum {self.quantum}"
