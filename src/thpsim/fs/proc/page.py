"""/proc/kpageflags and /proc/kpagecount: one little-endian u64 per PFN.

Models: fs/proc/page.c (kpagecount_read, kpageflags_read, stable_page_flags),
include/uapi/linux/kernel-page-flags.h; v4.14 and mainline. Both files are
mode 0400, owner root. Offset and length must be multiples of 8 (EINVAL);
reading past the last PFN returns what is left (nothing at or past the end).

Computed over the whole requested range at once with NumPy (a tool such as
page-types reads every PFN); each mask below is one step of
stable_page_flags().

Era differences: 4.14 copies each frame's own ``page->flags`` (a THP tail
shows COMPOUND_TAIL, THP, MMAP and ANON but not the head's LRU or DIRTY);
mainline copies the folio's flags (the head's, for every subpage) except
HWPOISON, which stays per page. Mainline adds OFFLINE (23, 5.0) and PGTABLE
(26, 4.18), shows frames of offlined memory as NOPAGE (pfn_to_online_page),
and gives kpagecount 0 for pages with a page type (buddy, page table); 4.14
reports page_mapcount() of a free block's head as is (-127, as a u64).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from thpsim.mm.page_alloc import MAX_ORDER_NR_PAGES
from thpsim.mm.page_flags import (
    PAGE_BUDDY_MAPCOUNT_VALUE,
    PAGE_MAPPING_ANON,
    F_head,
    F_lru,
    F_offline,
    F_pgtable,
    F_swapbacked,
    F_tail,
    PG_active,
    PG_arch_1,
    PG_dirty,
    PG_error,
    PG_hwpoison,
    PG_idle,
    PG_locked,
    PG_lru,
    PG_mappedtodisk,
    PG_mlocked,
    PG_owner_priv_1,
    PG_private,
    PG_private_2,
    PG_reclaim,
    PG_referenced,
    PG_reserved,
    PG_slab,
    PG_swapbacked,
    PG_unevictable,
    PG_uptodate,
    PG_writeback,
)

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["stable_page_flags", "page_mapcounts", "kpageflags_read", "kpagecount_read",
           "register"]

# include/uapi/linux/kernel-page-flags.h
KPF_LOCKED = 0
KPF_ERROR = 1
KPF_REFERENCED = 2
KPF_UPTODATE = 3
KPF_DIRTY = 4
KPF_LRU = 5
KPF_ACTIVE = 6
KPF_SLAB = 7
KPF_WRITEBACK = 8
KPF_RECLAIM = 9
KPF_BUDDY = 10
KPF_MMAP = 11
KPF_ANON = 12
KPF_SWAPCACHE = 13
KPF_SWAPBACKED = 14
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_HUGE = 17
KPF_UNEVICTABLE = 18
KPF_HWPOISON = 19
KPF_NOPAGE = 20
KPF_KSM = 21
KPF_THP = 22
KPF_OFFLINE = 23  # KPF_BALLOON before 5.0
KPF_ZERO_PAGE = 24
KPF_IDLE = 25
KPF_PGTABLE = 26  # 4.18+
# kernel-hacking flags (fs/proc/page.c)
KPF_RESERVED = 32
KPF_MLOCKED = 33
KPF_MAPPEDTODISK = 34
KPF_PRIVATE = 35
KPF_PRIVATE_2 = 36
KPF_OWNER_PRIVATE = 37
KPF_ARCH = 38

KPMSIZE = 8
#: kpf_copy_bit() pairs: (KPF bit, PG bit), in stable_page_flags() order
_COPIED = (
    (KPF_LOCKED, PG_locked),
    (KPF_SLAB, PG_slab),
    (KPF_ERROR, PG_error),
    (KPF_DIRTY, PG_dirty),
    (KPF_UPTODATE, PG_uptodate),
    (KPF_WRITEBACK, PG_writeback),
    (KPF_LRU, PG_lru),
    (KPF_REFERENCED, PG_referenced),
    (KPF_ACTIVE, PG_active),
    (KPF_RECLAIM, PG_reclaim),
    (KPF_SWAPBACKED, PG_swapbacked),
    (KPF_UNEVICTABLE, PG_unevictable),
    (KPF_MLOCKED, PG_mlocked),
    (KPF_RESERVED, PG_reserved),
    (KPF_MAPPEDTODISK, PG_mappedtodisk),
    (KPF_PRIVATE, PG_private),
    (KPF_PRIVATE_2, PG_private_2),
    (KPF_OWNER_PRIVATE, PG_owner_priv_1),
    (KPF_ARCH, PG_arch_1),
)
#: PageSwapCache(): PG_swapbacked and PG_swapcache (= PG_owner_priv_1)
_SWAPCACHE = F_swapbacked | (1 << PG_owner_priv_1)
_U64 = np.uint64


def _bit(cond: np.ndarray, kpf: int) -> np.ndarray:
    return cond.astype(_U64) << _U64(kpf)


def _heads(pages: Any, pfns: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """compound_head() of every PFN."""
    order = pages.order_np[pfns].astype(np.int64)
    tail = flags & F_tail != 0
    return np.where(tail, pfns & ~((np.int64(1) << order) - 1), pfns)


def _free_block_frames(ctx: Any, start: int, nr: int) -> np.ndarray:
    """is_free_buddy_page() of every PFN: inside a free block of the buddy allocator."""
    pages = ctx.pages
    lo = start & ~(MAX_ORDER_NR_PAGES - 1)
    hi = min(ctx.mem.max_pfn, (start + nr + MAX_ORDER_NR_PAGES - 1) & ~(MAX_ORDER_NR_PAGES - 1))
    heads = np.flatnonzero(pages.mapcount_np[lo:hi] == PAGE_BUDDY_MAPCOUNT_VALUE) + lo
    ends = np.minimum(heads + (np.int64(1) << pages.order_np[heads].astype(np.int64)), hi)
    diff = np.zeros(hi - lo + 1, dtype=np.int64)
    np.add.at(diff, heads - lo, 1)
    np.add.at(diff, ends - lo, -1)
    inside = np.cumsum(diff)[: hi - lo] > 0
    return inside[start - lo : start - lo + nr]


def _mapped(ctx: Any, pfns: np.ndarray, flags: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """page_mapped(): a small page's _mapcount >= 0; for a compound page, its PMD mapping
    or any subpage's PTE mapping."""
    pages = ctx.pages
    out = pages.mapcount_np[pfns] >= 0
    compound = flags & (F_head | F_tail) != 0
    uniq, inverse = np.unique(heads[compound], return_inverse=True)
    head_mapped = np.array(
        [
            pages.compound_mapcount[h] >= 0
            or bool((pages.mapcount_np[h : h + (1 << pages.order[h])] >= 0).any())
            for h in uniq.tolist()
        ],
        dtype=bool,
    )
    out[compound] = head_mapped[inverse] if len(uniq) else out[compound]
    return out


