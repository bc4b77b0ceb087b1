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
# # 03 — Loss functions and backpropagation
#
# This notebook retells tutorial 002 ("损失函数与反向传播", *loss functions and backpropagation*).
#
# A **loss function** measures how far a model's output is from the output we want: it takes the
# prediction and the target and returns a number, usually non-negative and smallest when the two
# agree. Losses come in two broad families — *regression* losses (L1, MSE) for real-valued targets
# and *classification* losses (cross entropy) for class labels — and the only things to watch when
# using one are the shapes it expects and the shape it returns.
#
# The loss does two jobs: it tells us how wrong the model is, and it is the starting point of
# **backpropagation**, which computes the gradient of the loss with respect to every parameter.
# The optimizer (next tutorials) then moves each parameter against its gradient to lower the loss.
#
# In PyTorch the gradients appear in `param.grad` after `loss.backward()`. In JAX they are the
# return value of a function: `jax.grad(f)` (or `nnx.grad` for a Flax NNX model) turns a
# function that computes the loss into a function that computes its gradient.

# %%
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

import jloss.nn as nn
from jloss.data import DataLoader, cifar10_standin
from jloss.interop import torch_state_dict
from jloss.models import CIFAR10Net
from jloss.parity import show  # jloss beside torch, agreement asserted
from jloss.parity import to_torch as T  # a torch copy of an array

try:  # PyTorch is optional: without it the notebook shows jloss alone
    import torch
except ImportError:
    torch = None

FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)


# %% [markdown]
# ## 1. `L1Loss`
#
# `L1Loss(size_average=None, reduce=None, reduction='mean')`; input `(N, *)` — `N` is the batch
# size, `*` any number of further dimensions — and a target of the same shape. Per element
# $\ell_i = |x_i - y_i|$, then the mean (default) or the sum.
#
# The tutorial's example has one batch, one channel, one row of three values; the loss needs
# floating-point inputs (an integer tensor is refused, in PyTorch as in jloss).

# %%
inputs = jnp.array([1, 2, 3], dtype=jnp.float32)
targets = jnp.array([1, 2, 5], dtype=jnp.float32)
inputs = jnp.reshape(inputs, (1, 1, 1, 3))  # 1 batch, 1 channel, 1 row, 3 columns
targets = jnp.reshape(targets, (1, 1, 1, 3))

loss = nn.L1Loss()
result = loss(inputs, targets)
print(result)  # (0 + 0 + 2) / 3
assert abs(result - 0.6667) < 1e-4  # the tutorial prints tensor(0.6667)

loss = nn.L1Loss(reduction="sum")
result = loss(inputs, targets)
print(result)  # 0 + 0 + 2
assert result == 2.0  # the tutorial prints tensor(2.)

if torch:
    show("L1Loss", nn.L1Loss()(inputs, targets), torch.nn.L1Loss()(T(inputs), T(targets)))
    show("L1Loss(sum)", result, torch.nn.L1Loss(reduction="sum")(T(inputs), T(targets)))

# %% [markdown]
# ## 2. `MSELoss` (mean squared error)
#
# Same shapes; per element $\ell_i = (x_i - y_i)^2$. Squaring punishes large errors much more than
# small ones: here $(0 + 0 + 2^2) / 3$.

# %%
loss_mse = nn.MSELoss()
result_mse = loss_mse(inputs, targets)
print(result_mse)
assert abs(result_mse - 1.3333) < 1e-4  # the tutorial prints tensor(1.3333)
show("MSELoss", result_mse, torch.nn.MSELoss()(T(inputs), T(targets)) if torch else None)

# %% [markdown]
# ## 3. `CrossEntropyLoss`
#
# For classification with `C` classes — the tutorial's example has three: person, dog, cat. The
# network outputs one **score** per class (not a probability), and the loss for the target class
# $y$ is
#
# $$\ell(x, y) = -\log \frac{e^{x_y}}{\sum_j e^{x_j}} = -x_y + \log \sum_j e^{x_j}$$
#
# (natural log). The input must have shape `(N, C)`, so the three scores are reshaped to `(1, 3)`;
# the target `[1]` says the one sample belongs to class 1 ("dog").

