"""Placement policies (src/thpsim/tiering/policies.py) on the tiered machine, through
the experiment's runner (src/thpsim/experiment/tiering.py): the tiering policies beat
doing nothing on a skewed workload, THP migration beats split-first migration under
the same policy, runs are deterministic from their seed, and the policies reach the
machine only through the public API (the layer rules of tests/test_layers.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from thpsim.experiment.tiering import run_one


def _load_test_layers():
    """tests/test_layers.py, whose tool checks are reused (tests are not a package)."""
    path = Path(__file__).resolve().parents[1] / "test_layers.py"
    spec = importlib.util.spec_from_file_location("_thpsim_test_layers", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

#: the experiment's default workload (Zipf 1.2 over 16 THPs, fast tier 4 THPs,
#: 200,000 loads) starting on the slow tier; SHORT is a fifth of it
SHORT = {"ticks": 2000}


@pytest.fixture(scope="module")
def base() -> dict:
    return run_one("none", True)


@pytest.mark.parametrize("policy", ["hotcold", "damon"])
def test_tiering_policy_beats_the_baseline_on_zipf(base, policy: str) -> None:
    r = run_one(policy, True)
    assert base["pages_migrated"] == 0 and base["fast_share"] == 0.0
    assert r["thp_migrated"] > 0 and r["thp_splits"] == 0
    # the hot chunks moved up: most loads served by the fast tier, which stays in budget
    assert r["fast_share"] > 0.25
    assert 0 < r["fast_pages_end"] <= r["fast_thp"] * 512
    assert r["access_us"] < base["access_us"]
    assert r["runtime_us"] < base["runtime_us"], (r["runtime_us"], base["runtime_us"])
    # the policy acted through system calls only; the runtime counts what they cost
    assert set(r["syscalls"]) <= {"move_pages", "move_pages_query", "mbind", "migrate_pages"}
    assert r["migration_us"] > 0 and r["observation_us"] > 0
    assert r["runtime_us"] == pytest.approx(
        r["access_us"] + r["migration_us"] + r["observation_us"])


@pytest.mark.parametrize("policy, kw", [("hotcold", SHORT), ("damon", {"ticks": 6000})])
def test_thp_migration_beats_split_first_under_the_same_policy(policy: str, kw) -> None:
    on, off = run_one(policy, True, **kw), run_one(policy, False, **kw)
    assert on["thp_migrated"] > 0 and on["thp_splits"] == 0
    assert off["thp_migrated"] == 0 and off["thp_splits"] > 0
    assert off["pages_migrated"] > 0
    # per page moved, split-first migration costs more (a split, 512 folios, flushes)
    assert (off["migration_us"] / off["pages_migrated"]
            > on["migration_us"] / on["pages_migrated"])
    assert off["runtime_us"] > on["runtime_us"]
    assert off["tlb_misses"] > on["tlb_misses"]  # the split chunks are PTE-mapped


def test_same_seed_same_run_other_seed_another() -> None:
    kw = {"ticks": 600}
    a = run_one("hotcold", True, **kw)
    b = run_one("hotcold", True, **kw)
    c = run_one("hotcold", True, seed=5, **kw)
    assert a == b and a["pages_migrated"] > 0
    assert c["tlb_misses"] != a["tlb_misses"] and c["runtime_us"] != a["runtime_us"]


def test_policies_use_only_the_public_api() -> None:
    """thpsim.tiering and the experiment are tools: public imports and attributes only
    (the checks of tests/test_layers.py, here on these modules, and shown to fail on a
    policy that reaches into the kernel)."""
    test_layers = _load_test_layers()
    mods = {m: p for m, p in test_layers.MODS.items()
            if m.startswith(("thpsim.tiering", "thpsim.experiment.tiering"))}
    assert "thpsim.tiering.policies" in mods and all(test_layers.layer(m) == 9 for m in mods)
    bad_imports = [(a, b) for a, b, *_ in test_layers.EDGES
                   if a in mods and test_layers.layer(b) < 7 and b not in test_layers.PUBLIC]
    assert not bad_imports
    sources = {m: p.read_text() for m, p in mods.items()}
    kernel_names = test_layers._kernel_attr_names()
    assert test_layers.tool_reach(sources, kernel_names) == []
    cheat = ("def tick(self, env, t):\n"
             "    ctx = env.machine.kernel\n"
             "    return env.process.mm.pgd, ctx.pages.flags\n")
    assert len(test_layers.tool_reach({"thpsim.tiering.cheat": cheat}, kernel_names)) >= 2


def test_a_plug_in_policy_of_ones_own() -> None:
    """The interface: a Policy subclass that moves the whole working set to the fast
    tier with migrate_pages(2) at its first tick, run by the experiment's runner."""
    from thpsim.tiering import Policy

    class AllFast(Policy):
        name = "all-fast"

        def __init__(self) -> None:
            self.left = -1

        def tick(self, env, tick: int) -> None:
            if tick == 0:
                self.left = env.migrate_all(env.slow, env.fast)

    pol = AllFast()
    r = run_one(pol, True, ticks=200, nr_thp=8, fast_thp=2)
    assert pol.left == 0 and r["policy"] == "all-fast"
    assert r["fast_pages_end"] == 8 * 512 and r["slow_pages_end"] == 0
    assert r["thp_migrated"] == 8 and r["syscalls"] == {"migrate_pages": 1}
