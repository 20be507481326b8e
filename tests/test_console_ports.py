"""The console's ports: the engine and the app implement them exactly, so a rename fails here, not silently."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

from test_console_support import make_home

from console.tui.app import SluiceApp, create_app
from console.tui.ports import AppPort, EnginePort
from scheduler.engine import Engine

pytest_plugins = ("test_console_support",)
TUI = Path(__file__).resolve().parent.parent / "console" / "tui"


def _members(port: type) -> dict[str, object]:
    """The port's declared methods and properties, by name."""
    return {name: value for name, value in vars(port).items()
            if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))}


def _signature(function: typing.Callable[..., object]) -> tuple[list[tuple[str, object, object]], object]:
    """Parameters (name, kind, default) and resolved annotations, so `q.RunFilter` equals `RunFilter`."""
    parameters = [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
    return parameters, typing.get_type_hints(function)


def mismatches(port: type, implementation: type) -> list[str]:
    """How `implementation` fails to offer a method of `port` with the same signature (properties: by name)."""
    found = []
    for name, member in _members(port).items():
        if isinstance(member, property):
            continue  # instance attributes: checked on an instance by the callers
        actual = getattr(implementation, name, None)
        if actual is None:
            found.append(f"{implementation.__name__} has no {name}")
        elif not callable(actual):
            found.append(f"{implementation.__name__}.{name} is not a method")
        elif _signature(inspect.unwrap(actual)) != _signature(member):
            found.append(f"{implementation.__name__}.{name}{inspect.signature(actual)} is not "
                         f"{name}{inspect.signature(member)}")
        elif inspect.iscoroutinefunction(inspect.unwrap(actual)) != inspect.iscoroutinefunction(member):
            found.append(f"{implementation.__name__}.{name} is {'not ' * inspect.iscoroutinefunction(member)}async")
    return found


def test_every_engine_port_method_is_on_the_engine_with_the_same_signature() -> None:
    assert len(_members(EnginePort)) > 20  # the scan found the port's members
    assert mismatches(EnginePort, Engine) == []


def test_a_renamed_engine_method_fails_the_check() -> None:
    """What used to be skipped by a hasattr probe now fails: renamed, re-parametered or no longer async."""
    methods = {name: value for name, value in vars(Engine).items() if not name.startswith("__") and name != "runs"}
    renamed = type("Renamed", (), {**methods, "list_runs": Engine.runs})
    assert mismatches(EnginePort, renamed) == ["Renamed has no runs"]

    async def runs(self: Engine, run_filter: object = None, count: int = 50) -> list[object]:
        return []

    reparametered = type("Reparametered", (Engine,), {"runs": runs})
    assert [problem.split("(")[0] for problem in mismatches(EnginePort, reparametered)] == ["Reparametered.runs"]


async def test_the_engine_offers_the_attributes_the_port_reads(engine: Engine) -> None:
    for name, member in _members(EnginePort).items():
        if isinstance(member, property):
            assert callable(getattr(engine, name)), name


def test_the_app_offers_every_app_port_member(tmp_path: Path) -> None:
    app = create_app(make_home(tmp_path / "home"))
    for name, member in _members(AppPort).items():
        if isinstance(member, property):
            inspect.getattr_static(app, name)  # raises AttributeError if the app renamed it (reads no property)
        else:
            declared = [p.name for p in inspect.signature(member).parameters.values()][1:]
            actual = list(inspect.signature(getattr(SluiceApp, name)).parameters)[1:]
            assert actual == declared, name


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved to console.tui.… names."""
    package = ["console", "tui", *path.relative_to(TUI).parts[:-1]]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.update({module, *(f"{module}.{alias.name}" for alias in node.names)})
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_screens_and_widgets_reach_the_app_only_through_its_port() -> None:
    users = [path.relative_to(TUI).as_posix() for path in TUI.rglob("*.py") if path.name != "app.py"
             and any(name == "console.tui.app" or name.startswith("console.tui.app.")
                     for name in _imported_modules(path))]
    assert users == []


def test_no_console_module_imports_inside_a_function() -> None:
    """Lazy imports hide import cycles; screens ask the app to open another screen instead."""
    lazy = []
    for path in TUI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lazy += [f"{path.relative_to(TUI).as_posix()}:{inner.lineno}" for inner in ast.walk(node)
                         if isinstance(inner, ast.Import | ast.ImportFrom)]
    assert lazy == []
