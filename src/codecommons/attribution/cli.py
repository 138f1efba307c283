"""`commons index build DATASET --out INDEX`, `commons index remove-repo REPO --index INDEX`
and `commons attribute [FILE|-] --index INDEX [--json] [--min-chars N] [--language L] [--quick]`.

`attribute` exits 0 when nothing matched at or above the threshold, 1 when
something did (a copy to attribute), 2 on usage errors. `--quick` answers from the
membership filter alone (no sources, microseconds to milliseconds): 1 means the
text may copy indexed code, 0 means it certainly does not.
"""

from __future__ import annotations

import argparse
import json
import sys


def _index_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="commons index", description="build or edit the attribution index")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="index a curated dataset's data/*.parquet (incremental)")
    b.add_argument("dataset")
    b.add_argument("--out", required=True, help="index file (SQLite)")
    b.add_argument("--quiet", action="store_true")
    r = sub.add_parser("remove-repo", help="delete a repository's files from the index (opt-out)")
    r.add_argument("repo")
    r.add_argument("--index", required=True)
    return p


def index_main(argv: list[str]) -> int:
    try:
        args = _index_parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from codecommons.attribution.build import build
    from codecommons.codeindex.store import remove_repo

    try:
        if args.cmd == "build":
            stats = build(args.dataset, args.out, progress=not args.quiet)
            print(json.dumps(stats))
        else:
            print(f"removed {remove_repo(args.index, args.repo)} files of {args.repo}")
    except (FileNotFoundError, ValueError) as e:
        print(f"commons index: {e}", file=sys.stderr)
        return 2
    return 0


def _attribute_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="commons attribute",
                                description="find indexed files that a piece of code copies")
    p.add_argument("file", nargs="?", default="-", help="code to check (default: stdin)")
    p.add_argument("--index", required=True)
    p.add_argument("--json", action="store_true", help="one JSON list of matches")
    p.add_argument("--min-chars", type=int, default=150, help="normalised characters a match needs")
    p.add_argument("--language", help="the code's language (default: from FILE's name, else the index's)")
    p.add_argument("--quick", action="store_true",
                   help="membership filter only: may this copy indexed code? (no sources)")
    return p


def _language_for(path: str) -> str | None:
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return get_lexer_for_filename(path).name
    except ClassNotFound:
        return None


def attribute_main(argv: list[str]) -> int:
    try:
        args = _attribute_parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    from codecommons.codeindex.search import CodeIndex

    try:
        if args.file == "-":
            text, language = sys.stdin.read(), args.language
        else:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                text = f.read()
            language = args.language or _language_for(args.file)
        index = CodeIndex(args.index, args.min_chars)
        if args.quick:
            run = index.longest_run(text, language)
            found = run >= args.min_chars
            print(json.dumps({"may_match": found, "longest_run_chars": run}) if args.json else
                  f"{'may copy indexed code' if found else 'not in the index'} "
                  f"(longest run {run} normalised characters)")
            return 1 if found else 0
        matches = index.attribute(text, language)
    except (OSError, ValueError) as e:
        print(f"commons attribute: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([m.to_dict() for m in matches], indent=2))
    elif not matches:
        print("no match")
    else:
        head = ("repo", "path", "license", "type", "query", "source", "length", "similarity")
        rows = [(m.repo, m.path, m.license, m.license_type, f"{m.query_start}-{m.query_end}",
                 f"{m.source_start}-{m.source_end}", str(m.length), f"{m.similarity:.2f}") for m in matches]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for r in [head, *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 1 if matches else 0


main = attribute_main
