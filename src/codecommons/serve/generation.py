"""From a request's text to engine prompts, and from engine tokens to response text.

`Generation` sits between the protocol layers (OpenAI, TGI) and one engine:
  * `prepare_completion` turns a prompt (+ optional FIM suffix, or a ready-made FIM
    prompt from an editor plugin) into segments that fit the context, validating
    the request; `prepare_chat` does the same for chat messages;
  * `run` drives the engine on the scheduler's worker thread and applies stop rules.

Cache-friendly FIM layout. An editor sends nearly the same prefix on every
keystroke. In PSM order the suffix follows the prefix, so any change at the
cursor invalidates the KV cache of the whole suffix (llama-cpp-python's own server
re-evaluates it on every request). We split the prefix at a line start into a
stable `head` and a `tail` (the text typed since) and put the tail after the middle
sentinel, as llama.cpp's /infill does with its `prompt` field:

    <PRE> head <SUF> suffix <MID> tail  ->  model writes the rest of the middle

The tail is the known start of the middle, which PSM training covers. The head is
kept across requests while the suffix is unchanged and the prefix still starts
with it, so typing evaluates only the new characters' tokens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Iterator

from codecommons.engines.base import Engine, SamplingParams
from codecommons.engines.stopping import InfillContext, StopChecker
from codecommons.serve.public_code import PublicCodeGate, PublicCodePolicy
from codecommons.serve.scrub import DEFAULT_KINDS, Scrubber
from codecommons.tokenizer.fim import FimTemplate, Segment, fit_to_budget

MAX_TAIL_CHARS = 2048  # past this the tail is folded back into the head
FIM_OVERHEAD_TOKENS = 8  # sentinels and BOS


class RequestError(ValueError):
    """Bad input: becomes a 4xx in the API's own error shape."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


@dataclass
class Prepared:
    prompt: list[Segment] = field(default_factory=list)
    messages: list[dict] | None = None
    n_prompt: int = 0
    infill: InfillContext | None = None
    stops: list[str] = field(default_factory=list)
    stop_token_ids: frozenset[int] = frozenset()  # the FIM template's end tokens


@dataclass
class Delta:
    text: str


@dataclass
class Done:
    finish_reason: str  # "stop" | "length" | "cancelled"
    n_prompt: int
    n_generated: int
    n_cached: int
    stop_sequence: bool = False  # ended by a stop string or an infill rule, not EOS
    scrubbed: dict = field(default_factory=dict)  # secrets redacted from the output, per kind
    attribution: list[dict] | None = None  # matches in the code index (None: not checked)
    blocked: bool = False  # withheld as a copy of indexed code (public_code.py)


