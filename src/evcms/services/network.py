"""Operator use cases on the network: sites, stations, credentials, accepting pending stations."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import (
    ConnectorState,
    Presence,
    RegistrationStatus,
    Site,
    Station,
)
from evcms.services.ports import (
    AlreadyExists,
    Clock,
    NotFound,
    PasswordHasher,
    SiteRepository,
    StationCommands,
    StationRepository,
)
from evcms.services.station_lifecycle import StationLifecycle

log = logging.getLogger(__name__)

MIN_STATION_PASSWORD = 16  # OCPP 1.6 security whitepaper / 2.0.1 BasicAuthPassword: 16-40
MAX_STATION_PASSWORD = 40


class InvalidRequest(ValueError):
    """Bad input from an operator; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class StationView:
    """A station with its live state, as operators see it."""

    station: Station
    presence: Presence | None
    connectors: list[ConnectorState]


def check_station_password(password: str) -> None:
    if not MIN_STATION_PASSWORD <= len(password) <= MAX_STATION_PASSWORD:
        raise InvalidRequest(
            f"station password must be {MIN_STATION_PASSWORD}-{MAX_STATION_PASSWORD} characters"
            f" long (got {len(password)})"
        )
    if not password.isascii() or not password.isprintable():
        raise InvalidRequest("station password must be printable ASCII")


class NetworkAdmin:
    def __init__(
        self,
        *,
        sites: SiteRepository,
        stations: StationRepository,
        hasher: PasswordHasher,
        commands: StationCommands,
        lifecycle: StationLifecycle,
        clock: Clock,
    ) -> None:
        self._sites = sites
        self._stations = stations
        self._hasher = hasher
        self._commands = commands
        self._lifecycle = lifecycle
        self._clock = clock
        self._background: set[asyncio.Task[None]] = set()

    # -- sites --------------------------------------------------------------------------

    async def add_site(self, site: Site) -> Site:
        await self._sites.add(site)
        return site

    async def site(self, site_id: SiteId) -> Site | None:
        return await self._sites.get(site_id)

    async def sites(self) -> list[Site]:
        return await self._sites.list()

    async def update_site(self, site: Site) -> Site:
        await self._sites.update(site)
        return site

    async def delete_site(self, site_id: SiteId) -> bool:
        return await self._sites.delete(site_id)

    # -- stations -----------------------------------------------------------------------

    async def add_station(
        self,
        station_id: StationId,
        *,
        site_id: SiteId | None = None,
        name: str = "",
        password: str | None = None,
        registration: RegistrationStatus = RegistrationStatus.ACCEPTED,
    ) -> Station:
        if site_id is not None and await self._sites.get(site_id) is None:
            raise InvalidRequest(f"site {site_id!r} does not exist; create it first")
        password_hash = None
        if password is not None:
            check_station_password(password)
            password_hash = await asyncio.to_thread(self._hasher.hash, password)
        station = Station(
            id=station_id,
            created_at=self._clock.now(),
            site_id=site_id,
            name=name,
            registration=registration,
            password_hash=password_hash,
        )
        await self._stations.add(station)  # AlreadyExists propagates
        return station

    async def station(self, station_id: StationId) -> Station | None:
        return await self._stations.get(station_id)

    async def stations(self, site_id: SiteId | None = None) -> list[Station]:
        return await self._stations.list(site_id)

    async def update_station(
        self,
        station_id: StationId,
        *,
        site_id: SiteId | object | None = ...,
        name: str | None = None,
        registration: RegistrationStatus | None = None,
    ) -> Station:
        station = await self._require(station_id)
        changes: dict[str, object] = {}
        if site_id is not ...:
            if site_id is not None and await self._sites.get(site_id) is None:  # type: ignore[arg-type]
                raise InvalidRequest(f"site {site_id!r} does not exist; create it first")
            changes["site_id"] = site_id
        if name is not None:
            changes["name"] = name
        if registration is not None:
            changes["registration"] = registration
        updated = station.replace(**changes)
        await self._stations.update(updated)
        if registration is not None and registration is not station.registration:
            self._registration_changed(updated)
        return updated

    async def delete_station(self, station_id: StationId) -> bool:
        return await self._stations.delete(station_id)

    async def set_password(self, station_id: StationId, password: str | None) -> Station:
        """Set (or with None, remove) a station's Basic-auth password."""
        station = await self._require(station_id)
        password_hash = None
        if password is not None:
            check_station_password(password)
            password_hash = await asyncio.to_thread(self._hasher.hash, password)
        updated = station.replace(password_hash=password_hash)
        await self._stations.update(updated)
        return updated

    async def accept(self, station_id: StationId) -> Station:
        """Accept a pending (or rejected) station; a connected one is asked to boot again."""
        return await self.update_station(station_id, registration=RegistrationStatus.ACCEPTED)

    async def view(self, station_id: StationId) -> StationView | None:
        station = await self._stations.get(station_id)
        if station is None:
            return None
        presence = self._lifecycle.live_presence(station_id) or await self._stations.presence(
            station_id
        )
        return StationView(station, presence, await self._stations.connector_states(station_id))

    async def close(self) -> None:
        """At shutdown: stop the TriggerMessage calls still waiting for stations."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _require(self, station_id: StationId) -> Station:
        station = await self._stations.get(station_id)
        if station is None:
            raise NotFound(f"station {station_id!r} does not exist")
        return station

    def _registration_changed(self, station: Station) -> None:
        self._lifecycle.registration_changed(station.id, station.registration)
        if station.registration is RegistrationStatus.ACCEPTED and self._commands.is_connected(
            station.id
        ):
            # Ask the station to boot again now rather than after its retry interval.
            task = asyncio.get_running_loop().create_task(self._trigger_boot(station.id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _trigger_boot(self, station_id: StationId) -> None:
        # The same payload in 1.6, 2.0.1 and 2.1.
        payload = {"requestedMessage": "BootNotification"}
        reply = await self._commands.call(station_id, "TriggerMessage", payload)
        log.info("TriggerMessage BootNotification to %s: %s", station_id, reply.outcome)


__all__ = ["AlreadyExists", "InvalidRequest", "NetworkAdmin", "NotFound", "StationView"]
