"""The files fuzzer (thpsim/fuzz/files.py) in both profiles, and proof its checks bite.

``test_files_fuzzer`` runs :class:`~thpsim.fuzz.files.FilesFuzzer` under the loaded
Hypothesis profile (tests/conftest.py: "ci" is derandomized, 25 examples) with
``STEPS`` steps each, on the seed (4.14, cgroup v1) and mainline (cgroup v2) machines.
The other tests break a store or a reader on purpose and check that the fuzzer's
checks report it: an errno Linux would not give, an internal exception, a failed write
that changed state, two reads in a row that differ.
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from thpsim.fs import drop_caches, sysfs
from thpsim.fuzz import files as ff
from thpsim.fuzz import load

#: steps per example (the CI profile's 25 examples x 2 profiles: about 10 s on 2 idle cores)
STEPS = 60
THP = "/sys/kernel/mm/transparent_hugepage"


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_files_fuzzer(profile):
    machine = ff.for_profile(profile)
    assert machine.profile == profile
    run_state_machine_as_test(
        machine, settings=settings(settings.default, stateful_step_count=STEPS))


def test_registry_names_the_files_fuzzer():
    assert load("files") is ff.FilesFuzzer
    assert ff.FilesFuzzer.profile == "seed" and ff.FilesFuzzerMainline.profile == "mainline"
    assert ff.for_profile("mainline") is not ff.FilesFuzzer


def _state(profile: str = "seed") -> ff.FilesFuzzer:
    return ff.for_profile(profile)()


def test_a_half_applied_bad_write_is_reported(monkeypatch):
    """A store that changes the knob and then refuses the buffer: the snapshot differs."""
    real = sysfs.use_zero_page_store

    def half(f, buf):
        f.ctx.thp.use_zero_page = not f.ctx.thp.use_zero_page
        return real(f, buf)

    monkeypatch.setattr(sysfs, "use_zero_page_store", half)
    s = _state()
    s.write_checked("machine", s.m.fs, f"{THP}/use_zero_page", b"1\n")  # valid: fine
    with pytest.raises(AssertionError, match="failed but changed .*use_zero_page"):
        s.write_checked("machine", s.m.fs, f"{THP}/use_zero_page", b"7")


def test_an_internal_exception_is_reported(monkeypatch):
    def broken(f, buf):
        raise ValueError("parse error the kernel would have turned into EINVAL")

    monkeypatch.setattr(sysfs, "enabled_store", broken)
    s = _state("mainline")
    with pytest.raises(ValueError):
        s.write_checked("machine", s.m.fs, f"{THP}/enabled", b"x")


def test_an_errno_linux_does_not_give_is_reported(monkeypatch):
    def enomem(f, buf):
        raise OSError(errno.ENOMEM, "no", f.path)

    monkeypatch.setattr(drop_caches, "drop_caches_sysctl_handler", enomem)
    s = _state()
    with pytest.raises(AssertionError, match="ENOMEM.*is not one Linux gives"):
        s.write_checked("machine", s.m.fs, "/proc/sys/vm/drop_caches", b"5")


def test_a_read_that_changes_between_two_reads_is_reported(monkeypatch):
    calls = iter(range(100))
    monkeypatch.setattr(sysfs, "hpage_pmd_size_show", lambda f: f"{next(calls)}\n")
    s = _state()
    with pytest.raises(AssertionError, match="two reads in a row differ"):
        s.read_checked("machine", s.m.fs, f"{THP}/hpage_pmd_size", 0, None)


def test_a_binary_read_off_the_8_byte_grid_is_reported(monkeypatch):
    """kpageflags refuses a position or count not a multiple of 8; a reader that did not
    would be caught."""
    s = _state()
    s.read_checked("machine", s.m.fs, "/proc/kpageflags", 4, 8)  # EINVAL: fine
    monkeypatch.setattr(ff, "READ_ERRNOS", frozenset())
    with pytest.raises(AssertionError, match="EINVAL"):
        s.read_checked("machine", s.m.fs, "/proc/kpageflags", 4, 8)


def test_write_errnos_per_class():
    codes, atomic = ff.write_errnos("/sys/fs/cgroup/cpuset/a/cpuset.mems")
    assert errno.ERANGE in codes and errno.ENOSPC in codes and atomic
    codes, atomic = ff.write_errnos("/sys/devices/system/memory/memory3/state")
    assert errno.EBUSY in codes and not atomic
    codes, _ = ff.write_errnos("/proc/meminfo")
    assert codes == frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES,
                               errno.EIO, errno.EINVAL, errno.ENAMETOOLONG})


def test_a_count_capped_to_max_rw_count_is_aligned():
    """vfs_read() caps the count at MAX_RW_COUNT (a multiple of 8) before
    kpageflags_read() checks it: a read of INT_MAX bytes is a valid one (the fuzzer
    reported it as a misaligned read that succeeded: its own check was wrong)."""
    s = _state("mainline")
    s.read_checked("machine", s.m.fs, "/proc/kpageflags", 0, (1 << 31) - 1)
