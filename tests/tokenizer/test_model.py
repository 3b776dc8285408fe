import numpy as np
import pytest
import torch
from PIL import Image

from vqct.tokenizer import load_image
from vqct.tokenizer.model import VQCTTokenizer


def images(n=2, size=16):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_dual_tokenizer_codes_words_and_shapes(tiny_language_codebook, tiny_config):
    model = VQCTTokenizer.build(tiny_config(), tiny_language_codebook).eval()
    assert model.codebook_sizes == (len(tiny_language_codebook.adjectives), len(tiny_language_codebook.nouns))
    codes = model.encode(images())
    assert codes.shape == (2, 2, 8, 8) and codes.dtype == torch.long
    assert model.decode(codes).shape == (2, 3, 16, 16)
    words = model.words(codes)
    assert len(words) == 2 and len(words[0]) == 8 and len(words[0][0]) == 8
    adjective, noun = words[1][3][5]
    assert (
        adjective == tiny_language_codebook.adjectives[codes[1, 0, 3, 5]]
        and noun == tiny_language_codebook.nouns[codes[1, 1, 3, 5]]
    )


def test_single_codebook_words_are_adjective_or_noun(tiny_language_codebook, tiny_config):
    model = VQCTTokenizer.build(tiny_config("single"), tiny_language_codebook).eval()
    codes = model.encode(images())
    assert codes.shape == (2, 1, 8, 8)
    count = len(tiny_language_codebook.adjectives)
    for row_words, row_codes in zip(model.words(codes)[0], codes[0, 0].tolist()):
        for (adjective, noun), code in zip(row_words, row_codes):
            assert (adjective is None) == (code >= count) and (noun is None) == (code < count)


@pytest.mark.parametrize("kind", ["vq", "cvq", "gumbel", "regvq"])
def test_baselines_need_no_prior_and_carry_no_words(kind, tiny_config):
    model = VQCTTokenizer.build(tiny_config(kind)).eval()
    codes = model.encode(images())
    assert codes.shape == (2, 1, 8, 8) and int(codes.max()) < 16
    assert model.decode(codes).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="carry no words"):
        model.words(codes)


@pytest.mark.parametrize("kind", ["dual", "single", "vq", "cvq", "gumbel", "regvq", "fsq", "lfq", "simvq"])
def test_save_pretrained_from_pretrained_reproduces_encode_decode(kind, tiny_language_codebook, tmp_path, tiny_config):
    model = VQCTTokenizer.build(tiny_config(kind), tiny_language_codebook).eval()
    model.save_pretrained(tmp_path / "model")
    assert (tmp_path / "model" / "model.safetensors").is_file() and (tmp_path / "model" / "config.json").is_file()
    loaded = VQCTTokenizer.from_pretrained(tmp_path / "model").eval()
    x = images()
    codes = model.encode(x)
    assert torch.equal(loaded.encode(x), codes)
    assert torch.equal(loaded.decode(codes), model.decode(codes))
    if kind in ("dual", "single"):
        assert loaded.adjectives == tiny_language_codebook.adjectives and loaded.nouns == tiny_language_codebook.nouns


@pytest.mark.parametrize("kind, sizes", [("fsq", (45,)), ("lfq", (32,)), ("simvq", (16,))])
def test_the_fields_quantizers_size_their_vocabulary_from_their_own_keys(kind, sizes, tiny_config):
    model = VQCTTokenizer.build(tiny_config(kind, fsq_levels=(5, 3, 3), lfq_bits=5)).eval()
    assert model.codebook_sizes == sizes and model.group_names == ("codebook",)
    codes = model.encode(images())
    assert codes.shape == (2, 1, 8, 8) and int(codes.max()) < sizes[0]
    torch.testing.assert_close(model.decode(codes), model(images())[0])


@pytest.mark.parametrize("kind", ["vq", "split_vq", "cvq"])
def test_learned_start_reaches_every_learned_codebook(kind, tiny_config):
    model = VQCTTokenizer.build(tiny_config(kind, learned_start="kmeans", split_codebook_sizes=(8, 8)))
    halves = getattr(model.quantizer, "halves", [model.quantizer])
    assert all(half.start == "kmeans" and half.start_pending for half in halves)
    model.train()(images())
    assert not any(half.start_pending for half in halves) and all(bool(half.start_matched) for half in halves)


def test_bad_configs_are_named(tiny_language_codebook, tiny_config):
    with pytest.raises(ValueError, match="needs a language codebook"):
        VQCTTokenizer.build(tiny_config("dual"))
    with pytest.raises(ValueError, match="model.quantizer.kind"):
        VQCTTokenizer.build(tiny_config("rq"), tiny_language_codebook)
    with pytest.raises(ValueError, match="codes must be"):
        VQCTTokenizer.build(tiny_config(), tiny_language_codebook).decode(torch.zeros(1, 1, 8, 8, dtype=torch.long))


def test_quantizer_free_reference_reconstructs_but_has_no_codes(tiny_config):
    model = VQCTTokenizer.build(tiny_config("none")).eval()
    x = images()
    reconstructions, quantized = model(x)
    assert reconstructions.shape == x.shape and float(quantized.loss) == 0.0
    # the encoder's output reaches the decoder untouched
    z = model.quant_conv(model.encoder(x))
    assert torch.equal(quantized.quantized, z)
    assert model.codebook_sizes == () and model.group_names == () and quantized.indices.shape == (2, 0, 8, 8)
    with pytest.raises(ValueError, match="no codes"):
        model.encode(x)


def test_images_in_and_out_without_tensors(tiny_language_codebook, tiny_config, tmp_path):
    """encode_images takes files and PIL images as the data sets prepare them; decode_to_images
    gives the 8-bit pictures a saved PNG holds."""
    model = VQCTTokenizer.build(tiny_config(), tiny_language_codebook).eval()
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8))
    picture.save(tmp_path / "a.png")
    codes = model.encode_images([tmp_path / "a.png", picture])
    expected = model.encode(torch.stack([load_image(picture, 16)] * 2))
    assert torch.equal(codes, expected) and codes.shape == (2, 2, 8, 8)
    images = model.decode_to_images(codes)
    assert [image.size for image in images] == [(16, 16)] * 2
    reference = ((model.decode(codes).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)
    assert np.array_equal(np.asarray(images[1]), reference[1].numpy())
