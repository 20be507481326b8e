"""The dependency direction and the layout the design card asks for."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_scheduler_never_imports_the_console_or_textual() -> None:
    offenders = {str(path.relative_to(ROOT)): sorted(_imports(path) & {"console", "textual"})
                 for path in (ROOT / "scheduler").rglob("*.py") if _imports(path) & {"console", "textual"}}
    assert offenders == {}


def test_only_the_transport_module_imports_asyncssh() -> None:
    users = {str(path.relative_to(ROOT)) for path in (ROOT / "scheduler").rglob("*.py")
             if "asyncssh" in _imports(path)}
    assert users <= {"scheduler/ssh/transport.py", "scheduler/localnode.py"}


def test_sql_lives_only_in_the_store_package() -> None:
    keywords = ("SELECT ", "INSERT INTO", "UPDATE runs", "DELETE FROM")
    outside = [str(path.relative_to(ROOT)) for folder in ("scheduler", "console") for path in (ROOT / folder).rglob("*.py")
               if "store" not in path.parts and any(k in path.read_text(encoding="utf-8") for k in keywords)]
    assert outside == []


def test_top_level_layout_matches_the_design_card() -> None:
    for name in ("pyproject.toml", "console", "scheduler", "tests", "sample_jobs", "README.md", ".ci/run"):
        assert (ROOT / name).exists(), name
