"""lib/vsprintf.c %*pb / %*pbl and lib/bitmap.c bitmap_parselist() (thpsim.lib.bitmap)."""

import errno

import pytest

from thpsim.lib.bitmap import bitmap_list_string, bitmap_parselist, bitmap_string


@pytest.mark.parametrize("ids,text", [
    ([], ""),
    ([3], "3"),
    ([0, 1, 2, 5], "0-2,5"),
    ([5, 2, 1, 0, 2], "0-2,5"),        # any order, duplicates once
    ([0, 2, 4, 5, 6, 9], "0,2,4-6,9"),
])
def test_bitmap_list_string(ids, text):
    assert bitmap_list_string(ids) == text


@pytest.mark.parametrize("ids,nbits,text", [
    ([0, 1], 2, "3"),
    ([0, 1, 2, 3], 4, "f"),
    ([0], 32, "00000001"),
    ([32], 64, "00000001,00000000"),
    ([0, 33], 40, "02,00000001"),      # a partial first chunk keeps its own width
    ([], 1024, ",".join(["00000000"] * 32)),
])
def test_bitmap_string(ids, nbits, text):
    assert bitmap_string(ids, nbits) == text


@pytest.mark.parametrize("text,nbits,expected", [
    ("0", 4, 0b1),
    ("0-2,5", 8, 0b100111),
    ("3,1", 4, 0b1010),
    ("2-1", 4, -errno.EINVAL),
    ("a", 4, -errno.EINVAL),
    ("0-", 4, -errno.EINVAL),
    ("4", 4, -errno.ERANGE),
    ("1-4", 4, -errno.ERANGE),
])
def test_bitmap_parselist(text, nbits, expected):
    assert bitmap_parselist(text, nbits) == expected


def test_parselist_a_number_beyond_unsigned_int_overflows():
    """bitmap_getnum(): a number that does not fit an unsigned int is -EOVERFLOW (the
    fuzzer's 5000-digit cpuset.cpus raised ValueError: Python's int() digit limit)."""
    assert bitmap_parselist("1" * 5000, 64) == -errno.EOVERFLOW
    assert bitmap_parselist("0-4294967296", 64) == -errno.EOVERFLOW
    assert bitmap_parselist("4294967295", 64) == -errno.ERANGE
    assert bitmap_parselist("0" * 40 + "3", 64) == 1 << 3


def test_parselist_skips_white_space_around_regions():
    """Both eras skip white space next to a comma: cpuset.cpus "0, 1" is CPUs 0 and 1
    (4.14's __bitmap_parselist() skips isspace() before it looks at a character;
    mainline's bitmap_find_region() skips spaces and commas); the model said EINVAL."""
    assert bitmap_parselist("0, 1", 4) == 0b11
    assert bitmap_parselist("0 ,2-3", 4) == 0b1101
    assert bitmap_parselist("0 - 1", 4) == -errno.EINVAL
