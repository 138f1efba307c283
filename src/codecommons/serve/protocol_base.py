"""What every API's request models share: strict types, text that can be encoded, and
parameters an API defines that this server cannot honour refused by name.

Strict: `"max_tokens": "4"` or `true` is a type error, not a 4 or a 1 (pydantic's lax
mode would coerce both), and `Infinity`/`NaN` (Python's json accepts them) are refused.
Text: a lone UTF-16 surrogate (`"\\ud800"`, valid JSON) cannot be encoded to UTF-8 for
the tokenizer; it is refused at the edge with the field that holds it. Fields an API
defines that are not implemented are listed per model in `UNSUPPORTED` (name -> the
values that are fine, i.e. equal to the API's default) and refused with a 400 naming
them: nothing a client sets is silently ignored. Fields no API defines are accepted, as
clients send many (and ignored, as vLLM does).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from codecommons.engines.infill import PromptError


def _surrogate_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _surrogate_path(k, path) or _surrogate_path(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _surrogate_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    # field -> values equal to the API's default (anything else is refused)
    UNSUPPORTED: ClassVar[dict[str, tuple]] = {}

    @model_validator(mode="before")
    @classmethod
    def _encodable(cls, data: Any) -> Any:
        bad = _surrogate_path(data, "")
        if bad:
            raise ValueError(f"{bad} holds a lone UTF-16 surrogate, which is not text; send "
                             f"valid Unicode")
        return data

    def refuse_unsupported(self) -> None:
        """400 naming the first parameter set to a value this server cannot honour."""
        given = {**(self.model_extra or {}), **{k: getattr(self, k) for k in self.model_fields_set}}
        for name, fine in self.UNSUPPORTED.items():
            if name in given and given[name] not in fine:
                raise PromptError(f"`{name}` is not supported by this server (got "
                                  f"{str(given[name])[:80]!r}); leave it out or at its default",
                                  param=name, code="unsupported_parameter")
