"""Spinlocks, reader-writer semaphores and mutexes, as generators that may spin or sleep.

Models: include/linux/spinlock.h, kernel/locking/rwsem.c, kernel/locking/mutex.c
(semantics, not code).

Lock ordering (the comment atop mm/rmap.c, the part the model takes, under the two
outer mutexes of the memory hot-remove and cpuset paths)::

    device_hotplug_lock        (drivers/base/core.c; memory block state changes)
      cpuset_mutex             (cgroup/cpuset.c)
        mm->mmap_lock
          folio_lock (PG_locked)
            anon_vma->rwsem
              mm->page_table_lock or pte_lock / pmd_lock (split page-table locks)
                (a second page-table lock, nested: fork's src under dst, mremap's
                 new under old)

:data:`LOCK_ORDER` ranks them; the interleaving scheduler checks each acquisition
against the locks its CPU holds.

Every acquisition is a preemption point (``yield PREEMPT`` before the attempt: the
window in which another CPU may take the lock first). A contended spinlock yields
``SPIN``; a contended semaphore or mutex sleeps with ``WaitOn``. Release never preempts.
``owner`` is the kernel context's ``current`` at acquisition (the driver sets it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thpsim.errors import KernelBug
from thpsim.kernel.sched import PREEMPT, KernelPath, Spin, WaitOn

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

__all__ = [
    "LOCK_ORDER",
    "spinlock_t",
    "rw_semaphore",
    "spin_lock",
    "spin_trylock",
    "spin_unlock",
    "assert_spin_locked",
    "down_read",
    "down_read_trylock",
    "down_write",
    "up_read",
    "up_write",
    "downgrade_write",
    "mutex",
    "mutex_lock",
    "mutex_unlock",
]

#: Lock classes, outermost first (mm/rmap.c). A lock may be taken only while every
#: held lock has a smaller or equal rank (equal: nested page-table locks).
LOCK_ORDER: dict[str, int] = {
    "device_hotplug_lock": -2,
    "cpuset_mutex": -1,
    "mmap_lock": 0,
    "folio_lock": 1,
    "anon_vma": 2,
    "page_table_lock": 3,
    "ptl": 3,
}


class _KernelThread:
    """Who holds a lock taken outside any task (a kernel worker run by a test)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "kthread"


KTHREAD = _KernelThread()


def _current(ctx: KernelContext) -> Any:
    cur = ctx.current
    return KTHREAD if cur is None else cur


def lockdep_acquire(ctx: KernelContext, lclass: str, ident: Any, check: bool = True) -> None:
    """Record that ``current`` took a lock; with ``check``, enforce :data:`LOCK_ORDER`.

    Models: the part of lockdep the model needs (kernel/locking/lockdep.c): a lock
    taken while a lock of a higher rank is held is a violation (:class:`KernelBug`).
    Off (``ctx.lockdep is None``) in the sequential driver.
    """
    ld = ctx.lockdep
    if ld is None:
        return
    owner = _current(ctx)
    held = ld.setdefault(owner, [])
    if check:
        rank = LOCK_ORDER[lclass]
        for hc, hid in held:
            if LOCK_ORDER[hc] > rank:
                raise KernelBug(
                    f"lock order violation: {lclass} {ident} taken by {owner!r} "
                    f"while holding {hc} {hid}"
                )
    held.append((lclass, ident))


def lockdep_check(ctx: KernelContext, lclass: str, ident: Any) -> None:
    """Check the order before an attempt that may wait (the acquisition is recorded
    when it succeeds)."""
    if ctx.lockdep is not None:
        lockdep_acquire(ctx, lclass, ident)
        lockdep_release(ctx, lclass, ident)


def lockdep_release(ctx: KernelContext, lclass: str, ident: Any) -> None:
    ld = ctx.lockdep
    if ld is None:
        return
    held = ld.get(_current(ctx))
    if held and (lclass, ident) in held:
        held.remove((lclass, ident))


class _owned_lock:
    """Model-only: a lock with one owner; ``lclass`` is its class in :data:`LOCK_ORDER`."""

    __slots__ = ("ctx", "owner", "lclass", "name")

    def __init__(self, ctx: KernelContext, lclass: str, name: str = ""):
        self.ctx = ctx
        self.owner: Any = None
        self.lclass = lclass
        self.name = name


