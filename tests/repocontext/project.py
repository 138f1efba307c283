"""A small multi-file Python project written by the tests: a package with a re-export
in its __init__, a star import, a sub-package, relative and absolute imports, and a
top-level script next to it."""

from __future__ import annotations

import subprocess
from pathlib import Path

FILES = {
    "shop/__init__.py": '''\
"""A toy shop."""
from .models import Product
from .pricing import *
''',
    "shop/models.py": '''\
"""Things for sale."""
from dataclasses import dataclass


@dataclass
class Product:
    """A thing for sale, priced in cents."""

    sku: str
    price_cents: int

    def discounted(self, percent: float) -> "Product":
        """A copy of this product, `percent` cheaper."""
        cut = round(self.price_cents * percent / 100)
        return Product(self.sku, self.price_cents - cut)

    def _audit(self) -> None:
        pass


class Warehouse:
    """Stock levels per SKU."""

    def __init__(self, name: str, capacity: int = 1000) -> None:
        self.name = name
        self.capacity = capacity
        self.stock: dict[str, int] = {}

    def receive(self, sku: str, qty: int) -> None:
        """Add `qty` units of `sku`."""
        self.stock[sku] = self.stock.get(sku, 0) + qty
        if sum(self.stock.values()) > self.capacity:
            raise ValueError("over capacity")

    def ship(self, sku: str, qty: int) -> int:
        """Remove up to `qty` units; returns how many left."""
        have = self.stock.get(sku, 0)
        sent = min(have, qty)
        self.stock[sku] = have - sent
        return sent

    def _check(self) -> None:
        pass
''',
    "shop/pricing.py": '''\
"""Prices with tax."""
TAX_RATE = 0.2


def total_with_tax(cents: int, rate: float = TAX_RATE) -> int:
    """Add tax to `cents`, rounding half up."""
    return int(cents * (1 + rate) + 0.5)


def format_price(cents: int, currency: str = "EUR") -> str:
    return f"{cents / 100:.2f} {currency}"
''',
    "shop/util/__init__.py": "",
    "shop/util/text.py": '''\
def slugify(title: str, sep: str = "-") -> str:
    """Lower-case words of `title` joined by `sep`."""
    return sep.join(title.lower().split())
''',
    "shop/cart.py": '''\
"""A shopping cart."""
from .models import Product
from . import pricing
from .util.text import slugify as slug
import shop.util.text as text_utils


class Cart:
    def __init__(self) -> None:
        self.items: list[tuple[Product, int]] = []

    def add(self, product: Product, qty: int = 1) -> None:
        self.items.append((product, qty))

    def total(self) -> int:
        cents = sum(p.price_cents * q for p, q in self.items)
        return pricing.total_with_tax(cents)

    def label(self, name: str) -> str:
        return slug(name) + text_utils.slugify("cart")
''',
    "app.py": '''\
from shop import Product, total_with_tax
from shop.cart import Cart


def main() -> None:
    cart = Cart()
    cart.add(Product("apple", 120), 3)
    print(total_with_tax(cart.total()))
''',
}


def write_project(root: Path, files: dict[str, str] | None = None) -> Path:
    for rel, text in (files or FILES).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def git_init(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
