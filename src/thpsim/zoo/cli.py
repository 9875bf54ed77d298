"""``thpsim zoo``: hunt the catalog's bugs with their detectors and print the table.

    thpsim zoo                          every bug, seed 0, full budgets
    thpsim zoo --bug B3 --bug B15       some of them
    thpsim zoo --seeds 5 --json         medians over seeds 0..4, as JSON
    thpsim zoo --budget-scale 0.25      smaller stress and random/pct budgets
    thpsim zoo --all-off                the same budgets with every switch off, in
                                        both profiles: must find nothing

For each bug: the detector that found it, the symptom, the median wall time and
scheduling steps to the first detection (over the seeds it was found on), the
shrunk reproducer's length, the command that replays it, and whether that replay
passes with the bug's switches off ("passes now"). Exit status 1 when a bug is not
found, its shrunk reproducer does not fail the same way or does not pass with the
switches off, or (``--all-off``) anything is found.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from thpsim.zoo.catalog import CATALOG
from thpsim.zoo.runner import DEFAULT_OUT, BugReport, all_off, run_bug, symptom_of

__all__ = ["main"]


def _fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _ok(r: BugReport) -> bool:
    c = r.confirmation
    return r.found == r.seeds and c is not None and c.replays_same and c.passes_now


def _report_json(r: BugReport) -> dict[str, Any]:
    c = r.confirmation
    return {
        "bug": r.bug, "title": r.title, "profile": r.profile, "switches": r.switches,
        "found": r.found, "seeds": r.seeds, "found_by": r.found_by, "symptom": r.symptom,
        "median_seconds": r.median_seconds, "median_steps": r.median_steps,
        "shrunk_length": c.shrunk_length if c else None,
        "original_length": c.original_length if c else None,
        "replay": c.replay if c else None,
        "replays_same": c.replays_same if c else None,
        "passes_now": c.passes_now if c else None,
        "passes_now_replay": c.passes_now_replay if c else None,
        "schedule_fitted": c.schedule_fitted if c else None,
        "doc": r.doc,
        "seeds_detail": [
            {"seed": h.seed, "found_by": h.finding.detector if h.finding else None,
             "seconds": h.seconds, "steps": h.steps,
             "runs": h.finding.runs if h.finding else None,
             "message": h.finding.message if h.finding else None,
             "replay": h.finding.replay if h.finding else None}
            for h in r.hunts],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="thpsim zoo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bug", action="append", default=[], help="a bug id (repeatable)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default 1)")
    ap.add_argument("--budget-scale", type=float, default=1.0,
                    help="scale stress rounds and random/pct runs (not explore bounds)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--all-off", action="store_true",
                    help="every switch off in both profiles: must find nothing")
    ap.add_argument("--out", default=DEFAULT_OUT, help="where stress reproducers go")
    ap.add_argument("--no-shrink", action="store_true", help="skip shrinking")
    ap.add_argument("--shrink-seconds", type=float, default=60.0,
                    help="time budget for shrinking a stress reproducer (default 60)")
    args = ap.parse_args(argv)
    unknown = [b for b in args.bug if b.upper() not in CATALOG]
    if unknown:
        ap.error(f"unknown bug(s) {', '.join(unknown)}; known: {', '.join(CATALOG)}")
    bugs = [CATALOG[b.upper()] for b in args.bug] if args.bug else list(CATALOG.values())

    if args.all_off:
        rows = all_off(bugs, args.seeds, args.budget_scale, out=args.out)
        false = [(b, p, f) for b, p, f in rows if f.found]
        if args.json:
            print(json.dumps([{"bug": b, "profile": p, "detector": f.detector, "seed": f.seed,
                               "runs": f.runs, "steps": f.steps, "seconds": f.seconds,
                               "found": f.found, "message": f.message or None,
                               "replay": f.replay or None} for b, p, f in rows], indent=1))
        else:
            print(_table([[b, p, f.detector, str(f.seed), str(f.runs), str(f.steps),
                           f"{f.seconds:.2f}", symptom_of(f.message) if f.found else "nothing"]
                          for b, p, f in rows],
                         ["bug", "profile", "detector", "seed", "runs", "steps", "s",
                          "found"]))
            print(f"all switches off: {len(false)} false alarm(s) in {len(rows)} runs")
            for b, p, f in false:
                print(f"  {b} {p} {f.detector}: {f.message.splitlines()[0]}\n  replay: {f.replay}")
        return 1 if false else 0

    reports = [run_bug(b, args.seeds, args.budget_scale, args.out, not args.no_shrink,
                       args.shrink_seconds) for b in bugs]
    if args.json:
        print(json.dumps([_report_json(r) for r in reports], indent=1))
    else:
        rows = []
        for r in reports:
            c = r.confirmation
            rows.append([r.bug, r.found_by, r.symptom, f"{r.found}/{r.seeds}",
                         _fmt_s(r.median_seconds),
                         "-" if r.median_steps is None else str(r.median_steps),
                         "-" if c is None else f"{c.original_length}->{c.shrunk_length}",
                         "-" if c is None else ("yes" if c.passes_now else "NO"),
                         "-" if c is None else c.replay])
        print(_table(rows, ["bug", "found by", "symptom", "found", "median s",
                            "median steps", "shrunk", "passes now", "replay"]))
    return 0 if all(_ok(r) for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
