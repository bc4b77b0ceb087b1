"""The torch twins of jloss.models: one definition, built on demand, torch's own parameter names."""

import numpy as np
import pytest
import torch
from flax import nnx

from jloss import interop, models
from jloss.models.torch_reference import TWINS, torch_twin


@pytest.mark.parametrize("name", sorted(TWINS))
def test_twin_builds_and_matches_the_jloss_net(name):
    cls = torch_twin(name)
    assert cls is torch_twin(name)  # built once
    tnet = cls()
    assert isinstance(tnet, torch.nn.Module)
    net = getattr(models, name)(rngs=nnx.Rngs(0))
    interop.load_torch_state_dict(net, tnet.state_dict())  # every torch key has its jloss parameter
    c = TWINS[name][1]
    x = np.random.default_rng(0).standard_normal((2, 32, 32, c) if c else (2, 10)).astype(np.float32)
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if c else x)
    with torch.no_grad():
        want = tnet(tx).numpy()
    np.testing.assert_allclose(np.asarray(net(x)), want, rtol=1e-5, atol=1e-5)


def test_unknown_name_is_a_named_error():
    with pytest.raises(ValueError, match=r"^torch_twin: name must be one of .*got 'ResNet'"):
        torch_twin("ResNet")
