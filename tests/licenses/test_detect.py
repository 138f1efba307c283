"""ScanCode licence detection and directory scoping, on real licence texts:
Debian's /usr/share/common-licenses and the licence files of installed Python
distributions (scancode-toolkit's own dependencies, so they are present wherever
ScanCode is).

One ScanCode index load per session (~5-7 s, ~1.4 GB), shared by every test.

    python -m pytest tests/licenses/test_detect.py -q
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("licensedcode", reason="licence detection needs scancode-toolkit-mini")

from codecommons.licenses import (  # noqa: E402
    PERMISSIVE_LICENSES,
    classify,
    detect_file,
    detect_text,
    from_package_metadata,
    is_license_file,
    license_for,
    load_index,
    read_license_files,
    scope_licenses,
    scope_tree,
)

COMMON = Path("/usr/share/common-licenses")
needs_debian = pytest.mark.skipif(not COMMON.is_dir(), reason="needs Debian's /usr/share/common-licenses")


def debian(name: str) -> str:
    return (COMMON / name).read_text()


def dist_file(dist: str, name: str) -> Path:
    """A file of an installed distribution's dist-info (e.g. its LICENSE)."""
    d = md.distribution(dist)
    for f in d.files or []:
        if ".dist-info" in str(f) and f.name == name:
            return Path(f.locate())
    raise FileNotFoundError(f"{dist} has no {name}")


def mit_text() -> str:
    return dist_file("more-itertools", "LICENSE").read_text()


@pytest.fixture(scope="session", autouse=True)
def scancode_index():
    """Load ScanCode's licence index once for the whole session."""
    return load_index()


