"""Authors' opt-out, a building block below the stages: the registry of opted-out
repositories and authors (registry.py), the matcher that finds an author's files
(authors.py), "is it in this dataset?" (lookup.py), the queue of requests the web
UI's form writes (requests.py), and `commons optout` (cli.py).

Curation applies it with the datatrove filter in data/optout.py; nothing here
needs datatrove, so `commons optout` runs with the core install.
"""

from codecommons.optout.registry import (Entry, Registry, add, canonical_repo, default_registry,
                                         normalize_repo, parse_value, remove)

__all__ = ["Entry", "Registry", "add", "canonical_repo", "default_registry", "normalize_repo",
           "parse_value", "remove"]
