"""The ``jloss`` command line: ``jloss train``, ``jloss parity`` (and later ``bench``)."""

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
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