def test_import_does_not_load_scancode():
    code = (
        "import sys, codecommons.licenses as L\n"
        "assert not L.index_loaded()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('licensedcode', 'scancode', 'typecode')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_index_is_loaded_once():
    from licensedcode import cache

    first = cache.get_cache()
    assert load_index() == 0.0
    detect_text("Licensed under the Apache License 2.0")
    assert cache.get_cache() is first


# -- single files ------------------------------------------------------------------


@needs_debian
@pytest.mark.parametrize(
    "name, spdx, cls",
    [
        ("Apache-2.0", "Apache-2.0", "permissive"),
        ("GPL-3", "GPL-3.0-only", "non_permissive"),
        ("GPL-2", "GPL-2.0-only", "non_permissive"),
        ("LGPL-2.1", "LGPL-2.1-only", "non_permissive"),
        ("BSD", "BSD-3-Clause", "permissive"),
        ("MPL-2.0", "MPL-2.0", "non_permissive"),
        ("Artistic", "Artistic-1.0-Perl", "non_permissive"),
        ("CC0-1.0", "CC0-1.0", "permissive"),
    ],
)
def test_debian_common_licenses(name, spdx, cls):
    expr = detect_file(COMMON / name)
    assert expr == spdx
    assert classify(expr) == cls


@pytest.mark.parametrize(
    "dist, name, spdx, cls",
    [
        ("more-itertools", "LICENSE", "MIT", "permissive"),
        ("boolean.py", "LICENSE.txt", "BSD-2-Clause", "permissive"),
        ("license-expression", "apache-2.0.LICENSE", "Apache-2.0", "permissive"),
        ("intbitset", "LICENSE", "LGPL-3.0-only", "non_permissive"),
        # tqdm's LICENCE: MIT for some files, MPL-2.0 for the rest -> both, with AND
        ("tqdm", "LICENCE", "MIT AND MPL-2.0", "non_permissive"),
    ],
)
def test_dist_info_license_files(dist, name, spdx, cls):
    expr = detect_file(dist_file(dist, name))
    assert expr == spdx
    assert classify(expr) == cls


def test_detect_file_accepts_path_str_and_text():
    p = dist_file("boolean.py", "LICENSE.txt")
    assert detect_file(p) == detect_file(str(p)) == detect_file(p.read_text()) == "BSD-2-Clause"


def test_dual_licence_statement_is_one_or_detection():
    assert detect_text("SPDX-License-Identifier: MIT OR Apache-2.0") == "MIT OR Apache-2.0"
    assert classify("MIT OR Apache-2.0") == "permissive"


def test_readme_licence_section():
    readme = (
        "# fastgrep\n\nA faster grep for large monorepos.\n\n## Install\n\n    pip install fastgrep\n\n"
        "## License\n\nLicensed under the Apache License 2.0. See LICENSE for details.\n"
    )
    expr = detect_text(readme)
    assert expr is not None and classify(expr) == "permissive"
    assert "Apache-2.0" in expr


def test_no_licence_in_text():
    assert detect_text("# notes\n\nNothing to see here, just build instructions.\n") is None
    assert detect_text("Copyright 2020 Example Corp.") is None
    assert detect_text("") is None


# -- Python package metadata -----------------------------------------------------


def test_metadata_classifiers_are_mapped():
    meta = (
        "Metadata-Version: 2.1\nName: example\nVersion: 1.0\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Classifier: Operating System :: OS Independent\n\nlong description\n"
    )
    assert from_package_metadata(meta) == "MIT"
    both = "Metadata-Version: 2.1\nName: x\nClassifier: License :: OSI Approved :: Apache Software License\n" \
           "Classifier: License :: OSI Approved :: BSD License\n"
    assert from_package_metadata(both) == "Apache-2.0 AND BSD-3-Clause"
    gpl = "Metadata-Version: 2.1\nName: x\nClassifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)\n"
    assert classify(from_package_metadata(gpl)) == "non_permissive"
    # a classifier outside the table goes through ScanCode
    zope = "Metadata-Version: 2.1\nName: x\nClassifier: License :: OSI Approved :: Zope Public License\n"
    assert from_package_metadata(zope) == "ZPL-2.1"


def test_metadata_precedence():
    # License-Expression (PEP 639) wins over classifiers
    meta = (
        "Metadata-Version: 2.4\nName: x\nLicense-Expression: MIT OR Apache-2.0\n"
        "Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)\n"
    )
    assert from_package_metadata(meta) == "MIT OR Apache-2.0"
    # the License field as free text goes through ScanCode
    assert from_package_metadata("Metadata-Version: 2.1\nName: x\nLicense: MIT License\n") == "MIT"
    assert from_package_metadata("Metadata-Version: 2.1\nName: x\nLicense: UNKNOWN\n") is None
    assert from_package_metadata("Metadata-Version: 2.1\nName: x\n") is None


@pytest.mark.parametrize(
    "dist, spdx",
    [
        ("more-itertools", "MIT"),  # License-Expression
        ("boolean.py", "BSD-2-Clause"),  # License: an SPDX id
        ("intbitset", "LGPL-3.0-or-later"),
        ("tqdm", "MPL-2.0 AND MIT"),
    ],
)
def test_installed_metadata(dist, spdx):
    assert from_package_metadata(md.distribution(dist).read_text("METADATA")) == spdx


# -- which files are licence files -------------------------------------------------


@pytest.mark.parametrize(
    "path, yes",
    [
        ("LICENSE", True),
        ("LICENSE.txt", True),
        ("licence.md", True),
        ("COPYING.LESSER", True),
        ("NOTICE", True),
        ("COPYRIGHT", True),
        ("README.md", True),
        ("docs/readme.rst", True),
        ("MIT-LICENSE", True),
        ("vendor/apache-2.0.LICENSE", True),
        ("THIRD_PARTY_LICENSES", True),
        ("LICENSES/GPL-3.0-or-later.txt", True),
        ("src/license.py", False),
        ("src/codecommons/licenses/allowlist.py", False),
        ("pkg/licenses.json", False),
        ("main.c", False),
        ("README.py", False),
    ],
)
def test_is_license_file(path, yes):
    assert is_license_file(path) is yes


# -- directory scoping -----------------------------------------------------------


@needs_debian
def test_scoping_on_a_tree(tmp_path):
    root = tmp_path / "repo"
    files = {
        "LICENSE": mit_text(),
        "README.md": "# demo\n\nA demo project.\n",
        "src/app.py": "print('hi')\n",
        "vendor/gplthing/COPYING": debian("GPL-3"),
        "vendor/gplthing/thing.c": "int main(void) { return 0; }\n",
        "vendor/gplthing/sub/deeper/util.c": "int f(void) { return 1; }\n",
        "docs/README.md": "# Docs\n\nThe documentation is licensed under the Apache License 2.0.\n",
        "docs/guide.md": "how to\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)

    read = read_license_files(root)
    assert set(read) == {"LICENSE", "README.md", "vendor/gplthing/COPYING", "docs/README.md"}
    scoped = scope_tree(root)
    assert scoped[""] == "MIT"
    assert scoped["vendor/gplthing"] == "GPL-3.0-only"
    assert "Apache-2.0" in scoped["docs"]

    assert license_for("src/app.py", scoped) == "MIT"
    assert license_for("LICENSE", scoped) == "MIT"
    assert license_for("vendor/gplthing/thing.c", scoped) == "GPL-3.0-only"
    assert license_for("vendor/gplthing/sub/deeper/util.c", scoped) == "GPL-3.0-only"
    assert classify(license_for("src/app.py", scoped)) == "permissive"
    assert classify(license_for("vendor/gplthing/sub/deeper/util.c", scoped)) == "non_permissive"
    assert classify(license_for("docs/guide.md", scoped)) == "permissive"
    # The Stack v2's stricter reading: every licence from the file up to the root
    assert classify(license_for("vendor/gplthing/sub/deeper/util.c", scoped, accumulate=True)) == "non_permissive"
    assert classify(license_for("src/app.py", scoped, accumulate=True)) == "permissive"


@needs_debian
def test_deeper_licence_overrides_root():
    files = {
        "COPYING": debian("GPL-3"),
        "src/x.c": "",
        "third_party/lib/LICENSE": mit_text(),
        "third_party/lib/a/b.c": "",
    }
    scoped = scope_licenses(files)
    assert classify(license_for("src/x.c", scoped)) == "non_permissive"
    assert license_for("third_party/lib/a/b.c", scoped) == "MIT"
    assert classify(license_for("third_party/lib/a/b.c", scoped)) == "permissive"
    assert classify(license_for("third_party/lib/a/b.c", scoped, accumulate=True)) == "non_permissive"


def test_no_licence_file_means_no_license():
    scoped = scope_licenses({"main.py": "print(1)\n", "README.md": "# tool\n\nUsage: run it.\n"})
    assert scoped == {}
    assert license_for("main.py", scoped) is None
    assert classify(license_for("main.py", scoped)) == "no_license"


def test_several_licence_files_in_one_folder_are_anded():
    files = {
        "LICENSE-MIT": mit_text(),
        "LICENSE-APACHE": dist_file("license-expression", "apache-2.0.LICENSE").read_text(),
        "src/lib.rs": "",
    }
    scoped = scope_licenses(files)
    assert scoped[""] in ("MIT AND Apache-2.0", "Apache-2.0 AND MIT")
    assert classify(license_for("src/lib.rs", scoped)) == "permissive"


def test_reuse_licenses_folder_covers_its_parent():
    scoped = scope_licenses({"LICENSES/MIT.txt": mit_text(), "src/a.py": ""})
    assert scoped == {"": "MIT"}
    assert license_for("src/a.py", scoped) == "MIT"


def test_dist_info_covers_its_packages():
    meta = "Metadata-Version: 2.1\nName: six\nVersion: 1.17.0\nClassifier: License :: OSI Approved :: MIT License\n"
    record = (
        "six.py,sha256=abc,1000\n"
        "six-1.17.0.dist-info/METADATA,sha256=def,200\n"
        "six-1.17.0.dist-info/RECORD,,\n"
        "pkg/__init__.py,sha256=ghi,10\n"
        "pkg/sub/mod.py,sha256=jkl,10\n"
        "../../bin/six-tool,sha256=mno,10\n"
    )
    files = {
        "six-1.17.0.dist-info/METADATA": meta,
        "six-1.17.0.dist-info/RECORD": record,
        "six.py": "",
        "pkg/sub/mod.py": "",
        "other/x.py": "",
    }
    scoped = scope_licenses(files)
    assert license_for("six.py", scoped) == "MIT"
    assert license_for("pkg/sub/mod.py", scoped) == "MIT"
    assert license_for("other/x.py", scoped) is None


def test_allow_list_agrees_with_scancode_categories():
    """Every allow-listed id is "Permissive" or "Public Domain" in ScanCode's
    LicenseDB (The Stack v1.1/v2 criterion), except the two The Stack's v1.0
    list admits although ScanCode files them elsewhere."""
    from licensedcode.cache import get_licenses_db

    by_spdx = {}
    for lic in get_licenses_db().values():
        for key in [lic.spdx_license_key, *(lic.other_spdx_license_keys or [])]:
            if key:
                by_spdx.setdefault(key.lower(), lic.category)
    stack_only = {"Artistic-2.0", "BSD-3-Clause-No-Nuclear-License-2014"}
    for key in PERMISSIVE_LICENSES:
        cat = by_spdx.get(key.lower())
        assert cat is not None, f"{key} unknown to ScanCode"
        if key not in stack_only:
            assert cat in ("Permissive", "Public Domain"), (key, cat)
