"""RepoIndex on a project written here and on a real standard-library package:
listing (.gitignore, skip reasons), incremental refresh, module names, import
resolution, BM25 search.

    python -m pytest tests/repocontext/test_index.py -q
"""

from __future__ import annotations

import os
import sysconfig
import time
from pathlib import Path

import pytest

from codecommons.repocontext.index import RepoIndex
from codecommons.repocontext.modules import ModuleRef, module_name
from codecommons.repocontext.lexical import code_tokens
from codecommons.repocontext.pydefs import Definition
from tests.repocontext.project import git_init, write_project


@pytest.fixture
def project(tmp_path) -> Path:
    return write_project(tmp_path / "proj")


def _bump(path: Path, text: str) -> None:
    """Write and move the mtime on, even on file systems with coarse timestamps."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_index_holds_every_source_file_with_chunks_and_definitions(project):
    index = RepoIndex(project)
    assert set(index.entries) == {"app.py", "shop/__init__.py", "shop/models.py", "shop/pricing.py",
                                  "shop/util/__init__.py", "shop/util/text.py", "shop/cart.py"}
    stats = index.stats()
    assert stats["chunks"] == len(index.chunks()) > 0 and stats["languages"] == {"python": 7}
    names = {d.qualname for d in index.entries["shop/models.py"].definitions}
    assert {"Product", "Product.discounted", "Warehouse", "Warehouse.receive", "Warehouse.ship"} <= names
    assert index.last_refresh.reread == sorted(index.entries)


def test_git_checkout_respects_gitignore_and_lists_untracked_files(project):
    git_init(project)
    (project / ".gitignore").write_text("generated/\n")
    write_project(project, {"generated/big.py": "X = 1\n", "new_module.py": "def fresh():\n    pass\n"})
    index = RepoIndex(project)
    assert "new_module.py" in index.entries  # untracked, not ignored: the user's new file
    assert not any(p.startswith("generated/") for p in index.entries)


def test_vendored_binary_huge_and_minified_files_are_skipped_with_a_reason(project):
    write_project(project, {"node_modules/lib/index.js": "module.exports = 1;\n",
                            "notes.txt": "plain text\n", "long.js": "var a=1;" * 400 + "\n"})
    (project / "blob.py").write_bytes(b"\x00\x01binary")
    (project / "huge.py").write_text("x = 1\n" * 200_000)
    index = RepoIndex(project)
    assert not {"node_modules/lib/index.js", "notes.txt", "long.js", "blob.py", "huge.py"} & set(index.entries)
    assert index.skipped == {"vendored folder": 1, "not source": 1, "minified": 1, "binary": 1,
                             "huge": 1}
    git_init(project)  # git lists the files; vendored ones are counted one by one
    assert RepoIndex(project).skipped["vendored"] == 1


def test_refresh_rereads_only_the_changed_file(project):
    index = RepoIndex(project)
    before = {p: e for p, e in index.entries.items()}
    _bump(project / "shop/pricing.py", (project / "shop/pricing.py").read_text()
          + "\n\ndef refund(cents: int) -> int:\n    return -cents\n")
    stats = index.refresh()
    assert stats.changed == ["shop/pricing.py"] and stats.added == [] and stats.removed == []
    assert stats.unchanged == len(before) - 1
    assert all(index.entries[p] is before[p] for p in before if p != "shop/pricing.py")
    assert index.resolve_name("shop/pricing.py", "refund").summary.startswith("def refund")


def test_a_touched_file_is_rehashed_but_not_parsed_again(project):
    index = RepoIndex(project)
    entry = index.entries["shop/models.py"]
    _bump(project / "shop/models.py", (project / "shop/models.py").read_text())
    stats = index.refresh()
    assert stats.reread == [] and stats.touched == 1
    assert index.entries["shop/models.py"].chunks is entry.chunks


def test_a_deleted_file_takes_its_chunks_and_definitions_with_it(project):
    index = RepoIndex(project)
    assert any(c.path == "shop/util/text.py" for c in index.chunks())
    (project / "shop/util/text.py").unlink()
    stats = index.refresh()
    assert stats.removed == ["shop/util/text.py"]
    assert not any(c.path == "shop/util/text.py" for c in index.chunks())
    assert index.definitions_named("slugify") == []
    assert index.search(code_tokens("slugify title sep"), k=5) == [] or all(
        c.path != "shop/util/text.py" for c, _ in index.search(code_tokens("slugify title"), k=5))


def test_refresh_of_named_paths_checks_only_those(project):
    index = RepoIndex(project)
    _bump(project / "shop/cart.py", "X = 1\n")
    _bump(project / "app.py", "Y = 2\n")
    stats = index.refresh(paths=[str(project / "shop/cart.py")])  # absolute paths work too
    assert stats.reread == ["shop/cart.py"]
    assert index.entries["app.py"].definitions[0].name == "main"  # not looked at yet
    write_project(project, {"added.py": "Z = 3\n"})
    assert index.refresh(paths=["added.py"]).added == ["added.py"]


def test_watch_picks_up_a_change_on_its_own(project):
    index = RepoIndex(project)
    stop = index.watch(interval_s=0.05)
    try:
        write_project(project, {"late.py": "def late_arrival():\n    pass\n"})
        deadline = time.time() + 10
        while "late.py" not in index.entries and time.time() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
    assert index.definitions_named("late_arrival")


# -- modules and imports --------------------------------------------------------------------


def test_module_names_follow_package_folders():
    packages = {"", "mime"}  # the project folder is a package (the standard library's email/)
    assert module_name("mime/text.py", packages, "email") == "email.mime.text"
    assert module_name("__init__.py", packages, "email") == "email"
    assert module_name("src/pkg/sub/mod.py", {"src/pkg", "src/pkg/sub"}, "repo") == "pkg.sub.mod"
    assert module_name("scripts/tool.py", {"src/pkg"}, "repo") == "tool"


def test_from_import_resolves_to_the_definition_in_another_file(project):
    index = RepoIndex(project)
    target = index.resolve_name("shop/cart.py", "Product")  # from .models import Product
    assert isinstance(target, Definition) and (target.path, target.kind) == ("shop/models.py", "class")


def test_re_exports_and_star_imports_are_followed(project):
    index = RepoIndex(project)
    # app.py: from shop import Product, total_with_tax; shop/__init__ re-exports both
    product = index.resolve_name("app.py", "Product")
    tax = index.resolve_name("app.py", "total_with_tax")
    assert product.path == "shop/models.py"
    assert (tax.path, tax.name) == ("shop/pricing.py", "total_with_tax")


def test_import_as_and_relative_imports_resolve_to_modules_and_names(project):
    index = RepoIndex(project)
    assert index.resolve_name("shop/cart.py", "text_utils") == ModuleRef("shop/util/text.py")
    assert index.resolve_name("shop/cart.py", "pricing") == ModuleRef("shop/pricing.py")  # from . import
    slug = index.resolve_name("shop/cart.py", "slug")  # from .util.text import slugify as slug
    assert (slug.path, slug.name) == ("shop/util/text.py", "slugify")
    assert index.module_path("shop.util.text") == "shop/util/text.py"
    assert index.module_path("util.text") == "shop/util/text.py"  # by the dotted path's tail


def test_src_layout_and_namespace_packages_resolve(tmp_path):
    root = write_project(tmp_path / "repo", {
        "src/pkg/__init__.py": "", "src/pkg/core.py": "def run(n: int) -> int:\n    return n\n",
        "ns/tools/helpers.py": "def assist():\n    pass\n",  # no __init__.py anywhere: PEP 420
        "tests/test_core.py": "from pkg.core import run\nimport ns.tools.helpers as h\n"})
    index = RepoIndex(root)
    assert index.resolve_name("tests/test_core.py", "run").path == "src/pkg/core.py"
    assert index.resolve_name("tests/test_core.py", "h") == ModuleRef("ns/tools/helpers.py")


def test_outline_lists_a_modules_public_signatures(project):
    index = RepoIndex(project)
    outline = index.outline("shop/models.py")
    assert outline.kind == "definition" and outline.path == "shop/models.py"
    assert "class Product: ..." in outline.text and "class Warehouse: ..." in outline.text
    assert "_audit" not in outline.text
    # a package's outline is what it re-exports: from-imports and star imports
    package = index.outline("shop/__init__.py").text
    assert "class Product: ..." in package
    assert "def total_with_tax(cents: int, rate: float = TAX_RATE) -> int: ..." in package


# -- search ---------------------------------------------------------------------------------


def test_search_finds_chunks_by_identifier_parts_and_excludes_paths(project):
    index = RepoIndex(project)
    hits = index.search(code_tokens("warehouse capacity receive"), k=3)
    assert hits and hits[0][0].path == "shop/models.py" and "capacity" in hits[0][0].text
    assert all(c.path != "shop/models.py"
               for c, _ in index.search(code_tokens("warehouse capacity"), k=5, exclude={"shop/models.py"}))
    # camelCase in the query meets snake_case in the code
    hits = index.search(code_tokens("totalWithTax rounding"), k=2)
    assert "shop/pricing.py" in {c.path for c, _ in hits}


# -- a real package ---------------------------------------------------------------------------


def test_real_standard_library_package():
    root = Path(sysconfig.get_paths()["stdlib"]) / "email"
    index = RepoIndex(root)
    assert index.stats()["files"] >= 15
    assert index.module_path("email.mime.text") == "mime/text.py"
    charset = index.resolve_name("message.py", "Charset")  # from email.charset import Charset
    assert isinstance(charset, Definition) and charset.path == "charset.py" and charset.kind == "class"
    assert "def __init__(self, input_charset=DEFAULT_CHARSET)" in charset.summary
    # `from email import utils` then `utils.` -> the module
    assert index.resolve_name("message.py", "utils") == ModuleRef("utils.py")


def test_empty_projects_and_unknown_words_find_nothing(tmp_path, project):
    small = RepoIndex(tmp_path / "proj" / "shop" / "util")  # an empty module and one function
    (tmp_path / "nothing").mkdir()
    assert RepoIndex(tmp_path / "nothing").search(code_tokens("slugify")) == []
    assert small.search(code_tokens("qqqq zzzz")) == [] and small.search([]) == []
    assert small.search(code_tokens("slugify"))[0][0].path == "text.py"
    with pytest.raises(FileNotFoundError, match="no such project folder"):
        RepoIndex(tmp_path / "missing")
