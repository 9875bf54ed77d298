"""``thpsim oracle``: real kernels against the model on mmprog programs (docs/oracle.md).

    thpsim oracle setup [--kernel K ...]        apt-get the host tools, fetch kernels
    thpsim oracle run --kernel K PROG...        mmprog's output on a real kernel
    thpsim oracle model [--profile P] PROG...   the same on the model
    thpsim oracle gen --seed S --count N [DIR]  random programs into DIR/programs
    thpsim oracle record --kernel K [DIR]       run every program of DIR on K, save
    thpsim oracle replay [--kernel K] [-j N] [DIR] the model against the saved answers
    thpsim oracle report [--kernel K] [DIR]     agreement per kernel and kind
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from thpsim.oracle import gen, record, runner
from thpsim.oracle.interp import run_program

__all__ = ["main"]


def _kernels(args) -> list[str]:
    return args.kernels or list(runner.KERNELS)


def _programs_from(paths: list[str]) -> dict[str, str]:
    return {Path(p).name: Path(p).read_text() for p in paths}


def cmd_setup(args) -> int:
    runner.install_host_packages()
    for k in _kernels(args):
        print(f"{k}: {runner.fetch_kernel(k, update=True)}")
    runner.build_mmprog()
    return 0


def cmd_run(args) -> int:
    out = runner.run_programs(args.kernels[0] if args.kernels else "7.2",
                              _programs_from(args.programs))
    for name, text in out.items():
        print(f"=== {name}\n{text}", end="")
    return 0


def cmd_model(args) -> int:
    for name, text in _programs_from(args.programs).items():
        print(f"=== {name}\n{run_program(text, args.profile)}", end="")
    return 0


def cmd_gen(args) -> int:
    d = Path(args.dir) / "programs"
    d.mkdir(parents=True, exist_ok=True)
    for name, text in gen.programs(args.seed, args.count).items():
        (d / name).write_text(text)
    print(f"{args.count} programs of seed {args.seed} in {d}")
    return 0


def cmd_record(args) -> int:
    d = Path(args.dir)
    progs = record.load_programs(d)
    for k in _kernels(args):
        answers = record.load_answers(k, d) if args.missing else {}
        todo = {n: t for n, t in progs.items() if n not in answers}
        answers.update(runner.run_programs(k, todo, batch=args.batch))
        f = record.save_answers(k, answers, d)
        print(f"{k}: {len(todo)} programs recorded, {len(answers)} in {f}")
    return 0


def _replay(args) -> dict[str, dict[str, record.Divergence | None]]:
    d = Path(args.dir)
    progs = record.load_programs(d)
    if args.only:
        progs = {n: t for n, t in progs.items() if any(o in n for o in args.only)}
    out = {}
    for k in _kernels(args):
        answers = record.load_answers(k, d)
        if answers:
            out[k] = record.replay(progs, answers, k, jobs=args.jobs)
    return out


def cmd_replay(args) -> int:
    results = _replay(args)
    known = record.load_known(Path(args.dir))
    bad = 0
    for k, res in results.items():
        agree = sum(v is None for v in res.values())
        print(f"{k}: {agree}/{len(res)} programs agree")
        for name, div in sorted(res.items()):
            want = known.get(k, {}).get(name)
            if div is None and want is None:
                continue
            if div is not None and want == div.as_json():
                continue
            bad += 1
            if div is None:
                print(f"  {name}: agrees now (known.json lists a divergence)")
            else:
                print(f"  {name}: line {div.line}\n    kernel: {div.real}\n"
                      f"    model:  {div.model}")
        if args.write_known:
            known[k] = {n: v.as_json() for n, v in sorted(res.items()) if v is not None}
    if args.write_known:
        record.save_known(known, Path(args.dir))
        print("known.json written")
        return 0
    return 1 if bad else 0


def cmd_report(args) -> int:
    d = Path(args.dir)
    progs = record.load_programs(d)
    for k in _kernels(args):
        answers = record.load_answers(k, d)
        if not answers:
            continue
        profile, switches = record.KERNEL_PROFILES.get(k, ("mainline", {}))
        seen: Counter[str] = Counter()
        agreed: Counter[str] = Counter()
        steps_total = steps_agree = prog_agree = cut = 0
        firsts: Counter[str] = Counter()
        lines = []
        for name in sorted(n for n in progs if n in answers):
            model = run_program(progs[name], profile, **switches)
            div = record.compare(answers[name], model)
            prog_agree += div is None
            ka, ma = record.comparable(answers[name], model)
            cut += len(ka) < len(answers[name].splitlines())
            ks, ms = record.steps("\n".join(ka)), record.steps("\n".join(ma))
            for i, kstep in enumerate(ks):
                mstep = ms[i] if i < len(ms) else []
                steps_total += 1
                steps_agree += kstep == mstep
                for kind in ("result", "vma", "pmd", "vmstat", "data"):
                    a = [x for x in kstep if record.kind_of(x) == kind]
                    b = [x for x in mstep if record.kind_of(x) == kind]
                    if a or b:
                        seen[kind] += 1
                        agreed[kind] += a == b
            if div is not None:
                kind = record.kind_of(div.real if div.real != "<end>" else div.model)
                firsts[kind] += 1
                lines.append(f"  {name} line {div.line} [{kind}]\n    kernel: {div.real}\n"
                             f"    model:  {div.model}")
        n = len(lines) + prog_agree
        print(f"kernel {k} (model: {profile}{' ' + str(switches) if switches else ''}): "
              f"{prog_agree}/{n} programs agree, {steps_agree}/{steps_total} steps agree"
              f" ({cut} programs compared up to a mapping placed outside the arena)")
        for kind in ("result", "vma", "pmd", "vmstat", "data"):
            if seen[kind]:
                print(f"  {kind:7s} {agreed[kind]}/{seen[kind]} steps agree "
                      f"({100 * agreed[kind] / seen[kind]:.1f}%), first divergence of "
                      f"{firsts[kind]} programs")
        if args.verbose:
            print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="thpsim oracle", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name: str, fn, help: str, dir_arg: bool = True, kernels: bool = True):
        p = sub.add_parser(name, help=help)
        p.set_defaults(fn=fn)
        if kernels:
            p.add_argument("--kernel", dest="kernels", action="append",
                           choices=list(runner.KERNELS),
                           help="kernel version (repeatable; default: all)")
        if dir_arg:
            p.add_argument("dir", nargs="?", default=str(record.DEFAULT_DIR))
        return p

    add("setup", cmd_setup, "install QEMU and friends (root), fetch the kernels",
        dir_arg=False)
    p = add("run", cmd_run, "run programs on a real kernel", dir_arg=False)
    p.add_argument("programs", nargs="+")
    p = add("model", cmd_model, "run programs on the model", dir_arg=False, kernels=False)
    p.add_argument("--profile", default="mainline")
    p.add_argument("programs", nargs="+")
    p = add("gen", cmd_gen, "write random programs", kernels=False)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--count", type=int, default=100)
    p = add("record", cmd_record, "record the answers of real kernels")
    p.add_argument("--missing", action="store_true", help="only programs not yet recorded")
    p.add_argument("--batch", type=int, default=250, help="programs per boot")
    p = add("replay", cmd_replay, "replay recorded answers on the model")
    p.add_argument("--only", action="append", help="programs whose name contains this")
    p.add_argument("--write-known", action="store_true",
                   help="rewrite known.json with the divergences found")
    p.add_argument("-j", "--jobs", type=int, default=1, help="processes (default 1)")
    p = add("report", cmd_report, "agreement per kernel and observation kind")
    p.add_argument("-v", "--verbose", action="store_true", help="each first divergence")
    args = ap.parse_args(argv)
    try:
        return args.fn(args)
    except runner.OracleError as e:
        print(f"thpsim oracle: {e}", file=sys.stderr)
        return 2
