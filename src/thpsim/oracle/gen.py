"""A seeded generator of random mmprog programs (docs/oracle.md).

Each program is 10 to 40 steps over up to four regions of the arena (registers A-D),
mixing what a user program does with THP memory: faults through writes and reads,
madvise (THP hints, DONTNEED, FREE, COLD, PAGEOUT, POPULATE, fork advice), mprotect,
partial munmap, mremap (grow, shrink, move to a fixed place), mlock/mlock2/munlock,
fork with child steps, mbind, set_mempolicy, move_pages, migrate_pages and soft-dirty
clearing. Offsets and lengths are mostly page- or 2 MiB-aligned inside a region,
sometimes unaligned, empty, or past the region, so errors are exercised too.

The program text depends only on (seed, index): ``program(seed, i)`` is the same on
every machine and Python version (random.Random with an integer seed).
"""

from __future__ import annotations

import random

from thpsim.oracle.interp import ARENA, SLOT

__all__ = ["program", "programs", "GEN_VERSION"]

GEN_VERSION = 1
PAGE = 4096
HPAGE = 2 << 20

ADVICE = ["hugepage", "nohugepage", "dontneed", "free", "cold", "pageout", "willneed",
          "populate_read", "populate_write", "dontfork", "dofork", "wipeonfork", "keeponfork",
          "random", "normal", "collapse"]
PROTS = ["r", "rw", "none", "rw", "rw"]


