"""thpsim's own exceptions.

::

    ThpsimError
     +-- KernelBug        a VM_BUG_ON fired, or the model deadlocked: the model is wrong
     +-- IntegrityError   the oracle saw a lost write, a leak or a wrong count
     +-- ScheduleError    a replayed schedule diverged
     +-- ConfigError      a Machine was asked for something that cannot be built
    DeliveredSignal       a program outcome (SIGSEGV, SIGBUS), not a model failure

Kernel code inside ``mm/`` returns negative errno values as the kernel does; the
``sys_*`` wrappers in :mod:`thpsim.api` turn them into :class:`OSError`.
"""

from __future__ import annotations

import errno
import signal

__all__ = [
    "ThpsimError",
    "KernelBug",
    "IntegrityError",
    "ScheduleError",
    "ConfigError",
    "DeliveredSignal",
    "SI_KERNEL",
    "SEGV_MAPERR",
    "SEGV_ACCERR",
    "BUS_MCEERR_AR",
    "BUS_ADRERR",
    "EHWPOISON",
]

#: include/uapi/asm-generic/errno.h "Memory page has hardware error" (not in every
#: Python's errno module)
EHWPOISON = getattr(errno, "EHWPOISON", 133)

# si_code values, include/uapi/asm-generic/siginfo.h
SI_KERNEL = 0x80  # sent by the kernel itself (force_sig(): a #GP's SIGSEGV, si_addr 0)
SEGV_MAPERR = 1
SEGV_ACCERR = 2
BUS_ADRERR = 2
BUS_MCEERR_AR = 4


class ThpsimError(Exception):
    """Base of every error raised by the model itself."""


class KernelBug(ThpsimError):
    """A ``VM_BUG_ON``/``BUG_ON`` fired, or a path deadlocked: the model is wrong."""


class IntegrityError(ThpsimError):
    """The integrity oracle found corruption; ``replay`` holds the command that replays it."""

    def __init__(self, message: str, replay: str | None = None):
        super().__init__(message if replay is None else f"{message}\nreplay: {replay}")
        self.replay = replay


class ScheduleError(ThpsimError):
    """A replayed schedule diverged from the recorded one."""


class ConfigError(ThpsimError, ValueError):
    """The requested machine or profile cannot be built."""


class DeliveredSignal(Exception):  # noqa: N818 - it is a signal, not an error of ours
    """A signal the kernel delivered to a user thread (what siginfo would carry).

    ``si_addr_lsb``: for a memory-failure SIGBUS (BUS_MCEERR_AR/AO), the least
    significant bit of the corrupted range's address (force_sig_mceerr()'s lsb:
    PAGE_SHIFT for a page, the folio's shift for a THP the kernel could not split);
    0 for every other signal."""

    def __init__(self, si_signo: int, si_code: int, si_addr: int, si_addr_lsb: int = 0):
        self.si_signo = si_signo
        self.si_code = si_code
        self.si_addr = si_addr
        self.si_addr_lsb = si_addr_lsb
        name = signal.Signals(si_signo).name
        lsb = f" si_addr_lsb={si_addr_lsb}" if si_addr_lsb else ""
        super().__init__(f"{name} si_code={si_code} si_addr={si_addr:#x}{lsb}")
