"""`commons lsp --model NAME`: suggestions from a model loaded in this process, with no
server and no HTTP hop, built exactly as `commons serve` builds them: the one infill
policy (engines/infill.py: fitting, healing, the cache-friendly layout kept per
document, repository context), its stop rules, and secret scrubbing (pii/scrub.py).
The engine runs on a worker thread; cancelling the awaiting task (a `$/cancelRequest`,
a newer request for the same document) sets the generation's cancel event, which the
engine checks between tokens and prompt chunks.

What the server adds and this does not: attribution against a code index (start
`commons serve --index` and use --url for that), metrics, several clients.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from codecommons.engines.base import SamplingParams, load_engine
from codecommons.engines.infill import InfillBuilder, Layouts, PromptError
from codecommons.engines.stopping import StopChecker
from codecommons.lsp.backend import Backend, BackendError, FimRequest, Suggestion
from codecommons.models.registry import resolve
from codecommons.pii.scrub import DEFAULT_KINDS, Scrubber
from codecommons.tokenizer.fim import ContextFile, Segment


class EngineBackend(Backend):
    def __init__(self, model: str, n_ctx: int = 0, threads: int = 0) -> None:
        try:
            self.engine = load_engine(resolve(model), n_ctx=n_ctx, n_threads=threads, slots=2)
        except (ImportError, ValueError, FileNotFoundError) as e:
            raise BackendError(f"--model {model}: {e}") from e
        self.builder = InfillBuilder(self.engine)
        self.layouts = Layouts()

    def _one(self, request: FimRequest, index: int, cancel: threading.Event) -> Suggestion:
        params = SamplingParams(max_tokens=request.max_tokens, temperature=request.temperature,
                                top_p=request.top_p or 1.0,
                                seed=None if request.seed is None else request.seed + index)
        files = [ContextFile(c.get("filename", "context"), c.get("text", ""))
                 for c in request.extra_context]
        if request.suffix is None:
            prompt, checker, stop_ids = [Segment(request.prefix)], StopChecker(request.stop), frozenset()
        else:
            layout = self.layouts.get(request.path or "", request.prefix)
            p = self.builder.build(request.prefix, request.suffix, request.max_tokens, request.stop,
                                   files, layout, path=request.path or "")
            prompt, checker, stop_ids = p.segments, p.checker(), p.stop_token_ids
        params = replace(params, stop_token_ids=stop_ids)
        scrubber = Scrubber(DEFAULT_KINDS)
        out = []
        tokens = self.engine.generate(prompt, params, cancel, key=request.path or "")
        try:
            for tok in tokens:
                out.append(scrubber.feed(checker.feed(tok.text)))
                if checker.stopped:
                    break
        finally:
            tokens.close()
        out.append(scrubber.feed(checker.finish()) + scrubber.finish())
        return Suggestion("".join(out), "stop" if checker.stopped else "length")

    async def complete(self, request: FimRequest) -> list[Suggestion]:
        cancel = threading.Event()
        try:
            results = []
            for i in range(request.n):
                results.append(await asyncio.to_thread(self._one, request, i, cancel))
            return results
        except PromptError as e:
            raise BackendError(e.message) from e
        finally:
            cancel.set()  # a cancelled task leaves no generation running

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.close)
