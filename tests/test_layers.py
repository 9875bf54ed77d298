"""The import graph holds the layers (docs/ARCHITECTURE.md): every import points down.

Layers, lowest first::

    lib, errors, profiles          helpers and the switch table any layer may use
    arch                           entry formats, pure functions on ints
    hw                             memory, nodes, CPUs, TLBs, the MMU walk
    kernel core                    kernel/{context,sched,entry,interleave,schedulers,
                                   locking,task,ptrace,tlbflush}
    mm                             mm/*, kernel/{fork,exit}, kernel/cgroup/*, include/*
    drivers, fs                    drivers/base/*, the VFS, /proc and /sys files
    integrity                      the shadow and the invariant checker
    api                            thpsim, thpsim.api, thpsim.testing
    tools                          stress/*, scenarios, cli

An import inside a function is allowed only with a ``# cycle:`` comment on its line or
the line above saying which cycle of the kernel's own design forces it; module pairs that
import each other are listed in ALLOWED_CYCLES with the reason.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "thpsim"

KERNEL_CORE = {"context", "sched", "entry", "interleave", "schedulers", "locking", "task",
               "ptrace", "tlbflush", "signal", "pid"}

#: what tools may import: the public seams
PUBLIC = ("thpsim", "thpsim.api", "thpsim.testing", "thpsim.errors", "thpsim.profiles")

#: (a, b) pairs that import each other, with the reason: each is a pair of kernel files
#: that call each other in the kernel too; the import on one side sits in the function
#: that needs it, with a ``# cycle:`` comment. Keep it short.
ALLOWED_CYCLES: dict[tuple[str, str], str] = {
    ("thpsim.mm.gup", "thpsim.mm.migrate"):
        "gup waits on migration entries (mm/migrate.c migration_entry_wait); "
        "move_pages looks pages up with follow_page() (mm/gup.c)",
    ("thpsim.mm.huge_memory", "thpsim.mm.mempolicy"):
        "THP faults allocate by policy (alloc_hugepage_vma); queue_pages_pmd() and "
        "mbind's split use pmd_trans_huge_lock()/__split_huge_pmd()",
    ("thpsim.mm.huge_memory", "thpsim.mm.migrate"):
        "migration installs and removes PMD migration entries (huge_memory.c); "
        "__split_huge_page() remaps through remove_migration_ptes() (migrate.c)",
    ("thpsim.mm.huge_memory", "thpsim.mm.rmap"):
        "rmap walks split and unmap huge PMDs; try_to_migrate_one() calls "
        "set_pmd_migration_entry()",
    ("thpsim.mm.memory", "thpsim.mm.mempolicy"):
        "faults allocate by policy (alloc_pages_vma); queue_pages_pte_range() reads "
        "vm_normal_page()",
    ("thpsim.mm.mlock", "thpsim.mm.mmap"):
        "mmap(MAP_LOCKED) and munmap call mlock.c; mlock(2) splits and merges VMAs "
        "(mmap.c) and populates through populate_vma_page_range() (gup.c in the "
        "kernel; kept in mmap.py because its FOLL_MLOCK step calls mlock.c)",
}


def layer(mod: str) -> int:
    parts = mod.split(".")
    if len(parts) == 1:
        return 8
    top = parts[1]
    if top in ("lib", "errors", "profiles"):
        return 0
    if top == "arch":
        return 1
    if top == "hw":
        return 2
    if top == "kernel":
        return 3 if len(parts) > 2 and parts[2] in KERNEL_CORE else 4
    if top == "mm":
        return 4
    if top == "include":
        return 4  # header inlines and uapi constants (include/linux/cpuset.h, include/uapi/...)
    if top in ("fs", "drivers"):
        return 5
    if top == "integrity":
        return 6
    if top in ("api", "testing", "__main__"):
        return 7 if top != "__main__" else 9
    return 9  # tools


def modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(SRC).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = p
    return out


MODS = modules()


def _targets(cur: str, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = cur.split(".")
        if not MODS[cur].name == "__init__.py":
            base = base[:-1]
        base = base[: len(base) - node.level + 1]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    return [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODS else mod for a in node.names]


def imports() -> list[tuple[str, str, bool, int, Path]]:
    """(importer, imported, inside a function, line, file) for every thpsim import,
    leaving out those under ``if TYPE_CHECKING:``."""
    out = []
    for name, path in MODS.items():
        tree = ast.parse(path.read_text())

        def visit(node: ast.AST, in_func: bool, name: str = name, path: Path = path) -> None:
            for c in ast.iter_child_nodes(node):
                if isinstance(c, ast.Import | ast.ImportFrom):
                    for t in _targets(name, c):
                        if t.split(".")[0] == "thpsim":
                            out.append((name, t, in_func, c.lineno, path))
                elif isinstance(c, ast.FunctionDef | ast.AsyncFunctionDef):
                    visit(c, True, name, path)
                elif isinstance(c, ast.If) and "TYPE_CHECKING" in ast.unparse(c.test):
                    continue
                else:
                    visit(c, in_func, name, path)

        visit(tree, False)
    return out


EDGES = imports()


def upward(edges: list[tuple[str, str, bool, int, Path]]) -> list[str]:
    return [f"{p.relative_to(SRC)}:{line}: {a} imports {b}"
            for a, b, _, line, p in edges if layer(b) > layer(a)]


def test_imports_point_down() -> None:
    up = upward(EDGES)
    assert not up, "upward imports:\n" + "\n".join(up)


def test_the_check_sees_an_upward_import() -> None:
    """The graph test can fail: an mm module importing the API, or the kernel core
    importing mm, is reported."""
    fake = [("thpsim.mm.migrate", "thpsim.api", False, 1, PKG / "mm" / "migrate.py"),
            ("thpsim.kernel.sched", "thpsim.mm.memory", True, 2, PKG / "kernel" / "sched.py")]
    assert len(upward(fake)) == 2
    assert any(a == "thpsim.mm.migrate" and b.startswith("thpsim.mm") for a, b, *_ in EDGES)


def test_no_module_pairs_import_each_other() -> None:
    g: dict[str, set[str]] = defaultdict(set)
    for a, b, _, _, _ in EDGES:
        if a != b:
            g[a].add(b)
    pairs = sorted((a, b) for a in g for b in g[a] if a < b and a in g.get(b, ()))
    bad = [p for p in pairs if p not in ALLOWED_CYCLES]
    assert not bad, "modules importing each other: " + ", ".join(f"{a} <-> {b}"
                                                                 for a, b in bad)
    stale = [p for p in ALLOWED_CYCLES if p not in pairs]
    assert not stale, "ALLOWED_CYCLES pairs that no longer import each other: " + ", ".join(
        f"{a} <-> {b}" for a, b in stale)


def test_tools_use_public_seams() -> None:
    bad = [f"{p.relative_to(SRC)}:{line}: {a} imports {b}"
           for a, b, _, line, p in EDGES
           if layer(a) == 9 and layer(b) < 7 and b not in PUBLIC]
    assert not bad, "tools reaching past thpsim.api/thpsim.testing:\n" + "\n".join(bad)


def test_function_level_imports_say_why() -> None:
    bad = []
    for a, b, in_func, line, p in EDGES:
        if not in_func:
            continue
        lines = p.read_text().splitlines()
        here = lines[line - 1] + (lines[line - 2] if line >= 2 else "")
        if "cycle:" not in here:
            bad.append(f"{p.relative_to(SRC)}:{line}: {a} imports {b} inside a function")
    assert not bad, ("imports inside functions without a '# cycle:' reason:\n"
                     + "\n".join(bad))


@pytest.mark.parametrize("mod,expected", [
    ("thpsim.lib.kstrtox", 0), ("thpsim.arch.x86_64.pgtable", 1), ("thpsim.hw.cpu", 2),
    ("thpsim.kernel.sched", 3), ("thpsim.mm.migrate", 4), ("thpsim.kernel.cgroup.cpuset", 4),
    ("thpsim.fs.vfs", 5), ("thpsim.api", 7), ("thpsim.stress.harness", 9),
])
def test_layer_table(mod: str, expected: int) -> None:
    """The table itself: a module lands in the layer the docs give it."""
    assert layer(mod) == expected
