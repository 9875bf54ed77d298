"""The page (folio) lock.

Models: mm/filemap.c __lock_page()/unlock_page() and include/linux/pagemap.h
trylock_page(); v6.x names (folio_lock, folio_trylock, folio_unlock).

PG_locked lives in the page-flags array; a sleeper waits with ``WaitOn`` until
the bit clears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.errors import KernelBug
from thpsim.kernel.locking import lockdep_acquire, lockdep_release
from thpsim.kernel.sched import PREEMPT, KernelPath, WaitOn
from thpsim.mm.page_flags import F_locked

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

_NOT_LOCKED = ~F_locked & 0xFFFF_FFFF


def folio_trylock(ctx: KernelContext, head: int) -> bool:
    """Never preempts. Was trylock_page() (v4.14)."""
    flags = ctx.pages.flags
    if flags[head] & F_locked:
        return False
    flags[head] |= F_locked
    if ctx.lockdep is not None:
        lockdep_acquire(ctx, "folio_lock", head, check=False)
    return True


def folio_lock(ctx: KernelContext, head: int) -> KernelPath[None]:
    """Was lock_page() (v4.14). Preempts: before the attempt; sleeps while locked."""
    flags = ctx.pages.flags
    yield PREEMPT  # window: another CPU may lock the page first
    if ctx.lockdep is not None:
        lockdep_acquire(ctx, "folio_lock", head)
        lockdep_release(ctx, "folio_lock", head)
    while flags[head] & F_locked:
        yield WaitOn(("page_locked", head), lambda: not flags[head] & F_locked)
    flags[head] |= F_locked
    if ctx.lockdep is not None:
        lockdep_acquire(ctx, "folio_lock", head, check=False)


def folio_unlock(ctx: KernelContext, head: int) -> None:
    """Was unlock_page() (v4.14). Never preempts (waking the waiters is the driver's)."""
    flags = ctx.pages.flags
    if not flags[head] & F_locked:
        raise KernelBug(f"unlock of unlocked page {head:#x}")
    flags[head] &= _NOT_LOCKED
    if ctx.lockdep is not None:
        lockdep_release(ctx, "folio_lock", head)


def folio_test_locked(ctx: KernelContext, head: int) -> bool:
    return ctx.pages.flags[head] & F_locked != 0
