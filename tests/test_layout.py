"""The layout is the architecture: README maps every module, and stages never
import each other.

    python -m pytest tests/test_layout.py -q
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "codecommons"
STAGES = {"serve", "data", "train", "eval", "attribution", "lsp"}


def modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py")


def test_readme_maps_every_module():
    readme = (ROOT / "README.md").read_text()
    missing = []
    for p in modules():
        rel = p.relative_to(PKG)
        parent = f"{rel.parent.name}/" if rel.parent.name else ""
        if p.name not in readme or (parent and parent not in readme):
            missing.append(str(rel))
    assert not missing, f"README's layout misses {missing}"


def test_stages_do_not_import_each_other():
    bad = []
    for p in modules():
        stage = p.relative_to(PKG).parts[0]
        if stage not in STAGES:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                parts = n.split(".")
                if parts[0] == "codecommons" and len(parts) > 1 and parts[1] in STAGES - {stage}:
                    bad.append(f"{p.relative_to(PKG)} imports {n}")
    assert not bad, bad


def test_shared_modules_do_not_import_stages():
    for p in modules():
        if p.relative_to(PKG).parts[0] in STAGES or p.name == "__main__.py":
            continue  # __main__ is the dispatcher: it names every stage
        src = p.read_text()
        for stage in STAGES:
            assert f"codecommons.{stage}" not in src, f"{p} imports stage {stage}"
