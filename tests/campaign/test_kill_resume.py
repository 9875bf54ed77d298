"""A campaign killed with SIGKILL mid-way loses at most the runs in flight, stores
nothing twice, and the same command resumes it to completion."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

SEEDS = 12
#: about 0.3 s a run: 12 runs on 2 workers last a few seconds, time enough to kill
ARGS = ["campaign", "--name", "k", "--seeds", str(SEEDS), "--node-mib", "128",
        "--rounds", "8", "--workers", "2"]


def _stored(path) -> int:
    """Rows committed so far, read as a second process would (0 before the table)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not made yet
        return 0
    finally:
        db.close()


def test_sigkill_then_resume_stores_each_run_once(tmp_path, thpsim_command):
    cmd, env = thpsim_command
    store = tmp_path / "thpsim-runs.sqlite"
    proc = subprocess.Popen(cmd + ARGS, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while _stored(store) < 1:
            assert proc.poll() is None, f"campaign ended before a kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no run stored in 120 s"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, mid-campaign
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    at_kill = _stored(store)
    assert 1 <= at_kill < SEEDS, f"{at_kill} stored: the kill did not land mid-campaign"

    p = subprocess.run(cmd + ARGS + ["--json"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert (summary["skipped"], summary["ran"]) == (at_kill, SEEDS - at_kill)
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    per_seed = dict(db.execute("SELECT seed, count(*) FROM runs GROUP BY config_hash, "
                               "version, seed").fetchall())
    assert per_seed == {s: 1 for s in range(SEEDS)}
    assert db.execute("SELECT count(DISTINCT config_hash) FROM runs").fetchone()[0] == 1
    db.close()
