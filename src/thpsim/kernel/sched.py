"""Preemption traps, the run-to-completion driver, schedules and the scheduler interface.

Models: nothing in Linux by this name; this is the seam STYLE.md 2.2 describes.
Kernel paths that can race are generators. The only objects they ever yield are
the traps defined here (as ``trio/_core/_traps.py`` holds the only functions that
yield to the runner):

* :data:`PREEMPT` -- "another CPU may run here". Each ``yield PREEMPT`` in a kernel
  path carries a comment naming its window.
* :class:`Spin` -- a failed trylock inside a spin loop; the lock is held elsewhere.
* :class:`WaitOn` -- sleep until ``cond()`` holds (page lock, migration entry,
  rwsem). ``key`` names what is waited on, for traces and deadlock reports.

Two drivers run the same generators: :func:`run_to_completion` here (sequential
use: every trap either is a no-op or proves a deadlock), and the interleaving
driver (kernel/interleave.py), which steps several simulated CPUs and asks a
:class:`Scheduler` (policies in kernel/schedulers/) who runs at each trap; the
picks are recorded as a :class:`Schedule` that replays the run. No kernel code
asks which driver runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from thpsim.errors import KernelBug, ScheduleError

__all__ = ["PREEMPT", "SPIN", "Spin", "WaitOn", "KernelPath", "run_to_completion", "Trap"]

T = TypeVar("T")

#: A kernel path: a generator yielding traps and returning its result.
KernelPath = Generator["Trap", None, T]


class Trap:
    """Base of the objects a kernel path may yield."""

    __slots__ = ()


class _Named(Trap):
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Another CPU may run here.
PREEMPT = _Named("PREEMPT")


class Spin(Trap):
    """A failed trylock in a spin loop: ``lock`` is held by another CPU."""

    __slots__ = ("lock",)

    def __init__(self, lock: Any):
        self.lock = lock

    def __repr__(self) -> str:
        return f"Spin({getattr(self.lock, 'lclass', '?')} {getattr(self.lock, 'name', '')})"


#: The class of spin traps (``isinstance(trap, SPIN)``); a path yields ``Spin(lock)``.
SPIN = Spin


class WaitOn(Trap):
    """Sleep until ``cond()`` is true (a wait queue). ``key`` says on what."""

    __slots__ = ("key", "cond")

    def __init__(self, key: tuple[Any, ...], cond: Callable[[], bool]):
        self.key = key
        self.cond = cond

    def __repr__(self) -> str:
        return f"WaitOn{self.key!r}"


def run_to_completion(gen: Generator[Trap, None, T]) -> T:
    """Drive a kernel path with no other CPU running: the sequential driver.

    ``PREEMPT`` is a no-op. A ``SPIN`` or an unsatisfied ``WaitOn`` cannot end
    when nothing else runs, so it is a deadlock: :class:`KernelBug`.
    """
    send = gen.send
    try:
        trap = send(None)
        while True:
            if trap is PREEMPT:
                trap = send(None)
            elif trap.__class__ is WaitOn:
                if not trap.cond():  # type: ignore[attr-defined]
                    gen.close()
                    raise KernelBug(f"deadlock: waiting on {trap!r} with no other CPU running")
                trap = send(None)
            elif trap.__class__ is Spin:
                gen.close()
                raise KernelBug(f"deadlock: {trap!r}: no other CPU can release the lock")
            else:
                gen.close()
                raise KernelBug(f"kernel path yielded {trap!r}, which is not a trap")
    except StopIteration as stop:
        return stop.value


# ---------------------------------------------------------------- schedules
SCHEDULE_VERSION = "s1"


class Schedule:
    """A run's schedule: its seed, and the CPU picked at each switch point that had more
    than one runnable CPU. ``encode()`` is short, versioned and shell-safe:
    ``s1.<seed>.<cpu>[r<repeat>]_...``, e.g. ``s1.42.0r3_1r2_0_2r5``.
    """

    __slots__ = ("seed", "steps")

    def __init__(self, seed: int, steps: tuple[int, ...]):
        self.seed = seed
        self.steps = tuple(steps)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and (self.seed, self.steps) == (other.seed, other.steps)

    def __hash__(self) -> int:
        return hash((self.seed, self.steps))

    def __repr__(self) -> str:
        return f"Schedule.decode({self.encode()!r})"

    def encode(self) -> str:
        runs: list[str] = []
        prev, n = None, 0
        for c in self.steps:
            if c == prev:
                n += 1
                continue
            if prev is not None:
                runs.append(f"{prev}r{n}" if n > 1 else str(prev))
            prev, n = c, 1
        if prev is not None:
            runs.append(f"{prev}r{n}" if n > 1 else str(prev))
        return f"{SCHEDULE_VERSION}.{self.seed}.{'_'.join(runs)}"

    @staticmethod
    def decode(text: str) -> Schedule:

        parts = text.strip().split(".")
        if len(parts) != 3 or parts[0] != SCHEDULE_VERSION:
            raise ScheduleError(f"not a {SCHEDULE_VERSION} schedule string: {text!r}")
        try:
            seed = int(parts[1])
            steps: list[int] = []
            if parts[2]:
                for run in parts[2].split("_"):
                    cpu, _, rep = run.partition("r")
                    steps.extend([int(cpu)] * (int(rep) if rep else 1))
        except ValueError:
            raise ScheduleError(f"malformed schedule string: {text!r}") from None
        return Schedule(seed, tuple(steps))


class Scheduler:
    """What picks the CPU at each switch point (Shuttle's three methods).

    ``new_execution()`` starts a run (False: nothing left to explore);
    ``next_cpu(runnable, current)`` picks one of the sorted runnable CPUs;
    ``next_u64()`` is every other random value of the run. State is private to
    each policy module (kernel/schedulers/).
    """

    name = "base"

    def new_execution(self) -> bool:
        raise NotImplementedError

    def next_cpu(self, runnable: list[int], current: int | None) -> int:
        raise NotImplementedError

    def next_u64(self) -> int:
        raise NotImplementedError

    def describe(self) -> str:
        """How to rebuild this policy on a command line (``--policy ...``)."""
        return self.name
