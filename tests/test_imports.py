"""The package's imports, read statically (ast): no cycle between modules (function-level imports
count), none between the wings (claimflow/<wing>/), and a function-level import only with a
comment saying why (a heavy import kept off a fast path: `claimflow status` must not load
Whisper), since a circle hidden inside a function is still a circle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "claimflow"
WINGS = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported claimflow module, line, inside a function) for each import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, nested) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.append((full if full in known else child.module, child.lineno, nested))
            visit(child, inner)

    visit(tree, False)
    return [(name, line, nested) for name, line, nested in found if name.split(".")[0] == "claimflow" or nested]


def _graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for target, _, _ in _imports(path, known):
            if target in known and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected part with more than one member (Tarjan), as a list of names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            part = []
            while True:
                member = stack.pop()
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(set(graph) | {m for targets in graph.values() for m in targets}):
        if node not in index:
            connect(node)
    return found


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in WINGS else None


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_cycle_between_the_wings():
    wings: dict[str, set[str]] = defaultdict(set)
    for module, targets in _graph().items():
        for target in targets:
            if _wing(module) and _wing(target) and _wing(module) != _wing(target):
                wings[_wing(module)].add(_wing(target))
    assert _cycles(wings) == [], dict(wings)


def _said(lines: list[str], line: int) -> bool:
    """The import has a comment, or heads a block of imports under a comment that says why."""
    index = line - 1
    while index >= 0 and (lines[index].lstrip().startswith(("import ", "from ")) or not lines[index].strip()):
        if "#" in lines[index]:
            return True
        index -= 1
    return index >= 0 and lines[index].lstrip().startswith("#")


def test_a_function_level_import_says_why():
    known = _modules()
    silent = []
    for path in known.values():
        lines = path.read_text().splitlines()
        for target, line, nested in _imports(path, known):
            if not nested:
                continue
            if not _said(lines, line):
                silent.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert silent == [], "\n".join(silent)


def test_the_wings_are_the_workflows_stages():
    assert WINGS == ["batch", "commands", "core", "download", "knowledge", "llm", "parts", "store", "transcribe"]
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "cli.py"]  # the installed entry point, and nothing else outside a wing


def test_every_claimflow_name_the_benchmarks_and_scripts_import_exists():
    """The benchmarks and scripts run outside the suite: an import the package moved away
    from fails here, not on the day someone measures."""
    import ast
    import importlib

    missing = []
    for path in sorted([*(PACKAGE.parent / "benchmarks").glob("*.py"), *(PACKAGE.parent / "scripts").glob("*.py")]):
        tree = ast.parse(path.read_text())
        sources = [tree]
        # Code a benchmark runs in a child process, kept as a string of Python (BASELINE = """...""").
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        sources += [ast.parse(text) for text in strings if "from claimflow" in text and _parses(text)]
        for source in sources:
            for node in ast.walk(source):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("claimflow"):
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        name = f"{node.module}.{alias.name}"
                        if not hasattr(module, alias.name) and importlib.util.find_spec(name) is None:
                            missing.append(f"{path.name}: {name}")
    assert missing == []


def _parses(text: str) -> bool:
    import ast

    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True
