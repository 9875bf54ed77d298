"""User-space tools on the model: TOML scenario files (``thpsim run``) and the numactl
package's tools (``numactl``, ``migratepages``, ``numastat``) acting on a scenario's state.

Modules are named after what they mirror: :mod:`~thpsim.usr.scenario` (the file format
and its runner), :mod:`~thpsim.usr.numactl`, :mod:`~thpsim.usr.migratepages`,
:mod:`~thpsim.usr.numastat`, and :mod:`~thpsim.usr.cli` (the commands). Like the other
tools they reach the model only through the public API (``thpsim``, ``thpsim.api``) and
its /proc and /sys files. docs/scenario-files.md describes the format.
"""
