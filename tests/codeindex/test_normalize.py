from codecommons.codeindex.normalize import VAR, normalize, normalize_spans
from codecommons.codeindex.winnow import fingerprints, kgram_hashes, winnow_hashes

SRC = '''def total(items, start=0):
    # add them up
    acc = start  # running sum
    for it in items:
        acc += len(it) * 2
    return acc
'''


def test_identifiers_comments_whitespace():
    toks, starts = normalize(SRC, "python")
    assert "#" not in "".join(toks) and "add them up" not in toks
    assert toks[:3] == ["def", VAR, "("]
    assert "len" in toks and "return" in toks and "2" in toks  # builtins, keywords, literals kept
    assert all(SRC[s:].startswith(t) for t, s in zip(toks, starts) if t != VAR)


def test_invariant_under_reformat_rename_and_comments():
    other = ("def  summe( xs ,s=0 ) :\n\n  a=s\n  for   y in xs:\n        a += len( y )*2\n"
             "  return a   # done\n")
    assert normalize(SRC, "Python")[0] == normalize(other, "python")[0]


def test_spans_and_fallback():
    toks, starts, ends, n_code = normalize_spans("x = foo(1)  // a comment\n", "no-such-language")
    assert toks[:n_code] == [VAR, "=", VAR, "(", "1", ")"]
    assert toks[n_code:] == ["a", "comment"]  # the comment's prose, its delimiter dropped
    assert (starts[2], ends[2]) == (4, 7)


def test_prose_stream_holds_comments_and_docstrings_verbatim():
    src = 'def f(x):\n    """Return  the\n    answer."""\n    # Keep it  simple.\n    return x\n'
    n = normalize_spans(src, "python")
    prose = n.tokens[n.n_code:]
    assert prose == ['"""Return', "the", 'answer."""', "Keep", "it", "simple."]
    assert all(src[a:b] == t for t, a, b in zip(n.tokens[n.n_code:], n.starts[n.n_code:],
                                                 n.ends[n.n_code:]))
    # the code stream is unchanged by comments
    assert n.code == normalize_spans(src.replace("# Keep it  simple.", ""), "python").code


def test_winnowing_guarantee():
    import random

    rng = random.Random(0)
    vocab = [str(i) for i in range(30)]
    shared = [rng.choice(vocab) for _ in range(19)]  # w + k - 1 tokens
    for _ in range(20):
        a = [rng.choice(vocab) for _ in range(50)] + shared + [rng.choice(vocab) for _ in range(30)]
        b = [rng.choice(vocab) for _ in range(70)] + shared + [rng.choice(vocab) for _ in range(10)]
        assert {h for h, _ in fingerprints(a)} & {h for h, _ in fingerprints(b)}


def test_winnow_rightmost_minimum_and_short_docs():
    assert winnow_hashes([5, 1, 1, 7], w=4) == [(1, 2)]
    assert winnow_hashes([3, 2], w=8) == [(2, 1)]
    assert fingerprints(["a"] * 5) == []
    assert len(kgram_hashes(list("abcdefghijklmn"))) == 3


def test_reindented_docstring_is_the_same_token():
    a = 'def f(x):\n    """Sum it.\n\n    Twice.\n    """\n    return x + x\n'
    b = 'def f(x):\n  """Sum it.\n\n  Twice.\n  """\n  return x + x\n'
    assert normalize(a, "python")[0] == normalize(b, "python")[0]


def test_rewrapped_docstring_is_the_same_token():
    a = 'def f(x):\n    """Return the sum of x\n    and x."""\n    return x + x\n'
    b = 'def f(x):\n    """Return the sum of x and x."""\n    return x + x\n'
    assert normalize(a, "python")[0] == normalize(b, "python")[0]
