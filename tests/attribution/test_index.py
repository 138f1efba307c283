"""Index real code (~30 files of the Python standard library) and find planted copies."""

from __future__ import annotations

import ast
import io
import shutil
import sysconfig
import time
import tokenize
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecommons.attribution.index import build, connect, remove_repo
from codecommons.attribution.search import attribute

STDLIB = Path(sysconfig.get_paths()["stdlib"])
FIRST = ["json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py", "json/tool.py",
         "textwrap.py", "shlex.py", "fnmatch.py", "glob.py", "colorsys.py", "bisect.py", "heapq.py",
         "string.py", "keyword.py", "base64.py", "quopri.py", "genericpath.py", "posixpath.py",
         "stat.py", "copy.py", "calendar.py", "netrc.py", "sched.py", "queue.py", "operator.py"]
SECOND = ["ntpath.py", "reprlib.py", "numbers.py", "abc.py", "graphlib.py"]
REPO, LICENSE = "python/cpython-stdlib", "PSF-2.0"

SCHEMA = pa.schema([("content", pa.string()), ("repo", pa.string()), ("path", pa.string()),
                    ("language", pa.string()), ("license", pa.string()), ("license_type", pa.string()),
                    ("size", pa.int64()), ("sha256", pa.string()),
                    ("redactions", pa.struct([("email", pa.int64()), ("key", pa.int64())]))])

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


def write_shard(path: Path, files: list[str], repo: str = REPO) -> None:
    import hashlib

    rows = []
    for rel in files:
        text = (STDLIB / rel).read_text()
        rows.append({"content": text, "repo": repo, "path": rel, "language": "Python", "license": LICENSE,
                     "license_type": "permissive", "size": len(text.encode()),
                     "sha256": hashlib.sha256(text.encode()).hexdigest(),
                     "redactions": {"email": 0, "key": 0}})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)


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


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("attr")
    write_shard(root / "ds" / "data" / "00000.parquet", FIRST)
    idx = root / "index.sqlite"
    stats = build(root / "ds", idx, progress=False)
    assert stats["files"] == len(FIRST) and stats["shards"] == 1
    return root, idx


def check_found(matches, rel="textwrap.py", repo=REPO):
    assert matches, "planted copy not found"
    top = matches[0]
    assert (top.repo, top.path, top.license, top.license_type) == (repo, rel, LICENSE, "permissive")
    return top


DEDENT = function_source("textwrap.py", "dedent")


def test_verbatim(index):
    _, idx = index
    top = check_found(attribute(DEDENT, idx, language="python"))
    source = (STDLIB / "textwrap.py").read_text()
    assert source[top.source_start:top.source_end] in source
    assert "margin" in source[top.source_start:top.source_end]
    assert top.query_end - top.query_start > 0.8 * len(DEDENT)
    assert top.similarity > 0.9


@pytest.mark.parametrize("transform", [reformat, strip_comments])
def test_reformatted_and_comments_stripped(index, transform):
    _, idx = index
    planted = transform(DEDENT)
    assert planted != DEDENT
    check_found(attribute(planted, idx, language="Python"))


def test_renamed_identifiers(index):
    _, idx = index
    planted = rename(function_source("textwrap.py", "dedent", docstring=False))
    assert "margin = None" not in planted and "def dedent" not in planted
    check_found(attribute(planted, idx, language="python"))
    # another file, with no language given: the index's languages are tried
    planted = rename(function_source("fnmatch.py", "translate", docstring=False))
    check_found(attribute(planted, idx), rel="fnmatch.py")


def test_embedded_in_other_code(index):
    _, idx = index
    prefix, suffix = UNRELATED, "\n\nprint(schedule_shifts([], []))\n"
    planted = prefix + "\n\n" + strip_comments(DEDENT) + suffix
    top = check_found(attribute(planted, idx, language="python"))
    assert top.query_start >= len(prefix)
    assert top.query_end <= len(planted) - len(suffix) + 1


def test_unrelated_code_does_not_match(index):
    _, idx = index
    assert attribute(UNRELATED, idx, language="python") == []
    assert attribute(UNRELATED, idx) == []


def test_incremental_build_and_remove_repo(index, tmp_path):
    root, idx = index
    ds = tmp_path / "ds"
    shutil.copytree(root / "ds", ds)
    own = tmp_path / "index.sqlite"
    with connect(idx) as con:  # a consistent copy of the WAL database
        con.execute("VACUUM INTO ?", (str(own),))
    write_shard(ds / "data" / "00001.parquet", SECOND, repo="example/second")
    stats = build(ds, own, progress=False)
    assert stats == {"shards": 1, "skipped_shards": 1, "files": len(SECOND), "duplicates": 0}
    planted = function_source("graphlib.py", "static_order") + "\n" + function_source("graphlib.py", "done")
    check_found(attribute(planted, own, language="python"), rel="graphlib.py", repo="example/second")
    assert build(ds, own, progress=False)["shards"] == 0  # nothing new

    assert remove_repo(own, "example/second") == len(SECOND)
    assert attribute(planted, own, language="python") == []
    with connect(own) as con:
        assert con.execute("SELECT count(*) FROM sources WHERE repo='example/second'").fetchone()[0] == 0
        orphans = con.execute("SELECT count(*) FROM fingerprints WHERE source_id NOT IN"
                              " (SELECT id FROM sources)").fetchone()[0]
        assert orphans == 0
    check_found(attribute(DEDENT, own, language="python"))  # the rest is intact


def test_query_latency(index):
    _, idx = index
    corpus = "".join((STDLIB / rel).read_text() for rel in ("heapq.py", "calendar.py"))
    queries = [corpus[i:i + 1000] for i in range(0, 20000, 1000)]
    times = []
    for q in queries:
        t0 = time.perf_counter()
        attribute(q, idx, language="python")
        times.append(time.perf_counter() - t0)
    times.sort()
    assert times[len(times) // 2] < 0.05, times


def test_cli(index, tmp_path, capsys):
    import json

    from codecommons.attribution.cli import attribute_main, index_main

    root, idx = index
    planted, clean = tmp_path / "planted.py", tmp_path / "clean.py"
    planted.write_text(UNRELATED + "\n" + DEDENT)
    clean.write_text(UNRELATED)
    assert attribute_main([str(planted), "--index", str(idx), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0]["path"] == "textwrap.py" and out[0]["license"] == LICENSE
    assert attribute_main([str(clean), "--index", str(idx)]) == 0
    assert attribute_main([str(planted), "--index", str(tmp_path / "missing.sqlite")]) == 2
    assert attribute_main(["--min-chars", "x"]) == 2
    assert index_main(["build", str(root / "ds"), "--out", str(idx), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped_shards"] == 1
