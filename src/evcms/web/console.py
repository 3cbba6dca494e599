"""GET /: the operator console, one self-contained HTML page shipped inside the package."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

# The page carries its script and styles inline and loads nothing else.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@cache
def console_html() -> str:
    return files("evcms.web").joinpath("static/console.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
async def console() -> HTMLResponse:
    return HTMLResponse(
        console_html(),
        headers={
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )
