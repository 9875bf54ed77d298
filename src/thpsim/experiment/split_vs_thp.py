"""``thpsim experiment split-vs-thp``: why the series migrates THPs whole.

The same workload for each of the six callers, run two ways: with THP migration (the
series, ``thp_migration_supported`` on) and with the pre-series behaviour that splits
each THP first and migrates its 512 pages one by one (the switch off). The workload is
the demo's (thpsim/demo.py :func:`~thpsim.demo.migrate_by_caller`, reused, not copied):
a process on node 0's CPU with a THP-backed working set of ``nr_thp`` THPs, one
migrating call by the caller, and here, in its probe, an access phase after the move:
``rounds`` sweeps reading every 4 KiB page of the working set from the same CPU.

Per caller and way it reports, from the machine's files: THPs before and after (smaps
AnonHugePages), the base pages moved (the cost model's bytes copied / 4 KiB), the
modeled time of the migrating call, the TLB misses and modeled time of the access
phase, and the total of the two (/sys/kernel/debug/thpsim, docs/modeled-time.md).
With the default TLB (1,536 4 KiB entries, 1,024 2 MiB ones) a working set of 8 THPs
(4,096 pages) fits the TLB as 2 MiB mappings and overflows it as 4 KiB ones, so the
split working set misses on every access of a sweep.
"""

from __future__ import annotations

from typing import Any

from thpsim import PAGE_SIZE, Machine, Process
from thpsim.demo import CALLERS, migrate_by_caller
from thpsim.testing import modeled_time

__all__ = ["split_vs_thp", "format_table", "plot", "DEFAULT_NR_THP", "DEFAULT_ROUNDS"]

DEFAULT_NR_THP = 8
DEFAULT_ROUNDS = 2
#: the cost-model categories that make up a user access (a fault on the way too)
_ACCESS = ("access", "walk", "fault")


def _total(snap: dict[str, Any], row: str) -> float:
    return snap[row]["total"] if row in snap else 0.0


def _delta(a: dict[str, Any], b: dict[str, Any], section: str, row: str) -> float:
    return _total(b[section], row) - _total(a[section], row)


def _usage_ns(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The modeled ns between two readings, recomputed from the parameter usage
    (count x value): equal to the ns delta when the model adds up."""
    return sum((c - a["usage"][k][0]) * v for k, (c, v) in b["usage"].items())


def _probe(rounds: int) -> Any:
    seen: dict[str, Any] = {}

    def probe(stage: str, m: Machine, p: Process, a: int, length: int) -> dict[str, Any]:
        snap = modeled_time(m)
        if snap is None:
            raise ValueError("the experiment needs Machine(modeled_time=...)")
        if stage == "before":
            seen["before"] = snap
            return {}
        before = seen["before"]
        t = p.threads[0]
        for _ in range(rounds):
            for x in range(a, a + length, PAGE_SIZE):
                t.read(x)
        end = modeled_time(m)
        assert end is not None
        return {
            "pages_moved": int(_delta(before, snap, "events", "copy_bytes")) // PAGE_SIZE,
            "migration_us": _delta(before, snap, "ns", "total") / 1000,
            "migration_us_from_usage": _usage_ns(before, snap) / 1000,
            "migration_ns_by_category": {
                cat: _delta(before, snap, "ns", cat) for cat in snap["ns"] if cat != "total"},
            "splits": int(_delta(before, snap, "events", "split_huge_page")),
            "pmd_splits": int(_delta(before, snap, "events", "split_huge_pmd")),
            "tlb_flushes": int(_delta(before, snap, "events", "tlb_flush")),
            "accesses": rounds * (length // PAGE_SIZE),
            "tlb_misses_after": int(_delta(snap, end, "events", "tlb_miss")),
            "access_us_after": sum(_delta(snap, end, "ns", c) for c in _ACCESS) / 1000,
        }

    return probe


def split_vs_thp(profile: str = "seed", switches: dict[str, Any] | None = None,
                 nr_thp: int = DEFAULT_NR_THP, rounds: int = DEFAULT_ROUNDS,
                 params: dict[str, float] | bool = True, node_mib: int = 256,
                 callers: tuple[str, ...] = CALLERS) -> list[dict[str, Any]]:
    """Every caller with THP migration on and off; one dict per (caller, way) with the
    demo's fields and the probe's (module docstring), plus ``total_us``."""
    out = []
    for caller in callers:
        for whole in (True, False):
            r = migrate_by_caller(caller, profile, switches, node_mib, thp_migration=whole,
                                  nr_thp=nr_thp, machine_options={"modeled_time": params},
                                  probe=_probe(rounds), every_page=True)
            r["total_us"] = r["migration_us"] + r["access_us_after"]
            out.append(r)
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    """The per-caller comparison as text."""
    head = ("caller", "THP migration", "THPs before", "after", "pages moved",
            "migration us", "TLB misses after", "access us after", "total us")
    lines = [head]
    for r in rows:
        lines.append((r["caller"], "on" if r["thp_migration"] else "off (split)",
                      str(r["thp_before"]), str(r["thp_after"]), str(r["pages_moved"]),
                      f"{r['migration_us']:.1f}", str(r["tlb_misses_after"]),
                      f"{r['access_us_after']:.1f}", f"{r['total_us']:.1f}"))
    w = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = [" ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(row))
            for row in lines]
    by = {(r["caller"], r["thp_migration"]): r for r in rows}
    text.append("")
    for c in dict.fromkeys(r["caller"] for r in rows):
        on, off = by.get((c, True)), by.get((c, False))
        if on and off and on["migration_us"] > 0:
            text.append(f"{c}: split-first migration takes "
                        f"{off['migration_us'] / on['migration_us']:.2f}x the time of THP "
                        f"migration; accesses after it {off['tlb_misses_after']} TLB misses "
                        f"against {on['tlb_misses_after']}")
    return "\n".join(text)


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Two bar charts per caller (THP migration on and off): modeled migration time and
    access time after the move (stacked, the total), and TLB misses after the move."""
    import matplotlib  # lazy: only --plot draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: only --plot draws

    callers = list(dict.fromkeys(r["caller"] for r in rows))
    by = {(r["caller"], r["thp_migration"]): r for r in rows}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.38
    xs = range(len(callers))
    for k, (whole, label, color) in enumerate(((True, "THP migration", "tab:blue"),
                                               (False, "split first", "tab:orange"))):
        pos = [x + (k - 0.5) * width for x in xs]
        mig = [by[(c, whole)]["migration_us"] for c in callers]
        acc = [by[(c, whole)]["access_us_after"] for c in callers]
        ax1.bar(pos, mig, width, label=f"{label}: migration", color=color)
        ax1.bar(pos, acc, width, bottom=mig, label=f"{label}: accesses after",
                color=color, alpha=0.45)
        ax2.bar(pos, [by[(c, whole)]["tlb_misses_after"] for c in callers], width,
                label=label, color=color)
    for ax, title, unit in ((ax1, "modeled time (migration + accesses after)", "us"),
                            (ax2, "TLB misses in the accesses after the move", "misses")):
        ax.set_xticks(list(xs))
        ax.set_xticklabels(callers, rotation=20)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)
    fig.suptitle("thpsim experiment split-vs-thp (modeled time, docs/modeled-time.md)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
