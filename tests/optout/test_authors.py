"""Which emails a file attributes authorship to (codecommons.optout.authors), and
the authors of package metadata.

    python -m pytest tests/optout/test_authors.py -q
"""

from __future__ import annotations

import importlib.metadata as md
import time

import pytest

from codecommons.optout.authors import attributed_emails, metadata_authors

JANE = {"jane@example.org"}


@pytest.mark.parametrize("text", [
    "# Copyright (c) 2021 Jane Doe <Jane@Example.org>\nimport os\n",
    "/*\n * Copyright 2019 Jane Doe (jane@example.org)\n */\nint main() {}\n",
    '__author__ = "Jane Doe"\n__email__ = "jane@example.org"\n',
    "/**\n * @author jane@example.org\n */\nclass A {}\n",
    "# Author: Jane Doe, jane@example.org\n",
    "# Authors:\n#   Bob Roe <bob@example.org>\n#   Jane Doe   jane@example.org\n\nx = 1\n",
    'setup(name="x", author_email="jane@example.org")\n',
    "# Written by Jane Doe, jane at example dot org\n",
    "# Copyright 2020 ...jane@example.org\n",  # an ellipsis before the address
    "Jane Doe <jane@example.org>\nBob <bob@example.org>\n",  # an AUTHORS file
])
def test_attributed(text):
    assert attributed_emails(text, JANE) == JANE
    assert "jane@example.org" in attributed_emails(text)


@pytest.mark.parametrize("text", [
    "# Copyright (c) 2021 Bob Roe <bob@example.org>\nx = 1\n",  # someone else
    'DEFAULT_USER = "jane@example.org"  # a value, not an attribution\n',
    "# Copyright 2020 Jane Doe\n\nimport os\nSUPPORT = 'jane@example.org'\n",  # code, not a list
    "# Copyright 2021 Jane Doe\n",  # a name alone is not matched
    "",
])
def test_not_attributed(text):
    assert attributed_emails(text, JANE) == set()


def test_metadata_authors():
    meta = ("Metadata-Version: 2.1\nName: foo\nAuthor: Bob\n"
            "Author-email: Jane Doe <jane@example.org>, Bob <bob@x.org>\n"
            "Maintainer-email: carol@y.org\n\nLong description with eve@z.org\n")
    assert metadata_authors(meta) == ["bob@x.org", "carol@y.org", "jane@example.org"]
    assert metadata_authors(None) == []
    # real distributions' METADATA: names and addresses in one Author-email field
    urllib3 = metadata_authors(md.distribution("urllib3").read_text("METADATA"))
    assert "andrey.petrov@shazow.net" in urllib3 and len(urllib3) > 1  # and its maintainers
    assert metadata_authors(md.distribution("tokenizers").read_text("METADATA")) == [
        "anthony@huggingface.co", "patry.nicolas@protonmail.com"]


def test_long_unbroken_text_is_fast():
    text = "A" * 2_000_000 + "@" + "b" * 300 + ".com " + "x@y" * 100_000
    t0 = time.perf_counter()
    assert attributed_emails(text, JANE) == set()
    assert time.perf_counter() - t0 < 2
