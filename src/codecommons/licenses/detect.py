"""Licence detection with ScanCode, and directory scoping.

ScanCode (scancode-toolkit(-mini) 32.5.0, the tool The Stack used) matches a
text against its index of ~2,600 licences and ~37,000 rules. The index lives in
one pickled file that the wheel ships prebuilt under
`licensedcode/data/cache/license_index/index_cache` (~400 MB): loading it takes
~6 s and ~1.4 GB of memory once per process; rebuilding it from the licence
data (only when that file is missing; `SCANCODE_LICENSE_INDEX_CACHE` moves it)
takes ~45 s. Importing this module loads nothing: the index is loaded on the
first detection or by `load_index()`, once per process (worker processes forked
after `load_index()` share it copy-on-write). Matching one licence file then
takes ~1-20 ms (a few hundred ms for long multi-licence files).

- `detect_text(text)` / `detect_file(path_or_text)`: the SPDX expression one file
  grants: ScanCode's detections joined with AND (`detected_license_expression_spdx`;
  a dual-licence statement ScanCode knows is one detection, "MIT OR Apache-2.0"),
  less mentions of licences the text is not under, with choices as OR
  (grants.py), or None.
- `from_package_metadata(text)`: a Python distribution's licence from its
  METADATA / PKG-INFO.
- `scope_licenses(files)` and `license_for(path, scoped)`: a licence file covers
  the folder it is in and everything below it unless a deeper licence file
  overrides it; the repository root's licence is the default.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from codecommons.licenses.allowlist import spdx_licensing
from codecommons.licenses.grants import absorb_alternatives, granted
from codecommons.pkginfo import is_metadata_file
from codecommons.pkginfo import parse as parse_metadata

#: Longest text handed to ScanCode; licence files are far shorter, and a
#: README's licence section sits well within it.
MAX_CHARS = 500_000
#: Per-text ScanCode deadline in seconds (ScanCode returns what it matched so far).
DEFAULT_TIMEOUT_S = 60.0

_LICENSE_STEMS = ("license", "licence", "copying", "notice", "copyright", "readme", "unlicense")
_LICENSE_WORD = re.compile(r"(^|[-_.])(licen[sc]es?|copying)([-_.]|$)")
# Source/data suffixes that disqualify a file named like a licence (license.py).
_NOT_LICENSE_SUFFIXES = frozenset(
    ".py .pyi .pyc .js .mjs .cjs .ts .tsx .jsx .go .rs .java .kt .kts .scala .c .h .cc .cpp .cxx"
    " .hpp .hh .cs .fs .vb .rb .php .pl .pm .lua .r .jl .swift .m .mm .dart .ex .exs .erl .hs"
    " .ml .clj .groovy .sh .bash .zsh .ps1 .bat .sql .json .yaml .yml .toml .xml .ini .cfg .lock"
    " .css .scss .vue .svelte .ipynb .png .jpg .jpeg .gif .svg .ico .pdf .zip .gz".split()
)
_LICENSE_DIRS = frozenset({"licenses", "licences", "license", "licence", "licenses_files"})
_DIST_INFO = re.compile(r"\.(dist-info|egg-info)$", re.IGNORECASE)

_index_lock = threading.Lock()
_index_load_s: float | None = None

_MEMO_SIZE = 4096
_memo: OrderedDict[bytes, str | None] = OrderedDict()
_memo_lock = threading.Lock()


# -- the ScanCode index -------------------------------------------------------


def load_index() -> float:
    """Load ScanCode's licence index into this process (building it first if its
    cache file is missing). Returns the seconds this call spent: 0.0 when it was
    already loaded."""
    global _index_load_s
    with _index_lock:
        if _index_load_s is not None:
            return 0.0
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # ScanCode's imports warn (typecode: libmagic; packvers: pyparsing
            # deprecations); we never type-sniff files or parse requirements
            warnings.simplefilter("ignore")
            import licensedcode.detection  # noqa: F401
            import packagedcode.utils  # noqa: F401  (get_licenses imports it lazily)
            import scancode.api  # noqa: F401
            from licensedcode.cache import get_cache

            get_cache()
        _index_load_s = time.perf_counter() - t0
        return _index_load_s


def index_loaded() -> bool:
    """Whether this process has loaded the ScanCode index."""
    return _index_load_s is not None


def index_load_seconds() -> float | None:
    """How long the one load took in this process (None before it)."""
    return _index_load_s


# -- detection ------------------------------------------------------------------


def detect_text(text: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> str | None:
    """The SPDX expression `text` grants, from ScanCode's detections, or None.

    ScanCode's detections are joined with AND (deduplicated), as its
    `detected_license_expression_spdx` does, less what grants.py recognises as
    mentions of other licences, with choices joined by OR; expressionless
    "license clues" are dropped. Results are memoised by content (repositories
    share a few thousand distinct licence texts)."""
    if not text or not text.strip():
        return None
    text = text[:MAX_CHARS]
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    load_index()
    from licensedcode.detection import detect_licenses  # imported by load_index()

    # what scancode.api.get_licenses runs, keeping the match objects grants.py reads
    detections = list(detect_licenses(query_string=text, deadline=time.time() + timeout))
    expr = granted(text, detections)
    with _memo_lock:
        _memo[key] = expr
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return expr


def read_text(path: str | os.PathLike) -> str:
    """A file's text for detection: UTF-8 (Latin-1 when that fails), at most
    `MAX_CHARS` characters."""
    with open(path, "rb") as f:
        data = f.read(MAX_CHARS * 4)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start >= len(data) - 3:  # the read cut a character in two
            text = data[: e.start].decode("utf-8")
        else:
            text = data.decode("latin-1")
    return text[:MAX_CHARS]


def detect_file(path_or_text: str | os.PathLike, *, timeout: float = DEFAULT_TIMEOUT_S) -> str | None:
    """The SPDX expression detected in a licence file, or None.

    `path_or_text`: a `Path` (or other `os.PathLike`) is read; a `str` is read
    as a path when it is one line naming an existing file, and is otherwise the
    text itself."""
    if isinstance(path_or_text, os.PathLike):
        return detect_text(read_text(path_or_text), timeout=timeout)
    s = str(path_or_text)
    if "\n" not in s and len(s) < 4096:
        try:
            if os.path.isfile(s):
                return detect_text(read_text(s), timeout=timeout)
        except (OSError, ValueError):
            pass
    return detect_text(s, timeout=timeout)


def combine_and(expressions: Iterable[str | None]) -> str | None:
    """Join SPDX expressions with AND, dropping None and duplicates."""
    exprs = list(dict.fromkeys(e for e in expressions if e))
    if not exprs:
        return None
    if len(exprs) == 1:
        return exprs[0]
    from license_expression import combine_expressions

    try:
        return str(combine_expressions(exprs, relation="AND", unique=True, licensing=spdx_licensing()))
    except Exception:
        return " AND ".join(f"({e})" for e in exprs)


# -- Python package metadata ------------------------------------------------------

#: Trove licence classifiers -> SPDX. Where a classifier names a family rather
#: than one licence, the id is ScanCode's reading of it (BSD -> BSD-3-Clause,
#: Apache Software License -> Apache-2.0, unversioned GPL -> GPL-1.0-or-later).
#: Classifiers not listed here are matched by ScanCode.
CLASSIFIER_SPDX: dict[str, str] = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Python License (CNRI Python License)": "CNRI-Python",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: OSI Approved :: University of Illinois/NCSA Open Source License": "NCSA",
    "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "License :: OSI Approved :: Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0",
    "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "License :: OSI Approved :: Microsoft Public License (MS-PL)": "MS-PL",
    "License :: OSI Approved :: GNU General Public License (GPL)": "GPL-1.0-or-later",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "License :: OSI Approved :: GNU Library or Lesser General Public License (LGPL)": "LGPL-2.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
    "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "License :: OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
    "License :: OSI Approved :: Artistic License": "Artistic-1.0",
    "License :: Public Domain": "LicenseRef-scancode-public-domain",
    "License :: Other/Proprietary License": "LicenseRef-scancode-proprietary-license",
}
# Classifiers that carry no licence of their own.
_UNINFORMATIVE_CLASSIFIERS = frozenset({"License :: OSI Approved", "License :: DFSG approved"})


def _spdx_exact(value: str) -> str | None:
    """`value` normalised when it is an SPDX expression of known ids only."""
    lic = spdx_licensing()
    try:
        parsed = lic.parse(value, validate=False)
    except Exception:
        return None
    if parsed is None or lic.unknown_license_keys(parsed):
        return None
    return str(parsed)


def from_package_metadata(metadata_text: str) -> str | None:
    """A Python distribution's licence from its METADATA / PKG-INFO text.

    In order, the first that gives one wins:
    1. `License-Expression` (PEP 639), normalised;
    2. `License` when it is already an SPDX expression of known ids ("MIT");
    3. the licence classifiers, mapped by `CLASSIFIER_SPDX` (others matched by
       ScanCode), several joined with AND (as ScanCode joins declared licences);
    4. `License` as free text ("MIT License", a pasted licence) via ScanCode.
    Returns None when none of them names a licence."""
    meta = parse_metadata(metadata_text)
    if meta.license_expression:
        try:
            parsed = spdx_licensing().parse(meta.license_expression, validate=False)
            if parsed is not None:
                return str(parsed)
        except Exception:
            pass
    field = meta.license
    if field and "\n" not in field:
        exact = _spdx_exact(field)
        if exact:
            return exact
    found = [CLASSIFIER_SPDX.get(c) or detect_text(c) for c in meta.license_classifiers
             if c not in _UNINFORMATIVE_CLASSIFIERS]
    combined = combine_and(found)
    if combined:
        return combined
    if field:
        return detect_text(field)
    return None


# -- which files ------------------------------------------------------------------


def _parts(relpath: str) -> list[str]:
    p = relpath.replace("\\", "/").strip("/")
    return [x for x in PurePosixPath(p).parts if x not in (".", "")]


def is_package_metadata(relpath: str) -> bool:
    """`*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or an sdist's `PKG-INFO`."""
    return is_metadata_file(relpath)


def is_license_file(relpath: str) -> bool:
    """Whether a path names a licence-like file: LICENSE*, LICENCE*, COPYING*,
    NOTICE*, COPYRIGHT*, README*, UNLICENSE*, names with a licence word
    (MIT-LICENSE, apache-2.0.LICENSE, THIRD_PARTY_LICENSES), and any file in a
    LICENSES/ folder (REUSE) or a dist-info's licenses/ folder; never a source
    or data file (license.py, licenses.json)."""
    parts = _parts(relpath)
    if not parts:
        return False
    name = parts[-1].lower()
    suffix = PurePosixPath(name).suffix
    if suffix in _NOT_LICENSE_SUFFIXES:
        return False
    if name.startswith(_LICENSE_STEMS) or _LICENSE_WORD.search(name):
        return True
    return len(parts) >= 2 and parts[-2].lower() in _LICENSE_DIRS


def is_license_source(relpath: str) -> bool:
    """Whether licence scoping reads this file: a licence file, package metadata,
    or a dist-info's RECORD / top_level.txt (what its licence covers). The one
    test of "is this about licensing?" for every reader of repositories."""
    if is_license_file(relpath) or is_package_metadata(relpath):
        return True
    parts = _parts(relpath)
    return (len(parts) >= 2 and parts[-1] in ("RECORD", "top_level.txt")
            and _DIST_INFO.search(parts[-2]) is not None)


# -- scoping ------------------------------------------------------------------------


def _folder_of(parts: list[str]) -> str:
    return "/".join(parts[:-1])


def _dist_targets(dist_dir: str, files: Mapping[str, str]) -> list[str]:
    """What an installed distribution's licence covers: the dist-info folder and
    the top-level entries its RECORD (or top_level.txt) lists."""
    targets = [dist_dir]
    base = "/".join(_parts(dist_dir)[:-1])
    prefix = f"{base}/" if base else ""
    record = files.get(f"{dist_dir}/RECORD")
    tops: list[str] = []
    if record:
        for line in record.splitlines():
            entry = line.split(",", 1)[0].strip()
            ep = _parts(entry)
            if not ep or ep[0] == ".." or _DIST_INFO.search(ep[0]) or ep[0] == "__pycache__":
                continue
            tops.append(ep[0])
    elif files.get(f"{dist_dir}/top_level.txt"):
        for name in files[f"{dist_dir}/top_level.txt"].split():
            tops.append(name)
            if f"{prefix}{name}.py" in files:
                tops.append(f"{name}.py")
    for t in dict.fromkeys(tops):
        targets.append(prefix + t)
    return targets


def _license_sources(files: Mapping[str, str]) -> dict[str, list[str]]:
    """{licence source path: folders (or files) it covers}."""
    out: dict[str, list[str]] = {}
    for rel in files:
        parts = _parts(rel)
        if not parts:
            continue
        dist_i = next((i for i, p in enumerate(parts[:-1]) if _DIST_INFO.search(p)), None)
        if dist_i is not None:
            dist_dir = "/".join(parts[: dist_i + 1])
            if parts[dist_i].lower().endswith(".egg-info"):
                # a source tree's egg-info describes the project it sits in
                targets = ["/".join(parts[:dist_i])]
            else:
                targets = _dist_targets(dist_dir, files)
            if is_package_metadata(rel) or is_license_file(rel):
                out[rel] = targets
            continue
        if is_package_metadata(rel):
            out[rel] = [_folder_of(parts)]
        elif is_license_file(rel):
            folder = parts[:-1]
            if folder and folder[-1].lower() in _LICENSE_DIRS:
                folder = folder[:-1]  # LICENSES/MIT.txt covers the folder above
            out[rel] = ["/".join(folder)]
    return out


def scope_licenses(files: Mapping[str, str]) -> dict[str, str]:
    """{folder: SPDX expression} for a repository's files {relpath: text}.

    Only licence-like files (`is_license_file`, `is_package_metadata`) are read,
    so the whole repository can be passed. A licence file's detection covers the
    folder it is in ("" is the root); several licence files in one folder are
    joined with AND. A `LICENSES/` folder's texts cover its parent; an installed
    `*.dist-info`'s licence covers the top-level packages and modules in its
    RECORD (keys may then be file paths, e.g. "six.py"). Folders whose licence
    files name no licence get no entry."""
    found: dict[str, list[str]] = {}
    for rel, targets in _license_sources(files).items():
        text = files[rel]
        expr = from_package_metadata(text) if is_package_metadata(rel) else detect_text(text)
        if not expr:
            continue
        for t in targets:
            found.setdefault(t, []).append(expr)
    return {folder: combined for folder, exprs in found.items()
            if (combined := combine_and(absorb_alternatives(exprs)))}


def license_for(path: str, scoped: Mapping[str, str], *, accumulate: bool = False) -> str | None:
    """The licence covering `path` (a file or folder relative to the repository
    root) given `scope_licenses`' result: the nearest entry at or above it, so a
    deeper licence file overrides the root's. None when nothing covers it.

    accumulate=True instead joins every entry from `path` up to the root with AND
    (what The Stack v2 does: a file under an MIT folder in a GPL repository is
    "MIT AND GPL")."""
    parts = _parts(path)
    chain = ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]
    hits = [scoped[c] for c in chain if c in scoped]
    if not hits:
        return None
    if not accumulate:
        return hits[0]
    return combine_and(hits)


def read_license_files(root: str | os.PathLike) -> dict[str, str]:
    """{relpath: text} of the licence-like files and package metadata under a
    folder on disk (plus dist-info RECORD / top_level.txt), for `scope_licenses`.
    Skips .git and symlinks."""
    root = Path(root)
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git" and not os.path.islink(os.path.join(dirpath, d))]
        for fn in filenames:
            full = Path(dirpath, fn)
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(root).as_posix()
            if is_license_source(rel):
                try:
                    out[rel] = read_text(full)
                except OSError:
                    continue
    return out


def scope_tree(root: str | os.PathLike) -> dict[str, str]:
    """`scope_licenses` for a folder on disk."""
    return scope_licenses(read_license_files(root))
