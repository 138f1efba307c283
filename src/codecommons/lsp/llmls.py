"""llm-ls's custom protocol, so llm-vscode and llm.nvim work unchanged.

Shapes from huggingface/llm-ls `crates/custom-types/src/llm_ls.rs` (camelCase):

    llm-ls/getCompletions   {textDocument, position, ide?, fim: {enabled, prefix, middle,
                             suffix}, apiToken?, model, backend: "huggingface"|"llamacpp"|
                             "ollama"|"openai"|"tgi", url?, tokensToClear: [str],
                             tokenizerConfig?, contextWindow, tlsSkipVerifyInsecure,
                             requestBody?: {...}, disableUrlPathCompletion?}
                         -> {request_id: uuid, completions: [{generated_text}]}
    llm-ls/acceptCompletion {requestId, acceptedCompletion: u32, shownCompletions: [u32]} -> null
    llm-ls/rejectCompletion {requestId, shownCompletions: [u32]} -> null

How each field is used here (llm-ls builds the model's FIM prompt and calls the
backend itself; commons lsp sends prefix and suffix to `commons serve`, which knows
its model's FIM format):

* `backend` + `url`: llm-ls has no configuration of its own, the editor names the
  server in every request, so the request's URL wins over `--url`, whatever the
  backend tag: it is read as a `commons serve` base URL (the paths llm-ls would
  append, /v1/completions, /generate, /api/generate, are taken off again). The
  exception is llm-vscode's default, the hosted Hugging Face Inference API
  (backend "huggingface", url null): code is never sent there; `--url` is used.
* `apiToken`: the bearer key for the request's URL (for `--url`, `--api-key`).
* `fim.enabled`: false sends no suffix (left-to-right); the FIM tokens are ignored.
* `contextWindow`: the token budget of the prefix/suffix window.
* `requestBody`: sampling settings in any backend's spelling (TGI `parameters`,
  Ollama `options`, OpenAI/llama.cpp top level) -> max_tokens, temperature, top_p, stop.
* `tokensToClear`: removed from the generated text, as llm-ls does.
* `model`, `ide`, `tokenizerConfig`, `tlsSkipVerifyInsecure`: not needed (the server
  serves one model and counts tokens itself); `model` is not forwarded, as the
  server refuses names other than its own.

Completions carry one extension, `attribution` (the server's matches in its code
index), which llm-vscode and llm.nvim ignore.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lsprotocol import types as lsp

GET_COMPLETIONS = "llm-ls/getCompletions"
ACCEPT_COMPLETION = "llm-ls/acceptCompletion"
REJECT_COMPLETION = "llm-ls/rejectCompletion"

HF_HOSTED = "api-inference.huggingface.co"
# llm-ls's build_url appends these to `url` unless it already ends with them.
_URL_PATHS = ("/v1/completions", "/api/generate", "/generate", "/v1", "/api")


@dataclass
class GetCompletions:
    uri: str
    position: lsp.Position
    fim: bool = True
    context_window: int | None = None
    tokens_to_clear: list[str] = field(default_factory=list)
    url: str | None = None  # a commons serve base URL, or None for --url
    api_key: str | None = None
    sampling: dict = field(default_factory=dict)  # max_tokens, temperature, top_p, stop


def parse_get_completions(p: dict) -> GetCompletions:
    """Read llm-ls/getCompletions params; a ValueError names what is missing."""
    try:
        uri = p["textDocument"]["uri"]
        position = lsp.Position(int(p["position"]["line"]), int(p["position"]["character"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError("llm-ls/getCompletions needs textDocument.uri and position "
                         "{line, character}") from e
    url = server_url(p.get("backend") or "huggingface", p.get("url"))
    return GetCompletions(
        uri=uri, position=position, fim=bool((p.get("fim") or {}).get("enabled", True)),
        context_window=p.get("contextWindow"), tokens_to_clear=list(p.get("tokensToClear") or []),
        url=url, api_key=p.get("apiToken") if url else None,
        sampling=sampling(p.get("requestBody") or {}))


def server_url(backend: str, url: str | None) -> str | None:
    if not url or (backend == "huggingface" and HF_HOSTED in url):
        return None
    url = url.rstrip("/")
    for path in _URL_PATHS:
        if url.endswith(path):
            return url[: -len(path)]
    return url


def sampling(body: dict) -> dict:
    """max_tokens, temperature, top_p, stop from a body in TGI, Ollama, OpenAI or
    llama.cpp spelling (the first spelling found wins)."""
    tgi = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    ollama = body.get("options") if isinstance(body.get("options"), dict) else {}
    names = {"max_tokens": [(body, "max_tokens"), (body, "n_predict"), (tgi, "max_new_tokens"),
                            (ollama, "num_predict")],
             "temperature": [(body, "temperature"), (tgi, "temperature"), (ollama, "temperature")],
             "top_p": [(body, "top_p"), (tgi, "top_p"), (ollama, "top_p")],
             "stop": [(body, "stop"), (tgi, "stop"), (ollama, "stop")]}
    out = {}
    for key, places in names.items():
        for d, name in places:
            if d.get(name) is not None:
                out[key] = d[name]
                break
    if tgi.get("do_sample") is False:
        out["temperature"] = 0.0  # TGI: greedy unless do_sample
    if isinstance(out.get("stop"), str):
        out["stop"] = [out["stop"]]
    if out.get("max_tokens") is not None and int(out["max_tokens"]) <= 0:
        del out["max_tokens"]  # llama.cpp's n_predict -1 ("until done"): our default
    return out


def clear_tokens(text: str, tokens: list[str]) -> str:
    for t in tokens:
        if t:
            text = text.replace(t, "")
    return text


def result(request_id: str, completions: list[tuple[str, list[dict]]]) -> dict:
    """{request_id, completions: [{generated_text}]}, plus `attribution` where the
    server found the text in its code index."""
    return {"request_id": request_id,
            "completions": [{"generated_text": text, **({"attribution": a} if a else {})}
                            for text, a in completions]}
