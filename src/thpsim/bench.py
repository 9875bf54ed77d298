"""thpsim benchmarks: migration, fault and stress rates, memory per simulated GiB, scaling.

Run::

    thpsim bench                       # every figure, full sizes (a few minutes)
    thpsim bench --quick               # small sizes, a smoke test (seconds)
    thpsim bench --only move_pages     # the figures whose name contains this
    thpsim bench --json                # one JSON document: machine, version, figures
    thpsim bench --save-baseline       # also store the figures in benchmarks/baseline.json
    thpsim bench --compare             # each figure against the stored baseline

(``python benchmarks/bench.py`` and ``python -m thpsim.bench`` take the same
options; the module ships with the package, so ``thpsim bench`` works after any
install. The baseline is benchmarks/baseline.json in a source checkout, else
``--compare FILE``.) Every figure is one line,
``name: value unit``; a migration rate also gives its ratio to 121,500 migrations/s,
the rate of the v3 series' 16-hour stress test (about 7 billion migrations), as
``(0.10x seed)``. Each figure is the median over ``--repeat`` repetitions (default 5;
``--quick`` 3). Rates are per second of *process CPU time* (``time.process_time()``):
one core, whatever else the machine runs.

Figures:

    base_page_faults_per_s          thp="never", one store per 4 KiB page of a fresh mapping
    thp_faults_per_s                thp="always", one store per 2 MiB of a fresh mapping
    move_pages_thp_per_s            PMD-mapped THPs through move_pages(2), 512 per call
    move_pages_base_per_s           base pages through move_pages(2), 512 per call
    move_pages_pte_thp_per_s        PTE-mapped THPs (split PMD, whole folio) through move_pages(2)
    mbind_thp_per_s, mbind_base_per_s                  mbind(MPOL_BIND, MPOL_MF_MOVE)
    migrate_pages_thp_per_s, migrate_pages_base_per_s  migrate_pages(2), node to node
    offline_thp_per_s               THPs moved by memory offline (a block's ``state``)
    stress_steps_per_s              interleaved stress (``thpsim stress``), default checks
    stress_migrations_per_s         ... its folio migrations per second (one core)
    modeled_time_steps_per_s        the stress run above with the cost model on (its overhead)
    modeled_time_run_ms             ... its modeled time, all CPUs (docs/modeled-time.md)
    modeled_move_pages_*_us         modeled time of move_pages across nodes: one 4 KiB page,
                                    one THP, 512 4 KiB pages (the v3 cover letter's 62.47,
                                    658.54 and 1987.38 us; thpsim calibrate)
    scale_mappings_<N>_us           µs per THP migration, the THP mapped by N processes
    scale_cpus_<N>_us               ... N CPUs with the THP in their TLBs
    scale_vmas_<N>_us               ... N other VMAs in the process
    scale_gib_<N>_us                ... on a machine of N simulated GiB
    rss_*                           real memory per simulated GiB (fresh interpreters)

The migration figures run the ``mainline`` profile with the defaults a user gets:
the shadow memory (the integrity oracle of every load) on, the invariant checker off.
The scaling rows show whether the cost per migration stays flat (or linear, for
mappings); docs/performance.md says what each figure means and lists the last
measured values.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import thpsim
from thpsim import HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.cliutil import UsageError, check_writable, positive_int, write_atomic

MiB = 1 << 20
GiB = 1 << 30
RW = thpsim.PROT_READ | thpsim.PROT_WRITE
ANON = thpsim.MAP_PRIVATE | thpsim.MAP_ANONYMOUS
BLOCK_SIZE = 128 * MiB
#: the seed series' stress rate: about 7 billion migrations in 16 hours
SEED_RATE = 121_500
#: the stored baseline of a source checkout (src/thpsim/bench.py -> benchmarks/)
BASELINE = Path(__file__).resolve().parents[2] / "benchmarks" / "baseline.json"

#: Sizes per mode. The THP fault rounds fault half the machine each, so freed THPs
#: come back whole (no fallback to base pages). Full RSS: two nodes of 2 GiB, 3.5 GiB
#: faulted.
SIZES = {
    "full": {
        "base_fault_bytes": 64 * MiB,
        "thp_node_bytes": 2 * GiB,
        "thp_fault_bytes": 1 * GiB,
        "thp_rounds": 2,
        "rss_node_bytes": 2 * GiB,
        "rss_fault_bytes": 3584 * MiB,
        "thp_batch": 512,
        "base_batch": 512,
        "pte_thp_batch": 64,
        "moves": 4,            # node-to-node moves of the batch per repetition
        "stress_rounds": 30,
        "scale_mappings": (1, 4, 16),
        "scale_cpus": (2, 8, 32, 64),
        "scale_vmas": (0, 1024, 16384),
        "scale_gib": (1, 16, 64),
        "scale_thps": 16,
    },
    "quick": {
        "base_fault_bytes": 4 * MiB,
        "thp_node_bytes": 256 * MiB,
        "thp_fault_bytes": 64 * MiB,
        "thp_rounds": 1,
        "rss_node_bytes": 128 * MiB,
        "rss_fault_bytes": 32 * MiB,
        "thp_batch": 16,
        "base_batch": 64,
        "pte_thp_batch": 4,
        "moves": 2,
        "stress_rounds": 2,
        "scale_mappings": (1, 4),
        "scale_cpus": (2, 8),
        "scale_vmas": (0, 256),
        "scale_gib": (1, 2),
        "scale_thps": 4,
    },
}


class Figure:
    """One measured figure: the median of its repetitions."""

    def __init__(self, name: str, values: list[float], unit: str, migration: bool = False):
        self.name, self.values, self.unit, self.migration = name, values, unit, migration
        self.value = statistics.median(values)

    def line(self, baseline: dict | None = None) -> str:
        v = self.value
        s = f"{self.name}: {v:.2f} {self.unit}" if isinstance(v, float) else \
            f"{self.name}: {v} {self.unit}"
        if self.migration:
            s += f" ({v / SEED_RATE:.3f}x seed)"
        if baseline is not None and self.name in baseline and baseline[self.name]:
            s += f" [{v / baseline[self.name]:.2f}x baseline]"
        return s

    def as_json(self) -> dict:
        d = {"value": self.value, "unit": self.unit, "values": self.values}
        if self.migration:
            d["ratio_to_seed_rate"] = self.value / SEED_RATE
        return d


# -- machines and setup ---------------------------------------------------------------

def _machine(node_bytes: int, thp: str = "always", profile: str = "mainline",
             cpus: int = 4, **kw) -> thpsim.Machine:
    return thpsim.Machine(nodes={0: node_bytes, 1: node_bytes}, block_size=BLOCK_SIZE,
                          cpus=cpus, thp=thp, profile=profile, seed=0, **kw)


def _store_every(t, addr: int, length: int, stride: int) -> int:
    write = t.write
    n = 0
    for a in range(addr, addr + length, stride):
        write(a, a | 1)
        n += 1
    return n


def _thp_area(p, nr: int) -> int:
    """``nr`` PMD-mapped THPs, 2 MiB aligned, one store each."""
    base = p.mmap(0, (nr + 1) * HPAGE_PMD_SIZE, RW, ANON)
    a = (base + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    _store_every(p.threads[0], a, nr * HPAGE_PMD_SIZE, HPAGE_PMD_SIZE)
    return a


def _pfn(p, addr: int) -> int:
    """The PFN /proc/self/pagemap shows for ``addr`` (read as root)."""
    raw = p.fs.read("/proc/self/pagemap", offset=(addr >> PAGE_SHIFT) * 8, length=8)
    (e,) = struct.unpack("<Q", raw)
    assert e >> 63, f"{addr:#x} not present"
    return e & ((1 << 55) - 1)


def _timed(fn: Callable[..., object], *args: object) -> float:
    """CPU seconds of ``fn(*args)``."""
    t0 = time.process_time()
    fn(*args)
    return time.process_time() - t0


def _events(m) -> dict[str, int]:
    """/proc/vmstat now (a copy: read it again after what it should count)."""
    return m.vmstat()


# -- faults ---------------------------------------------------------------------------

def bench_base_faults(sz: dict) -> float:
    """Base-page faults per second: thp="never", one store per 4 KiB page."""
    length = sz["base_fault_bytes"]
    m = _machine(max(BLOCK_SIZE, length), "never")
    p = m.spawn(cpu=0)
    addr = p.mmap(0, length, RW, ANON)
    before = _events(m)["pgfault"]
    secs = _timed(_store_every, p.threads[0], addr, length, PAGE_SIZE)
    faults = _events(m)["pgfault"] - before
    assert faults == length // PAGE_SIZE, faults
    return faults / secs


def bench_thp_faults(sz: dict) -> float:
    """THP faults per second: thp="always", one store per 2 MiB, fresh mappings."""
    length = sz["thp_fault_bytes"]
    m = _machine(sz["thp_node_bytes"])
    p = m.spawn(cpu=0)
    t = p.threads[0]
    faults, secs = 0, 0.0
    for _ in range(sz["thp_rounds"]):
        base = p.mmap(0, length + HPAGE_PMD_SIZE, RW, ANON)
        addr = (base + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
        before = _events(m)["thp_fault_alloc"]
        secs += _timed(_store_every, t, addr, length, HPAGE_PMD_SIZE)
        faults += _events(m)["thp_fault_alloc"] - before
        p.munmap(base, length + HPAGE_PMD_SIZE)
    assert faults == sz["thp_rounds"] * (length // HPAGE_PMD_SIZE), faults
    return faults / secs


# -- migration through each caller ----------------------------------------------------

class _Migrations:
    """A process with ``nr`` folios (PMD-mapped THPs, PTE-mapped THPs or base pages)
    on node 0 of a two-node machine, moved between the nodes by one caller."""

    def __init__(self, kind: str, nr: int, machine: thpsim.Machine | None = None):
        self.kind, self.nr = kind, nr
        per = HPAGE_PMD_SIZE if kind != "base" else PAGE_SIZE
        if machine is None:
            node = max(BLOCK_SIZE, 2 * nr * per + 64 * MiB)
            node = -(-node // BLOCK_SIZE) * BLOCK_SIZE
            machine = _machine(node, "never" if kind == "base" else "always")
        self.m = m = machine
        self.p = p = m.spawn(cpu=0)
        if kind == "base":
            self.a = p.mmap(0, nr * PAGE_SIZE, RW, ANON)
            _store_every(p.threads[0], self.a, nr * PAGE_SIZE, PAGE_SIZE)
        else:
            self.a = _thp_area(p, nr)
        if kind == "pte_thp":  # split every PMD, keep the THPs whole and PTE-mapped
            for i in range(nr):
                x = self.a + i * HPAGE_PMD_SIZE
                assert p.mprotect(x, PAGE_SIZE, thpsim.PROT_READ) == 0
                assert p.mprotect(x, PAGE_SIZE, RW) == 0
        self.step = per
        self.addrs = [self.a + i * per for i in range(nr)]
        self.node = 0
        self.counter = "pgmigrate_success" if kind == "base" else "thp_migration_success"

    def moved(self, fn: Callable[[int], None], moves: int) -> float:
        """Folio migrations per CPU second over ``moves`` node-to-node moves by
        ``fn(target)``; every folio must move each time."""
        before = _events(self.m)[self.counter]
        secs = 0.0
        for _ in range(moves):
            target = self.node ^ 1
            secs += _timed(fn, target)
            self.node = target
        n = _events(self.m)[self.counter] - before
        assert n == moves * self.nr, (self.kind, n, moves * self.nr)
        return n / secs

    def move_pages(self, target: int) -> None:
        ret, st = self.p.move_pages(0, self.addrs, [target] * self.nr, thpsim.MPOL_MF_MOVE_ALL)
        assert ret == 0, ret

    def mbind(self, target: int) -> None:
        ret = self.p.mbind(self.a, self.nr * self.step, thpsim.MPOL_BIND, 1 << target, 3,
                           thpsim.MPOL_MF_MOVE)
        assert ret == 0, ret

    def migrate_pages(self, target: int) -> None:
        ret = self.p.migrate_pages(0, 3, 1 << (target ^ 1), 1 << target)
        assert ret >= 0, ret


def bench_caller(kind: str, caller: str, sz: dict) -> float:
    """Folio migrations per CPU second of ``caller`` moving ``kind`` folios between
    the nodes. A PTE-mapped THP moves once per setup: 6.x queues it for deferred split
    as its PTEs are unmapped one by one (partially mapped on the way), and the next
    migration splits it first (migrate_split_deferred_folio), as Linux does."""
    batch = {"thp": "thp_batch", "base": "base_batch", "pte_thp": "pte_thp_batch"}[kind]
    mig = _Migrations(kind, sz[batch])
    return mig.moved(getattr(mig, caller), 1 if kind == "pte_thp" else sz["moves"])


def bench_offline(sz: dict) -> float:
    """THPs per CPU second moved off a memory block by writing ``offline`` to its
    ``state`` (offline_pages(): isolate, migrate, retry); the blocks go back online
    (``online_movable``) untimed. Half of each node is ZONE_MOVABLE."""
    nr = sz["thp_batch"]
    node = -(-max(BLOCK_SIZE * 2, 4 * nr * HPAGE_PMD_SIZE) // BLOCK_SIZE) * BLOCK_SIZE
    m = _machine(node, movable={0: node // 2, 1: node // 2})
    p = m.spawn(cpu=0)
    a = _thp_area(p, nr)
    ppb = BLOCK_SIZE >> PAGE_SHIFT
    moved, secs = 0, 0.0
    md = "/sys/devices/system/memory"
    for _ in range(sz["moves"]):
        blocks = sorted({_pfn(p, a + i * HPAGE_PMD_SIZE) // ppb for i in range(nr)})
        blocks = [b for b in blocks
                  if "Movable" in m.fs.read(f"{md}/memory{b}/valid_zones").split()[0]]
        before = _events(m)["thp_migration_success"]
        for b in blocks:
            secs += _timed(m.fs.write, f"{md}/memory{b}/state", "offline")
        moved += _events(m)["thp_migration_success"] - before
        for b in blocks:
            m.fs.write(f"{md}/memory{b}/state", "online_movable")
    assert moved > 0
    return moved / secs


# -- stress ---------------------------------------------------------------------------

def bench_stress(sz: dict) -> tuple[float, float]:
    """Stress steps and folio migrations per CPU second under interleaving, every
    operation's outcome checked, full invariants every 5 rounds (the defaults)."""
    from thpsim.stress import StressConfig, run_stress  # lazy: only the stress figures

    t0 = time.process_time()
    res = run_stress(StressConfig(rounds=sz["stress_rounds"], migrators=2), seed=1)
    cpu = time.process_time() - t0
    if res.failure is not None:
        raise SystemExit(f"stress failed: {res.failure}")
    return res.steps / cpu, res.migrations / cpu


