"""numactl(8) on a scenario's state: ``--hardware``, ``--show``, and the policy options
that a program is started under (``--membind``, ``--interleave``, ``--preferred``,
``--localalloc``, ``--cpunodebind``, ``--physcpubind``).

Models: numactl's numactl.c (hardware(), show(), print_distances()) and libnuma's
numa_parse_nodestring() for node lists, as user space sees them: everything printed is
read from the machine's /sys and /proc files or asked with get_mempolicy(2), the way the
real tool asks. Output formats are the real tool's, line for line:

``--hardware``::

    available: 2 nodes (0-1)
    node 0 cpus: 0 1
    node 0 size: 255 MB
    node 0 free: 247 MB
    ...
    node distances:
    node   0   1
      0:  10  20
      1:  20  10

(each distance cell is ``% 3d`` followed by a space, so data lines end in a space).

Simplified: ``+`` (cpuset-relative) node lists are refused; ``--show`` reports a
scenario process (``--pid``), not the tool's own policy.
"""

from __future__ import annotations

from typing import Any

import thpsim
from thpsim.cliutil import UsageError

__all__ = ["parse_nodestring", "parse_cpustring", "format_list", "hardware", "show",
           "POLICY_OPTIONS", "policy_from_options", "policy_name", "NODE_DIR", "MAXNODE"]

NODE_DIR = "/sys/devices/system/node"

#: The nodemask size (bits) the tools pass to the NUMA system calls, as libnuma passes
#: its possible-node mask: wide enough for any node id (4.14 wants at least
#: MAX_NUMNODES bits for get_mempolicy's mask).
MAXNODE = 1024

#: numactl's policy names (util.c policy_name()), by MPOL_* mode.
_POLICY_NAMES = {thpsim.MPOL_DEFAULT: "default", thpsim.MPOL_PREFERRED: "preferred",
                 thpsim.MPOL_BIND: "bind", thpsim.MPOL_INTERLEAVE: "interleave",
                 thpsim.MPOL_LOCAL: "local", thpsim.MPOL_PREFERRED_MANY: "preferred-many",
                 thpsim.MPOL_WEIGHTED_INTERLEAVE: "weighted-interleave"}

#: The policy options numactl starts a program under, and the mode each sets.
POLICY_OPTIONS = ("membind", "interleave", "preferred", "localalloc")


def policy_name(mode: int) -> str:
    return _POLICY_NAMES.get(mode, "unknown")


def _expand(text: str, universe: list[int], what: str) -> list[int]:
    """A comma list of numbers and ranges A-B, ``all``, each optionally inverted by a
    leading ``!``; every member must be in ``universe``."""
    text = text.strip()
    invert = text.startswith("!")
    if invert:
        text = text[1:]
    if not text:
        raise UsageError(f"<{'!' if invert else ''}{text}> is invalid: empty {what} list")
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if part == "all":
            out.update(universe)
            continue
        if part.startswith("+"):
            raise UsageError(f"<{text}> is invalid: cpuset-relative (+) {what}s are not "
                             f"modelled")
        lo, dash, hi = part.partition("-")
        try:
            a = int(lo, 10)
            b = int(hi, 10) if dash else a
        except ValueError:
            raise UsageError(f"<{text}> is invalid: {part!r} is not a {what} number "
                             f"or range") from None
        if a < 0 or b < a:
            raise UsageError(f"<{text}> is invalid: bad range {part!r}")
        for n in range(a, b + 1):
            if n not in universe:
                raise UsageError(f"<{text}> is invalid: no {what} {n} (the machine has "
                                 f"{format_list(universe) or 'none'})")
            out.add(n)
    if invert:
        out = set(universe) - out
    return sorted(out)


def parse_nodestring(text: str, nodes: list[int]) -> list[int]:
    """Node list as numa_parse_nodestring() reads it: ``1``, ``0,2``, ``0-1``, ``all``,
    ``!0``. UsageError names what is wrong (a node the machine lacks, a bad range)."""
    if not isinstance(text, str):
        text = str(text)
    return _expand(text, nodes, "node")


def parse_cpustring(text: str, cpus: list[int]) -> list[int]:
    """CPU list as numa_parse_cpustring() reads it (same syntax as node lists)."""
    return _expand(str(text), cpus, "cpu")


def format_list(ids: list[int]) -> str:
    """``0-3,5``: a sorted id list in the kernel's list format (bitmap_print_to_pagebuf)."""
    ids = sorted(ids)
    out: list[str] = []
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        out.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(out)


