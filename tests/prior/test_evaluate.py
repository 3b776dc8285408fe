"""``vqct-evaluate prior`` holds every map and sample at once, so ``--num`` is bounded by the
validation split: a larger one is refused before anything is built or written."""

from vqct.prior import PriorConfig, VQCTPrior
from vqct.prior import evaluate as evaluate_cli
from vqct.tokenizer import VQCTTokenizer


def test_more_maps_than_the_validation_split_is_refused_before_anything_is_written(
    tmp_path, tiny_config, tiny_language_codebook, capsys
):
    config = tiny_config()
    config.autoencoder.resolution = 32  # the smallest the shapes are drawn at
    tokenizer = VQCTTokenizer.build(config, tiny_language_codebook).eval()
    data = {"kind": "shapes", "resolution": 32, "validation_length": 8}
    prior = VQCTPrior.build(
        PriorConfig(dim=32, depth=1, heads=2, num_classes=9),
        tokenizer,
        token_grid=(16, 16),
        tokenizer_source="t",
        data=data,
    )
    prior.save_pretrained(tmp_path / "prior")
    out = tmp_path / "eval"
    argv = ["--prior", str(tmp_path / "prior"), "--num", "1000000000", "--no-fid", "--out", str(out)]
    assert evaluate_cli.main(argv) == 2
    assert "--num 1000000000: the validation split of the prior's data set has 8 items" in capsys.readouterr().err
    assert not out.exists()
