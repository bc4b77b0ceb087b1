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
# # 02 — Binary cross entropy and NLL, by hand
#
# This notebook retells tutorial 001 ("pytorch中计算loss的函数总结", *a summary of PyTorch's loss
# functions*): it computes `BCELoss` by hand, shows a result that looks wrong at first sight, writes
# `BCEWithLogitsLoss` out as a sigmoid and two logs, sets `CrossEntropyLoss` against `BCELoss`,
# and walks through `NLLLoss`'s arguments. Each value is computed with `jloss`, checked against the
# formula, and, where PyTorch is installed, against PyTorch.

# %%
import math
import warnings
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


# %% [markdown]
# ## 1. `BCELoss`
#
# *Binary cross entropy* scores a predicted probability $\hat y \in [0, 1]$ against a label
# $y \in \{0, 1\}$:
#
# $$L = -\big[\, y \log \hat y + (1 - y) \log(1 - \hat y) \,\big]$$
#
# Only one of the two terms is alive for a hard label: $-\log \hat y$ when $y = 1$, and
# $-\log(1 - \hat y)$ when $y = 0$. `BCELoss` averages $L$ over all elements.
#
# The tutorial turns two scores into probabilities with a softmax and scores them against the
# labels `[0, 1]`:

# %%
target = jnp.array([0, 1])
b = jnp.array([0.2939, 0.939])
b1 = jax.nn.softmax(b, axis=-1)  # torch.nn.Softmax(dim=-1)
print("b1 =", b1)
bce = nn.BCELoss()
loss_2 = bce(b1, target.astype(jnp.float32))
print("BCELoss:", loss_2)
assert abs(loss_2 - 0.4217) < 1e-4
show("BCELoss", loss_2, torch.nn.BCELoss()(torch.softmax(T(b), -1), T(target).float()) if torch else None)

# %% [markdown]
# Read `b1 = [0.3441, 0.6559]` with `target = [0, 1]` as two samples: the first has label 0 and
# predicted probability 0.3441 (of being a 1), the second has label 1 and probability 0.6559. So
#
# $$L = -\tfrac12 \big[\log(1 - 0.3441) + \log 0.6559\big]$$
#
# which is what the tutorial computes with `math.log`:

# %%
loss = -(math.log(1 - 0.3441) + math.log(0.6559)) / 2
print(loss)
assert abs(loss - 0.4217469406824472) < 1e-15  # the tutorial's printout, to the last digit
assert abs(loss - loss_2) < 1e-4  # b1 rounded to four decimals vs the exact softmax

# %% [markdown]
# A remark the tutorial leaves out: the softmax here runs across two *different samples*, which
# couples them (raising one score lowers the other's probability). For independent binary
# decisions the map from a score to a probability is the sigmoid, element by element — which is
# exactly what `BCEWithLogitsLoss` (section 3) builds in.
#
# ## 2. A counter-intuitive result: soft labels
#
# Take a prediction $\hat y = 0.91276$ and two targets: the hard label $b = 1$ and a soft label
# $c = 0.92$ (a *smoothed* label, as label-smoothing regularisation produces). The prediction is
# much closer to $c$ than to $b$, yet BCE says it is further away:

# %%
pred = jnp.array([9.1276e-01])
b = jnp.array([1.0])
criterion = nn.BCELoss()
loss_ab = criterion(pred, b)
print("loss_ab =", loss_ab, "   log(pred) =", jnp.log(pred))

c = jnp.array([0.92])
loss_ac = criterion(pred, c)
print("loss_ac =", loss_ac, "   c log(pred) + (1 - c) log(1 - pred) =", c * jnp.log(pred) + (1 - c) * jnp.log(1 - pred))
assert loss_ab < loss_ac  # the "wrong" ordering the tutorial points out
np.testing.assert_allclose(loss_ab, -jnp.log(pred)[0], rtol=1e-6)
np.testing.assert_allclose(loss_ac, -(c * jnp.log(pred) + (1 - c) * jnp.log(1 - pred))[0], rtol=1e-6)
if torch:
    show("loss_ab", loss_ab, torch.nn.BCELoss()(T(pred), T(b)))
    show("loss_ac", loss_ac, torch.nn.BCELoss()(T(pred), T(c)))

