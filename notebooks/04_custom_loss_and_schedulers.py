# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 — Custom losses and learning-rate schedulers
#
# This notebook retells tutorial 003 ("进阶训练（一）损失函数、动态调整学习率", *advanced training:
# loss functions and adjusting the learning rate*): writing your own loss, as a function and as a
# class, and changing the learning rate during training with PyTorch's schedulers — the built-in
# ones, and one written by hand.

# %%
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

import jloss.nn as nn
import jloss.optim as optim
from jloss.models import LinearNet
from jloss.optim import lr_scheduler
from jloss.parity import to_torch as T  # a torch copy of an array

try:  # PyTorch is optional: without it the notebook shows jloss alone
    import torch
except ImportError:
    torch = None

FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
rng = np.random.default_rng(0)


# %% [markdown]
# ## 1. Custom losses
#
# PyTorch ships the common losses (`MSELoss`, `L1Loss`, `BCELoss`, ...), but many useful ones are
# specific to a field — Dice loss in segmentation, Sobolev losses, ... — and research keeps
# proposing new ones. So one has to be able to write a loss. In JAX this is easier than it sounds:
# any function built from `jax.numpy` operations can be differentiated by `jax.grad`, so there is
# no backward pass to write.
#
# ### 1.1 As a function
#
# The tutorial's example is the mean squared error:

# %%
def my_loss(output, target):
    loss = jnp.mean((output - target) ** 2)
    return loss


output = jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)
target = jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)
print("my_loss:", my_loss(output, target), "  nn.MSELoss:", nn.MSELoss()(output, target))
np.testing.assert_allclose(my_loss(output, target), nn.MSELoss()(output, target), rtol=1e-6)

# gradients and compilation come for free
g = jax.jit(jax.grad(my_loss))(output, target)
np.testing.assert_allclose(g, 2 * (output - target) / output.size, rtol=1e-5)

# %% [markdown]
# ### 1.2 As a class: Dice loss
#
# The Dice coefficient measures the overlap of a predicted mask $X$ and a true mask $Y$:
#
# $$DSC = \frac{2\,|X \cap Y|}{|X| + |Y|}$$
#
# It is 1 for a perfect overlap and 0 for none, and the loss is $1 - DSC$. With soft predictions
# $p = \sigma(x)$ the intersection becomes $\sum p_i y_i$. The tutorial adds **Laplace smoothing**
# $s$ to numerator and denominator, $\frac{2 \sum p_i y_i + s}{\sum p_i + \sum y_i + s}$, which keeps
# the ratio defined when both masks are empty (it is then $s / s = 1$: a correct empty prediction).
#
# A class is handy when the loss has settings (here `smooth`) or state. PyTorch subclasses
# `nn.Module` and writes `forward`; in JAX a plain Python class with `__call__` will do:

# %%
class DiceLoss:
    def __init__(self, weight=None, size_average=True):
        pass

    def __call__(self, inputs, targets, smooth=1):
        inputs = jax.nn.sigmoid(inputs)
        inputs = inputs.reshape(-1)  # the predictions, flattened
        targets = targets.reshape(-1)
        intersection = (inputs * targets).sum()
        # Laplace smoothing keeps the ratio defined when X and Y are both empty
        dice = (2.0 * intersection + smooth) / (inputs.sum() + targets.sum() + smooth)
        return 1 - dice


logits = jnp.asarray(rng.standard_normal((2, 1, 8, 8)), jnp.float32)  # two 8x8 mask predictions
masks = jnp.asarray(rng.random((2, 1, 8, 8)) > 0.6, jnp.float32)
criterion = DiceLoss()
loss = criterion(logits, masks)
print("tutorial's DiceLoss:", loss)

# %% [markdown]
# `jloss.nn.DiceLoss(smooth=1.0, reduction='mean')` is the same loss, with one difference worth
# knowing: it computes the coefficient **per sample** and then reduces over the batch (as
# segmentation libraries do), while the tutorial's `view(-1)` pools the whole batch into one mask.
# The two agree for a batch of one, so flattening the batch first gives the tutorial's number:

# %%
ours = nn.DiceLoss()(logits.reshape(1, -1), masks.reshape(1, -1))
print("jloss.nn.DiceLoss on the pooled batch:", ours, "  per sample:", nn.DiceLoss(reduction="none")(logits, masks))
np.testing.assert_allclose(ours, loss, rtol=1e-6)

