"""The file store port: where evcms keeps uploaded diagnostics and firmware files.

``storage/files.py`` implements it over a local directory (a write streams to a temporary file
and is renamed into place, so a file is either whole or absent) and in memory for tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evcms.services.ports import ServiceError


class FileTooLarge(ServiceError):
    """More bytes than allowed: nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit} bytes", 413)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    size: int
    sha256: str  # hex
    md5: str  # hex


class FileStore(Protocol):
    async def save(self, key: str, chunks: AsyncIterable[bytes], max_bytes: int) -> StoredFile:
        """Store the bytes under ``key`` (replacing a file with that key). Stops reading and
        raises ``FileTooLarge`` past ``max_bytes``; then, or on any other error, nothing is
        left behind (and an older file with that key is untouched)."""
        ...

    def read(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """The file's bytes; raises ``NotFound`` (when iterated) if there is no such file."""
        ...

    async def size(self, key: str) -> int | None: ...  # None: no such file

    async def delete(self, key: str) -> bool: ...

    def local_path(self, key: str) -> Path | None:
        """The file on the local disk, when it is one (lets the web serve ranges); else None."""
        ...
