"""The language server: documents, inline completion (LSP 3.18 and llm-ls), acceptance.

    server = build_server(LspConfig(url="http://127.0.0.1:8000"))
    server.start_io()

Requests and what they do:

* `textDocument/inlineCompletion` (capability `inlineCompletionProvider`): an
  Automatic trigger gets one suggestion (greedy, cheap, cache-friendly); an Invoked
  one asks for `invoked_n` samples and offers the distinct ones. With
  `selectedCompletionInfo` the prompt is the document as if the selected completion
  item were inserted, and each item extends its text over its range (LSP 3.18).
  Each item carries a command, `commons.accepted`, that the editor runs after
  inserting it; its title names the public code it matches, if any.
* `llm-ls/getCompletions`, `llm-ls/acceptCompletion`, `llm-ls/rejectCompletion`
  (llmls.py) go through the same path.
* Accepting a suggestion that matches indexed code (the server's `attribution`)
  publishes an Information diagnostic on the accepted text.

Latency: each request waits `debounce_ms`; a newer request for the same document
cancels the older one (its answer is empty), and `$/cancelRequest` cancels the
request's task. Both close the HTTP connection, which stops the generation on the
server.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable, TypeVar

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, default_converter
from pygls.uris import to_fs_path

from codecommons import __version__
from codecommons.lsp import llmls, provenance
from codecommons.lsp.backend import BACKENDS, Backend, BackendError, FimRequest, Suggestion
from codecommons.lsp.cli import LspConfig
from codecommons.lsp.context import RingContext
from codecommons.lsp.document import Document
from codecommons.lsp.stdio import serve_stdio
from codecommons.lsp.window import fim_window

log = logging.getLogger(__name__)
T = TypeVar("T")
ACCEPTED = "commons.accepted"  # the inline items' command: (request_id, index)
MAX_SHOWN = 64  # answered requests remembered for accept/reject
FAR_LINES = 32  # llama.vscode MAX_LAST_PICK_LINE_DISTANCE
RING_SCOPE = 1024  # llama.vim ring_scope: lines around the cursor chunks come from


class Latest:
    """At most one running task per key: a new one cancels the one before."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task] = {}

    async def run(self, key: str, make: Callable[[], Awaitable[T]]) -> T | None:
        """The task's result, or None when a newer one for `key` replaced it. A
        cancellation of the caller itself ($/cancelRequest) propagates, and cancels
        the task with it."""
        if (old := self._tasks.get(key)) is not None:
            old.cancel()
        task = asyncio.ensure_future(make())
        self._tasks[key] = task
        try:
            return await task
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():
                raise
            return None  # superseded
        finally:
            if self._tasks.get(key) is task:
                del self._tasks[key]


@dataclass
class Ask:
    """One suggestion request, whatever protocol it came in."""

    uri: str
    position: lsp.Position
    automatic: bool
    selected: lsp.SelectedCompletionInfo | None = None
    n: int = 1
    temperature: float = 0.0
    budget_tokens: int = 2048
    fim: bool = True
    overrides: dict = field(default_factory=dict)  # FimRequest fields (llm-ls requestBody, url)
    tokens_to_clear: list[str] = field(default_factory=list)


@dataclass
class Shown:
    """Suggestions offered for one request, kept to act on acceptance."""

    uri: str
    start: lsp.Position  # where the inserted text begins
    lead: str  # text before the suggestion in the inserted text (selected item)
    suggestions: list[Suggestion]


