"""String helpers of lib/string.c.

Models: lib/string.c sysfs_streq() and strstrip() (strim()).
"""

from __future__ import annotations

__all__ = ["sysfs_streq", "strstrip"]

#: isspace() of the kernel's _ctype table, in the ASCII range (the model leaves out
#: 0xa0, which the table also counts as a space)
_SPACES = " \t\n\v\f\r"


def sysfs_streq(buf: bytes, word: str) -> bool:
    """Models: lib/string.c sysfs_streq(): equal, ignoring one trailing newline on each."""
    s = buf[:-1] if buf.endswith(b"\n") else buf
    return s == word.encode()


def strstrip(s: str) -> str:
    """Models: lib/string.c strim() (strstrip()): leading and trailing white space
    removed."""
    return s.strip(_SPACES)
