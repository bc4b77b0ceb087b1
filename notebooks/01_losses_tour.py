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
# # 01 — A tour of PyTorch's losses, in JAX
#
# This notebook retells tutorial 000 ("损失函数", *loss functions*) with `jloss`. The tutorial lists
# the fifteen losses of `torch.nn` that come up most often, runs four of them on random tensors,
# and then shows the training loop and the `Optimizer` object. Here every loss runs through
# `jloss` and, where PyTorch is installed, right next to PyTorch on the same numbers.
#
# A **loss** turns a model's output and the desired output (the *target*) into one number that is
# small when they agree. Training is the search for the parameters that make it small, so the loss
# is the only thing the optimizer "sees" of the task.
#
# `jloss` keeps PyTorch's names, arguments and defaults, so a port is a rename:
#
# | PyTorch | jloss |
# | --- | --- |
# | `import torch.nn as nn` | `import jloss.nn as nn` |
# | `import torch.nn.functional as F` | `import jloss.functional as F` |
# | `loss = nn.MSELoss(); loss(input, target)` | the same line |
# | `output.backward(); input.grad` | `jax.grad(lambda x: loss(x, target))(input)` |
#
# The differences are the ones JAX brings: arrays are immutable, and gradients come from
# `jax.grad` applied to a function instead of from `.backward()` on a tensor.

# %%
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jloss.functional as F
import jloss.nn as nn
from jloss.parity import show  # jloss beside torch, agreement asserted
from jloss.parity import to_torch as T  # a torch copy of an array

try:  # PyTorch is optional: without it the notebook shows jloss alone
    import torch
except ImportError:
    torch = None

FIGURES = Path("figures")
FIGURES.mkdir(exist_ok=True)
rng = np.random.default_rng(0)


print("torch", torch.__version__ if torch else "not installed: jloss values only")

# %% [markdown]
# ## The fifteen losses of the tutorial
#
# | # | class (same constructor in torch and jloss) | what it measures |
# | --- | --- | --- |
# | 1 | `BCELoss(weight=None, size_average=None, reduce=None, reduction='mean')` | binary cross entropy of probabilities (two-class tasks, multi-label) |
# | 2 | `CrossEntropyLoss(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean')` | cross entropy of raw scores (logits) over `C` classes |
# | 3 | `L1Loss(size_average=None, reduce=None, reduction='mean')` | absolute difference between output and target |
# | 4 | `MSELoss(size_average=None, reduce=None, reduction='mean')` | squared difference between output and target |
# | 5 | `SmoothL1Loss(size_average=None, reduce=None, reduction='mean', beta=1.0)` | L1 that is quadratic near zero: less sensitive to outliers than MSE |
# | 6 | `PoissonNLLLoss(log_input=True, full=False, size_average=None, eps=1e-08, reduce=None, reduction='mean')` | negative log-likelihood of a Poisson-distributed target |
# | 7 | `KLDivLoss(size_average=None, reduce=None, reduction='mean', log_target=False)` | Kullback-Leibler divergence (relative entropy) between two distributions |
# | 8 | `MarginRankingLoss(margin=0.0, size_average=None, reduce=None, reduction='mean')` | whether two scores are in the right order (ranking) |
# | 9 | `MultiLabelMarginLoss(size_average=None, reduce=None, reduction='mean')` | hinge loss for multi-label classification |
# | 10 | `SoftMarginLoss(size_average=None, reduce=None, reduction='mean')` | two-class logistic loss with labels ±1 |
# | 11 | `MultiMarginLoss(p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction='mean')` | multi-class hinge loss |
# | 12 | `TripletMarginLoss(margin=1.0, p=2.0, eps=1e-06, swap=False, size_average=None, reduce=None, reduction='mean')` | the anchor should be closer to the positive than to the negative example |
# | 13 | `HingeEmbeddingLoss(margin=1.0, size_average=None, reduce=None, reduction='mean')` | hinge loss on a distance, for "similar / dissimilar" pairs |
# | 14 | `CosineEmbeddingLoss(margin=0.0, size_average=None, reduce=None, reduction='mean')` | cosine similarity as a distance: similar pairs close, dissimilar pairs apart |
# | 15 | `CTCLoss(blank=0, reduction='mean', zero_infinity=False)` | connectionist temporal classification, for unaligned sequences (speech, handwriting) |
#
# `size_average` and `reduce` are PyTorch's deprecated way of choosing the reduction; notebook 02
# shows how they map to `reduction` (and that jloss warns about them, as PyTorch does).

