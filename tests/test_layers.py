"""The import graph holds the layers (docs/ARCHITECTURE.md): every import points down.

Layers, lowest first::

    lib, errors, profiles          helpers and the switch table any layer may use
    arch                           entry formats, pure functions on ints
    hw                             memory, nodes, CPUs, TLBs, the MMU walk
    kernel core                    kernel/{context,sched,entry,interleave,schedulers,
                                   locking,task,ptrace,tlbflush}
    mm                             mm/*, kernel/{fork,exit}, kernel/cgroup/*, include/*,
                                   fs/file (the descriptor table fork and exit use)
    drivers, fs                    drivers/base/*, the VFS, /proc and /sys files
    integrity                      the shadow and the invariant checker
    api                            thpsim, thpsim.api, thpsim.testing
    tools                          stress/*, fuzz/*, oracle/*, scenarios, cli

An import inside a function is allowed only with a ``# cycle:`` comment on its line or
the line above saying which cycle of the kernel's own design forces it (in a tool, also
``# lazy:`` saying why it is imported when used); module pairs that
import each other are listed in ALLOWED_CYCLES with the reason.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from thpsim.api import Machine
from thpsim.errors import DeliveredSignal
from thpsim.fs.vfs import VFSView

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "thpsim"

KERNEL_CORE = {"context", "sched", "entry", "interleave", "schedulers", "locking", "task",
               "ptrace", "tlbflush"}

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
    ("thpsim.kernel.sched_fair", "thpsim.mm.mempolicy"):
        "mpol_misplaced() asks should_numa_migrate_memory() (kernel/sched/fair.c); "
        "task_numa_work() calls change_prot_numa() (mm/mempolicy.c)",
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
        # fs/file.py, the descriptor table: kernel/fork.c and kernel/exit.c call
        # into fs/file.c (copy_files(), exit_files()), so it sits with them
        return 4 if parts[2:] == ["file"] else 5
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
    """``# cycle:`` anywhere; in a tool also ``# lazy:`` (an optional dependency, or a
    command's start-up time: ``thpsim --help`` should not import every command)."""
    bad = []
    for a, b, in_func, line, p in EDGES:
        if not in_func:
            continue
        lines = p.read_text().splitlines()
        here = lines[line - 1] + (lines[line - 2] if line >= 2 else "")
        if "cycle:" not in here and not (layer(a) == 9 and "lazy:" in here):
            bad.append(f"{p.relative_to(SRC)}:{line}: {a} imports {b} inside a function")
    assert not bad, ("imports inside functions without a '# cycle:' reason:\n"
                     + "\n".join(bad))


@pytest.mark.parametrize("mod,expected", [
    ("thpsim.lib.kstrtox", 0), ("thpsim.arch.x86_64.pgtable", 1), ("thpsim.hw.cpu", 2),
    ("thpsim.kernel.sched", 3), ("thpsim.mm.migrate", 4), ("thpsim.kernel.cgroup.cpuset", 4),
    ("thpsim.fs.vfs", 5), ("thpsim.api", 7), ("thpsim.stress.harness", 9),
    ("thpsim.fuzz.syscalls", 9),
])
def test_layer_table(mod: str, expected: int) -> None:
    """The table itself: a module lands in the layer the docs give it."""
    assert layer(mod) == expected


# ---------------------------------------------------------------- tools through public seams
#: The system calls Process, Thread and Syscalls (``thread.sys``) share.
_SYSCALLS = {"mmap", "munmap", "mprotect", "mremap", "madvise", "mlock", "mlock2", "munlock",
             "move_pages", "set_mempolicy", "get_mempolicy", "mbind", "migrate_pages", "setuid",
             "pipe2", "vmsplice", "close"}

#: What the tools may touch on the objects thpsim.api hands out, by class. Not on it:
#: ``kernel``, ``task``, ``mm`` and the private names -- tools hand the API's objects to
#: thpsim.testing, never the kernel's structures behind them.
TOOL_API: dict[str, set[str]] = {
    "Machine": {"spawn", "fs", "nodes", "cpus", "profile", "seed", "check", "processes",
                "kill", "vmstat", "vm_events", "check_integrity", "fragment", "unfragment"},
    "Process": _SYSCALLS | {"pid", "threads", "fs", "sys", "kill", "clone", "fork", "exit",
                            "exited", "machine", "read", "write", "pages_nodes", "pipe",
                            "tick", "spin"},
    "Thread": _SYSCALLS | {"tid", "cpu", "process", "fs", "sys", "machine", "read", "write",
                           "pipe", "tick", "spin"},
    "Syscalls": _SYSCALLS | {"fork", "exit", "store", "load", "read_file", "write_file",
                             "pid", "tid", "cpu", "machine"},
    "VFSView": {"read", "write", "mkdir", "rmdir", "listdir", "exists"},
    # thpsim.errors: what siginfo carries when a user access takes a signal
    "DeliveredSignal": {"si_signo", "si_code", "si_addr"},
}

#: ... and on thpsim.testing's objects (Race and its per-CPU builder, Execution, Failure,
#: Schedule, Op, Program, the schedulers).
TESTING_API = {"on", "run", "machine", "programs_list", "store", "load", "move_pages",
               "syscall", "call", "results", "result", "schedule", "failure", "steps",
               "events", "kind", "message", "seed", "encode", "decode", "name", "start",
               "cpu", "ops", "new_execution", "executions"}

