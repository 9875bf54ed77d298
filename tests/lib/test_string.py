"""lib/string.c sysfs_streq() and strstrip() (thpsim.lib.string)."""

import pytest

from thpsim.lib.string import strstrip, sysfs_streq


@pytest.mark.parametrize("buf,word,equal", [
    (b"always", "always", True),
    (b"always\n", "always", True),     # one trailing newline
    (b"always\n\n", "always", False),
    (b"alw", "always", False),
    (b"always ", "always", False),
])
def test_sysfs_streq(buf, word, equal):
    assert sysfs_streq(buf, word) is equal


def test_strstrip():
    assert strstrip(" \t\n\v\f\r 12 \n") == "12"
    assert strstrip("\xa012") == "12"  # lib/ctype.c: 0xa0 is white space
    assert strstrip("\x1c1\x1c") == "\x1c1\x1c"  # not white space in the kernel's ctype


def test_c_string_functions_stop_at_nul():
    """sysfs_streq() and strim() walk C strings: a NUL ends the buffer."""
    assert sysfs_streq(b"online\x00junk", "online")
    assert sysfs_streq(b"online\n\x00", "online")
    assert not sysfs_streq(b"\x00online", "online")
    assert strstrip(" +cpuset \x00 -cpuset") == "+cpuset"