if torch:
    class TorchDiceLoss(torch.nn.Module):  # the tutorial's class, verbatim
        def __init__(self, weight=None, size_average=True):
            super().__init__()

        def forward(self, inputs, targets, smooth=1):
            inputs = torch.sigmoid(inputs)
            inputs = inputs.view(-1)
            targets = targets.view(-1)
            intersection = (inputs * targets).sum()
            dice = (2.0 * intersection + smooth) / (inputs.sum() + targets.sum() + smooth)
            return 1 - dice

    theirs = TorchDiceLoss()(T(logits), T(masks))
    print("torch:", float(theirs))
    np.testing.assert_allclose(loss, theirs.item(), rtol=1e-6)
    np.testing.assert_allclose(ours, theirs.item(), rtol=1e-6)

# %% [markdown]
# What the smoothing is for: an empty mask, predicted empty (very negative logits). Without it the
# loss is $0 / 0$.

# %%
empty_logits, empty_mask = jnp.full((1, 16), -200.0), jnp.zeros((1, 16))
print("smooth=1:", nn.DiceLoss(smooth=1.0)(empty_logits, empty_mask),
      "  smooth=0:", nn.DiceLoss(smooth=0.0)(empty_logits, empty_mask))
assert float(nn.DiceLoss(smooth=1.0)(empty_logits, empty_mask)) == 0.0
assert bool(jnp.isnan(nn.DiceLoss(smooth=0.0)(empty_logits, empty_mask)))

# %% [markdown]
# ## 2. Adjusting the learning rate
#
# ### 2.1 Why
#
# The learning rate decides whether, and how fast, training reaches a minimum. Too small and
# progress is slow; too large and the steps overshoot, bounce around, or diverge. Gradient descent
# on $f(w) = w^2$ (gradient $2w$) shows all three:

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
ws = np.linspace(-3, 3, 200)
for ax, lr, what in zip(axes, (0.05, 0.3, 1.1), ("too small: slow", "about right", "too large: diverges")):
    w, path = 1.0, [1.0]
    for _ in range(10 if lr < 1 else 6):
        w = w - lr * 2 * w  # one gradient-descent step on f(w) = w**2
        path.append(w)
    path = np.array(path)
    ax.plot(ws, ws**2, color="lightgray")
    ax.plot(path, path**2, "o-", ms=3)
    ax.set(title=f"lr = {lr}: {what}", xlabel="w")
axes[0].set_ylabel("f(w) = w²")
fig.tight_layout()
fig.savefig(FIGURES / "04_learning_rates.png", dpi=70)
plt.show()

# %% [markdown]
# A common remedy is to start with a larger rate and lower it as training proceeds: that is what a
# **scheduler** does.
#
# ### 2.2 PyTorch's schedulers, in jloss
#
# `torch.optim.lr_scheduler` wraps an optimizer and rewrites the `lr` in its `param_groups` every
# time `scheduler.step()` is called (usually once per epoch). jloss has each of them twice:
#
# * **torch-named classes** (`StepLR(optimizer, step_size, gamma)`, ...) that drive a
#   `jloss.optim` optimizer object (`optim.Adam(params, lr=...)`) exactly as PyTorch's drive
#   PyTorch's, `state_dict()` included;
# * **schedule functions** (`step_lr(lr, step_size, gamma)`, ...) returning an optax schedule,
#   `schedule(k)` being the learning rate after `k` calls of `step()`; they are jit-safe and go
#   straight into an optax-style optimizer, `optim.adam(lr=schedule)`.
#
# The tutorial lists ten schedulers; PyTorch has fifteen. Here is every one of them, driving an SGD
# optimizer with `lr=0.1` and `momentum=0.9` for 100 steps, drawn with `lr_scheduler.plot`. Where
# PyTorch is installed, the same code drives PyTorch's schedulers on a PyTorch optimizer, whose
# learning rates are drawn as dots and compared to ours (to $10^{-12}$; both compute in Python floats).
# The dashed lines are the momentum that `CyclicLR` and `OneCycleLR` cycle against the rate.

# %%
STEPS = 100
metrics = [1.0 / (1 + k) for k in range(30)] + [1.0 / 30] * STEPS  # a validation loss that plateaus


