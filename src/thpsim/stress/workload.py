"""Stress workloads: what each simulated CPU does in one round, with expected outcomes.

Model-only. A round's programs are drawn from the run's seed before the round
runs. User threads each own a region of one process's address space (THPs and
a base-page area) and are the only ones to change it, so every outcome of their
operations -- the value a load returns, whether a store faults, what a system
call returns -- follows from their own history, whatever the interleaving;
each operation checks its outcome when it completes (the integrity oracle).
Migrator CPUs move random pages of every region between nodes, and may hit
pages in the middle of any of it. A fork operation forks the process; the child
reads the forking thread's region back (it must see the values at fork time,
while the parent goes on writing) and exits.
"""

from __future__ import annotations

import errno
import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_NOHUGEPAGE,
    MADV_SOFT_OFFLINE,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    DeliveredSignal,
    IntegrityError,
    Machine,
)
from thpsim.api import Syscalls
from thpsim.errors import ConfigError
from thpsim.profiles import make_profile
from thpsim.testing import PREEMPT, Op, Program, memory_word, poisoned_frames, thread_program

MB = 1 << 20
#: Where the regions live: thread i at BASE + i * STRIDE, its mremap spare at + SPARE.
BASE = 0x7000_0000_0000
STRIDE = 64 * MB
SPARE = 32 * MB
SMALL_PAGES = 512
#: /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst)
PM_PFRAME_MASK = (1 << 55) - 1
PM_SWAP = 1 << 62
PM_PRESENT = 1 << 63
MEMORY_DIR = "/sys/devices/system/memory"
UNPOISON_PFN = "/sys/kernel/debug/hwpoison/unpoison-pfn"
CGROUP_V2_ROOT = "/sys/fs/cgroup"
CGROUP_V1_CPUSET_ROOT = "/sys/fs/cgroup/cpuset"

__all__ = ["StressConfig", "Workload"]


