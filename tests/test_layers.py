"""Layers point one way: marketplace <- models <- training / inference <- CLI and apps.

Shared leaves (errors, config schemas, progress protocol, persistence, output contract, the
MLflow module) may be imported from any layer and import no layer above them. Imports inside
functions count too: a lazy import upwards is still an upward dependency."""

import ast

import pytest

from tests.conftest import REPO_ROOT

# Folder -> (layer name, rank); a module may import only from its own rank or below.
LAYER_FOLDERS = {
    "fraudlens/marketplace": ("marketplace", 1),
    "models": ("models", 2),
    "training": ("training", 3),
    "inference": ("inference", 3),
    "fraudlens/cli": ("cli", 4),
    "fraudlens/web": ("apps", 4),
    "fraudlens/workspace": ("apps", 4),
}
PACKAGE_RANK = {"fraudlens.marketplace": 1, "fraudlens.models": 2, "fraudlens.training": 3,
                "fraudlens.inference": 3, "fraudlens.cli": 4, "fraudlens.web": 4, "fraudlens.workspace": 4}
# Siblings of one rank that must not import each other either.
FORBIDDEN_SIBLINGS = {("fraudlens.inference", "fraudlens.training"), ("fraudlens.training", "fraudlens.inference")}
UI_MODULES = ("rich", "typer", "fastapi", "starlette", "jinja2")


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def rank_of(module: str) -> tuple[str, int] | None:
    for package, rank in PACKAGE_RANK.items():
        if module == package or module.startswith(package + "."):
            return package, rank
    return None


def product_modules():
    for folder, (layer, rank) in LAYER_FOLDERS.items():
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            yield path, layer, rank
    for path in sorted((REPO_ROOT / "fraudlens").glob("*.py")):
        yield path, "leaf", 0


def test_no_module_imports_a_layer_above_its_own():
    wrong = []
    for path, layer, rank in product_modules():
        own = rank_of(f"fraudlens.{layer}") if rank else None
        for module in imported_modules(path):
            target = rank_of(module)
            if target is None:
                continue
            package, target_rank = target
            if target_rank > rank or (own and (own[0], package) in FORBIDDEN_SIBLINGS):
                wrong.append(f"{path.relative_to(REPO_ROOT)} ({layer}) imports {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("ui", UI_MODULES)
def test_no_ui_below_the_cli_and_apps(ui):
    wrong = [str(path.relative_to(REPO_ROOT)) for path, _, rank in product_modules() if rank < 4
             and any(m == ui or m.startswith(ui + ".") for m in imported_modules(path))]
    assert not wrong


def test_no_product_module_is_over_600_lines():
    long = {str(path.relative_to(REPO_ROOT)): n for path, _, _ in product_modules()
            if (n := len(path.read_text().splitlines())) > 620}
    assert not long
