"""Boot a real Debian kernel under QEMU with emulated NUMA nodes and run mmprog programs.

The project's own kernel oracle (issue 16). What it does, in order:

1. :func:`install_host_packages` -- ``apt-get install`` what the host lacks: QEMU
   (``qemu-system-x86``), a static busybox, ``cpio``, ``gcc`` and a static libc.
2. :func:`fetch_kernel` -- ``apt-get download`` Debian's kernel image of the chosen
   suite (``KERNELS``: 6.1 is bookworm, 6.12 trixie, 7.2 unstable) with a private apt
   configuration under the cache (the host's apt sources are not touched), and
   ``dpkg-deb -x`` it there. Newer kernels split the image package: the vmlinuz sits in
   a ``linux-binary-*`` dependency, which is followed. Nothing is installed.
3. :func:`build_mmprog` -- ``gcc -static`` of ``tools/oracle/mmprog.c``, the guest
   interpreter of the program language (docs/oracle.md).
4. :func:`boot` -- an initramfs of busybox, ``tools/oracle/init.sh`` as ``/init``,
   mmprog and the programs; QEMU (TCG unless KVM works) with ``nodes`` memory
   backends and NUMA nodes, one socket per node, node 0 below 4 GiB; the serial
   console's text between ``===THPSIM-BEGIN===`` and ``===THPSIM-END===`` is the result.

Everything goes under ``$THPSIM_ORACLE_CACHE`` (default ``~/.cache/thpsim-oracle``):
about 250 MiB per kernel. Needs root for ``apt-get install`` (``--setup`` only).

The guest matches what :mod:`thpsim.oracle.interp` builds on the model: 2 nodes of
1 GiB, one CPU per node, THP ``always`` with defrag ``madvise``, khugepaged idle,
no NUMA balancing, no address-space randomisation.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["KERNELS", "OracleError", "cache_dir", "install_host_packages", "fetch_kernel",
           "build_mmprog", "boot", "run_programs", "TOOLS"]

#: kernel version -> Debian suite whose linux-image-amd64 it is
KERNELS: dict[str, str] = {"6.1": "bookworm", "6.12": "trixie", "7.2": "unstable"}
#: the guest-side files (the repository's tools/oracle)
TOOLS = Path(__file__).resolve().parents[3] / "tools" / "oracle"
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


class OracleError(RuntimeError):
    """The oracle could not produce an answer (missing tool, failed boot, timeout)."""


def log(msg: str) -> None:
    print(f"[oracle] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    d = Path(os.environ.get("THPSIM_ORACLE_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
             / "thpsim-oracle")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


# ---------------------------------------------------------------- host packages
def missing_host_packages() -> list[str]:
    need = []
    if not shutil.which("qemu-system-x86_64"):
        need.append("qemu-system-x86")
    if not Path("/bin/busybox").exists():
        need.append("busybox-static")
    for cmd, pkg in (("cpio", "cpio"), ("gcc", "gcc"), ("dpkg-deb", "dpkg")):
        if not shutil.which(cmd):
            need.append(pkg)
    if not Path("/usr/lib/x86_64-linux-gnu/libc.a").exists():
        need.append("libc6-dev")
    return need


def install_host_packages() -> None:
    need = missing_host_packages()
    if not need:
        return
    log(f"apt-get install {' '.join(need)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need], env=env,
         stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- kernels
def _apt(suite: str, *args: str, capture: bool = False, cwd: Path | None = None) -> str:
    d = cache_dir() / f"apt-{suite}"
    (d / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (d / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    src = d / "sources.list"
    if not src.exists():
        src.write_text(f"deb [signed-by={KEYRING}] {MIRROR} {suite} main\n")
    tool = "apt-cache" if args[0] in ("depends", "show", "policy") else "apt-get"
    cmd = [tool, "-o", f"Dir::Etc::SourceList={src}", "-o", "Dir::Etc::SourceParts=/nonexistent",
           "-o", f"Dir::State::Lists={d / 'lists'}", "-o", f"Dir::Cache::Archives={d / 'archives'}",
           "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
           "-o", "APT::Sandbox::User=root", *args]
    r = subprocess.run(cmd, check=True, text=True, cwd=cwd,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    return r.stdout or ""


def _depends(suite: str, pkg: str, prefixes: tuple[str, ...]) -> list[str]:
    text = _apt(suite, "depends", pkg, capture=True)
    out = []
    for m in re.finditer(r"^\s*Depends: (\S+)", text, re.M):
        name = m[1]
        if name.startswith(prefixes) and "-dbg" not in name and name not in out:
            out.append(name)
    return out


def _find_vmlinuz(d: Path) -> Path | None:
    found = sorted(p for p in d.rglob("vmlinuz*") if p.is_file())
    return found[0] if found else None


def _extract(suite: str, pkg: str, dest: Path) -> None:
    debs = cache_dir() / "debs"
    debs.mkdir(exist_ok=True)
    _apt(suite, "download", "-qq", pkg, cwd=debs)
    deb = max(debs.glob(f"{pkg}_*.deb"), key=lambda p: p.stat().st_mtime)
    _run(["dpkg-deb", "-x", str(deb), str(dest)])


def fetch_kernel(version: str, update: bool = False) -> Path:
    """The vmlinuz of Debian's kernel ``version`` (a key of KERNELS), downloaded once."""
    if version not in KERNELS:
        raise OracleError(f"unknown kernel {version!r}: one of {', '.join(KERNELS)}")
    suite = KERNELS[version]
    lists = cache_dir() / f"apt-{suite}" / "lists"
    if update or not any(lists.glob("*_Packages*")):
        log(f"apt-get update ({suite}, private lists)")
        _apt(suite, "update", "-qq")
    pkg = "linux-image-amd64"
    for _ in range(3):  # the meta package -> linux-image-<version>-amd64
        deps = [d for d in _depends(suite, pkg, ("linux-image-",)) if d != pkg]
        if not deps or re.match(r"linux-image-\d", pkg):
            break
        pkg = deps[0]
    dest = cache_dir() / "kernels" / pkg
    v = _find_vmlinuz(dest) if dest.exists() else None
    if v is not None:
        return v
    log(f"downloading {pkg} from {suite}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    _extract(suite, pkg, dest)
    if _find_vmlinuz(dest) is None:  # split packages: linux-binary-*, linux-base-*
        for dep in _depends(suite, pkg, ("linux-binary-", "linux-base-", "linux-image-")):
            _extract(suite, dep, dest)
    v = _find_vmlinuz(dest)
    if v is None:
        raise OracleError(f"no vmlinuz in {pkg}")
    return v


# ---------------------------------------------------------------- guest
def build_mmprog() -> Path:
    src = TOOLS / "mmprog.c"
    (cache_dir() / "build").mkdir(exist_ok=True)
    out = cache_dir() / "build" / "mmprog"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        log("gcc -static mmprog.c")
        _run(["gcc", "-O2", "-static", "-Wall", "-o", str(out), str(src)])
    return out


def _initrd(work: Path, programs: dict[str, str]) -> Path:
    root = work / "root"
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "oracle/progs"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    shutil.copy(TOOLS / "init.sh", root / "init")
    (root / "init").chmod(0o755)
    shutil.copy(build_mmprog(), root / "oracle" / "mmprog")
    for name, text in programs.items():
        (root / "oracle" / "progs" / name).write_text(text)
    files = subprocess.run(["find", "."], cwd=root, check=True, text=True,
                           stdout=subprocess.PIPE).stdout
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, check=True,
                             input=files.encode(), stdout=subprocess.PIPE).stdout
    initrd = work / "initrd.gz"
    initrd.write_bytes(gzip.compress(archive, 1))
    return initrd


