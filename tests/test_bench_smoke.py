"""Smoke test of benchmarks/bench.py: the quick mode runs and prints every figure.

The benchmark is not a package module; it is imported by path, as ``thpsim bench``
does.
"""

import importlib.util
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
FIGURES = {
    "base_page_faults_per_s": "faults/s",
    "thp_faults_per_s": "faults/s",
    "thp_migrations_per_s": "migrations/s",
    "base_page_migrations_per_s": "migrations/s",
    "stress_steps_per_s": "steps/s",
    "stress_migrations_per_s": "migrations/s",
    "rss_machine_simulated": "MiB",
    "rss_faulted_simulated": "MiB",
    **{f"rss_{kind}_{what}": "MiB" for kind in ("base", "thp")
       for what in ("baseline", "booted", "faulted")},
    "rss_base_growth_per_gib": "MiB/GiB",
    "rss_thp_growth_per_gib": "MiB/GiB",
}
LINE = re.compile(r"^([a-z_]+): (-?[0-9.]+) (\S+)$")


def _load():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quick_prints_every_figure(capsys):
    assert _load().main(["--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    got = {}
    for line in lines:
        m = LINE.match(line)
        assert m, f"not 'name: value unit': {line!r}"
        got[m[1]] = (float(m[2]), m[3])
    assert {k: unit for k, (_, unit) in got.items()} == FIGURES
    assert got["base_page_faults_per_s"][0] > 0
    assert got["thp_faults_per_s"][0] > 0
    assert got["thp_migrations_per_s"][0] > 0 and got["base_page_migrations_per_s"][0] > 0
    assert got["stress_steps_per_s"][0] > 0
    assert got["rss_base_faulted"][0] >= got["rss_base_booted"][0] > 0