# %% [markdown]
# ## The tutorial's four examples
#
# The tutorial draws its inputs with `torch.randn` without a seed, so we cannot draw the same
# numbers; but it prints them (to four decimals), and so we type them in. Because the inputs are
# rounded to four decimals, our losses may differ from the printed ones in the fourth decimal at
# most; we assert agreement to `1e-4`.
#
# ### 1. `BCELoss` after a `Sigmoid`
#
# Binary cross entropy compares a probability $x_i \in [0, 1]$ with a target $y_i \in \{0, 1\}$:
#
# $$\ell_i = -\big[\, y_i \log x_i + (1 - y_i) \log(1 - x_i) \,\big]$$
#
# The input must already be a probability, so the tutorial passes raw scores through `Sigmoid` first.

# %%
x = jnp.array([-0.2444, -0.0517, 0.6541])
y = jnp.array([1.0, 1.0, 1.0])
m = jax.nn.sigmoid  # torch.nn.Sigmoid()
loss = nn.BCELoss()
output = loss(m(x), y)
print("BCELoss:", output)
assert abs(output - 0.6536) < 1e-4  # the tutorial prints tensor(0.6536)

show("BCELoss", output, torch.nn.BCELoss()(torch.sigmoid(T(x)), T(y)) if torch else None)

# %% [markdown]
# `output.backward()` in PyTorch fills `input.grad`. In JAX the gradient is a function of the
# inputs: `jax.grad(f)` returns the function $x \mapsto \partial f / \partial x$. For BCE after a
# sigmoid it is $(\sigma(x_i) - y_i) / N$, as the printout confirms.

# %%
grad = jax.grad(lambda x: loss(m(x), y))(x)
print("d loss / d input:", grad)
np.testing.assert_allclose(grad, (jax.nn.sigmoid(x) - y) / 3, rtol=1e-5)
if torch:
    xt = T(x).requires_grad_()
    torch.nn.BCELoss()(torch.sigmoid(xt), T(y)).backward()
    show("BCELoss gradient", grad, xt.grad)

# %% [markdown]
# ### 2. `CrossEntropyLoss`
#
# For `C` classes the input holds one raw score (a *logit*) per class, **not** probabilities:
# the loss applies the softmax itself, in its numerically stable log form,
#
# $$\ell_n = -\log \frac{e^{x_{n, y_n}}}{\sum_c e^{x_{n,c}}} = -x_{n, y_n} + \log \sum_c e^{x_{n,c}},$$
#
# and the target holds class indices. Its gradient w.r.t. the logits is the famous
# "softmax minus one-hot", divided by `N` for the mean.

# %%
x = jnp.array([[-0.4884, 0.1553, -0.1917, 0.8103, 0.4447],
               [0.7099, -1.3003, 0.6739, 0.0164, 1.5402],
               [1.0833, -1.1766, -2.2679, 1.7250, 0.5305]])
target = jnp.array([4, 0, 1])
loss = nn.CrossEntropyLoss()
output = loss(x, target)
print("CrossEntropyLoss:", output)
assert abs(output - 2.1822) < 1e-4  # the tutorial prints tensor(2.1822)
show("CrossEntropyLoss", output, torch.nn.CrossEntropyLoss()(T(x), T(target)) if torch else None)

grad = jax.grad(loss)(x, target)
np.testing.assert_allclose(grad, (jax.nn.softmax(x) - jax.nn.one_hot(target, 5)) / 3, rtol=1e-5, atol=1e-7)
if torch:
    xt = T(x).requires_grad_()
    torch.nn.CrossEntropyLoss()(xt, T(target)).backward()
    show("CrossEntropyLoss gradient", grad, xt.grad)

