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


@pytest.mark.parametrize("text", ["1" * 5000, "0x" + "f" * 4400, "9" * 25 + "x", "9" * 21 + "\n\n"],
                         ids=["5000-digits", "4400-hex-digits", "junk-after", "two-newlines"])
def test_overflow_is_erange_before_the_rest_is_looked_at(text):
    """_parse_integer() flags an overflow of 64 bits as it reads the digits and
    _kstrtoull() reports it (-ERANGE) before it looks at what follows them; a number of
    thousands of digits is no exception (the fuzzer's 5000-digit write raised
    ValueError: Python's int() digit limit)."""
    for fn in (kstrtoull, kstrtoll, kstrtoint, kstrtouint):
        assert fn(text) == (-errno.ERANGE, 0)
    assert kstrtoll("-" + text) == (-errno.ERANGE, 0)


def test_leading_zeros_do_not_overflow():
    assert kstrtoull("0" * 100 + "7") == (0, 7)
    assert kstrtoull("0" * 30 + "18446744073709551615", 10) == (0, (1 << 64) - 1)


@pytest.mark.parametrize("text, expected", [
    ("1\x00junk", (0, 1)), ("1\n\x00\n", (0, 1)), ("\x001", (-errno.EINVAL, 0)),
    ("0x10\x00zz", (0, 16)),
])
def test_a_nul_ends_the_string(text, expected):
    """A store's buffer is a C string: the parser stops at the first NUL (what the user
    wrote after it is never read)."""
    assert kstrtoull(text) == expected
    assert kstrtoint(text) == expected


def test_kstrtobool_stops_at_nul():
    assert kstrtobool("o\x00n") == (-errno.EINVAL, False)
    assert kstrtobool("\x00y") == (-errno.EINVAL, False)
