"""Python's definitions and imports, read from a tree-sitter syntax tree.

A definition is what a completion needs to call something correctly: its signature
and docstring, not its body. Each one carries a `summary`, the text a prompt shows,
shaped like a stub file (PEP 484 .pyi):
  * function / method: decorators and the signature, the docstring (its first
    paragraph when long), then `...`; a short one (<= FULL_LINES lines) whole;
  * class: header, docstring, class-level fields, the signatures of its public
    methods and of __init__ / __new__ / __call__, each ending in `...`; a short class
    whole;
  * module-level name: the assignment, or `NAME = ...` when it is long.
A method's summary starts with its class's header line, so the prompt says whose it is.

Imports are every `import` / `from ... import` statement of the file, at any depth
(a function may import what it uses), with the local name each one binds.

tree-sitter rather than `ast`: the document being completed is half-written and does
not parse as Python; tree-sitter recovers around the error and still yields the
imports and definitions around it.
"""

from __future__ import annotations

from dataclasses import dataclass

from codecommons.repocontext.syntax import end_row

FULL_LINES = 8  # functions this short are shown whole: the body is the documentation
FULL_CLASS_LINES = 16
DOC_LINES = 6  # a longer docstring is cut to its first paragraph, at most this long
CLASS_LINES = 40  # a class summary longer than this is cut
KEPT_DUNDERS = frozenset({"__init__", "__new__", "__call__"})


@dataclass(frozen=True)
class Definition:
    """A function, class, method or module-level name of `path` (lines 1-based, inclusive)."""

    name: str
    qualname: str  # Class.method for methods
    kind: str  # "function" | "class" | "method" | "variable"
    path: str
    start_line: int
    end_line: int
    summary: str
    brief: str = ""  # the signature alone (`def f(x) -> int: ...`), when the summary does not fit


@dataclass(frozen=True)
class Import:
    """One imported name. `import a.b` binds `a` (module "a.b", name None);
    `import a.b as m` binds `m`; `from ..a import x as y` binds `y` (module "a",
    level 2, name "x"); `from a import *` has name "*" and binds nothing."""

    module: str
    level: int
    name: str | None
    alias: str
    line: int  # 1-based


def text_of(node) -> str:
    return node.text.decode("utf-8", "replace")


def python_facts(path: str, tree, lines: list[str]) -> tuple[list[Definition], list[Import]]:
    """Definitions (module level and class members) and imports of one Python file."""
    defs: list[Definition] = []
    for stmt in tree.root_node.named_children:
        defs += _definitions(path, stmt, lines)
    return defs, imports_of(tree.root_node)


def exports_of(root) -> list[str] | None:
    """The names of a literal module-level `__all__ = [...]` (or a tuple); None when the
    module has none, or builds it (asyncio's sums its submodules' lists)."""
    for stmt in root.named_children:
        assign = stmt.named_children[0] if stmt.type == "expression_statement" and stmt.named_child_count else None
        if assign is None or assign.type != "assignment":
            continue
        left, right = assign.child_by_field_name("left"), assign.child_by_field_name("right")
        if left is None or text_of(left) != "__all__":
            continue
        if right is None or right.type not in ("list", "tuple"):
            return None
        names = []
        for item in right.named_children:
            content = [c for c in item.named_children if c.type == "string_content"]
            if item.type != "string" or len(content) != 1:
                return None
            names.append(text_of(content[0]))
        return names
    return None


def imports_of(root) -> list[Import]:
    out: list[Import] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "import_statement":
            out += _plain_import(node)
        elif node.type == "import_from_statement":
            out += _from_import(node)
        else:
            stack += node.named_children
    return sorted(out, key=lambda i: i.line)


def _plain_import(node) -> list[Import]:
    out = []
    for n in node.children_by_field_name("name"):
        line = n.start_point.row + 1
        if n.type == "aliased_import":
            module, alias = text_of(n.child_by_field_name("name")), text_of(n.child_by_field_name("alias"))
        else:
            module = text_of(n)
            alias = module.split(".")[0]
        out.append(Import(module, 0, None, alias, line))
    return out