def bench_stress_modeled(sz: dict) -> tuple[float, float]:
    """:func:`bench_stress`'s run with the cost model on: steps per CPU second (the
    model's overhead) and the run's modeled milliseconds (the same every time)."""
    from thpsim.stress import StressConfig, run_stress  # lazy: only the stress figures

    t0 = time.process_time()
    res = run_stress(StressConfig(rounds=sz["stress_rounds"], migrators=2,
                                  modeled_time=True), seed=1)
    cpu = time.process_time() - t0
    if res.failure is not None or res.modeled is None:
        raise SystemExit(f"stress failed: {res.failure}")
    return res.steps / cpu, res.modeled["total_ns"] / 1e6


def bench_modeled_move_pages() -> list[float]:
    """Modeled us of the three cover-letter move_pages measurements (thpsim calibrate)."""
    # lazy: only these figures need the calibration module
    from thpsim.experiment.calibrate import V3_COVER_LETTER, run_measurement

    return [run_measurement(m)[0] / 1000 for m in V3_COVER_LETTER]


# -- scaling --------------------------------------------------------------------------

def _us_per_thp(mig: _Migrations, moves: int = 2) -> float:
    return 1e6 / mig.moved(mig.move_pages, moves)


def scale_mappings(n: int, sz: dict) -> float:
    """µs per THP migration with each THP mapped by ``n`` processes (the first and
    ``n - 1`` forked children; MPOL_MF_MOVE_ALL moves shared pages)."""
    mig = _Migrations("thp", sz["scale_thps"])
    mig.forks = [mig.p.fork() for _ in range(n - 1)]
    return _us_per_thp(mig)


