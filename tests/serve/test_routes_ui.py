"""The web UI's static files at /ui: served from the package, with a
Content-Security-Policy, without the API key, while every JSON route keeps it.

    python -m pytest tests/serve/test_routes_ui.py -q
"""

from __future__ import annotations

import gzip
import re

import httpx
import pytest

from codecommons.serve.app import ServeOptions
from codecommons.serve.routes_ui import config_problems, load_static
from tests.serve.live import running_server


@pytest.fixture(scope="module")
def keyed(gguf_engine):
    with running_server(gguf_engine, ServeOptions(api_key="sesame")) as url:
        yield url


def test_root_redirects_to_the_ui(server):
    r = httpx.get(server + "/")
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    r = httpx.get(server + "/ui", follow_redirects=True)
    assert r.status_code == 200 and str(r.url).endswith("/ui/")


def test_page_is_static_same_origin_and_locked_down(server):
    r = httpx.get(server + "/ui/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    # one bundle, one stylesheet, nothing inline, nothing from another site
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == ["app.js"]
    assert "<style" not in html and " style=" not in html and not re.search(r"<script[^>]*>[^<]", html)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    js = httpx.get(server + "/ui/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert not re.search(r"https?://(cdn|unpkg|fonts\.)", js.text)
    assert httpx.get(server + "/ui/app.css").headers["content-type"].startswith("text/css")


def test_files_are_compressed_and_revalidated(server):
    raw = httpx.get(server + "/ui/app.js", headers={"Accept-Encoding": "identity"})
    zipped = httpx.get(server + "/ui/app.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(raw.content) / 2
    assert zipped.content == raw.content  # httpx decodes it
    again = httpx.get(server + "/ui/app.js", headers={"If-None-Match": raw.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_unknown_file_is_404(server):
    assert httpx.get(server + "/ui/nope.js").status_code == 404
    assert httpx.get(server + "/ui/..%2Fapp.py").status_code == 404


def test_static_files_need_no_key_but_the_api_does(keyed):
    assert httpx.get(keyed + "/ui/").status_code == 200
    assert httpx.get(keyed + "/ui/app.js").status_code == 200
    assert httpx.get(keyed + "/").status_code == 307
    r = httpx.get(keyed + "/v1/status")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert httpx.get(keyed + "/v1/status", headers={"Authorization": "Bearer sesame"}).json()["api_key"]
    # POST / is TGI's generate route: opening GET / must not open it
    assert httpx.post(keyed + "/", json={"inputs": "x"}).status_code == 401


def test_the_shipped_files_are_the_built_ones():
    files = load_static()
    assert {"index.html", "app.js", "app.css", "icon.svg", "third-party-licenses.txt"} <= set(files)
    assert gzip.decompress(files["app.js"].gzipped) == files["app.js"].body
    assert b"markdown-it" in files["third-party-licenses.txt"].body


def test_config_problems_name_the_flag(tmp_path):
    (tmp_path / "data").mkdir()
    assert "--dataset" in config_problems(str(tmp_path), "")[0]
    (tmp_path / "data" / "00000.parquet").write_text("not parquet")
    assert "not readable Parquet" in config_problems(str(tmp_path), "")[0]
    assert "--reports" in config_problems("", str(tmp_path / "missing"))[0]
    assert config_problems("", str(tmp_path)) == []
