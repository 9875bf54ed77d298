"""numastat(8) on a scenario's state.

Models: numactl's numastat.c (the 2012 C rewrite), reading what it reads:
``/sys/devices/system/node/nodeN/numastat`` (the default and ``-n``),
``nodeN/meminfo`` (``-m``) and ``/proc/PID/numa_maps`` (``-p``), laid out the way its
table code lays them out when stdout is not a terminal (no line folding):

- no options: the old perl script's format, kept by the rewrite: a blank 16-column
  corner, ``nodeN`` headers right-justified in 16 columns, counter names left-justified
  in 16, values as integers (pages);
- ``-n``, ``-m``, ``-p``: a title line after a blank line, ``Node N`` and ``Total``
  headers over 15-dash rules, values in MB with two decimals (``-c``: none, and each
  column as narrow as its widest cell plus one); ``-p`` adds a rule and a ``Total`` row,
  and sorts numa_maps' pages into Huge (hugetlb), Heap, Stack and Private;
- ``-z`` leaves out rows and columns that are all zero.

``-p`` takes a scenario process name or a pid (numastat's own pattern match runs over
the command names; a scenario names its processes, and each process's command name is
its scenario name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thpsim.usr.numactl import NODE_DIR

__all__ = ["Table", "render", "numastat_compat", "numastat_info", "system_info",
           "process_info", "PROCESS_ROWS", "NUMASTAT_ROWS", "MEMINFO_ROWS"]

_MB = 1 << 20
_PAGE_SIZE = 4096
_HPAGE_SIZE = 2 << 20

#: numa_maps categories (token that marks a line, label), the catch-all last.
PROCESS_ROWS = (("huge", "Huge"), ("heap", "Heap"), ("stack", "Stack"), ("N", "Private"))
#: nodeN/numastat counters and their -n labels.
NUMASTAT_ROWS = (("numa_hit", "Numa_Hit"), ("numa_miss", "Numa_Miss"),
                 ("numa_foreign", "Numa_Foreign"), ("interleave_hit", "Interleave_Hit"),
                 ("local_node", "Local_Node"), ("other_node", "Other_Node"))
#: nodeN/meminfo rows in numastat -m's order (rows the file lacks are left out).
MEMINFO_ROWS = ("MemTotal", "MemFree", "MemUsed", "HighTotal", "HighFree", "LowTotal",
                "LowFree", "Active", "Inactive", "Active(anon)", "Inactive(anon)",
                "Active(file)", "Inactive(file)", "Unevictable", "Mlocked", "Dirty",
                "Writeback", "FilePages", "Mapped", "AnonPages", "Shmem", "KernelStack",
                "PageTables", "NFS_Unstable", "Bounce", "WritebackTmp", "Slab",
                "SReclaimable", "SUnreclaim", "AnonHugePages", "ShmemHugePages",
                "ShmemPmdMapped", "FileHugePages", "FilePmdMapped", "HugePages_Total",
                "HugePages_Free", "HugePages_Surp", "KReclaimable")


@dataclass
class Table:
    """One numastat table: column headers (None: blank), rows of (label, values) where a
    row may be a rule (``rule=True``), and the layout (widths, decimals, rules under the
    header)."""

    headers: list[str]
    rows: list[tuple[str, list[float]]] = field(default_factory=list)
    corner: str | None = None  # the top-left cell ("PID" in the many-process table)
    header_rule: bool = True  # a row of dashes under the headers
    total_row: bool = False  # a rule and a "Total" row (process tables)
    decimals: int = 2
    label_width: int = 16
    col_width: int = 16
    compress: bool = False
    skip_zero: bool = False


def _fmt(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}"


def render(t: Table) -> str:
    """The table as numastat's display_table() prints it (no folding)."""
    rows = list(t.rows)
    ncols = len(t.headers)
    if t.total_row:
        totals = [sum(r[1][c] for r in rows) for c in range(ncols)]
    cols = list(range(ncols))
    if t.skip_zero:
        rows = [r for r in rows if any(v != 0 for v in r[1])]
        cols = [c for c in cols if any(r[1][c] != 0 for r in t.rows)]
    all_rows = rows + ([("Total", totals)] if t.total_row else [])
    # column widths: fixed, or (-c) the widest cell + 1 gutter, at least 4 + 1
    if t.compress:
        label_w = max([4, len(t.corner or "")] + [len(r[0]) for r in all_rows]) + 1
        widths = {c: min(16, max([4, len(t.headers[c])]
                                 + [len(_fmt(r[1][c], t.decimals)) for r in all_rows]) + 1)
                  for c in cols}
        label_w = min(label_w, 16)
    else:
        label_w = t.label_width
        if t.total_row:  # numastat lets the label column grow to 24 for process names
            label_w = min(24, max([16] + [len(r[0]) for r in all_rows]) + 1)
        widths = {c: t.col_width for c in cols}

    def line(label: str, cells: list[str]) -> str:
        return label[:label_w].ljust(label_w) + "".join(
            s[:widths[c]].rjust(widths[c]) for c, s in zip(cols, cells, strict=True))

    out = [line(t.corner or "", [t.headers[c] for c in cols])]
    if t.header_rule:
        corner_rule = "-" * (label_w - 1) if t.corner else ""
        out.append(line(corner_rule, ["-" * (widths[c] - 1) for c in cols]))
    for label, values in rows:
        out.append(line(label, [_fmt(values[c], t.decimals) for c in cols]))
    if t.total_row:
        out.append(line("-" * (label_w - 1), ["-" * (widths[c] - 1) for c in cols]))
        out.append(line("Total", [_fmt(totals[c], t.decimals) for c in cols]))
    return "\n".join(out) + "\n"


