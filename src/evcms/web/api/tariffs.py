"""/api/v1/tariffs: OCPI 2.2.1 tariffs (versioned), where they apply, and price quotes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response, status

from evcms.domain.tariffs import ChargingPeriod, TariffError
from evcms.services.network import InvalidRequest
from evcms.services.tariffs import TariffAdmin
from evcms.web.auth import NetworkManager, Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.schemas import ErrorOut
from evcms.web.tariff_schemas import (
    AssignmentIn,
    AssignmentOut,
    QuoteIn,
    QuoteOut,
    TariffList,
    TariffOut,
    TariffVersionOut,
)

_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "Input that breaks a rule; says what to fix"}
}
_MAX_BODY = 1_000_000

router = APIRouter(
    prefix="/tariffs",
    tags=["tariffs"],
    responses={404: {"model": ErrorOut, "description": "No such tariff (version)"}},
)


def tariff_admin(deps: Annotated[WebDeps, Depends(web_deps)]) -> TariffAdmin:
    """The tariff service; 503 when this evcms runs without it."""
    if deps.tariffs is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "tariffs are not enabled on this server"
        )
    return deps.tariffs


Tariffs = Annotated[TariffAdmin, Depends(tariff_admin)]

_OCPI_BODY = Body(
    media_type="application/json",
    description="An OCPI 2.2.1 Tariff object",
    examples=[
        {
            "id": "12",
            "currency": "EUR",
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 20, "step_size": 1}]}],
        }
    ],
)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_INVALID)
async def import_tariff(
    request: Request,
    tariffs: Tariffs,
    _: NetworkManager,
    body: Annotated[dict[str, Any], _OCPI_BODY],  # for the schema; the raw text is stored
    time_zone: Annotated[
        str | None,
        Query(max_length=64, description="IANA zone of the local-time restrictions (default UTC)"),
    ] = None,
) -> TariffVersionOut:
    """Import an OCPI tariff; an id that exists gets a new version (older versions stay)."""
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise InvalidRequest(f"a tariff may be at most {_MAX_BODY} bytes")
    return TariffVersionOut.of(await tariffs.import_ocpi(raw, time_zone=time_zone))


@router.get("")
async def list_tariffs(tariffs: Tariffs, _: Reader) -> TariffList:
    """The latest version of every tariff, by id."""
    return TariffList(tariffs=[TariffVersionOut.of(t) for t in await tariffs.list()])


@router.get("/{tariff_id}", response_model=TariffOut)
async def get_tariff(
    tariff_id: str,
    tariffs: Tariffs,
    _: Reader,
    version: Annotated[int | None, Query(ge=1, description="Default: the latest")] = None,
) -> Response:
    """A tariff version with its OCPI object exactly as imported (numbers unchanged)."""
    stored = await tariffs.get(tariff_id, version)
    head = TariffVersionOut.of(stored).model_dump_json()
    body = head[:-1] + ',"ocpi":' + stored.ocpi.strip() + "}"
    return Response(content=body, media_type="application/json")


@router.put("/{tariff_id}/assignment", responses=_INVALID)
async def assign_tariff(
    tariff_id: str, body: AssignmentIn, tariffs: Tariffs, _: NetworkManager
) -> AssignmentOut:
    """Make the tariff the default, a site's or a station's (a station's wins over its site's,
    which wins over the default)."""
    await tariffs.assign(tariff_id, body.scope, body.scope_id)
    return AssignmentOut(tariff_id=tariff_id, scope=body.scope, scope_id=body.scope_id or None)


@router.post("/{tariff_id}/quote", responses=_INVALID)
async def quote(tariff_id: str, body: QuoteIn, tariffs: Tariffs, _: Reader) -> QuoteOut:
    """What the given usage would cost under the tariff (a dry run: nothing is stored)."""
    try:
        period = ChargingPeriod(
            start=body.start,
            energy_wh=body.energy_kwh * 1000,
            charging_seconds=body.charging_minutes * 60,
            parking_seconds=body.parking_minutes * 60,
            max_power_kw=body.max_power_kw,
        )
    except TariffError as exc:
        raise InvalidRequest(str(exc)) from exc
    stored = await tariffs.get(tariff_id, body.version)
    breakdown = await tariffs.quote(tariff_id, [period], version=stored.version)
    return QuoteOut.of(stored, breakdown)

