"""Reference central system: the stock `ocpp` library pattern, as its documentation shows it.

It is the baseline that `bench/load.py --target reference` measures evcms against, so it is
deliberately *not* optimised: `ocpp.v16.ChargePoint` / `ocpp.v201.ChargePoint` subclasses with
`@on(Action...)` handlers, one `ChargePoint.start()` per connection, served by
`websockets.serve` with subprotocol selection, stdlib json, and the library's jsonschema
validation left on (its default, which runs in the default thread-pool executor).

It stores nothing: transactions get an id from a counter and every card is accepted, so it is
an upper bound for the pattern (evcms commits each session change before it answers).

    python bench/reference_csms.py --port 9000 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import resource
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as call_result16
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import AuthorizationStatus, RegistrationStatus
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as call_result21
from ocpp.v21.datatypes import IdTokenInfoType as IdTokenInfoType21
from ocpp.v21.enums import Action as Action21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as call_result201
from ocpp.v201.datatypes import IdTokenInfoType
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import AuthorizationStatusEnumType, RegistrationStatusEnumType

LOGGER = logging.getLogger("reference_csms")
HEARTBEAT_INTERVAL = 300
TRANSACTION_IDS = itertools.count(1)  # OCPP 1.6: the central system numbers transactions


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class CentralSystem16(ChargePoint16):
    @on(Action16.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result16.BootNotification:
        return call_result16.BootNotification(
            current_time=now_iso(), interval=HEARTBEAT_INTERVAL, status=RegistrationStatus.accepted
        )

    @on(Action16.heartbeat)
    async def on_heartbeat(self) -> call_result16.Heartbeat:
        return call_result16.Heartbeat(current_time=now_iso())

    @on(Action16.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result16.StatusNotification:
        return call_result16.StatusNotification()

    @on(Action16.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result16.MeterValues:
        return call_result16.MeterValues()

    @on(Action16.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> call_result16.StartTransaction:
        return call_result16.StartTransaction(
            transaction_id=next(TRANSACTION_IDS),
            id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted),
        )

    @on(Action16.stop_transaction)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> call_result16.StopTransaction:
        if kwargs.get("id_tag") is None:
            return call_result16.StopTransaction()
        return call_result16.StopTransaction(
            id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted)
        )


class CentralSystem201(ChargePoint201):
    @on(Action201.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> call_result201.BootNotification:
        return call_result201.BootNotification(
            current_time=now_iso(),
            interval=HEARTBEAT_INTERVAL,
            status=RegistrationStatusEnumType.accepted,
        )

    @on(Action201.heartbeat)
    async def on_heartbeat(self, **kwargs: Any) -> call_result201.Heartbeat:
        return call_result201.Heartbeat(current_time=now_iso())

    @on(Action201.status_notification)
    async def on_status_notification(
        self,
        timestamp: str,
        connector_status: str,
        evse_id: int,
        connector_id: int,
        **kwargs: Any,
    ) -> call_result201.StatusNotification:
        return call_result201.StatusNotification()

    @on(Action201.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result201.MeterValues:
        return call_result201.MeterValues()

    @on(Action201.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kwargs: Any,
    ) -> call_result201.TransactionEvent:
        if kwargs.get("id_token") is None:
            return call_result201.TransactionEvent()
        return call_result201.TransactionEvent(
            id_token_info=IdTokenInfoType(status=AuthorizationStatusEnumType.accepted)
        )


class CentralSystem21(ChargePoint21):
    @on(Action21.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> call_result21.BootNotification:
        return call_result21.BootNotification(
            current_time=now_iso(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on(Action21.heartbeat)
    async def on_heartbeat(self, **kwargs: Any) -> call_result21.Heartbeat:
        return call_result21.Heartbeat(current_time=now_iso())

    @on(Action21.status_notification)
    async def on_status_notification(self, **kwargs: Any) -> call_result21.StatusNotification:
        return call_result21.StatusNotification()

    @on(Action21.meter_values)
    async def on_meter_values(self, **kwargs: Any) -> call_result21.MeterValues:
        return call_result21.MeterValues()

    @on(Action21.transaction_event)
    async def on_transaction_event(self, **kwargs: Any) -> call_result21.TransactionEvent:
        if kwargs.get("id_token") is None:
            return call_result21.TransactionEvent()
        return call_result21.TransactionEvent(id_token_info=IdTokenInfoType21(status="Accepted"))


CENTRAL_SYSTEMS: dict[str, type[ChargePoint16 | ChargePoint201 | ChargePoint21]] = {
    "ocpp1.6": CentralSystem16,
    "ocpp2.0.1": CentralSystem201,
    "ocpp2.1": CentralSystem21,
}


async def on_connect(websocket: Any) -> None:
    """One station connection, as in the library's central-system example."""
    if "Sec-WebSocket-Protocol" not in websocket.request.headers:
        LOGGER.info("Client hasn't requested any Subprotocol. Closing connection")
        await websocket.close()
        return
    if not websocket.subprotocol:
        LOGGER.warning(
            "Protocols mismatched: client offers %s",
            websocket.request.headers["Sec-WebSocket-Protocol"],
        )
        await websocket.close()
        return
    charge_point_id = websocket.request.path.strip("/").rsplit("/", 1)[-1]
    central_system = CENTRAL_SYSTEMS[websocket.subprotocol](charge_point_id, websocket)
    try:
        await central_system.start()
    except websockets.exceptions.ConnectionClosed:
        pass


def raise_nofile_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(host: str, port: int) -> None:
    raise_nofile_limit()
    server = await websockets.serve(
        on_connect,
        host,
        port,
        subprotocols=list(CENTRAL_SYSTEMS),  # type: ignore[arg-type]
    )
    LOGGER.warning("reference CSMS listening on ws://%s:%d/ocpp/{station_id}", host, port)
    await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the library logs every frame at INFO; the benchmark keeps it at WARNING",
    )
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper())
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:
        pass
