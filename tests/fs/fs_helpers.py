"""Helpers for the /proc and /sys view tests: a small machine and readers of the
formats a kernel test parses (pagemap words, smaps records)."""

from __future__ import annotations

import re
import struct

from mm_helpers import numa_machine, thp_aligned

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PAGE_SIZE

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MB = 1 << 20

PM_PFRAME_MASK = (1 << 55) - 1
PM_SOFT_DIRTY = 1 << 55
PM_MMAP_EXCLUSIVE = 1 << 56
PM_FILE = 1 << 61
PM_SWAP = 1 << 62
PM_PRESENT = 1 << 63

_HEADER = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def boot(profile: str = "seed", **kw) -> Machine:
    """Two 256 MiB nodes, 4 CPUs, THP always, the invariant checker on (mm_helpers'
    numa_machine(), with the /proc and /sys tests' defaults)."""
    return numa_machine(profile, **kw)


def map_thp_area(p, nr_thps: int = 1) -> int:
    """mmap room for ``nr_thps`` 2 MiB-aligned THPs; returns the aligned start."""
    return thp_aligned(p, nr_thps)


def pagemap(fs, addr: int, n: int = 1, pid: str | int = "self") -> list[int]:
    """pread(/proc/PID/pagemap, 8 * n, (addr >> 12) * 8) as u64 words."""
    raw = fs.read(f"/proc/{pid}/pagemap", offset=(addr >> PAGE_SHIFT) * 8, length=8 * n)
    assert len(raw) == 8 * n, f"short pagemap read: {len(raw)} of {8 * n} bytes"
    return list(struct.unpack(f"<{n}Q", raw))


def words(raw: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(raw) // 8}Q", raw))


def smaps_records(text: str) -> list[dict[str, int | str]]:
    """/proc/PID/smaps as one dict per VMA: values in kB (THPeligible as 0/1), the
    header line under "header", VmFlags as a string."""
    vmas: list[dict[str, int | str]] = []
    for line in text.splitlines():
        if _HEADER.match(line):
            vmas.append({"header": line})
            continue
        key, _, rest = line.partition(":")
        rest = rest.strip()
        vmas[-1][key] = rest if key == "VmFlags" else int(rest.split()[0])
    return vmas


def smaps_of(fs, addr: int, pid: str | int = "self") -> dict[str, int | str]:
    """The smaps record of the VMA containing ``addr``."""
    for rec in smaps_records(fs.read(f"/proc/{pid}/smaps")):
        start, end = (int(x, 16) for x in str(rec["header"]).split()[0].split("-"))
        if start <= addr < end:
            return rec
    raise KeyError(hex(addr))


def key_values(text: str) -> dict[str, int]:
    """``name value`` lines (/proc/vmstat, numastat) or ``Name:  value kB`` lines;
    lines whose first value is not a decimal number are left out."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
        else:
            k, _, v = line.partition(" ")
        first = v.split()[0] if v.split() else ""
        if first.isdigit():
            out[k.strip()] = int(first)
    return out


def map_small(p, npages: int) -> int:
    """An anonymous VMA of ``npages`` that does not merge with the VMA above it
    (the top-down allocator places it just below the last one: leave a page free)."""
    x = p.mmap(0, (npages + 1) * PAGE_SIZE, RW, ANON)
    p.munmap(x + npages * PAGE_SIZE, PAGE_SIZE)
    return x


def numa_maps_lines(fs, pid: str | int = "self") -> dict[int, str]:
    """/proc/PID/numa_maps keyed by VMA start."""
    text = fs.read(f"/proc/{pid}/numa_maps")
    return {int(line.split()[0], 16): line for line in text.splitlines()}
