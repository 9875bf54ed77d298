"""/proc/sys/vm/drop_caches.

Models: fs/drop_caches.c drop_caches_sysctl_handler(), kernel/sysctl.c (the
entry: an int, 1..4, via proc_dointvec_minmax; mode 0644 in 4.14, write-only
0200 in mainline) and fs/proc/proc_sysctl.c test_perm() (a sysctl file checks
its own mode bits: root uses the owner bits, with no DAC override).

Writing 1 drops the page cache (none is modelled); 2 runs the shrinkers
(drop_slab()), of which the model has one: the THP deferred-split queue
(mm/huge_memory.c deferred_split_scan(), which splits partially mapped THPs);
3 does both; 4 silences the kernel-log line the write prints.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from thpsim.kernel.sched import run_to_completion
from thpsim.mm.huge_memory import deferred_split_scan

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["drop_caches_sysctl_handler", "register"]

PATH = "/proc/sys/vm/drop_caches"


def _test_perm(f: File, mode: int, mask: int) -> None:
    """Models: proc_sysctl.c test_perm(): root reads the owner bits, others the other bits."""
    bits = mode >> 6 if f.uid == 0 else mode
    if mask & ~bits & 7:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), f.path)


def _mode(f: File) -> int:
    return 0o200 if f.ctx.profile.drop_caches_write_only else 0o644


def drop_caches_read(f: File) -> str:
    """proc_dointvec_minmax() read: the last value written."""
    _test_perm(f, _mode(f), 4)
    return f"{f.vfs.state.get('drop_caches', 0)}\n"


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


def drop_caches_sysctl_handler(f: File, data: bytes) -> int:
    """Models: drop_caches_sysctl_handler(): proc_dointvec_minmax() (1..4; see
    :func:`proc_dointvec_minmax_write`), then the drop the stored value asks for --
    also after an empty write, which stores nothing and drops again by the last
    value (0 at boot: nothing but the log line). Returns: the bytes consumed (fewer
    than written when something follows the number and its white space).

    Raises: EINVAL. Preempts: in the shrinker.
    """
    _test_perm(f, _mode(f), 2)
    err, value, consumed = proc_dointvec_minmax_write(data, 1, 4)
    if err:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
    state = f.vfs.state
    if value is not None:
        state["drop_caches"] = value
    value = state.get("drop_caches", 0)
    if value & 2:
        run_to_completion(deferred_split_scan(f.ctx))  # drop_slab() -> the THP shrinker
    if not state.get("drop_caches_stfu"):
        comm, pid = ("thpsim", 0) if f.task is None else (f.task.comm, f.task.pid)
        f.ctx.printk(f"{comm} ({pid}): drop_caches: {value}")
    state["drop_caches_stfu"] = state.get("drop_caches_stfu", 0) | value & 4
    return consumed


def register(vfs: VFS) -> None:
    mode = 0o200 if vfs.ctx.profile.drop_caches_write_only else 0o644
    vfs.register_file(PATH, drop_caches_read, drop_caches_sysctl_handler, mode=mode)
