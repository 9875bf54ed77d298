"""The files fuzzer: hostile reads, writes, mkdirs and rmdirs on every file of the VFS.

:class:`FilesFuzzer` is a Hypothesis state machine over one small :class:`thpsim.Machine`
(two nodes of 128 MiB in 32 MiB memory blocks, four CPUs, the invariant checker on). Each
step lists the whole tree from ``/`` as root (processes come and go, cgroups are made
and removed, so the set of files changes), then does one of:

* a read of any file with a hostile position and count (negative, zero, odd, near
  2**63 and 2**64, past the end), as root, as a root process, as an unprivileged one
  (uid 1000) or as a second thread, now and then through /proc/self;
* a write of garbage to a writable file (sysfs knobs, drop_caches, clear_refs, memory
  block state, the offline-page and hwpoison files, the cgroup files): random bytes,
  numbers out of every range in decimal, octal and hex, white space and NULs around
  valid words, empty and over-a-page buffers;
* a mkdir or rmdir in the cgroup tree with hostile names (".", "..", slashes, a newline,
  a NUL, braces, over NAME_MAX bytes, an existing name, a populated or non-empty
  group);
* hostile paths (trailing "/", "/.", "/..", "//", relative, over PATH_MAX);
* real work so ``/proc/PID`` files have content: spawn, fork, clone, exit, mmap and
  touch, move_pages, moves between cgroups.

After every call it checks what a kernel test would: the call returned, or raised an
OSError whose errno Linux gives for that class of file (``WRITE_ERRNOS``: each set
names the kernel function it comes from); no other exception and no hang (a watchdog);
a failed write to a file whose store validates before it acts left every state file
and /proc/vmstat as they were; a binary read honours pread's contract (multiples of 8,
never more than asked); reading a file twice in a row gives the same text; the
invariant checker passes (``check=True`` after every write, and between steps: in full
every 8th).

:func:`for_profile` gives the machine class of a profile ("seed": 4.14 with cgroup v1,
"mainline": cgroup v2); :data:`STATS` counts the outcomes per operation and class of
file. A tool: it imports only ``thpsim``, ``thpsim.errors`` and uses the public API
(``Machine.fs``, ``Process.fs``, ``Thread.fs``), as a user's program would.
"""

from __future__ import annotations

import errno
import re
import signal
import threading
from collections import Counter
from contextlib import contextmanager

import hypothesis.strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import thpsim
from thpsim.errors import EHWPOISON, DeliveredSignal

__all__ = ["FilesFuzzer", "FilesFuzzerMainline", "READ_ERRNOS", "WRITE_ERRNOS",
           "hostile_buffers", "for_profile"]

E = errno
MB = 1 << 20
NAME_MAX = 255
PATH_MAX = 4096
#: include/linux/fs.h: the most one read(2) transfers (INT_MAX & PAGE_MASK)
MAX_RW_COUNT = 0x7FFF_F000
#: A pagemap read returns as many entries as asked for (up to MAX_RW_COUNT: 2 GiB of
#: them, built in host memory), so the fuzzer asks for at most this many bytes (keeping
#: the count's alignment) of a pagemap file; kpageflags and kpagecount end at the last
#: frame.
BINARY_COUNT_MAX = 1 << 20
#: seconds one call may take before the fuzzer calls it a hang
WATCHDOG_SECONDS = 20

#: What a read may fail with, any file: rw_verify_area() (EINVAL: negative position or
#: count, position + count past LLONG_MAX), pagemap_read()/kpage*_read() (EINVAL: a
#: position or count not a multiple of 8), generic_permission() / kernfs_fop_open()
#: (EACCES), proc_reg_read() (EIO: no read method), vfs_read() without FMODE_CAN_READ
#: on a pid_entry (EINVAL), proc_pid_lookup() after the task went (ENOENT), and
#: proc_mem_open() -> mm_access() (EACCES; ESRCH once the mm is gone).
READ_ERRNOS = frozenset({E.EINVAL, E.EACCES, E.EIO, E.ENOENT, E.ESRCH})

#: What opening a file for writing may fail with before its store runs: the path walk
#: (ENOENT, ENOTDIR), EISDIR, generic_permission()/kernfs_fop_open() (EACCES),
#: proc_reg_write() (EIO) and a pid_entry without a write (EINVAL).
_OPEN_W = {E.ENOENT, E.ENOTDIR, E.EISDIR, E.EACCES, E.EIO, E.EINVAL}

