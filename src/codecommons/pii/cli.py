"""`commons pii`: redact PII and secrets in a file or stdin.

    commons pii redact FILE                 # redacted text on stdout
    commons pii redact - < FILE             # the same, from stdin (also: no FILE)
    commons pii redact FILE --json          # the findings, as JSON, instead
    commons pii redact FILE --kinds email,key

Kinds: email, ip_address, key, password, private_key (default: all). Replacements
are StarCoder's (<EMAIL>, <KEY>, <PASSWORD>, private IPs); see redact.py.

Input that is not valid UTF-8 is decoded with errors="surrogateescape": each bad
byte becomes one lone surrogate and is written back as the same byte, so the
output differs from the input only where PII was (with "replace" every bad byte
would silently become U+FFFD). A warning says so on stderr; the exit code stays 0.
JSON offsets count code points of the decoded text (a bad byte counts as one).
Exit codes: 0 done, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys

from codecommons.pii.detect import ALL_KINDS, check_kinds
from codecommons.pii.redact import redact


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="commons pii", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("redact", help="redact PII in a file or stdin")
    r.add_argument("file", nargs="?", default="-", help="a file, or - for stdin (default)")
    r.add_argument("--json", action="store_true", help="print the findings as JSON instead")
    r.add_argument("--kinds", default=",".join(ALL_KINDS),
                   help=f"comma-separated subset of: {', '.join(ALL_KINDS)}")
    return ap


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"commons pii: warning: {name} is not valid UTF-8 (byte {e.start}); undecodable "
              "bytes are passed through unchanged", file=sys.stderr)
        return raw.decode("utf-8", "surrogateescape")


def _write(text: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a plain text stream (some test harnesses)
        sys.stdout.write(data.decode("utf-8", "replace"))
        return
    sys.stdout.flush()
    out.write(data)
    out.flush()


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error (or --help)
        return int(e.code or 0)
    try:
        kinds = check_kinds(k.strip() for k in args.kinds.split(",") if k.strip())
        if not kinds:
            raise ValueError(f"--kinds is empty; valid kinds: {', '.join(ALL_KINDS)}")
        raw = _read(args.file)
    except ValueError as e:
        print(f"commons pii: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"commons pii: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    text = _decode(raw, args.file)
    result = redact(text, kinds)
    if args.json:
        rows = [{"kind": f.kind, "start": f.start, "end": f.end, "detector": f.detector,
                 "value": f.value} for f in result.findings]
        _write(json.dumps(rows, indent=2) + "\n")
    else:
        _write(result.text)
    return 0
