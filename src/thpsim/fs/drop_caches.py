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
from thpsim.kernel.sysctl import proc_dointvec_minmax_write, sysctl_test_perm
from thpsim.mm.huge_memory import deferred_split_scan

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["drop_caches_sysctl_handler", "register"]

PATH = "/proc/sys/vm/drop_caches"


def _mode(f: File) -> int:
    return 0o200 if f.ctx.profile.drop_caches_write_only else 0o644


def drop_caches_read(f: File) -> str:
    """proc_dointvec_minmax() read: the last value written."""
    sysctl_test_perm(f, _mode(f), 4)
    return f"{f.vfs.state.get('drop_caches', 0)}\n"


def drop_caches_sysctl_handler(f: File, data: bytes) -> int:
    """Models: drop_caches_sysctl_handler(): proc_dointvec_minmax() (1..4; see
    :func:`proc_dointvec_minmax_write`), then the drop the stored value asks for --
    also after an empty write, which stores nothing and drops again by the last
    value (0 at boot: nothing but the log line). Returns: the bytes consumed (fewer
    than written when something follows the number and its white space).

    Raises: EINVAL. Preempts: in the shrinker.
    """
    sysctl_test_perm(f, _mode(f), 2)
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
