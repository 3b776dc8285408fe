"""What every model card must be, whichever path saved it: parsed by huggingface_hub with the
metadata the Hub reads, and nothing of the machine it was made on."""

from pathlib import Path

from huggingface_hub import ModelCard


def assert_publishable_card(folder: Path, *local: Path) -> ModelCard:
    """The card in ``folder``, parsed; ``local``: paths that must not appear in it."""
    card = ModelCard.load(Path(folder) / "README.md")
    data = card.data
    assert data.library_name == "vqct" and data.license and data.pipeline_tag and data.tags
    assert "More Information Needed" not in card.content
    assert (
        "outputs/" not in card.content
        and "arxiv.org/abs/2403.10071" in card.content
        and "@inproceedings" in card.content
    )
    for path in (*local, Path.cwd(), Path.home()):
        assert str(path) not in card.content, path
    assert 'from_pretrained("' in card.text
    return card
