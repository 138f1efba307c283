"""The one infill policy: from the text around a cursor to a FIM prompt, and the rules
that end the model's answer. Serving (every FIM request), evaluation (FIM tasks) and
the language server all build infill prompts here, so a benchmark measures exactly
what an editor gets.

What it decides:
  * fitting: prefix and suffix are cut at line boundaries to a token budget (prefix
    from the front, suffix from the back: the code nearest the cursor matters most);
  * healing: blanks between the last code and the cursor are left out of the prompt
    and dropped from the answer (stopping.StopChecker._drop_heal explains why);
  * layout: `<PRE> head <SUF> suffix <MID> tail` (below) so typing keeps the KV cache;
  * stop rules: the infill rules of engines/stopping.py from the cursor's context,
    the request's stop strings, and the FIM template's end tokens;
  * repository context: chunks of other files placed before the FIM prompt in the
    model's own repository format (tokenizer/fim.py `FimTemplate.repo_segments`).

Cache-friendly layout. An editor sends nearly the same prefix on every keystroke. In
PSM order the suffix follows the prefix, so any change at the cursor invalidates the
KV cache of the whole suffix. We split the prefix at a line start into a stable
`head` and a `tail` (the text typed since) and put the tail after the middle
sentinel, as llama.cpp's /infill does with its `prompt` field:

    <PRE> head <SUF> suffix <MID> tail  ->  model writes the rest of the middle

The tail is the known start of the middle, which PSM training covers. `Layout` keeps
the head (and the cut of an over-long file) per document while the suffix is
unchanged and the prefix still starts with it, so typing evaluates only the new
characters' tokens. Without a `Layout` (evaluation) every prompt is laid out fresh,
which gives the same prompt as the first keystroke of an editor.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from codecommons.engines.stopping import InfillContext, StopChecker
from codecommons.tokenizer.fim import ContextFile, FimTemplate, Segment, fit_to_budget, keep_lines

MAX_TAIL_CHARS = 2048  # past this the tail is folded back into the head
FIM_OVERHEAD_TOKENS = 8  # sentinels and BOS
STICKY_FILL = 0.85  # a cut file is filled to this share of the budget, so typing keeps the cut
ANCHOR_CHARS = 200  # characters that find the kept text's start again in the next prefix
PROBE_CHARS = 64  # the lines before the cursor that find an unnamed document's layout again
MIN_CLAIM_CHARS = 16  # fewer characters say too little about which document it is
MAX_LAYOUTS = 64  # documents whose prompt layout is remembered (LRU)
UNNAMED = "\0unnamed-"  # layout keys of requests that name no document (no client sends a NUL)


class PromptError(ValueError):
    """A prompt the model cannot take (too long for its context, FIM without FIM tokens):
    the HTTP layer answers it as a 4xx in the API's own error shape."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


def check_length(n_ctx: int, n_prompt: int, max_tokens: int) -> None:
    if n_prompt >= n_ctx or n_prompt + max_tokens > n_ctx:
        raise PromptError(
            f"This model's maximum context length is {n_ctx} tokens. However, you requested "
            f"{n_prompt + max_tokens} tokens ({n_prompt} in the prompt, {max_tokens} for the "
            f"completion). Please reduce the prompt or max_tokens.",
            param="prompt" if n_prompt >= n_ctx else "max_tokens", code="context_length_exceeded")


@dataclass
class InfillPrompt:
    """A FIM prompt ready for an engine, with what decides where its answer ends."""

    segments: list[Segment]
    n_prompt: int
    context: InfillContext
    stops: list[str] = field(default_factory=list)
    stop_token_ids: frozenset[int] = frozenset()
    files: list[ContextFile] = field(default_factory=list)  # repository context placed

    def checker(self) -> StopChecker:
        return StopChecker(self.stops, self.context)


@dataclass
class Layout:
    """Per-document state that keeps the prompt's start stable while the user types."""

    head: str | None = None  # head and suffix of the last prompt
    suffix: str | None = None
    anchor: str = ""  # the first characters of the last cut prefix (where the kept text starts)
    cut_suffix: tuple[str | None, str] = (None, "")  # (suffix, its fitted form)
    probe: str = ""  # the last whole lines before the cursor's line in the last prompt
    context: list = field(default_factory=list)  # repository context chunks of the last prompt
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def claims(self, prefix: str) -> bool:
        """Whether `prefix` continues the document this layout was made for: its cut's
        anchor starts a line of it, or the last lines before the cursor of the previous
        prompt are in it (typing and sliding windows keep them). For requests that do
        not name their document (llama.cpp's /infill from llama.vscode): several
        editors' layouts must not overwrite each other."""
        with self.lock:
            anchor, probe = self.anchor, self.probe
        if anchor and _line_start_of(prefix, anchor) >= 0:
            return True
        return len(probe) >= MIN_CLAIM_CHARS and probe in prefix


