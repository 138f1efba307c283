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
