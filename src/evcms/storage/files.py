"""File stores: a local directory, and an in-memory twin (both ``services.files.FileStore``).

Keys are relative paths of safe segments ("firmware/12", "diagnostics/7"). A write streams
into a temporary file in the same directory, fsyncs it and renames it into place, so readers
never see half a file and a failed or too large upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import IO

from evcms.services.files import FileTooLarge, StoredFile
from evcms.services.ports import NotFound

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_key(key: str) -> str:
    parts = key.split("/")
    if not parts or any(not _SEGMENT.match(p) or p in (".", "..") for p in parts):
        raise ValueError(f"invalid file key {key!r}")
    return key


class _Digest:
    def __init__(self) -> None:
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)

    def add(self, chunk: bytes, key: str, limit: int) -> None:
        self.size += len(chunk)
        if self.size > limit:
            raise FileTooLarge(limit)
        self._sha256.update(chunk)
        self._md5.update(chunk)

    def stored(self, key: str) -> StoredFile:
        return StoredFile(key, self.size, self._sha256.hexdigest(), self._md5.hexdigest())


class LocalFileStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory.joinpath(*check_key(key).split("/"))

    async def save(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> StoredFile:
        target = self._path(key)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        fd, temporary = await asyncio.to_thread(
            tempfile.mkstemp, prefix=".upload-", suffix=".part", dir=target.parent
        )
        digest = _Digest()
        handle: IO[bytes] = os.fdopen(fd, "wb")
        try:
            buffered: list[bytes] = []
            pending = 0
            async for chunk in chunks:
                if not chunk:
                    continue
                digest.add(chunk, key, max_bytes)
                buffered.append(chunk)
                pending += len(chunk)
                if pending >= 1 << 20:  # write in ~1 MiB pieces, off the event loop
                    await asyncio.to_thread(handle.write, b"".join(buffered))
                    buffered, pending = [], 0
            if buffered:
                await asyncio.to_thread(handle.write, b"".join(buffered))
            await asyncio.to_thread(_flush_and_close, handle)
            await asyncio.to_thread(os.replace, temporary, target)
        except BaseException:
            handle.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return digest.stored(key)

    async def read(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFound(f"no file {key!r}") from None
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> bool:
        try:
            await asyncio.to_thread(self._path(key).unlink)
        except FileNotFoundError:
            return False
        return True

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


def _flush_and_close(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


class MemoryFileStore:
    """The in-memory twin: the same contract, for tests that are not about files."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    async def save(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> StoredFile:
        check_key(key)
        digest = _Digest()
        parts: list[bytes] = []
        async for chunk in chunks:
            digest.add(chunk, key, max_bytes)
            parts.append(chunk)
        self.files[key] = b"".join(parts)
        return digest.stored(key)

    async def read(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        if key not in self.files:
            raise NotFound(f"no file {key!r}")
        data = self.files[key]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def size(self, key: str) -> int | None:
        data = self.files.get(key)
        return None if data is None else len(data)

    async def delete(self, key: str) -> bool:
        return self.files.pop(key, None) is not None

    def local_path(self, key: str) -> Path | None:
        return None
