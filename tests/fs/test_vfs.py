"""The VFS: path walk, errno per file system, permissions, /proc/PID and the registry."""

import errno

import pytest
from fs_helpers import boot

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.fs.vfs import MAX_RW_COUNT, VFS, VFSView


def err(fn, *a, **kw) -> int:
    with pytest.raises(OSError) as e:
        fn(*a, **kw)
    return e.value.errno


def test_machine_and_process_views():
    m = boot()
    p = m.spawn()
    assert isinstance(m.fs, VFSView) and m.fs.task is None
    assert p.fs.task is p.task
    assert m.fs.exists("/proc/meminfo") and m.fs.exists("/sys/kernel/mm/transparent_hugepage")


def test_walk_errors():
    fs = boot().fs
    assert err(fs.read, "/proc/nope") == errno.ENOENT
    assert err(fs.read, "/proc/meminfo/x") == errno.ENOTDIR
    assert err(fs.read, "/proc/meminfo/") == errno.ENOTDIR
    assert err(fs.read, "/proc") == errno.EISDIR
    assert err(fs.write, "/sys/kernel/mm", "x") == errno.EISDIR
    assert err(fs.listdir, "/proc/meminfo") == errno.ENOTDIR
    assert err(fs.read, "proc/meminfo") == errno.ENOENT
    assert not fs.exists("/proc/meminfo/x") and not fs.exists("/nope")
    assert fs.read("/proc/./meminfo") == fs.read("/sys/../proc/meminfo")


def test_missing_method_errno_per_file_system():
    m = boot()
    p = m.spawn()
    # procfs entry without write: EIO (proc_reg_write); pid entry: EINVAL (vfs_write)
    assert err(m.fs.write, "/proc/meminfo", "1") == errno.EIO
    assert err(m.fs.write, f"/proc/{p.pid}/maps", "1") == errno.EINVAL
    assert err(m.fs.read, f"/proc/{p.pid}/clear_refs") == errno.EINVAL
    # sysfs attribute without store: kernfs refuses the open
    assert err(m.fs.write, "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "1") == (
        errno.EACCES
    )


def test_proc_pid_and_self():
    m = boot()
    p = m.spawn()
    q = p.fork()
    t = p.clone()
    assert m.fs.listdir("/proc")[-2:] == [str(p.pid), str(q.pid)]  # no thread ids
    assert "self" in p.fs.listdir("/proc") and "self" not in m.fs.listdir("/proc")
    assert err(m.fs.read, "/proc/self/status") == errno.ENOENT  # root here has no task
    assert f"Pid:\t{p.pid}\n" in p.fs.read("/proc/self/status")
    assert f"Pid:\t{q.pid}\n" in q.fs.read("/proc/self/status")
    # a thread's /proc/TID resolves (hidden from readdir), and task/ lists the group
    assert f"Pid:\t{t.tid}\n" in m.fs.read(f"/proc/{t.tid}/status")
    assert m.fs.listdir(f"/proc/{p.pid}/task") == [str(p.pid), str(t.tid)]
    assert m.fs.exists(f"/proc/{p.pid}/task/{t.tid}/smaps")
    assert not m.fs.exists(f"/proc/{q.pid}/task/{t.tid}")
    assert err(m.fs.read, "/proc/999/status") == errno.ENOENT
    assert err(m.fs.read, "/proc/01/status") == errno.ENOENT
    q.exit()
    assert not m.fs.exists(f"/proc/{q.pid}")


def test_permissions_root_only_and_ptrace():
    m = boot()
    root = m.spawn()
    user = m.spawn(uid=1000, caps=frozenset())
    other = m.spawn(uid=1001, caps=frozenset())
    assert err(user.fs.read, "/proc/kpageflags", length=8) == errno.EACCES
    assert err(user.fs.read, "/proc/kpagecount", length=8) == errno.EACCES
    assert len(root.fs.read("/proc/kpageflags", length=8)) == 8
    # another user's pagemap: mode 0400 owned by that user
    assert err(user.fs.read, f"/proc/{other.pid}/pagemap", length=8) == errno.EACCES
    # maps is 0444, but opening it needs ptrace read access
    assert err(user.fs.read, f"/proc/{other.pid}/maps") == errno.EACCES
    assert user.fs.read(f"/proc/{user.pid}/maps") == ""
    assert root.fs.read(f"/proc/{other.pid}/maps") == ""
    # clear_refs is 0200: only its owner (or CAP_DAC_OVERRIDE) may write
    assert err(user.fs.write, f"/proc/{other.pid}/clear_refs", "1") == errno.EACCES
    assert user.fs.write(f"/proc/{user.pid}/clear_refs", "1") == 1
    # status stays readable by anyone
    assert "Name:" in user.fs.read(f"/proc/{other.pid}/status")
    # a root-owned 0644 sysfs file: others may read, not write
    knob = "/sys/kernel/mm/transparent_hugepage/enabled"
    assert user.fs.read(knob) == "[always] madvise never\n"
    assert err(user.fs.write, knob, "never") == errno.EACCES
    assert m.kernel.thp.enabled == "always"


