"""The permissive allow-list and SPDX expression classification.

    python -m pytest tests/licenses/test_allowlist.py -q
"""

from __future__ import annotations

import pytest

pytest.importorskip("license_expression", reason="codecommons.licenses needs license-expression")

from codecommons.licenses import (  # noqa: E402
    NEUTRAL_LICENSE_REFS,
    PERMISSIVE_LICENSES,
    classify,
    is_permissive_id,
)
from codecommons.licenses.allowlist import STACK_V1_PERMISSIVE, spdx_licensing  # noqa: E402


@pytest.mark.parametrize(
    "expr, expected",
    [
        # the cases the curation stage relies on
        ("MIT OR GPL-3.0", "permissive"),
        ("MIT AND GPL-3.0", "non_permissive"),
        ("LicenseRef-scancode-unknown", "non_permissive"),
        (None, "no_license"),
        ("", "no_license"),
        ("   ", "no_license"),
        # single ids
        ("MIT", "permissive"),
        ("Apache-2.0", "permissive"),
        ("BSD-3-Clause", "permissive"),
        ("Python-2.0", "permissive"),
        ("CC0-1.0", "permissive"),
        ("LicenseRef-scancode-public-domain", "permissive"),
        ("GPL-3.0-only", "non_permissive"),
        ("AGPL-3.0-or-later", "non_permissive"),
        ("CC-BY-SA-4.0", "non_permissive"),
        # weak copyleft: in The Stack v1.0, removed in v1.1
        ("MPL-2.0", "non_permissive"),
        ("EPL-1.0", "non_permissive"),
        ("LGPL-2.1-only", "non_permissive"),
        # case, aliases and deprecated ids
        ("mit", "permissive"),
        ("apache-2.0 or gpl-2.0+", "permissive"),
        ("GPL-2.0+", "non_permissive"),
        ("BSD-2-Clause-FreeBSD", "permissive"),  # deprecated alias of BSD-2-Clause-Views
        # nesting
        ("(MIT OR GPL-3.0-only) AND LGPL-2.1-only", "non_permissive"),
        ("(MIT OR GPL-3.0-only) AND (BSD-3-Clause OR AGPL-3.0-only)", "permissive"),
        ("GPL-2.0-only OR (MPL-2.0 AND MIT)", "non_permissive"),
        # WITH: an exception only adds permissions, the base licence decides
        ("Apache-2.0 WITH LLVM-exception", "permissive"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "non_permissive"),
        ("GPL-3.0-or-later WITH GCC-exception-3.1 OR MIT", "permissive"),
        # unknown and LicenseRef-* ids
        ("LicenseRef-scancode-proprietary-license", "non_permissive"),
        ("LicenseRef-my-company", "non_permissive"),
        ("MIT AND LicenseRef-scancode-unknown", "non_permissive"),
        ("NotALicense", "non_permissive"),
        # not an expression at all
        ("MIT License", "non_permissive"),
        ("(MIT", "non_permissive"),
        # SPDX special values
        ("NOASSERTION", "no_license"),
        ("NONE", "no_license"),
    ],
)
def test_classify(expr, expected):
    assert classify(expr) == expected


@pytest.mark.parametrize(
    "expr, expected",
    [
        # The Stack v2: CLAs, disclaimers, trademark notices do not change the type
        ("MIT AND LicenseRef-scancode-warranty-disclaimer", "permissive"),
        ("Apache-2.0 AND LicenseRef-scancode-generic-cla", "permissive"),
        ("GPL-3.0-only AND LicenseRef-scancode-generic-trademark", "non_permissive"),
        ("LicenseRef-scancode-generic-cla", "no_license"),
        ("LicenseRef-scancode-dco-1.1 AND LicenseRef-scancode-warranty-disclaimer", "no_license"),
        # "see LICENSE" pointers: dropped next to a permissive licence only
        ("MIT AND LicenseRef-scancode-unknown-license-reference", "permissive"),
        ("LicenseRef-scancode-unknown-license-reference", "non_permissive"),
        ("GPL-3.0-only AND LicenseRef-scancode-unknown-license-reference", "non_permissive"),
    ],
)
def test_neutral_notices_and_references(expr, expected):
    assert classify(expr) == expected


def test_allow_list_ids_are_spdx():
    lic = spdx_licensing()
    for key in PERMISSIVE_LICENSES:
        parsed = lic.parse(key, validate=False)
        assert str(parsed) == key, (key, str(parsed))  # canonical spelling
        if not key.startswith("LicenseRef-"):
            assert not lic.unknown_license_keys(parsed), key


def test_allow_list_contents():
    # The Stack v1.0's list minus the weak copyleft v1.1 removed
    assert STACK_V1_PERMISSIVE <= PERMISSIVE_LICENSES
    for weak in ("MPL-2.0", "MPL-2.0-no-copyleft-exception", "EPL-1.0", "LGPL-2.1-or-later", "LGPL-3.0-or-later"):
        assert weak not in PERMISSIVE_LICENSES
    for key in ("MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Apache-2.0", "ISC", "Zlib",
                "BSL-1.0", "PSF-2.0", "Python-2.0", "CNRI-Python", "Unlicense", "CC0-1.0", "WTFPL",
                "X11", "NCSA", "Artistic-2.0"):
        assert key in PERMISSIVE_LICENSES, key
        assert classify(key) == "permissive"
    assert not PERMISSIVE_LICENSES & NEUTRAL_LICENSE_REFS


def test_is_permissive_id():
    assert is_permissive_id("MIT")
    assert is_permissive_id("wtfpl")
    assert not is_permissive_id("GPL-2.0+")
    assert not is_permissive_id("LicenseRef-scancode-generic-cla")
