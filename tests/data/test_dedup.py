"""Exact and near deduplication and the choice of the copy to keep.

    python -m pytest tests/data/test_dedup.py -q
"""

from __future__ import annotations

import hashlib

from codecommons.data.dedup import NON_ALPHA, DedupConfig, choose_keepers, minhasher, signature

CFG = DedupConfig()
BASE = "".join(f"def handler_{i}(request):\n    return respond(request, code={i})\n\n"
               for i in range(30))


def row(id_, text, path="a.py", repo="r", license="MIT", license_type="permissive"):
    return {"id": id_, "repo": repo, "path": path, "license": license,
            "license_type": license_type, "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "minhash": signature(text, minhasher(CFG))}


def test_exact_copies_keep_shortest_path():
    rows = [row("1", BASE, "pkg/deep/x.py"), row("2", BASE, "x.py"), row("3", BASE, "pkg/x.py")]
    assert choose_keepers(rows, CFG) == {"1": "exact_duplicate", "3": "exact_duplicate"}


def test_near_copy_keeps_most_permissive_licence():
    edited = BASE.replace("handler_7(", "route_7(").replace("code=12", "code=99")
    rows = [row("apache", BASE, "a.py", license="Apache-2.0"),
            row("cc0", edited, "longer/path.py", license="CC0-1.0")]
    assert choose_keepers(rows, CFG) == {"apache": "near_duplicate"}


def test_different_code_is_kept():
    other = "".join(f"class Model{i}:\n    field_{i} = Column(Integer)\n\n" for i in range(30))
    assert choose_keepers([row("1", BASE), row("2", other)], CFG) == {}


def test_heavily_edited_copy_is_not_a_duplicate():
    lines = BASE.splitlines(keepends=True)
    half = "".join(lines[: len(lines) // 2]) + "".join(
        f"def other_{i}(x):\n    return x * {i}\n\n" for i in range(20))
    assert choose_keepers([row("1", BASE), row("2", half)], CFG) == {}


def test_shingles_follow_bigcode_tokens():
    """`_` belongs to identifiers (BigCode's NON_ALPHA keeps it): datatrove's
    punctuation removal would split `my_var` into `my var` before our tokenizer."""
    hasher = minhasher(CFG)
    text = "Result = my_var + other_var * SCALE_2 - offset\n"
    tokens = [t for t in NON_ALPHA.split(text) if t]
    assert tokens == ["Result", "my_var", "other_var", "SCALE_2", "offset"]
    # five tokens: exactly one 5-gram, hashed as datatrove joins it (case and digits kept)
    assert hasher.get_shingles(text).ravel().tolist() == [hasher._hash_func(" ".join(tokens))]
