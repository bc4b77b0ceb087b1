"""Training steps per second of ``jloss train``'s default recipe (LeNet, Adam(lr=2e-3), CrossEntropyLoss)
data-parallel over 1, 2, 4, 8 devices, each count in its own subprocess.

On CPU the devices are simulated (``--xla_force_host_platform_device_count=N``): they share the
machine's cores, so expect no speed-up there -- the table shows what the SPMD partitioning costs, not
what N accelerators gain. On a multi-GPU host pass ``--platform gpu`` (it uses the first N GPUs).

Two scalings: ``global`` keeps the global batch at ``--batch`` (the CLI's ``--batch-size``, split
N ways), ``per-device`` gives every device ``--batch`` rows (global batch ``N * batch``).

    python benchmarks/sharding.py [--devices 1 2 4 8] [--batch 32] [--steps 50] [--rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def worker(n: int, batch: int, scaling: str, steps: int, rounds: int) -> dict:
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    from flax import nnx  # noqa: PLC0415

    import jloss.nn  # noqa: PLC0415
    from jloss import models, optim  # noqa: PLC0415
    from jloss.train import (  # noqa: PLC0415
        default_mesh,
        make_train_step,
        parameters,
        replicated,
        shard_batch,
        split_model,
        state_shardings,
    )

    mesh = default_mesh(n)
    global_batch = batch if scaling == "global" else batch * n
    net = models.Net(rngs=nnx.Rngs(0))
    opt = optim.Adam(parameters(net), lr=2e-3)
    sm = split_model(net)
    update = opt.update_fn()

    def upd(p, g, s):
        new_p, new_s = update([p], [g], s)
        return new_p[0], new_s

    ps, state = opt.functional_state()
    sh = state_shardings(state, mesh)
    params, state = jax.device_put(ps[0], replicated(mesh)), jax.device_put(state, sh)
    step = make_train_step(sm.apply_train, jloss.nn.CrossEntropyLoss(), upd, mesh=mesh, state_sharding=sh)
    rng = np.random.default_rng(0)
    host = [(rng.standard_normal((global_batch, 32, 32, 1)).astype(np.float32),
             rng.integers(0, 10, global_batch).astype(np.int32)) for _ in range(8)]
    t0 = time.perf_counter()
    params, state, m = step(params, state, *shard_batch(host[0], mesh))
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t0
    rates = []
    for _ in range(rounds):
        t = time.perf_counter()
        for i in range(steps):  # host batches placed every step, as fit does
            params, state, m = step(params, state, *shard_batch(host[i % len(host)], mesh))
        jax.block_until_ready((params, m))
        rates.append(steps / (time.perf_counter() - t))
    return {"devices": n, "platform": jax.devices()[0].platform, "scaling": scaling, "global_batch": global_batch,
            "steps_per_s": statistics.median(rates), "samples_per_s": statistics.median(rates) * global_batch,
            "compile_s": compile_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--scaling", nargs="+", choices=("global", "per-device"), default=["global", "per-device"])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--platform", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        out = [worker(args.worker, args.batch, s, args.steps, args.rounds) for s in args.scaling]
        print(json.dumps(out))
        return
    rows = []
    for n in args.devices:
        env = dict(os.environ)
        if args.platform == "cpu":
            env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
        cmd = [sys.executable, __file__, "--worker", str(n), "--batch", str(args.batch), "--steps", str(args.steps),
               "--rounds", str(args.rounds), "--scaling", *args.scaling]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            sys.exit(f"{n} devices failed:\n{proc.stderr[-3000:]}")
        rows += json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"| devices | scaling | global batch | steps/s | samples/s | compile s |  ({rows[0]['platform']}, "
          f"{os.cpu_count()} cores)")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for r in sorted(rows, key=lambda r: (r["scaling"], r["devices"])):
        print(f"| {r['devices']} | {r['scaling']} | {r['global_batch']} | {r['steps_per_s']:.1f} | "
              f"{r['samples_per_s']:.0f} | {r['compile_s']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
