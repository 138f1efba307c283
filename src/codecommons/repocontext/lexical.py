"""Words of code: the tokens a BM25 index and query see, and the similarity of two
pieces of code.

Tokens. Code search works on identifiers, and an identifier is several words:
`parseHttpHeader` and `parse_http_header` should meet `http header` (Tabby's
repository index and CrossCodeEval's BM25 baseline both split identifiers). Each
identifier gives its lower-cased whole and, when it has several parts, each part
(camelCase, PascalCase, snake_case, digits); keywords and one-letter words carry no
meaning across files and are left out. Non-identifier text (operators, numbers in
strings) is ignored.

Similarity. llama.vim's s:chunk_sim, the Dice coefficient over \\W+-separated words,
decides when a context chunk only repeats the text around the cursor (> 0.5: "such
chunks usually distort the completion to repeat what was already there") and when
two chunks are duplicates (> 0.9).
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# camelCase / PascalCase / acronyms / digits: "parseHTTPHeader2" -> parse, HTTP, Header, 2
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORDS = re.compile(r"\W+")

# Keywords of the languages we index most (Python, JS/TS, Java, Go, Rust, C): they
# are in every chunk, so they only dilute a query.
KEYWORDS = frozenset("""
and as assert async await break case catch class const continue def default del do elif else
enum except export extends false final finally fn for from func function go if impl import in
instanceof interface is lambda let match mod mut new nil none nonlocal not null or package pass
private protected pub public raise return self static struct super switch this throw throws
true try type typeof use var void while with yield int str bool float string
""".split())


def split_identifier(name: str) -> list[str]:
    """The lower-cased words of one identifier: `parse_httpHeader` -> [parse, http, header]."""
    out = []
    for piece in name.split("_"):
        out += [p.lower() for p in _PARTS.findall(piece)]
    return out


def code_tokens(text: str) -> list[str]:
    """BM25 tokens of a piece of code: each identifier whole (its parts joined,
    lower-cased) and, if compound, its parts."""
    out = []
    for ident in _IDENT.findall(text):
        parts = split_identifier(ident)
        whole = "".join(parts)  # parseHttpHeader and parse_http_header are one token
        if len(whole) < 2 or whole in KEYWORDS:
            continue
        out.append(whole)
        if len(parts) > 1:
            out += [p for p in parts if len(p) > 1 and p not in KEYWORDS]
    return out


def identifiers(text: str) -> list[str]:
    """Identifiers in order of appearance (keywords included: callers filter)."""
    return _IDENT.findall(text)


def similarity(a: str, b: str) -> float:
    """llama.vim's s:chunk_sim: Dice over \\W+ words, the words of `b` counted with
    repeats: 2 * |words of b found in set(words of a)| / (|words of a| + |words of b|)."""
    t0 = [t for t in _WORDS.split(a) if t]
    t1 = [t for t in _WORDS.split(b) if t]
    if not t0 and not t1:
        return 1.0
    set0 = set(t0)
    return 2.0 * sum(1 for t in t1 if t in set0) / (len(t0) + len(t1))
