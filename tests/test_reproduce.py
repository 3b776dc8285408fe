"""docs/reproduce.md: every config its table names loads, differs from its base in exactly the
keys the row names, and every baseline and ablation config shipped has a row."""

from pathlib import Path

import pytest

from vqct.common.config import dotted, load_config
from vqct.prior import PriorTrainConfig
from vqct.tokenizer import TokenizerTrainConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def rows() -> list[dict]:
    lines = (ROOT / "docs" / "reproduce.md").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("<!-- rows:"))) + 3
    found = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table, row, config, base, differs = (cell.strip() for cell in line.strip("|").split("|")[:5])
        found.append(
            {
                "id": f"table {table}: {row}",
                "config": config.strip("`"),
                "base": None if base == "—" else base.strip("`"),
                "differs": set() if differs == "—" else {key.strip() for key in differs.split(",")},
            }
        )
    return found


def load(name: str):
    schema = PriorTrainConfig if name.startswith("prior/") else TokenizerTrainConfig
    return dotted(load_config(schema, CONFIGS / name))


def changed_keys(config: dict, base: dict) -> set[str]:
    return {key for key in config.keys() | base.keys() if config.get(key) != base.get(key)} - {"output_dir"}


@pytest.mark.parametrize("row", rows(), ids=lambda row: row["id"])
def test_each_row_differs_from_its_base_in_what_it_names(row):
    config = load(row["config"])
    if row["base"] is not None:
        assert changed_keys(config, load(row["base"])) == row["differs"]


def test_every_baseline_and_ablation_config_has_a_row():
    named = {row["config"] for row in rows()}
    shipped = {
        str(path.relative_to(CONFIGS))
        for folder in ("tokenizer/baselines", "tokenizer/ablations", "prior/baselines")
        for path in (CONFIGS / folder).glob("*.yaml")
    }
    assert shipped <= named, sorted(shipped - named)


def test_the_diff_sees_a_change_the_row_does_not_name():
    """The check itself: a config changed in one more key than its row says is caught."""
    base = load("tokenizer/cub_vqct.yaml")
    ablation = load("tokenizer/ablations/mlp_transfer.yaml") | {"loss.disc_weight": 0.0}
    assert changed_keys(ablation, base) == {"model.quantizer.transfer.kind", "loss.disc_weight"}
