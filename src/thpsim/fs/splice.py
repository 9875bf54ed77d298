"""vmsplice(2): user pages into a pipe, each holding a page reference while queued.

This is how a user program gives one of its pages an extra reference that lasts:
migration then finds more references than it expects (folio_expected_refs(): -EAGAIN,
retried, then counted as failed), split_huge_page() refuses (can_split_folio()), and
soft offline gives up with -EBUSY, until the pipe is closed. The rows of the
callers' tables that need "a page with an extra reference" are written with it.

Models: fs/splice.c, v4.14 and 6.x alike for what is modelled: the syscall's checks
in order (flags beyond SPLICE_F_ALL: -EINVAL; a descriptor not open: -EBADF;
import_iovec(): more than UIO_MAXIOV segments -EINVAL, a segment reaching the kernel
half -EFAULT; a file that is not a pipe: -EBADF), then vmsplice_to_pipe():
wait_for_space() (no reader: SIGPIPE and -EPIPE; a full pipe: -EAGAIN with
SPLICE_F_NONBLOCK), iter_to_pipe(): get_user_pages_fast() of up to 16 pages of one
segment at a time without FOLL_WRITE (iov_iter_get_pages2(), iov_iter_get_pages() in
4.14), one buffer per page (add_to_pipe()) until the pipe is full or the iovec is
done. Returns the bytes queued, or the first error if none were.

Simplified: the read end (vmsplice_to_user(), a copy into user memory) is not
modelled: the model's user memory is a word per page (-EOPNOTSUPP, as for MAP_SHARED);
a vmsplice that would sleep on a full pipe waits for a reader the model does not
have, so it is refused with -EAGAIN as if SPLICE_F_NONBLOCK had been given (a real
process would block for good).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from thpsim.arch.x86_64.pgtable import PAGE_SIZE, TASK_SIZE
from thpsim.fs.file import FMODE_READ, FMODE_WRITE, fget
from thpsim.fs.pipe import add_to_pipe, pipe_buffer, pipe_full, pipe_inode_info
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.task import send_signal_locked
from thpsim.mm.gup import get_user_pages_fast
from thpsim.mm.swap import put_page

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext

__all__ = ["SPLICE_F_MOVE", "SPLICE_F_NONBLOCK", "SPLICE_F_MORE", "SPLICE_F_GIFT",
           "SPLICE_F_ALL", "UIO_MAXIOV", "sys_vmsplice"]

#: include/linux/splice.h
SPLICE_F_MOVE = 0x01
SPLICE_F_NONBLOCK = 0x02
SPLICE_F_MORE = 0x04
SPLICE_F_GIFT = 0x08
SPLICE_F_ALL = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT
#: include/uapi/linux/uio.h
UIO_MAXIOV = 1024
#: include/linux/pipe_fs_i.h PIPE_BUF_FLAG_GIFT
PIPE_BUF_FLAG_GIFT = 0x04
SIGPIPE = 13
#: iter_to_pipe()'s page array
_PAGES_PER_CALL = 16
_SSIZE_MAX = (1 << 63) - 1
#: include/linux/fs.h MAX_RW_COUNT: what one call moves at most
MAX_RW_COUNT = 0x7FFF_F000


def sys_vmsplice(ctx: KernelContext, task, fd: int, iov: list[tuple[int, int]],
                 flags: int) -> KernelPath[int]:
    """vmsplice(2) of ``task`` (module docstring). ``iov`` is the iovec array as
    (base, len) pairs. Context: no locks held. Preempts: in GUP.
    Returns: bytes queued, or -errno."""
    if flags & ~SPLICE_F_ALL:
        return -errno.EINVAL
    f = fget(task.files, fd)
    if f is None or not f.f_mode & (FMODE_READ | FMODE_WRITE):
        return -errno.EBADF
    # import_iovec(): the segments are checked before the file's kind
    if len(iov) > UIO_MAXIOV:
        return -errno.EINVAL
    total = 0
    segs: list[tuple[int, int]] = []
    for base, length in iov:
        if length > _SSIZE_MAX:
            return -errno.EINVAL
        if length and (base >= TASK_SIZE or length > TASK_SIZE - base):
            return -errno.EFAULT  # access_ok()
        length = min(length, MAX_RW_COUNT - total)
        total += length
        if length:
            segs.append((base, length))
    if not total:
        return 0
    if not f.f_mode & FMODE_WRITE:
        return -errno.EOPNOTSUPP  # vmsplice_to_user(): not modelled (module docstring)
    pipe = f.private_data
    if not isinstance(pipe, pipe_inode_info):
        return -errno.EBADF  # get_pipe_info()
    return (yield from vmsplice_to_pipe(ctx, task, pipe, segs, flags))


def vmsplice_to_pipe(ctx: KernelContext, task, pipe: pipe_inode_info,
                     segs: list[tuple[int, int]], flags: int) -> KernelPath[int]:
    """Models: fs/splice.c vmsplice_to_pipe() -> wait_for_space(), iter_to_pipe()."""
    if not pipe.readers:
        send_signal_locked(SIGPIPE, task, False)
        return -errno.EPIPE
    if pipe_full(pipe):
        return -errno.EAGAIN  # SPLICE_F_NONBLOCK, or a sleep the model cannot end
    buf_flags = PIPE_BUF_FLAG_GIFT if flags & SPLICE_F_GIFT else 0
    total = 0
    ret = 0
    for base, length in segs:
        addr, left = base, length
        while left and not pipe_full(pipe):
            start = addr & (PAGE_SIZE - 1)
            n = min(_PAGES_PER_CALL, (start + left + PAGE_SIZE - 1) // PAGE_SIZE)
            pages: list[int] = []
            got = yield from get_user_pages_fast(task.mm, addr - start, n, 0, pages)
            if got <= 0:
                return total or got
            copied = min(got * PAGE_SIZE - start, left)
            for k, page in enumerate(pages):
                size = min(copied, PAGE_SIZE - start)
                if size <= 0:
                    put_page(ctx, page)
                    continue
                ret = add_to_pipe(ctx, pipe, pipe_buffer(page, start, size, buf_flags))
                if ret < 0:
                    for rest in pages[k + 1:]:
                        put_page(ctx, rest)
                    return total or ret
                copied -= size
                total += size
                addr += size
                left -= size
                start = 0
        if left:
            break
    return total
