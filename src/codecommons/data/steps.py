"""The curation pipeline's blocks, on datatrove's contract: `run(docs, rank, world_size)`.

    ReadRepos -> Unusable -> Language -> License -> Quality -> (dedup.py) -> RedactPII

Each filter drops a document with a short reason; datatrove sends dropped
documents to an exclusion writer (DIR/excluded/) and counts reasons in its stats.
A Document's metadata carries the provenance every later stage needs: repo, path,
licence (SPDX expression) and licence type.
"""

from __future__ import annotations

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from codecommons.data import language as lang
from codecommons.data.quality import QualityConfig, quality_reason
from codecommons.data.sources import MAX_FILE_BYTES, Repo, open_source
from codecommons.dataset import DatasetRow


class ReadRepos(PipelineStep):
    """Every file of every repository of the sources, repositories dealt round-robin
    to ranks (a repository stays on one rank, so its licence files are read once)."""

    name = "read repositories"
    type = "📖 - READER"

    def __init__(self, sources: list[str], max_file_bytes: int = MAX_FILE_BYTES) -> None:
        super().__init__()
        self.sources, self.max_file_bytes = sources, max_file_bytes

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        index = 0
        for spec in self.sources:
            for repo in open_source(spec):
                if index % world_size == rank:
                    yield from self._documents(repo)
                index += 1

    def _documents(self, repo: Repo) -> DocumentsPipeline:
        from codecommons.optout.authors import metadata_authors

        # Timed as datatrove's readers time theirs (time_stats, doc_len in the stage's
        # stats.json): one sample for the repository's licence files through ScanCode,
        # then one per file (reading and decoding happen inside next()), plus the last,
        # empty next() of each repository.
        with self.track_time():
            licenses = repo_license_resolver(repo)
            authors = metadata_authors(repo.metadata_text) if repo.metadata_text else []
        files = repo.files()
        while True:
            with self.track_time():
                f = next(files, None)
                doc = None if f is None else self._document(repo, f, licenses, authors)
            if doc is None:
                return
            self.stat_update("files")
            self.update_doc_stats(doc)
            yield doc

    @staticmethod
    def _document(repo: Repo, f, licenses, authors: list) -> Document:
        meta = {"repo": repo.name, "path": f.path, "size": f.size, "reason": f.reason,
                "authors": authors}
        if f.reason is None:
            spdx = licenses(f.path, f.text)
            meta.update(license=spdx, license_type=classify(spdx))
        return Document(text=f.text or "", id=f"{repo.name}/{f.path}", metadata=meta)


def classify(spdx: str | None) -> str:
    from codecommons.licenses import classify as _classify

    return _classify(spdx)


def repo_license_resolver(repo: Repo):
    """(path, text) -> SPDX expression for one repository: the file's own
    `SPDX-License-Identifier` header (REUSE), else its licence files with
    directory scoping (licenses.is_license_source says which files those are),
    else its package metadata."""
    from codecommons.licenses import (file_license, from_package_metadata, is_license_source,
                                      license_for, scope_licenses)

    texts = {f.path: f.text for f in repo.files(is_license_source) if f.text}
    scoped = scope_licenses(texts)
    package = from_package_metadata(repo.metadata_text) if repo.metadata_text else None

    def resolve(path: str, text: str | None = None) -> str | None:
        return file_license(text) or license_for(path, scoped) or package

    return resolve


class Unusable(BaseFilter):
    """Files the reader could not use (binary, encoding, size, symlink, unreadable)
    and empty ones.

    "empty" includes whitespace-only files: they hold no code to learn from. Empty
    files must be dropped here, with a reason: datatrove's readers skip documents
    with empty text, so one that reached DIR/work/filtered would vanish in the final
    stage without an excluded/ row (and stats.json's total_files would undercount).
    """

    name = "unusable files"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = doc.metadata.pop("reason", None)
        if reason:
            return False, reason
        return True if doc.text.strip() else (False, "empty")


class Language(BaseFilter):
    """Keeps code: a known language, not vendored, not generated."""

    name = "language"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        path = doc.metadata["path"]
        if lang.is_vendored(path):
            return False, "vendored"
        language = lang.language_of(path, doc.text)
        if language is None:
            return False, "not_code"
        if lang.is_generated(path, doc.text):
            return False, "generated"
        doc.metadata["language"] = language
        return True


class License(BaseFilter):
    """Keeps files whose licence type is allowed (default: permissive only)."""

    name = "license"

    def __init__(self, allowed: tuple[str, ...] = ("permissive",), exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        self.allowed = allowed

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        kind = doc.metadata.get("license_type", "no_license")
        return True if kind in self.allowed else (False, f"license_{kind}")


class Quality(BaseFilter):
    name = "quality"

    def __init__(self, cfg: QualityConfig, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        self.cfg = cfg

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = quality_reason(doc.text, doc.metadata.get("language"), self.cfg)
        return (False, reason) if reason else True


class RedactPII(PipelineStep):
    """Replaces emails, keys, passwords and public IPs (codecommons.pii), counting
    redactions per kind in the `redactions` column; the hash is of the output."""

    name = "redact PII"
    type = "🔏 - FORMAT"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from codecommons.pii import ALL_KINDS, redact

        for doc in data:
            with self.track_time():
                red = redact(doc.text)
            doc.text = red.text
            doc.metadata["redactions"] = {k: red.counts.get(k, 0) for k in ALL_KINDS}
            for kind, n in red.counts.items():
                self.stat_update(f"redacted_{kind}", value=n)
            yield doc


def output_row(writer, doc: Document) -> dict:
    """A dataset row (codecommons.dataset: the Parquet schema of DIR/data)."""
    m = doc.metadata
    return DatasetRow.of(doc.text, repo=m["repo"], path=m["path"], language=m["language"],
                         license=m.get("license"), license_type=m["license_type"],
                         redactions=m.get("redactions")).to_dict()


def intermediate_schema():
    """Stage-1 survivors (DIR/work/filtered), explicit for the reason
    dataset.schema() is: an inferred schema breaks when a first batch has only
    empty MinHash lists (list<null>) and a later one real values."""
    import pyarrow as pa

    text = [("repo", pa.string()), ("path", pa.string()), ("language", pa.string()),
            ("license", pa.string()), ("license_type", pa.string())]
    return pa.schema([("text", pa.string()), ("id", pa.string()), *text,
                      ("sha256", pa.string()), ("minhash", pa.list_(pa.uint64()))])


def intermediate_row(writer, doc: Document) -> dict:
    """Stage-1 survivors: text, id and the metadata later stages need."""
    m = doc.metadata
    return {"text": doc.text, "id": doc.id, "repo": m["repo"], "path": m["path"],
            "language": m["language"], "license": m.get("license") or "",
            "license_type": m["license_type"], "sha256": m["sha256"], "minhash": m["minhash"]}


def excluded_row(writer, doc: Document) -> dict:
    m = doc.metadata
    reason = m.get("filter_reason", "")
    row = {"repo": m["repo"], "path": m["path"], "reason": reason}
    if reason == "contaminated":  # datatrove's decontamination names the benchmark and n-gram
        row["reason"] = f"contaminated:{m.get('contaminated_task', '')}"
        row["detail"] = m.get("contaminated_ngram", "")  # so a drop can be audited
    return row
