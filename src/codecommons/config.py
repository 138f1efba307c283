"""Typed configs: dataclasses with defaults and help, turned into argparse flags.

Each field's `metadata["help"]` becomes the flag's help; `__post_init__` checks
values early with messages that name the flag. `manifest` records the resolved
config with the git commit, to be saved beside every output.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import typing
from pathlib import Path


def field(default, help: str, **kw):
    return dataclasses.field(default=default, metadata={"help": help, **kw})


def add_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Flags for the fields of `cls`, except those in `skip` (given as positionals)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata.get("help", "")
        if hints[f.name] is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default,
                                help=help_)
        elif typing.get_origin(hints[f.name]) is tuple:  # repeatable: --repo A --repo B
            parser.add_argument(flag, action="append", type=typing.get_args(hints[f.name])[0],
                                default=None, metavar=f.name.upper(), help=f"{help_} (repeatable)")
        else:
            typ = hints[f.name]
            parser.add_argument(flag, type=typ, default=f.default, metavar=f.name.upper(),
                                help=f"{help_} (default: {f.default!r})")


def from_args(cls: type, args: argparse.Namespace):
    def value(f):
        v = getattr(args, f.name)
        return f.default if v is None and isinstance(f.default, tuple) else (
            tuple(v) if isinstance(v, list) else v)

    return cls(**{f.name: value(f) for f in dataclasses.fields(cls)})


def git_commit(path: Path | None = None) -> str:
    """The commit of the code that is running, or "unknown" outside a git checkout."""
    here = path or Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def manifest(config) -> dict:
    return {"config": dataclasses.asdict(config), "git_commit": git_commit()}
