"""The report's figures, drawn with matplotlib and returned as PNG bytes.

Model-only (a tool). Figures are made with :class:`matplotlib.figure.Figure`
directly, never through pyplot: no global figure state and no GUI backend, so
drawing is safe in any process and leaves nothing behind. Every function takes
the plain data of :mod:`thpsim.report.data` and returns PNG bytes, or None when
there is nothing to draw (the HTML then says so instead of showing an empty plot).

Units: memory in MiB (4 KiB pages / 256), rounds of the stress harness on the
time axis, migrations in folios (a THP migrated whole counts one).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from thpsim import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.report.memmap import KINDS

__all__ = ["KIND_COLOURS", "KIND_LABELS", "CONFIG_COLOURS", "callers_bar", "thp_outcomes_bar",
           "occupancy_area", "thps_line", "migration_rate", "memmap_grid"]

#: One colour per kind (memmap.KINDS order), told apart in colour-vision deficiency
#: too (Okabe-Ito; free a light grey so used memory stands out).
KIND_COLOURS = {
    "free": "#d9d9d9",
    "base": "#0072b2",
    "thp": "#e69f00",
    "pgtable": "#009e73",
    "poisoned": "#d55e00",
    "other": "#444444",
}
KIND_LABELS = {
    "free": "free",
    "base": "base pages (4 KiB, user)",
    "thp": "THPs (2 MiB, user)",
    "pgtable": "page tables",
    "poisoned": "poisoned (hwpoison)",
    "other": "other (kernel, reserved, zero pages, offline)",
}
#: Configurations side by side: a qualitative palette (matplotlib tab10).
CONFIG_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

#: Frames per 2 MiB block (a THP's pages).
HPAGE_PMD_NR = HPAGE_PMD_SIZE // PAGE_SIZE
#: Pages per MiB (4 KiB pages).
_PAGES_PER_MIB = (1 << 20) // PAGE_SIZE
#: 2 MiB blocks per row of the memory-map grid: 32 blocks, 64 MiB a row.
_GRID_ROW_BLOCKS = 32
_DPI = 100


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    return buf.getvalue()


def _grouped_bars(ax: Any, categories: list[str], series: list[tuple[str, list[float]]]
                  ) -> None:
    """Bars of several series side by side at each category."""
    n = len(series)
    width = 0.8 / max(n, 1)
    x = np.arange(len(categories))
    for i, (name, values) in enumerate(series):
        bars = ax.bar(x + (i - (n - 1) / 2) * width, values, width, label=name,
                      color=CONFIG_COLOURS[i % len(CONFIG_COLOURS)])
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v else "" for v in values], fontsize=7,
                     padding=1)
    ax.set_xticks(x, categories, rotation=20 if len(categories) > 5 else 0,
                  ha="right" if len(categories) > 5 else "center")
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _legend_right(ax: Any, title: str = "configuration") -> None:
    """The legend right of the plot, clear of bars, lines and tick labels."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
              title=title, title_fontsize=8)


def _size(pages: float) -> str:
    """Pages as KiB below 1 MiB, else MiB."""
    if pages < _PAGES_PER_MIB:
        return f"{pages * 4:,.0f} KiB"
    return f"{pages / _PAGES_PER_MIB:,.1f} MiB"


#: The callers in the order the kernel's callers are usually listed; others follow,
#: "other" (migrations no caller was measured for) last.
_CALLER_ORDER = ("move_pages", "mbind", "migrate_pages", "cpuset", "hotplug", "soft_offline")


def callers_bar(configs: list[dict[str, Any]]) -> bytes | None:
    """Folios migrated per caller, one bar per configuration at each caller (mean
    per run, so configurations with different run counts compare)."""
    seen = {k for c in configs for k, v in c["migrations_by_caller"].items() if v}
    if not seen:
        return None
    callers = [k for k in _CALLER_ORDER if k in seen]
    callers += sorted(seen - set(callers) - {"other"}) + (["other"] if "other" in seen else [])
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot()
    _grouped_bars(ax, callers, [(c["label"], [c["migrations_by_caller"].get(k, 0) / c["runs"]
                                              for k in callers]) for c in configs])
    ax.set_title("Folio migrations per caller (mean per run)")
    ax.set_xlabel("caller (kernel path that asked for the migration)")
    ax.set_ylabel("folios migrated per run (count)")
    _legend_right(ax)
    return _png(fig)


