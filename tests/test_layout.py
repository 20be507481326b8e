"""The dependency direction and the layout the design card asks for."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(path: Path) -> set[str]:
    """Every module the file imports, lazily or not, relative imports resolved to full dotted names."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


def _imports_under(path: Path, package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in _modules(path))


def test_scheduler_never_imports_the_console_or_textual() -> None:
    offenders = {str(path.relative_to(ROOT)): sorted(_imports(path) & {"console", "textual"})
                 for path in (ROOT / "scheduler").rglob("*.py") if _imports(path) & {"console", "textual"}}
    assert offenders == {}


def test_only_the_ssh_transport_and_the_demo_workers_import_asyncssh() -> None:
    users = {str(path.relative_to(ROOT)) for folder in ("scheduler", "console") for path in (ROOT / folder).rglob("*.py")
             if "asyncssh" in _imports(path)}
    assert users, "the scan found no asyncssh user at all"
    assert {user for user in users if not user.startswith(("scheduler/ssh/", "console/demo/"))} == set()


def test_the_cli_and_the_textual_console_never_import_each_other() -> None:
    crossings = [str(path.relative_to(ROOT)) for own, other in (("cli", "tui"), ("tui", "cli"))
                 for path in (ROOT / "console" / own).rglob("*.py") if _imports_under(path, f"console.{other}")]
    assert crossings == []


def test_the_cli_never_loads_textual() -> None:
    """`sluice runs` must not pay for Textual: only the console and the demo import it."""
    users = [str(path.relative_to(ROOT)) for path in (ROOT / "console" / "cli").rglob("*.py")
             if "textual" in _imports(path)]
    assert users == []


def test_the_resolver_sees_relative_imports_across_packages() -> None:
    """The checks above are only as good as the import resolution they stand on."""
    modules = _modules(ROOT / "console" / "demo" / "screenshots.py")
    assert "console.tui.app" in modules and "console.demo.demo" in modules


def test_sql_lives_only_in_the_store_package() -> None:
    keywords = ("SELECT ", "INSERT INTO", "UPDATE runs", "DELETE FROM")
    outside = [str(path.relative_to(ROOT)) for folder in ("scheduler", "console") for path in (ROOT / folder).rglob("*.py")
               if "store" not in path.parts and any(k in path.read_text(encoding="utf-8") for k in keywords)]
    assert outside == []


def test_top_level_layout_matches_the_design_card() -> None:
    for name in ("pyproject.toml", "console", "scheduler", "tests", "sample_jobs", "README.md", ".ci/run"):
        assert (ROOT / name).exists(), name