def test_mkdir_rmdir_default_and_registered():
    m = boot()
    user = m.spawn(uid=1000, caps=frozenset())
    assert err(m.fs.mkdir, "/proc/foo") == errno.EPERM
    assert err(m.fs.mkdir, "/proc/meminfo") == errno.EEXIST
    assert err(m.fs.mkdir, "/nope/foo") == errno.ENOENT
    assert err(m.fs.mkdir, "/proc/meminfo/foo") == errno.ENOTDIR
    assert err(user.fs.mkdir, "/sys/foo") == errno.EACCES  # 0555 dir, no DAC override
    assert err(m.fs.rmdir, "/proc/meminfo") == errno.ENOTDIR
    assert err(m.fs.rmdir, "/sys/kernel") == errno.EPERM
    assert err(m.fs.rmdir, "/sys/nope") == errno.ENOENT

    # what a cgroup module will do: a directory whose children mkdir/rmdir create
    vfs = m._vfs
    made = []

    def mkdir(f, path):
        made.append(path)
        vfs.register_dir(path, mode=0o755, mkdir=mkdir, rmdir=rmdir)
        vfs.register_file(path + "/tasks", lambda f: "", lambda f, d: len(d), mode=0o644)

    def rmdir(f, path):
        if any(x.startswith(path + "/") for x in made):
            raise OSError(errno.EBUSY, "busy")
        made.remove(path)
        vfs.unregister(path)

    vfs.register_dir("/sys/fs/cgroup", mode=0o755, mkdir=mkdir, rmdir=rmdir)
    m.fs.mkdir("/sys/fs/cgroup/a")
    m.fs.mkdir("/sys/fs/cgroup/a/b")
    assert m.fs.listdir("/sys/fs/cgroup/a") == ["tasks", "b"]
    assert m.fs.write("/sys/fs/cgroup/a/b/tasks", "1") == 1
    assert err(m.fs.mkdir, "/sys/fs/cgroup/a") == errno.EEXIST
    assert err(m.fs.rmdir, "/sys/fs/cgroup/a") == errno.EBUSY
    m.fs.rmdir("/sys/fs/cgroup/a/b")
    m.fs.rmdir("/sys/fs/cgroup/a")
    assert not m.fs.exists("/sys/fs/cgroup/a")
    assert err(user.fs.mkdir, "/sys/fs/cgroup/c") == errno.EACCES


def test_text_read_slices_like_pread():
    fs = boot().fs
    text = fs.read("/proc/meminfo")
    assert fs.read("/proc/meminfo", offset=3, length=5) == text[3:8]
    assert fs.read("/proc/meminfo", offset=len(text)) == ""


def test_binary_files_need_aligned_offset_and_length():
    m = boot()
    p = m.spawn()
    assert err(m.fs.read, "/proc/kpageflags") == errno.EINVAL  # no length
    assert err(m.fs.read, "/proc/kpageflags", offset=4, length=8) == errno.EINVAL
    assert err(m.fs.read, "/proc/kpagecount", offset=0, length=12) == errno.EINVAL
    assert err(p.fs.read, "/proc/self/pagemap", offset=4, length=8) == errno.EINVAL  # OV-2
    assert err(p.fs.read, "/proc/self/pagemap", offset=8, length=7) == errno.EINVAL
    assert p.fs.read("/proc/self/pagemap", offset=8, length=0) == b""
    end = m.kernel.mem.max_pfn * 8
    assert len(m.fs.read("/proc/kpageflags", offset=end - 8, length=64)) == 8
    assert m.fs.read("/proc/kpageflags", offset=end, length=8) == b""


