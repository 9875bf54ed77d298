"""The report as one self-contained HTML file: tables, figures embedded as base64
PNG (``data:`` URIs), no external URL, no JavaScript.

Model-only (a tool). :func:`render` takes the data of
:func:`thpsim.report.data.build_report` and draws the figures itself
(:mod:`thpsim.report.plots`); every figure has a heading and a sentence saying
what it shows and how to read it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from typing import Any

from thpsim.report import plots

__all__ = ["render"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       max-width: 1000px; margin: 1.5em auto; padding: 0 1em; color: #222;
       line-height: 1.45; background: #fff; }
h1 { font-size: 1.6em; border-bottom: 2px solid #0072b2; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .88em; }
th, td { border: 1px solid #ccc; padding: .25em .55em; text-align: right; }
th { background: #eef3f8; }
td.l, th.l { text-align: left; }
tr.bad td { background: #fdecea; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
            font-size: .9em; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: .5em; overflow-x: auto;
      white-space: pre-wrap; word-break: break-all; }
code.cmd { background: #f6f6f6; border: 1px solid #ddd; padding: .1em .3em;
           user-select: all; word-break: break-all; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, p.how { color: #444; font-size: .92em; }
p.empty { color: #666; font-style: italic; }
.meta { color: #555; font-size: .9em; }
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return escape(str(v))


def _table(head: list[str], rows: list[list[Any]], *, left: int = 1,
           bad: list[bool] | None = None, cls: str = "") -> str:
    """A table; the first ``left`` columns are text (left-aligned)."""
    th = "".join(f'<th class="l">{escape(h)}</th>' if i < left else f"<th>{escape(h)}</th>"
                 for i, h in enumerate(head))
    body = []
    for n, row in enumerate(rows):
        tds = "".join(f'<td class="l">{_fmt(v)}</td>' if i < left else f"<td>{_fmt(v)}</td>"
                      for i, v in enumerate(row))
        attr = ' class="bad"' if bad and bad[n] else ""
        body.append(f"<tr{attr}>{tds}</tr>")
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(png: bytes | None, alt: str, how: str, empty: str) -> str:
    """A figure with its caption, or a sentence saying why there is none."""
    if png is None:
        return f'<p class="empty">{escape(empty)}</p>'
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
            f"<figcaption>{escape(how)}</figcaption></figure>")


def _summary(report: dict[str, Any]) -> str:
    head = ["configuration", "hash", "runs", "ok", "failed", "error", "rounds",
            "steps", "folios migrated", "THPs migrated", "migrations/s", "THPs split",
            "PMDs split"]
    rows, bad = [], []
    for c in report["configurations"]:
        rows.append([c["label"], c["config_hash"][:8], c["runs"], c["ok"], c["failed"],
                     c["error"], c["rounds"], c["steps"], c["migrations"],
                     c["thp_migrations"], c["migration_rate"], c["thp_split_page"],
                     c["thp_split_pmd"]])
        bad.append(bool(c["failed"] or c["error"]))
    return _table(head, rows, left=2, bad=bad, cls="summary")


def _counters(report: dict[str, Any]) -> str:
    configs = report["configurations"]
    names = sorted({k for c in configs for k, v in c["vmstat"].items() if v})
    if not names:
        return '<p class="empty">No /proc/vmstat counters were recorded.</p>'
    rows = [[k, *[c["vmstat"].get(k, 0) / c["runs"] for c in configs]] for k in names]
    return _table(["counter (/proc/vmstat)", *[c["label"] for c in configs]], rows,
                  cls="counters")


def _errors(report: dict[str, Any]) -> str:
    configs = report["configurations"]
    names = sorted({k for c in configs for k, v in c["errors"].items() if v})
    if not names:
        return '<p class="empty">No operation returned an error.</p>'
    rows = [[k, *[c["errors"].get(k, 0) for c in configs]] for k in names]
    return _table(["error", *[c["label"] for c in configs]], rows, cls="errors")


def _failures(report: dict[str, Any]) -> str:
    fails = report["failures"]
    if not fails:
        return "<p>No run failed.</p>"
    out = ['<p class="how">Each failed run with the command that replays it (select the '
           "command with one click and paste it into a shell); the full report is folded "
           "under it.</p>"]
    for f in fails:
        where = (f"; reproducer round {f['round']}" if f.get("round") is not None else "")
        out.append(f"<h3>Run {f['id']}: {escape(f['label'])}, seed {f['seed']} "
                   f"({escape(f['outcome'])}{where})</h3>")
        if f["summary"]:
            out.append(f"<p>{escape(f['summary'])}</p>")
        if f["replay"]:
            out.append(f'<p>Replay: <code class="cmd">{escape(f["replay"])}</code></p>')
        else:
            out.append('<p class="empty">No replay command was recorded for this run.</p>')
        if f["report"]:
            out.append(f"<details><summary>failure report</summary><pre>"
                       f"{escape(f['report'])}</pre></details>")
    return "\n".join(out)


def _run_section(c: dict[str, Any], n: int) -> str:
    run = c["run"]
    series = run["series"]
    label = escape(c["label"])
    last = series["round"][-1] if series["round"] else None
    out = [f'<h3 id="config-{n}">{label}: run {run["id"]} (seed {run["seed"]}, '
           f'{escape(run["outcome"])}, {run["rounds"]} rounds)</h3>']
    out.append(_figure(
        plots.occupancy_area(series), f"memory in use per node, {c['label']}",
        "Each panel is one NUMA node; the coloured bands, stacked, are the memory in use "
        "at each sampled round, by kind (orange: pages in THPs, blue: 4 KiB base pages, "
        "green: page tables, red: poisoned frames, dark grey: kernel and reserved). "
        "The top of the stack is the node's memory in use; free memory is the rest of the "
        "node (its range is in each panel's title). Bands moving from one node to the "
        "other are memory being migrated.",
        "No samples were recorded for this run, so there is no time series."))
    out.append(_figure(
        plots.thps_line(series), f"THPs per node, {c['label']}",
        "The number of THPs (2 MiB huge pages) on each node at each sampled round. A THP "
        "migrated whole moves one step from one line to the other; a THP split or freed "
        "makes a line drop without the other rising.",
        "No samples were recorded for this run."))
    out.append(_figure(
        plots.migration_rate(series), f"migration rate, {c['label']}",
        "Folios migrated per stress round between two samples (a THP migrated whole "
        "counts one), per caller where the run recorded callers. Flat stretches at zero "
        "are rounds where nothing moved (all pages already where asked, or a target "
        "node out of memory).",
        "Too few samples with migration counts to draw a rate (at least two are needed)."))
    where = f" at round {last}" if last is not None else " at the end of the run"
    out.append(_figure(
        plots.memmap_grid(run["memmap"]), f"physical memory map, {c['label']}",
        "Every small square is one 2 MiB block of physical memory (512 frames), in rows "
        "of 32 blocks (64 MiB), low addresses top left, one panel per node. A square has "
        "the colour of the kind of memory in use holding most of its frames, solid when "
        "the block is full and paler the more of it is free; light grey squares are "
        f"wholly free. This is the machine{where}: solid orange squares are THPs, blue "
        "ones 4 KiB pages, green ones page tables.",
        "No memory map was recorded for this run."))
    return "\n".join(out)


def render(report: dict[str, Any], *, progress: Callable[[], None] | None = None) -> str:
    """The report's HTML (one string). ``progress`` is called once per configuration
    section drawn."""
    t = report["totals"]
    configs = report["configurations"]
    title = escape(report["title"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="meta">Made by <code class="cmd">{escape(report["command"])}</code><br>'
        f"Source: {escape(report['source'])}. {t['runs']} run(s) of "
        f"{t['configurations']} configuration(s); {t['failed']} failed, {t['error']} "
        f"ended in an error; {t['migrations']:,} folios migrated in "
        f"{t['seconds']:,.1f} s of runs.</p>",
        "<h2>Summary per configuration</h2>",
        '<p class="how">One row per configuration (profile and switches): how many runs, how '
        "they ended, and what they did in total. Migrations/s is folios migrated over the "
        "runs' own time (not wall-clock time of the campaign). Rows of configurations "
        "with a failed run are shaded red.</p>",
        _summary(report),
        "<h2>Migrations per caller</h2>",
        _figure(plots.callers_bar(configs), "folio migrations per caller",
                "Bars: folios migrated per run by each kernel path that migrates (move_pages, "
                "mbind, migrate_pages, cpuset mems changes, memory hot-remove, soft offline; "
                "'other': migrations no caller was measured for), the configurations side "
                "by side in the colours of the legend. A THP migrated whole counts one "
                "folio.",
                "No per-caller migration counts were recorded (a single --stress run counts "
                "migrations in total only; see the summary and the rate over the run)."),
        "<h2>THPs migrated whole and split</h2>",
        _figure(plots.thp_outcomes_bar(configs), "THPs migrated and split",
                "Bars: per run, THPs migrated whole, THPs split into 4 KiB pages, and PMD "
                "mappings split (a THP mapped by PTEs afterwards), from /proc/vmstat; "
                "configurations side by side. A profile that migrates THPs whole shows "
                "tall first bars; one that splits to migrate shows tall split bars.",
                "No THP was migrated or split in these runs."),
        "<h2>Counters</h2>",
        '<p class="how">The final /proc/vmstat counters of the runs (THP and migration '
        "counters), mean per run, one column per configuration; counters zero everywhere "
        "are left out.</p>",
        _counters(report),
        "<h3>Errors returned by operations</h3>",
        '<p class="how">Operations of the stress workload that returned an error, by '
        "errno name (with the operation, where the run recorded it), summed over the "
        "runs. Most are expected (a range that holds no VMA, a busy page); the oracle "
        "decides what is a failure.</p>",
        _errors(report),
        "<h2>Failures</h2>",
        _failures(report),
        "<h2>Over a run, per configuration</h2>",
        '<p class="how">For one run of each configuration (the one asked for with --run, '
        "else the first with samples): memory per node over the run, THPs per node, the "
        "migration rate, and the physical memory map at the end.</p>",
    ]
    for n, c in enumerate(configs):
        parts.append(_run_section(c, n))
        if progress is not None:
            progress()
    parts.append("</body></html>\n")
    return "\n".join(parts)
