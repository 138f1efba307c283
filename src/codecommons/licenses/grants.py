"""What a licence text grants, from what ScanCode finds in it.

ScanCode reports every licence a text *names* and joins them with AND. Licence
texts often name licences they are not under: CPython's LICENSE (shipped by every
project that uses the PSF licence, typing_extensions among them) has a "history of
the software" whose table and footnotes discuss GPL compatibility, which ScanCode
reads as `Python-2.0 AND GPL-1.0-or-later AND ...`: non-permissive, so the
project would be dropped. And a text that offers a choice ("dual licensed under
MIT and Apache-2.0", "at your option") is an OR, not an AND.

Rules, applied to ScanCode's matches (each match is one ScanCode rule: a full
licence text, or a notice, reference, tag or intro naming a licence; the rule's
kind comes from ScanCode's rule data):

1. Mentions are not grants. A match that is not a full licence text is dropped
   when the words around it, in its sentence, say the licence is being compared
   or described rather than granted: `X-compatible`, `compatible with X`,
   `incompatible with X`, `unlike X`, `instead of / rather than X`, `doesn't mean
   ... under X`, `other software that ... under X`; and every such match inside a
   section headed "history" (the PSF's "A. HISTORY OF THE SOFTWARE").
2. Titles name the text below them. A reference or tag match alone on a short line
   (at most 12 words) right above a full licence text (within 4 lines) is dropped:
   the text decides ("ZERO-CLAUSE BSD LICENSE FOR CODE IN THE PYTHON DOCUMENTATION"
   above the 0BSD text is not BSD-3-Clause).
3. Choices are OR. A sentence that offers a choice (`dual licensed`, `dual-licensed`,
   `you may choose`, `at your option`, `either ... or`, `one of the following
   licenses`) before naming two or more licences joins those with OR; a full
   licence text elsewhere in the file whose licences are all among the options is
   the text of one alternative and is absorbed into the OR. Between files of one
   folder the same holds (`absorb_alternatives`): LICENSE-MIT and LICENSE-APACHE
   beside a README that offers the choice are "MIT OR Apache-2.0".

When no rule applies, ScanCode's own expression is returned unchanged. What is
left is joined with AND (ScanCode's unknown-reference pointer dropped where a
licence is named, as ScanCode does), and where a choice was found simplified
(A AND (A OR B) is A).

Not covered: mentions phrased in other ways ("GPL users may also ..."), choices
spread over several sentences, and conditions ("if you distribute a binary, the
GPL applies") which stay AND: the safe reading for a permissive-only dataset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from codecommons.licenses.allowlist import UNKNOWN_REFERENCE, spdx_licensing

_AFTER_MENTION = re.compile(r"""^["')\]]?\s*-?\s*(?:in)?compatib""", re.IGNORECASE)
_BEFORE_MENTION = re.compile(
    r"""(?:\b(?:in)?compatib\w*|\bunlike|\binstead\s+of|\brather\s+than|\bas\s+opposed\s+to)"""
    r"""\W*(?:with\W+)?(?:the\W+)?$"""
    r"""|\b(?:does|do|did)(?:n't|\s+not)\s+mean\b[^.;]*$"""
    r"""|\bother\s+(?:software|code|programs?|projects?|works?|packages?|librar(?:y|ies))\s+(?:that|which)\b[^.;]*$""",
    re.IGNORECASE)
_CHOICE = re.compile(
    r"\bdual(?:ly)?[- ]?licen[sc]ed\b|\byou\s+(?:may|can)\s+(?:choose|select|elect|pick)\b"
    r"|\bat\s+your\s+(?:option|choice|discretion)\b|\beither\b|\bchoice\s+of\b"
    r"|\b(?:any|one)\s+of\s+the\s+following\s+licen[sc]es\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;](?=\s)|\n[ \t]*\n")
