"""The product stands without the benchmarks: no module of livepeer_ai/, studio/ or dashboard/
imports bench/, and the runner imports nothing of the orchestrator that supervises it."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PRODUCT_PACKAGES = ("livepeer_ai", "studio", "dashboard")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def importers_of(package: str, under: Path) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for path in under.rglob("*.py")
        if any(name == package or name.startswith(package + ".") for name in imported_modules(path))
    )


def test_no_product_module_imports_bench():
    modules = [path for package in PRODUCT_PACKAGES for path in (ROOT / package).rglob("*.py")]
    assert len(modules) > 100  # the walk found the product
    assert [importer for package in PRODUCT_PACKAGES for importer in importers_of("bench", ROOT / package)] == []


def test_the_runner_does_not_import_the_orchestrator():
    assert importers_of("livepeer_ai.orchestrator", ROOT / "livepeer_ai" / "runner") == []
