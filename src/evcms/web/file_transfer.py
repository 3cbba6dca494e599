"""The links stations use, outside the API-key auth (the token in the path is the credential).

- ``PUT``/``POST /uploads/{token}[/{file name}]``: a diagnostics/log upload. The body is the
  file, or multipart/form-data with one file part. One file per token, before it expires
  (404 unknown, 409 used, 410 expired); larger than the limit: 413, and reading stops.
- ``GET``/``HEAD /firmware-files/{token}/{file name}``: the firmware file of an update (Range
  requests are answered with 206 when the file lies on the local disk).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from python_multipart.multipart import MultipartParser, parse_options_header

from evcms.services.diagnostics import Diagnostics
from evcms.services.firmware import Firmware
from evcms.web.deps import WebDeps, web_deps
from evcms.web.maintenance_schemas import UploadReceived
from evcms.web.schemas import ErrorOut

router = APIRouter(tags=["station file transfer"])


def _diagnostics(deps: Annotated[WebDeps, Depends(web_deps)]) -> Diagnostics:
    if deps.diagnostics is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "uploads are not enabled here")
    return deps.diagnostics


def _firmware(deps: Annotated[WebDeps, Depends(web_deps)]) -> Firmware:
    if deps.firmware is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "firmware is not served here")
    return deps.firmware


def content_disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(name)}"


class _MultipartFile:
    """The bytes of the first file part of a multipart/form-data body, streamed."""

    def __init__(self, content_type: str) -> None:
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "multipart body without a boundary")
        self.file_name: str | None = None
        self._out: list[bytes] = []
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._files = 0
        callbacks: Any = {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"filename" in params and self._files == 0:
            self._in_file = True
            self._files = 1
            self.file_name = params[b"filename"].decode("utf-8", "replace") or None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._out.append(data[start:end])

    def _part_end(self) -> None:
        self._in_file = False

    async def chunks(self, request: Request) -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            self._parser.write(chunk)
            if self._out:
                yield b"".join(self._out)
                self._out.clear()
        self._parser.finalize()
        if self._out:
            yield b"".join(self._out)
            self._out.clear()
        if self._files == 0:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, "the multipart body has no file part (filename=...)"
            )


async def _upload(request: Request, token: str, file_name: str | None, service: Diagnostics) -> Response:
    found = await service.check_token(token)  # 404 / 409 / 410 before reading the body
    limit = service.policy.max_upload_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit + 64 * 1024:
        return _too_large(limit)
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        multipart = _MultipartFile(content_type)
        chunks = multipart.chunks(request)

        def name() -> str | None:
            return file_name or multipart.file_name

        received = await service.receive_upload(token, chunks, name)
    else:
        received = await service.receive_upload(token, request.stream(), file_name)
    assert received.file is not None
    body = UploadReceived(id=found.id, size=received.file.size, sha256=received.file.sha256)
    return JSONResponse(body.model_dump(), status_code=status.HTTP_201_CREATED)


def _too_large(limit: int) -> Response:
    return JSONResponse(
        {"detail": f"the file is larger than the limit of {limit} bytes"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        headers={"Connection": "close"},
    )


_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": UploadReceived, "description": "The file was kept"},
    404: {"model": ErrorOut, "description": "Unknown upload link"},
    409: {"model": ErrorOut, "description": "The link was used already"},
    410: {"model": ErrorOut, "description": "The link has expired"},
    413: {"model": ErrorOut, "description": "The file is larger than the limit"},
}


_UPLOAD: dict[str, Any] = {"status_code": status.HTTP_201_CREATED, "responses": _UPLOAD_RESPONSES}


@router.put("/uploads/{token}", summary="A station uploads its diagnostics or log", **_UPLOAD)
@router.post("/uploads/{token}", summary="A station uploads its diagnostics or log", **_UPLOAD)
async def upload(token: str, request: Request, service: Annotated[Diagnostics, Depends(_diagnostics)]) -> Response:
    return await _upload(request, token, None, service)


_NAMED = "A station uploads its diagnostics or log (file name appended to the link)"


@router.put("/uploads/{token}/{file_name}", summary=_NAMED, **_UPLOAD)
@router.post("/uploads/{token}/{file_name}", summary=_NAMED, **_UPLOAD)
async def upload_named(
    token: str,
    file_name: str,
    request: Request,
    service: Annotated[Diagnostics, Depends(_diagnostics)],
) -> Response:
    return await _upload(request, token, file_name, service)


_DOWNLOAD: dict[str, Any] = {
    "response_class": Response,
    "responses": {
        200: {"content": {"application/octet-stream": {}}, "description": "The firmware file"},
        206: {"description": "Part of the file (Range)"},
        404: {"model": ErrorOut, "description": "Unknown link"},
        410: {"model": ErrorOut, "description": "The link has expired"},
    },
    "summary": "A station downloads the firmware of its update",
}


@router.get("/firmware-files/{token}/{file_name}", **_DOWNLOAD)
@router.head("/firmware-files/{token}/{file_name}", **_DOWNLOAD)
async def firmware_file(
    token: str, file_name: str, request: Request, service: Annotated[Firmware, Depends(_firmware)]
) -> Response:
    _, firmware = await service.download(token, count=request.method == "GET")
    headers = {"X-Checksum-SHA256": firmware.sha256}
    path = service.local_path(firmware.file_key)
    if path is not None:
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=firmware.file_name,
            headers=headers,
        )
    headers.update(
        {"Content-Length": str(firmware.size), "Content-Disposition": content_disposition(firmware.file_name)}
    )
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(service.read(firmware.file_key), media_type="application/octet-stream", headers=headers)
