"""Scenario files: a TOML document that describes a reproducible setup (a machine, named
processes, steps in order, checks) without Python, and the runner that performs it.

docs/scenario-files.md is the reference: every table, step kind and key. In short::

    [machine]
    nodes = ["256MiB", "256MiB"]
    seed = 1

    [[process]]
    name = "app"
    membind = "0"

    [[step]]
    do = "mmap"
    region = "heap"
    size = "8MiB"
    align = "2MiB"

    [[step]]
    do = "write"
    region = "heap"

    [[step]]
    do = "check"
    thp_on_node = {node = 0, count = 4}

A file is checked whole before anything runs (:func:`load`): an unknown key, a wrong
type, a region or process used before a step defines it is one UsageError naming the
file, the step and the key (exit 2). Running it (:func:`run`) stops at the first step
that fails: an OSError the step did not expect (``expect_errno``), a signal, a check that
does not hold, or the model's invariant checker; :class:`ScenarioFailure` says which
step (number and kind) and why (exit 1).

Like the other tools this module reaches the model only through ``thpsim`` and its
/proc and /sys files.
"""

from __future__ import annotations

import argparse
import errno as errno_mod
import re
import shlex
import signal as signal_mod
import struct
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import thpsim
from thpsim.api import HOST_BYTES_PER_FRAME
from thpsim.cliutil import UsageError, resolve_profile, switch_kinds
from thpsim.errors import ConfigError, DeliveredSignal, IntegrityError, KernelBug
from thpsim.usr import migratepages as migratepages_mod
from thpsim.usr import numactl as numactl_mod
from thpsim.usr import numastat as numastat_mod

__all__ = ["Scenario", "Step", "ProcessSpec", "State", "ScenarioFailure", "load", "loads",
           "run", "parse_size", "estimate_host_bytes", "STEP_KINDS", "TOOLS",
           "DEFAULT_MAX_HOST_MIB"]

PAGE_SIZE = thpsim.PAGE_SIZE
HPAGE_PMD_SIZE = thpsim.HPAGE_PMD_SIZE

#: ``--max-host-mib`` default: refuse a machine estimated to need more host memory.
DEFAULT_MAX_HOST_MIB = 8192
#: What an interpreter with the model imported takes before any machine (measured:
#: about 60 MiB resident for ``python -c "import thpsim"`` on CPython 3.11).
_BASE_HOST_BYTES = 64 << 20

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
          "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
          "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(0x[0-9a-fA-F]+|\d+)\s*([a-zA-Z]*)\s*$")


class ScenarioFailure(Exception):
    """A step failed or a check did not hold: exit status 1, the message says which.
    ``scenario_state``: the :class:`State` as the failing step left it (set by :func:`run`)."""

    def __init__(self, message: str, scenario_state: Any = None):
        super().__init__(message)
        self.scenario_state = scenario_state


def parse_size(value: Any, where: str) -> int:
    """Bytes from an int or a string with a binary unit (``4096``, ``"4KiB"``, ``"2M"``,
    ``"1GiB"``, ``"0x200000"``); UsageError naming ``where`` otherwise."""
    if isinstance(value, bool):
        raise UsageError(f"{where}: expected a size, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UsageError(f"{where}: a size cannot be negative ({value})")
        return value
    if isinstance(value, str):
        mt = _SIZE_RE.match(value)
        if mt and mt[2].lower() in _UNITS:
            return int(mt[1], 0) * _UNITS[mt[2].lower()]
    raise UsageError(f"{where}: {value!r} is not a size (bytes, or a number with "
                     f"KiB/MiB/GiB/TiB)")


def _human(n: int) -> str:
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


# ---------------------------------------------------------------------- the format
#: Keys every step may have.
COMMON_KEYS = {"do": "str", "process": "process", "expect_errno": "errno",
               "expect_signal": "signal", "note": "str"}
_RANGE = {"region": "region", "offset": "size", "length": "size"}

#: Step kinds: key -> value kind. "region" must name a region defined earlier,
#: "process" a process; "new_region"/"new_process" define one.
STEP_KINDS: dict[str, dict[str, str]] = {
    "mmap": {"region": "new_region", "size": "size", "prot": "flags", "flags": "flags",
             "hint": "int", "align": "size"},
    "munmap": dict(_RANGE),
    "mprotect": {**_RANGE, "prot": "flags"},
    "madvise": {**_RANGE, "advice": "flags"},
    "mlock": dict(_RANGE),
    "munlock": dict(_RANGE),
    "write": {**_RANGE, "every": "size", "value": "value", "path": "str", "data": "str"},
    "read": {**_RANGE, "every": "size", "expect": "value"},
    "touch": {**_RANGE, "access": "str"},
    "fork": {"child": "new_process", "cpu": "int"},
    "exit": {},
    "mbind": {**_RANGE, "mode": "flags", "nodes": "nodes", "flags": "flags"},
    "set_mempolicy": {"mode": "flags", "nodes": "nodes"},
    "move_pages": {**_RANGE, "offsets": "sizes", "every": "size", "nodes": "node_list",
                   "flags": "flags", "target": "process", "expect_status": "node_list"},
    "migrate_pages": {"from": "nodes", "to": "nodes", "target": "process"},
    "cpuset": {"name": "str", "mems": "nodes", "cpus": "str", "memory_migrate": "bool",
               "attach": "processes"},
    "offline": {"block": "int", "node": "int"},
    "online": {"block": "int", "node": "int", "zone": "str"},
    "soft_offline": dict(_RANGE),
    "show": {"path": "str", "tool": "str", "grep": "str"},
    "check": {"region": "region", "thp_on_node": "table_list", "pages_on_node": "table_list",
              "vmstat": "table", "since": "int", "integrity": "bool", "contains": "table_list",
              "not_contains": "table_list"},
}

#: Keys a kind cannot do without.
REQUIRED: dict[str, tuple[str, ...]] = {
    "mmap": ("region", "size"), "munmap": ("region",), "mprotect": ("region", "prot"),
    "madvise": ("region", "advice"), "mlock": ("region",), "munlock": ("region",),
    "read": ("region",), "touch": ("region",), "fork": ("child",),
    "mbind": ("region", "mode"), "set_mempolicy": ("mode",), "move_pages": ("region",),
    "migrate_pages": ("from", "to"), "cpuset": ("name",), "soft_offline": ("region",),
}

MACHINE_KEYS = {"nodes", "cpus", "thp", "defrag", "use_zero_page", "profile", "switches",
                "seed", "block_size", "movable", "movable_align", "distance", "check",
                "knl_ad_erratum"}
PROCESS_KEYS = {"name", "cpu", "comm", "membind", "interleave", "preferred", "localalloc",
                "cpunodebind", "physcpubind"}
_CHECK_TABLE_KEYS = {"thp_on_node": {"node", "count"}, "pages_on_node": {"node", "count"},
                     "contains": {"path", "text"}, "not_contains": {"path", "text"}}


@dataclass
class Step:
    index: int  # 1-based, as messages and --at count
    kind: str
    keys: dict[str, Any]
    process: str  # the process it runs as (resolved at load time)

    def where(self, path: str) -> str:
        return f"{path}: step {self.index} ({self.kind})"


@dataclass
class ProcessSpec:
    name: str
    cpu: int | None = None
    comm: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)  # numactl option -> value


@dataclass
class Scenario:
    path: str
    machine: dict[str, Any]
    profile: str
    switches: dict[str, Any]
    processes: list[ProcessSpec]
    steps: list[Step]

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.machine["nodes"])


def _type_error(where: str, key: str, want: str, value: Any) -> UsageError:
    return UsageError(f"{where}: {key} must be {want}, not {value!r}")


