"""The model-side interpreter of mmprog programs: the same text as tools/oracle/mmprog.c.

A program (docs/oracle.md) is a list of steps, one per line; after every step the
interpreter prints the step, its result and what changed in the observations of the
program's arena (VMAs with smaps figures, per 2 MiB: pagemap and kpageflags counts
and the nodes ``move_pages`` reports, attributable /proc/vmstat deltas). This module
runs a program on a fresh :class:`thpsim.Machine` shaped like the oracle's guest and
prints exactly what mmprog prints on a real kernel, so the two texts compare line by
line. Each helper names the C function it mirrors; change both together.

A tool: it uses only the public API (thpsim, thpsim.errors), as a user's program would.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from thpsim import Machine, Process
from thpsim.errors import DeliveredSignal

__all__ = ["ARENA", "ARENA_END", "VMSTAT_NAMES", "run_program", "guest_machine"]

PAGE = 4096
HPAGE = 2 << 20
ARENA = 0x7E00_0000_0000
SLOT = 64 << 20  #: register R starts at ARENA + R * SLOT (mmprog.c SLOT)
ARENA_END = ARENA + 26 * SLOT
MAXPIPES = 32  #: mmprog.c MAXPIPES
SPLICE_F_NONBLOCK = 0x02
U64 = (1 << 64) - 1

#: the /proc/vmstat counters whose deltas are observed (mmprog.c vmstat_names)
VMSTAT_NAMES = ("thp_fault_alloc", "thp_fault_fallback", "thp_split_pmd", "thp_split_page",
                "thp_deferred_split_page", "thp_migration_success", "thp_migration_fail",
                "thp_migration_split", "pgmigrate_success", "pgmigrate_fail")

PROT_NAMES = {"r": 1, "w": 2, "x": 4}
MMAP_FLAGS = {"private": 0x02, "anon": 0x20, "fixed": 0x10, "noreplace": 0x100000,
              "populate": 0x8000, "locked": 0x2000, "noreserve": 0x4000}
ADVICE = {"normal": 0, "random": 1, "sequential": 2, "willneed": 3, "dontneed": 4,
          "free": 8, "remove": 9, "dontfork": 10, "dofork": 11, "mergeable": 12,
          "unmergeable": 13, "hugepage": 14, "nohugepage": 15, "dontdump": 16, "dodump": 17,
          "wipeonfork": 18, "keeponfork": 19, "cold": 20, "pageout": 21, "populate_read": 22,
          "populate_write": 23, "collapse": 25, "hwpoison": 100, "soft_offline": 101}
MREMAP_FLAGS = {"maymove": 1, "fixed": 2, "dontunmap": 4}
MPOL = {"default": 0, "preferred": 1, "bind": 2, "interleave": 3, "local": 4,
        "preferred_many": 5, "weighted_interleave": 6, "static": 1 << 15,
        "relative": 1 << 14, "numa_balancing": 1 << 13}
MBIND_FLAGS = {"strict": 1, "move": 2, "moveall": 4}
MLOCK_FLAGS = {"onfault": 1}
GETMPOL_FLAGS = {"node": 1, "addr": 2, "mems_allowed": 4}


def guest_machine(profile: str = "mainline", **switches) -> Machine:
    """A machine shaped like the oracle's guest: 2 nodes of 1 GiB, one CPU each, THP
    always, defrag madvise (thpsim.oracle.runner)."""
    return Machine(nodes={0: 1 << 30, 1: 1 << 30}, cpus=2, thp="always", defrag="madvise",
                   profile=profile, **switches)


# ---------------------------------------------------------------- parsing (mmprog.c)
def _num(s: str) -> int | None:
    """parse_num(): strtoull/strtoll with base 0; None when not a whole number."""
    try:
        neg = s.startswith("-")
        body = s[1:] if neg else s
        if len(body) > 1 and body[0] == "0" and body[1] not in "xX":
            v = int(body, 8)
        else:
            v = int(body, 0)
        if v > U64:
            v = U64  # strtoull saturates
        return (-v) & U64 if neg else v
    except ValueError:
        return None


def _names(s: str, table: dict[str, int], chars: bool = False) -> int:
    """parse_names(): ``a|b|c`` of names or numbers (``chars``: prot letters)."""
    v = _num(s)
    if v is not None:
        return v
    if chars:
        if s == "none":
            return 0
        return sum(table[c] for c in set(s) if c in table)
    out = 0
    for tok in s.split("|"):
        if not tok:
            continue
        n = _num(tok)
        out |= n if n is not None else table.get(tok, 0)
    return out


def _node_list(s: str, n: int) -> list[int]:
    """parse_node_list(): ``1`` or runs ``1*512,7*512``; the last value fills the rest."""
    out: list[int] = []
    last = 0
    for tok in s.split(","):
        if len(out) >= n or not tok:
            break
        v, _, cnt = tok.partition("*")
        last = _c_int(_num(v) or 0)
        out += [last] * min(_num(cnt) or 0 if cnt else 1, n - len(out))
    return out + [last] * (n - len(out))


def _mask(s: str, zero_is_null: bool = True) -> int | None:
    """parse_mask_z(): ``null`` (and ``0`` where it means NULL) is None, ``&0`` an empty
    mask, ``n:0,1,1024`` the listed bits (below 32768), any other number the first word."""
    if s == "null" or (zero_is_null and s == "0"):
        return None
    if s == "&0":
        return 0
    if s.startswith("n:"):
        bits = 0
        for tok in s[2:].split(","):
            v = _num(tok)
            if v is not None and v < 32768:
                bits |= 1 << v
        return bits
    return (_num(s) or 0) & U64


def _c_int(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def _c_long(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def _hex(v: int) -> str:
    """printf("%#lx")."""
    v &= U64
    return "0" if v == 0 else f"{v:#x}"


def pattern(addr: int, seed: int) -> int:
    """mmprog.c pattern(): the word written at the start of a page."""
    return ((((addr >> 12) * 0x9E3779B97F4A7C15) ^ (seed * 0xBF58476D1CE4E5B9)) ^ 1) & U64


def load(text: str) -> list[str]:
    """mmprog.c load(): the non-empty lines, comments and outer blanks removed."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line[:255])
    return out


