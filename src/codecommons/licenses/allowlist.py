"""The permissive-licence allow-list and `classify(spdx_expression)`.

What "permissive" means here follows BigCode's The Stack:

* The Stack v1.0 (Kocetkov et al. 2022, "The Stack: 3 TB of permissively
  licensed source code", arXiv:2211.15533) kept files whose repository licence
  was one of: MIT-0, MIT, MIT-feh, Apache-2.0, BSD-3-Clause, BSD-3-Clause-Clear,
  BSD-3-Clause-No-Nuclear-License-2014, BSD-2-Clause, CC0-1.0, EPL-1.0, MPL-2.0,
  Unlicense, ISC, Artistic-2.0, deprecated_LGPL-3.0+, deprecated_LGPL-2.1+,
  ECL-2.0, SHL-0.51, MPL-2.0-no-copyleft-exception.
* The Stack v1.1 (dataset card changelog, huggingface.co/datasets/bigcode/the-stack)
  dropped the three weak-copyleft families (MPL, EPL, LGPL) from that list and
  extended it to 193 licences; for v1.1 and The Stack v2 (Lozhkov et al. 2024,
  arXiv:2402.19173, and bigcode-project/the-stack-v2's
  `the_stack/3_file_dataset/get_license_types.py`) a licence counts as
  permissive when the Blue Oak Council lists it as permissive or ScanCode's
  LicenseDB puts it in the "Permissive" or "Public Domain" category.

`PERMISSIVE_LICENSES` is therefore The Stack v1.0 list without MPL/EPL/LGPL,
plus a reviewed set of common licences that ScanCode's LicenseDB (shipped with
scancode-toolkit 32.5.0) files as Permissive or Public Domain. It is a closed
list on purpose: a licence not on it is non-permissive until someone adds it
here. Two entries come from The Stack's list although ScanCode files them
elsewhere: Artistic-2.0 ("Copyleft Limited") and
BSD-3-Clause-No-Nuclear-License-2014 ("Free Restricted");
tests/licenses/test_detect.py checks every other entry against ScanCode's
categories.

`NEUTRAL_LICENSE_REFS` are The Stack v2's "amendments to licenses that don't
affect the license type" (contributor agreements, warranty disclaimers,
trademark and export notices): they are ignored inside an expression. As in
The Stack v2, `LicenseRef-scancode-unknown-license-reference` (a "see the
LICENSE file" pointer) is dropped from an AND when a permissive licence is also
named, and is non-permissive on its own.

This module needs only the `license-expression` package (imported on first
use); it never loads ScanCode.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

LicenseClass = Literal["permissive", "no_license", "non_permissive"]
PERMISSIVE: LicenseClass = "permissive"
NO_LICENSE: LicenseClass = "no_license"
NON_PERMISSIVE: LicenseClass = "non_permissive"

#: The Stack v1.0's licence list less the weak copyleft licences v1.1 removed.
STACK_V1_PERMISSIVE: frozenset[str] = frozenset(
    {
        "MIT",
        "MIT-0",
        "MIT-feh",
        "Apache-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSD-3-Clause-Clear",
        "BSD-3-Clause-No-Nuclear-License-2014",
        "CC0-1.0",
        "Unlicense",
        "ISC",
        "Artistic-2.0",
        "ECL-2.0",
        "SHL-0.51",
    }
)

#: Reviewed additions, each "Permissive" or "Public Domain" in ScanCode's LicenseDB
#: (the v1.1 / v2 criterion): the BSD/MIT/X11 family, the Python licence stack
#: (PSF-2.0 is the PSF licence agreement; Python-2.0 is the whole
#: PSF + BeOpen + CNRI + CWI stack CPython ships; CNRI-* are its older parts),
#: and the permissive licences of widely used runtimes and data files.
EXTENDED_PERMISSIVE: frozenset[str] = frozenset(
    {
        "0BSD",
        "BSD-1-Clause",
        "BSD-2-Clause-Patent",
        "BSD-2-Clause-Views",
        "X11",
        "MIT-CMU",
        "HPND",
        "NCSA",
        "Zlib",
        "BSL-1.0",
        "PSF-2.0",
        "Python-2.0",
        "Python-2.0.1",
        "CNRI-Python",
        "CNRI-Python-GPL-Compatible",
        "UPL-1.0",
        "BlueOak-1.0.0",
        "PostgreSQL",
        "curl",
        "ICU",
        "Unicode-DFS-2016",
        "Unicode-3.0",
        "WTFPL",
        "LicenseRef-scancode-public-domain",
    }
)

PERMISSIVE_LICENSES: frozenset[str] = STACK_V1_PERMISSIVE | EXTENDED_PERMISSIVE

#: Licence-like notices that neither grant nor restrict (The Stack v2's
#: `non_license_whitelist`), as ScanCode reports them.
NEUTRAL_LICENSE_REFS: frozenset[str] = frozenset(
    {
        "LicenseRef-scancode-dco-1.1",
        "LicenseRef-scancode-generic-cla",
        "LicenseRef-scancode-google-cla",
        "LicenseRef-scancode-jetty-ccla-1.1",
        "LicenseRef-scancode-newton-king-cla",
        "LicenseRef-scancode-generic-exception",
        "LicenseRef-scancode-generic-export-compliance",
        "LicenseRef-scancode-generic-tos",
        "LicenseRef-scancode-generic-trademark",
        "LicenseRef-scancode-warranty-disclaimer",
    }
)

#: A pointer to a licence stated elsewhere ("see LICENSE").
UNKNOWN_REFERENCE = "LicenseRef-scancode-unknown-license-reference"

# SPDX's special values: no licence given / not determined.
_NO_ASSERTION = frozenset({"none", "noassertion"})

_PERMISSIVE_LOWER = frozenset(k.lower() for k in PERMISSIVE_LICENSES)
_NEUTRAL_LOWER = frozenset(k.lower() for k in NEUTRAL_LICENSE_REFS)

# Internal term states; "neutral" and "reference" never leave this module.
_P, _N, _NEU, _REF = "permissive", "non_permissive", "neutral", "reference"


@lru_cache(maxsize=1)
def spdx_licensing():
    """The `license_expression` SPDX Licensing (aliases resolved, keys
    case-insensitive); built once, ~20 ms."""
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def is_permissive_id(spdx_id: str) -> bool:
    """Whether one SPDX licence id (case-insensitive, aliases resolved) is on
    the allow-list."""
    return _term_state(spdx_id) == _P


def _term_state(key: str) -> str:
    k = key.lower()
    if k in _PERMISSIVE_LOWER:
        return _P
    if k in _NEUTRAL_LOWER or k in _NO_ASSERTION:
        return _NEU
    if k == UNKNOWN_REFERENCE.lower():
        return _REF
    # resolve aliases and deprecated ids (GPL-2.0+ -> GPL-2.0-or-later,
    # BSD-2-Clause-FreeBSD -> BSD-2-Clause-Views, ...)
    try:
        canon = spdx_licensing().parse(key, validate=False)
    except Exception:
        return _N
    ck = getattr(canon, "key", None)
    if ck and ck.lower() != k:
        return _term_state(ck)
    return _N


def _state(node) -> str:
    from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

    if isinstance(node, LicenseWithExceptionSymbol):
        # an SPDX exception only ever adds permissions: the base licence decides
        return _term_state(node.license_symbol.key)
    if isinstance(node, LicenseSymbol):
        return _term_state(node.key)
    kids = [_state(a) for a in node.args]
    if isinstance(node, OR):
        if _P in kids:
            return _P
        if all(k == _NEU for k in kids):
            return _NEU
        return _N
    if isinstance(node, AND):
        kids = [k for k in kids if k != _NEU]
        if not kids:
            return _NEU
        if _N in kids:
            return _N
        if _P in kids:  # "MIT AND see-LICENSE" is MIT
            return _P
        return _N  # only unresolved references
    return _N


def classify(spdx_expression: str | None) -> LicenseClass:
    """Classify an SPDX licence expression.

    - None, "", "NONE", "NOASSERTION", or only neutral notices -> "no_license"
    - "A OR B": permissive if any option is permissive
    - "A AND B": permissive only if every term is (neutral notices ignored)
    - "A WITH exception": as A
    - ids not on `PERMISSIVE_LICENSES` (GPL, MPL, LicenseRef-*, unknown keys)
      and expressions that do not parse -> "non_permissive"
    """
    if spdx_expression is None or not spdx_expression.strip():
        return NO_LICENSE
    try:
        parsed = spdx_licensing().parse(spdx_expression, validate=False)
    except Exception:
        return NON_PERMISSIVE
    if parsed is None:
        return NO_LICENSE
    state = _state(parsed)
    if state == _P:
        return PERMISSIVE
    if state == _NEU:
        return NO_LICENSE
    return NON_PERMISSIVE