# %% [markdown]
# Nothing is broken. With a hard label only the $y \log \hat y$ term survives; with a soft label
# the $(1 - y)\log(1 - \hat y)$ term switches on too. BCE is a cross entropy $H(y, \hat y)$, and a
# cross entropy splits into the target's own entropy plus a divergence:
#
# $$H(y, \hat y) = H(y) + D_{KL}(y \,\|\, \hat y)$$
#
# Over $\hat y$ it is smallest at $\hat y = y$, as a loss should be, but that minimum is $H(y)$,
# which is 0 only for a hard label. To compare distances across targets, subtract $H(y)$ —
# that is, look at the KL divergence — and the intuitive order comes back:

# %%
def entropy(y):
    return -(y * jnp.log(y) + (1 - y) * jnp.log(1 - y)) if 0 < float(y[0]) < 1 else jnp.zeros_like(y)


kl_ab, kl_ac = loss_ab - entropy(b)[0], loss_ac - entropy(c)[0]
print(f"KL(b || pred) = {float(kl_ab):.6f}   KL(c || pred) = {float(kl_ac):.6f}")
assert kl_ac < kl_ab

p = jnp.linspace(0.5, 0.999, 300)
fig, ax = plt.subplots(figsize=(7, 4))
for yv, style in ((1.0, "-"), (0.92, "--")):
    ax.plot(p, nn.BCELoss(reduction="none")(p, jnp.full_like(p, yv)), style, label=f"BCE, target {yv}")
ax.axvline(0.91276, color="gray", lw=0.8)
ax.annotate("pred = 0.91276", (0.91276, 0.6), xytext=(0.7, 0.6), arrowprops={"arrowstyle": "->"})
ax.set(xlabel="predicted probability", ylabel="loss", ylim=(0, 0.8),
       title="BCE is smallest at pred = target, but the minimum is H(target)")
ax.legend()
fig.savefig(FIGURES / "02_soft_label_bce.png", dpi=80)
plt.show()

# %% [markdown]
# ## 3. `BCEWithLogitsLoss`, and the same thing by hand
#
# `BCEWithLogitsLoss` takes raw scores (*logits*) instead of probabilities: it is a sigmoid
# followed by BCE, in one numerically careful function. Each element is its own yes / no question,
# so the loss works for multi-label targets (several 1s per row) as easily as for one.
#
# The tutorial's example, element by element (`reduction='none'`):

# %%
pred = jnp.array([[-0.4089, -1.2471, 0.5907],
                  [-0.4897, -0.8267, -0.7349],
                  [0.5241, -0.1246, -0.4751]])
label = jnp.array([[0, 1, 1],
                   [0, 0, 1],
                   [1, 0, 1]], dtype=jnp.float32)
crition1 = nn.BCEWithLogitsLoss(reduction="none")
loss1 = crition1(pred, label)
print(loss1)
show("BCEWithLogitsLoss('none')", loss1,
        torch.nn.BCEWithLogitsLoss(reduction="none")(T(pred), T(label)) if torch else None)

# %% [markdown]
# The tutorial then rebuilds it: the positive term $-y \log \sigma(x)$, the negative term
# $-(1 - y)\log(1 - \sigma(x))$, and a tiny `eps` inside the logs against $\log 0$:

# %%
a = jax.nn.sigmoid(pred)
eps = 1e-20
loss_pos = label * -jnp.log(a + eps)
loss_neg = -(1 - label) * jnp.log(1 - a + eps)
loss = loss_pos + loss_neg
print(loss)
np.testing.assert_allclose(loss, loss1, rtol=1e-5, atol=1e-7)

# %% [markdown]
# They agree here. They stop agreeing when a logit is large: in float32 $\sigma(60)$ rounds to
# exactly 1, so $1 - \sigma(60) + \varepsilon = 10^{-20}$ and the hand-written loss for label 0 is
# $-\log 10^{-20} \approx 46.05$, whatever the logit. (Note also that $\varepsilon$ changes nothing
# elsewhere: $1 - a + 10^{-20}$ rounds back to $1 - a$.) The fused loss computes
# $\max(x, 0) - x\,y + \log(1 + e^{-|x|})$ and stays exact:

