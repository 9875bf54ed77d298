"""The report renders in a real browser: headless Chromium takes a screenshot of it.

Skipped only when Chromium is absent and THPSIM_REQUIRE_BROWSER is unset (CI sets
it, so a missing browser fails there instead of passing silently).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from thpsim.report.cli import main as report_main
from thpsim.report.plots import CONFIG_COLOURS

WIDTH, HEIGHT = 1280, 2400


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _screenshot(html: Path, png: Path, profile: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("THPSIM_REQUIRE_BROWSER"):
            pytest.fail("THPSIM_REQUIRE_BROWSER is set but no chromium is installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={png}",
           f"--window-size={WIDTH},{HEIGHT}", html.resolve().as_uri()]
    env = dict(os.environ, HOME=str(profile))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert png.exists(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"


def _pixels_near(img: np.ndarray, colour: str, tol: float = 12 / 255) -> int:
    rgb = np.asarray(to_rgb(colour))
    return int(np.count_nonzero(np.all(np.abs(img[..., :3] - rgb) <= tol, axis=-1)))


def test_report_renders_in_chromium(store_path: Path, tmp_path: Path, parse_html,
                                    assert_self_contained):
    html = tmp_path / "report.html"
    assert report_main(["--store", str(store_path), "--campaign", "profiles",
                        "--out", str(html)]) == 0
    page = parse_html(html.read_text())
    assert_self_contained(page)
    assert [t for tag, t in page.headings if tag == "h1"] == ["thpsim report: campaign profiles"]
    assert len(page.tables) >= 3  # summary, counters, errors

    png = tmp_path / "shot.png"
    _screenshot(html, png, tmp_path / "chromium-profile")
    img = imread(png)
    assert img.shape[:2] == (HEIGHT, WIDTH)
    flat = (img[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3)
    colours = np.unique(flat, axis=0)
    assert len(colours) > 100, "the page looks blank"
    # mostly white page, but not only: text and figures cover a good part of it
    ink = np.count_nonzero(flat.min(axis=1) < 200)
    assert 0.02 * len(flat) < ink < 0.6 * len(flat)
    # the bar charts drew both configurations in their colours (not a broken image)
    for colour in CONFIG_COLOURS[:2]:
        assert _pixels_near(img, colour) > 2000, colour
