"""/app: the driver app, a mobile-first single page shipped inside the package.

- ``GET /app`` (and the pages mailed links open: ``/app/verify-email``, ``/app/reset-password``)
  answer the page; its script and styles come from ``/app/static/<file>`` (package files under
  ``web/static/app/``), nothing from elsewhere: the Content-Security-Policy forbids it.
- ``GET /app/i18n/{language}.json``: the app's texts in a language, from the gettext catalogue
  ``locale/<language>/LC_MESSAGES/app.po`` (English is the message id; English is the identity).

The page talks to the driver API (``/api/v1/drivers/...``, ``/api/v1/me/...``) with the driver's
bearer token; it holds no state on the server.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from evcms.i18n import LANGUAGES
from evcms.web import page_i18n

router = APIRouter(prefix="/app", include_in_schema=False)

# Everything comes from this server; no inline script or style, no other origin.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
# Pages a mailed link (or a bookmark) opens; the page itself decides what to show.
_PAGES = ("", "/", "/verify-email", "/reset-password")


def _static_dir() -> Any:
    return files("evcms.web").joinpath("static/app")


@cache
def _assets() -> dict[str, tuple[bytes, str]]:
    """The app's files by name: (content, content type). Only these are ever served."""
    found: dict[str, tuple[bytes, str]] = {}
    for entry in _static_dir().iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _CONTENT_TYPES and entry.name != "index.html":
            found[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    return found


@cache
def app_html() -> str:
    return str(_static_dir().joinpath("index.html").read_text(encoding="utf-8"))


def _page() -> HTMLResponse:
    return HTMLResponse(app_html(), headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"})


for _path in _PAGES:
    router.add_api_route(_path, _page, methods=["GET"], response_class=HTMLResponse)


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    found = _assets().get(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the driver app has no file {name!r}")
    body, content_type = found
    return Response(
        body,
        media_type=content_type,
        headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


@router.get("/i18n/{language}.json")
async def app_translations(language: str) -> JSONResponse:
    """The app's texts in ``language``: {"language": ..., "messages": {English: translation}}."""
    try:
        messages = page_i18n.translations("app", language)
    except page_i18n.UnknownLanguage:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"the driver app has no language {language!r}; it speaks {', '.join(LANGUAGES)}",
        ) from None
    return JSONResponse(
        {"language": language, "messages": messages},
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
