"""The Ray back end (a private local instance) stores the same runs as the local one."""

from __future__ import annotations

import json

import pytest

from thpsim.campaign.store import RunStore

pytest.importorskip("ray")

#: what may differ between two executions of the same run
TIMINGS = {"id", "seconds", "started", "finished"}


def test_ray_and_local_store_the_same_rows(thpsim, tmp_path):
    common = ["campaign", "--name", "r", "--seeds", "0-4", "--node-mib", "128",
              "--rounds", "3", "--json"]
    ray = thpsim(*common, "--store", "ray.sqlite", "--backend", "ray", "--workers", "2")
    assert ray.returncode == 0, ray.stderr
    assert json.loads(ray.stdout)["batch"] >= 1 and json.loads(ray.stdout)["ran"] == 5
    local = thpsim(*common, "--store", "local.sqlite", "--workers", "2")
    assert local.returncode == 0, local.stderr

    def rows(name):
        with RunStore(tmp_path / name, create=False) as st:
            return sorted(({k: v for k, v in r.items() if k not in TIMINGS}
                           for r in st.runs()), key=lambda r: r["seed"])

    a, b = rows("ray.sqlite"), rows("local.sqlite")
    assert [r["seed"] for r in a] == [0, 1, 2, 3, 4]
    assert a == b
    assert len({r["digest"] for r in a}) == 5  # five different runs, not one copied
