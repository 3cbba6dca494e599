"""Service exceptions mapped to HTTP answers; every error body has a readable ``detail`` string."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from evcms.domain.ids import InvalidIdentifier
from evcms.services.network import InvalidRequest
from evcms.services.ports import AlreadyExists, NotFound, ServiceError


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        kind, rest = parts[0], parts[1:]
        return f"{kind} field {'.'.join(rest)!r}" if rest else f"request {kind}"
    return ".".join(parts)


def validation_errors(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A one-line summary and the errors without the echoed input (it may hold secrets)."""
    cleaned = []
    lines = []
    for error in errors:
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        loc = tuple(error.get("loc", ()))
        kind = error.get("type", "")
        if kind == "json_invalid":  # loc is ("body", character position)
            reason = (error.get("ctx") or {}).get("error", "")
            message = f"request body is not valid JSON ({reason or 'syntax error'})"
            position = loc[1] if len(loc) > 1 else None
            if position is not None:
                message += f" at character {position}"
            loc = ("body",)
            lines.append(message)
        elif loc == ("body",) and kind == "missing":
            message = "a JSON request body is required"
            lines.append(message)
        else:
            lines.append(f"{_where(loc)}: {message}" if loc else message)
        cleaned.append({"loc": list(loc), "msg": message, "type": kind})
    return "; ".join(lines) or "invalid request", cleaned


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail, errors = validation_errors(list(exc.errors()))
    return JSONResponse(
        {"detail": detail, "errors": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    """A service refused: its message says what to fix, its status is the HTTP status."""
    assert isinstance(exc, ServiceError)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc) or "not found"}, status_code=status.HTTP_404_NOT_FOUND)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc) or "already exists"}, status_code=status.HTTP_409_CONFLICT
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(InvalidRequest, _invalid)
    app.add_exception_handler(InvalidIdentifier, _invalid)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(AlreadyExists, _conflict)