#: Per writable file (a regex on the path, the first match wins): the errnos its store
#: may return, and whether a failure must leave everything as it was (the store
#: parses and validates before it changes anything).
WRITE_ERRNOS: list[tuple[str, frozenset[int], bool]] = [
    # mm/huge_memory.c enabled_store()/defrag_store(): EINVAL for an unknown word;
    # single_hugepage_flag_store(): kstrtoul() (EINVAL, ERANGE), a value > 1 EINVAL
    (r"/sys/kernel/mm/transparent_hugepage/", frozenset({E.EINVAL, E.ERANGE}), True),
    # fs/drop_caches.c drop_caches_sysctl_handler() -> proc_dointvec_minmax() (EINVAL;
    # the range 1..4 too); proc_sys_call_handler()/test_perm() EACCES
    (r"/proc/sys/vm/drop_caches$", frozenset({E.EINVAL}), True),
    # kernel/sched/core.c sysctl_numa_balancing(): CAP_SYS_ADMIN EPERM, then
    # proc_dointvec_minmax() (EINVAL, the range 0..1 or 0..4); mm/memory-failure.c
    # vm.enable_soft_offline: proc_dointvec_minmax() 0..1
    (r"/proc/sys/kernel/numa_balancing$", frozenset({E.EINVAL, E.EPERM}), True),
    (r"/proc/sys/vm/enable_soft_offline$", frozenset({E.EINVAL}), True),
    # NUMA balancing's tunables (kernel/sched_fair.py): 4.14 kern_table proc_dointvec
    # (scan_size_mb: extra1 = &one) and 6.0's promote_rate_limit_MBps, EINVAL; 5.13+
    # debugfs_create_u32() files through simple_attr_write(): kstrtoull() EINVAL/ERANGE
    (r"/proc/sys/kernel/numa_balancing_", frozenset({E.EINVAL}), True),
    (r"/sys/kernel/debug/sched/numa_balancing/", frozenset({E.EINVAL, E.ERANGE}), True),
    # fs/proc/task_mmu.c clear_refs_write(): kstrtoint() (EINVAL, ERANGE), a type out
    # of 1..5 EINVAL; get_proc_task() ESRCH; a task without mm writes nothing
    (r"/proc/(\d+|self)/(task/\d+/)?clear_refs$",
     frozenset({E.EINVAL, E.ERANGE, E.ESRCH}), True),
    # drivers/base/memory.c state_store(): sysfs_streq() words else EINVAL;
    # device_online()/offline() in that state already EINVAL; offline_pages(): EBUSY
    # (unmovable or isolation failed), EINTR (signal), ENOMEM; online_pages(): EINVAL,
    # ENOMEM. Only the parse and state checks come before any work (the EINVALs).
    (r"/sys/devices/system/memory/memory\d+/(state|online)$",
     frozenset({E.EINVAL, E.EBUSY, E.EINTR, E.ENOMEM, E.EAGAIN}), False),
    # soft_offline_page_store()/hard_offline_page_store(): CAP_SYS_ADMIN (EPERM),
    # kstrtoull() < 0 -> EINVAL; soft_offline_page(): ENXIO (no online page), EIO,
    # EBUSY, ENOMEM; memory_failure(): ENXIO, EBUSY, EHWPOISON (mainline), EFAULT
    (r"/sys/devices/system/memory/(soft|hard)_offline_page$",
     frozenset({E.EPERM, E.EINVAL, E.ENXIO, E.EIO, E.EBUSY, E.ENOMEM, EHWPOISON,
                E.EFAULT}), False),
    # mm/huge_memory.c split_huge_pages_write(): sscanf() mismatch EINVAL,
    # split_huge_pages_pid(): no task ESRCH, no mm EINVAL; 4.14 simple_attr_write():
    # a value other than 1 EINVAL (kstrtoull(): ERANGE)
    (r"/sys/kernel/debug/split_huge_pages$",
     frozenset({E.EINVAL, E.ESRCH, E.ERANGE}), True),
    # mm/hwpoison-inject.c via debugfs simple_attr_write(): kstrtoull() EINVAL/ERANGE,
    # CAP_SYS_ADMIN EPERM, pfn_valid() ENXIO, then memory_failure()/unpoison_memory()
    (r"/sys/kernel/debug/hwpoison/",
     frozenset({E.EPERM, E.EINVAL, E.ERANGE, E.ENXIO, E.EIO, E.EBUSY, EHWPOISON,
                E.EFAULT}), False),
    # (every cgroup file: kernfs_fop_write_iter() E2BIG over atomic_write_len, a page)
    # kernel/cgroup/cgroup.c __cgroup_procs_write()/cgroup_procs_write_start():
    # kstrtoint() or a negative pid EINVAL, no such task ESRCH, a kernel thread
    # EINVAL; cgroup_attach_permissions(): EACCES/ENOENT; cgroup_migrate_vet_dst()
    # EBUSY/EOPNOTSUPP; cpuset_can_attach() ENOSPC (empty cpus or mems), EINVAL
    (r"/(cgroup\.procs|tasks)$",
     frozenset({E.EINVAL, E.ESRCH, E.EACCES, E.ENOENT, E.EBUSY, E.EOPNOTSUPP, E.ENOSPC,
                E.EPERM, E.E2BIG}), True),
    # cgroup_subtree_control_write(): an unknown token EINVAL, the controller not
    # available ENOENT, a child still using it EBUSY, cgroup_vet_subtree_control_enable()
    (r"/cgroup\.subtree_control$", frozenset({E.EINVAL, E.ENOENT, E.EBUSY,
                                              E.EOPNOTSUPP, E.E2BIG}), True),
    # kernel/cgroup/cpuset.c cpuset_write_resmask() -> update_cpumask()/update_nodemask():
    # cpulist_parse()/nodelist_parse() (EINVAL, ERANGE; EOVERFLOW: bitmap_getnum()
    # beyond unsigned int), not a subset of the parent /
    # not online EINVAL, the root EACCES, validate_change() EBUSY/ENOSPC/EACCES
    (r"/cpuset\.(cpus|mems)$", frozenset({E.EINVAL, E.ERANGE, E.EOVERFLOW, E.EACCES,
                                          E.EBUSY, E.ENOSPC, E.E2BIG}), True),
    # cgroup_file_write() for a write_u64 file: kstrtoull() (EINVAL, ERANGE)
    (r"/cpuset\.memory_migrate$", frozenset({E.EINVAL, E.ERANGE, E.E2BIG}), True),
]

