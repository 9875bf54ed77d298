"""String to integer conversion as sysfs, procfs and cgroup stores do it.

Models: lib/kstrtox.c kstrtoull() / kstrtoll() (and _parse_integer_fixup_radix()),
kstrtoul(), kstrtoint(), kstrtouint() (a 64-bit kernel: ``long`` is 64 bits,
``int`` 32) and kstrtobool(): base 0 picks ``0x`` hex, ``0`` octal or decimal; one
leading ``+`` (``-`` for the signed forms); at most one trailing newline; nothing
else; a number too big for 64 bits is -ERANGE even with junk after its digits
(_parse_integer() reports the overflow before the rest is looked at). Each sees a C
string: a NUL ends it (a store's buffer is NUL-terminated; what follows a NUL the
user wrote is never read). Each returns ``(0, value)`` or ``(-EINVAL | -ERANGE, 0)``;
callers that want surrounding white space gone strip it first (lib/string.py
strstrip()), as the kernel's do.
"""

from __future__ import annotations

import errno

__all__ = ["kstrtoull", "kstrtoll", "kstrtoul", "kstrtoint", "kstrtouint", "kstrtobool"]

_HEX_DIGITS = "0123456789abcdefABCDEF"
_INT_MIN = -(1 << 31)
_INT_MAX = (1 << 31) - 1
_UINT_MAX = (1 << 32) - 1


def _cstr(s: str) -> str:
    """The string as the C function sees it: up to its first NUL."""
    return s.split("\x00", 1)[0]


def _kstrtoull(s: str, base: int) -> tuple[int, int]:
    """Models: _kstrtoull() = _parse_integer_fixup_radix() + _parse_integer(): the
    digits of ``base`` are consumed; an overflow of 64 bits is -ERANGE (before anything
    after the digits is looked at), no digit -EINVAL, then one newline may follow and
    nothing else (-EINVAL)."""
    if base == 0:
        if s[:1] == "0":
            base = 16 if s[1:2] in ("x", "X") and s[2:3] != "" and s[2:3] in _HEX_DIGITS else 8
        else:
            base = 10
    if base == 16 and s[:1] == "0" and s[1:2] in ("x", "X"):
        s = s[2:]
    digits = _HEX_DIGITS if base == 16 else "0123456789"[:base]
    n = 0
    while n < len(s) and s[n] in digits:
        n += 1
    significant = s[:n].lstrip("0")  # 2**64 - 1 has at most 22 digits (octal)
    if len(significant) > 22 or significant and int(significant, base) >> 64:
        return -errno.ERANGE, 0
    if n == 0:
        return -errno.EINVAL, 0
    rest = s[n:]
    if rest[:1] == "\n":
        rest = rest[1:]
    if rest:
        return -errno.EINVAL, 0
    return 0, int(significant or "0", base)


def _kstrtox(s: str, base: int, signed: bool) -> tuple[int, int]:
    """kstrtoull() (one leading "+") or kstrtoll() ("-" then _kstrtoull(), else
    kstrtoull(); -ERANGE outside long long), on the C string ``s``."""
    s = _cstr(s)
    if signed and s[:1] == "-":
        err, v = _kstrtoull(s[1:], base)
        if err:
            return err, 0
        if v > 1 << 63:
            return -errno.ERANGE, 0
        return 0, -v
    if s[:1] == "+":
        s = s[1:]
    err, v = _kstrtoull(s, base)
    if err:
        return err, 0
    if signed and v >> 63:
        return -errno.ERANGE, 0
    return 0, v


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
    s = _cstr(s)
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


def simple_strtoull(s: str, base: int = 0) -> int:
    """Models: lib/vsprintf.c simple_strtoull(): the radix prefix as kstrtoull takes it,
    then every digit of that base up to the first other character (none is 0), no
    error and no range check (the value wraps at 64 bits, as the C loop does)."""
    s = _cstr(s)
    if base == 0:
        if s[:1] == "0":
            base = 16 if s[1:2] in ("x", "X") and s[2:3] != "" and s[2:3] in _HEX_DIGITS else 8
        else:
            base = 10
    if base == 16 and s[:1] == "0" and s[1:2] in ("x", "X"):
        s = s[2:]
    digits = _HEX_DIGITS if base == 16 else "0123456789"[:base]
    val = 0
    for c in s:
        if c not in digits:
            break
        val = (val * base + int(c, 16)) & ((1 << 64) - 1)
    return val


def simple_strtoll(s: str, base: int = 0) -> int:
    """Models: simple_strtoll(): a leading '-' negates simple_strtoull() of the rest
    (returned as a Python int, negative when it is)."""
    s = _cstr(s)
    if s[:1] == "-":
        v = simple_strtoull(s[1:], base)
        return -(v - (1 << 64) if v >> 63 else v)
    v = simple_strtoull(s, base)
    return v - (1 << 64) if v >> 63 else v
