"""String helpers of lib/string.c.

Models: lib/string.c sysfs_streq() and strstrip() (strim()).
"""

from __future__ import annotations

__all__ = ["sysfs_streq", "strstrip"]

#: isspace() of the kernel's _ctype table (lib/ctype.c): the ASCII white space and
#: 0xa0 (a byte decoded as latin-1)
_SPACES = " \t\n\v\f\r\xa0"


def sysfs_streq(buf: bytes, word: str) -> bool:
    """Models: lib/string.c sysfs_streq(): equal, ignoring one trailing newline on each."""
    s = buf[:-1] if buf.endswith(b"\n") else buf
    return s == word.encode()


def strstrip(s: str) -> str:
    """Models: lib/string.c strim() (strstrip()): leading and trailing white space
    removed."""
    return s.strip(_SPACES)
