"""The price of a session: ``/sessions/{id}/price`` (operators) and ``/me/sessions/{id}/price``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import Field

from evcms.services.charging import ChargingError
from evcms.services.pricing import Pricing, SessionPrice
from evcms.web.auth import Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import ErrorOut
from evcms.web.tariff_schemas import QuoteOut

router = APIRouter(tags=["charging sessions"])
me_router = APIRouter(prefix="/me/sessions", tags=["driver sessions"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut, "description": "No such session, or no tariff applies to it"}
}


class SessionPriceOut(QuoteOut):
    session_id: int
    final: bool = Field(description="The session ended: this is its price. Else: so far")


def pricing_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Pricing:
    if deps.pricing is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "pricing is not enabled on this server"
        )
    return deps.pricing


PricingService = Annotated[Pricing, Depends(pricing_service)]


async def _price(pricing: Pricing, session_id: int, driver_id: str | None) -> SessionPriceOut:
    try:
        found: SessionPrice | None = await pricing.session_price(session_id, driver_id=driver_id)
    except ChargingError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no tariff applies to session {session_id}: assign one to its station, its site"
            " or as the default (PUT /api/v1/tariffs/{id}/assignment)",
        )
    quote = QuoteOut.of(found.tariff, found.breakdown)
    return SessionPriceOut(**quote.model_dump(), session_id=session_id, final=found.final)


@router.get("/sessions/{session_id}/price", responses=_RESPONSES)
async def session_price(session_id: int, pricing: PricingService, _: Reader) -> SessionPriceOut:
    """What the session costs: the running price while it charges, the final one once it ended,
    under the station's tariff in the version in force when the session started."""
    return await _price(pricing, session_id, None)


@me_router.get("/{session_id}/price", responses=_RESPONSES)
async def my_session_price(
    session_id: int, pricing: PricingService, session: CurrentDriver
) -> SessionPriceOut:
    """What one of your sessions costs (so far, while it charges)."""
    return await _price(pricing, session_id, session.driver.id)
