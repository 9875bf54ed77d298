"""``thpsim report``: a self-contained HTML report with plots, from a results store
or from one stress run; and the per-node memory views other tools use
(:func:`node_occupancy`, :func:`node_memory_map`)."""

from thpsim.report.memmap import KINDS, node_memory_map, node_occupancy

__all__ = ["KINDS", "node_occupancy", "node_memory_map"]
