"""The package's module-level imports form no cycle, and every module imports first in a fresh interpreter.

A cycle that works today breaks as soon as someone imports the other end first
(as `ssseg.report` -> config -> methods -> models -> config once did), so the
static graph is checked as well as the real imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ssseg

PACKAGE_DIR = Path(ssseg.__file__).parent


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = ("ssseg",) + path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _module_level_imports(path: Path, module: str, is_package: bool) -> set[str]:
    """Modules named by imports outside functions (a function-local import runs later, after both ends loaded)."""
    tree = ast.parse(path.read_text())
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in tree.body:
        nodes = [node]
        if isinstance(node, (ast.If, ast.Try)):  # `if TYPE_CHECKING:` is skipped below; try/except imports count
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            nodes = list(ast.walk(node))
        for n in nodes:
            if isinstance(n, ast.Import):
                found.update(a.name for a in n.names)
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    anchor = package.rsplit(".", n.level - 1)[0] if n.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                found.add(base)
                found.update(f"{base}.{a.name}" for a in n.names)
    return found


def _import_graph() -> dict[str, set[str]]:
    names = _module_names()
    graph: dict[str, set[str]] = {m: set() for m in names}
    for module, path in names.items():
        for target in _module_level_imports(path, module, path.name == "__init__.py"):
            if target not in names:
                continue
            # Importing a.b.c first runs a/__init__ and a/b/__init__, unless the importer is already inside them.
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                step = ".".join(parts[:i])
                if step in names and step != module and not module.startswith(step + "."):
                    graph[module].add(step)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert _cycles(_import_graph()) == []


def test_cycle_detector_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports_first():
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {sorted(m for m in _module_names() if not m.endswith('__main__'))!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'ssseg' or m.startswith('ssseg.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as e:\n"
        "        failed.append(f'{name}: {e}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
