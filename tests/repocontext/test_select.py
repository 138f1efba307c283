"""select_context on the test project: the definitions a cursor needs, never the file
itself, the budget, stable chunks first, modes, client chunks.

    python -m pytest tests/repocontext/test_select.py -q
"""

from __future__ import annotations

import pytest

from codecommons.repocontext.fit import SEPARATOR_TOKENS
from codecommons.repocontext.index import RepoIndex
from codecommons.repocontext.select import (MODES, context_files, near_chains,
                                            select_context)
from codecommons.repocontext.syntax import Chunk
from tests.repocontext.project import write_project


def count(text: str) -> int:
    return len(text) // 4 + 1


def cost(chunks) -> int:
    return sum(count(f"{c.path}\n{c.text}\n") + SEPARATOR_TOKENS for c in chunks)


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> RepoIndex:
    return RepoIndex(write_project(tmp_path_factory.mktemp("proj")))


ORDERS = '''\
"""Orders: a new file the user is writing (not saved, so not in the index)."""
from .models import Warehouse
from .pricing import total_with_tax


def fulfil(order_sku: str, qty: int) -> int:
    store = Warehouse("main")
    sent = store.'''


def test_the_definition_the_cursor_needs_is_picked(index):
    chunks = select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count)
    defs = [c for c in chunks if c.kind == "definition"]
    warehouse = next(c for c in defs if c.path == "shop/models.py" and "class Warehouse" in c.text)
    assert "def ship(self, sku: str, qty: int) -> int: ..." in warehouse.text
    assert "def __init__(self, name: str, capacity: int = 1000) -> None: ..." in warehouse.text
    assert "_check" not in warehouse.text  # private members are left out of the stub
    # imported but not used yet: likely to be used next, so it is shown too (here by the
    # retrieved chunk of pricing.py, which holds the whole definition and takes its place)
    assert any(c.path == "shop/pricing.py" and "def total_with_tax" in c.text for c in chunks)
    only_defs = select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count, mode="definitions")
    assert any(c.path == "shop/pricing.py" and "def total_with_tax" in c.text for c in only_defs)


def test_names_at_the_cursor_rank_first_when_the_budget_is_tight(index):
    prefix = ORDERS.replace("sent = store.", "total = total_with_tax(")
    tight = select_context(index, "shop/orders.py", prefix, ")\n", 60, count, mode="definitions")
    assert cost(tight) <= 60
    pricing = next(c for c in tight if c.path == "shop/pricing.py")
    assert pricing.text.startswith("def total_with_tax(cents: int, rate: float = TAX_RATE) -> int:")
    # what does not fit whole is shown by its signature
    assert all("class Warehouse:" not in c.text or c.text == "class Warehouse: ..." for c in tight)


def test_a_module_reference_brings_the_modules_outline(index):
    prefix = "from . import pricing\n\n\ndef price(cents):\n    return pricing."
    chunks = select_context(index, "shop/checkout.py", prefix, "\n", 1024, count, mode="definitions")
    outline = next(c for c in chunks if c.path == "shop/pricing.py")
    assert "def total_with_tax(cents: int, rate: float = TAX_RATE) -> int: ..." in outline.text
    assert "def format_price" in outline.text and "TAX_RATE = 0.2" in outline.text


@pytest.mark.parametrize("mode", MODES)
def test_the_file_being_completed_is_never_returned(index, mode):
    text = (index.root / "shop/cart.py").read_text()
    cut = text.index("return pricing.total_with_tax")
    for path in ("shop/cart.py", str(index.root / "shop/cart.py")):
        chunks = select_context(index, path, text[:cut], text[cut:], 2048, count, mode=mode)
        assert all(c.path != "shop/cart.py" for c in chunks)
        if mode in ("definitions", "both"):
            assert any(c.path == "shop/pricing.py" for c in chunks)


@pytest.mark.parametrize("budget", [0, 30, 80, 200, 400, 1024])
def test_the_budget_is_respected(index, budget):
    chunks = select_context(index, "shop/orders.py", ORDERS, "\n", budget, count)
    assert cost(chunks) <= budget
    if budget >= 400:
        assert {c.kind for c in chunks} == {"definition", "retrieved"}


def test_stable_chunks_come_first_and_stay_while_typing(index):
    before = select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count)
    after = select_context(index, "shop/orders.py", ORDERS + "sh", "\n", 1024, count)
    kinds = [c.kind for c in before]
    assert kinds == sorted(kinds, key=["definition", "client", "retrieved"].index)
    defs = [c for c in before if c.kind == "definition"]
    assert defs == [c for c in after if c.kind == "definition"] == after[:len(defs)]
    assert defs == sorted(defs, key=lambda c: (c.path, c.start_line))
    # retrieval reads whole lines: typing on the cursor's line keeps the same chunks
    assert [c for c in before if c.kind == "retrieved"] == [c for c in after if c.kind == "retrieved"]