# %% [markdown]
# ### 3. `L1Loss` and 4. `MSELoss`
#
# The two classic regression losses: the mean absolute error $\ell_i = |x_i - y_i|$ and the mean
# squared error $\ell_i = (x_i - y_i)^2$, averaged over **all** elements (here 3 × 5 = 15).

# %%
x = jnp.array([[-0.5901, -0.2502, 0.1925, -2.0331, -0.9004],
               [-0.9269, -1.3695, 0.1490, -1.0374, 1.3361],
               [1.8951, 2.4225, -0.2311, -0.4141, 0.0485]])
y = jnp.array([[1.7490, -0.3514, -1.1049, -1.2197, 0.7158],
               [-0.4237, 0.0408, -0.9130, -1.2334, -0.2821],
               [-0.5107, -0.2122, 1.2934, 0.8623, -0.4861]])
output = nn.L1Loss()(x, y)
print("L1Loss:", output)
assert abs(output - 1.2889) < 1e-4  # the tutorial prints tensor(1.2889)
show("L1Loss", output, torch.nn.L1Loss()(T(x), T(y)) if torch else None)

x = jnp.array([[1.3246, -1.3853, -0.0266, 1.2004, -1.0868],
               [1.3070, -0.3433, 0.1438, -0.8947, -0.3764],
               [0.0554, -0.1030, -0.6538, 0.7210, -0.1273]])
y = jnp.array([[1.3370, 2.7128, -0.3621, 1.7593, 0.4754],
               [-0.7533, -0.5846, 0.1655, -0.1042, -0.5822],
               [-1.1543, -0.1282, -1.7099, -0.1448, 0.4791]])
output = nn.MSELoss()(x, y)
print("MSELoss:", output)
assert abs(output - 1.8885) < 1e-4  # the tutorial prints tensor(1.8885)
show("MSELoss", output, torch.nn.MSELoss()(T(x), T(y)) if torch else None)

# %% [markdown]
# ## The other eleven
#
# The tutorial only names them; here each one gets a small example, drawn with a seeded NumPy
# generator so that jloss and PyTorch see identical float32 inputs.
#
# ### Regression: `SmoothL1Loss` (and `HuberLoss`)
#
# $$\ell_i = \begin{cases} 0.5\,(x_i - y_i)^2 / \beta & |x_i - y_i| < \beta \\ |x_i - y_i| - 0.5\,\beta & \text{otherwise} \end{cases}$$
#
# Quadratic for small errors (a smooth minimum, like MSE), linear for large ones (outliers pull no
# harder than in L1). `HuberLoss(delta)` is the same curve scaled by `delta`; they coincide for
# `beta = delta = 1`. A picture says it better than the formulas:

# %%
x = jnp.asarray(rng.standard_normal((3, 5)), jnp.float32)
y = jnp.asarray(rng.standard_normal((3, 5)), jnp.float32)
show("SmoothL1Loss(beta=0.5)", nn.SmoothL1Loss(beta=0.5)(x, y),
        torch.nn.SmoothL1Loss(beta=0.5)(T(x), T(y)) if torch else None)

err = jnp.linspace(-3, 3, 301)
zero = jnp.zeros_like(err)
fig, ax = plt.subplots(figsize=(7, 4))
for name, fn in [("L1Loss", nn.L1Loss(reduction="none")), ("MSELoss", nn.MSELoss(reduction="none")),
                 ("SmoothL1Loss(beta=1)", nn.SmoothL1Loss(reduction="none")),
                 ("HuberLoss(delta=2)", nn.HuberLoss(reduction="none", delta=2.0))]:
    ax.plot(err, fn(err, zero), label=name)
ax.set(xlabel="error  x - y", ylabel="loss", ylim=(0, 5), title="Regression losses against the error")
ax.legend()
fig.savefig(FIGURES / "01_regression_losses.png", dpi=80)
plt.show()

