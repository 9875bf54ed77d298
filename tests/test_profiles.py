"""Profiles: the switch table alone decides behaviour, never the profile's name."""

from __future__ import annotations

import ast
import dataclasses
import errno
import pathlib
import struct

import pytest

from thpsim import MADV_HWPOISON, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.errors import ConfigError, DeliveredSignal
from thpsim.profiles import PROFILES, Profile, make_profile

MB = 1 << 20
SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "thpsim"
SWITCHES = [f.name for f in dataclasses.fields(Profile) if f.name != "name"]


def _with_switches_of(base: str, other: str) -> Profile:
    """Profile ``base`` (its name kept) with every switch set to ``other``'s value."""
    src = PROFILES[other]
    return make_profile(base, **{s: getattr(src, s) for s in SWITCHES})


def _try(fn, *args):
    try:
        return fn(*args)
    except OSError as e:
        return f"OSError {errno.errorcode.get(e.errno, e.errno)}"
    except DeliveredSignal as e:
        return str(e)


def _views(profile: Profile) -> dict[str, object]:
    """A run touching every era-dependent view: THPs, small pages, a fork, move_pages,
    hwpoison, clear_refs, the THP knob and drop_caches; then what each view shows."""
    m = Machine(profile=profile, nodes={0: 256 * MB, 1: 256 * MB}, block_size=128 * MB,
                check=True)
    p = m.spawn()
    rw, anon = PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
    a = p.mmap(0, 3 * HPAGE_PMD_SIZE, rw, anon)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    p.threads[0].write(a, 1)
    p.threads[0].write(a + HPAGE_PMD_SIZE, 1)
    b = p.mmap(0, 8 * PAGE_SIZE, rw, anon)
    for i in range(8):
        p.threads[0].write(b + i * PAGE_SIZE, i + 1)
    out: dict[str, object] = {}
    out["move_pages"] = _try(p.move_pages, 0, [b, b + PAGE_SIZE, a, b + 99 * PAGE_SIZE],
                             [1, 1, 1, 1])
    child = p.fork()
    out["hwpoison"] = _try(p.madvise, b + 2 * PAGE_SIZE, PAGE_SIZE, MADV_HWPOISON)
    fs = p.fs
    out["clear_refs"] = [_try(fs.write, "/proc/self/clear_refs", v) for v in ("1", "4", "9")]
    knob = "/sys/kernel/mm/transparent_hugepage/enabled"
    out["thp_knob"] = [(_try(m.fs.write, knob, v), m.fs.read(knob)) for v in ("madv", "always")]
    out["drop_caches"] = [_try(m.fs.read, "/proc/sys/vm/drop_caches"),
                          _try(m.fs.write, "/proc/sys/vm/drop_caches", "3")]
    for name in ("status", "maps", "smaps", "smaps_rollup", "numa_maps"):
        out[name] = fs.read(f"/proc/self/{name}")
    out["child_smaps"] = m.fs.read(f"/proc/{child.pid}/smaps")
    span = (b + 8 * PAGE_SIZE - min(a, b)) >> PAGE_SHIFT
    out["pagemap"] = fs.read("/proc/self/pagemap", offset=(min(a, b) >> PAGE_SHIFT) * 8,
                             length=8 * min(span, 4096))
    out["meminfo"] = m.fs.read("/proc/meminfo")
    out["node_meminfo"] = m.fs.read("/sys/devices/system/node/node0/meminfo")
    max_pfn = m.kernel.mem.max_pfn
    for f in ("kpageflags", "kpagecount"):
        raw = m.fs.read(f"/proc/{f}", offset=0, length=8 * max_pfn)
        out[f] = struct.unpack(f"<{len(raw) // 8}Q", raw)
    return out


@pytest.mark.parametrize("base,other", [("seed", "mainline"), ("mainline", "seed")])
def test_switch_table_alone_decides_behaviour(base, other):
    """A profile named ``base`` with every switch of ``other`` behaves like ``other``."""
    hybrid = _with_switches_of(base, other)
    assert hybrid.name == base
    want = _views(PROFILES[other])
    got = _views(hybrid)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == want[k], k


def test_views_differ_between_profiles():
    """The views above are era-dependent, so the test above is not vacuous."""
    seed, mainline = _views(PROFILES["seed"]), _views(PROFILES["mainline"])
    differ = {k for k in seed if seed[k] != mainline[k]}
    assert {"status", "smaps", "smaps_rollup", "meminfo", "node_meminfo", "kpageflags",
            "drop_caches", "thp_knob"} <= differ


def test_every_switch_set_in_both_profiles():
    for prof in PROFILES.values():
        for s in SWITCHES:
            v = getattr(prof, s)
            # a bug switch may be int-valued where the history is a value (a bit position)
            assert isinstance(v, bool) or (type(v) is int and s.startswith("bug_")), s
    with pytest.raises(ConfigError):
        make_profile("seed", no_such_switch=True)


def _profile_name_uses(tree: ast.AST) -> list[int]:
    """Lines reading ``<...>profile.name`` outside an f-string, and comparisons with a
    profile's name as a string constant."""
    in_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            in_fstring.update(id(n) for n in ast.walk(node))
    bad = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "name"
                and id(node) not in in_fstring):
            v = node.value
            owner = v.attr if isinstance(v, ast.Attribute) else getattr(v, "id", "")
            if owner in ("profile", "prof"):
                bad.append(node.lineno)
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                if isinstance(operand, ast.Constant) and operand.value in PROFILES:
                    bad.append(node.lineno)
    return bad


def test_no_src_module_decides_by_profile_name():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for line in _profile_name_uses(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{path.relative_to(SRC)}:{line}")
    assert offenders == []


def test_name_check_catches_a_name_test():
    src = 'def f(ctx):\n    return ctx.profile.name == "mainline"\n'
    assert _profile_name_uses(ast.parse(src)) == [2, 2]
    assert _profile_name_uses(ast.parse('x = f"{m.profile.name}"\n')) == []


def test_every_switch_is_read_by_src():
    """A switch nothing reads would promise a difference the model does not make."""
    attrs: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name == "profiles.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute):
                attrs.add(node.attr)
    assert [s for s in SWITCHES if s not in attrs] == []
