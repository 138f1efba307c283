"""Python definitions as stubs, imports, locally bound names (tree-sitter).

    python -m pytest tests/repocontext/test_pydefs.py -q
"""

from __future__ import annotations

from codecommons.repocontext.pydefs import bound_names, exports_of, imports_of, python_facts
from codecommons.repocontext.syntax import parse

SOURCE = '''\
import os, json as js
import a.b.c
from ..pkg.mod import name as alias, other
from . import sibling
from x import *

LIMIT = 10
TABLE = {
    "a": 1,
    "b": 2,
    "c": 3,
    "d": 4,
}


def short(x: int) -> int:
    return x


@decorator
def documented(first: str,
               second: int = 2) -> list[str]:
    """One line.

    More words that a prompt does not need.
    Even more.
    And more.
    And more.
    """
    out = []
    for i in range(second):
        out.append(first)
    out.reverse()
    out.sort()
    return out


class Big(Base):
    """A big class."""

    size: int = 3

    def __init__(self, size: int) -> None:
        self.size = size
        self.more = 1
        self.again = 2

    @property
    def area(self) -> int:
        return self.size ** 2

    def _hidden(self):
        pass

    def public(self, y):
        return y
        # padding
        # padding
        # padding
        # padding
'''


def facts():
    return python_facts("m.py", parse(SOURCE.encode(), "python"), SOURCE.split("\n"))


def test_definitions_and_their_stubs():
    defs = {d.qualname: d for d in facts()[0]}
    assert set(defs) == {"LIMIT", "TABLE", "short", "documented", "Big", "Big.__init__", "Big.area",
                         "Big._hidden", "Big.public"}
    assert defs["LIMIT"].summary == "LIMIT = 10"
    assert defs["TABLE"].summary == "TABLE = ..."  # long values say little about use
    assert defs["short"].summary == "def short(x: int) -> int:\n    return x"
    doc = defs["documented"].summary
    assert doc.startswith("@decorator\ndef documented(first: str,\n               second: int = 2)")
    assert '"""One line.\n    """' in doc and doc.endswith("    ...") and "out.sort" not in doc
    big = defs["Big"].summary
    assert "size: int = 3" in big and "def __init__(self, size: int) -> None: ..." in big
    assert "@property\n    def area(self) -> int: ..." in big and "def public(self, y): ..." in big
    assert "_hidden" not in big and "self.more" not in big
    area = defs["Big.area"]
    assert area.kind == "method" and area.summary.startswith("class Big(Base):\n    @property")
    start = SOURCE.split("\n").index("class Big(Base):") + 1
    assert (defs["Big"].start_line, defs["Big"].end_line) == (start, SOURCE.count("\n"))


def test_imports_with_the_names_they_bind():
    got = [(i.module, i.level, i.name, i.alias) for i in facts()[1]]
    assert got == [("os", 0, None, "os"), ("json", 0, None, "js"), ("a.b.c", 0, None, "a"),
                   ("pkg.mod", 2, "name", "alias"), ("pkg.mod", 2, "other", "other"),
                   ("", 1, "sibling", "sibling"), ("x", 0, "*", "")]


def test_imports_inside_functions_and_half_written_code_are_found():
    code = ("import top\nfrom pkg import helper\n\ndef f():\n    x = helper.\n\n"
            "def g():\n    from inner import thing\n    return thing\n")
    assert {i.alias for i in imports_of(parse(code.encode(), "python").root_node)} == {"top", "helper", "thing"}
    unclosed = "import top\nfrom pkg import helper\n\ndef f():\n    x = helper(\n"
    assert {i.alias for i in imports_of(parse(unclosed.encode(), "python").root_node)} == {"top", "helper"}


def test_bound_names_are_the_locals():
    code = ("def f(a, b: int = 1, *args, c=2, **kw):\n    x, (y, z) = g()\n    for i in r: pass\n"
            "    with o as w: pass\n    if (n := 3): pass\n    obj.attr = 1\n    lam = lambda q: q\n")
    names = bound_names(parse(code.encode(), "python").root_node)
    assert {"f", "a", "b", "args", "c", "kw", "x", "y", "z", "i", "w", "n", "lam", "q"} <= names
    assert "obj" not in names and "attr" not in names and "g" not in names


def test_a_literal_all_is_read_and_a_computed_one_is_not():
    def exports(code):
        return exports_of(parse(code.encode(), "python").root_node)
    assert exports("__all__ = ('BrokenBarrierError',\n    \"run\", 'ubu')\n") == ["BrokenBarrierError", "run", "ubu"]
    assert exports("__all__ = a.__all__ + b.__all__\n") is None
    assert exports("x = 1\n") is None


def test_comments_above_the_first_statement_are_not_part_of_the_signature():
    code = "def long_one(a, b=2):\n    # why it works this way\n    # and more\n" + "    a += 1\n" * 10
    d = python_facts("m.py", parse(code.encode(), "python"), code.split("\n"))[0][0]
    assert d.brief == "def long_one(a, b=2): ..." and d.summary == "def long_one(a, b=2):\n    ..."
