import json

import pytest
import torch

import vqct.tokenizer.language.language_codebook as language_codebook_module
from vqct.tokenizer.language.language_codebook import (
    METADATA_FILE,
    TENSORS_FILE,
    LanguageCodebook,
    LanguageCodebookFileError,
)


def make_language_codebook(scale=1.0):
    return LanguageCodebook(
        adjectives=["red", "small"],
        nouns=["circle", "square", "star"],
        adjective_vectors=torch.randn(2, 4) * scale,
        noun_vectors=torch.randn(3, 4),
        edge_index=torch.tensor([[0, 1, 1], [0, 0, 2]]),
        edge_weight=torch.tensor([3.0, 1.0, 2.0]),
        adjective_counts=torch.tensor([5, 4]),
        noun_counts=torch.tensor([6, 2, 3]),
        info={"provider": "test"},
    )


def test_save_load_round_trip_without_pickle(tmp_path):
    language_codebook = make_language_codebook()
    language_codebook.save(tmp_path / "language_codebook")
    assert sorted(p.name for p in (tmp_path / "language_codebook").iterdir()) == sorted([TENSORS_FILE, METADATA_FILE])
    loaded = LanguageCodebook.load(tmp_path / "language_codebook")
    assert loaded.content_hash == language_codebook.content_hash
    assert loaded.nouns == language_codebook.nouns and loaded.info == language_codebook.info
    for name, tensor in language_codebook.tensors().items():
        assert torch.equal(getattr(loaded, name), tensor)
    assert loaded.normalized_adjacency().shape == (5, 5)


def test_adjacency_leaves_out_rare_edges_and_weights_the_rest():
    codebook = make_language_codebook()  # edges red→circle 3, small→circle 1, small→star 2
    everything = codebook.normalized_adjacency("binary").to_dense()
    frequent = codebook.normalized_adjacency("binary", min_count=2).to_dense()
    small, circle, star = 1, 2, 4
    assert everything[small, circle] > 0 and frequent[small, circle] == 0  # seen once: left out
    assert frequent[small, star] > 0
    counted = codebook.normalized_adjacency("count").to_dense()
    assert counted[0, circle] > everything[0, circle]  # 3 occurrences outweigh the others under counts


def test_content_hash_changes_with_content():
    language_codebook = make_language_codebook()
    other = make_language_codebook()
    other.adjectives = ["red", "tiny"]
    assert language_codebook.content_hash != other.content_hash


def test_altered_or_missing_files_are_rejected(tmp_path):
    make_language_codebook().save(tmp_path / "language_codebook")
    metadata = json.loads((tmp_path / "language_codebook" / METADATA_FILE).read_text())
    metadata["nouns"][0] = "ellipse"
    (tmp_path / "language_codebook" / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(LanguageCodebookFileError, match="content hash mismatch"):
        LanguageCodebook.load(tmp_path / "language_codebook")
    (tmp_path / "language_codebook" / TENSORS_FILE).write_bytes(b"garbage")
    with pytest.raises(LanguageCodebookFileError, match="unreadable"):
        LanguageCodebook.load(tmp_path / "language_codebook")
    with pytest.raises(LanguageCodebookFileError, match="is not a language codebook"):
        LanguageCodebook.load(tmp_path / "nowhere")


def test_inconsistent_shapes_are_rejected():
    with pytest.raises(LanguageCodebookFileError, match="edge_index points outside"):
        LanguageCodebook(
            **{
                **make_language_codebook().__dict__,
                "edge_index": torch.tensor([[0], [7]]),
                "edge_weight": torch.ones(1),
            }
        )
    with pytest.raises(LanguageCodebookFileError, match="noun_vectors has 2 rows"):
        LanguageCodebook(**{**make_language_codebook().__dict__, "noun_vectors": torch.randn(2, 4)})


def test_failed_save_keeps_the_previous_artifact_and_leaves_no_debris(tmp_path, monkeypatch):
    original = make_language_codebook()
    original.save(tmp_path / "language_codebook")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(language_codebook_module, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        make_language_codebook(scale=10).save(tmp_path / "language_codebook")
    assert LanguageCodebook.load(tmp_path / "language_codebook").content_hash == original.content_hash
    assert [p.name for p in tmp_path.iterdir()] == ["language_codebook"]


@pytest.mark.parametrize("tampering", [{"adjectives": 5}, {"nouns": None}, {"format_version": "x"}, "not json"])
def test_show_on_a_tampered_codebook_is_one_line_naming_the_folder(tmp_path, capsys, tampering):
    from vqct.tokenizer.language.__main__ import main

    folder = make_language_codebook().save(tmp_path / "language_codebook")
    metadata = json.loads((folder / METADATA_FILE).read_text())
    text = tampering if isinstance(tampering, str) else json.dumps(metadata | tampering)
    (folder / METADATA_FILE).write_text(text)
    assert main(["show", str(folder)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {folder}") and error.count("\n") == 1


def test_its_repr_is_one_short_line(tiny_language_codebook):
    shown = repr(tiny_language_codebook)
    assert "\n" not in shown and len(shown) < 200 and "tensor(" not in shown
    assert shown.startswith(
        f"LanguageCodebook({len(tiny_language_codebook.adjectives)} adjectives, {len(tiny_language_codebook.nouns)} nouns"
    )