def _check_value(where: str, key: str, kind: str, v: Any, nodes: list[int]) -> Any:
    """Validate one key's value by kind; returns it normalised."""
    if kind in ("str", "region", "new_region", "process", "new_process"):
        if not isinstance(v, str) or not v:
            raise _type_error(where, key, "a non-empty string", v)
        return v
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise _type_error(where, key, "an integer", v)
        return v
    if kind == "bool":
        if not isinstance(v, bool):
            raise _type_error(where, key, "true or false", v)
        return v
    if kind == "size":
        return parse_size(v, f"{where}: {key}")
    if kind == "sizes":
        if not isinstance(v, list) or not v:
            raise _type_error(where, key, "a non-empty list of sizes", v)
        return [parse_size(x, f"{where}: {key}") for x in v]
    if kind == "flags":
        if isinstance(v, bool) or not isinstance(v, int | str | list):
            raise _type_error(where, key, "a name, names joined by '|', a list or an "
                                          "integer", v)
        return v
    if kind == "value":
        if isinstance(v, bool) or not (isinstance(v, int) or v in ("addr", "offset")):
            raise _type_error(where, key, 'an integer, "addr" or "offset"', v)
        return v
    if kind == "nodes":
        if isinstance(v, bool) or not isinstance(v, int | str | list):
            raise _type_error(where, key, 'a node list ("0-1", "all", [0, 1])', v)
        return _nodes_of(v, nodes, f"{where}: {key}")
    if kind == "node_list":
        if isinstance(v, bool) or not isinstance(v, int | list):
            raise _type_error(where, key, "a node number or a list of them", v)
        vs = v if isinstance(v, list) else [v]
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in vs):
            raise _type_error(where, key, "a node number or a list of them", v)
        return v
    if kind == "processes":
        vs = v if isinstance(v, list) else [v]
        if not vs or not all(isinstance(x, str) and x for x in vs):
            raise _type_error(where, key, "a process name or a list of them", v)
        return vs
    if kind == "errno":
        if not isinstance(v, str) or not isinstance(getattr(errno_mod, v, None), int):
            raise _type_error(where, key, 'an errno name ("EFAULT")', v)
        return v
    if kind == "signal":
        if v not in ("SIGSEGV", "SIGBUS"):
            raise _type_error(where, key, '"SIGSEGV" or "SIGBUS"', v)
        return v
    if kind == "table":
        if not isinstance(v, dict):
            raise _type_error(where, key, "a table", v)
        return v
    if kind == "table_list":
        vs = v if isinstance(v, list) else [v]
        if not all(isinstance(x, dict) for x in vs):
            raise _type_error(where, key, "a table or a list of tables", v)
        want = _CHECK_TABLE_KEYS[key]
        out = []
        for t in vs:
            extra = set(t) - want
            missing = want - set(t)
            if extra or missing:
                raise UsageError(f"{where}: {key} takes {{{', '.join(sorted(want))}}}"
                                 + (f"; unknown {sorted(extra)}" if extra else "")
                                 + (f"; missing {sorted(missing)}" if missing else ""))
            t = dict(t)
            if "node" in t:
                t["node"] = _nodes_of(t["node"], nodes, f"{where}: {key}.node")
            if "count" in t and (isinstance(t["count"], bool)
                                 or not isinstance(t["count"], int)):
                raise _type_error(where, f"{key}.count", "an integer", t["count"])
            for k in ("path", "text"):
                if k in t and not isinstance(t[k], str):
                    raise _type_error(where, f"{key}.{k}", "a string", t[k])
            out.append(t)
        return out
    raise AssertionError(kind)


def _nodes_of(v: Any, nodes: list[int], where: str) -> list[int]:
    """A node list from an int, a list of ints or a numactl-style string."""
    try:
        if isinstance(v, list):
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise UsageError("a list of node numbers, please")
            return numactl_mod.parse_nodestring(",".join(map(str, v)), nodes) if v else []
        return numactl_mod.parse_nodestring(str(v), nodes)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None


def _unknown(where: str, keys: set[str], known: set[str]) -> None:
    bad = sorted(keys - known)
    if bad:
        raise UsageError(f"{where}: unknown key {bad[0]!r} (known: "
                         f"{', '.join(sorted(known))})")