class spinlock_t(_owned_lock):
    """A spinlock."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{self.lclass} {self.name} owner={self.owner!r}>"


def spin_lock(lock: spinlock_t) -> KernelPath[spinlock_t]:
    """Take a spinlock. Preempts: before the attempt, and at each failed try (SPIN)."""
    yield PREEMPT  # window: another CPU may take the lock first
    ctx = lock.ctx
    lockdep_check(ctx, lock.lclass, lock.name)
    while lock.owner is not None:
        if lock.owner is _current(ctx):
            raise KernelBug(f"recursive spin_lock of {lock!r}")
        yield Spin(lock)
    lock.owner = _current(ctx)
    if ctx.lockdep is not None:
        lockdep_acquire(ctx, lock.lclass, lock.name, check=False)
    return lock


def spin_trylock(lock: spinlock_t) -> bool:
    """Never preempts."""
    if lock.owner is not None:
        return False
    lock.owner = _current(lock.ctx)
    if lock.ctx.lockdep is not None:
        lockdep_acquire(lock.ctx, lock.lclass, lock.name, check=False)
    return True


def spin_unlock(lock: spinlock_t) -> None:
    if lock.owner is None:
        raise KernelBug(f"spin_unlock of unlocked {lock!r}")
    if lock.ctx.lockdep is not None:
        lockdep_release(lock.ctx, lock.lclass, lock.name)
    lock.owner = None


def assert_spin_locked(lock: spinlock_t) -> None:
    if lock.owner is None:
        raise KernelBug(f"{lock!r} must be held")


class rw_semaphore:
    """A reader-writer semaphore (``mmap_lock``, ``anon_vma->rwsem``)."""

    __slots__ = ("ctx", "readers", "writer", "lclass", "name")

    def __init__(self, ctx: KernelContext, lclass: str, name: str = ""):
        self.ctx = ctx
        self.readers: list[Any] = []
        self.writer: Any = None
        self.lclass = lclass
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.lclass} {self.name} writer={self.writer!r} readers={len(self.readers)}>"


def down_read(sem: rw_semaphore) -> KernelPath[None]:
    """Preempts: before the attempt; sleeps while a writer holds it."""
    yield PREEMPT  # window: a writer may get in first
    lockdep_check(sem.ctx, sem.lclass, sem.name)
    while sem.writer is not None:
        yield WaitOn((sem.lclass, sem.name, "read"), lambda: sem.writer is None)
    sem.readers.append(_current(sem.ctx))
    if sem.ctx.lockdep is not None:
        lockdep_acquire(sem.ctx, sem.lclass, sem.name, check=False)


def down_write(sem: rw_semaphore) -> KernelPath[None]:
    """Preempts: before the attempt; sleeps while anyone holds it."""
    yield PREEMPT  # window: a reader or writer may get in first
    lockdep_check(sem.ctx, sem.lclass, sem.name)
    while sem.writer is not None or sem.readers:
        yield WaitOn(
            (sem.lclass, sem.name, "write"),
            lambda: sem.writer is None and not sem.readers,
        )
    sem.writer = _current(sem.ctx)
    if sem.ctx.lockdep is not None:
        lockdep_acquire(sem.ctx, sem.lclass, sem.name, check=False)


def up_read(sem: rw_semaphore) -> None:
    try:
        sem.readers.remove(_current(sem.ctx))
    except ValueError:
        raise KernelBug(f"up_read of {sem!r} not held for read by current") from None
    lockdep_release(sem.ctx, sem.lclass, sem.name)


def up_write(sem: rw_semaphore) -> None:
    if sem.writer is None:
        raise KernelBug(f"up_write of {sem!r} not held for write")
    sem.writer = None
    lockdep_release(sem.ctx, sem.lclass, sem.name)


def downgrade_write(sem: rw_semaphore) -> None:
    if sem.writer is None:
        raise KernelBug(f"downgrade_write of {sem!r} not held for write")
    sem.writer = None
    sem.readers.append(_current(sem.ctx))


class mutex(_owned_lock):
    """A sleeping lock with one owner (``device_hotplug_lock``, ``cpuset_mutex``).

    Models: struct mutex (kernel/locking/mutex.c), semantics only: no spinning
    on the owner, no handoff.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<mutex {self.lclass} owner={self.owner!r}>"


def mutex_lock(lock: mutex) -> KernelPath[None]:
    """Preempts: before the attempt; sleeps while another task holds it."""
    yield PREEMPT  # window: another CPU may take it first
    ctx = lock.ctx
    lockdep_check(ctx, lock.lclass, lock.name)
    if lock.owner is not None and lock.owner is _current(ctx):
        raise KernelBug(f"recursive mutex_lock of {lock!r}")
    while lock.owner is not None:
        yield WaitOn((lock.lclass, lock.name), lambda: lock.owner is None)
    lock.owner = _current(ctx)
    if ctx.lockdep is not None:
        lockdep_acquire(ctx, lock.lclass, lock.name, check=False)


def mutex_unlock(lock: mutex) -> None:
    if lock.owner is None:
        raise KernelBug(f"mutex_unlock of unlocked {lock!r}")
    lock.owner = None
    lockdep_release(lock.ctx, lock.lclass, lock.name)


def down_read_trylock(sem: rw_semaphore) -> bool:
    """Models: down_read_trylock() (mmap_read_trylock()): take the lock for read if no
    writer holds it, else fail at once. Preempts: never."""
    if sem.writer is not None:
        return False
    sem.readers.append(_current(sem.ctx))
    if sem.ctx.lockdep is not None:
        lockdep_acquire(sem.ctx, sem.lclass, sem.name, check=False)
    return True