def test_modes_pick_their_sources(index):
    assert {c.kind for c in select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count,
                                           mode="definitions")} == {"definition"}
    assert {c.kind for c in select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count,
                                           mode="retrieval")} == {"retrieved"}
    assert select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count, mode="off") == []
    with pytest.raises(ValueError, match="definitions, retrieval, both"):
        select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count, mode="all")


def test_client_chunks_are_merged_and_near_copies_of_the_cursor_dropped(index):
    ring = [{"filename": "notes/recent.py", "text": "def recently_edited():\n    return 42\n"},
            Chunk("shop/orders.py", 0, 0, ORDERS, "client")]  # the cursor's own surroundings
    chunks = select_context(index, "shop/orders.py", ORDERS, "\n", 1024, count, client_chunks=ring)
    clients = [c for c in chunks if c.kind == "client"]
    assert [(c.path, c.text) for c in clients] == [("notes/recent.py", ring[0]["text"])]
    kinds = [c.kind for c in chunks]
    assert kinds.index("client") > max(i for i, k in enumerate(kinds) if k == "definition")
    assert select_context(None, "x.py", ORDERS, "\n", 1024, count, client_chunks=ring[:1])[0].kind == "client"
    from codecommons.tokenizer.fim import ContextFile  # what the server makes of extra_context
    got = select_context(None, "x.py", ORDERS, "\n", 1024, count,
                         client_chunks=[ContextFile("notes/recent.py", ring[0]["text"])])
    assert [(c.kind, c.path) for c in got] == [("client", "notes/recent.py")]


def test_a_definition_shown_whole_is_not_retrieved_again(index):
    prefix = "from shop.util.text import slugify\n\n\ndef title_slug(title):\n    return slugify("
    chunks = select_context(index, "shop/blog.py", prefix, ")\n", 1024, count)
    from_text = [c for c in chunks if c.path == "shop/util/text.py"]
    assert [c.kind for c in from_text] == ["definition"]


def test_near_chains_are_read_from_the_cursor_outwards():
    chains = near_chains("import a\nx = first.one(b)\ny = m.", "\nz = after()\n")
    assert chains[0] == ["m", ""] and chains[1] == ["y"]
    assert chains.index(["first", "one"]) < chains.index(["after"])


def test_context_files_merge_neighbouring_chunks_of_one_file():
    chunks = [Chunk("a.py", 1, 2, "A1"), Chunk("a.py", 5, 6, "A2"), Chunk("b.py", 1, 1, "B")]
    files = context_files(chunks)
    assert [(f.path, f.text) for f in files] == [("a.py", "A1\n\nA2"), ("b.py", "B")]


def test_a_retrieved_chunk_holding_a_whole_definition_takes_its_place(index):
    # pricing.py is one chunk; total_with_tax is shown whole as a definition first
    prefix = ("from shop.pricing import total_with_tax\n\n\ndef gross(cents):\n"
              "    # with tax, rounding half up: format the price\n    return total_with_tax(")
    chunks = select_context(index, "shop/gross.py", prefix, ")\n", 1024, count)
    pricing = [c for c in chunks if c.path == "shop/pricing.py"]
    assert [c.kind for c in pricing] == ["retrieved"] and "def format_price" in pricing[0].text


def test_chunks_of_imported_files_rank_first(tmp_path):
    same = "def compute_total(values):\n    return sum(values)\n"
    index = RepoIndex(write_project(tmp_path / "p", {"a.py": same, "b.py": same, "c.py": "X = 1\n"}))
    prefix = "from b import compute_total as ct\n\n\ndef run(values):\n    # compute_total of values\n    x = 1\n"
    for importer in ("b", "a"):
        text = prefix.replace("from b", f"from {importer}")
        found = select_context(index, "main.py", text, "\n", 1024, count, mode="retrieval")
        assert [c.path for c in found][-1] == f"{importer}.py"  # the best is nearest the cursor


def test_an_import_the_prefix_already_uses_is_shown_by_its_signature(index):
    far = "".join(f"X{i} = {i}\n" for i in range(12))  # the use is not near the cursor
    prefix = f"from shop.models import Warehouse\n\nMAIN = Warehouse('main')\n{far}\n\ndef stock():\n    return len("
    chunks = select_context(index, "shop/stock.py", prefix, ")\n", 1024, count, mode="definitions")
    assert [c.text for c in chunks if c.path == "shop/models.py"] == ["class Warehouse: ..."]