def _machine_config(path: str, tbl: dict[str, Any]) -> tuple[dict[str, Any], str,
                                                               dict[str, Any]]:
    where = f"{path}: [machine]"
    _unknown(where, set(tbl), MACHINE_KEYS)
    cfg: dict[str, Any] = {}
    nodes = tbl.get("nodes", ["1GiB", "1GiB"])
    if isinstance(nodes, list):
        cfg["nodes"] = {i: parse_size(s, f"{where}: nodes[{i}]") for i, s in enumerate(nodes)}
    elif isinstance(nodes, dict):
        cfg["nodes"] = {}
        for k, s in nodes.items():
            if not k.isdigit():
                raise UsageError(f"{where}: nodes: node ids are numbers, not {k!r}")
            cfg["nodes"][int(k)] = parse_size(s, f"{where}: nodes.{k}")
    else:
        raise _type_error(where, "nodes", 'a list of sizes or a table {0 = "1GiB"}', nodes)
    if not cfg["nodes"]:
        raise UsageError(f"{where}: nodes: a machine needs at least one node")
    nids = sorted(cfg["nodes"])
    if "cpus" in tbl:
        cpus = tbl["cpus"]
        if isinstance(cpus, dict):
            cfg["cpus"] = {int(k) if k.isdigit() else k: _check_value(where, f"cpus.{k}", "int",
                                                                       n, nids)
                           for k, n in cpus.items()}
        else:
            cfg["cpus"] = _check_value(where, "cpus", "int", cpus, nids)
    for key in ("thp", "defrag"):
        if key in tbl:
            cfg[key] = _check_value(where, key, "str", tbl[key], nids)
    for key in ("use_zero_page", "check", "knl_ad_erratum"):
        if key in tbl:
            cfg[key] = _check_value(where, key, "bool", tbl[key], nids)
    cfg["seed"] = _check_value(where, "seed", "int", tbl.get("seed", 0), nids)
    for key in ("block_size", "movable_align"):
        if key in tbl:
            cfg[key] = parse_size(tbl[key], f"{where}: {key}")
    if "movable" in tbl:
        mv = _check_value(where, "movable", "table", tbl["movable"], nids)
        cfg["movable"] = {}
        for k, s in mv.items():
            if not k.isdigit() or int(k) not in cfg["nodes"]:
                raise UsageError(f"{where}: movable: no node {k!r}")
            cfg["movable"][int(k)] = parse_size(s, f"{where}: movable.{k}")
    if "distance" in tbl:
        d = tbl["distance"]
        if (not isinstance(d, list) or len(d) != len(nids)
                or not all(isinstance(r, list) and len(r) == len(nids) for r in d)):
            raise _type_error(where, "distance", f"a {len(nids)}x{len(nids)} matrix", d)
        cfg["distance"] = {(a, b): d[i][j] for i, a in enumerate(nids)
                           for j, b in enumerate(nids)}
    profile = _check_value(where, "profile", "str", tbl.get("profile", "seed"), nids)
    switches = _check_value(where, "switches", "table", tbl.get("switches", {}), nids)
    kinds = switch_kinds()
    for k, v in switches.items():
        if k not in kinds:
            raise UsageError(f"{where}: switches: unknown profile switch {k!r}")
        if kinds[k] is bool and not isinstance(v, bool) or kinds[k] is int and (
                isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise UsageError(f"{where}: switches.{k} must be "
                             f"{'true/false' if kinds[k] is bool else 'an integer >= 0'}")
    return cfg, profile, dict(switches)


def _process_spec(path: str, i: int, tbl: Any, nids: list[int]) -> ProcessSpec:
    where = f"{path}: process {i + 1}"
    if not isinstance(tbl, dict):
        raise UsageError(f"{where}: [[process]] must be a table")
    _unknown(where, set(tbl), PROCESS_KEYS)
    if "name" not in tbl:
        raise UsageError(f"{where}: missing key 'name'")
    name = _check_value(where, "name", "str", tbl["name"], nids)
    if name.isdigit():
        raise UsageError(f"{where}: name {name!r} must not be a number (pids are)")
    where = f"{path}: process {i + 1} ({name!r})"
    spec = ProcessSpec(name)
    if "cpu" in tbl:
        spec.cpu = _check_value(where, "cpu", "int", tbl["cpu"], nids)
    if "comm" in tbl:
        spec.comm = _check_value(where, "comm", "str", tbl["comm"], nids)
    for key in ("membind", "interleave", "preferred", "cpunodebind", "physcpubind"):
        if key in tbl:
            v = tbl[key]
            if isinstance(v, bool) or not isinstance(v, int | str | list):
                raise _type_error(where, key, "a node list", v)
            spec.policy[key] = (",".join(map(str, v)) if isinstance(v, list) else str(v))
    if "localalloc" in tbl:
        spec.policy["localalloc"] = _check_value(where, "localalloc", "bool",
                                                 tbl["localalloc"], nids)
    try:  # validate now: a conflict or a bad node is a usage error of the file
        numactl_mod.policy_from_options(nids, spec.policy.get("membind"),
                                        spec.policy.get("interleave"),
                                        spec.policy.get("preferred"),
                                        spec.policy.get("localalloc", False))
        if "cpunodebind" in spec.policy:
            numactl_mod.parse_nodestring(spec.policy["cpunodebind"], nids)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    return spec


def loads(text: str, path: str = "<scenario>") -> Scenario:
    """Parse and check a scenario document (see :func:`load`)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: TOML syntax error: {e}") from None
    _unknown(path, set(doc), {"machine", "process", "step"})
    machine = doc.get("machine", {})
    if not isinstance(machine, dict):
        raise UsageError(f"{path}: [machine] must be a table")
    cfg, profile, switches = _machine_config(path, machine)
    nids = sorted(cfg["nodes"])
    procs_raw = doc.get("process", [])
    if not isinstance(procs_raw, list) or not procs_raw:
        raise UsageError(f"{path}: at least one [[process]] table is needed")
    procs = [_process_spec(path, i, t, nids) for i, t in enumerate(procs_raw)]
    names: set[str] = set()
    for sp in procs:
        if sp.name in names:
            raise UsageError(f"{path}: two processes named {sp.name!r}")
        names.add(sp.name)
    steps_raw = doc.get("step", [])
    if not isinstance(steps_raw, list):
        raise UsageError(f"{path}: [[step]] must be an array of tables")
    regions: dict[str, str] = {}  # region -> the process that mapped it
    region_sizes: dict[str, int] = {}
    steps: list[Step] = []
    for i, raw in enumerate(steps_raw, start=1):
        if not isinstance(raw, dict):
            raise UsageError(f"{path}: step {i}: must be a table")
        kind = raw.get("do")
        if kind not in STEP_KINDS:
            near = f" (one of {', '.join(STEP_KINDS)})"
            raise UsageError(f"{path}: step {i}: do = {kind!r} is not a step kind{near}"
                             if kind is not None else f"{path}: step {i}: missing key 'do'"
                             f"{near}")
        where = f"{path}: step {i} ({kind})"
        spec = {**COMMON_KEYS, **STEP_KINDS[kind]}
        _unknown(where, set(raw), set(spec))
        keys: dict[str, Any] = {}
        for k, v in raw.items():
            keys[k] = _check_value(where, k, spec[k], v, nids)
        for k in REQUIRED.get(kind, ()):
            if k not in keys:
                raise UsageError(f"{where}: missing key {k!r}")
        _check_step_shape(where, kind, keys)
        for k, v in keys.items():  # names must be defined by an earlier step
            want = spec[k]
            if want == "region" and v not in regions:
                raise UsageError(f"{where}: {k}: no region {v!r} defined before this step"
                                 f" (defined: {', '.join(regions) or 'none'})")
            if want in ("process", "processes"):
                for n in (v if isinstance(v, list) else [v]):
                    if n not in names:
                        raise UsageError(f"{where}: {k}: no process {n!r} (known: "
                                         f"{', '.join(sorted(names))})")
        _check_names(where, kind, keys)
        if kind == "show" and "tool" in keys:
            _check_tool(where, keys["tool"])
        if "region" in keys and keys["region"] in regions and kind != "mmap":
            size = region_sizes[keys["region"]]
            off, length = keys.get("offset", 0), keys.get("length")
            end = off + (length if length is not None else 0)
            if off > size or end > size:
                raise UsageError(f"{where}: offset {_human(off)} + length "
                                 f"{_human(length or 0)} goes past the end of region "
                                 f"{keys['region']!r} ({_human(size)})")
        if kind == "check" and not 1 <= keys.get("since", 1) <= i:
            raise UsageError(f"{where}: since: {keys['since']} is not a step before this "
                             f"one (1-{i})")
        if kind == "mmap" and keys["region"] in regions:
            raise UsageError(f"{where}: region: {keys['region']!r} is already defined")
        if kind == "fork":
            if keys["child"] in names or keys["child"].isdigit():
                raise UsageError(f"{where}: child: {keys['child']!r} is already a process "
                                 f"name (or a number)")
        proc = keys.get("process") or (regions[keys["region"]] if "region" in keys
                                       and keys["region"] in regions else procs[0].name)
        if kind == "mmap":
            regions[keys["region"]] = proc
            region_sizes[keys["region"]] = keys["size"]
        if kind == "fork":
            names.add(keys["child"])
        steps.append(Step(i, kind, keys, proc))
    return Scenario(path, cfg, profile, switches, procs, steps)


#: (step kind, key) -> the constant prefix its names take.
_FLAG_PREFIX = {("mmap", "prot"): "PROT_", ("mprotect", "prot"): "PROT_",
                ("mmap", "flags"): "MAP_", ("madvise", "advice"): "MADV_",
                ("mbind", "flags"): "MPOL_MF_", ("move_pages", "flags"): "MPOL_MF_"}


def _check_names(where: str, kind: str, keys: dict[str, Any]) -> None:
    """Constant names (prot, flags, advice, mode) must name thpsim's constants."""
    for key in keys:
        if (kind, key) in _FLAG_PREFIX:
            _flags(keys[key], _FLAG_PREFIX[kind, key], where, key)
        elif key == "mode":
            _mode(keys[key], where)


def _check_tool(where: str, text: str) -> None:
    """A ``show`` step's tool: a known name and options its parser takes."""
    try:
        argv = shlex.split(text)
    except ValueError as e:
        raise UsageError(f"{where}: tool: {text!r}: {e}") from None
    if not argv or argv[0] not in TOOLS:
        raise UsageError(f"{where}: tool: {text!r}: not a tool (one of {', '.join(TOOLS)})")
    try:
        args = _TOOL_PARSERS[argv[0]]().parse_args(argv[1:])
        if argv[0] == "numactl" and not (args.hardware or args.show):
            raise UsageError("numactl: inside a scenario only --hardware and --show "
                             "[--pid P] (a [[process]] table carries a policy)")
    except UsageError as e:
        raise UsageError(f"{where}: tool: {e}") from None


def _check_step_shape(where: str, kind: str, keys: dict[str, Any]) -> None:
    """The cross-key rules of a step (which keys go together)."""
    if kind == "write":
        if ("path" in keys) == ("region" in keys):
            raise UsageError(f"{where}: give either region (a memory write) or path "
                             f"(a file write)")
        if "path" in keys and "data" not in keys:
            raise UsageError(f"{where}: missing key 'data' (what to write to {keys['path']})")
        if "path" in keys and set(keys) & {"offset", "length", "every", "value"}:
            raise UsageError(f"{where}: a file write takes path and data only")
        if "region" in keys and "data" in keys:
            raise UsageError(f"{where}: data is for a file write (path); a memory write "
                             f"takes value")
    if kind == "show" and ("path" in keys) == ("tool" in keys):
        raise UsageError(f"{where}: give either path (a file) or tool (a command)")
    if kind in ("offline", "online") and ("block" in keys) == ("node" in keys):
        raise UsageError(f"{where}: give either block (a memory block number) or node")
    if kind == "move_pages" and "offsets" in keys and "every" in keys:
        raise UsageError(f"{where}: give offsets or every, not both")
    if kind == "touch" and keys.get("access", "write") not in ("write", "read"):
        raise UsageError(f"{where}: access must be \"write\" or \"read\"")
    if kind == "online" and keys.get("zone", "online") not in ("online", "kernel", "movable"):
        raise UsageError(f"{where}: zone must be \"kernel\", \"movable\" or \"online\"")
    if kind == "check" and not set(keys) & {"thp_on_node", "pages_on_node", "vmstat",
                                             "integrity", "contains", "not_contains"}:
        raise UsageError(f"{where}: nothing to check (thp_on_node, pages_on_node, vmstat, "
                         f"integrity, contains, not_contains)")
    if kind == "check" and "vmstat" in keys:
        for k, v in keys["vmstat"].items():
            if isinstance(v, bool) or not (isinstance(v, int) or isinstance(v, str)
                                           and _COMPARE_RE.match(v)):
                raise UsageError(f"{where}: vmstat.{k} must be an integer or a comparison "
                                 f"like \">= 1\", not {v!r}")


def load(path: str | Path) -> Scenario:
    """Read and check a scenario file: UsageError (one line, naming the file, the step
    and the key) for anything wrong, before any machine is built."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise UsageError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{p}: cannot read: {e}") from None
    return loads(text, str(p))


def estimate_host_bytes(sc: Scenario) -> int:
    """Host memory the scenario's machine would take: the model's per-frame cost
    (``thpsim.api.HOST_BYTES_PER_FRAME``: frame contents, struct-page arrays, the
    invariant checker's working set; docs/performance.md) times the 4 KiB frames of
    every node, plus the interpreter with the model loaded."""
    frames = sum(sc.machine["nodes"].values()) // PAGE_SIZE
    return frames * HOST_BYTES_PER_FRAME + _BASE_HOST_BYTES


# ---------------------------------------------------------------------- running
@dataclass
class Region:
    addr: int
    size: int


class State:
    """A scenario's machine and its named processes and regions, as the steps leave it.
    The tools (:data:`TOOLS`) act on it."""

    def __init__(self, sc: Scenario, machine: Any):
        self.scenario = sc
        self.machine = machine
        self.procs: dict[str, Any] = {}  # name -> thpsim.Process
        self.regions: dict[str, Region] = {}
        self.out: list[str] = []  # what the steps printed (show, move_pages status)
        self.records: list[dict[str, Any]] = []  # one per step run
        self.vmstat_at: dict[int, dict[str, int]] = {}  # before step N (1: the start)
        self._blocks: dict[int, int] | None = None

    # ---- names
    def name_of(self, pid: int) -> str | None:
        for name, p in self.procs.items():
            if p.pid == pid:
                return name
        return None

    def process(self, ref: str) -> Any:
        """A process by scenario name or by pid; UsageError if there is none (or it
        has exited)."""
        p = self.procs.get(ref)
        if p is None and ref.isdigit():
            p = self.machine.processes.get(int(ref))
        if p is None or p.exited:
            known = ", ".join(f"{n} (pid {q.pid})" for n, q in self.procs.items()
                              if not q.exited)
            raise UsageError(f"no process {ref!r} in the scenario's state (live: "
                             f"{known or 'none'})")
        return p

    def resolve_path(self, path: str) -> str:
        """``/proc/NAME/...`` with a scenario process name in place of its pid, and
        ``{pid:NAME}`` anywhere, become the pid."""
        path = re.sub(r"\{pid:([^}]+)\}", lambda mt: str(self.process(mt[1]).pid), path)
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "proc" and parts[2] in self.procs:
            parts[2] = str(self.process(parts[2]).pid)
        return "/".join(parts)

    # ---- memory blocks
    def block_nodes(self) -> dict[int, int]:
        """memory block number -> node (the ``nodeN`` entry in each block's directory)."""
        if self._blocks is None:
            fs = self.machine.fs
            self._blocks = {}
            for name in fs.listdir(_MEMORY_DIR):
                if name.startswith("memory") and name[6:].isdigit():
                    for e in fs.listdir(f"{_MEMORY_DIR}/{name}"):
                        if e.startswith("node") and e[4:].isdigit():
                            self._blocks[int(name[6:])] = int(e[4:])
        return self._blocks

    def block_size(self) -> int:
        return int(self.machine.fs.read(f"{_MEMORY_DIR}/block_size_bytes"), 16)

    def node_of_pfn(self, pfn: int) -> int | None:
        return self.block_nodes().get(pfn * PAGE_SIZE // self.block_size())


_MEMORY_DIR = "/sys/devices/system/memory"
#: Step kinds that act on the machine, not as a process.
_MACHINE_STEPS = ("offline", "online", "cpuset", "show", "check")
_KPF_COMPOUND_HEAD, _KPF_THP = 15, 22
_PM_PRESENT = 1 << 63
_PM_PFN_MASK = (1 << 55) - 1
_COMPARE_RE = re.compile(r"^\s*(==|!=|>=|<=|>|<)?\s*(-?\d+)\s*$")


def _flags(value: Any, prefix: str, where: str, key: str) -> int:
    """``"MAP_PRIVATE|MAP_ANONYMOUS"``, ``"private|anonymous"``, a list of names or an int
    as the OR of thpsim's constants; ``prot`` also takes ``"rw"``, ``"r"``, ``"none"``."""
    if isinstance(value, int):
        return value
    if prefix == "PROT_" and isinstance(value, str) and re.fullmatch(r"[rwx-]+", value):
        return ((thpsim.PROT_READ if "r" in value else 0)
                | (thpsim.PROT_WRITE if "w" in value else 0)
                | (thpsim.PROT_EXEC if "x" in value else 0))
    names = value if isinstance(value, list) else re.split(r"[|,]", value)
    out = 0
    for n in names:
        if isinstance(n, int) and not isinstance(n, bool):
            out |= n
            continue
        if not isinstance(n, str):
            raise UsageError(f"{where}: {key}: {n!r} is not a name")
        n = n.strip().upper().replace("-", "_")
        full = n if n.startswith(prefix) else prefix + n
        v = getattr(thpsim, full, None)
        if not isinstance(v, int) or n == "":
            raise UsageError(f"{where}: {key}: unknown {prefix}* name {n!r}")
        out |= v
    return out


def _mode(value: Any, where: str) -> int:
    """A memory policy mode: ``"bind"``, ``"MPOL_INTERLEAVE"``, optionally with mode
    flags (``"bind|static_nodes"`` for MPOL_F_STATIC_NODES)."""
    if isinstance(value, int):
        return value
    names = value if isinstance(value, list) else re.split(r"[|,]", value)
    out = 0
    for n in names:
        n = str(n).strip().upper().replace("-", "_")
        n = n[5:] if n.startswith("MPOL_") else n
        v = getattr(thpsim, "MPOL_F_" + n, None) if n.endswith("_NODES") else \
            getattr(thpsim, "MPOL_" + n, None)
        if not isinstance(v, int):
            raise UsageError(f"{where}: mode: unknown policy {n!r} (default, bind, "
                             f"interleave, preferred, local, ...)")
        out |= v
    return out


def _mask(nodes: list[int]) -> int:
    m = 0
    for n in nodes:
        m |= 1 << n
    return m


class _Runner:
    def __init__(self, state: State, verbose: bool):
        self.s = state
        self.m = state.machine
        self.sc = state.scenario
        self.verbose = verbose

    def emit(self, text: str) -> None:
        self.s.out.append(text if text.endswith("\n") or not text else text + "\n")

    # ---- ranges
    def span(self, step: Step) -> tuple[int, int]:
        """[start, end) of the step's region, ``offset`` and ``length``."""
        k = step.keys
        r = self.s.regions[k["region"]]
        off = k.get("offset", 0)
        length = k.get("length", r.size - off)
        if off > r.size or off + length > r.size:
            raise UsageError(f"{step.where(self.sc.path)}: offset {_human(off)} + length "
                             f"{_human(length)} goes past the end of region {k['region']!r} "
                             f"({_human(r.size)})")
        return r.addr + off, r.addr + off + length

    def value(self, pattern: Any, addr: int, region_addr: int) -> int:
        if pattern == "addr":
            return addr
        if pattern == "offset":
            return addr - region_addr
        return int(pattern)

    # ---- one step
    def run_step(self, step: Step) -> Any:
        fn: Callable[[Step, Any], Any] = getattr(self, "do_" + step.kind)
        p = self.s.procs.get(step.process)
        if step.kind != "check" and (p is None or p.exited) and step.kind not in (
                "show", "offline", "online", "cpuset"):
            raise ScenarioFailure(f"{step.where(self.sc.path)}: process {step.process!r} "
                                  f"has exited")
        return fn(step, p)

    def do_mmap(self, step: Step, p: Any) -> Any:
        k = step.keys
        w = step.where(self.sc.path)
        prot = _flags(k.get("prot", "rw"), "PROT_", w, "prot")
        flags = _flags(k.get("flags", "MAP_PRIVATE|MAP_ANONYMOUS"), "MAP_", w, "flags")
        size, align = k["size"], k.get("align", 0)
        if align and (align & (align - 1) or align < PAGE_SIZE):
            raise UsageError(f"{w}: align must be a power of two >= 4KiB")
        if align:  # map more, then trim to an aligned range, as user code does
            raw = p.mmap(k.get("hint", 0), size + align, prot, flags)
            addr = (raw + align - 1) & ~(align - 1)
            if addr > raw:
                p.munmap(raw, addr - raw)
            tail = raw + size + align - (addr + size)
            if tail:
                p.munmap(addr + size, tail)
        else:
            addr = p.mmap(k.get("hint", 0), size, prot, flags)
        self.s.regions[k["region"]] = Region(addr, size)
        return addr

    def do_munmap(self, step: Step, p: Any) -> Any:
        a, b = self.span(step)
        return p.munmap(a, b - a)

    def do_mprotect(self, step: Step, p: Any) -> Any:
        a, b = self.span(step)
        return p.mprotect(a, b - a, _flags(step.keys["prot"], "PROT_",
                                           step.where(self.sc.path), "prot"))

    def do_madvise(self, step: Step, p: Any) -> Any:
        a, b = self.span(step)
        return p.madvise(a, b - a, _flags(step.keys["advice"], "MADV_",
                                          step.where(self.sc.path), "advice"))

    def do_mlock(self, step: Step, p: Any) -> Any:
        a, b = self.span(step)
        return p.mlock(a, b - a)

    def do_munlock(self, step: Step, p: Any) -> Any:
        a, b = self.span(step)
        return p.munlock(a, b - a)

    def _stride(self, step: Step, default: int = PAGE_SIZE) -> int:
        every = step.keys.get("every", default)
        if every < PAGE_SIZE or every % PAGE_SIZE:
            raise UsageError(f"{step.where(self.sc.path)}: every must be a multiple of 4KiB")
        return every

    def do_write(self, step: Step, p: Any) -> Any:
        k = step.keys
        if "path" in k:
            return self.m.fs.write(self.s.resolve_path(k["path"]),
                                   self.s.resolve_path(k["data"]))
        a, b = self.span(step)
        base = self.s.regions[k["region"]].addr
        pattern = k.get("value", "addr")
        t = p.threads[0]
        n = 0
        for addr in range(a, b, self._stride(step)):
            t.write(addr, self.value(pattern, addr, base))
            n += 1
        return n

    def do_touch(self, step: Step, p: Any) -> Any:
        a, b = self.span(step)
        t = p.threads[0]
        for addr in range(a, b, PAGE_SIZE):
            if step.keys.get("access", "write") == "read":
                t.read(addr)
            else:
                t.write(addr, addr)
        return (b - a) // PAGE_SIZE

    def do_read(self, step: Step, p: Any) -> Any:
        k = step.keys
        a, b = self.span(step)
        base = self.s.regions[k["region"]].addr
        t = p.threads[0]
        n = 0
        for addr in range(a, b, self._stride(step)):
            got = t.read(addr)
            if "expect" in k:
                want = self.value(k["expect"], addr, base) & 0xFFFF_FFFF_FFFF_FFFF
                if got != want:
                    raise ScenarioFailure(
                        f"{step.where(self.sc.path)}: read {got:#x} at {addr:#x} (region "
                        f"{k['region']!r} + {addr - base:#x}), expected {want:#x}")
            n += 1
        return n

    def do_fork(self, step: Step, p: Any) -> Any:
        child = p.fork(step.keys.get("cpu"))
        self.s.procs[step.keys["child"]] = child
        return child.pid

    def do_exit(self, step: Step, p: Any) -> Any:
        p.exit()
        return 0

    def do_mbind(self, step: Step, p: Any) -> Any:
        k = step.keys
        w = step.where(self.sc.path)
        a, b = self.span(step)
        nodes = k.get("nodes")
        return p.mbind(a, b - a, _mode(k["mode"], w), None if nodes is None else _mask(nodes),
                       numactl_mod.MAXNODE if nodes is not None else 0,
                       _flags(k.get("flags", 0), "MPOL_MF_", w, "flags"))

    def do_set_mempolicy(self, step: Step, p: Any) -> Any:
        k = step.keys
        nodes = k.get("nodes")
        return p.set_mempolicy(_mode(k["mode"], step.where(self.sc.path)),
                               None if nodes is None else _mask(nodes),
                               numactl_mod.MAXNODE if nodes is not None else 0)

    def do_move_pages(self, step: Step, p: Any) -> Any:
        k = step.keys
        w = step.where(self.sc.path)
        r = self.s.regions[k["region"]]
        if "offsets" in k:
            addrs = []
            for off in k["offsets"]:
                if off >= r.size:
                    raise UsageError(f"{w}: offsets: {_human(off)} is past the end of "
                                     f"region {k['region']!r} ({_human(r.size)})")
                addrs.append(r.addr + off)
        else:
            a, b = self.span(step)
            addrs = list(range(a, b, self._stride(step, HPAGE_PMD_SIZE)))
        nodes = k.get("nodes")
        if isinstance(nodes, int):
            nodes = [nodes] * len(addrs)
        if nodes is not None and len(nodes) != len(addrs):
            raise UsageError(f"{w}: nodes: {len(nodes)} nodes for {len(addrs)} pages")
        target = self.s.procs[k["target"]] if "target" in k else p
        flags = _flags(k.get("flags", "MPOL_MF_MOVE"), "MPOL_MF_", w, "flags")
        pid = 0 if target is p else target.pid
        ret, status = p.move_pages(pid, addrs, nodes, flags)
        self.emit(f"step {step.index} move_pages: {ret} status "
                  + " ".join(str(s) for s in status))
        if "expect_status" in k:
            want = k["expect_status"]
            want = [want] * len(status) if isinstance(want, int) else want
            if list(status) != list(want):
                raise ScenarioFailure(f"{w}: status {list(status)}, expected {list(want)}")
        return {"ret": ret, "status": list(status)}

    def do_migrate_pages(self, step: Step, p: Any) -> Any:
        k = step.keys
        target = self.s.procs[k["target"]] if "target" in k else p
        return p.migrate_pages(target.pid, numactl_mod.MAXNODE, _mask(k["from"]),
                               _mask(k["to"]))

    def do_cpuset(self, step: Step, p: Any) -> Any:
        k = step.keys
        fs = self.m.fs
        v2 = self.m.profile.cpuset_cgroup_v2
        root = "/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/cpuset"
        path = f"{root}/{k['name']}"
        if not fs.exists(path):
            if v2 and "+cpuset" not in fs.read(f"{root}/cgroup.subtree_control") \
                    and "cpuset" not in fs.read(f"{root}/cgroup.subtree_control").split():
                fs.write(f"{root}/cgroup.subtree_control", "+cpuset")
            fs.mkdir(path)
            if not v2 and "cpus" not in k:  # v1: a task needs CPUs and mems to attach
                fs.write(f"{path}/cpuset.cpus", f"0-{len(self.m.cpus) - 1}")
            if not v2 and "mems" not in k:
                fs.write(f"{path}/cpuset.mems",
                         numactl_mod.format_list(self.sc.node_ids))
        if "cpus" in k:
            fs.write(f"{path}/cpuset.cpus", k["cpus"])
        if not v2 and k.get("memory_migrate", True):
            fs.write(f"{path}/cpuset.memory_migrate", "1")
        if "mems" in k:
            fs.write(f"{path}/cpuset.mems", numactl_mod.format_list(k["mems"]))
        for name in k.get("attach", []):
            fs.write(f"{path}/cgroup.procs", str(self.s.process(name).pid))
        return path

    def _block(self, step: Step) -> int:
        k = step.keys
        blocks = self.s.block_nodes()
        if "block" in k:
            if k["block"] not in blocks:
                raise UsageError(f"{step.where(self.sc.path)}: block: no memory block "
                                 f"{k['block']} (0-{max(blocks)})")
            return k["block"]
        mine = [b for b, n in blocks.items() if n == k["node"]]
        if not mine:
            raise UsageError(f"{step.where(self.sc.path)}: node: no memory block on node "
                             f"{k['node']}")
        return max(mine)  # the node's last block: where ZONE_MOVABLE lies

    def do_offline(self, step: Step, p: Any) -> Any:
        b = self._block(step)
        self.m.fs.write(f"{_MEMORY_DIR}/memory{b}/state", "offline")
        return b

    def do_online(self, step: Step, p: Any) -> Any:
        b = self._block(step)
        state = {"online": "online", "kernel": "online_kernel",
                 "movable": "online_movable"}[step.keys.get("zone", "online")]
        self.m.fs.write(f"{_MEMORY_DIR}/memory{b}/state", state)
        return b

    def do_soft_offline(self, step: Step, p: Any) -> Any:
        k = step.keys
        a, _ = self.span(step)
        return p.madvise(a, k.get("length", PAGE_SIZE), thpsim.MADV_SOFT_OFFLINE)

    def do_show(self, step: Step, p: Any) -> Any:
        k = step.keys
        if "path" in k:
            path = self.s.resolve_path(k["path"])
            text = _read_text(self.m, path)
            head = f"cat {path}"
        else:
            argv = shlex.split(k["tool"])  # a known tool: checked by load()
            try:
                text, _ = TOOLS[argv[0]](self.s, argv[1:])
            except UsageError as e:
                raise UsageError(f"{step.where(self.sc.path)}: tool: {e}") from None
            head = k["tool"]
        if "grep" in k:
            text = "".join(ln for ln in text.splitlines(keepends=True) if k["grep"] in ln)
        self.emit(f"# step {step.index}: {head}")
        self.emit(text)
        return text

    # ---- checks
    def do_check(self, step: Step, p: Any) -> Any:
        k = step.keys
        w = step.where(self.sc.path)
        done = []
        for t in k.get("thp_on_node", []):
            for node in t["node"]:
                got = self.thps_on_node(node, k.get("region"), k.get("process"))
                done.append(f"thp_on_node node {node} = {got}")
                if got != t["count"]:
                    scope = f"region {k['region']!r}" if "region" in k else "the machine"
                    raise ScenarioFailure(f"{w}: thp_on_node: node {node} holds {got} THPs of "
                                          f"{scope}, expected {t['count']}")
        for t in k.get("pages_on_node", []):
            for node in t["node"]:
                got = self.pages_on_node(node, step, k.get("region"))
                done.append(f"pages_on_node node {node} = {got}")
                if got != t["count"]:
                    scope = (f"region {k['region']!r}" if "region" in k
                             else f"process {step.process!r}")
                    raise ScenarioFailure(f"{w}: pages_on_node: node {node} holds {got} "
                                          f"pages of {scope}, expected {t['count']}")
        if "vmstat" in k:
            since = k.get("since", 1)
            base = self.s.vmstat_at.get(since)
            if base is None:
                raise UsageError(f"{w}: since: step {since} does not run before this check")
            now = self.m.vmstat()
            for name, want in k["vmstat"].items():
                if name not in now:
                    raise UsageError(f"{w}: vmstat: no counter {name!r} in /proc/vmstat")
                delta = now[name] - base.get(name, 0)
                mt = _COMPARE_RE.match(str(want))
                op, n = mt[1] or "==", mt[2]
                ok = {"==": delta == int(n), "!=": delta != int(n), ">=": delta >= int(n),
                      "<=": delta <= int(n), ">": delta > int(n), "<": delta < int(n)}[op]
                done.append(f"vmstat {name} +{delta}")
                if not ok:
                    raise ScenarioFailure(f"{w}: vmstat: {name} went up by {delta} since "
                                          f"step {since}, expected {op} {n}")
        for key, want in (("contains", True), ("not_contains", False)):
            for t in k.get(key, []):
                path = self.s.resolve_path(t["path"])
                text = _read_text(self.m, path)
                done.append(f"{key} {path}")
                if (t["text"] in text) != want:
                    raise ScenarioFailure(f"{w}: {key}: {path} "
                                          f"{'lacks' if want else 'has'} {t['text']!r}")
        if k.get("integrity"):
            self.m.check_integrity()
            done.append("integrity")
        return done

    def thps_on_node(self, node: int, region: str | None, process: str | None = None) -> int:
        """THPs on ``node``: of the machine (nodeN/meminfo AnonHugePages, in 2 MiB), or of
        ``region``: its 2 MiB-aligned blocks whose first page is the head of a THP
        (/proc/PID/pagemap, /proc/kpageflags) in a memory block of ``node``, in the
        address space of ``process`` (default: the process that mapped it)."""
        if region is None:
            kb = numactl_mod.node_meminfo(self.m, node).get("AnonHugePages", 0)
            return kb * 1024 // HPAGE_PMD_SIZE
        r = self.s.regions[region]
        owner = self.s.procs[process or self._region_owner(region)]
        count = 0
        start = (r.addr + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
        for addr in range(start, r.addr + r.size - HPAGE_PMD_SIZE + 1, HPAGE_PMD_SIZE):
            pm = struct.unpack("<Q", self.m.fs.read(f"/proc/{owner.pid}/pagemap",
                                                    offset=addr // PAGE_SIZE * 8,
                                                    length=8))[0]
            if not pm & _PM_PRESENT:
                continue
            pfn = pm & _PM_PFN_MASK
            kf = struct.unpack("<Q", self.m.fs.read("/proc/kpageflags", offset=pfn * 8,
                                                    length=8))[0]
            if kf >> _KPF_THP & 1 and kf >> _KPF_COMPOUND_HEAD & 1 and \
                    self.s.node_of_pfn(pfn) == node:
                count += 1
        return count

    def _region_owner(self, region: str) -> str:
        for st in self.sc.steps:
            if st.kind == "mmap" and st.keys["region"] == region:
                return st.process
        raise AssertionError(region)

    def pages_on_node(self, node: int, step: Step, region: str | None) -> int:
        """4 KiB pages on ``node`` (numa_maps ``N<node>=``) of the step's process, in the
        lines of ``region``'s range only when one is given."""
        p = self.s.procs[step.process] if "process" in step.keys or region is None else \
            self.s.procs[self._region_owner(region)]
        r = self.s.regions.get(region) if region else None
        total = 0
        for line in self.m.fs.read(f"/proc/{p.pid}/numa_maps").splitlines():
            words = line.split()
            start = int(words[0], 16)
            if r is not None and not r.addr <= start < r.addr + r.size:
                continue
            for word in words:
                if word.startswith(f"N{node}="):
                    total += int(word.split("=")[1])
        return total


def _read_text(machine: Any, path: str) -> str:
    data = machine.fs.read(path)
    if isinstance(data, bytes):
        return data.hex() + "\n"
    return data


def _errno_name(code: int) -> str:
    return errno_mod.errorcode.get(code, str(code))


def build_machine(sc: Scenario, max_host_mib: int = DEFAULT_MAX_HOST_MIB,
                  profile: str | None = None, switches: dict[str, Any] | None = None) -> Any:
    """The scenario's Machine, after the host-memory guard. ``profile``/``switches``
    (the command line's) override the file's."""
    need = estimate_host_bytes(sc)
    if need > max_host_mib << 20:
        total = sum(sc.machine["nodes"].values())
        raise UsageError(f"{sc.path}: this machine ({len(sc.machine['nodes'])} nodes, "
                         f"{_human(total)}) would take about {need >> 20} MiB of host "
                         f"memory; the limit is {max_host_mib} MiB (--max-host-mib)")
    name, merged = resolve_profile(profile or sc.profile, {**sc.switches, **(switches or {})})
    try:
        return thpsim.Machine(profile=name, **sc.machine, **merged)
    except ConfigError as e:
        raise UsageError(f"{sc.path}: [machine]: {e}") from None


def _spawn(state: State, spec: ProcessSpec, override: dict[str, Any] | None) -> None:
    """Start a declared process as numactl would start it: the CPU (``cpu``,
    ``physcpubind``, the first CPU of ``cpunodebind``), then its memory policy
    (set_mempolicy(2) before any of its steps)."""
    sc, m = state.scenario, state.machine
    opts = dict(override if override is not None else spec.policy)
    where = f"{sc.path}: process {spec.name!r}"
    cpu = spec.cpu if spec.cpu is not None else 0
    try:
        if "physcpubind" in opts:
            cpu = numactl_mod.parse_cpustring(opts["physcpubind"],
                                              list(range(len(m.cpus))))[0]
        elif "cpunodebind" in opts:
            nodes = numactl_mod.parse_nodestring(opts["cpunodebind"], sc.node_ids)
            cpus = [c for n in nodes for c in numactl_mod.node_cpus(m, n)]
            if not cpus:
                raise UsageError(f"--cpunodebind={opts['cpunodebind']}: no CPU on those "
                                 f"nodes")
            cpu = min(cpus)
        pol = numactl_mod.policy_from_options(sc.node_ids, opts.get("membind"),
                                              opts.get("interleave"), opts.get("preferred"),
                                              opts.get("localalloc", False))
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    if not 0 <= cpu < len(m.cpus):
        raise UsageError(f"{where}: no CPU {cpu} (the machine has 0-{len(m.cpus) - 1})")
    p = m.spawn(cpu=cpu, comm=(spec.comm or spec.name)[:15])
    state.procs[spec.name] = p
    if pol is not None:
        mode, nodes = pol
        try:
            p.set_mempolicy(mode, _mask(nodes) if nodes else None,
                            numactl_mod.MAXNODE if nodes else 0)
        except OSError as e:
            raise ScenarioFailure(f"{where}: set_mempolicy({numactl_mod.policy_name(mode)}, "
                                  f"{numactl_mod.format_list(nodes)}) failed: "
                                  f"{_errno_name(e.errno)} ({e.strerror})") from None


def run(sc: Scenario, *, at: int | None = None, max_host_mib: int = DEFAULT_MAX_HOST_MIB,
        profile: str | None = None, switches: dict[str, Any] | None = None,
        policy_override: tuple[str, dict[str, Any]] | None = None,
        verbose: bool = False) -> State:
    """Build the machine, start the processes, run steps 1..``at`` (default all).

    ``policy_override``: (process name, numactl options) replacing that process's
    declared policy and CPU options (``thpsim numactl --membind=1 -- NAME``).
    Raises UsageError (exit 2) for what the file asks that cannot be (a range past a
    region's end, a tool's bad option), ScenarioFailure (exit 1) when a step fails or a
    check does not hold; the state is in the exception's ``state``.
    """
    if at is not None and not 0 <= at <= len(sc.steps):
        raise UsageError(f"{sc.path}: --at {at}: the scenario has steps 1-{len(sc.steps)}"
                         f" (0: before the first)")
    m = build_machine(sc, max_host_mib, profile, switches)
    state = State(sc, m)
    for spec in sc.processes:
        ov = policy_override[1] if policy_override and policy_override[0] == spec.name else None
        _spawn(state, spec, ov)
    wanted = {1} | {st.keys.get("since", 1) for st in sc.steps if st.kind == "check"}
    runner = _Runner(state, verbose)
    last = len(sc.steps) if at is None else at
    try:
        for step in sc.steps[:last]:
            if step.index in wanted:
                state.vmstat_at[step.index] = m.vmstat()
            _run_one(runner, step)
    except ScenarioFailure as e:
        e.scenario_state = state
        raise
    return state


def _run_one(runner: _Runner, step: Step) -> None:
    state = runner.s
    w = step.where(state.scenario.path)
    want_errno = step.keys.get("expect_errno")
    want_sig = step.keys.get("expect_signal")
    rec: dict[str, Any] = {"step": step.index, "do": step.kind, "process": step.process}
    if "note" in step.keys:
        rec["note"] = step.keys["note"]
    try:
        result = runner.run_step(step)
    except OSError as e:
        name = _errno_name(e.errno) if e.errno is not None else str(e)
        rec["errno"] = name
        state.records.append(rec)
        if want_errno == name:
            if runner.verbose:
                runner.emit(f"step {step.index} {step.kind}: {name} (expected)")
            return
        if want_errno:
            raise ScenarioFailure(f"{w}: failed with {name} ({e.strerror}), expected "
                                  f"{want_errno}") from None
        raise ScenarioFailure(f"{w}: failed with {name} ({e.strerror})") from None
    except DeliveredSignal as e:
        sig = signal_mod.Signals(e.si_signo).name
        rec["signal"] = sig
        state.records.append(rec)
        if want_sig == sig:
            if runner.verbose:
                runner.emit(f"step {step.index} {step.kind}: {sig} (expected)")
            return
        raise ScenarioFailure(f"{w}: {sig} at {e.si_addr:#x}"
                              + (f", expected {want_sig}" if want_sig else "")) from None
    except UsageError as e:  # a name or value only the state can refuse
        if str(e).startswith(f"{state.scenario.path}: "):
            raise
        raise UsageError(f"{w}: {e}") from None
    except (IntegrityError, KernelBug) as e:
        state.records.append(rec)
        raise ScenarioFailure(f"{w}: the model's invariant checker failed: {e}") from None
    rec["result"] = result
    state.records.append(rec)
    if want_errno:
        raise ScenarioFailure(f"{w}: succeeded, expected {want_errno}")
    if want_sig:
        raise ScenarioFailure(f"{w}: succeeded, expected {want_sig}")
    if runner.verbose and step.kind not in ("show", "move_pages"):  # those print already
        shown = result if not isinstance(result, int) or isinstance(result, bool) or \
            result < 1 << 32 else f"{result:#x}"
        runner.emit(f"step {step.index} {step.kind}"
                    + ("" if step.kind in _MACHINE_STEPS else f" ({step.process})")
                    + f": {shown}")


# ---------------------------------------------------------------------- tools on a state
class ToolParser(argparse.ArgumentParser):
    """argparse whose errors are one UsageError line (``PROG: message``), not usage
    text and exit 2 from inside a scenario step."""

    def error(self, message: str) -> Any:  # argparse's hook
        # the thpsim commands' own parsers: run_tool already says "thpsim CMD: error:"
        raise UsageError(message if self.prog.startswith("thpsim ") else
                         f"{self.prog}: {message}")


def proc_parser(prog: str = "proc") -> Any:
    ap = ToolParser(prog=prog, add_help=False)
    ap.add_argument("path", metavar="PATH", help="a /proc or /sys file (/proc/NAME/... "
                                                 "takes a process name)")
    ap.add_argument("--offset", type=lambda v: parse_size(v, "--offset"), default=0,
                    help="read from this byte (the binary files: pagemap, kpageflags)")
    ap.add_argument("--length", type=lambda v: parse_size(v, "--length"),
                    help="read this many bytes (default: to the end; the binary files "
                         "need one)")
    return ap


def tool_proc(state: State, argv: list[str], args: Any = None) -> tuple[str, dict[str, Any]]:
    """``proc PATH [--offset N] [--length N]`` (or ``cat``): a /proc or /sys file of the
    state; a binary file's 64-bit words one per line, ``OFFSET: WORD`` in hex."""
    if args is None:
        args = proc_parser().parse_args(argv)
    path = state.resolve_path(args.path)
    try:
        data = state.machine.fs.read(path, offset=args.offset, length=args.length)
    except OSError as e:
        what = " (a binary file: give --length)" if args.length is None and \
            e.errno == errno_mod.EINVAL else ""
        raise UsageError(f"{path}: {e.strerror}{what}") from None
    if isinstance(data, bytes):
        words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
        text = "".join(f"{args.offset + 8 * i:#x}: {w:016x}\n" for i, w in enumerate(words))
        return text, {"path": path, "offset": args.offset, "words": words}
    return data, {"path": path, "text": data}


def numastat_parser(prog: str = "numastat") -> Any:
    ap = ToolParser(prog=prog, add_help=False)
    ap.add_argument("-p", action="append", default=[], metavar="PID|NAME",
                    help="per-node memory of a process (repeatable)")
    ap.add_argument("-m", action="store_true", help="per-node meminfo, in MB")
    ap.add_argument("-n", action="store_true", help="per-node numastat counters, in MB")
    ap.add_argument("-c", action="store_true", help="narrow columns, no decimals")
    ap.add_argument("-z", action="store_true", help="leave out all-zero rows and columns")
    ap.add_argument("-v", action="store_true", help="one table per process")
    ap.add_argument("pids", nargs="*", metavar="PID|NAME", help="more processes")
    return ap


def tool_numastat(state: State, argv: list[str], args: Any = None
                  ) -> tuple[str, dict[str, Any]]:
    """``numastat [-c] [-m] [-n] [-z] [-v] [-p PID|NAME]... [PID|NAME...]``."""
    if args is None:
        args = numastat_parser().parse_args(argv)
    m = state.machine
    refs = list(args.p) + list(args.pids)
    if not refs and not args.m and not args.n and not args.c and not args.z and not args.v:
        return numastat_mod.numastat_compat(m)
    parts: list[str] = []
    obj: dict[str, Any] = {}
    if refs:
        procs = []
        for ref in refs:
            p = state.process(ref)
            procs.append((p.pid, state.name_of(p.pid) or str(p.pid)))
        text, obj["process"] = numastat_mod.process_info(m, procs, args.c, args.z, args.v)
        parts.append(text)
    if args.m:
        text, obj["meminfo"] = numastat_mod.system_info(m, args.c, args.z)
        parts.append(text)
    if args.n or (not refs and not args.m):
        text, obj["numastat"] = numastat_mod.numastat_info(m, args.c, args.z)
        parts.append(text)
    return "".join(parts), obj


def numactl_parser(prog: str = "numactl") -> Any:
    ap = ToolParser(prog=prog, add_help=False)
    ap.add_argument("-H", "--hardware", action="store_true",
                    help="nodes, their CPUs, size, free memory and distances")
    ap.add_argument("-s", "--show", action="store_true",
                    help="the memory policy and CPU binding of a process (--pid)")
    ap.add_argument("--pid", metavar="PID|NAME",
                    help="the process --show reports (default: the first declared)")
    ap.add_argument("-m", "--membind", metavar="NODES", help="MPOL_BIND to NODES")
    ap.add_argument("-i", "--interleave", metavar="NODES", help="MPOL_INTERLEAVE over NODES")
    ap.add_argument("-p", "--preferred", metavar="NODE", help="MPOL_PREFERRED NODE")
    ap.add_argument("-l", "--localalloc", action="store_true", help="MPOL_LOCAL")
    ap.add_argument("-N", "--cpunodebind", metavar="NODES",
                    help="run on the first CPU of NODES")
    ap.add_argument("-C", "--physcpubind", metavar="CPUS", help="run on the first of CPUS")
    return ap


def tool_numactl(state: State, argv: list[str], args: Any = None
                 ) -> tuple[str, dict[str, Any]]:
    """``numactl --hardware`` or ``numactl --show [--pid PID|NAME]`` (inside a scenario
    the policy options have nothing to start: [[process]] tables carry them)."""
    if args is None:
        args = numactl_parser().parse_args(argv)
    if args.hardware:
        return numactl_mod.hardware(state.machine)
    if args.show:
        ref = args.pid or state.scenario.processes[0].name
        return numactl_mod.show(state.process(ref))
    raise UsageError("numactl: inside a scenario only --hardware and --show [--pid P] "
                     "(a [[process]] table carries a policy)")


def migratepages_parser(prog: str = "migratepages") -> Any:
    ap = ToolParser(prog=prog, add_help=False)
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the pages moved and the pages per node before and after")
    ap.add_argument("--numastat", action="store_true",
                    help="then show numastat -p of the process")
    ap.add_argument("pid", metavar="PID|NAME")
    ap.add_argument("from_nodes", metavar="FROM-NODES", help="node list: 0, 0-1, all, !1")
    ap.add_argument("to_nodes", metavar="TO-NODES")
    return ap


def tool_migratepages(state: State, argv: list[str], args: Any = None
                      ) -> tuple[str, dict[str, Any]]:
    """``migratepages [-v] [--numastat] PID|NAME FROM-NODES TO-NODES``: nothing printed on
    success (``-v``: the pages per node before and after); OSError propagates."""
    if args is None:
        args = migratepages_parser().parse_args(argv)
    nids = state.scenario.node_ids
    try:
        src = numactl_mod.parse_nodestring(args.from_nodes, nids)
        dst = numactl_mod.parse_nodestring(args.to_nodes, nids)
    except UsageError as e:
        raise UsageError(f"migratepages: {e}") from None
    p = state.process(args.pid)
    res = migratepages_mod.migratepages(p, src, dst)
    text = ""
    if args.verbose:
        text += (f"pid {p.pid}: {res['moved_pages']} pages moved from "
                 f"{numactl_mod.format_list(src)} to {numactl_mod.format_list(dst)}, "
                 f"{res['not_moved']} not moved\n"
                 f"before: {_per_node(res['before'])}\nafter:  {_per_node(res['after'])}\n")
    if args.numastat:
        t, res["numastat"] = numastat_mod.process_info(
            state.machine, [(p.pid, state.name_of(p.pid) or str(p.pid))])
        text += t
    return text, res


def _per_node(d: dict[str, int]) -> str:
    return " ".join(f"N{k}={v}" for k, v in d.items()) or "no pages"


#: The tools a ``show`` step (``tool = "..."``) and the commands run on a state:
#: name -> f(state, argv) -> (text, JSON object).
TOOLS: dict[str, Callable[[State, list[str]], tuple[str, dict[str, Any]]]] = {
    "numastat": tool_numastat, "numactl": tool_numactl,
    "migratepages": tool_migratepages, "proc": tool_proc, "cat": tool_proc,
}

#: The option parsers of the tools that have options, to check a ``show`` step's tool.
_TOOL_PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "numastat": numastat_parser, "numactl": numactl_parser,
    "migratepages": migratepages_parser, "proc": proc_parser, "cat": proc_parser,
}
