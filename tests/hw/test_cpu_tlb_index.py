"""The TLB's 2 MiB-region index of 4 KiB entries (hw/cpu.py ``tlb_regions``): random
fills, INVLPGs and flushes leave exactly the entries, in exactly the FIFO order, that
the unindexed TLB (a scan of every entry) leaves, and the index names exactly them."""

from __future__ import annotations

import random

import pytest

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PAGE_SIZE, PMD_SHIFT
from thpsim.hw.cpu import CPU, flush_range_cpus


class _ReferenceTLB:
    """The TLB before the index: flush_range scans every 4 KiB entry."""

    def __init__(self, cap4k: int, cap2m: int):
        self.tlb: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
        self.cap4k, self.cap2m = cap4k, cap2m

    def fill(self, asid: int, vaddr: int, tr: int, huge: bool) -> None:
        t = self.tlb.setdefault(asid, ({}, {}))
        d, key, cap = (t[1], vaddr >> PMD_SHIFT, self.cap2m) if huge else \
            (t[0], vaddr >> PAGE_SHIFT, self.cap4k)
        if key not in d and len(d) >= cap:
            del d[next(iter(d))]
        d[key] = tr

    def invlpg(self, asid: int, vaddr: int) -> None:
        t = self.tlb.get(asid)
        if t is not None:
            t[0].pop(vaddr >> PAGE_SHIFT, None)
            t[1].pop(vaddr >> PMD_SHIFT, None)

    def flush_range(self, asid: int, start: int, end: int) -> None:
        t = self.tlb.get(asid)
        if t is None:
            return
        lo, hi = start >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT
        for vpn in [v for v in t[0] if lo <= v <= hi]:
            del t[0][vpn]
        for key in [k for k in t[1] if start >> PMD_SHIFT <= k <= (end - 1) >> PMD_SHIFT]:
            del t[1][key]

    def flush_asid(self, asid: int) -> None:
        self.tlb.pop(asid, None)


def _check(cpu: CPU, ref: _ReferenceTLB) -> None:
    assert {a: (list(t[0].items()), list(t[1].items())) for a, t in cpu.tlb.items()} == \
        {a: (list(t[0].items()), list(t[1].items())) for a, t in ref.tlb.items()}
    assert cpu.tlb_regions.keys() == cpu.tlb.keys()
    for asid, regions in cpu.tlb_regions.items():
        assert all(regions.values()), "an empty region stays in the index"
        indexed = sorted(v for s in regions.values() for v in s)
        assert indexed == sorted(cpu.tlb[asid][0])
        assert all(v >> (PMD_SHIFT - PAGE_SHIFT) == r for r, s in regions.items() for v in s)


@pytest.mark.parametrize("seed", range(6))
def test_indexed_tlb_matches_the_scanning_one(seed):
    rng = random.Random(seed)
    cap4k, cap2m = rng.choice([(8, 4), (64, 8), (1536, 1024)])
    cpu, ref = CPU(0, 0, cap4k=cap4k, cap2m=cap2m), _ReferenceTLB(cap4k, cap2m)
    base = 0x7F00_0000_0000
    span = 6 << PMD_SHIFT  # six 2 MiB regions, so flushes hit partial and whole ones

    def addr() -> int:
        return base + rng.randrange(span) & ~(PAGE_SIZE - 1)

    for _ in range(3000):
        asid = rng.randrange(3)
        op = rng.random()
        if op < 0.55:
            a, huge = addr(), rng.random() < 0.2
            tr = rng.randrange(1 << 20) << PAGE_SHIFT
            cpu.tlb_fill(asid, a, tr, huge)
            ref.fill(asid, a, tr - (((a >> PAGE_SHIFT) & 511) << PAGE_SHIFT) if huge
                     else tr, huge)
        elif op < 0.7:
            a = addr()
            cpu.invlpg(asid, a)
            ref.invlpg(asid, a)
        elif op < 0.97:
            start = addr()
            npages = rng.choice([1, 3, 33, 63, 64, 65, 512, 700, 1024, 2048])
            if rng.random() < 0.3:
                start &= ~((1 << PMD_SHIFT) - 1)
                npages = 512 * rng.randint(1, 4)
            cpu.flush_range(asid, start, start + npages * PAGE_SIZE)
            ref.flush_range(asid, start, start + npages * PAGE_SIZE)
        else:
            cpu.flush_asid(asid)
            ref.flush_asid(asid)
        _check(cpu, ref)


@pytest.mark.parametrize("seed", range(3))
def test_flush_range_cpus_is_flush_range_on_each_cpu(seed):
    rng = random.Random(seed)
    cpus = [CPU(i, 0) for i in range(5)]
    refs = [_ReferenceTLB(1536, 1024) for _ in cpus]
    base = 0x7F00_0000_0000
    for _ in range(2000):
        asid = rng.randrange(2)
        if rng.random() < 0.7:
            i, a, huge = rng.randrange(5), base + rng.randrange(4 << PMD_SHIFT), rng.random() < 0.5
            a &= ~(PAGE_SIZE - 1)
            cpus[i].tlb_fill(asid, a, 0x5000, huge)
            refs[i].fill(asid, a, 0x5000 - (((a >> PAGE_SHIFT) & 511) << PAGE_SHIFT) if huge
                         else 0x5000, huge)
        else:
            start = base + (rng.randrange(4 << PMD_SHIFT) & ~(PAGE_SIZE - 1))
            if rng.random() < 0.5:
                start &= ~((1 << PMD_SHIFT) - 1)
                npages = 512
            else:
                npages = rng.choice([1, 2, 33])
            flush_range_cpus(cpus, asid, start, start + npages * PAGE_SIZE)
            for r in refs:
                r.flush_range(asid, start, start + npages * PAGE_SIZE)
        for c, r in zip(cpus, refs, strict=True):
            _check(c, r)