# %%
big = jnp.array([60.0])
zero = jnp.array([0.0])
by_hand = -(1 - zero) * jnp.log(1 - jax.nn.sigmoid(big) + eps)
print("by hand:", by_hand, "  BCEWithLogitsLoss:", nn.BCEWithLogitsLoss()(big, zero))
assert abs(float(by_hand[0]) - 20 * math.log(10)) < 1e-3 and float(nn.BCEWithLogitsLoss()(big, zero)) == 60.0

# %% [markdown]
# `BCEWithLogitsLoss` also takes `weight` (a rescaling per element, broadcast against the input)
# and `pos_weight` (a factor on the positive term only, one per class, the usual remedy when
# positives are rare): $\ell = -w\,[\,p\,y \log \sigma(x) + (1 - y)\log(1 - \sigma(x))\,]$.

# %%
pos_weight = jnp.array([1.0, 3.0, 0.5])
ours = nn.BCEWithLogitsLoss(pos_weight=pos_weight)(pred, label)
by_hand = jnp.mean(-(pos_weight * label * jnp.log(a) + (1 - label) * jnp.log(1 - a)))
np.testing.assert_allclose(ours, by_hand, rtol=1e-5)
show("BCEWithLogitsLoss(pos_weight)", ours,
        torch.nn.BCEWithLogitsLoss(pos_weight=T(pos_weight))(T(pred), T(label)) if torch else None)

# %% [markdown]
# ## 4. `CrossEntropyLoss` vs `BCELoss`
#
# The tutorial leaves these two questions as headings; here are the answers.
#
# **How is `CrossEntropyLoss` used?** For a single label out of `C` mutually exclusive classes.
# The input is `(N, C)` logits (no softmax before it!), the target is `(N,)` class indices (or
# `(N, C)` class probabilities). It is `log_softmax` followed by `NLLLoss`:
#
# $$\ell_n = -\log \operatorname{softmax}(x_n)_{y_n} = -x_{n,y_n} + \log \textstyle\sum_c e^{x_{n,c}}$$

# %%
rng = np.random.default_rng(1)
logits = jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)
classes = jnp.array([0, 2, 1, 2])
ce = nn.CrossEntropyLoss()(logits, classes)
np.testing.assert_allclose(ce, nn.NLLLoss()(jax.nn.log_softmax(logits, axis=1), classes), rtol=1e-6)
show("CrossEntropyLoss", ce, torch.nn.CrossEntropyLoss()(T(logits), T(classes)) if torch else None)

# %% [markdown]
# **How does it differ from `BCELoss`?** The softmax makes the classes compete: their
# probabilities sum to 1, so exactly one class is "the" answer. `BCELoss` / `BCEWithLogitsLoss`
# treat every output as an independent yes / no: probabilities need not sum to anything, and a
# sample may belong to several classes at once (multi-label). With **two** classes the two views
# coincide: a softmax over $(x_0, x_1)$ is a sigmoid of the difference $x_1 - x_0$.

# %%
two = jnp.asarray(rng.standard_normal((5, 2)), jnp.float32)
y2 = jnp.array([0, 1, 1, 0, 1])
ce2 = nn.CrossEntropyLoss()(two, y2)
bce2 = nn.BCEWithLogitsLoss()(two[:, 1] - two[:, 0], y2.astype(jnp.float32))
print("CrossEntropyLoss on 2 logits:", ce2, "  BCEWithLogitsLoss on their difference:", bce2)
np.testing.assert_allclose(ce2, bce2, rtol=1e-5)

# %% [markdown]
# Soft targets again: `CrossEntropyLoss(label_smoothing=ε)` replaces the one-hot target with
# $(1 - ε)\,\text{onehot} + ε / C$, the "LSR" strategy the tutorial mentions. The same number comes
# from passing that distribution as a probability target:

# %%
smoothed = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, classes)
soft_target = 0.9 * jax.nn.one_hot(classes, 3) + 0.1 / 3
np.testing.assert_allclose(smoothed, nn.CrossEntropyLoss()(logits, soft_target), rtol=1e-5)
show("CrossEntropyLoss(smoothing)", smoothed,
        torch.nn.CrossEntropyLoss(label_smoothing=0.1)(T(logits), T(classes)) if torch else None)