def schedulers(L):
    """Every scheduler, built from the module L (jloss's lr_scheduler or torch's)."""
    return {
        "LambdaLR": lambda o: L.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1.0 + 0.05 * e)),
        "MultiplicativeLR": lambda o: L.MultiplicativeLR(o, lr_lambda=lambda e: 0.97),
        "StepLR": lambda o: L.StepLR(o, step_size=20, gamma=0.5),
        "MultiStepLR": lambda o: L.MultiStepLR(o, milestones=[30, 60, 80], gamma=0.5),
        "ConstantLR": lambda o: L.ConstantLR(o, factor=0.5, total_iters=20),
        "LinearLR": lambda o: L.LinearLR(o, start_factor=0.1, total_iters=30),
        "ExponentialLR": lambda o: L.ExponentialLR(o, gamma=0.97),
        "PolynomialLR": lambda o: L.PolynomialLR(o, total_iters=80, power=2.0),
        "CosineAnnealingLR": lambda o: L.CosineAnnealingLR(o, T_max=50),
        "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2),
        "CyclicLR": lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=15, mode="triangular2"),
        "OneCycleLR": lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=STEPS),
        "ReduceLROnPlateau": lambda o: L.ReduceLROnPlateau(o, factor=0.5, patience=5),
        "SequentialLR": lambda o: L.SequentialLR(
            o, [L.LinearLR(o, start_factor=0.1, total_iters=10), L.CosineAnnealingLR(o, T_max=90)], milestones=[10]),
        "ChainedScheduler": lambda o: L.ChainedScheduler(
            [L.ConstantLR(o, factor=0.5, total_iters=10), L.ExponentialLR(o, gamma=0.97)]),
    }


def trace(scheduler, optimizer, steps=STEPS):
    """The learning rate and momentum after 0, 1, ..., steps - 1 scheduler steps (same code for both libraries)."""
    lrs, moms = [scheduler.get_last_lr()[0]], [optimizer.param_groups[0]["momentum"]]
    for k in range(steps - 1):
        if type(scheduler).__name__ == "ReduceLROnPlateau":
            scheduler.step(metrics[k])  # driven by the validation metric
        else:
            scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        moms.append(optimizer.param_groups[0]["momentum"])
    return np.array(lrs), np.array(moms)


ours = schedulers(lr_scheduler)
theirs = schedulers(torch.optim.lr_scheduler) if torch else {}
fig, axes = plt.subplots(5, 3, figsize=(15, 16))
for ax, (name, make) in zip(axes.flat, ours.items()):
    opt = optim.SGD(jnp.zeros(3), lr=0.1, momentum=0.9)
    sched = make(opt)
    n_axes = len(fig.axes)
    lr_scheduler.plot(sched, STEPS, ax=ax, metrics=metrics)  # steps a copy: sched itself is not advanced
    twins = fig.axes[n_axes:]  # the momentum axis of CyclicLR / OneCycleLR
    lrs, moms = trace(sched, opt)
    if torch:
        topt = torch.optim.SGD([torch.zeros(3, requires_grad=True)], lr=0.1, momentum=0.9)
        with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()": no training here
            warnings.simplefilter("ignore", UserWarning)
            t_lrs, t_moms = trace(theirs[name](topt), topt)
        ax.plot(np.arange(STEPS), t_lrs, ".", ms=3, color="k", label="torch")
        err = max(np.max(np.abs(lrs - t_lrs)), np.max(np.abs(moms - t_moms)))
        lines = ax.get_lines() + [line for twin in twins for line in twin.get_lines()]
        ax.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
        print(f"{name:<28} max |lr - torch lr| = {err:.1e}")
        assert err <= 1e-12, name
fig.tight_layout()
fig.savefig(FIGURES / "04_schedulers.png", dpi=60)
plt.show()

# %% [markdown]
# Worth a look in the grid: `CosineAnnealingLR` does not stop at `T_max` but climbs back up (in
# PyTorch, and so in jloss, it is periodic); `ReduceLROnPlateau` is the one scheduler driven by a
# metric — here a validation loss that stops improving at step 30, after which the rate halves
# after every 6 steps without improvement (more than `patience` = 5); `CyclicLR` and `OneCycleLR` move the
# momentum against the rate; `SequentialLR` hands over from a linear warm-up to a cosine at the
# milestone, while `ChainedScheduler` applies both of its schedulers at every step.
#
# ### 2.3 The tutorial's example: `StepLR` on `Adam`
#
# The tutorial follows `lr` from the optimizer through the scheduler. `Adam` keeps it in
# `optimizer.param_groups[i]["lr"]` (and so in `optimizer.state_dict()["param_groups"]`);
# `StepLR(optimizer, step_size, gamma=0.1, last_epoch=-1)` multiplies it by `gamma` every
# `step_size` calls of `scheduler.step()`, and keeps the last value it set in `_last_lr` (read it with
# `scheduler.get_last_lr()`). The model is `nn.Linear(10, 10)` — `jloss.models.LinearNet` — and the
# learning rate starts at 0.01 and is multiplied by 0.8 every 5 epochs:

