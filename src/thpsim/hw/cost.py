"""Modeled time: what the hardware charges for the work the kernel and user code do.

Model-only. thpsim's kernel paths have no notion of time; this module puts a price on
the work they do, in modeled nanoseconds charged to the simulated CPU that does it
(docs/modeled-time.md). It is kept apart from the semantics: no kernel path reads a
modeled time back, nothing here yields or touches kernel state, so a run gives the same
page tables, counters and schedules with the model on or off. It belongs to the
hardware (``hw``) because what it prices is the silicon's work: copies between memory
nodes, TLB misses and page walks, interrupts; the per-operation software costs (a fault,
an rmap walk, a folio's migration overhead) are priced here too, as the measured cost
of that path on the machine the parameters were fitted to.

The kernel charges it through a few hooks, each at the kernel function that does the
work and each one guarded call (``if ctx.cost is not None: ctx.cost.<hook>(...)``, so
a machine without the model pays one attribute test):

=====================  ==========================================================
hook                   called from (thpsim module: kernel function)
=====================  ==========================================================
``syscall``            mm/migrate.py kernel_move_pages(), mm/mempolicy.py
                       kernel_mbind()/kernel_migrate_pages(), mm/madvise.py
                       sys_madvise(), fs/vfs.py write (sysfs and cgroup files)
``lru_add_drain_all``  where 4.14 calls migrate_prep()/lru_add_drain_all(): do_pages_move(),
                       do_mbind() with MPOL_MF_MOVE, do_migrate_pages(), offline_pages()
``migrate_folio``      mm/migrate.py unmap_and_move() (per folio, per attempt)
``copy_pages``         mm/migrate.py migrate_page() (copy_huge_page()/copy_highpage())
``rmap_walk``          mm/rmap.py rmap_walk_anon() (per VMA visited)
``pte_update``         mm/rmap.py try_to_migrate_one(), mm/huge_memory.py
                       set_pmd_migration_entry()/remove_migration_pmd(), mm/migrate.py
                       remove_migration_pte()
``tlb_flush``          kernel/tlbflush.py flush_tlb_mm_range(), flush_pmd_tlb_range()
``fault``              mm/fault.py do_user_addr_fault()
``split_huge_pmd``     mm/huge_memory.py __split_huge_pmd_locked()
``split_huge_page``    mm/huge_memory.py __split_huge_page()
``tlb_hit``,           mm/uaccess.py user_translate() (a user load or store: TLB
``page_walk``          hit, or an MMU walk that filled the TLB)
=====================  ==========================================================

Every charge is a parameter of :class:`CostParams` times a count (a copy: bytes times
nanoseconds per byte, the reciprocal of a bandwidth), and the model keeps, besides the
nanoseconds per CPU and category, how much of each parameter it used (``usage()``): the
modeled time of any stretch of a run is ``sum(usage[p] * value(p))``, which is what
``thpsim calibrate`` fits by least squares.

Simplified (each named in docs/modeled-time.md): no caches (a user access pays its
data node's latency every time; a page walk's levels cost ``walk_level_ns`` each, as if
the paging-structure caches and L2 held them); no contention (bandwidth is per copy,
not shared); CPUs are independent clocks (a wait on another CPU costs nothing); a path
run by the machine itself (no task: a write through ``Machine.fs``) is charged to CPU 0;
only the system calls listed above pay the entry cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from thpsim.arch.x86_64.pgtable import PAGE_SIZE

__all__ = ["NodeCost", "CostParams", "CostModel", "CATEGORIES", "EVENTS",
           "LOCAL_DISTANCE", "REMOTE_DISTANCE", "WALK_LEVELS_2M", "WALK_LEVELS_4K",
           "parse_table", "parse_usage"]

#: SLIT distance of a node to itself and of the usual one-hop remote node
LOCAL_DISTANCE = 10
REMOTE_DISTANCE = 20

#: where modeled time goes, per CPU (columns of /sys/kernel/debug/thpsim/modeled_time)
CATEGORIES = ("syscall", "lru_drain", "migrate", "copy", "rmap", "pgtable", "tlb_flush",
              "ipi", "fault", "split", "access", "walk")
(_SYSCALL, _LRU, _MIGRATE, _COPY, _RMAP, _PGTABLE, _TLB_FLUSH, _IPI, _FAULT, _SPLIT,
 _ACCESS, _WALK) = range(len(CATEGORIES))

#: what the model counts, per CPU (/sys/kernel/debug/thpsim/modeled_events)
EVENTS = ("syscall", "tlb_hit", "tlb_miss", "walk_2m", "walk_4k", "fault", "tlb_flush",
          "ipi_sent", "ipi_received", "copy_bytes", "folio_migrate", "rmap_walk",
          "pte_update", "split_huge_pmd", "split_huge_page", "lru_add_drain_all")
(_E_SYSCALL, _E_HIT, _E_MISS, _E_WALK2M, _E_WALK4K, _E_FAULT, _E_FLUSH, _E_IPI_SENT,
 _E_IPI_RECV, _E_COPY_BYTES, _E_FOLIO, _E_RMAP, _E_PTE, _E_SPLIT_PMD, _E_SPLIT_PAGE,
 _E_LRU) = range(len(EVENTS))

#: page-walk levels read to reach a 2 MiB leaf (PGD, PUD, PMD) and a 4 KiB one (+ PTE)
WALK_LEVELS_2M = 3
WALK_LEVELS_4K = 4


@dataclass(frozen=True)
class NodeCost:
    """One memory node (or tier) as the cost model sees it.

    ``latency_ns``: a load that misses the caches, from a CPU of this node (a remote
    CPU adds :attr:`CostParams.remote_latency_ns` per hop). ``bandwidth_gbs``: copy
    bandwidth within the node, GB/s (= bytes per ns). A slow tier (CXL, PMEM) is a node
    with a higher latency and a lower bandwidth.
    """

    latency_ns: float = 90.0
    bandwidth_gbs: float = 10.0


@dataclass(frozen=True)
class CostParams:
    """The cost model's parameter table (docs/modeled-time.md gives each one's source).

    The three fitted by default (``thpsim calibrate``; marked *fitted*) reproduce the
    v3 series' cover-letter figures: move_pages across sockets of one 4 KiB page
    62.47 us, one 2 MiB THP 658.54 us, 512 4 KiB pages 1987.38 us. The others are
    typical figures of a 2017 two-socket Xeon, fixed when fitting.
    """

    #: system-call entry and exit (SYSCALL, SYSRET, the entry code; pre-KPTI)
    syscall_ns: float = 100.0
    #: lru_add_drain_all(): migrate_prep() queues a drain on every CPU and waits for the
    #: work items (flush_work): the bulk of a small move_pages call. *fitted*
    lru_add_drain_all_ns: float = 58_603.0
    #: per folio migrated: isolation, target allocation, locking, mapping move, putback.
    #: *fitted*
    migrate_folio_ns: float = 2_080.5
    #: per VMA an rmap walk visits (anon_vma lock, interval tree, page_vma_mapped_walk)
    rmap_walk_ns: float = 150.0
    #: per page-table entry written (migration entry set or removed, PTE of a split)
    pte_update_ns: float = 10.0
    #: the initiator's own invalidation (INVLPG over a range, or a CR3 reload)
    tlb_flush_ns: float = 200.0
    #: per target CPU of a shootdown, to the initiator (send the IPI, wait for the ack)
    tlb_ipi_ns: float = 1_500.0
    #: per target CPU, to that CPU: taking the interrupt and flushing
    tlb_ipi_handler_ns: float = 700.0
    #: a page fault's entry and exit (exception, do_user_addr_fault, return)
    fault_ns: float = 1_000.0
    #: split of a huge PMD into a PTE table (besides its 512 PTE writes)
    split_huge_pmd_ns: float = 1_000.0
    #: split of a THP into base pages: fixed part, and per subpage (__split_huge_page_tail)
    split_huge_page_ns: float = 2_000.0
    split_subpage_ns: float = 40.0
    #: a user access whose translation the TLB holds
    tlb_hit_ns: float = 0.5
    #: per page-table level a TLB miss's walk reads (3 for a 2 MiB leaf, 4 for 4 KiB)
    walk_level_ns: float = 8.0
    #: extra latency of a load from another node, per hop (SLIT distance 20 = one hop)
    remote_latency_ns: float = 50.0
    #: copy bandwidth between two nodes one hop apart, GB/s (farther: scaled by
    #: distance); a copy runs at the lowest of this and both nodes' bandwidth. *fitted*
    remote_bandwidth_gbs: float = 3.5114
    #: every node's costs, unless ``nodes`` names it
    node: NodeCost = NodeCost()
    #: per-node overrides (a tiered machine's slow node)
    nodes: Mapping[int, NodeCost] = field(default_factory=dict)

    def node_cost(self, nid: int) -> NodeCost:
        return self.nodes.get(nid, self.node)

    # ---- the table as plain data (calibrate writes it; Machine(modeled_time=) reads it)
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nodes"] = {str(k): asdict(v) for k, v in self.nodes.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CostParams:
        """The table from :meth:`to_dict`'s form, or the flat form of the cost_params
        file (``node.latency_ns``, ``node1.bandwidth_gbs``: per-node keys dotted);
        ValueError naming a bad key or value."""
        flat = {k: v for k, v in d.items() if "." in k}
        if flat:
            base = cls.from_dict({k: v for k, v in d.items() if "." not in k})
            for k, v in flat.items():
                where, name = k.split(".", 1)
                if name not in ("latency_ns", "bandwidth_gbs") or not (
                        where == "node" or where[4:].isdigit() and where[:4] == "node"):
                    raise ValueError(f"unknown cost parameter {k!r}")
                _positive(v, k)
            return base.with_values({k: float(v) for k, v in flat.items()})
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValueError(f"unknown cost parameter(s): {', '.join(bad)}")
        kw: dict[str, Any] = {}
        for k, v in d.items():
            if k == "node":
                kw[k] = _node_cost(v, k)
            elif k == "nodes":
                if not isinstance(v, Mapping):
                    raise ValueError("nodes must map node ids to {latency_ns, bandwidth_gbs}")
                try:
                    kw[k] = {int(n): _node_cost(c, f"nodes.{n}") for n, c in v.items()}
                except (TypeError, ValueError) as e:
                    raise ValueError(f"nodes: {e}") from None
            else:
                kw[k] = _positive(v, k)
        return cls(**kw)

    def with_values(self, values: Mapping[str, float]) -> CostParams:
        """A copy with the linear parameters (:meth:`CostModel.param_names`) set."""
        top = {k: v for k, v in values.items() if "." not in k}
        out = replace(self, **top)
        for k, v in values.items():
            if "." in k:
                where, name = k.split(".", 1)
                if where == "node":
                    out = replace(out, node=replace(out.node, **{name: v}))
                else:
                    nid = int(where[len("node"):])
                    nodes = dict(out.nodes)
                    nodes[nid] = replace(out.node_cost(nid), **{name: v})
                    out = replace(out, nodes=nodes)
        return out


def _positive(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
        raise ValueError(f"{name} must be a number >= 0, not {v!r}")
    if name.endswith("_gbs") and v == 0:
        raise ValueError(f"{name} (a bandwidth) must be above 0")
    return float(v)


def _node_cost(v: Any, name: str) -> NodeCost:
    if isinstance(v, NodeCost):
        return v
    if not isinstance(v, Mapping) or set(v) - {"latency_ns", "bandwidth_gbs"}:
        raise ValueError(f"{name} must be {{latency_ns, bandwidth_gbs}}, not {v!r}")
    return NodeCost(**{k: _positive(x, f"{name}.{k}") for k, x in v.items()})


class CostModel:
    """The meter: modeled ns per CPU and category, events per CPU, parameter usage.

    ``cpu_nid``: each CPU's node; ``frame_nid``: each frame's node, indexed by PFN
    (``PhysicalMemory.nid``); ``distance``: the SLIT table {(a, b): d}. Built by the
    Machine (``Machine(modeled_time=True)``), held by the kernel context as ``ctx.cost``.

    The user-access hooks are the hot ones (every load and store): they only count, per
    CPU and data node, TLB hits and walks to each leaf size; :meth:`ns`, :meth:`events`
    and :meth:`usage` fold those counts in when read.
    """

    __slots__ = ("params", "_ns", "_events", "_usage", "_cpu_nid", "_frame_nid", "_value",
                 "_copy", "_lat", "_hits", "_walks")

    def __init__(self, params: CostParams, cpu_nid: list[int], frame_nid: Any,
                 distance: Mapping[tuple[int, int], int]):
        self.params = params
        self._cpu_nid = cpu_nid
        self._frame_nid = frame_nid
        ncpu = len(cpu_nid)
        self._ns = [[0.0] * len(CATEGORIES) for _ in range(ncpu)]
        self._events = [[0] * len(EVENTS) for _ in range(ncpu)]
        #: parameter name -> the count it was charged for (bytes x hops for a bandwidth)
        self._usage: dict[str, float] = {}
        nids = sorted({a for a, _ in distance} | set(cpu_nid))
        #: per CPU, per data node: user accesses the TLB translated, and walks
        #: ([to a 4 KiB leaf, to a 2 MiB leaf], indexed by ``huge``)
        self._hits = [[0] * (nids[-1] + 1) for _ in range(ncpu)]
        self._walks = [[[0, 0] for _ in range(nids[-1] + 1)] for _ in range(ncpu)]
        #: linear value of each parameter name: ns per unit (ns per byte for a bandwidth)
        self._value: dict[str, float] = {}
        for f in fields(CostParams):
            v = getattr(params, f.name)
            if isinstance(v, float | int) and not isinstance(v, bool):
                self._value[f.name] = 1.0 / v if f.name.endswith("_gbs") else float(v)
        for nid in nids:
            key = self._node_key(nid)
            c = params.node_cost(nid)
            self._value[f"{key}.latency_ns"] = c.latency_ns
            self._value[f"{key}.bandwidth_gbs"] = 1.0 / c.bandwidth_gbs
        # (src, dst) -> (parameter, factor): a copy of b bytes costs value * factor * b
        self._copy: dict[tuple[int, int], tuple[str, float]] = {}
        # (cpu node, data node) -> (ns, ((parameter, factor), ...)): a load's latency
        self._lat: dict[tuple[int, int], tuple[float, tuple[tuple[str, float], ...]]] = {}
        for a in nids:
            for b in nids:
                d = distance.get((a, b), LOCAL_DISTANCE if a == b else REMOTE_DISTANCE)
                hops = (d - LOCAL_DISTANCE) / (REMOTE_DISTANCE - LOCAL_DISTANCE)
                cands = [(f"{self._node_key(a)}.bandwidth_gbs", 1.0),
                         (f"{self._node_key(b)}.bandwidth_gbs", 1.0)]
                if a != b:
                    cands.append(("remote_bandwidth_gbs", hops))
                self._copy[(a, b)] = max(cands, key=lambda kf: self._value[kf[0]] * kf[1])
                terms = ((f"{self._node_key(b)}.latency_ns", 1.0),) + (
                    (("remote_latency_ns", hops),) if a != b else ())
                self._lat[(a, b)] = (sum(self._value[k] * f for k, f in terms), terms)

    def _node_key(self, nid: int) -> str:
        return f"node{nid}" if nid in self.params.nodes else "node"

    def param_names(self) -> list[str]:
        """Every linear parameter name a charge can use (:meth:`usage`'s keys)."""
        return sorted(self._value)

    def value(self, name: str) -> float:
        """A parameter's linear value: ns per unit (ns per byte for a ``*_gbs``)."""
        return self._value[name]

    # ---- the charge all hooks but the user accesses share
    def _charge(self, cpu: int, cat: int, key: str, count: float) -> None:
        self._ns[cpu][cat] += self._value[key] * count
        u = self._usage
        u[key] = u.get(key, 0.0) + count

    # ---- hooks (module docstring: who calls each)
    def syscall(self, cpu: int) -> None:
        self._events[cpu][_E_SYSCALL] += 1
        self._charge(cpu, _SYSCALL, "syscall_ns", 1)

    def lru_add_drain_all(self, cpu: int) -> None:
        self._events[cpu][_E_LRU] += 1
        self._charge(cpu, _LRU, "lru_add_drain_all_ns", 1)

    def migrate_folio(self, cpu: int) -> None:
        self._events[cpu][_E_FOLIO] += 1
        self._charge(cpu, _MIGRATE, "migrate_folio_ns", 1)

    def copy_pages(self, cpu: int, src_pfn: int, dst_pfn: int, nr: int) -> None:
        """``nr`` 4 KiB pages copied from ``src_pfn``'s node to ``dst_pfn``'s."""
        nbytes = nr * PAGE_SIZE
        key, factor = self._copy[(self._frame_nid[src_pfn], self._frame_nid[dst_pfn])]
        self._events[cpu][_E_COPY_BYTES] += nbytes
        self._charge(cpu, _COPY, key, nbytes * factor)

    def rmap_walk(self, cpu: int) -> None:
        """One VMA visited by an rmap walk."""
        self._events[cpu][_E_RMAP] += 1
        self._charge(cpu, _RMAP, "rmap_walk_ns", 1)

    def pte_update(self, cpu: int, nr: int) -> None:
        """``nr`` page-table entries written (PTEs or PMDs)."""
        self._events[cpu][_E_PTE] += nr
        self._charge(cpu, _PGTABLE, "pte_update_ns", nr)

    def tlb_flush(self, cpu: int, targets: list[int]) -> None:
        """A flush on ``cpu``, shot down on ``targets`` (other CPUs holding entries)."""
        ev = self._events
        ev[cpu][_E_FLUSH] += 1
        self._charge(cpu, _TLB_FLUSH, "tlb_flush_ns", 1)
        if targets:
            ev[cpu][_E_IPI_SENT] += len(targets)
            self._charge(cpu, _TLB_FLUSH, "tlb_ipi_ns", len(targets))
            for t in targets:
                ev[t][_E_IPI_RECV] += 1
                self._charge(t, _IPI, "tlb_ipi_handler_ns", 1)

    def fault(self, cpu: int) -> None:
        self._events[cpu][_E_FAULT] += 1
        self._charge(cpu, _FAULT, "fault_ns", 1)

    def split_huge_pmd(self, cpu: int, nr_ptes: int) -> None:
        self._events[cpu][_E_SPLIT_PMD] += 1
        self._charge(cpu, _SPLIT, "split_huge_pmd_ns", 1)
        self._events[cpu][_E_PTE] += nr_ptes
        self._charge(cpu, _SPLIT, "pte_update_ns", nr_ptes)

    def split_huge_page(self, cpu: int, nr: int) -> None:
        self._events[cpu][_E_SPLIT_PAGE] += 1
        self._charge(cpu, _SPLIT, "split_huge_page_ns", 1)
        self._charge(cpu, _SPLIT, "split_subpage_ns", nr)

    def tlb_hit(self, cpu: int, pfn: int) -> None:
        """A user access the TLB translated, to frame ``pfn``: ``tlb_hit_ns`` and the
        data node's latency (counted now, charged when read)."""
        self._hits[cpu][self._frame_nid[pfn]] += 1

    def page_walk(self, cpu: int, pfn: int, huge: bool) -> None:
        """A user access that missed the TLB: the MMU walked to a 2 MiB or 4 KiB leaf
        (``walk_level_ns`` per level) and the data node's latency."""
        self._walks[cpu][self._frame_nid[pfn]][huge] += 1

    # ---- reading it (the deferred access counts folded in)
    def _accesses(self) -> list[tuple[int, int, int, int, int]]:
        """(cpu, data node, hits, walks to 4 KiB, walks to 2 MiB), non-zero ones."""
        return [(cpu, nid, h, w[0], w[1])
                for cpu in range(len(self._hits))
                for nid, (h, w) in enumerate(zip(self._hits[cpu], self._walks[cpu],
                                                 strict=True))
                if h or w[0] or w[1]]

    def ns(self) -> list[list[float]]:
        """Modeled ns per CPU (rows) and category (:data:`CATEGORIES`, columns)."""
        out = [row[:] for row in self._ns]
        hit, level = self._value["tlb_hit_ns"], self._value["walk_level_ns"]
        for cpu, nid, h, w4, w2 in self._accesses():
            out[cpu][_ACCESS] += h * hit + (h + w4 + w2) * self._lat[(self._cpu_nid[cpu],
                                                                      nid)][0]
            out[cpu][_WALK] += (WALK_LEVELS_4K * w4 + WALK_LEVELS_2M * w2) * level
        return out

    def events(self) -> list[list[int]]:
        """Counts per CPU (rows) and event (:data:`EVENTS`, columns)."""
        out = [row[:] for row in self._events]
        for cpu, _, h, w4, w2 in self._accesses():
            ev = out[cpu]
            ev[_E_HIT] += h
            ev[_E_MISS] += w4 + w2
            ev[_E_WALK4K] += w4
            ev[_E_WALK2M] += w2
        return out

    def usage(self) -> dict[str, float]:
        """Parameter name -> count charged (:meth:`value` x count = its ns)."""
        u = dict(self._usage)
        for cpu, nid, h, w4, w2 in self._accesses():
            u["tlb_hit_ns"] = u.get("tlb_hit_ns", 0.0) + h
            u["walk_level_ns"] = u.get("walk_level_ns", 0.0) + (
                WALK_LEVELS_4K * w4 + WALK_LEVELS_2M * w2)
            for k, f in self._lat[(self._cpu_nid[cpu], nid)][1]:
                u[k] = u.get(k, 0.0) + f * (h + w4 + w2)
        return u

    def total_ns(self) -> float:
        return sum(sum(row) for row in self.ns())

    def render_time(self) -> str:
        """/sys/kernel/debug/thpsim/modeled_time: ns per category (rows) and CPU."""
        ns = self.ns()
        ncpu = len(ns)
        head = ["category"] + [f"cpu{c}" for c in range(ncpu)] + ["total"]
        rows = [head]
        for i, cat in enumerate(CATEGORIES):
            vals = [ns[c][i] for c in range(ncpu)]
            rows.append([cat] + [f"{v:.1f}" for v in vals] + [f"{sum(vals):.1f}"])
        tot = [sum(ns[c]) for c in range(ncpu)]
        rows.append(["total"] + [f"{v:.1f}" for v in tot] + [f"{sum(tot):.1f}"])
        return _table(rows, "modeled nanoseconds per CPU")

    def render_events(self) -> str:
        """/sys/kernel/debug/thpsim/modeled_events: counts per event (rows) and CPU."""
        events = self.events()
        ncpu = len(events)
        rows = [["event"] + [f"cpu{c}" for c in range(ncpu)] + ["total"]]
        for i, ev in enumerate(EVENTS):
            vals = [events[c][i] for c in range(ncpu)]
            rows.append([ev] + [str(v) for v in vals] + [str(sum(vals))])
        return _table(rows, "cost-model events per CPU")

    def render_usage(self) -> str:
        """/sys/kernel/debug/thpsim/cost_usage: ``parameter count value``, one a line
        (count x value = the ns that parameter contributed; a bandwidth's value is ns
        per byte and its count bytes x hops)."""
        usage = self.usage()
        lines = ["# thpsim's own file (not Linux): parameter count linear-value"]
        for k in self.param_names():
            lines.append(f"{k} {usage.get(k, 0.0)!r} {self._value[k]!r}")
        return "\n".join(lines) + "\n"

    def render_params(self) -> str:
        """/sys/kernel/debug/thpsim/cost_params: the table, ``name value`` a line."""
        lines = ["# thpsim's own file (not Linux): the cost model's parameters"]
        for k, v in self.params.to_dict().items():
            if k == "node":
                lines += [f"node.{n} {x!r}" for n, x in v.items()]
            elif k == "nodes":
                lines += [f"node{nid}.{n} {x!r}" for nid, c in v.items() for n, x in c.items()]
            else:
                lines.append(f"{k} {v!r}")
        return "\n".join(lines) + "\n"


def _table(rows: list[list[str]], what: str) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [f"# thpsim's own file (not Linux): {what} (docs/modeled-time.md)"]
    for r in rows:
        out.append(" ".join(c.rjust(w) if i else c.ljust(w)
                            for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(out) + "\n"


def parse_table(text: str) -> dict[str, dict[str, float]]:
    """A modeled_time / modeled_events file: row name -> {column: value} (``cpu0`` ...
    and ``total``)."""
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    head = lines[0].split()[1:]
    return {parts[0]: dict(zip(head, map(float, parts[1:]), strict=True))
            for parts in (ln.split() for ln in lines[1:])}


def parse_usage(text: str) -> dict[str, tuple[float, float]]:
    """A cost_usage file: parameter -> (count, linear value)."""
    out: dict[str, tuple[float, float]] = {}
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            k, c, v = ln.split()
            out[k] = (float(c), float(v))
    return out
