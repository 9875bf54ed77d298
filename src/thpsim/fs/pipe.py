"""Pipes, as far as memory management meets them: a pipe buffer holds a reference on
the page it points at, so a page spliced into a pipe (vmsplice(2), fs/splice.py)
cannot be migrated, split or freed until the pipe lets it go.

Models: fs/pipe.c v4.14 and 6.x alike for what is modelled: pipe2(2) (do_pipe2():
flags O_CLOEXEC, O_NONBLOCK and O_DIRECT, else -EINVAL; two descriptors, the read end
first), the ring of PIPE_DEF_BUFFERS (16) buffers (pipe_full()), and the release of
each end (pipe_release()): when neither end is open any more, free_pipe_info()
releases every buffer (anon_pipe_buf_release(): put_page()).

Simplified: the model's user memory is a 64-bit word per page, so a pipe carries
pages, not bytes: read(2)/write(2) of a pipe, and vmsplice(2) into user memory from
the read end, are not modelled (the API says so); F_SETPIPE_SZ is not either.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from thpsim.fs.file import (
    FMODE_READ,
    FMODE_WRITE,
    alloc_fd,
    close_fd,
    fd_install,
    file,
)
from thpsim.kernel.sched import KernelPath
from thpsim.mm.swap import put_page

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

__all__ = ["PIPE_DEF_BUFFERS", "O_NONBLOCK", "O_CLOEXEC", "O_DIRECT", "pipe_buffer",
           "pipe_inode_info", "do_pipe2", "pipe_full", "add_to_pipe", "pipe_held_pages",
           "sys_pipe2", "sys_close"]

#: include/linux/pipe_fs_i.h: the buffers of a new pipe (64 KiB of 4 KiB pages)
PIPE_DEF_BUFFERS = 16
#: include/uapi/asm-generic/fcntl.h (x86-64)
O_NONBLOCK = 0o4000
O_DIRECT = 0o40000
O_CLOEXEC = 0o2000000
_PIPE2_FLAGS = O_CLOEXEC | O_NONBLOCK | O_DIRECT


class pipe_buffer:
    """Models: struct pipe_buffer: a reference on ``page`` and the bytes
    [offset, offset + len) of it."""

    __slots__ = ("page", "offset", "len", "flags")

    def __init__(self, page: int, offset: int, length: int, flags: int = 0):
        self.page = page
        self.offset = offset
        self.len = length
        self.flags = flags


class pipe_inode_info:
    """Models: struct pipe_inode_info: the buffers in order, ``max_usage`` of them
    at most, and how many files are open on each end."""

    __slots__ = ("id", "bufs", "max_usage", "readers", "writers")

    def __init__(self, pid: int):
        self.id = pid
        self.bufs: list[pipe_buffer] = []
        self.max_usage = PIPE_DEF_BUFFERS
        self.readers = 1
        self.writers = 1

    def __repr__(self) -> str:
        return f"<pipe {self.id}: {len(self.bufs)} buffers>"


def pipe_full(pipe: pipe_inode_info) -> bool:
    """Models: pipe_full(): every buffer slot is taken."""
    return len(pipe.bufs) >= pipe.max_usage


def add_to_pipe(ctx: KernelContext, pipe: pipe_inode_info, buf: pipe_buffer) -> int:
    """Models: fs/splice.c add_to_pipe(): queue ``buf`` (its page reference moves
    into the pipe); a full pipe releases it instead: -EAGAIN. Returns buf.len or
    -errno."""
    if pipe_full(pipe):
        put_page(ctx, buf.page)  # pipe_buf_release()
        return -errno.EAGAIN
    pipe.bufs.append(buf)
    return buf.len


def free_pipe_info(ctx: KernelContext, pipe: pipe_inode_info) -> None:
    """Models: free_pipe_info(): release every buffer (put_page() of its page)."""
    bufs, pipe.bufs = pipe.bufs, []
    for buf in bufs:
        put_page(ctx, buf.page)
    ctx.pipes.pop(pipe.id, None)


def pipe_release(ctx: KernelContext, f: file) -> None:
    """Models: fs/pipe.c pipe_release(): one end fewer; with both ends closed the
    pipe and its pages go (put_pipe_info())."""
    pipe = f.private_data
    if f.f_mode & FMODE_READ:
        pipe.readers -= 1
    if f.f_mode & FMODE_WRITE:
        pipe.writers -= 1
    if not pipe.readers and not pipe.writers:
        free_pipe_info(ctx, pipe)


def do_pipe2(ctx: KernelContext, task, flags: int) -> tuple[int, int] | int:
    """pipe2(2) for ``task``: a new pipe and two descriptors, the lowest free ones.

    Models: fs/pipe.c do_pipe2() -> __do_pipe_flags() (-EINVAL for flags beyond
    O_CLOEXEC | O_NONBLOCK | O_DIRECT, checked first), get_unused_fd_flags() twice
    (-EMFILE, nothing left behind), create_pipe_files().
    Returns: (read fd, write fd) or -errno.
    """
    if flags & ~_PIPE2_FLAGS:
        return -errno.EINVAL
    files = task.files
    rfd = alloc_fd(files)
    if rfd < 0:
        return rfd
    files.fdt[rfd] = None  # reserved while the second is looked for
    wfd = alloc_fd(files)
    del files.fdt[rfd]
    if wfd < 0:
        return wfd
    pipe = pipe_inode_info(ctx.alloc_pipe_id())
    ctx.pipes[pipe.id] = pipe

    def release(f: file) -> None:
        pipe_release(ctx, f)

    fflags = flags & (O_NONBLOCK | O_DIRECT)
    fd_install(files, rfd, file(FMODE_READ, fflags, pipe, release))
    fd_install(files, wfd, file(FMODE_WRITE, fflags, pipe, release))
    return rfd, wfd


def pipe_held_pages(ctx: KernelContext) -> dict[int, int]:
    """The page references every live pipe holds, by page (not head): what the
    invariant checker adds to the references mappings hold."""
    held: dict[int, int] = {}
    for pipe in ctx.pipes.values():
        for buf in pipe.bufs:
            held[buf.page] = held.get(buf.page, 0) + 1
    return held


def sys_pipe2(ctx: KernelContext, task, fds: list[int], flags: int) -> KernelPath[int]:
    """pipe2(2) as a system-call generator: 0 with ``fds`` [read, write], or -errno
    (``fds`` untouched). Preempts: never."""
    ret = do_pipe2(ctx, task, flags)
    if isinstance(ret, int):
        return ret
    fds[:] = ret
    return 0
    yield  # never reached: makes this a system-call generator


def sys_close(task, fd: int) -> KernelPath[int]:
    """close(2) (fs/file.c close_fd()): 0, or -EBADF. Preempts: never."""
    return close_fd(task.files, fd)
    yield  # never reached: makes this a system-call generator
