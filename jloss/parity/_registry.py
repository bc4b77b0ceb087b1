"""The registry pairing each jloss component with its torch counterpart and its cases.

Case modules live in :mod:`jloss.parity.cases` (one per family) and call :func:`register` at
import time; :func:`components` imports them all.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any

from ._harness import Case, Report, compare

_REGISTRY: dict[str, Component] = {}


@dataclasses.dataclass(frozen=True)
class Component:
    """A jloss component and its torch reference.

    ``torch_fn`` is a callable that receives the ``torch`` module and returns the reference callable
    (so torch is imported only when a comparison runs). ``cases`` returns the cases (several
    shapes, every option and reduction, float64 and float32). ``runner``, if given, replaces
    :func:`compare` for components that are not plain functions (optimizers, schedulers); it takes
    the component and returns a :class:`Report`.
    """

    name: str
    family: str
    jax_fn: Callable[..., Any] | None
    torch_fn: Callable[[Any], Callable[..., Any]] | None
    cases: Callable[[], Iterable[Case]]
    runner: Callable[[Component], Report] | None = None

    def run(self, *, jit: bool = True) -> Report:
        if self.runner is not None:
            return self.runner(self)
        import torch  # noqa: PLC0415

        return compare(self.jax_fn, self.torch_fn(torch), self.cases(), name=self.name, jit=jit)


def register(component: Component) -> Component:
    if component.name in _REGISTRY:
        raise ValueError(f"register: a component named {component.name!r} is already registered")
    _REGISTRY[component.name] = component
    return component


def components(family: str | None = None) -> list[Component]:
    """Every registered component (importing all case modules first), optionally one family."""
    from . import cases as _cases  # noqa: PLC0415

    for mod in pkgutil.iter_modules(_cases.__path__):
        importlib.import_module(f"{_cases.__name__}.{mod.name}")
    comps = sorted(_REGISTRY.values(), key=lambda c: (c.family, c.name))
    return [c for c in comps if family is None or c.family == family]


def get(name: str) -> Component:
    components()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no parity component named {name!r}; known: {sorted(_REGISTRY)}") from None