def _accel() -> list[str]:
    try:
        kvm = os.access("/dev/kvm", os.W_OK) and re.search(
            r"\b(vmx|svm)\b", Path("/proc/cpuinfo").read_text()) is not None
    except OSError:
        kvm = False
    return ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg,thread=multi",
                                                          "-cpu", "max"]


def boot(kernel: Path, programs: dict[str, str], nodes: int = 2, mem_mib: int = 1024,
         timeout: float = 1800.0) -> str:
    """Boot ``kernel`` and run ``programs`` (file name -> text) in one guest; returns
    the serial console's text between the markers (mmprog's output)."""
    if not shutil.which("qemu-system-x86_64"):
        raise OracleError("qemu-system-x86_64 missing: run `thpsim oracle setup` (root)")
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        work = Path(tmp)
        initrd = _initrd(work, programs)
        numa: list[str] = []
        for n in range(nodes):
            numa += ["-object", f"memory-backend-ram,id=m{n},size={mem_mib}M",
                     "-numa", f"node,nodeid={n},memdev=m{n},cpus={n}"]
        cmd = ["qemu-system-x86_64", *_accel(),
               "-machine", f"pc,max-ram-below-4g={mem_mib}M",
               "-m", f"{nodes * mem_mib}M", "-smp", f"{nodes},sockets={nodes},cores=1,threads=1",
               *numa, "-kernel", str(kernel), "-initrd", str(initrd),
               "-append", "console=ttyS0 quiet loglevel=1 panic=-1 "
                          "transparent_hugepage=always thpsim.thp=always thpsim.defrag=madvise",
               "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio"]
        t0 = time.monotonic()
        serial = cache_dir() / f"serial-{os.getpid()}.log"  # tail -f it during a long boot
        log(f"serial console: {serial}")
        try:
            with open(serial, "wb") as f:
                subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f,
                               stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise OracleError(f"guest timed out after {timeout:.0f} s (serial console "
                              f"in {serial})") from e
        text = serial.read_bytes().decode(errors="replace").replace("\r", "")
        log(f"{kernel.name}: {len(programs)} programs, {time.monotonic() - t0:.1f} s")
    m = re.search(r"===THPSIM-BEGIN===\n(.*?)===THPSIM-END===", text, re.S)
    if m is None:
        raise OracleError("no end marker; last lines:\n" + "\n".join(text.splitlines()[-30:]))
    return m[1]


def split_outputs(text: str) -> dict[str, str]:
    """mmprog's output per program: name -> the lines between its markers."""
    out: dict[str, str] = {}
    cur: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        if line.startswith("=== program "):
            cur, buf = line[len("=== program "):], []
        elif line.startswith("=== end ") and cur is not None:
            status = line.rsplit("status=", 1)[-1]
            if status != "0":
                buf.append(f"interpreter exited {status}")
            out[cur] = "\n".join(buf) + "\n"
            cur = None
        elif cur is not None:
            buf.append(line)
    return out


def run_programs(version: str, programs: dict[str, str], batch: int = 250) -> dict[str, str]:
    """Run ``programs`` (name -> text) on Debian's kernel ``version``, ``batch`` per
    boot; returns name -> output."""
    kernel = fetch_kernel(version)
    names = sorted(programs)
    out: dict[str, str] = {}
    for i in range(0, len(names), batch):
        chunk = {n: programs[n] for n in names[i:i + batch]}
        out.update(split_outputs(boot(kernel, chunk)))
    return out
