"""Automatic NUMA balancing (kernel/sched_fair.py, mm/mempolicy.py change_prot_numa()
and mpol_misplaced(), mm/memory.py do_numa_page(), mm/huge_memory.py
do_huge_pmd_numa_page(), mm/migrate.py migrate_misplaced_*): the scanner's counters,
hinting faults, the two-stage filter, THPs migrated whole by each era's path, tiering
mode's promotion, the tunables where each era keeps them, and mode 0 doing nothing.
docs/numa-balancing.md."""

from __future__ import annotations

import errno

import pytest

from thpsim import (
    HPAGE_PMD_SIZE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_BIND,
    MPOL_DEFAULT,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)

HINT = 0x7E00_0000_0000
COUNTERS = ("numa_pte_updates", "numa_huge_pte_updates", "numa_hint_faults",
            "numa_hint_faults_local", "numa_pages_migrated", "pgmigrate_success",
            "thp_migration_success", "thp_split_page")


def _machine(profile: str, thp: str = "never", cpus=2, **switches) -> Machine:
    """A two-node machine whose scan delay is short before any process starts: a task
    takes its first scan period from the delay it was forked under
    (init_numa_balancing())."""
    m = Machine(nodes={0: 256 << 20, 1: 256 << 20}, cpus=cpus, thp=thp, profile=profile,
                seed=0, check=True, **switches)
    _tunables(m)
    return m


def _tunables(m: Machine, delay: int = 10, period_min: int = 10, size_mb: int = 1) -> None:
    """Short scan delays so a test runs the scanner within tens of ticks."""
    d = ("/sys/kernel/debug/sched/numa_balancing/"
         if m.profile.numa_balancing_debugfs_tunables else "/proc/sys/kernel/numa_balancing_")
    m.fs.write(d + "scan_delay_ms", str(delay))
    m.fs.write(d + "scan_period_min_ms", str(period_min))
    m.fs.write(d + "scan_size_mb", str(size_mb))


