import pytest

from vqct.common.config import ConfigError
from vqct.tokenizer.language.lexicon import ADJECTIVE, NOUN, Lexicon
from vqct.tokenizer.language.pos import WordNetTagger, make_tagger, tokenize
from vqct.tokenizer.language.wordnet import ensure_wordnet


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon(ensure_wordnet())


def test_lexicon_counts_and_preference(lexicon):
    assert lexicon.usage[NOUN]["dog"].senses == 7
    assert lexicon.preferred("happy") == ADJECTIVE
    assert lexicon.preferred("dog") == NOUN
    assert lexicon.preferred("dogs") == NOUN and lexicon.lemma("dogs", NOUN) == "dog"
    assert lexicon.preferred("quickly") is None  # an adverb only: neither adjective nor noun


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("a small red striped square beside a large blue ring", "DT JJ JJ JJ NN IN DT JJ JJ NN"),
        ("this bird has a white breast and short wings", "DT NN VB DT JJ NN CC JJ NNS"),
        ("a larger circle and the smallest dogs", "DT JJR NN CC DT JJS NNS"),
    ],
)
def test_wordnet_tagger_reads_noun_phrases(lexicon, sentence, expected):
    tokens = tokenize(sentence)
    assert WordNetTagger(lexicon)(tokens) == expected.split()


def test_tokenize_keeps_words_numbers_and_punctuation():
    assert tokenize("A red-winged bird, 2 eggs.") == ["A", "red-winged", "bird", ",", "2", "eggs", "."]


def test_auto_falls_back_to_wordnet_without_tagger_data(lexicon, monkeypatch):
    import vqct.tokenizer.language.pos as pos

    monkeypatch.setattr(pos, "nltk_tagger_available", lambda: False)
    name, tagger = make_tagger("auto", lexicon)
    assert name == "wordnet" and tagger(["a", "red", "ball"]) == ["DT", "JJ", "NN"]
    with pytest.raises(ConfigError, match="averaged_perceptron_tagger_eng"):
        make_tagger("nltk", lexicon)
    with pytest.raises(ValueError, match="tagger must be"):
        make_tagger("spacy", lexicon)
