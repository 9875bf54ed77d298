"""The sysfs files of transparent huge pages, and the registration of /sys.

Models: mm/huge_memory.c (``/sys/kernel/mm/transparent_hugepage``: enabled,
defrag, use_zero_page, hpage_pmd_size); v4.14 and mainline. The rest of /sys is
registered here from where the kernel keeps it: drivers/base/node.py
(``/sys/devices/system/node``), drivers/base/memory.py
(``/sys/devices/system/memory``), mm/hwpoison_inject.py and mm/huge_memory.py
(debugfs: hwpoison/, split_huge_pages) and the cgroup
core (``/sys/fs/cgroup``).

The THP knobs write the machine's ThpSettings (``ctx.thp``). 4.14 matches a
written mode by prefix (``memcmp(mode, buf, min(strlen(mode), count))``, so
``"alw"`` selects always and ``"d"`` defer+madvise); mainline needs the exact
word (``sysfs_streq``, one trailing newline allowed). Anything else: EINVAL.

Simplified: no hugepages/ or khugepaged/ directories.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE
from thpsim.drivers.base import memory, node
from thpsim.fs import modeled_time
from thpsim.kernel.cgroup import cgroup, cpuset
from thpsim.kernel.context import THP_DEFRAG_MODES, THP_ENABLED_MODES
from thpsim.lib.kstrtox import kstrtoul
from thpsim.lib.string import sysfs_streq
from thpsim.mm import huge_memory, hwpoison_inject, page_idle

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["register", "enabled_store", "defrag_store"]

THP_DIR = "/sys/kernel/mm/transparent_hugepage"


def _einval(f: File) -> OSError:
    return OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)


# ====================================================================== THP knobs
def _mode_line(modes: tuple[str, ...], current: str) -> str:
    return " ".join(f"[{m}]" if m == current else m for m in modes) + "\n"


def _match_4_14(buf: bytes, word: str) -> bool:
    """4.14: ``!memcmp(word, buf, min(sizeof(word) - 1, count))``."""
    n = min(len(word), len(buf))
    return buf[:n] == word.encode()[:n]


def _pick(f: File, buf: bytes, modes: tuple[str, ...]) -> str:
    match = sysfs_streq if f.ctx.profile.thp_sysfs_streq else _match_4_14
    for m in modes:
        if match(buf, m):
            return m
    raise _einval(f)


def enabled_show(f: File) -> str:
    return _mode_line(THP_ENABLED_MODES, f.ctx.thp.enabled)


def enabled_store(f: File, buf: bytes) -> int:
    """Models: enabled_store(): always / madvise / never, else EINVAL."""
    if not buf:
        return 0  # sysfs_kf_write(): nothing to store
    f.ctx.thp.enabled = _pick(f, buf, THP_ENABLED_MODES)
    return len(buf)


#: defrag_store() tests "defer+madvise" before "defer" (a prefix of it).
_DEFRAG_STORE_ORDER = ("always", "defer+madvise", "defer", "madvise", "never")


def defrag_show(f: File) -> str:
    return _mode_line(THP_DEFRAG_MODES, f.ctx.thp.defrag)


def defrag_store(f: File, buf: bytes) -> int:
    """Models: defrag_store(): always / defer / defer+madvise / madvise / never."""
    if not buf:
        return 0
    f.ctx.thp.defrag = _pick(f, buf, _DEFRAG_STORE_ORDER)
    return len(buf)


def use_zero_page_show(f: File) -> str:
    """Models: single_hugepage_flag_show(): ``%d``."""
    return f"{int(bool(f.ctx.thp.use_zero_page))}\n"


def use_zero_page_store(f: File, buf: bytes) -> int:
    """Models: single_hugepage_flag_store(): kstrtoul(buf, 10) (EINVAL, ERANGE), then a
    value above 1 is EINVAL."""
    if not buf:
        return 0
    err, value = kstrtoul(buf.decode("latin-1"), 10)
    if err:
        raise OSError(-err, os.strerror(-err), f.path)
    if value > 1:
        raise _einval(f)
    f.ctx.thp.use_zero_page = bool(value)
    return len(buf)


def hpage_pmd_size_show(f: File) -> str:
    return f"{HPAGE_PMD_SIZE}\n"


# ====================================================================== registration
def register(vfs: VFS) -> None:
    vfs.register_dir("/sys", mode=0o555)
    node.register(vfs)  # /sys/devices/system/node, nodeN/memory_failure/ included
    vfs.register_dir(THP_DIR, mode=0o755)
    vfs.register_file(f"{THP_DIR}/enabled", enabled_show, enabled_store, mode=0o644)
    vfs.register_file(f"{THP_DIR}/defrag", defrag_show, defrag_store, mode=0o644)
    vfs.register_file(f"{THP_DIR}/use_zero_page", use_zero_page_show, use_zero_page_store,
                      mode=0o644)
    vfs.register_file(f"{THP_DIR}/hpage_pmd_size", hpage_pmd_size_show, mode=0o444)
    page_idle.register(vfs)  # /sys/kernel/mm/page_idle/bitmap
    # ---- memory blocks: /sys/devices/system/memory; hwpoison-inject's debugfs files
    memory.register(vfs)
    hwpoison_inject.register(vfs)
    huge_memory.register_debugfs(vfs)  # /sys/kernel/debug/split_huge_pages
    modeled_time.register(vfs)  # /sys/kernel/debug/thpsim/, with modeled time on
    # ---- cgroup cpusets: /sys/fs/cgroup (v2) or /sys/fs/cgroup/cpuset (v1)
    cgroup.register(vfs, cpuset.cpuset_cgrp_subsys)
