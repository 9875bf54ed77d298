"""Uniformly random scheduling: at every switch point pick any runnable CPU."""

from __future__ import annotations

import random

from thpsim.kernel.sched import Scheduler


class RandomScheduler(Scheduler):
    name = "random"

    def __init__(self, seed: int):
        self.seed = seed
        self._rng = random.Random(seed)
        self._runs = 0

    def new_execution(self) -> bool:
        self._rng = random.Random(self.seed)
        self._runs += 1
        return self._runs == 1

    def next_cpu(self, runnable: list[int], current: int | None) -> int:
        return runnable[self._rng.randrange(len(runnable))]

    def next_u64(self) -> int:
        return self._rng.getrandbits(64)

    def describe(self) -> str:
        return f"random --seed {self.seed}"
