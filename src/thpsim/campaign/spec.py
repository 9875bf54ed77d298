"""What a campaign runs: its configurations and seeds, from the command line or a TOML file.

Model-only (a tool). A *configuration* is everything a stress run depends on
besides its seed: the harness's :class:`~thpsim.stress.workload.StressConfig`
(profile resolved, switches, sizes), the migration budget and how often the run
is sampled. It is stored as canonical JSON and named by its SHA-256, so the same
settings written two ways (command line, campaign file, another campaign) are
the same configuration, and a run stored once is never run again.

A campaign file::

    name = "profiles"          # the campaign's name (--name overrides)
    seeds = "0-19"             # optional (--seeds overrides)
    rounds = 20                # any configuration key here is a default for each

    [[config]]
    name = "seed"              # a label for tables (default: profile+switches)
    profile = "seed"

    [[config]]
    profile = "mainline"
    switches = { thp_cow_copies_huge = false }
    without = ["hotplug"]

Configuration keys: :data:`CONFIG_KEYS`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from thpsim.cliutil import UsageError, parse_switch, resolve_profile
from thpsim.errors import ConfigError
from thpsim.stress.workload import StressConfig

from .store import config_hash

__all__ = ["CampaignConfig", "CONFIG_KEYS", "OPTIONAL_PATHS", "DEFAULTS", "parse_seeds",
           "make_config", "load_campaign_file"]

MiB = 1 << 20

#: Kernel activity a configuration can leave out (``without``): StressConfig's
#: boolean fields, spelt as ``thpsim stress --without`` spells them.
OPTIONAL_PATHS = tuple(f.name.replace("_", "-") for f in fields(StressConfig)
                       if f.type in ("bool", bool))

#: The settings of a configuration and their defaults (``thpsim stress``'s, but 20 rounds).
DEFAULTS: dict[str, Any] = {
    "profile": "seed",
    "switches": {},
    "rounds": 20,
    "migrations": None,      # a budget of folio migrations: stop the run once reached
    "user_threads": 2,
    "migrators": 1,
    "ops_per_round": 40,
    "check_every": 5,
    "policy": "random",
    "without": [],
    "node_mib": 256,         # each of the two nodes
    "block_mib": None,       # memory-block size; None: 128, or half a node below 256 MiB
    "sample_every": None,    # rounds between samples; None: a tenth of the rounds
}
#: Keys a [[config]] table (or the file's top level, as defaults) may hold.
CONFIG_KEYS = ("name", *DEFAULTS)
_POLICIES = ("random", "pct", "rr")
_POSITIVE = ("rounds", "user_threads", "migrators", "ops_per_round", "check_every",
             "node_mib", "block_mib", "sample_every", "migrations")


@dataclass(frozen=True)
class CampaignConfig:
    """One configuration of a campaign: its label, its canonical dict and hash."""

    label: str
    config: dict[str, Any]
    hash: str

    def stress_config(self) -> StressConfig:
        """The harness configuration."""
        return stress_config(self.config)


def stress_config(config: dict[str, Any]) -> StressConfig:
    """The :class:`StressConfig` of a stored configuration dict."""
    return StressConfig.from_json(config["stress"])


def parse_seeds(text: str) -> list[int]:
    """``N`` (seeds 0..N-1), ``A-B`` (A to B inclusive) or a comma list of seeds and
    ranges (``1,5,9`` or ``1-3,10``). Duplicates are dropped, order kept. Raises
    :class:`UsageError` for anything else or an empty set."""
    text = str(text).strip()
    bad = UsageError(f"--seeds {text!r}: expected N (0..N-1), A-B, or a list like 1,5,9-12")
    if not text:
        raise bad
    if text.isdigit():  # a count
        n = int(text)
        if n == 0:
            raise UsageError(f"--seeds {text!r}: no seeds")
        return list(range(n))
    seeds: dict[int, None] = {}
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise bad
        a, b = int(lo), int(hi) if dash else int(lo)
        if b < a:
            raise UsageError(f"--seeds {text!r}: empty range {part}")
        for s in range(a, b + 1):
            seeds[s] = None
    return list(seeds)


def make_config(settings: dict[str, Any], where: str = "") -> CampaignConfig:
    """A configuration from settings keyed by :data:`CONFIG_KEYS` (missing ones take
    :data:`DEFAULTS`), checked strictly: an unknown key, a bad value or switch is a
    :class:`UsageError` naming ``where`` (the option or the file's table)."""
    at = f"{where}: " if where else ""
    unknown = sorted(set(settings) - set(CONFIG_KEYS))
    if unknown:
        raise UsageError(f"{at}unknown key {unknown[0]!r} (known: {', '.join(CONFIG_KEYS)})")
    s = {**DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
    for k in _POSITIVE:
        v = s[k]
        if v is not None and (type(v) is not int or v < 1):
            raise UsageError(f"{at}{k} = {v!r}: expected a positive integer")
    if s["policy"] not in _POLICIES:
        raise UsageError(f"{at}policy = {s['policy']!r}: expected one of {', '.join(_POLICIES)}")
    if not isinstance(s["profile"], str):
        raise UsageError(f"{at}profile = {s['profile']!r}: expected a profile name")
    if not isinstance(s["switches"], dict):
        raise UsageError(f"{at}switches: expected a table of NAME = VALUE")
    given = dict(parse_switch(f"{k}={_switch_text(v)}") for k, v in s["switches"].items())
    profile, switches = resolve_profile(s["profile"], given)
    without = s["without"]
    if isinstance(without, str) or not isinstance(without, list):
        raise UsageError(f"{at}without: expected a list of {', '.join(OPTIONAL_PATHS)}")
    for w in without:
        if w not in OPTIONAL_PATHS:
            raise UsageError(f"{at}without {w!r}: expected one of {', '.join(OPTIONAL_PATHS)}")
    node = s["node_mib"] * MiB
    block_mib = s["block_mib"] or (128 if s["node_mib"] >= 256 else max(1, s["node_mib"] // 2))
    try:  # StressConfig checks what the harness can run (sizes that fit the nodes)
        cfg = StressConfig(profile=profile, switches=switches, nodes={0: node, 1: node},
                           block_size=block_mib * MiB, user_threads=s["user_threads"],
                           migrators=s["migrators"], ops_per_round=s["ops_per_round"],
                           rounds=s["rounds"], policy=s["policy"],
                           check_every=s["check_every"],
                           **{w.replace("-", "_"): False for w in sorted(set(without))})
    except ConfigError as e:
        raise UsageError(f"{at}{e}") from None
    sample_every = s["sample_every"] or max(1, s["rounds"] // 10)
    config = {"stress": cfg.to_json(), "migration_budget": s["migrations"],
              "sample_every": sample_every}
    label = settings.get("name") or _short_label(s["profile"], given, without)
    if not isinstance(label, str):
        raise UsageError(f"{at}name = {label!r}: expected a string")
    return CampaignConfig(label, config, config_hash(config))


def _switch_text(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _short_label(profile: str, switches: dict[str, Any], without: list[str]) -> str:
    """``profile[+switch=v,...][-without,...]``: the switches the user set, not the ones
    a kernel-version profile brings."""
    label = profile
    if switches:
        label += "+" + ",".join(f"{k}={int(v)}" for k, v in sorted(switches.items()))
    if without:
        label += "-" + ",".join(sorted(set(without)))
    return label


def load_campaign_file(path: str) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """Read a campaign file: ``(name, seeds text, [settings of each configuration])``,
    the file's top-level configuration keys merged into each [[config]] table (which
    wins). Raises :class:`UsageError` for a missing or unreadable file, TOML that does
    not parse, or an unknown key (named with its table)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such campaign file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML: {e}") from None
    top = {k: v for k, v in data.items() if k not in ("config", "name", "seeds")}
    unknown = sorted(set(top) - set(DEFAULTS))
    if unknown:
        raise UsageError(f"{path}: unknown key {unknown[0]!r} at the top level (known: "
                         f"name, seeds, config, {', '.join(DEFAULTS)})")
    name, seeds = data.get("name"), data.get("seeds")
    if name is not None and (not isinstance(name, str) or not name):
        raise UsageError(f"{path}: name = {name!r}: expected a non-empty string")
    if seeds is not None and not isinstance(seeds, str | int):
        raise UsageError(f"{path}: seeds = {seeds!r}: expected a string like \"0-99\"")
    tables = data.get("config", [{}])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise UsageError(f"{path}: config must be [[config]] tables")
    settings = []
    for i, t in enumerate(tables, 1):
        unknown = sorted(set(t) - set(CONFIG_KEYS))
        if unknown:
            raise UsageError(f"{path}: unknown key {unknown[0]!r} in [[config]] #{i} "
                             f"(known: {', '.join(CONFIG_KEYS)})")
        settings.append({**top, **t})
    return name, None if seeds is None else str(seeds), settings
