"""User-space placement policies: the plug-in interface and three policies.

Model-only (user-space programs; each names the kernel mechanism it imitates). A
policy is a class with a ``name`` and two methods: :meth:`Policy.start`, once after the
working set is in place, and :meth:`Policy.tick`, after every tick of the workload. It
observes only through :class:`~thpsim.tiering.view.TieringEnv`'s files (idle page
tracking, pagemap, kpageflags, numa_maps, move_pages queries) and acts only through
system calls (``move_pages``, ``mbind``, ``migrate_pages``) made by its own thread; the
experiment charges what those cost (the cost model's migration, flush and syscall
time) to the run like the workload's accesses.

* ``none``: does nothing (the baseline: first-touch placement stays).
* ``hotcold``: the kernel's memory tiering (NUMA balancing mode 2, 5.18+, TPP) from
  user space: every ``scan_ticks`` ticks it marks the working set idle and reads the
  bitmap back after 1, 2, 4 ... ticks, so each 2 MiB chunk gets an access latency
  (the kernel's hint-fault latency, numa_hint_fault_latency()); a decayed score of
  ``1 / latency`` per chunk ranks them; it promotes accessed slow-tier chunks hottest
  first (at most ``promote_pages`` per scan, like
  ``numa_balancing_promote_rate_limit_MBps``) and, when the fast tier is at its
  capacity, demotes the coldest fast-tier chunks (like kswapd's demotion below the
  watermark, demote_folio_list()), only for a chunk hotter by ``margin``.
* ``damon``: DAMON (mm/damon/, 5.15+) with a DAMOS migrate_hot/migrate_cold scheme
  (6.11+): the range is split into regions; every ``sample_ticks`` ticks it makes one
  sampled page per region old and checks it a tick later (the idle bit of its folio,
  as DAMON's paddr operations do with folio_mkold()/folio_young through the rmap);
  every ``aggr_ticks`` ticks it applies the scheme (hot regions' slow-tier memory up
  with ``mbind(MPOL_BIND, MPOL_MF_MOVE)`` within a quota, the coldest regions down
  when the fast tier is full), merges adjacent regions with similar access counts and
  splits regions in two at random (between ``min_regions`` and ``max_regions``).

* ``numab``: not a user-space policy but the kernel's own NUMA balancing
  (kernel.numa_balancing 2, or 1 where the era has no tiering mode), for comparison:
  the scanner and the hinting faults run in the workload's timer ticks.

The accessed bits only say "accessed since marked", and only for accesses that missed
the TLB (mm/page_idle.py: no flush), so both policies rank by how soon or how often a
chunk is seen accessed after marking, not by counts of loads.

Region and folio bookkeeping is keyed by virtual address, so a THP that a split-first
migration broke into base pages is tracked from then on as its 512 pages.
"""

from __future__ import annotations

import random
from typing import Any

from thpsim import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.tiering.view import KPF_COMPOUND_TAIL, TieringEnv, Unit

__all__ = ["Policy", "NonePolicy", "HotColdPolicy", "DamonPolicy", "NumaBalancingPolicy",
           "POLICIES", "make_policy"]


class Policy:
    """The plug-in interface (module docstring). Subclasses override what they need."""

    name = "policy"

    def start(self, env: TieringEnv) -> None:
        """Called once, after the working set was faulted in and placed."""

    def tick(self, env: TieringEnv, tick: int) -> None:
        """Called after each tick of the workload (``tick`` counts from 0)."""

    def describe(self) -> dict[str, Any]:
        """The policy's parameters, for reports."""
        return {"name": self.name}


class NonePolicy(Policy):
    """The baseline: no observation, no migration."""

    name = "none"


