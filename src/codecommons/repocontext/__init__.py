"""Repository context for completion: an index of a project folder (chunks at syntax
boundaries, BM25 over identifiers, Python definitions resolved through imports) and
the choice of what from it goes into one completion's prompt.

Below the stages: `commons serve` uses it per request, `commons eval`'s
repo-completion task to build and score problems. Imports nothing from a stage."""

from codecommons.repocontext.index import IndexConfig, RefreshStats, RepoIndex
from codecommons.repocontext.pydefs import Definition
from codecommons.repocontext.select import MODES, context_files, select_context
from codecommons.repocontext.syntax import Chunk

__all__ = ["Chunk", "Definition", "IndexConfig", "MODES", "RefreshStats", "RepoIndex",
           "context_files", "select_context"]
