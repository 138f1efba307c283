"""`commons lsp` end to end: pygls' LanguageClient in this process talks over stdio to
`commons lsp` started as a subprocess, which asks a real `commons serve` (the tiny
GGUF, in a thread here) for suggestions. A recording middleware in front of the
server shows what the language server sent and when it hung up.

    python -m pytest tests/lsp/test_server.py -q
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled
from pygls.lsp.client import LanguageClient

from codecommons.engines.base import Token
from tests.serve.live import ScriptedEngine, free_port, running_server

SRC = str(Path(__file__).resolve().parents[2] / "src")
DEAD_URL = "http://127.0.0.1:9"  # nothing listens: proves a request went elsewhere
ROOT = Path("/work/project")
URI = (ROOT / "pkg" / "mod.py").as_uri()
URI2 = (ROOT / "pkg" / "other.py").as_uri()
TEXT = 'import math\n\n\ndef area(r):\n    """Circle area 😀."""\n    return \n\n\nprint(area(2))\n'


class Recorder:
    """ASGI middleware: the JSON bodies sent to /v1/completions, and each
    client disconnect the server was told about."""

    def __init__(self, app):
        self.app, self.bodies, self.disconnects = app, [], 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/v1/completions":
            return await self.app(scope, receive, send)
        chunks = []

        async def recording_receive():
            msg = await receive()
            if msg["type"] == "http.request":
                chunks.append(msg.get("body", b""))
                if not msg.get("more_body"):
                    self.bodies.append(json.loads(b"".join(chunks)))
            elif msg["type"] == "http.disconnect":
                self.disconnects += 1
            return msg

        return await self.app(scope, recording_receive, send)


class SlowEngine:
    """Wraps the real engine; generates "x" every `delay` s until cancelled or
    max_tokens, and records each call's outcome."""

    def __init__(self, engine, delay: float = 0.05):
        self._engine, self.delay = engine, delay
        self.started, self.outcomes = threading.Event(), []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def generate(self, prompt, params, cancel, key="", stats=None):
        self.started.set()
        for _ in range(params.max_tokens):
            if cancel.is_set():
                self.outcomes.append("cancelled")
                return
            time.sleep(self.delay)
            yield Token(-1, "x")
        self.outcomes.append("done")


@contextlib.asynccontextmanager
async def session(url: str, *flags: str, tcp: bool = False):
    """A started, initialised `commons lsp` and a client; notifications collected."""
    client = LanguageClient("test-editor", "1")
    client.diagnostics, client.messages = {}, []

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params):
        client.diagnostics[params.uri] = params.diagnostics

    @client.feature(lsp.WINDOW_SHOW_MESSAGE)
    def on_message(params):
        client.messages.append(params.message)

    args = ["-m", "codecommons", "lsp", *(["--url", url] if url else []), "--debounce-ms", "0", *flags]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = None
    if tcp:
        port = free_port()
        proc = await asyncio.create_subprocess_exec(sys.executable, *args, "--tcp", "--port",
                                                    str(port), env=env)
        for _ in range(100):
            with contextlib.suppress(OSError):
                await client.start_tcp("127.0.0.1", port)
                break
            await asyncio.sleep(0.1)
    else:
        await client.start_io(sys.executable, *args, env=env)
    caps = lsp.ClientCapabilities(text_document=lsp.TextDocumentClientCapabilities(
        inline_completion=lsp.InlineCompletionClientCapabilities()))
    client.init = await client.initialize_async(lsp.InitializeParams(
        capabilities=caps, root_uri=ROOT.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(ROOT.as_uri(), "project")]))
    client.initialized(lsp.InitializedParams())
    try:
        yield client
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        if proc is not None:
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        else:
            await asyncio.wait_for(client.stop(), 10)
            assert client._server.returncode == 0


def open_doc(client, text: str = TEXT, uri: str = URI) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))


def change(client, version: int, l0: int, c0: int, l1: int, c1: int, text: str, uri: str = URI):
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
        content_changes=[lsp.TextDocumentContentChangePartial(
            range=lsp.Range(lsp.Position(l0, c0), lsp.Position(l1, c1)), text=text)]))


def inline(client, line: int, char: int, kind=lsp.InlineCompletionTriggerKind.Automatic,
           selected: lsp.SelectedCompletionInfo | None = None, uri: str = URI):
    return client.text_document_inline_completion_async(lsp.InlineCompletionParams(
        lsp.InlineCompletionContext(kind, selected), lsp.TextDocumentIdentifier(uri),
        lsp.Position(line, char)))


