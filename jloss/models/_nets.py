"""The tutorials' networks as Flax NNX modules: ``Net`` (LeNet), ``CIFAR10Net`` ("Tudui"), ``LinearNet``.

Each mirrors the torch module's attribute names, so a torch ``state_dict`` key names its NNX
parameter (``conv1.weight`` is ``net.conv1.kernel``, ``model1.0.weight`` is
``net.model1.layers[0].kernel``, ``weight`` is ``net.kernel``). Inputs are NHWC, the Flax convention:
``(N, 32, 32, C)`` where torch takes ``(N, C, 32, 32)``. Parameters are drawn from torch's default
distribution, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights and biases; use
:func:`jloss.interop.load_torch_state_dict` to start from a torch model's exact weights (it converts
the layouts, including the flatten order in front of the first ``Linear``) and
:func:`jloss.interop.torch_state_dict` to go back.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from ._layers import conv2d, flatten, linear, max_pool_2x2, torch_uniform


def _check_image(cls: str, x: Any, channels: int) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 4 or tuple(x.shape[1:]) != (32, 32, channels):
        raise ValueError(
            f"{cls}: input must be an NHWC batch of shape (N, 32, 32, {channels}), got shape {tuple(x.shape)}"
        )
    return x


class Net(nnx.Module):
    r"""The LeNet of PyTorch's 60-minute blitz (tutorial 004), ``Net`` there.

    ``conv1`` (1 -> 6, 5x5) -> ReLU -> 2x2 max pool -> ``conv2`` (6 -> 16, 5x5) -> ReLU -> 2x2 max
    pool -> flatten (400) -> ``fc1`` (400 -> 120) -> ReLU -> ``fc2`` (120 -> 84) -> ReLU -> ``fc3``
    (84 -> 10).

    Args:
        rngs: the random streams of the initialisation (``nnx.Rngs(seed)``).
        dtype: the computation dtype; ``None`` promotes the input and the parameters (Flax's rule).
        param_dtype: the parameters' dtype (default float32; float64 needs ``jax_enable_x64``).

    Shape:
        - Input: :math:`(N, 32, 32, 1)` (NHWC; torch's is :math:`(N, 1, 32, 32)`).
        - Output: :math:`(N, 10)` logits.

    The flattened activations are in :math:`(H, W, C)` order (torch's are :math:`(C, H, W)`); the
    weight conversion of :mod:`jloss.interop` permutes ``fc1``'s rows accordingly, so imported torch
    weights give torch's outputs.
    """

    def __init__(self, *, rngs: nnx.Rngs, dtype: Any = None, param_dtype: Any = jnp.float32) -> None:
        kw = {"rngs": rngs, "dtype": dtype, "param_dtype": param_dtype}
        self.conv1 = conv2d(1, 6, 5, **kw)
        self.conv2 = conv2d(6, 16, 5, **kw)
        self.fc1 = linear(16 * 5 * 5, 120, **kw)
        self.fc2 = linear(120, 84, **kw)
        self.fc3 = linear(84, 10, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = _check_image("Net", x, 1)
        x = max_pool_2x2(jax.nn.relu(self.conv1(x)))
        x = max_pool_2x2(jax.nn.relu(self.conv2(x)))
        x = flatten(x)
        x = jax.nn.relu(self.fc1(x))
        x = jax.nn.relu(self.fc2(x))
        return self.fc3(x)


class CIFAR10Net(nnx.Module):
    r"""The CIFAR-10 net of tutorial 002 (``Tudui`` there), without activations, as in the tutorial.

    ``model1`` is an ``nnx.Sequential`` laid out like torch's ``Sequential``: ``Conv2d(3, 32, 5,
    padding=2)``, ``MaxPool2d(2)``, ``Conv2d(32, 32, 5, padding=2)``, ``MaxPool2d(2)``,
    ``Conv2d(32, 64, 5, padding=2)``, ``MaxPool2d(2)``, ``Flatten()``, ``Linear(1024, 64)``,
    ``Linear(64, 10)`` (torch's parameters ``model1.{0,2,4,7,8}.{weight,bias}`` are
    ``model1.layers[i].{kernel,bias}`` here).

    Args:
        rngs: the random streams of the initialisation (``nnx.Rngs(seed)``).
        dtype: the computation dtype; ``None`` promotes the input and the parameters (Flax's rule).
        param_dtype: the parameters' dtype (default float32; float64 needs ``jax_enable_x64``).

    Shape:
        - Input: :math:`(N, 32, 32, 3)` (NHWC; torch's is :math:`(N, 3, 32, 32)`).
        - Output: :math:`(N, 10)` logits.

    As in :class:`Net`, the flatten order is :math:`(H, W, C)`; ``model1.7``'s rows are permuted
    when torch weights are converted.
    """

    def __init__(self, *, rngs: nnx.Rngs, dtype: Any = None, param_dtype: Any = jnp.float32) -> None:
        kw = {"rngs": rngs, "dtype": dtype, "param_dtype": param_dtype}
        self.model1 = nnx.Sequential(
            conv2d(3, 32, 5, padding=2, **kw),
            max_pool_2x2,
            conv2d(32, 32, 5, padding=2, **kw),
            max_pool_2x2,
            conv2d(32, 64, 5, padding=2, **kw),
            max_pool_2x2,
            flatten,
            linear(1024, 64, **kw),
            linear(64, 10, **kw),
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.model1(_check_image("CIFAR10Net", x, 3))


class LinearNet(nnx.Linear):
    r"""Tutorial 003's model, ``torch.nn.Linear(10, 10)``: :math:`y = x W^T + b`.

    An ``nnx.Linear`` with torch's initialisation; ``kernel`` is torch's ``weight.T``, ``bias`` its
    ``bias``.

    Args:
        in_features: size of each input sample (default 10).
        out_features: size of each output sample (default 10).
        rngs: the random streams of the initialisation (``nnx.Rngs(seed)``).
        dtype: the computation dtype; ``None`` promotes the input and the parameters (Flax's rule).
        param_dtype: the parameters' dtype (default float32; float64 needs ``jax_enable_x64``).

    Shape:
        - Input: :math:`(*, H_{in})` with :math:`H_{in}` = ``in_features``.
        - Output: :math:`(*, H_{out})` with :math:`H_{out}` = ``out_features``.
    """

    def __init__(self, in_features: int = 10, out_features: int = 10, *, rngs: nnx.Rngs,
                 dtype: Any = None, param_dtype: Any = jnp.float32) -> None:
        init = torch_uniform(in_features)
        super().__init__(in_features, out_features, dtype=dtype, param_dtype=param_dtype,
                         kernel_init=init, bias_init=init, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"LinearNet: input must have shape (*, {self.in_features}), got shape {tuple(x.shape)}"
            )
        return super().__call__(x)
