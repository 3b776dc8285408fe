"""Build a ``LanguageCodebook``: vocabulary, word vectors and modifying graph from one config.

Vocabulary sources (``vocabulary_source``):
- ``corpus`` (the official code's way): tag the corpus, keep adjectives (JJ) and nouns (NN, NNS,
  NNP, NNPS, lemmatized to the singular with WordNet) seen more than ``min_count`` times. A word
  tagged both ways (``pos_rule``): ``majority`` puts it in one list only, the part of speech it
  was tagged with most often in context; ``separate`` (the official code's rule: two lists kept
  apart) counts each part of speech on its own, so a word can be in both ("orange", "light").
- ``model``: the embedding model's own whole words (GloVe's frequency-ordered table, CLIP's BPE
  words), kept when WordNet knows them in base form as adjective or noun; a word WordNet lists
  under both goes where WordNet's sense counts put it (``Lexicon.preferred``).
Either way the graph comes from the corpus, words a provider cannot embed are dropped (and
counted), and ``max_adjectives`` / ``max_nouns`` then keep the first (most frequent) words.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from vqct.common.config import ConfigError, check_values, chosen, ranged, to_dict

from .corpus import CorpusError, iter_source
from .embeddings import EmbeddingConfig, WordVectorProvider, load_provider
from .graph import EDGE_RULES, edge_tensors, modifications
from .language_codebook import LanguageCodebook
from .lexicon import ADJECTIVE, ADVERB, NOUN, VERB, Lexicon
from .pos import ADJECTIVE_TAGS, CLOSED_CLASS_TAGS, NOUN_TAGS, make_tagger, tokenize
from .wordnet import ensure_wordnet

POS_RULES = ("majority", "separate")


@dataclass
class LanguageCodebookConfig:
    vocabulary_source: str = chosen("corpus", ("corpus", "model"))
    corpus: list[str] = field(default_factory=lambda: ["builtin:shapes", "builtin:wordnet"])
    shapes_captions: int = ranged(5000, 0)  # how many captions builtin:shapes contributes
    min_count: int = ranged(10, 0)  # corpus vocabulary: keep words seen more than this many times
    max_adjectives: int | None = ranged(None, 1)
    max_nouns: int | None = ranged(None, 1)
    # auto (nltk's tagger where its data is installed, else wordnet) | nltk | wordnet
    tagger: str = chosen("auto", ("auto", "nltk", "wordnet"))
    # corpus vocabulary, a word tagged both ways: majority | separate
    pos_rule: str = chosen("majority", POS_RULES)
    # which adjectives before a noun modify it: run (all of "small red" in "a small red circle") |
    # adjacent (only "red", the official code's rule); tokenizer/language/graph.py
    edge_rule: str = chosen("run", EDGE_RULES)
    seed: int = ranged(0, 0)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)


@dataclass
class CorpusStatistics:
    sentences: int = 0
    tokens: int = 0
    # (word, part of speech) → occurrences; adjectives as written, nouns lemmatized
    counts: Counter = field(default_factory=Counter)
    # (adjective, noun) → how often the adjective directly modified the noun
    pairs: Counter = field(default_factory=Counter)


def read_corpus(config: LanguageCodebookConfig, wordnet, lexicon: Lexicon, tagger) -> CorpusStatistics:
    """One pass over the corpus: part-of-speech counts and adjective→noun pairs."""
    for source in config.corpus:
        if not source.startswith("builtin:") and not Path(source).expanduser().exists():
            raise CorpusError(f"corpus source not found: {source} (config key 'corpus')")
    stats = CorpusStatistics()
    for source in config.corpus:
        sentences = iter_source(source, wordnet=wordnet, shapes_captions=config.shapes_captions, seed=config.seed)
        for sentence in tqdm(sentences, desc=f"tagging {source}", unit=" sentences", mininterval=1, leave=False):
            tokens = tokenize(sentence)
            if not tokens:
                continue
            tags = tagger(tokens)
            words = [_normalize(token, tag, lexicon) for token, tag in zip(tokens, tags)]
            stats.sentences += 1
            stats.tokens += len(tokens)
            for word, tag in zip(words, tags):
                if word is not None:
                    stats.counts[word, ADJECTIVE if tag in ADJECTIVE_TAGS else NOUN] += 1
            for a, n in modifications(words, tags, config.edge_rule):
                if words[a] is not None and words[n] is not None:
                    stats.pairs[words[a], words[n]] += 1
    if stats.tokens == 0:
        raise CorpusError(f"the corpus {list(config.corpus)} holds no words (config key 'corpus')")
    return stats


def _normalize(token: str, tag: str, lexicon: Lexicon) -> str | None:
    """The vocabulary form of an adjective or noun token (nouns singular), else None."""
    if tag not in ADJECTIVE_TAGS and tag not in NOUN_TAGS:
        return None
    word = token.lower()
    if not word.isalpha():
        return None
    if tag in NOUN_TAGS:
        return lexicon.lemma(word, NOUN) or word
    return word


def corpus_vocabulary(stats: CorpusStatistics, min_count: int, rule: str = "majority") -> dict[str, list[str]]:
    """Adjectives and nouns seen more than ``min_count`` times, most frequent first; a word tagged
    both ways in one list (``majority``) or in each list where it passes (``separate``)."""
    if rule not in POS_RULES:
        raise ConfigError(f"pos_rule must be one of {POS_RULES}, got '{rule}'")
    if rule == "separate":
        counts = {(word, pos): count for (word, pos), count in stats.counts.items()}
    else:
        best: dict[str, tuple[int, str]] = {}
        for (word, pos), count in stats.counts.items():
            if count > best.get(word, (0, ""))[0]:
                best[word] = (count, pos)
        counts = {(word, pos): count for word, (count, pos) in best.items()}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    return {
        pos: [word for (word, word_pos), count in ranked if word_pos == pos and count > min_count]
        for pos in (ADJECTIVE, NOUN)
    }


def model_vocabulary(provider: WordVectorProvider, lexicon: Lexicon) -> dict[str, list[str]]:
    """The provider's own words that WordNet uses mostly as adjective or noun, in base form.

    Function words are skipped even where WordNet has a rare sense for them ("a" the vitamin,
    "in" the inch), and so are words mostly used as verbs or adverbs ("said", "often").
    """
    vocabulary = {ADJECTIVE: [], NOUN: []}
    for word in provider.vocabulary():
        if word in CLOSED_CLASS_TAGS:
            continue
        pos = lexicon.preferred(word, (ADJECTIVE, NOUN, VERB, ADVERB))
        if pos in vocabulary and lexicon.lemma(word, pos) == word:
            vocabulary[pos].append(word)
    return vocabulary


def build_language_codebook(config: LanguageCodebookConfig) -> LanguageCodebook:
    started = time.perf_counter()
    check_values(config)
    wordnet = ensure_wordnet()
    lexicon = Lexicon(wordnet)
    tagger_name, tagger = make_tagger(config.tagger, lexicon)
    provider = load_provider(config.embedding)  # fail early, before the corpus pass
    stats = read_corpus(config, wordnet, lexicon, tagger)

    if config.vocabulary_source == "corpus":
        candidates = corpus_vocabulary(stats, config.min_count, config.pos_rule)
    else:
        candidates = model_vocabulary(provider, lexicon)
    limits = {ADJECTIVE: config.max_adjectives, NOUN: config.max_nouns}
    words, vectors, dropped = {}, {}, {}
    for pos, names in candidates.items():
        ok = provider.embeddable(names)
        kept = [word for word, good in zip(names, ok) if good][: limits[pos]]
        if not kept:
            raise CorpusError(
                f"no {'adjectives' if pos == ADJECTIVE else 'nouns'} left: the corpus {list(config.corpus)} with "
                f"vocabulary_source={config.vocabulary_source}, min_count={config.min_count} and provider "
                f"{provider.name} yields none; add text or lower min_count"
            )
        words[pos], dropped[pos] = kept, len(ok) - sum(ok)
        vectors[pos] = provider.embed(kept, pos)

    edge_index, edge_weight = edge_tensors(stats.pairs, words[ADJECTIVE], words[NOUN])
    report = {
        "sentences": stats.sentences,
        "tokens": stats.tokens,
        "tagger": tagger_name,
        "candidate_adjectives": len(candidates[ADJECTIVE]),
        "candidate_nouns": len(candidates[NOUN]),
        "dropped_unembeddable_adjectives": dropped[ADJECTIVE],
        "dropped_unembeddable_nouns": dropped[NOUN],
        "adjectives": len(words[ADJECTIVE]),
        "nouns": len(words[NOUN]),
        "edges": int(edge_weight.numel()),
        "modifications": int(edge_weight.sum()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return LanguageCodebook(
        adjectives=words[ADJECTIVE],
        nouns=words[NOUN],
        adjective_vectors=vectors[ADJECTIVE].float().contiguous(),
        noun_vectors=vectors[NOUN].float().contiguous(),
        edge_index=edge_index,
        edge_weight=edge_weight,
        adjective_counts=torch.tensor([stats.counts[w, ADJECTIVE] for w in words[ADJECTIVE]], dtype=torch.long),
        noun_counts=torch.tensor([stats.counts[w, NOUN] for w in words[NOUN]], dtype=torch.long),
        info={"provider": provider.name, "dim": provider.dim, "config": to_dict(config), "report": report},
    )
