"""The report's data: runs (from a results store or one stress run) grouped by
configuration and summed, the time series of chosen runs, the failures.

Model-only (a tool). Everything here is plain JSON-serialisable data; the
figures (plots.py) and the HTML (html.py) are drawn from it, and ``thpsim report
--json`` prints it as it is.

A run is a dict with the keys of :meth:`thpsim.campaign.store.RunStore.runs`
(``id``, ``campaign``, ``label``, ``config``, ``config_hash``, ``seed``, ``outcome``,
``steps``, ``rounds``, ``migrations``, ``thp_migrations``, ``thp_split_pmd``,
``thp_split_page``, ``migrations_by_caller``, ``errors``, ``vmstat``, ``seconds``,
``report``, ``replay``, ``samples``, ``memmap``, ...). :func:`normalise_run` fills
in what a run lacks, so a run missing a key is drawn without it rather than refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["REPORT_VERSION", "normalise_run", "config_label", "build_report"]

#: Bumped when the layout of :func:`build_report`'s result changes.
REPORT_VERSION = 1

_NUMBERS = ("steps", "rounds", "migrations", "thp_migrations", "thp_split_pmd",
            "thp_split_page", "seconds")
_DICTS = ("config", "migrations_by_caller", "errors", "ops", "vmstat")


def normalise_run(run: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``run`` with every key the report reads: missing numbers 0, missing
    dicts empty, ``samples`` a list, ``memmap``/``reproducer`` None if absent. Older
    spellings are accepted: ``splits`` (for thp_split_page), ``errors_by_errno``,
    ``replay_command``."""
    r = dict(run)
    if "thp_split_page" not in r and "splits" in r:
        r["thp_split_page"] = r["splits"]
    if "errors" not in r and "errors_by_errno" in r:
        r["errors"] = r["errors_by_errno"]
    if not r.get("replay") and r.get("replay_command"):
        r["replay"] = r["replay_command"]
    for k in _NUMBERS:
        r[k] = r.get(k) or 0
    for k in _DICTS:
        r[k] = dict(r.get(k) or {})
    r["samples"] = list(r.get("samples") or [])
    r.setdefault("memmap", None)
    r.setdefault("reproducer", None)
    r["replay"] = r.get("replay") or ""
    r["report"] = r.get("report") or ""
    r.setdefault("campaign", "")
    r.setdefault("config_hash", "")
    r.setdefault("outcome", "ok")
    r.setdefault("seed", 0)
    r.setdefault("id", 0)
    if not r.get("label"):
        r["label"] = config_label(r["config"], r["config_hash"])
    return r


def config_label(config: dict[str, Any], config_hash: str = "") -> str:
    """A short name for a configuration: its profile and the switches it sets
    (``seed +bug_b3_pmd_migration_no_flush=1``), else its hash prefix."""
    profile = config.get("profile")
    if profile is None and isinstance(config.get("stress"), dict):
        profile = config["stress"].get("profile")
    switches = config.get("switches")
    if switches is None and isinstance(config.get("stress"), dict):
        switches = config["stress"].get("switches")
    if profile is None:
        return config_hash[:8] or "config"
    parts = [str(profile)]
    for k, v in sorted((switches or {}).items()):
        v = int(v) if isinstance(v, bool) else v
        parts.append(f"+{k}={v}")
    return " ".join(parts)


