"""Code -> normalised tokens, so that a copy survives reformatting, stripped
comments and renamed identifiers, and so that copied prose is found too.

Tokens come from Pygments' lexer for the language (by alias or name); with no
language it is guessed from the text (``guess_lexer``: 0.1-0.4 s, so the index and
``attribute`` pass languages); a language Pygments does not know, or a text it
cannot guess, gets a plain regex tokenizer.

Two streams come out of one pass:
  * code: comments and whitespace are dropped; every identifier (a ``Name.*`` token
    that is not a builtin, builtin exception or magic ``__name__``) becomes the
    single token ``"V"``; keywords, operators, punctuation and literals (numbers,
    strings, docstrings) keep their text, less any whitespace inside strings (a
    copy whose docstrings were re-indented or re-wrapped is still a copy);
  * prose: the words of comments and docstrings, verbatim (normalised for
    whitespace only), so that a suggestion reproducing a project's documentation
    is attributed like one reproducing its code. Copying prose is copying
    expression as much as copying code is, and the code stream cannot see it: a
    docstring is one token there, and comments are not there at all.

``normalize_spans`` returns a ``Normalized``: the code tokens, then the prose
tokens, with per-token start and end offsets in the input and the number of code
tokens (the fingerprints of the two streams are computed apart: winnow.py).
``normalize`` returns the code tokens and their start offsets.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from pygments.token import Comment, Name, String, Text, Whitespace
from pygments.util import ClassNotFound

VAR = "V"
NORMALIZE_VERSION = "4"  # stored in an index's meta: a change here needs a rebuild
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\S+")


class Normalized(NamedTuple):
    tokens: list[str]  # code tokens, then prose tokens
    starts: list[int]  # per token, its start offset in the input
    ends: list[int]
    n_code: int  # tokens[:n_code] are code, the rest prose

    @property
    def code(self) -> list[str]:
        return self.tokens[: self.n_code]

# Names kept as text: they are fixed by the language, not chosen by the author.
_KEEP_NAMES = (Name.Builtin, Name.Exception, Name.Function.Magic, Name.Variable.Magic)
# Preprocessor directives are lexed as Comment.Preproc but are code.
_KEEP_COMMENTS = (Comment.Preproc, Comment.PreprocFile)

# Fallback tokenizer: comments, strings, numbers, identifiers, any other character.
_FALLBACK = re.compile(r"""
    (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>\d[\w.]*)
  | (?P<name>[^\W\d]\w*)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_FALLBACK_KEYWORDS = frozenset(re.findall(r"\w+", """
    and as break case catch class const continue def default do elif else enum except export
    extends false final finally fn for from func function if impl import in interface is lambda
    let match new nil none not null or package pass private protected public raise return self
    static struct super switch this throw true try type use var void while with yield
"""))


@lru_cache(maxsize=64)
def _lexer_for(language: str | None):
    """A Pygments lexer for a language alias/name, or None (guess per text)."""
    if not language:
        return None
    from pygments.lexers import find_lexer_class, get_lexer_by_name

    opts = {"stripnl": False, "stripall": False, "ensurenl": False}
    try:
        return get_lexer_by_name(language.lower(), **opts)
    except ClassNotFound:
        cls = find_lexer_class(language)
        return cls(**opts) if cls is not None else None


def _guess(code: str):
    from pygments.lexers import guess_lexer
    from pygments.lexers.special import TextLexer

    try:
        lexer = guess_lexer(code, stripnl=False, stripall=False, ensurenl=False)
    except ClassNotFound:
        return None
    return None if isinstance(lexer, TextLexer) else lexer


# A comment's own delimiters at a line's start or end (#, //, /*, */, a block's " * "
# margin, --, ;): syntax, not prose; dropped so a re-wrapped comment stays the same.
_DELIMITER = re.compile(r"^(?:#+|//+!?|/\*+!?|\*+/|\*+|--+|;+)$")


def _words(value: str, pos: int, toks: list[str], starts: list[int], ends: list[int],
           comment: bool = False) -> None:
    for m in _WORD.finditer(value):
        if comment and _DELIMITER.match(m.group()):
            continue
        toks.append(m.group())
        starts.append(pos + m.start())
        ends.append(pos + m.end())


def _fallback(code: str) -> Normalized:
    toks, starts, ends = [], [], []
    prose: tuple[list[str], list[int], list[int]] = ([], [], [])
    for m in _FALLBACK.finditer(code):
        kind, text = m.lastgroup, m.group()
        if kind == "comment":
            _words(text, m.start(), *prose, comment=True)
            continue
        if kind == "space":
            continue
        if kind == "name" and text.lower() not in _FALLBACK_KEYWORDS:
            text = VAR
        toks.append(text)
        starts.append(m.start())
        ends.append(m.end())
    return Normalized(toks + prose[0], starts + prose[1], ends + prose[2], len(toks))


def normalize_spans(code: str, language: str | None = None, guess: bool = True) -> Normalized:
    """Code and prose tokens with their start and end character offsets in ``code``.

    With no language and ``guess=False`` the regex tokenizer is used (what the
    index does for files of unknown language, so that queries can do the same)."""
    lexer = _lexer_for(language) if language else (_guess(code) if guess else None)
    if lexer is None:
        return _fallback(code)
    toks, starts, ends = [], [], []
    prose: tuple[list[str], list[int], list[int]] = ([], [], [])
    # get_tokens_unprocessed: offsets into the text as given (no newline/tab rewriting).
    for pos, ttype, value in lexer.get_tokens_unprocessed(code):
        if not value or value.isspace() or ttype in Whitespace or (ttype in Text and not value.strip()):
            continue
        if ttype in Comment and not any(ttype in k for k in _KEEP_COMMENTS):
            _words(value, pos, *prose, comment=True)
            continue
        if ttype in String.Doc:
            _words(value, pos, *prose)
        raw = value.strip()
        start = pos + (len(value) - len(value.lstrip()))
        if ttype in Name and not any(ttype in k for k in _KEEP_NAMES):
            value = VAR
        elif ttype in String:
            value = _SPACES.sub("", raw)  # re-indented or re-wrapped docstrings stay the same
        else:
            value = raw
        toks.append(value)
        starts.append(start)
        ends.append(start + len(raw))
    return Normalized(toks + prose[0], starts + prose[1], ends + prose[2], len(toks))


def normalize(code: str, language: str | None = None) -> tuple[list[str], list[int]]:
    """Normalised code tokens and, per token, its start offset in ``code``."""
    n = normalize_spans(code, language)
    return n.code, n.starts[: n.n_code]
