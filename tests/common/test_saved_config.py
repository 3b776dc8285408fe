"""A saved model's config.json is read strictly and checked against its weights before any module
is built: unknown keys, wrong JSON types, out-of-range numbers and architectures that do not fit
the weights are one error naming the file and key (or tensor), and a config claiming a huge model
allocates nothing."""

import json
import random
import re
import shutil

import pytest
import torch

from vqct.common.errors import UserError
from vqct.common.saved_config import SavedConfigError
from vqct.prior import PriorConfig, VQCTPrior
from vqct.tokenizer import VQCTTokenizer


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_config, tiny_language_codebook):
    root = tmp_path_factory.mktemp("saved")
    tokenizer = VQCTTokenizer.build(tiny_config(), tiny_language_codebook).eval()
    tokenizer.save_pretrained(root / "tokenizer")
    prior_config = PriorConfig(dim=32, depth=1, heads=2, num_classes=8)
    VQCTPrior.build(prior_config, tokenizer, token_grid=(8, 8), tokenizer_source="t", data={}).save_pretrained(
        root / "prior"
    )
    return root


def tampered(saved, tmp_path, name, change):
    folder = tmp_path / name
    shutil.copytree(saved / name, folder)
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def construction_devices(monkeypatch):
    """The default device each VQCTPrior / VQCTTokenizer was constructed under ('meta' allocates nothing)."""
    devices = []
    for model_class in (VQCTPrior, VQCTTokenizer):
        init = model_class.__init__

        def spy(self, *args, _init=init, **kwargs):
            devices.append(str(torch.get_default_device().type))
            _init(self, *args, **kwargs)

        monkeypatch.setattr(model_class, "__init__", spy)
    return devices


def set_in(path, value):
    def change(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("tokenizer", set_in(["bogus"], 1), r"config\.json: bogus: not a key this model saves"),
        (
            "tokenizer",
            set_in(["model_config", "autoencoder", "ch"], "32"),
            r"config\.json: model_config\.autoencoder\.ch: expected an integer, got str '32'",
        ),
        (
            "tokenizer",
            set_in(["model_config", "quantizer", "codebook_size"], 10**9),
            r"model_config\.quantizer\.codebook_size=1000000000: must be in \[1, 16,777,216\]",
        ),
        (
            "tokenizer",
            set_in(["model_config", "quantizer", "colour"], 1),
            r"model_config\.quantizer\.colour: not a key",
        ),
        (
            "tokenizer",
            set_in(["model_config", "autoencoder", "ch"], 64),
            r"model\.safetensors: tensor \S+ has shape \[\d+(, \d+)*\] where config\.json describes",
        ),
        ("prior", set_in(["sampling", "top_p"], 1.5), r"config\.json: sampling\.top_p=1\.5: must be in \(0, 1\]"),
        (
            "prior",
            set_in(["tokenizer_config", "model_config", "quantizer", "beta"], "x"),
            r"tokenizer_config\.model_config\.quantizer\.beta: expected a number",
        ),
        ("prior", set_in(["token_grid"], [8, 8, 8]), r"token_grid: expected 2 items, got 3"),
    ],
)
def test_a_config_that_does_not_fit_is_one_error_naming_the_file_and_key(saved, tmp_path, name, change, message):
    model_class = VQCTPrior if name == "prior" else VQCTTokenizer
    with pytest.raises(SavedConfigError, match=message):
        model_class.from_pretrained(tampered(saved, tmp_path, name, change))


def test_a_config_claiming_a_huge_prior_is_refused_before_anything_is_allocated(saved, tmp_path, construction_devices):
    folder = tampered(saved, tmp_path, "prior", set_in(["prior_config", "dim"], 1_000_000))
    with pytest.raises(SavedConfigError, match=r"\[1025, 1000000\]; the two files are not from one save|describes"):
        VQCTPrior.from_pretrained(folder)
    assert construction_devices and set(construction_devices) == {"meta"}  # only the skeleton was built


@pytest.mark.parametrize("grid", [[0, 0], [-1, 8], [8, 4], [10**30, 10**30]])
def test_a_token_grid_of_no_size_or_not_square_is_one_line(saved, tmp_path, grid):
    folder = tampered(saved, tmp_path, "prior", set_in(["token_grid"], grid))
    with pytest.raises(
        SavedConfigError, match=rf"config\.json: token_grid={re.escape(str(grid))}: must be a square grid"
    ):
        VQCTPrior.from_pretrained(folder)


def test_the_saved_models_load_whole_and_0_1s_grid_key_still_loads(saved, tmp_path, construction_devices):
    from safetensors.torch import load_file

    tokenizer = VQCTTokenizer.from_pretrained(saved / "tokenizer")
    for name, tensor in load_file(saved / "tokenizer" / "model.safetensors").items():
        assert torch.equal(tokenizer.state_dict()[name], tensor), name
    legacy = tampered(saved, tmp_path, "prior", lambda config: config.__setitem__("grid", config.pop("token_grid")))
    assert VQCTPrior.from_pretrained(legacy).token_grid == (8, 8)
    assert construction_devices[0] == "meta"  # checked before the real build


def test_weights_missing_a_tensor_are_named(saved, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "tokenizer"
    shutil.copytree(saved / "tokenizer", folder)
    weights = load_file(folder / "model.safetensors")
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(SavedConfigError, match=rf"lacks tensor {re.escape(dropped)} \(1 in all\)"):
        VQCTTokenizer.from_pretrained(folder)


def mutations(config, rng):
    """One random edit of a JSON tree: a key dropped or added, a value retyped or resized."""
    paths = []

    def walk(node, path):
        for key, value in node.items():
            paths.append((*path, key))
            if isinstance(value, dict):
                walk(value, (*path, key))

    walk(config, ())
    path = rng.choice(paths)
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    edit = rng.choice(["drop", "add", "string", "negative", "huge", "float", "list", "null", "bool"])
    value = parent[path[-1]]
    if edit == "drop":
        del parent[path[-1]]
    elif edit == "add":
        parent[f"extra_{rng.randrange(100)}"] = rng.choice([1, "x", None, [1]])
    else:
        huge = 10 ** rng.choice([6, 9, 12])
        parent[path[-1]] = {
            "string": str(value),
            "negative": -abs(value) if isinstance(value, int | float) else -1,
            "huge": huge,
            "float": 0.5,
            "list": [value],
            "null": None,
            "bool": True,
        }[edit]
    return config


@pytest.mark.parametrize("name", ["tokenizer", "prior"])
def test_fuzzed_configs_load_or_raise_the_one_user_error_without_allocating_the_claim(
    saved, tmp_path, name, construction_devices
):
    """Every mutation either loads (then the real build matched the weights' header, so it allocated
    no more than the file holds) or raises a UserError; a real build follows a meta build."""
    rng = random.Random(0)
    model_class = VQCTPrior if name == "prior" else VQCTTokenizer
    original = json.loads((saved / name / "config.json").read_text())
    outcomes = {"loaded": 0, "refused": 0}
    for trial in range(40):
        folder = tmp_path / f"{name}-{trial}"
        shutil.copytree(saved / name, folder)
        config = mutations(json.loads(json.dumps(original)), rng)
        (folder / "config.json").write_text(json.dumps(config))
        construction_devices.clear()
        try:
            model_class.from_pretrained(folder)
            outcomes["loaded"] += 1
        except UserError:
            outcomes["refused"] += 1
        real = [index for index, device in enumerate(construction_devices) if device != "meta"]
        assert not real or construction_devices[0] == "meta", config  # never built for real unchecked
    assert outcomes["refused"] > 10, outcomes  # the mutations do reach the checks
