"""From a request's text to engine prompts, and from engine tokens to response text.

`Generation` sits between the protocol layers (OpenAI, TGI) and one engine:
  * `prepare_completion` turns a prompt (+ optional FIM suffix, or a ready-made FIM
    prompt from an editor plugin) into segments that fit the context, validating
    the request; FIM prompts come from the one infill builder (engines/infill.py,
    which explains the cache-friendly layout), with a `Layout` kept per document;
    `prepare_chat` does the same for chat messages;
  * `run` drives the engine on the scheduler's worker thread and applies stop rules,
    secret scrubbing and the public-code check.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Iterator

from codecommons.engines.base import Engine, PromptStats, SamplingParams, Token
from codecommons.engines.infill import InfillBuilder, Layout, Layouts, PromptError, check_length
from codecommons.engines.stopping import InfillContext, StopChecker
from codecommons.serve.public_code import PublicCodeGate, PublicCodePolicy
from codecommons.pii.scrub import DEFAULT_KINDS, Scrubber
from codecommons.tokenizer.fim import ContextFile, Segment



class RequestError(PromptError):
    """Bad input: becomes a 4xx in the API's own error shape."""


@dataclass
class Prepared:
    prompt: list[Segment] = field(default_factory=list)
    messages: list[dict] | None = None
    n_prompt: int = 0
    infill: InfillContext | None = None
    stops: list[str] = field(default_factory=list)
    stop_token_ids: frozenset[int] = frozenset()  # the FIM template's end tokens
    files: list[ContextFile] = field(default_factory=list)  # repository context used
    # after this many seconds from the first token, stop at the next line end (llama.cpp's
    # t_max_predict_ms: an editor wants the first lines now rather than a block later)
    max_predict_s: float | None = None


@dataclass
class Delta:
    text: str
    tokens: list[Token] = field(default_factory=list)  # generated since the last Delta


@dataclass
class Done:
    finish_reason: str  # "stop" | "length" | "cancelled" | "content_filter" | "time_limit"
    n_prompt: int
    n_generated: int
    n_cached: int
    stop_sequence: bool = False  # ended by a stop string or an infill rule, not EOS
    scrubbed: dict = field(default_factory=dict)  # secrets redacted from the output, per kind
    attribution: list[dict] | None = None  # matches in the code index (None: not checked)
    blocked: bool = False  # withheld as a copy of indexed code (public_code.py)
    stats: PromptStats = field(default_factory=PromptStats)  # how the prompt was evaluated
    tokens: list[Token] = field(default_factory=list)  # with logprobs, when asked for
    files: list[ContextFile] = field(default_factory=list)  # repository context in the prompt
    ttft_s: float | None = None  # seconds to the first text (set by ServerState.sample)
    total_s: float = 0.0


