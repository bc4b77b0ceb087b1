"""jloss.nn: the torch-named loss classes, thin callables over :mod:`jloss.functional`.

An instance is configured like the torch module (same constructor arguments and defaults) and
called like it: ``loss = CrossEntropyLoss(weight=w); loss(logits, target)``. Instances are pytrees:
array-valued configuration (``weight``, ``pos_weight``) are leaves and everything else is static,
so a configured loss can be passed through ``jax.jit`` / ``jax.vmap`` as an argument.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax

from . import functional as F
from .losses import _reduction as R


class _Loss:
    """Base of the loss classes: torch's ``_Loss`` (legacy ``size_average`` / ``reduce`` included)."""

    #: attributes that are arrays (pytree leaves); all other attributes are static.
    _array_fields: ClassVar[tuple[str, ...]] = ()
    _extra_reductions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        self.reduction = R.resolve(type(self).__name__, size_average, reduce, reduction, extra=self._extra_reductions)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        jax.tree_util.register_pytree_node(cls, cls._tree_flatten, cls._tree_unflatten)

    def _tree_flatten(self) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
        children = tuple(getattr(self, f) for f in self._array_fields)
        aux = tuple(sorted((k, v) for k, v in vars(self).items() if k not in self._array_fields))
        return children, aux

    @classmethod
    def _tree_unflatten(cls, aux: tuple[tuple[str, Any], ...], children: tuple[Any, ...]) -> _Loss:
        obj = object.__new__(cls)
        for k, v in aux:
            setattr(obj, k, v)
        for f, c in zip(cls._array_fields, children, strict=True):
            setattr(obj, f, c)
        return obj

    def __call__(self, *args: Any, **kwargs: Any) -> jax.Array:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k not in self._array_fields)
        return f"{type(self).__name__}({opts})"


class _WeightedLoss(_Loss):
    _array_fields = ("weight",)

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight


class L1Loss(_Loss):
    """``torch.nn.L1Loss``: see :func:`jloss.functional.l1_loss`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """``torch.nn.MSELoss``: see :func:`jloss.functional.mse_loss`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.mse_loss(input, target, reduction=self.reduction)


__all__ = ["L1Loss", "MSELoss"]