class _Gen:
    def __init__(self, rng: random.Random):
        self.r = rng
        self.lines: list[str] = []
        self.regions: dict[str, int] = {}  # register -> length last asked for

    def slot(self, reg: str) -> int:
        return ARENA + (ord(reg) - 65) * SLOT

    def length(self) -> int:
        r = self.r
        return r.choice([HPAGE, 2 * HPAGE, 3 * HPAGE, 4 * HPAGE, HPAGE + 16 * PAGE,
                         64 * PAGE, 3 * HPAGE - 8 * PAGE])

    def where(self, inside_child: bool = False) -> tuple[str, int, int]:
        """(address expression, offset, length) of a range in a region, mostly sane."""
        r = self.r
        reg = r.choice(sorted(self.regions))
        size = self.regions[reg]
        kind = r.random()
        if kind < 0.35:  # 2 MiB-aligned chunks
            off = r.randrange(0, max(size, HPAGE), HPAGE)
            ln = r.choice([HPAGE, 2 * HPAGE, size])
        elif kind < 0.8:  # pages
            off = r.randrange(0, max(size, PAGE), PAGE)
            ln = r.choice([PAGE, 2 * PAGE, 16 * PAGE, 256 * PAGE, 512 * PAGE])
        elif kind < 0.9:  # the whole region
            off, ln = 0, size
        elif kind < 0.95:  # unaligned or empty
            off = r.randrange(0, size) | 1 if r.random() < 0.5 else r.randrange(0, size, PAGE)
            ln = r.choice([0, 1, PAGE - 1, PAGE + 1])
        else:  # past the region
            off = size + r.choice([0, PAGE, HPAGE])
            ln = r.choice([PAGE, HPAGE])
        return f"{reg}+{off:#x}" if off else reg, off, ln

    def step(self, depth: int) -> None:
        r, out = self.r, self.lines.append
        ind = "  " * depth
        ops = ["write"] * 6 + ["read"] * 3 + ["madvise"] * 4 + ["mprotect"] * 2 + \
            ["munmap", "mremap", "mlock", "munlock", "mbind", "move_pages", "move_pages",
             "set_mempolicy", "migrate_pages", "clear_refs", "mmap"]
        if depth == 0:
            ops += ["fork"]
        op = r.choice(ops)
        if op == "mmap" or not self.regions:
            free = [c for c in "ABCD" if c not in self.regions] or list("ABCD")
            reg = r.choice(free)
            ln = self.length()
            off = 0 if r.random() < 0.8 else r.choice([PAGE * 16, HPAGE // 2])
            flags = "private|anon" + r.choice(["", "", "", "|populate", "|locked",
                                               "|fixed|noreplace"])
            out(f"{ind}mmap {reg} {self.slot(reg) + off:#x} {ln:#x} rw {flags}")
            self.regions[reg] = ln
            return
        where, off, ln = self.where()
        if op == "write":
            out(f"{ind}write {where} {ln:#x} {r.randrange(1, 100)}")
        elif op == "read":
            out(f"{ind}read {where} {ln:#x}")
        elif op == "madvise":
            out(f"{ind}madvise {where} {ln:#x} {r.choice(ADVICE)}")
        elif op == "mprotect":
            out(f"{ind}mprotect {where} {ln:#x} {r.choice(PROTS)}")
        elif op == "munmap":
            out(f"{ind}munmap {where} {ln:#x}")
        elif op == "mremap":
            reg = where[0]
            size = self.regions[reg]
            new = r.choice([size + HPAGE, size // 2 or PAGE, size + 4 * PAGE, size])
            if r.random() < 0.5:
                dst = r.choice([c for c in "ABCD" if c != reg])
                out(f"{ind}mremap {dst} {reg} {size:#x} {new:#x} maymove|fixed "
                    f"{self.slot(dst) + SLOT // 2:#x}")
                self.regions.pop(reg, None)
                self.regions[dst] = new
            else:
                out(f"{ind}mremap {reg} {reg} {size:#x} {new:#x} 0")
                self.regions[reg] = new if new <= size else size
        elif op == "mlock":
            out(f"{ind}" + r.choice([f"mlock {where} {ln:#x}", f"mlock2 {where} {ln:#x} onfault"]))
        elif op == "munlock":
            out(f"{ind}munlock {where} {ln:#x}")
        elif op == "mbind":
            mode = r.choice(["bind", "preferred", "interleave", "default", "local"])
            mask = "0" if mode in ("default", "local") else r.choice(["0x1", "0x2", "0x3"])
            flags = r.choice(["0", "move", "strict|move", "strict", "moveall"])
            out(f"{ind}mbind {where} {ln:#x} {mode} {mask} {flags}")
        elif op == "move_pages":
            ln = min(ln, 1024 * PAGE)
            out(f"{ind}move_pages {where} {ln:#x} {r.choice([0, 1, 1, 2])} "
                f"{r.choice(['0', 'move', 'moveall'])}")
        elif op == "set_mempolicy":
            mode = r.choice(["bind", "preferred", "interleave", "default"])
            mask = "0" if mode == "default" else r.choice(["0x1", "0x2", "0x3"])
            out(f"{ind}set_mempolicy {mode} {mask}")
        elif op == "migrate_pages":
            out(f"{ind}migrate_pages {r.choice(['0x1', '0x2', '0x3'])} "
                f"{r.choice(['0x1', '0x2'])}")
        elif op == "clear_refs":
            out(f"{ind}clear_refs {r.choice(['4', '1'])}")
        elif op == "fork":
            out("fork")
            saved = dict(self.regions)
            for _ in range(r.randrange(1, 5)):
                self.step(1)
            self.regions = saved  # the child's changes are not the parent's
            out("endfork")


def program(seed: int, index: int) -> str:
    """The text of random program ``index`` of ``seed``."""
    rng = random.Random(seed * 1_000_003 + index)
    g = _Gen(rng)
    n = rng.randrange(10, 41)
    while len([ln for ln in g.lines if not ln.startswith(("  ", "endfork"))]) < n:
        g.step(0)
    head = f"# mmprog gen v{GEN_VERSION} seed={seed} index={index}\n"
    return head + "\n".join(g.lines) + "\n"


def programs(seed: int, count: int) -> dict[str, str]:
    """``count`` programs of ``seed``: file name -> text."""
    return {f"g{GEN_VERSION}-s{seed}-{i:04d}.mmp": program(seed, i) for i in range(count)}
