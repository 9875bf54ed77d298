"""debugfs /sys/kernel/debug/split_huge_pages (mm/huge_memory.c split_huge_pages_write):
the global "1" in every era; 5.12+ "<pid>,0x<start>,0x<end>[,<new_order>[,<offset>]]"
and "<path>,0x<off>,0x<off>" (``split_huge_pages_pid``)."""

import errno

import pytest
from mm_helpers import numa_machine, thp_aligned

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE

SPLIT = "/sys/kernel/debug/split_huge_pages"
PROFILES = pytest.mark.parametrize("profile", ["seed", "mainline"])


def errno_of(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    return e.value.errno


def anon_huge_kb(p):
    return sum(int(line.split()[1]) for line in p.fs.read(f"/proc/{p.pid}/smaps").splitlines()
               if line.startswith("AnonHugePages:"))


def two_procs_with_thps(profile):
    m = numa_machine(profile, thp="always")
    m.spawn(cpu=1)  # pid 1 ("1,..." would be the global split)
    ps = []
    for cpu in (0, 2):
        p = m.spawn(cpu=cpu)
        a = thp_aligned(p, 2)
        p.threads[0].write(a, 1)
        p.threads[0].write(a + HPAGE_PMD_SIZE, 2)
        ps.append((p, a))
    assert all(anon_huge_kb(p) == 4096 for p, _ in ps)
    return m, ps


@PROFILES
def test_global_1_splits_every_thp(profile):
    m, ps = two_procs_with_thps(profile)
    assert m.fs.write(SPLIT, "1,") == 2  # pid 1 and nothing after it: global too
    assert all(anon_huge_kb(p) == 0 for p, _ in ps)
    m, ps = two_procs_with_thps(profile)
    before = m.vmstat()["thp_split_page"]
    assert m.fs.write(SPLIT, "1\n") == 2
    assert m.vmstat()["thp_split_page"] - before == 4
    for p, a in ps:
        assert anon_huge_kb(p) == 0
        assert p.threads[0].read(a) == 1 and p.threads[0].read(a + HPAGE_PMD_SIZE) == 2
    if profile == "seed":
        assert m.kernel.dmesg[-1] == "4 of 4 THP split"  # pr_info() in 4.14


@PROFILES
def test_values_other_than_1(profile):
    m, ps = two_procs_with_thps(profile)
    for bad in ("0", "2", "x", "-1"):
        assert errno_of(m.fs.write, SPLIT, bad) == errno.EINVAL
    assert all(anon_huge_kb(p) == 4096 for p, _ in ps)
    p, a = ps[0]
    text = f"{p.pid},{hex(a)},{hex(a + HPAGE_PMD_SIZE)}"
    if profile == "seed":  # 4.14: a number, parsed up to the first non-digit: pid != 1
        assert errno_of(m.fs.write, SPLIT, text) == errno.EINVAL
    else:
        assert m.fs.write(SPLIT, text) == len(text)
    assert anon_huge_kb(p) == (4096 if profile == "seed" else 2048)


def test_pid_range_splits_only_the_thps_in_range():
    m, ps = two_procs_with_thps("mainline")
    (p, a), (q, b) = ps
    before = m.vmstat()["thp_split_page"]
    # the range starts inside the first THP: it is split too (any page of it)
    text = f"{p.pid},{hex(a + 5 * PAGE_SIZE)},{hex(a + HPAGE_PMD_SIZE)}\n"
    assert m.fs.write(SPLIT, text) == len(text)
    assert m.vmstat()["thp_split_page"] - before == 1
    assert anon_huge_kb(p) == 2048 and anon_huge_kb(q) == 4096
    assert p.threads[0].read(a) == 1


def test_pid_errors_and_holes():
    m, ps = two_procs_with_thps("mainline")
    (p, a), _ = ps
    assert errno_of(m.fs.write, SPLIT, f"99999,0x0,{hex(1 << 40)}") == errno.ESRCH
    # the addresses must be written 0x...
    assert errno_of(m.fs.write, SPLIT, f"{p.pid},{a},{a + HPAGE_PMD_SIZE}") == errno.EINVAL
    assert errno_of(m.fs.write, SPLIT, f"{p.pid},{hex(a)}") == errno.EINVAL
    # a hole at the start ends the walk at once: nothing split, success
    text = f"{p.pid},0x1000,{hex(a + 2 * HPAGE_PMD_SIZE)}"
    assert m.fs.write(SPLIT, text) == len(text)
    assert anon_huge_kb(p) == 4096


def test_new_order_at_or_above_the_thps_order_splits_nothing():
    m, ps = two_procs_with_thps("mainline")
    (p, a), _ = ps
    for order in (9, 10):
        text = f"{p.pid},{hex(a)},{hex(a + 2 * HPAGE_PMD_SIZE)},{order}"
        assert m.fs.write(SPLIT, text) == len(text)
        assert anon_huge_kb(p) == 4096
    text = f"{p.pid},{hex(a)},{hex(a + 2 * HPAGE_PMD_SIZE)},0,5"
    assert m.fs.write(SPLIT, text) == len(text)
    assert anon_huge_kb(p) == 0


def test_a_thp_a_child_maps_too_is_split_in_both():
    """can_split_folio(): the child's mapping is a mapping, not a pin: the THP is
    split and both page tables go to PTEs."""
    m, ps = two_procs_with_thps("mainline")
    (p, a), _ = ps
    child = p.fork()
    text = f"{p.pid},{hex(a)},{hex(a + HPAGE_PMD_SIZE)}"
    assert m.fs.write(SPLIT, text) == len(text)
    assert anon_huge_kb(p) == 2048 and anon_huge_kb(child) == 2048
    assert child.threads[0].read(a) == 1


def test_file_path_form():
    m, ps = two_procs_with_thps("mainline")
    text = "/proc/meminfo,0x0,0x10"
    assert m.fs.write(SPLIT, text) == len(text)  # no page cache: nothing to split
    assert errno_of(m.fs.write, SPLIT, "/no/such/file,0x0,0x10") == errno.EINVAL
    assert errno_of(m.fs.write, SPLIT, "/proc/meminfo") == errno.EINVAL
    assert errno_of(m.fs.write, SPLIT, "/proc/meminfo,0x0") == errno.EINVAL


@PROFILES
def test_root_only(profile):
    m, _ = two_procs_with_thps(profile)
    u = m.spawn(uid=1000, caps=frozenset())
    assert errno_of(u.fs.write, SPLIT, "1") == errno.EACCES


@pytest.mark.parametrize("pid_form", [False, True])
def test_split_huge_pages_pid_switch(pid_form):
    m = numa_machine("seed", thp="always", split_huge_pages_pid=pid_form)
    m.spawn(cpu=1)  # pid 1
    p = m.spawn(cpu=0)
    a = thp_aligned(p)
    p.threads[0].write(a, 1)
    text = f"{p.pid},{hex(a)},{hex(a + HPAGE_PMD_SIZE)}"
    if pid_form:
        assert m.fs.write(SPLIT, text) == len(text)
        assert anon_huge_kb(p) == 0
    else:
        assert errno_of(m.fs.write, SPLIT, text) == errno.EINVAL
        assert anon_huge_kb(p) == 2048