# %% [markdown]
# ### `PoissonNLLLoss`
#
# For count data: the target $y$ is assumed Poisson-distributed with rate $\lambda$. With the
# default `log_input=True` the input is $\log \lambda$ and the loss is $\ell = e^{x} - y\,x$ (the
# negative log-likelihood without the constant $\log y!$; `full=True` adds its Stirling
# approximation).

# %%
log_rate = jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)
counts = jnp.asarray(rng.poisson(2.0, (4, 3)), jnp.float32)
show("PoissonNLLLoss", nn.PoissonNLLLoss()(log_rate, counts),
        torch.nn.PoissonNLLLoss()(T(log_rate), T(counts)) if torch else None)
show("PoissonNLLLoss(full)", nn.PoissonNLLLoss(full=True)(log_rate, counts),
        torch.nn.PoissonNLLLoss(full=True)(T(log_rate), T(counts)) if torch else None)

# %% [markdown]
# ### `KLDivLoss`
#
# $D_{KL}(P \,\|\, Q) = \sum_i p_i (\log p_i - \log q_i)$, how much information is lost when the
# model's distribution $Q$ stands in for the target $P$. A PyTorch quirk that jloss keeps: the
# **input is the log-probability** $\log q$ while the target is a plain probability $p$ (unless
# `log_target=True`), and only `reduction='batchmean'` gives the mathematical KL per sample;
# `'mean'` divides by the number of elements instead (both libraries warn when you use it).

# %%
log_q = jax.nn.log_softmax(jnp.asarray(rng.standard_normal((3, 5)), jnp.float32), axis=1)
p = jax.nn.softmax(jnp.asarray(rng.standard_normal((3, 5)), jnp.float32), axis=1)
for red in ("batchmean", "mean"):
    show(f"KLDivLoss({red!r})", nn.KLDivLoss(reduction=red)(log_q, p),
            torch.nn.KLDivLoss(reduction=red)(T(log_q), T(p)) if torch else None)
by_hand = jnp.sum(p * (jnp.log(p) - log_q)) / 3
np.testing.assert_allclose(nn.KLDivLoss(reduction="batchmean")(log_q, p), by_hand, rtol=1e-5)

# %% [markdown]
# ### Margin losses: `MarginRankingLoss`, `SoftMarginLoss`, `HingeEmbeddingLoss`
#
# * `MarginRankingLoss`: $\ell = \max(0, -y\,(x_1 - x_2) + \text{margin})$ with $y = 1$ when
#   $x_1$ should rank higher, $y = -1$ when $x_2$ should.
# * `SoftMarginLoss`: $\ell = \log(1 + e^{-y x})$, the logistic loss with labels $\pm 1$.
# * `HingeEmbeddingLoss`: $\ell = x$ for $y = 1$ and $\max(0, \text{margin} - x)$ for $y = -1$,
#   where $x$ is usually a distance: similar pairs should be close, dissimilar ones at least
#   `margin` apart.

# %%
x1 = jnp.asarray(rng.standard_normal(6), jnp.float32)
x2 = jnp.asarray(rng.standard_normal(6), jnp.float32)
sign = jnp.asarray(rng.choice([-1.0, 1.0], 6), jnp.float32)
dist = jnp.abs(x1 - x2)
show("MarginRankingLoss(0.5)", nn.MarginRankingLoss(margin=0.5)(x1, x2, sign),
        torch.nn.MarginRankingLoss(margin=0.5)(T(x1), T(x2), T(sign)) if torch else None)
show("SoftMarginLoss", nn.SoftMarginLoss()(x1, sign),
        torch.nn.SoftMarginLoss()(T(x1), T(sign)) if torch else None)
show("HingeEmbeddingLoss", nn.HingeEmbeddingLoss()(dist, sign),
        torch.nn.HingeEmbeddingLoss()(T(dist), T(sign)) if torch else None)

# %% [markdown]
# ### Multi-class and multi-label hinge losses: `MultiMarginLoss`, `MultiLabelMarginLoss`
#
# `MultiMarginLoss` asks the score of the true class to beat every other score by `margin`:
# $\ell_n = \frac{1}{C} \sum_{c \ne y_n} \max(0, \text{margin} - x_{n,y_n} + x_{n,c})^p$.
#
# `MultiLabelMarginLoss` does the same for several true classes per sample. Its target has a
# PyTorch-specific layout that jloss keeps: the class indices of each sample come first, and the
# list ends at the first `-1` (so `[3, 0, -1, 1]` means classes 3 and 0).

