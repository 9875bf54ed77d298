"""``thpsim experiment tiering``: placement policies on a tiered machine.

Each policy (thpsim.tiering.policies) runs the same workload (thpsim.tiering.workload:
same pattern, same seed, so the same accesses) on a fresh tiered machine
(thpsim.tiering.topology: a fast node with the CPUs, a slow CPU-less node), twice: with
THP migration (the series, ``thp_migration_supported`` on) and with the pre-series
split-first migration (off).

A run: the workload's process maps ``nr_thp`` 2 MiB chunks (THPs, a word written in
every 4 KiB page), the first
``fast_thp`` placed on the fast node and the rest on the slow node (mbind before the
first touch, then the policy reset to default: first-touch placement on a machine
whose fast tier is full), the policy's thread (a second thread of the process, on the
fast node's second CPU) starts, and then ``ticks`` ticks of ``accesses`` loads each,
each followed by a timer tick of the workload's thread (a millisecond of its runtime:
the kernel's NUMA balancing runs there when a policy turned it on) and the policy's
tick.

Reported per (policy, THP migration), from the machine's own files: the modeled
runtime (every CPU's modeled time after the set-up: the workload's accesses, TLB
walks and faults, and the policy's system calls, migrations, flushes and IPIs), split
into access and migration time; pages migrated and THPs migrated whole
(``pgmigrate_success``, ``thp_migration_success``), THP splits (``thp_split_page``), TLB
misses, the share of accesses served by the fast tier, and per tick the pages on each
tier (numa_maps) and the modeled time so far.
"""

from __future__ import annotations

from typing import Any

from thpsim import (
    HPAGE_PMD_SIZE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_BIND,
    MPOL_DEFAULT,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
)
from thpsim.profiles import make_profile
from thpsim.testing import modeled_time
from thpsim.tiering.policies import POLICIES, Policy, make_policy
from thpsim.tiering.topology import FAST, SLOW, TieredTopology
from thpsim.tiering.view import AccessView, TieringEnv
from thpsim.tiering.workload import Workload

__all__ = ["tiering", "run_one", "format_table", "plot", "DEFAULTS"]

#: 2 MiB-aligned hint (not MAP_FIXED), as the demo's
HINT = 0x7E00_0000_0000
#: the experiment's defaults (the command's options)
DEFAULTS: dict[str, Any] = {"pattern": "zipf", "nr_thp": 16, "fast_thp": 4, "ticks": 10000,
                            "accesses": 20, "seed": 0, "zipf_s": 1.2, "phase_ticks": 2500,
                            "placement": "slow"}
#: where the working set starts: all on the slow tier (the fast tier was full when it
#: was allocated, or its pages were demoted), or its first ``fast_thp`` chunks on the
#: fast tier and the rest on the slow one (first touch on a machine whose fast tier
#: fills up)
PLACEMENTS = ("slow", "fast-first")
#: limits of the command's options: the slow node holds the working set, the fast node
#: the fast tier's share, and a run stays within minutes
MAX_NR_THP = 192
MAX_FAST_THP = 96
MAX_LOADS = 5_000_000
#: samples of the pages per tier over a run
TIMELINE_POINTS = 40
_VMSTAT = ("pgmigrate_success", "pgmigrate_fail", "thp_migration_success",
           "thp_migration_split", "thp_split_page", "thp_split_pmd", "numa_pte_updates",
           "numa_huge_pte_updates", "numa_hint_faults", "numa_hint_faults_local",
           "numa_pages_migrated", "pgpromote_success", "pgpromote_candidate")
#: the cost model's categories (docs/modeled-time.md) in the three parts of a runtime:
#: the workload's loads; migration; the rest (system-call entries and rmap walks:
#: mostly the policy's idle-page tracking, also the migrations' own rmap walks)
_ACCESS = ("access", "walk", "fault")
_MIGRATION = ("lru_drain", "migrate", "copy", "pgtable", "tlb_flush", "ipi", "split")


def _snap(m: Any) -> dict[str, Any]:
    snap = modeled_time(m, ("ns", "events"))
    assert snap is not None  # the topology's machine has the cost model on
    return snap


def _ns(a: dict[str, Any], b: dict[str, Any], cats: tuple[str, ...] | None = None) -> float:
    cats = cats or tuple(c for c in b["ns"] if c != "total")
    return sum(b["ns"][c]["total"] - a["ns"][c]["total"] for c in cats)


def _event(a: dict[str, Any], b: dict[str, Any], ev: str) -> int:
    return int(b["events"][ev]["total"] - a["events"][ev]["total"])


