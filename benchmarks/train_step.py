"""Training-step throughput of the tutorial nets: jloss (one jitted, donated step) against torch
eager, same process, interleaved rounds, medians. Compile time is reported separately.

    python benchmarks/train_step.py [--batch 64 256] [--rounds 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np
from flax import nnx

import jloss.nn
from jloss import interop, models, optim
from jloss.train import make_train_step, split_model


def torch_nets():
    import torch  # noqa: PLC0415

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = torch.nn.Conv2d(1, 6, 5), torch.nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = torch.nn.Linear(400, 120), torch.nn.Linear(120, 84), torch.nn.Linear(84, 10)

        def forward(self, x):
            x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
            return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))))

    class Tudui(torch.nn.Module):
        def __init__(self):
            super().__init__()
            nn = torch.nn
            self.model1 = nn.Sequential(nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(2), nn.Conv2d(32, 32, 5, padding=2),
                                        nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(),
                                        nn.Linear(1024, 64), nn.Linear(64, 10))

        def forward(self, x):
            return self.model1(x)

    return {"Net": (TorchNet, models.Net, 1), "CIFAR10Net": (Tudui, models.CIFAR10Net, 3)}


def bench(name, batch, rounds, steps):
    import torch  # noqa: PLC0415

    tcls, jcls, c = torch_nets()[name]
    tnet = tcls()
    net = jcls(rngs=nnx.Rngs(0))
    interop.load_torch_state_dict(net, tnet.state_dict())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 32, 32, c)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int32)
    tx, ty = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y).long()
    topt = torch.optim.SGD(tnet.parameters(), lr=0.01, momentum=0.9)
    opt = optim.SGD(split_model(net).params, lr=0.01, momentum=0.9)
    sm = split_model(net)
    update = opt.update_fn()
    step = make_train_step(sm.apply_train, jloss.nn.CrossEntropyLoss(),
                           lambda p, g, s: (lambda o: (o[0][0], o[1]))(update([p], [g], s)))
    xj, yj = jax.device_put(x), jax.device_put(y)
    ps, st = opt.functional_state()
    p, s = ps[0], st
    t0 = time.perf_counter()
    p, s, m = step(p, s, xj, yj)
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t0

    def run_jloss():
        nonlocal p, s
        t = time.perf_counter()
        for _ in range(steps):
            p, s, m = step(p, s, xj, yj)
        jax.block_until_ready((p, m))
        return steps / (time.perf_counter() - t)

    def run_torch():
        t = time.perf_counter()
        for _ in range(steps):
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tnet(tx), ty).backward()
            topt.step()
        return steps / (time.perf_counter() - t)

    run_torch()
    js, ts = [], []
    for _ in range(rounds):
        js.append(run_jloss())
        ts.append(run_torch())
    j, t = statistics.median(js), statistics.median(ts)
    print(f"{name:10s} batch {batch:4d}: jloss {j:8.1f} steps/s  torch eager {t:8.1f} steps/s  "
          f"ratio {j / t:5.2f}x  (jloss compile {compile_s:.2f} s)")
    return {"model": name, "batch": batch, "jloss_steps_s": j, "torch_steps_s": t, "ratio": j / t, "compile_s": compile_s}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args()
    for name in ("Net", "CIFAR10Net"):
        for b in a.batch:
            bench(name, b, a.rounds, a.steps)


if __name__ == "__main__":
    main()
