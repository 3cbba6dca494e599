"""/api/v1/me/sites: where a driver can charge: sites with their address and coordinates, their
stations and which connectors are free right now (driver token ``drv_...``).

Only accepted stations are listed. A connector is free when its station is connected and the
connector reported Available; the EVSE id is what ``POST /api/v1/me/sessions/start`` takes.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from evcms.domain.stations import ConnectorStatus, RegistrationStatus, Site
from evcms.services.network import InvalidRequest, StationView
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver

me_router = APIRouter(prefix="/me/sites", tags=["driver sites"])

Deps = Annotated[WebDeps, Depends(web_deps)]

_EARTH_RADIUS_KM = 6371.0088


class DriverConnectorOut(BaseModel):
    evse_id: int = Field(description="Pass as evse_id to POST /api/v1/me/sessions/start")
    connector_id: int
    status: ConnectorStatus = Field(description="As the station last reported it")
    free: bool = Field(description="The station is online and the connector is Available")


class DriverStationOut(BaseModel):
    id: str
    name: str
    online: bool = Field(description="Connected to evcms now")
    connectors: list[DriverConnectorOut] = Field(description="Ordered by EVSE and connector")
    free_connectors: int


class DriverSiteOut(BaseModel):
    id: str | None = Field(description="null for the stations that belong to no site")
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    distance_km: float | None = Field(
        description="From the point given as lat/lon (great-circle, 0.1 km); null without one"
        " or when the site has no coordinates"
    )
    stations: list[DriverStationOut]
    free_connectors: int = Field(description="Free connectors of all its stations")


class DriverSiteList(BaseModel):
    sites: list[DriverSiteOut] = Field(
        description="Nearest first when lat/lon are given (sites without coordinates last),"
        " else by name; stations without a site come last as one entry with id null"
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _station_out(view: StationView) -> DriverStationOut:
    online = view.presence is not None and view.presence.connected
    connectors = [
        DriverConnectorOut(
            evse_id=state.evse_id,
            connector_id=state.connector_id,
            status=state.status,
            free=online and state.status is ConnectorStatus.AVAILABLE,
        )
        for state in sorted(view.connectors, key=lambda s: (s.evse_id, s.connector_id))
        if state.evse_id > 0  # evse 0 is the station as a whole
    ]
    return DriverStationOut(
        id=view.station.id,
        name=view.station.name or view.station.id,
        online=online,
        connectors=connectors,
        free_connectors=sum(c.free for c in connectors),
    )


def _site_out(
    site: Site | None, stations: list[DriverStationOut], near: tuple[float, float] | None
) -> DriverSiteOut:
    distance = None
    if near is not None and site is not None and None not in (site.latitude, site.longitude):
        assert site.latitude is not None and site.longitude is not None
        distance = round(distance_km(near[0], near[1], site.latitude, site.longitude), 1)
    return DriverSiteOut(
        id=None if site is None else site.id,
        name="" if site is None else site.name,
        address="" if site is None else site.address,
        latitude=None if site is None else site.latitude,
        longitude=None if site is None else site.longitude,
        distance_km=distance,
        stations=stations,
        free_connectors=sum(s.free_connectors for s in stations),
    )


@me_router.get("")
async def sites_for_drivers(
    deps: Deps,
    _: CurrentDriver,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="Your latitude")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="Your longitude")] = None,
    free_only: Annotated[
        bool, Query(description="Only sites with at least one free connector")
    ] = False,
) -> DriverSiteList:
    """Sites with their stations and connectors, and which connectors are free now."""
    if (lat is None) != (lon is None):
        raise InvalidRequest("give both lat and lon (your position), or neither")
    near = None if lat is None or lon is None else (lat, lon)
    by_site: dict[str | None, list[DriverStationOut]] = {}
    for station in sorted(await deps.network.stations(), key=lambda s: s.id):
        if station.registration is not RegistrationStatus.ACCEPTED:
            continue
        view = await deps.network.view(station.id)  # one after another, like the station list
        if view is not None:
            by_site.setdefault(station.site_id, []).append(_station_out(view))
    sites = {site.id: site for site in await deps.network.sites()}
    found = [_site_out(site, by_site.get(site_id, []), near) for site_id, site in sites.items()]
    if near is not None:
        found.sort(key=lambda s: (s.distance_km is None, s.distance_km or 0.0, s.name, s.id or ""))
    else:
        found.sort(key=lambda s: (s.name.casefold(), s.id or ""))
    unsited = [s for site_id, group in by_site.items() if site_id not in sites for s in group]
    if unsited:
        found.append(_site_out(None, unsited, near))
    if free_only:
        found = [s for s in found if s.free_connectors > 0]
    return DriverSiteList(sites=found)