@dataclass
class StressConfig:
    """Everything a stress run depends on besides its seed."""

    profile: str = "seed"
    switches: dict[str, Any] = field(default_factory=dict)
    nodes: dict[int, int] = field(default_factory=lambda: {0: 256 * MB, 1: 256 * MB})
    block_size: int = 128 * MB
    user_threads: int = 2
    migrators: int = 1
    thps_per_thread: int = 2
    ops_per_round: int = 40
    rounds: int = 50
    policy: str = "random"
    pct_depth: int = 3
    check_every: int = 5  # rounds between full invariant checks
    fork: bool = True
    migrate_batch: int = 16
    #: soft-offline operations per run at most, unless ``unpoison``
    soft_offline_budget: int = 8
    #: each migrator unpoisons what is poisoned at the end of its round (hwpoison-inject's
    #: unpoison-pfn), so soft offline runs without a budget and frames are not drained
    unpoison: bool = True
    #: bytes at the top of each node in ZONE_MOVABLE (movablecore=); None: half of each
    movable: dict[int, int] | None = None
    #: the first migrator offlines a ZONE_MOVABLE memory block and onlines it again
    hotplug: bool = True
    #: migrators move the process between cpusets and change their mems
    cpusets: bool = True
    #: users write /proc/PID/clear_refs (1-5)
    clear_refs: bool = True
    #: users read their own pagemap; migrators read smaps, smaps_rollup, numa_maps, pagemap
    proc_readers: bool = True
    #: a quarter of the range operations (MADV_DONTNEED/FREE, mprotect, munmap, MAP_FIXED)
    #: that land in the THP part cover one whole 2 MiB THP, as an allocator purging or
    #: protecting a huge page does (zap_huge_pmd/change_huge_pmd, not a split)
    whole_thp_ranges: bool = True
    #: the machine runs the cost model (Machine(modeled_time=True), docs/modeled-time.md);
    #: it changes nothing the run does, only adds modeled time to the summary
    modeled_time: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """A configuration the harness can run, or :class:`ConfigError` saying what is
        wrong: counts at least 1, a known profile and switches, two nodes or more, and
        the user regions (with fork's copies) within the nodes' memory, so the OOM
        killer does not end a run with a false integrity failure."""
        for name in ("user_threads", "migrators", "thps_per_thread", "ops_per_round",
                     "check_every", "migrate_batch", "pct_depth"):
            v = getattr(self, name)
            if type(v) is not int or v < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, not {v!r}")
        if type(self.rounds) is not int or self.rounds < 0:
            raise ConfigError(f"rounds must be a non-negative integer, not {self.rounds!r}")
        if self.policy not in ("random", "pct", "rr"):
            raise ConfigError(f"unknown policy {self.policy!r}; known: random, pct, rr")
        make_profile(self.profile, **self.switches)
        if len(self.nodes) < 2:
            raise ConfigError("the stress harness needs two nodes or more")
        if (self.thps_per_thread + 1) * HPAGE_PMD_SIZE > STRIDE:
            raise ConfigError(f"thps-per-thread must be at most "
                              f"{STRIDE // HPAGE_PMD_SIZE - 1}, not {self.thps_per_thread}")
        need = self.user_threads * (self.thps_per_thread + 1) * HPAGE_PMD_SIZE * 2
        total = sum(self.nodes.values())
        if need > total:
            raise ConfigError(
                f"{self.user_threads} user threads need about {need >> 20} MiB of simulated "
                f"memory (their regions and fork's copies), more than the nodes' "
                f"{total >> 20} MiB: use fewer threads or larger nodes (--node-mib)")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.modeled_time:
            del d["modeled_time"]  # off: the form (and campaign hashes) of before
        d["nodes"] = {str(k): v for k, v in self.nodes.items()}
        if self.movable is not None:
            d["movable"] = {str(k): v for k, v in self.movable.items()}
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> StressConfig:
        """The configuration a reproducer or campaign stored; ConfigError if malformed."""
        if not isinstance(d, dict):
            raise ConfigError("config is not a JSON object")
        d = dict(d)
        known = {f.name for f in fields(StressConfig)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        try:
            d["nodes"] = {int(k): int(v) for k, v in d["nodes"].items()}
            if d.get("movable") is not None:
                d["movable"] = {int(k): int(v) for k, v in d["movable"].items()}
        except (KeyError, AttributeError, TypeError, ValueError) as e:
            raise ConfigError(f"config nodes/movable malformed ({e})") from None
        if not isinstance(d.get("switches", {}), dict):
            raise ConfigError("config switches is not an object")
        return StressConfig(**d)

    def movable_bytes(self) -> dict[int, int]:
        if self.movable is not None:
            return dict(self.movable)
        return {nid: size // 2 for nid, size in self.nodes.items()}

    def size(self) -> int:
        """How big a reproducer is: operations issued (what shrinking reduces first)."""
        return (self.user_threads + self.migrators) * self.ops_per_round * self.rounds

    def complexity(self) -> tuple[int, int]:
        """What shrinking minimises: the size, then how many optional kinds of kernel
        activity are on."""
        return self.size(), sum(map(bool, (self.fork, self.hotplug, self.cpusets,
                                           self.clear_refs, self.proc_readers,
                                           self.unpoison)))


class _Region:
    """A user thread's view of its own region: expected contents and protections."""

    def __init__(self, base: int, thp_bytes: int):
        self.base = base
        self.thp_bytes = thp_bytes
        self.small = base + thp_bytes
        self.length = thp_bytes + SMALL_PAGES * PAGE_SIZE
        self.values: dict[int, int] = {}  # page offset -> expected value (absent: 0)
        self.unmapped: set[int] = set()
        self.readonly: set[int] = set()
        #: the THP part lives at base + SPARE after an mremap
        self.moved = False
        #: the THP part is still one VMA (no munmap, remap or mprotect touched it)
        self.pristine = True

    def addr(self, off: int) -> int:
        return self.base + off + (SPARE if self.moved and off < self.thp_bytes else 0)

    def offsets(self) -> range:
        return range(0, self.length, PAGE_SIZE)

    def touch(self, off: int, length: int) -> None:
        """A change of VMA structure in [off, off + length)."""
        if off < self.thp_bytes:
            self.pristine = False

    def replace(self, off: int, length: int, mapped: bool) -> None:
        """[off, off + length) unmapped (munmap) or ``mapped`` afresh (MAP_FIXED): its
        contents read 0 again and it is writable (once mapped)."""
        for o in range(off, off + length, PAGE_SIZE):
            if mapped:
                self.unmapped.discard(o)
            else:
                self.unmapped.add(o)
            self.readonly.discard(o)
            self.values.pop(o, None)
        self.touch(off, length)


class Workload:
    """Builds the machine and, round by round, the programs of every CPU."""

    def __init__(self, cfg: StressConfig, seed: int):
        self.cfg = cfg
        self.seed = seed
        ncpu = cfg.user_threads + cfg.migrators
        self.m = Machine(nodes=dict(cfg.nodes), block_size=cfg.block_size, cpus=ncpu,
                         profile=cfg.profile, seed=seed, shadow=False,
                         movable=cfg.movable_bytes(), modeled_time=cfg.modeled_time,
                         **cfg.switches)
        self.p = self.m.spawn(cpu=0, comm="stress")
        self.threads = [self.p.threads[0]] + [self.p.clone(cpu=c) for c in range(1, ncpu)]
        self.regions: list[_Region] = []
        for i in range(cfg.user_threads):
            r = _Region(BASE + i * STRIDE, cfg.thps_per_thread * HPAGE_PMD_SIZE)
            self.p.mmap(r.base, r.length, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
            self.p.madvise(r.small, SMALL_PAGES * PAGE_SIZE, MADV_NOHUGEPAGE)
            self.regions.append(r)
        self.node_ids = sorted(self.m.nodes)
        self.max_pfn = sum(self.m.nodes.values()) // PAGE_SIZE  # nodes are contiguous
        self.rounds_built = 0
        self.soft_offlined = 0
        self.cpusets = self._make_cpusets() if cfg.cpusets else []
        self.movable_blocks = self._movable_blocks() if cfg.hotplug else []

    def _make_cpusets(self) -> list[str]:
        """One cpuset per node and one with every node (v1: memory_migrate on), made as
        an administrator would, through the cgroup files. Returns their directories,
        the root's first."""
        fs = self.m.fs
        v2 = self.m.profile.cpuset_cgroup_v2
        root = CGROUP_V2_ROOT if v2 else CGROUP_V1_CPUSET_ROOT
        if v2:
            fs.write(f"{root}/cgroup.subtree_control", "+cpuset")
        masks = [str(n) for n in self.node_ids] + [",".join(map(str, self.node_ids))]
        for i, mems in enumerate(masks):
            path = f"{root}/stress{i}"
            fs.mkdir(path)
            if not v2:  # v1: a task needs CPUs and mems to attach
                fs.write(f"{path}/cpuset.cpus", f"0-{len(self.m.cpus) - 1}")
            fs.write(f"{path}/cpuset.mems", mems)
            if not v2:
                fs.write(f"{path}/cpuset.memory_migrate", "1")
        return [root] + [f"{root}/stress{i}" for i in range(len(masks))]

    def _movable_blocks(self) -> list[int]:
        """The memory blocks wholly in ZONE_MOVABLE (what offlining can empty), from
        their valid_zones (an online block's zone; ``none`` when it spans two)."""
        fs = self.m.fs
        blocks = sorted(int(name[len("memory"):]) for name in fs.listdir(MEMORY_DIR)
                        if name.startswith("memory"))
        return [b for b in blocks
                if fs.read(f"{MEMORY_DIR}/memory{b}/valid_zones") == "Movable\n"]

    def rng(self, round_: int, cpu: int) -> random.Random:
        return random.Random(f"{self.seed}:{round_}:{cpu}")

    # ---- one round
    def programs(self, round_: int) -> list[Program]:
        """Thread i (on CPU i) runs its program; each operation is a system call (or user
        access) of its thread: through the kernel entry, as the API's are (signals,
        lockdep_sys_exit)."""
        progs = []
        for i in range(self.cfg.user_threads):
            progs.append(thread_program(self.threads[i], self._user_ops(round_, i)))
        for j in range(self.cfg.migrators):
            cpu = self.cfg.user_threads + j
            progs.append(thread_program(self.threads[cpu], self._migrator_ops(round_, cpu)))
        self.rounds_built = round_ + 1
        return progs

    def _user_ops(self, round_: int, i: int) -> list[Op]:
        rng = self.rng(round_, i)
        r = self.regions[i]
        sys = self.threads[i].sys
        ops: list[Op] = []
        n = self.cfg.ops_per_round
        while len(ops) < n:
            x = rng.random()
            if x < 0.37:
                ops.append(self._store(sys, r, rng.choice(r.offsets()), rng.getrandbits(64)))
            elif x < 0.385 and self.cfg.clear_refs:
                ops.append(self._clear_refs(sys, rng.randint(1, 5)))
            elif x < 0.40 and self.cfg.proc_readers:
                ops.append(self._pagemap_self(sys, r))
            elif x < 0.40:
                ops.append(self._store(sys, r, rng.choice(r.offsets()), rng.getrandbits(64)))
            elif x < 0.70:
                ops.append(self._load(sys, r, rng.choice(r.offsets())))
            elif x < 0.74:
                ops.append(self._dontneed(sys, r, *self._subrange(rng, r)))
            elif x < 0.77:
                ops.append(self._free(sys, r, *self._subrange(rng, r)))
            elif x < 0.81:
                ops.append(self._mprotect(sys, r, *self._subrange(rng, r), rng.random() < 0.5))
            elif x < 0.84:
                ops.append(self._munmap(sys, r, *self._subrange(rng, r)))
            elif x < 0.88:
                ops.append(self._remap(sys, r, *self._subrange(rng, r)))
            elif x < 0.91:
                if r.pristine:
                    ops.append(self._mremap(sys, r))
            elif x < 0.93 and self.cfg.fork:
                ops.extend(self._fork_ops(sys, r, rng, i))
            elif x < 0.98:
                # a fresh whole THP (a 2 MiB-aligned mapping faults in PMD-mapped again)
                k = rng.randrange(self.cfg.thps_per_thread)
                ops.append(self._remap(sys, r, k * HPAGE_PMD_SIZE, HPAGE_PMD_SIZE))
            else:
                # the whole THP part mapped afresh: one VMA again, so mremap can move it
                ops.append(self._remap(sys, r, 0, r.thp_bytes))
                r.pristine = True
        return ops

    def _subrange(self, rng: random.Random, r: _Region) -> tuple[int, int]:
        """A page range inside one part of the region (the THP part or the small part)."""
        npages = r.length // PAGE_SIZE
        thp_pages = r.thp_bytes // PAGE_SIZE
        # a quarter of the range operations cut the THPs (splits; with whole_thp_ranges a
        # quarter of those take a whole THP); the rest the small part
        if rng.random() < 0.25:
            if self.cfg.whole_thp_ranges and rng.random() < 0.25:
                k = rng.randrange(self.cfg.thps_per_thread)
                return k * HPAGE_PMD_SIZE, HPAGE_PMD_SIZE
            start = rng.randrange(thp_pages)
        else:
            start = rng.randrange(thp_pages, npages)
        end_part = thp_pages if start < thp_pages else npages
        length = rng.choice([1, 2, 3, 8, 64, 256, 512])
        return start * PAGE_SIZE, min(length, end_part - start) * PAGE_SIZE

    def _migrator_ops(self, round_: int, cpu: int) -> list[Op]:
        rng = self.rng(round_, cpu)
        sys = self.threads[cpu].sys
        ops = []
        eagain = {-errno.EAGAIN} if not self.m.profile.move_pages_batched else set()
        for n_op in range(max(1, self.cfg.ops_per_round // 2)):
            k = rng.randint(1, self.cfg.migrate_batch)
            pages = []
            for _ in range(k):
                r = rng.choice(self.regions)
                off = rng.choice(r.offsets())
                pages.append(r.base + (SPARE if rng.random() < 0.2 else 0) + off)
            # alternate the target, so most pages are elsewhere when asked to move
            node = self.node_ids[(round_ + n_op + cpu) % len(self.node_ids)]
            flags = MPOL_MF_MOVE_ALL if rng.random() < 0.3 else MPOL_MF_MOVE
            # 4.14 writes the last rc through the result pointer: -EAGAIN when a page kept
            # an extra reference (a fault waiting on its migration entry) for 10 passes
            ok = set(self.node_ids) | {-errno.ENOENT, -errno.EFAULT, -errno.EBUSY,
                                       -errno.EACCES, -errno.ENOMEM} | eagain

            def start(pages=pages, node=node, flags=flags, ok=ok):
                ret, status = yield from sys.move_pages(0, pages, [node] * len(pages), flags)
                # -EACCES: the target node is outside the task's cpuset
                if ret < 0 and ret not in (-errno.ENOMEM, -errno.EACCES):
                    raise IntegrityError(f"move_pages returned {ret}")
                bad = [s for s in status if s is not None and s not in ok]
                if bad:
                    raise IntegrityError(f"move_pages statuses {bad}")
                return ret

            ops.append(Op("move_pages", start))
            x = rng.random()
            if x < 0.12:
                ops.append(self._mbind_op(rng, sys))
            elif x < 0.20:
                ops.append(self._migrate_pages_op(rng, sys))
            elif x < 0.23 and (self.cfg.unpoison
                               or self.soft_offlined < self.cfg.soft_offline_budget):
                self.soft_offlined += 1
                ops.append(self._soft_offline_op(rng, sys))
            elif x < 0.28 and self.cpusets:
                ops.append(self._cpuset_op(rng, sys))
            elif x < 0.33 and self.cfg.proc_readers:
                ops.append(self._proc_reader_op(rng, sys))
        if self.cfg.unpoison:
            ops.append(self._unpoison_op(sys))
        if cpu == self.cfg.user_threads and self.movable_blocks and rng.random() < 0.3:
            # one memory block goes offline somewhere in the round, and online at its end
            block = rng.choice(self.movable_blocks)
            holder: dict[str, int] = {}
            ops.insert(rng.randrange(len(ops) + 1), self._offline_op(sys, block, holder))
            ops.append(self._online_op(sys, block, holder))
        return ops

    # ---- the other migration callers (they move data, never change it)
    def _mbind_op(self, rng: random.Random, sys: Syscalls) -> Op:
        """mbind(MPOL_BIND to one node, MOVE) over part of a small area, then back to
        MPOL_DEFAULT: the pages move, VMAs split and merge again. Only the small
        areas, so the THP parts stay one VMA for mremap."""
        r = rng.choice(self.regions)
        start = r.small + rng.randrange(SMALL_PAGES // 2) * PAGE_SIZE
        length = rng.randint(1, SMALL_PAGES // 2) * PAGE_SIZE
        node = rng.choice(self.node_ids)
        # -EFAULT: a hole in the range; -ENOMEM: no VMA; -EINVAL: the node is outside
        # the task's cpuset (mpol_set_nodemask()). No MPOL_MF_STRICT, so never -EIO.
        ok = {0, -errno.EFAULT, -errno.ENOMEM, -errno.EINVAL}

        def start_():
            ret = yield from sys.mbind(start, length, MPOL_BIND, 1 << node, 1024, MPOL_MF_MOVE)
            if ret not in ok:
                raise IntegrityError(f"mbind returned {ret}")
            ret2 = yield from sys.mbind(start, length, MPOL_DEFAULT, None, 0, 0)
            if ret2 not in ok - {-errno.EINVAL}:
                raise IntegrityError(f"mbind(MPOL_DEFAULT) returned {ret2}")
            return ret

        return Op("mbind", start_)

    def _migrate_pages_op(self, rng: random.Random, sys: Syscalls) -> Op:
        src, dst = rng.sample(self.node_ids, 2) if len(self.node_ids) > 1 else (0, 0)

        def start_():
            ret = yield from sys.migrate_pages(0, 1024, 1 << src, 1 << dst)
            # -EINVAL: the target node is outside the task's cpuset
            if ret < 0 and ret not in (-errno.ENOMEM, -errno.EINVAL):
                raise IntegrityError(f"migrate_pages returned {ret}")
            return ret

        return Op("migrate_pages", start_)

    def _soft_offline_op(self, rng: random.Random, sys: Syscalls) -> Op:
        """Soft offline one random page (unpoisoned at the end of the round, or bounded
        per run, so frames are not drained)."""
        r = rng.choice(self.regions)
        # mostly a page its owner has written (mapped, no zero page), as of the build
        written = sorted(r.values)
        off = rng.choice(written) if written and rng.random() < 0.8 else rng.choice(r.offsets())
        addr = r.addr(off)
        ok = {0, -errno.EIO, -errno.EBUSY, -errno.EFAULT, -errno.ENOMEM}

        def start_():
            ret = yield from sys.madvise(addr, PAGE_SIZE, MADV_SOFT_OFFLINE)
            if ret not in ok:
                raise IntegrityError(f"soft offline of {addr:#x} returned {ret}")
            return ret

        return Op("soft_offline", start_)

    def _unpoison_op(self, sys: Syscalls) -> Op:
        """Unpoison every poisoned frame by writing it to
        /sys/kernel/debug/hwpoison/unpoison-pfn (unpoison_memory()): each is given back,
        or refused while someone still holds it (-EBUSY in mainline, 0 in 4.14)."""
        m = self.m
        ok = {0, -errno.EBUSY}

        def start_():
            done = 0
            # frames in offline memory wait for their block to come back (-EIO)
            for pfn in poisoned_frames(m):
                yield PREEMPT  # one write per frame
                ret = yield from _write_file(sys, UNPOISON_PFN, str(pfn))
                if ret not in ok:
                    raise IntegrityError(f"unpoison of pfn {pfn:#x} returned {ret}")
                done += ret == 0
            return done

        return Op("unpoison", start_)

    def _cpuset_op(self, rng: random.Random, sys: Syscalls) -> Op:
        """Move the whole process to a cpuset (its pages follow: memory_migrate), or
        change the mems of one of the stress cpusets (the pages of its tasks follow)."""
        if rng.random() < 0.5:
            # a third of the moves confine the process to one node: the pages move there
            # and move_pages(2)/mbind(2) to other nodes fail until it moves back
            single = self.cpusets[1:-1]
            cs = rng.choice(single if rng.random() < 0.33 else [self.cpusets[0],
                                                                 self.cpusets[-1]])
            pid = str(self.p.pid)
            return self._expect("cpuset attach",
                                lambda: _write_file(sys, f"{cs}/cgroup.procs", pid), 0)
        cs = rng.choice(self.cpusets[1:])
        nodes = [n for n in self.node_ids if rng.random() < 0.5] or [rng.choice(self.node_ids)]
        mems = ",".join(map(str, nodes))
        return self._expect("cpuset.mems",
                            lambda: _write_file(sys, f"{cs}/cpuset.mems", mems), 0)

    def _offline_op(self, sys: Syscalls, block: int, holder: dict[str, int]) -> Op:
        state = f"{MEMORY_DIR}/memory{block}/state"

        def start_():
            ret = yield from _write_file(sys, state, "offline")
            if ret not in (0, -errno.EBUSY):
                raise IntegrityError(f"offline of memory{block} returned {ret}")
            holder["offlined"] = ret == 0
            return ret

        return Op(f"offline memory{block}", start_)

    def _online_op(self, sys: Syscalls, block: int, holder: dict[str, int]) -> Op:
        state = f"{MEMORY_DIR}/memory{block}/state"

        def start_():
            if not holder.get("offlined"):
                return None
            ret = yield from _write_file(sys, state, "online_movable")
            if ret != 0:
                raise IntegrityError(f"online_movable of memory{block} returned {ret}")
            return ret

        return Op(f"online memory{block}", start_)

    def _proc_reader_op(self, rng: random.Random, sys: Syscalls) -> Op:
        """Read one of the process's page-table views as another task would, and check
        it is self-consistent (every count within its VMA, THPs counted whole)."""
        kind = rng.choice(["smaps", "smaps_rollup", "numa_maps", "pagemap"])
        proc = f"/proc/{self.p.pid}"
        max_pfn = self.max_pfn

        def start_():
            if kind == "smaps":
                text = yield from sys.read_file(f"{proc}/smaps")
                _check_smaps(text)
            elif kind == "smaps_rollup":
                text = yield from sys.read_file(f"{proc}/smaps_rollup")
                _check_smaps(text)
            elif kind == "numa_maps":
                text = yield from sys.read_file(f"{proc}/numa_maps")
                _check_numa_maps(text, self.node_ids)
            else:
                r = rng.choice(self.regions)
                start = r.base + (SPARE if r.moved else 0)
                n = r.thp_bytes // PAGE_SIZE
                data = yield from _pagemap(sys, proc, start, n)
                for k in range(n):
                    e = int.from_bytes(data[8 * k: 8 * k + 8], "little")
                    if e & PM_PRESENT and e & PM_SWAP:
                        raise IntegrityError(f"pagemap entry {e:#x} both present and swap")
                    pfn = e & PM_PFRAME_MASK
                    if e & PM_PRESENT and pfn >= max_pfn:
                        raise IntegrityError(f"pagemap shows pfn {pfn:#x} beyond memory")
                text = data
            return len(text)

        return Op(f"read {kind}", start_)

    # ---- user operations with their expected outcomes (decided now, checked at run time)
    def _clear_refs(self, sys: Syscalls, cp_type: int) -> Op:
        """echo N > /proc/self/clear_refs: only bits change (A, soft-dirty, write
        protection); later stores must still land."""

        def start_():
            yield from sys.write_file("/proc/self/clear_refs", str(cp_type))
            return None

        return Op(f"clear_refs {cp_type}", start_)

    def _pagemap_self(self, sys: Syscalls, r: _Region) -> Op:
        """Read the own region's pagemap: a page written and not unmapped since is present
        (or under migration: a migration entry, PM_SWAP); an unmapped page is neither."""
        offs = list(r.offsets())
        written = {o for o in offs if r.values.get(o, 0) and o not in r.unmapped}
        unmapped = set(r.unmapped)
        addrs = {o: r.addr(o) for o in offs}
        thp_at = r.addr(0)
        small_at = r.small

        def start_():
            got: dict[int, int] = {}
            for base, first, n in ((thp_at, 0, r.thp_bytes // PAGE_SIZE),
                                   (small_at, r.thp_bytes, SMALL_PAGES)):
                data = yield from _pagemap(sys, "/proc/self", base, n)
                for k in range(n):
                    got[first + k * PAGE_SIZE] = int.from_bytes(data[8 * k: 8 * k + 8],
                                                                "little")
            for o in offs:
                e = got[o]
                if o in written and not e & (PM_PRESENT | PM_SWAP):
                    raise IntegrityError(f"pagemap: written page {addrs[o]:#x} reads as "
                                         f"not present ({e:#x})")
                if o in unmapped and e & (PM_PRESENT | PM_SWAP):
                    raise IntegrityError(f"pagemap: unmapped page {addrs[o]:#x} reads as "
                                         f"mapped ({e:#x})")
            return len(got)

        return Op("read pagemap", start_)

    def _store(self, sys: Syscalls, r: _Region, off: int, value: int) -> Op:
        faults = off in r.unmapped or off in r.readonly
        if not faults:
            r.values[off] = value
        addr = r.addr(off)

        def start():
            got = yield from _user_access(
                f"store to {addr:#x}", faults, lambda: sys.store(addr, value),
                lambda _: f"store to {addr:#x} should have faulted")
            return got if faults else None

        return Op("store", start)

    def _load(self, sys: Syscalls, r: _Region, off: int) -> Op:
        faults = off in r.unmapped
        want = r.values.get(off, 0)
        addr = r.addr(off)

        def start():
            got = yield from _user_access(
                f"load from {addr:#x}", faults, lambda: sys.load(addr),
                lambda got: f"load from unmapped {addr:#x} returned {got[0]:#x}")
            if faults:
                return got
            value, pfn = got
            if value != want:
                raise IntegrityError(
                    f"lost write: pid {sys.pid} CPU{sys.cpu} loaded {value:#x} at "
                    f"{addr:#x} (frame {pfn:#x}), expected {want:#x}"
                )
            return value

        return Op("load", start)

    def _expect(self, name: str, gen_fn: Any, want: int) -> Op:
        def start():
            ret = yield from gen_fn()
            if ret != want:
                raise IntegrityError(f"{name} returned {ret}, expected {want}")
            return ret

        return Op(name, start)

    def _dontneed(self, sys: Syscalls, r: _Region, off: int, length: int) -> Op:
        offs = range(off, off + length, PAGE_SIZE)
        hole = any(o in r.unmapped for o in offs)
        for o in offs:
            if o not in r.unmapped:
                r.values.pop(o, None)
        addr = r.addr(off)
        return self._expect("madvise(DONTNEED)",
                            lambda: sys.madvise(addr, length, MADV_DONTNEED),
                            -errno.ENOMEM if hole else 0)

    def _free(self, sys: Syscalls, r: _Region, off: int, length: int) -> Op:
        hole = any(o in r.unmapped for o in range(off, off + length, PAGE_SIZE))
        addr = r.addr(off)
        return self._expect("madvise(FREE)", lambda: sys.madvise(addr, length, MADV_FREE),
                            -errno.ENOMEM if hole else 0)

    def _mprotect(self, sys: Syscalls, r: _Region, off: int, length: int, ro: bool) -> Op:
        offs = list(range(off, off + length, PAGE_SIZE))
        hole = next((i for i, o in enumerate(offs) if o in r.unmapped), None)
        changed = offs if hole is None else offs[:hole]
        for o in changed:
            if ro:
                r.readonly.add(o)
            else:
                r.readonly.discard(o)
        r.touch(off, length)
        addr = r.addr(off)
        prot = PROT_READ if ro else PROT_READ | PROT_WRITE
        return self._expect("mprotect", lambda: sys.mprotect(addr, length, prot),
                            0 if hole is None else -errno.ENOMEM)

    def _munmap(self, sys: Syscalls, r: _Region, off: int, length: int) -> Op:
        r.replace(off, length, False)
        addr = r.addr(off)
        return self._expect("munmap", lambda: sys.munmap(addr, length), 0)

    def _remap(self, sys: Syscalls, r: _Region, off: int, length: int) -> Op:
        r.replace(off, length, True)
        addr = r.addr(off)
        return self._expect(
            "mmap(FIXED)",
            lambda: sys.mmap(addr, length, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
            addr,
        )

    def _mremap(self, sys: Syscalls, r: _Region) -> Op:
        old = r.addr(0)
        r.moved = not r.moved
        new = r.addr(0)
        length = r.thp_bytes
        return self._expect(
            "mremap",
            lambda: sys.mremap(old, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, new),
            new,
        )

    def _fork_ops(self, sys: Syscalls, r: _Region, rng: random.Random, i: int) -> list[Op]:
        """fork; the child reads some pages; the parent overwrites them; the child reads
        again (still the fork-time values); the child exits."""
        m = self.m
        holder: dict[str, Any] = {}
        mapped = [o for o in r.offsets() if o not in r.unmapped]
        if not mapped:
            return []
        picks = [rng.choice(mapped) for _ in range(3)]
        snapshot = {o: r.values.get(o, 0) for o in picks}
        where = {o: r.addr(o) for o in picks}

        def fork():
            child = yield from sys.fork()
            if isinstance(child, int):
                raise IntegrityError(f"fork failed: {child}")
            holder["child"] = Syscalls(m, child)
            return holder["child"].tid

        def child_reads():
            child = holder["child"]
            for o in picks:
                value, _ = yield from child.load(where[o])
                if value != snapshot[o]:
                    raise IntegrityError(
                        f"COW broken: child {child.tid} read {value:#x} at "
                        f"{where[o]:#x}, expected the fork-time {snapshot[o]:#x}"
                    )
            return len(picks)

        def child_exit():
            child = holder.pop("child")
            leaks = yield from child.exit()
            if leaks:
                raise IntegrityError("; ".join(leaks))
            return 0

        ops = [Op("fork", fork), Op("child reads", child_reads)]
        for o in picks:
            ops.append(self._store(sys, r, o, rng.getrandbits(64)))
        ops += [Op("child reads", child_reads), Op("child exit", child_exit)]
        return ops

    # ---- the final oracle
    def final_check(self) -> None:
        """Every page of every region holds what its owner last wrote (no TLB involved)."""
        for r in self.regions:
            for off in r.offsets():
                got = memory_word(self.p, r.addr(off))
                if off in r.unmapped:
                    if got is not None:
                        raise IntegrityError(f"{r.addr(off):#x} should be unmapped")
                    continue
                want = r.values.get(off, 0)
                if got is None:
                    got = 0  # never touched: reads 0
                if got != want:
                    raise IntegrityError(
                        f"lost write: memory at {r.addr(off):#x} holds {got:#x}, "
                        f"expected {want:#x}"
                    )


def _user_access(what: str, faults: bool, access: Any, unexpected: Any) -> Any:
    """Run a user access that must fault (``faults``: then it returns "SIGSEGV") or
    must not (then it returns the access's result); else IntegrityError, with
    ``unexpected(result)`` as the message for an access that should have faulted."""
    try:
        got = yield from access()
    except DeliveredSignal as e:
        if not faults:
            raise IntegrityError(f"{what} got {e}") from None
        return "SIGSEGV"
    if faults:
        raise IntegrityError(unexpected(got))
    return got


def _pagemap(sys: Syscalls, proc: str, start: int, n: int) -> Any:
    """A read of ``n`` pagemap entries from ``start`` in ``proc``/pagemap (a kernel path)."""
    return sys.read_file(f"{proc}/pagemap", (start >> PAGE_SHIFT) * 8, n * 8)


def _write_file(sys: Syscalls, path: str, data: str) -> Any:
    """A write of ``data`` to ``path`` (a kernel path): 0, or the negative errno it
    failed with (what the kernel function behind the file returned)."""
    try:
        yield from sys.write_file(path, data)
    except OSError as e:
        return -e.errno
    return 0


def _check_smaps(text: str) -> None:
    """Each smaps record: Rss within Size, Anonymous within Rss, AnonHugePages within
    Anonymous and a multiple of 2 MiB (a THP is counted whole or not at all)."""
    rec: dict[str, int] = {}

    def check() -> None:
        if not rec:
            return
        if "Size" in rec and not rec.get("Rss", 0) <= rec["Size"]:  # rollup: no Size
            raise IntegrityError(f"smaps Rss beyond Size: {rec}")
        if not rec.get("Anonymous", 0) <= rec.get("Rss", 0):
            raise IntegrityError(f"smaps counts out of bounds: {rec}")
        thp = rec.get("AnonHugePages", 0)
        if thp % 2048 or thp > rec.get("Anonymous", 0):
            raise IntegrityError(f"smaps AnonHugePages {thp} kB: {rec}")

    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if " " in key or not rest.strip().endswith("kB"):
            if "-" in line.split(" ", 1)[0]:  # a VMA header starts the next record
                check()
                rec = {}
            continue
        rec[key] = int(rest.split()[0])
    check()


def _check_numa_maps(text: str, node_ids: list[int]) -> None:
    """Each numa_maps line: the per-node counts add up to the anonymous pages."""
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)
        per_node = sum(int(fields.get(f"N{n}", 0)) for n in node_ids)
        anon = int(fields.get("anon", 0))
        if anon and per_node != anon:
            raise IntegrityError(f"numa_maps: anon={anon} but nodes sum to {per_node}: {line}")
