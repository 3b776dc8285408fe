"""Word tokenization and part-of-speech tagging, with or without nltk's tagger data.

nltk's averaged-perceptron tagger is used where its data is installed. Without it (the offline
case) ``WordNetTagger`` tags from WordNet alone:

1. closed-class words (articles, prepositions, pronouns, conjunctions, auxiliaries) get fixed
   Penn tags from a built-in list; numbers are CD, punctuation is tagged as itself;
2. an open-class word gets the part of speech WordNet uses it most in (``Lexicon.preferred``
   over noun, verb, adjective, adverb); a word WordNet does not know gets ``UNK``;
3. context: a maximal run of words that each have an adjective or noun reading is read as a
   noun phrase when a determiner or possessive precedes it or one of its words is a noun out of
   context. Its last word with a noun reading is the head (NN/NNS) and the words before the
   head that have an adjective reading become JJ: "a *small* *red* *square*" although
   "red" is mostly a noun in WordNet and "square" mostly an adjective;
4. adjectives WordNet lists under another base form are comparatives or superlatives (JJR /
   JJS, "larger", "smallest"), and nouns whose base form differs are plurals (NNS).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vqct.common.config import ConfigError

from .lexicon import ADJECTIVE, ADVERB, NOUN, VERB, Lexicon

ADJECTIVE_TAGS = frozenset({"JJ"})
NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS"})

_TOKEN = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]")

_CLOSED_CLASS = {
    "DT": "a an the this that these those each every some any no another either neither both all",
    "PRP$": "my your his her its our their",
    "PRP": "i you he she it we they me him us them itself himself herself themselves one",
    "WP": "who whom whose what which",
    "IN": "in on of at by with from to for into onto over under above below beside besides near "
    "behind between through across along against around about among beneath within without "
    "toward towards upon inside outside off out up down like as than during until since via per",
    "CC": "and or but nor yet so",
    "VB": "is are was were be been being am has have had do does did can could will would shall should may might must",
    "RB": "not very too also just there here often usually sometimes",
}
CLOSED_CLASS_TAGS = {word: tag for tag, words in _CLOSED_CLASS.items() for word in words.split()}

_TAG_OF_POS = {NOUN: "NN", VERB: "VB", ADJECTIVE: "JJ", ADVERB: "RB"}

Tagger = Callable[[Sequence[str]], list[str]]


def tokenize(text: str) -> list[str]:
    """Words, numbers and punctuation; needs no tokenizer data (unlike nltk's punkt)."""
    return _TOKEN.findall(text)


_DETERMINERS = frozenset({"DT", "PRP$"})


@dataclass(frozen=True)
class _Reading:
    tag: str  # the tag out of context
    adjective: str | None  # tag as an adjective (JJ, JJR or JJS) if it has that reading
    noun: str | None  # tag as a noun (NN or NNS) if it has that reading


class WordNetTagger:
    """Penn-style tags from WordNet's lexicon and a noun-phrase rule (see module docstring)."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self._cache: dict[str, _Reading] = {}

    def _read(self, word: str) -> _Reading:
        lower = word.lower()
        cached = self._cache.get(lower)
        if cached is not None:
            return cached
        if lower in CLOSED_CLASS_TAGS:
            reading = _Reading(CLOSED_CLASS_TAGS[lower], None, None)
        elif lower[0].isdigit():
            reading = _Reading("CD", None, None)
        elif not lower[0].isalpha():
            reading = _Reading(lower, None, None)
        else:
            readings = self.lexicon.parts_of_speech(lower)
            adjective = noun = None
            if ADJECTIVE in readings:
                adjective = (
                    "JJ"
                    if self.lexicon.lemma(lower, ADJECTIVE) == lower
                    else ("JJS" if lower.endswith("st") else "JJR")
                )
            if NOUN in readings:
                noun = "NN" if self.lexicon.lemma(lower, NOUN) == lower else "NNS"
            best = self.lexicon.preferred(lower, tuple(readings)) if readings else None
            tag = {ADJECTIVE: adjective, NOUN: noun}.get(best) or _TAG_OF_POS.get(best, "UNK")
            reading = _Reading(tag, adjective, noun)
        self._cache[lower] = reading
        return reading

    def __call__(self, tokens: Sequence[str]) -> list[str]:
        readings = [self._read(token) for token in tokens]
        tags = [reading.tag for reading in readings]
        i = 0
        while i < len(tokens):
            if readings[i].adjective is None and readings[i].noun is None:
                i += 1
                continue
            end = i
            while end < len(tokens) and (readings[end].adjective or readings[end].noun):
                end += 1
            run = range(i, end)
            after_determiner = i > 0 and tags[i - 1] in _DETERMINERS
            heads = [j for j in run if readings[j].noun]
            if heads and (after_determiner or any(tags[j] in NOUN_TAGS for j in run)):
                head = heads[-1]
                tags[head] = readings[head].noun
                for j in range(i, head):
                    if readings[j].adjective:
                        tags[j] = readings[j].adjective
            i = end
        return tags


def nltk_tagger_available() -> bool:
    import nltk

    try:
        nltk.data.find("taggers/averaged_perceptron_tagger_eng/")
    except LookupError:
        return False
    return True


def make_tagger(kind: str, lexicon: Lexicon) -> tuple[str, Tagger]:
    """The tagger named by ``kind`` ("auto", "nltk" or "wordnet") and the name of the one used."""
    if kind not in {"auto", "nltk", "wordnet"}:
        raise ConfigError(f"tagger must be 'auto', 'nltk' or 'wordnet', got '{kind}'")
    if kind == "nltk" or (kind == "auto" and nltk_tagger_available()):
        if not nltk_tagger_available():  # a missing asset, not a bug: one line, exit status 2
            raise ConfigError(
                "tagger=nltk needs nltk's tagger data: run "
                "python -c \"import nltk; nltk.download('averaged_perceptron_tagger_eng')\" "
                "with a network, or use tagger=wordnet (works offline)"
            )
        from nltk.tag import PerceptronTagger

        perceptron = PerceptronTagger()
        return "nltk", lambda tokens: [tag for _, tag in perceptron.tag(list(tokens))]
    return "wordnet", WordNetTagger(lexicon)
