"""String helpers of lib/string.c.

Models: lib/string.c sysfs_streq() and strstrip() (strim()).
"""

from __future__ import annotations

__all__ = ["sysfs_streq", "strstrip"]

#: isspace() of the kernel's _ctype table (lib/ctype.c): the ASCII white space and
#: 0xa0 (a byte decoded as latin-1)
_SPACES = " \t\n\v\f\r\xa0"


def sysfs_streq(buf: bytes, word: str) -> bool:
    """Models: lib/string.c sysfs_streq(): equal as C strings (up to a NUL), ignoring
    one trailing newline on each."""
    buf = buf.split(b"\x00", 1)[0]  # a C string: what follows a NUL is never compared
    s = buf[:-1] if buf.endswith(b"\n") else buf
    return s == word.encode()


def strstrip(s: str) -> str:
    """Models: lib/string.c strim() (strstrip()): leading and trailing white space
    removed, of the C string (up to the first NUL: strlen() finds its end)."""
    return s.split("\x00", 1)[0].strip(_SPACES)
