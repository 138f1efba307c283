"""Fill-in-the-middle: the one FIM prompt format used by serving, evaluation and training.

FIM (Bavarian et al. 2022, "Efficient Training of Language Models to Fill in the
Middle", arXiv:2207.14255) rearranges a document into prefix / suffix / middle with
sentinel tokens; at inference the model sees prefix and suffix and writes the middle.
We use PSM order (prefix, suffix, middle), the order every family below was trained
with; SPM is not supported by Qwen2.5-Coder or CodeLlama.

A prompt is a list of `Segment`s: literal text, or a special token that must be
encoded as that single token (never parsed out of user text), so a file that
contains the string "<fim_prefix>" cannot inject a sentinel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, NamedTuple


class Segment(NamedTuple):
    text: str
    special: bool = False


class ContextFile(NamedTuple):
    """Code from another file of the repository, placed before the FIM prompt: a whole
    file or lines start_line..end_line of it (1-based, inclusive; 0 when unknown), sent
    by the client ("client") or chosen by the server ("definition", "retrieved")."""

    path: str
    text: str
    start_line: int = 0
    end_line: int = 0
    kind: str = "client"

    def describe(self) -> dict:
        out = {"path": self.path, "kind": self.kind}
        if self.start_line:
            out.update(start_line=self.start_line, end_line=self.end_line)
        return out


@dataclass(frozen=True)
class RepoFormat:
    """How a family was trained to see several files of one repository before the file
    being completed: `repo` and `file` are special tokens, each file is
    `file path "\n" content file_end`, and the current file gets its `file path "\n"`
    header right before the FIM prompt.

    Qwen2.5-Coder (arXiv:2409.12186 §3.1.2, repo-level pretraining):
      <|repo_name|>name\n<|file_sep|>path\ncontent\n<|file_sep|>path\n<|fim_prefix|>...
    StarCoder2 (arXiv:2402.19173 §5, repository context):
      <repo_name>name<file_sep>path\ncontent<file_sep>path\n<fim_prefix>...
    StarCoder (arXiv:2305.06161 §5.1, metadata prefixes) saw one file per document,
    `<reponame>name<filename>path\ncontent<|endoftext|>`; other files are given as such
    documents, ended by <|endoftext|>."""

    repo: str
    file: str
    repo_end: str = ""  # after the repository name
    file_end: str = ""  # after each file's content
    file_end_special: bool = False

    def segments(self, repo_name: str, files: list[ContextFile], path: str) -> list[Segment]:
        out = [Segment(self.repo, True), Segment(repo_name + self.repo_end)]
        for f in files:
            out += [Segment(self.file, True), Segment(f"{f.path}\n{f.text}")]
            if self.file_end:
                out.append(Segment(self.file_end, self.file_end_special))
        if path:
            out += [Segment(self.file, True), Segment(f"{path}\n")]
        return [s for s in out if s.text]


REPO_FORMATS = {
    "qwen": RepoFormat("<|repo_name|>", "<|file_sep|>", "\n", "\n"),
    "starcoder2": RepoFormat("<repo_name>", "<file_sep>"),
    "starcoder": RepoFormat("<reponame>", "<filename>", "", "<|endoftext|>", True),
}


@dataclass(frozen=True)
class FimTemplate:
    """A family's infill format: `layout` holds {prefix} and {suffix}; `tokens` are
    the sentinels in layout order (prefix, suffix, middle); `stops` end an infill;
    `repo`, where the family has one and the tokenizer its tokens, the format for
    other files of the repository (set by detect_template)."""

    name: str
    layout: str
    tokens: tuple[str, str, str]
    stops: tuple[str, ...]
    repo_formats: tuple[str, ...] = ()
    repo: RepoFormat | None = None

    def repo_segments(self, repo_name: str, files: list[ContextFile], path: str = "") -> list[Segment]:
        """Other files of the repository (and the current file's path) before the FIM
        prompt, in the family's trained format; without one, as plain text headed by
        the file's path, as llama.cpp's /infill does for such models."""
        if self.repo is not None:
            return self.repo.segments(repo_name or "repository", files, path)
        return [Segment(f"{f.path}\n{f.text}\n\n") for f in files]

    def segments(self, prefix: str, suffix: str, middle_start: str = "") -> list[Segment]:
        """PSM prompt; `middle_start` is text the middle is known to begin with (it
        goes after the middle sentinel, so extending it keeps the cached prompt)."""
        out: list[Segment] = []
        rest = self.layout.format(prefix="\0P\0", suffix="\0S\0")
        for piece in _split_keep(rest, self.tokens):
            if piece in self.tokens:
                out.append(Segment(piece, True))
            elif piece:
                out.append(Segment(piece.replace("\0P\0", prefix).replace("\0S\0", suffix)))
        if middle_start:
            out.append(Segment(middle_start))
        return [s for s in out if s.text]

    def text(self, prefix: str, suffix: str, middle_start: str = "") -> str:
        """The same prompt as one string, for servers that take text (remote engines)."""
        return "".join(s.text for s in self.segments(prefix, suffix, middle_start))

    def parse(self, prompt: str) -> tuple[str, str, str] | None:
        """Undo `text()`: (prefix, suffix, middle_start) if `prompt` is in this format.

        Editor plugins (llm-ls, Continue) send ready-made FIM prompts; parsing them
        lets the server apply context fitting, cache reuse and infill stopping.
        """
        pre, suf, mid = self.tokens
        head, sep, rest = prompt.partition(pre)
        if not sep or head.strip() or rest.count(suf) != 1 or rest.count(mid) != 1:
            return None
        prefix, _, rest = rest.partition(suf)
        suffix, _, middle_start = rest.partition(mid)
        if mid in prefix:
            return None
        # Strip the literal spacing the layout adds around sentinels (CodeLlama).
        lay_pre, _, lay_rest = self.layout.partition("{prefix}")
        lay_mid, _, lay_end = lay_rest.partition("{suffix}")
        prefix = _strip_affixes(prefix, lay_pre.split(pre, 1)[-1], lay_mid.split(suf, 1)[0])
        suffix = _strip_affixes(suffix, lay_mid.split(suf, 1)[-1], lay_end.split(mid, 1)[0])
        return prefix, suffix, middle_start


def _strip_affixes(s: str, lead: str, trail: str) -> str:
    if lead and s.startswith(lead):
        s = s[len(lead):]
    if trail and s.endswith(trail):
        s = s[: -len(trail)]
    return s


def _split_keep(s: str, seps: tuple[str, ...]) -> list[str]:
    """Split `s` on any of `seps`, keeping the separators as their own items."""
    out, buf, i = [], "", 0
    while i < len(s):
        hit = next((t for t in seps if s.startswith(t, i)), None)
        if hit:
            out += [buf, hit]
            buf, i = "", i + len(hit)
        else:
            buf += s[i]
            i += 1
    return out + [buf]


# Formats from each family's tokenizer config and paper:
#  StarCoder/StarCoder2 (arXiv:2305.06161, 2402.19173); SantaCoder uses hyphens
#  (arXiv:2301.03988); Qwen2.5-Coder (arXiv:2409.12186) and CodeGemma share the
#  |-delimited names; CodeLlama (arXiv:2308.12950) puts spaces around <PRE>/<SUF>/<MID>;
#  DeepSeek-Coder (arXiv:2401.14196) calls the middle a "hole".
TEMPLATES: dict[str, FimTemplate] = {
    "starcoder": FimTemplate("starcoder", "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
                             ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
                             ("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_pad>"),
                             ("starcoder2", "starcoder")),
    "santacoder": FimTemplate("santacoder", "<fim-prefix>{prefix}<fim-suffix>{suffix}<fim-middle>",
                              ("<fim-prefix>", "<fim-suffix>", "<fim-middle>"),
                              ("<|endoftext|>", "<fim-prefix>", "<fim-pad>")),
    "qwen": FimTemplate("qwen", "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
                        ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
                        ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>",
                         "<|fim_prefix|>", "<|im_end|>"), ("qwen",)),
    "codegemma": FimTemplate("codegemma", "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
                             ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
                             ("<|file_separator|>", "<eos>", "<|fim_prefix|>")),
    "codellama": FimTemplate("codellama", "<PRE> {prefix} <SUF>{suffix} <MID>",
                             ("<PRE>", "<SUF>", "<MID>"), ("<EOT>", "</s>")),
    "deepseek": FimTemplate("deepseek", "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
                            ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
                            ("<|EOT|>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>")),
}

FAMILY_TEMPLATE = {
    "starcoder": "starcoder", "starcoder2": "starcoder", "santacoder": "santacoder",
    "qwen2.5-coder": "qwen", "qwen2": "qwen", "codegemma": "codegemma",
    "codellama": "codellama", "deepseek-coder": "deepseek",
}


def detect_template(family: str, is_special_token: Callable[[str], bool]) -> FimTemplate | None:
    """The family's template if the tokenizer really has its sentinels as special
    tokens; otherwise the first template whose sentinels it has; else None (the
    model cannot infill)."""
    preferred = FAMILY_TEMPLATE.get(family)
    order = ([TEMPLATES[preferred]] if preferred else []) + list(TEMPLATES.values())
    for t in order:
        if all(is_special_token(tok) for tok in t.tokens):
            repo = next((REPO_FORMATS[r] for r in t.repo_formats
                         if is_special_token(REPO_FORMATS[r].repo)
                         and is_special_token(REPO_FORMATS[r].file)), None)
            return replace(t, repo=repo)
    return None


def fit_to_budget(prefix: str, suffix: str, budget: int,
                  count_tokens: Callable[[str], int], prefix_share: float = 0.75) -> tuple[str, str]:
    """Cut whole lines until prefix + suffix fit in `budget` tokens.

    The prefix loses lines from its front and the suffix from its back: the code
    nearest the cursor matters most. The prefix may use `prefix_share` of the
    budget, more when the suffix needs less (as llama.cpp's infill does, 3/4 : 1/4).
    """
    n_pre, n_suf = count_tokens(prefix), count_tokens(suffix)
    if n_pre + n_suf <= budget:
        return prefix, suffix
    suf_budget = max(budget - min(n_pre, int(budget * prefix_share)), 0)
    suffix = keep_lines(suffix, suf_budget, count_tokens, from_front=True)
    pre_budget = budget - count_tokens(suffix)
    prefix = keep_lines(prefix, pre_budget, count_tokens, from_front=False)
    return prefix, suffix


def keep_lines(text: str, budget: int, count_tokens: Callable[[str], int], from_front: bool) -> str:
    """Longest run of whole lines from one end of `text` that fits `budget` tokens."""
    lines = text.splitlines(keepends=True)
    if not from_front:
        lines.reverse()
    kept, used = [], 0
    for line in lines:
        n = count_tokens(line)
        if used + n > budget:
            break
        kept.append(line)
        used += n
    if not from_front:
        kept.reverse()
    out = "".join(kept)
    # Per-line counts can undercount by a token at the joins; trim until exact.
    while kept and count_tokens(out) > budget:
        kept.pop(0 if not from_front else -1)
        out = "".join(kept)
    return out


# --- The FIM training transform ---------------------------------------------
#
# Training and serving share the templates above, so the sentinels a model sees
# in training are the ones `commons serve` writes at inference: a PSM example is
# exactly `template.segments(prefix, suffix)` followed by the middle.
#
# Settings are StarCoder's (arXiv:2305.06161 §5.1; bigcode Megatron-LM
# `gpt_dataset.py` `permute()`): character-level split at two uniform random
# boundaries, FIM on half of the documents (fim_rate 0.5), and half of those in
# SPM order (fim_spm_rate 0.5). SPM is Bavarian et al.'s "variant 2",
# `<pre><suf>S<mid>P M`, which BigCode used: the prefix stays next to the middle
# it continues, and the sentinel order is still the PSM one.


@dataclass(frozen=True)
class FimConfig:
    rate: float = 0.5  # share of documents (segments of a packed context) rearranged
    spm_rate: float = 0.5  # share of those in SPM order, the rest PSM

    def __post_init__(self) -> None:
        for name in ("rate", "spm_rate"):
            v = getattr(self, name)
            assert 0.0 <= v <= 1.0, f"FIM {name} must be in [0, 1], got {v}"


class FimExample(NamedTuple):
    prefix: str
    middle: str
    suffix: str
    spm: bool


def fim_split(text: str, rng) -> tuple[str, str, str]:
    """Character-level split at two uniform boundaries in [0, len(text)]
    (`rng` is a `random.Random`): prefix + middle + suffix == text."""
    a, b = sorted((rng.randint(0, len(text)), rng.randint(0, len(text))))
    return text[:a], text[a:b], text[b:]


def fim_transform(text: str, rng, cfg: FimConfig = FimConfig()) -> FimExample | None:
    """Draw whether `text` becomes a FIM example (None: keep it left to right),
    where to split it, and in which order. The draws come from `rng` in a fixed
    order so that a seeded rng gives the same example every time."""
    if rng.random() >= cfg.rate:
        return None
    prefix, middle, suffix = fim_split(text, rng)
    return FimExample(prefix, middle, suffix, spm=rng.random() < cfg.spm_rate)


def fim_segments(template: FimTemplate, ex: FimExample) -> list[Segment]:
    """The training sequence of one FIM example (the end-of-text token is the
    caller's). PSM is the serving prompt plus the middle; SPM puts the suffix
    first and the prefix right before the middle."""
    if not ex.spm:
        return template.segments(ex.prefix, ex.suffix) + ([Segment(ex.middle)] if ex.middle else [])
    pre, suf, mid = template.tokens
    out = [Segment(pre, True), Segment(suf, True), Segment(ex.suffix), Segment(mid, True),
           Segment(ex.prefix), Segment(ex.middle)]
    return [s for s in out if s.text]


def reassemble(template: FimTemplate, segments: list[Segment]) -> str:
    """Undo `fim_segments`: the document text (tests and debugging). In both
    orders the document is the text between the prefix and suffix sentinels,
    then the text after the middle sentinel, then the text between the suffix
    and middle sentinels (SPM leaves the first empty)."""
    groups: list[list[str]] = [[]]
    for s in segments:
        if s.special:
            groups.append([])
        else:
            groups[-1].append(s.text)
    assert [s.text for s in segments if s.special] == list(template.tokens) and not groups[0], (
        f"not a {template.name} FIM sequence: {[s.text for s in segments][:6]}")
    between_pre_suf, between_suf_mid, after_mid = ("".join(g) for g in groups[1:])
    return between_pre_suf + after_mid + between_suf_mid
