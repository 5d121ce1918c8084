"""The security boundary as the folders draw it, checked on every module's imports.

app/worker/ runs in the walled job process with a user's program and data, app/server/ (with
the entry modules app/main.py, app/client.py and app/cli.py) in the server, and app/contract/
is what both agree on. So: the contract imports neither side; the worker imports only itself
and the contract; the server reaches the worker only through its entries, app.worker.entry
(evaluations) and app.worker.graphviz (layouts), by import or by a "module:function" name it
hands a process pool.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
ENTRY = "app.worker.entry"
LAYOUT_ENTRY = "app.worker.graphviz"  # the layout pool's: libgvc without torch
ENTRIES = (ENTRY, LAYOUT_ENTRY)
TARGET = re.compile(r"(app(?:\.\w+)+):\w+")  # a pool role's "module:function"


@dataclass(frozen=True)
class Use:
    """A module of app that another names, where it names it."""

    module: str
    where: str
    how: str


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def uses(path: Path, root: Path = ROOT) -> list[Use]:
    """Every app module `path` imports (at the top, in a function, under TYPE_CHECKING) and
    every one it names as a pool role's target; `where` is relative to `root`."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Use(a.name, where, f"import {a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{where}: relative import; name the module in full"
            base = node.module or ""
            for alias in node.names:
                # `from app.server import pool` names the module app.server.pool.
                full = f"{base}.{alias.name}"
                name = full if is_module(full) else base
                found.append(Use(name, where, f"from {base} import {alias.name}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [Use(m, where, f'"{m}:..." (a pool role)') for m in TARGET.findall(node.value)]
    return [use for use in found if use.module == "app" or use.module.startswith("app.")]


def side(module: str) -> str:
    for name in ("contract", "worker"):
        if module == f"app.{name}" or module.startswith(f"app.{name}."):
            return name
    return "server"  # app.server and the entry modules at the top: app.main, app.client...


def allowed(importer: str, imported: str) -> bool:
    mine, theirs = side(importer), side(imported)
    if mine == "contract":
        return theirs == "contract"
    if mine == "worker":
        return theirs in ("worker", "contract")
    return theirs != "worker" or imported in ENTRIES


MODULES = {module_name(path): path for path in sorted(APP.rglob("*.py"))}
RULES = {
    "contract": "app.contract imports nothing from app.server or app.worker",
    "worker": "app.worker imports only app.worker and app.contract",
    "server": f"the server imports nothing from app.worker but {' and '.join(ENTRIES)}",
}


def test_every_side_is_present() -> None:
    """The rules below are not vacuous: each side has its modules, and the entry exists."""
    sides = [side(module) for module in MODULES]
    assert sides.count("contract") >= 5
    assert sides.count("worker") >= 20
    assert sides.count("server") >= 20
    assert set(ENTRIES) <= set(MODULES)
    assert {"app.main", "app.client", "app.cli"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_respect_the_boundary(module: str) -> None:
    wrong = [use for use in uses(MODULES[module]) if not allowed(module, use.module)]
    assert not wrong, f"{RULES[side(module)]}; found:\n" + "\n".join(
        f"  {use.where}: {use.how}" for use in wrong
    )


def test_imported_app_modules_exist() -> None:
    """A misspelt or stale module name would slip past the rules above."""
    missing = [
        f"{use.where}: {use.how}"
        for path in MODULES.values()
        for use in uses(path)
        if not is_module(use.module)
    ]
    assert not missing, "no such module:\n" + "\n".join(missing)


def test_the_server_starts_jobs_through_the_entry() -> None:
    """The evaluation pool's role names the entry module's function, which exists."""
    targets = [use for use in uses(MODULES["app.server.workers"]) if "pool role" in use.how]
    assert [use.module for use in targets] == [ENTRY]
    from app.worker import entry

    assert callable(entry.prepare_evaluator)


def test_the_server_starts_layouts_through_their_entry() -> None:
    """The layout pool's role names the layout entry's function, and that module imports
    nothing of the worker (a layout zygote holds libgvc, not torch)."""
    targets = [use for use in uses(MODULES["app.server.layout"]) if "pool role" in use.how]
    assert [use.module for use in targets] == [LAYOUT_ENTRY]
    assert not [use for use in uses(MODULES[LAYOUT_ENTRY]) if side(use.module) == "worker"]
    from app.worker import graphviz

    assert callable(graphviz.prepare_layout)


@pytest.mark.parametrize(
    ("importer", "imported", "ok"),
    [
        ("app.contract.schemas", "app.server.render", False),
        ("app.contract.schemas", "app.worker.capture", False),
        ("app.contract.schemas", "app.main", False),
        ("app.worker.chainrule", "app.server.render", False),
        ("app.worker.capture", "app.client", False),
        ("app.worker.capture", "app.contract.schemas", True),
        ("app.server.workers", "app.worker.evaluate", False),
        ("app.server.workers", "app.worker", False),
        ("app.client", "app.worker.sandbox.errors", False),
        ("app.server.workers", ENTRY, True),
        ("app.server.layout", LAYOUT_ENTRY, True),
        ("app.main", "app.server.services", True),
    ],
)
def test_rules(importer: str, imported: str, ok: bool) -> None:
    """The checker itself refuses what crosses the boundary."""
    assert allowed(importer, imported) is ok


def test_the_message_names_the_import(tmp_path: Path) -> None:
    """A violation is reported with its file, line and import statement."""
    bad = tmp_path / "bad.py"
    bad.write_text("import json\n\ndef f():\n    from app.worker.capture import GraphCapture\n")
    found = [use for use in uses(bad, tmp_path) if not allowed("app.server.x", use.module)]
    assert [(use.where.rsplit(":", 1)[1], use.how) for use in found] == [
        ("4", "from app.worker.capture import GraphCapture")
    ]
