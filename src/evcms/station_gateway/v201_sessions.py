"""OCPP 2.0.1 / 2.1 transaction messages -> version-neutral session events.

TransactionEvent carries the station's own transactionId and a seqNo per event, so a retried or
replayed event has the same key (``seq:N``) and is stored once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from evcms.domain.charging_sessions import EventKind, SessionEvent
from evcms.domain.metering import (
    DEFAULT_MEASURAND,
    InvalidMeterValue,
    MeterSample,
    normalise,
    parse_decimal,
)
from evcms.domain.tokens import Authorization, TokenType
from evcms.ocpp import FaultKind, OcppError
from evcms.services.charging import TokenRef
from evcms.station_gateway.routes import Payload, StationContext
from evcms.station_gateway.timestamps import format_time, parse_time

_KIND = {"Started": EventKind.STARTED, "Updated": EventKind.UPDATED, "Ended": EventKind.ENDED}


def id_token_info(authorization: Authorization) -> Payload:
    info: Payload = {"status": authorization.status.value}
    if authorization.expires_at is not None:
        info["cacheExpiryDateTime"] = format_time(authorization.expires_at)
    if authorization.group_id is not None:
        info["groupIdToken"] = {"idToken": authorization.group_id[:36], "type": "Central"}
    return info


def token_ref(id_token: dict[str, Any]) -> TokenRef:
    try:
        kind = TokenType(id_token["type"])
    except ValueError:
        kind = None
    return TokenRef(id_token["idToken"], kind)


def samples(meter_values: list[dict[str, Any]]) -> tuple[MeterSample, ...]:
    out: list[MeterSample] = []
    for meter_value in meter_values:
        at = parse_time(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            measurand = sampled.get("measurand", DEFAULT_MEASURAND)
            unit_of_measure = sampled.get("unitOfMeasure") or {}
            try:
                value, unit = normalise(
                    parse_decimal(sampled["value"]),
                    unit_of_measure.get("unit"),
                    measurand,
                    unit_of_measure.get("multiplier", 0),
                )
            except InvalidMeterValue as exc:
                raise OcppError(FaultKind.BAD_VALUE, str(exc)) from exc
            signed = sampled.get("signedMeterValue")
            out.append(
                MeterSample(
                    at=at,
                    measurand=measurand,
                    value=value,
                    unit=unit,
                    phase=sampled.get("phase"),
                    location=sampled.get("location"),
                    context=sampled.get("context"),
                    signed=orjson.dumps(signed).decode() if signed is not None else None,
                )
            )
    return tuple(out)


async def authorize(ctx: StationContext, payload: Payload) -> Payload:
    verdict = await ctx.services.charging.authorize(token_ref(payload["idToken"]))
    return {"idTokenInfo": id_token_info(verdict)}


async def transaction_event(ctx: StationContext, payload: Payload) -> Payload:
    transaction = payload["transactionInfo"]
    evse = payload.get("evse") or {}
    id_token = payload.get("idToken")
    token = token_ref(id_token) if id_token else None
    kind = _KIND[payload["eventType"]]
    at = parse_time(payload["timestamp"])
    charging = ctx.services.charging
    session = await charging.find(ctx.station_id, transaction["transactionId"])
    evse_id = evse.get("id") or (session.evse_id if session is not None else 0)
    connector_id = evse.get("connectorId") or (session.connector_id if session is not None else 0)
    event = SessionEvent(
        key=f"seq:{payload['seqNo']}",
        kind=kind,
        seq_no=payload["seqNo"],
        at=at,
        samples=samples(payload.get("meterValue", [])),
        id_token=token.id if token is not None else None,
        reason=transaction.get("stoppedReason") if kind is EventKind.ENDED else payload["triggerReason"],
        offline=bool(payload.get("offline", False)),
        charging_state=transaction.get("chargingState"),
        number_of_phases=payload.get("numberOfPhasesUsed"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
    )
    if kind is EventKind.ENDED and event.reason is None:
        event = dataclasses.replace(event, reason="Local")  # stoppedReason's default
    recorded = await charging.record(
        station_id=ctx.station_id,
        ocpp_version=ctx.ocpp_version,
        transaction_id=transaction["transactionId"],
        event=event,
        evse_id=evse_id,
        connector_id=connector_id,
        token=token,
        reservation_id=payload.get("reservationId"),
    )
    answer: Payload = {}
    if recorded.authorization is not None:
        answer["idTokenInfo"] = id_token_info(recorded.authorization)
    live_cost = ctx.services.live_cost
    if live_cost is not None and not recorded.duplicate:
        total = None
        if kind is EventKind.ENDED:
            total = await live_cost.final(recorded.session)
        elif kind is EventKind.UPDATED:
            total = live_cost.running(recorded.session)
        if total is not None:
            # A JSON number: the float of a 2-decimal amount prints as exactly those digits.
            answer["totalCost"] = float(total)
    return answer


async def meter_values(ctx: StationContext, payload: Payload) -> Payload:
    # 2.0.1 MeterValues are outside transactions (those come in TransactionEvent): they are kept
    # in the message log; the monitoring issue stores them per EVSE.
    samples(payload["meterValue"])  # validate the values all the same
    return {}
