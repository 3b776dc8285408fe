"""docs/quickstart.ipynb runs from top to bottom on tiny models (as it does on the quickstart's),
so it cannot rot: every cell executes in a real kernel, and what it shows is there."""

import nbformat
import pytest
from nbclient import NotebookClient

from tests import ROOT
from vqct.prior import PriorConfig, VQCTPrior
from vqct.tokenizer import VQCTTokenizer

pytestmark = pytest.mark.slow  # a kernel is a fresh interpreter


def test_the_quickstart_notebook_runs_and_shows_words_and_images(
    tmp_path, monkeypatch, tiny_config, tiny_language_codebook
):
    config = tiny_config()
    config.autoencoder.resolution, config.autoencoder.ch_mult, config.autoencoder.attn_resolutions = 32, [1, 2, 2], []
    tokenizer = VQCTTokenizer.build(config, tiny_language_codebook).eval()
    tokenizer.save_pretrained(tmp_path / "tokenizer" / "final")
    prior = VQCTPrior.build(
        PriorConfig(dim=32, depth=1, heads=2, num_classes=9),
        tokenizer,
        token_grid=(8, 8),
        tokenizer_source="t",
        data={},
    )
    prior.save_pretrained(tmp_path / "prior" / "final")
    monkeypatch.setenv("VQCT_QUICKSTART", str(tmp_path))

    notebook = nbformat.read(ROOT / "docs" / "quickstart.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    printed = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "grid 8 x 8 | centre patch: (" in printed
    assert "TqdmWarning" not in printed and "torch.jit.script" not in printed  # our imports warn of nothing
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 3  # reconstruction, synthesis, completion
