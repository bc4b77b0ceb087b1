"""The tutorials' PyTorch nets, as the tutorials write them: the torch twins of :mod:`jloss.models`.

Tests, benchmarks and notebooks compare a jloss net with its torch twin (same weights through
:func:`jloss.interop.load_torch_state_dict`, same outputs, same training curves); this module is the
one place those twins are defined. torch is imported when a twin is built, never by ``import
jloss.models``: torch stays a test / benchmark dependency, not a runtime one.

    >>> from jloss.models.torch_reference import torch_twin
    >>> tnet = torch_twin("Net")()          # tutorial 004's LeNet, torch.nn.Module
"""

from __future__ import annotations

from typing import Any

__all__ = ["TWINS", "torch_twin"]

#: jloss model name -> (torch class name, input channels of its NCHW / NHWC images or None)
TWINS: dict[str, tuple[str, int | None]] = {"Net": ("TorchNet", 1), "CIFAR10Net": ("Tudui", 3), "LinearNet": ("Linear", None)}

_CACHE: dict[str, Any] = {}


def _build() -> dict[str, Any]:
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    class TorchNet(nn.Module):
        """Tutorial 004's LeNet (the 60-minute blitz), as written there."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = nn.functional.max_pool2d(nn.functional.relu(self.conv1(x)), (2, 2))
            x = nn.functional.max_pool2d(nn.functional.relu(self.conv2(x)), 2)
            x = x.reshape(-1, 16 * 5 * 5)  # the tutorial's view; reshape also takes a channels-last x
            x = nn.functional.relu(self.fc1(x))
            x = nn.functional.relu(self.fc2(x))
            return self.fc3(x)

    class Tudui(nn.Module):
        """Tutorial 002's CIFAR-10 net."""

        def __init__(self) -> None:
            super().__init__()
            self.model1 = nn.Sequential(
                nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(2), nn.Conv2d(32, 32, 5, padding=2),
                nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(1024, 64), nn.Linear(64, 10),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model1(x)

    def linear() -> nn.Module:
        """Tutorial 003's ``nn.Linear(10, 10)``."""
        return nn.Linear(10, 10)

    return {"Net": TorchNet, "CIFAR10Net": Tudui, "LinearNet": linear}


def torch_twin(name: str) -> Any:
    """The torch class (a zero-argument constructor) of the jloss model ``name``.

    Args:
        name: ``"Net"``, ``"CIFAR10Net"`` or ``"LinearNet"``.

    Raises:
        ValueError: an unknown name. ImportError: torch is not installed.
    """
    if name not in TWINS:
        raise ValueError(f"torch_twin: name must be one of {sorted(TWINS)}, got {name!r}")
    if not _CACHE:
        _CACHE.update(_build())
    return _CACHE[name]
