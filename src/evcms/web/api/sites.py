"""/api/v1/sites: where stations stand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from evcms.domain.ids import SiteId
from evcms.domain.stations import Site
from evcms.services.network import InvalidRequest
from evcms.services.ports import AlreadyExists, NotFound
from evcms.web.auth import NetworkManager, Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.schemas import ErrorOut, SiteCreate, SiteOut, SitePatch, SiteReplace

router = APIRouter(
    prefix="/sites",
    tags=["sites"],
    responses={404: {"model": ErrorOut, "description": "No such site"}},
)

Deps = Annotated[WebDeps, Depends(web_deps)]


async def _require(deps: WebDeps, site_id: str) -> Site:
    site = await deps.network.site(SiteId(site_id))
    if site is None:
        raise NotFound(f"site {site_id!r} does not exist")
    return site


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorOut, "description": "A site with this id exists"}},
)
async def create_site(body: SiteCreate, deps: Deps, _: NetworkManager) -> SiteOut:
    try:
        site = await deps.network.add_site(body.to_site())
    except AlreadyExists as exc:
        raise AlreadyExists(f"site {body.id!r} already exists") from exc
    return SiteOut.of(site)


@router.get("")
async def list_sites(deps: Deps, _: Reader) -> list[SiteOut]:
    return [SiteOut.of(s) for s in sorted(await deps.network.sites(), key=lambda s: s.id)]


@router.get("/{site_id}")
async def get_site(site_id: str, deps: Deps, _: Reader) -> SiteOut:
    return SiteOut.of(await _require(deps, site_id))


@router.put("/{site_id}")
async def replace_site(site_id: str, body: SiteReplace, deps: Deps, _: NetworkManager) -> SiteOut:
    site = await _require(deps, site_id)
    updated = Site(
        id=site.id,
        name=body.name,
        address=body.address,
        latitude=body.latitude,
        longitude=body.longitude,
    )
    return SiteOut.of(await deps.network.update_site(updated))


@router.patch("/{site_id}")
async def update_site(site_id: str, body: SitePatch, deps: Deps, _: NetworkManager) -> SiteOut:
    site = await _require(deps, site_id)
    given = body.model_dump(exclude_unset=True)
    if given.get("name", "") is None:
        raise InvalidRequest("name cannot be null; leave it out to keep it")
    if given.get("address", "") is None:
        raise InvalidRequest('address cannot be null; send "" to clear it')
    updated = Site(
        id=site.id,
        name=given.get("name", site.name),
        address=given.get("address", site.address),
        latitude=given.get("latitude", site.latitude),
        longitude=given.get("longitude", site.longitude),
    )
    if (updated.latitude is None) != (updated.longitude is None):
        raise InvalidRequest("a site has both latitude and longitude, or neither")
    return SiteOut.of(await deps.network.update_site(updated))


@router.delete("/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_site(site_id: str, deps: Deps, _: NetworkManager) -> Response:
    if not await deps.network.delete_site(SiteId(site_id)):
        raise NotFound(f"site {site_id!r} does not exist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