def test_inline_completion_with_incremental_sync(gguf_engine):
    engine = ScriptedEngine(gguf_engine, "math.pi * r ** 2", "3.14 * r * r", "r * r * math.pi")
    async def run(url, recorder):
        async with session(url) as client:
            caps = client.init.capabilities
            assert caps.inline_completion_provider is not None
            assert caps.text_document_sync.change == lsp.TextDocumentSyncKind.Incremental
            assert "commons.accepted" in caps.execute_command_provider.commands
            open_doc(client)
            # Two incremental edits, one after an astral character (2 UTF-16 units).
            change(client, 2, 4, 22, 4, 22, "!")  # after 😀 (UTF-16 columns 19-20) and "."
            change(client, 3, 5, 11, 5, 11, "  ")  # then back to "return " + 2 spaces
            change(client, 4, 5, 11, 5, 13, "")

            result = await inline(client, 5, 11)
            body = recorder.bodies[-1]
            expected = TEXT.replace('."""', '.!"""')
            cursor = expected.index("return ") + len("return ")
            assert body["prompt"] == expected[:cursor] and body["suffix"] == expected[cursor:]
            assert body["path"] == "pkg/mod.py" and body["n"] == 1 and body["temperature"] == 0
            assert [i.insert_text for i in result.items] == ["math.pi * r ** 2"]
            assert result.items[0].command.command == "commons.accepted"

            result = await inline(client, 5, 11, lsp.InlineCompletionTriggerKind.Invoked)
            assert recorder.bodies[-1]["n"] == 3 and recorder.bodies[-1]["temperature"] > 0
            assert [i.insert_text for i in result.items] == ["3.14 * r * r", "r * r * math.pi"]

            # Automatic with code to the right of the cursor: llama.vim's rule, no request.
            n = len(recorder.bodies)
            assert await inline(client, 8, 0) is None and len(recorder.bodies) == n

            # An item selected in the completion widget: extend it over its range.
            sel = lsp.SelectedCompletionInfo(lsp.Range(lsp.Position(5, 11), lsp.Position(5, 11)), "ma")
            result = await inline(client, 5, 11, lsp.InlineCompletionTriggerKind.Invoked, sel)
            assert recorder.bodies[-1]["prompt"].endswith("return ma")
            assert all(i.insert_text.startswith("ma") and i.range == sel.range for i in result.items)

    recorder = None

    def wrap(app):
        nonlocal recorder
        recorder = Recorder(app)
        return recorder

    with running_server(engine, wrap=wrap) as url:
        asyncio.run(run(url, recorder))


def test_real_model_and_tcp(gguf_engine):
    """Over TCP, an automatic (greedy) suggestion is the tiny model's own text: what
    the server answers to the same request sent directly."""
    recorder = None

    def wrap(app):
        nonlocal recorder
        recorder = Recorder(app)
        return recorder

    async def run(url):
        async with session(url, "--max-tokens", "8", tcp=True) as client:
            open_doc(client)
            result = await inline(client, 5, 11)
            direct = httpx.post(url + "/v1/completions", json=recorder.bodies[-1]).json()
            texts = [c["text"] for c in direct["choices"] if c["text"].strip()]
            assert [i.insert_text for i in (result.items if result else [])] == texts
            assert client.messages == []  # no error surfaced

    with running_server(gguf_engine, wrap=wrap) as url:
        asyncio.run(run(url))


def llm_vscode_params(url: str | None, backend: str = "openai") -> dict:
    """What llm-vscode sends (huggingface/llm-vscode src/extension.ts), with its
    default settings (package.json)."""
    return {"position": {"line": 5, "character": 11}, "textDocument": {"uri": URI},
            "model": "bigcode/starcoder", "backend": backend, "url": url,
            "tokensToClear": ["<|endoftext|>"], "apiToken": None,
            "requestBody": {"parameters": {"max_new_tokens": 60, "temperature": 0.2, "top_p": 0.95}},
            "fim": {"enabled": True, "prefix": "<fim_prefix>", "middle": "<fim_middle>",
                    "suffix": "<fim_suffix>"},
            "contextWindow": 2048, "tlsSkipVerifyInsecure": False, "ide": "vscode",
            "tokenizerConfig": None, "disableUrlPathCompletion": False}


