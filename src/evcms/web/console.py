"""The operator console: ``/`` serves the page shell; ``/console/...`` its scripts, styles and
vendored libraries; ``/console/i18n/<lang>.json`` its translations.

Everything is a package file served by evcms itself: no CDN, no separate server. Third-party
browser code (uPlot for charts) comes from the npm registry at set-up (``scripts/vendor-frontend``)
into ``static/vendor/``, never committed. The Content-Security-Policy allows scripts and styles
from evcms only.
"""

from __future__ import annotations

import mimetypes
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from evcms.web.page_i18n import UnknownLanguage, translations

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _static() -> Traversable:
    return files("evcms.web").joinpath("static")


@cache
def _asset(path: str) -> tuple[bytes, str] | None:
    """A file under static/console or static/vendor; None when there is none (or the path
    tries to leave those directories)."""
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") or "\\" in part for part in parts):
        return None
    node = _static()
    for part in parts:
        node = node.joinpath(part)
    if not node.is_file():
        return None
    suffix = "." + parts[-1].rsplit(".", 1)[-1] if "." in parts[-1] else ""
    media = _TYPES.get(suffix) or mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    return node.read_bytes(), media


def static_file(path: str, *, cache_seconds: int = 0) -> Response:
    found = _asset(path)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such file: {path}")
    body, media = found
    cache_control = f"public, max-age={cache_seconds}" if cache_seconds else "no-cache"
    return Response(body, media_type=media, headers={**SECURITY_HEADERS, "Cache-Control": cache_control})


@router.get("/", response_class=HTMLResponse)
async def console() -> Response:
    return static_file("console/index.html")


@router.get("/console/i18n/{language}.json")
async def console_translations(language: str) -> JSONResponse:
    try:
        catalog = translations("console", language)
    except UnknownLanguage as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return JSONResponse(catalog, headers={"Cache-Control": "no-cache"})


@router.get("/console/vendor/{path:path}")
async def console_vendor(path: str) -> Response:
    if _asset(f"vendor/{path}") is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{path} is not installed: run `make setup` (scripts/vendor-frontend) to fetch the"
            " console's libraries from the npm registry",
        )
    return static_file(f"vendor/{path}", cache_seconds=3600)


@router.get("/console/{path:path}")
async def console_asset(path: str) -> Response:
    return static_file(f"console/{path}")