#: cgroup_mkdir(): the lookup of the new name (EEXIST for ".", "..", an existing name;
#: ENAMETOOLONG), may_create() (EACCES), a name with a newline EINVAL; the path walk
#: (ENOENT, ENOTDIR); a directory that makes nothing (kernfs without mkdir: EPERM).
MKDIR_ERRNOS = frozenset({E.EEXIST, E.ENAMETOOLONG, E.EACCES, E.EINVAL, E.ENOENT,
                          E.ENOTDIR, E.EPERM})
#: do_rmdir(): "." EINVAL, ".." ENOTEMPTY, the root EBUSY; the walk (ENOENT,
#: ENOTDIR, ENAMETOOLONG); may_delete() EACCES; kernfs_iop_rmdir() without rmdir
#: EPERM; cgroup_destroy_locked(): populated or with children EBUSY.
RMDIR_ERRNOS = frozenset({E.EINVAL, E.ENOTEMPTY, E.EBUSY, E.ENOENT, E.ENOTDIR,
                          E.ENAMETOOLONG, E.EACCES, E.EPERM})
#: open(O_DIRECTORY) + getdents64(): the walk and the permission check
LISTDIR_ERRNOS = frozenset({E.ENOENT, E.ENOTDIR, E.EACCES, E.ENAMETOOLONG})
#: a path over PATH_MAX or a component over NAME_MAX
_PATH_ERRNOS = {E.ENAMETOOLONG}

#: files whose write may consume less than it was given (__do_proc_dointvec()),
#: clear_refs_write(), which reads at most PROC_NUMBUF - 1 bytes and says so, and
#: split_huge_pages_write(), which returns strlen() of what it copied (to a NUL)
SHORT_WRITES = re.compile(r"^/proc/sys/|/clear_refs$|^/sys/kernel/debug/split_huge_pages$")

#: sysfs files (kernfs without an atomic_write_len): a write is cut to PAGE_SIZE bytes
SYSFS = re.compile(r"^/sys/(?!kernel/debug/|fs/cgroup/)")
PAGE_SIZE = 4096

#: file names a write is aimed at most of the time (the others: EACCES/EIO/EINVAL)
WRITABLE = re.compile(
    r"/(enabled|defrag|use_zero_page|drop_caches|numa_balancing|enable_soft_offline|"
    r"clear_refs|state|online|split_huge_pages|"
    r"soft_offline_page|hard_offline_page|corrupt-pfn|unpoison-pfn|cgroup\.procs|tasks|"
    r"cgroup\.subtree_control|cpuset\.cpus|cpuset\.mems|cpuset\.memory_migrate)$")

#: Files read into the snapshot a failed write is compared against (their text).
STATE_FILES = re.compile(
    r"^/sys/kernel/mm/transparent_hugepage/[^/]+$|"
    r"^/sys/devices/system/memory/memory\d+/(state|online|valid_zones)$|"
    r"^/sys/devices/system/node/(online|has_memory|has_normal_memory|has_cpu)$|"
    r"^/sys/fs/cgroup/.*[^/]$|"
    r"^/proc/\d+/status$")

