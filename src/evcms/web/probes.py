"""/health for load balancers and /metrics for Prometheus: outside /api/v1, no API key."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse

from evcms.web.deps import WebDeps, web_deps

log = logging.getLogger(__name__)

router = APIRouter(tags=["monitoring"])

Deps = Annotated[WebDeps, Depends(web_deps)]


@router.get(
    "/health",
    responses={
        200: {"description": 'Ready: `{"status": "ok", ...}`'},
        503: {"description": "Not ready; the body says what is wrong"},
    },
)
async def health(deps: Deps) -> JSONResponse:
    """Readiness for load balancers (no API key needed)."""
    try:
        report: dict[str, Any] = dict(await deps.health())
    except Exception as exc:
        log.exception("health check failed")
        report = {"status": "error", "detail": f"health check failed: {type(exc).__name__}"}
    report.setdefault("status", "error")
    ok = report["status"] == "ok"
    return JSONResponse(
        report,
        status_code=status.HTTP_200_OK if ok else status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(deps: Deps) -> Response:
    """Prometheus metrics (no API key needed: expose this port only where scrapers reach it)."""
    body, content_type = deps.metrics()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
