"""codecommons.pkginfo: one parser of METADATA / PKG-INFO headers, on a folded
licence field and on the real METADATA of installed distributions.

    python -m pytest tests/test_pkginfo.py -q
"""

from __future__ import annotations

import importlib.metadata as md

from codecommons.pkginfo import is_metadata_file, parse

FOLDED = """Metadata-Version: 2.1
Name: legacy-pkg
Version: 2.0
License: Copyright (c) 2020 Someone
        |
        |Permission is hereby granted, free of charge
Author: Jane Doe
Author-email: jane@example.org
Maintainer: Bob <bob@example.org>
Classifier: License ::  OSI Approved :: MIT License
Classifier: Programming Language :: Python
License-File: LICENSE
License-File: NOTICE

Long description mentioning eve@example.org
"""


def test_headers_unfolded_and_normalised():
    meta = parse(FOLDED)
    assert (meta.name, meta.version) == ("legacy-pkg", "2.0")
    assert meta.license == "Copyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge"
    assert meta.license_classifiers == ("License :: OSI Approved :: MIT License",)
    assert meta.license_files == ("LICENSE", "NOTICE")
    assert meta.author_emails == ["bob@example.org", "jane@example.org"]  # not the body's
    assert parse("Metadata-Version: 2.1\nName: x\nLicense: UNKNOWN\n").license == ""
    assert parse(None).name == "" and parse("").author_emails == []


def test_real_distributions_agree_with_importlib():
    for name in ("pyarrow", "pygments", "license-expression", "pytest"):
        dist = md.distribution(name)
        meta = parse(dist.read_text("METADATA"))
        assert meta.name == dist.metadata["Name"] and meta.version == dist.version
    assert parse(md.distribution("more-itertools").read_text("METADATA")).license_expression == "MIT"


def test_metadata_file_names():
    assert is_metadata_file("x-1.0.dist-info/METADATA") and is_metadata_file("PKG-INFO")
    assert is_metadata_file("src/x.egg-info/PKG-INFO")
    assert not is_metadata_file("METADATA") and not is_metadata_file("docs/METADATA.md")
