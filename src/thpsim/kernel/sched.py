"""Preemption traps and the run-to-completion driver.

Models: nothing in Linux by this name; this is the seam STYLE.md 2.2 describes.
Kernel paths that can race are generators. The only objects they ever yield are
the traps defined here (as ``trio/_core/_traps.py`` holds the only functions that
yield to the runner):

* :data:`PREEMPT` -- "another CPU may run here". Each ``yield PREEMPT`` in a kernel
  path carries a comment naming its window.
* :data:`SPIN` -- a failed trylock inside a spin loop; the lock is held elsewhere.
* :class:`WaitOn` -- sleep until ``cond()`` holds (page lock, migration entry,
  rwsem). ``key`` names what is waited on, for traces and deadlock reports.

Two drivers run the same generators: :func:`run_to_completion` here (sequential
use: every trap either is a no-op or proves a deadlock), and the interleaving
scheduler, which steps several simulated CPUs and picks who runs at each trap.
No kernel code asks which driver runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from thpsim.errors import KernelBug

__all__ = ["PREEMPT", "SPIN", "WaitOn", "KernelPath", "run_to_completion", "Trap"]

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
#: A spin on a contended lock: another CPU holds it.
SPIN = _Named("SPIN")


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
            elif trap is SPIN:
                gen.close()
                raise KernelBug("deadlock: spinning on a lock no other CPU can release")
            else:
                gen.close()
                raise KernelBug(f"kernel path yielded {trap!r}, which is not a trap")
    except StopIteration as stop:
        return stop.value
