"""The model against real kernels on mmprog programs (docs/oracle.md, issue 16).

``tests/oracle/mmprog`` holds random programs (``thpsim oracle gen``) and what Debian's
6.1, 6.12 and 7.2 kernels printed for them under QEMU (``thpsim oracle record``). This
test replays a fixed share of them on the model without booting anything. Each
program must agree line for line, or diverge exactly where ``known.json`` says: the
list of disagreements the model still has. Fixing one (or breaking another) fails
here until ``thpsim oracle replay --write-known`` rewrites the list, so the list only
shrinks on purpose. ``thpsim oracle replay`` replays all of them; ``thpsim oracle
report`` prints agreement per kernel and per kind of observation.
"""

import shutil
import subprocess

import pytest

from thpsim.oracle import gen, record, runner
from thpsim.oracle.interp import _mask, _node_list, _num, load, pattern, run_program

PROGRAMS = record.load_programs()
KNOWN = record.load_known()
#: every SHARE-th generated program of each kernel's answers runs in the default
#: suite; every hand-written one (``row-*``: the rows of docs/caller-semantics.md;
#: ``hand-*``: other rules, NUMA balancing's counters and scanner) does
SHARE = {"7.2": 20, "6.12": 50, "6.1": 50}
#: generated programs that always run: each failed before a fix of the model (the
#: rule in the comment), whatever the share picks
FIXED_BY = {
    "g1-s1-0031.mmp": "wp_copy_large_folio_subpages (6.12, 6.1)",
    "g1-s9-0170.mmp": "wp_reuse_large_folio_last_ref (6.1)",
    "g1-s9-0039.mmp": "split freeze keeps the PMD's dirty bit: soft-dirty PTEs (6.1)",
    "g1-s3-0066.mmp": "PageDoubleMap decides the deferred split (6.1)",
    "g1-s7-0089.mmp": "MOVE|STRICT stops the walk at an unmovable page: EIO (6.1)",
    "g1-s9-0147.mmp": "anon_vma_prepare() reuses a neighbour's anon_vma: VMAs merge (7.2, 6.12)",
}
#: the prefixes of the hand-written programs
HAND = ("row-", "hand-")


def _cases():
    for kernel in record.KERNEL_PROFILES:
        answers = record.load_answers(kernel)
        generated = sorted(n for n in PROGRAMS if n in answers and not n.startswith(HAND))
        for i, name in enumerate(generated):
            if i % SHARE[kernel] == 0 or name in FIXED_BY:
                yield pytest.param(kernel, name, answers[name], id=f"{kernel}-{name}")
        for name in sorted(n for n in PROGRAMS if n in answers and n.startswith(HAND)):
            yield pytest.param(kernel, name, answers[name], id=f"{kernel}-{name}")


CASES = list(_cases())


def test_recordings_exist():
    """Every kernel has answers for every program (a failed boot or a half-finished
    recording would otherwise shrink what is compared without anyone noticing)."""
    for kernel in record.KERNEL_PROFILES:
        answers = record.load_answers(kernel)
        assert set(answers) == set(PROGRAMS), kernel


@pytest.mark.parametrize("kernel,name,answer", CASES)
def test_model_agrees_or_diverges_where_known(kernel, name, answer):
    profile, switches = record.KERNEL_PROFILES[kernel]
    div = record.compare(answer, run_program(PROGRAMS[name], profile, **switches))
    want = KNOWN.get(kernel, {}).get(name)
    if div is None:
        assert want is None, f"{name} agrees with {kernel} now: rewrite known.json"
    else:
        assert want == div.as_json(), (
            f"{name} on {kernel}: line {div.line}\n  kernel: {div.real}\n"
            f"  model:  {div.model}\n(known: {want})")


def test_generated_programs_are_what_the_generator_writes():
    """The recorded programs of the generator are its output today (a change to
    gen.py must bump GEN_VERSION and record new programs, not silently differ)."""
    for name, text in PROGRAMS.items():
        if name.startswith(f"g{gen.GEN_VERSION}-s"):
            seed, index = name[len(f"g{gen.GEN_VERSION}-s"):-4].split("-")
            assert gen.program(int(seed), int(index)) == text, name