#: ... and the fields of thpsim.errors' exceptions (a DeliveredSignal's siginfo, an
#: IntegrityError's replay command).
ERRORS_API = {"si_signo", "si_code", "si_addr", "replay"}

#: Never named in a tool, whatever the receiver: the ways from the API's objects into
#: the kernel's structures.
TOOL_FORBIDDEN = {"kernel", "task", "mm", "vfs", "live_mms", "shadow"}

_BUILTIN_ATTRS = set().union(*(dir(t) for t in (str, bytes, bytearray, int, float, dict,
                                                 list, set, frozenset, tuple)))


def _is_tool(mod: str) -> bool:
    return layer(mod) == 9


def _kernel_attr_names() -> set[str]:
    """The attribute names of the model's own classes (below the tools): the fields
    they set on ``self``, their ``__slots__`` and their methods."""
    out: set[str] = set()
    for name, path in MODS.items():
        if _is_tool(name):
            continue
        out |= _defined_attr_names(ast.parse(path.read_text()))
    return out


def _defined_attr_names(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    out.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    out.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    for t in item.targets:
                        if isinstance(t, ast.Name) and t.id == "__slots__":
                            out |= {c.value for c in ast.walk(item.value)
                                    if isinstance(c, ast.Constant) and isinstance(c.value, str)}
                        elif isinstance(t, ast.Name):
                            out.add(t.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                out.add(node.attr)
    return out


def _option_dests(tree: ast.AST) -> set[str]:
    """The attributes argparse gives the namespace: ``--max-executions`` -> max_executions."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "add_argument":
            out |= {a.value.lstrip("-").replace("-", "_") for a in node.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str)}
            out |= {k.value.value for k in node.keywords
                    if k.arg == "dest" and isinstance(k.value, ast.Constant)}
    return out


def tool_reach(sources: dict[str, str], kernel_names: set[str]) -> list[str]:
    """Attribute accesses in tool sources (module name -> text) that go past the public
    seams: a name on TOOL_FORBIDDEN; a private name on anything but ``self``/``cls``; or a
    name of the model's classes that is neither on TOOL_API/TESTING_API, nor a profile
    switch (thpsim.profiles is public), nor a method of a builtin type, nor a name the
    tools define themselves (their classes' fields and methods, their options)."""
    trees = {mod: ast.parse(text) for mod, text in sources.items()}
    own = set().union(*(_defined_attr_names(t) | _option_dests(t)
                        for t in trees.values())) - TOOL_FORBIDDEN
    switches = _defined_attr_names(ast.parse((PKG / "profiles.py").read_text()))
    allowed = (set().union(*TOOL_API.values()) | TESTING_API | ERRORS_API | switches
               | _BUILTIN_ATTRS | own)
    bad = []
    for mod, tree in trees.items():
        modules = {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
                   if isinstance(n, ast.Import) for a in n.names}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            recv, name = node.value, node.attr
            if isinstance(recv, ast.Name) and recv.id in modules:
                continue  # a module's function (os.path, errno.errorcode, np.frombuffer)
            if name in TOOL_FORBIDDEN:
                why = "reaches into the kernel"
            elif (name.startswith("_") and not name.startswith("__")
                  and not (isinstance(recv, ast.Name) and recv.id in ("self", "cls"))):
                why = "is private"
            elif name in kernel_names and name not in allowed:
                why = "is not on the API (TOOL_API)"
            else:
                continue
            bad.append(f"{mod}:{node.lineno}: {ast.unparse(node)} ({name!r} {why})")
    return bad


def test_tools_touch_only_public_attributes() -> None:
    """stress, scenarios and the CLI reach the machine only through the API's public
    attributes and thpsim.testing's helpers: no ``m.kernel``, ``p.task``, ``p.mm``."""
    sources = {mod: path.read_text() for mod, path in MODS.items() if _is_tool(mod)}
    assert "thpsim.stress.harness" in sources and "thpsim.cli" in sources
    bad = tool_reach(sources, _kernel_attr_names())
    assert not bad, "tools reaching past the API's public attributes:\n" + "\n".join(bad)


def test_the_check_sees_a_tool_reaching_in() -> None:
    """The attribute check can fail: each route past the API is reported."""
    src = ("def f(m, p, sys):\n"
           "    ev = m.kernel.vmstat.events\n"       # kernel
           "    t = p.threads[0].task\n"             # task
           "    v = m._vfs\n"                        # private
           "    pfn = sys.node_data.node_zones\n"  # the model's names, not the API's
           "    return p.pid, m.vmstat(), p.threads[0].sys.tid, ev, t, v, pfn\n")
    bad = tool_reach({"thpsim.stress.fake": src}, _kernel_attr_names())
    assert sorted(b.split(": ", 1)[1].split(" (")[0] for b in bad) == [
        "m._vfs", "m.kernel", "p.threads[0].task", "sys.node_data", "sys.node_data.node_zones"
    ], bad


def test_the_tool_api_names_exist() -> None:
    """TOOL_API lists attributes the API's classes have."""
    m = Machine(nodes={0: 128 << 20}, block_size=128 << 20, cpus=1)
    p = m.spawn()
    objs = {"Machine": m, "Process": p, "Thread": p.threads[0], "Syscalls": p.sys,
            "VFSView": m.fs, "DeliveredSignal": DeliveredSignal(11, 1, 0)}
    assert isinstance(objs["VFSView"], VFSView)
    missing = [f"{cls}.{n}" for cls, names in TOOL_API.items() for n in sorted(names)
               if not hasattr(objs[cls], n)]
    assert not missing, missing
