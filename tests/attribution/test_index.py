"""Index real code (~30 files of the Python standard library) and find planted copies."""

from __future__ import annotations

import shutil

import pytest

from codecommons.attribution.build import build
from codecommons.codeindex.store import connect, remove_repo
from codecommons.codeindex.search import CodeIndex, attribute
from tests.attribution.planted import (FIRST, LICENSE, REPO, SECOND, STDLIB, UNRELATED,
                                       function_source, reformat, rename, strip_comments,
                                       write_shard)


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
    # A region starts at its first shared fingerprint, up to w - 1 tokens in (here
    # past the docstring, one token) and ends with its last k-gram.
    assert top.query_start <= DEDENT.index("margin = None") < DEDENT.index("re.sub") < top.query_end
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
    assert stats["bytes"] == sum(len((STDLIB / rel).read_bytes()) for rel in SECOND)
    stats.pop("bytes"), stats.pop("common_hashes")
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


def test_membership_filter_bounds_every_match(index):
    """The filter's longest run is an upper bound on every match (no false
    negatives), over windows of every indexed file."""
    _, idx = index
    code_index = CodeIndex(idx)
    for rel in FIRST[:12]:
        text = (STDLIB / rel).read_text()
        for start in range(0, max(len(text) - 1000, 1), 1500):
            window = text[start:start + 1000]
            matches = code_index.attribute(window, "python", min_chars=60)
            run = code_index.longest_run(window, "python")
            assert run >= max((m.length for m in matches), default=0), (rel, start)
    code_index.close()


def test_membership_filter_answers_unrelated_code_alone(index, monkeypatch):
    from codecommons.codeindex import search

    _, idx = index
    code_index = CodeIndex(idx)
    assert code_index.longest_run(UNRELATED) < 150
    assert code_index.longest_run(DEDENT, "python") >= 150

    def no_sqlite(*args, **kwargs):
        raise AssertionError("the fingerprint table was queried")

    monkeypatch.setattr(search, "_lookup", no_sqlite)
    assert code_index.attribute(UNRELATED) == []
    code_index.close()


def edited_copy(idx, dest, sql: str):
    with connect(idx) as con:  # a consistent copy of the WAL database
        con.execute("VACUUM INTO ?", (str(dest),))
    with connect(dest) as con:
        con.execute(sql)
    return dest


def test_index_without_filter_is_still_searched(index, tmp_path):
    """An index written before the membership filter existed: rebuilt on open."""
    old = edited_copy(index[1], tmp_path / "old.sqlite", "DROP TABLE membership")
    check_found(attribute(DEDENT, old, language="python"))


def test_index_of_another_format_is_refused(index, tmp_path):
    old = edited_copy(index[1], tmp_path / "old.sqlite", "UPDATE meta SET value = '1' WHERE key = 'normalize'")
    with pytest.raises(ValueError, match="rebuild it"):
        CodeIndex(old)


