"""The cgroup core (kernel/cgroup/cgroup.py) and the VFS's mkdir: cgroup names as
Linux takes them, and nothing half-made when a name is refused (issue 11)."""

import errno

import pytest

from thpsim import Machine


def _root(m: Machine) -> str:
    return "/sys/fs/cgroup" if m.profile.cpuset_cgroup_v2 else "/sys/fs/cgroup/cpuset"


def _errno(fn, *a) -> int:
    with pytest.raises(OSError) as ei:
        fn(*a)
    return ei.value.errno


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_a_name_with_braces_is_a_plain_cgroup(profile):
    """Regression (issue 11): ``mkdir {x}`` raised ValueError (the VFS took the name
    for a template) after the cgroup was already linked into its parent: a hidden,
    half-made cgroup. Linux takes any name without '/' or a newline."""
    m = Machine(profile=profile)
    root = _root(m)
    m.fs.mkdir(f"{root}/{{x}}")
    assert "{x}" in m.fs.listdir(root)
    assert m.fs.read(f"{root}/{{x}}/cgroup.procs") == ""
    m.fs.rmdir(f"{root}/{{x}}")
    assert "{x}" not in m.fs.listdir(root)
    h = m.kernel.cpuset_hierarchy
    assert "{x}" not in h.top.children
    m.check_integrity()


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_bad_names_are_refused_and_leave_nothing(profile):
    """A newline: EINVAL (cgroup_mkdir(): strchr(name, '\\n')); more than NAME_MAX
    (255) bytes: ENAMETOOLONG; "." and "..": EEXIST (filename_create()). Nothing is
    linked into the hierarchy or the VFS on any of them; 255 bytes is fine."""
    m = Machine(profile=profile)
    root = _root(m)
    listing = m.fs.listdir(root)
    h = m.kernel.cpuset_hierarchy  # mounted with the VFS
    before = (listing, dict(h.top.children))
    assert _errno(m.fs.mkdir, f"{root}/a\nb") == errno.EINVAL
    assert _errno(m.fs.mkdir, f"{root}/" + "x" * 256) == errno.ENAMETOOLONG
    assert _errno(m.fs.mkdir, f"{root}/" + "é" * 128) == errno.ENAMETOOLONG  # 256 bytes
    assert _errno(m.fs.mkdir, f"{root}/.") == errno.EEXIST
    assert _errno(m.fs.mkdir, f"{root}/..") == errno.EEXIST
    assert (m.fs.listdir(root), dict(h.top.children)) == before
    m.fs.mkdir(f"{root}/" + "x" * 255)
    assert "x" * 255 in h.top.children


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_procs_write_refuses_a_negative_pid_in_both_hierarchies(profile):
    """cgroup_procs_write_start() (mainline, v2) and 4.14's __cgroup_procs_write() (v1)
    both test ``kstrtoint(...) || pid < 0`` -> EINVAL; v2 said ESRCH. An unknown
    positive pid is ESRCH; junk after a NUL is not read (a C string)."""
    m = Machine(profile=profile)
    root = _root(m)
    p = m.spawn()
    m.fs.mkdir(f"{root}/g")
    if not m.profile.cpuset_cgroup_v2:
        m.fs.write(f"{root}/g/cpuset.cpus", "0")
        m.fs.write(f"{root}/g/cpuset.mems", "0")
    for bad in ("-1", "-2147483648", f"-{p.pid}"):
        assert _errno(m.fs.write, f"{root}/g/cgroup.procs", bad) == errno.EINVAL
    assert _errno(m.fs.write, f"{root}/g/cgroup.procs", "99999") == errno.ESRCH
    assert m.fs.read(f"{root}/g/cgroup.procs") == ""
    assert m.fs.write(f"{root}/g/cgroup.procs", f"{p.pid}\x00junk") == len(f"{p.pid}") + 5
    assert m.fs.read(f"{root}/g/cgroup.procs") == f"{p.pid}\n"


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_rmdir_of_a_mount_point_is_ebusy(profile):
    """vfs_rmdir(): the hierarchy's root, /proc, /sys and debugfs are mount points
    (is_local_mountpoint(): EBUSY; their parents have an rmdir op); an ordinary sysfs
    directory is EPERM (kernfs_iop_rmdir() without a syscall op); as uid 1000 the
    parent's permission comes first (EACCES)."""
    m = Machine(profile=profile)
    for path in (_root(m), "/proc", "/sys", "/sys/kernel/debug", _root(m) + "/"):
        assert _errno(m.fs.rmdir, path) == errno.EBUSY, path
    assert _errno(m.fs.rmdir, "/sys/kernel/mm/transparent_hugepage") == errno.EPERM
    u = m.spawn(uid=1000)
    assert _errno(u.fs.rmdir, _root(m)) == errno.EACCES
    assert m.fs.listdir(_root(m))
