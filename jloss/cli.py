"""The ``jloss`` command line: ``jloss train``, ``jloss parity``, ``jloss bench``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def _parity(args: argparse.Namespace) -> int:
    import jax  # noqa: PLC0415

    jax.config.update("jax_enable_x64", True)
    try:
        import torch  # noqa: F401, PLC0415
    except ImportError:
        print("jloss parity needs torch 2.13.0: pip install 'jloss[parity]'", file=sys.stderr)
        return 2
    from . import parity  # noqa: PLC0415
    from .parity._report import to_json  # noqa: PLC0415

    t0 = time.perf_counter()
    comps = parity.components()
    if args.only:
        wanted = set(args.only)
        comps = [c for c in comps if c.name in wanted or c.family in wanted or c.name.split(".")[-1] in wanted]
        if not comps:
            print(f"jloss parity: no component matches {sorted(wanted)}", file=sys.stderr)
            return 2
    reports = []
    for c in comps:
        r = c.run()
        reports.append(r)
        if not args.quiet:
            print(f"  {r.name}: {len(r.results)} cases {'ok' if r.passed else 'MISMATCH'}", file=sys.stderr)
    print(parity.table(reports))
    bad = [r for r in reports if not r.passed]
    for r in bad:
        print(str(r), file=sys.stderr)
    n = sum(len(r.results) for r in reports)
    print(f"\n{len(reports)} components, {n} cases, {len(bad)} mismatching, {time.perf_counter() - t0:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            f.write(to_json(reports))
    return 1 if bad else 0


def _bench(args: argparse.Namespace) -> int:
    from . import bench  # noqa: PLC0415

    try:
        bench.select(args.only)
    except ValueError as e:
        print(f"jloss bench: {e}", file=sys.stderr)
        return 2
    if args.repeats is not None and args.repeats < 1:
        print(f"jloss bench: --repeats must be >= 1, got {args.repeats}", file=sys.stderr)
        return 2
    result = bench.run(only=args.only, quick=args.quick, repeats=args.repeats, compile=not args.no_compile,
                       torch_threads=args.torch_threads, progress=None if args.quiet else sys.stderr)
    print(bench.text(result))
    if args.json:
        with open(args.json, "w") as f:
            f.write(bench.to_json(result))
    failed = [r["name"] for r in result["results"] if "error" in r["peers"].get("jloss", {})]
    if failed:
        print(f"jloss bench: jloss itself failed on {failed}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="jloss", description="PyTorch's losses, optimizers and schedulers for JAX.")
    sub = p.add_subparsers(dest="command", required=True)
    from . import _train_cli  # noqa: PLC0415

    _train_cli.add_parser(sub)
    pp = sub.add_parser("parity", help="compare every jloss component against the installed torch")
    pp.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    pp.add_argument("--only", nargs="+", metavar="NAME", help="components or families to run")
    pp.add_argument("-q", "--quiet", action="store_true", help="print only the table")
    pp.set_defaults(func=_parity)
    pb = sub.add_parser("bench", help="time jloss against torch eager, torch.compile and optax on this machine")
    pb.add_argument("--json", metavar="PATH", help="also write the whole result as JSON")
    pb.add_argument("--only", nargs="+", metavar="NAME",
                    help="workloads to run: a family (losses, optim, train), a component (cross_entropy, adam, "
                         "Net) or a workload name (cross_entropy:4096x32000)")
    pb.add_argument("--quick", action="store_true", help="sizes shrunk ~100x, brief timing (a smoke test)")
    pb.add_argument("--repeats", type=int, default=None, help="interleaved rounds per measurement (default 5)")
    pb.add_argument("--no-compile", action="store_true", help="leave out the torch.compile peers")
    pb.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: all cores)")
    pb.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    pb.set_defaults(func=_bench)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
