"""What every ``thpsim`` command shares: strict option parsing, one-line errors,
exit codes, JSON output, files written whole or not at all, a progress bar.

Exit codes, the same for every command (scripts rely on them):

====  =====================================================================
0     done; nothing wrong found
1     the run found something: a failure, a divergence, a disagreement
2     bad usage or input: an unknown option or value, a missing or corrupt
      file, an unwritable output, a machine too large to build
130   interrupted (SIGINT)
====  =====================================================================

A bad argument ends in one line on stderr, ``thpsim CMD: error: WHAT``, never a
traceback; :func:`run_tool` turns :class:`UsageError`, :class:`~thpsim.errors.ConfigError`
and a closed stdout (``thpsim ... | head``) into that.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, TextIO

from thpsim.errors import ConfigError
from thpsim.profiles import PROFILES, Profile

__all__ = ["EXIT_OK", "EXIT_FOUND", "EXIT_USAGE", "EXIT_INTERRUPTED", "UsageError",
           "run_tool", "parse_switch", "switch_kinds", "add_profile_arguments",
           "profile_switches", "resolve_profile", "KERNEL_PROFILE_NAMES", "positive_int",
           "nonneg_int", "positive_float", "nonneg_float", "emit_json", "write_atomic",
           "check_writable",
           "progress_bar", "version", "host_memory_estimate", "host_memory_limit",
           "host_memory_guard"]

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Spellings of a boolean switch value (``--switch k=v``): nothing else is accepted.
_TRUE, _FALSE = ("1", "true", "on"), ("0", "false", "off")

#: ``--profile`` also takes a kernel version: the ``mainline`` profile with the
#: switch set that the kernel oracle's recordings of that kernel are replayed under
#: (thpsim.oracle.record.KERNEL_PROFILES).
KERNEL_PROFILE_NAMES = ("7.2", "6.12", "6.1")


class UsageError(Exception):
    """A bad option, value or file: printed as one line, exit status 2."""


def version() -> str:
    """The installed distribution's version (``thpsim --version``)."""
    from importlib import metadata  # lazy: only --version and stored runs ask

    try:
        return metadata.version("thpsim")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        return "0+unknown"


def switch_kinds() -> dict[str, type]:
    """Every profile switch by name, with its type (bool, or int for a bit number)."""
    return {f.name: (bool if f.type in ("bool", bool) else int)
            for f in fields(Profile) if f.name != "name"}


def parse_switch(text: str) -> tuple[str, bool | int]:
    """``k=v`` strictly: k a known switch, v ``0/1/true/false/on/off`` for a boolean
    switch, a non-negative integer for an integer one. :class:`UsageError` otherwise."""
    k, eq, v = text.partition("=")
    kinds = switch_kinds()
    if not eq:
        raise UsageError(f"--switch {text!r}: expected NAME=VALUE")
    if k not in kinds:
        near = difflib.get_close_matches(k, kinds, n=1)
        hint = f" (did you mean {near[0]}?)" if near else " (thpsim switches lists them)"
        raise UsageError(f"--switch {text!r}: unknown profile switch {k!r}{hint}")
    low = v.strip().lower()
    if kinds[k] is bool:
        if low in _TRUE:
            return k, True
        if low in _FALSE:
            return k, False
        raise UsageError(f"--switch {text!r}: {k} takes 0/1/true/false/on/off")
    try:
        n = int(low, 0)
    except ValueError:
        n = -1
    if n < 0:
        raise UsageError(f"--switch {text!r}: {k} takes a non-negative integer")
    return k, n


def add_profile_arguments(ap: argparse.ArgumentParser, default: str = "seed") -> None:
    """``--profile P`` (seed, mainline, or a kernel version 7.2/6.12/6.1) and, any
    number of times, ``--switch NAME=VALUE``."""
    ap.add_argument("--profile", default=default,
                    choices=(*PROFILES, *KERNEL_PROFILE_NAMES),
                    help="behaviour profile: seed (4.14), mainline (7.2), or a kernel "
                         "version whose oracle switch set to apply (default %(default)s)")
    ap.add_argument("--switch", action="append", default=[], metavar="NAME=VALUE",
                    help="set a profile switch (repeatable; thpsim switches lists them)")


def resolve_profile(name: str, switches: dict[str, Any] | None = None
                    ) -> tuple[str, dict[str, Any]]:
    """(profile, switches) for a ``--profile`` value: a kernel version becomes
    ``mainline`` with that kernel's switch set; explicit switches win."""
    merged: dict[str, Any] = {}
    if name in KERNEL_PROFILE_NAMES:
        from thpsim.oracle.record import KERNEL_PROFILES  # lazy: only for kernel profiles

        name, base = KERNEL_PROFILES[name]
        merged.update(base)
    elif name not in PROFILES:
        raise UsageError(f"unknown profile {name!r}; known: "
                         f"{', '.join((*PROFILES, *KERNEL_PROFILE_NAMES))}")
    merged.update(switches or {})
    return name, merged