# %%
scores = jnp.asarray(rng.standard_normal((3, 4)), jnp.float32)
labels = jnp.array([3, 0, 1])
show("MultiMarginLoss", nn.MultiMarginLoss()(scores, labels),
        torch.nn.MultiMarginLoss()(T(scores), T(labels)) if torch else None)
show("MultiMarginLoss(p=2)", nn.MultiMarginLoss(p=2)(scores, labels),
        torch.nn.MultiMarginLoss(p=2)(T(scores), T(labels)) if torch else None)
multi = jnp.array([[3, 0, -1, 1], [1, -1, 0, 0], [0, 1, 2, 3]])
show("MultiLabelMarginLoss", nn.MultiLabelMarginLoss()(scores, multi),
        torch.nn.MultiLabelMarginLoss()(T(scores), T(multi)) if torch else None)

# %% [markdown]
# ### Embedding losses: `TripletMarginLoss`, `CosineEmbeddingLoss`
#
# * `TripletMarginLoss`: $\ell = \max(0,\ d(a, p) - d(a, n) + \text{margin})$ with the
#   $p$-norm distance $d$ — an anchor should be closer to a positive example than to a negative one.
# * `CosineEmbeddingLoss`: $1 - \cos(x_1, x_2)$ for similar pairs ($y = 1$) and
#   $\max(0, \cos(x_1, x_2) - \text{margin})$ for dissimilar ones ($y = -1$).

# %%
anchor, positive, negative = (jnp.asarray(rng.standard_normal((4, 8)), jnp.float32) for _ in range(3))
show("TripletMarginLoss", nn.TripletMarginLoss()(anchor, positive, negative),
        torch.nn.TripletMarginLoss()(T(anchor), T(positive), T(negative)) if torch else None)
show("TripletMarginLoss(swap)", nn.TripletMarginLoss(swap=True)(anchor, positive, negative),
        torch.nn.TripletMarginLoss(swap=True)(T(anchor), T(positive), T(negative)) if torch else None)
pair = jnp.array([1.0, -1.0, 1.0, -1.0])
show("CosineEmbeddingLoss", nn.CosineEmbeddingLoss()(anchor, positive, pair),
        torch.nn.CosineEmbeddingLoss()(T(anchor), T(positive), T(pair)) if torch else None)

# %% [markdown]
# ### Sequences: `CTCLoss`
#
# Connectionist Temporal Classification scores an output sequence of length `T` (per-frame
# log-probabilities over `C` symbols, one of them the *blank*) against a shorter target without
# knowing which frame produces which symbol: it sums the probability of every alignment, with a
# dynamic program. The shapes follow PyTorch: `log_probs` is `(T, N, C)`, and the `'mean'`
# reduction divides each sequence's loss by its target length before averaging over the batch.

# %%
T_, N, C, S = 30, 2, 6, 10
log_probs = jax.nn.log_softmax(jnp.asarray(rng.standard_normal((T_, N, C)), jnp.float32), axis=2)
targets = jnp.asarray(rng.integers(1, C, (N, S)))
input_lengths = jnp.array([30, 25])
target_lengths = jnp.array([10, 7])
show("CTCLoss", nn.CTCLoss()(log_probs, targets, input_lengths, target_lengths),
        torch.nn.CTCLoss()(T(log_probs), T(targets), T(input_lengths), T(target_lengths)) if torch else None)
show("CTCLoss('none')", nn.CTCLoss(reduction="none")(log_probs, targets, input_lengths, target_lengths),
        torch.nn.CTCLoss(reduction="none")(T(log_probs), T(targets), T(input_lengths), T(target_lengths))
        if torch else None)

