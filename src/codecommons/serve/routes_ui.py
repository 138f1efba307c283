"""The web UI at /ui (GET / redirects there) and the JSON routes its pages read.

The page is static: index.html, one JS bundle, one CSS file, built from
src/codecommons/ui/src by `make ui` and shipped inside the package, read here
through importlib.resources (data, not code: serve imports nothing from ui/).
Nothing is fetched from another site. Every UI response carries a
Content-Security-Policy that allows scripts and styles from this server only (no
inline script, no inline style attribute), so text from a dataset file or a model
that slipped into the page as HTML still could not run.

The static files need no API key (they hold nothing private); with `--api-key`
the page asks for the key, keeps it in sessionStorage and sends it as
`Authorization: Bearer` on every JSON route, which checks it as the API does
(errors.GuardMiddleware).

    app = build_app(engine, ServeOptions(dataset="runs/stack", reports="runs/eval"))
    -> /ui, /v1/status, /v1/dataset..., /v1/reports..., /v1/optout/requests...
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from codecommons.serve import routes_dataset, routes_optout, routes_reports, routes_status
from codecommons.serve.dataset_catalog import DatasetCatalog, dataset_problems

router = APIRouter(include_in_schema=False)

# blob: for the report chart, fetched with the key and shown from an object URL.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
MISSING = ("the web UI's built files are missing from this installation "
           "(src/codecommons/ui/static): run `make ui`")


@dataclass
class StaticFile:
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


def load_static() -> dict[str, StaticFile]:
    """Every file of ui/static, read once (a few hundred KB)."""
    folder = resources.files("codecommons.ui") / "static"
    files = {}
    if not folder.is_dir():
        return files
    for entry in folder.iterdir():
        if entry.is_file():
            body = entry.read_bytes()
            media = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            if media.startswith("text/") or media in ("application/javascript", "image/svg+xml"):
                media += "; charset=utf-8"
            files[entry.name] = StaticFile(body, gzip.compress(body, mtime=0), media,
                                           '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return files


@dataclass
class UIState:
    static: dict[str, StaticFile]
    dataset: DatasetCatalog | None = None
    reports: Path | None = None
    api_key: bool = False  # the server has one (the page then asks for it)
    optout_limiter: routes_optout.RateLimiter | None = None

    @classmethod
    def of(cls, request: Request) -> "UIState":
        return request.app.state.ui

    @property
    def optout_admin(self) -> bool:
        """Approving or rejecting opt-out requests over HTTP needs an API key."""
        return self.api_key


def install(app: FastAPI, dataset: str = "", reports: str = "", api_key: str = "") -> None:
    """Mount the UI and its JSON routes; load the dataset's in-memory index now."""
    app.state.ui = UIState(static=load_static(),
                           dataset=DatasetCatalog.open(dataset) if dataset else None,
                           reports=Path(reports) if reports else None,
                           api_key=bool(api_key),
                           optout_limiter=routes_optout.RateLimiter())
    for r in (router, routes_status.router, routes_dataset.router, routes_reports.router,
              routes_optout.router):
        app.include_router(r)


def config_problems(dataset: str, reports: str) -> list[str]:
    """`commons serve --dataset/--reports` checked before the model loads."""
    problems = []
    if dataset:
        problems += dataset_problems(Path(dataset))
    if reports and not Path(reports).is_dir():
        problems.append(f"--reports {reports}: no such folder; give the --out folder of "
                        "`commons eval run`")
    return problems


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/ui/", status_code=307, headers=SECURITY_HEADERS)


@router.get("/ui")
async def ui_root() -> Response:
    return RedirectResponse("/ui/", status_code=307, headers=SECURITY_HEADERS)


@router.get("/ui/")
@router.get("/ui/{name}")
async def ui_file(request: Request, name: str = "index.html") -> Response:
    static = UIState.of(request).static
    if not static:
        return Response(MISSING, status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
    f = static.get(name)
    if f is None:
        return Response(f"no file {name!r} in the web UI", status_code=404, media_type="text/plain",
                        headers=SECURITY_HEADERS)
    # no-cache: revalidate each time (a 304 when unchanged), so an upgrade shows at once
    headers = {**SECURITY_HEADERS, "ETag": f.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == f.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "") and len(f.gzipped) < len(f.body):
        return Response(f.gzipped, media_type=f.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(f.body, media_type=f.media_type, headers=headers)
