"""Open files and the file descriptor table: what fork copies and exit closes.

Models: fs/file.c (alloc_fd() with the lowest free number, dup_fd(), close_fd(),
put_files_struct()), fs/file_table.c (fput(): the last reference calls the file's
release), include/linux/fdtable.h (struct files_struct), for the files the model has:
pipes (fs/pipe.py). A process starts with descriptors 0, 1 and 2 taken (its
terminal, which the model does not model further), so its first pipe gets 3 and 4
as on Linux.

Layer: below the VFS (fs/vfs.py) because kernel/fork.py (copy_files()) and
kernel/exit.py (exit_files()) use it, as kernel/fork.c and kernel/exit.c call into
fs/file.c; what a file does on its last close is its ``release``, a function the
file's owner (fs/pipe.py) hands in, the kernel's f_op->release.

Simplified: no struct fdtable growth steps (the table is a dict), no close-on-exec
(the model's exec replaces the whole process image only), no dup(2)/dup2(2).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

__all__ = ["FMODE_READ", "FMODE_WRITE", "NR_OPEN_DEFAULT", "file", "files_struct",
           "fd_install", "fget", "fput", "close_fd", "dup_fd", "put_files_struct"]

#: include/linux/fs.h f_mode bits
FMODE_READ = 0x1
FMODE_WRITE = 0x2
#: RLIMIT_NOFILE's default soft limit (include/asm-generic/resource.h INR_OPEN_CUR)
NR_OPEN_DEFAULT = 1024
#: the descriptors a process starts with (stdin, stdout, stderr)
_STD_FDS = (0, 1, 2)


class file:
    """Models: struct file: ``f_count`` references (each descriptor pointing at it,
    in any files_struct, holds one), ``f_mode``, ``private_data`` (the pipe) and the
    ``release`` the last fput() calls (f_op->release)."""

    __slots__ = ("f_count", "f_mode", "f_flags", "private_data", "release")

    def __init__(self, f_mode: int, f_flags: int, private_data: Any,
                 release: Callable[[file], None] | None):
        self.f_count = 1
        self.f_mode = f_mode
        self.f_flags = f_flags
        self.private_data = private_data
        self.release = release

    def __repr__(self) -> str:
        return f"<file mode={self.f_mode:#x} {self.private_data!r}>"


class files_struct:
    """Models: struct files_struct: ``count`` tasks share it (threads made with
    CLONE_FILES), ``fdt`` maps a descriptor to its file (None: one of the standard
    descriptors, which the model leaves to the terminal it does not model)."""

    __slots__ = ("count", "fdt")

    def __init__(self) -> None:
        self.count = 1
        self.fdt: dict[int, file | None] = dict.fromkeys(_STD_FDS)


def alloc_fd(files: files_struct, limit: int = NR_OPEN_DEFAULT) -> int:
    """Models: fs/file.c alloc_fd(): the lowest free descriptor, or -EMFILE at the
    RLIMIT_NOFILE limit."""
    fd = 0
    while fd in files.fdt:
        fd += 1
    return fd if fd < limit else -errno.EMFILE


def fd_install(files: files_struct, fd: int, f: file) -> None:
    """Models: fd_install(): the descriptor now names ``f`` (its reference moves in)."""
    files.fdt[fd] = f


def fget(files: files_struct, fd: int) -> file | None:
    """Models: fget() without the reference (the model's calls do not sleep across
    a close): the file behind ``fd``, or None (-EBADF for the caller)."""
    return files.fdt.get(fd) if fd >= 0 else None


def fput(f: file) -> None:
    """Models: fs/file_table.c fput(): drop a reference; the last calls release."""
    f.f_count -= 1
    if f.f_count == 0 and f.release is not None:
        f.release(f)


def close_fd(files: files_struct, fd: int) -> int:
    """Models: close(2) -> close_fd() then filp_close(): -EBADF for a descriptor not
    open. Returns 0 or -errno."""
    if fd < 0 or fd not in files.fdt:
        return -errno.EBADF
    f = files.fdt.pop(fd)
    if f is not None:
        fput(f)
    return 0


def dup_fd(old: files_struct) -> files_struct:
    """Models: fs/file.c dup_fd() (fork without CLONE_FILES): the same descriptors
    naming the same files, each file one reference more."""
    new = files_struct()
    new.fdt = dict(old.fdt)
    for f in new.fdt.values():
        if f is not None:
            f.f_count += 1
    return new


def put_files_struct(files: files_struct) -> None:
    """Models: put_files_struct() (exit_files() of the last task sharing it): every
    descriptor closed, lowest first (close_files())."""
    files.count -= 1
    if files.count:
        return
    for fd in sorted(files.fdt):
        f = files.fdt.pop(fd)
        if f is not None:
            fput(f)
