from dataclasses import dataclass, field

import pytest

from vqct.common.config import ConfigError, load_config, to_dict


@dataclass
class Inner:
    provider: str = "glove"
    batch_size: int = 64


@dataclass
class Outer:
    corpus: list[str] = field(default_factory=lambda: ["builtin:shapes"])
    min_count: int = 10
    max_nouns: int | None = None
    inner: Inner = field(default_factory=Inner)


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_file_and_overrides_merge_in_order(tmp_path):
    path = write(tmp_path, "min_count: 3\ninner:\n  provider: minilm\n")
    config = load_config(Outer, path, ["inner.batch_size=8", "min_count=5", "corpus=[a.txt,b.json]"])
    assert config == Outer(corpus=["a.txt", "b.json"], min_count=5, inner=Inner("minilm", 8))
    assert load_config(Outer) == Outer()
    assert to_dict(config)["inner"] == {"provider": "minilm", "batch_size": 8}


@pytest.mark.parametrize(
    "source, text, overrides, expected",
    [
        ("file", "min_cont: 3\n", [], "min_cont"),
        ("file", "inner:\n  bogus: 1\n", [], "inner.bogus"),
        ("file", "min_count: many\n", [], "min_count"),
        ("override", "", ["inner.batch_size=3.5"], "inner.batch_size"),
        ("override", "", ["nokey=1"], "nokey"),
    ],
)
def test_unknown_keys_and_wrong_types_name_the_key(tmp_path, source, text, overrides, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(Outer, path, overrides)
    assert f"'{expected}'" in str(caught.value)
    assert (str(path) if source == "file" else "override") in str(caught.value)


def test_malformed_override_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="must look like key=value"):
        load_config(Outer, None, ["min_count"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Outer, tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Outer, write(tmp_path, "min_count: [1,\n"))


def test_a_file_can_start_from_base_files(tmp_path):
    (tmp_path / "base.yaml").write_text("min_count: 3\ninner:\n  provider: minilm\n  batch_size: 8\n")
    (tmp_path / "ablations").mkdir()
    (tmp_path / "ablations" / "small.yaml").write_text("base: ../base.yaml\ninner:\n  batch_size: 2\n")
    config = load_config(Outer, tmp_path / "ablations" / "small.yaml", ["min_count=4"])
    assert config.min_count == 4 and config.inner == Inner("minilm", 2)
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="include itself"):
        load_config(Outer, tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("base: [missing.yaml]\n")
    with pytest.raises(ConfigError, match="missing.yaml.*base of"):
        load_config(Outer, tmp_path / "orphan.yaml")


def test_the_renamed_codebook_key_still_loads_as_language_with_a_notice(tmp_path, caplog):
    """0.1's ``codebook:`` section (the language codebook's build) is 0.2's ``language:``, in a
    file and in an override; the notice names where the old spelling was."""
    from vqct.tokenizer import TokenizerTrainConfig

    path = write(tmp_path, "codebook:\n  min_count: 3\n")
    with caplog.at_level("WARNING"):
        config = load_config(TokenizerTrainConfig, path, ["codebook.seed=4"])
    assert (config.language.min_count, config.language.seed) == (3, 4)
    notices = [record.getMessage() for record in caplog.records if "is now 'language'" in record.getMessage()]
    assert len(notices) == 2 and str(path) in notices[0] and "command-line override" in notices[1]


@pytest.mark.parametrize("where", ["file", "override"])
def test_a_config_cannot_read_the_environment_unless_allowed(tmp_path, monkeypatch, where):
    monkeypatch.setenv("VQCT_TEST_SECRET", "hunter2")
    value = "${oc.env:VQCT_TEST_SECRET}"
    path = write(tmp_path, f"inner:\n  provider: '{value}'\n" if where == "file" else "")
    overrides = [f"inner.provider={value}"] if where == "override" else []
    with pytest.raises(ConfigError, match="key 'inner.provider': .* reads an environment variable") as caught:
        load_config(Outer, path, overrides)
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("VQCT_CONFIG_ENV", "1")
    assert load_config(Outer, path, overrides).inner.provider == "hunter2"
    monkeypatch.delenv("VQCT_CONFIG_ENV")
    path.write_text("inner:\n  provider: minilm\ncorpus: ['${inner.provider}.txt']\n")  # no environment: allowed
    assert load_config(Outer, path).corpus == ["minilm.txt"]
