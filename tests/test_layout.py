"""The packages depend one way: common ← tokenizer ← prior ← apps, and stage two and the apps
reach stage one through its public API (``tokenizer/__init__.py``) only."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "tokenizer", "prior", "apps")
# what each package may import of the others ("tokenizer" alone: the package's public API)
ALLOWED = {
    "common": set(),
    "tokenizer": {"common"},
    "prior": {"common", "tokenizer"},
    "apps": {"common", "tokenizer", "prior"},
}


def imported_modules(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module)
    return names


def violations(path: Path) -> list[str]:
    own = path.relative_to(ROOT).parts[0]
    found = []
    for name in imported_modules(path):
        top = name.split(".")[0]
        if top not in PACKAGES or top == own:
            continue
        if top not in ALLOWED[own]:
            found.append(f"{name} ({own} may not import {top})")
        elif top == "tokenizer" and name != "tokenizer":
            found.append(f"{name} (outside stage one, import from the public API: `from tokenizer import …`)")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_one_way(package):
    found = {str(path.relative_to(ROOT)): violations(path) for path in sorted((ROOT / package).rglob("*.py"))}
    assert not {path: bad for path, bad in found.items() if bad}


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    """The rule itself: a neutral module importing model code, and stage two reaching into a private
    stage-one module, are both caught."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    for package, source in (
        ("common", "from tokenizer.model import VQCTTokenizer\n"),
        ("prior", "from tokenizer.autoencoder import Encoder\nfrom tokenizer import VQCTTokenizer\n"),
    ):
        (tmp_path / package).mkdir()
        (tmp_path / package / "bad.py").write_text(source)
    assert violations(tmp_path / "common" / "bad.py") == ["tokenizer.model (common may not import tokenizer)"]
    assert len(violations(tmp_path / "prior" / "bad.py")) == 1
