"""`commons repo`: the repository index that completion context comes from.

    commons repo index DIR                  # build it: files, chunks, definitions, what was skipped
    commons repo index DIR --watch 2        # ...and keep it current, printing each change
    commons repo query DIR --path pkg/app.py --line 42 [--column 8]
                                            # what a completion at that point would get as context

`query` places the cursor in the file as it is on disk (at the end of the line when
no column is given), withholds that file from the index as a server does with the
document it completes, and prints the chunks select_context picks, in prompt
order, with their kind, place and size. Tokens are estimated at 3 characters each
(as `commons lsp` does) unless --chars-per-token says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

from codecommons.config import add_arguments, field, from_args


@dataclass
class QueryConfig:
    path: str = field("", "the file being completed, relative to DIR")
    line: int = field(0, "cursor line (1-based)")
    column: int = field(-1, "cursor column (0-based characters; -1: end of the line)")
    budget: int = field(1024, "context budget in tokens")
    mode: str = field("both", "off | definitions | retrieval | both")
    chars_per_token: float = field(3.0, "token estimate for the budget")
    brief: bool = field(False, "headers only, no chunk text")

    def __post_init__(self) -> None:
        problems = []
        if not self.path:
            problems.append("--path FILE is required")
        if self.line < 1:
            problems.append(f"--line must be >= 1, got {self.line}")
        if self.budget < 1 or self.chars_per_token <= 0:
            problems.append("--budget and --chars-per-token must be > 0")
        if problems:
            raise ValueError("\n".join(problems))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="commons repo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ix = sub.add_parser("index", help="build (and optionally watch) a project's index; print stats")
    ix.add_argument("dir")
    ix.add_argument("--json", action="store_true", help="stats as JSON")
    ix.add_argument("--watch", type=float, default=0.0, metavar="SECONDS",
                    help="refresh every SECONDS and print what changed (Ctrl-C stops)")
    q = sub.add_parser("query", help="show the context a completion at --path/--line would get")
    q.add_argument("dir")
    add_arguments(q, QueryConfig)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "index":
            return _index(args)
        return _query(args.dir, from_args(QueryConfig, args))
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"commons repo: {e}", file=sys.stderr)
        return 1


def _index(args) -> int:
    from codecommons.repocontext.index import RepoIndex

    index = RepoIndex(args.dir)
    stats = {**index.stats(), "seconds": round(index.last_refresh.seconds, 3)}
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print(f"{stats['root']}: {stats['files']} files, {stats['chunks']} chunks, "
              f"{stats['definitions']} definitions, {stats['python_modules']} Python modules "
              f"in {stats['seconds']:.2f} s")
        print(f"  languages: {stats['languages']}")
        print(f"  skipped: {stats['skipped']}")
    while args.watch > 0:
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0
        r = index.refresh()
        if r.added or r.changed or r.removed:
            print(f"{time.strftime('%H:%M:%S')} added {r.added} changed {r.changed} "
                  f"removed {r.removed} ({r.seconds * 1000:.0f} ms)", flush=True)
    return 0


def _query(root: str, c: QueryConfig) -> int:
    from codecommons.repocontext.index import RepoIndex
    from codecommons.repocontext.select import select_context

    index = RepoIndex(root)
    path = index.relative(c.path)
    full = index.root / path
    if not full.is_file():
        raise FileNotFoundError(f"no file {path} in {index.root}")
    lines = full.read_text(encoding="utf-8").split("\n")
    if c.line > len(lines):
        raise ValueError(f"{path} has {len(lines)} lines; --line {c.line} is past its end")
    line = lines[c.line - 1]
    col = len(line) if c.column < 0 else min(c.column, len(line))
    prefix = "\n".join(lines[: c.line - 1] + [line[:col]])
    suffix = "\n".join([line[col:]] + lines[c.line:])
    t0 = time.perf_counter()
    chunks = select_context(index, path, prefix, suffix, c.budget,
                            lambda s: int(len(s) / c.chars_per_token) + 1, mode=c.mode)
    ms = (time.perf_counter() - t0) * 1000
    total = 0
    for ch in chunks:
        n = int(len(f"{ch.path}\n{ch.text}\n") / c.chars_per_token) + 1
        total += n
        print(f"--- {ch.kind} {ch.path}:{ch.start_line}-{ch.end_line} (~{n} tokens)")
        if not c.brief:
            print(ch.text)
    print(f"{len(chunks)} chunks, ~{total} of {c.budget} tokens, selected in {ms:.1f} ms "
          f"(mode {c.mode})", file=sys.stderr)
    return 0
