import json

import pytest

from vqct.tokenizer.language.corpus import CorpusError, iter_source


def sentences(source, **kwargs):
    return list(iter_source(str(source), wordnet=None, shapes_captions=kwargs.get("count", 3), seed=0))


def test_plain_text_coco_json_and_caption_folder(tmp_path):
    (tmp_path / "plain.txt").write_text("a red bird\n\n  a blue sky  \n")
    assert sentences(tmp_path / "plain.txt") == ["a red bird", "a blue sky"]
    coco = {"images": [], "annotations": [{"image_id": 1, "caption": "a big dog"}, {"caption": "two cats"}]}
    (tmp_path / "captions.json").write_text(json.dumps(coco))
    assert sentences(tmp_path / "captions.json") == ["a big dog", "two cats"]
    folder = tmp_path / "text" / "001.Black_footed_Albatross"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("this bird has a white belly\nthe bird is small\n")
    assert sentences(tmp_path / "text") == ["this bird has a white belly", "the bird is small"]


def test_builtin_shapes_captions():
    captions = sentences("builtin:shapes", count=4)
    assert len(captions) == 4 and all(caption.startswith("a ") for caption in captions)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.txt", "not found"),
        (lambda p: (p / "bad.json").write_text("{}") and p / "bad.json", "not a COCO caption file"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no .txt caption files"),
        (lambda p: "builtin:flickr", "unknown built-in corpus"),
    ],
)
def test_bad_sources_raise_corpus_error_naming_them(tmp_path, make, message):
    source = make(tmp_path)
    with pytest.raises(CorpusError, match=message) as caught:
        sentences(source)
    assert str(source).split("/")[-1] in str(caught.value)