_LOUD = {"hard_offline_page", "corrupt-pfn", "soft_offline_page", "unpoison-pfn"}


def write_errnos(path: str) -> tuple[frozenset[int], bool]:
    """The errnos a write to ``path`` may fail with (open's and the store's), and
    whether a failed write must have changed nothing."""
    path = path.split("\x00", 1)[0]  # getname(): the path ends at its NUL
    for pat, codes, atomic in WRITE_ERRNOS:
        if re.search(pat, path):
            return frozenset(codes | _OPEN_W | _PATH_ERRNOS), atomic
    return frozenset(_OPEN_W | _PATH_ERRNOS), True


# ---------------------------------------------------------------- strategies
_WORDS = ["always", "madvise", "never", "defer", "defer+madvise", "alw", "d", "online",
          "offline", "online_kernel", "online_movable", "onlin", "+cpuset", "-cpuset",
          "cpuset", "+cpuset -cpuset", "+memory", "+", "-", "0", "1", "2", "3", "4", "5",
          "6", "-1", "0-1", "0,1", "1-0", "0-3", "0-9999", "1-", "-1-2", ",", "0,,1",
          "y", "n", "on", "off", "true", "o", "0x", "0x1000", "00", "007", "08",
          "4294967296", "2147483648", "-2147483649", "18446744073709551616"]
_AROUND = ["", "", "\n", "\n\n", " ", "\t", "\x00", " \n", "\r", "\xa0", "x"]


def _number(n: int) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{n}", f"{n:#x}" if n >= 0 else f"-{-n:#x}",
                            f"0{n:o}" if n >= 0 else f"-0{-n:o}", f"+{n}"])


def hostile_buffers(extra: list[str] | None = None) -> st.SearchStrategy[bytes]:
    """Buffers for a write: words and numbers with white space, NULs and junk around
    them, random bytes, empty and very long ones; ``extra`` adds context words (pids,
    physical addresses)."""
    ints = st.one_of(st.integers(-5, 70), st.integers(-(1 << 70), 1 << 70),
                     st.sampled_from([1 << 31, (1 << 31) - 1, -(1 << 31), 1 << 32, 1 << 63,
                                      (1 << 63) - 1, -(1 << 63), (1 << 64) - 1, 1 << 64]))
    word = st.one_of(st.sampled_from(_WORDS + (extra or [])), ints.flatmap(_number))
    dressed = st.tuples(st.sampled_from(_AROUND), word, st.sampled_from(_AROUND)).map(
        lambda t: (t[0] + t[1] + t[2]).encode("latin-1"))
    return st.one_of(
        dressed, dressed, dressed,
        st.binary(max_size=40),
        st.sampled_from([b"", b"\n", b"\x00", b" " * 64, b"1" * 5000, b"a" * 70000,
                         b"0-" + b"1" * 400, b"1\x001", b"\xff\xfe"]),
    )


OFFSETS = st.one_of(
    st.just(0), st.integers(0, 9000),
    st.sampled_from([-1, 1, 7, 9, 4095, 4096, 1 << 31, (1 << 63) - 8, (1 << 63) - 1,
                     1 << 63, (1 << 64) - 8, (1 << 64) - 1, 1 << 64, -(1 << 63)]),
    st.integers(-(1 << 65), 1 << 65))
LENGTHS = st.one_of(
    st.none(), st.sampled_from([0, 1, 7, 8, 16, 64, 4096, 1 << 20]),
    st.sampled_from([-1, -8, (1 << 31) - 1, 1 << 31, (1 << 63) - 1, 1 << 63,
                     (1 << 64) - 1, 1 << 64]),
    st.integers(-(1 << 65), 1 << 65))

CGROUP_NAMES = st.one_of(
    st.sampled_from(["a", "b", "a", ".", "..", "a/b", "a\nb", "\n", "a\x00b", "{pid}",
                     "{x}", "x" * 255, "x" * 256, "é" * 128, "cgroup.procs",
                     "cpuset.cpus", " ", "a ", "-", "+cpuset"]),
    st.text(alphabet=st.characters(codec="latin-1"), min_size=1, max_size=12))

PATH_MANGLES = ["", "/", "/.", "/..", "//", "/./", "/../..", "/nonexistent", "\x00junk",
                "/" + "x" * 256, "/" + "x" * PATH_MAX]


