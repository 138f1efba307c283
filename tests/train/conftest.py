"""Fixtures for the training tests: a tiny curated dataset (Parquet shards with
the columns `commons curate` writes, made of real standard-library code) and a
tokenizer trained on it."""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

import pytest

# Real code: a few small standard-library modules, as two "repositories".
FILES = {
    "python/cpython": ["colorsys.py", "bisect.py", "json/scanner.py", "json/tool.py", "token.py",
                       "secrets.py", "signal.py", "genericpath.py"],
    "python/more": ["fnmatch.py", "reprlib.py", "linecache.py", "getpass.py", "chunk.py",
                    "crypt.py", "imghdr.py", "sched.py", "stat.py", "codeop.py"],
}
PII_FILE = ("acme/app", "settings.py",
            "ADMIN = '<EMAIL>'\nAPI_KEY = '<KEY>'\nDB_PASSWORD = '<PASSWORD>'\n"
            "HOSTS = ['10.0.0.12']\nMARKER = '<fim_prefix>'  # text, not a sentinel\n")


def write_dataset(out: Path, rows: list[tuple[str, str, str]], shard_size: int = 8) -> Path:
    """rows of (repo, path, content) -> out/data/NNNNN.parquet in `commons curate`'s schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (out / "data").mkdir(parents=True, exist_ok=True)
    kinds = ["email", "ip_address", "key", "password", "private_key"]
    schema = pa.schema([("content", pa.string()), ("repo", pa.string()), ("path", pa.string()),
                        ("language", pa.string()), ("license", pa.string()),
                        ("license_type", pa.string()), ("size", pa.int64()), ("sha256", pa.string()),
                        ("redactions", pa.struct([(k, pa.int64()) for k in kinds]))])
    for i in range(0, len(rows), shard_size):
        part = rows[i:i + shard_size]
        table = pa.Table.from_pylist([{
            "content": c, "repo": r, "path": p, "language": "Python", "license": "PSF-2.0",
            "license_type": "permissive", "size": len(c.encode()),
            "sha256": hashlib.sha256(c.encode()).hexdigest(),
            "redactions": {k: 0 for k in kinds}} for r, p, c in part], schema=schema)
        # Small row groups, so that readers really skip and seek.
        pq.write_table(table, out / "data" / f"{i // shard_size:05d}.parquet", row_group_size=3)
    (out / "README.md").write_text("---\nlicense: other\n---\n\n# tiny test dataset\n")
    return out


def stdlib_rows() -> list[tuple[str, str, str]]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    rows = [(repo, rel, (lib / rel).read_text(encoding="utf-8"))
            for repo, rels in FILES.items() for rel in rels]
    return rows + [PII_FILE]


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("dataset"), stdlib_rows())


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_dataset, tmp_path_factory) -> Path:
    """A 1,000-token BPE trained by `commons train tokenizer` on the tiny dataset."""
    from codecommons.train import tokenizer

    out = tmp_path_factory.mktemp("tok")
    assert tokenizer.main([str(tiny_dataset), "--vocab-size", "1000", "--out", str(out),
                           "--heldout-fraction", "0.2", "--no-compare"]) == 0
    return out


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models: a second intra-op thread costs more in synchronisation than it
    saves (and busy-waits when other jobs share the 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
