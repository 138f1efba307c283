"""Where curation reads code from: folders, git repositories, archives, python-env.

Every source yields `Repo`s, each with its files as `FileRecord`s. A file that
cannot be used is still yielded, with `reason` set and no text, so that it lands in
the exclusion output instead of stopping the run: binary files, invalid UTF-8,
files over the size cap, symlinks (loops included), unreadable files, members of
broken archives.

`python-env` is the Python installation itself: the standard library and every
installed distribution, each a repository, with the licence its metadata and
licence files declare: real, multi-licence code on every machine.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sysconfig
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from codecommons.pkginfo import parse as parse_metadata

MAX_FILE_BYTES = 1 << 20  # 1 MiB, as The Stack's per-file cap
BINARY_SNIFF = 8192


@dataclass
class FileRecord:
    path: str  # relative to the repository root, "/"-separated
    text: str | None
    size: int
    reason: str | None = None  # why the file cannot be used; None when usable


@dataclass
class Repo:
    name: str
    origin: str  # where it came from (folder, URL, archive, dist-info)
    # files(select=None): re-iterable; `select(path)` limits which files are read
    # (the licence pass reads only licence-like files).
    files: Callable[..., Iterator[FileRecord]]
    # The package metadata (METADATA / PKG-INFO text) of a python-env distribution or
    # of a source tree with a PKG-INFO at its root: its licence is the fallback for
    # files no licence file covers, its authors are matched against opt-outs.
    metadata_text: str | None = field(default=None, repr=False)


def decode(data: bytes, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, str | None]:
    """(text, None) for usable UTF-8 text, else (None, reason)."""
    if len(data) > max_bytes:
        return None, f"too_large>{max_bytes}"
    if b"\0" in data[:BINARY_SNIFF]:
        return None, "binary"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "invalid_encoding"


def _read(path: Path, rel: str, max_bytes: int) -> FileRecord:
    if path.is_symlink():
        return FileRecord(rel, None, 0, "symlink")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return FileRecord(rel, None, size, f"too_large>{max_bytes}")
        text, reason = decode(path.read_bytes(), max_bytes)
    except OSError as e:
        return FileRecord(rel, None, 0, f"unreadable:{e.strerror or type(e).__name__}")
    return FileRecord(rel, text, size, reason)


def folder_files(root: Path, names: list[str] | None = None, max_bytes: int = MAX_FILE_BYTES,
                 select: Callable[[str], bool] | None = None) -> Iterator[FileRecord]:
    """Files under `root` in sorted order (deterministic output), never following
    symlinked folders (so a link loop cannot recurse)."""
    if names is None:
        names = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            rel_dir = os.path.relpath(dirpath, root)
            names += [os.path.normpath(os.path.join(rel_dir, f)) for f in filenames]
            names += [os.path.normpath(os.path.join(rel_dir, d)) for d in dirnames
                      if os.path.islink(os.path.join(dirpath, d))]
    for rel in sorted(names):
        if select is None or select(rel.replace(os.sep, "/")):
            yield _read(root / rel, rel.replace(os.sep, "/"), max_bytes)


def from_folder(path: Path, name: str | None = None) -> Repo:
    path = path.resolve()
    meta = _root_metadata(path)
    if (path / ".git").exists():
        out = subprocess.run(["git", "-C", str(path), "ls-files", "-z"], capture_output=True,
                             check=True)
        tracked = [n for n in out.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
        return Repo(name or path.name, str(path),
                    lambda select=None: folder_files(path, tracked, select=select), meta)
    return Repo(name or path.name, str(path), lambda select=None: folder_files(path, select=select),
                meta)


def _root_metadata(path: Path) -> str | None:
    """A source distribution's PKG-INFO at the root of a folder, if any."""
    pkg_info = path / "PKG-INFO"
    if pkg_info.is_file() and not pkg_info.is_symlink():
        text, _ = decode(pkg_info.read_bytes())
        return text
    return None


def from_git_url(url: str, workdir: Path) -> Repo:
    """A shallow clone (history is not needed) into `workdir`."""
    dest = workdir / Path(url.rstrip("/")).name.removesuffix(".git")
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", url, str(dest)], check=True,
                   capture_output=True, timeout=600)
    return from_folder(dest, name=url.rstrip("/").removesuffix(".git").split("://")[-1])


