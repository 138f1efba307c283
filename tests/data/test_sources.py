"""Reading sources: bad input is recorded with a reason and never stops a run.

    python -m pytest tests/data/test_sources.py -q
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import zipfile

import pytest

from codecommons.data.sources import check_source, open_source
from codecommons.licenses import is_license_source


def records(spec):
    return {f.path: f for repo in open_source(str(spec)) for f in repo.files()}


@pytest.fixture
def messy(tmp_path):
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "ok.py").write_text("def f():\n    return 1\n")
    (root / "pkg" / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (root / "pkg" / "latin1.py").write_bytes("café = 1\n".encode("latin-1"))
    (root / "pkg" / "big.py").write_text("x = 1\n" * 300_000)
    os.symlink(root / "pkg", root / "pkg" / "loop")  # a symlink loop
    (root / "secret.py").write_text("y = 2\n")
    os.chmod(root / "secret.py", 0)
    return root


def test_folder_bad_input_has_reasons(messy):
    recs = records(messy)
    assert recs["pkg/ok.py"].text.startswith("def f") and recs["pkg/ok.py"].reason is None
    assert recs["pkg/blob.bin"].reason == "binary"
    assert recs["pkg/latin1.py"].reason == "invalid_encoding"
    assert recs["pkg/big.py"].reason.startswith("too_large")
    assert recs["pkg/loop"].reason == "symlink"
    # root reads anything: only check the reason where the file is really unreadable
    if not os.access(messy / "secret.py", os.R_OK):
        assert recs["secret.py"].reason.startswith("unreadable")


def test_git_repo_lists_tracked_files_only(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "a.py").write_text("a = 1\n")
    (repo / "ignored.log").write_text("noise\n")
    (repo / ".gitignore").write_text("*.log\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    assert set(records(repo)) == {"a.py", ".gitignore"}


def test_archives_are_read_without_extracting(tmp_path):
    tgz = tmp_path / "src.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        data = b"print('hi')\n"
        info = tarfile.TarInfo("../../escape.py")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    recs = records(tgz)
    assert recs["../../escape.py"].text == "print('hi')\n"
    assert not (tmp_path.parent / "escape.py").exists()
    z = tmp_path / "src.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("m/x.js", "let x = 1;\n")
    assert records(z)["m/x.js"].text == "let x = 1;\n"


def test_broken_archive_is_a_reason_not_a_crash(tmp_path):
    bad = tmp_path / "broken.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    [rec] = records(bad).values()
    assert rec.reason.startswith("broken_archive")


def test_python_env_has_stdlib_and_distributions():
    repos = {r.name: r for r in open_source("python-env")}
    assert "python/cpython-stdlib" in repos and "pypi/pytest" in repos
    assert "License" in (repos["pypi/pytest"].metadata_text or "")
    stdlib = {f.path for f in repos["python/cpython-stdlib"].files()}
    assert "json/encoder.py" in stdlib and "LICENSE.txt" in stdlib


def test_python_env_selection():
    repos = [r.name for r in open_source("python-env:pypi/click,PYPI/h11")]
    assert sorted(r.lower() for r in repos) == ["pypi/click", "pypi/h11"]
    with pytest.raises(FileNotFoundError, match="pypi/no-such-dist"):
        check_source("python-env:pypi/click,pypi/no-such-dist")
    check_source("python-env:python/cpython-stdlib")


def test_unknown_source_says_what_is_accepted(tmp_path):
    with pytest.raises(FileNotFoundError, match="python-env"):
        check_source(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="python-env"):
        list(open_source(str(tmp_path / "missing")))


def test_licence_pass_sees_record_but_documents_do_not():
    """A distribution's RECORD says which packages its dist-info licence covers: the
    licence pass (a `select`) reads it, the documents never include it."""
    [repo] = open_source("python-env:pypi/h11")
    licence_pass = {f.path for f in repo.files(is_license_source)}
    assert any(p.endswith(".dist-info/RECORD") for p in licence_pass)
    assert any(p.endswith(".dist-info/METADATA") for p in licence_pass)
    assert not any(p.endswith("RECORD") for p in (f.path for f in repo.files()))
    assert repo.metadata_text and "Name: h11" in repo.metadata_text


def test_source_tree_pkg_info_is_its_metadata(tmp_path):
    root = tmp_path / "sdist"
    root.mkdir()
    (root / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: thing\nAuthor-email: a@b.org\n")
    (root / "thing.py").write_text("x = 1\n")
    [repo] = open_source(str(root))
    assert "Name: thing" in repo.metadata_text
    [plain] = open_source(str(tmp_path / "sdist" / ".."))  # a folder without one
    assert plain.metadata_text is None
