"""Python modules of a project: module names, imports resolved to files and
definitions, module outlines. A part of RepoIndex (index.py), which keeps the tables
it reads current.

Module names come from the package folders above a file (those with an __init__.py,
the project folder included, e.g. the standard library's email/); an absolute import
whose module is not found that way is matched by the dotted path's tail (namespace
packages, src/ layouts, scripts next to their helpers). Relative imports are resolved
against the importing file's folder. A name is followed through re-exports
(`from .impl import X` in a package's __init__), star imports and plain aliases
(`Charset = _charset.Charset`), at most MAX_RESOLVE_DEPTH steps (import cycles exist).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from codecommons.repocontext.pydefs import Definition, Import
from codecommons.repocontext.syntax import Chunk

MAX_RESOLVE_DEPTH = 6  # re-export chains (pkg/__init__ -> pkg/_impl) are short; cycles exist
OUTLINE_LINES = 30  # a module's outline: its top-level signatures, at most this many lines
_ALIAS = re.compile(r"[A-Za-z_]\w*\s*(?::[^=\n]*)?=\s*([A-Za-z_][\w.]*)\s*(?:#.*)?")  # X = mod.Y


@dataclass(frozen=True)
class ModuleRef:
    """An import that names a module (`import a.b as m`, `from pkg import sub`)."""

    path: str


class PythonModules:
    """Resolution over RepoIndex's tables: `entries` (path -> FileEntry), `_modules`
    (module -> path), `_module_of` (path -> module), `_by_tail` (last part -> [(parts,
    path)]), `_outlines` (a cache the index clears when it changes)."""

    entries: dict
    _modules: dict[str, str]
    _module_of: dict[str, str]
    _by_tail: dict[str, list[tuple[tuple[str, ...], str]]]
    _outlines: dict[str, Chunk | None]

    def module_name_of(self, path: str) -> str | None:
        return self._module_of.get(path)

    def module_path(self, module: str) -> str | None:
        """The file of an absolute module name: exact, else the unique file (or the
        shallowest) whose dotted path ends with it."""
        if module in self._modules:
            return self._modules[module]
        parts = tuple(module.split("."))
        found = [p for tail, p in self._by_tail.get(parts[-1], []) if tail[-len(parts):] == parts]
        return min(found, key=lambda p: (p.count("/"), p)) if found else None

    def module_of_relative(self, from_path: str, level: int, module: str) -> str | None:
        """The file `from <level dots><module> import ...` in `from_path` names."""
        base = PurePosixPath(from_path).parent
        for _ in range(level - 1):
            base = base.parent
        target = base.joinpath(*module.split(".")) if module else base
        for cand in (f"{target}.py", f"{target}/__init__.py", f"{target}.pyi"):
            cand = cand.removeprefix("./")
            if cand in self.entries:
                return cand
        return None

    def import_target(self, from_path: str, imp: Import) -> str | None:
        """The file of the module an import statement names."""
        if imp.level:
            return self.module_of_relative(from_path, imp.level, imp.module)
        return self.module_path(imp.module)

    def resolve_import(self, from_path: str, imp: Import, depth: int = 0) -> Definition | ModuleRef | None:
        """What the name an import binds refers to, inside this project."""
        if imp.name is None:  # `import a.b` binds a; `import a.b as m` binds a.b
            top = imp.module.split(".")[0]
            target = self.module_path(top if imp.alias == top else imp.module)
            return ModuleRef(target) if target else None
        base = self.import_target(from_path, imp)
        sub = (f"{imp.module}.{imp.name}" if imp.module else imp.name)
        sub_path = self.module_of_relative(from_path, imp.level, sub) if imp.level \
            else self.module_path(sub)
        if base is not None:
            found = self.resolve_name(base, imp.name, depth + 1)
            if found is not None:
                return found
        return ModuleRef(sub_path) if sub_path else None

    def resolve_name(self, path: str, name: str, depth: int = 0) -> Definition | ModuleRef | None:
        """What `name` means at the top level of `path`: a definition there (an alias
        such as `X = mod.Y` followed), or what an import there binds it to (re-exports
        followed), or what a star import brings."""
        entry = self.entries.get(path)
        if entry is None or depth > MAX_RESOLVE_DEPTH:
            return None
        own = [d for d in entry.definitions if d.name == name and d.kind != "method"]
        if own:  # a class or function over a plain assignment of the same name
            d = next((d for d in own if d.kind != "variable"), own[0])
            alias = _ALIAS.fullmatch(d.summary) if d.kind == "variable" else None
            if alias and alias[1] != name:  # Charset = _charset.Charset: what it names
                parts = alias[1].split(".")
                target = self.resolve_name(path, parts[0], depth + 1)
                for attr in parts[1:]:
                    target = self.member(target, attr, depth + 1)
                return target or d
            return d
        for imp in entry.imports:
            if imp.alias == name:
                found = self.resolve_import(path, imp, depth)
                if found is not None:
                    return found
        for imp in entry.imports:
            if imp.name == "*":
                base = self.import_target(path, imp)
                found = self.resolve_name(base, name, depth + 1) if base else None
                if found is not None:
                    return found
        return None

    def member(self, target: Definition | ModuleRef | None, attr: str,
               depth: int = 0) -> Definition | ModuleRef | None:
        """`target.attr` for a module (a name in it, or its submodule); None otherwise
        (a class's members are in its summary)."""
        if not isinstance(target, ModuleRef):
            return None
        found = self.resolve_name(target.path, attr, depth + 1)
        if found is None and (module := self.module_name_of(target.path)):
            sub = self.module_path(f"{module}.{attr}")
            found = ModuleRef(sub) if sub else None
        return found

    def outline(self, path: str) -> Chunk | None:
        """A module's API as one chunk, a signature line per name: its `__all__`, else
        its public definitions and, for a package's __init__, what it re-exports (its
        from-imports, the public names of its star imports); then its other top-level
        names, public first. For `import m` ... `m.` with nothing typed yet."""
        if path not in self._outlines:
            entry = self.entries.get(path)
            names = self.exported_names(path)
            # then its other definitions (public ones outside __all__, then private ones:
            # a package's modules use each other's)
            own = [d.name for d in (entry.definitions if entry else ()) if d.kind != "method"
                   and not d.name.startswith("__") and d.name not in names]
            names += sorted(own, key=lambda n: n.startswith("_"))
            lines = [self._signature(path, n) for n in dict.fromkeys(names)]
            lines = [ln for ln in lines if ln]
            if len(lines) > OUTLINE_LINES:
                lines = lines[:OUTLINE_LINES] + ["..."]
            last = max((d.end_line for d in entry.definitions), default=1) if entry else 1
            self._outlines[path] = Chunk(path, 1, last, "\n".join(lines), "definition") if lines else None
        return self._outlines[path]

    def exported_names(self, path: str, depth: int = 0) -> list[str]:
        entry = self.entries.get(path)
        if entry is None or depth > 2:
            return []
        if entry.exports is not None:
            return entry.exports
        names = [d.name for d in entry.definitions if d.kind != "method" and not d.name.startswith("_")]
        if PurePosixPath(path).name == "__init__.py":
            for imp in entry.imports:
                if imp.name == "*":
                    base = self.import_target(path, imp)
                    names += self.exported_names(base, depth + 1) if base else []
                elif imp.name and not imp.alias.startswith("_") and self.import_target(path, imp):
                    names.append(imp.alias)
        return list(dict.fromkeys(names))

    def _signature(self, path: str, name: str) -> str:
        target = self.resolve_name(path, name)
        if not isinstance(target, Definition):
            return ""
        head = target.brief or target.summary.split("\n")[0]
        if target.name != name:  # re-exported under another name
            head = f"{name} = {target.name}  # {head.split(chr(10))[0]}"
        return head



def module_name(path: str, packages: set[str], root_name: str) -> str:
    """Dotted module name of a .py file from the package folders above it."""
    parts = PurePosixPath(path).with_suffix("").parts
    dirs, stem = list(parts[:-1]), parts[-1]
    k = len(dirs)
    while k > 0 and "/".join(dirs[:k]) in packages:
        k -= 1
    pkg = dirs[k:]
    if k == 0 and "" in packages:  # the project folder is itself a package (email/, xml/)
        pkg = [root_name] + pkg
    names = pkg + ([] if stem == "__init__" else [stem])
    return ".".join(names) or root_name