def test_boilerplate_in_many_files_is_not_attributed(tmp_path):
    """A passage stored in more than COMMON_POSTINGS places (a licence header,
    generated code) is left out of queries; a file's own code is still found."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from codecommons.codeindex.store import COMMON_POSTINGS
    from tests.attribution.planted import SCHEMA

    boiler = function_source("textwrap.py", "dedent")
    own = [function_source(rel, name) for rel, name in (("fnmatch.py", "translate"), ("shlex.py", "split"))]
    tails = [own[i] if i < 2 else f"X_{i} = {i}" for i in range(COMMON_POSTINGS + 5)]
    texts = [boiler + "\n\n" + tail + "\n" for tail in tails]
    rows = [{"content": t, "repo": f"org/r{i}", "path": "m.py", "language": "Python", "license": "MIT",
             "license_type": "permissive", "size": len(t), "sha256": hashlib.sha256(t.encode()).hexdigest(),
             "redactions": {"email": 0, "key": 0}} for i, t in enumerate(texts)]
    (tmp_path / "ds" / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp_path / "ds" / "data" / "0.parquet")
    stats = build(tmp_path / "ds", tmp_path / "index.sqlite", progress=False)
    assert stats["common_hashes"] > 10
    assert attribute(boiler, tmp_path / "index.sqlite", language="python") == []
    top = attribute(own[1], tmp_path / "index.sqlite", language="python")[0]
    assert top.repo == "org/r1"


def test_open_index_sees_later_builds(index, tmp_path):
    """A server's open CodeIndex picks up a shard another process adds."""
    root, idx = index
    ds, own = tmp_path / "ds", tmp_path / "index.sqlite"
    shutil.copytree(root / "ds", ds)
    build(ds, own, progress=False)
    code_index = CodeIndex(own)
    planted = function_source("graphlib.py", "static_order") + "\n" + function_source("graphlib.py", "done")
    assert code_index.attribute(planted, "python") == []
    write_shard(ds / "data" / "00001.parquet", SECOND, repo="example/second")
    build(ds, own, progress=False)
    check_found(code_index.attribute(planted, "python"), rel="graphlib.py", repo="example/second")
    remove_repo(own, "example/second")
    assert code_index.longest_run(planted, "python") < 150  # the filter was rebuilt
    code_index.close()


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
    assert capsys.readouterr().out.strip() == "no match"
    assert attribute_main([str(planted), "--index", str(idx), "--quick", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["may_match"] is True
    assert attribute_main([str(clean), "--index", str(idx), "--quick"]) == 0
    assert "not in the index" in capsys.readouterr().out
    assert attribute_main([str(planted), "--index", str(tmp_path / "missing.sqlite")]) == 2
    assert attribute_main(["--min-chars", "x"]) == 2
    assert index_main(["build", str(root / "ds"), "--out", str(idx), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped_shards"] == 1


# -- prose: comments and docstrings are matched like code ---------------------------

def _comment_block(rel: str, min_len: int = 300) -> str:
    """The first run of consecutive `#` comment lines in a file with at least min_len chars."""
    block: list[str] = []
    for line in (STDLIB / rel).read_text().splitlines():
        if line.lstrip().startswith("#"):
            block.append(line)
            if sum(map(len, block)) >= min_len:
                return "\n".join(block)
        else:
            block = []
    raise AssertionError(f"no comment block in {rel}")


def test_copied_docstring_prose_is_reported(index):
    _, idx = index
    doc = __import__("json").__doc__
    excerpt = doc[: doc.index(" ", 900)]  # ~900 characters of json's module docstring
    planted = f'def helper(x):\n    """{excerpt.strip()}\n    """\n    return x\n'
    top = check_found(attribute(planted, idx, language="python"), rel="json/__init__.py")
    assert top.length >= 600  # the prose, less its whitespace
    source = (STDLIB / "json/__init__.py").read_text()
    assert source[top.source_start:top.source_end].split() == planted[top.query_start:top.query_end].split()


def test_copied_comment_block_is_reported_and_whitespace_does_not_hide_it(index):
    _, idx = index
    block = _comment_block("heapq.py")
    words = block.replace("#", " ").split()
    rewrapped = "\n".join("    # " + " ".join(words[i:i + 7]) for i in range(0, len(words), 7))
    for planted in (f"x = 1\n{block}\ny = 2\n", rewrapped):
        matches = attribute(planted, idx, language="python")
        assert matches and matches[0].path == "heapq.py", planted[:80]


def test_short_or_unrelated_prose_is_not_reported(index):
    _, idx = index
    doc = __import__("json").__doc__
    assert attribute(f'"""{doc[:100]}"""\n', idx, language="python") == []
    prose = ("# This module schedules shifts for the warehouse team and keeps the roster in a\n"
             "# spreadsheet that the managers edit by hand every Monday morning before the\n"
             "# first delivery arrives; nobody should run it on public holidays or Sundays.\n")
    assert attribute(prose + UNRELATED, idx, language="python") == []
