"""Shared test types of the storage suite (importable as ``storage_fixtures``: pytest puts this
directory on ``sys.path``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from evcms.services.ports import (
    ApiKeyRepository,
    ChargingSessionRepository,
    MessageLog,
    SiteRepository,
    StationRepository,
    TokenRepository,
)
from evcms.storage.writer import Writer


@dataclass
class Backend:
    """The repositories of one backend (engine and writer only for the SQL ones)."""

    name: str
    sites: SiteRepository
    stations: StationRepository
    api_keys: ApiKeyRepository
    message_log: MessageLog
    engine: AsyncEngine | None = None
    writer: Writer | None = None


@dataclass
class ChargingBackend:
    """Token and session repositories of one backend; ``add_driver`` stores a bare driver
    (tokens refer to drivers)."""

    name: str
    tokens: TokenRepository
    sessions: ChargingSessionRepository
    add_driver: Callable[[str], Awaitable[None]]
    engine: AsyncEngine | None = None
    writer: Writer | None = None