def parse_list(text: str) -> list[int]:
    """The kernel's list format (``0-1,4``, or empty) as ids."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        out.extend(range(int(lo), int(hi if dash else lo) + 1))
    return out


def node_ids(machine: Any) -> list[int]:
    return sorted(machine.nodes)


def node_cpus(machine: Any, nid: int) -> list[int]:
    return parse_list(machine.fs.read(f"{NODE_DIR}/node{nid}/cpulist"))


def node_meminfo(machine: Any, nid: int) -> dict[str, int]:
    """``Node N Name: value [kB]`` lines as name -> value (kB where the file says kB)."""
    out: dict[str, int] = {}
    for line in machine.fs.read(f"{NODE_DIR}/node{nid}/meminfo").splitlines():
        words = line.replace(":", " ").split()
        if len(words) >= 4:
            out[words[2]] = int(words[3])
    return out


def hardware(machine: Any) -> tuple[str, dict[str, Any]]:
    """``numactl --hardware``: the nodes, their CPUs, size and free memory (MB, from
    nodeN/meminfo's MemTotal and MemFree, as numa_node_size64() reads them), and the
    distance table (nodeN/distance). Returns (text, JSON object)."""
    nids = node_ids(machine)
    online = machine.fs.read(f"{NODE_DIR}/online").strip()
    lines = [f"available: {len(nids)} nodes ({online})"]
    nodes: dict[str, Any] = {}
    for nid in nids:
        cpus = node_cpus(machine, nid)
        mi = node_meminfo(machine, nid)
        size_mb = (mi["MemTotal"] << 10) >> 20
        free_mb = (mi["MemFree"] << 10) >> 20
        lines.append(f"node {nid} cpus:" + "".join(f" {c}" for c in cpus))
        lines.append(f"node {nid} size: {size_mb} MB")
        lines.append(f"node {nid} free: {free_mb} MB")
        nodes[str(nid)] = {"cpus": cpus, "size_mb": size_mb, "free_mb": free_mb}
    dist = {nid: [int(d) for d in machine.fs.read(f"{NODE_DIR}/node{nid}/distance").split()]
            for nid in nids}
    lines.append("node distances:")
    lines.append("node " + "".join(f"{n:3d} " for n in nids))
    for nid in nids:
        lines.append(f"{nid:3d}: " + "".join(f"{d:3d} " for d in dist[nid]))
    obj = {"available": nids, "nodes": nodes, "distances": [dist[n] for n in nids]}
    return "\n".join(lines) + "\n", obj


def _status_field(process: Any, name: str) -> str:
    for line in process.machine.fs.read(f"/proc/{process.pid}/status").splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    return ""


def show(process: Any) -> tuple[str, dict[str, Any]]:
    """``numactl --show`` for ``process``: its policy (get_mempolicy(2) as the process),
    the preferred or next interleave node, its CPU affinity (physcpubind) and the nodes
    of those CPUs (cpubind, nodebind), and membind (the policy's nodes for bind, else
    the nodes it may allocate from). Returns (text, JSON object)."""
    machine = process.machine
    mode, mask = process.get_mempolicy(MAXNODE)
    mode &= 0xFFFF  # MPOL_F_STATIC_NODES / RELATIVE_NODES ride in the mode's high bits
    nodes = [n for n in range(MAXNODE) if (mask or 0) >> n & 1]
    cpus = parse_list(_status_field(process, "Cpus_allowed_list"))
    mems = parse_list(_status_field(process, "Mems_allowed_list"))
    cpubind = [n for n in node_ids(machine) if set(node_cpus(machine, n)) & set(cpus)]
    membind = nodes if mode == thpsim.MPOL_BIND else mems
    name = policy_name(mode)
    lines = [f"policy: {name}"]
    nxt = None
    if mode == thpsim.MPOL_PREFERRED and nodes:
        lines.append(f"preferred node: {nodes[0]}")
    elif mode == thpsim.MPOL_INTERLEAVE:
        nxt, _ = process.get_mempolicy(0, 0, thpsim.MPOL_F_NODE)
        lines.append(f"preferred node: {nxt} (interleave next)")
    elif mode == thpsim.MPOL_BIND:
        lines.append(f"preferred node: {nodes[0] if nodes else 0}")
    else:
        lines.append("preferred node: current")
    if mode == thpsim.MPOL_INTERLEAVE:
        lines.append("interleavemask: " + "".join(f"{n} " for n in nodes))
        lines.append(f"interleavenode: {nxt}")
    lines.append("physcpubind: " + "".join(f"{c} " for c in cpus))
    lines.append("cpubind: " + "".join(f"{n} " for n in cpubind))
    lines.append("nodebind: " + "".join(f"{n} " for n in cpubind))
    lines.append("membind: " + "".join(f"{n} " for n in membind))
    obj = {"pid": process.pid, "policy": name, "nodes": nodes, "physcpubind": cpus,
           "cpubind": cpubind, "nodebind": cpubind, "membind": membind}
    if nxt is not None:
        obj["interleave_next"] = nxt
    return "\n".join(lines) + "\n", obj


def policy_from_options(machine_nodes: list[int], membind: str | None = None,
                        interleave: str | None = None, preferred: str | None = None,
                        localalloc: bool = False) -> tuple[int, list[int]] | None:
    """(MPOL_* mode, nodes) for numactl's policy options, or None when none is given.
    More than one is numactl's "Conflicting policies"; ``--preferred`` takes one node."""
    given = [k for k, v in (("--membind", membind), ("--interleave", interleave),
                            ("--preferred", preferred), ("--localalloc", localalloc)) if v]
    if len(given) > 1:
        raise UsageError(f"Conflicting policies: {' and '.join(given)}")
    if membind:
        return thpsim.MPOL_BIND, parse_nodestring(membind, machine_nodes)
    if interleave:
        return thpsim.MPOL_INTERLEAVE, parse_nodestring(interleave, machine_nodes)
    if preferred:
        nodes = parse_nodestring(preferred, machine_nodes)
        if len(nodes) != 1:
            raise UsageError(f"--preferred={preferred}: takes exactly one node")
        return thpsim.MPOL_PREFERRED, nodes
    if localalloc:
        return thpsim.MPOL_LOCAL, []
    return None