def test_llm_ls_protocol(gguf_engine):
    engine = ScriptedEngine(gguf_engine, "math.pi * r ** 2<|endoftext|>")
    recorder = None

    def wrap(app):
        nonlocal recorder
        recorder = Recorder(app)
        return recorder

    async def run(url):
        # --url is dead: the request's own URL (llm-ls semantics) must be used.
        async with session(DEAD_URL) as client:
            open_doc(client)
            res = await client.protocol.send_request_async(
                "llm-ls/getCompletions", llm_vscode_params(url + "/v1/completions"))
            assert uuid.UUID(res.request_id)
            assert [c.generated_text for c in res.completions] == ["math.pi * r ** 2"]
            body = recorder.bodies[-1]
            assert (body["max_tokens"], body["temperature"], body["top_p"]) == (60, 0.2, 0.95)
            assert "model" not in body and body["suffix"].startswith("\n\n\nprint")
            assert await client.protocol.send_request_async("llm-ls/acceptCompletion", {
                "requestId": res.request_id, "acceptedCompletion": 0, "shownCompletions": [0]}) is None
            assert await client.protocol.send_request_async("llm-ls/rejectCompletion", {
                "requestId": res.request_id, "shownCompletions": [0]}) is None
            # llm-vscode's default backend (the hosted Inference API, url null): never
            # sent there; --url is used, which is down: one warning, empty answers.
            for _ in range(2):
                res = await client.protocol.send_request_async(
                    "llm-ls/getCompletions", llm_vscode_params(None, "huggingface"))
                assert res.completions == []
            assert len(client.messages) == 1 and "cannot reach http://127.0.0.1:9" in client.messages[0]

    with running_server(engine, wrap=wrap) as url:
        asyncio.run(run(url))


def test_cancel_request_and_superseded_request_stop_the_generation(gguf_engine):
    slow = SlowEngine(gguf_engine)
    recorder = None

    def wrap(app):
        nonlocal recorder
        recorder = Recorder(app)
        return recorder

    async def wait_for(cond, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)

    async def run(url):
        async with session(url, "--max-tokens", "400") as client:
            open_doc(client)
            # $/cancelRequest: the request is answered "cancelled" and the server hangs up.
            fut = client.protocol.send_request_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionParams(
                lsp.InlineCompletionContext(lsp.InlineCompletionTriggerKind.Automatic),
                lsp.TextDocumentIdentifier(URI), lsp.Position(5, 11)), msg_id="slow-1")
            await wait_for(slow.started.is_set)
            client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="slow-1"))
            with pytest.raises(JsonRpcRequestCancelled):
                await asyncio.wait_for(fut, 10)
            await wait_for(lambda: slow.outcomes == ["cancelled"], 3)
            assert recorder.disconnects >= 1

            # A newer request for the same document replaces the one in flight.
            slow.started.clear()
            first = asyncio.ensure_future(inline(client, 5, 11))
            await wait_for(slow.started.is_set)
            slow.delay = 0.001
            second = await asyncio.wait_for(inline(client, 5, 11), 20)
            assert await asyncio.wait_for(first, 10) is None
            assert second.items and set(second.items[0].insert_text) == {"x"}
            await wait_for(lambda: len(slow.outcomes) == 3)
            assert slow.outcomes == ["cancelled", "cancelled", "done"]

    with running_server(slow, wrap=wrap) as url:
        asyncio.run(run(url))


def test_attribution_label_diagnostic_and_content_filter(gguf_engine, tmp_path_factory):
    from codecommons.serve.app import ServeOptions
    from codecommons.serve.public_code import PublicCodePolicy
    from tests.attribution.planted import LICENSE, REPO, function_source, stdlib_index

    index = str(stdlib_index(tmp_path_factory.mktemp("lsp-public-code")))
    copy = function_source("textwrap.py", "dedent") + "\n"
    doc = "import re\n\n\n"
    at_end = (3, 0)

    async def run(url):
        async with session(url) as client:
            open_doc(client, doc)
            result = await inline(client, *at_end, lsp.InlineCompletionTriggerKind.Invoked)
            item = result.items[0]
            assert item.insert_text == copy.rstrip("\n")
            assert item.command.title == f"Matches public code: {REPO}/textwrap.py ({LICENSE})"
            assert client.diagnostics.get(URI, []) == []
            # The editor inserts the item, then runs its command.
            change(client, 2, *at_end, *at_end, item.insert_text)
            await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
                item.command.command, item.command.arguments))
            await asyncio.sleep(0.2)
            (diag,) = client.diagnostics[URI]
            assert diag.severity == lsp.DiagnosticSeverity.Information and diag.source == "commons"
            assert f"{REPO}/textwrap.py" in diag.message and LICENSE in diag.message
            assert diag.range.start.line >= 3 and diag.range.end.line <= 3 + copy.count("\n")
            # Lines typed above move it; an edit inside the copied text removes it.
            change(client, 3, 0, 0, 0, 0, "import os\n")
            await asyncio.sleep(0.2)
            (moved,) = client.diagnostics[URI]
            assert moved.range.start.line == diag.range.start.line + 1
            change(client, 4, moved.range.start.line + 1, 0, moved.range.start.line + 1, 0, "    # edited\n")
            await asyncio.sleep(0.2)
            assert list(client.diagnostics[URI]) == []

            # llm-ls: the completion carries the matches; accepting it flags the text.
            open_doc(client, doc, uri=URI2)
            params = {**llm_vscode_params(None), "textDocument": {"uri": URI2},
                      "position": {"line": 3, "character": 0}}
            res = await client.protocol.send_request_async("llm-ls/getCompletions", params)
            (completion,) = res.completions
            assert completion.attribution[0].repo == REPO
            await client.protocol.send_request_async("llm-ls/acceptCompletion", {
                "requestId": res.request_id, "acceptedCompletion": 0, "shownCompletions": [0]})
            await asyncio.sleep(0.2)
            assert len(client.diagnostics[URI2]) == 1

    engine = ScriptedEngine(gguf_engine, copy)
    opts = ServeOptions(public_code=PublicCodePolicy.open(index, "annotate"))
    with running_server(engine, opts) as url:
        asyncio.run(run(url))

    async def run_blocked(url):
        async with session(url) as client:
            open_doc(client, doc)
            result = await inline(client, *at_end, lsp.InlineCompletionTriggerKind.Invoked)
            assert list(result.items) == []  # withheld (content_filter): never shown
            metrics = httpx.get(url + "/metrics").text
            blocked = re.search(r'commons_public_code_suggestions_total\{outcome="blocked"\} (\S+)', metrics)
            assert float(blocked[1]) >= 3  # the 3 samples, and the server's retries

    opts = ServeOptions(public_code=PublicCodePolicy.open(index, "block"))
    with running_server(ScriptedEngine(gguf_engine, copy), opts) as url:
        asyncio.run(run_blocked(url))


