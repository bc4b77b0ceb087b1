"""Training-step throughput of the tutorial nets: a thin wrapper over ``jloss bench --only train``.

    python benchmarks/train_step.py [--batch 64 256] [--repeats 5] [--json PATH]

jloss (one jitted, donated step), torch eager, ``torch.compile`` and a plain Flax + optax baseline,
in the same process, interleaved rounds, medians; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys

from jloss import bench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256], choices=[64, 256])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="leave out torch.compile")
    ap.add_argument("--json", metavar="PATH")
    a = ap.parse_args(argv)
    only = [f"{net}:b{b}" for net in ("Net", "CIFAR10Net") for b in a.batch]
    result = bench.run(only=only, repeats=a.repeats, compile=not a.no_compile)
    print(bench.text(result))
    if a.json:
        with open(a.json, "w") as f:
            f.write(bench.to_json(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