@dataclass
class _Task:
    """One interpreter process: its handle, registers and last snapshot."""

    p: Process
    who: str
    #: the process that forked this one (the program's own: a stand-in for mmprog's
    #: main process, made when the program names it)
    parent: Process | None
    #: before an mmap sets it, a register holds its slot (never 0: a step on an unset
    #: register must not reach the C interpreter's own pages)
    regs: list[int] = field(default_factory=lambda: [ARENA + r * SLOT for r in range(26)])
    prev: list[str] = field(default_factory=list)
    #: the (read, write) descriptors of the pipes vmsplice steps made (mmprog.c pipes)
    pipes: list[tuple[int, int]] = field(default_factory=list)


class Interp:
    """Runs one program on one machine and collects mmprog's text."""

    def __init__(self, m: Machine, lines: list[str]):
        self.m = m
        self.lines = lines
        self.out: list[str] = []
        self.vm_base = self._vmstat()
        self.saved = [""] * 10
        self.base_files: dict[str, str] = {}

    # ---- parse_addr()
    def addr(self, t: _Task, s: str) -> int:
        if s and "A" <= s[0] <= "Z" and (len(s) == 1 or s[1] in "+-"):
            v = t.regs[ord(s[0]) - 65]
            off = _num(s[2:]) or 0 if len(s) > 2 else 0
            return (v + off if s[1:2] != "-" else v - off) & U64
        v = _num(s)
        return 0 if v is None else v

    def pid(self, t: _Task, s: str) -> int:
        """parse_pid(): ``self`` (0), ``parent``, or a number."""
        if s == "self":
            return 0
        if s == "parent":
            return t.parent.pid if t.parent is not None else 0
        return _c_int(_num(s) or 0)

    def expand(self, t: _Task, s: str) -> str:
        """expand(): {pid}, {ppid}, {phys:ADDR}, {block:N:I}, {saved:K}."""
        out = []
        i = 0
        while i < len(s):
            j = s.find("}", i) if s[i] == "{" else -1
            if j < 0:
                out.append(s[i])
                i += 1
                continue
            key = s[i + 1:j]
            val = ""
            if key == "pid":
                val = str(t.p.pid)
            elif key == "ppid":
                val = str(t.parent.pid if t.parent is not None else 0)
            elif key.startswith("phys:"):
                val = _hex(self.phys_of(t, self.addr(t, key[5:])))
            elif key.startswith("block:"):
                nid, _, idx = key[6:].partition(":")
                val = f"memory{self.node_block(t, _num(nid) or 0, _c_long(_num(idx) or 0))}"
            elif key.startswith("saved:") and len(key) > 6:
                val = self.saved[(ord(key[6]) - 48) % 10]
            out.append(val)
            i = j + 1
        return "".join(out)

    def phys_of(self, t: _Task, a: int) -> int:
        """phys_of(): pagemap's PFN of ``a`` as a physical address, 0 if not present."""
        try:
            raw = t.p.fs.read("/proc/self/pagemap", offset=(a // PAGE) * 8, length=8)
        except OSError:
            return 0
        e = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        if not e >> 63 & 1:
            return 0
        return (e & ((1 << 55) - 1)) * PAGE + (a & (PAGE - 1))

    def node_block(self, t: _Task, nid: int, idx: int) -> int:
        """node_block(): the number of the idx-th memory block of node ``nid``."""
        try:
            names = t.p.fs.listdir(f"/sys/devices/system/node/node{nid}")
        except OSError:
            return -1
        blocks = sorted(int(n[6:]) for n in names if n.startswith("memory") and n[6:].isdigit())
        if idx < 0:
            idx += len(blocks)
        return blocks[idx] if 0 <= idx < len(blocks) else -1

    def read_text(self, t: _Task, path: str) -> str:
        text = t.p.fs.read(path)
        return text.decode() if isinstance(text, bytes | bytearray) else text

    def stat(self, t: _Task, key: str) -> str:
        """The stat step: KEY's change in /proc/vmstat, else /proc/meminfo."""
        for path in ("/proc/vmstat", "/proc/meminfo"):
            now = _stat_value(self.read_text(t, path), key)
            old = _stat_value(self.base_files.get(path, ""), key)
            if now is not None and old is not None:
                return f" = {now - old:+d}"
        return " = missing"

    # ---- observations
    def _vmstat(self) -> dict[str, int]:
        vm = self.m.vmstat()
        return {n: vm.get(n, 0) for n in VMSTAT_NAMES}

    def _vmas(self, p: Process) -> list[tuple[int, int, str, int, int, int]]:
        """read_vmas(): the arena's VMAs from /proc/self/smaps."""
        text = p.fs.read("/proc/self/smaps")
        if isinstance(text, bytes | bytearray):
            text = text.decode()
        vmas: list[list] = []
        cur = None
        for line in text.splitlines():
            head = line.split(" ", 1)[0]
            if "-" in head and len(line.split()) >= 2 and ":" not in head:
                s, e = (int(x, 16) for x in head.split("-"))
                cur = None
                if e > ARENA and s < ARENA_END:
                    cur = [s, e, line.split()[1][:4], 0, 0, 0]
                    vmas.append(cur)
            elif cur is not None:
                parts = line.split()
                if len(parts) >= 2 and parts[0] in ("Rss:", "AnonHugePages:", "Locked:"):
                    cur[{"Rss:": 3, "AnonHugePages:": 4, "Locked:": 5}[parts[0]]] = int(parts[1])
        return [tuple(v) for v in vmas]

    def snapshot(self, t: _Task) -> None:
        p = t.p
        snap: list[str] = []
        vmas = self._vmas(p)
        for s, e, perms, rss, huge, locked in vmas:
            snap.append(f"vma {s:x}-{e:x} {perms} rss={rss} anon_huge={huge} locked={locked}")

        def inside(a: int) -> bool:
            return any(s <= a < e for s, e, *_ in vmas)

        last = 0
        for s, e, *_ in vmas:
            c = max(s & ~(HPAGE - 1), last)
            while c < e:
                try:
                    raw = p.fs.read("/proc/self/pagemap", offset=(c // PAGE) * 8, length=4096)
                except OSError:  # 0400, owned by root after a setuid: mmprog.c reads 0s
                    raw = b""
                ent = struct.unpack(f"<{len(raw) // 8}Q", raw) + (0,) * (512 - len(raw) // 8)
                present = sd = excl = mapped = 0
                contig = True
                first = 0
                pfns: list[int] = []
                ins = [inside(c + k * PAGE) for k in range(512)]
                for k in range(512):
                    if not ins[k]:
                        contig = False
                        continue
                    mapped += 1
                    x = ent[k]
                    sd += x >> 55 & 1
                    excl += x >> 56 & 1
                    if not x >> 63 & 1:
                        contig = False
                        continue
                    present += 1
                    pfn = x & ((1 << 55) - 1)
                    if k == 0:
                        first = pfn
                        if pfn & 511:
                            contig = False
                    elif pfn != first + k:
                        contig = False
                    pfns.append(pfn)
                thp, head = self._kpageflags(p, pfns)
                pages = [c + k * PAGE for k in range(512)]
                try:
                    _, status = p.move_pages(0, pages, None)
                except OSError as err:
                    status = getattr(err, "status", None) or [None] * 512
                st = [1000 if not ins[k] else (-1000 if status[k] is None else status[k])
                      for k in range(512)]
                huge = present == 512 and contig and thp == 512 and head == 1
                snap.append(f"pmd {c:x} mapped={mapped} present={present} sd={sd} "
                            f"excl={excl} huge={int(huge)} thp={thp} "
                            f"head={head} nodes={_rle(st)}")
                c += HPAGE
                last = c
        now = self._vmstat()
        snap.append("vmstat" + "".join(f" {n}={now[n] - self.vm_base[n]}"
                                       for n in VMSTAT_NAMES if now[n] != self.vm_base[n]))
        old = set(t.prev)
        new = set(snap)
        self.out += [f"{t.who}  - {line}" for line in t.prev if line not in new]
        self.out += [f"{t.who}  + {line}" for line in snap if line not in old]
        t.prev = snap

    def _kpageflags(self, p: Process, pfns: list[int]) -> tuple[int, int]:
        """THP (bit 22) and compound-head (bit 15) pages among ``pfns``, read in runs."""
        thp = head = 0
        i = 0
        while i < len(pfns):
            j = i + 1
            while j < len(pfns) and pfns[j] == pfns[j - 1] + 1:
                j += 1
            try:
                raw = p.fs.read("/proc/kpageflags", offset=pfns[i] * 8, length=(j - i) * 8)
            except OSError:  # 0400 root: after a setuid, mmprog.c reads nothing either
                return 0, 0
            for (f,) in struct.iter_unpack("<Q", raw):
                thp += f >> 22 & 1
                head += f >> 15 & 1
            i = j
        return thp, head

    # ---- user accesses (do_write / do_read)
    # one word per page: the model keeps one, so both interpreters access page starts
    def write(self, t: _Task, a: int, length: int, seed: int) -> None:
        base = q = a & ~(PAGE - 1)
        end = (a + length) & U64
        try:
            while q < end:
                t.p.write(q, pattern(q, seed))
                q += PAGE
        except DeliveredSignal as sig:
            self.out.append(f"{t.who}  fault {_signame(sig)} at +{_hex(q - base)}")
            return
        self.out.append(f"{t.who}  wrote {(q - base) // PAGE} pages")

    def read(self, t: _Task, a: int, length: int) -> None:
        base = q = a & ~(PAGE - 1)
        end = (a + length) & U64
        nonzero = h = 0
        try:
            while q < end:
                v = t.p.read(q)
                nonzero += v != 0
                h = ((h ^ v) * 0x100000001B3) & U64
                h ^= (q - base) >> 12
                q += PAGE
        except DeliveredSignal as sig:
            self.out.append(f"{t.who}  fault {_signame(sig)} at +{_hex(q - base)}")
            return
        self.out.append(f"{t.who}  read {(q - base) // PAGE} pages nonzero={nonzero} "
                        f"hash={h:016x}")

    # ---- steps (run_step)
    def run_lines(self, t: _Task, lo: int, hi: int) -> None:
        i = lo
        while i < hi:
            i = self.step(t, i)

    def step(self, t: _Task, i: int) -> int:
        line = self.lines[i]
        tok = line.split()[:16]
        if not tok:
            return i + 1

        def arg(k: int) -> str:
            return tok[k] if k < len(tok) else "0"

        op = tok[0]
        p = t.p
        head = f"{t.who}S{i} {line}"
        if op == "fork":
            end, lvl = i + 1, 1
            while end < len(self.lines):
                if self.lines[end] == "fork" or self.lines[end].startswith("fork "):
                    lvl += 1
                if self.lines[end].startswith("endfork"):
                    lvl -= 1
                    if lvl == 0:
                        break
                end += 1
            self.out.append(head)
            child = _Task(p.fork(), "child ", p, list(t.regs), list(t.prev), list(t.pipes))
            self.run_lines(child, i + 1, end)
            child.p.exit()
            self.out.append(f"{t.who}  child exited 0")
            self.snapshot(t)
            return end + 1
        if op == "spin":
            # mmprog.c do_spin(): loads for MS ms; the model's clock is its ticks
            self.out.append(head)
            try:
                p.spin(self.addr(t, arg(1)), self.addr(t, arg(2)), self.addr(t, arg(3)))
            except DeliveredSignal as sig:
                self.out.append(f"{t.who}  fault {_signame(sig)}")
            self.snapshot(t)
            return i + 1
        if op in ("write", "read"):
            self.out.append(head)
            if op == "write":
                self.write(t, self.addr(t, arg(1)), self.addr(t, arg(2)), self.addr(t, arg(3)))
            else:
                self.read(t, self.addr(t, arg(1)), self.addr(t, arg(2)))
            self.snapshot(t)
            return i + 1
        if op == "move_pages":
            a, n = self.addr(t, arg(1)), min(self.addr(t, arg(2)) // PAGE, 4096)
            nodes = None if arg(3) == "query" else _node_list(arg(3), n)
            flags = _c_int(_names(arg(4), MBIND_FLAGS))
            pid = self.pid(t, arg(5)) if len(tok) > 5 else 0
            try:
                ret, got = p.move_pages(pid, [a + k * PAGE for k in range(n)], nodes, flags)
                res = f" = {ret} status="
            except OSError as err:
                got = getattr(err, "status", None) or [None] * n
                res = f" = -1 {err.errno} status="
            status = [-1000 if s is None else s for s in got]
            self.out.append(head + res + _rle(status))
            self.snapshot(t)
            return i + 1
        if op == "get_mempolicy":
            maxnode = self.addr(t, arg(3)) if len(tok) > 3 else 64
            try:
                mode, mask = p.get_mempolicy(maxnode, self.addr(t, arg(2)),
                                             _c_int(_names(arg(1), GETMPOL_FLAGS)))
                self.out.append(head + f" = 0 mode={_c_int(mode)} mask={_hex(mask or 0)}")
            except OSError as err:
                self.out.append(head + f" = -1 {err.errno}")
            self.snapshot(t)
            return i + 1
        if op == "save":
            self.saved[(ord(arg(1)[0]) - 48) % 10] = self.expand(t, " ".join(tok[2:]))[:255]
            self.out.append(head + " = saved")
            return i + 1
        if op == "stat":
            self.out.append(head + self.stat(t, arg(1)))
            return i + 1
        if op == "fread":
            try:
                text = self.read_text(t, self.expand(t, arg(1)))
                lines = text.split("\n")
                if len(tok) > 2:
                    lines = [ln for ln in lines if ln.startswith(tok[2])] or [""]
                res = " =" + "".join(" " + w for w in lines[0].split())
            except OSError as err:
                res = f" = -1 {err.errno}"
            self.out.append(head + res)
            self.snapshot(t)
            return i + 1
        call = self._call(t, op, arg, tok)
        if call is None:
            self.out.append(head + " = unknown step")
            return i + 1
        try:
            ret = call()
            res = f" = {_hex(ret)}"
            if op in ("mmap", "mremap") and not ARENA <= ret < ARENA_END:
                res = " = outside-arena"  # mmprog.c addr_result()
        except OSError as err:
            res = f" = -1 {err.errno}"
        except DeliveredSignal as sig:  # MADV_HWPOISON's SIGBUS on the way back
            res = f" = signal {_signame(sig)}"
        self.out.append(head + res)
        self.snapshot(t)
        return i + 1

    def _call(self, t: _Task, op: str, arg: Callable[[int], str],
              tok: list[str]) -> Callable[[], int] | None:
        p, a = t.p, (lambda k: self.addr(t, arg(k)))
        nargs = len(tok)
        if op == "mmap":
            def do() -> int:
                r = p.mmap(a(2), a(3), _c_int(_names(arg(4), PROT_NAMES, True)),
                           _c_int(_names(arg(5), MMAP_FLAGS)))
                reg = ord(arg(1)[0]) - 65
                if 0 <= reg < 26:
                    t.regs[reg] = r
                return r
            return do
        if op == "mremap":
            def do() -> int:
                r = p.mremap(a(2), a(3), a(4), _names(arg(5), MREMAP_FLAGS), a(6))
                reg = ord(arg(1)[0]) - 65
                if 0 <= reg < 26:
                    t.regs[reg] = r
                return r
            return do
        if op == "munmap":
            return lambda: p.munmap(a(1), a(2))
        if op == "mprotect":
            return lambda: p.mprotect(a(1), a(2), _c_int(_names(arg(3), PROT_NAMES, True)))
        if op == "madvise":
            return lambda: p.madvise(a(1), a(2), _c_int(_names(arg(3), ADVICE)))
        if op == "mlock":
            return lambda: p.mlock(a(1), a(2))
        if op == "mlock2":
            return lambda: p.mlock2(a(1), a(2), _names(arg(3), MLOCK_FLAGS))
        if op == "munlock":
            return lambda: p.munlock(a(1), a(2))
        if op == "mbind":
            return lambda: p.mbind(a(1), a(2), _c_int(_names(arg(3), MPOL)), _mask(arg(4)),
                                   a(6) if nargs > 6 else 64, _names(arg(5), MBIND_FLAGS))
        if op == "set_mempolicy":
            return lambda: p.set_mempolicy(_c_int(_names(arg(1), MPOL)), _mask(arg(2)),
                                           a(3) if nargs > 3 else 64)
        if op == "migrate_pages":
            return lambda: p.migrate_pages(self.pid(t, arg(4)) if nargs > 4 else 0,
                                           a(3) if nargs > 3 else 64,
                                           _mask(arg(1), False), _mask(arg(2), False))
        if op == "setuid":
            return lambda: p.setuid(a(1))
        if op == "vmsplice":
            def do() -> int:
                if len(t.pipes) >= MAXPIPES:
                    raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
                t.pipes.append(p.pipe())
                return p.vmsplice(t.pipes[-1][1], [(a(1), a(2))], SPLICE_F_NONBLOCK)
            return do
        if op == "unsplice":
            def do() -> int:
                for r, w in t.pipes:
                    p.close(r)
                    p.close(w)
                t.pipes.clear()
                return 0
            return do
        if op == "fwrite":
            def do() -> int:
                p.fs.write(self.expand(t, arg(1)), self.expand(t, " ".join(tok[2:])) + "\n")
                return 0
            return do
        if op in ("mkdir", "rmdir"):
            def do() -> int:
                getattr(p.fs, op)(self.expand(t, arg(1)))
                return 0
            return do
        if op == "clear_refs":
            return lambda: p.fs.write("/proc/self/clear_refs", arg(1))
        return None


def _stat_value(text: str, key: str) -> int | None:
    """stat_value(): the number after ``KEY`` (``KEY:`` in meminfo) in a /proc file."""
    for line in text.splitlines():
        if line.startswith(key) and line[len(key):len(key) + 1] in (" ", ":"):
            try:
                return int(line[len(key) + 1:].split()[0])
            except (ValueError, IndexError):
                return None
    return None


def _signame(sig: DeliveredSignal) -> str:
    return {11: "SIGSEGV", 7: "SIGBUS"}.get(sig.si_signo, f"signal {sig.si_signo}")


def _rle(st: list[int]) -> str:
    """rle_out(): ``value*count`` runs, comma-separated."""
    out = []
    i = 0
    while i < len(st):
        j = i
        while j < len(st) and st[j] == st[i]:
            j += 1
        out.append(f"{st[i]}*{j - i}")
        i = j
    return ",".join(out)


def run_program(text: str, profile: str = "mainline", check: bool = True,
                **switches) -> str:
    """Run one program on a fresh guest-shaped machine; mmprog's text for it.

    With ``check``, the invariant checker runs after the program (a failure is printed
    as a ``model error`` line, as is any exception the model raises that a real
    kernel could not: the comparison then fails there)."""
    m = guest_machine(profile, **switches)
    it = Interp(m, load(text))
    parent = None
    if any("parent" in line or "{ppid}" in line for line in it.lines):
        parent = m.spawn(cpu=0)  # mmprog's main process
    t = _Task(parent.fork() if parent is not None else m.spawn(cpu=0), "", parent)
    try:
        for path in ("/proc/vmstat", "/proc/meminfo"):
            it.base_files[path] = it.read_text(t, path)
        it.run_lines(t, 0, len(it.lines))
        if check:
            m.check_integrity()
    except Exception as e:  # noqa: BLE001 - any exception of the model is a divergence
        it.out.append(f"model error {type(e).__name__}: {e}")
    return "\n".join(it.out) + "\n"
