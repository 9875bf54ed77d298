"""Recorded answers: mmprog programs, what each real kernel printed, and the model's replay.

Layout of a recording directory (default ``tests/oracle/mmprog``)::

    programs/NAME.mmp            the programs (generated or hand-written)
    answers/KERNEL.json.gz       {NAME: mmprog's output on Debian's KERNEL}
    known.json                   {KERNEL: {NAME: first divergence}}: the disagreements
                                 the model still has, each pinned to its first line

:func:`replay` runs programs on the model and compares with a recorded answer;
:func:`report` summarises agreement per kernel and per kind of observation. The test
suite replays a share of every answer file and requires that each program either
agrees or diverges exactly where ``known.json`` says (a ratchet: fixing a divergence
or making a new one both fail the test until ``known.json`` is rewritten with
``thpsim oracle replay --write-known``).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

from thpsim.oracle.interp import run_program

__all__ = ["DEFAULT_DIR", "KERNEL_PROFILES", "Divergence", "load_programs", "load_answers",
           "save_answers", "compare", "comparable", "replay", "kind_of", "load_known", "save_known"]

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "tests" / "oracle" / "mmprog"

#: mainline's switches for changes merged after 6.12 (each switch's docstring in
#: thpsim.profiles names the release), turned off: Debian's 6.12 has none of them
AFTER_6_12: dict[str, bool] = {
    "vma_merge_faulted_into_unfaulted": False,  # 6.16
    "mprotect_pte_batch": False,              # 6.17
    "madvise_collapse_no_block_ok": False,    # after 6.12 (oracle: 7.2 has it)
    "collapse_read_only_anon": False,         # after 6.12 (oracle: 7.2 has it)
    "collapse_pte_batch": False,              # after 6.12 (oracle: 7.2 has it)
    "madvise_dontneed_reclaim_pt": False,     # 6.13
    "thp_wp_huge_zero_alloc": False,          # 6.13
    "pmd_bad_ignores_accessed": False,        # 6.13
    "meminfo_balloon": False,                 # 6.14
    "mremap_new_len_task_size_einval": False,  # 6.17
    "mremap_move_multiple_vmas": False,       # 6.17
    "mremap_check_vma_before_unmap": False,   # 6.17
    # not a change turned off but one turned on: 5.13 .. 6.12 only (6.13 undid it)
    "vma_address_head_overlap": True,         # 5.13; 6.13 looks at one page again
    "wp_copy_large_folio_subpages": True,     # 5.9; 6.16 reuses an exclusive THP's
}
#: ... and after 6.1
AFTER_6_1: dict[str, bool] = {
    **AFTER_6_12,
    "migrate_requeue_deferred_split": False,  # 6.13, in Debian's 6.12.y (oracle)
    "wp_reuse_large_folio_last_ref": True,    # before 6.12: reuse at refcount 1
    "migrate_split_deferred_folio": False,    # 6.10
    "memory_failure_node_stats": False,       # 6.3
    "madvise_populate_whole_range": False,    # 6.9
    "mprotect_unaccount_unfaulted": False,    # between 6.1 and 6.12
    "numa_balancing_vma_scan_state": False,   # 6.4 (per-VMA numab_state)
    "rmap_deferred_split_partially_mapped": False,  # 6.3
    "smaps_pmd_counts_protnone": False,       # 6.1 only (oracle; see profiles)
    "thp_split_remap_zero_subpages": False,   # 6.12
    "status_kthread": False,                  # 6.4
    "thp_align_anon_mappings": False,         # 6.7
    "queue_pages_nr_failed": False,           # 6.7
    "mbind_alloc_by_mpol": False,             # 6.7
    "mpol_weighted_interleave": False,        # 6.9
    "madvise_cold_pte_thp_batch": False,      # 6.9
    "zap_pte_batch": False,                   # 6.9
    "lazyfree_thp_unmap_pmd": False,          # 6.11
    "kpagecount_typed_zero": False,           # 6.9
    "move_pages_folio_likely_mapped_shared": False,  # 6.10
    "smaps_account_nonpresent_shared": False,  # 6.10
    "pagemap_exclusive_present_only": False,  # 6.10
    "pagemap_pmd_pm_file": False,             # 6.10
    "kpageflags_folio_flags": False,          # 6.10
    "move_pages_folio_walk": False,           # 6.12
    "migration_restore_dirty_keeps_soft_dirty": False,  # between 6.1 and 6.12 (oracle)
    "split_huge_pmd_carries_dirty": False,    # 6.3
    "memory_failure_pfn_without_page_ebusy": False,  # between 6.1 and 7.2 (oracle)
    "madvise_hwpoison_action_required": False,  # between 6.1 and 6.12 (oracle)
}

#: the model's settings a kernel's answers are replayed under: (profile, switches).
#: mainline follows 7.2; 6.12 and 6.1 are mainline with the later changes turned off.
KERNEL_PROFILES: dict[str, tuple[str, dict]] = {
    "7.2": ("mainline", {}),
    "6.12": ("mainline", AFTER_6_12),
    "6.1": ("mainline", AFTER_6_1),
}


@dataclass(frozen=True)
class Divergence:
    """The first line where the model's text differs from the kernel's."""

    line: int
    real: str  #: the kernel's line
    model: str

    def as_json(self) -> dict:
        return {"line": self.line, "kernel": self.real, "model": self.model}


def load_programs(d: Path = DEFAULT_DIR) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((d / "programs").glob("*.mmp"))}


def load_answers(kernel: str, d: Path = DEFAULT_DIR) -> dict[str, str]:
    f = d / "answers" / f"{kernel}.json.gz"
    if not f.exists():
        return {}
    return json.loads(gzip.decompress(f.read_bytes()))


def save_answers(kernel: str, answers: dict[str, str], d: Path = DEFAULT_DIR) -> Path:
    (d / "answers").mkdir(parents=True, exist_ok=True)
    f = d / "answers" / f"{kernel}.json.gz"
    data = json.dumps(dict(sorted(answers.items())), indent=0, sort_keys=True).encode()
    f.write_bytes(gzip.compress(data, 9, mtime=0))
    return f


def load_known(d: Path = DEFAULT_DIR) -> dict[str, dict[str, dict]]:
    f = d / "known.json"
    return json.loads(f.read_text()) if f.exists() else {}


def save_known(known: dict[str, dict[str, dict]], d: Path = DEFAULT_DIR) -> None:
    (d / "known.json").write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")


def comparable(kernel_text: str, model_text: str) -> tuple[list[str], list[str]]:
    """The lines of both outputs that can be compared: everything, or up to and
    including the first step whose ``mmap``/``mremap`` the kernel placed outside the
    arena (a hint it could not take). Where the kernel puts such a mapping depends on
    the interpreter's own mappings, which the model does not have: its 2 MiB alignment
    (so its THP count), what it may land next to, and so every later observation."""
    a, b = kernel_text.splitlines(), model_text.splitlines()
    for i, line in enumerate(a):
        if line.endswith(" = outside-arena") and _STEP.match(line):
            return a[: i + 1], b[: i + 1]
    return a, b


def compare(kernel_text: str, model_text: str) -> Divergence | None:
    a, b = comparable(kernel_text, model_text)
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<end>"
        y = b[i] if i < len(b) else "<end>"
        if x != y:
            return Divergence(i, x, y)
    return None


_STEP = re.compile(r"^(child )?S\d+ ")


def kind_of(line: str) -> str:
    """The kind of observation a line is (for the report): result, vma, pmd, vmstat,
    data (a read, a write or a fault), model (a model error), end."""
    body = line[6:] if line.startswith("child ") else line
    if line == "<end>":
        return "end"
    if _STEP.match(line):
        return "result"
    if line.startswith("model error"):
        return "model"
    body = body.strip()
    if body[:2] in ("- ", "+ "):
        body = body[2:]
    word = body.split(" ", 1)[0]
    if word in ("vma", "pmd", "vmstat"):
        return word
    return "data"


def _replay_one(args: tuple[str, str, str, str]) -> tuple[str, Divergence | None]:
    name, program, answer, kernel = args
    profile, switches = KERNEL_PROFILES.get(kernel, ("mainline", {}))
    return name, compare(answer, run_program(program, profile, **switches))


def replay(programs: dict[str, str], answers: dict[str, str], kernel: str,
           jobs: int = 1) -> dict[str, Divergence | None]:
    """Each program with an answer, on the model under ``KERNEL_PROFILES[kernel]``;
    ``jobs`` > 1 spreads the programs over that many processes (same result: each
    program runs on a fresh model)."""
    work = [(n, programs[n], answers[n], kernel) for n in sorted(programs) if n in answers]
    if jobs <= 1:
        return dict(map(_replay_one, work))
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(jobs) as pool:
        return dict(pool.map(_replay_one, work, chunksize=8))


def steps(text: str) -> list[list[str]]:
    """The text cut into steps (each from its ``S<n>`` line to the next)."""
    out: list[list[str]] = []
    for line in text.splitlines():
        if _STEP.match(line) or not out:
            out.append([])
        out[-1].append(line)
    return out