class HotColdPolicy(Policy):
    """Promotion of hot memory and demotion of cold memory (module docstring).

    Every ``scan_ticks`` ticks a scan: at its first tick the folios of the working set
    are marked idle; then the bitmap is read again after 1, 2, 4, 8 ... ticks (up to
    ``window_ticks``), each time only for the folios still idle. The first read that
    finds a chunk accessed gives its access latency, as NUMA balancing's tiering mode
    measures the time from a scan to a page's hinting fault
    (numa_hint_fault_latency(), hot below a threshold): a chunk seen after ``k`` ticks
    scores ``1 / k``, one never seen 0. Hotness is kept per 2 MiB chunk of the working
    set (its THP's bit, or any of its base pages' once a split-first migration broke
    it up) as ``score = decay * score + latest``; chunks move whole (every page named).
    A fast chunk is demoted only for a slow chunk hotter by ``margin`` (no ping-pong
    between chunks of about the same heat), and at most ``promote_pages`` pages are
    promoted per scan (numa_balancing_promote_rate_limit_MBps)."""

    name = "hotcold"

    def __init__(self, scan_ticks: int = 100, window_ticks: int = 16,
                 promote_pages: int = 4 * 512, decay: float = 0.8,
                 hot_threshold: float = 1.0, margin: float = 2.0):
        self.scan_ticks = scan_ticks
        self.window_ticks = window_ticks
        self.promote_pages = promote_pages
        self.decay = decay
        self.hot_threshold = hot_threshold
        self.margin = margin
        #: chunk address -> decayed access score
        self.score: dict[int, float] = {}
        self.marked: list[Unit] = []
        #: chunk address -> 1 / ticks from the mark to its first access seen, this scan
        self.latest: dict[int, float] = {}
        self.promoted = 0
        self.demoted = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "scan_ticks": self.scan_ticks,
                "window_ticks": self.window_ticks, "promote_pages": self.promote_pages,
                "decay": self.decay, "hot_threshold": self.hot_threshold,
                "margin": self.margin}

    @staticmethod
    def _chunk(u: Unit) -> int:
        return u.addr & ~(HPAGE_PMD_SIZE - 1)

    def tick(self, env: TieringEnv, tick: int) -> None:
        phase = tick % self.scan_ticks
        if phase == 0:  # the scan starts: every folio of the working set made idle
            self.marked = env.view.units(env.addr, env.nr_chunks)
            self.latest = {}
            env.view.mark_idle([u.pfn for u in self.marked])
        elif phase & (phase - 1) == 0 and phase <= self.window_ticks:  # 1, 2, 4, 8 ...
            still = [u for u in self.marked if self._chunk(u) not in self.latest]
            idle = env.view.idle([u.pfn for u in still])
            for u in still:
                if u.pfn not in idle:
                    self.latest.setdefault(self._chunk(u), 1.0 / phase)
            if phase * 2 > min(self.window_ticks, self.scan_ticks - 1):
                self._act(env)

    def _act(self, env: TieringEnv) -> None:
        chunks: dict[int, list[Unit]] = {}
        for u in self.marked:
            chunks.setdefault(self._chunk(u), []).append(u)
        score = {c: self.score.get(c, 0.0) * self.decay + self.latest.get(c, 0.0)
                 for c in chunks}
        self.score = score
        # a chunk's node: its first page's (move_pages moves chunks whole)
        nodes = dict(zip(chunks, env.nodes_of(list(chunks)), strict=True))
        size = {c: sum(u.nr_pages for u in us) for c, us in chunks.items()}
        hot = sorted((c for c in chunks if nodes[c] == env.slow and c in self.latest
                      and score[c] >= self.hot_threshold), key=lambda c: (-score[c], c))
        cold = sorted((c for c in chunks if nodes[c] == env.fast),
                      key=lambda c: (score[c], c))
        room = env.fast_capacity_pages - sum(size[c] for c in cold)
        budget = self.promote_pages
        promote: list[int] = []
        demote: list[int] = []
        for c in hot:
            if size[c] > budget:
                continue
            while room < size[c] and cold and score[cold[0]] + self.margin <= score[c]:
                victim = cold.pop(0)
                demote.append(victim)
                room += size[victim]
            if room < size[c]:
                break
            promote.append(c)
            room -= size[c]
            budget -= size[c]
        if demote:
            self.demoted += env.move([u for c in demote for u in chunks[c]], env.slow)
        if promote:
            self.promoted += env.move([u for c in promote for u in chunks[c]], env.fast)


class _Region:
    __slots__ = ("start", "end", "nr_accesses", "age", "sample_pfn")

    def __init__(self, start: int, end: int):
        self.start = start
        self.end = end
        self.nr_accesses = 0
        self.age = 0
        self.sample_pfn = -1


