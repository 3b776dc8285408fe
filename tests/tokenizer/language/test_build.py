import pytest

import vqct.tokenizer.language.build as build_module
from tests import ROOT
from vqct.common.config import ConfigError, load_config
from vqct.tokenizer.language.__main__ import main
from vqct.tokenizer.language.build import LanguageCodebookConfig, build_language_codebook
from vqct.tokenizer.language.language_codebook import LanguageCodebook
from vqct.tokenizer.language.lexicon import ADJECTIVE, NOUN
from vqct.tokenizer.language.wordnet import WordNetUnavailableError

CAPTIONS = """a small red bird sits on a green branch
the small bird has a red breast and a white belly
a large white bird with a long yellow beak
two red birds on a dry branch
a white dog runs on the green grass
"""


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text(CAPTIONS)
    return path


def config(corpus, *overrides):
    return load_config(
        LanguageCodebookConfig, None, [f"corpus=[{corpus}]", "min_count=0", "tagger=wordnet", *overrides]
    )


def test_corpus_vocabulary_counts_and_graph(corpus):
    language_codebook = build_language_codebook(config(corpus))
    assert language_codebook.adjectives[:4] == ["red", "white", "green", "small"]  # most frequent first, ties a→z
    assert set(language_codebook.nouns) >= {"bird", "branch", "breast", "belly", "beak", "dog", "grass"}
    assert "birds" not in language_codebook.nouns  # lemmatized to the singular
    counts = dict(zip(language_codebook.nouns, language_codebook.noun_counts.tolist()))
    assert counts["bird"] == 4
    edges = {
        (language_codebook.adjectives[a], language_codebook.nouns[n]): w
        for (a, n), w in zip(language_codebook.edge_index.T.tolist(), language_codebook.edge_weight.tolist())
    }
    assert edges[("red", "bird")] == 2 and edges[("small", "bird")] == 2 and edges[("green", "branch")] == 1
    assert ("white", "bird") in edges and ("long", "beak") in edges and ("yellow", "beak") in edges
    assert language_codebook.adjective_vectors.shape == (len(language_codebook.adjectives), 50)
    assert language_codebook.info["report"]["tagger"] == "wordnet" and language_codebook.info["provider"] == "glove"


def test_min_count_and_maximum_sizes(corpus):
    assert build_language_codebook(config(corpus, "min_count=2")).adjectives == ["red", "white"]
    language_codebook = build_language_codebook(config(corpus, "max_adjectives=2", "max_nouns=3"))
    assert (len(language_codebook.adjectives), len(language_codebook.nouns)) == (2, 3)


@pytest.mark.slow
def test_vocabulary_from_the_model_filtered_by_wordnet(corpus):
    language_codebook = build_language_codebook(
        config(corpus, "vocabulary_source=model", "max_adjectives=2000", "max_nouns=4000")
    )
    assert (len(language_codebook.adjectives), len(language_codebook.nouns)) == (2000, 4000)
    assert (
        language_codebook.adjectives[:2] == ["new", "two"] and "time" in language_codebook.nouns[:10]
    )  # GloVe's frequency order
    assert (
        "the" not in language_codebook.adjectives + language_codebook.nouns
        and "said" not in language_codebook.adjectives + language_codebook.nouns
    )
    assert ("red", "bird") in {
        (language_codebook.adjectives[a], language_codebook.nouns[n])
        for a, n in language_codebook.edge_index.T.tolist()
    }


def test_cli_build_then_show(corpus, tmp_path, capsys):
    out = tmp_path / "language_codebook"
    assert main(["build", f"corpus=[{corpus}]", "min_count=0", "tagger=wordnet", "--out", str(out)]) == 0
    assert LanguageCodebook.load(out).adjectives[0] == "red"
    assert main(["show", str(out), "--words", "bird", "zebra"]) == 0
    shown = capsys.readouterr().out
    assert "adjective→noun edges" in shown and "bird (noun):" in shown and "zebra: not in the vocabulary" in shown
    assert "orange–yellow: n/a" in shown


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["corpus=[/nonexistent/captions.txt]"], "corpus source not found: /nonexistent/captions.txt"),
        (["corpus=[EMPTY]"], "holds no words"),
        (["embedding.provider=hf:/nonexistent/model"], "could not load"),
        (["min_count=1000"], "no adjectives left"),
        (["min_cont=3"], "'min_cont'"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, corpus, capsys, overrides, message):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    overrides = [o.replace("EMPTY", str(empty)) for o in overrides]
    out = tmp_path / "language_codebook"
    code = main(["build", f"corpus=[{corpus}]", "tagger=wordnet", *overrides, "--out", str(out)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["captions.txt", "empty.txt"]


def test_missing_wordnet_is_reported_with_the_fixes(corpus, tmp_path, capsys, monkeypatch):
    def unavailable():
        raise WordNetUnavailableError("WordNet is not available. Fix it: nltk.download('wordnet') ...")

    monkeypatch.setattr(build_module, "ensure_wordnet", unavailable)
    assert main(["build", f"corpus=[{corpus}]", "--out", str(tmp_path / "language_codebook")]) == 2
    assert "nltk.download('wordnet')" in capsys.readouterr().err
    assert not (tmp_path / "language_codebook").exists()


def test_a_word_tagged_both_ways_is_in_one_list_or_in_both():
    stats = build_module.CorpusStatistics()
    stats.counts.update({("orange", ADJECTIVE): 5, ("orange", NOUN): 3, ("red", ADJECTIVE): 4, ("fox", NOUN): 2})
    assert build_module.corpus_vocabulary(stats, 0, "majority") == {ADJECTIVE: ["orange", "red"], NOUN: ["fox"]}
    assert build_module.corpus_vocabulary(stats, 0, "separate") == {
        ADJECTIVE: ["orange", "red"],
        NOUN: ["orange", "fox"],
    }
    assert build_module.corpus_vocabulary(stats, 2, "separate")[NOUN] == ["orange"]  # seen more than twice


def test_the_paper_config_needs_nltks_tagger_and_says_so(corpus, monkeypatch):
    """configs/language_codebook/paper.yaml uses the official rules and never falls back to the WordNet tagger."""
    monkeypatch.setattr("vqct.tokenizer.language.pos.nltk_tagger_available", lambda: False)
    paper = load_config(LanguageCodebookConfig, ROOT / "configs" / "language_codebook" / "paper.yaml")
    assert (paper.tagger, paper.pos_rule) == ("nltk", "separate")
    with pytest.raises(ConfigError, match="tagger=nltk needs nltk's tagger data"):
        build_language_codebook(config(corpus, "tagger=nltk", "pos_rule=separate"))
