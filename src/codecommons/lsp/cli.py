"""`commons lsp`: a language server for inline code completion in any editor.

    commons lsp                                   # stdio, suggestions from http://127.0.0.1:8000
    commons lsp --url http://gpu-box:8000 --api-key KEY
    commons lsp --tcp --port 2087                 # TCP, for editors that connect to a port
    commons lsp --model qwen2.5-coder-0.5b        # a model in this process, no server

It answers LSP 3.18 `textDocument/inlineCompletion` and llm-ls's `llm-ls/getCompletions`
(llm-vscode, llm.nvim) with fill-in-the-middle suggestions from a `commons serve`
(start one first: `commons serve`). docs/editors.md has each editor's configuration.
Every option also reads `$COMMONS_LSP_<OPTION>` (e.g. COMMONS_LSP_URL), for editors
that start a language server without arguments; the API key also reads $COMMONS_API_KEY.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import typing
from dataclasses import dataclass

from codecommons.config import add_arguments, field, from_args

ENV_PREFIX = "COMMONS_LSP_"


@dataclass
class LspConfig:
    url: str = field("http://127.0.0.1:8000", "the `commons serve` to ask for suggestions")
    api_key: str = field("", "bearer key for --url (or $COMMONS_API_KEY)")
    model: str = field("", "run this model in this process instead of asking --url (a registry "
                           "name, .gguf or model folder; no attribution: that needs a server "
                           "with --index)")
    n_ctx: int = field(0, "with --model: context length (0: the model's, at most 8192)")
    threads: int = field(0, "with --model: CPU threads (0: all cores)")
    backend: str = field("", "where suggestions come from: http | engine (default: engine with "
                             "--model, else http)")
    tcp: bool = field(False, "listen on TCP (--host, --port) instead of stdio")
    host: str = field("127.0.0.1", "address for --tcp")
    port: int = field(2087, "port for --tcp")
    timeout: float = field(30.0, "seconds to wait for the server's answer")
    debounce_ms: int = field(30, "wait this long after a request before asking the server; a "
                                 "newer request for the same document in the meantime replaces it")
    context_tokens: int = field(2048, "prefix+suffix window around the cursor, in tokens "
                                      "(counted as 3 characters a token)")
    max_tokens: int = field(128, "longest suggestion, in tokens")
    temperature: float = field(0.0, "sampling temperature of automatic suggestions")
    invoked_n: int = field(3, "suggestions for an explicitly invoked completion")
    invoked_temperature: float = field(0.4, "temperature when several suggestions are asked for")
    max_line_suffix: int = field(8, "no automatic suggestion with more than this many characters "
                                    "after the cursor on its line (llama.vim's rule)")
    completion_items: bool = field(False, "also answer textDocument/completion with the suggestion "
                                          "as a menu item (for editors without inline completion: "
                                          "Helix, eglot)")
    extra_chunks: int = field(16, "chunks of other code kept for `extra_context` (0: none)")
    extra_chunk_lines: int = field(64, "lines per picked chunk x2 (llama.vim ring_chunk_size)")
    extra_chars: int = field(8192, "characters of `extra_context` sent per request")
    ring_update_ms: int = field(1000, "how often a queued chunk may join the extra context")
    ring_idle_ms: int = field(3000, "join only after this long without a completion request")
    log_level: str = field("warning", "log level on stderr: debug, info, warning, error")

    def resolved_api_key(self) -> str:
        return self.api_key or os.environ.get("COMMONS_API_KEY", "")

    def __post_init__(self) -> None:
        from codecommons.lsp.backend import BACKENDS

        problems = []
        if not self.url.startswith(("http://", "https://")):
            problems.append(f"--url must be an http(s) URL, got {self.url!r}")
        self.backend = self.backend or ("engine" if self.model else "http")
        if self.backend not in BACKENDS:
            problems.append(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend == "engine" and not self.model:
            problems.append("--backend engine needs --model NAME|PATH")
        if not 0 < self.port < 65536:
            problems.append(f"--port must be 1..65535, got {self.port}")
        for name in ("debounce_ms", "max_line_suffix", "extra_chunks", "extra_chars"):
            if getattr(self, name) < 0:
                problems.append(f"--{name.replace('_', '-')} must be >= 0")
        for name in ("context_tokens", "max_tokens", "invoked_n", "extra_chunk_lines",
                     "ring_update_ms"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be >= 1")
        if self.timeout <= 0:
            problems.append("--timeout must be > 0")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"--log-level must be debug, info, warning or error")
        if problems:
            raise ValueError("\n".join(problems))


def env_defaults(cls: type = LspConfig, environ: typing.Mapping[str, str] = os.environ) -> dict:
    """COMMONS_LSP_<FIELD> values, typed as the field."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is None:
            continue
        typ = hints[f.name]
        out[f.name] = raw.lower() in ("1", "true", "yes", "on") if typ is bool else typ(raw)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="commons lsp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap, LspConfig)
    try:
        ap.set_defaults(**env_defaults())
        cfg = from_args(LspConfig, ap.parse_args(argv))
    except ValueError as e:
        ap.error(str(e))
    # stdout is the LSP channel on stdio: logs go to stderr (editors show it in their log).
    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from codecommons.lsp.server import build_server
    except ImportError as e:
        print(f"commons lsp: {e}; install the language server with "
              f"`pip install 'codecommons[lsp]'`", file=sys.stderr)
        return 1
    from codecommons.lsp.backend import BackendError

    try:
        server = build_server(cfg)
    except BackendError as e:
        print(f"commons lsp: {e}", file=sys.stderr)
        return 1
    if cfg.tcp:
        print(f"commons lsp: listening on {cfg.host}:{cfg.port}, suggestions from "
              f"{cfg.model or cfg.url}",
              file=sys.stderr)
        server.start_tcp(cfg.host, cfg.port)
    else:
        server.start_io()
    return 0


def script() -> None:
    """The `commons-lsp` executable, for editors that take a server binary's path
    without arguments (llm-vscode's llm.lsp.binaryPath, llm.nvim's lsp.bin_path)."""
    sys.exit(main(sys.argv[1:]))
