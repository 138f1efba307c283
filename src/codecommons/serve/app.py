"""build_app: mount the OpenAI and TGI routers over one engine.

    app = build_app(engine, ServeOptions(api_key="..."))
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import Response

from codecommons import __version__
from codecommons.serve import routes_attribution, routes_llamacpp, routes_ollama, routes_openai, routes_tgi, routes_ui
from codecommons.engines.base import Engine
from codecommons.serve.errors import install_handlers
from codecommons.serve.guard import GuardMiddleware, HostCheck
from codecommons.serve.generation import Generation
from codecommons.serve.metrics import CONTENT_TYPE_LATEST, Metrics
from codecommons.serve.public_code import PublicCodePolicy
from codecommons.serve.scheduler import Scheduler
from codecommons.pii.scrub import DEFAULT_KINDS
from codecommons.serve.state import ServerState

MAX_BODY_BYTES = 4 << 20  # 4 MiB: ~1M characters of editor context is plenty


@dataclass
class ServeOptions:
    api_key: str = ""
    max_queue: int = 16
    max_body_bytes: int = MAX_BODY_BYTES
    stream_interval_s: float = 0.05  # streamed text is batched at most this late
    scrub_kinds: tuple[str, ...] = DEFAULT_KINDS  # secrets redacted from generated text
    public_code: PublicCodePolicy | None = None  # check output against a code index
    max_prompts: int = 64  # prompts x n per request
    allow_special_tokens: bool = False  # control tokens in prompts and messages (trusted clients)
    bind_host: str = "127.0.0.1"  # for the Host-header check
    allowed_hosts: tuple[str, ...] = ()  # further names the Host header may carry ("*": any)
    body_timeout_s: float = 30.0
    fim_context_tokens: int = 0  # cap on a FIM prompt's prefix + suffix (0: the context)
    repos: tuple = ()  # repocontext.RepoIndex per --repo folder
    repo_context: str = "both"  # off | definitions | retrieval | both
    repo_context_tokens: int = 1024
    dataset: str = ""  # web UI: a `commons curate` output to explore
    reports: str = ""  # web UI: a folder of `commons eval` outputs


def build_app(engine: Engine, opts: ServeOptions | None = None) -> FastAPI:
    opts = opts or ServeOptions()
    scheduler = Scheduler(opts.max_queue, engine.max_concurrency)
    public_code = opts.public_code if opts.public_code and opts.public_code.mode != "off" else None
    generation = Generation(engine, scrub_kinds=opts.scrub_kinds, public_code=public_code,
                            fim_context_tokens=opts.fim_context_tokens,
                            allow_special_tokens=opts.allow_special_tokens, repos=opts.repos,
                            repo_context=opts.repo_context,
                            repo_context_tokens=opts.repo_context_tokens)
    state = ServerState(engine=engine, generation=generation, scheduler=scheduler,
                        metrics=Metrics(lambda: scheduler.depth), created=int(time.time()),
                        stream_interval_s=opts.stream_interval_s, public_code=opts.public_code,
                        max_prompts=opts.max_prompts)
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        # Shutdown (SIGTERM): stop every generation, so the drain takes a chunk, not a prompt.
        scheduler.cancel_all()
        engine.cancel_all()
        scheduler.close()

    app = FastAPI(title="Code Commons", version=__version__, lifespan=lifespan,
                  description="A private code assistant: OpenAI- and TGI-compatible APIs "
                              "over a local code model.")
    app.state.commons = state
    app.include_router(routes_openai.router)
    app.include_router(routes_tgi.router)
    app.include_router(routes_attribution.router)
    app.include_router(routes_llamacpp.router)
    app.include_router(routes_ollama.router)
    routes_ui.install(app, opts.dataset, opts.reports, opts.api_key)
    install_handlers(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def count(route: str, status: int) -> None:
        state.metrics.requests.labels(route, str(status)).inc()

    app.add_middleware(GuardMiddleware, api_key=opts.api_key or None,
                       max_body_bytes=opts.max_body_bytes, count=count,
                       hosts=HostCheck(opts.bind_host, opts.allowed_hosts),
                       body_timeout_s=opts.body_timeout_s)

    return app