def _from_import(node) -> list[Import]:
    mod = node.child_by_field_name("module_name")
    if mod is None:
        return []
    level, module = 0, text_of(mod)
    if mod.type == "relative_import":
        prefix = next((c for c in mod.named_children if c.type == "import_prefix"), None)
        level = len(text_of(prefix)) if prefix is not None else 0
        module = "".join(text_of(c) for c in mod.named_children if c.type == "dotted_name")
    line = node.start_point.row + 1
    if any(c.type == "wildcard_import" for c in node.named_children):
        return [Import(module, level, "*", "", line)]
    out = []
    for n in node.children_by_field_name("name"):
        if n.type == "aliased_import":
            name, alias = text_of(n.child_by_field_name("name")), text_of(n.child_by_field_name("alias"))
        else:
            name = alias = text_of(n)
        out.append(Import(module, level, name, alias, n.start_point.row + 1))
    return out


_BINDERS = {"assignment": "left", "augmented_assignment": "left", "for_statement": "left",
            "for_in_clause": "left", "named_expression": "name", "as_pattern": "alias"}
_PARAMETERS = {"parameters", "lambda_parameters"}


def bound_names(root) -> set[str]:
    """Every name the code binds anywhere (assignment targets, parameters, loop and
    `with`/`except` variables, nested defs): names that are local somewhere, so not
    worth looking up in the rest of the project."""
    out: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        target = node.child_by_field_name(_BINDERS[node.type]) if node.type in _BINDERS else None
        if target is not None:
            out.update(_identifiers(target))
        elif node.type in _PARAMETERS:
            for p in node.named_children:
                name = p if p.type == "identifier" else p.child_by_field_name("name") or (
                    p.named_children[0] if p.named_child_count else None)
                if name is not None:
                    out.update(_identifiers(name))
        elif node.type in ("function_definition", "class_definition"):
            out.add(text_of(node.child_by_field_name("name")))
        stack += node.named_children
    return out


def _identifiers(node) -> list[str]:
    """Names bound by a target: `a`, `a, (b, c)`, `*d`; not `x.attr` or `x[i]`."""
    if node.type == "identifier":
        return [text_of(node)]
    if node.type in ("attribute", "subscript"):
        return []
    return [n for c in node.named_children for n in _identifiers(c)]


# -- definitions ------------------------------------------------------------------------


def _definitions(path: str, stmt, lines: list[str]) -> list[Definition]:
    node = stmt.child_by_field_name("definition") if stmt.type == "decorated_definition" else stmt
    if node is None:
        return []
    start, end = stmt.start_point.row, end_row(stmt)
    if node.type == "function_definition":
        name = text_of(node.child_by_field_name("name"))
        return [Definition(name, name, "function", path, start + 1, end,
                           _function_summary(stmt, node, lines), _brief(node, lines))]
    if node.type == "class_definition":
        name = text_of(node.child_by_field_name("name"))
        out = [Definition(name, name, "class", path, start + 1, end, _class_summary(stmt, node, lines),
                          _brief(node, lines))]
        header = lines[node.start_point.row].rstrip()
        for member in _members(node):
            fn = member.child_by_field_name("definition") if member.type == "decorated_definition" else member
            if fn is None or fn.type != "function_definition":
                continue
            mname = text_of(fn.child_by_field_name("name"))
            out.append(Definition(mname, f"{name}.{mname}", "method", path, member.start_point.row + 1,
                                  end_row(member), header + "\n" + _function_summary(member, fn, lines),
                                  header + "\n" + _brief(fn, lines)))
        return out
    if node.type == "expression_statement" and node.named_child_count:
        assign = node.named_children[0]
        target = assign.child_by_field_name("left") if assign.type == "assignment" else None
        if target is not None and target.type == "identifier":
            name = text_of(target)
            summary = _assignment_summary(assign, lines, start, end)
            brief = summary if "\n" not in summary else f"{name} = ..."
            return [Definition(name, name, "variable", path, start + 1, end, summary, brief)]
    return []


