"""The packages depend one way: common ← tokenizer ← prior ← apps ← the ``vqct`` face, and stage two
and the apps reach stage one through its public API (``tokenizer/__init__.py``) only. Each folder
is imported as ``vqct.<folder>`` (pyproject.toml's package-dir)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "tokenizer", "prior", "apps", "vqct")
# what each package may import of the others ("tokenizer" alone: the package's public API)
ALLOWED = {
    "common": set(),
    "tokenizer": {"common"},
    "prior": {"common", "tokenizer"},
    "apps": {"common", "tokenizer", "prior"},
    "vqct": {"common", "tokenizer", "prior", "apps"},
}


def import_name(package_path: tuple[str, ...]) -> str:
    """The import name of a folder of the repository: ``tokenizer/data`` is ``vqct.tokenizer.data``."""
    return ".".join(package_path if package_path[0] == "vqct" else ("vqct", *package_path))


def stage_of(module: str) -> str | None:
    """The package (a PACKAGES name) an absolute module name belongs to, None for others."""
    parts = module.split(".")
    if parts[0] != "vqct":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in PACKAGES else "vqct"


def imported_modules(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = import_name(path.relative_to(ROOT).with_suffix("").parts[:-1])
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
        top = stage_of(name)
        if top is None or top == own:
            continue
        if top not in ALLOWED[own]:
            found.append(f"{name} ({own} may not import {top})")
        elif top == "tokenizer" and name != "vqct.tokenizer":
            found.append(f"{name} (outside stage one, import from the public API: `from vqct.tokenizer import …`)")
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
        ("common", "from vqct.tokenizer.model import VQCTTokenizer\n"),
        ("prior", "from vqct.tokenizer.autoencoder import Encoder\nfrom vqct.tokenizer import VQCTTokenizer\n"),
    ):
        (tmp_path / package).mkdir()
        (tmp_path / package / "bad.py").write_text(source)
    assert violations(tmp_path / "common" / "bad.py") == ["vqct.tokenizer.model (common may not import tokenizer)"]
    assert len(violations(tmp_path / "prior" / "bad.py")) == 1