def from_archive(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Repo:
    name = path.name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar").removesuffix(".zip")
    return Repo(name, str(path), lambda select=None: archive_files(path, max_bytes, select))


def archive_files(path: Path, max_bytes: int = MAX_FILE_BYTES,
                  select: Callable[[str], bool] | None = None) -> Iterator[FileRecord]:
    """Members of a .tar(.gz)/.zip, read in memory (never extracted, so a member
    named ../../etc/passwd cannot write anywhere)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for info in sorted(z.infolist(), key=lambda i: i.filename):
                    if not info.is_dir() and (select is None or select(info.filename)):
                        yield _member(info.filename, info.file_size, lambda i=info: z.read(i), max_bytes)
            return
        with tarfile.open(path) as t:
            members = sorted(t.getmembers(), key=lambda m: m.name)
            for m in members:
                if select is not None and not select(m.name):
                    continue
                if m.issym() or m.islnk():
                    yield FileRecord(m.name, None, 0, "symlink")
                elif m.isfile():
                    yield _member(m.name, m.size, lambda m=m: t.extractfile(m).read(), max_bytes)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        yield FileRecord(path.name, None, 0, f"broken_archive:{type(e).__name__}")


def _member(name: str, size: int, read: Callable[[], bytes], max_bytes: int) -> FileRecord:
    if size > max_bytes:
        return FileRecord(name, None, size, f"too_large>{max_bytes}")
    text, reason = decode(read(), max_bytes)
    return FileRecord(name, text, size, reason)


def python_env() -> Iterator[Repo]:
    """The standard library, then every installed distribution, sorted by name."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    names = [str(p.relative_to(stdlib)) for p in sorted(stdlib.rglob("*.py"))
             if "site-packages" not in p.parts and "__pycache__" not in p.parts]
    license_txt = stdlib / "LICENSE.txt"
    if license_txt.exists():
        names.append("LICENSE.txt")
    yield Repo("python/cpython-stdlib", str(stdlib),
               lambda select=None: folder_files(stdlib, names, select=select))
    for _, dist, meta in sorted(_distributions(), key=lambda t: t[0].lower()):
        yield _dist_repo(dist, meta)


def _distributions() -> Iterator[tuple[str, md.Distribution, str]]:
    """(name, distribution, metadata text) of every installed distribution with a name;
    the first found wins when two share one (as importlib.metadata resolves imports)."""
    seen = set()
    for dist in md.distributions():
        meta = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        name = parse_metadata(meta).name
        if name and name.lower() not in seen:
            seen.add(name.lower())
            yield name, dist, meta


def _some_of_python_env(names: list[str]) -> Iterator[Repo]:
    wanted = _python_env_selection(names)
    for repo in python_env():
        if repo.name.lower() in wanted:
            yield repo


def _python_env_selection(names: list[str]) -> set[str]:
    """Lower-cased repo names asked for, all of which exist (else a clear error)."""
    wanted = {n.strip().lower() for n in names if n.strip()}
    have = {"python/cpython-stdlib"} | {f"pypi/{name}".lower() for name, _, _ in _distributions()}
    if not wanted or wanted - have:
        raise FileNotFoundError(f"python-env has no {', '.join(sorted(wanted - have)) or 'repo named'}: "
                                f"name the standard library python/cpython-stdlib and distributions "
                                f"pypi/NAME, comma-separated")
    return wanted


def _unknown_source(spec: str) -> FileNotFoundError:
    return FileNotFoundError(f"{spec}: not a folder, a .tar.gz/.zip archive, a git URL, "
                             f"'python-env' or 'python-env:REPO[,REPO...]'")


def check_source(spec: str) -> None:
    """Fail before any worker starts on a SOURCE that cannot be opened (git URLs
    are checked when cloned)."""
    if spec == "python-env" or "://" in spec or spec.startswith("git@"):
        return
    if spec.startswith("python-env:"):
        _python_env_selection(spec.split(":", 1)[1].split(","))
        return
    if not Path(spec).expanduser().exists():
        raise _unknown_source(spec)


def _dist_repo(dist: md.Distribution, meta: str) -> Repo:
    root = Path(dist.locate_file(""))
    files = [str(f) for f in dist.files or [] if not str(f).startswith("..")]
    names = sorted(f for f in files if not f.endswith((".pyc", "RECORD", "INSTALLER", "REQUESTED")))
    # RECORD is no code, but says which packages the dist-info's licence files cover:
    # offered to the licence pass (a `select`), never as a document.
    with_record = sorted(f for f in files if not f.endswith((".pyc", "INSTALLER", "REQUESTED")))
    return Repo(f"pypi/{parse_metadata(meta).name}", str(root),
                lambda select=None: folder_files(root, names if select is None else with_record,
                                                 select=select),
                metadata_text=meta or None)


def open_source(spec: str, workdir: Path | None = None) -> Iterator[Repo]:
    """SOURCE on the command line -> repositories."""
    if spec == "python-env":
        yield from python_env()
        return
    if spec.startswith("python-env:"):  # python-env:pypi/click,python/cpython-stdlib
        yield from _some_of_python_env(spec.split(":", 1)[1].split(","))
        return
    if "://" in spec or spec.startswith("git@"):
        yield from_git_url(spec, workdir or Path(tempfile.mkdtemp(prefix="commons-clone-")))
        return
    path = Path(spec).expanduser()
    if path.is_file() and (path.suffix in (".zip", ".tgz", ".tar") or path.name.endswith(".tar.gz")):
        yield from_archive(path)
    elif path.is_dir():
        yield from_folder(path)
    else:
        raise _unknown_source(spec)
