"""The sysctl plumbing the model's /proc/sys files share, and the entries that
belong to no modelled subsystem of their own.

Models: kernel/sysctl.c proc_dointvec_minmax() (one int; proc_get_long(),
do_proc_dointvec_minmax_conv()), fs/proc/proc_sysctl.c test_perm(), and the
``kernel.numa_balancing`` entry (kern_table in 4.14 kernel/sysctl.c,
sched_core_sysctls in 6.x kernel/sched/core.c) with its handler
sysctl_numa_balancing().

kernel.numa_balancing: the machine boots with balancing off, as the kernel oracle's
guests run (``kernel.numa_balancing=0``; Debian's own default on a NUMA machine is 1,
CONFIG_NUMA_BALANCING_DEFAULT_ENABLED). A write is checked and stored as the kernel
does (CAP_SYS_ADMIN, EPERM; 0..1 in 4.14, the 5.18+ mode bits 0..4,
``numa_balancing_memory_tiering``); a non-zero mode turns the scanner on
(kernel/sched_fair.py: task_tick_numa() in the timer ticks a task is given,
``Thread.tick()``/``spin()``; NUMA hinting faults; mode 2, memory tiering, promotes
from CPU-less nodes). docs/numa-balancing.md. The scan tunables are
kernel/sched_fair.py's (sysctl files in 4.14, debugfs in 5.13+).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from thpsim.kernel.task import CAP_SYS_ADMIN

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["sysctl_test_perm", "proc_dointvec_minmax_write", "proc_dointvec_minmax",
           "sysctl_numa_balancing", "register"]

NUMA_BALANCING_PATH = "/proc/sys/kernel/numa_balancing"


def sysctl_test_perm(f: File, mode: int, mask: int) -> None:
    """Models: proc_sysctl.c test_perm(): root reads the owner bits, others the other bits."""
    bits = mode >> 6 if f.uid == 0 else mode
    if mask & ~bits & 7:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), f.path)


#: kernel/sysctl.c: the longest number proc_get_long() looks at, with its NUL
TMPBUFLEN = 22
#: include/linux/ctype.h isspace() (lib/ctype.c): what proc_skip_spaces() skips
_SPACES = b" \t\n\v\f\r"
#: proc_wspace_sep: what may follow a number
_WSPACE_SEP = b" \t\n"
_INT_MAX = (1 << 31) - 1
_HEX = b"0123456789abcdefABCDEF"


def _proc_get_long(buf: bytes) -> tuple[int, int, int]:
    """Models: kernel/sysctl.c proc_get_long() with proc_wspace_sep: an optional "-"
    (when more follows), then a digit, then strtoul base 0 (0x hex, 0 octal) over at
    most TMPBUFLEN - 1 characters; a number that fills them all, or one followed by
    anything but a space, tab or newline, is -EINVAL (so is an overflow:
    strtoul_lenient()). Returns (0 or -EINVAL, the value with its sign, characters
    consumed)."""
    size = len(buf)
    tmp = buf[:TMPBUFLEN - 1]
    p = 0
    neg = tmp[:1] == b"-" and size > 1
    if neg:
        p = 1
    if not tmp[p:p + 1].isdigit():
        return -errno.EINVAL, 0, 0
    base = 10
    if tmp[p:p + 1] == b"0":
        if tmp[p + 1:p + 2] in (b"x", b"X") and tmp[p + 2:p + 3] != b"" and tmp[p + 2] in _HEX:
            base, p = 16, p + 2
        else:
            base = 8
    digits = _HEX if base == 16 else b"0123456789"[:base]
    start = p
    while p < len(tmp) and tmp[p] in digits:
        p += 1
    value = int(tmp[start:p], base)
    if value >> 64 or p == TMPBUFLEN - 1:
        return -errno.EINVAL, 0, 0
    if p < size and buf[p] not in _WSPACE_SEP:
        return -errno.EINVAL, 0, 0
    return 0, -value if neg else value, p


def proc_dointvec_minmax_write(data: bytes, lo: int, hi: int) -> tuple[int, int | None, int]:
    """A write to a one-int sysctl with a range (the drop_caches entry: 1..4).

    Models: kernel/sysctl.c proc_dointvec_minmax() -> __do_proc_dointvec() writing one
    int: an empty write stores nothing and succeeds (``!*lenp``); at most PAGE_SIZE - 1
    bytes are looked at; white space is skipped, then one number (_proc_get_long()),
    which must fit an int and lie in [lo, hi] (do_proc_dointvec_minmax_conv(): else
    -EINVAL); white space after it is consumed, anything after that is not (a short
    write: ``*lenp -= left``). Only white space is -EINVAL. Simplified: 4.14's
    conversion, which lets a value beyond INT_MAX wrap before the range check (no
    overflow test then), is modelled as mainline's (-EINVAL).
    Returns: (0 or -EINVAL, the value stored or None, the bytes consumed).
    """
    if not data:
        return 0, None, 0
    buf = data[:4095]  # PAGE_SIZE - 1
    i = 0
    while i < len(buf) and buf[i] in _SPACES:
        i += 1
    if i == len(buf):
        return -errno.EINVAL, None, 0
    err, value, n = _proc_get_long(buf[i:])
    if err:
        return err, None, 0
    if abs(value) > _INT_MAX + (1 if value < 0 else 0) or not lo <= value <= hi:
        return -errno.EINVAL, None, 0
    i += n
    while i < len(buf) and buf[i] in _SPACES:
        i += 1
    return 0, value, len(data) - (len(buf) - i)


def proc_dointvec_minmax(f: File, data: bytes, lo: int, hi: int) -> tuple[int | None, int]:
    """A write to a one-int sysctl entry with a range: proc_dointvec_minmax_write()
    as an OSError. Returns (the value, or None for an empty write, and the bytes
    consumed). Raises: OSError(EINVAL)."""
    err, value, consumed = proc_dointvec_minmax_write(data, lo, hi)
    if err:
        raise OSError(-err, os.strerror(-err), f.path)
    return value, consumed


def sysctl_numa_balancing_read(f: File) -> str:
    """Models: sysctl_numa_balancing() reading: the state (4.14:
    static_branch_likely(&sched_numa_balancing), 0 or 1; 5.18+:
    sysctl_numa_balancing_mode)."""
    sysctl_test_perm(f, 0o644, 4)
    return f"{f.ctx.sysctl_numa_balancing_mode}\n"


def sysctl_numa_balancing(f: File, data: bytes) -> int:
    """kernel.numa_balancing write.

    Models: kernel/sched/core.c sysctl_numa_balancing(): CAP_SYS_ADMIN (EPERM), then
    proc_dointvec_minmax() into the state, 0..1 (4.14: extra2 = &one) or 0..4 (5.18+,
    C:c574bbe91703: extra2 = SYSCTL_FOUR, the NUMA_BALANCING_NORMAL and
    NUMA_BALANCING_MEMORY_TIERING bits), then set_numabalancing_state(). Returns the
    bytes consumed. Raises: EACCES, EPERM, EINVAL.
    Simplified: set_numabalancing_state() is the mode itself (the
    sched_numa_balancing key is "mode != 0", kernel/sched_fair.py); 5.18+'s reset of the
    promotion threshold state when mode 2 is turned on is not modelled.
    """
    sysctl_test_perm(f, 0o644, 2)
    if not f.capable(CAP_SYS_ADMIN):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), f.path)
    hi = 4 if f.ctx.profile.numa_balancing_memory_tiering else 1
    value, consumed = proc_dointvec_minmax(f, data, 0, hi)
    if value is not None:
        f.ctx.sysctl_numa_balancing_mode = value
    return consumed


def register(vfs: VFS) -> None:
    vfs.register_file(NUMA_BALANCING_PATH, sysctl_numa_balancing_read, sysctl_numa_balancing,
                      mode=0o644)