class FilesStats:
    """What a run exercised, in the runner's shape (examples, steps, calls by kind,
    errnos by call; see syscalls.FuzzStats), plus ``outcomes``: (operation, file class,
    outcome) -> how often."""

    def __init__(self) -> None:
        self.examples = 0
        self.steps = 0
        self.calls: Counter[str] = Counter()
        self.errnos: Counter[str] = Counter()
        self.outcomes: Counter[tuple[str, str, str]] = Counter()

    def reset(self) -> None:
        self.__init__()

    def count(self, op: str, cls: str, outcome: str) -> None:
        self.outcomes[op, cls, outcome] += 1
        kind = f"file {op.split()[0] if op.strip() else op}"  # "move 3 to /x" -> "move"
        self.calls[kind] += 1
        if outcome != "ok":
            self.errnos[f"{kind} {outcome}"] += 1


STATS = FilesStats()


def file_class(path: str) -> str:
    """A path with its numbers replaced: the class of file it is."""
    return re.sub(r"\d+", "N", path)


class _Hang(Exception):
    pass


@contextmanager
def _watchdog(what: str):
    """Fail a call that runs longer than WATCHDOG_SECONDS (the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise _Hang(f"{what}: no answer in {WATCHDOG_SECONDS} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(WATCHDOG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class FilesFuzzer(RuleBasedStateMachine):
    """Hostile file operations on every file of one machine (module docstring)."""

    #: the machine's profile; :func:`for_profile` makes the subclass for another
    profile = "seed"

    def __init__(self) -> None:
        super().__init__()
        STATS.examples += 1
        self.m = thpsim.Machine(nodes={0: 128 * MB, 1: 128 * MB}, cpus=4,
                                profile=self.profile, seed=0, block_size=32 * MB,
                                check=True)
        self.procs: list[thpsim.Process] = []
        self.procs.append(self.m.spawn(cpu=0))
        self.procs.append(self.m.spawn(cpu=1, uid=1000))
        self.maps: dict[int, list[int]] = {}
        self.cgroot = ("/sys/fs/cgroup/cpuset" if self.m.fs.exists("/sys/fs/cgroup/cpuset")
                       else "/sys/fs/cgroup")
        self.files: list[str] = []
        self.dirs: list[str] = []
        self.steps = 0
        #: path -> is a directory, for the paths listed so far
        self._kind: dict[str, bool] = {}
        self._discover()

    # ------------------------------------------------------------ helpers
    def _discover(self) -> None:
        """List the tree from / as root (getdents64 of every directory); a name seen
        before keeps its kind (file or directory), so only directories are opened."""
        files: list[str] = []
        dirs: list[str] = []
        stack = ["/"]
        while stack:
            d = stack.pop()
            dirs.append(d)
            try:
                names = self.m.fs.listdir(d)
            except OSError as e:  # a directory seen before that is a file now
                assert e.errno == E.ENOTDIR and d != "/", (d, e)
                dirs.pop()
                files.append(d)
                self._kind[d] = False
                continue
            for name in names:
                assert name and "/" not in name and "\x00" not in name and name not in (
                    ".", ".."), (d, name)
                path = d.rstrip("/") + "/" + name
                kind = self._kind.get(path)
                if kind is None:
                    try:
                        self.m.fs.listdir(path)
                    except OSError as e:
                        assert e.errno == E.ENOTDIR, (path, e)
                        kind = False
                    else:
                        kind = True
                    self._kind[path] = kind
                if kind:
                    stack.append(path)
                else:
                    files.append(path)
        self.files = sorted(files)
        self.dirs = sorted(dirs)

    def _live(self) -> list[thpsim.Process]:
        """The processes still running (a fatal signal may have ended one)."""
        live = []
        for p in self.procs:
            if p.exited:
                continue
            try:
                p.fs  # noqa: B018 - ESRCH once its task has exited
            except OSError:
                continue
            live.append(p)
        self.procs = live
        return live

    def _opener(self, data) -> tuple[str, object]:
        """Root without a task (Machine.fs), a live process (root or uid 1000) or one
        of its other threads."""
        choices = [("machine", self.m.fs)]
        for p in self._live():
            choices.append((f"pid {p.pid}", p.fs))
            for t in p.threads[1:2]:
                try:
                    choices.append((f"tid {t.tid}", t.fs))
                except OSError:  # that thread has exited
                    pass
        return data.draw(st.sampled_from(choices), label="opener")

    def _maybe_self(self, data, who: str, path: str) -> str:
        """/proc/PID/... as /proc/self/... now and then, for an opener with a task."""
        if who != "machine" and re.match(r"^/proc/\d+/", path) and data.draw(
                st.booleans(), label="self"):
            return re.sub(r"^/proc/\d+/", "/proc/self/", path)
        return path

    def _call(self, what: str, fn, allowed: frozenset[int]):
        """Run one call: its result, or the OSError it raised (errno in ``allowed``)."""
        op = what.split("(", 1)[0]
        cls = file_class(what.split("'")[1]) if "'" in what else what
        try:
            with _watchdog(what):
                ret = fn()
            STATS.count(op, cls, "ok")
            return ret, None
        except OSError as e:
            STATS.count(op, cls, errno.errorcode.get(e.errno, str(e.errno)))
            assert e.errno in allowed, (
                f"{what}: errno {e.errno} ({errno.errorcode.get(e.errno)}) is not one "
                f"Linux gives here {sorted(errno.errorcode[c] for c in allowed)}")
            return None, e

    def _snapshot(self) -> dict[str, object]:
        """Every state file's text (STATE_FILES), the cgroup tree and /proc/vmstat."""
        snap: dict[str, object] = {}
        for path in self.files:
            if STATE_FILES.search(path):
                try:
                    snap[path] = self.m.fs.read(path)
                except OSError as e:
                    snap[path] = e.errno
        snap["dirs"] = [d for d in self.dirs if d.startswith(self.cgroot)]
        snap["/proc/vmstat"] = self.m.fs.read("/proc/vmstat")
        return snap

    def _check_unchanged(self, what: str, before: dict[str, object]) -> None:
        self._discover()
        after = self._snapshot()
        for k in sorted(set(before) | set(after)):
            assert before.get(k) == after.get(k), (
                f"{what} failed but changed {k}:\n  before {before.get(k)!r}\n"
                f"  after  {after.get(k)!r}")

    # ------------------------------------------------------------ reads
    @rule(data=st.data(), offset=OFFSETS, length=LENGTHS)
    def read_any(self, data, offset, length) -> None:
        """pread of any file at a hostile position and count."""
        self._discover()
        path = data.draw(st.sampled_from(self.files), label="path")
        who, fs = self._opener(data)
        path = self._maybe_self(data, who, path)
        if path.endswith("pagemap") and length is not None and length > BINARY_COUNT_MAX:
            length = BINARY_COUNT_MAX + (length & 7)  # see BINARY_COUNT_MAX
        self.read_checked(who, fs, path, offset, length)

    def read_checked(self, who: str, fs, path: str, offset: int, length: int | None) -> None:
        """One read and its checks: an errno of READ_ERRNOS, pread's contract on binary
        files, and the same answer from the same read again (nothing ran in between)."""
        what = f"read({path!r}, offset={offset}, length={length}) as {who}"
        ret, err = self._call(what, lambda: fs.read(path, offset=offset, length=length),
                              READ_ERRNOS)
        if err is not None:
            return
        if isinstance(ret, bytes):
            # vfs_read() caps the count at MAX_RW_COUNT before the file sees it
            assert offset % 8 == 0 and length is not None and min(
                length, MAX_RW_COUNT) % 8 == 0, (
                f"{what}: a binary file read at a position or count not a multiple of 8")
            assert len(ret) <= length and len(ret) % 8 == 0, f"{what}: {len(ret)} bytes"
        else:
            assert isinstance(ret, str), what
            if length is not None:
                assert len(ret) <= length, f"{what}: {len(ret)} characters"
        again, err2 = self._call(what + " (again)",
                                 lambda: fs.read(path, offset=offset, length=length),
                                 READ_ERRNOS)
        assert err2 is None and again == ret, (
            f"{what}: two reads in a row differ:\n  {ret!r}\n  {again!r} {err2}")

    # ------------------------------------------------------------ writes
    def _write(self, data, path: str, buf: bytes) -> None:
        who, fs = self._opener(data)
        self.write_checked(who, fs, self._maybe_self(data, who, path), buf)

    def write_checked(self, who: str, fs, path: str, buf: bytes) -> None:
        """One write and its checks: an errno of :func:`write_errnos`, the whole buffer
        consumed on success, and on failure nothing changed where the store validates
        before it acts (or the errno says it refused the buffer or the caller)."""
        allowed, atomic = write_errnos(path)
        what = f"write({path!r}, {buf[:80]!r}{'...' if len(buf) > 80 else ''}) as {who}"
        before = self._snapshot()
        ret, err = self._call(what, lambda: fs.write(path, buf), allowed)
        if err is None:
            if SHORT_WRITES.search(path):  # a sysctl consumes up to what follows its value
                assert 0 <= ret <= len(buf), f"{what} returned {ret} of {len(buf)}"
            elif SYSFS.search(path):  # kernfs_fop_write_iter(): a store sees one page
                assert ret == min(len(buf), PAGE_SIZE), f"{what} returned {ret}"
            else:
                assert ret == len(buf), f"{what} returned {ret}, not {len(buf)}"
            return
        if atomic or err.errno in (E.EINVAL, E.ERANGE, E.EACCES, E.EPERM, E.ENOENT):
            self._check_unchanged(what, before)

    def _extra_words(self) -> list[str]:
        words = [str(p.pid) for p in self._live()] + ["1", "99999"]
        for addrs in self.maps.values():
            words += [str(a) for a in addrs[:2]]
        # physical addresses: block starts, the last frame, beyond the end
        words += [hex(i * 32 * MB) for i in range(9)] + [str(256 * MB - 4096), hex(1 << 52)]
        return words

    @rule(data=st.data())
    def write_writable(self, data) -> None:
        """Garbage to a writable file (WRITABLE names them)."""
        self._discover()
        targets = [f for f in self.files if WRITABLE.search(f)]
        path = data.draw(st.sampled_from(targets), label="path")
        buf = data.draw(hostile_buffers(self._extra_words()), label="buf")
        self._write(data, path, buf)

    @rule(data=st.data())
    def write_any(self, data) -> None:
        """A write to any file (most refuse it at open or have no write method)."""
        self._discover()
        path = data.draw(st.sampled_from(self.files), label="path")
        buf = data.draw(hostile_buffers(), label="buf")
        self._write(data, path, buf)

    # ------------------------------------------------------------ cgroups
    @precondition(lambda self: sum(d.startswith(self.cgroot) for d in self.dirs) < 8)
    @rule(data=st.data(), name=CGROUP_NAMES)
    def cgroup_mkdir(self, data, name) -> None:
        self._discover()
        parent = data.draw(st.sampled_from([d for d in self.dirs if d.startswith(self.cgroot)]),
                           label="parent")
        who, fs = self._opener(data)
        path = parent.rstrip("/") + "/" + name
        what = f"mkdir({path!r}) as {who}"
        before = self._snapshot()
        ret, err = self._call(what, lambda: fs.mkdir(path), MKDIR_ERRNOS)
        if err is not None:
            self._check_unchanged(what, before)
            return
        self._discover()
        assert path.split("\x00")[0] in self.dirs or "/" in name or name in (".", ".."), (
            f"{what} succeeded but no such directory is listed")

    @rule(data=st.data(), suffix=st.sampled_from(["", "", "", "/", "/.", "/..", "//"]))
    def cgroup_rmdir(self, data, suffix) -> None:
        self._discover()
        cands = [d for d in self.dirs if d.startswith(self.cgroot)]
        cands += [f for f in self.files if f.startswith(self.cgroot)][:3]
        path = data.draw(st.sampled_from(cands), label="path") + suffix
        who, fs = self._opener(data)
        what = f"rmdir({path!r}) as {who}"
        before = self._snapshot()
        ret, err = self._call(what, lambda: fs.rmdir(path), RMDIR_ERRNOS)
        if err is not None:
            self._check_unchanged(what, before)

    @rule(data=st.data())
    def cgroup_move(self, data) -> None:
        """A real move: a live process into a cgroup (so groups get populated)."""
        self._discover()
        live = self._live()
        if not live:
            return
        p = data.draw(st.sampled_from(live), label="proc")
        cg = data.draw(st.sampled_from([d for d in self.dirs if d.startswith(self.cgroot)]),
                       label="cgroup")
        allowed, _ = write_errnos(cg + "/cgroup.procs")
        self._call(f"move {p.pid} to {cg}",
                   lambda: self.m.fs.write(cg + "/cgroup.procs", str(p.pid)), allowed)

    # ------------------------------------------------------------ paths
    @rule(data=st.data(), mangle=st.sampled_from(PATH_MANGLES),
          op=st.sampled_from(["read", "write", "listdir", "exists"]))
    def hostile_path(self, data, mangle, op) -> None:
        self._discover()
        base = data.draw(st.sampled_from(self.files + self.dirs), label="base")
        path = base.rstrip("/") + mangle if mangle != "" else base
        if data.draw(st.booleans(), label="relative"):
            path = path.lstrip("/")
        who, fs = self._opener(data)
        what = f"{op}({path[:120]!r}) as {who}"
        codes = frozenset(READ_ERRNOS | _OPEN_W | _PATH_ERRNOS | LISTDIR_ERRNOS)
        if op == "read":
            self._call(what, lambda: fs.read(path, length=64), codes)
        elif op == "write":
            allowed, _ = write_errnos(path)
            self._call(what, lambda: fs.write(path, b"0"), allowed | codes)
        elif op == "listdir":
            self._call(what, lambda: fs.listdir(path), codes)
        else:
            self._call(what, lambda: fs.exists(path), codes)

    # ------------------------------------------------------------ real work
    @precondition(lambda self: len(self._live()) < 6)
    @rule(uid=st.sampled_from([0, 1000]), cpu=st.integers(0, 3))
    def spawn(self, uid, cpu) -> None:
        self._call("spawn", lambda: self.procs.append(self.m.spawn(cpu=cpu, uid=uid)),
                   frozenset({E.ENOMEM}))

    @precondition(lambda self: 0 < len(self._live()) < 6)
    @rule(data=st.data())
    def fork(self, data) -> None:
        p = data.draw(st.sampled_from(self._live()), label="parent")
        child, err = self._call(f"fork {p.pid}", p.fork, frozenset({E.ENOMEM, E.ESRCH}))
        if child is not None:
            self.procs.append(child)
            self.maps[child.pid] = list(self.maps.get(p.pid, []))

    @precondition(lambda self: 0 < len(self._live()) < 6)
    @rule(data=st.data())
    def clone(self, data) -> None:
        """A second thread (so /proc/PID/task/TID and thread openers exist)."""
        p = data.draw(st.sampled_from(self._live()), label="proc")
        if len(p.threads) < 3:
            self._call(f"clone {p.pid}", p.clone, frozenset({E.ENOMEM, E.EAGAIN}))

    @precondition(lambda self: len(self._live()) > 1)
    @rule(data=st.data())
    def exit(self, data) -> None:
        p = data.draw(st.sampled_from(self._live()), label="proc")
        self._call(f"exit {p.pid}", p.exit, frozenset({E.ESRCH}))
        self.maps.pop(p.pid, None)

    @precondition(lambda self: len(self._live()) > 0)
    @rule(data=st.data(), pages=st.integers(1, 1024))
    def mmap_touch(self, data, pages) -> None:
        p = data.draw(st.sampled_from(self._live()), label="proc")
        length = pages * 4096
        addr, err = self._call("mmap", lambda: p.mmap(0, length, PROT_RW, ANON),
                               frozenset({E.ENOMEM}))
        if addr is None:
            return
        self.maps.setdefault(p.pid, []).append(addr)
        for off in range(0, length, max(4096, length // 8)):
            try:
                p.write(addr + off, off + 1)
            except DeliveredSignal:
                return  # out of memory or a poisoned page: SIGBUS is Linux's answer

    @precondition(lambda self: any(self.maps.values()))
    @rule(data=st.data(), node=st.sampled_from([0, 1, 2, -1]))
    def migrate(self, data, node) -> None:
        p = data.draw(st.sampled_from([p for p in self._live() if self.maps.get(p.pid)]),
                      label="proc")
        addr = data.draw(st.sampled_from(self.maps[p.pid]), label="addr")
        self._call("move_pages", lambda: p.move_pages(0, [addr, addr + 4096], [node, node]),
                   frozenset({E.ENODEV, E.EINVAL, E.EACCES, E.ENOENT, E.EPERM, E.ESRCH,
                              E.ENOMEM}))

    @precondition(lambda self: any(self.maps.values()))
    @rule(data=st.data())
    def touch(self, data) -> None:
        """Read back what was written (the shadow checks it: a lost write raises)."""
        p = data.draw(st.sampled_from([p for p in self._live() if self.maps.get(p.pid)]),
                      label="proc")
        addr = data.draw(st.sampled_from(self.maps[p.pid]), label="addr")
        try:
            p.read(addr)
        except DeliveredSignal:
            pass  # a poisoned or offlined page: SIGBUS

    # ------------------------------------------------------------ invariants
    @invariant()
    def integrity(self) -> None:
        self.steps += 1
        STATS.steps += 1
        self.m.check_integrity(full=self.steps % 8 == 0)


#: flags for the work rules
PROT_RW = thpsim.PROT_READ | thpsim.PROT_WRITE
ANON = thpsim.MAP_PRIVATE | thpsim.MAP_ANONYMOUS


class FilesFuzzerMainline(FilesFuzzer):
    """:class:`FilesFuzzer` on the mainline profile (cgroup v2, 6.x/7.x files)."""

    profile = "mainline"


def for_profile(name: str) -> type[FilesFuzzer]:
    """The FilesFuzzer class for profile ``name`` ("seed" or "mainline")."""
    if name == FilesFuzzer.profile:
        return FilesFuzzer
    return type(f"FilesFuzzer_{name}", (FilesFuzzer,), {"profile": name})