# %% [markdown]
# ## Reductions: `'none'`, `'mean'`, `'sum'`
#
# Every loss first computes one value per element (or per sample), then *reduces*:
# `'none'` returns them all, `'sum'` adds them up, `'mean'` (the default) averages them. For the
# element-wise losses the mean is over all elements, so `mean == sum / numel`. Each class also
# has a function form in `jloss.functional`, like `torch.nn.functional.l1_loss`.

# %%
x = jnp.asarray(rng.standard_normal((2, 3)), jnp.float32)
y = jnp.asarray(rng.standard_normal((2, 3)), jnp.float32)
per_element = nn.L1Loss(reduction="none")(x, y)
print("per element:\n", per_element)
for red in ("none", "mean", "sum"):
    show(f"L1Loss({red!r})", nn.L1Loss(reduction=red)(x, y),
            torch.nn.L1Loss(reduction=red)(T(x), T(y)) if torch else None)
np.testing.assert_allclose(nn.L1Loss(reduction="mean")(x, y), per_element.sum() / per_element.size, rtol=1e-6)

# every class has its function in jloss.functional (torch.nn.functional's names), same arguments
np.testing.assert_allclose(F.l1_loss(x, y, reduction="sum"), nn.L1Loss(reduction="sum")(x, y), rtol=1e-6)

# %% [markdown]
# ## `BCELoss` on `Sigmoid` outputs vs `BCEWithLogitsLoss`
#
# The tutorial warns that `BCELoss` needs probabilities, so it puts a `Sigmoid` in front.
# `BCEWithLogitsLoss` fuses the two and takes the raw logit $z$, computing
# $\max(z, 0) - z\,y + \log(1 + e^{-|z|})$, which never evaluates a $\log$ of something that has
# rounded to 0. On moderate logits the two agree:

# %%
z = jnp.asarray(rng.standard_normal(5), jnp.float32)
y = jnp.asarray(rng.integers(0, 2, 5), jnp.float32)
bce, bce_logits = nn.BCELoss(), nn.BCEWithLogitsLoss()
print("BCELoss(sigmoid(z)):", bce(jax.nn.sigmoid(z), y), "  BCEWithLogitsLoss(z):", bce_logits(z, y))
np.testing.assert_allclose(bce(jax.nn.sigmoid(z), y), bce_logits(z, y), rtol=1e-5)
show("BCEWithLogitsLoss", bce_logits(z, y), torch.nn.BCEWithLogitsLoss()(T(z), T(y)) if torch else None)

# %% [markdown]
# On confident logits they part ways. In float32, $\sigma(20)$ rounds to exactly `1.0`, so
# $\log(1 - \sigma(z)) = \log 0 = -\infty$. PyTorch's `BCELoss` clamps each log at $-100$ — the
# loss is capped at 100 instead of being infinite — and jloss reproduces that clamp (and the
# gradient PyTorch computes through it). The price: past the saturation point the loss is flat
# and **its gradient is zero**, so a confidently wrong prediction stops learning. The fused loss
# stays exact and its gradient $\sigma(z) - y$ stays at 1.

# %%
y1 = jnp.zeros(1)
for zv in (5.0, 20.0, 200.0):
    zz = jnp.array([zv])
    sig = bce(jax.nn.sigmoid(zz), y1)
    fused = bce_logits(zz, y1)
    g_sig = jax.grad(lambda z: bce(jax.nn.sigmoid(z), y1))(zz)
    g_fused = jax.grad(lambda z: bce_logits(z, y1))(zz)
    print(f"z = {zv:>5}: BCELoss(sigmoid) = {float(sig):9.4f} (grad {float(g_sig[0]):.3f})   "
          f"BCEWithLogitsLoss = {float(fused):9.4f} (grad {float(g_fused[0]):.3f})")
    if torch:
        zt = T(zz).requires_grad_()
        t_sig = torch.nn.BCELoss()(torch.sigmoid(zt), T(y1))
        t_sig.backward()
        show("  vs torch: value", sig, t_sig)
        show("  vs torch: gradient", g_sig, zt.grad)
