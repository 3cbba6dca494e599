"""Tariffs: importing OCPI tariffs (versioned), assigning them, and quoting a price (dry run).

A tariff is stored as the OCPI 2.2.1 JSON text it was imported with, exactly, plus the time zone
its local-time restrictions are read in. Importing an id that exists adds a new version; older
versions stay (a session keeps the version it started with). An assignment points a station, a
site or the whole network (``default``) at a tariff id; the station's assignment wins over its
site's, which wins over the default, and the tariff's latest version applies.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from evcms.domain.ids import SiteId, StationId
from evcms.domain.ocpi_tariffs import display_name, from_ocpi, loads
from evcms.domain.tariffs import ChargingPeriod, PriceBreakdown, Tariff, TariffError, price
from evcms.services.network import InvalidRequest
from evcms.services.ports import Clock, NotFound, SiteRepository, StationRepository

NAME_MAX_LENGTH = 200
TIME_ZONE_MAX_LENGTH = 64


class AssignmentScope(enum.StrEnum):
    DEFAULT = "default"
    SITE = "site"
    STATION = "station"


@dataclass(frozen=True, slots=True)
class StoredTariff:
    id: str
    version: int
    name: str
    currency: str
    time_zone: str
    ocpi: str  # the OCPI JSON text as imported
    created_at: datetime

    def tariff(self) -> Tariff:
        return from_ocpi(loads(self.ocpi), time_zone=self.time_zone)


@dataclass(frozen=True, slots=True)
class TariffAssignment:
    scope: AssignmentScope
    scope_id: str | None  # None for the default
    tariff_id: str
    version: int  # the tariff's latest version when asked
    since: datetime


class TariffRepository(Protocol):
    async def add_version(
        self,
        tariff_id: str,
        *,
        name: str,
        currency: str,
        time_zone: str,
        ocpi: str,
        at: datetime,
    ) -> StoredTariff: ...  # version = the last one + 1 (1 for a new id)

    async def latest(self, tariff_id: str) -> StoredTariff | None: ...

    async def get(self, tariff_id: str, version: int) -> StoredTariff | None: ...

    async def list(self) -> builtins.list[StoredTariff]: ...  # latest versions, by id

    async def assign(
        self, scope: AssignmentScope, scope_id: str | None, tariff_id: str, *, at: datetime
    ) -> None: ...  # replaces the scope's assignment

    async def assignment_for(
        self, station_id: StationId, site_id: SiteId | None
    ) -> TariffAssignment | None: ...


class TariffAdmin:
    def __init__(
        self,
        *,
        tariffs: TariffRepository,
        stations: StationRepository,
        sites: SiteRepository,
        clock: Clock,
        default_time_zone: str = "UTC",
    ) -> None:
        self._tariffs = tariffs
        self._stations = stations
        self._sites = sites
        self._clock = clock
        self.default_time_zone = default_time_zone

    async def import_ocpi(self, text: str | bytes, *, time_zone: str | None = None) -> StoredTariff:
        """Store an OCPI tariff (InvalidRequest naming the field when it is not valid); a new
        version when its id exists."""
        if isinstance(text, bytes):
            try:
                text = text.decode()
            except UnicodeDecodeError as exc:
                raise InvalidRequest("a tariff must be UTF-8 JSON text") from exc
        zone = time_zone or self.default_time_zone
        if len(zone) > TIME_ZONE_MAX_LENGTH:
            raise InvalidRequest(f"time_zone: at most {TIME_ZONE_MAX_LENGTH} characters")
        try:
            data = loads(text)
            tariff = from_ocpi(data, time_zone=zone)
        except TariffError as exc:
            raise InvalidRequest(str(exc)) from exc
        return await self._tariffs.add_version(
            tariff.id,
            name=display_name(data)[:NAME_MAX_LENGTH],
            currency=tariff.currency,
            time_zone=zone,
            ocpi=text,
            at=self._clock.now(),
        )

    async def get(self, tariff_id: str, version: int | None = None) -> StoredTariff:
        """The latest version, or the one asked for; NotFound otherwise."""
        if version is None:
            found = await self._tariffs.latest(tariff_id)
        else:
            found = await self._tariffs.get(tariff_id, version)
        if found is None:
            what = f"tariff {tariff_id!r}" + (f" version {version}" if version is not None else "")
            raise NotFound(f"{what} does not exist")
        return found

    async def list(self) -> builtins.list[StoredTariff]:
        return await self._tariffs.list()

    async def assign(
        self, tariff_id: str, scope: AssignmentScope, scope_id: str | None = None
    ) -> None:
        """Make a tariff the default, a site's or a station's (which must exist)."""
        scope = AssignmentScope(scope)
        await self.get(tariff_id)
        if scope is AssignmentScope.DEFAULT:
            if scope_id:
                raise InvalidRequest("scope_id: must be empty for the default tariff")
            scope_id = None
        elif not scope_id:
            raise InvalidRequest(f"scope_id: required for a {scope.value} tariff")
        elif scope is AssignmentScope.SITE:
            if await self._sites.get(SiteId(scope_id)) is None:
                raise InvalidRequest(f"site {scope_id!r} does not exist")
        elif await self._stations.get(StationId(scope_id)) is None:
            raise InvalidRequest(f"station {scope_id!r} does not exist")
        await self._tariffs.assign(scope, scope_id, tariff_id, at=self._clock.now())

    async def assignment_for(self, station_id: StationId) -> TariffAssignment | None:
        station = await self._stations.get(station_id)
        site_id = station.site_id if station is not None else None
        return await self._tariffs.assignment_for(station_id, site_id)

    async def tariff_for(self, station_id: StationId) -> tuple[Tariff, int] | None:
        """The tariff (and version) a session starting now at the station is priced with."""
        assignment = await self.assignment_for(station_id)
        if assignment is None:
            return None
        stored = await self._tariffs.get(assignment.tariff_id, assignment.version)
        if stored is None:
            return None
        return stored.tariff(), stored.version

    async def tariff_in_force(
        self, station_id: StationId, at: datetime, *, tariff_id: str | None = None
    ) -> StoredTariff | None:
        """The version of the station's tariff that was the newest at ``at`` (a session is
        priced with the tariff in force when it started); the first version if all are newer.
        ``tariff_id`` names the tariff instead of the station's (a subscription plan's own)."""
        if tariff_id is None:
            assignment = await self.assignment_for(station_id)
            if assignment is None:
                return None
            tariff_id, version = assignment.tariff_id, assignment.version
        else:
            latest = await self._tariffs.latest(tariff_id)
            if latest is None:
                return None
            version = latest.version
        chosen = None
        while version >= 1:
            stored = await self._tariffs.get(tariff_id, version)
            if stored is not None:
                chosen = stored
                if stored.created_at <= at:
                    break
            version -= 1
        return chosen

    async def quote(
        self, tariff_id: str, periods: Sequence[ChargingPeriod], *, version: int | None = None
    ) -> PriceBreakdown:
        """The price of the given usage under a tariff, without any session (a dry run)."""
        stored = await self.get(tariff_id, version)
        try:
            return price(stored.tariff(), periods)
        except TariffError as exc:
            raise InvalidRequest(str(exc)) from exc
