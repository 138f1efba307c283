"""Python package metadata: the one parser of METADATA / PKG-INFO headers.

The format is PyPA's core metadata (packaging.python.org, "Core metadata
specifications"; PEP 566, PEP 639 for `License-Expression`): RFC 822 headers,
some of them repeatable (`Classifier`, `License-File`), a free-text `License`
whose continuation lines are indented and may start with `|` (setuptools'
folding), and the long description in the body, which is never read here.

Used by licence detection (`License-Expression`, `License`, licence classifiers),
the opt-out matcher (author and maintainer emails) and curation's sources
(distribution names, a source tree's PKG-INFO).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import PurePosixPath

from codecommons.pii.emails import emails_in

#: Values that mean "not given" in the License field.
_UNSET = frozenset({"", "UNKNOWN", "NONE"})


@dataclass(frozen=True)
class PackageMetadata:
    name: str = ""
    version: str = ""
    license_expression: str = ""  # PEP 639, as written
    license: str = ""  # free text, unfolded; "" when absent or UNKNOWN
    classifiers: tuple[str, ...] = ()  # whitespace-normalised
    license_files: tuple[str, ...] = ()
    author: str = ""
    author_email: str = ""
    maintainer: str = ""
    maintainer_email: str = ""

    @property
    def license_classifiers(self) -> tuple[str, ...]:
        return tuple(c for c in self.classifiers if c.startswith("License ::"))

    @property
    def author_emails(self) -> list[str]:
        """Lower-cased emails of the authors and maintainers (their -email
        fields, and Author/Maintainer where those hold an address), sorted."""
        fields = (self.author_email, self.maintainer_email, self.author, self.maintainer)
        return sorted(emails_in([f for f in fields if f]))


def _unfold(value: str) -> str:
    """A multi-line field: continuation lines lose their indent and setuptools'
    optional '|' marker."""
    lines = value.splitlines()
    out = [lines[0].strip()] if lines else []
    for ln in lines[1:]:
        ln = ln.strip()
        out.append(ln[1:] if ln.startswith("|") else ln)
    return "\n".join(out).strip()


def parse(text: str | None) -> PackageMetadata:
    """The headers of a METADATA / PKG-INFO text (empty fields when absent)."""
    if not text:
        return PackageMetadata()
    msg = HeaderParser().parsestr(text)

    def one(name: str) -> str:
        return _unfold(str(msg.get(name) or ""))

    license_ = one("License")
    return PackageMetadata(
        name=one("Name"), version=one("Version"),
        license_expression=one("License-Expression"),
        license="" if license_.upper() in _UNSET else license_,
        classifiers=tuple(" ".join(str(c).split()) for c in msg.get_all("Classifier") or []),
        license_files=tuple(str(f).strip() for f in msg.get_all("License-File") or []),
        author=one("Author"), author_email=one("Author-email"),
        maintainer=one("Maintainer"), maintainer_email=one("Maintainer-email"))


def is_metadata_file(relpath: str) -> bool:
    """`*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or an sdist's `PKG-INFO`."""
    parts = [p for p in PurePosixPath(relpath.replace("\\", "/").strip("/")).parts if p not in (".", "")]
    if not parts:
        return False
    if parts[-1] == "PKG-INFO":
        return True
    return parts[-1] == "METADATA" and len(parts) >= 2 and parts[-2].lower().endswith(".dist-info")