def _place(p, t, length: int, node: int, thp: bool = False) -> int:
    """Map ``length`` bytes, fault every page in on ``node`` (mbind, then the default
    policy again, as the memory was first-touched there), return the address."""
    a = p.mmap(HINT, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.mbind(a, length, MPOL_BIND, {node})
    for off in range(0, length, PAGE_SIZE):
        t.write(a + off, off // PAGE_SIZE + 1)
    p.mbind(a, length, MPOL_DEFAULT, None)
    return a


def _delta(m: Machine, before: dict[str, int]) -> dict[str, int]:
    now = m.vmstat()
    return {k: now.get(k, 0) - before.get(k, 0) for k in COUNTERS}


def _scan(m: Machine, t, limit: int = 400) -> None:
    """Tick ``t`` until the scanner changed some entries (a pass over the range)."""
    before = m.vmstat()["numa_pte_updates"]
    for _ in range(limit):
        t.tick()
        if m.vmstat()["numa_pte_updates"] != before:
            return
    raise AssertionError("the scanner made no entry PROT_NONE")


def _nodes(p, a: int, n: int) -> list[int]:
    return p.pages_nodes([a + i * PAGE_SIZE for i in range(n)])


PROFILES = ("seed", "mainline")


@pytest.mark.parametrize("profile", PROFILES)
def test_mode_0_does_nothing(profile: str) -> None:
    m = _machine(profile)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = _place(p, t, 16 * PAGE_SIZE, 1)
    _tunables(m)
    v0 = m.vmstat()
    t.spin(300, a, 16 * PAGE_SIZE)
    assert all(v == 0 for v in _delta(m, v0).values())
    assert _nodes(p, a, 16) == [1] * 16
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_scan_counts_ptes_then_faults_migrate(profile: str) -> None:
    """A pass makes every remote PTE PROT_NONE (numa_pte_updates 16, no fault yet);
    a load of each page is a hinting fault (remote: not _local) that migrates it to the
    task's node (numa_pages_migrated, pgmigrate_success); the page keeps its data."""
    m = _machine(profile)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = _place(p, t, 16 * PAGE_SIZE, 1)
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    v0 = m.vmstat()
    _scan(m, t)
    d = _delta(m, v0)
    assert d["numa_pte_updates"] == 16 and d["numa_hint_faults"] == 0
    assert d["numa_huge_pte_updates"] == 0
    if m.profile.move_pages_folio_walk:  # 6.12+: a PROT_NONE entry's page has a node
        assert _nodes(p, a, 16) == [1] * 16
    for i in range(16):
        assert t.read(a + i * PAGE_SIZE) == i + 1
    d = _delta(m, v0)
    assert d["numa_hint_faults"] == 16 and d["numa_hint_faults_local"] == 0
    assert d["numa_pages_migrated"] == 16 and d["pgmigrate_success"] == 16
    assert _nodes(p, a, 16) == [0] * 16
    # a second pass: a single-threaded task's pages on its node are left alone
    v1 = m.vmstat()
    t.spin(300, a, 16 * PAGE_SIZE)
    assert _delta(m, v1)["numa_pte_updates"] == 0
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_two_stage_filter_and_local_faults(profile: str) -> None:
    """Two threads (CPU 0 on node 0, CPU 1 on node 1), a page on node 1. Thread B
    (node 1) faults first: a local fault (numa_hint_faults_local), the page's last
    cpupid becomes B's. Thread A (node 0) faults after the next pass: the last fault came
    from another node, so the page stays (4.14's filter; 4.19's early-lifetime shortcut
    is for first or private faults only). A faults again after another pass: the last
    fault was its own, from node 0: the page moves."""
    m = _machine(profile)
    p = m.spawn(cpu=0)
    ta = p.threads[0]
    tb = p.clone(cpu=1)
    a = _place(p, ta, PAGE_SIZE, 1)
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    v0 = m.vmstat()
    _scan(m, ta)
    tb.read(a)
    d = _delta(m, v0)
    assert (d["numa_hint_faults"], d["numa_hint_faults_local"], d["numa_pages_migrated"]) \
        == (1, 1, 0)
    _scan(m, ta)
    ta.read(a)
    d = _delta(m, v0)
    assert (d["numa_hint_faults"], d["numa_hint_faults_local"], d["numa_pages_migrated"]) \
        == (2, 1, 0)
    assert _nodes(p, a, 1) == [1]
    _scan(m, ta)
    ta.read(a)
    d = _delta(m, v0)
    assert (d["numa_hint_faults"], d["numa_pages_migrated"]) == (3, 1)
    assert _nodes(p, a, 1) == [0]
    m.check_integrity()


@pytest.mark.parametrize("profile,thp_migration", [("seed", True), ("seed", False),
                                                   ("mainline", True), ("mainline", False)])
def test_thp_hinting_fault_migrates_whole(profile: str, thp_migration: bool) -> None:
    """A PMD-mapped THP on node 1: one pass makes its PMD PROT_NONE (numa_huge_pte_updates
    1, numa_pte_updates 512); one load is one hinting fault, and the THP moves to node 0.
    4.14 moves it whole by migrate_misplaced_transhuge_page() (no migration entry, no
    thp_migration_success), even without THP migration (that path predates the series);
    5.13+ by the common path (thp_migration_success 1), which splits it first when THP
    migration is off (thp_split_page 1, 512 base pages moved)."""
    m = _machine(profile, thp="always", thp_migration_supported=thp_migration)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = _place(p, t, HPAGE_PMD_SIZE, 1)
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    v0 = m.vmstat()
    _scan(m, t)
    d = _delta(m, v0)
    assert d["numa_huge_pte_updates"] == 1 and d["numa_pte_updates"] == 512
    assert t.read(a + 5 * PAGE_SIZE) == 6
    d = _delta(m, v0)
    assert d["numa_hint_faults"] == 1
    assert d["numa_pages_migrated"] == 512
    assert _nodes(p, a, 512) == [0] * 512
    whole = thp_migration or not m.profile.numa_thp_misplaced_generic
    assert d["thp_split_page"] == (0 if whole else 1)
    assert d["thp_migration_success"] == (
        1 if m.profile.numa_thp_misplaced_generic and thp_migration else 0)
    assert d["pgmigrate_success"] == (512 if m.profile.pgmigrate_counts_base_pages
                                      or not m.profile.numa_thp_misplaced_generic else 1)
    smaps = m.fs.read(f"/proc/{p.pid}/smaps")
    assert ("AnonHugePages:      2048 kB" in smaps) == whole
    for i in range(512):
        assert t.read(a + i * PAGE_SIZE) == i + 1
    m.check_integrity()


def _tiered(**switches) -> Machine:
    m = Machine(nodes={0: 256 << 20, 1: 256 << 20}, cpus={0: 2, 1: 0}, thp="never",
                profile="mainline", seed=0, check=True, **switches)
    _tunables(m)
    return m


def test_mode_2_promotes_hot_pages_from_the_slow_node() -> None:
    """Tiering mode: node 1 has no CPU (not top tier). A pass stamps each slow page's
    scan time; a fault soon after (latency under numa_balancing_hot_threshold_ms)
    promotes it: pgpromote_candidate and pgpromote_success count it, numa_pages_migrated
    too."""
    m = _tiered()
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = _place(p, t, 8 * PAGE_SIZE, 1)
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", "2")
    v0 = m.vmstat()
    _scan(m, t)
    for i in range(8):
        t.read(a + i * PAGE_SIZE)
    v1 = m.vmstat()
    assert v1["numa_pages_migrated"] - v0["numa_pages_migrated"] == 8
    assert v1["pgpromote_success"] - v0.get("pgpromote_success", 0) == 8
    assert v1["pgpromote_candidate"] - v0.get("pgpromote_candidate", 0) == 8
    assert _nodes(p, a, 8) == [0] * 8
    m.check_integrity()


def test_mode_2_hot_threshold_holds_cold_pages_back() -> None:
    """With the hot threshold at 0 ms no latency is under it: the faults are counted,
    nothing is promoted."""
    m = _tiered()
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = _place(p, t, 8 * PAGE_SIZE, 1)
    _tunables(m)
    m.fs.write("/sys/kernel/debug/sched/numa_balancing/hot_threshold_ms", "0")
    m.fs.write("/proc/sys/kernel/numa_balancing", "2")
    v0 = m.vmstat()
    _scan(m, t)
    for i in range(8):
        t.read(a + i * PAGE_SIZE)
    v1 = m.vmstat()
    assert v1["numa_hint_faults"] - v0["numa_hint_faults"] == 8
    assert v1["pgpromote_success"] == 0 and v1["numa_pages_migrated"] == 0
    assert _nodes(p, a, 8) == [1] * 8


@pytest.mark.parametrize("mode,scanned", [("2", 0), ("3", 8)])
def test_mode_2_skips_top_tier_pages(mode: str, scanned: int) -> None:
    """Pages on the fast node of a two-threaded task (no single-node shortcut): tiering
    mode alone does not scan them; with NUMA_BALANCING_NORMAL too (3) it does."""
    m = _tiered()
    p = m.spawn(cpu=0)
    t = p.threads[0]
    p.clone(cpu=1)
    a = _place(p, t, 8 * PAGE_SIZE, 0)
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", mode)
    v0 = m.vmstat()
    t.spin(120, a, 8 * PAGE_SIZE)
    assert m.vmstat()["numa_pte_updates"] - v0["numa_pte_updates"] >= scanned
    if not scanned:
        assert m.vmstat()["numa_pte_updates"] == v0["numa_pte_updates"]
    assert _nodes(p, a, 8) == [0] * 8


def test_tunables_where_each_era_keeps_them() -> None:
    seed = Machine(nodes={0: 256 << 20, 1: 256 << 20}, profile="seed")
    assert seed.fs.read("/proc/sys/kernel/numa_balancing_scan_delay_ms") == "1000\n"
    assert seed.fs.read("/proc/sys/kernel/numa_balancing_scan_size_mb") == "256\n"
    assert not seed.fs.exists("/sys/kernel/debug/sched/numa_balancing/scan_delay_ms")
    with pytest.raises(OSError) as e:
        seed.fs.write("/proc/sys/kernel/numa_balancing_scan_size_mb", "0")
    assert e.value.errno == errno.EINVAL  # extra1 = &one
    with pytest.raises(OSError) as e:
        seed.fs.write("/proc/sys/kernel/numa_balancing", "2")
    assert e.value.errno == errno.EINVAL  # 4.14: 0 or 1
    main = _machine("mainline")
    d = "/sys/kernel/debug/sched/numa_balancing/"
    assert main.fs.read(d + "scan_period_max_ms") == "60000\n"
    assert main.fs.read(d + "hot_threshold_ms") == "1000\n"
    assert main.fs.read("/proc/sys/kernel/numa_balancing_promote_rate_limit_MBps") == "65536\n"
    assert not main.fs.exists("/proc/sys/kernel/numa_balancing_scan_delay_ms")
    main.fs.write(d + "scan_delay_ms", "250")
    assert main.fs.read(d + "scan_delay_ms") == "250\n"


def test_period_doubles_without_faults() -> None:
    """A task that never faults (its pages stay PROT_NONE, no access) scans slower and
    slower: update_task_scan_period() doubles the period when a sequence saw no fault,
    so the passes over 2,000 ticks are fewer than at a fixed period."""
    m = _machine("mainline")
    p = m.spawn(cpu=0)
    t = p.threads[0]
    p.clone(cpu=1)  # two threads: the pages on node 0 are scanned too
    _place(p, t, 4 * PAGE_SIZE, 0)
    _tunables(m, delay=10, period_min=10)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    runs = t.tick(2000)
    assert 2 <= runs < 2000 // 10


def _run(profile: str) -> tuple[dict[str, int], list[int]]:
    m = _machine(profile)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    tb = p.clone(cpu=1)
    a = _place(p, t, 32 * PAGE_SIZE, 1)
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    for k in range(6):
        (t if k % 2 else tb).spin(40, a + k * 4 * PAGE_SIZE, 12 * PAGE_SIZE)
    return m.vmstat(), _nodes(p, a, 32)


@pytest.mark.parametrize("profile", PROFILES)
def test_deterministic(profile: str) -> None:
    assert _run(profile) == _run(profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_scanner_skips_inaccessible_and_bound_vmas(profile: str) -> None:
    """task_numa_work() leaves alone a PROT_NONE VMA (its entries would be confused
    with hinting entries) and one whose policy is not migrate-on-fault (MPOL_BIND
    without MPOL_F_NUMA_BALANCING); the default-policy VMA beside them is scanned."""
    m = _machine(profile)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = _place(p, t, 4 * PAGE_SIZE, 1)
    b = _place(p, t, 4 * PAGE_SIZE, 1)
    c = _place(p, t, 4 * PAGE_SIZE, 1)
    p.mprotect(a, 4 * PAGE_SIZE, 0)
    p.mbind(b, 4 * PAGE_SIZE, MPOL_BIND, {1})
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    v0 = m.vmstat()
    t.spin(200, c, 4 * PAGE_SIZE)
    d = _delta(m, v0)
    assert d["numa_pte_updates"] == 4 and d["numa_pages_migrated"] == 4
    assert _nodes(p, c, 4) == [0] * 4
    for i in range(4):
        assert t.read(b + i * PAGE_SIZE) == i + 1
    assert _delta(m, v0)["numa_hint_faults"] == 4
    assert _nodes(p, b, 4) == [1] * 4
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_mprotect_of_a_thp_counts_numa_huge_pte_updates(profile: str) -> None:
    """change_pmd_range() counts numa_huge_pte_updates for any huge PMD it changes,
    balancing on or off (the oracle's hand-numa-01 on 6.1, 6.12 and 7.2); PTEs an
    mprotect changes are not numa_pte_updates."""
    m = _machine(profile, thp="always")
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = _place(p, t, HPAGE_PMD_SIZE, 0)
    v0 = m.vmstat()
    p.mprotect(a, HPAGE_PMD_SIZE, PROT_READ)
    p.mprotect(a, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE)
    d = _delta(m, v0)
    assert d["numa_huge_pte_updates"] == 2 and d["numa_pte_updates"] == 0


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", range(4))
def test_scanner_and_hinting_faults_race_migration(profile: str, seed: int) -> None:
    """The scanner (a thread's timer ticks, ``thread.sys.tick()``), hinting faults (a
    load and a store on another CPU) and move_pages of the same THPs, interleaved: every
    schedule keeps the invariants (checked after each step) and the store is read back."""
    from thpsim import MPOL_MF_MOVE
    from thpsim.testing import Race

    m = _machine(profile, thp="always", cpus=4)
    p = m.spawn(cpu=0)
    t0 = p.threads[0]
    a = _place(p, t0, 2 * HPAGE_PMD_SIZE, 1)
    t1, t2 = p.clone(cpu=1), p.clone(cpu=2)
    _tunables(m, delay=1, period_min=1)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    _scan(m, t2)  # the THPs' PMDs are PROT_NONE now
    race = Race(m)
    race.on(0, t0).load(a).store(a + HPAGE_PMD_SIZE, 77).load(a + HPAGE_PMD_SIZE)
    race.on(1, t1).move_pages([a, a + HPAGE_PMD_SIZE], [1, 1], MPOL_MF_MOVE)
    race.on(2, t2).syscall("tick").syscall("tick").syscall("tick")
    ex = race.run(policy="pct" if seed % 2 else "random", seed=seed)
    assert ex.failure is None, ex.failure
    assert ex.result(0, 0) == 1 and ex.result(0, 2) == 77
    m.check_integrity()


@pytest.mark.parametrize("profile", PROFILES)
def test_a_task_keeps_the_scan_delay_it_was_forked_under(profile: str) -> None:
    """init_numa_balancing() at fork: a process started under the default 1000 ms delay
    is not scanned in its first second even after scan_delay_ms drops to 10 (the
    oracle's hand-numa-03 waits in the program's process, then forks); its child forked
    after the change is scanned within tens of ticks."""
    m = Machine(nodes={0: 256 << 20, 1: 256 << 20}, cpus=2, profile=profile, seed=0,
                check=True)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    _tunables(m)
    m.fs.write("/proc/sys/kernel/numa_balancing", "1")
    a = _place(p, t, 16 * PAGE_SIZE, 1)
    before = m.vmstat()["numa_pte_updates"]
    t.spin(500, a, 16 * PAGE_SIZE)
    assert m.vmstat()["numa_pte_updates"] == before
    c = p.fork()
    ct = c.threads[0]
    b = _place(c, ct, 16 * PAGE_SIZE, 1)  # its own pages: shared COW pages are skipped
    ct.spin(100, b, 16 * PAGE_SIZE)
    assert m.vmstat()["numa_pte_updates"] > before