class Generation:
    def __init__(self, engine: Engine, max_tail_chars: int = MAX_TAIL_CHARS,
                 scrub_kinds: tuple[str, ...] = DEFAULT_KINDS,
                 public_code: PublicCodePolicy | None = None) -> None:
        self.engine = engine
        self.scrub_kinds = scrub_kinds
        self.public_code = public_code
        self.fim: FimTemplate | None = engine.fim_template()
        self.max_tail_chars = max_tail_chars
        self._head: str | None = None  # head and suffix of the last FIM prompt
        self._suffix: str | None = None
        self._cut = ""  # text cut from the front of the last over-long prefix
        self._cut_suffix: tuple[str | None, str] = (None, "")  # (suffix, its fitted form)
        self._lock = threading.Lock()

    # -- preparing ----------------------------------------------------------
    def count(self, prompt: list[Segment]) -> int:
        if self.engine.remote:  # no local tokenizer: estimate
            return sum(self.engine.count_tokens(s.text) for s in prompt)
        return len(self.engine.encode(prompt))

    def check_length(self, n_prompt: int, max_tokens: int) -> None:
        n_ctx = self.engine.n_ctx
        if n_prompt >= n_ctx or n_prompt + max_tokens > n_ctx:
            raise RequestError(
                f"This model's maximum context length is {n_ctx} tokens. However, you requested "
                f"{n_prompt + max_tokens} tokens ({n_prompt} in the prompt, {max_tokens} for the "
                f"completion). Please reduce the prompt or max_tokens.",
                param="prompt" if n_prompt >= n_ctx else "max_tokens",
                code="context_length_exceeded")

    def prepare_completion(self, prompt: str, suffix: str | None, max_tokens: int,
                           stops: list[str]) -> Prepared:
        if suffix is None and self.fim is not None:
            parsed = self.fim.parse(prompt)
            if parsed is not None:
                prefix, suffix, middle_start = parsed
                prompt = prefix + middle_start
        if suffix is None:
            segs = [Segment(prompt, special=True)] if prompt else []
            n = self.count(segs)
            self.check_length(n, max_tokens)
            return Prepared(prompt=segs, n_prompt=n, stops=stops)
        return self._prepare_infill(prompt, suffix, max_tokens, stops)

    def _prepare_infill(self, prefix: str, suffix: str, max_tokens: int,
                        stops: list[str]) -> Prepared:
        if self.fim is None:
            raise RequestError(f"model {self.engine.spec.id} has no fill-in-the-middle tokens; "
                               f"send the request without `suffix`", param="suffix")
        budget = self.engine.n_ctx - max_tokens - FIM_OVERHEAD_TOKENS
        if budget <= 0:
            self.check_length(FIM_OVERHEAD_TOKENS, max_tokens)
        prefix, suffix = self._fit(prefix, suffix, budget)
        # Blanks before the cursor are left out of the prompt and healed in the output
        # (see stopping.StopChecker._drop_heal).
        current_line = prefix[prefix.rfind("\n") + 1:]
        heal = current_line[len(current_line.rstrip(" \t")):]
        head, tail = self._split(prefix[: len(prefix) - len(heal)], suffix)
        segs = self.fim.segments(head, suffix, tail)
        n = self.count(segs)
        self.check_length(n, max_tokens)
        return Prepared(prompt=segs, n_prompt=n, stops=stops + self._fim_stop_strings(),
                        stop_token_ids=self.engine.fim_stop_ids(),
                        infill=InfillContext.from_text(prefix, suffix, heal))

    def _fim_stop_strings(self) -> list[str]:
        # A remote server may print special tokens as text; cut there.
        return list(self.fim.stops) if self.engine.remote else []

    def _fit(self, prefix: str, suffix: str, budget: int) -> tuple[str, str]:
        """fit_to_budget, with a sticky cut: in a file larger than the context, a cut
        point that moved with every keystroke would change the prompt's first line
        and so invalidate the whole KV cache. So when cutting is needed we cut to
        90% of the budget, and keep that cut while the rest still fits."""
        count = self.engine.count_tokens
        with self._lock:
            cut, (cut_suffix, fitted_suffix) = self._cut, self._cut_suffix
        if cut and prefix.startswith(cut) and suffix == cut_suffix:
            rest = prefix[len(cut):]
            if count(rest) + count(fitted_suffix) <= budget:
                return rest, fitted_suffix
        if count(prefix) + count(suffix) <= budget:
            return prefix, suffix
        fitted_prefix, fitted_suffix = fit_to_budget(prefix, suffix, int(budget * 0.9), count)
        with self._lock:
            self._cut = prefix[: len(prefix) - len(fitted_prefix)]
            self._cut_suffix = (suffix, fitted_suffix)
        return fitted_prefix, fitted_suffix

    def _split(self, prefix: str, suffix: str) -> tuple[str, str]:
        """Stable head + typed tail (see the module docstring)."""
        with self._lock:
            head = self._head
            if not (head is not None and suffix == self._suffix and prefix.startswith(head)
                    and len(prefix) - len(head) <= self.max_tail_chars):
                head = prefix[: prefix.rfind("\n") + 1]
            self._head, self._suffix = head, suffix
        return head, prefix[len(head):]

    def prepare_chat(self, messages: list[dict], max_tokens: int | None,
                     stops: list[str]) -> tuple[Prepared, int]:
        """Returns the prepared prompt and the max_tokens to use (default: the rest
        of the context)."""
        if self.engine.remote:  # the remote server applies its own chat template
            n = sum(self.engine.count_tokens(str(m.get("content", ""))) for m in messages)
            return Prepared(messages=messages, n_prompt=n, stops=stops), max_tokens or 1024
        try:
            segs = self.engine.render_chat(messages)
        except ValueError as e:
            raise RequestError(str(e), param="messages") from e
        n = self.count(segs)
        if max_tokens is None:
            max_tokens = max(self.engine.n_ctx - n, 1)
        self.check_length(n, max_tokens)
        return Prepared(prompt=segs, n_prompt=n, stops=stops), max_tokens

    # -- running (on the engine's worker thread) ----------------------------
    def run(self, prep: Prepared, params: SamplingParams,
            cancel: threading.Event) -> Iterator[Delta | Done]:
        checker = StopChecker(prep.stops, prep.infill)
        scrubber = Scrubber(self.scrub_kinds)
        gate = PublicCodeGate(self.public_code) if self.public_code else None
        if prep.stop_token_ids:
            params = replace(params, stop_token_ids=params.stop_token_ids | prep.stop_token_ids)
        if prep.messages is not None:
            tokens = self.engine.chat(prep.messages, params, cancel)
        else:
            tokens = self.engine.generate(prep.prompt, params, cancel)
        n = 0
        try:
            for tok in tokens:
                n += 1
                # stop rules -> secrets scrubbed -> public-code check -> client
                out = scrubber.feed(checker.feed(tok.text))
                if gate is not None:
                    out = gate.feed(out)
                if out:
                    yield Delta(out)
                if checker.stopped or (gate is not None and gate.blocked):
                    break
        finally:
            tokens.close()
        rest = scrubber.feed(checker.finish()) + scrubber.finish()
        if gate is not None:
            rest = gate.feed(rest) + gate.finish()
        if rest:
            yield Delta(rest)
        if cancel.is_set():
            reason = "cancelled"
        elif gate is not None and gate.blocked:
            reason = "content_filter"
        else:
            reason = "length" if n >= params.max_tokens and not checker.stopped else "stop"
        yield Done(reason, prep.n_prompt, n, self.engine.last_prompt.n_cached, checker.stopped,
                   dict(scrubber.counts), gate.matches if gate is not None else None,
                   gate is not None and gate.blocked)
