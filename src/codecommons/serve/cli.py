"""`commons serve`: a private code assistant on this machine.

    commons serve                                   # embedded Qwen2.5-Coder-1.5B, 127.0.0.1:8000
    commons serve --model qwen2.5-coder-0.5b        # the smaller embedded model
    commons serve --model ./model.gguf              # any GGUF (llama.cpp engine)
    commons serve --model ./my-checkpoint           # a transformers folder (CPU or GPU)
    commons serve --model bigcode/starcoder2-3b     # a hub id, where a network allows
    commons serve --remote-url http://gpu-box:8000/v1 --model Qwen/Qwen2.5-Coder-7B
                                                    # forward to vLLM/TGI/llama.cpp/Ollama
    commons serve --index runs/index.sqlite --public-code block --block-licenses non_permissive
                                                    # withhold suggestions copying indexed code
    commons serve --dataset runs/stack --reports runs/eval   # web UI (/ui): dataset explorer, reports

    curl -s localhost:8000/v1/completions -H 'Content-Type: application/json' \\
      -d '{"prompt": "def fib(n):\\n    ", "suffix": "\\n\\nprint(fib(10))\\n", "max_tokens": 64}'
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass

from codecommons.config import add_arguments, field, from_args
from codecommons.engines.kvcache import DEFAULT_CACHE_REUSE
from codecommons.engines.speculative import MODES as SPECULATIVE
from codecommons.models.embedded import EmbeddedModelError
from codecommons.models.registry import DEFAULT_MODEL, ModelNotFound, ModelSpec, guess_family, resolve

FIM_COLD_START_S = 5.0  # prefill time a cold FIM prompt may take (--fim-context-tokens 0)
# Repository context per FIM prompt at most (--repo-context-tokens 0): CrossCodeEval's
# and this project's repo-completion default. Below it, as much as the file's own window:
# every context token is also decoded over on every keystroke (bench/repo_latency.py).
REPO_CONTEXT_MAX = 1024


@dataclass
class ServeConfig:
    model: str = field(DEFAULT_MODEL, "registry name, .gguf file, model folder or hub id")
    engine: str = field("", "llama.cpp | transformers | remote (default: from the model's format)")
    remote_url: str = field("", "OpenAI-compatible server to forward generation to")
    remote_api_key: str = field("", "API key for --remote-url (or $COMMONS_REMOTE_API_KEY)")
    host: str = field("127.0.0.1", "address to bind; 0.0.0.0 exposes the server to the network")
    port: int = field(8000, "port to listen on")
    api_key: str = field("", "require 'Authorization: Bearer KEY' (or $COMMONS_API_KEY)")
    n_ctx: int = field(0, "context length in tokens (0: the model's, at most 8192 on llama.cpp)")
    threads: int = field(0, "CPU threads for llama.cpp (0: all cores)")
    device: str = field("", "torch device for the transformers engine (default: cuda if available)")
    max_queue: int = field(16, "requests waiting or running before 503/429")
    max_body_bytes: int = field(4 << 20, "largest accepted request body (413 above)")
    served_model_name: str = field("", "model id to report in the API (default: the model's)")
    scrub: str = field("key,password,private_key", "secret kinds redacted from generated text "
                       "(comma-separated: key, password, private_key, email, ip_address; "
                       "'none' turns scrubbing off)")
    stream_interval: float = field(0.05, "seconds between batches of streamed text (0: every "
                                         "token; larger leaves more CPU to decoding)")
    index: str = field("", "code index (`commons index build`) to check suggestions against")
    public_code: str = field("", "off | annotate | block: what to do with suggestions that copy "
                                 "indexed code (default: annotate with --index, else off)")
    block_licenses: str = field("", "with --public-code block: block only matches under these "
                                    "licence types or SPDX ids, comma-separated "
                                    "(e.g. non_permissive,no_license; default: every match)")
    attribution_min_chars: int = field(150, "normalised characters of indexed code that make a "
                                            "suggestion a copy")
    # -- editor traffic (llama.cpp engine) --
    slots: int = field(4, "cache slots: documents (editors, files) whose KV cache is kept at once")
    kv_cache_mib: int = field(1024, "memory bound of the KV cache, all slots together, in MiB "
                                    "(slots x n-ctx is reduced to fit; 0: no bound)")
    cache_reuse: int = field(DEFAULT_CACHE_REUSE, "reuse cached chunks of at least this many tokens at new "
                                  "positions (KV shift, as llama.cpp's --cache-reuse; 0: prefix only)")
    speculative: str = field("lookup", "speculative decoding for greedy requests: off | lookup "
                                       "(n-grams of the prompt) | draft | both (needs --draft-model)")
    draft_model: str = field("", "small model of the same tokenizer family drafting for "
                                 "--speculative draft|both (e.g. qwen2.5-coder-0.5b)")
    fim_context_tokens: int = field(0, "cap on a FIM prompt's prefix + suffix in tokens, so a cold "
                                       "file opens fast (0: from this machine's measured prefill "
                                       f"speed, {FIM_COLD_START_S:g} s of prefill; -1: no cap)")
    # -- repository context --
    repo: tuple[str, ...] = field((), "a project folder whose code completions may draw on "
                                      "(indexed at start, re-indexed as files change)")
    repo_context: str = field("both", "off | definitions | retrieval | both: what of --repo goes "
                                      "into FIM prompts")
    repo_context_tokens: int = field(0, "tokens of repository context per FIM prompt (0: as many "
                                        f"as --fim-context-tokens gives the file, at most "
                                        f"{REPO_CONTEXT_MAX})")
    # -- hostile and careless clients --
    allowed_hosts: str = field("", "further names the Host header may carry, comma-separated "
                                   "('*': any); guards against DNS rebinding")
    allow_special_tokens_in_prompts: bool = field(False, "parse control tokens (<|im_end|>, ...) "
                                                         "in prompts and chat messages: only for "
                                                         "trusted clients")
    max_prompts: int = field(64, "prompts x n per request")
    header_timeout: float = field(10.0, "seconds for a request's headers to arrive")
    body_timeout: float = field(30.0, "seconds for a request's body to arrive (408 after)")
    keep_alive: float = field(5.0, "seconds an idle connection stays open")
    max_connections: int = field(64, "open connections and running requests (503 beyond)")
    dataset: str = field("", "web UI (/ui): a `commons curate` output to explore and search")
    reports: str = field("", "web UI (/ui): a folder of `commons eval` outputs to list")

    def public_code_mode(self) -> str:
        return self.public_code or ("annotate" if self.index else "off")

    def scrub_kinds(self) -> tuple[str, ...]:
        return () if self.scrub == "none" else tuple(k for k in self.scrub.split(",") if k)

    def __post_init__(self) -> None:
        from codecommons.pii import ALL_KINDS

        problems = []
        bad = [k for k in self.scrub_kinds() if k not in ALL_KINDS]
        if bad:
            problems.append(f"--scrub: unknown kind(s) {', '.join(bad)}; choose from "
                            f"{', '.join(ALL_KINDS)} or 'none'")
        if not 0 < self.port < 65536:
            problems.append(f"--port must be 1..65535, got {self.port}")
        if self.max_queue < 1:
            problems.append(f"--max-queue must be >= 1, got {self.max_queue}")
        if self.stream_interval < 0:
            problems.append(f"--stream-interval must be >= 0, got {self.stream_interval}")
        if self.n_ctx < 0 or self.threads < 0:
            problems.append("--n-ctx and --threads must be >= 0")
        if self.engine == "remote" and not self.remote_url:
            problems.append("--engine remote needs --remote-url")
        if self.slots < 1 or self.kv_cache_mib < 0 or self.cache_reuse < 0:
            problems.append("--slots must be >= 1, --kv-cache-mib and --cache-reuse >= 0")
        if self.speculative not in SPECULATIVE:
            problems.append(f"--speculative must be one of {', '.join(SPECULATIVE)}")
        elif self.speculative in ("draft", "both") and not self.draft_model:
            problems.append(f"--speculative {self.speculative} needs --draft-model")
        if self.fim_context_tokens < -1:
            problems.append("--fim-context-tokens must be >= -1")
        if min(self.header_timeout, self.body_timeout, self.keep_alive) <= 0 or self.max_connections < 1:
            problems.append("timeouts must be > 0 and --max-connections >= 1")
        if self.max_prompts < 1:
            problems.append("--max-prompts must be >= 1")
        if self.repo_context not in ("off", "definitions", "retrieval", "both"):
            problems.append("--repo-context must be off, definitions, retrieval or both")
        if self.repo_context_tokens < 0:
            problems.append(f"--repo-context-tokens must be >= 0 (0: sized from the FIM window), "
                            f"got {self.repo_context_tokens}")
        problems += [f"--repo {r}: not a folder" for r in self.repo if not os.path.isdir(r)]
        problems += self._public_code_problems()
        from codecommons.serve.routes_ui import config_problems
        problems += config_problems(self.dataset, self.reports)
        if problems:
            raise ValueError("\n".join(problems))


    def _public_code_problems(self) -> list[str]:
        from codecommons.serve.public_code import MODES

        mode = self.public_code_mode()
        if mode not in MODES:
            return [f"--public-code must be one of {', '.join(MODES)}, got {mode!r}"]
        if mode != "off" and not self.index:
            return [f"--public-code {mode} needs --index INDEX (build one with `commons index build`)"]
        if self.block_licenses and mode != "block":
            return ["--block-licenses applies to --public-code block"]
        if self.index and not os.path.exists(self.index):
            return [f"--index {self.index}: no such file (build one with `commons index build "
                    f"DATASET --out {self.index}`)"]
        if self.attribution_min_chars < 1:
            return ["--attribution-min-chars must be >= 1"]
        return []


def load(cfg: ServeConfig):
    from codecommons.engines.base import load_engine

    if cfg.remote_url or cfg.engine == "remote":
        spec = ModelSpec(id=cfg.model, family=guess_family(cfg.model), context_length=cfg.n_ctx,
                         license="unknown", format="remote", path=cfg.remote_url)
        key = cfg.remote_api_key or os.environ.get("COMMONS_REMOTE_API_KEY", "")
        engine = load_engine(spec, "remote", base_url=cfg.remote_url, api_key=key)
    else:
        spec = resolve(cfg.model)
        engine = load_engine(spec, cfg.engine or None, n_ctx=cfg.n_ctx, n_threads=cfg.threads,
                             device=cfg.device, slots=cfg.slots, kv_cache_mib=cfg.kv_cache_mib,
                             cache_reuse=cfg.cache_reuse, speculative=cfg.speculative,
                             draft_model=cfg.draft_model)
    if cfg.served_model_name:
        engine.spec.id = cfg.served_model_name
    return engine


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="commons serve", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap, ServeConfig)
    try:
        cfg = from_args(ServeConfig, ap.parse_args(argv))
    except ValueError as e:
        ap.error(str(e))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        engine = load(cfg)
    except (ModelNotFound, EmbeddedModelError, ImportError, ValueError) as e:
        print(f"commons serve: {e}", file=sys.stderr)
        return 1
    from codecommons.serve.app import ServeOptions, build_app
    from codecommons.serve.http import HttpLimits, server
    from codecommons.serve.public_code import PublicCodePolicy

    public_code = None
    if cfg.index:
        try:
            public_code = PublicCodePolicy.open(
                cfg.index, cfg.public_code_mode(),
                tuple(x for x in cfg.block_licenses.split(",") if x), cfg.attribution_min_chars)
        except (ImportError, OSError, sqlite3.DatabaseError) as e:
            print(f"commons serve: --index {cfg.index}: {e}", file=sys.stderr)
            engine.close()
            return 1

    repos = []
    if cfg.repo:
        from codecommons.repocontext.index import RepoIndex

        for folder in cfg.repo:
            index = RepoIndex(folder)
            index.watch(2.0)  # changed files are re-read (by mtime, size, then hash)
            repos.append(index)
            print(f"commons serve: --repo {folder}: {index.stats()}", file=sys.stderr)
    fim_tokens = fim_context_budget(engine, cfg.fim_context_tokens)
    repo_tokens = repo_context_budget(cfg.repo_context_tokens, fim_tokens)
    if repos:
        print(f"commons serve: repository context ({cfg.repo_context}): up to {repo_tokens} tokens "
              f"per FIM prompt (--repo-context-tokens)", file=sys.stderr)
    app = build_app(engine, ServeOptions(
        api_key=cfg.api_key or os.environ.get("COMMONS_API_KEY", ""), max_queue=cfg.max_queue,
        max_body_bytes=cfg.max_body_bytes, stream_interval_s=cfg.stream_interval,
        scrub_kinds=cfg.scrub_kinds(), public_code=public_code, max_prompts=cfg.max_prompts,
        allow_special_tokens=cfg.allow_special_tokens_in_prompts, bind_host=cfg.host,
        allowed_hosts=tuple(h.strip() for h in cfg.allowed_hosts.split(",") if h.strip()),
        body_timeout_s=cfg.body_timeout, fim_context_tokens=fim_tokens,
        dataset=cfg.dataset, reports=cfg.reports, repos=tuple(repos), repo_context=cfg.repo_context,
        repo_context_tokens=repo_tokens))
    slots = getattr(engine, "max_concurrency", 1)
    print(f"commons serve: {engine.spec.id} ({engine.spec.family}, {engine.n_ctx} tokens x {slots} "
          f"slot{'s' if slots > 1 else ''}, FIM prompts up to {fim_tokens or engine.n_ctx} tokens) "
          f"on http://{cfg.host}:{cfg.port}  (web UI: /ui, OpenAPI: /docs)", file=sys.stderr)
    limits = HttpLimits(header_timeout_s=cfg.header_timeout, body_timeout_s=cfg.body_timeout,
                        keep_alive_s=cfg.keep_alive, max_connections=cfg.max_connections)
    try:
        server(app, cfg.host, cfg.port, limits).run()
    finally:
        engine.close()
    return 0


def repo_context_budget(requested: int, fim_tokens: int) -> int:
    """--repo-context-tokens: as given; 0: the FIM window's budget (0: uncapped), at most
    REPO_CONTEXT_MAX, so context at most doubles what a cold file costs to open."""
    if requested > 0:
        return requested
    return min(fim_tokens or REPO_CONTEXT_MAX, REPO_CONTEXT_MAX)


def fim_context_budget(engine, requested: int) -> int:
    """--fim-context-tokens: as given; -1 no cap; 0 from the prefill speed measured here,
    so a cold FIM prompt (a file just opened) takes about FIM_COLD_START_S."""
    if requested > 0:
        return min(requested, engine.n_ctx)
    if requested < 0 or not hasattr(engine, "measure_prefill"):
        return 0
    tps = engine.measure_prefill()
    budget = int(tps * FIM_COLD_START_S) // 256 * 256
    logging.getLogger("codecommons.serve").info(
        "prefill %.0f tokens/s: FIM prompts capped at %d tokens (--fim-context-tokens)", tps, budget)
    return max(512, min(budget, engine.n_ctx))