#: (key, label) of the THP outcome bars: counters of the store's runs.
_THP_OUTCOMES = (("thp_migrations", "THPs migrated whole\n(thp_migration_success)"),
                 ("thp_split_page", "THPs split\n(thp_split_page)"),
                 ("thp_split_pmd", "PMD mappings split\n(thp_split_pmd)"))


def thp_outcomes_bar(configs: list[dict[str, Any]]) -> bytes | None:
    """What became of THPs, per configuration (mean per run): migrated whole, split,
    PMD mapping split."""
    if not any(c[k] for c in configs for k, _ in _THP_OUTCOMES):
        return None
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot()
    _grouped_bars(ax, [label for _, label in _THP_OUTCOMES],
                  [(c["label"], [c[k] / c["runs"] for k, _ in _THP_OUTCOMES])
                   for c in configs])
    ax.set_title("THPs migrated whole and split (mean per run)")
    ax.set_xlabel("event (/proc/vmstat counter)")
    ax.set_ylabel("events per run (count)")
    _legend_right(ax)
    return _png(fig)


def occupancy_area(series: dict[str, Any]) -> bytes | None:
    """Memory in use on each node over the run, stacked by kind (free left out: it
    would dwarf the rest; its range is in each panel's title)."""
    nodes = series["nodes"]
    rounds = series["round"]
    if not nodes or len(rounds) < 1:
        return None
    kinds = [k for k in KINDS if k != "free"]
    fig = Figure(figsize=(9, 2.6 * len(nodes) + 0.8))
    axes = fig.subplots(len(nodes), 1, sharex=True, squeeze=False)[:, 0]
    top = 0.0
    for ax, (nid, cols) in zip(axes, nodes.items(), strict=True):
        ys = [np.asarray(cols.get(k, [0] * len(rounds)), dtype=float) / _PAGES_PER_MIB
              for k in kinds]
        top = max(top, float(np.sum(ys, axis=0).max(initial=0)))
        ax.stackplot(rounds, ys, labels=[KIND_LABELS[k] for k in kinds],
                     colors=[KIND_COLOURS[k] for k in kinds], step=None)
        free = np.asarray(cols.get("free", [0]), dtype=float)
        ax.set_title(f"Node {nid}: memory in use by kind (free {_size(free.min())}"
                     f" to {_size(free.max())}, not drawn)", fontsize=10)
        ax.set_ylabel("memory (MiB)")
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.set_ylim(0, max(top * 1.1, 1.0))
    axes[-1].set_xlabel("stress rounds completed")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Memory in use per node over the run (stacked)")
    return _png(fig)


