"""The dataset explorer's routes over a small curated dataset (two shards, row
groups, exclusions, a card), with and without a code index.

    python -m pytest tests/serve/test_routes_dataset.py -q
"""

from __future__ import annotations

import httpx
import pytest

from codecommons.serve.app import ServeOptions
from codecommons.serve.dataset_catalog import DatasetCatalog, glob_regex, query_form
from codecommons.serve.public_code import PublicCodePolicy
from tests.attribution.planted import STDLIB, function_source
from tests.serve.live import running_server
from tests.ui.data import AUTHOR, XSS, small_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("ui-dataset"))


@pytest.fixture(scope="module")
def url(gguf_engine, dataset):
    from codecommons.attribution.build import build

    index = dataset.parent / "index.sqlite"
    build(dataset, index, progress=False)
    policy = PublicCodePolicy.open(str(index), "annotate")
    with running_server(gguf_engine, ServeOptions(dataset=str(dataset), public_code=policy)) as u:
        yield u


def get(url, route, **params):
    r = httpx.get(url + route, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_summary_card_and_stats(url, dataset):
    d = get(url, "/v1/dataset")
    assert d["path"] == str(dataset) and d["files"] == 8 and d["repos"] == 3
    assert d["card"].startswith("---\n") and "# Curated code dataset" in d["card"]
    assert d["stats"]["licenses"]["MIT"]["files"] == 3 and d["stats"]["excluded"] == {"binary": 1, "license": 1}
    assert d["snippet_search"] and d["min_chars"] == 150


def test_repository_search_counts_kept_and_excluded(url):
    r = get(url, "/v1/dataset/repos", q="https://github.com/ACME/gadgets.git")
    assert r["total"] == 1
    (g,) = r["repos"]
    assert (g["repo"], g["files"], g["licenses"], g["excluded"]) == ("github.com/acme/gadgets", 1, ["BSD-3-Clause"], {"binary": 1})
    r = get(url, "/v1/dataset/repos", q="acme")
    assert [x["repo"] for x in r["repos"]] == ["acme-widgets", "github.com/acme/gadgets"]  # most files first
    assert get(url, "/v1/dataset/repos", q="nobody")["total"] == 0


def test_path_search_substring_and_glob(url):
    r = get(url, "/v1/dataset/files", path="DECODER")
    assert [f["path"] for f in r["files"]] == ["json/decoder.py"] and "content" not in r["files"][0]
    r = get(url, "/v1/dataset/files", path="json/*.py")
    assert [f["path"] for f in r["files"]] == ["json/decoder.py", "json/encoder.py"]
    r = get(url, "/v1/dataset/files", repo="acme-widgets", exact="true")
    assert r["total"] == 3 and r["files"][0]["path"].startswith("widgets/")
    r = get(url, "/v1/dataset/files", path=".py", limit=2, offset=2)
    assert r["total"] == 8 and len(r["files"]) == 2
    assert httpx.get(url + "/v1/dataset/files").status_code == 400


def test_file_view_reads_the_right_row_group(url):
    f = get(url, "/v1/dataset/file", repo="acme-widgets", path="widgets/secrets.py")
    assert f["content"].startswith("TOKEN = '<KEY>'") and f["redactions"] == {"email": 1, "key": 1}
    assert f["shard"] == "data/00001.parquet" and f["license"] == "MIT"
    f = get(url, "/v1/dataset/file", repo="github.com/acme/gadgets", path="gadgets/colors.py")
    assert f["content"] == (STDLIB / "colorsys.py").read_text()  # second row group
    f = get(url, "/v1/dataset/file", repo="acme-widgets", path=f"widgets/{XSS}.py")
    assert f["path"] == f"widgets/{XSS}.py"
    r = httpx.get(url + "/v1/dataset/file", params={"repo": "acme-widgets", "path": "nope.py"})
    assert r.status_code == 404 and "nope.py" in r.json()["error"]["message"]


def test_excluded_and_authors(url):
    r = get(url, "/v1/dataset/excluded", repo="acme")
    assert [(f["path"], f["reason"]) for f in r["files"]] == [
        ("vendor/gpl_thing.py", "license:GPL-3.0-only"), ("gadgets/data.bin", "binary")]
    r = get(url, "/v1/dataset/authors", q=AUTHOR.lower())
    assert r["total"] == 1 and r["scanned"] == 8 and r["files"][0]["path"] == "widgets/render.py"
    assert httpx.get(url + "/v1/dataset/authors", params={"q": "ab"}).status_code == 400


def test_snippet_search_through_the_index(url):
    code = function_source("textwrap.py", "dedent")
    r = httpx.post(url + "/v1/dataset/search/code", json={"input": code}).json()
    top = r["matches"][0]
    assert (top["repo"], top["path"], top["license"], top["in_dataset"]) == (
        "python/cpython-stdlib", "textwrap.py", "PSF-2.0", True)
    assert httpx.post(url + "/v1/dataset/search/code", json={"input": "x = 1\n"}).json()["matches"] == []


def test_without_dataset_or_index_the_routes_say_what_to_start(server):
    r = httpx.get(server + "/v1/dataset")
    assert r.status_code == 404 and "--dataset DIR" in r.json()["error"]["message"]
    r = httpx.post(server + "/v1/dataset/search/code", json={"input": "def f(): pass"})
    assert r.status_code == 404 and "--index INDEX" in r.json()["error"]["message"]


def test_catalog_helpers():
    assert query_form("git@github.com:Org/Repo.git") == "github.com/org/repo"
    assert query_form(" https://GitHub.com/org/repo/ ") == "github.com/org/repo"
    assert query_form("https://pypi.org/project/Foo_Bar/") == query_form("pypi/foo.bar") == "pypi/foo-bar"
    assert glob_regex("tests/*.py") == r"tests/.*\.py$"


def test_catalog_without_stats_json_computes_them(dataset, tmp_path):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    (copy / "stats.json").unlink()
    c = DatasetCatalog.open(copy)
    assert c.stats["kept_files"] == 8 and c.stats["excluded"] == {"binary": 1, "license": 1}
    assert c.stats["languages"]["Python"]["files"] == 8
