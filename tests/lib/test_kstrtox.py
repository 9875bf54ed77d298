"""lib/kstrtox.c conversions (thpsim.lib.kstrtox), as sysfs and cgroup stores use them."""

import errno

import pytest

from thpsim.lib.kstrtox import kstrtoll, kstrtoull


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