def _nodes(machine: Any) -> list[int]:
    return sorted(machine.nodes)


def _read_node_file(machine: Any, nid: int, name: str) -> list[list[str]]:
    return [ln.replace(":", " ").split()
            for ln in machine.fs.read(f"{NODE_DIR}/node{nid}/{name}").splitlines()
            if ln.strip()]


def numastat_compat(machine: Any) -> tuple[str, dict[str, Any]]:
    """``numastat`` without options: the counters of nodeN/numastat, in pages."""
    nids = _nodes(machine)
    values: dict[str, list[float]] = {}
    for i, nid in enumerate(nids):
        for name, v in _read_node_file(machine, nid, "numastat"):
            values.setdefault(name, [0.0] * len(nids))[i] = float(v)
    t = Table([f"node{n}" for n in nids], [(k, v) for k, v in values.items()],
              header_rule=False, decimals=0)
    obj = {"nodes": nids, "counters": {k: [int(x) for x in v] for k, v in values.items()}}
    return render(t), obj


def _system_table(machine: Any, name: str, rows: list[tuple[str, str]], tok: int,
                  compress: bool, skip_zero: bool) -> tuple[Table, dict[str, Any]]:
    nids = _nodes(machine)
    found: dict[str, list[float]] = {}
    for i, nid in enumerate(nids):
        for words in _read_node_file(machine, nid, name):
            key, raw = words[tok], float(words[tok + 1])
            if len(words) < 4:
                mult = _PAGE_SIZE  # nodeN/numastat counts pages
            elif words[2].startswith("HugePages"):
                mult = _HPAGE_SIZE
            elif len(words) > 4 and words[4] == "kB":
                mult = 1024
            else:
                mult = 1
            found.setdefault(key, [0.0] * len(nids))[i] = raw * mult / _MB
    order = [(k, label) for k, label in rows if k in found]
    order += [(k, k) for k in found if k not in dict(rows)]  # newer files' extra rows
    table_rows = [(label, found[k] + [sum(found[k])]) for k, label in order]
    t = Table([f"Node {n}" for n in nids] + ["Total"], table_rows,
              decimals=0 if compress else 2, compress=compress, skip_zero=skip_zero)
    obj = {"nodes": nids, "unit": "MB",
           "rows": {label: dict(zip([*map(str, nids), "Total"], v, strict=True))
                    for label, v in table_rows}}
    return t, obj