# %% [markdown]
# ## 5. `NLLLoss`
#
# The *negative log-likelihood* loss expects **log-probabilities** `(N, C)` (the output of
# `log_softmax`) and class indices, and simply picks and negates: $\ell_n = -w_{y_n}\, x_{n, y_n}$.
#
# `NLLLoss(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean')`:
#
# * `weight` — one rescaling factor per class (for unbalanced classes);
# * `ignore_index` — a target value that contributes nothing, neither to the loss nor to the
#   gradient (padding in sequence tasks);
# * `reduction` — `'none'`, `'sum'` or `'mean'`;
# * `size_average`, `reduce` — the deprecated way of choosing the reduction (below).
#
# PyTorch's quirk, which jloss keeps: with weights, `'mean'` is a **weighted** mean — it divides
# by the sum of the weights of the (non-ignored) targets, not by `N`:
#
# $$\ell = \frac{\sum_n w_{y_n} \ell_n}{\sum_{n:\, y_n \ne \text{ignore}} w_{y_n}}$$

# %%
log_p = jax.nn.log_softmax(jnp.asarray(rng.standard_normal((5, 3)), jnp.float32), axis=1)
target = jnp.array([0, 2, -100, 1, 2])  # the third sample is ignored (ignore_index=-100)
w = jnp.array([1.0, 2.0, 0.5])
for reduction in ("none", "sum", "mean"):
    ours = nn.NLLLoss(weight=w, reduction=reduction)(log_p, target)
    theirs = torch.nn.NLLLoss(weight=T(w), reduction=reduction)(T(log_p), T(target)) if torch else None
    show(f"NLLLoss(weight, {reduction!r})", ours, theirs)

kept = target != -100
picked = -jnp.take_along_axis(log_p, jnp.where(kept, target, 0)[:, None], axis=1)[:, 0]
wt = jnp.where(kept, w[jnp.where(kept, target, 0)], 0.0)
np.testing.assert_allclose(nn.NLLLoss(weight=w)(log_p, target), jnp.sum(wt * picked) / jnp.sum(wt), rtol=1e-5)

ours = nn.NLLLoss(ignore_index=2)(log_p, jnp.array([0, 2, 1, 1, 2]))
show("NLLLoss(ignore_index=2)", ours,
        torch.nn.NLLLoss(ignore_index=2)(T(log_p), T(jnp.array([0, 2, 1, 1, 2]))) if torch else None)

# %% [markdown]
# ### The legacy `size_average` / `reduce`
#
# Before `reduction` existed, two booleans chose it. When either is given, `reduction` is
# ignored and derived from them (a missing one counts as `True`):
#
# | `size_average` | `reduce` | same as |
# | --- | --- | --- |
# | True | True | `reduction='mean'` |
# | False | True | `reduction='sum'` |
# | any | False | `reduction='none'` |
#
# jloss applies exactly this rule and warns with a `DeprecationWarning` (PyTorch emits a
# `UserWarning` with the same advice). Python hides `DeprecationWarning`s raised inside libraries
# by default, so we record them to show them:

# %%
keep = jnp.array([0, 1, 3, 4])
x_, y_ = log_p[keep], target[keep]
for size_average, reduce, expected in [(True, True, "mean"), (False, True, "sum"), (None, False, "none"),
                                       (False, None, "sum")]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        legacy = nn.NLLLoss(size_average=size_average, reduce=reduce)
    print(f"size_average={size_average!s:<5} reduce={reduce!s:<5} -> reduction={legacy.reduction!r:<7}"
          f"  [{caught[0].category.__name__}] {caught[0].message}")
    assert legacy.reduction == expected and caught[0].category is DeprecationWarning
    if torch:  # torch's legacy rule gives the same reduction
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert torch.nn.NLLLoss(size_average=size_average, reduce=reduce).reduction == expected
    np.testing.assert_allclose(legacy(x_, y_), nn.NLLLoss(reduction=expected)(x_, y_), rtol=1e-6)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    functional = F.nll_loss(x_, y_, size_average=False)  # the functional form takes them too
assert caught[0].category is DeprecationWarning
np.testing.assert_allclose(functional, nn.NLLLoss(reduction="sum")(x_, y_), rtol=1e-6)
print("F.nll_loss(size_average=False) == reduction='sum':", functional)
