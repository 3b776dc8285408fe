import pytest
import torch

from vqct.common.device import checked_device, default_device
from vqct.common.errors import UserValueError


def test_a_device_this_machine_lacks_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == "cpu" and checked_device("cpu") == torch.device("cpu")
    with pytest.raises(UserValueError, match="--device cuda: this machine has no cuda device"):
        checked_device("cuda")
    with pytest.raises(UserValueError, match="not a device name"):
        checked_device("gpu0")
