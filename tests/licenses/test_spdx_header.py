"""A file's own licence from its SPDX-License-Identifier header (REUSE).

    python -m pytest tests/licenses/test_spdx_header.py -q
"""

from __future__ import annotations

import pytest

from codecommons.licenses import file_license


@pytest.mark.parametrize("text, expr", [
    ("# SPDX-FileCopyrightText: 2024 Jane\n# SPDX-License-Identifier: MIT\nimport os\n", "MIT"),
    ("/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */\n#include <x.h>\n",
     "GPL-2.0-only WITH Linux-syscall-note"),
    ("// SPDX-License-Identifier: MIT OR Apache-2.0\n// SPDX-License-Identifier: BSD-3-Clause\n",
     "(MIT OR Apache-2.0) AND BSD-3-Clause"),  # REUSE: each tag applies
    ("<!-- SPDX-License-Identifier: CC0-1.0 -->\n<p>hi</p>\n", "CC0-1.0"),
    ('"""\nSPDX-License-Identifier: Apache-2.0\n"""\n', "Apache-2.0"),
])
def test_header_tags(text, expr):
    assert file_license(text) == expr


@pytest.mark.parametrize("text", [
    'TAG = "SPDX-License-Identifier: MIT"\n',  # a string, not a comment
    "# SPDX-License-Identifier:\n",  # empty
    "\n" * 5000 + "# SPDX-License-Identifier: MIT\n",  # past the header
    "x = 1\n",
    None,
])
def test_not_a_header_tag(text):
    assert file_license(text) is None