# %%
model = LinearNet(rngs=nnx.Rngs(0))
LR = 0.01
optimizer = optim.Adam(nnx.state(model, nnx.Param), lr=LR)
scheduler = lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.8)
optimizer_lr_list, scheduler_lr_list = [], []
for _epoch in range(100):
    scheduler.step()
    optimizer_lr_list.append(optimizer.state_dict()["param_groups"][0]["lr"])
    scheduler_lr_list.append(scheduler.state_dict()["_last_lr"][0])

print("epochs 0-10:", optimizer_lr_list[:11])
assert optimizer_lr_list == scheduler_lr_list
closed_form = [LR * 0.8 ** ((epoch + 1) // 5) for epoch in range(100)]
np.testing.assert_allclose(optimizer_lr_list, closed_form, rtol=1e-13)
assert optimizer_lr_list[3] == 0.01 and abs(optimizer_lr_list[4] - 0.008) < 1e-15

# %% [markdown]
# Note that the loop calls `scheduler.step()` first, so the first recorded rate is already the one
# after one step, and the first decay shows at index 4. (In real training, call
# `optimizer.step()` for every batch and `scheduler.step()` once at the end of each epoch; PyTorch
# warns when the order is reversed, which the tutorial's loop, having no training, triggers.)
#
# The same loop on PyTorch gives the very same list of floats:

# %%
if torch:
    t_model = torch.nn.Linear(10, 10)
    t_optimizer = torch.optim.Adam(t_model.parameters(), lr=LR)
    t_scheduler = torch.optim.lr_scheduler.StepLR(t_optimizer, step_size=5, gamma=0.8)
    torch_lr_list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scheduler.step() before optimizer.step()
        for _epoch in range(100):
            t_scheduler.step()
            torch_lr_list.append(t_optimizer.state_dict()["param_groups"][0]["lr"])
    assert torch_lr_list == optimizer_lr_list  # bit for bit
    print("identical to torch over 100 epochs")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].plot(range(100), optimizer_lr_list, color="r", label="jloss")
axes[0].set_title("optimizer_lr_list")
axes[1].plot(range(100), scheduler_lr_list, color="b", label="jloss")
axes[1].set_title("scheduler_lr_list")
if torch:
    for ax in axes:
        ax.plot(range(100), torch_lr_list, ".", ms=3, color="k", label="torch")
for ax in axes:
    ax.set(xlabel="epoch", ylabel="lr")
    ax.legend()
fig.tight_layout()
fig.savefig(FIGURES / "04_step_lr_adam.png", dpi=70)
plt.show()

# %% [markdown]
# The functional form gives the same curve as one jit-safe function of the step count, which is
# how an optax optimizer consumes it. An optax optimizer evaluates its rate at every update, so
# `per_update` converts "per epoch" into "per update" for a given number of batches per epoch:

# %%
schedule = lr_scheduler.step_lr(LR, step_size=5, gamma=0.8)
np.testing.assert_allclose(np.asarray(schedule(jnp.arange(1, 101))), optimizer_lr_list, rtol=1e-6)  # float32

steps_per_epoch = 10
tx = optim.adam(lr=lr_scheduler.per_update(schedule, steps_per_epoch))
params = {"w": jnp.ones(3)}
state = tx.init(params)
updates, state = tx.update({"w": jnp.ones(3)}, state, params)
print("first update (Adam's first step is -lr * sign(grad)):", updates["w"])
np.testing.assert_allclose(updates["w"], -LR * jnp.ones(3), rtol=1e-5)

# %% [markdown]
# ### 2.4 A hand-written scheduler
#
# The learning rate lives in the optimizer, so a custom scheduler only needs the optimizer and the
# rule. The tutorial's class halves the rate every 10 epochs by writing into `param_groups`; since
# jloss's optimizer objects have PyTorch's mutable `param_groups` (and read `lr` from them at the
# next step), it runs unchanged. One fix: the tutorial's `update` writes into the global
# `optimizer` instead of `self.optimizer` (it works there by accident).

# %%
class myscheduler:
    def __init__(self, optimizer, step_size, gamma):
        """Multiply the learning rate by gamma (0.5) every step_size (10) epochs."""
        self.optimizer = optimizer
        self.step_size = step_size
        self.gamma = gamma

    def get_lr(self):
        """Read the current learning rate."""
        self.lr = self.optimizer.param_groups[-1]["lr"]

    def update(self, epoch):
        """Update the learning rate, like step()."""
        self.get_lr()
        if (epoch + 1) % self.step_size == 0:  # every 10 epochs, halve it
            lr = self.lr * self.gamma
            for param_group in self.optimizer.param_groups:
                param_group["lr"] = lr


optimizer = optim.Adam(nnx.state(LinearNet(rngs=nnx.Rngs(0)), nnx.Param), lr=LR)
scheduler = myscheduler(optimizer, 10, 0.5)
optimizer_lr_list, scheduler_lr_list = [], []
for epoch in range(100):
    scheduler.update(epoch)
    optimizer_lr_list.append(optimizer.state_dict()["param_groups"][0]["lr"])
    scheduler_lr_list.append(scheduler.lr)
assert optimizer_lr_list == [LR * 0.5 ** ((epoch + 1) // 10) for epoch in range(100)]

if torch:
    t_optimizer = torch.optim.Adam(torch.nn.Linear(10, 10).parameters(), lr=LR)
    t_scheduler = myscheduler(t_optimizer, 10, 0.5)
    torch_lr_list = []
    for epoch in range(100):
        t_scheduler.update(epoch)
        torch_lr_list.append(t_optimizer.state_dict()["param_groups"][0]["lr"])
    assert torch_lr_list == optimizer_lr_list
    print("identical to the same class on a torch optimizer")

# %% [markdown]
# A detail of the tutorial's class: `scheduler.lr` is read *before* the update, so the
# `scheduler_lr_list` curve lags the optimizer's by one epoch.
#
# The same rule needs no class at all. As a `LambdaLR` — the rate is `initial_lr * lr_lambda(epoch)`
# — or its functional twin `lambda_lr`:

# %%
halve = lambda epoch: 0.5 ** (epoch // 10)  # noqa: E731

opt = optim.Adam(nnx.state(LinearNet(rngs=nnx.Rngs(0)), nnx.Param), lr=LR)
sched = lr_scheduler.LambdaLR(opt, lr_lambda=halve)
lambda_list = []
for _epoch in range(100):
    sched.step()
    lambda_list.append(opt.param_groups[0]["lr"])
np.testing.assert_allclose(lambda_list, optimizer_lr_list, rtol=1e-15)

schedule = lr_scheduler.lambda_lr(LR, halve)
np.testing.assert_allclose(np.asarray(schedule(jnp.arange(1, 101))), optimizer_lr_list, rtol=1e-6)


# %% [markdown]
# Or, to make it a scheduler like the built-in ones (with `get_last_lr()`, `state_dict()`, and a
# place in `SequentialLR` / `ChainedScheduler`), subclass the documented base class
# `lr_scheduler.LRScheduler`: set the attributes, call `super().__init__(optimizer, last_epoch)`,
# and implement `get_lr()`, which returns the rates for epoch `self.last_epoch`, one per parameter
# group, from `self.base_lrs` (each group's initial rate).

# %%
class HalveEvery(lr_scheduler.LRScheduler):
    def __init__(self, optimizer, step_size=10, gamma=0.5, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


opt = optim.Adam(nnx.state(LinearNet(rngs=nnx.Rngs(0)), nnx.Param), lr=LR)
sched = HalveEvery(opt)
subclass_list = []
for _epoch in range(100):
    sched.step()
    subclass_list.append(sched.get_last_lr()[0])
np.testing.assert_allclose(subclass_list, optimizer_lr_list, rtol=1e-15)
print("state_dict:", {k: v for k, v in sched.state_dict().items() if k != "base_lrs"})

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].plot(range(100), optimizer_lr_list, color="r", label="myscheduler (optimizer lr)")
axes[0].plot(range(100), lambda_list, "--", color="orange", label="LambdaLR")
axes[0].plot(range(100), subclass_list, ":", color="k", label="HalveEvery(LRScheduler)")
axes[0].set_title("optimizer_lr_list")
axes[1].plot(range(100), scheduler_lr_list, color="b", label="myscheduler.lr (one epoch late)")
axes[1].set_title("scheduler_lr_list")
for ax in axes:
    ax.set(xlabel="epoch", ylabel="lr")
    ax.legend()
fig.tight_layout()
fig.savefig(FIGURES / "04_halving_scheduler.png", dpi=70)
plt.show()