class CommonsLanguageServer(LanguageServer):
    def __init__(self, cfg: LspConfig, backend: Backend) -> None:
        super().__init__("commons-lsp", __version__, converter_factory=_converter)
        self.cfg, self.backend = cfg, backend
        self.docs: dict[str, Document] = {}
        self.ring = RingContext(cfg.extra_chunks, cfg.extra_chunk_lines, cfg.extra_chars,
                                cfg.ring_update_ms, cfg.ring_idle_ms)
        self.latest = Latest()
        self.shown: collections.OrderedDict[str, Shown] = collections.OrderedDict()
        self.diagnostics = provenance.DiagnosticStore()
        self.last_edit: dict[str, int] = {}  # uri -> line of the last edit
        self.last_pick: dict[str, int] = {}  # uri -> cursor line of the last far pick
        self._warned: set[str] = set()
        self._ring_task: asyncio.Task | None = None

    def start_io(self, stdin=None, stdout=None) -> None:
        serve_stdio(self, stdin, stdout)

    # -- documents ---------------------------------------------------------------

    @property
    def encoding(self) -> str:
        caps = self.protocol.server_capabilities
        return (caps.position_encoding if caps and caps.position_encoding
                else lsp.PositionEncodingKind.Utf16)

    def relative_path(self, uri: str) -> str:
        """The document's path in its workspace folder (the server's `path`)."""
        path = to_fs_path(uri) or uri
        roots = [to_fs_path(f.uri) for f in self.workspace.folders.values()]
        roots += [self.workspace.root_path] if self.workspace.root_path else []
        for root in filter(None, roots):
            if path.startswith(root.rstrip(os.sep) + os.sep):
                return os.path.relpath(path, root)
        return os.path.basename(path)

    def pick_around(self, uri: str, line: int | None) -> None:
        if (doc := self.docs.get(uri)) is not None:
            lines = doc.text.splitlines()
            self.ring.pick(self.relative_path(uri), lines, around=line)

    # -- suggestions -------------------------------------------------------------

    async def suggest(self, ask: Ask) -> tuple[str, list[Suggestion]] | None:
        """(request id, suggestions) for one request; None when there is nothing to
        ask (unknown document, cursor before text) or a newer request replaced it."""
        doc = self.docs.get(ask.uri)
        if doc is None:
            return None
        text, cursor, lead = doc.text, doc.offset_at(ask.position), ""
        if ask.selected is not None:
            start, end = doc.offset_at(ask.selected.range.start), doc.offset_at(ask.selected.range.end)
            lead = ask.selected.text
            text, cursor = text[:start] + lead + text[end:], start + len(lead)
        line_end = text.find("\n", cursor)
        rest = text[cursor:len(text) if line_end < 0 else line_end]
        if ask.automatic and len(rest.strip()) > self.cfg.max_line_suffix:
            return None
        window = fim_window(text, cursor, ask.budget_tokens)
        request = FimRequest(prefix=window.prefix, suffix=window.suffix if ask.fim else None,
                             max_tokens=self.cfg.max_tokens, temperature=ask.temperature, n=ask.n,
                             extra_context=self._extra_context(ask.uri, doc, text, cursor, window),
                             path=self.relative_path(ask.uri))
        for k, v in ask.overrides.items():
            setattr(request, k, v)
        suggestions = await self.latest.run(ask.uri, lambda: self._debounced(request))
        if suggestions is None:
            return None
        out, seen = [], set()
        for s in suggestions:
            s.text = llmls.clear_tokens(s.text, ask.tokens_to_clear)
            if s.text.strip() and s.text not in seen:
                seen.add(s.text)
                out.append(s)
        request_id = str(uuid.uuid4())
        start = ask.selected.range.start if ask.selected is not None else ask.position
        self.shown[request_id] = Shown(ask.uri, start, lead, out)
        while len(self.shown) > MAX_SHOWN:
            self.shown.popitem(last=False)
        return request_id, out

    async def _debounced(self, request: FimRequest) -> list[Suggestion]:
        if self.cfg.debounce_ms:
            await asyncio.sleep(self.cfg.debounce_ms / 1000)
        try:
            return await self.backend.complete(request)
        except BackendError as e:
            self.warn_once(str(e))
            return []

    def _extra_context(self, uri: str, doc: Document, text: str, cursor: int, window) -> list[dict]:
        """Chunks from other documents (and this one, beyond the window); the current
        document's far parts are queued when the cursor moved far (llama.vscode
        addFimContextChunks)."""
        if self.cfg.extra_chunks <= 0:
            return []
        lines = text.splitlines()
        line = text.count("\n", 0, cursor)
        if abs(line - self.last_pick.get(uri, -10**9)) > FAR_LINES:
            name = self.relative_path(uri)
            self.ring.pick(name, lines[max(0, line - RING_SCOPE):window.first_line], evict=False)
            below = line + window.suffix.count("\n") + 1
            self.ring.pick(name, lines[below:below + self.cfg.extra_chunk_lines], evict=False)
            self.last_pick[uri] = line
        half = self.cfg.extra_chunk_lines // 2
        around = "\n".join(lines[max(0, line - half // 2):line + half // 2])
        return self.ring.extra(around)

    async def completion_item(self, uri: str, position: lsp.Position) -> lsp.CompletionList | None:
        """The suggestion as a completion item that replaces the word before the
        cursor with word + suggestion, so menus that filter by the typed word keep it.
        `is_incomplete`: asked again on the next keystroke."""
        doc = self.docs.get(uri)
        if doc is None:
            return None
        cursor = doc.offset_at(position)
        line_start = doc.text.rfind("\n", 0, cursor) + 1
        word = re.search(r"\w*$", doc.text[line_start:cursor])[0]
        start = doc.position_at(cursor - len(word))
        answer = await self.suggest(Ask(uri, position, automatic=False, temperature=self.cfg.temperature,
                                        budget_tokens=self.cfg.context_tokens,
                                        selected=lsp.SelectedCompletionInfo(
                                            lsp.Range(start, position), word)))
        if answer is None:
            return None
        request_id, suggestions = answer
        items = []
        for i, s in enumerate(suggestions):
            text = word + s.text
            first = text.strip().splitlines()[0] if text.strip() else text
            items.append(lsp.CompletionItem(
                label=first[:60] + ("…" if len(first) > 60 or "\n" in text.strip() else ""),
                kind=lsp.CompletionItemKind.Text, detail=provenance.label(s.attribution) or "commons",
                documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown, f"```\n{text}\n```"),
                filter_text=text, sort_text="0", text_edit=lsp.TextEdit(lsp.Range(start, position), text),
                command=lsp.Command(title="commons: accepted", command=ACCEPTED,
                                    arguments=[request_id, i])))
        return lsp.CompletionList(is_incomplete=True, items=items)

    def warn_once(self, message: str) -> None:
        """The backend's trouble, shown once per distinct message (not per keystroke)
        and logged every time."""
        log.warning("%s", message)
        self.window_log_message(lsp.LogMessageParams(lsp.MessageType.Warning, message))
        if message not in self._warned:
            self._warned.add(message)
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Warning,
                                                           f"commons lsp: {message}"))

    def accept(self, request_id: str, index: int) -> None:
        """A shown suggestion was inserted: flag the parts that copy indexed code."""
        shown = self.shown.pop(request_id, None)
        if shown is None or not 0 <= index < len(shown.suggestions):
            return
        s = shown.suggestions[index]
        if not s.attribution:
            return
        diags = provenance.diagnostics(shown.start, shown.lead + s.text, len(shown.lead),
                                       s.attribution, self.encoding)
        self.diagnostics.add(shown.uri, diags)
        self.publish(shown.uri)

    def publish(self, uri: str) -> None:
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, diagnostics=self.diagnostics.by_uri.get(uri, [])))

    async def ring_updates(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.ring_update_ms / 1000)
            self.ring.update()