def _sum_dicts(dicts: Iterable[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
    return out


def _rate(n: float, seconds: float) -> float | None:
    return n / seconds if seconds > 0 else None


def _series(run: dict[str, Any]) -> dict[str, Any]:
    """The run's samples as columns: rounds, steps, per node the pages by kind, and
    the cumulative migrations by caller (each caller a column, 0 where unsampled)."""
    samples = sorted(run["samples"], key=lambda s: (s.get("round", 0), s.get("step", 0)))
    nodes: dict[str, dict[str, list[int]]] = {}
    callers: list[str] = []
    for s in samples:
        for nid, kinds in (s.get("nodes") or {}).items():
            node = nodes.setdefault(str(nid), {})
            for kind in kinds:
                node.setdefault(kind, [])
        for c in s.get("migrations") or {}:
            if c not in callers:
                callers.append(c)
    for i, s in enumerate(samples):
        for nid, node in nodes.items():
            kinds = (s.get("nodes") or {}).get(nid, {})
            for kind, col in node.items():
                col.append(int(kinds.get(kind, 0)))
                assert len(col) == i + 1
    migrations = {c: [int((s.get("migrations") or {}).get(c, 0)) for s in samples]
                  for c in callers}
    return {"round": [int(s.get("round", 0)) for s in samples],
            "step": [int(s.get("step", 0)) for s in samples],
            "nodes": dict(sorted(nodes.items(), key=lambda kv: _nid_key(kv[0]))),
            "migrations": migrations}


def _nid_key(nid: str) -> tuple[int, str]:
    return (int(nid), "") if nid.isdigit() else (1 << 30, nid)


def _pick_run(runs: list[dict[str, Any]], chosen: set[int]) -> dict[str, Any]:
    """The run whose time series a configuration's section shows: one asked for by id,
    else the first with samples, else the first."""
    for r in runs:
        if r["id"] in chosen:
            return r
    for r in runs:
        if r["samples"] or r["memmap"]:
            return r
    return runs[0]


def build_report(runs: list[dict[str, Any]], *, command: str, title: str,
                 source: str, chosen_runs: Iterable[int] = ()) -> dict[str, Any]:
    """The report's data.

    Returns ``{"version", "title", "command", "source", "totals", "configurations",
    "failures"}``; each configuration: ``label``, ``config_hash``, ``config``,
    ``runs``, ``ok``/``failed``/``error`` counts, ``seeds``, sums (``steps``,
    ``rounds``, ``migrations``, ``thp_migrations``, ``thp_split_page``,
    ``thp_split_pmd``, ``seconds``), ``migration_rate`` (folios/s over the runs'
    time, None without time), ``migrations_by_caller``, ``errors``, ``vmstat``
    (summed), and ``run``: the chosen run's ``id``, ``seed``, ``outcome``,
    ``series`` (see :func:`_series`) and ``memmap``.
    """
    runs = [normalise_run(r) for r in runs]
    chosen = set(chosen_runs)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(r["config_hash"] or r["label"], []).append(r)
    labels = [g[0]["label"] for g in groups.values()]
    label_of: dict[str, str] = {}
    configurations = []
    for key, group in groups.items():
        label = group[0]["label"]
        if labels.count(label) > 1:  # the same name for two configurations
            label = f"{label} [{key[:8]}]"
        label_of[key] = label
        sums = {k: sum(r[k] for r in group) for k in _NUMBERS}
        outcomes = {o: sum(1 for r in group if r["outcome"] == o)
                    for o in ("ok", "failed", "error")}
        pick = _pick_run(group, chosen)
        configurations.append({
            "label": label,
            "config_hash": group[0]["config_hash"],
            "config": group[0]["config"],
            "runs": len(group),
            **outcomes,
            "seeds": [r["seed"] for r in group],
            **sums,
            "migration_rate": _rate(sums["migrations"], sums["seconds"]),
            "migrations_by_caller": _sum_dicts(r["migrations_by_caller"] for r in group),
            "errors": _sum_dicts(r["errors"] for r in group),
            "vmstat": _sum_dicts(r["vmstat"] for r in group),
            "run": {"id": pick["id"], "seed": pick["seed"], "outcome": pick["outcome"],
                    "rounds": pick["rounds"], "series": _series(pick),
                    "memmap": pick["memmap"]},
        })
    failures = [{"id": r["id"], "label": label_of[r["config_hash"] or r["label"]],
                 "campaign": r["campaign"], "seed": r["seed"], "outcome": r["outcome"],
                 "round": (r["reproducer"] or {}).get("round"),
                 "summary": _first_line(r["report"]), "report": r["report"],
                 "replay": r["replay"]}
                for r in runs if r["outcome"] != "ok"]
    totals = {"runs": len(runs), "configurations": len(configurations),
              "failed": sum(1 for r in runs if r["outcome"] == "failed"),
              "error": sum(1 for r in runs if r["outcome"] == "error"),
              "migrations": sum(r["migrations"] for r in runs),
              "seconds": sum(r["seconds"] for r in runs),
              "campaigns": sorted({r["campaign"] for r in runs if r["campaign"]})}
    return {"version": REPORT_VERSION, "title": title, "command": command, "source": source,
            "totals": totals, "configurations": configurations, "failures": failures}


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""