def thps_line(series: dict[str, Any]) -> bytes | None:
    """THPs on each node over the run (pages in THPs / 512), one line per node."""
    nodes = series["nodes"]
    rounds = series["round"]
    if not nodes or not rounds:
        return None
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    for i, (nid, cols) in enumerate(nodes.items()):
        thps = np.asarray(cols.get("thp", [0] * len(rounds))) // HPAGE_PMD_NR
        ax.plot(rounds, thps, marker="o", markersize=3, label=f"node {nid}",
                color=CONFIG_COLOURS[i % len(CONFIG_COLOURS)], drawstyle="steps-post")
    ax.set_title("THPs per node over the run")
    ax.set_xlabel("stress rounds completed")
    ax.set_ylabel("THPs (count, 2 MiB each)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    _legend_right(ax, "node")
    return _png(fig)


def migration_rate(series: dict[str, Any]) -> bytes | None:
    """Migrations per round between samples, per caller (from the cumulative counts)."""
    rounds = np.asarray(series["round"], dtype=float)
    mig = {k: v for k, v in series["migrations"].items() if any(v)}
    if len(rounds) < 2 or not mig:
        return None
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    d_round = np.diff(rounds)
    d_round[d_round <= 0] = 1
    for i, (caller, cum) in enumerate(mig.items()):
        rate = np.diff(np.asarray(cum, dtype=float)) / d_round
        # each rate holds over the rounds since the sample before: a step ending there
        ax.plot(rounds[1:], rate, marker="o", markersize=3, label=caller,
                color=CONFIG_COLOURS[i % len(CONFIG_COLOURS)], drawstyle="steps-pre")
    ax.set_title("Migration rate over the run")
    ax.set_xlabel("stress rounds completed")
    ax.set_ylabel("folios migrated per round")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if len(mig) > 1:
        _legend_right(ax, "caller")
    return _png(fig)


def _block_colours(counts: np.ndarray, kinds: list[str]) -> np.ndarray:
    """An RGB colour per block: the colour of the kind of memory in use holding most of
    the block's frames, blended into the free colour by how much of the block is free
    (a block 1/512 in use is pale, a full one solid); the free colour for a free block."""
    rgb = np.array([to_rgb(KIND_COLOURS.get(k, "#ff00ff")) for k in kinds])
    free = kinds.index("free") if "free" in kinds else None
    in_use = counts.astype(float)
    if free is not None:
        in_use[:, free] = -1
    main = in_use.argmax(axis=1)
    total = counts.sum(axis=1).clip(min=1)
    used = total - (counts[:, free] if free is not None else 0)
    frac = used / total
    alpha = np.where(used > 0, _PALEST + (1 - _PALEST) * frac, 0.0)[:, None]
    base = rgb[free] if free is not None else np.ones(3)
    return base * (1 - alpha) + rgb[main] * alpha


#: How strong the colour of a block with a single frame in use is (1: solid).
_PALEST = 0.4


def memmap_grid(memmap: dict[str, Any]) -> bytes | None:
    """Each node's physical memory as a grid of 2 MiB blocks, coloured by the kind of
    memory in use holding most of the block (pale when most of the block is free, the
    free grey when all of it is); 32 blocks (64 MiB) a row, low addresses top left."""
    if not memmap or not memmap.get("nodes"):
        return None
    kinds = list(memmap.get("kinds", KINDS))
    block_mib = memmap.get("block_bytes", 2 << 20) >> 20
    row_mib = _GRID_ROW_BLOCKS * block_mib
    nodes = memmap["nodes"]
    rows = {nid: max(1, -(-len(n["counts"]) // _GRID_ROW_BLOCKS)) for nid, n in nodes.items()}
    heights = list(rows.values())
    fig = Figure(figsize=(9, 0.28 * sum(heights) + 1.2 * len(nodes) + 1.0))
    axes = fig.subplots(len(nodes), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, (nid, node) in zip(axes, nodes.items(), strict=True):
        counts = np.asarray(node["counts"], dtype=np.int64).reshape(-1, len(kinds))
        n = len(counts)
        img = np.ones((rows[nid] * _GRID_ROW_BLOCKS, 3))  # white past the node's end
        img[:n] = _block_colours(counts, kinds)
        img = img.reshape(rows[nid], _GRID_ROW_BLOCKS, 3)
        ax.imshow(img, aspect="auto", interpolation="nearest",
                  extent=(0, row_mib, rows[nid] * row_mib, 0))
        totals = counts.sum(axis=0)
        used = ", ".join(f"{KIND_LABELS.get(k, k).split(' (')[0]} {_size(c)}"
                         for k, c in zip(kinds, totals, strict=True) if c and k != "free")
        ax.set_title(f"Node {nid} ({n * block_mib:,} MiB); in use: {used or 'nothing'}",
                     fontsize=9)
        ax.set_ylabel("row start (MiB)")
        ax.set_xlabel("offset within the row (MiB)")
        ax.set_xticks(np.arange(0, row_mib + 1, 8 * block_mib))
        step = 1 if rows[nid] <= 8 else -(-rows[nid] // 8)
        ax.set_yticks(np.arange(0, rows[nid] * row_mib, step * row_mib))
        # white lines between blocks, so each 2 MiB block is a square of its own
        ax.vlines(np.arange(block_mib, row_mib, block_mib), 0, rows[nid] * row_mib,
                  colors="white", linewidth=1.0, zorder=3)
        ax.hlines(np.arange(row_mib, rows[nid] * row_mib, row_mib), 0, row_mib,
                  colors="white", linewidth=1.0, zorder=3)
    handles = [Patch(facecolor=KIND_COLOURS.get(k, "#ff00ff"), edgecolor="#888888",
                     label=KIND_LABELS.get(k, k)) for k in kinds]
    if "free" in kinds:
        # a sample pale block: a few base pages, the rest free
        block = memmap.get("block_pages", HPAGE_PMD_NR)
        sample = [[block - 16 if k == "free" else 16 if k == "base" else 0 for k in kinds]]
        pale = _block_colours(np.array(sample), kinds)
        handles.append(Patch(facecolor=pale[0], edgecolor="#888888",
                             label="pale: a block mostly free (here a few base pages)"))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("Physical memory per node: 2 MiB blocks coloured by the memory in use")
    fig.tight_layout(rect=(0, 0.6 / fig.get_figheight() + 0.02, 1, 1))
    return _png(fig)