def numastat_info(machine: Any, compress: bool = False,
                  skip_zero: bool = False) -> tuple[str, dict[str, Any]]:
    """``numastat -n``: nodeN/numastat in MB per node, with a Total column."""
    t, obj = _system_table(machine, "numastat", list(NUMASTAT_ROWS), 0, compress, skip_zero)
    return "\nPer-node numastat info (in MBs):\n" + render(t), obj


def system_info(machine: Any, compress: bool = False,
                skip_zero: bool = False) -> tuple[str, dict[str, Any]]:
    """``numastat -m``: nodeN/meminfo in MB per node, with a Total column."""
    t, obj = _system_table(machine, "meminfo", [(k, k) for k in MEMINFO_ROWS], 2, compress,
                           skip_zero)
    return "\nPer-node system memory usage (in MBs):\n" + render(t), obj


def _process_usage(machine: Any, pid: int, nids: list[int]) -> list[list[float]]:
    """MB per (category, node) from /proc/PID/numa_maps, numastat's way: a line's
    category is the first of huge/heap/stack among its words (else Private); every
    ``N<node>=<pages>`` word adds pages (2 MiB ones for huge)."""
    usage = [[0.0] * len(nids) for _ in PROCESS_ROWS]
    private = len(PROCESS_ROWS) - 1
    for line in machine.fs.read(f"/proc/{pid}/numa_maps").splitlines():
        cat = private
        for word in line.split():
            if cat == private:
                for i, (tok, _) in enumerate(PROCESS_ROWS[:private]):
                    if word.startswith(tok):
                        cat = i
                        break
            if word.startswith("N") and "=" in word:
                node, _, pages = word[1:].partition("=")
                size = _HPAGE_SIZE if cat == 0 else _PAGE_SIZE
                usage[cat][nids.index(int(node))] += int(pages) * size / _MB
    return usage


def process_info(machine: Any, procs: list[tuple[int, str]], compress: bool = False,
                 skip_zero: bool = False, verbose: bool = False
                 ) -> tuple[str, dict[str, Any]]:
    """``numastat -p``: per-node memory of the processes ``procs`` ((pid, command name)
    pairs, sorted by pid): one table per process by category (one process, or ``-v``),
    else one row per process."""
    nids = _nodes(machine)
    headers = [f"Node {n}" for n in nids] + ["Total"]
    dec = 0 if compress else 2
    procs = sorted(set(procs))
    text: list[str] = []
    obj: dict[str, Any] = {"nodes": nids, "unit": "MB", "processes": {}}
    if len(procs) == 1 or verbose:
        for pid, comm in procs:
            usage = _process_usage(machine, pid, nids)
            rows = [(label, u + [sum(u)]) for (_, label), u in zip(PROCESS_ROWS, usage,
                                                                    strict=True)]
            t = Table(headers, rows, total_row=True, decimals=dec, compress=compress,
                      skip_zero=skip_zero)
            text.append(f"\nPer-node process memory usage (in MBs) for PID {pid} ({comm})\n"
                        + render(t))
            obj["processes"][str(pid)] = {"name": comm, "rows": {
                label: dict(zip([*map(str, nids), "Total"], v, strict=True))
                for label, v in rows}}
        return "".join(text), obj
    rows = []
    for pid, comm in procs:
        usage = _process_usage(machine, pid, nids)
        per_node = [sum(u[i] for u in usage) for i in range(len(nids))]
        rows.append((f"{pid} ({comm})", per_node + [sum(per_node)]))
        obj["processes"][str(pid)] = {"name": comm, "total": dict(
            zip([*map(str, nids), "Total"], rows[-1][1], strict=True))}
    t = Table(headers, rows, corner="PID", total_row=True, decimals=dec, compress=compress,
              skip_zero=skip_zero)
    return "\nPer-node process memory usage (in MBs)\n" + render(t), obj
