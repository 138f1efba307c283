"""`commons curate` finds a repository's licence however the repository states it:
REUSE (texts in LICENSES/, an SPDX-License-Identifier header in every file), an
UNLICENSE file, MIT-LICENSE, a PKG-INFO and nothing else; and a project shipping
CPython's licence text (its history names the GPL) is kept. Real licence texts
throughout: ScanCode's own copies (licensedcode/data/licenses/*.LICENSE), Debian's
common-licenses, CPython's LICENSE.txt.

    python -m pytest tests/data/test_licence_files.py -q
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from codecommons import dataset
from codecommons.data.pipeline import main
from tests.data.test_pipeline import excluded

CODE = "def {name}(values):\n    total = 0\n    for v in values:\n        total += v * {k}\n    return total\n"


def scancode_text(key: str) -> str:
    """A licence text as ScanCode ships it, without its YAML front matter."""
    import licensedcode

    raw = (Path(licensedcode.__file__).parent / "data" / "licenses" / f"{key}.LICENSE").read_text()
    return raw.split("---\n", 2)[2].lstrip()


def write(root: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return str(root)


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> tuple[dict, dict]:
    pytest.importorskip("licensedcode", reason="licence detection needs scancode-toolkit-mini")
    base = tmp_path_factory.mktemp("repos")
    gpl3 = Path("/usr/share/common-licenses/GPL-3")
    reuse = {
        "LICENSES/MIT.txt": scancode_text("mit"),
        "LICENSES/GPL-3.0-or-later.txt": gpl3.read_text() if gpl3.exists() else scancode_text("gpl-3.0-plus"),
        "src/mit_part.py": "# SPDX-FileCopyrightText: 2024 Jane Doe\n# SPDX-License-Identifier: MIT\n\n"
                           + CODE.format(name="mit_part", k=3),
        "src/gpl_part.py": "# SPDX-FileCopyrightText: 2024 Jane Doe\n"
                           "# SPDX-License-Identifier: GPL-3.0-or-later\n\n" + CODE.format(name="gpl_part", k=5),
        "src/untagged.py": CODE.format(name="untagged", k=7),  # both texts cover it: MIT AND GPL
    }
    sources = [
        write(base / "reuse-proj", reuse),
        write(base / "unlicense-proj", {"UNLICENSE": scancode_text("unlicense"),
                                        "lib.py": CODE.format(name="unl", k=11)}),
        write(base / "mitlicense-proj", {"MIT-LICENSE": scancode_text("mit"),
                                         "lib.py": CODE.format(name="mitl", k=13)}),
        write(base / "pkginfo-proj", {
            "PKG-INFO": "Metadata-Version: 2.1\nName: pkginfo-proj\nVersion: 1.0\n"
                        "Author-email: Jane Doe <jane@corp-mail.com>\n"
                        "Classifier: License :: OSI Approved :: BSD License\n",
            "pkginfo_proj/__init__.py": CODE.format(name="pkg", k=17)}),
        write(base / "psf-proj", {"LICENSE": (Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt").read_text(),
                                  "compat.py": CODE.format(name="compat", k=19)}),
    ]
    out = base / "out"
    assert main([*sources, "--out", str(out), "--no-progress"]) == 0
    rows = {(r["repo"], r["path"]): r for r in dataset.rows(out)}
    return rows, excluded(out)


@pytest.mark.parametrize("repo, path, licence", [
    ("reuse-proj", "src/mit_part.py", "MIT"),  # the file's own header decides
    ("unlicense-proj", "lib.py", "Unlicense"),
    ("mitlicense-proj", "lib.py", "MIT"),
    ("pkginfo-proj", "pkginfo_proj/__init__.py", "BSD-3-Clause"),
])
def test_licence_found_however_stated(curated, repo, path, licence):
    rows, _ = curated
    row = rows[(repo, path)]
    assert (row["license"], row["license_type"]) == (licence, "permissive")


def test_reuse_headers_and_folder(curated):
    rows, reasons = curated
    assert reasons[("reuse-proj", "src/gpl_part.py")] == "license_non_permissive"
    # no header: every text in LICENSES/ covers it, GPL included
    assert reasons[("reuse-proj", "src/untagged.py")] == "license_non_permissive"
    assert ("reuse-proj", "LICENSES/MIT.txt") not in rows


def test_psf_licence_text_is_kept(curated):
    rows, _ = curated
    row = rows[("psf-proj", "compat.py")]
    assert row["license_type"] == "permissive" and "Python-2.0" in row["license"]
    assert "GPL" not in row["license"]
