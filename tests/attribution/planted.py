"""Real code to index and planted copies of it: ~30 files of the Python standard
library in a curated-dataset shard, and the edits a copy may have gone through
(reformatted, comments stripped, identifiers renamed, embedded in other code).
Shared by the attribution, codeindex and serve tests and bench/attribution.py."""

from __future__ import annotations

import ast
import io
import sysconfig
import tokenize
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codecommons import dataset
from codecommons.dataset import DatasetRow

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FIRST = ["json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py", "json/tool.py",
         "textwrap.py", "shlex.py", "fnmatch.py", "glob.py", "colorsys.py", "bisect.py", "heapq.py",
         "string.py", "keyword.py", "base64.py", "quopri.py", "genericpath.py", "posixpath.py",
         "stat.py", "copy.py", "calendar.py", "netrc.py", "sched.py", "queue.py", "operator.py"]
SECOND = ["ntpath.py", "reprlib.py", "numbers.py", "abc.py", "graphlib.py"]
REPO, LICENSE = "python/cpython-stdlib", "PSF-2.0"


UNRELATED = '''
def schedule_shifts(workers, days, max_per_day=3):
    """Assign workers to days round-robin, skipping those on leave."""
    roster = {day: [] for day in days}
    on_leave = {w["name"] for w in workers if w.get("leave")}
    available = [w for w in workers if w["name"] not in on_leave]
    if not available:
        raise RuntimeError("nobody can work")
    cursor = 0
    for day in days:
        while len(roster[day]) < max_per_day:
            person = available[cursor % len(available)]
            cursor += 1
            if person["name"] in roster[day]:
                break
            roster[day].append(person["name"])
    load = {}
    for day, names in roster.items():
        for name in names:
            load[name] = load.get(name, 0) + 1
    busiest = max(load.items(), key=lambda kv: kv[1]) if load else None
    report = []
    for day in days:
        names = ", ".join(sorted(roster[day])) or "-"
        report.append(f"{day:>10}: {names}")
    if busiest:
        report.append(f"busiest: {busiest[0]} with {busiest[1]} shifts")
    summary = {"days": len(days), "workers": len(available), "report": "\\n".join(report)}
    return roster, summary


class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, sku, qty):
        self.items[sku] = self.items.get(sku, 0) + qty
        return self.items[sku]
'''


def write_rows(path: Path, rows: list[DatasetRow]) -> None:
    """A curated-dataset shard (codecommons.dataset's schema) holding `rows`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([r.to_dict() for r in rows], schema=dataset.schema()), path)


def write_shard(path: Path, files: list[str], repo: str = REPO) -> None:
    write_rows(path, [DatasetRow.of((STDLIB / rel).read_text(), repo=repo, path=rel, language="Python",
                                    license=LICENSE, license_type="permissive") for rel in files])


def function_source(rel: str, name: str, docstring: bool = True) -> str:
    text = (STDLIB / rel).read_text()
    node = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == name)
    src = ast.get_source_segment(text, node, padded=False)
    if not docstring and ast.get_docstring(node):
        doc = node.body[0]
        lines = src.splitlines(keepends=True)
        first, last = doc.lineno - node.lineno, doc.end_lineno - node.lineno
        src = "".join(lines[:first] + lines[last + 1:])
    return src


def reformat(src: str) -> str:
    """2-space indentation, a blank line after each line, spaces inside brackets."""
    out = []
    for line in src.splitlines():
        body = line.lstrip(" ")
        indent = (len(line) - len(body)) // 2
        if "'" not in body and '"' not in body:
            body = body.replace("(", "( ").replace(")", " )").replace(",", " ,")
        out += [" " * indent + body, ""]
    return "\n".join(out)


def strip_comments(src: str) -> str:
    lines = src.splitlines(keepends=True)
    for tok in reversed(list(tokenize.generate_tokens(io.StringIO(src).readline))):
        if tok.type == tokenize.COMMENT:
            r, c = tok.start
            lines[r - 1] = lines[r - 1][:c].rstrip() + "\n"
    return "".join(line for line in lines if line.strip())


def rename(src: str) -> str:
    """Rename the function, its parameters and its local variables."""
    fn = ast.parse(src).body[0]
    names = {fn.name} | {a.arg for a in fn.args.args}
    names |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    lines = src.splitlines(keepends=True)
    for tok in reversed(list(tokenize.generate_tokens(io.StringIO(src).readline))):
        if tok.type == tokenize.NAME and tok.string in names:
            (r, c), (_, e) = tok.start, tok.end
            lines[r - 1] = lines[r - 1][:c] + "zq_" + tok.string[::-1] + lines[r - 1][e:]
    out = "".join(lines)
    assert fn.name not in out.split("(")[0]
    return out


def stdlib_index(root: Path) -> Path:
    """An index of FIRST built the way users build one (ROOT/ds -> ROOT/index.sqlite)."""
    from codecommons.attribution.build import build

    write_shard(root / "ds" / "data" / "00000.parquet", FIRST)
    build(root / "ds", root / "index.sqlite", progress=False)
    return root / "index.sqlite"


def embed(src: str) -> str:
    """The copy in the middle of unrelated code."""
    return UNRELATED + "\n\n" + src + "\n\nprint(schedule_shifts([], []))\n"


# Each kind of edit a planted copy goes through (tests and bench/attribution.py).
EDITS = {
    "verbatim": lambda s: s,
    "reformatted": reformat,
    "comments stripped": strip_comments,
    "identifiers renamed": rename,
    "embedded in other code": embed,
}
