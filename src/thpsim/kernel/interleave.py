"""The interleaving driver: several simulated CPUs running kernel paths at once.

Model-only. Each CPU runs a program: a task (``current`` while it runs) and a
list of operations, each a generator -- a user load or store, a system call, a
kernel worker such as a migration. At every trap (and between operations) the
scheduler picks which runnable CPU goes next; the pick is recorded whenever
more than one CPU could run, which is the run's :class:`Schedule`.

A CPU is runnable unless it sleeps (``WaitOn`` whose condition is false) or
spins on a lock another CPU holds. When no CPU is runnable and some have not
finished, that is a deadlock. Lock-order violations (kernel/locking.py) and
model bugs end the run as failures carrying the schedule. The same generators
run here and under :func:`~thpsim.kernel.sched.run_to_completion`.

Determinism: the event log is a function of the machine's configuration, the
programs and the scheduler's choices; nothing depends on ids, sets or time.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import Any

from thpsim.errors import (
    DeliveredSignal,
    IntegrityError,
    KernelBug,
    ScheduleError,
    ThpsimError,
)
from thpsim.kernel.sched import PREEMPT, Schedule, Scheduler, Spin, Trap, WaitOn

__all__ = ["Op", "Program", "Execution", "Failure", "run_interleaved", "DONE"]

#: What ``on_step`` is given as the trap of a step in which the operation returned.
DONE = "done"


class Op:
    """One operation of a program: a name (for logs) and a generator factory."""

    __slots__ = ("name", "start")

    def __init__(self, name: str, start: Callable[[], Generator[Trap, None, Any]]):
        self.name = name
        self.start = start

    def __repr__(self) -> str:
        return f"Op({self.name})"


class Program:
    """What one CPU runs: ``task`` is ``current`` for every operation."""

    __slots__ = ("cpu", "task", "ops")

    def __init__(self, cpu: int, task: Any, ops: list[Op]):
        self.cpu = cpu
        self.task = task
        self.ops = ops


class Failure:
    """Why a run failed: ``kind`` is deadlock, livelock, bug, integrity, lock-order or
    divergence here; the harnesses add check (a scenario's end check) and invariant
    (the invariant checker between rounds); ``schedule`` replays it."""

    __slots__ = ("kind", "message", "schedule", "events")

    def __init__(self, kind: str, message: str, schedule: Schedule, events: list[str]):
        self.kind = kind
        self.message = message
        self.schedule = schedule
        self.events = events

    def __repr__(self) -> str:
        return f"Failure({self.kind}: {self.message})"


class Execution:
    """One run: per CPU the result of each operation, the schedule, the event log.

    ``events`` is the formatted log (``"<step> cpu<n> <op> <trap or -> result>"``);
    it is kept as raw tuples and formatted on demand.
    """

    __slots__ = ("results", "schedule", "raw", "failure", "steps")

    def __init__(self, log_limit: int | None = None) -> None:
        self.results: dict[int, list[tuple[str, Any]]] = {}
        self.schedule: Schedule = Schedule(0, ())
        self.raw: Any = deque(maxlen=log_limit) if log_limit else []
        self.failure: Failure | None = None
        self.steps = 0

    @property
    def events(self) -> list[str]:
        return [_format_event(e) for e in self.raw]

    def result(self, cpu: int, i: int) -> Any:
        return self.results[cpu][i][1]


class _State:
    __slots__ = ("program", "ops", "op", "gen", "trap", "done", "results")

    def __init__(self, program: Program):
        self.program = program
        self.ops: Iterator[Op] = iter(program.ops)
        self.op: Op | None = None
        self.gen: Generator[Trap, None, Any] | None = None
        self.trap: Trap | None = None
        self.done = False
        self.results: list[tuple[str, Any]] = []

    def runnable(self) -> bool:
        t = self.trap
        if t is None or t is PREEMPT:
            return True
        if t.__class__ is WaitOn:
            return t.cond()  # type: ignore[attr-defined]
        if t.__class__ is Spin:
            return t.lock.owner is None  # type: ignore[attr-defined]
        return True


def _describe(t: Trap | None) -> str:
    return "start" if t is None else repr(t)


def _format_event(e: tuple[Any, ...]) -> str:
    n, cpu, op, kind, what = e
    if kind == 0:
        return f"{n} cpu{cpu} {op} {_describe(what)}"
    if kind == 1:
        return f"{n} cpu{cpu} {op} -> {_short(what)}"
    if kind == 2:
        return f"{n} cpu{cpu} {op} -> {what}"
    return f"{n} cpu{cpu} done"


def run_interleaved(ctx: Any, programs: list[Program], scheduler: Scheduler, seed: int = 0,
                    max_steps: int = 200_000, log: bool = True,
                    on_step: Callable[[int, int, str, Trap | None, Any], None] | None = None,
                    log_limit: int | None = None) -> Execution:
    """Run the programs to completion under ``scheduler`` (new_execution() already called).

    Returns the :class:`Execution`; ``failure`` is set instead of raising, so the
    caller can print the schedule that replays it. ``on_step(step, cpu, op, trap,
    gen)`` sees every step (traces): before it with ``trap`` None, after it with the trap
    it stopped at, or with :data:`DONE` when the operation returned in that step.
    """
    ex = Execution(log_limit)
    states = {p.cpu: _State(p) for p in sorted(programs, key=lambda p: p.cpu)}
    steps: list[int] = []
    events = ex.raw
    current: int | None = None
    prev_lockdep = ctx.lockdep
    ctx.lockdep = {}
    prev_current = ctx.current

    def fail(kind: str, message: str) -> Execution:
        ex.schedule = Schedule(seed, tuple(steps))
        ex.failure = Failure(kind, message, ex.schedule, ex.events[-40:])
        # Unwind the suspended paths as their own tasks, so their finally blocks release
        # what they hold (the machine is not used again after a failure).
        for st in states.values():
            if st.gen is not None:
                ctx.current = st.program.task
                try:
                    st.gen.close()
                except (ThpsimError, RuntimeError):
                    pass
                st.gen = None
        ctx.current = prev_current
        return ex

    # The CPUs not done, in CPU order; rebuilt when one finishes.
    live_states = list(states.items())
    wait_on, spin = WaitOn, Spin
    try:
        for n in range(max_steps):
            if not live_states:
                break
            # [cpu for each live CPU if its state is runnable()], inlined for speed (the
            # driver's own cost is paid at every step): same order, same cond() calls
            runnable = []
            for cpu, st in live_states:
                t = st.trap
                if t is None or t is PREEMPT:
                    runnable.append(cpu)
                elif t.__class__ is wait_on:
                    if t.cond():  # type: ignore[attr-defined]
                        runnable.append(cpu)
                elif t.__class__ is not spin or t.lock.owner is None:  # type: ignore[attr-defined]
                    runnable.append(cpu)
            if not runnable:
                live = [cpu for cpu, _ in live_states]
                blocked = ", ".join(
                    f"CPU{cpu} in {states[cpu].op.name if states[cpu].op else '?'} "
                    f"on {states[cpu].trap!r}"
                    for cpu in live
                )
                return fail("deadlock", f"deadlock: {blocked}")
            if len(runnable) > 1:
                try:
                    cpu = scheduler.next_cpu(runnable, current)
                except ScheduleError as e:
                    return fail("divergence", str(e))
                steps.append(cpu)
            else:
                cpu = runnable[0]
            current = cpu
            st = states[cpu]
            if st.gen is None:
                op = next(st.ops, None)
                if op is None:
                    st.done = True
                    live_states = [(c, s) for c, s in live_states if not s.done]
                    if log:
                        events.append((n, cpu, "", 3, None))
                    continue
                st.op = op
                st.gen = op.start()
                st.trap = None
            ctx.current = st.program.task
            try:
                if on_step is not None:
                    on_step(n, cpu, st.op.name, None, st.gen)
                st.trap = st.gen.send(None)
                if on_step is not None:
                    on_step(n, cpu, st.op.name, st.trap, st.gen)
                if log:
                    events.append((n, cpu, st.op.name, 0, st.trap))
            except StopIteration as stop:
                st.results.append((st.op.name, stop.value))
                if on_step is not None:
                    on_step(n, cpu, st.op.name, DONE, None)
                if log:
                    events.append((n, cpu, st.op.name, 1, stop.value))
                st.gen = None
                st.trap = None
            except DeliveredSignal as sig:
                st.results.append((st.op.name, sig))
                if on_step is not None:
                    on_step(n, cpu, st.op.name, DONE, None)
                if log:
                    events.append((n, cpu, st.op.name, 2, str(sig)))
                st.gen = None
                st.trap = None
            except KernelBug as e:
                kind = "lock-order" if "lock order" in str(e) else "bug"
                return fail(kind, f"CPU{cpu} in {st.op.name}: {e}")
            except IntegrityError as e:
                return fail("integrity", f"CPU{cpu} in {st.op.name}: {e}")
            except OSError as e:
                return fail("bug", f"CPU{cpu} in {st.op.name}: unexpected {e!r}")
            except Exception as e:  # a model bug: still a failure with a schedule
                tb = traceback.extract_tb(e.__traceback__)[-1]
                return fail("bug", f"CPU{cpu} in {st.op.name}: {type(e).__name__}: {e} "
                                   f"({tb.name}, {tb.filename.rsplit('/', 1)[-1]}:{tb.lineno})")
            finally:
                ctx.current = prev_current
        else:
            return fail("livelock", f"no end after {max_steps} steps")
        for owner, held in (ctx.lockdep or {}).items():
            if held:
                return fail("bug", f"{owner!r} still holds {held} at the end")
        if hasattr(scheduler, "finished") and not scheduler.finished():
            left = len(scheduler.schedule.steps) - len(steps)  # type: ignore[attr-defined]
            return fail("divergence", f"replay diverged at step {len(steps)}: the run ended "
                        f"with {left} schedule steps left")
        ex.schedule = Schedule(seed, tuple(steps))
        ex.steps = n  # the loop broke at step n: n steps ran
        for cpu, st in states.items():
            ex.results[cpu] = st.results
        return ex
    finally:
        ctx.lockdep = prev_lockdep


def innermost_function(gen: Any) -> str:
    """The kernel function a suspended path is in (the deepest ``yield from``)."""
    name = "?"
    while gen is not None and hasattr(gen, "gi_code"):
        name = gen.gi_code.co_name
        gen = gen.gi_yieldfrom
    return name


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) < 60 else r[:57] + "..."