def run_one(policy: str | Policy, thp_migration: bool, *, profile: str = "seed",
            switches: dict[str, Any] | None = None, pattern: str = "zipf",
            nr_thp: int = 16, fast_thp: int = 4, ticks: int = 10000, accesses: int = 20,
            seed: int = 0, zipf_s: float = 1.2, phase_ticks: int = 2500,
            placement: str = "slow", topology: TieredTopology | None = None,
            params: dict[str, float] | None = None) -> dict[str, Any]:
    """One (policy, THP migration on/off) run; the module docstring says what it
    reports. ``policy``: a name in POLICIES or a :class:`~thpsim.tiering.Policy`
    instance (a plug-in of one's own)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}")
    topo = topology or TieredTopology()
    opts = dict(switches or {})
    opts["thp_migration_supported"] = thp_migration
    if make_profile(profile, **opts).numa_balancing_memory_tiering:
        opts.setdefault("vmstat_pgpromote", True)  # pgpromote_* in /proc/vmstat (5.18+)
    m = topo.machine(profile=profile, seed=seed, params=params, **opts)
    p = m.spawn(cpu=0)
    length = nr_thp * HPAGE_PMD_SIZE
    a = p.mmap(HINT, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    t = p.threads[0]
    split = min(fast_thp, nr_thp) * HPAGE_PMD_SIZE if placement == "fast-first" else 0
    if split:
        p.mbind(a, split, MPOL_BIND, {FAST})
    if split < length:
        p.mbind(a + split, length - split, MPOL_BIND, {SLOW})
    for off in range(0, length, PAGE_SIZE):
        # the first store of a chunk faults it in as a THP; every page holds data (a
        # zero-filled page would be remapped to the shared zero page by a mainline
        # split, and a load from it served by the zero page's node)
        t.write(a + off, off // PAGE_SIZE + 1)
    p.mbind(a, length, MPOL_DEFAULT, None)
    helper = p.clone(cpu=1 if topo.cpus > 1 else 0)
    env = TieringEnv(m, p, helper, a, nr_thp, FAST, SLOW, fast_thp * (HPAGE_PMD_SIZE // PAGE_SIZE))
    view = AccessView(m.fs, p.pid)  # the experiment's own view, as root
    wl = Workload(pattern, nr_thp, seed=seed, zipf_s=zipf_s, phase_ticks=phase_ticks)
    pol = policy if isinstance(policy, Policy) else make_policy(policy, seed=seed)
    vm0 = m.vmstat()
    start = _snap(m)
    loads0 = _latency_loads(m)
    pol.start(env)
    pages = view.node_pages()
    timeline = [{"tick": 0, "fast_pages": pages.get(FAST, 0), "slow_pages": pages.get(SLOW, 0),
                 "modeled_us": 0.0, "tlb_misses": 0}]
    every = max(1, ticks // TIMELINE_POINTS)
    for tick in range(ticks):
        for off in wl.tick(tick, accesses):
            t.read(a + off)
        t.tick()  # a jiffy of the workload's runtime: the kernel's NUMA scanner, if on
        pol.tick(env, tick)
        if (tick + 1) % every == 0 or tick == ticks - 1:
            now = _snap(m)
            pages = view.node_pages()
            timeline.append({"tick": tick + 1, "fast_pages": pages.get(FAST, 0),
                             "slow_pages": pages.get(SLOW, 0),
                             "modeled_us": _ns(start, now) / 1000,
                             "tlb_misses": _event(start, now, "tlb_miss")})
    end = _snap(m)
    vm1 = m.vmstat()
    access_ns = _ns(start, end, _ACCESS)
    migration_ns = _ns(start, end, _MIGRATION)
    total_ns = _ns(start, end)
    loads1 = _latency_loads(m)
    fast_loads, slow_loads = (loads1[0] - loads0[0], loads1[1] - loads0[1])
    fast_share = fast_loads / (fast_loads + slow_loads) if fast_loads + slow_loads else 0.0
    final = view.node_pages()
    return {
        "policy": pol.name, "thp_migration": thp_migration, "pattern": pattern,
        "nr_thp": nr_thp, "fast_thp": fast_thp, "ticks": ticks, "accesses": accesses,
        "seed": seed, "profile": profile, "placement": placement,
        "runtime_us": total_ns / 1000,
        "access_us": access_ns / 1000,
        "migration_us": migration_ns / 1000,
        "observation_us": (total_ns - access_ns - migration_ns) / 1000,
        "ns_by_category": {c: _ns(start, end, (c,)) for c in end["ns"] if c != "total"},
        # base pages copied (4.14's pgmigrate_success counts a THP once)
        "pages_migrated": _event(start, end, "copy_bytes") // PAGE_SIZE,
        "thp_migrated": vm1.get("thp_migration_success", 0)
        - vm0.get("thp_migration_success", 0),
        "thp_splits": vm1.get("thp_split_page", 0) - vm0.get("thp_split_page", 0),
        "vmstat": {k: vm1.get(k, 0) - vm0.get(k, 0) for k in _VMSTAT},
        "tlb_misses": _event(start, end, "tlb_miss"),
        "loads": ticks * accesses,
        "fast_share": fast_share,
        "fast_pages_end": final.get(FAST, 0),
        "slow_pages_end": final.get(SLOW, 0),
        "syscalls": dict(sorted(env.calls.items())),
        "policy_params": pol.describe(),
        "timeline": timeline,
    }


def _latency_loads(m: Any) -> tuple[float, float]:
    """Loads charged so far to the fast and to the slow node's latency parameter
    (``node.latency_ns``, ``node1.latency_ns``: each load charges its data node's
    once), from the cost model's usage."""
    snap = modeled_time(m, ("usage",))
    assert snap is not None
    u = snap["usage"]
    return (u.get("node.latency_ns", (0.0, 0.0))[0],
            u.get(f"node{SLOW}.latency_ns", (0.0, 0.0))[0])


