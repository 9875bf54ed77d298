"""Strict replay of a recorded schedule: a divergence names the step."""

from __future__ import annotations

from thpsim.errors import ScheduleError
from thpsim.kernel.sched import Schedule, Scheduler


class ReplayScheduler(Scheduler):
    """Follow a recorded schedule. Strict (the default): any divergence is a
    :class:`ScheduleError`. Lenient (for shrinking): where the recorded CPU cannot run,
    or the record has ended, keep the current CPU (else the lowest runnable)."""

    name = "replay"

    def __init__(self, schedule: str | Schedule, strict: bool = True):
        self.schedule = schedule if isinstance(schedule, Schedule) else Schedule.decode(schedule)
        self.strict = strict
        self._i = 0
        self._runs = 0

    def new_execution(self) -> bool:
        self._i = 0
        self._runs += 1
        return self._runs == 1

    def next_cpu(self, runnable: list[int], current: int | None) -> int:
        steps = self.schedule.steps
        if not self.strict:
            cpu = steps[self._i] if self._i < len(steps) else None
            self._i += 1
            if cpu in runnable:
                return cpu
            return current if current in runnable else runnable[0]
        if self._i >= len(steps):
            raise ScheduleError(
                f"replay diverged at step {self._i}: the schedule has no more steps, "
                f"runnable {runnable}"
            )
        cpu = steps[self._i]
        if cpu not in runnable:
            raise ScheduleError(
                f"replay diverged at step {self._i}: expected CPU {cpu}, runnable {runnable}"
            )
        self._i += 1
        return cpu

    def finished(self) -> bool:
        return not self.strict or self._i == len(self.schedule.steps)

    def next_u64(self) -> int:
        return 0

    def describe(self) -> str:
        return self.schedule.encode()
