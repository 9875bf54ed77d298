"""String to integer conversion as sysfs, procfs and cgroup stores do it.

Models: lib/kstrtox.c kstrtoull() / kstrtoll() (and _parse_integer_fixup_radix()),
kstrtoul(), kstrtoint(), kstrtouint() (a 64-bit kernel: ``long`` is 64 bits,
``int`` 32) and kstrtobool(): base 0 picks ``0x`` hex, ``0`` octal or decimal; one
leading ``+`` (``-`` for the signed forms); at most one trailing newline; nothing
else. Each returns ``(0, value)`` or ``(-EINVAL | -ERANGE, 0)``; callers that want
surrounding white space gone strip it first (lib/string.py strstrip()), as the
kernel's do.
"""

from __future__ import annotations

import errno

__all__ = ["kstrtoull", "kstrtoll", "kstrtoul", "kstrtoint", "kstrtouint", "kstrtobool"]

_HEX_DIGITS = "0123456789abcdefABCDEF"
_INT_MIN = -(1 << 31)
_INT_MAX = (1 << 31) - 1
_UINT_MAX = (1 << 32) - 1


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
    """Models: kstrtoull(): an unsigned 64-bit number."""
    return _kstrtox(s, base, False)


def kstrtoll(s: str, base: int = 0) -> tuple[int, int]:
    """Models: kstrtoll(): a signed 64-bit number."""
    return _kstrtox(s, base, True)


def kstrtoul(s: str, base: int = 0) -> tuple[int, int]:
    """Models: kstrtoul(): kstrtoull() on a 64-bit kernel."""
    return _kstrtox(s, base, False)


def kstrtoint(s: str, base: int = 0) -> tuple[int, int]:
    """Models: kstrtoint(): kstrtoll(), then -ERANGE outside ``int``."""
    err, v = _kstrtox(s, base, True)
    if err:
        return err, 0
    if not _INT_MIN <= v <= _INT_MAX:
        return -errno.ERANGE, 0
    return 0, v


def kstrtouint(s: str, base: int = 0) -> tuple[int, int]:
    """Models: kstrtouint(): kstrtoull(), then -ERANGE above ``unsigned int``."""
    err, v = _kstrtox(s, base, False)
    if err:
        return err, 0
    if v > _UINT_MAX:
        return -errno.ERANGE, 0
    return 0, v


def kstrtobool(s: str) -> tuple[int, bool]:
    """Models: kstrtobool() (5.x+; 4.14's strtobool() lacks t/T/f/F): the first
    character decides -- y/Y/t/T/1 true, n/N/f/F/0 false, o/O followed by n/N (on) or
    f/F (off); the rest of the string is not looked at. Anything else -EINVAL.
    Returns ``(0, value)`` or ``(-EINVAL, False)``."""
    c = s[:1]
    if c in ("y", "Y", "t", "T", "1"):
        return 0, True
    if c in ("n", "N", "f", "F", "0"):
        return 0, False
    if c in ("o", "O"):
        if s[1:2] in ("n", "N"):
            return 0, True
        if s[1:2] in ("f", "F"):
            return 0, False
    return -errno.EINVAL, False