def _converter():
    """pygls' converter, but custom requests' params stay plain dicts: llm-ls's
    camelCase fields and requestBody reach llmls.py as the client sent them."""
    c = default_converter()
    c.register_structure_hook(JsonRPCRequestMessage, lambda obj, cls: cls(**obj))
    c.register_structure_hook(JsonRPCNotification, lambda obj, cls: cls(**obj))
    return c


def build_server(cfg: LspConfig, backend: Backend | None = None) -> CommonsLanguageServer:
    ls = CommonsLanguageServer(cfg, backend or BACKENDS[cfg.backend](cfg))

    @ls.feature(lsp.INITIALIZED)
    async def initialized(ls: CommonsLanguageServer, _params) -> None:
        if ls.cfg.extra_chunks > 0:
            ls._ring_task = asyncio.ensure_future(ls.ring_updates())

    @ls.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CommonsLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        d = params.text_document
        ls.docs[d.uri] = Document(d.uri, d.text, d.version, d.language_id, ls.encoding)
        ls.pick_around(d.uri, None)  # llama.vim picks a chunk on BufEnter

    @ls.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CommonsLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = ls.docs.get(uri)
        if doc is None:
            log.warning("didChange for %s, which was not opened", uri)
            return
        moved = False
        for change in params.content_changes:
            rng = getattr(change, "range", None)
            moved |= ls.diagnostics.edit(uri, rng, change.text)
            doc.apply(change)
            if rng is not None:
                ls.last_edit[uri] = rng.start.line
        doc.version = params.text_document.version
        if moved:
            ls.publish(uri)

    @ls.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CommonsLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.pick_around(params.text_document.uri, ls.last_edit.get(params.text_document.uri))

    @ls.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CommonsLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.pick_around(uri, ls.last_edit.get(uri))  # llama.vim picks on BufLeave
        ls.docs.pop(uri, None)
        ls.diagnostics.close(uri)
        ls.last_edit.pop(uri, None)
        ls.last_pick.pop(uri, None)

    # pygls advertises inlineCompletionProvider only when given options.
    @ls.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())
    async def inline_completion(ls: CommonsLanguageServer, params: lsp.InlineCompletionParams
                                ) -> lsp.InlineCompletionList | None:
        automatic = params.context.trigger_kind == lsp.InlineCompletionTriggerKind.Automatic
        cfg = ls.cfg
        ask = Ask(params.text_document.uri, params.position, automatic,
                  params.context.selected_completion_info,
                  n=1 if automatic else cfg.invoked_n,
                  temperature=cfg.temperature if automatic or cfg.invoked_n == 1
                  else cfg.invoked_temperature, budget_tokens=cfg.context_tokens)
        answer = await ls.suggest(ask)
        if answer is None:
            return None
        request_id, suggestions = answer
        lead = ask.selected.text if ask.selected else ""
        rng = ask.selected.range if ask.selected else None
        return lsp.InlineCompletionList(items=[
            lsp.InlineCompletionItem(
                insert_text=lead + s.text, range=rng,
                command=lsp.Command(title=provenance.label(s.attribution) or "commons: accepted",
                                    command=ACCEPTED, arguments=[request_id, i]))
            for i, s in enumerate(suggestions)])

    if cfg.completion_items:
        # For editors without inline completion (Helix, eglot): the suggestion as one
        # item of the completion menu. Off by default: editors that have inline
        # completion would otherwise ask for every suggestion twice.
        @ls.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions())
        async def completion(ls: CommonsLanguageServer, params: lsp.CompletionParams
                             ) -> lsp.CompletionList | None:
            return await ls.completion_item(params.text_document.uri, params.position)

    @ls.command(ACCEPTED)
    def accepted(ls: CommonsLanguageServer, request_id: str, index: int) -> None:
        ls.accept(request_id, index)

    @ls.feature(llmls.GET_COMPLETIONS)
    async def get_completions(ls: CommonsLanguageServer, params: dict) -> dict:
        req = llmls.parse_get_completions(params)
        overrides = {k: v for k, v in (("url", req.url), ("api_key", req.api_key)) if v is not None}
        sampling = dict(req.sampling)
        temperature = float(sampling.pop("temperature", ls.cfg.temperature))
        overrides.update({k: v for k, v in sampling.items()})
        ask = Ask(req.uri, req.position, automatic=True, temperature=temperature,
                  budget_tokens=req.context_window or ls.cfg.context_tokens, fim=req.fim,
                  overrides=overrides, tokens_to_clear=req.tokens_to_clear)
        answer = await ls.suggest(ask)
        if answer is None:
            return llmls.result(str(uuid.uuid4()), [])
        request_id, suggestions = answer
        return llmls.result(request_id, [(s.text, s.attribution) for s in suggestions])

    @ls.feature(llmls.ACCEPT_COMPLETION)
    def accept_completion(ls: CommonsLanguageServer, params: dict) -> None:
        ls.accept(str(params.get("requestId")), int(params.get("acceptedCompletion", 0)))

    @ls.feature(llmls.REJECT_COMPLETION)
    def reject_completion(ls: CommonsLanguageServer, params: dict) -> None:
        ls.shown.pop(str(params.get("requestId")), None)

    @ls.feature(lsp.SHUTDOWN)
    async def shutdown(ls: CommonsLanguageServer, _params) -> None:
        if ls._ring_task is not None:
            ls._ring_task.cancel()
        await ls.backend.close()

    return ls