def test_other_documents_are_sent_as_extra_context(gguf_engine):
    recorder = None

    def wrap(app):
        nonlocal recorder
        recorder = Recorder(app)
        return recorder

    helper = "".join(f"def helper_{i}(x):\n    return x * {i}\n\n" for i in range(8))

    async def run(url):
        async with session(url, "--ring-update-ms", "20", "--ring-idle-ms", "0") as client:
            open_doc(client, helper, uri=URI2)  # picked as a chunk on open
            open_doc(client)
            await asyncio.sleep(0.3)  # the chunks move from the queue into the ring
            await inline(client, 5, 11)
            extra = recorder.bodies[-1]["extra_context"]
            # other.py whole (under a chunk's size); mod.py's own chunk is left out, being
            # too much like the text around the cursor.
            assert extra == [{"filename": "pkg/other.py", "text": helper}]

    with running_server(ScriptedEngine(gguf_engine, "1"), wrap=wrap) as url:
        asyncio.run(run(url))


def test_completion_items_for_editors_without_inline_completion(gguf_engine):
    async def run(url):
        async with session(url) as client:  # off by default
            assert client.init.capabilities.completion_provider is None
        async with session(url, "--completion-items") as client:
            assert client.init.capabilities.completion_provider is not None
            open_doc(client, "import math\n\nx = ma\n")
            result = await client.text_document_completion_async(lsp.CompletionParams(
                lsp.TextDocumentIdentifier(URI), lsp.Position(2, 6)))
            (item,) = result.items
            assert result.is_incomplete
            # The word before the cursor ("ma") is replaced by itself + the suggestion,
            # so a menu filtering by the typed word keeps the item.
            assert item.text_edit.new_text == item.filter_text == "math.pi * r ** 2"
            assert item.text_edit.range == lsp.Range(lsp.Position(2, 4), lsp.Position(2, 6))
            assert item.command.command == "commons.accepted"

    with running_server(ScriptedEngine(gguf_engine, "th.pi * r ** 2"), None) as url:
        asyncio.run(run(url))


def test_in_process_model_gives_the_servers_suggestion(gguf_engine, tiny_gguf):
    """`commons lsp --model` builds the prompt and stop rules as `commons serve` does, so
    a greedy suggestion equals the server's answer to the same request."""
    recorder = None

    def wrap(app):
        nonlocal recorder
        recorder = Recorder(app)
        return recorder

    async def through_server(url):
        async with session(url, "--max-tokens", "8") as client:
            open_doc(client)
            result = await inline(client, 5, 11)
            return [i.insert_text for i in (result.items if result else [])]

    async def in_process():
        async with session("", "--model", str(tiny_gguf), "--max-tokens", "8") as client:
            open_doc(client)
            result = await inline(client, 5, 11)
            return [i.insert_text for i in (result.items if result else [])], client.messages

    with running_server(gguf_engine, wrap=wrap) as url:
        served = asyncio.run(through_server(url))
    local, messages = asyncio.run(in_process())
    assert messages == [] and local == served and served  # a real suggestion, the same