def stable_page_flags(ctx: Any, start: int, nr: int) -> np.ndarray:
    """The KPF_* word of each PFN in [start, start + nr). Models: stable_page_flags()."""
    profile = ctx.profile
    pages = ctx.pages
    pfns = np.arange(start, start + nr, dtype=np.int64)
    flags = pages.flags_np[pfns].astype(np.int64)
    heads = _heads(pages, pfns, flags)
    hflags = pages.flags_np[heads].astype(np.int64)
    k = hflags if profile.kpageflags_folio_flags else flags
    u = np.zeros(nr, dtype=_U64)
    u |= _bit(_mapped(ctx, pfns, flags, heads), KPF_MMAP)
    anon = pages.mapping_np[heads] & PAGE_MAPPING_ANON != 0
    u |= _bit(anon, KPF_ANON)
    u |= _bit(flags & F_head != 0, KPF_COMPOUND_HEAD)
    u |= _bit(flags & F_tail != 0, KPF_COMPOUND_TAIL)
    compound = flags & (F_head | F_tail) != 0
    # PageTransCompound: a THP if the head is on the LRU or anon; the huge zero page too
    thp = compound & ((hflags & F_lru != 0) | anon)
    huge_zero = compound & ~thp & (heads == ctx.huge_zero_pfn)
    u |= _bit(thp | huge_zero, KPF_THP)
    u |= _bit(huge_zero | (~compound & (pfns == ctx.zero_pfn)), KPF_ZERO_PAGE)
    buddy = pages.mapcount_np[pfns] == PAGE_BUDDY_MAPCOUNT_VALUE
    buddy |= (pages.refcount_np[heads] == 0) & _free_block_frames(ctx, start, nr)
    u |= _bit(buddy, KPF_BUDDY)
    u |= _bit(k >> PG_idle & 1 != 0, KPF_IDLE)
    if profile.kpageflags_offline:
        u |= _bit(flags & F_offline != 0, KPF_OFFLINE)
    if profile.kpageflags_pgtable:
        u |= _bit(flags & F_pgtable != 0, KPF_PGTABLE)
    for kpf, pg in _COPIED:
        u |= _bit(k >> pg & 1 != 0, kpf)
    if not profile.kpageflags_anon_exclusive_mappedtodisk:
        # The model keeps PG_anon_exclusive (5.19+) in PG_mappedtodisk's bit in every
        # era; 4.14 never set PG_mappedtodisk on an anon page.
        u &= ~_bit(anon, KPF_MAPPEDTODISK)
    u |= _bit(k & _SWAPCACHE == _SWAPCACHE, KPF_SWAPCACHE)
    u |= _bit(flags >> PG_hwpoison & 1 != 0, KPF_HWPOISON)  # per page in both eras
    if profile.kpageflags_offline_block_nopage:
        # pfn_to_online_page() is NULL in an offlined memory block: stable_page_flags(NULL)
        u = np.where(flags & F_offline != 0, _U64(1 << KPF_NOPAGE), u)
    return u


