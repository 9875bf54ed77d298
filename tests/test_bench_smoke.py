"""Smoke test of thpsim/bench.py (``thpsim bench``): quick mode runs and prints
every figure; ``--json`` carries the machine, the version and each figure's
repetitions; a stored baseline is compared against.

The module is imported by path here, as a fresh copy per test. Speed itself is not
asserted (docs/performance.md has the measured figures).
"""

import importlib.util
import json
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "src" / "thpsim" / "bench.py"
MIGRATIONS = [f"{c}_{k}_per_s" for c in ("move_pages", "mbind", "migrate_pages")
              for k in ("thp", "base")] + ["move_pages_pte_thp_per_s", "offline_thp_per_s",
                                           "stress_migrations_per_s"]
FIGURES = {
    "base_page_faults_per_s": "faults/s",
    "thp_faults_per_s": "faults/s",
    **{name: "migrations/s" for name in MIGRATIONS},
    "stress_steps_per_s": "steps/s",
    "modeled_time_steps_per_s": "steps/s",
    "modeled_time_run_ms": "ms",
    **{f"modeled_move_pages_{w}_us": "us" for w in ("4k", "thp", "512x4k")},
    **{f"scale_{dim}_{n}_us": "us/THP" for dim, ns in
       (("mappings", (1, 4)), ("cpus", (2, 8)), ("vmas", (0, 256)), ("gib", (1, 2)))
       for n in ns},
    **{f"rss_{kind}_{what}": "MiB" for kind in ("base", "thp")
       for what in ("baseline", "booted", "faulted")},
    **{f"rss_{kind}_{what}_per_gib": "MiB/GiB" for kind in ("base", "thp")
       for what in ("booted", "growth")},
}
LINE = re.compile(r"^([a-z0-9_]+): (-?[0-9.]+) (\S+)( \(([0-9.]+)x seed\))?$")


def _load():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quick_prints_every_figure(capsys, tmp_path):
    base = tmp_path / "baseline.json"
    assert _load().main(["--quick", "--repeat", "1", "--save-baseline", str(base)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"baseline written to {base}"
    got = {}
    for line in lines[:-1]:
        m = LINE.match(line)
        assert m, f"not 'name: value unit': {line!r}"
        got[m[1]] = (float(m[2]), m[3])
        # every migration rate, and nothing else, is also a ratio to the seed's rate
        assert (m[5] is not None) == (m[1] in MIGRATIONS), line
        if m[5] is not None:
            assert abs(float(m[5]) - float(m[2]) / 121_500) < 0.001
    assert {k: unit for k, (_, unit) in got.items()} == FIGURES
    for name in FIGURES:
        if not name.startswith("rss_"):
            assert got[name][0] > 0, name
    assert got["rss_base_faulted"][0] >= got["rss_base_booted"][0] > 0
    doc = json.loads(base.read_text())
    assert set(doc["figures"]) == set(FIGURES) and doc["mode"] == "quick"
    assert doc["machine"]["cores"] >= 1 and doc["seed_rate"] == 121_500


def test_json_and_compare_against_a_baseline(capsys, tmp_path):
    base = tmp_path / "b.json"
    bench = _load()
    assert bench.main(["--quick", "--repeat", "3", "--only", "move_pages_base", "--json",
                       "--save-baseline", str(base)]) == 0
    doc = json.loads(capsys.readouterr().out)
    fig = doc["figures"]["move_pages_base_per_s"]
    assert list(doc["figures"]) == ["move_pages_base_per_s"]
    assert len(fig["values"]) == 3 and fig["value"] == sorted(fig["values"])[1]
    assert fig["ratio_to_seed_rate"] == fig["value"] / 121_500
    assert json.loads(base.read_text())["figures"] == doc["figures"]
    assert bench.main(["--quick", "--repeat", "1", "--only", "move_pages_base",
                       "--compare", str(base)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"move_pages_base_per_s: [0-9.]+ migrations/s \([0-9.]+x seed\) "
                        r"\[[0-9.]+x baseline\]", line), line


def test_a_measurement_of_several_figures_repeats_as_a_whole(monkeypatch, capsys):
    """Stress gives two figures per run: each repetition is one fresh run, and both
    figures' medians come from the same runs."""
    bench = _load()
    runs = []

    def fake_stress(sz):
        runs.append(len(runs))
        return float(10 + len(runs)), float(20 + len(runs))

    monkeypatch.setattr(bench, "bench_stress", fake_stress)
    figs = bench.run(bench.SIZES["quick"], 3, "stress", False, lambda f: None)
    assert len(runs) == 3
    assert [(f.name, f.values) for f in figs] == [
        ("stress_steps_per_s", [11.0, 12.0, 13.0]),
        ("stress_migrations_per_s", [21.0, 22.0, 23.0])]
