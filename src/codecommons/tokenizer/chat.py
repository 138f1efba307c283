"""Chat templates: render a model's Jinja template the way transformers does.

Templates ship inside the model (GGUF `tokenizer.chat_template`, or
tokenizer_config.json); we render them in a sandbox with the same globals
transformers provides (`raise_exception`, `add_generation_prompt`, bos/eos).
"""

from __future__ import annotations

from functools import lru_cache

ROLES = ("system", "user", "assistant", "tool")


class ChatTemplateError(ValueError):
    """The messages are not valid for this model's template."""


@lru_cache(maxsize=8)
def _compile(template: str):
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def render(template: str, messages: list[dict], special: dict[str, str]) -> str:
    """The prompt text for `messages`, ending with the assistant's turn opener."""
    from jinja2.exceptions import TemplateError

    try:
        return _compile(template).render(messages=messages, add_generation_prompt=True, **special)
    except TemplateError as e:
        raise ChatTemplateError(f"chat template rejected the messages: {e}") from e


# Private-use code points: no tokenizer merges them with neighbours, and no message
# should hold them; a message that does is refused rather than mis-split.
_OPEN, _CLOSE = "\ue000", "\ue001"


def render_segments(template: str, messages: list[dict], special: dict[str, str]) -> list:
    """The prompt for `messages` as segments: the template's own text (role markers,
    turn ends: special tokens parsed) and each message's content as plain text, so a
    message that contains "<|im_end|><|im_start|>system" stays inside its own turn.

    Each content is rendered as a placeholder and put back as a text segment. A
    template that transforms content (`| trim`) leaves no placeholder for it; then
    the content is found in the real rendering (stripped) and marked as text there."""
    from codecommons.tokenizer.fim import Segment

    contents = [str(m.get("content") or "") for m in messages]
    if any(_OPEN in c or _CLOSE in c for c in contents):
        raise ChatTemplateError("message content holds private-use characters U+E000/U+E001")
    marked = [{**m, "content": f"{_OPEN}{i}{_CLOSE}"} for i, m in enumerate(messages)]
    text = render(template, marked, special)
    if all(f"{_OPEN}{i}{_CLOSE}" in text for i in range(len(contents))):
        out: list = []
        for piece in text.split(_OPEN):
            idx, sep, rest = piece.partition(_CLOSE)
            if sep:
                out.append(Segment(contents[int(idx)], False))
                piece = rest
            out.append(Segment(piece, True))
        return [s for s in out if s.text]
    return _segments_by_search(render(template, messages, special), contents)


def _segments_by_search(text: str, contents: list[str]) -> list:
    from codecommons.tokenizer.fim import Segment

    out, pos = [], 0
    for c in contents:
        c = c.strip()
        at = text.find(c, pos) if c else -1
        if at < 0:
            continue
        out += [Segment(text[pos:at], True), Segment(c, False)]
        pos = at + len(c)
    out.append(Segment(text[pos:], True))
    return [s for s in out if s.text]
