"""Idle page tracking: ``/sys/kernel/mm/page_idle/bitmap``.

Models: mm/page_idle.c (CONFIG_IDLE_PAGE_TRACKING, 64-bit: PG_young and PG_idle are
page flags), v4.14 and v6.x. The file is a bitmap of PFNs, one bit per frame, read
and written in 64-bit words (``BITMAP_CHUNK_SIZE``): a position or count that is not
a multiple of 8 is EINVAL. It is root's, mode 0600 (``BIN_ATTR(bitmap, 0600, ...)``):
anyone else is refused at open with EACCES.

* **Write** a word with bit ``pfn % 64`` set: the folio at that PFN has its accessed
  bits cleared through the rmap (page_idle_clear_pte_refs(); a bit that was set
  leaves PG_young on the folio so reclaim still sees the reference) and is marked
  idle (PG_idle). A write at or past max_pfn is ENXIO.
* **Read**: bit set if the folio is still idle: PG_idle set and, after clearing the
  accessed bits through the rmap once more, no mapping was young in between (a
  young entry clears PG_idle). A read at or past max_pfn returns 0 bytes.

Only a PFN whose page is an online, in-use LRU page counts
(page_idle_get_folio()/4.14 page_idle_get_page(): PageLRU and a reference taken);
everything else (free frames, page tables, offline blocks) reads 0 and is skipped on
write. A THP is one folio: its **head** PFN's bit stands for the whole compound page
(the rmap walk clears the accessed bit of the PMD, or of every PTE of a PTE-mapped
THP, and one young subpage makes the THP referenced); a tail PFN is skipped (6.x:
``PageTail`` returns NULL; 4.14: a tail's refcount is 0, so get_page_unless_zero()
fails), so tail bits read 0.

Like x86's ptep_clear_young_notify()/pmdp_clear_young_notify(), clearing an accessed
bit does not flush the TLB: a CPU that still holds the translation does not set the
bit again until it walks the page tables (a TLB miss). This is the hardware's
behaviour and idle tracking's known imprecision (arch/x86/mm/pgtable.c
ptep_clear_flush_young()'s comment); thpsim's TLBs are FIFO of the configured size.

Simplified: no mmu_notifier_clear_young() (no secondary MMUs); no cond_resched()
points (the rmap walk's own lock is the only preemption point); the file is read and
written whole words at a time from a single buffer (no short user copies). A THP
split (mm/huge_memory.py __split_huge_page(), as __split_huge_page_tail()) and
migration (migrate_page_states()) carry PG_young and PG_idle.
"""

from __future__ import annotations

import errno
import os
import struct
from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import pmd_mkold, pmd_present, pmd_young, pte_mkold, pte_young
from thpsim.kernel.sched import KernelPath
from thpsim.mm import page_vma_mapped as pvm
from thpsim.mm.page_flags import F_idle, F_lru, F_offline, F_tail, F_young
from thpsim.mm.pgtable_generic import pmdp_get, set_pmd_at
from thpsim.mm.rmap import page_anon_vma, page_mapped, rmap_walk_anon
from thpsim.mm.swap import get_page_unless_zero, hpage_nr_pages, put_page

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["page_idle_get_folio", "page_idle_clear_pte_refs", "page_idle_bitmap_read",
           "page_idle_bitmap_write", "register", "BITMAP_CHUNK_SIZE", "BITMAP_CHUNK_BITS",
           "PAGE_IDLE_BITMAP"]

#: mm/page_idle.c: the bitmap is read and written in u64 chunks
BITMAP_CHUNK_SIZE = 8
BITMAP_CHUNK_BITS = BITMAP_CHUNK_SIZE * 8
PAGE_IDLE_BITMAP = "/sys/kernel/mm/page_idle/bitmap"


def page_idle_get_folio(ctx: Any, pfn: int) -> int:
    """The folio (its head PFN) at ``pfn`` with a reference taken, or -1.

    Models: page_idle_get_folio() (6.x; 4.14 page_idle_get_page()): an online page,
    not a tail, on the LRU, whose reference count is not zero (get_page_unless_zero),
    and still on the LRU after that. The caller drops the reference (put_page()).
    """
    pages = ctx.pages
    if not ctx.mem.pfn_valid(pfn):
        return -1
    f = pages.flags[pfn]
    if f & (F_offline | F_tail) or not f & F_lru:  # pfn_to_online_page(), PageTail()
        return -1
    if not get_page_unless_zero(ctx, pfn):
        return -1
    if not pages.flags[pfn] & F_lru:
        put_page(ctx, pfn)
        return -1
    return pfn