class Layouts:
    """The prompt layouts of recent documents (LRU), so typing in one file never moves
    another file's cut or head. A request that does not name its document gets the
    most recent unnamed layout that claims its prefix, or a new one."""

    def __init__(self, max_documents: int = MAX_LAYOUTS) -> None:
        self.max_documents = max_documents
        self._layouts: collections.OrderedDict[str, Layout] = collections.OrderedDict()
        self._unnamed = 0
        self._lock = threading.Lock()

    def get(self, document: str, prefix: str = "") -> Layout:
        with self._lock:
            if not document:
                unnamed = [k for k in reversed(self._layouts) if k.startswith(UNNAMED)]
                document = next((k for k in unnamed if self._layouts[k].claims(prefix)), "")
                if not document:
                    self._unnamed += 1
                    document = f"{UNNAMED}{self._unnamed}"
            lay = self._layouts.pop(document, None) or Layout()
            self._layouts[document] = lay
            while len(self._layouts) > self.max_documents:
                self._layouts.popitem(last=False)
            return lay


class InfillBuilder:
    """Builds infill prompts for one engine.

    `context_tokens` (0: the whole context) caps prefix + suffix: editors send whole
    files, and a cold prompt costs prefill time proportional to its length."""

    def __init__(self, engine, max_tail_chars: int = MAX_TAIL_CHARS, context_tokens: int = 0) -> None:
        self.engine = engine
        self.fim: FimTemplate | None = engine.fim_template()
        self.max_tail_chars = max_tail_chars
        self.context_tokens = context_tokens
        fim = self.fim
        self._sentinels = set(fim.tokens + fim.stops) if fim else set()
        if fim and fim.repo:
            self._sentinels |= {fim.repo.repo, fim.repo.file}

    def count(self, prompt: Sequence[Segment]) -> int:
        if self.engine.remote:  # the remote tokenizer counts text; a sentinel is one token
            return sum(1 if s.special and s.text in self._sentinels else self.engine.count_tokens(s.text)
                       for s in prompt)
        return len(self.engine.encode(list(prompt)))

    def build(self, prefix: str, suffix: str, max_tokens: int, stops: Sequence[str] = (),
              files: Sequence[ContextFile] = (), layout: Layout | None = None,
              repo_name: str = "", path: str = "") -> InfillPrompt:
        if self.fim is None:
            raise PromptError(f"model {self.engine.spec.id} has no fill-in-the-middle tokens; "
                              f"send the request without `suffix`", param="suffix")
        n_ctx = self.engine.n_ctx
        budget = n_ctx - max_tokens - FIM_OVERHEAD_TOKENS
        if budget <= 0:
            check_length(n_ctx, FIM_OVERHEAD_TOKENS, max_tokens)
        repo = self.fim.repo_segments(repo_name, list(files), path) if files or path else []
        n_repo = self.count(repo) if repo else 0
        if repo and n_repo > budget // 2:  # the document itself comes first
            repo, files, n_repo = [], [], 0
        budget -= n_repo
        if self.context_tokens:
            budget = min(budget, self.context_tokens)
        prefix, suffix = self._fit(prefix, suffix, budget, layout)
        # Blanks before the cursor are left out of the prompt and healed in the output.
        current_line = prefix[prefix.rfind("\n") + 1:]
        heal = current_line[len(current_line.rstrip(" \t")):]
        head, tail = self._split(prefix[: len(prefix) - len(heal)], suffix, layout)
        segs = repo + self.fim.segments(head, suffix, tail)
        n = self.count(segs)
        check_length(n_ctx, n, max_tokens)
        # A remote server may print special tokens as text; cut there too.
        extra_stops = list(self.fim.stops) if self.engine.remote else []
        return InfillPrompt(segs, n, InfillContext.from_text(prefix, suffix, heal),
                            list(stops) + extra_stops, self.engine.fim_stop_ids(), list(files))

    def _fit(self, prefix: str, suffix: str, budget: int, layout: Layout | None) -> tuple[str, str]:
        """fit_to_budget, with a sticky cut: in a file larger than the budget, a cut
        point that moved with every keystroke would change the prompt's first line
        and so invalidate the whole KV cache. So when cutting is needed we cut to
        STICKY_FILL of the budget, remember where the kept text starts (`anchor`, its
        first characters) and keep starting there while the rest still fits, also when
        the editor itself drops lines from the front of a window it slides (llama.vscode
        sends the 256 lines before the cursor)."""
        count: Callable[[str], int] = self.engine.count_tokens
        if layout is not None:
            with layout.lock:
                anchor, (cut_suffix, fitted_suffix) = layout.anchor, layout.cut_suffix
            at = _line_start_of(prefix, anchor) if anchor else -1
            if at >= 0:
                rest = prefix[at:]
                n_rest = count(rest)
                if suffix != cut_suffix:
                    # An edit below the cursor: the suffix is fitted again (up to the
                    # share it had, or what the sticky fill leaves) and the prefix keeps
                    # its start, so the cache still holds everything up to the edit.
                    allowance = max(count(fitted_suffix), int(budget * STICKY_FILL) - n_rest)
                    fitted_suffix = keep_lines(suffix, min(allowance, budget - n_rest), count,
                                               from_front=True)
                if n_rest + count(fitted_suffix) <= budget:
                    with layout.lock:
                        layout.cut_suffix = (suffix, fitted_suffix)
                    return rest, fitted_suffix
        if count(prefix) + count(suffix) <= budget:
            return prefix, suffix
        # Cut to STICKY_FILL with or without a layout, so an evaluation sees the prompt an
        # editor's first request gets.
        fitted_prefix, fitted_suffix = fit_to_budget(prefix, suffix, int(budget * STICKY_FILL), count)
        if layout is not None:
            with layout.lock:
                # The anchor never reaches into the cursor's line, which typing changes.
                n_anchor = min(ANCHOR_CHARS, fitted_prefix.rfind("\n") + 1)
                layout.anchor = fitted_prefix[:n_anchor] if len(fitted_prefix) < len(prefix) else ""
                layout.cut_suffix = (suffix, fitted_suffix)
        return fitted_prefix, fitted_suffix

    def _split(self, prefix: str, suffix: str, layout: Layout | None) -> tuple[str, str]:
        """Stable head + typed tail (see the module docstring). The head is kept while
        the prefix starts with it, or with what is left of it once the editor dropped
        lines from its front (a sliding window): the engine then reuses the rest of the
        cached prompt at its new positions."""
        line_start = prefix[: prefix.rfind("\n") + 1]
        if layout is None:
            return line_start, prefix[len(line_start):]
        with layout.lock:
            head = layout.head
            if head is not None and suffix == layout.suffix and not prefix.startswith(head):
                head = _surviving_lines(head, prefix)
            if not (head is not None and suffix == layout.suffix and prefix.startswith(head)
                    and len(prefix) - len(head) <= self.max_tail_chars):
                head = line_start
            layout.head, layout.suffix = head, suffix
            layout.probe = _last_lines(line_start, PROBE_CHARS)
        return head, prefix[len(head):]


def _last_lines(text: str, n_chars: int) -> str:
    """The shortest run of whole lines at the end of `text` with >= n_chars characters
    (all of `text` when it is shorter)."""
    at = len(text)
    while at > 0 and len(text) - at < n_chars:
        at = text.rfind("\n", 0, at - 1) + 1
    return text[at:]


def _line_start_of(text: str, anchor: str) -> int:
    """Where `anchor` starts a line of `text`, or -1."""
    at = text.find(anchor)
    while at > 0 and text[at - 1] != "\n":
        at = text.find(anchor, at + 1)
    return at


def _surviving_lines(head: str, prefix: str, max_dropped: int = 256) -> str | None:
    """The longest end of `head`, starting at a line, that `prefix` starts with (lines
    the editor dropped from the front of its window), or None."""
    at = 0
    for _ in range(max_dropped):
        at = head.find("\n", at) + 1
        if at <= 0 or at >= len(head):
            return None
        if prefix.startswith(head[at:]):
            return head[at:]
    return None