def _header_stop(node) -> int:
    """The row after a `def`/`class` header: after its `:` (comments between the header
    and the first statement belong to neither)."""
    colon = next((c for c in node.children if c.type == ":"), None)
    if colon is not None:
        return colon.end_point.row + 1
    body = node.child_by_field_name("body")
    return body.start_point.row if body is not None else end_row(node)


def _brief(node, lines: list[str]) -> str:
    """The `def`/`class` line(s) alone, ending in `: ...`."""
    header = lines[node.start_point.row:max(_header_stop(node), node.start_point.row + 1)]
    text = "\n".join(header).rstrip()
    return text + " ..." if text.endswith(":") else text


def _members(class_node) -> list:
    body = class_node.child_by_field_name("body")
    return body.named_children if body is not None else []


def _header(stmt, node, lines: list[str]) -> list[str]:
    """Decorators and the `def`/`class` line(s), up to the body."""
    return lines[stmt.start_point.row:max(_header_stop(node), node.start_point.row + 1)]


def _docstring(node, lines: list[str]) -> list[str]:
    body = node.child_by_field_name("body")
    first = body.named_children[0] if body is not None and body.named_child_count else None
    if first is None or first.type != "expression_statement" or not first.named_child_count \
            or first.named_children[0].type != "string":
        return []
    doc = lines[first.start_point.row:end_row(first)]
    if len(doc) <= DOC_LINES:
        return doc
    para = []
    for ln in doc[:DOC_LINES]:
        if para and not ln.strip():
            break
        para.append(ln)
    quote = '"""' if '"""' in doc[0] else "'''"
    indent = doc[0][: len(doc[0]) - len(doc[0].lstrip())]
    return para + [indent + quote]


def _body_indent(node, lines: list[str]) -> str:
    body = node.child_by_field_name("body")
    if body is None or body.start_point.row == node.start_point.row:
        line = lines[node.start_point.row]
        return line[: len(line) - len(line.lstrip())] + "    "
    line = lines[body.start_point.row]
    return line[: len(line) - len(line.lstrip())]


def _function_summary(stmt, fn, lines: list[str]) -> str:
    start, end = stmt.start_point.row, end_row(stmt)
    if end - start <= FULL_LINES:
        return "\n".join(lines[start:end])
    header = _header(stmt, fn, lines)
    return "\n".join(header + _docstring(fn, lines) + [_body_indent(fn, lines) + "..."])


def _signature_line(stmt, fn, lines: list[str]) -> list[str]:
    """A member's signature ending in `: ...` (decorators kept: @property says a lot)."""
    header = _header(stmt, fn, lines)
    if header and header[-1].rstrip().endswith(":"):
        header = header[:-1] + [header[-1].rstrip() + " ..."]
    return header


def _class_summary(stmt, cls, lines: list[str]) -> str:
    start, end = stmt.start_point.row, end_row(stmt)
    if end - start <= FULL_CLASS_LINES:
        return "\n".join(lines[start:end])
    out = _header(stmt, cls, lines) + _docstring(cls, lines)
    members = _members(cls)
    for k, member in enumerate(members):
        node = member.child_by_field_name("definition") if member.type == "decorated_definition" else member
        if node is None:
            continue
        if node.type == "expression_statement":
            if k == 0 and node.named_child_count and node.named_children[0].type == "string":
                continue  # the docstring, shown above
            rows = lines[member.start_point.row:end_row(member)]
            if len(rows) <= 2:  # fields and constants; long values say little about use
                out += rows
        elif node.type == "function_definition":
            name = text_of(node.child_by_field_name("name"))
            if not name.startswith("_") or name in KEPT_DUNDERS:
                out += _signature_line(member, node, lines)
        elif node.type == "class_definition":
            out += _signature_line(member, node, lines)[:1]
    if len(out) > CLASS_LINES:
        out = out[:CLASS_LINES] + [_body_indent(cls, lines) + "..."]
    return "\n".join(out)


def _assignment_summary(assign, lines: list[str], start: int, end: int) -> str:
    if end - start <= 4:
        return "\n".join(lines[start:end])
    left = text_of(assign.child_by_field_name("left"))
    typ = assign.child_by_field_name("type")
    return f"{left}: {text_of(typ)} = ..." if typ is not None else f"{left} = ..."
