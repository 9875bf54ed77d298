"""Inject and undo memory failures through debugfs: /sys/kernel/debug/hwpoison.

Models: mm/hwpoison-inject.c (CONFIG_HWPOISON_INJECT, the module loaded):
corrupt-pfn (hwpoison_inject()) and unpoison-pfn (hwpoison_unpoison()), root only.
The work is mm/memory_failure.py's. Simplified: no hwpoison_filter() and none of
its corrupt-filter-* files.
"""

from __future__ import annotations

import errno
import os

from thpsim.kernel.sched import run_to_completion
from thpsim.kernel.task import CAP_SYS_ADMIN
from thpsim.lib.kstrtox import kstrtoull, simple_strtoll
from thpsim.mm.memory_failure import MF_SW_SIMULATED, memory_failure, unpoison_memory

__all__ = ["hwpoison_inject_store", "hwpoison_unpoison_store", "register"]

HWPOISON_DIR = "/sys/kernel/debug/hwpoison"


#: fs/libfs.c struct simple_attr: char set_buf[24] (one byte for the NUL)
SIMPLE_ATTR_SET_BUF = 24


def simple_attr_write(f, buf: bytes) -> int:
    """The value a DEFINE_DEBUGFS_ATTRIBUTE write carries (fs/libfs.c
    simple_attr_write()): its first 23 bytes only, parsed by kstrtoull() base 0 (5.8+,
    ``simple_attr_write_kstrtoull``: EINVAL or ERANGE, raised here) or, before,
    simple_strtoll() (no error: junk is 0, a negative number wraps to u64)."""
    s = buf[:SIMPLE_ATTR_SET_BUF - 1].decode("latin-1")
    if not f.ctx.profile.simple_attr_write_kstrtoull:
        return simple_strtoll(s) & ((1 << 64) - 1)
    err, val = kstrtoull(s)
    if err:
        raise OSError(-err, os.strerror(-err), f.path)
    return val


def _debugfs_pfn_store(f, buf: bytes, action) -> int:
    """A DEFINE_DEBUGFS_ATTRIBUTE write: simple_attr_write() parses the number, then
    the handler: CAP_SYS_ADMIN (EPERM) and ``action(ctx, pfn)``'s error, else the
    count (the whole write, though only 23 bytes were read)."""
    pfn = simple_attr_write(f, buf)
    if not f.capable(CAP_SYS_ADMIN):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), f.path)
    ret = action(f.ctx, pfn)
    if not isinstance(ret, int):
        ret = run_to_completion(ret)
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret), f.path)
    return len(buf)


def hwpoison_unpoison_store(f, buf: bytes) -> int:
    """Models: mm/hwpoison-inject.c hwpoison_unpoison(): unpoison_memory(pfn)."""
    return _debugfs_pfn_store(f, buf, unpoison_memory)


def hwpoison_inject_store(f, buf: bytes) -> int:
    """Models: mm/hwpoison-inject.c hwpoison_inject(): a PFN with a memmap (else
    -ENXIO), then memory_failure(pfn, MF_SW_SIMULATED) and its error; a filtered
    event (-EOPNOTSUPP) counts as success. Simplified: no hwpoison_filter()."""

    def action(ctx, pfn: int):
        if not 0 <= pfn < ctx.pages.nr:
            return -errno.ENXIO

        def run():
            ret = yield from memory_failure(ctx, pfn, MF_SW_SIMULATED)
            return 0 if ret == -errno.EOPNOTSUPP else ret

        return run()

    return _debugfs_pfn_store(f, buf, action)


def register(vfs) -> None:
    """Models: hwpoison_inject_init(): the debugfs directory (mode 0700) and its two
    write-only files."""
    vfs.register_dir(HWPOISON_DIR, mode=0o700)
    vfs.register_file(f"{HWPOISON_DIR}/unpoison-pfn", writer=hwpoison_unpoison_store,
                      mode=0o200)
    vfs.register_file(f"{HWPOISON_DIR}/corrupt-pfn", writer=hwpoison_inject_store,
                      mode=0o200)