def tiering(policies: tuple[str, ...] = tuple(POLICIES), both_ways: bool = True,
            **kw: Any) -> list[dict[str, Any]]:
    """Every policy with THP migration on and (``both_ways``) off."""
    return [run_one(pol, whole, **kw) for pol in policies
            for whole in ((True, False) if both_ways else (True,))]


def format_table(rows: list[dict[str, Any]]) -> str:
    """The comparison as text, with the speed-up of each policy over the baseline."""
    head = ("policy", "THP migration", "runtime us", "access us", "migration us",
            "tracking us", "pages moved", "THPs moved", "splits", "TLB misses", "fast share",
            "fast pages end")
    lines = [head]
    for r in rows:
        lines.append((r["policy"], "on" if r["thp_migration"] else "off (split)",
                      f"{r['runtime_us']:.1f}", f"{r['access_us']:.1f}",
                      f"{r['migration_us']:.1f}", f"{r['observation_us']:.1f}",
                      str(r["pages_migrated"]),
                      str(r["thp_migrated"]), str(r["thp_splits"]), str(r["tlb_misses"]),
                      f"{r['fast_share']:.1%}", str(r["fast_pages_end"])))
    w = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = [" ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(row))
            for row in lines]
    by = {(r["policy"], r["thp_migration"]): r for r in rows}
    text.append("")
    for whole in (True, False):
        base = by.get(("none", whole))
        for r in rows:
            if base and r["thp_migration"] == whole and r["policy"] != "none":
                ratio = r["runtime_us"] / base["runtime_us"]
                text.append(f"{r['policy']} ({'THP migration' if whole else 'split first'}):"
                            f" runtime {ratio:.2f}x the baseline's "
                            f"({'faster' if ratio < 1 else 'slower'} than none)")
    for r in rows:
        off = by.get((r["policy"], False))
        if r["thp_migration"] and off and r["policy"] != "none":
            text.append(f"{r['policy']}: split-first runtime {off['runtime_us']:.1f} us, "
                        f"{off['runtime_us'] / r['runtime_us']:.2f}x THP migration's")
    return "\n".join(text)


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Modeled runtime per policy (stacked: accesses, migration), fast-tier pages over
    the run, and TLB misses."""
    import matplotlib  # lazy: only --plot draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: only --plot draws

    pols = list(dict.fromkeys(r["policy"] for r in rows))
    by = {(r["policy"], r["thp_migration"]): r for r in rows}
    ways = [w for w in (True, False) if any(r["thp_migration"] == w for r in rows)]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.5))
    width = 0.38
    colors = {True: "tab:blue", False: "tab:orange"}
    label = {True: "THP migration", False: "split first"}
    for k, whole in enumerate(ways):
        pos = [x + (k - 0.5 * (len(ways) - 1)) * width for x in range(len(pols))]
        acc = [by[(p, whole)]["access_us"] / 1000 for p in pols]
        mig = [(by[(p, whole)]["runtime_us"] - by[(p, whole)]["access_us"]) / 1000
               for p in pols]
        ax1.bar(pos, acc, width, color=colors[whole], label=f"{label[whole]}: accesses")
        ax1.bar(pos, mig, width, bottom=acc, color=colors[whole], alpha=0.45,
                label=f"{label[whole]}: migration and tracking")
        ax3.bar(pos, [by[(p, whole)]["tlb_misses"] for p in pols], width,
                color=colors[whole], label=label[whole])
    styles = ["-", "--", ":", "-."]
    for i, p in enumerate(pols):
        for whole in ways:
            tl = by[(p, whole)]["timeline"]
            ax2.plot([e["tick"] for e in tl], [e["fast_pages"] * PAGE_SIZE / (1 << 20)
                                               for e in tl],
                     styles[i % len(styles)], color=colors[whole],
                     label=f"{p}, {label[whole]}")
    for ax in (ax1, ax3):
        ax.set_xticks(list(range(len(pols))))
        ax.set_xticklabels(pols)
    ax1.set_title("modeled runtime (ms)")
    ax2.set_title("working set on the fast tier (MiB) per tick")
    ax2.set_xlabel("tick")
    ax3.set_title("TLB misses")
    for ax in (ax1, ax2, ax3):
        ax.legend(fontsize=7, loc="upper left" if ax is ax1 else "best")
    r0 = rows[0]
    fig.suptitle(f"thpsim experiment tiering: {r0['pattern']}, {r0['nr_thp']} THPs, "
                 f"fast tier {r0['fast_thp']} THPs (modeled time, docs/tiering.md)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
