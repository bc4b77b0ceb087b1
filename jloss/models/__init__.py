"""jloss.models: the tutorials' networks as Flax NNX modules (NHWC inputs, torch's initialisation).

``Net`` (the 60-minute-blitz LeNet, ``(N, 32, 32, 1)``), ``CIFAR10Net`` (the "Tudui" net,
``(N, 32, 32, 3)``), ``LinearNet`` (``torch.nn.Linear(10, 10)``). Weights move to and from torch with
:func:`jloss.interop.load_torch_state_dict` and :func:`jloss.interop.torch_state_dict`.
"""

from ._nets import CIFAR10Net as CIFAR10Net
from ._nets import LinearNet as LinearNet
from ._nets import Net as Net

__all__ = ["CIFAR10Net", "LinearNet", "Net"]