assert float(bce(jax.nn.sigmoid(jnp.array([200.0])), y1)) == 100.0  # the clamp at log = -100
assert float(bce_logits(jnp.array([200.0]), y1)) == 200.0

zs = jnp.linspace(-5, 150, 400)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(zs, nn.BCELoss(reduction="none")(jax.nn.sigmoid(zs), jnp.zeros_like(zs)),
        label="BCELoss(sigmoid(z)): capped at 100")
ax.plot(zs, nn.BCEWithLogitsLoss(reduction="none")(zs, jnp.zeros_like(zs)), "--", label="BCEWithLogitsLoss(z)")
ax.set(xlabel="logit z (target 0)", ylabel="loss", title="A confidently wrong prediction, float32")
ax.legend()
fig.savefig(FIGURES / "01_bce_vs_logits.png", dpi=80)
plt.show()

# %% [markdown]
# ## Training and evaluation
#
# The tutorial's training loop, with what each line becomes in JAX:
#
# | PyTorch | JAX / jloss |
# | --- | --- |
# | `optimizer.zero_grad()` | nothing: `jax.grad` returns fresh gradients every time |
# | `output = model(data)`; `loss = criterion(output, label)` | `def loss_fn(params): return criterion(model(params, data), label)` |
# | `loss.backward()` | `loss, grads = jax.value_and_grad(loss_fn)(params)` |
# | `optimizer.step()` | `params = optimizer.step(grads)` (or optax's `update` + `apply_updates`) |
# | `model.eval()`, `with torch.no_grad():` | nothing to switch off: evaluation just does not call `jax.grad` |
#
# Notebook 05 trains a network this way.
#
# ## The `Optimizer` object
#
# The tutorial's last part pokes at `torch.optim.SGD`'s attributes. `jloss.optim` has the same
# objects over its optax transforms, with `param_groups`, `state_dict()` and `load_state_dict()`
# in PyTorch's layout. One SGD step with `lr=0.1`, `momentum=0.9` on a gradient of ones moves each
# weight by exactly 0.1 (the momentum buffer starts at the first gradient):

# %%
import jloss.optim as optim  # noqa: E402

weight = jnp.array([[1.5941, 0.9487], [0.1566, 1.5587]])  # the tutorial's printed weight
optimizer = optim.SGD(weight, lr=0.1, momentum=0.9)
weight = optimizer.step(jnp.ones((2, 2)))
print("weight after one step:\n", weight)
np.testing.assert_allclose(weight, [[1.4941, 0.8487], [0.0566, 1.4587]], atol=1e-6)  # tutorial's printout
print("param_groups:", [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups])
if torch:
    tw = torch.tensor([[1.5941, 0.9487], [0.1566, 1.5587]], requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    tw.grad = torch.ones(2, 2)
    topt.step()
    show("SGD step", weight, tw.detach())

# %% [markdown]
# A second parameter group with its own hyperparameters, fifty steps, and a save / load round trip
# of the state (PyTorch layout: `state` keyed by parameter index, `param_groups` listing indices):

# %%
import pickle  # noqa: E402
import tempfile  # noqa: E402

optimizer.add_param_group({"params": jnp.asarray(rng.standard_normal((3, 3)), jnp.float32),
                           "lr": 0.0001, "nesterov": True})
for _ in range(50):
    optimizer.step([jnp.ones((2, 2)), jnp.ones((3, 3))])
state_dict = optimizer.state_dict()
print("param_groups:", [{k: g[k] for k in ("params", "lr", "momentum", "nesterov")} for g in state_dict["param_groups"]])
print("state[0]['momentum_buffer']:\n", state_dict["state"][0]["momentum_buffer"])
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "optimizer_state_dict.pkl"
    path.write_bytes(pickle.dumps(state_dict))
    optimizer.load_state_dict(pickle.loads(path.read_bytes()))
print("load state_dict successfully")
# 51 steps of heavy-ball momentum on a constant gradient: the buffer is sum(0.9**k, k < 51)
np.testing.assert_allclose(state_dict["state"][0]["momentum_buffer"], np.full((2, 2), (1 - 0.9**51) / 0.1), rtol=1e-5)

