"""NUMA memory policy: where a fault's page is allocated.

Models: mm/mempolicy.c alloc_pages_vma() (v4.14; 6.x alloc_pages_mpol() for the
THP remote fallback), get_vma_policy(). This issue's scope is the default
(local) policy; mbind/set_mempolicy/get_mempolicy and the other modes are the
migration issue's and extend :func:`policy_node` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.mm.gfp import __GFP_NORETRY, __GFP_THISNODE, gfpflags_allow_blocking

if TYPE_CHECKING:
    from thpsim.mm.mm_types import vm_area_struct

MPOL_DEFAULT = 0
MPOL_PREFERRED = 1
MPOL_BIND = 2
MPOL_INTERLEAVE = 3
MPOL_LOCAL = 4
MPOL_PREFERRED_MANY = 5
MPOL_WEIGHTED_INTERLEAVE = 6
MPOL_F_STATIC_NODES = 1 << 15
MPOL_F_RELATIVE_NODES = 1 << 14
MPOL_F_NUMA_BALANCING = 1 << 13
MPOL_F_NODE = 1 << 0
MPOL_F_ADDR = 1 << 1
MPOL_F_MEMS_ALLOWED = 1 << 2
MPOL_MF_STRICT = 1 << 0
MPOL_MF_MOVE = 1 << 1
MPOL_MF_MOVE_ALL = 1 << 2
MPOL_MF_LAZY = 1 << 3


def policy_node(vma: vm_area_struct, addr: int) -> tuple[int, int | None]:
    """The preferred node and the allowed nodemask (None: any) for a fault at ``addr``.

    Default policy: the node of the CPU the faulting task runs on.
    """
    return vma.vm_mm.kernel.numa_node_id(), None


def alloc_pages_vma(gfp: int, order: int, vma: vm_area_struct, addr: int,
                    hugepage: bool = False) -> int:
    """Models: alloc_pages_vma(). Returns a PFN or -1.

    A THP (``hugepage``) is tried on the preferred node only (__GFP_THISNODE), as
    4.14 does; the mainline profile then retries any node when the allocation may
    reclaim (alloc_pages_mpol(), 5.x+).
    """
    ctx = vma.vm_mm.kernel
    nid, nodemask = policy_node(vma, addr)
    if hugepage and (nodemask is None or nodemask >> nid & 1):
        if not ctx.profile.thp_alloc_remote_fallback:
            return ctx.buddy.__alloc_pages(gfp | __GFP_THISNODE, order, nid, None)
        pfn = ctx.buddy.__alloc_pages(gfp | __GFP_THISNODE | __GFP_NORETRY, order, nid, None)
        if pfn >= 0 or not gfpflags_allow_blocking(gfp):
            return pfn
    return ctx.buddy.__alloc_pages(gfp, order, nid, nodemask)
