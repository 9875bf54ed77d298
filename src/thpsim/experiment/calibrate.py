"""``thpsim calibrate``: fit the cost model's parameters to measured times.

A measurement names an operation the model can run and the time a real machine took
for it; today the operation is ``move_pages``: ``pages`` 4 KiB pages (or, with
``thp``, ``pages`` 2 MiB THPs) moved from node 0 to node 1 by a process on node 0's
CPU, timed as the modeled time of the one move_pages(2) call. The model runs each one
with the current table and reads, besides the modeled nanoseconds, how much of each
parameter the call used (``/sys/kernel/debug/thpsim/cost_usage``): the modeled time
is linear in the parameters' values (a bandwidth's value is ns per byte), so the
parameters chosen to fit (``fit``, by default ``lru_add_drain_all_ns``,
``migrate_folio_ns`` and ``remote_bandwidth_gbs``) are a least-squares solution
(NumPy's lstsq) with the others held. Which bandwidth bounds a copy depends on the
values, so the fit is repeated until that choice stops changing.

The shipped measurements are the v3 series' cover letter ("mm: page migration
enhancement for thp", Zi Yan, 2017): move_pages across sockets took 62.47 us for one
4 KiB page, 658.54 us for one 2 MiB THP, 1987.38 us for 512 4 KiB pages.

Input (TOML or JSON; ``thpsim calibrate --example`` prints this form)::

    fit = ["lru_add_drain_all_ns", "migrate_folio_ns", "remote_bandwidth_gbs"]
    [[measurement]]
    name = "one 4 KiB page"
    op = "move_pages"
    pages = 1
    thp = false
    us = 62.47
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_MF_MOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from thpsim.cliutil import UsageError
from thpsim.testing import modeled_time

__all__ = ["V3_COVER_LETTER", "DEFAULT_FIT", "run_measurement", "default_params",
           "calibrate", "load_measurements", "example_text"]

MiB = 1 << 20
#: 2 MiB-aligned hint for the measured mapping
HINT = 0x7E00_0000_0000

#: move_pages(2) across sockets, from the v3 series' cover letter (4.14 era, 2017)
V3_COVER_LETTER: tuple[dict[str, Any], ...] = (
    {"name": "one 4 KiB page", "op": "move_pages", "pages": 1, "thp": False, "us": 62.47},
    {"name": "one 2 MiB THP", "op": "move_pages", "pages": 1, "thp": True, "us": 658.54},
    {"name": "512 4 KiB pages", "op": "move_pages", "pages": 512, "thp": False,
     "us": 1987.38},
)

#: the parameters fitted unless the input or --fit says otherwise (hw/cost.py marks them)
DEFAULT_FIT = ("lru_add_drain_all_ns", "migrate_folio_ns", "remote_bandwidth_gbs")

_OPS = ("move_pages",)


def default_params() -> dict[str, float]:
    """The shipped parameter table, flat (the machine's cost_params file)."""
    m = Machine(nodes={0: 128 * MiB, 1: 128 * MiB}, cpus=2, modeled_time=True)
    snap = modeled_time(m)
    assert snap is not None
    return snap["params"]


def run_measurement(meas: dict[str, Any], params: dict[str, float] | bool = True
                    ) -> tuple[float, dict[str, tuple[float, float]]]:
    """Run one measurement's operation on a fresh two-node machine with the table
    ``params``; returns (modeled ns of the call, parameter -> (count used, value))."""
    pages, thp = meas["pages"], meas["thp"]
    step = HPAGE_PMD_SIZE if thp else PAGE_SIZE
    length = -(-pages * step // HPAGE_PMD_SIZE) * HPAGE_PMD_SIZE
    node = max(128 * MiB, -(-2 * length // (128 * MiB)) * 128 * MiB)
    m = Machine(nodes={0: node, 1: node}, cpus=2, modeled_time=params, seed=0)
    p = m.spawn(cpu=0)
    t = p.threads[0]
    a = p.mmap(HINT, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.madvise(a, length, MADV_HUGEPAGE if thp else MADV_NOHUGEPAGE)
    for x in range(a, a + length, PAGE_SIZE):
        t.write(x, x)
    addrs = [a + i * step for i in range(pages)]
    before = modeled_time(m)
    _, status = p.move_pages(0, addrs, [1] * pages, MPOL_MF_MOVE)
    after = modeled_time(m)
    assert before is not None and after is not None
    if any(s != 1 for s in status):
        raise UsageError(f"measurement {meas['name']!r}: move_pages did not move every "
                         f"page to node 1 (status {sorted(set(map(str, status)))})")
    usage = {k: (c - before["usage"][k][0], v) for k, (c, v) in after["usage"].items()}
    # the ns the call used, from the usage (exact; the time table is printed to 0.1 ns)
    return sum(c * v for c, v in usage.values()), usage


def _linear(name: str, value: float) -> float:
    return 1.0 / value if name.endswith("_gbs") else value


def calibrate(measurements: list[dict[str, Any]], base: dict[str, float] | None = None,
              fit: tuple[str, ...] | list[str] = DEFAULT_FIT) -> dict[str, Any]:
    """Fit the ``fit`` parameters of ``base`` (default: the shipped table) to
    ``measurements``. Returns ``{"params": fitted flat table, "fit": names,
    "measurements": [{name, measured_us, modeled_us, error_pct}], "iterations": n}``.
    :class:`UsageError` when a fitted parameter is unknown, unused by every
    measurement, or comes out negative (the measurements do not fit the model)."""
    params = dict(default_params() if base is None else base)
    fit = list(fit)
    unknown = [f for f in fit if f not in params]
    if unknown:
        raise UsageError(f"unknown parameter(s) to fit: {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(params))})")
    if not fit:
        raise UsageError("nothing to fit")
    target = np.array([_target_ns(mm) for mm in measurements])
    keys: list[frozenset[str]] = []
    iterations = 0
    while iterations < 5:
        iterations += 1
        rows = [run_measurement(mm, params) for mm in measurements]
        used = frozenset(k for _, u in rows for k, (c, _) in u.items() if c)
        A = np.array([[u[f][0] for f in fit] for _, u in rows])
        fixed = np.array([sum(c * v for k, (c, v) in u.items() if k not in fit)
                          for _, u in rows])
        idle = [f for j, f in enumerate(fit) if not A[:, j].any()]
        if idle:
            raise UsageError(f"cannot fit {', '.join(idle)}: no measurement uses it")
        scale = np.abs(A).max(axis=0)  # columns of ~1 (counts) and ~1e6 (bytes)
        x, _, rank, _ = np.linalg.lstsq(A / scale, target - fixed, rcond=None)
        x = x / scale
        if rank < len(fit):
            raise UsageError(f"the measurements cannot tell {', '.join(fit)} apart "
                             f"(rank {rank} < {len(fit)}): add measurements or fit fewer")
        neg = [f for f, v in zip(fit, x, strict=True) if v <= 0]
        if neg:
            raise UsageError(f"the fit makes {', '.join(neg)} non-positive: the "
                             f"measurements do not fit this model with the other "
                             f"parameters held")
        for f, v in zip(fit, x, strict=True):
            params[f] = _linear(f, float(v))
        if keys and keys[-1] == used:
            break
        keys.append(used)
    out = []
    for mm, t in zip(measurements, target, strict=True):
        ns, _ = run_measurement(mm, params)
        out.append({"name": mm["name"], "measured_us": t / 1000, "modeled_us": ns / 1000,
                    "error_pct": 100 * (ns - t) / t})
    return {"params": params, "fit": fit, "measurements": out, "iterations": iterations}


def _target_ns(meas: dict[str, Any]) -> float:
    return float(meas["ns"]) if "ns" in meas else float(meas["us"]) * 1000


def load_measurements(path: str) -> tuple[list[dict[str, Any]], list[str] | None]:
    """(measurements, fit or None) from a TOML or JSON file; UsageError if malformed."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror}") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"{path}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}"
                         f" ({e})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a table with [[measurement]] entries")
    extra = sorted(set(data) - {"measurement", "fit"})
    if extra:
        raise UsageError(f"{path}: unknown key(s) {', '.join(extra)}")
    meas = data.get("measurement")
    if not isinstance(meas, list) or not meas:
        raise UsageError(f"{path}: no [[measurement]] entries")
    out = []
    for i, mm in enumerate(meas):
        out.append(_measurement(mm, f"{path}: measurement {i + 1}"))
    fit = data.get("fit")
    if fit is not None and (not isinstance(fit, list)
                            or not all(isinstance(f, str) for f in fit)):
        raise UsageError(f"{path}: fit must be a list of parameter names")
    return out, fit


def _measurement(mm: Any, where: str) -> dict[str, Any]:
    if not isinstance(mm, dict):
        raise UsageError(f"{where}: not a table")
    extra = sorted(set(mm) - {"name", "op", "pages", "thp", "us", "ns"})
    if extra:
        raise UsageError(f"{where}: unknown key(s) {', '.join(extra)}")
    if mm.get("op", "move_pages") not in _OPS:
        raise UsageError(f"{where}: op {mm.get('op')!r}; known: {', '.join(_OPS)}")
    pages = mm.get("pages")
    if type(pages) is not int or not 1 <= pages <= 4096:
        raise UsageError(f"{where}: pages must be an integer 1..4096, not {pages!r}")
    thp = mm.get("thp", False)
    if not isinstance(thp, bool):
        raise UsageError(f"{where}: thp must be true or false, not {thp!r}")
    if ("us" in mm) == ("ns" in mm):
        raise UsageError(f"{where}: give the measured time as us or ns (one of them)")
    t = mm.get("us", mm.get("ns"))
    if isinstance(t, bool) or not isinstance(t, int | float) or not t > 0:
        raise UsageError(f"{where}: the time must be a positive number, not {t!r}")
    return {"name": str(mm.get("name", where)), "op": "move_pages", "pages": pages,
            "thp": thp, **({"us": float(t)} if "us" in mm else {"ns": float(t)})}


def example_text() -> str:
    """The shipped measurements as an input file (``thpsim calibrate --example``)."""
    lines = ["# move_pages(2) across sockets, the v3 THP-migration series' cover letter",
             f"fit = {json.dumps(list(DEFAULT_FIT))}", ""]
    for mm in V3_COVER_LETTER:
        lines += ["[[measurement]]", f"name = {json.dumps(mm['name'])}",
                  f"op = \"{mm['op']}\"", f"pages = {mm['pages']}",
                  f"thp = {'true' if mm['thp'] else 'false'}", f"us = {mm['us']}", ""]
    return "\n".join(lines)
