"""A small virtual filesystem: the /proc and /sys files a kernel test reads.

Models: the path walk and permission checks of fs/namei.c (``link_path_walk``,
``generic_permission``, ``may_create``/``may_delete``), ``vfs_read``/``vfs_write``
(fs/read_write.c) and ``vfs_mkdir``/``vfs_rmdir``, over three kinds of file system
that answer differently when an operation is missing:

* ``/proc/PID/...`` (fs/proc/base.c ``pid_entry`` files): no read or write method
  -> ``EINVAL`` (``vfs_read``/``vfs_write`` see no FMODE_CAN_READ/WRITE);
* other ``/proc`` files (``proc_create`` entries): -> ``EIO`` (``proc_reg_read``/
  ``proc_reg_write``, fs/proc/inode.c);
* ``/sys`` and other kernfs files (sysfs, cgroupfs): refused at open with
  ``EACCES`` (``kernfs_fop_open`` checks the mode bits and the ops).

Model-only: every view is an entry in one registry (:meth:`VFS.register_file`,
:meth:`VFS.register_dir`); ``/proc/PID`` and ``/sys/devices/system/node/nodeN`` are
*template* directories whose name is looked up when a path is walked, so
per-process files follow ``ctx.tasks`` as it changes. The cgroup hierarchy
(kernel/cgroup/cgroup.py) registers the same way, with ``mkdir``/``rmdir`` callbacks on the
directory that holds the groups (as kernfs calls the parent inode's ``mkdir``).

Callbacks receive a :class:`File`: who opened it (``file.task``, None for root
with every capability), the template bindings (``file.params["pid"]``), the
kernel context. Text readers return the whole text (``str``); the VFS slices it
by ``offset``/``length`` as seq_file would. Binary readers (pagemap, kpageflags,
kpagecount) get ``offset`` and ``length`` and return ``bytes``. A reader or writer
may instead return a kernel path (a generator) that returns that value: the
blocking :meth:`VFS.read`/:meth:`VFS.write` run it to completion as the opener,
:meth:`VFS.sys_read`/:meth:`VFS.sys_write` run it inside their own kernel path for
the interleaving driver.

Simplified:
    * no file descriptors or file positions: each :meth:`VFS.read` is an open,
      one ``pread`` and a close; each :meth:`VFS.write` an open, one write, a close;
    * no group ids: a file's group bits are never consulted (owner or other);
    * no symlinks: ``/proc/self`` is resolved during the walk, as a name of the
      ``/proc/PID`` template; ".." goes back up the path walked (no mount points);
    * relative paths are ENOENT (there is no working directory).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from types import GeneratorType
from typing import Any

from thpsim.fs import drop_caches, sysfs
from thpsim.fs.proc import array, base, meminfo, page, task_mmu, vmstat
from thpsim.kernel import sched_fair, sysctl
from thpsim.kernel.entry import call_syscall
from thpsim.kernel.sched import KernelPath, run_to_completion
from thpsim.mm import memory_failure

__all__ = ["VFS", "VFSView", "File", "MAY_READ", "MAY_WRITE", "MAY_EXEC"]

# include/linux/fs.h
#: include/uapi/linux/limits.h: the longest path component, in bytes
NAME_MAX = 255
#: include/uapi/linux/limits.h: the longest path, with its NUL
PATH_MAX = 4096
#: include/linux/fs.h: the most one read(2) or write(2) transfers (INT_MAX & PAGE_MASK)
MAX_RW_COUNT = 0x7FFF_FFFF & ~0xFFF
#: LLONG_MAX: the largest loff_t (and ssize_t)
LLONG_MAX = (1 << 63) - 1

#: the page size: what one kernfs write passes to its store at most
PAGE_SIZE = 4096
#: where debugfs is mounted: its files are not kernfs ones (simple_attr_write())
DEBUGFS = "/sys/kernel/debug/"

MAY_EXEC = 0x1
MAY_WRITE = 0x2
MAY_READ = 0x4
# include/uapi/linux/capability.h (the two DAC overrides generic_permission tests)
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2

#: File-system kinds, for the errno of a missing method (module docstring).
FS_PROC_PID = "proc-pid"
FS_PROC = "proc"
FS_KERNFS = "kernfs"

Reader = Callable[..., Any]
Writer = Callable[["File", bytes], int]


class File:
    """An open file, as the callbacks see it.

    Models: struct file (``f_cred``: the opener's credentials) and the inode's
    private data (``params``: what the walk bound for template components, e.g.
    ``params["pid"]`` is the task_struct of ``/proc/PID``).
    """

    __slots__ = ("vfs", "ctx", "path", "task", "params")

    def __init__(self, vfs: VFS, path: str, task: Any, params: dict[str, Any]):
        self.vfs = vfs
        self.ctx = vfs.ctx
        self.path = path
        #: the opener (a task_struct), or None: root with every capability
        self.task = task
        self.params = params

    @property
    def cred(self) -> Any:
        return None if self.task is None else self.vfs.cred_of(self.task)

    @property
    def uid(self) -> int:
        c = self.cred
        return 0 if c is None else c.euid

    def capable(self, cap: int) -> bool:
        """Models: file_ns_capable(file, &init_user_ns, cap): the opener's capability."""
        c = self.cred
        return c is None or c.capable(cap)

    def __repr__(self) -> str:
        return f"<File {self.path} as {self.task!r}>"


class _Node:
    __slots__ = ("name", "mode", "owner", "fs")

    def __init__(self, name: str, mode: int, owner: int | Callable[[File], int], fs: str):
        self.name = name
        self.mode = mode
        self.owner = owner
        self.fs = fs


class _Dir(_Node):
    __slots__ = ("children", "template", "lookup", "names", "mkdir", "rmdir")

    def __init__(self, name: str, mode: int, owner, fs: str):
        super().__init__(name, mode, owner, fs)
        self.children: dict[str, _Node] = {}
        #: the template child (its registered name, e.g. "{pid}" or "node{nid}")
        self.template: str | None = None
        #: for a template dir: name -> bound value or None; and the names to list
        self.lookup: Callable[[File, str], Any] | None = None
        self.names: Callable[[File], list[str]] | None = None
        #: callbacks for creating and removing children (kernfs parent inode ops)
        self.mkdir: Callable[[File, str], None] | None = None
        self.rmdir: Callable[[File, str], None] | None = None


class _File(_Node):
    __slots__ = ("reader", "writer", "binary", "open", "atomic_write_len")

    def __init__(self, name: str, mode: int, owner, fs: str, reader, writer, binary: bool,
                 open_: Callable[[File], None] | None, atomic_write_len: int = 0):
        super().__init__(name, mode, owner, fs)
        self.reader = reader
        self.writer = writer
        self.binary = binary
        self.open = open_
        #: kernfs_ops.atomic_write_len (cgroup files: PAGE_SIZE); 0 for sysfs
        self.atomic_write_len = atomic_write_len


def _err(code: int, path: str) -> OSError:
    return OSError(code, os.strerror(code), path)


def rw_verify_area(path: str, pos: int, count: int | None) -> int | None:
    """The position and count checks of one pread(2), and the cap on its count.

    Models: fs/read_write.c rw_verify_area(): a count that is negative as a ssize_t
    (a negative int, or a size_t with the top bit set) is -EINVAL, so is a negative
    position or one whose end overflows loff_t (these files have no
    FMODE_UNSIGNED_OFFSET); then vfs_read() caps the count at MAX_RW_COUNT, so no
    single read returns more. Simplified: there is no user buffer, so access_ok()
    (which refuses a buffer reaching past TASK_SIZE with -EFAULT first) is not
    modelled. ``count`` None (read to the end of a text file) passes. Returns the
    count to read.
    """
    if count is not None and not 0 <= count <= LLONG_MAX:
        raise _err(errno.EINVAL, path)
    if not 0 <= pos <= LLONG_MAX or (count is not None and pos + count > LLONG_MAX):
        raise _err(errno.EINVAL, path)
    return count if count is None else min(count, MAX_RW_COUNT)


def _template_param(name: str) -> str | None:
    """``"{pid}"`` -> ``"pid"``, ``"node{nid}"`` -> ``"nid"``; None for a plain name."""
    if "{" in name and name.endswith("}"):
        return name[name.index("{") + 1 : -1]
    return None


def _split(path: str) -> list[str]:
    if not path.startswith("/"):
        raise _err(errno.ENOENT, path)
    parts: list[str] = []
    for c in path.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if parts:
                parts.pop()
            continue
        parts.append(c)
    return parts


def _getname(path: str) -> str:
    """Models: fs/namei.c getname(): the user's string up to its NUL; empty ENOENT,
    PATH_MAX bytes or more (with the NUL) ENAMETOOLONG."""
    path = path.split("\x00", 1)[0]
    if not path:
        raise _err(errno.ENOENT, path)
    if len(path.encode()) >= PATH_MAX:
        raise _err(errno.ENAMETOOLONG, path[:64] + "...")
    return path


def _last_component(path: str) -> tuple[str, str]:
    """The parent path and the last component of a (getname'd) path, as
    filename_parentat() splits them (trailing slashes dropped)."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/", ""
    parent, _, last = stripped.rpartition("/")
    return parent or "/", last


def _fs_kind(parts: list[str]) -> str:
    if parts and parts[0] == "proc":
        if len(parts) > 1 and _template_param(parts[1]) is not None:
            return FS_PROC_PID
        return FS_PROC
    return FS_KERNFS


class VFS:
    """The /proc and /sys views of one machine.

    Args:
        ctx: the machine's KernelContext.
        cred_lookup: optional ``task -> cred``; default ``task.cred``.
    """

    def __init__(self, ctx: Any, cred_lookup: Callable[[Any], Any] | None = None):
        self.ctx = ctx
        self.cred_lookup = cred_lookup
        self.root = _Dir("", 0o755, 0, FS_KERNFS)
        #: state the views keep between calls (sysctl values), by name
        self.state: dict[str, Any] = {}
        #: where a file system is mounted (canonical paths): rmdir of one is EBUSY
        self.mount_points: set[str] = {"/proc", "/sys", DEBUGFS.rstrip("/")}
        _register_builtin_views(self)

    def cred_of(self, task: Any) -> Any:
        return self.cred_lookup(task) if self.cred_lookup is not None else task.cred

    # ------------------------------------------------------------------ registry
    def register_dir(
        self,
        path: str,
        *,
        mode: int | None = None,
        owner: int | Callable[[File], int] | None = None,
        lookup: Callable[[File, str], Any] | None = None,
        names: Callable[[File], list[str]] | None = None,
        mkdir: Callable[[File, str], None] | None = None,
        rmdir: Callable[[File, str], None] | None = None,
        literal: bool = False,
    ) -> None:
        """Register a directory (its parents are created, mode 0555, as needed).

        A last component with braces (``/proc/{pid}``, ``.../node{nid}``) is a
        template: ``lookup(file, name)`` binds a name to a value (None: no such
        entry, ENOENT) stored in ``file.params``; ``names(file)`` lists them.
        ``mkdir(file, path)`` / ``rmdir(file, path)`` are called to create or remove
        a child of this directory; they register or unregister it themselves.
        A new directory gets mode 0555 and owner root unless given; registering an
        existing one changes only the attributes given. ``literal``: the last
        component is a plain name even with braces (a directory a user made: a
        cgroup named ``{x}``).
        """
        parts = _split(path)
        d = self._make_dirs(parts[:-1]) if parts else None
        if d is None:
            node = self.root
        else:
            name = parts[-1]
            param = None if literal else _template_param(name)
            existing = d.children.get(name)
            if isinstance(existing, _File):
                raise _err(errno.ENOTDIR, path)
            if param is not None:
                if d.template is not None and d.template != name:
                    raise ValueError(f"{path}: {d.template!r} is already the template here")
                if lookup is None or names is None:
                    raise ValueError(f"{path}: a template directory needs lookup and names")
                d.template = name
            node = existing if isinstance(existing, _Dir) else _Dir(
                name, 0o555, 0, _fs_kind(parts)
            )
            d.children[name] = node
        if mode is not None:
            node.mode = mode
        if owner is not None:
            node.owner = owner
        if lookup is not None:
            node.lookup = lookup
            node.names = names
        if mkdir is not None:
            node.mkdir = mkdir
        if rmdir is not None:
            node.rmdir = rmdir

    def register_file(
        self,
        path: str,
        reader: Reader | None = None,
        writer: Writer | None = None,
        *,
        mode: int | None = None,
        owner: int | Callable[[File], int] = 0,
        binary: bool = False,
        open: Callable[[File], None] | None = None,  # noqa: A002 - the file operation's name
        atomic_write_len: int = 0,
    ) -> None:
        """Register a file. ``mode`` defaults to 0444, 0644 or 0200 by the methods given.

        ``reader(file) -> str`` (text) or ``reader(file, offset, length) -> bytes``
        (``binary``); ``writer(file, data: bytes) -> int`` (bytes consumed);
        ``open(file)`` may refuse the open by raising OSError (ptrace checks).
        ``atomic_write_len`` (kernfs files: kernfs_ops.atomic_write_len): a longer
        write is E2BIG; 0 (sysfs): a write is cut to PAGE_SIZE bytes (see
        :meth:`VFS.write`).
        """
        parts = _split(path)
        if not parts:
            raise ValueError("cannot register a file at /")
        d = self._make_dirs(parts[:-1])
        if mode is None:
            mode = (0o444 if reader else 0) | (0o200 if writer else 0)
        name = parts[-1]
        if isinstance(d.children.get(name), _Dir):
            raise _err(errno.EISDIR, path)
        d.children[name] = _File(name, mode, owner, _fs_kind(parts), reader, writer, binary,
                                 open, atomic_write_len)

    def unregister(self, path: str) -> None:
        """Remove a file or a directory with everything under it (a template path too)."""
        parts = _split(path)
        if not parts:
            raise ValueError("cannot unregister /")
        d = self.root
        for c in parts[:-1]:
            nxt = d.children.get(c)
            if not isinstance(nxt, _Dir):
                raise _err(errno.ENOENT, path)
            d = nxt
        if d.children.pop(parts[-1], None) is None:
            raise _err(errno.ENOENT, path)
        if d.template == parts[-1]:
            d.template = None

    def _make_dirs(self, parts: list[str]) -> _Dir:
        d = self.root
        for i, c in enumerate(parts):
            nxt = d.children.get(c)
            if nxt is None:
                if _template_param(c) is not None:
                    raise ValueError(f"register the template directory {c!r} first")
                nxt = _Dir(c, 0o555, 0, _fs_kind(parts[: i + 1]))
                d.children[c] = nxt
            elif not isinstance(nxt, _Dir):
                raise _err(errno.ENOTDIR, "/" + "/".join(parts[: i + 1]))
            d = nxt
        return d

    # ------------------------------------------------------------------ path walk
    def _walk(self, path: str, task: Any) -> tuple[_Node, dict[str, Any], list[str]]:
        """Models: getname() + link_path_walk() + lookup: the node, the template
        bindings and the canonical components of ``path``.

        getname(): the name ends at the first NUL (what strncpy_from_user() copies), an
        empty one is ENOENT, one of PATH_MAX bytes or more ENAMETOOLONG. The walk: every
        component but the last must be a directory (ENOTDIR), "." stays, ".." goes to
        the parent (the root's is the root) -- in the walk, so ``file/.`` is ENOTDIR and
        ``missing/..`` ENOENT, as on Linux; a trailing "/" needs a directory.
        """
        path = _getname(path)
        if not path.startswith("/"):
            raise _err(errno.ENOENT, path)
        params: dict[str, Any] = {}
        node: _Node = self.root
        stack: list[tuple[_Node, dict[str, Any], str]] = []
        for c in path.split("/"):
            if c == "":
                continue
            if not isinstance(node, _Dir):
                raise _err(errno.ENOTDIR, path)
            if c == ".":
                continue
            if c == "..":
                if stack:
                    node, params, _ = stack.pop()
                continue
            nxt = node.children.get(c)
            bound = params
            if nxt is None and node.template is not None:
                tmpl = node.children[node.template]
                lk = tmpl.lookup if isinstance(tmpl, _Dir) else None
                value = None if lk is None else lk(File(self, path, task, params), c)
                if value is None:
                    raise _err(errno.ENOENT, path)
                bound = dict(params)
                bound[_template_param(node.template) or node.template] = value
                nxt = tmpl
            if nxt is None:
                raise _err(errno.ENOENT, path)
            stack.append((node, params, c))
            node, params = nxt, bound
        if path.endswith("/") and not isinstance(node, _Dir):
            raise _err(errno.ENOTDIR, path)
        return node, params, [c for _, _, c in stack]

    def _owner(self, node: _Node, f: File) -> int:
        return node.owner(f) if callable(node.owner) else node.owner

    def _permission(self, node: _Node, f: File, mask: int) -> None:
        """Models: fs/namei.c generic_permission() (owner or other bits, then the
        CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH overrides). Raises EACCES."""
        if f.task is None:
            return
        isdir = isinstance(node, _Dir)
        bits = node.mode >> 6 if f.uid == self._owner(node, f) else node.mode
        if mask & ~bits & 7 == 0:
            return
        if f.capable(CAP_DAC_OVERRIDE):
            if isdir or not mask & MAY_EXEC or node.mode & 0o111:
                return
        if mask == MAY_READ or (isdir and mask & MAY_WRITE == 0):
            if f.capable(CAP_DAC_READ_SEARCH):
                return
        raise _err(errno.EACCES, f.path)

    def _open(self, path: str, task: Any, mask: int) -> tuple[_File, File]:
        """Walk, check permission, call the file's open. Returns the node and the File."""
        node, params, parts = self._walk(path, task)
        if isinstance(node, _Dir):
            raise _err(errno.EISDIR, path)
        assert isinstance(node, _File)
        f = File(self, "/" + "/".join(parts), task, params)
        self._permission(node, f, mask)
        if node.fs == FS_KERNFS:
            # kernfs_fop_open(): the attribute must allow the access and have the op
            if mask & MAY_READ and (node.reader is None or not node.mode & 0o444):
                raise _err(errno.EACCES, path)
            if mask & MAY_WRITE and (node.writer is None or not node.mode & 0o222):
                raise _err(errno.EACCES, path)
        if node.open is not None:
            node.open(f)
        return node, f

    def _no_method(self, node: _File, path: str) -> OSError:
        return _err(errno.EINVAL if node.fs == FS_PROC_PID else errno.EIO, path)

    # ------------------------------------------------------------------ operations
    # read, write, mkdir, rmdir, listdir (getdents64) and exists (stat) are system calls
    # of ``as_task``: each runs through the kernel entry (kernel/entry.py: ``current`` is
    # the opener for the call, its pending signals are handled before and after it), so
    # the files' methods run their kernel paths to completion as the opener.
    def read(self, path: str, *, offset: int = 0, length: int | None = None,
             as_task: Any = None) -> str | bytes:
        """open(path, O_RDONLY) + pread(length, offset): ``str`` for text files,
        ``bytes`` for binary ones (which need ``length``; offset and length must be
        multiples of 8 there, else EINVAL). The call goes through the kernel entry
        (kernel/entry.py) with ``current`` = the opener; a method that is a kernel path
        runs to completion inside it."""
        return call_syscall(self.ctx, as_task, self._read, path, offset, length, as_task)

    def _read(self, path: str, offset: int, length: int | None, as_task: Any) -> str | bytes:
        node, f, ret = self._read_start(path, offset, length, as_task)
        if isinstance(ret, GeneratorType):
            ret = run_to_completion(ret)
        return self._read_end(node, ret, offset, length)

    def sys_read(self, path: str, *, offset: int = 0, length: int | None = None,
                 as_task: Any = None) -> KernelPath[str | bytes]:
        """:meth:`read`'s body as a kernel path, for the interleaving driver (which sets
        ``current``; Machine.syscall() adds the entry and exit work): the same walk,
        checks and file method, whose kernel path (if it is one) runs inside this one."""
        node, f, ret = self._read_start(path, offset, length, as_task)
        if isinstance(ret, GeneratorType):
            ret = yield from ret
        return self._read_end(node, ret, offset, length)

    def _read_start(self, path: str, offset: int, length: int | None,
                    as_task: Any) -> tuple[_File, File, Any]:
        """Open for reading and call the file's read method (its result, or its kernel
        path: a generator)."""
        node, f = self._open(path, as_task, MAY_READ)
        if node.reader is None:
            raise self._no_method(node, path)
        length = rw_verify_area(path, offset, length)
        if node.binary:
            if length is None:
                raise _err(errno.EINVAL, path)
            return node, f, node.reader(f, offset, length)
        return node, f, node.reader(f)

    @staticmethod
    def _read_end(node: _File, ret: Any, offset: int, length: int | None) -> str | bytes:
        if node.binary:
            return ret
        return ret[offset:] if length is None else ret[offset : offset + length]

    def write(self, path: str, data: str | bytes, *, as_task: Any = None,
              offset: int = 0) -> int:
        """open(path, O_WRONLY) + write(data) (``offset``: pwrite(data, offset), which
        only a binary file's writer sees, as ``writer(file, data, offset)``: sysfs text
        stores ignore the position). Returns the bytes written.

        A kernfs file's store sees at most PAGE_SIZE bytes (kernfs_fop_write_iter():
        a sysfs write is cut to a page, and the store's count is what write(2)
        returns; a file with an atomic_write_len -- every cgroup file -- refuses a
        longer write with E2BIG); debugfs (/sys/kernel/debug) passes the whole buffer
        (simple_attr_write() cuts it itself). A zero-length write to a kernfs file
        (sysfs, cgroup) returns 0 without calling the file's store
        (sysfs_kf_write(): ``if (!count) return 0``; the 7.2 oracle:
        ``write(fd, "", 0)`` to cpuset.mems leaves it unchanged); proc files get it.
        A method that is a kernel path runs to completion inside the system call.
        """
        return call_syscall(self.ctx, as_task, self._write, path, data, as_task, offset)

    def _write(self, path: str, data: str | bytes, as_task: Any, offset: int = 0) -> int:
        f, ret = self._write_start(path, data, as_task, offset)
        if isinstance(ret, GeneratorType):
            ret = run_to_completion(ret)
        return ret

    def sys_write(self, path: str, data: str | bytes, *,
                  as_task: Any = None, offset: int = 0) -> KernelPath[int]:
        """:meth:`write` as a kernel path, for the interleaving driver (see
        :meth:`sys_read`)."""
        f, ret = self._write_start(path, data, as_task, offset)
        if isinstance(ret, GeneratorType):
            ret = yield from ret
        return ret

    def _write_start(self, path: str, data: str | bytes, as_task: Any,
                     offset: int = 0) -> tuple[File, Any]:
        """Open for writing and call the file's write method (its result, or its kernel
        path: a generator)."""
        if self.ctx.cost is not None:  # modeled time (hw/cost.py): write(2)'s entry and exit
            self.ctx.cost.syscall(self.ctx.smp_processor_id())
        node, f = self._open(path, as_task, MAY_WRITE)
        if node.writer is None:
            raise self._no_method(node, path)
        if isinstance(data, str):
            data = data.encode()
        if node.fs == FS_KERNFS and not f.path.startswith(DEBUGFS):
            # kernfs_fop_write_iter(): atomic_write_len or at most a page
            if node.atomic_write_len:
                if len(data) > node.atomic_write_len:
                    raise _err(errno.E2BIG, path)
            else:
                data = data[:PAGE_SIZE]
        if not data and node.fs == FS_KERNFS:
            return f, 0
        if node.binary:  # a bin_attribute's write gets the position (pwrite)
            rw_verify_area(path, offset, len(data))
            return f, node.writer(f, bytes(data), offset)
        return f, node.writer(f, bytes(data))

    def mkdir(self, path: str, *, as_task: Any = None) -> None:
        """Models: mkdirat() -> filename_create(): the parent's walk (ENOENT,
        ENOTDIR), a last component "." or ".." or one that exists is EEXIST, one over
        NAME_MAX bytes ENAMETOOLONG (the lookup of the new name); then vfs_mkdir():
        may_create() (EACCES), then the parent's op (EPERM when it has none; the op
        checks the name itself: cgroup_mkdir()). Trailing slashes are allowed."""
        call_syscall(self.ctx, as_task, self._mkdir, path, as_task)

    def _mkdir(self, path: str, as_task: Any) -> None:
        path = _getname(path)
        parent_path, name = _last_component(path)
        if name in ("", ".", ".."):  # filename_create(): LAST_ROOT/DOT/DOTDOT
            self._walk(parent_path, as_task)
            raise _err(errno.EEXIST, path)
        parent, params, parts = self._walk(parent_path, as_task)
        if not isinstance(parent, _Dir):
            raise _err(errno.ENOTDIR, path)
        if len(name.encode()) > NAME_MAX:  # the lookup of the new name
            raise _err(errno.ENAMETOOLONG, path)
        if self._exists_in(parent, name, as_task, params):
            raise _err(errno.EEXIST, path)
        f = File(self, path, as_task, params)
        self._permission(parent, f, MAY_WRITE | MAY_EXEC)
        if parent.mkdir is None:
            raise _err(errno.EPERM, path)
        parent.mkdir(f, "/" + "/".join(parts + [name]))

    def rmdir(self, path: str, *, as_task: Any = None) -> None:
        """Models: do_rmdir(): the parent's walk, a last component "." EINVAL, ".."
        ENOTEMPTY, the root EBUSY; then vfs_rmdir(): ENOENT/ENOTDIR, may_delete()
        (EACCES), a mount point EBUSY (/proc, /sys, debugfs, the cgroup hierarchy's
        root: their parents all have an rmdir op), then the parent's op (EPERM when it
        has none: kernfs_iop_rmdir() without a syscall op, proc; the op may refuse
        with EBUSY or ENOTEMPTY)."""
        call_syscall(self.ctx, as_task, self._rmdir, path, as_task)

    def _rmdir(self, path: str, as_task: Any) -> None:
        path = _getname(path)
        parent_path, name = _last_component(path)
        parent, params, parts = self._walk(parent_path, as_task)
        if not isinstance(parent, _Dir):
            raise _err(errno.ENOTDIR, path)
        # do_rmdir(): LAST_ROOT EBUSY, LAST_DOT EINVAL, LAST_DOTDOT ENOTEMPTY
        if name == "":
            raise _err(errno.EBUSY, path)
        if name == ".":
            raise _err(errno.EINVAL, path)
        if name == "..":
            raise _err(errno.ENOTEMPTY, path)
        node, params, _ = self._walk(path, as_task)
        if not isinstance(node, _Dir):
            raise _err(errno.ENOTDIR, path)
        f = File(self, path, as_task, params)
        self._permission(parent, f, MAY_WRITE | MAY_EXEC)
        canonical = "/" + "/".join(parts + [name])
        if canonical in self.mount_points:  # vfs_rmdir(): is_local_mountpoint()
            raise _err(errno.EBUSY, path)
        if parent.rmdir is None:
            raise _err(errno.EPERM, path)
        parent.rmdir(f, canonical)

    def listdir(self, path: str, *, as_task: Any = None) -> list[str]:
        """open(path, O_DIRECTORY) + getdents64(): registered names in registration order,
        then the template's names (iterate_dir())."""
        return call_syscall(self.ctx, as_task, self._listdir, path, as_task)

    def _listdir(self, path: str, as_task: Any) -> list[str]:
        node, params, _ = self._walk(path, as_task)
        if not isinstance(node, _Dir):
            raise _err(errno.ENOTDIR, path)
        f = File(self, path, as_task, params)
        self._permission(node, f, MAY_READ)
        out = [n for n in node.children if n != node.template]
        if node.template is not None:
            tmpl = node.children[node.template]
            if isinstance(tmpl, _Dir) and tmpl.names is not None:
                out.extend(n for n in tmpl.names(f) if n not in node.children)
        return out

    def exists(self, path: str, *, as_task: Any = None) -> bool:
        """stat(path) succeeds: False on ENOENT or ENOTDIR; other errors raise."""
        return call_syscall(self.ctx, as_task, self.path_exists, path, as_task)

    def path_exists(self, path: str, as_task: Any = None) -> bool:
        """The lookup behind :meth:`exists`, for kernel code that looks a node up
        itself (kernfs_find_and_get()), not as a system call."""
        try:
            self._walk(path, as_task)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                return False
            raise
        return True

    def _exists_in(self, d: _Dir, name: str, task: Any, params: dict[str, Any]) -> bool:
        if name in d.children:
            return True
        if d.template is not None:
            tmpl = d.children[d.template]
            if isinstance(tmpl, _Dir) and tmpl.lookup is not None:
                return tmpl.lookup(File(self, name, task, dict(params)), name) is not None
        return False


class VFSView:
    """The VFS as one opener sees it: ``task`` (a task_struct) or None for root.

    What ``Machine.fs`` (root) and ``Process.fs`` (the process's first thread) return.
    ``after``, if given, is called after every write, mkdir and rmdir that
    succeeded (they may change kernel state: the Machine's integrity check).
    """

    __slots__ = ("vfs", "task", "after")

    def __init__(self, vfs: VFS, task: Any, after: Callable[[], None] | None = None):
        self.vfs = vfs
        self.task = task
        self.after = after

    def _done(self) -> None:
        if self.after is not None:
            self.after()

    def read(self, path: str, *, offset: int = 0, length: int | None = None) -> str | bytes:
        return self.vfs.read(path, offset=offset, length=length, as_task=self.task)

    def write(self, path: str, data: str | bytes, *, offset: int = 0) -> int:
        n = self.vfs.write(path, data, as_task=self.task, offset=offset)
        self._done()
        return n

    def mkdir(self, path: str) -> None:
        self.vfs.mkdir(path, as_task=self.task)
        self._done()

    def rmdir(self, path: str) -> None:
        self.vfs.rmdir(path, as_task=self.task)
        self._done()

    def listdir(self, path: str) -> list[str]:
        return self.vfs.listdir(path, as_task=self.task)

    def exists(self, path: str) -> bool:
        return self.vfs.exists(path, as_task=self.task)

    def __repr__(self) -> str:
        return f"<VFSView as {self.task!r}>"


def _register_builtin_views(vfs: VFS) -> None:
    """Register /proc and /sys (each module registers its own files)."""

    base.register(vfs)  # /proc, /proc/PID and /proc/PID/task/TID first
    task_mmu.register(vfs)
    array.register(vfs)
    meminfo.register(vfs)
    vmstat.register(vfs)
    page.register(vfs)
    drop_caches.register(vfs)
    sysctl.register(vfs)  # kernel.numa_balancing
    sched_fair.register(vfs)  # the NUMA-balancing tunables (sysctl or debugfs by era)
    memory_failure.register_sysctl(vfs)  # vm.enable_soft_offline
    sysfs.register(vfs)