def test_parsing_follows_mmprog_c():
    """strtoull base 0 (octal after a leading 0, saturation), strtoll for '-'."""
    assert _num("0x10") == 16 and _num("010") == 8 and _num("10") == 10
    assert _num("-1") == (1 << 64) - 1 and _num("99999999999999999999999") == (1 << 64) - 1
    assert _num("rw") is None
    assert load("# c\n  mmap A 0 1 r anon  # x\n\n") == ["mmap A 0 1 r anon"]
    assert pattern(0x7E00_0000_1000, 7) == pattern(0x7E00_0000_1000, 7) != pattern(
        0x7E00_0000_2000, 7)
    # node lists (runs; the last value fills the rest) and masks (mmprog.c parse_mask_z)
    assert _node_list("1*2,7", 4) == [1, 1, 7, 7] and _node_list("-1", 2) == [-1, -1]
    assert _node_list("query", 2) == [0, 0] and _node_list("1*9", 3) == [1, 1, 1]
    assert _mask("0") is None and _mask("null") is None and _mask("&0") == 0
    assert _mask("0", zero_is_null=False) == 0 and _mask("0x3") == 3
    assert _mask("n:1,1024,40000") == (1 << 1) | (1 << 1024)


def test_a_model_change_shows_as_a_divergence():
    """The comparison can fail: an observation the model gets wrong is reported at
    its first line."""
    text = "mmap A 0x7e0000000000 0x200000 rw private|anon\nwrite A 0x200000 3\n"
    out = run_program(text)
    assert record.compare(out, out) is None
    wrong = out.replace("anon_huge=2048", "anon_huge=0", 1)
    div = record.compare(wrong, out)
    assert div is not None and "anon_huge" in div.real and record.kind_of(div.real) == "vma"


def test_split_outputs():
    text = ("kernel 7.2\n=== program a.mmp\nS0 x = 0\n=== end a.mmp status=0\n"
            "=== program b.mmp\nS0 y = 0\n=== end b.mmp status=139\n")
    assert runner.split_outputs(text) == {"a.mmp": "S0 x = 0\n",
                                          "b.mmp": "S0 y = 0\ninterpreter exited 139\n"}


def test_boot_without_qemu_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(runner.OracleError, match="oracle setup"):
        runner.boot(tmp_path / "vmlinuz", {})


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler")
def test_mmprog_builds_and_runs_on_the_host(tmp_path):
    """The guest interpreter compiles (static) and runs a program on the host kernel,
    printing the same shape of text as the model side."""
    exe = tmp_path / "mmprog"
    r = subprocess.run(["gcc", "-O2", "-static", "-o", str(exe), str(runner.TOOLS / "mmprog.c")],
                       capture_output=True, text=True)
    if r.returncode != 0 and ("cannot find -l" in r.stderr
                              or "No such file or directory" in r.stderr):
        pytest.skip("no C library to link statically (libc6-dev)")
    assert r.returncode == 0, r.stderr
    prog = tmp_path / "p.mmp"
    prog.write_text("mmap A 0x7e0000000000 0x200000 rw private|anon\n"
                    "write A 0x3000 5\nread A 0x3000\nmunmap A 0x200000\nread A 0x1000\n")
    out = subprocess.run([str(exe), str(prog)], capture_output=True, text=True,
                         timeout=60).stdout
    got = runner.split_outputs(out)["p.mmp"].splitlines()
    model = run_program(prog.read_text()).splitlines()
    steps = [x for x in got if x.startswith("S")]
    assert steps == [x for x in model if x.startswith("S")]
    assert "  wrote 3 pages" in got and "  fault SIGSEGV at +0" in got
    assert [x for x in got if x.startswith("  read")] == [x for x in model
                                                          if x.startswith("  read")]
