"""Bitmaps as text: the ``%*pb`` / ``%*pbl`` formats and the list parser.

Models: lib/vsprintf.c bitmap_string() and bitmap_list_string() (what ``%*pb`` and
``%*pbl`` print, e.g. cpumask_pr_args / nodemask_pr_args), lib/bitmap.c
bitmap_parselist() (cpulist_parse(), nodelist_parse()). A bitmap is an ``int`` mask
or an iterable of its set bits, as each function says.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

__all__ = ["bitmap_list_string", "bitmap_string", "bitmap_parselist"]


def bitmap_list_string(ids: Iterable[int]) -> str:
    """Models: lib/vsprintf.c bitmap_list_string() (``%*pbl``): ``0-2,5``; empty for
    no bits. ``ids`` are the set bits, in any order."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(ids)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def bitmap_string(ids: Iterable[int], nbits: int) -> str:
    """Models: lib/vsprintf.c bitmap_string() (``%*pb``): hex, 32 bits per
    comma-separated chunk, most significant chunk first; every chunk but a partial
    first one is zero-padded. ``ids`` are the set bits."""
    value = 0
    for i in ids:
        value |= 1 << i
    chunks = []
    nchunks = (nbits + 31) // 32
    for k in range(nchunks - 1, -1, -1):
        bits = min(32, nbits - 32 * k)
        word = (value >> (32 * k)) & ((1 << bits) - 1)
        chunks.append(f"{word:0{(bits + 3) // 4}x}")
    return ",".join(chunks)


def bitmap_parselist(buf: str, nmaskbits: int) -> int:
    """Models: lib/bitmap.c bitmap_parselist(): ``0-2,5`` as a mask, or -EINVAL (not a
    list) / -ERANGE (a number at or beyond ``nmaskbits``) / -EOVERFLOW (a number
    beyond unsigned int: bitmap_getnum(), 5.x; 4.14 let it wrap, not modelled).
    White space next to a comma is skipped (both eras: 4.14's loop skips isspace()
    outside a number, mainline's bitmap_find_region()); inside a region it is -EINVAL
    (4.14; mainline ends the region there, not modelled), so is an empty region
    (mainline skips it, not modelled)."""
    mask = 0
    for part in buf.split(","):
        part = part.strip(" \t\n\v\f\r")  # white space around a region is skipped
        lo, sep, hi = part.partition("-")
        if not lo.isascii() or not lo.isdigit() or sep and not (hi.isascii() and hi.isdigit()):
            return -errno.EINVAL
        if any(len(n.lstrip("0")) > 10 or int(n) >> 32 for n in (lo, hi) if n):
            return -errno.EOVERFLOW  # bitmap_getnum(): n != (unsigned int)n
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            return -errno.EINVAL
        if b >= nmaskbits:
            return -errno.ERANGE
        mask |= ((1 << (b - a + 1)) - 1) << a
    return mask