_UNDERLINE = re.compile(r"^\s*[=\-~_*#]{3,}\s*$")
_HISTORY = re.compile(r"\bhistory\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_CONTEXT = 600  # characters either side of a match that its sentence may span
_HEADING_WORDS = 12
_HEADING_GAP = 4  # lines between a title and the text it names


@dataclass
class _Match:
    spdx: str
    start_line: int  # 1-based, as ScanCode counts
    end_line: int
    text: str  # ScanCode's matched text
    is_text: bool  # the rule is a full licence text
    is_name: bool  # the rule is a reference or a tag (a bare name)
    span: tuple[int, int] | None = None  # located in the query text
    keys: frozenset[str] = field(default_factory=frozenset)


@lru_cache(maxsize=4096)
def _keys(expr: str) -> frozenset[str]:
    lic = spdx_licensing()
    return frozenset(lic.license_keys(lic.parse(expr, validate=False)))


class _Text:
    """The query text with line offsets, sentences and sections."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.lines = text.split("\n")
        # section headings: a non-empty line above an underline (=== / ---)
        self.headings = [(self.line_starts[i], self.lines[i]) for i in range(len(self.lines) - 1)
                         if self.lines[i].strip() and _UNDERLINE.match(self.lines[i + 1])]

    def offset(self, line: int) -> int:
        line = min(max(line, 1), len(self.line_starts))
        return self.line_starts[line - 1]

    def locate(self, m: _Match) -> tuple[int, int]:
        """Where ScanCode's matched text is: on its lines, else a line either side
        (line counts may differ on unusual line breaks), else its whole lines."""
        end = self.offset(m.end_line + 1) if m.end_line < len(self.line_starts) else len(self.text)
        words = _WORD.findall(m.text)
        if words:
            pattern = re.compile(r"\W+".join(map(re.escape, words)), re.IGNORECASE)
            wide_end = self.offset(m.end_line + 2) if m.end_line + 1 < len(self.line_starts) else len(self.text)
            for lo, hi in ((self.offset(m.start_line), end), (self.offset(m.start_line - 1), wide_end)):
                found = pattern.search(self.text, lo, hi)
                if found:
                    return found.span()
        return self.offset(m.start_line), end

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """The sentence (or paragraph) around text[start:end], at most _CONTEXT
        characters either side."""
        s = max(0, start - _CONTEXT)
        for found in _SENTENCE_END.finditer(self.text, s, start):
            s = found.end()
        found = _SENTENCE_END.search(self.text, end, min(len(self.text), end + _CONTEXT))
        return s, found.start() if found else min(len(self.text), end + _CONTEXT)

    def section(self, pos: int) -> str:
        title = ""
        for at, heading in self.headings:
            if at > pos:
                break
            title = heading
        return title


def _is_mention(doc: _Text, m: _Match) -> bool:
    if m.is_text:
        return False
    start, end = m.span
    if _HISTORY.search(doc.section(start)):
        return True
    s, e = doc.sentence(start, end)
    return bool(_AFTER_MENTION.match(doc.text[end:e]) or _BEFORE_MENTION.search(doc.text[s:start]))


def _is_title(doc: _Text, m: _Match, texts: list[_Match]) -> bool:
    if not m.is_name or m.start_line != m.end_line:
        return False
    line = doc.lines[m.start_line - 1] if m.start_line <= len(doc.lines) else ""
    if len(_WORD.findall(line)) > _HEADING_WORDS:
        return False
    return any(m.end_line < t.start_line <= m.end_line + _HEADING_GAP for t in texts)


def _and(exprs: Iterable[str]) -> str | None:
    exprs = list(dict.fromkeys(exprs))
    named = [e for e in exprs if e != UNKNOWN_REFERENCE]
    exprs = named or exprs  # "see LICENSE" beside a named licence adds nothing
    if not exprs:
        return None
    return exprs[0] if len(exprs) == 1 else " AND ".join(f"({e})" for e in exprs)


def _or(exprs: Iterable[str]) -> str:
    exprs = [e for e in dict.fromkeys(exprs) if e != UNKNOWN_REFERENCE]
    return exprs[0] if len(exprs) == 1 else " OR ".join(f"({e})" for e in exprs)


def _joined(terms: list[str], simplify: bool) -> str | None:
    """Terms joined with AND, duplicates dropped, in order; `simplify` applies
    boolean absorption (A AND (A OR B) is A), which also sorts the terms."""
    from license_expression import combine_expressions

    terms = [t for t in dict.fromkeys(terms) if t]
    if not terms:
        return None
    lic = spdx_licensing()
    if simplify:
        return str(lic.parse(" AND ".join(f"({t})" for t in terms), validate=False).simplify())
    return str(combine_expressions(terms, relation="AND", unique=True, licensing=lic))


def scancode_expression(detections: list) -> str | None:
    """ScanCode's own reading of a file: its detections joined with AND, unique
    (as scancode.api.get_licenses' `detected_license_expression_spdx`)."""
    from licensedcode.cache import build_spdx_license_expression, get_cache
    from packagedcode.utils import combine_expressions

    exprs = [d.license_expression for d in detections if d.license_expression]
    if not exprs:
        return None
    licensing = get_cache().licensing
    combined = combine_expressions(expressions=exprs, relation="AND", unique=True, licensing=licensing)
    return str(build_spdx_license_expression(combined, licensing=licensing))


def _match(doc: _Text, m) -> _Match:
    """Ours, from a ScanCode LicenseMatch (its rule says what kind of text it is).
    Only a match that is not a full licence text is located to the character: the
    rules never drop or regroup full texts, and their patterns are long to build."""
    rule = m.rule
    is_text = bool(rule.is_license_text)
    out = _Match(rule.spdx_license_expression(), m.start_line, m.end_line,
                 "" if is_text else m.matched_text(whole_lines=False, highlight=False),
                 is_text, bool(rule.is_license_reference or rule.is_license_tag))
    out.span = doc.locate(out)
    out.keys = _keys(out.spdx)
    return out


def granted(text: str, detections: list) -> str | None:
    """The SPDX expression `text` grants, given ScanCode's detections of it
    (licensedcode.detection.LicenseDetection objects; see the module notes)."""
    detections = [d for d in detections if d.license_expression]
    if not detections:
        return None
    doc = _Text(text)
    per_det = [[_match(doc, m) for m in d.matches] for d in detections]
    texts = [m for ms in per_det for m in ms if m.is_text]
    kept = [[m for m in ms if not _is_mention(doc, m) and not _is_title(doc, m, texts)] for ms in per_det]
    groups = _choices(doc, [m for ms in kept for m in ms])
    if not groups and all(len(k) == len(ms) for k, ms in zip(kept, per_det)):
        return scancode_expression(detections)  # nothing to correct: ScanCode's reading stands
    in_group = {id(m) for g in groups for m in g}
    options = [frozenset().union(*(m.keys for m in g)) for g in groups]
    terms = [_or(m.spdx for m in g) for g in groups]
    for det, ms, k in zip(detections, per_det, kept):
        rest = [m for m in k if id(m) not in in_group]
        if rest and all(m.is_text for m in rest) and any(
                frozenset().union(*(m.keys for m in rest)) <= opt for opt in options):
            continue  # the text of one alternative of a choice
        if len(rest) == len(ms):
            terms.append(det.license_expression_spdx or det.spdx_license_expression())
        elif rest:
            terms.append(_and(m.spdx for m in rest))
    return _joined(terms, simplify=bool(groups))


def _choices(doc: _Text, matches: list[_Match]) -> list[list[_Match]]:
    """Groups of matches that a choice sentence offers as alternatives."""
    by_sentence: dict[tuple[int, int], list[_Match]] = {}
    for m in matches:
        if not m.is_text:
            by_sentence.setdefault(doc.sentence(*m.span), []).append(m)
    groups = []
    for (s, e), ms in by_sentence.items():
        named = [m for m in ms if m.spdx != UNKNOWN_REFERENCE]
        if len({m.spdx for m in named}) < 2:
            continue
        last = max(m.span[0] for m in named)
        cue = _CHOICE.search(doc.text, s, e)
        if cue and cue.start() < last:
            groups.append(ms)
    return groups


def absorb_alternatives(expressions: Iterable[str]) -> list[str]:
    """One folder's licence files (one expression each), less those that are the
    text of one alternative of a choice another file states: a file whose licences
    are all options of a top-level OR. The caller joins the rest with AND."""
    from license_expression import OR

    exprs = [e for e in dict.fromkeys(expressions) if e]
    lic = spdx_licensing()
    parsed = {e: lic.parse(e, validate=False) for e in exprs}
    options = [_keys(e) for e, p in parsed.items() if isinstance(p, OR)]
    return [e for e, p in parsed.items() if isinstance(p, OR) or not any(_keys(e) <= o for o in options)]
