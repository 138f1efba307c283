"""The layout is the architecture: the README's module map matches the package file for
file, and the real import graph (every import statement, module level or inside a
function, read with `ast`) flows one way: building blocks never import stages, and
stages never import each other.

    python -m pytest tests/test_layout.py -q
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "codecommons"
STAGES = {"serve", "data", "train", "eval", "attribution", "lsp", "ui"}
ENTRY = {"__main__.py"}  # the dispatcher names every stage, by module path, lazily


def modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py")


def package_of(rel: Path) -> str:
    """The top-level unit a module belongs to: 'serve', 'engines', or 'config' for a
    top-level module such as config.py."""
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path, rel: Path | None = None) -> list[str]:
    """Every codecommons module `path` (at `rel` in the package) imports, absolute or
    relative, anywhere in it."""
    rel = rel or path.relative_to(PKG)
    here = ["codecommons", *rel.with_suffix("").parts]
    if path.name == "__init__.py":
        here.append("__init__")
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = here[: len(here) - node.level]
                out.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.append(node.module)
    return [n for n in out if n == "codecommons" or n.startswith("codecommons.")]


def graph() -> dict[str, set[str]]:
    """unit -> units it imports (top-level packages or modules of codecommons)."""
    g: dict[str, set[str]] = {}
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG)
        if rel.name in ENTRY:
            continue
        unit = package_of(rel) if rel.name != "__init__.py" or len(rel.parts) > 1 else "codecommons"
        for name in imports(p):
            parts = name.split(".")
            if len(parts) > 1 and parts[1] != unit:
                g.setdefault(unit, set()).add(parts[1])
    return g


def readme_map() -> set[str]:
    """Module paths (relative to src/codecommons) listed in the README's layout block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```\nsrc/codecommons/", 1)[1].split("```", 1)[0]
    paths, stack = set(), []  # stack of (indent, folder)
    for line in block.splitlines():
        m = re.match(r"^( +)(\S+)", line)
        if not m:
            continue
        indent, name = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if name.endswith("/"):
            stack.append((indent, name.rstrip("/")))
        elif name.endswith(".py"):
            paths.add("/".join([f for _, f in stack] + [name]))
    return paths


def test_readme_maps_every_module_and_nothing_else():
    on_disk = {str(p.relative_to(PKG)) for p in modules()}
    listed = readme_map()
    assert not on_disk - listed, f"README's layout misses {sorted(on_disk - listed)}"
    missing = sorted(x for x in listed if not (PKG / x).is_file())  # an __init__.py may be listed
    assert not missing, f"README's layout names modules that do not exist: {missing}"


def test_stages_do_not_import_each_other():
    bad = [f"{a} imports {b}" for a, deps in graph().items() if a in STAGES
           for b in deps if b in STAGES]
    assert not bad, bad


def test_building_blocks_do_not_import_stages():
    bad = [f"{a} imports {b}" for a, deps in graph().items() if a not in STAGES
           for b in deps if b in STAGES]
    assert not bad, bad


def test_building_blocks_form_no_cycle():
    g = {a: {b for b in deps if b not in STAGES} for a, deps in graph().items() if a not in STAGES}
    seen: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if seen.get(node) == 1:
            raise AssertionError(f"import cycle: {' -> '.join(path + [node])}")
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in sorted(g.get(node, ())):
            visit(nxt, path + [node])
        seen[node] = 2

    for node in sorted(g):
        visit(node, [])


def test_the_graph_is_read_from_real_imports(tmp_path):
    """The checker itself: a lazy import inside a function and a relative import count."""
    g = graph()
    assert "engines" in g["serve"] and "tokenizer" in g["engines"]
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from codecommons.serve import app\nfrom ..eval import cli\n")
    assert set(imports(probe, Path("data/probe.py"))) == {"codecommons.serve", "codecommons.eval"}