class DamonPolicy(Policy):
    """DAMON-style region sampling with a migrate_hot/migrate_cold scheme (module
    docstring). Region boundaries are 2 MiB aligned (DAMON's minimum region is a page;
    a 2 MiB minimum keeps mbind from splitting THPs at region edges)."""

    name = "damon"

    def __init__(self, sample_ticks: int = 20, aggr_ticks: int = 400, min_regions: int = 4,
                 max_regions: int = 16,
                 quota_pages: int = 4 * 512, seed: int = 0):
        self.sample_ticks = sample_ticks
        self.aggr_ticks = aggr_ticks
        self.min_regions = min_regions
        self.max_regions = max_regions
        self.quota_pages = quota_pages
        self.rng = random.Random(seed)
        self.regions: list[_Region] = []
        #: samples taken in the current aggregation interval
        self.samples = 0
        self.promoted = 0
        self.demoted = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "sample_ticks": self.sample_ticks,
                "aggr_ticks": self.aggr_ticks,
                "min_regions": self.min_regions, "max_regions": self.max_regions,
                "quota_pages": self.quota_pages}

    def start(self, env: TieringEnv) -> None:
        n = min(self.min_regions, env.nr_chunks)
        bounds = [env.addr + (env.nr_chunks * i // n) * HPAGE_PMD_SIZE for i in range(n + 1)]
        self.regions = [_Region(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]

    # damon_va_prepare_access_checks(): a random page per region, its folio made old
    def _prepare(self, env: TieringEnv) -> None:
        view = env.view
        for r in self.regions:
            page = r.start + self.rng.randrange((r.end - r.start) // PAGE_SIZE) * PAGE_SIZE
            pfn = view.pagemap(page, 1)[0]
            if pfn >= 0:
                kpf = view.kpageflags(pfn)
                if kpf >> KPF_COMPOUND_TAIL & 1:  # a THP's bit is its head's
                    pfn -= (page - (page & ~(HPAGE_PMD_SIZE - 1))) // PAGE_SIZE
            r.sample_pfn = pfn
        view.mark_idle([r.sample_pfn for r in self.regions if r.sample_pfn >= 0])

    # damon_va_check_accesses()
    def _check(self, env: TieringEnv) -> None:
        pfns = [r.sample_pfn for r in self.regions if r.sample_pfn >= 0]
        idle = env.view.idle(pfns)
        for r in self.regions:
            if r.sample_pfn >= 0 and r.sample_pfn not in idle:
                r.nr_accesses += 1

    def tick(self, env: TieringEnv, tick: int) -> None:
        """A sample every ``sample_ticks`` ticks: a page per region made old at the
        sample's first tick and checked one tick later (the window); an aggregation
        every ``aggr_ticks``."""
        phase = tick % self.sample_ticks
        if phase == 0:
            self._prepare(env)
        elif phase == 1:
            self._check(env)
            self.samples += 1
        if (tick + 1) % self.aggr_ticks == 0:
            self._apply_scheme(env)
            self._merge()
            self._split(env)
            for r in self.regions:
                r.nr_accesses = 0
            self.samples = 0

    def _merge(self) -> None:
        """damon_merge_regions_of(): adjacent regions whose access counts differ by at
        most a tenth of the samples (at least 1) become one (size-weighted count, the
        larger age); not below ``min_regions``."""
        thres = max(1, self.samples // 10)
        out: list[_Region] = []
        for r in self.regions:
            if out and abs(out[-1].nr_accesses - r.nr_accesses) <= thres:
                prev = out[-1]
                w1, w2 = prev.end - prev.start, r.end - r.start
                m = _Region(prev.start, r.end)
                m.nr_accesses = (prev.nr_accesses * w1 + r.nr_accesses * w2) // (w1 + w2)
                m.age = max(prev.age, r.age)
                out[-1] = m
            else:
                out.append(r)
        if len(out) >= self.min_regions:
            self.regions = out

    def _split(self, env: TieringEnv) -> None:
        """damon_split_regions_of(): each region split in two at a random 2 MiB
        boundary while the count stays at most ``max_regions``."""
        out: list[_Region] = []
        room = self.max_regions - len(self.regions)
        for r in self.regions:
            chunks = (r.end - r.start) // HPAGE_PMD_SIZE
            if room > 0 and chunks >= 2:
                cut = r.start + self.rng.randrange(1, chunks) * HPAGE_PMD_SIZE
                a, b = _Region(r.start, cut), _Region(cut, r.end)
                a.age = b.age = r.age
                out += [a, b]
                room -= 1
            else:
                out.append(r)
        self.regions = out

    def _apply_scheme(self, env: TieringEnv) -> None:
        """DAMOS migrate_hot and migrate_cold with a quota: slow-tier memory in regions
        accessed in at least half the samples moves to the fast tier, hottest region
        first, while the fast tier has room (its capacity is the watermark); when it
        has none, the coldest regions' fast-tier memory (fewest accesses, then oldest)
        moves out for a region with more accesses by at least half the samples. Where
        a 2 MiB chunk is: its first page's node (a move_pages query)."""
        for r in self.regions:
            r.age = r.age + 1 if r.nr_accesses == 0 else 0
        margin = max(1, self.samples // 2)
        starts = [env.addr + i * HPAGE_PMD_SIZE for i in range(env.nr_chunks)]
        node = dict(zip(starts, env.nodes_of(starts), strict=True))
        per_chunk = HPAGE_PMD_SIZE // PAGE_SIZE

        def pages_on(r: _Region, nid: int) -> int:
            return per_chunk * sum(1 for a in range(r.start, r.end, HPAGE_PMD_SIZE)
                                   if node[a] == nid)

        room = env.fast_capacity_pages - sum(pages_on(r, env.fast) for r in self.regions)
        quota = self.quota_pages
        hot = sorted((r for r in self.regions if r.nr_accesses >= margin
                      and pages_on(r, env.slow)), key=lambda r: (-r.nr_accesses, r.start))
        cold = sorted((r for r in self.regions if pages_on(r, env.fast)),
                      key=lambda r: (r.nr_accesses, -r.age, r.start))
        for r in hot:
            pages = pages_on(r, env.slow)
            if pages > quota:
                continue
            while room < pages and cold and cold[0] is not r \
                    and cold[0].nr_accesses + margin <= r.nr_accesses:
                victim = cold.pop(0)
                room += pages_on(victim, env.fast)
                env.mbind_move(victim.start, victim.end - victim.start, env.slow)
                self.demoted += pages_on(victim, env.fast)
            if room < pages:
                continue
            env.mbind_move(r.start, r.end - r.start, env.fast)
            self.promoted += pages
            room -= pages
            quota -= pages


class NumaBalancingPolicy(Policy):
    """The kernel's own automatic NUMA balancing (docs/numa-balancing.md), not a
    user-space policy: :meth:`start` writes ``kernel.numa_balancing`` (``mode``: 2,
    NUMA_BALANCING_MEMORY_TIERING, where the kernel has it, 5.18+; else 1, the only
    mode 4.14 knows, which also moves a slow page to the CPU's node) and the scan
    tunables' defaults stay. The work then happens in the workload's own timer ticks
    (the experiment ticks its thread after every tick's loads): task_numa_work() makes
    the working set PROT_NONE every scan period, and the workload's next load of a page
    is a hinting fault that migrates it (4.14: a THP by
    migrate_misplaced_transhuge_page(), whole even without THP migration; 5.13+: the
    common migration path). :meth:`tick` does nothing.

    It knows nothing of the experiment's fast-tier capacity: with no reclaim in the
    model there is no demotion, and the fast node has room, so it promotes every chunk
    the workload touches (mode 2: each whose hint-fault latency is under
    numa_balancing_hot_threshold_ms)."""

    name = "numab"

    def __init__(self, mode: int = 2):
        self.mode = mode
        self.mode_set = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode, "mode_set": self.mode_set}

    def start(self, env: TieringEnv) -> None:
        try:
            env.thread.fs.write("/proc/sys/kernel/numa_balancing", str(self.mode))
            self.mode_set = self.mode
        except OSError:  # EINVAL: 4.14 takes 0 or 1
            env.thread.fs.write("/proc/sys/kernel/numa_balancing", "1")
            self.mode_set = 1


POLICIES = {"none": NonePolicy, "hotcold": HotColdPolicy, "damon": DamonPolicy,
            "numab": NumaBalancingPolicy}


def make_policy(name: str, seed: int = 0) -> Policy:
    """A policy by name (:data:`POLICIES`), with its default parameters."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}: {', '.join(POLICIES)}")
    return DamonPolicy(seed=seed) if name == "damon" else POLICIES[name]()
