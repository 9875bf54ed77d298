"""The stateful model test with every migration caller as a rule.

Extends :class:`test_model.ThpModel` (mmap, munmap, mprotect, mremap, madvise,
mlock, fork, exit, reads, writes, move_pages) with mbind, set_mempolicy,
migrate_pages(2), soft offline (a bounded number of poisoned frames),
memory-block offline/online cycles of a movable block, and cpusets (attaching a
process, changing mems: the pages on nodes the cpuset gave up move). The shadow checks every
read, the invariant checker runs after every call. VMAs that differ only in
their NUMA policy compare as one range (Layout merges equal neighbours).
"""

from __future__ import annotations

import errno

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import initialize, precondition, rule
from test_model import MB, Layout, Proc, ThpModel, sels, wheres  # noqa: I001

import thpsim
from thpsim import (
    MADV_SOFT_OFFLINE,
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_INTERLEAVE,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    MPOL_PREFERRED,
    Machine,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE

MAX_POISONED = 3
LAYOUTS = (
    {0: 256 * MB, 1: 256 * MB},
    {0: 256 * MB, 2: 256 * MB, 5: 256 * MB},
)
MODES = (MPOL_DEFAULT, MPOL_BIND, MPOL_PREFERRED, MPOL_INTERLEAVE)
OK_ERRNOS = {
    "mbind": {errno.EINVAL, errno.EFAULT, errno.EIO, errno.ENOMEM, errno.EPERM},
    "set_mempolicy": {errno.EINVAL},
    "migrate_pages": {errno.EINVAL, errno.ENOMEM, errno.EPERM, errno.ESRCH},
    "soft_offline": {errno.EIO, errno.EBUSY, errno.EFAULT, errno.EINVAL, errno.ENOMEM},
    "offline": {errno.EBUSY, errno.EINVAL, errno.ENOMEM},
}


class CallersModel(ThpModel):
    @initialize(layout=st.sampled_from(LAYOUTS), profile=st.sampled_from(("seed", "mainline")))
    def boot(self, layout, profile):
        # the top 128 MiB of the last node is ZONE_MOVABLE, so its block can go offline
        last = max(layout)
        self.m = Machine(nodes=layout, block_size=128 * MB, cpus=4, thp="always",
                         profile=profile, seed=0, check=True, movable={last: 128 * MB})
        p = self.m.spawn(cpu=0)
        self.procs = [Proc(p, Layout(), set())]
        self.stamp = 0
        self.poisoned = 0
        start = self.m.kernel.mem.nodes[last].end_pfn * PAGE_SIZE - 128 * MB
        self.movable_block = start // (128 * MB)
        self.offline = False
        from test_model import ANON, ARENA, RW

        # one cpuset with the migrate flag, through the cgroup files
        fs = self.m.fs
        self.cs_root = "/sys/fs/cgroup" if profile == "mainline" else "/sys/fs/cgroup/cpuset"
        if profile == "mainline":
            fs.write(f"{self.cs_root}/cgroup.subtree_control", "+cpuset")
        fs.mkdir(f"{self.cs_root}/cs")
        if profile == "seed":
            fs.write(f"{self.cs_root}/cs/cpuset.cpus", "0-3")
            fs.write(f"{self.cs_root}/cs/cpuset.memory_migrate", "1")
        fs.write(f"{self.cs_root}/cs/cpuset.mems", ",".join(map(str, sorted(layout))))
        p.mmap(ARENA, 2 * HPAGE_PMD_SIZE, RW, ANON | thpsim.MAP_FIXED)
        p.mmap(ARENA + 3 * HPAGE_PMD_SIZE, 16 * PAGE_SIZE, RW, ANON | thpsim.MAP_FIXED)
        self.procs[0].layout = Layout.from_mm(p.mm)

    def _nodes(self):
        return sorted(self.m.nodes)

    def _mask(self, pick: int) -> int:
        nids = self._nodes()
        mask = 0
        for i, nid in enumerate(nids):
            if pick >> i & 1:
                mask |= 1 << nid
        return mask or 1 << nids[pick % len(nids)]

    @rule(p=sels, sel=sels, where=wheres, n=st.integers(1, 600), mode=st.sampled_from(MODES),
          pick=st.integers(0, 7), move=st.sampled_from((0, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL)))
    def mbind(self, p, sel, where, n, mode, pick, move):
        pr = self._proc(p)
        addr = self._addr(pr, sel, where) & ~(PAGE_SIZE - 1)
        mask = None if mode == MPOL_DEFAULT else self._mask(pick)
        try:
            pr.api.mbind(addr, n * PAGE_SIZE, mode, mask, 1024 if mask else 0, move)
        except OSError as e:
            assert e.errno in OK_ERRNOS["mbind"], e
        self._resync(pr)

    @rule(p=sels, mode=st.sampled_from(MODES), pick=st.integers(0, 7))
    def set_mempolicy(self, p, mode, pick):
        pr = self._proc(p)
        mask = None if mode == MPOL_DEFAULT else self._mask(pick)
        try:
            pr.api.set_mempolicy(mode, mask, 1024 if mask else 0)
        except OSError as e:
            assert e.errno in OK_ERRNOS["set_mempolicy"], e

    @rule(p=sels, q=sels, a=st.integers(0, 7), b=st.integers(0, 7))
    def migrate_pages(self, p, q, a, b):
        pr, target = self._proc(p), self._proc(q)
        try:
            ret = pr.api.migrate_pages(target.api.pid, 1024, self._mask(a), self._mask(b))
        except OSError as e:
            assert e.errno in OK_ERRNOS["migrate_pages"], e
            return
        assert ret >= 0

    @precondition(lambda self: self.poisoned < MAX_POISONED)
    @rule(p=sels, sel=sels, where=wheres)
    def soft_offline(self, p, sel, where):
        pr = self._proc(p)
        addr = self._addr(pr, sel, where) & ~(PAGE_SIZE - 1)
        try:
            pr.api.madvise(addr, PAGE_SIZE, MADV_SOFT_OFFLINE)
        except OSError as e:
            assert e.errno in OK_ERRNOS["soft_offline"], e
            return
        self.poisoned += 1

    @rule()
    def offline_online(self):
        path = f"/sys/devices/system/memory/memory{self.movable_block}/state"
        try:
            self.m.fs.write(path, "online_movable" if self.offline else "offline")
        except OSError as e:
            assert e.errno in OK_ERRNOS["offline"], e
            return
        self.offline = not self.offline

    def _page_nodes(self, pr: Proc) -> dict[int, int]:
        """Node of every mapped, non-reserved page of the process, by address."""
        from thpsim.mm.gup import follow_page_info
        from thpsim.mm.page_flags import F_reserved

        ctx = self.m.kernel
        out = {}
        for s, e, _prot, _locked in pr.layout.ranges:
            for addr in range(s, e, PAGE_SIZE):
                pfn = follow_page_info(pr.api.mm.find_vma(addr), addr, False)[0]
                if pfn >= 0 and not ctx.pages.flags[pfn] & F_reserved and (
                        pfn != ctx.huge_zero_pfn and not 0 <= pfn - ctx.huge_zero_pfn < 512):
                    out[addr] = ctx.mem.pfn_to_nid(pfn)
        return out

    @rule(p=sels, pick=st.integers(0, 7), attach=st.booleans())
    def cpuset(self, p, pick, attach):
        """Attach a process to the cpuset, or change the cpuset's mems: the write
        succeeds, the tasks get the mems, and every page the process had on a node
        the move gave up is now on one of the new nodes (MOVE_ALL, synchronous)."""
        pr = self._proc(p)
        task = pr.api.task
        cs = f"{self.cs_root}/cs"
        old = task.mems_allowed if task.mems_allowed is not None else self._mask(7)
        before = self._page_nodes(pr)
        if attach:
            self.m.fs.write(f"{cs}/cgroup.procs", str(pr.api.pid))
        else:
            new = self._mask(pick)
            self.m.fs.write(f"{cs}/cpuset.mems",
                            ",".join(str(n) for n in self._nodes() if new >> n & 1))
        h = self.m._vfs.state["cpuset"]
        cs_obj = h.task_css(task)
        if cs_obj.path != cs:
            return  # not in the cpuset: a mems change does not touch it
        now = cs_obj.effective_mems
        mems = task.mems_allowed if task.mems_allowed is not None else self._mask(7)
        assert mems == now, f"task mems {mems:#x}, cpuset {now:#x}"
        after = self._page_nodes(pr)
        for addr, nid in before.items():
            if old >> nid & 1 and not now >> nid & 1 and addr in after:
                assert now >> after[addr] & 1, (
                    f"page {addr:#x} stayed on node {after[addr]} after the cpuset moved "
                    f"from {old:#x} to {now:#x}")


CallersModel.TestCase.settings = settings(
    max_examples=25, stateful_step_count=40, deadline=None
)
TestCallersModel = CallersModel.TestCase
