"""What a benchmark workload is: a component at one size, whose setup yields measurements."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Case", "Context", "Workload"]


@dataclasses.dataclass(frozen=True)
class Context:
    """What a workload's setup is told: ``quick`` (shrink every size ~100x, for tests), ``torch``
    (the imported module, or None when torch is missing or hidden) and ``compile`` (whether to build
    the ``torch.compile`` peers, whose first compile takes seconds)."""

    quick: bool
    torch: Any
    compile: bool = True


@dataclasses.dataclass(frozen=True)
class Case:
    """One measurement: ``peers`` (name -> zero-argument callable running one iteration; ``"jloss"``
    first), the ``variant`` (``"fwd"``, ``"fwd+grad"``, ``"step"``, ``"train"``), ``nbytes`` (the
    bytes one iteration must move at minimum: inputs read plus outputs written; None where that
    is not the point), the actual ``shape`` measured, ``skipped`` peers (name -> reason) and a note."""

    variant: str
    peers: dict[str, Callable[[], Any]]
    nbytes: int | None = None
    shape: str = ""
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Workload:
    """A component (``cross_entropy``, ``adam``, ``Net``) of a family (``losses``, ``optim``,
    ``train``) at a nominal ``size``; ``setup(ctx)`` builds the inputs and every peer's callable
    and yields the :class:`Case` s one at a time (what it built dies with the generator)."""

    family: str
    component: str
    size: str
    setup: Callable[[Context], Iterator[Case]]
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.component}:{self.size}"

    def matches(self, key: str) -> bool:
        """``--only`` matching: the full name, the family or the component."""
        return key in (self.name, self.family, self.component)