def profile_switches(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--switch`` options given, parsed strictly (:func:`parse_switch`); a
    kernel-version ``--profile`` becomes ``mainline`` in ``args`` and its switch set
    joins the result (explicit switches win)."""
    switches = dict(parse_switch(s) for s in args.switch)
    if getattr(args, "profile", None) is not None:
        args.profile, switches = resolve_profile(args.profile, switches)
    return switches


def _number(kind: Callable[[str], Any], lo: float, what: str) -> Callable[[str], Any]:
    def conv(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if v < lo or v != v or v == float("inf"):  # NaN and infinity too
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return v

    conv.__name__ = what
    return conv


#: argparse types: ``type=positive_int`` rejects 0 and negatives with a clear message
positive_int = _number(int, 1, "a positive integer")
nonneg_int = _number(int, 0, "a non-negative integer")
positive_float = _number(float, 1e-300, "a positive number")
nonneg_float = _number(float, 0.0, "a non-negative number")


def emit_json(obj: Any, out: TextIO | None = None) -> None:
    """Results as one JSON document on stdout (``--json``)."""
    out = sys.stdout if out is None else out
    json.dump(obj, out, indent=2, sort_keys=True, default=str)
    out.write("\n")


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail now, before the run, if ``path`` cannot be written (its directory must
    exist or be creatable and writable); nothing is created."""
    p = Path(path)
    if os.path.isdir(p):
        raise UsageError(f"{p}: is a directory")
    probe = os.path.dirname(os.path.abspath(p))
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise UsageError(f"{p}: cannot write there ({probe} is not a directory)")
    try:  # the only reliable test (root, read-only mounts, /proc): make a file, remove it
        fd, tmp = tempfile.mkstemp(prefix=".thpsim-probe.", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise UsageError(f"{p}: cannot write there ({probe}: {e.strerror})") from None
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"{p}: not writable")
    return p


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``path`` whole or not at all (a temporary file in the same directory,
    then rename), so an interrupted or failed write leaves nothing half-written."""
    p = check_writable(path)
    where = os.path.dirname(os.path.abspath(p))
    try:
        os.makedirs(where, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=where)
    except OSError as e:
        raise UsageError(f"{p}: cannot write it ({e.strerror})") from None
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would make it (mkstemp makes 0600)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return p


def progress_bar(total: int | None, desc: str, unit: str = "it", enabled: bool | None = None,
                 position: int | None = None) -> Any:
    """A progress bar on stderr (tqdm), off when stderr is not a terminal (or
    ``enabled=False``), so results on stdout stay clean. ``position``: the bar's line,
    for one bar per worker process."""
    from tqdm import tqdm  # lazy: only long commands draw a bar

    disable = (not sys.stderr.isatty()) if enabled is None else not enabled
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable,
                dynamic_ncols=True, leave=False, position=position)


@contextlib.contextmanager
def _quiet_broken_pipe() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, as cat and grep do
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(EXIT_OK) from None


def run_tool(name: str, fn: Callable[[], int | None]) -> int:
    """Run a command's body: one-line errors with exit 2, quiet on a closed pipe."""
    try:
        with _quiet_broken_pipe():
            rc = fn()
            sys.stdout.flush()
            return EXIT_OK if rc is None else int(rc)
    except (UsageError, ConfigError) as e:
        print(f"thpsim {name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"thpsim {name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def host_memory_estimate(sim_mib: int) -> int:
    """MiB of host memory a machine with ``sim_mib`` MiB of node memory takes: the
    estimate :class:`thpsim.Machine` itself refuses by (``HOST_BYTES_PER_FRAME``)."""
    from thpsim.api import HOST_BYTES_PER_FRAME  # lazy: cliutil stays light to import

    return (sim_mib << 20) // 4096 * HOST_BYTES_PER_FRAME >> 20


def host_memory_limit() -> int:
    """MiB a run may take: ``THPSIM_MAX_HOST_MIB``, else the host's MemAvailable."""
    from thpsim.api import host_mem_available  # lazy: cliutil stays light to import

    env = os.environ.get("THPSIM_MAX_HOST_MIB")
    if env:
        try:
            return int(env)
        except ValueError:
            raise UsageError(f"THPSIM_MAX_HOST_MIB={env!r} is not a number of MiB") from None
    avail = host_mem_available()
    return 1 << 40 if avail is None else avail >> 20


def host_memory_guard(sim_mib: int, limit_mib: int | None = None) -> int:
    """Before building machines (several, for worker processes): refuse what would not
    fit the host, saying how much it would take, as Machine() does for one machine.
    Returns the estimate in MiB."""
    need = host_memory_estimate(sim_mib)
    limit = host_memory_limit() if limit_mib is None else limit_mib
    if need > limit:
        raise UsageError(f"{sim_mib} MiB of simulated memory would take about {need} MiB "
                         f"of host memory; {limit} MiB is available (THPSIM_MAX_HOST_MIB "
                         f"sets the limit)")
    return need