def scale_cpus(n: int, sz: dict) -> float:
    """µs per THP migration with ``n`` CPUs (one thread each) holding every THP in
    their TLBs (a load per THP before each move)."""
    m = _machine(256 * MiB, cpus=n)
    mig = _Migrations("thp", sz["scale_thps"], m)
    threads = [mig.p.threads[0]] + [mig.p.clone(cpu=c) for c in range(1, n)]
    before = _events(m)["thp_migration_success"]
    secs = 0.0
    for _ in range(2):
        for t in threads:
            for x in mig.addrs:
                t.read(x)
        target = mig.node ^ 1
        secs += _timed(mig.move_pages, target)
        mig.node = target
    assert _events(m)["thp_migration_success"] - before == 2 * mig.nr
    return secs * 1e6 / (2 * mig.nr)


def scale_vmas(n: int, sz: dict) -> float:
    """µs per THP migration in a process with ``n`` other VMAs (single pages of
    alternating protection, so they cannot merge)."""
    mig = _Migrations("thp", sz["scale_thps"])
    for i in range(n):
        mig.p.mmap(0, PAGE_SIZE, thpsim.PROT_READ if i & 1 else RW, ANON)
    return _us_per_thp(mig)


def scale_gib(n: int, sz: dict) -> float:
    """µs per THP migration on a two-node machine of ``n`` simulated GiB."""
    m = _machine(n * GiB // 2)
    return _us_per_thp(_Migrations("thp", sz["scale_thps"], m))


# -- memory ---------------------------------------------------------------------------

def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/status (VmRSS, in kB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_rss(kind: str, node_bytes: int, length: int) -> dict[str, tuple[float, str]]:
    """Boot a two-node machine, map ``length``, store to every 4 KiB page; RSS figures."""
    gc.collect()
    baseline = rss_bytes()
    m = _machine(node_bytes, "never" if kind == "base" else "always", profile="seed")
    p = m.spawn(cpu=0)
    # the second half is touched from a CPU of the last node, so THP faults (local only
    # in the seed profile) find room; 2 MiB-aligned so every PMD can hold a THP
    far = p.clone(cpu=len(m.cpus) - 1)
    base = p.mmap(0, length + HPAGE_PMD_SIZE, RW, ANON)
    addr = (base + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    gc.collect()
    booted = rss_bytes()
    half = length // 2 & ~(HPAGE_PMD_SIZE - 1)
    _store_every(p.threads[0], addr, half, PAGE_SIZE)
    _store_every(far, addr + half, length - half, PAGE_SIZE)
    gc.collect()
    faulted = rss_bytes()
    if kind == "thp":
        assert m.vmstat()["thp_fault_alloc"] == length // HPAGE_PMD_SIZE
    sim = 2 * node_bytes / GiB
    return {
        f"rss_{kind}_baseline": (baseline / MiB, "MiB"),
        f"rss_{kind}_booted": (booted / MiB, "MiB"),
        f"rss_{kind}_faulted": (faulted / MiB, "MiB"),
        f"rss_{kind}_booted_per_gib": ((booted - baseline) / MiB / sim, "MiB/GiB"),
        f"rss_{kind}_growth_per_gib": ((faulted - booted) / MiB / (length / GiB), "MiB/GiB"),
    }


def _rss_in_child(kind: str, node_bytes: int, length: int) -> dict[str, tuple[float, str]]:
    out = subprocess.run(
        [sys.executable, "-m", "thpsim.bench", "--rss-child", kind,
         str(node_bytes), str(length)],
        check=True, capture_output=True, text=True,
    )
    return {k: tuple(v) for k, v in json.loads(out.stdout).items()}


# -- the run --------------------------------------------------------------------------

def _benches(sz: dict, in_process: bool, repeat: int):
    """Every measurement: ``(figures, fn, repetitions)``, ``figures`` a list of
    ``(name, unit, is a migration rate)`` and ``fn()`` one repetition's values of
    them, in that order."""
    def one(name, unit, migration, fn):
        return [(name, unit, migration)], lambda: [fn()], repeat

    yield one("base_page_faults_per_s", "faults/s", False, lambda: bench_base_faults(sz))
    yield one("thp_faults_per_s", "faults/s", False, lambda: bench_thp_faults(sz))
    for caller in ("move_pages", "mbind", "migrate_pages"):
        for kind in ("thp", "base"):
            yield one(f"{caller}_{kind}_per_s", "migrations/s", True,
                      lambda c=caller, k=kind: bench_caller(k, c, sz))
    yield one("move_pages_pte_thp_per_s", "migrations/s", True,
              lambda: bench_caller("pte_thp", "move_pages", sz))
    yield one("offline_thp_per_s", "migrations/s", True, lambda: bench_offline(sz))
    yield ([("stress_steps_per_s", "steps/s", False),
            ("stress_migrations_per_s", "migrations/s", True)],
           lambda: list(bench_stress(sz)), repeat)
    yield ([("modeled_time_steps_per_s", "steps/s", False),
            ("modeled_time_run_ms", "ms", False)],
           lambda: list(bench_stress_modeled(sz)), repeat)
    yield ([(f"modeled_move_pages_{w}_us", "us", False) for w in ("4k", "thp", "512x4k")],
           bench_modeled_move_pages, 1)
    for dim, fn in (("mappings", scale_mappings), ("cpus", scale_cpus),
                    ("vmas", scale_vmas), ("gib", scale_gib)):
        for n in sz[f"scale_{dim}"]:
            yield one(f"scale_{dim}_{n}_us", "us/THP", False, lambda f=fn, n=n: f(n, sz))

    def rss(kind: str, figs: list) -> list[float]:
        args = (kind, sz["rss_node_bytes"], sz["rss_fault_bytes"])
        got = measure_rss(*args) if in_process else _rss_in_child(*args)
        return [got[name][0] for name, _, _ in figs]

    for kind in ("base", "thp"):
        figs = [(f"rss_{kind}_{w}", "MiB", False) for w in ("baseline", "booted", "faulted")]
        figs += [(f"rss_{kind}_{w}_per_gib", "MiB/GiB", False) for w in ("booted", "growth")]
        # one repetition: each is a fresh interpreter filling gigabytes
        yield figs, lambda k=kind, f=figs: rss(k, f), 1


def run(sz: dict, repeat: int, only: str | None, in_process: bool,
        emit: Callable[[Figure], None]) -> list[Figure]:
    out = []
    for figs, fn, reps in _benches(sz, in_process, repeat):
        if only and not any(only in name for name, _, _ in figs):
            continue
        values = [fn() for _ in range(reps)]
        for k, (name, unit, migration) in enumerate(figs):
            out.append(Figure(name, [v[k] for v in values], unit, migration))
            emit(out[-1])
    return out


def _git_rev() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=True,
                              capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("thpsim")
    except PackageNotFoundError:
        return "unknown"


def machine_facts() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="thpsim bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--repeat", type=positive_int, help="repetitions per figure (median)")
    ap.add_argument("--only", help="only the figures whose name contains this")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--save-baseline", nargs="?", const=str(BASELINE), metavar="FILE",
                    help=f"store the figures as the baseline (default {BASELINE.name})")
    ap.add_argument("--compare", nargs="?", const=str(BASELINE), metavar="FILE",
                    help="show each figure as a ratio to a stored baseline")
    ap.add_argument("--in-process", action="store_true",
                    help="measure RSS in this process, not in fresh interpreters")
    ap.add_argument("--rss-child", nargs=3, metavar=("KIND", "NODE_BYTES", "LENGTH"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        kind, node_bytes, length = args.rss_child
        print(json.dumps(measure_rss(kind, int(node_bytes), int(length))))
        return 0
    mode = "quick" if args.quick else "full"
    repeat = args.repeat or (3 if args.quick else 5)
    base = None
    if args.compare:
        try:
            base = {k: v["value"] for k, v in
                    json.loads(Path(args.compare).read_text())["figures"].items()}
        except FileNotFoundError:
            raise UsageError(f"--compare {args.compare}: no such baseline (an installed "
                             f"thpsim has none: pass the file)") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise UsageError(f"--compare {args.compare}: not a bench baseline ({e})") from None
    if args.save_baseline:
        check_writable(args.save_baseline)

    def emit(f: Figure) -> None:
        if not args.json:
            print(f.line(base), flush=True)

    figs = run(SIZES[mode], repeat, args.only, args.in_process, emit)
    doc = {"thpsim": _version(), "git": _git_rev(), "mode": mode,
           "repeat": repeat, "seed_rate": SEED_RATE, "machine": machine_facts(),
           "figures": {f.name: f.as_json() for f in figs}}
    if args.json:
        print(json.dumps(doc, indent=1))
    if args.save_baseline:
        write_atomic(args.save_baseline, json.dumps(doc, indent=1) + "\n")
        if not args.json:
            print(f"baseline written to {args.save_baseline}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