def page_idle_clear_pte_refs(ctx: Any, head: int) -> KernelPath[None]:
    """Clear the accessed bit of every mapping of the folio; a young one clears
    PG_idle and sets PG_young.

    Models: page_idle_clear_pte_refs() and page_idle_clear_pte_refs_one(), v4.14 and
    6.x: nothing for an unmapped folio or one without an anon_vma; otherwise an rmap
    walk (anon: no folio lock) whose per-VMA step walks the folio's mappings
    (page_vma_mapped_walk) and test-and-clears the PMD's accessed bit
    (pmdp_clear_young_notify) or each PTE's (ptep_clear_young_notify; one young
    subpage of a PTE-mapped THP makes the whole THP referenced). No TLB flush.
    Context: takes the anon_vma lock for read, and each PMD or PTE lock.
    Preempts: in the rmap walk (its lock, the page-table locks).
    """
    if not page_mapped(ctx, head) or page_anon_vma(ctx, head) is None:
        return
    nr = hpage_nr_pages(ctx, head)
    pages = ctx.pages

    def one(page: int, vma: Any, address: int) -> KernelPath[bool]:
        pvmw = pvm.page_vma_mapped_walk_t(page, nr, vma, address, 0)
        referenced = False
        while (yield from pvm.page_vma_mapped_walk(pvmw)):
            if pvmw.pte is None:
                v = pmdp_get(pvmw.pmd)
                if pmd_present(v) and pmd_young(v):
                    set_pmd_at(vma.vm_mm, pvmw.address, pvmw.pmd, pmd_mkold(v))
                    referenced = True
                continue
            t, i = pvmw.pte
            ptent = t[i]
            if pte_young(ptent):
                t[i] = pte_mkold(ptent)
                referenced = True
        if referenced:
            pages.clear(page, F_idle)  # folio_clear_idle()
            pages.set(page, F_young)  # folio_set_young(): reclaim still sees it
        return True

    yield from rmap_walk_anon(ctx, head, one)


def _check_pos(f: File, pos: int, count: int) -> None:
    if pos % BITMAP_CHUNK_SIZE or count % BITMAP_CHUNK_SIZE:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)


def page_idle_bitmap_read(f: File, pos: int, count: int) -> KernelPath[bytes]:
    """Models: page_idle_bitmap_read(): one bit per PFN from ``pos * 8``, up to
    max_pfn; a word is returned once its last bit was reached (a partial last word at
    max_pfn is computed but not counted, as the kernel's ``out`` pointer is not
    advanced). Context: no locks held. Preempts: in the rmap walks."""
    _check_pos(f, pos, count)
    ctx = f.ctx
    pages = ctx.pages
    max_pfn = ctx.mem.max_pfn
    start = pos * 8
    if start >= max_pfn:
        return b""
    end_pfn = min(start + count * 8, max_pfn)
    words: list[int] = []
    out = 0
    for pfn in range(start, end_pfn):
        bit = pfn % BITMAP_CHUNK_BITS
        if not bit:
            out = 0
        head = page_idle_get_folio(ctx, pfn)
        if head >= 0:
            if pages.flags[head] & F_idle:
                # referenced through a PTE since? clear the refs and check again
                yield from page_idle_clear_pte_refs(ctx, head)
                if pages.flags[head] & F_idle:
                    out |= 1 << bit
            put_page(ctx, head)
        if bit == BITMAP_CHUNK_BITS - 1:
            words.append(out)
    return struct.pack(f"<{len(words)}Q", *words)


def page_idle_bitmap_write(f: File, buf: bytes, pos: int) -> KernelPath[int]:
    """Models: page_idle_bitmap_write(): for each set bit, the folio at that PFN has
    its accessed bits cleared through the rmap and is marked idle. Returns the bytes
    consumed (whole words up to max_pfn). ENXIO at or past max_pfn.
    Context: no locks held. Preempts: in the rmap walks."""
    _check_pos(f, pos, len(buf))
    ctx = f.ctx
    pages = ctx.pages
    max_pfn = ctx.mem.max_pfn
    start = pos * 8
    if start >= max_pfn:
        raise OSError(errno.ENXIO, os.strerror(errno.ENXIO), f.path)
    end_pfn = min(start + len(buf) * 8, max_pfn)
    words = struct.unpack(f"<{len(buf) // 8}Q", buf)
    consumed = 0
    for pfn in range(start, end_pfn):
        bit = pfn % BITMAP_CHUNK_BITS
        if words[(pfn - start) // BITMAP_CHUNK_BITS] >> bit & 1:
            head = page_idle_get_folio(ctx, pfn)
            if head >= 0:
                yield from page_idle_clear_pte_refs(ctx, head)
                pages.set(head, F_idle)  # folio_set_idle()
                put_page(ctx, head)
        if bit == BITMAP_CHUNK_BITS - 1:
            consumed += BITMAP_CHUNK_SIZE
    return consumed


def register(vfs: VFS) -> None:
    """Models: page_idle_init(): ``/sys/kernel/mm/page_idle/bitmap``, 0600, root's."""
    vfs.register_dir("/sys/kernel/mm/page_idle", mode=0o755)
    vfs.register_file(PAGE_IDLE_BITMAP, page_idle_bitmap_read, page_idle_bitmap_write,
                      mode=0o600, binary=True)
