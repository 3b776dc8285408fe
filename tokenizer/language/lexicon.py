"""What WordNet says about a word's parts of speech, read once from its index files.

Each line of WordNet's ``index.<pos>`` files carries, for one lemma, its number of senses and
``tagsense_cnt``: how many of those senses were seen in the hand-tagged SemCor corpus. That
count is the offline stand-in for "how often is this word used as a noun / an adjective"
(nltk does not expose it, so we parse the four files ourselves; ~0.5 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# WordNet's part-of-speech letters; adjective satellites ('s') live in index.adj.
NOUN, VERB, ADJECTIVE, ADVERB = "n", "v", "a", "r"
_INDEX_FILES = {NOUN: "index.noun", VERB: "index.verb", ADJECTIVE: "index.adj", ADVERB: "index.adv"}


@dataclass(frozen=True)
class Usage:
    """How much WordNet knows one lemma in one part of speech."""

    tagged_senses: int  # tagsense_cnt: senses seen in SemCor
    senses: int  # synset count


class Lexicon:
    """Parts of speech and usage counts of every WordNet lemma, with inflection handling."""

    def __init__(self, wordnet):
        self.wordnet = wordnet
        self.usage: dict[str, dict[str, Usage]] = {pos: {} for pos in _INDEX_FILES}
        for pos, fileid in _INDEX_FILES.items():
            with wordnet.open(fileid) as handle:
                for line in handle:
                    if line.startswith(" "):  # licence header
                        continue
                    fields = line.split()
                    pointer_count = int(fields[3])
                    senses, tagged = int(fields[4 + pointer_count]), int(fields[5 + pointer_count])
                    self.usage[pos][fields[0]] = Usage(tagged, senses)
        self.lemma = lru_cache(maxsize=None)(self._lemma)
        self.parts_of_speech = lru_cache(maxsize=None)(self._parts_of_speech)

    def _lemma(self, word: str, pos: str) -> str | None:
        """The base form of ``word`` as ``pos`` (``wings`` → ``wing``), or None if WordNet lacks it.

        Of several analyses the shortest wins, as in nltk's WordNetLemmatizer.
        """
        forms = self.wordnet._morphy(word.lower(), pos)
        return min(forms, key=len) if forms else None

    def _parts_of_speech(self, word: str) -> dict[str, Usage]:
        """Every part of speech WordNet lists ``word`` (or its base form) under, with usage."""
        found = {}
        for pos in _INDEX_FILES:
            lemma = self.lemma(word, pos)
            if lemma is not None and lemma in self.usage[pos]:
                found[pos] = self.usage[pos][lemma]
        return found

    def preferred(self, word: str, among: tuple[str, ...] = (ADJECTIVE, NOUN)) -> str | None:
        """The part of speech among ``among`` WordNet uses ``word`` most in, or None.

        Rule: more senses tagged in SemCor wins. On a tie of tagged senses the adjective wins
        (a word whose adjective use is as attested as its noun use is mostly a property word:
        "red", "white", "two"). Then more senses wins; a full tie goes to the noun (WordNet has
        far more nouns, and an untagged tie is usually a rare noun sense).
        """
        known = {pos: usage for pos, usage in self.parts_of_speech(word).items() if pos in among}
        if not known:
            return None

        def rank(pos: str) -> tuple:
            usage = known[pos]
            return (usage.tagged_senses, pos == ADJECTIVE and usage.tagged_senses > 0, usage.senses, pos == NOUN)

        return max(known, key=rank)

    def lemma_names(self, pos: str) -> list[str]:
        return list(self.usage[pos])