def page_mapcounts(ctx: Any, start: int, nr: int) -> np.ndarray:
    """The kpagecount word of each PFN. Models: kpagecount_read()'s page_mapcount()
    (PTE maps of the page plus PMD maps of its THP)."""
    pages = ctx.pages
    pfns = np.arange(start, start + nr, dtype=np.int64)
    flags = pages.flags_np[pfns].astype(np.int64)
    heads = _heads(pages, pfns, flags)
    mc = pages.mapcount_np[pfns].astype(np.int64) + 1
    compound = flags & (F_head | F_tail) != 0
    mc += np.where(compound, pages.compound_mapcount_np[heads].astype(np.int64) + 1, 0)
    if ctx.profile.kpagecount_typed_zero:
        typed = (pages.mapcount_np[pfns] == PAGE_BUDDY_MAPCOUNT_VALUE) | (
            flags & (F_pgtable | F_offline) != 0
        )
        mc = np.where(typed, 0, mc)
    return mc.astype(_U64)  # a negative count wraps to a u64, as put_user() stores it


def _kpage_read(f: File, ppos: int, count: int, fn) -> bytes:
    """kpagecount_read()/kpageflags_read(): alignment, clamp to max_pfn, one word per PFN."""
    if ppos % KPMSIZE or count % KPMSIZE:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
    max_pfn = f.ctx.mem.max_pfn
    if ppos >= max_pfn * KPMSIZE:
        return b""
    count = min(count, max_pfn * KPMSIZE - ppos)
    if not count:
        return b""
    return fn(f.ctx, ppos // KPMSIZE, count // KPMSIZE).astype("<u8").tobytes()


def kpageflags_read(f: File, ppos: int, count: int) -> bytes:
    return _kpage_read(f, ppos, count, stable_page_flags)


def kpagecount_read(f: File, ppos: int, count: int) -> bytes:
    return _kpage_read(f, ppos, count, page_mapcounts)


def register(vfs: VFS) -> None:
    vfs.register_file("/proc/kpageflags", kpageflags_read, mode=0o400, binary=True)
    vfs.register_file("/proc/kpagecount", kpagecount_read, mode=0o400, binary=True)
