"""OCPP 1.6 transaction messages -> version-neutral session events.

Authorize, StartTransaction, MeterValues and StopTransaction. evcms assigns 1.6 transaction ids
(the session's own integer id). A retried StartTransaction (same connector, idTag and
timestamp) gets the same transactionId; a StopTransaction for a transaction evcms never saw
(including transactionId -1) is stored as a session of its own, never dropped.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from evcms.domain.charging_sessions import STOP_SEQ, EventKind, SessionEvent
from evcms.domain.metering import (
    DEFAULT_MEASURAND,
    InvalidMeterValue,
    MeterSample,
    normalise,
    parse_decimal,
)
from evcms.domain.tokens import Authorization, status_for_v16
from evcms.ocpp import FaultKind, OcppError
from evcms.services.charging import TokenRef, started_key
from evcms.station_gateway.routes import Payload, StationContext
from evcms.station_gateway.timestamps import format_time, parse_time

SIGNED_FORMAT = "SignedData"


def id_tag_info(authorization: Authorization) -> Payload:
    info: Payload = {"status": status_for_v16(authorization.status)}
    if authorization.expires_at is not None:
        info["expiryDate"] = format_time(authorization.expires_at)
    if authorization.group_id is not None:
        info["parentIdTag"] = authorization.group_id[:20]
    return info


def samples(meter_values: list[dict[str, Any]]) -> tuple[MeterSample, ...]:
    """1.6 meterValue[] -> samples in base units. Signed values (format SignedData) are kept
    verbatim and attached to the sample of the same measurand and timestamp."""
    out: list[MeterSample] = []
    for meter_value in meter_values:
        at = parse_time(meter_value["timestamp"])
        signed: dict[tuple[str, str | None], str] = {}
        for sampled in meter_value["sampledValue"]:
            if sampled.get("format") == SIGNED_FORMAT:
                key = (sampled.get("measurand", DEFAULT_MEASURAND), sampled.get("phase"))
                signed[key] = sampled["value"]
        for sampled in meter_value["sampledValue"]:
            if sampled.get("format") == SIGNED_FORMAT:
                continue
            measurand = sampled.get("measurand", DEFAULT_MEASURAND)
            try:
                value, unit = normalise(
                    parse_decimal(sampled["value"]), sampled.get("unit"), measurand
                )
            except InvalidMeterValue as exc:
                raise OcppError(FaultKind.BAD_VALUE, str(exc)) from exc
            out.append(
                MeterSample(
                    at=at,
                    measurand=measurand,
                    value=value,
                    unit=unit,
                    phase=sampled.get("phase"),
                    location=sampled.get("location"),
                    context=sampled.get("context"),
                    signed=signed.get((measurand, sampled.get("phase"))),
                )
            )
        # signed values without a plain twin are still kept, verbatim
        plain = {(s.measurand, s.phase) for s in out if s.at == at}
        for (measurand, phase), data in signed.items():
            if (measurand, phase) not in plain:
                out.append(
                    MeterSample(at, measurand, parse_decimal(0), "", phase=phase, signed=data,
                                context="Signed")
                )
    return tuple(out)


def _wh(raw: int) -> Any:
    return parse_decimal(raw)


async def authorize(ctx: StationContext, payload: Payload) -> Payload:
    verdict = await ctx.services.charging.authorize(TokenRef(payload["idTag"]))
    return {"idTagInfo": id_tag_info(verdict)}


async def start_transaction(ctx: StationContext, payload: Payload) -> Payload:
    connector_id = payload["connectorId"]
    if connector_id < 1:
        raise OcppError(FaultKind.BAD_VALUE, "connectorId of a transaction must be 1 or more")
    at = parse_time(payload["timestamp"])
    id_tag = payload["idTag"]
    event = SessionEvent(
        key="start",
        kind=EventKind.STARTED,
        seq_no=0,
        at=at,
        meter_wh=_wh(payload["meterStart"]),
        id_token=id_tag,
        evse_id=connector_id,
        connector_id=1,
    )
    recorded = await ctx.services.charging.record(
        station_id=ctx.station_id,
        ocpp_version=ctx.ocpp_version,
        transaction_id=None,
        start_key=started_key(connector_id, id_tag, at),
        event=event,
        evse_id=connector_id,
        connector_id=1,
        token=TokenRef(id_tag),
        reservation_id=payload.get("reservationId"),
    )
    assert recorded.authorization is not None
    return {
        "transactionId": int(recorded.session.transaction_id),
        "idTagInfo": id_tag_info(recorded.authorization),
    }


async def meter_values(ctx: StationContext, payload: Payload) -> Payload:
    found = samples(payload["meterValue"])
    if not found:
        return {}
    transaction_id = payload.get("transactionId")
    charging = ctx.services.charging
    if transaction_id is not None:
        session = await charging.find(ctx.station_id, str(transaction_id))
    else:  # some stations leave it out during a transaction: use the connector's session
        session = await charging.active_on(ctx.station_id, payload["connectorId"])
    if session is None:
        return {}  # kept in the message log; no session to attach the values to
    first = min(s.at for s in found)
    # The same message sent again has the same key; another message with the same timestamp
    # (say, SoC only) has another.
    digest = hashlib.blake2s(orjson.dumps(payload["meterValue"]), digest_size=6).hexdigest()
    await charging.record(
        station_id=ctx.station_id,
        ocpp_version=ctx.ocpp_version,
        transaction_id=session.transaction_id,
        event=SessionEvent(
            key=f"meter:{format_time(first)}:{digest}", kind=EventKind.UPDATED, seq_no=1, at=first,
            samples=found,
        ),
        evse_id=session.evse_id,
        connector_id=session.connector_id,
    )
    return {}


async def stop_transaction(ctx: StationContext, payload: Payload) -> Payload:
    at = parse_time(payload["timestamp"])
    transaction_id = payload["transactionId"]
    charging = ctx.services.charging
    session = await charging.find(ctx.station_id, str(transaction_id))
    if session is not None:
        tx, evse_id = session.transaction_id, session.evse_id
    else:  # never seen (or -1): keep it as a session of its own
        tx, evse_id = f"unknown:{transaction_id}:{format_time(at)}", 0
    id_tag = payload.get("idTag")
    recorded = await charging.record(
        station_id=ctx.station_id,
        ocpp_version=ctx.ocpp_version,
        transaction_id=tx,
        event=SessionEvent(
            key="stop",
            kind=EventKind.ENDED,
            seq_no=STOP_SEQ,
            at=at,
            meter_wh=_wh(payload["meterStop"]),
            id_token=id_tag,
            reason=payload.get("reason", "Local"),
            samples=samples(payload.get("transactionData", [])),
        ),
        evse_id=evse_id,
        connector_id=1,
        token=TokenRef(id_tag) if id_tag else None,
    )
    if recorded.authorization is None:
        return {}
    return {"idTagInfo": id_tag_info(recorded.authorization)}