# %%
x = jnp.array([0.1, 0.2, 0.3])
y = jnp.array([1])
x = jnp.reshape(x, (1, 3))  # (N, C): batch of 1, 3 classes
loss_cross = nn.CrossEntropyLoss()
result_cross = loss_cross(x, y)
print(result_cross)
assert abs(result_cross - 1.1019) < 1e-4  # the tutorial prints tensor(1.1019)

by_hand = -0.2 + math.log(math.exp(0.1) + math.exp(0.2) + math.exp(0.3))
print("by hand:", by_hand)
assert abs(result_cross - by_hand) < 1e-6
show("CrossEntropyLoss", result_cross, torch.nn.CrossEntropyLoss()(T(x), T(y)) if torch else None)

# %% [markdown]
# ## 4. What a gradient is
#
# Before the network, the gradient on this small example. The gradient of the loss with respect
# to the scores, $\partial \ell / \partial x_j$, says how fast the loss changes when $x_j$ moves a
# little. For cross entropy it is $\operatorname{softmax}(x)_j - [j = y]$: raising the target's
# score lowers the loss, raising the others raises it.
#
# `jax.grad(f)` builds the function $x \mapsto \nabla f(x)$; we call it at our $x$:

# %%
grad_fn = jax.grad(lambda x: loss_cross(x, y))
g = grad_fn(x)
print("gradient:", g)
np.testing.assert_allclose(g, jax.nn.softmax(x) - jax.nn.one_hot(y, 3), rtol=1e-5)
if torch:
    xt = T(x).requires_grad_()
    torch.nn.CrossEntropyLoss()(xt, T(y)).backward()  # PyTorch's way: backward() fills xt.grad
    show("gradient", g, xt.grad)

# %% [markdown]
# A gradient component is a slope, so we can check it without any calculus: nudge one score by a
# small $h$ in both directions and divide the change of the loss by $2h$ (a central finite
# difference). The plot shows the loss as a function of the target score $x_1$ alone, with the
# tangent whose slope is the gradient.

# %%
h = 1e-2
e1 = jnp.array([[0.0, 1.0, 0.0]])
slope = (loss_cross(x + h * e1, y) - loss_cross(x - h * e1, y)) / (2 * h)
print(f"finite difference {float(slope):.5f}  vs  gradient {float(g[0, 1]):.5f}")
assert abs(slope - g[0, 1]) < 1e-4

ts = jnp.linspace(-2, 3, 101)
curve = jax.vmap(lambda t: loss_cross(x + t * e1, y))(ts)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(0.2 + ts, curve, label="loss as a function of $x_1$")
ax.plot(0.2 + ts, result_cross + g[0, 1] * ts, "--", label=f"tangent at $x_1$ = 0.2, slope {float(g[0, 1]):.4f}")
ax.plot([0.2], [result_cross], "o", color="k")
ax.set(xlabel="score of the target class $x_1$", ylabel="cross entropy", ylim=(0, 3),
       title="The gradient is the slope of the loss")
ax.legend()
fig.savefig(FIGURES / "03_gradient_slope.png", dpi=80)
plt.show()

# %% [markdown]
# ## 5. A loss on the CIFAR-10 network
#
# The tutorial's network ("Tudui") takes 3 × 32 × 32 images: three 5 × 5 convolutions with max
# pooling, a flatten, and two linear layers (1024 → 64 → 10). It has no activation functions, as in
# the tutorial. `jloss.models.CIFAR10Net` is the same network as a Flax NNX module. Two
# differences from PyTorch: images are **NHWC**, `(N, 32, 32, 3)`, the JAX convention (PyTorch's
# are `(N, 3, 32, 32)`), and the parameters are initialised from a seed (`nnx.Rngs(0)`), with
# PyTorch's default distribution.
#
# The tutorial reads the CIFAR-10 test set with `torchvision`, which downloads 163 MB. To run
# offline, this notebook uses `jloss.data.cifar10_standin`: MNIST digits padded to 32 × 32 and
# coloured per class. It is **not** CIFAR-10 (only a dataset of the same shape); with the real files
# on disk, `jloss.data.load_cifar10(...)` gives the real thing and the rest runs unchanged.

