"""Licence texts are classified by what they grant, not by every licence they name
(codecommons.licenses.grants), on real texts: CPython's LICENSE with its history of
the software, the same text in typing_extensions and pandas, numpy's dual-licensed
random module, cryptography's choice between two licence files; and sentences
around real licence names, checked both ways (a mention is dropped, a grant next to
a mention is kept).

    python -m pytest tests/licenses/test_grants.py -q
"""

from __future__ import annotations

import importlib.metadata as md
import sysconfig
from pathlib import Path

import pytest

pytest.importorskip("licensedcode", reason="licence detection needs scancode-toolkit-mini")

from codecommons.licenses import classify, detect_text, load_index, scope_licenses  # noqa: E402

COMMON = Path("/usr/share/common-licenses")
STDLIB_LICENSE = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"


@pytest.fixture(scope="module", autouse=True)
def scancode_index():
    return load_index()


def dist_file(dist: str, suffix: str) -> Path:
    try:
        files = md.distribution(dist).files or []
    except md.PackageNotFoundError:
        pytest.skip(f"{dist} is not installed")
    for f in files:
        if str(f).endswith(suffix):
            return Path(f.locate())
    pytest.skip(f"{dist} has no {suffix}")


def scancode_alone(text: str) -> str | None:
    """What ScanCode itself reports (its detections ANDed): the reading the rules correct."""
    from licensedcode.detection import detect_licenses

    from codecommons.licenses.grants import scancode_expression

    return scancode_expression(list(detect_licenses(query_string=text)))


@pytest.mark.parametrize("path", [
    lambda: STDLIB_LICENSE,
    lambda: dist_file("typing_extensions", "licenses/LICENSE"),
    lambda: dist_file("pandas", "LICENSES/PSF_LICENSE"),
], ids=["cpython-stdlib", "typing_extensions", "pandas-PSF_LICENSE"])
def test_psf_licence_with_its_history_is_permissive(path):
    p = path()
    if not p.exists():
        pytest.skip(f"{p} is not here")
    text = p.read_text()
    assert "HISTORY OF THE SOFTWARE" in text and "GPL-compatible" in text
    assert "GPL-1.0-or-later" in scancode_alone(text)  # ScanCode reads the history as GPL
    expr = detect_text(text)
    assert "Python-2.0" in expr and "GPL" not in expr
    # the 0BSD text for the documentation's examples, under its title (not "BSD-3-Clause")
    assert "0BSD" in expr and "BSD-3-Clause" not in expr
    assert classify(expr) == "permissive"


def test_dual_licence_statement_is_an_or():
    text = dist_file("numpy", "licenses/numpy/random/LICENSE.md").read_text()
    assert text.startswith("**This software is dual-licensed under")
    assert scancode_alone(text) == "NCSA AND BSD-3-Clause"
    assert detect_text(text) == "BSD-3-Clause OR NCSA"  # both full texts are the alternatives


def test_choice_between_licence_files_of_a_folder():
    """cryptography's LICENSE offers LICENSE.APACHE or LICENSE.BSD: the two texts
    beside it are its alternatives, not two licences that both apply."""
    files = {name: dist_file("cryptography", f"licenses/{name}").read_text()
             for name in ("LICENSE", "LICENSE.APACHE", "LICENSE.BSD")}
    assert scope_licenses(files) == {"": "BSD-3-Clause OR Apache-2.0"}


@pytest.mark.skipif(not COMMON.is_dir(), reason="needs Debian's /usr/share/common-licenses")
def test_choice_between_mit_and_gpl_files():
    """LICENSE-MIT and COPYING (GPL-3) side by side are both in force (AND); with a
    README that offers the choice, the project is MIT OR GPL-3.0."""
    mit = dist_file("more-itertools", "LICENSE").read_text()
    files = {"LICENSE-MIT": mit, "COPYING": (COMMON / "GPL-3").read_text(), "src/a.py": ""}
    assert classify(scope_licenses(files)[""]) == "non_permissive"
    files["README.md"] = ("# tool\n\nThis project is dual-licensed under the MIT license and the GNU "
                          "General Public License version 3; you may choose either.\n")
    scoped = scope_licenses(files)
    assert scoped[""] in ("GPL-3.0-only OR MIT", "MIT OR GPL-3.0-only")
    assert classify(scoped[""]) == "permissive"


@pytest.mark.parametrize("text, expr", [
    ("This library is licensed under the MIT license, which is compatible with the GPL.", "MIT"),
    ("This library is licensed under the Apache License 2.0. Unlike the GPL, it does not require "
     "you to publish your changes.", "Apache-2.0"),
    ("Licensed under the MIT license. GPL-compatible.", "MIT"),
    ("This project is dual-licensed under the MIT license and the GNU General Public License "
     "version 3; you may choose either.", "GPL-3.0-only OR MIT"),
])
def test_mentions_dropped_choices_joined(text, expr):
    assert detect_text(text) == expr


@pytest.mark.parametrize("text", [
    # the grant is the GPL; the MIT licence is the one being compared
    "This software is released under the GPL. It is compatible with the MIT license.",
    # a licence named with no comparison stays, whatever else the text says
    "This library is licensed under the MIT license. The parser in parser/ is released under the GPL.",
])
def test_grants_next_to_mentions_are_kept(text):
    expr = detect_text(text)
    assert "GPL" in expr and classify(expr) == "non_permissive"
