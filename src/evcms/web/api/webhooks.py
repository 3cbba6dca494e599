"""/api/v1/webhooks: subscriptions, their delivery log, a test ping and redelivery.

Every delivery is a POST of the live stream's JSON of one event, signed: see
``evcms.domain.webhooks`` for the headers and the signature scheme.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from evcms.domain.ids import StationId, parse_site_id
from evcms.domain.webhooks import DeliveryStatus
from evcms.services.webhooks import Webhooks
from evcms.web.alert_schemas import (
    DeliveryOut,
    DeliveryPage,
    WebhookChange,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from evcms.web.auth import NetworkManager
from evcms.web.deps import WebDeps, web_deps
from evcms.web.schemas import MAX_PAGE, ErrorOut

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such subscription or delivery"}
}


def webhooks_service(deps: Annotated[WebDeps, Depends(web_deps)]) -> Webhooks:
    if deps.webhooks is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "webhooks are not enabled on this server")
    return deps.webhooks


WebhooksService = Annotated[Webhooks, Depends(webhooks_service)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(body: WebhookIn, service: WebhooksService, _: NetworkManager) -> WebhookCreated:
    """Subscribe a URL to event types. The answer holds the signing secret, the only time it
    is shown (generated unless given)."""
    subscription = await service.create(
        url=body.url,
        event_types=body.event_types,
        secret=body.secret,
        enabled=body.enabled,
        description=body.description,
        site_id=parse_site_id(body.site_id) if body.site_id else None,
        station_id=StationId(body.station_id) if body.station_id else None,
    )
    return WebhookCreated(**WebhookOut.fields_of(subscription), secret=subscription.secret)


@router.get("")
async def list_webhooks(service: WebhooksService, _: NetworkManager) -> WebhookList:
    return WebhookList(webhooks=[WebhookOut.of(s) for s in await service.subscriptions()])


@router.get("/{subscription_id}", responses=_NOT_FOUND)
async def get_webhook(subscription_id: str, service: WebhooksService, _: NetworkManager) -> WebhookOut:
    return WebhookOut.of(await service.subscription(subscription_id))


@router.patch("/{subscription_id}", responses=_NOT_FOUND)
async def change_webhook(
    subscription_id: str, body: WebhookChange, service: WebhooksService, _: NetworkManager
) -> WebhookOut:
    """Change what is given (``site_id``/``station_id`` null removes that filter; a new
    ``secret`` replaces the old one at once)."""
    given = body.model_fields_set
    filters = None
    if "site_id" in given or "station_id" in given:
        current = await service.subscription(subscription_id)
        site = current.site_id
        if "site_id" in given:
            site = parse_site_id(body.site_id) if body.site_id else None
        station = current.station_id
        if "station_id" in given:
            station = StationId(body.station_id) if body.station_id else None
        filters = (site, station)
    subscription = await service.update(
        subscription_id,
        url=body.url,
        event_types=body.event_types,
        secret=body.secret,
        enabled=body.enabled,
        description=body.description,
        filters=filters,
    )
    return WebhookOut.of(subscription)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
async def delete_webhook(subscription_id: str, service: WebhooksService, _: NetworkManager) -> Response:
    """Remove the subscription and its delivery log; pending deliveries are dropped."""
    await service.delete(subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{subscription_id}/deliveries", responses=_NOT_FOUND)
async def list_deliveries(
    subscription_id: str,
    service: WebhooksService,
    _: NetworkManager,
    delivery_status: Annotated[
        DeliveryStatus | None, Query(alias="status", description="pending, delivered or failed")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> DeliveryPage:
    """The delivery log, newest first: every delivery with each attempt (status code or error,
    duration)."""
    found = await service.deliveries(
        subscription_id, status=delivery_status, limit=limit, before_id=before_id
    )
    return DeliveryPage(
        deliveries=[DeliveryOut.of(d.delivery, d.attempts) for d in found],
        next_before_id=found[-1].delivery.id if len(found) == limit else None,
    )


@router.get("/{subscription_id}/deliveries/{delivery_id}", responses=_NOT_FOUND)
async def get_delivery(
    subscription_id: str, delivery_id: int, service: WebhooksService, _: NetworkManager
) -> DeliveryOut:
    found = await service.delivery(subscription_id, delivery_id)
    return DeliveryOut.of(found.delivery, found.attempts)


@router.post(
    "/{subscription_id}/test", status_code=status.HTTP_202_ACCEPTED, responses=_NOT_FOUND
)
async def test_webhook(subscription_id: str, service: WebhooksService, _: NetworkManager) -> DeliveryOut:
    """Queue a ``ping`` delivery (event type "ping") to the URL; follow it in the log."""
    delivery = await service.test(subscription_id)
    return DeliveryOut.of(delivery, [])


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_NOT_FOUND, 409: {"model": ErrorOut, "description": "Still pending"}},
)
async def redeliver(
    subscription_id: str, delivery_id: int, service: WebhooksService, _: NetworkManager
) -> DeliveryOut:
    """Send a failed (or delivered) delivery again, with the same delivery id."""
    delivery = await service.redeliver(subscription_id, delivery_id)
    found = await service.delivery(subscription_id, delivery.id)
    return DeliveryOut.of(found.delivery, found.attempts)
