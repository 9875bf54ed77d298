"""Campaigns: many stress runs, (configuration, seed) pairs, into one results store.

``thpsim campaign`` runs them on local worker processes or a Ray cluster
(:mod:`~thpsim.campaign.backends`) and stores each finished run in an SQLite
file (:class:`~thpsim.campaign.store.RunStore`); ``thpsim runs`` lists, sums up
and compares what a store holds (:mod:`~thpsim.campaign.cli`). See
docs/campaigns.md.
"""

from thpsim.campaign.store import (
    COLUMNS,
    JSON_COLUMNS,
    SCHEMA_VERSION,
    RunStore,
    StoreError,
    canonical_json,
    config_hash,
)

__all__ = ["RunStore", "StoreError", "SCHEMA_VERSION", "COLUMNS", "JSON_COLUMNS",
           "canonical_json", "config_hash"]
