"""migratepages(8) on a scenario's process: ``migratepages PID FROM-NODES TO-NODES``.

Models: numactl's migratepages.c: parse the pid and the two node lists
(numa_parse_nodestring()), call migrate_pages(2) (libnuma's numa_migrate_pages()), print
nothing on success and ``migrate_pages: <strerror>`` with exit status 1 on failure.

Simplified: the call is made by the target process itself (pid 0 would do the same;
the real tool is a separate root process, which the model would have to spawn, changing
the pid numbering and page-table counts of the state it reports on).
"""

from __future__ import annotations

from typing import Any

from thpsim.usr.numactl import MAXNODE

__all__ = ["node_pages", "migratepages"]


def node_pages(process: Any) -> dict[int, int]:
    """Pages of ``process`` per node, from its /proc/PID/numa_maps (``N<node>=<pages>``)."""
    out: dict[int, int] = {}
    for line in process.machine.fs.read(f"/proc/{process.pid}/numa_maps").splitlines():
        for word in line.split():
            if word.startswith("N") and "=" in word:
                node, _, pages = word[1:].partition("=")
                out[int(node)] = out.get(int(node), 0) + int(pages)
    return dict(sorted(out.items()))


def _mask(nodes: list[int]) -> int:
    m = 0
    for n in nodes:
        m |= 1 << n
    return m


def migratepages(process: Any, from_nodes: list[int], to_nodes: list[int]
                 ) -> dict[str, Any]:
    """migrate_pages(2) of ``process`` from ``from_nodes`` to ``to_nodes``. Returns what
    the call returned (pages it could not move) and the pages per node before and after
    (numa_maps), and the pages that left the source nodes. OSError from the call
    propagates (the tool prints it and exits 1)."""
    before = node_pages(process)
    ret = process.migrate_pages(process.pid, MAXNODE, _mask(from_nodes), _mask(to_nodes))
    after = node_pages(process)
    moved = sum(before.get(n, 0) - after.get(n, 0) for n in from_nodes
                if n not in to_nodes)
    return {"pid": process.pid, "from": from_nodes, "to": to_nodes, "not_moved": ret,
            "moved_pages": max(moved, 0),
            "before": {str(k): v for k, v in before.items()},
            "after": {str(k): v for k, v in after.items()}}
