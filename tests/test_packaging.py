"""One import root: the wheel installs only `fraudlens`, the old top-level names do not import,
and the light commands load no torch."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)


def source_packages() -> set[str]:
    """Every package directory of the source tree, named as it installs (package-dir mapping)."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    found = set()
    for name, folder in mapping.items():
        root = REPO_ROOT / folder
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    return found


def test_every_source_package_is_listed_for_the_wheel():
    assert source_packages() == set(PYPROJECT["tool"]["setuptools"]["packages"])


@pytest.mark.slow
def test_the_wheel_has_one_top_level_name(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(REPO_ROOT)], check=True, capture_output=True, timeout=600)
    wheel = next(tmp_path.glob("fraudlens-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"fraudlens"}
    for module in ("fraudlens/models/gnn.py", "fraudlens/training/train.py", "fraudlens/inference/batch.py",
                   "fraudlens/marketplace/ingest.py", "fraudlens/cli/__init__.py"):
        assert module in names


def test_old_top_level_names_do_not_import_outside_the_repository(tmp_path):
    result = run_python(
        "import importlib.util, fraudlens.models, fraudlens.training, fraudlens.inference, fraudlens.marketplace\n"
        "print([n for n in ('models', 'training', 'inference', 'marketplace') if importlib.util.find_spec(n)])",
        tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"], ["score", "--help"]])
def test_light_commands_import_no_torch(tmp_path, argv):
    result = run_python(
        "import sys\nfrom fraudlens.cli import app\n"
        f"try:\n    app({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'mlflow', 'torch_geometric', 'sklearn') if m in sys.modules]\n"
        "print('HEAVY', heavy)", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_validate_imports_no_torch(small_input, tmp_path):
    result = run_python(
        "import sys\nfrom fraudlens.cli import app\n"
        f"try:\n    app(['validate', '--input', {str(small_input)!r}])\nexcept SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('TORCH', 'torch' in sys.modules)", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "TORCH False" in result.stdout
