"""The opt-out filter of `commons curate`: drops code whose repository or author
is in the opt-out registry (codecommons.optout: the registry, its values and the
author matcher live there, below the stages).
"""

from __future__ import annotations

import os
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from codecommons.optout.authors import attributed_emails, emails_in
from codecommons.optout.registry import Registry


class OptOut(BaseFilter):
    """Drops opted-out code: `opt_out:repo` for a document of an opted-out
    repository (or organisation), `opt_out:author` for one attributed to an
    opted-out email (by its text, or its `authors` metadata).

    `registry`: a registry file (it must exist), or None for the default one
    (missing: nothing is opted out). Loaded once, on first use or `digest()`;
    the loaded entries travel with the pickled step, so workers apply exactly
    what the parent loaded. Put it before RedactPII (which erases emails)."""

    name = "opt-out"

    def __init__(self, registry: str | os.PathLike | None = None, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        if registry is not None and not Path(registry).is_file():
            raise FileNotFoundError(f"opt-out registry {registry} does not exist")
        self.registry_path = str(registry) if registry is not None else None
        self._registry: Registry | None = None
        self._repo_cache: dict[str, bool] = {}

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.load(self.registry_path)
        return self._registry

    def digest(self) -> str:
        """The registry's digest (loads it): record it in the run's manifest."""
        return self.registry.digest()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_repo_cache"] = {}
        return state

    def _repo_opted_out(self, repo: str) -> bool:
        hit = self._repo_cache.get(repo)
        if hit is None:
            if len(self._repo_cache) > 100_000:
                self._repo_cache.clear()
            hit = self._repo_cache[repo] = self.registry.match_repo(repo) is not None
        return hit

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reg = self.registry
        if not reg.entries:
            return True
        if (reg.repos or reg.orgs) and self._repo_opted_out(doc.metadata.get("repo", "")):
            return False, "opt_out:repo"
        if reg.emails:
            if emails_in(doc.metadata.get("authors")) & reg.emails:
                return False, "opt_out:author"
            if attributed_emails(doc.text, reg.emails):
                return False, "opt_out:author"
        return True
