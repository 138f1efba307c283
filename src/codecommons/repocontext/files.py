"""Which files of a project folder are source worth indexing.

A git checkout lists its files with `git ls-files --cached --others
--exclude-standard`: tracked files plus new ones the user has not added yet, minus
what .gitignore excludes. Any other folder is walked. Either way a file is left out,
with the reason counted, when it is:
  * vendored or generated: under a folder such as node_modules/, vendor/, .venv/,
    site-packages/, build/, dist/, __pycache__/ (GitHub Linguist's vendor.yml lists
    these), or a lock file / minified bundle;
  * not source: a file name extension outside LANGUAGES;
  * huge: over `max_bytes` (default 512 KiB: hand-written modules are far smaller,
    generated tables are not);
  * binary: a NUL byte, or not UTF-8;
  * minified: a line over 1,000 characters on average over 100 per line (The Stack's
    filters for generated code, Kocetkov et al. 2022 §3).
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path, PurePosixPath

# file name extension -> language name (the tree-sitter grammar names, syntax.GRAMMARS)
LANGUAGES = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".tsx": "tsx",
    ".java": "java", ".kt": "kotlin", ".scala": "scala", ".go": "go", ".rs": "rust",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "c_sharp", ".rb": "ruby", ".php": "php", ".swift": "swift", ".lua": "lua",
    ".sh": "bash", ".bash": "bash", ".r": "r", ".jl": "julia", ".dart": "dart", ".ex": "elixir",
    ".exs": "elixir", ".hs": "haskell", ".ml": "ocaml", ".sql": "sql", ".vue": "vue",
}

VENDORED_DIRS = frozenset({
    "node_modules", "bower_components", "vendor", "vendors", "third_party", "third-party",
    "site-packages", "dist-packages", ".venv", "venv", "__pycache__", ".git",
    ".hg", ".svn", "build", "dist", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".eggs",
    ".idea", ".vscode", "target", ".gradle", ".next", ".cache",
})
GENERATED_SUFFIXES = (".min.js", ".min.css", ".bundle.js", "_pb2.py", "_pb2_grpc.py", ".pb.go")

MAX_BYTES = 512 * 1024
MAX_MEAN_LINE = 100  # The Stack: average line length > 100 ...
MAX_LINE = 1000  # ... or a line > 1,000 characters: generated or minified


def language_of(path: str) -> str | None:
    return LANGUAGES.get(PurePosixPath(path).suffix.lower())


def vendored(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return any(p in VENDORED_DIRS or p.endswith(".egg-info") for p in parts[:-1]) \
        or parts[-1].endswith(GENERATED_SUFFIXES)


def is_git_checkout(root: Path) -> bool:
    """Inside a git work tree and not ignored by it (an installed package inside a
    checkout's ignored .venv/ is walked, not listed by git: git would list nothing)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root,
                             capture_output=True, text=True, timeout=10)
        if out.returncode != 0 or out.stdout.strip() != "true":
            return False
        ignored = subprocess.run(["git", "check-ignore", "-q", "."], cwd=root, capture_output=True,
                                 timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return ignored.returncode != 0


def candidate_paths(root: Path, skipped: Counter) -> list[str]:
    """Every file path under `root` (POSIX, relative to it) before the source checks:
    git's listing for a checkout (.gitignore respected), a walk otherwise (which does
    not enter vendored or hidden folders; `skipped` counts them as "vendored folder")."""
    if is_git_checkout(root):
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, capture_output=True, timeout=60, check=True).stdout
        return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        keep = sorted(d for d in dirnames if d not in VENDORED_DIRS
                      and not d.startswith(".") and not d.endswith(".egg-info"))
        skipped["vendored folder"] += len(dirnames) - len(keep)
        dirnames[:] = keep
        rel = Path(dirpath).relative_to(root)
        paths += [(rel / f).as_posix() for f in filenames]
    return sorted(paths)


def source_paths(root: Path, skipped: Counter) -> list[str]:
    """Paths of files that may be source, by name; `skipped` counts the rest by reason."""
    out = []
    for p in candidate_paths(root, skipped):
        if vendored(p):
            skipped["vendored"] += 1
        elif language_of(p) is None:
            skipped["not source"] += 1
        else:
            out.append(p)
    return out


def unusable(data: bytes, max_bytes: int = MAX_BYTES) -> str | None:
    """Why a file's content is not indexed (None: it is)."""
    if len(data) > max_bytes:
        return "huge"
    if b"\0" in data[:8192]:
        return "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    lines = text.splitlines() or [""]
    if max(map(len, lines)) > MAX_LINE or len(text) / len(lines) > MAX_MEAN_LINE:
        return "minified"
    return None
