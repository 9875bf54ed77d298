"""A small results store for the report tests, written through thpsim.campaign.store.

Two configurations, two seeds each, one of the runs failed, plus a run of a second
campaign. The time series and memory maps are real: node_occupancy() and
node_memory_map() of a small machine whose THPs are faulted in and moved between
its nodes, step by step, so the figures have something to show.
"""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from thpsim import (
    HPAGE_PMD_SIZE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_MF_MOVE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from thpsim.campaign.store import RunStore, config_hash
from thpsim.report.memmap import node_memory_map, node_occupancy

MiB = 1 << 20
HINT = 0x7E00_0000_0000
CALLERS = ("move_pages", "mbind", "migrate_pages", "cpuset", "hotplug", "soft_offline")


def _series(thps: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Samples of a machine as ``thps`` THPs are faulted on node 0, then moved to node 1
    one per round: 2 x 128 MiB nodes."""
    m = Machine(nodes={0: 128 * MiB, 1: 128 * MiB}, cpus=2, thp="always", seed=0)
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, thps * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS)
    t = p.threads[0]
    samples = []
    moved = 0
    for rnd in range(1, 2 * thps + 1):
        if rnd <= thps:
            t.write(a + (rnd - 1) * HPAGE_PMD_SIZE, rnd)
        else:
            p.move_pages(0, [a + moved * HPAGE_PMD_SIZE], [1], MPOL_MF_MOVE)
            moved += 1
        samples.append({"round": rnd, "step": 100 * rnd, "nodes": node_occupancy(m),
                        "migrations": {"move_pages": moved, "mbind": moved // 2,
                                       "other": 0}})
    return samples, node_memory_map(m)


def _row(campaign: str, label: str, config: dict[str, Any], seed: int, *,
         outcome: str = "ok", thps: int = 4, scale: int = 1) -> dict[str, Any]:
    samples, memmap = _series(thps)
    failed = outcome != "ok"
    return {
        "campaign": campaign, "label": label, "config": config,
        "config_hash": config_hash(config), "version": "0.test", "seed": seed,
        "outcome": outcome, "steps": 1000 * scale, "rounds": 2 * thps,
        "migrations": 30 * scale, "thp_migrations": 7 * scale, "thp_split_pmd": 3 * scale,
        "thp_split_page": 2 * scale,
        "migrations_by_caller": {c: (i + 1) * scale for i, c in enumerate(CALLERS)}
        | {"other": 9 * scale},
        "errors": {"ENOMEM": 2, "EFAULT": 5 * scale}, "ops": {"move_pages": 40},
        "vmstat": {"pgmigrate_success": 30 * scale, "thp_migration_success": 7 * scale,
                   "thp_split_page": 2 * scale, "thp_split_pmd": 3 * scale},
        "seconds": 2.0, "started": "2026-12-05T00:00:00+00:00",
        "finished": "2026-12-05T00:00:02+00:00",
        "report": ("invariant failure: frame 0x1234 leaked\nmore detail\n" if failed else ""),
        "reproducer": ({"version": 1, "seed": seed, "round": 3, "schedule": "s1.0.0"}
                       if failed else None),
        "replay": (f"thpsim stress --replay thpsim-repro/seed{seed}-w0.json"
                   if failed else ""),
        "samples": samples, "memmap": memmap, "digest": f"d{seed}",
    }


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """What a reader of the report sees: headings, tables (rows of cell text), images,
    code, and any tag or attribute that would load something from elsewhere."""

    def __init__(self, text: str):
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.tables: list[list[list[str]]] = []
        self.imgs: list[dict[str, str | None]] = []
        self.code: list[str] = []
        self.external: list[str] = []
        self.scripts = 0
        self._in: list[str] = []
        self._text = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            v = a.get(k)
            if v is not None and not v.startswith(("data:", "#")):
                self.external.append(v)
        if tag == "img":
            self.imgs.append(a)
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("h1", "h2", "h3", "td", "th", "code"):
            self._in.append(tag)
            self._text = ""

    def handle_data(self, data):
        if self._in:
            self._text += data

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()
            text = self._text.strip()
            if tag in ("h1", "h2", "h3"):
                self.headings.append((tag, text))
            elif tag in ("td", "th"):
                self.tables[-1][-1].append(text)
            else:
                self.code.append(text)


def check_self_contained(page: Page) -> None:
    """No script, nothing loaded from elsewhere, every image an embedded PNG with alt text."""
    assert page.scripts == 0
    assert page.external == []
    assert page.imgs
    for img in page.imgs:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
        assert img.get("alt")


@pytest.fixture
def parse_html() -> type[Page]:
    """The report parser (:class:`Page`): ``parse_html(text)``."""
    return Page


@pytest.fixture
def assert_self_contained() -> Any:
    """:func:`check_self_contained`."""
    return check_self_contained


SEED_CONFIG = {"profile": "seed", "switches": {}, "rounds": 8}
MAINLINE_CONFIG = {"profile": "mainline", "switches": {"thp_cow_copies_huge": False},
                   "rounds": 8}


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs.sqlite: campaign "profiles" (seed x2, mainline x2 with one failed) and
    campaign "other" (one seed run)."""
    path = tmp_path_factory.mktemp("store") / "runs.sqlite"
    with RunStore(path) as store:
        store.add(_row("profiles", "seed", SEED_CONFIG, 1))
        store.add(_row("profiles", "seed", SEED_CONFIG, 2, thps=3))
        store.add(_row("profiles", "mainline -cow", MAINLINE_CONFIG, 1, scale=3))
        store.add(_row("profiles", "mainline -cow", MAINLINE_CONFIG, 2, scale=3,
                       outcome="failed"))
        store.add(_row("other", "seed", SEED_CONFIG, 3, thps=2))
    return path
