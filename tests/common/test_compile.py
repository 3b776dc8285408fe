import logging

import pytest
import torch
from torch._inductor import cpp_builder, exc

from vqct.common.compile import compile_if_possible

log = logging.getLogger("test.compile")


def no_compiler():
    raise exc.InvalidCxxCompiler


def test_a_cpu_without_a_cxx_compiler_trains_eager_and_says_why(monkeypatch, caplog):
    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    module = torch.nn.Linear(2, 2)
    with caplog.at_level(logging.WARNING, logger="test.compile"):
        assert not compile_if_possible(module, torch.device("cpu"), log)
    assert module._compiled_call_impl is None
    assert "compile=true ignored: No working C++ compiler" in caplog.text


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_module_is_compiled_where_it_can_be(monkeypatch, device):
    # the compiler search is never asked for a CUDA device: Inductor writes Triton there
    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", (lambda: "g++") if device == "cpu" else no_compiler)
    module = torch.nn.Linear(2, 2)
    assert compile_if_possible(module, torch.device(device), log)
    assert module._compiled_call_impl is not None