class Generation:
    def __init__(self, engine: Engine, scrub_kinds: tuple[str, ...] = DEFAULT_KINDS,
                 public_code: PublicCodePolicy | None = None, fim_context_tokens: int = 0,
                 allow_special_tokens: bool = False, repos: tuple = (),
                 repo_context: str = "both", repo_context_tokens: int = 1024) -> None:
        self.engine = engine
        self.repos = list(repos)  # repocontext.RepoIndex per --repo folder
        self.repo_context, self.repo_context_tokens = repo_context, repo_context_tokens
        self.allow_special_tokens = allow_special_tokens  # trusted clients' control tokens
        self.scrub_kinds = scrub_kinds
        self.public_code = public_code
        self.infill = InfillBuilder(engine, context_tokens=fim_context_tokens)
        self.fim = self.infill.fim
        self.layouts = Layouts()

    # -- preparing ----------------------------------------------------------
    def count(self, prompt: list[Segment]) -> int:
        return self.infill.count(prompt)

    def check_length(self, n_prompt: int, max_tokens: int) -> None:
        check_length(self.engine.n_ctx, n_prompt, max_tokens)

    def prepare_completion(self, prompt: str, suffix: str | None, max_tokens: int,
                           stops: list[str], files: list[ContextFile] | None = None,
                           document: str = "") -> Prepared:
        if suffix is None and self.fim is not None:
            parsed = self.fim.parse(prompt)
            if parsed is not None:
                prefix, suffix, middle_start = parsed
                prompt = prefix + middle_start
        if suffix is None:
            if not prompt:
                raise RequestError("prompt is empty: send text to continue (or a `suffix` to "
                                   "fill in the middle)", param="prompt")
            # Text, not control tokens: "<|endoftext|>" in a prompt is those characters
            # (a ready-made FIM prompt is the explicit exception, parsed above).
            segs = [Segment(prompt, special=self.allow_special_tokens)]
            n = self.count(segs)
            self.check_length(n, max_tokens)
            return Prepared(prompt=segs, n_prompt=n, stops=stops)
        layout = self.layouts.get(document, prompt)
        files, repo_name, path = self._repo_context(document, prompt, suffix, files or [], layout)
        p = self.infill.build(prompt, suffix, max_tokens, stops, files, layout,
                              repo_name=repo_name, path=path)
        return Prepared(prompt=p.segments, n_prompt=p.n_prompt, infill=p.context, stops=p.stops,
                        stop_token_ids=p.stop_token_ids, files=p.files)

    def _repo_context(self, document: str, prefix: str, suffix: str,
                      client: list[ContextFile], layout: Layout) -> tuple[list[ContextFile], str, str]:
        """The repository context of a FIM request (repocontext.select_context): definitions
        of the names at the cursor and similar chunks of other files of the repository
        the document is in, merged with the client's chunks, within --repo-context-tokens,
        the stable ones first and, after the document's previous prompt, changed only
        when the cursor needs what it lacks (repocontext/fit.py). The document's own
        indexed copy is never used (the request holds the current text)."""
        if not self.repos or self.repo_context == "off":
            return client, "", document
        from codecommons.repocontext.select import select_context

        index = self._repo_for(document)
        path = index.relative(document) if index is not None and document else document
        with layout.lock:
            held = list(layout.context)
        chunks = select_context(index, path, prefix, suffix, self.repo_context_tokens,
                                self.engine.count_tokens, client, self.repo_context, held)
        with layout.lock:
            layout.context = chunks
        files = [ContextFile(c.path, c.text, c.start_line, c.end_line, c.kind) for c in chunks]
        return files, index.name if index is not None else "", path

    def _repo_for(self, document: str):
        """The --repo index the document belongs to: the one whose folder holds it
        (an absolute path), or that indexes it (a relative one); else the first."""
        import os

        for index in self.repos:
            root = str(index.root)
            if os.path.isabs(document) and (document == root or document.startswith(root + os.sep)):
                return index
        for index in self.repos:
            if document and (index.root / document).exists():
                return index
        return self.repos[0]

    def prepare_truncated(self, prompt: str, truncate: int, max_tokens: int,
                          stops: list[str]) -> Prepared:
        """TGI's `truncate`: keep the last `truncate` tokens of a plain prompt (a
        ready-made FIM prompt is fitted by the infill builder instead)."""
        if not prompt or (self.fim is not None and self.fim.parse(prompt) is not None):
            return self.prepare_completion(prompt, None, max_tokens, stops)
        ids = self.engine.prompt_ids([Segment(prompt, special=self.allow_special_tokens)])[-truncate:]
        self.check_length(len(ids), max_tokens)
        return Prepared(prompt=ids, n_prompt=len(ids), stops=stops)

    def prepare_ids(self, ids: list[int], max_tokens: int) -> Prepared:
        """A prompt given as token ids (OpenAI allows it), each checked against the vocabulary."""
        if not ids:
            raise RequestError("prompt is empty", param="prompt")
        vocab = self.engine.vocab_size()
        bad = [i for i in ids if not 0 <= i < vocab]
        if bad:
            raise RequestError(f"token ids out of range 0..{vocab - 1}: {bad[:5]}", param="prompt")
        self.check_length(len(ids), max_tokens)
        return Prepared(prompt=list(ids), n_prompt=len(ids))

    def prepare_chat(self, messages: list[dict], max_tokens: int | None,
                     stops: list[str]) -> tuple[Prepared, int]:
        """Returns the prepared prompt and the max_tokens to use (default: the rest
        of the context)."""
        if self.engine.remote:  # the remote server applies its own chat template
            n = sum(self.engine.count_tokens(str(m.get("content", ""))) for m in messages)
            return Prepared(messages=messages, n_prompt=n, stops=stops), max_tokens or 1024
        try:
            segs = self.engine.render_chat(messages, trusted=self.allow_special_tokens)
        except ValueError as e:
            raise RequestError(str(e), param="messages") from e
        n = self.count(segs)
        if max_tokens is None:
            max_tokens = max(self.engine.n_ctx - n, 1)
        self.check_length(n, max_tokens)
        return Prepared(prompt=segs, n_prompt=n, stops=stops), max_tokens

# -- running (on the engine's worker thread) ----------------------------
    def run(self, prep: Prepared, params: SamplingParams, cancel: threading.Event,
            key: str = "") -> Iterator[Delta | Done]:
        checker = StopChecker(prep.stops, prep.infill)
        scrubber = Scrubber(self.scrub_kinds)
        gate = PublicCodeGate(self.public_code) if self.public_code else None
        stats = PromptStats(n_prompt=prep.n_prompt)
        if prep.stop_token_ids:
            params = replace(params, stop_token_ids=params.stop_token_ids | prep.stop_token_ids)
        if prep.messages is not None:
            tokens = self.engine.chat(prep.messages, params, cancel, key, stats)
        else:
            tokens = self.engine.generate(prep.prompt, params, cancel, key, stats)
        n, kept, since = 0, [] if params.logprobs is not None else None, []
        deadline = None
        timed_out = False
        try:
            for tok in tokens:
                n += 1
                if prep.max_predict_s is not None:
                    deadline = deadline or time.monotonic() + prep.max_predict_s
                    if time.monotonic() > deadline and "\n" in checker.text:
                        timed_out = True
                        break
                since.append(tok)
                if kept is not None:
                    kept.append(tok)
                # stop rules -> secrets scrubbed -> public-code check -> client
                out = scrubber.feed(checker.feed(tok.text))
                if gate is not None:
                    out = gate.feed(out)
                if out:
                    yield Delta(out, since)
                    since = []
                if checker.stopped or (gate is not None and gate.blocked):
                    break
            cancelled = cancel.is_set()
        finally:
            tokens.close()  # an engine still generating for this request stops
        rest = scrubber.feed(checker.finish()) + scrubber.finish()
        if gate is not None:
            rest = gate.feed(rest) + gate.finish()
        if rest:
            yield Delta(rest, since)
        if cancelled:
            reason = "cancelled"
        elif gate is not None and gate.blocked:
            reason = "content_filter"
        elif timed_out:
            reason = "time_limit"
        else:
            reason = "length" if n >= params.max_tokens and not checker.stopped else "stop"
        yield Done(reason, stats.n_prompt or prep.n_prompt, n, stats.n_cached, checker.stopped,
                   dict(scrubber.counts), gate.matches if gate is not None else None,
                   gate is not None and gate.blocked, stats=stats, tokens=kept or [],
                   files=prep.files)
