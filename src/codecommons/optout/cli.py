"""`commons optout`: authors' opt-out, as The Stack's "Am I in The Stack?" and its
opt-out process.

    commons optout add github.com/org/repo --note "request #12"   # one repository
    commons optout add https://github.com/org/*                   # a whole user / organisation
    commons optout add jane@example.org                           # an author, by email
    commons optout remove github.com/org/repo
    commons optout list
    commons optout check github.com/org/repo --dataset runs/stack  # is it in the dataset?
    commons optout pending                                        # requests (web UI form) waiting
    commons optout approve 3f2a9c1b0d4e                           # -> their entries in the registry
    commons optout reject 3f2a9c1b0d4e

Values and matching: registry.py; what an author opt-out catches: authors.py;
the request queue: requests.py. `--registry FILE` picks the registry (default
$COMMONS_HOME/optout.jsonl); requests live beside it. Opt-out applies to curation
runs made after an entry is added; `check --dataset` says whether a dataset
already built contains it, and `commons index remove-repo` takes a repository out
of an attribution index.

`check VALUE [--dataset DIR]` prints whether VALUE is opted out (and by which
entry), and with --dataset whether any row of DIR/data/*.parquet is from that
repository (or organisation, for `org/*`) or contains that email in its content.
Exit codes: 0 not in the dataset (always 0 without --dataset), 1 in the dataset,
`remove` of a value not in the registry; 2 usage error: a value that is neither a
repository nor an email, an unreadable registry or dataset, an unknown request.
"""

from __future__ import annotations

import argparse
import sys

from codecommons.optout import requests
from codecommons.optout.registry import Registry, add, parse_value, registry_path, remove


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="commons optout", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    reg = argparse.ArgumentParser(add_help=False)
    reg.add_argument("--registry", metavar="FILE", default=None,
                     help="registry file (default: $COMMONS_HOME/optout.jsonl)")
    a = sub.add_parser("add", parents=[reg], help="opt a repository, organisation or author out")
    a.add_argument("value", metavar="REPO|EMAIL")
    a.add_argument("--note", default="", help="why / the request it answers")
    r = sub.add_parser("remove", parents=[reg], help="take an entry out of the registry")
    r.add_argument("value", metavar="REPO|EMAIL")
    sub.add_parser("list", parents=[reg], help="print the registry")
    c = sub.add_parser("check", parents=[reg],
                       help="is it opted out, and (--dataset) is it in a dataset? exit 1 if it is")
    c.add_argument("value", metavar="REPO|EMAIL")
    c.add_argument("--dataset", metavar="DIR", help="a curated dataset (DIR/data/*.parquet)")
    c.add_argument("--limit", type=int, default=20, help="matching files to list (default 20)")
    sub.add_parser("pending", parents=[reg], help="list the opt-out requests waiting for a decision")
    ap_ = sub.add_parser("approve", parents=[reg], help="add a request's repositories and authors")
    ap_.add_argument("id", metavar="ID")
    rj = sub.add_parser("reject", parents=[reg], help="decline a request (nothing is added)")
    rj.add_argument("id", metavar="ID")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    path = registry_path(args.registry)
    try:
        if args.command == "add":
            entry, new = add(args.value, args.note, path)
            print(f"{'opted out' if new else 'already opted out'}: {entry.kind} {entry.value} "
                  f"(added {entry.added}) in {path}")
            return 0
        if args.command == "remove":
            entry = remove(args.value, path)
            if entry is None:
                print(f"{parse_value(args.value)[1]} is not in {path}", file=sys.stderr)
                return 1
            print(f"removed: {entry.kind} {entry.value} from {path}")
            return 0
        if args.command == "list":
            return _list(Registry.load(path))
        if args.command == "pending":
            return _pending(path)
        if args.command == "approve":
            return _approve(args.id, path)
        if args.command == "reject":
            req = requests.reject(args.id, path)
            print(f"rejected request {req.id} from {req.name} <{req.contact}>; nothing was added")
            return 0
        return _check(args, Registry.load(path))
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"commons optout: {e}", file=sys.stderr)
        return 2


def _list(reg: Registry) -> int:
    if not reg.entries:
        print(f"{reg.path}: no entries")
        return 0
    width = max(len(e.value) for e in reg.entries)
    for e in reg.entries:
        print(f"{e.kind:<6}  {e.value:<{width}}  {e.added:<10}  {e.note}".rstrip())
    print(f"{len(reg.entries)} entries in {reg.path}")
    return 0


def _pending(path) -> int:
    waiting = requests.pending(path)
    if not waiting:
        print(f"no opt-out requests waiting ({requests.requests_path(path)})")
        return 0
    for r in waiting:
        print(f"{r.id}  {r.created}  {r.name} <{r.contact}>")
        for v in r.repos:
            print(f"    repo    {v}")
        for v in r.authors:
            print(f"    author  {v}")
        if r.note:
            print("    note    " + r.note.replace("\n", "\n            "))
    print(f"{len(waiting)} request(s) waiting: commons optout approve ID | reject ID")
    return 0


def _approve(request_id: str, path) -> int:
    entries = requests.approve(request_id, path)
    print(f"approved request {request_id.strip()}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} "
          f"in {path}")
    for e in entries:
        print(f"  {e.kind:<6}  {e.value}")
    print("The next `commons curate` run excludes them (datasets already built are not rewritten; "
          "`commons optout check VALUE --dataset DIR` finds them there).")
    repos = [e.value for e in entries if e.kind == "repo"]
    if repos:
        print("Take them out of an attribution index with:")
        for v in repos:
            print(f"  commons index remove-repo {v} --index INDEX")
    return 0


def _check(args, reg: Registry) -> int:
    from codecommons.optout.lookup import find_in_dataset

    kind, value = parse_value(args.value)
    by = reg.match_email(value) if kind == "author" else reg.match_repo(value)
    if by is None:
        print(f"{value}: not opted out ({reg.path})")
    else:
        entry = reg.find("author" if kind == "author" else "repo", by)
        via = "" if by == value else f" by {by}"
        print(f"{value}: opted out{via} (added {entry.added}{', ' + entry.note if entry.note else ''})")
    if not args.dataset:
        return 0
    hits, n = [], 0
    for repo, file_path in find_in_dataset(args.dataset, kind, value):
        n += 1
        if len(hits) < max(args.limit, 0):
            hits.append(f"{repo}/{file_path}")
    if not n:
        print(f"not in the dataset {args.dataset}")
        return 0
    print(f"IN the dataset {args.dataset}: {n} file(s)")
    for h in hits:
        print(f"  {h}")
    if n > len(hits):
        print(f"  ... and {n - len(hits)} more")
    return 1
