"""Licences: the permissive allow-list, SPDX expression classification, and
ScanCode-based detection with directory scoping.

Shared by the curation stage and attribution; depends on `license-expression`
and (for detection only, loaded on first use) `scancode-toolkit-mini`.
grants.py reads what a text grants out of ScanCode's matches; spdx_header.py reads
a file's own `SPDX-License-Identifier` header (REUSE).

    from codecommons.licenses import scope_tree, license_for, classify
    scoped = scope_tree("repo/")                   # {folder: SPDX expression}
    classify(license_for("src/x.py", scoped))      # "permissive" | "no_license" | "non_permissive"
"""

from codecommons.licenses.allowlist import (
    NEUTRAL_LICENSE_REFS,
    NO_LICENSE,
    NON_PERMISSIVE,
    PERMISSIVE,
    PERMISSIVE_LICENSES,
    LicenseClass,
    classify,
    is_permissive_id,
)
from codecommons.licenses.spdx_header import file_license
from codecommons.licenses.detect import (
    CLASSIFIER_SPDX,
    combine_and,
    detect_file,
    detect_text,
    from_package_metadata,
    index_load_seconds,
    index_loaded,
    is_license_file,
    is_license_source,
    is_package_metadata,
    license_for,
    load_index,
    read_license_files,
    scope_licenses,
    scope_tree,
)

__all__ = [
    "CLASSIFIER_SPDX",
    "NEUTRAL_LICENSE_REFS",
    "NO_LICENSE",
    "NON_PERMISSIVE",
    "PERMISSIVE",
    "PERMISSIVE_LICENSES",
    "LicenseClass",
    "classify",
    "combine_and",
    "detect_file",
    "detect_text",
    "file_license",
    "from_package_metadata",
    "index_load_seconds",
    "index_loaded",
    "is_license_file",
    "is_license_source",
    "is_package_metadata",
    "is_permissive_id",
    "license_for",
    "load_index",
    "read_license_files",
    "scope_licenses",
    "scope_tree",
]
