"""The shipped YAML configs, installed as the package ``vqct.configs`` (pyproject.toml): found by
name from any folder through ``common.shipped_configs``."""
