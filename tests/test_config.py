import pytest

from fraudlens.config import load_config
from fraudlens.errors import ConfigError
from tests.conftest import REPO_ROOT


def test_shipped_configs_validate():
    from fraudlens.text_config import load_text_config

    loaders = {"demo.yaml": load_config, "demo-text.yaml": load_text_config, "text.yaml": load_text_config}
    shipped = sorted(p.name for p in (REPO_ROOT / "configs").glob("*.yaml"))
    assert shipped == sorted(loaders), "a new config needs its schema listed here"
    for name, loader in loaders.items():
        assert loader(REPO_ROOT / "configs" / name) is not None


def test_unknown_keys_and_bad_values_are_clear_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  input_dir: x\n  epocs: 3\n")
    with pytest.raises(ConfigError, match="train.epocs: Extra inputs are not permitted"):
        load_config(path)
    path.write_text("train:\n  input_dir: x\ngnn:\n  dropout: 1.5\n")
    with pytest.raises(ConfigError, match="gnn.dropout"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_overrides_apply(tmp_path):
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", {"train.epochs": 3, "train.input_dir": "elsewhere"})
    assert config.train.epochs == 3 and config.train.input_dir == "elsewhere"
