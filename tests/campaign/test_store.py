"""The results store: round trip, uniqueness, queries, refusing what is not a store."""

from __future__ import annotations

import sqlite3

import pytest

from thpsim.campaign.store import (
    COLUMNS,
    SCHEMA_VERSION,
    RunStore,
    StoreError,
    canonical_json,
    config_hash,
)


def _row(seed: int, config: dict | None = None, **kw) -> dict:
    config = config or {"stress": {"profile": "seed"}, "sample_every": 1}
    row = {
        "campaign": "c", "label": "seed", "config": config, "config_hash": config_hash(config),
        "version": "0.1.0", "seed": seed, "outcome": "ok", "steps": 10 + seed, "rounds": 2,
        "migrations": 5, "thp_migrations": 2, "thp_split_pmd": 1, "thp_split_page": 0,
        "migrations_by_caller": {"move_pages": 4, "other": 1}, "errors": {"ENOMEM": 3},
        "ops": {"store": 7, "mbind ENOMEM": 3}, "vmstat": {"pgmigrate_success": 5},
        "seconds": 0.5, "started": "2026-12-06T00:00:00.000+00:00",
        "finished": "2026-12-06T00:00:00.500+00:00", "report": "", "reproducer": None,
        "replay": "", "samples": [{"round": 1, "step": 5, "nodes": {"0": {"free": 3}},
                                   "migrations": {"other": 1}}],
        "memmap": {"nodes": {}}, "digest": "ab" * 32,
    }
    row.update(kw)
    return row


def test_round_trip(tmp_path):
    """A row comes back as it went in, JSON columns decoded, with every column named."""
    path = tmp_path / "s.sqlite"
    with RunStore(path) as st:
        rid = st.add(_row(3, outcome="failed", report="FAILED x", replay="thpsim stress "
                          "--replay r.json", reproducer={"seed": 3}))
        assert rid == 1 and st.schema_version == SCHEMA_VERSION
    with RunStore(path, create=False) as st:
        (got,) = st.runs()
    assert set(got) == set(COLUMNS)
    want = _row(3, outcome="failed", report="FAILED x", replay="thpsim stress --replay r.json",
                reproducer={"seed": 3})
    assert {k: got[k] for k in want} == want
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unique_per_config_version_seed(tmp_path):
    """The same (config_hash, version, seed) is stored once: the second add is refused
    and the first row is kept; another seed or version is another run."""
    with RunStore(tmp_path / "s.sqlite") as st:
        assert st.add(_row(1)) == 1
        assert st.add(_row(1, steps=999, campaign="other")) is None
        assert st.add(_row(2)) == 2
        assert st.add(_row(1, version="0.2.0")) == 3
        assert len(st) == 3
        assert [r["steps"] for r in st.runs(seeds=[1], version="0.1.0")] == [11]
        h = config_hash(_row(1)["config"])
        assert st.has(h, "0.1.0", 1) and not st.has(h, "0.1.0", 7)
        assert st.stored_seeds(h, "0.1.0") == {1, 2}


def test_queries(tmp_path):
    """Filters by campaign, config hash prefix and outcome; ids in insertion order."""
    other = {"stress": {"profile": "mainline"}, "sample_every": 1}
    with RunStore(tmp_path / "s.sqlite") as st:
        st.add(_row(0))
        st.add(_row(0, config=other, config_hash=config_hash(other), campaign="m",
                    outcome="failed"))
        st.add(_row(1, campaign="m"))
        h = config_hash(other)
        assert [r["id"] for r in st.runs(campaign="m")] == [2, 3]
        assert [r["id"] for r in st.runs(config_hash=h[:6])] == [2]
        assert [r["id"] for r in st.runs(outcome="failed")] == [2]
        assert st.campaigns() == ["c", "m"]
        assert st.config_hashes(h[:8]) == [h]
        assert st.run(3)["seed"] == 1 and st.run(99) is None


def test_canonical_config():
    """Key order does not change the JSON or the hash; a value does."""
    a = {"b": 1, "a": {"y": 2, "x": [1, 2]}}
    b = {"a": {"x": [1, 2], "y": 2}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":[1,2],"y":2},"b":1}'
    assert config_hash(a) == config_hash(b) != config_hash({**a, "b": 2})


def test_refuses_what_is_not_a_store(tmp_path):
    """A text file, an SQLite file of something else, a missing file with create=False:
    StoreError, and the file is left as it was (no file made for the missing one)."""
    text = tmp_path / "notes.sqlite"
    text.write_text("hello\n")
    with pytest.raises(StoreError, match="not an SQLite file"):
        RunStore(text)
    assert text.read_text() == "hello\n"
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match="not a thpsim results store"):
        RunStore(other)
    assert other.read_bytes() == before
    with pytest.raises(StoreError, match="no such results store"):
        RunStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    RunStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
               (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version"):
        RunStore(path)