def test_a_second_vfs_is_independent():
    m = boot()
    other = VFS(m.kernel, None)
    assert other.read("/proc/meminfo") == m.fs.read("/proc/meminfo")
    other.register_file("/proc/extra", lambda f: "x\n")
    assert other.exists("/proc/extra") and not m.fs.exists("/proc/extra")


def test_view_runs_the_after_hook_on_changes():
    m = boot()
    calls = []
    view = VFSView(m._vfs, None, after=lambda: calls.append(1))
    view.read("/proc/meminfo")
    assert calls == []
    view.write("/sys/kernel/mm/transparent_hugepage/enabled", "never")
    assert calls == [1]
    with pytest.raises(OSError):
        view.write("/sys/kernel/mm/transparent_hugepage/enabled", "bogus")
    assert calls == [1]


def test_machine_check_runs_after_fs_writes():
    """Machine(check=True): a write through m.fs or p.fs is a system call like the
    others, so the invariant checker runs after it (reads change nothing: no check)."""
    m = boot("seed")
    p = m.spawn()
    calls = []
    m.check_integrity = lambda **kw: calls.append(1)
    m.fs.read("/proc/meminfo")
    assert calls == []
    m.fs.write("/proc/sys/vm/drop_caches", "3")
    p.fs.write("/proc/self/clear_refs", "1")
    assert len(calls) == 2


