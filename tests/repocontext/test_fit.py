"""fit: the budget, and the hysteresis that keeps a document's repository context (and so
the server's KV cache over it) stable while the user types: held chunks keep their
order, a chunk that is no longer a candidate is deleted, and new chunks come last and
only when the cursor needs them.

    python -m pytest tests/repocontext/test_fit.py -q
"""

from __future__ import annotations

import pytest

from codecommons.repocontext.fit import SEPARATOR_TOKENS, fit
from codecommons.repocontext.index import RepoIndex
from codecommons.repocontext.select import select_context
from codecommons.repocontext.syntax import Chunk
from tests.repocontext.project import write_project


def count(text: str) -> int:
    return len(text) // 4 + 1


def cost(chunks) -> int:
    return sum(count(f"{c.path}\n{c.text}\n") + SEPARATOR_TOKENS for c in chunks)


def d(name: str, line: int) -> Chunk:
    return Chunk(f"{name}.py", line, line + 2, f"def {name}(): ...", "definition")


def r(name: str, line: int) -> Chunk:
    return Chunk(f"{name}.py", line, line + 9, f"# {name} body {line}\n" + "x = 1\n" * 5, "retrieved")


def is_kept_then_appended(before: list[Chunk], after: list[Chunk]) -> bool:
    """`after` = chunks of `before` in their order (some deleted), then new ones: the KV
    cache over `before` stays valid up to the first new chunk."""
    kept = [c for c in after if c in before]
    return kept == [c for c in before if c in kept] and after[:len(kept)] == kept


def test_without_history_the_order_is_definitions_client_then_the_best_hit_last():
    defs = [(d("b", 9), None, True), (d("a", 3), None, False)]
    client = [Chunk("ring.py", 0, 0, "RING = 1", "client")]
    found = [r("best", 1), r("second", 1)]
    got = fit(defs, client, found, 1024, count)
    assert got == [d("a", 3), d("b", 9), client[0], r("second", 1), r("best", 1)]


def test_held_chunks_stay_in_their_order_while_nothing_needed_is_missing():
    held = [r("second", 1), d("a", 3), r("best", 1)]
    # the lines around the cursor moved: new hits rank 2nd and 3rd, an old one fell out
    found = [r("best", 1), r("new", 5), r("other", 7)]
    defs = [(d("a", 3), None, False)]
    got = fit(defs, [], found, 1024, count, held=held)
    assert got == [d("a", 3), r("best", 1)]  # deletions only: no new chunk, no re-evaluation


def test_a_needed_definition_enters_after_the_kept_chunks():
    held = [d("a", 3), r("best", 1)]
    defs = [(d("z", 1), None, True), (d("a", 3), None, False)]  # `z` is on the cursor's line
    got = fit(defs, [], [r("best", 1)], 1024, count, held=held)
    assert got[:2] == held and got[2:] == [d("z", 1)]
    assert is_kept_then_appended(held, got)


def test_a_new_best_hit_renews_the_context_and_keeps_the_shared_chunks_first():
    held = [d("a", 3), r("old", 1)]
    found = [r("fresh", 1), r("old", 1)]
    got = fit([(d("a", 3), None, False)], [], found, 1024, count, held=held)
    assert got == [d("a", 3), r("old", 1), r("fresh", 1)]


@pytest.mark.parametrize("budget", [40, 80, 200])
def test_the_budget_holds_with_history(budget):
    held = [r(f"h{i}", i) for i in range(8)]
    found = [r("fresh", 1), *held]
    defs = [(d("z", 1), None, True)]
    got = fit(defs, [], found, budget, count, held=held)
    assert cost(got) <= budget
    assert d("z", 1) in got or cost([d("z", 1)]) > budget * 0.6


LINES = [
    "from shop import pricing\n",
    "from shop.models import Warehouse\n",
    "\n",
    "\n",
    "def restock(store: Warehouse, sku: str) -> int:\n",
    "    # receive a new delivery into the warehouse stock\n",
    "    store.receive(sku, 10)\n",
    "    # ship what the order asks for\n",
    "    sent = store.ship(sku, 3)\n",
    "    cents = sent * 120\n",
    "    return pricing.format_price(cents)\n",
]


def test_typing_a_file_only_appends_to_its_context(tmp_path):
    index = RepoIndex(write_project(tmp_path / "p"))
    text = "".join(LINES)
    cuts = range(len(LINES[0]) + len(LINES[1]), len(text) + 1, 3)
    held: list[Chunk] = []
    fresh: list[Chunk] = []
    renewed = changed_without_history = 0
    for cut in cuts:
        got = select_context(index, "shop/restock.py", text[:cut], "\n", 400, count, held=held)
        assert cost(got) <= 400
        assert is_kept_then_appended(held, got), (text[:cut], held, got)
        renewed += bool(held) and any(c not in held for c in got)
        held = got
        again = select_context(index, "shop/restock.py", text[:cut], "\n", 400, count)
        changed_without_history += bool(fresh) and again != fresh
        fresh = again
    # the definition of the name typed last enters once it is on the cursor's line
    assert any(c.path == "shop/pricing.py" and "def format_price" in c.text for c in held)
    assert renewed < changed_without_history, (renewed, changed_without_history)
    assert renewed <= len(cuts) // 10
