"""lib/kstrtox.c conversions (thpsim.lib.kstrtox), as sysfs, procfs and cgroup stores use them."""

import errno

import pytest

from thpsim.lib.kstrtox import kstrtobool, kstrtoint, kstrtoll, kstrtouint, kstrtoul, kstrtoull


@pytest.mark.parametrize("text,unsigned,signed", [
    ("0x10", (0, 16), (0, 16)),
    ("010", (0, 8), (0, 8)),          # a leading 0 is octal
    ("10\n", (0, 10), (0, 10)),       # one trailing newline
    ("10\n\n", (-errno.EINVAL, 0), (-errno.EINVAL, 0)),
    ("+5", (0, 5), (0, 5)),
    ("-5", (-errno.EINVAL, 0), (0, -5)),
    ("", (-errno.EINVAL, 0), (-errno.EINVAL, 0)),
    ("0x", (-errno.EINVAL, 0), (-errno.EINVAL, 0)),
    ("08", (-errno.EINVAL, 0), (-errno.EINVAL, 0)),
    (" 1", (-errno.EINVAL, 0), (-errno.EINVAL, 0)),
    ("18446744073709551615", (0, (1 << 64) - 1), (-errno.ERANGE, 0)),
    ("18446744073709551616", (-errno.ERANGE, 0), (-errno.ERANGE, 0)),
    ("-9223372036854775808", (-errno.EINVAL, 0), (0, -(1 << 63))),
    ("0xfffffffff000", (0, 0xFFFFFFFFF000), (0, 0xFFFFFFFFF000)),
])
def test_base_0(text, unsigned, signed):
    assert kstrtoull(text) == unsigned
    assert kstrtoll(text) == signed


@pytest.mark.parametrize("text,base,expected", [
    ("2147483647", 10, (0, (1 << 31) - 1)),
    ("2147483648", 10, (-errno.ERANGE, 0)),
    ("-2147483648", 10, (0, -(1 << 31))),
    ("-2147483649", 10, (-errno.ERANGE, 0)),
    ("0x10", 10, (-errno.EINVAL, 0)),   # base 10: no prefix
    ("010", 10, (0, 10)),
    ("0x10", 0, (0, 16)),
    ("-+1", 0, (-errno.EINVAL, 0)),
    ("99999999999999999999", 0, (-errno.ERANGE, 0)),
])
def test_kstrtoint(text, base, expected):
    assert kstrtoint(text, base) == expected


@pytest.mark.parametrize("text,expected", [
    ("4294967295", (0, (1 << 32) - 1)),
    ("4294967296", (-errno.ERANGE, 0)),
    ("-1", (-errno.EINVAL, 0)),
])
def test_kstrtouint(text, expected):
    assert kstrtouint(text, 10) == expected


def test_kstrtoul_is_kstrtoull_on_64_bit():
    assert kstrtoul("18446744073709551615", 10) == (0, (1 << 64) - 1)
    assert kstrtoul("18446744073709551616", 10) == (-errno.ERANGE, 0)


@pytest.mark.parametrize("text,expected", [
    ("1", (0, True)), ("y", (0, True)), ("Yes", (0, True)), ("t", (0, True)),
    ("on", (0, True)), ("ON\n", (0, True)),
    ("0", (0, False)), ("n", (0, False)), ("false", (0, False)), ("off", (0, False)),
    ("1junk", (0, True)),               # only the first characters are read
    ("o", (-errno.EINVAL, False)), ("", (-errno.EINVAL, False)),
    (" 1", (-errno.EINVAL, False)), ("2", (-errno.EINVAL, False)),
])
def test_kstrtobool(text, expected):
    assert kstrtobool(text) == expected
