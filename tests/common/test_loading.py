"""A model folder that cannot be loaded is one error naming the folder or file, never a
safetensors or JSON traceback, and a missing local folder is not mistaken for a Hub repo."""

import re

import pytest
import torch

from vqct.common.errors import UserFileNotFoundError, UserValueError
from vqct.common.hub import load_pretrained
from vqct.tokenizer import VQCTTokenizer


@pytest.fixture
def saved(tmp_path, tiny_config):
    folder = tmp_path / "tokenizer"
    VQCTTokenizer.build(tiny_config("vq")).save_pretrained(folder)
    return folder


def test_a_whole_folder_loads(saved):
    assert isinstance(load_pretrained(VQCTTokenizer, str(saved), "--tokenizer"), VQCTTokenizer)


def test_weights_cut_short_name_the_file(saved):
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    with pytest.raises(UserValueError, match=r"--tokenizer .*model\.safetensors: unreadable weights"):
        load_pretrained(VQCTTokenizer, str(saved), "--tokenizer")


def test_a_config_that_is_not_json_names_the_file(saved):
    (saved / "config.json").write_text('{"model_config": ')
    with pytest.raises(UserValueError, match=r"config\.json: not valid JSON"):
        load_pretrained(VQCTTokenizer, str(saved), "--tokenizer")


def test_a_missing_file_or_folder_is_named(saved, tmp_path):
    (saved / "model.safetensors").unlink()
    with pytest.raises(UserFileNotFoundError, match="no model.safetensors"):
        load_pretrained(VQCTTokenizer, str(saved), "--tokenizer")
    with pytest.raises(UserFileNotFoundError, match="no such folder"):
        load_pretrained(VQCTTokenizer, str(tmp_path / "not" / "here"), "--tokenizer")


@pytest.mark.parametrize("poison", ["nan", "inf", "int32"])
def test_poisoned_weights_are_refused_at_load_naming_the_tensor(saved, poison):
    from safetensors.torch import load_file, save_file

    weights = load_file(saved / "model.safetensors")
    name = next(key for key, tensor in sorted(weights.items()) if tensor.is_floating_point() and tensor.numel() > 1)
    if poison == "int32":
        weights[name] = weights[name].round().to(torch.int32)
    else:
        weights[name] = weights[name].clone()
        weights[name].view(-1)[0] = float(poison)
    save_file(weights, saved / "model.safetensors")
    message = "is I32 where a float is expected" if poison == "int32" else "holds 1 non-finite value"
    with pytest.raises(UserValueError, match=rf"model\.safetensors: tensor {re.escape(name)} {message}"):
        load_pretrained(VQCTTokenizer, str(saved), "--tokenizer")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2]", "expected a JSON object of the model's keys, got list"),
        ("null", "got NoneType"),
        ('"weights"', "got str"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_a_config_that_is_json_but_no_object_is_one_line(saved, text, message):
    (saved / "config.json").write_text(text)
    with pytest.raises(UserValueError, match=rf"--tokenizer .*config\.json: .*{re.escape(message)}"):
        load_pretrained(VQCTTokenizer, str(saved), "--tokenizer")
