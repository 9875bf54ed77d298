"""String to integer conversion as sysfs and cgroup stores do it.

Models: lib/kstrtox.c kstrtoull() / kstrtoll() (and _parse_integer_fixup_radix()):
base 0 picks ``0x`` hex, ``0`` octal or decimal; one leading ``+`` (``-`` for the
signed form); at most one trailing newline; nothing else.
"""

from __future__ import annotations

import errno

__all__ = ["kstrtoull", "kstrtoll"]

_HEX_DIGITS = "0123456789abcdefABCDEF"


def _kstrtox(s: str, base: int, signed: bool) -> tuple[int, int]:
    if s.endswith("\n"):
        s = s[:-1]
    neg = False
    if s[:1] == "+":
        s = s[1:]
    elif signed and s[:1] == "-":
        neg, s = True, s[1:]
    if base in (0, 16) and s[:1] == "0" and s[1:2] in ("x", "X") and s[2:3] and (
            s[2:3] in _HEX_DIGITS):
        base, s = 16, s[2:]
    elif base == 0:
        base = 8 if s[:1] == "0" else 10
    digits = _HEX_DIGITS if base == 16 else "0123456789"[:base]
    if not s or any(c not in digits for c in s):
        return -errno.EINVAL, 0
    v = int(s, base)
    if v >> 64 or (signed and v > (1 << 63) - (0 if neg else 1)):
        return -errno.ERANGE, 0
    return 0, -v if neg else v


def kstrtoull(s: str, base: int = 0) -> tuple[int, int]:
    """Returns ``(0, value)`` or ``(-EINVAL | -ERANGE, 0)``."""
    return _kstrtox(s, base, False)


def kstrtoll(s: str, base: int = 0) -> tuple[int, int]:
    """Returns ``(0, value)`` or ``(-EINVAL | -ERANGE, 0)``."""
    return _kstrtox(s, base, True)