def test_read_counts_and_positions_as_rw_verify_area():
    """Regression (issue 11): a pagemap read with a negative length looped forever, a
    text read with length -1 dropped the last byte, and a huge length walked and
    allocated it all. rw_verify_area(): a count negative as a ssize_t (a negative int,
    or a size_t with the top bit set) and a position that is negative or whose end
    overflows loff_t are EINVAL; vfs_read() caps a count at MAX_RW_COUNT."""
    m = Machine()
    p = m.spawn()
    a = p.mmap(0, 1 << 21, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(a, 1)
    pm = f"/proc/{p.pid}/pagemap"
    off = (a >> 12) * 8
    for path, kw in [(pm, dict(offset=off, length=-8)), (pm, dict(offset=off, length=2**64 - 8)),
                     (pm, dict(offset=off, length=1 << 63)),
                     ("/proc/kpageflags", dict(offset=0, length=-8)),
                     ("/proc/meminfo", dict(length=-1)),
                     ("/proc/meminfo", dict(offset=1 << 63, length=0)),
                     ("/proc/meminfo", dict(offset=(1 << 63) - 4, length=8)),
                     ("/proc/meminfo", dict(offset=-1))]:
        assert err(m.fs.read, path, **kw) == errno.EINVAL, (path, kw)
    # odd offsets and lengths on the binary files: EINVAL (their own checks)
    for path in (pm, "/proc/kpageflags", "/proc/kpagecount"):
        assert err(m.fs.read, path, offset=3, length=8) == errno.EINVAL
        assert err(m.fs.read, path, offset=0, length=12) == errno.EINVAL
    # a count over MAX_RW_COUNT is capped, not walked in full
    assert MAX_RW_COUNT == 0x7FFFF000
    n = len(m.fs.read("/proc/kpageflags", offset=0, length=1 << 62))
    assert n == m.kernel.mem.max_pfn * 8 < MAX_RW_COUNT
    assert len(m.fs.read(pm, offset=off, length=16)) == 16
    assert m.fs.read("/proc/meminfo", offset=1 << 40, length=1 << 62) == ""


def test_dot_and_dotdot_are_walked_not_folded():
    """link_path_walk() resolves "." and ".." as it goes: after a file either is ENOTDIR,
    ".." after a missing name ENOENT (the fuzzer's ``cpuset.cpus/.`` reached the cgroup
    store with a KeyError, ``memory0/online/.`` wrote the block's state)."""
    m = boot()
    fs = m.fs
    assert err(fs.read, "/proc/meminfo/.") == errno.ENOTDIR
    assert err(fs.read, "/proc/meminfo/..") == errno.ENOTDIR
    assert err(fs.read, "/proc/nope/../meminfo") == errno.ENOENT
    assert err(fs.write, "/sys/devices/system/memory/memory0/online/.", "0") == errno.ENOTDIR
    assert fs.read("/sys/devices/system/memory/memory0/online") == "1\n"
    assert err(fs.write, "/sys/fs/cgroup/cpuset/cpuset.cpus/.", "0") == errno.ENOTDIR
    assert err(fs.listdir, "/proc/meminfo/..") == errno.ENOTDIR
    assert fs.read("/proc/../../proc/./meminfo") == fs.read("/proc/meminfo")
    assert fs.listdir("/sys/devices/system/../../..") == fs.listdir("/")
    assert fs.listdir("/sys/devices/system/../..") == fs.listdir("/sys")


def test_cgroup_mkdir_rmdir_dot_names():
    """do_rmdir(): a last "." is EINVAL, ".." ENOTEMPTY, the root EBUSY; mkdir of "." or
    ".." EEXIST (filename_create()), after the parent's walk (ENOENT first)."""
    m = boot()
    fs = m.fs
    root = "/sys/fs/cgroup/cpuset"
    fs.mkdir(f"{root}/a")
    assert err(fs.rmdir, f"{root}/a/.") == errno.EINVAL
    assert err(fs.rmdir, f"{root}/a/..") == errno.ENOTEMPTY
    assert err(fs.rmdir, "/") == errno.EBUSY
    assert err(fs.mkdir, f"{root}/a/.") == errno.EEXIST
    assert err(fs.mkdir, f"{root}/nope/..") == errno.ENOENT
    assert err(fs.mkdir, f"{root}/nope/x") == errno.ENOENT
    assert "a" in fs.listdir(root)
    fs.mkdir(f"{root}/./a/../b/")  # a trailing slash is fine for a directory
    assert fs.listdir(f"{root}/b") == fs.listdir(f"{root}/a")
    fs.rmdir(f"{root}/a/../b//")
    fs.rmdir(f"{root}//a")
    assert "a" not in fs.listdir(root) and "b" not in fs.listdir(root)


def test_getname_nul_and_path_max():
    """getname(): the path ends at its NUL (strncpy_from_user()); a path of PATH_MAX
    bytes or more is ENAMETOOLONG; an empty one ENOENT."""
    m = boot()
    fs = m.fs
    assert fs.read("/proc/meminfo\x00junk") == fs.read("/proc/meminfo")
    fs.mkdir("/sys/fs/cgroup/cpuset/a\x00b")
    assert "a" in fs.listdir("/sys/fs/cgroup/cpuset")
    assert not any("\x00" in n for n in fs.listdir("/sys/fs/cgroup/cpuset"))
    assert err(fs.read, "/" + "x" * 4095) == errno.ENAMETOOLONG
    assert err(fs.read, "/proc/" + "/" * 4089 + "meminfo") == errno.ENAMETOOLONG
    assert fs.read("/proc/" + "/" * 4080 + "meminfo") == fs.read("/proc/meminfo")
    assert err(fs.read, "") == errno.ENOENT
    assert err(fs.read, "\x00/proc/meminfo") == errno.ENOENT


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_kernfs_write_length(profile):
    """kernfs_fop_write_iter(): a sysfs store sees at most one page and write(2) returns
    what it consumed (a 5000-byte write of white space after "never" sets the knob,
    returns 4096); a cgroup file (atomic_write_len = PAGE_SIZE) refuses a longer write
    with E2BIG and nothing moves; a proc file gets the whole buffer."""
    m = boot(profile)
    thp = "/sys/kernel/mm/transparent_hugepage/enabled"
    buf = "never" + "\n" * 4995 if profile == "seed" else "never\n"
    n = m.fs.write(thp, buf)
    assert (n, m.fs.read(thp)) == (len(buf[:4096]), "always madvise [never]\n")
    cg = "/sys/fs/cgroup" if m.profile.cpuset_cgroup_v2 else "/sys/fs/cgroup/cpuset"
    m.fs.mkdir(f"{cg}/g")
    p = m.spawn()
    pad = " " * 4096
    assert err(m.fs.write, f"{cg}/g/cgroup.procs", f"{p.pid}{pad}") == errno.E2BIG
    assert m.fs.read(f"{cg}/g/cgroup.procs") == ""
    if not m.profile.cpuset_cgroup_v2:
        assert err(m.fs.write, f"{cg}/g/cpuset.mems", "0" + pad) == errno.E2BIG
        assert m.fs.read(f"{cg}/g/cpuset.mems") == "\n"
        m.fs.write(f"{cg}/g/cpuset.mems", "0" + " " * 4095)  # one page: fine
        assert m.fs.read(f"{cg}/g/cpuset.mems") == "0\n"
    assert m.fs.write("/proc/sys/vm/drop_caches", "1" + " " * 5000) == 5001