# %%
dataset = cifar10_standin(64, seed=0)
print(dataset)
dataloader = DataLoader(dataset, batch_size=1)

tudui = CIFAR10Net(rngs=nnx.Rngs(0))
loss = nn.CrossEntropyLoss()
for i, (imgs, targets) in enumerate(dataloader):
    outputs = tudui(jnp.asarray(imgs))  # (1, 10) scores
    result_loss = loss(outputs, jnp.asarray(targets))
    print(f"image {i}: label {int(targets[0])}, loss {float(result_loss):.4f}")
    if i == 4:
        break

# %% [markdown]
# The losses hover around $\log 10 \approx 2.30$: an untrained network is about equally unsure of
# all ten classes, and $-\log(1/10) = \log 10$.
#
# ## 6. Backpropagation: `jax.grad` instead of `backward()`
#
# In the tutorial, `result_loss.backward()` fills `.grad` on every parameter (before the call, the
# debugger shows `grad` as `None`). In JAX nothing is stored on the model: we write the loss as a
# function of the model, and `nnx.value_and_grad` returns the loss **and** a gradient for every
# parameter, in a tree shaped exactly like the parameters. A batch of 8 images this time:

# %%
imgs, targets = (jnp.asarray(a) for a in dataset[0:8])


def loss_fn(model, imgs, targets):
    return loss(model(imgs), targets)


value, grads = nnx.value_and_grad(loss_fn)(tudui, imgs, targets)
print("loss:", value)
for path, g in nnx.to_flat_state(grads):
    name = ".".join(map(str, path))
    print(f"{name:<24} grad shape {str(g.shape):<16} |grad| max {float(jnp.abs(g[...]).max()):.2e}")

# %% [markdown]
# Where PyTorch is installed we can check all of it: build the tutorial's `Tudui`, give it *our*
# weights (`jloss.interop.torch_state_dict` converts names and layouts: HWIO kernels to OIHW, the
# flatten order from NHWC to PyTorch's), run `backward()`, and compare the loss and every
# gradient. Our gradients are converted the same way, by loading them into a copy of the model.

# %%
if torch:
    from jloss.models.torch_reference import torch_twin  # the tutorials' nets, as written there

    Tudui = torch_twin("CIFAR10Net")  # tutorial 002's class Tudui(nn.Module), verbatim
    torch_tudui = Tudui()
    torch_tudui.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state_dict(tudui).items()})
    torch_loss = torch.nn.CrossEntropyLoss()(torch_tudui(T(imgs).permute(0, 3, 1, 2)), T(targets))
    torch_loss.backward()
    show("loss", value, torch_loss)

    grad_model = nnx.clone(tudui)
    nnx.update(grad_model, grads)  # a model whose "weights" are our gradients
    for name, g in torch_state_dict(grad_model).items():
        tg = dict(torch_tudui.named_parameters())[name].grad
        err = float(np.max(np.abs(g - tg.numpy())))
        print(f"{name:<16} max |grad diff| {err:.1e}")
        np.testing.assert_allclose(g, tg.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)

# %% [markdown]
# ## 7. What the gradient is for
#
# The gradient points in the direction in which the loss grows fastest, so a small step the other
# way lowers it. To first order, moving every parameter by $-\eta\, g$ changes the loss by
# $-\eta \lVert g \rVert^2$. That one step — *gradient descent* — is what the optimizers of the next
# tutorials refine (with momentum, adaptive step sizes, ...):

# %%
lr = 0.05
params = nnx.state(tudui, nnx.Param)
sq_norm = sum(float(jnp.sum(g * g)) for g in jax.tree.leaves(grads))
stepped = nnx.clone(tudui)
nnx.update(stepped, jax.tree.map(lambda p, g: p - lr * g, params, grads))
new_value = loss_fn(stepped, imgs, targets)
print(f"loss before {float(value):.5f}, after one step {float(new_value):.5f}; "
      f"first-order prediction {float(value) - lr * sq_norm:.5f}")
assert new_value < value
assert abs((value - new_value) - lr * sq_norm) < 0.1 * lr * sq_norm  # the linear approximation holds
