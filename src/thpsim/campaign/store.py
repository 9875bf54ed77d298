"""The results store: every finished stress run of every campaign, in one SQLite file.

Model-only (a tool). One table, ``runs``, one row per (configuration, model
version, seed); a ``meta`` table holds the schema version. The file is in WAL
mode and each run is inserted in a transaction of its own, so a campaign killed
at any moment (``kill -9`` included) leaves every run it had stored intact and
none half-written; the UNIQUE constraint on ``(config_hash, version, seed)``
means no run is ever stored twice, whoever inserts it.

Only one process writes (the campaign's driver); any number may read at the
same time (WAL lets readers go on while it writes).

Columns (the keys of the dicts :meth:`RunStore.runs` returns; JSON columns decoded):

====================  ============================================================
id                    row id (INTEGER PRIMARY KEY), in insertion order
campaign              the campaign that stored the run first
label                 the configuration's short name (profile and switches, or its
                      name in the campaign file)
config                the configuration (dict; stored as canonical JSON, sorted keys)
config_hash           SHA-256 (hex) of the canonical configuration JSON
version               the model's version (``thpsim --version``)
seed                  the run's seed
outcome               ``ok``, ``failed`` (the oracle found a failure) or ``error``
                      (the run raised: a crash of the model or the harness)
steps, rounds         interleaving steps and rounds run
migrations            folios migrated (/proc/vmstat, in folios whatever the profile)
thp_migrations        THPs migrated whole (thp_migration_success)
thp_split_pmd         PMD mappings split (thp_split_pmd)
thp_split_page        THPs split (thp_split_page)
migrations_by_caller  folios migrated per caller: move_pages, mbind, migrate_pages,
                      cpuset, hotplug, soft_offline, other (dict)
errors                operations that returned an error, by errno name (dict)
ops                   operations completed, by kind and errno (dict)
vmstat                the final THP and migration counters of /proc/vmstat (dict)
seconds               the run's duration
started, finished     UTC timestamps, ISO 8601
report                the failure report (text; empty for a run that passed)
reproducer            the reproducer (dict; None for a run that passed)
replay                the command that replays the failure (text; empty if none)
samples               the time series: a list of {"round", "step", "nodes",
                      "migrations"} taken every few rounds (see thpsim.campaign.runner)
memmap                per-node memory map at the end of the last round (dict)
digest                the harness's SHA-256 over the run (equal digests: same run)
====================  ============================================================
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from thpsim.cliutil import UsageError

__all__ = ["RunStore", "StoreError", "SCHEMA_VERSION", "COLUMNS", "JSON_COLUMNS",
           "canonical_json", "config_hash"]

#: Bumped when a column changes meaning or is removed (adding one keeps readers working).
SCHEMA_VERSION = 1

#: The columns after ``id``, in table order, with their SQL types.
_SCHEMA: tuple[tuple[str, str], ...] = (
    ("campaign", "TEXT NOT NULL"),
    ("label", "TEXT NOT NULL"),
    ("config", "TEXT NOT NULL"),
    ("config_hash", "TEXT NOT NULL"),
    ("version", "TEXT NOT NULL"),
    ("seed", "INTEGER NOT NULL"),
    ("outcome", "TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'error'))"),
    ("steps", "INTEGER NOT NULL"),
    ("rounds", "INTEGER NOT NULL"),
    ("migrations", "INTEGER NOT NULL"),
    ("thp_migrations", "INTEGER NOT NULL"),
    ("thp_split_pmd", "INTEGER NOT NULL"),
    ("thp_split_page", "INTEGER NOT NULL"),
    ("migrations_by_caller", "TEXT NOT NULL"),
    ("errors", "TEXT NOT NULL"),
    ("ops", "TEXT NOT NULL"),
    ("vmstat", "TEXT NOT NULL"),
    ("seconds", "REAL NOT NULL"),
    ("started", "TEXT NOT NULL"),
    ("finished", "TEXT NOT NULL"),
    ("report", "TEXT NOT NULL"),
    ("reproducer", "TEXT"),
    ("replay", "TEXT NOT NULL"),
    ("samples", "TEXT NOT NULL"),
    ("memmap", "TEXT"),
    ("digest", "TEXT NOT NULL"),
)
COLUMNS = ("id",) + tuple(name for name, _ in _SCHEMA)
#: Columns stored as JSON text and handed out decoded.
JSON_COLUMNS = frozenset({"config", "migrations_by_caller", "errors", "ops", "vmstat",
                          "reproducer", "samples", "memmap"})
#: What makes a run the same run: stored once.
_KEY = ("config_hash", "version", "seed")

#: SQLite files start with this header (https://sqlite.org/fileformat.html, 1.3.1).
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(UsageError):
    """The store cannot be used: not an SQLite file, not a thpsim store, a newer schema,
    missing when it must exist, or not writable. One line; exit status 2 in the CLI."""


def canonical_json(obj: Any) -> str:
    """``obj`` as canonical JSON: sorted keys, no spaces; equal values give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def config_hash(config: dict[str, Any]) -> str:
    """The SHA-256 (hex) of a configuration's canonical JSON."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


class RunStore:
    """A results store: one SQLite file.

    ``RunStore(path)`` opens the store, creating the file and its tables if the file
    does not exist (``create=False``: a missing file is a :class:`StoreError`, and
    nothing is created). A file that is not SQLite, or SQLite without the ``runs``
    table this module makes, or with a newer schema version, is a :class:`StoreError`;
    the file is left as it was. Usable as a context manager (closes on exit).
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True):
        self.path = Path(path)
        exists = self.path.exists()
        if exists:
            _check_sqlite_file(self.path)
        elif not create:
            raise StoreError(f"{self.path}: no such results store")
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open: {e}") from None
        self._db.row_factory = sqlite3.Row
        try:
            if exists:
                self._check_schema()
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a committed transaction survives the process being killed
            # (only a power cut can lose the last ones; it never corrupts the file)
            self._db.execute("PRAGMA synchronous=NORMAL")
            if not exists:
                self._create()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StoreError(f"{self.path}: not a usable results store: {e}") from None
        except BaseException:
            self._db.close()
            raise

    # ---- schema
    def _create(self) -> None:
        cols = ",\n  ".join(f"{name} {kind}" for name, kind in _SCHEMA)
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "
                             "value TEXT NOT NULL)")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))
            self._db.execute(f"CREATE TABLE IF NOT EXISTS runs (\n  id INTEGER PRIMARY KEY,"
                             f"\n  {cols},\n  UNIQUE ({', '.join(_KEY)}))")
            self._db.execute("CREATE INDEX IF NOT EXISTS runs_campaign ON runs (campaign)")

    def _check_schema(self) -> None:
        tables = {r[0] for r in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:  # an empty SQLite file (made by sqlite3 or a crash at creation)
            self._create()
            return
        if not {"runs", "meta"} <= tables:
            raise StoreError(f"{self.path}: an SQLite file, but not a thpsim results store")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        v = int(row[0]) if row is not None and str(row[0]).isdigit() else -1
        if v > SCHEMA_VERSION or v < 1:
            raise StoreError(f"{self.path}: results store schema version {v}; this thpsim "
                             f"reads version {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the ``meta`` table."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    # ---- writing
    def add(self, row: dict[str, Any]) -> int | None:
        """Insert one finished run, in a transaction of its own. ``row`` has every
        column but ``id`` (JSON columns as Python values). Returns the new row's id,
        or None if a run with the same (config_hash, version, seed) is already stored
        (the stored one is kept). Raises KeyError for a missing column."""
        names = [name for name, _ in _SCHEMA]
        values = [_encode(name, row[name]) for name in names]
        with self._db:
            cur = self._db.execute(
                f"INSERT OR IGNORE INTO runs ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(names))})", values)
            return cur.lastrowid if cur.rowcount == 1 else None

    # ---- reading
    def has(self, config_hash: str, version: str, seed: int) -> bool:
        """Whether the run (config_hash, version, seed) is stored."""
        return self._db.execute(
            "SELECT 1 FROM runs WHERE config_hash = ? AND version = ? AND seed = ?",
            (config_hash, version, seed)).fetchone() is not None

    def stored_seeds(self, config_hash: str, version: str) -> set[int]:
        """The seeds stored for a configuration at a model version."""
        return {r[0] for r in self._db.execute(
            "SELECT seed FROM runs WHERE config_hash = ? AND version = ?",
            (config_hash, version))}

    def runs(self, campaign: str | None = None, config_hash: str | None = None, *,
             outcome: str | None = None, version: str | None = None,
             seeds: Iterable[int] | None = None, ids: Iterable[int] | None = None
             ) -> list[dict[str, Any]]:
        """Stored runs matching every filter given, in id order, each a dict keyed by
        :data:`COLUMNS` with the JSON columns decoded. ``config_hash`` matches a
        prefix (``"3fa2"``) as well as a whole hash."""
        where, args = [], []
        if campaign is not None:
            where.append("campaign = ?")
            args.append(campaign)
        if config_hash is not None:
            where.append("substr(config_hash, 1, ?) = ?")
            args += [len(config_hash), config_hash.lower()]
        if outcome is not None:
            where.append("outcome = ?")
            args.append(outcome)
        if version is not None:
            where.append("version = ?")
            args.append(version)
        for col, vals in (("seed", seeds), ("id", ids)):
            if vals is not None:
                vals = [int(v) for v in vals]
                where.append(f"{col} IN ({', '.join('?' * len(vals))})")
                args += vals
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        return [_decode(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One run by id, or None."""
        found = self.runs(ids=[run_id])
        return found[0] if found else None

    def campaigns(self) -> list[str]:
        """The campaign names in the store, in order of their first run."""
        return [r[0] for r in self._db.execute(
            "SELECT campaign FROM runs GROUP BY campaign ORDER BY min(id)")]

    def config_hashes(self, prefix: str = "") -> list[str]:
        """The configuration hashes stored that start with ``prefix``."""
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT config_hash FROM runs WHERE substr(config_hash, 1, ?) = ? "
            "ORDER BY config_hash", (len(prefix), prefix.lower()))]

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM runs").fetchone()[0]

    def close(self) -> None:
        """Close the file (every transaction is already committed)."""
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_sqlite_file(path: Path) -> None:
    """An existing store must be an SQLite file (or empty); checked before SQLite opens
    it, so a wrong file is reported and left alone."""
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a results store")
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise StoreError(f"{path}: cannot read: {e.strerror}") from None
    if head and head != _SQLITE_MAGIC:
        raise StoreError(f"{path}: not an SQLite file (not a thpsim results store)")


def _encode(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS:
        return None if value is None else canonical_json(value)
    return value


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for name in JSON_COLUMNS:
        if out.get(name) is not None:
            out[name] = json.loads(out[name])
    return out
