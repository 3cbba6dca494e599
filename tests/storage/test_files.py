"""File stores: the local directory and the in-memory twin keep whole files or nothing."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from evcms.services.files import FileStore, FileTooLarge
from evcms.services.ports import NotFound
from evcms.storage.files import LocalFileStore, MemoryFileStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    return LocalFileStore(tmp_path / "files") if request.param == "local" else MemoryFileStore()


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(store: FileStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, chunk_size=3)])


async def test_a_stored_file_reads_back_with_its_size_and_checksums(store: FileStore) -> None:
    stored = await store.save("firmware/1", chunks(b"hello ", b"", b"world"), max_bytes=100)
    assert stored.size == 11
    assert stored.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert stored.md5 == hashlib.md5(b"hello world").hexdigest()
    assert await read_all(store, "firmware/1") == b"hello world"
    assert await store.size("firmware/1") == 11


async def test_a_file_over_the_limit_is_refused_and_leaves_nothing(store: FileStore, tmp_path: Path) -> None:
    read = []

    async def endless() -> AsyncIterator[bytes]:
        for n in range(1000):
            read.append(n)
            yield b"x" * 10

    with pytest.raises(FileTooLarge) as refused:
        await store.save("diagnostics/1", endless(), max_bytes=25)
    assert refused.value.status == 413
    assert len(read) == 3  # it stopped reading at the limit
    assert await store.size("diagnostics/1") is None
    if isinstance(store, LocalFileStore):
        assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


async def test_a_failed_write_keeps_the_older_file(store: FileStore) -> None:
    await store.save("diagnostics/2", chunks(b"old"), max_bytes=100)

    async def broken() -> AsyncIterator[bytes]:
        yield b"new"
        raise ConnectionError("station went away")

    with pytest.raises(ConnectionError):
        await store.save("diagnostics/2", broken(), max_bytes=100)
    assert await read_all(store, "diagnostics/2") == b"old"


async def test_missing_files_and_deleting(store: FileStore) -> None:
    with pytest.raises(NotFound):
        await read_all(store, "firmware/9")
    assert await store.size("firmware/9") is None
    assert await store.delete("firmware/9") is False
    await store.save("firmware/9", chunks(b"x"), max_bytes=10)
    assert await store.delete("firmware/9") is True
    assert await store.size("firmware/9") is None


@pytest.mark.parametrize("key", ["../x", "a//b", "/abs", "a/../b", ".hidden", ""])
async def test_keys_cannot_leave_the_directory(store: FileStore, key: str) -> None:
    with pytest.raises(ValueError):
        await store.save(key, chunks(b"x"), max_bytes=10)


def test_the_local_store_names_the_file_on_disk(tmp_path: Path) -> None:
    assert LocalFileStore(tmp_path).local_path("firmware/3") == tmp_path / "firmware" / "3"
    assert MemoryFileStore().local_path("firmware/3") is None
